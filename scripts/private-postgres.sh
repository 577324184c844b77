#!/usr/bin/env bash
# Development aid: makes a private, relocated copy of the system's PostgreSQL
# 15 under DIR and prints its pg_config. PostgreSQL finds its libraries and
# extension files relative to its binaries, so builds installed with
#   PG_CONFIG=$(scripts/private-postgres.sh DIR) bash scripts/test.sh
# do not touch (or see) the system installation: several checkouts can be
# built and tested side by side.
set -euo pipefail
dir=${1:?usage: private-postgres.sh DIR}
if [ ! -x "$dir/usr/lib/postgresql/15/bin/pg_config" ]; then
  mkdir -p "$dir/usr/lib/postgresql" "$dir/usr/share/postgresql" "$dir/usr/include"
  cp -a /usr/lib/postgresql/15 "$dir/usr/lib/postgresql/"
  cp -a /usr/share/postgresql/15 "$dir/usr/share/postgresql/"
  cp -a /usr/include/postgresql "$dir/usr/include/"
  rm -f "$dir"/usr/lib/postgresql/15/lib/fast_count.so "$dir"/usr/share/postgresql/15/extension/fast_count*
fi
chmod -R a+rX "$dir"
echo "$dir/usr/lib/postgresql/15/bin/pg_config"
