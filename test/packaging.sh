#!/usr/bin/env bash
# Checks what a release ships: META.json is valid, names the control file's
# version and the schema file; the upgrade scripts lead from 0.1.0 to that
# version one release at a time; `make dist` builds a tarball with the
# sources, the schema, the upgrade scripts and the tests, without build
# products (the install script of the current version among them: `make`
# builds it from sql/fast_count.sql).
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
check "META.json's file exists" \
  /usr/bin/python3 -c "import json,os,sys; sys.exit(not os.path.isfile(json.load(open('META.json'))['provides']['fast_count']['file']))"
check "the schema is sql/fast_count.sql" test -f sql/fast_count.sql
# Walk the upgrade scripts from 0.1.0, one step each, up to the version.
at=0.1.0
while next=$(ls sql/fast_count--"$at"--*.sql 2>/dev/null | sed -n 's/.*--.*--\(.*\)\.sql$/\1/p'); [ -n "$next" ]; do
  [ "$(echo "$next" | wc -l)" -eq 1 ] || break
  at=$next
done
check "upgrade scripts lead from 0.1.0 to $version (they reach $at)" test "$at" = "$version"

if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
  out=$(mktemp -d)
  check "make dist builds a tarball" make -s dist
  tarball="dist/fast_count-$version.tar.gz"
  tar -tzf "$tarball" > "$out/list" 2>/dev/null
  for member in fast_count.control Makefile META.json README.md LICENSE \
                sql/fast_count.sql sql/fast_count--0.1.0.sql sql/fast_count--*--*.sql \
                test/sql/upgrade.sql test/expected/upgrade.out; do
    check "the tarball has $member" grep -qx "fast_count-$version/$member" "$out/list"
  done
  check "the tarball has C++ sources" grep -qE "^fast_count-$version/src/.*\.cpp$" "$out/list"
  check "the tarball has no built sql/fast_count--$version.sql" \
    bash -c "! grep -qx 'fast_count-$version/sql/fast_count--$version.sql' '$out/list'"
  if [ -n "${PG_CONFIG:-}" ] && [ -x "$PG_CONFIG" ]; then
    tar -C "$out" -xzf "$tarball"
    check "make builds sql/fast_count--$version.sql from the tarball's schema" bash -c \
      "make -s -C '$out/fast_count-$version' PG_CONFIG='$PG_CONFIG' sql/fast_count--$version.sql &&
       cmp '$out/fast_count-$version/sql/fast_count--$version.sql' sql/fast_count.sql"
  fi
  check "the tarball has no build products" bash -c "! grep -E '\.(o|so|bc|d)$' '$out/list'"
  check "the tarball leaves CI wiring out" bash -c "! grep -q '/\.ci/' '$out/list'"
  rm -rf "$out"
else
  echo "not ok - make dist needs a git checkout"; failed=$((failed + 1))
fi

echo "packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
