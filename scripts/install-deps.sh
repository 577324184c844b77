#!/usr/bin/env bash
# Installs the Debian packages fast_count needs to build, test and demo.
# Skips apt entirely when everything is already there.
set -euo pipefail

packages=(
  postgresql-15 postgresql-client-15 postgresql-server-dev-15 postgresql-contrib
  g++ make libboost-dev
  libipc-run-perl
  python3 python3-django python3-djangorestframework python3-psycopg2
  python3-pip python3-setuptools python3-wheel   # clients/django/tests/test_packaging.py
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "fast_count: missing packages: ${missing[*]}; run this as root to install them" >&2
  exit 1
fi
echo "fast_count: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
