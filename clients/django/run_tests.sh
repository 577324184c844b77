#!/usr/bin/env bash
# Runs the Django / DRF integration tests of fast_count on a throwaway
# PostgreSQL cluster (with the extension preloaded, so that registered
# querysets are refreshed by its worker), then removes the cluster.
#   PG_CONFIG   pg_config of the PostgreSQL that has fast_count installed
#               (default /usr/lib/postgresql/15/bin/pg_config)
#   FAST_COUNT_TEST_LOG  if set, the server log is copied there at the end
#   FAST_COUNT_TEST_TIMEOUT  seconds before a hung run is killed (default 300)
#   arguments   passed to Django's test runner (e.g. tests.test_counts -v 2)
# The last line printed is "django: N passed, M failed".
# With --bench as the first argument, runs bench_count.py (the cost of a
# cached count() from Python) on that cluster instead of the tests; the rest
# of the arguments go to it.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

# initdb refuses to run as root.
if [ "$(id -u)" -eq 0 ]; then
  exec runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" PATH="$PATH" bash "$here/run_tests.sh" "$@"
fi

python=/usr/bin/python3   # Debian's, with python3-django, -djangorestframework, -psycopg2
bindir=$("$PG_CONFIG" --bindir) || { echo "django: 0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fast_count_django.XXXXXX")
summary=$tmp/summary
started=no
bench=no
[ "${1:-}" = --bench ] && { bench=yes; shift; }

finish() {
  status=$?
  if [ "$started" = yes ]; then
    "$bindir/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1 ||
      "$bindir/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1
  fi
  if [ -s "$summary" ]; then
    read -r passed failed <"$summary"
  else
    passed=0 failed=1   # the runner did not get to report: count that as a failure
  fi
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "run_tests.sh: the test run failed outside the tests (exit status $status)" >&2
    failed=1
  fi
  if [ -f "$tmp/server.log" ]; then
    [ -n "${FAST_COUNT_TEST_LOG:-}" ] && cp "$tmp/server.log" "$FAST_COUNT_TEST_LOG"
    if [ "$failed" -ne 0 ] || [ "$status" -ne 0 ]; then
      echo "--- last lines of the server log ---" >&2
      tail -n 40 "$tmp/server.log" >&2
    fi
  fi
  rm -rf "$tmp"
  [ "$failed" -eq 0 ] && [ "$status" -eq 0 ] || status=1
  if [ "$bench" = yes ]; then echo "bench_count.py: exit status $status"; exit "$status"; fi
  echo "django: $passed passed, $failed failed"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

fail() { echo "run_tests.sh: $*" >&2; exit 1; }

# A free TCP port, to name the socket (the server listens on no TCP address).
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$bindir/initdb" -D "$tmp/data" -A trust -U "$(id -un)" --no-sync >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; fail "initdb failed"; }
cat >>"$tmp/data/postgresql.conf" <<CONF
shared_preload_libraries = 'fast_count'
fast_count.naptime = 1
listen_addresses = ''
port = $port
unix_socket_directories = '$tmp'
fsync = off
CONF
started=yes
"$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 start >/dev/null ||
  { cat "$tmp/server.log" >&2; fail "the server did not start"; }

cd "$here" || fail "cannot cd to $here"
# Django creates its test databases and drops them at the end: the
# extension's worker steps aside for DROP DATABASE.
export FAST_COUNT_TEST_HOST=$tmp FAST_COUNT_TEST_PORT=$port FAST_COUNT_TEST_USER=$(id -un) \
  PYTHONPATH=$here PYTHONDONTWRITEBYTECODE=1
if [ "$bench" = yes ]; then
  "$python" bench_count.py "$@" && echo "0 0" >"$summary"
  exit
fi
FAST_COUNT_TEST_SUMMARY=$summary \
  timeout -k 10 "${FAST_COUNT_TEST_TIMEOUT:-300}" "$python" -m django test --settings=tests.settings --noinput "${@:-tests}"
