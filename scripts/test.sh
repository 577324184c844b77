#!/usr/bin/env bash
# Runs every fast_count test on temporary PostgreSQL instances: the
# pg_regress suites, the isolation specs, the TAP tests and the Django/DRF
# tests. Installs what is missing and builds first. Prints one closing line:
#   fast_count tests: N passed, M failed
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bash "$here/scripts/install-deps.sh" || exit 1
bash "$here/scripts/build.sh" || exit 1

# initdb refuses to run as root, so the instances belong to the postgres OS
# user, working in a copy of the tree that it owns.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
work=$(mktemp -d /tmp/fast_count-tests.XXXXXX)
tar -C "$here" --exclude=.git --exclude='./results*' --exclude='./tmp_check*' -cf - . | tar -C "$work" -xf -
[ "$(id -u)" -eq 0 ] && chown -R postgres "$work"
chmod 755 "$work"

passed=0
failed=0
broken=()

count_pg_regress() {  # file with pg_regress / pg_isolation_regress output
  local ok bad
  ok=$(grep -cE '\.\.\. ok' "$1")
  bad=$(grep -cE '\.\.\. FAILED' "$1")
  passed=$((passed + ok))
  failed=$((failed + bad))
}

count_prove() {  # file with prove output
  local total bad
  total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$1" | tail -1)
  total=${total:-0}
  if [ "$total" -eq 0 ] && grep -q "No tests\|no tests\|Files=0" "$1"; then return; fi
  bad=$(sed -n 's/.*Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$1" | awk '{s += $1} END {print s + 0}')
  if ! grep -q '^Result: PASS' "$1" && [ "$bad" -eq 0 ]; then bad=1; fi
  passed=$((passed + total - bad))
  failed=$((failed + bad))
}

count_summary() {  # file whose last "N passed, M failed" line counts
  local line
  line=$(grep -E '^[A-Za-z_ ]*:? *[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
  if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
  passed=$((passed + $(echo "$line" | sed -E 's/^[^0-9]*([0-9]+) passed.*/\1/')))
  failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
}

run_suite() {  # name, counter, command...
  local name=$1 counter=$2
  shift 2
  echo "=== $name"
  local log="$work/$name.log"
  (cd "$work" && "$@") 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  "$counter" "$log"
  if [ "$status" -ne 0 ]; then
    broken+=("$name")
    for diffs in "$work"/results_*/regression.diffs; do
      [ -s "$diffs" ] && { echo "--- $diffs"; cat "$diffs"; }
    done
    for log_file in "$work"/tmp_check/log/regress_log_*; do
      [ -f "$log_file" ] && grep -q 'not ok' "$log_file" && { echo "--- $log_file"; tail -n 60 "$log_file"; }
    done
  fi
}

pg_make() { as_postgres make -s PG_CONFIG="$PG_CONFIG" "$@"; }
run_suite "pg_regress" count_pg_regress pg_make installcheck ISOLATION= TAP_TESTS=
run_suite "isolation" count_pg_regress pg_make installcheck REGRESS= TAP_TESTS=
run_suite "tap" count_prove pg_make installcheck REGRESS= ISOLATION= PROVE_FLAGS=--timer
run_suite "packaging" count_summary bash -c "cd '$here' && bash test/packaging.sh"
if [ -x "$work/clients/django/run_tests.sh" ]; then
  run_suite "django" count_summary as_postgres env PG_CONFIG="$PG_CONFIG" "$work/clients/django/run_tests.sh"
fi

echo
if [ ${#broken[@]} -gt 0 ]; then
  echo "failing suites: ${broken[*]} (kept in $work)"
  [ "$failed" -eq 0 ] && failed=1
else
  rm -rf "$work"
fi
echo "fast_count tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
