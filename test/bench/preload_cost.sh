#!/usr/bin/env bash
# P8 (issue 11): what fast_count costs statements that are not counts.
# pgbench -S (select-only, simple and prepared protocol) against two
# temporary clusters that differ only in fast_count: one with the library
# preloaded and the extension created (its worker running, transparent mode
# at its default), one without the library. Both are up for the whole run
# and take turns, run by run, in the order A B B A (then B A A B), so that
# the machine's drift falls on both alike; each round gives a ratio, and
# the median ratio is printed with the range; and the CPU time each cluster
# spent per transaction (which other work on the machine moves much less
# than tps). No assertion.
#
#   PG_CONFIG=... bash test/bench/preload_cost.sh [--seconds S] [--rounds R] [--scale N] [--control]
#
# --control: both clusters without fast_count (an A/A run): how far two
# identical clusters' figures fall apart on this machine, the resolution of
# the real run.
#
# (run as root or postgres; fast_count must be installed in PG_CONFIG's
# PostgreSQL: make install PG_CONFIG=...)
set -euo pipefail

seconds=5
rounds=8
scale=10
clients=4
control=
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --control) control=1; shift ;;
    *) echo "usage: $0 [--seconds S] [--rounds R] [--scale N] [--control]" >&2; exit 2 ;;
  esac
done

export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_installed
run_as_postgres --seconds "$seconds" --rounds "$rounds" --scale "$scale" ${control:+--control}
work=${BENCH_WORK:-$(mktemp -d /tmp/fast_count-bench.XXXXXX)}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A port
port[with]=$(free_port)
port[without]=$(free_port)
while [ "${port[without]}" = "${port[with]}" ]; do port[without]=$(free_port); done

cleanup() {
  tail -3 "$work/pgbench.err" 2>/dev/null >&2 || true
  for c in with without; do
    "$bindir/pg_ctl" -D "$work/$c" -m immediate -w stop >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

for c in with without; do
  "$bindir/initdb" -D "$work/$c" -A trust -N >/dev/null
  cat >>"$work/$c/postgresql.conf" <<CONF
port = ${port[$c]}
unix_socket_directories = '$work'
listen_addresses = ''
shared_buffers = 256MB
max_worker_processes = 16
log_min_messages = warning
CONF
  if [ "$c" = with ] && [ -z "$control" ]; then
    printf "shared_preload_libraries = 'fast_count'\nfast_count.naptime = 1\n" >>"$work/$c/postgresql.conf"
  fi
  "$bindir/pg_ctl" -D "$work/$c" -l "$work/$c.log" -w start >/dev/null
  if [ "$c" = with ] && [ -z "$control" ]; then
    "$bindir/psql" -X -q -h "$work" -p "${port[$c]}" -d postgres -c 'CREATE EXTENSION fast_count'
  fi
  "$bindir/pgbench" -i -q -s "$scale" -h "$work" -p "${port[$c]}" postgres >/dev/null 2>&1
done
loaded=$("$bindir/psql" -X -At -h "$work" -p "${port[with]}" -d postgres -c "SHOW shared_preload_libraries")
unloaded=$("$bindir/psql" -X -At -h "$work" -p "${port[without]}" -d postgres -c "SHOW shared_preload_libraries")

tps() {  # cluster mode -> "tps cpu_us_per_transaction" of pgbench -S
  pgbench_with_cpu "$work/$1" "$bindir/pgbench" "$work/pgbench.err" \
    -S -M "$2" -h "$work" -p "${port[$1]}" -c "$clients" -j 2 -T "$seconds" postgres
}
range() { tr ' ' '\n' | grep . | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}'; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A ratios sums cpu
for mode in simple prepared; do
  # Warm both (caches, relcache, the worker's first pass).
  tps with "$mode" >/dev/null
  tps without "$mode" >/dev/null
  for r in $(seq "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then order="with without without with"; else order="without with with without"; fi
    declare -A got=([with]=0 [without]=0)
    for c in $order; do
      read -r t u <<<"$(tps "$c" "$mode")"
      got[$c]=$(awk -v a="${got[$c]}" -v b="$t" 'BEGIN { print a + b }')
      cpu[${mode}_$c]+="$u "
    done
    ratios[$mode]+="$(awk -v a="${got[with]}" -v b="${got[without]}" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }') "
    sums[${mode}_with]+="$(awk -v a="${got[with]}" 'BEGIN { print a / 2 }') "
    sums[${mode}_without]+="$(awk -v a="${got[without]}" 'BEGIN { print a / 2 }') "
  done
done

printf '\nP8: pgbench -S, %s clients, scale %s, %s rounds of A B B A (%ss per run); %s cores, shared with other work\n' \
  "$clients" "$scale" "$rounds" "$seconds" "$(nproc)"
[ -n "$control" ] && printf '   CONTROL RUN: neither cluster has fast_count; "with" is only a name here\n'
printf '   preloaded: shared_preload_libraries = %s (extension created); other: "%s"\n' "$loaded" "$unloaded"
printf '   %-30s %12s %12s %14s %14s   %s\n' "" "with (tps)" "without" "ratio (median)" "range" "goal"
for mode in simple prepared; do
  printf '   %-30s %12.0f %12.0f %14.3f %14s   %s\n' "pgbench -S, $mode protocol" \
    "$(echo "${sums[${mode}_with]}" | median)" "$(echo "${sums[${mode}_without]}" | median)" \
    "$(echo "${ratios[$mode]}" | median)" "$(echo "${ratios[$mode]}" | range)" ">= 0.98"
done
printf '   CPU per transaction of the cluster (us, median; ratio: without / with, >= 0.98 is the goal in these terms)\n'
for mode in simple prepared; do
  w=$(echo "${cpu[${mode}_with]}" | median); wo=$(echo "${cpu[${mode}_without]}" | median)
  printf '   %-30s %12.2f %12.2f %14.3f\n' "pgbench -S, $mode protocol" "$w" "$wo" \
    "$(awk -v a="$wo" -v b="$w" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
done
echo "load average before / after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
