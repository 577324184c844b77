#!/usr/bin/env bash
# Transparent-mode benchmark: a temporary cluster on a free port, every
# figure measured in the same run and printed as ratios. No assertion.
#
#   PG_CONFIG=... bash test/bench/transparent.sh [--rows N] [--seconds S]
#
# (run as root or postgres; the extension must be installed in PG_CONFIG's
# PostgreSQL: make install PG_CONFIG=...)
#
#  P7: SELECT count(*) FROM items WHERE status = 3 on N rows (default 10M),
#      registered in exact mode, pgbench 4 clients, simple and prepared
#      protocol: / SELECT 1, and / the same statement with transparent = off;
#      and with fast_count.exact_shared_reads = off (the delta rows read).
#  P8: pgbench -S (select-only) with fast_count preloaded / not loaded.
#  --rounds R (default 3): P7's runs alternate with SELECT 1, medians.
set -euo pipefail

rows=10000000
seconds=10
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: $0 [--rows N] [--seconds S] [--rounds R]" >&2; exit 2 ;;
  esac
done

export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)
if [ "$(id -u)" -eq 0 ]; then
  work=$(mktemp -d /tmp/fast_count-bench.XXXXXX)
  chown postgres "$work"
  exec runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" BENCH_WORK="$work" \
    bash "$0" --rows "$rows" --seconds "$seconds" --rounds "$rounds"
fi
work=${BENCH_WORK:-$(mktemp -d /tmp/fast_count-bench.XXXXXX)}
port=$(( 20000 + RANDOM % 20000 ))
data=$work/data
trap 'cat "$work/pgbench.err" 2>/dev/null | tail -5 >&2; "$bindir/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

"$bindir/initdb" -D "$data" -A trust >/dev/null
cat >> "$data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$work'
listen_addresses = ''
shared_preload_libraries = 'fast_count'
max_worker_processes = 16
fast_count.naptime = 1
CONF
start() { "$bindir/pg_ctl" -D "$data" -l "$work/log" -w start >/dev/null; }
stop() { "$bindir/pg_ctl" -D "$data" -w stop >/dev/null; }
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -d postgres "$@"; }
tps() {  # tps of pgbench with the given options and script file
  "$bindir/pgbench" -n -h "$work" -p "$port" -c 4 -j 2 -T "$seconds" "$@" postgres 2>>"$work/pgbench.err" |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }

start
psql <<SQL
CREATE EXTENSION fast_count;
CREATE TABLE items (id bigint, status int);
INSERT INTO items SELECT g, g % 10 FROM generate_series(1, $rows) g;
ANALYZE items;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM items WHERE status = 3',
                                                    mode => 'exact')) IS NOT NULL AS registered;
SQL
echo 'SELECT count(*) FROM items WHERE status = 3;' > "$work/count.sql"
echo 'SELECT 1;' > "$work/one.sql"

# Each measure alternates with SELECT 1 over the rounds (the machine's
# load moves): the ratios are of medians.
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
declare -A runs
for r in $(seq "$rounds"); do
  runs[one_simple]+="$(tps -f "$work/one.sql") "
  runs[count_simple]+="$(tps -f "$work/count.sql") "
  runs[one_prepared]+="$(tps -M prepared -f "$work/one.sql") "
  runs[count_prepared]+="$(tps -M prepared -f "$work/count.sql") "
  runs[rows_prepared]+="$(PGOPTIONS='-c fast_count.exact_shared_reads=off' tps -M prepared -f "$work/count.sql") "
  runs[rows_simple]+="$(PGOPTIONS='-c fast_count.exact_shared_reads=off' tps -f "$work/count.sql") "
done
for k in "${!runs[@]}"; do
  declare "$k=$(echo "${runs[$k]}" | tr ' ' '\n' | grep . | median)"
done
off_simple=$(PGOPTIONS='-c fast_count.transparent=off' tps -f "$work/count.sql")

"$bindir/pgbench" -i -q -s 10 -h "$work" -p "$port" postgres >/dev/null 2>&1
preloaded=$(tps -S -M prepared)
preloaded_simple=$(tps -S)
stop
sed -i "s/^shared_preload_libraries = 'fast_count'/shared_preload_libraries = ''/" "$data/postgresql.conf"
start
plain=$(tps -S -M prepared)
plain_simple=$(tps -S)
stop

printf '\nfast_count transparent mode, %s rows, pgbench 4 clients, %ss per run, medians of %s alternating rounds\n' "$rows" "$seconds" "$rounds"
printf '%-58s %12s %8s\n' measure tps ratio
printf '%-58s %12s %8s\n' "P7 SELECT 1 (simple)" "$one_simple" ""
printf '%-58s %12s %8s\n' "P7 intercepted count (simple) / SELECT 1" "$count_simple" "$(ratio "$count_simple" "$one_simple")"
printf '%-58s %12s %8s\n' "P7 SELECT 1 (prepared)" "$one_prepared" ""
printf '%-58s %12s %8s\n' "P7 intercepted count (prepared) / SELECT 1" "$count_prepared" "$(ratio "$count_prepared" "$one_prepared")"
printf '%-58s %12s %8s\n' "P7 intercepted (simple) / transparent = off" "$off_simple" "$(ratio "$count_simple" "$off_simple")"
printf '%-58s %12s %8s\n' "P7 same, exact_shared_reads = off (prepared) / SELECT 1" "$rows_prepared" "$(ratio "$rows_prepared" "$one_prepared")"
printf '%-58s %12s %8s\n' "P7 same, exact_shared_reads = off (simple) / SELECT 1" "$rows_simple" "$(ratio "$rows_simple" "$one_simple")"
printf '%-58s %12s %8s\n' "P8 pgbench -S prepared: preloaded / not loaded" "$preloaded" "$(ratio "$preloaded" "$plain")"
printf '%-58s %12s %8s\n' "P8 pgbench -S simple: preloaded / not loaded" "$preloaded_simple" "$(ratio "$preloaded_simple" "$plain_simple")"
