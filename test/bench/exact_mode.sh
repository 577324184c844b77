#!/usr/bin/env bash
# Exact-mode benchmark: one command, a temporary cluster on a free port,
# everything measured in the same run and printed as a table of ratios.
#
#   PG_CONFIG=... bash test/bench/exact_mode.sh          (run as root or postgres)
#
# Environment: BENCH_SECONDS (per pgbench run, default 15), BENCH_ROUNDS
# (alternating rounds per comparison, default 3), BENCH_BIG_ROWS (rows of
# the registration-blocking table, default 10000000), BENCH_KEEP=1 keeps
# the cluster directory, BENCH_ONLY (space-separated sections among
# "insert bulk reads register"; default all).
#
# Measures
#  1. single-row INSERT, 8 pgbench clients: no trigger / one exact query /
#     the classic hot-row PL/pgSQL counter trigger;
#  2. bulk INSERT ... SELECT and COPY of 1M rows, with and without exact mode
#     (a table with a primary key, and a bare heap; an exact count, and a
#     grouped one);
#  3. SELECT fast_count(q) against SELECT 1 (8 clients), while writers run
#     (2 writers, and 8 writers with 8 readers: the reads come from shared
#     memory, docs/exact-mode.md; the worker folds every second), and after a long write history with
#     no fold (worker stopped) before and after one fold;
#  4. how long writers are blocked when a query over a big table is
#     registered (the count itself runs later, in the worker, unblocked).
# No assertion: it prints numbers.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)
seconds=${BENCH_SECONDS:-15}
rounds=${BENCH_ROUNDS:-3}
big_rows=${BENCH_BIG_ROWS:-10000000}

if [ "$(id -u)" -eq 0 ]; then
  bash "$here/scripts/build.sh" >/dev/null
  work=$(mktemp -d /tmp/fast_count-bench.XXXXXX)
  chown postgres "$work"
  exec runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" BENCH_WORK="$work" \
    BENCH_SECONDS="$seconds" BENCH_ROUNDS="$rounds" BENCH_BIG_ROWS="$big_rows" \
    BENCH_KEEP="${BENCH_KEEP:-}" BENCH_ONLY="${BENCH_ONLY:-}" bash "$0"
