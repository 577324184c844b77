#!/usr/bin/env bash
# Checks what a release ships: META.json is valid and names the control file's
# version, and `make dist` builds a tarball with the sources, the versioned
# SQL scripts and the tests, and without build products.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
check() {  # description, command...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    echo "ok - $what"; passed=$((passed + 1))
  else
    echo "not ok - $what"; failed=$((failed + 1))
  fi
}

version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" fast_count.control)
check "META.json is valid JSON" /usr/bin/python3 -m json.tool META.json
check "META.json names version $version" \
  /usr/bin/python3 -c "import json,sys; m=json.load(open('META.json')); sys.exit(not (m['version']==m['provides']['fast_count']['version']=='$version'))"
for script in sql/fast_count--*.sql; do
  check "META.json's file and $script exist" test -f "$script"
done

if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
  out=$(mktemp -d)
  check "make dist builds a tarball" make -s dist
  tarball="dist/fast_count-$version.tar.gz"
  tar -tzf "$tarball" > "$out/list" 2>/dev/null
  for member in fast_count.control Makefile META.json README.md LICENSE src/fast_count.cpp \
                "sql/fast_count--0.1.0.sql" "sql/fast_count--0.1.0--0.2.0.sql" \
                "sql/fast_count--0.2.0--0.2.1.sql"; do
    check "the tarball has $member" grep -qx "fast_count-$version/$member" "$out/list"
  done
  check "the tarball has no build products" bash -c "! grep -E '\.(o|so|bc|d)$' '$out/list'"
  check "the tarball leaves CI wiring out" bash -c "! grep -q '/\.ci/' '$out/list'"
  rm -rf "$out"
else
  echo "not ok - make dist needs a git checkout"; failed=$((failed + 1))
fi

echo "packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
