#!/usr/bin/env bash
# Installs what is missing, builds and installs fast_count, then shows its
# main job on a throwaway local cluster: count(*) against fast_count() on a
# table of a few million rows, with the hit/miss counters it observed (it
# exits non-zero if the second call was not a hit), and the worker
# refreshing a registered query.
#
#   bash scripts/demo.sh [--rows N] [--keep]
#   PG_CONFIG=/path/to/pg_config bash scripts/demo.sh   # another PostgreSQL 15
#
# --keep leaves the cluster running and prints how to connect; otherwise it
# is stopped and removed.
set -euo pipefail

rows=3000000
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--rows N] [--keep]" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bash "$here/scripts/install-deps.sh"
echo "== building and installing fast_count"
bash "$here/scripts/build.sh"
bindir=$("$PG_CONFIG" --bindir)

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

dir=$(mktemp -d /tmp/fast_count-demo.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
port=5433
cleanup() {
  if [ "$keep" -eq 0 ]; then
    as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
  fi
}
trap cleanup EXIT

echo "== starting a throwaway cluster in $dir"
as_postgres "$bindir/initdb" -D "$dir/data" -A trust >/dev/null
cat >> "$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
shared_preload_libraries = 'fast_count'
fast_count.naptime = 1
EOF
as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

psql() { as_postgres "$bindir/psql" -h "$dir" -p "$port" -d postgres -X -v ON_ERROR_STOP=1 "$@"; }

echo "== loading $rows rows"
psql -q <<EOF
CREATE EXTENSION fast_count;
CREATE TABLE items (id bigint PRIMARY KEY, status int NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO items
  SELECT g, g % 10, now() - (g % 100000) * interval '1 minute'
  FROM generate_series(1, $rows) g;
VACUUM ANALYZE items;
EOF

echo
echo "== the count a page pays for on every request, and what fast_count() costs"
# By default a miss's count is kept only if it found at least 1,000,000 rows
# or took over 100 ms, so on a fast machine this demo's count (a tenth of the
# table) would not be kept and its "hit" would be a second count. The demo
# keeps every count instead, says so, and checks the counters: the second
# call must be a hit, or the demo fails.
psql -q <<'EOF' | tee "$dir/calls.txt"
SELECT fast_count_stats_reset() AS reset \gset
\echo '-- this demo keeps every count: SET fast_count.cache_larger_than = 0'
\echo '-- (by default a count is kept if it found >= 1,000,000 rows or took > 100 ms)'
SET fast_count.cache_larger_than = 0;
\pset tuples_only on
\pset format unaligned
\timing on
\echo '-- count(*):'
SELECT count(*) FROM items WHERE status = 3;
\timing off
\echo '-- fast_count(), first call (a miss: counts, and keeps the count):'
\timing on
SELECT fast_count('SELECT * FROM items WHERE status = 3');
\timing off
SELECT hits, misses FROM fast_count_stats() \gset
\echo '   counters (fast_count_stats()): hits' :hits 'misses' :misses
\echo '-- fast_count(), second call (a hit):'
\timing on
SELECT fast_count('SELECT * FROM items WHERE status = 3');
\timing off
SELECT hits, misses, hits = 1 AND misses = 1 AS second_was_hit FROM fast_count_stats() \gset
\echo '   counters (fast_count_stats()): hits' :hits 'misses' :misses
\if :second_was_hit
\echo '   => the second call was a hit: served from the cache, nothing counted'
\else
\echo '   => the second call was NOT a hit: it counted again'
\endif
\echo '-- another spelling of the same query is the same cache entry (a hit):'
\timing on
SELECT fast_count('select *   from ITEMS i where i.status = $1', ARRAY['3']);
\timing off
SELECT hits, misses FROM fast_count_stats() \gset
\echo '   counters (fast_count_stats()): hits' :hits 'misses' :misses
SELECT coalesce(sum(hits), 0) AS hits, coalesce(sum(misses), 0) AS misses FROM fast_count_entries
 WHERE query = 'SELECT * FROM items WHERE status = 3' \gset entry_
\echo '-- the entry in fast_count_entries: hits' :entry_hits 'misses' :entry_misses
EOF
if ! grep -q '=> the second call was a hit' "$dir/calls.txt"; then
  echo "demo FAILED: fast_count()'s second call was not a hit (see the counters above)" >&2
  exit 1
fi

echo
echo "== a registered query, refreshed by the background worker every 2 seconds"
registered="SELECT * FROM items WHERE status = 1"
show_entry() {
  psql -c "SELECT kind, count, counted_at::time(0), checked_at::time(0), next_refresh_at::time(0), last_count_duration FROM fast_count_entries WHERE query = '$registered'"
}
psql -q -c "SELECT fast_count_register('$registered', '2 seconds')" >/dev/null
for _ in $(seq 1 100); do
  [ -n "$(psql -At -c "SELECT count FROM fast_count_entries WHERE query = '$registered'")" ] && break
  sleep 0.2
done
show_entry
echo "-- for a while nothing changes: the worker checks every 2 seconds and does not count again."
sleep 5
show_entry
echo "-- inserting 1000 rows that match; the worker notices the change and counts again:"
psql -q -c "INSERT INTO items SELECT g, 1, now() FROM generate_series($rows + 1, $rows + 1000) g"
expected=$(psql -At -c "SELECT count(*) FROM items WHERE status = 1")
for _ in $(seq 1 100); do
  [ "$(psql -At -c "SELECT count FROM fast_count_entries WHERE query = '$registered'")" = "$expected" ] && break
  sleep 0.2
done
show_entry
echo "-- the server log:"
grep -E "fast_count (launcher|worker)|fast_count: |DETAIL:  Query: " "$dir/server.log" | sed -E 's/^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] //' | tail -n 8
psql -c "SELECT backend_type, state, query FROM pg_stat_activity WHERE backend_type LIKE 'fast_count%'"

if [ "$keep" -eq 1 ]; then
  echo
  echo "== the cluster keeps running: $bindir/psql -h $dir -p $port -d postgres"
  echo "   stop it with: runuser -u postgres -- $bindir/pg_ctl -D $dir/data stop"
fi