fi
work=${BENCH_WORK:-$(mktemp -d /tmp/fast_count-bench.XXXXXX)}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data="$work/data"
"$bindir/initdb" -D "$data" -A trust -N >/dev/null
cat >>"$data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = 'fast_count'
fast_count.naptime = 1
fast_count.log_level = log
max_connections = 50
shared_buffers = 1GB
max_wal_size = 16GB
checkpoint_timeout = 30min
log_min_messages = warning
EOF
"$bindir/pg_ctl" -D "$data" -l "$work/server.log" -w start >/dev/null
cleanup() {
  "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  [ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

export PGHOST=$work PGPORT=$port PGDATABASE=postgres
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
value() { "$bindir/psql" -X -At -v ON_ERROR_STOP=1 -c "$1"; }
pgbench_tps() {  # pgbench args... -> tps
  "$bindir/pgbench" -n "$@" 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1
}
ms_of() {  # SQL -> milliseconds (psql \timing)
  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
log() { echo "[$(date +%T)] $*" >&2; }
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

psql -c 'CREATE EXTENSION fast_count'
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "fast_count exact-mode benchmark: $(nproc) cores, PostgreSQL $("$bindir/postgres" -V | awk '{print $3}'), pgbench ${seconds}s x $rounds rounds"
echo

if want insert; then
# --- 1. single-row INSERT, 8 clients ----------------------------------------
log "single-row INSERT"
psql >/dev/null <<'SQL'
CREATE TABLE ins_plain (id bigserial PRIMARY KEY, status int NOT NULL, payload text);
CREATE TABLE ins_exact (id bigserial PRIMARY KEY, status int NOT NULL, payload text);
CREATE TABLE ins_hot (id bigserial PRIMARY KEY, status int NOT NULL, payload text);
CREATE TABLE hot_counter (n bigint NOT NULL);
INSERT INTO hot_counter VALUES (0);
CREATE FUNCTION hot_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 1 THEN UPDATE hot_counter SET n = n + 1; END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER hot_count AFTER INSERT ON ins_hot FOR EACH ROW EXECUTE FUNCTION hot_count();
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM ins_exact WHERE status = 1', mode => 'exact'));
SQL
for t in plain exact hot; do
  printf '\\set s random(1, 4)\nINSERT INTO ins_%s (status, payload) VALUES (:s, '"'"'hello'"'"');\n' "$t" >"$work/ins_$t.sql"
done
declare -A ins
for r in $(seq "$rounds"); do
  for t in plain exact hot; do
    ins[$t]+="$(pgbench_tps -c 8 -j 2 -T "$seconds" -f "$work/ins_$t.sql") "
  done
done
ins_plain=$(echo "${ins[plain]}" | tr ' ' '\n' | grep . | median)
ins_exact=$(echo "${ins[exact]}" | tr ' ' '\n' | grep . | median)
ins_hot=$(echo "${ins[hot]}" | tr ' ' '\n' | grep . | median)
check=$(value "SELECT fast_count('SELECT * FROM ins_exact WHERE status = 1') = (SELECT count(*) FROM ins_exact WHERE status = 1)")

fi

# --- 2. bulk INSERT ... SELECT and COPY of 1M rows ----------------------------
if want bulk; then
log "bulk INSERT ... SELECT and COPY"
# What PostgreSQL's trigger machinery costs by itself, with a C function
# that does nothing: "row", an AFTER ROW trigger (what exact mode used
# before 0.4.0); "capture", the triggers exact mode creates now (an AFTER
# INSERT statement trigger with a transition table, and a row trigger that
# fires in replica sessions only).
cat >"$work/noop.c" <<'C'
#include "postgres.h"
#include "fmgr.h"
PG_MODULE_MAGIC;
PG_FUNCTION_INFO_V1(bench_noop_trigger);
Datum bench_noop_trigger(PG_FUNCTION_ARGS) { return PointerGetDatum(NULL); }
C
noop=""
if cc -O2 -fPIC -shared -I"$("$PG_CONFIG" --includedir-server)" -o "$work/noop.so" "$work/noop.c" 2>/dev/null; then
  noop=1
  psql -c "CREATE FUNCTION bench_noop_trigger() RETURNS trigger AS '$work/noop.so', 'bench_noop_trigger' LANGUAGE C"
fi
shapes="pk heap"
psql >/dev/null <<'SQL'
CREATE TABLE bulk_pk_plain (id bigint PRIMARY KEY, status int NOT NULL, payload text);
CREATE TABLE bulk_pk_exact (id bigint PRIMARY KEY, status int NOT NULL, payload text);
CREATE TABLE bulk_pk_row (id bigint PRIMARY KEY, status int NOT NULL, payload text);
CREATE TABLE bulk_pk_capture (id bigint PRIMARY KEY, status int NOT NULL, payload text);
CREATE TABLE bulk_pk_grouped (id bigint PRIMARY KEY, status int NOT NULL, payload text);
CREATE TABLE bulk_heap_plain (id bigint, status int, payload text);
CREATE TABLE bulk_heap_exact (id bigint, status int, payload text);
CREATE TABLE bulk_heap_row (id bigint, status int, payload text);
CREATE TABLE bulk_heap_capture (id bigint, status int, payload text);
CREATE TABLE bulk_heap_grouped (id bigint, status int, payload text);
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM bulk_pk_exact WHERE status = 1', mode => 'exact'));
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM bulk_heap_exact WHERE status = 1', mode => 'exact'));
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM bulk_pk_grouped', mode => 'exact', group_by => ARRAY['status']));
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM bulk_heap_grouped', mode => 'exact', group_by => ARRAY['status']));
SQL
kinds="plain exact grouped"
if [ -n "$noop" ]; then
  kinds="plain exact grouped row capture"
  for shape in $shapes; do
    psql -c "CREATE TRIGGER noop AFTER INSERT OR UPDATE OR DELETE ON bulk_${shape}_row FOR EACH ROW EXECUTE FUNCTION bench_noop_trigger()" \
         -c "CREATE TRIGGER noop_insert AFTER INSERT ON bulk_${shape}_capture REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION bench_noop_trigger()" \
         -c "CREATE TRIGGER noop_replica AFTER INSERT OR UPDATE OR DELETE ON bulk_${shape}_capture FOR EACH ROW EXECUTE FUNCTION bench_noop_trigger()" \
         -c "ALTER TABLE bulk_${shape}_capture ENABLE REPLICA TRIGGER noop_replica"
  done
fi
psql -c "COPY (SELECT g, g % 4, 'payload ' || g FROM generate_series(1, 1000000) g) TO '$work/bulk.copy'" >/dev/null
declare -A bulk
for r in $(seq "$rounds"); do
  for shape in $shapes; do
    for t in $kinds; do
      psql -c "TRUNCATE bulk_${shape}_$t" -c CHECKPOINT >/dev/null
      bulk[insert_${shape}_$t]+="$(ms_of "INSERT INTO bulk_${shape}_$t SELECT g, g % 4, 'payload ' || g FROM generate_series(1, 1000000) g") "
      psql -c "TRUNCATE bulk_${shape}_$t" -c CHECKPOINT >/dev/null
      bulk[copy_${shape}_$t]+="$(ms_of "COPY bulk_${shape}_$t FROM '$work/bulk.copy'") "
    done
  done
done
for k in "${!bulk[@]}"; do
  declare "bulk_$k=$(echo "${bulk[$k]}" | tr ' ' '\n' | grep . | median)"
done
check_bulk=$(value "SELECT fast_count('SELECT * FROM bulk_pk_exact WHERE status = 1') = (SELECT count(*) FROM bulk_pk_exact WHERE status = 1)
                    AND fast_count('SELECT * FROM bulk_heap_grouped WHERE status = 2') = (SELECT count(*) FROM bulk_heap_grouped WHERE status = 2)")

fi

# --- 3. reading an exact count ------------------------------------------------
if want reads; then
log "reads"
psql >/dev/null <<'SQL'
CREATE TABLE reads (id bigserial PRIMARY KEY, status int NOT NULL);
INSERT INTO reads (status) SELECT g % 4 FROM generate_series(1, 100000) g;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM reads WHERE status = 1', mode => 'exact'));
SQL
echo "SELECT 1;" >"$work/select1.sql"
echo "SELECT fast_count('SELECT * FROM reads WHERE status = 1');" >"$work/read.sql"
printf '\\set s random(1, 4)\nINSERT INTO reads (status) VALUES (:s);\n' >"$work/write.sql"
declare -A rd
for r in $(seq "$rounds"); do
  rd[select1]+="$(pgbench_tps -c 8 -j 2 -T "$seconds" -f "$work/select1.sql") "
  rd[exact]+="$(pgbench_tps -c 8 -j 2 -T "$seconds" -f "$work/read.sql") "
done
rd_select1=$(echo "${rd[select1]}" | tr ' ' '\n' | grep . | median)
rd_exact=$(echo "${rd[exact]}" | tr ' ' '\n' | grep . | median)
# While 2 clients write (the worker folds every second).
"$bindir/pgbench" -n -c 2 -j 1 -T $((2 * seconds + 4)) -f "$work/write.sql" >"$work/bg_writes.out" 2>&1 &
writers=$!
sleep 1
rd_during=$(pgbench_tps -c 6 -j 2 -T "$seconds" -f "$work/read.sql")
rd_select1_during=$(pgbench_tps -c 6 -j 2 -T "$seconds" -f "$work/select1.sql")
wait $writers
bg_tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/bg_writes.out" | tail -1)
# 8 readers while 8 clients write, SELECT 1 alternating with the reads
# under the same write load.
"$bindir/pgbench" -n -c 8 -j 2 -T $((3 * rounds * seconds + 4)) -f "$work/write.sql" >"$work/bg8_writes.out" 2>&1 &
writers=$!
sleep 1
declare -A rd8
for r in $(seq "$rounds"); do
  rd8[select1]+="$(pgbench_tps -c 8 -j 2 -T "$seconds" -f "$work/select1.sql") "
  rd8[exact]+="$(pgbench_tps -c 8 -j 2 -T "$seconds" -f "$work/read.sql") "
  rd8[rows]+="$(PGOPTIONS='-c fast_count.exact_shared_reads=off' pgbench_tps -c 8 -j 2 -T "$seconds" -f "$work/read.sql") "
done
wait $writers
rd8_select1=$(echo "${rd8[select1]}" | tr ' ' '\n' | grep . | median)
rd8_exact=$(echo "${rd8[exact]}" | tr ' ' '\n' | grep . | median)
rd8_rows=$(echo "${rd8[rows]}" | tr ' ' '\n' | grep . | median)
bg8_tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/bg8_writes.out" | tail -1)
check_reads8=$(value "SELECT fast_count('SELECT * FROM reads WHERE status = 1') = (SELECT count(*) FROM reads WHERE status = 1)")
# A long write history with nothing folded: stop the worker, write, read,
# fold once, read again.
psql -c "ALTER SYSTEM SET fast_count.databases = 'no_such_database'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 3
history_tps=$(pgbench_tps -c 8 -j 2 -T $((seconds * 2)) -f "$work/write.sql")
history_rows=$(value "SELECT count(*) FROM fast_count.exact_deltas d JOIN fast_count_entries e USING (key) WHERE e.query = 'SELECT * FROM reads WHERE status = 1'")
rd_history=$(pgbench_tps -c 8 -j 2 -T "$seconds" -f "$work/read.sql")
fold_ms=$(ms_of "SELECT fast_count._exact_fold(key) FROM fast_count_entries WHERE query = 'SELECT * FROM reads WHERE status = 1'")
rd_folded=$(pgbench_tps -c 8 -j 2 -T "$seconds" -f "$work/read.sql")
rd_select1_after=$(pgbench_tps -c 8 -j 2 -T "$seconds" -f "$work/select1.sql")
check_reads=$(value "SELECT fast_count('SELECT * FROM reads WHERE status = 1') = (SELECT count(*) FROM reads WHERE status = 1)")
psql -c "ALTER SYSTEM RESET fast_count.databases" -c "SELECT pg_reload_conf()" >/dev/null

fi

# --- 4. writers blocked by a registration over a big table -------------------
if want register; then
log "registration of a query over $big_rows rows"
psql -c "CREATE TABLE big (id bigserial PRIMARY KEY, status int NOT NULL, payload text)" \
     -c "INSERT INTO big (status, payload) SELECT g % 4, 'row ' || g FROM generate_series(1, $big_rows) g" \
     -c "VACUUM ANALYZE big" -c CHECKPOINT >/dev/null
printf '\\set s random(1, 4)\nINSERT INTO big (status, payload) VALUES (:s, '"'"'live'"'"');\n' >"$work/big_insert.sql"
count_ms=$(ms_of "SELECT count(*) FROM big WHERE status = 1")
( cd "$work" && "$bindir/pgbench" -n -c 4 -j 2 -T 30 -f big_insert.sql -l --log-prefix=txlog >"$work/big_pgbench.out" 2>&1 ) &
bench=$!
sleep 8
reg_start=$(date +%s.%N)
reg_ms=$(ms_of "SELECT fast_count_register('SELECT * FROM big WHERE status = 1', mode => 'exact')")
reg_end=$(date +%s.%N)
for i in $(seq 120); do
  [ "$(value "SELECT exact_state FROM fast_count_entries WHERE query = 'SELECT * FROM big WHERE status = 1'")" = ready ] && break
  sleep 0.5
done
backfill_done=$(date +%s.%N)
wait $bench
check_big=$(value "SELECT fast_count('SELECT * FROM big WHERE status = 1') = (SELECT count(*) FROM big WHERE status = 1)")
backfill_log=$(grep -o 'exact count established: [0-9]* rows in [0-9.]* ms' "$work/server.log" | tail -1 || true)
# Per-transaction log: client tx latency_us script epoch_s epoch_us. A
# transaction overlapping the registration may have waited for it.
read -r base_max during_max backfill_max base_p99 <<<"$(cat "$work"/txlog.* | python3 -c '
import sys
rs, re, bd = (float(x) for x in sys.argv[1:4])
base, during, backfill = [], [], []
for line in sys.stdin:
    f = line.split()
    end = int(f[4]) + int(f[5]) / 1e6
    lat = int(f[2]) / 1e6
    start = end - lat
    if end >= rs and start <= re:
        during.append(lat)
    elif start > re + 0.5 and end < bd:
        backfill.append(lat)
    elif end < rs - 0.5:
        base.append(lat)
base.sort()
ms = lambda xs: "%.1f" % (1000 * max(xs)) if xs else "n/a"
p99 = "%.1f" % (1000 * base[int(len(base) * 0.99)]) if base else "n/a"
print(ms(base), ms(during), ms(backfill), p99)
' "$reg_start" "$reg_end" "$backfill_done")"

fi

# --- the table ------------------------------------------------------------------
echo "                                                      value        ratio   goal"
if want insert; then
printf '1. single-row INSERT, 8 clients (tps, median of %s)\n' "$rounds"
printf '   no trigger                                   %10.0f\n' "$ins_plain"
printf '   one exact query                              %10.0f   %6s   >= 0.90  (exact = count(*): %s)\n' "$ins_exact" "$(ratio "$ins_exact" "$ins_plain")" "$check"
printf '   hot-row PL/pgSQL counter trigger             %10.0f   %6s\n' "$ins_hot" "$(ratio "$ins_hot" "$ins_plain")"
fi
if want bulk; then
printf '2. bulk load of 1M rows (ms, median of %s); last columns: no-op C triggers, an AFTER ROW one / those exact mode creates\n' "$rounds"
for op in insert copy; do
  for shape in pk heap; do
    p="bulk_${op}_${shape}_plain"; e="bulk_${op}_${shape}_exact"; n="bulk_${op}_${shape}_row"; c="bulk_${op}_${shape}_capture"
    g="bulk_${op}_${shape}_grouped"
    label="INSERT ... SELECT"; [ "$op" = copy ] && label="COPY"
    what="primary key"; [ "$shape" = heap ] && what="bare heap"
    noop_text=""
    [ -n "$noop" ] && noop_text=$(printf 'no-op row %6.0f (%s), no-op capture %6.0f (%s)' "${!n}" "$(ratio "${!n}" "${!p}")" "${!c}" "$(ratio "${!c}" "${!p}")")
    printf '   %-17s %-12s without %6.0f, exact %6.0f   %6s   <= 1.15   %s\n' "$label" "$what" "${!p}" "${!e}" "$(ratio "${!e}" "${!p}")" "$noop_text"
    printf '   %-17s %-12s grouped by status (4 groups) %6.0f   %6s   <= 1.15\n' "" "" "${!g}" "$(ratio "${!g}" "${!p}")"
  done
done
printf '   (exact = count(*) after the loads: %s)\n' "$check_bulk"
fi
if want reads; then
printf '3. reads, 8 clients (tps)\n'
printf '   SELECT 1                                     %10.0f\n' "$rd_select1"
printf '   SELECT fast_count(q), exact                  %10.0f   %6s   >= 0.5\n' "$rd_exact" "$(ratio "$rd_exact" "$rd_select1")"
printf '   6 readers while 2 clients write (%5.0f tps), the worker folding:\n' "$bg_tps"
printf '     SELECT fast_count(q) / SELECT 1 (same load) %9.0f   %6s\n' "$rd_during" "$(ratio "$rd_during" "$rd_select1_during")"
printf '   8 readers while 8 clients write (%5.0f tps), SELECT 1 alternating (median of %s):\n' "$bg8_tps" "$rounds"
printf '     SELECT 1                                    %10.0f\n' "$rd8_select1"
printf '     SELECT fast_count(q) / SELECT 1 (same load) %9.0f   %6s   >= 0.90  (exact = count(*) after: %s)\n' "$rd8_exact" "$(ratio "$rd8_exact" "$rd8_select1")" "$check_reads8"
printf '     the same, exact_shared_reads = off (rows)   %10.0f   %6s\n' "$rd8_rows" "$(ratio "$rd8_rows" "$rd8_select1")"
printf '   after %s s of writes (%s tps) with no fold: %s delta rows\n' "$((seconds * 2))" "${history_tps%.*}" "$history_rows"
printf '     SELECT fast_count(q) before the fold        %10.0f   %6s\n' "$rd_history" "$(ratio "$rd_history" "$rd_select1")"
printf '     one fold                                    %8.0f ms\n' "$fold_ms"
printf '     SELECT fast_count(q) after the fold         %10.0f   %6s   (SELECT 1 now %0.f)\n' "$rd_folded" "$(ratio "$rd_folded" "$rd_select1_after")" "$rd_select1_after"
printf '   (exact = count(*): %s)\n' "$check_reads"
fi
if want register; then
printf '4. registering an exact query over %s rows while 4 clients insert\n' "$big_rows"
printf '   count(*) of the query                         %8.0f ms\n' "$count_ms"
printf '   fast_count_register() (holds the trigger lock) %7.0f ms\n' "$reg_ms"
printf '   writer latency max before / during registration / during backfill: %s / %s / %s ms (p99 before %s ms)\n' "$base_max" "$during_max" "$backfill_max" "$base_p99"
printf '   backfill by the worker: %s\n' "${backfill_log:-not found}"
printf '   (exact = count(*): %s)\n' "$check_big"
fi
echo "load average before / after the run: $load_before / $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
