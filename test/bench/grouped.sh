#!/usr/bin/env bash
# Grouped exact counts benchmark (issue 12): a temporary cluster on a free
# port, every figure a ratio of two things measured in the same run, printed.
# No assertion.
#
#   PG_CONFIG=... bash test/bench/grouped.sh [--rows N] [--seconds S] [--rounds R]
#                                            [--scale] [--scale-rows N] [--keep]
#
# (run as root or postgres; fast_count must be installed in PG_CONFIG's
# PostgreSQL: make install PG_CONFIG=...)
#
#  1. Writes: single-row INSERT, pgbench 8 clients, into book(author_id, ...):
#     no count / one grouped registration (group_by author_id) / the hot-row
#     design (author.books_count kept by an AFTER INSERT FOR EACH ROW
#     PL/pgSQL trigger), (a) authors spread over 1,000, (b) all 8 clients
#     writing books of the SAME author. R alternating rounds, medians. For
#     comparison, one ungrouped exact registration of the same table. Also
#     the CPU time per transaction of the whole cluster (backends, worker,
#     autovacuum), which the other work on a shared machine moves less than
#     it moves tps.
#  2. Reads (book with N rows over 1,000 authors, index on author_id as
#     Django makes one): fast_count() of one group and the transparent
#     prepared SELECT count(*) ... WHERE author_id = $1, tps / SELECT 1 tps
#     under the same load: no writers, 8 writers spread over the authors,
#     8 writers all on the group read. fast_count_groups() of the 1,000
#     groups / the GROUP BY count it replaces (1 client, tps).
#  3. --scale (off by default: it takes long): 1,000,000 groups on a table
#     of --scale-rows rows (default 10,000,000): registration and backfill
#     time while 4 clients insert, how long those writers wait, the delta
#     table after folding against the number of groups, and one group's read
#     tps at 1,000 groups / at 1,000,000 groups.
set -euo pipefail

rows=1000000
seconds=8
rounds=3
scale=
scale_rows=10000000
keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --scale) scale=1; shift ;;
    --scale-rows) scale_rows=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--rows N] [--seconds S] [--rounds R] [--scale] [--scale-rows N] [--keep]" >&2; exit 2 ;;
  esac
done
args=(--rows "$rows" --seconds "$seconds" --rounds "$rounds" --scale-rows "$scale_rows")
[ -n "$scale" ] && args+=(--scale)
[ -n "$keep" ] && args+=(--keep)

export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_installed
run_as_postgres "${args[@]}"
work=${BENCH_WORK:-$(mktemp -d /tmp/fast_count-bench.XXXXXX)}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$work/data
"$bindir/initdb" -D "$data" -A trust -N >/dev/null
cat >>"$data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = 'fast_count'
fast_count.naptime = 1
max_connections = 60
max_worker_processes = 16
shared_buffers = 1GB
maintenance_work_mem = 512MB
max_wal_size = 16GB
checkpoint_timeout = 30min
log_min_messages = warning
log_error_verbosity = verbose
CONF
"$bindir/pg_ctl" -D "$data" -l "$work/server.log" -w start >/dev/null
cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "failed (exit status $status); last pgbench errors and server log lines:" >&2
    tail -5 "$work/pgbench.err" "$work"/writers_*.out 2>/dev/null >&2 || true
    grep -A2 -E "ERROR|FATAL|PANIC" "$work/server.log" | tail -12 >&2 || true
  fi
  jobs -p | xargs -r kill 2>/dev/null || true
  if [ -n "$keep" ]; then
    echo "cluster kept: psql -h $work -p $port postgres; stop: $bindir/pg_ctl -D $data stop" >&2
  else
    "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT

export PGHOST=$work PGPORT=$port PGDATABASE=postgres
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
value() { "$bindir/psql" -X -At -v ON_ERROR_STOP=1 -c "$1"; }
tps() {  # pgbench options... -> tps
  "$bindir/pgbench" -n "$@" 2>>"$work/pgbench.err" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1
}
write_run() {  # pgbench options... -> "tps cpu_us_per_transaction"
  pgbench_with_cpu "$data" "$bindir/pgbench" "$work/pgbench.err" "$@"
}
ms_of() {  # SQL -> milliseconds (psql \timing)
  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
log() { echo "[$(date +%T)] $*" >&2; }
wait_ready() {  # query text -> waits until its exact registration is ready
  for _ in $(seq 1200); do
    [ "$(value "SELECT exact_state FROM fast_count_entries WHERE query = '$1'")" = ready ] && return 0
    sleep 0.25
  done
  echo "timed out waiting for '$1' to be ready" >&2
  return 1
}

psql -c 'CREATE EXTENSION fast_count'
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "fast_count grouped exact counts benchmark: $(nproc) cores (shared with other work: every figure is noisy), PostgreSQL $("$bindir/postgres" -V | awk '{print $3}')"
echo "pgbench ${seconds}s per run, $rounds rounds for writes, --rows $rows$([ -n "$scale" ] && echo ", --scale-rows $scale_rows")"
echo

# --- 1. writes ------------------------------------------------------------------
log "1. single-row INSERT, 8 clients"
psql >/dev/null <<'SQL'
CREATE TABLE author (id int PRIMARY KEY, name text, books_count bigint NOT NULL DEFAULT 0);
INSERT INTO author (id, name) SELECT g, 'author ' || g FROM generate_series(1, 1000) g;
-- Three identical book tables: no count, one grouped registration, the hot row.
CREATE TABLE book_none (id bigserial PRIMARY KEY, author_id int NOT NULL, title text);
CREATE TABLE book_grouped (LIKE book_none INCLUDING ALL);
CREATE TABLE book_hot (LIKE book_none INCLUDING ALL);
CREATE TABLE book_exact (LIKE book_none INCLUDING ALL);
CREATE INDEX ON book_none (author_id);
CREATE INDEX ON book_grouped (author_id);
CREATE INDEX ON book_hot (author_id);
CREATE INDEX ON book_exact (author_id);
CREATE FUNCTION book_hot_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE author SET books_count = books_count + 1 WHERE id = NEW.author_id;
  RETURN NULL;
END $$;
CREATE TRIGGER book_hot_count AFTER INSERT ON book_hot FOR EACH ROW EXECUTE FUNCTION book_hot_count();
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM book_grouped', mode => 'exact',
                                                    group_by => ARRAY['author_id']));
-- For comparison: one ungrouped exact count of the same table.
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM book_exact', mode => 'exact'));
SQL
for t in none grouped hot exact; do
  printf '\\set a random(1, 1000)\nINSERT INTO book_%s (author_id, title) VALUES (:a, '"'"'a title'"'"');\n' "$t" >"$work/spread_$t.sql"
  printf 'INSERT INTO book_%s (author_id, title) VALUES (1, '"'"'a title'"'"');\n' "$t" >"$work/same_$t.sql"
done
declare -A w
variants=(none grouped hot exact)
for r in $(seq "$rounds"); do
  for case in spread same; do
    # The order rotates from round to round, so that no variant always
    # runs first (or after the same one).
    for i in 0 1 2 3; do
      t=${variants[$(( (i + r) % 4 ))]}
      read -r got_tps got_cpu <<<"$(write_run -c 8 -j 2 -T "$seconds" -f "$work/${case}_$t.sql")"
      w[${case}_$t]+="$got_tps "
      w[cpu_${case}_$t]+="$got_cpu "
    done
  done
done
for k in "${!w[@]}"; do declare "w_$k=$(echo "${w[$k]}" | median)"; done
check_writes=$(value "SELECT (SELECT array_agg(ARRAY[key[1]::bigint, count] ORDER BY key[1]::int)
                                FROM fast_count_groups('SELECT * FROM book_grouped'))
                      = (SELECT array_agg(ARRAY[author_id, n] ORDER BY author_id)
                           FROM (SELECT author_id, count(*) n FROM book_grouped GROUP BY author_id) s)")
check_hot=$(value "SELECT (SELECT books_count FROM author WHERE id = 1) = (SELECT count(*) FROM book_hot WHERE author_id = 1)")

# --- 2. reads -------------------------------------------------------------------
log "2. reads (book: $rows rows, 1,000 authors)"
psql >/dev/null <<SQL
CREATE TABLE book (id bigserial PRIMARY KEY, author_id int NOT NULL, title text);
INSERT INTO book (author_id, title) SELECT g % 1000 + 1, 'title ' || g FROM generate_series(1, $rows) g;
CREATE INDEX ON book (author_id);
VACUUM ANALYZE book;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM book', mode => 'exact',
                                                    group_by => ARRAY['author_id']));
CHECKPOINT;
SQL
echo 'SELECT 1;' >"$work/one.sql"
echo "SELECT fast_count('SELECT * FROM book WHERE author_id = 42');" >"$work/fc.sql"
printf '\\set a 42\nSELECT count(*) FROM book WHERE author_id = :a;\n' >"$work/tr.sql"
printf '\\set a random(1, 1000)\nINSERT INTO book (author_id, title) VALUES (:a, '"'"'new'"'"');\n' >"$work/w_spread.sql"
printf 'INSERT INTO book (author_id, title) VALUES (42, '"'"'new'"'"');\n' >"$work/w_same.sql"
declare -A rd
read_set() {  # label: SELECT 1, fast_count(), transparent (prepared), 8 clients
  rd[$1_one]=$(tps -c 8 -j 2 -T "$seconds" -M prepared -f "$work/one.sql")
  rd[$1_fc]=$(tps -c 8 -j 2 -T "$seconds" -M prepared -f "$work/fc.sql")
  rd[$1_tr]=$(tps -c 8 -j 2 -T "$seconds" -M prepared -f "$work/tr.sql")
}
read_set idle
rd[idle_off]=$(PGOPTIONS='-c fast_count.transparent=off' tps -c 8 -j 2 -T "$seconds" -M prepared -f "$work/tr.sql")
for load in spread same; do
  "$bindir/pgbench" -n -c 8 -j 2 -T $((3 * seconds + 3)) -f "$work/w_$load.sql" >"$work/writers_$load.out" 2>&1 &
  writers=$!
  sleep 1
  read_set "$load"
  wait $writers
  rd[${load}_writers]=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/writers_$load.out" | tail -1)
done
check_reads=$(value "SELECT fast_count('SELECT * FROM book WHERE author_id = 42') = (SELECT count(*) FROM book WHERE author_id = 42)")
psql -c "SELECT fast_count._exact_fold(key) FROM fast_count_entries WHERE query = 'SELECT * FROM book'" >/dev/null
echo "SELECT * FROM fast_count_groups('SELECT * FROM book');" >"$work/groups.sql"
echo "SELECT author_id, count(*) FROM book GROUP BY author_id;" >"$work/groupby.sql"
groups_n=$(value "SELECT count(*) FROM fast_count_groups('SELECT * FROM book')")
groups_tps=$(tps -c 1 -T "$seconds" -f "$work/groups.sql")
groupby_tps=$(tps -c 1 -T "$seconds" -f "$work/groupby.sql")
check_groups=$(value "SELECT NOT EXISTS (SELECT key[1]::int, count FROM fast_count_groups('SELECT * FROM book')
                                         EXCEPT SELECT author_id, count(*) FROM book GROUP BY author_id)
                      AND $groups_n = (SELECT count(DISTINCT author_id) FROM book)")

# --- 3. scale -------------------------------------------------------------------
if [ -n "$scale" ]; then
  log "3. scale: $scale_rows rows, 1,000,000 groups"
  psql >/dev/null <<SQL
CREATE TABLE big (id bigserial PRIMARY KEY, author_id int NOT NULL, title text);
INSERT INTO big (author_id, title) SELECT g % 1000000 + 1, 'title ' || g FROM generate_series(1, $scale_rows) g;
CREATE INDEX ON big (author_id);
VACUUM ANALYZE big;
CHECKPOINT;
SQL
  printf '\\set a random(1, 1000000)\nINSERT INTO big (author_id, title) VALUES (:a, '"'"'live'"'"');\n' >"$work/big_insert.sql"
  groupby_big_ms=$(ms_of "SELECT count(*) FROM (SELECT author_id, count(*) FROM big GROUP BY author_id) s")
  # Writers run in runs of 5 s, each with its per-transaction log, until the
  # backfill is over (and 5 s more).
  touch "$work/writing"
  (
    cd "$work"; i=0
    while [ -e writing ]; do
      i=$((i + 1))
      "$bindir/pgbench" -n -c 4 -j 2 -T 5 -f big_insert.sql -l --log-prefix="txlog$i" >>"$work/big_pgbench.out" 2>&1
    done
  ) &
  writer_loop=$!
  sleep 8
  reg_start=$(date +%s.%N)
  reg_ms=$(ms_of "SELECT fast_count_register('SELECT * FROM big', mode => 'exact', group_by => ARRAY['author_id'])")
  reg_end=$(date +%s.%N)
  wait_ready 'SELECT * FROM big'
  ready_at=$(date +%s.%N)
  sleep 5
  rm -f "$work/writing"
  wait $writer_loop
  backfill_s=$(awk -v a="$reg_end" -v b="$ready_at" 'BEGIN { printf "%.1f", b - a }')
  read -r base_max during_max backfill_max base_p99 backfill_p99 <<<"$(cat "$work"/txlog*.* | python3 -c '
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
    elif start > re and end < bd:
        backfill.append(lat)
    elif end < rs:
        base.append(lat)
ms = lambda xs: "%.1f" % (1000 * max(xs)) if xs else "n/a"
p99 = lambda xs: "%.1f" % (1000 * sorted(xs)[int(len(xs) * 0.99)]) if xs else "n/a"
print(ms(base), ms(during), ms(backfill), p99(base), p99(backfill))
' "$reg_start" "$reg_end" "$ready_at")"
  check_big=$(value "SELECT fast_count('SELECT * FROM big WHERE author_id = 4242') = (SELECT count(*) FROM big WHERE author_id = 4242)")
  big_groups=$(value "SELECT count(DISTINCT author_id) FROM big")
  # After a fold (the worker's, done at once here) and a VACUUM of the
  # rows the fold replaced.
  fold_ms=$(ms_of "SELECT fast_count._exact_fold(key) FROM fast_count_entries WHERE query = 'SELECT * FROM big'")
  psql -c 'VACUUM fast_count.exact_deltas' >/dev/null
  groups_big_ms=$(ms_of "SELECT count(*) FROM fast_count_groups('SELECT * FROM big')")
  delta_rows=$(value "SELECT count(*) FROM fast_count.exact_deltas")
  delta_heap=$(value "SELECT pg_relation_size('fast_count.exact_deltas')")
  delta_total=$(value "SELECT pg_total_relation_size('fast_count.exact_deltas')")
  echo "SELECT fast_count('SELECT * FROM big WHERE author_id = 42');" >"$work/fc_big.sql"
  declare -A sc
  for r in 1 2; do
    sc[small]+="$(tps -c 8 -j 2 -T "$seconds" -M prepared -f "$work/fc.sql") "
    sc[big]+="$(tps -c 8 -j 2 -T "$seconds" -M prepared -f "$work/fc_big.sql") "
  done
  sc_small=$(echo "${sc[small]}" | median)
  sc_big=$(echo "${sc[big]}" | median)
fi

# --- the table ------------------------------------------------------------------
row() { printf '   %-62s %10s   %6s   %s\n' "$@"; }
echo "                                                                       value    ratio   goal"
printf '1. single-row INSERT, 8 clients, book(author_id, title) + primary key + index on author_id (tps, median of %s)\n' "$rounds"
for case in spread same; do
  n="w_${case}_none"; g="w_${case}_grouped"; h="w_${case}_hot"; e="w_${case}_exact"
  cn="w_cpu_${case}_none"; cg="w_cpu_${case}_grouped"; ch="w_cpu_${case}_hot"; ce="w_cpu_${case}_exact"
  [ "$case" = spread ] && printf '   (a) authors spread over 1,000\n' || printf '   (b) all 8 clients write books of the same author\n'
  row "no count" "$(printf %.0f "${!n}")" "" ""
  row "one grouped registration (group_by author_id)" "$(printf %.0f "${!g}")" "$(ratio "${!g}" "${!n}")" ">= 0.90"
  row "hot row: author.books_count, AFTER INSERT trigger" "$(printf %.0f "${!h}")" "$(ratio "${!h}" "${!n}")" ""
  row "  (one ungrouped exact registration of the table)" "$(printf %.0f "${!e}")" "$(ratio "${!e}" "${!n}")" ""
  row "CPU per transaction, whole cluster (us; ratio: / no count)" "" "" ""
  row "  no count" "${!cn}" "" ""
  row "  one grouped registration" "${!cg}" "$(ratio "${!cg}" "${!cn}")" ""
  row "  hot row" "${!ch}" "$(ratio "${!ch}" "${!cn}")" ""
  row "  one ungrouped exact registration" "${!ce}" "$(ratio "${!ce}" "${!cn}")" ""
done
row "(fast_count_groups = GROUP BY: $check_writes; hot row = count(*): $check_hot)" "" "" ""
printf '2. reads, 8 clients, prepared (tps; ratio: / SELECT 1 under the same load); book: %s rows, 1,000 authors\n' "$rows"
for load in idle spread same; do
  case $load in
    idle) printf '   no writers\n' ;;
    spread) printf '   8 writers, authors spread over 1,000 (%s tps)\n' "$(printf %.0f "${rd[spread_writers]}")" ;;
    same) printf '   8 writers, all on author 42, the group read (%s tps)\n' "$(printf %.0f "${rd[same_writers]}")" ;;
  esac
  row "SELECT 1" "$(printf %.0f "${rd[${load}_one]}")" "" ""
  row "SELECT fast_count('SELECT * FROM book WHERE author_id = 42')" "$(printf %.0f "${rd[${load}_fc]}")" "$(ratio "${rd[${load}_fc]}" "${rd[${load}_one]}")" ">= 0.90 (with writers)"
  row "transparent SELECT count(*) FROM book WHERE author_id = \$1" "$(printf %.0f "${rd[${load}_tr]}")" "$(ratio "${rd[${load}_tr]}" "${rd[${load}_one]}")" ""
  if [ "$load" = idle ]; then
    row "  the same with fast_count.transparent = off (index scan)" "$(printf %.0f "${rd[idle_off]}")" "$(ratio "${rd[idle_tr]}" "${rd[idle_off]}")" "(transparent / off)"
  fi
done
row "(fast_count() = count(*) after the writes: $check_reads)" "" "" ""
printf '   all %s groups, 1 client (tps; ratio: fast_count_groups / GROUP BY)\n' "$groups_n"
row "SELECT author_id, count(*) FROM book GROUP BY author_id" "$(printf %.1f "$groupby_tps")" "" ""
row "SELECT * FROM fast_count_groups('SELECT * FROM book')" "$(printf %.1f "$groups_tps")" "$(ratio "$groups_tps" "$groupby_tps")" ">= 10 (on 10M rows)"
row "(fast_count_groups = GROUP BY: $check_groups)" "" "" ""
if [ -n "$scale" ]; then
  printf '3. scale: %s rows, %s groups (author_id), registering while 4 clients insert\n' "$scale_rows" "$big_groups"
  row "SELECT count(*) FROM (GROUP BY count of all groups) (ms)" "$(printf %.0f "$groupby_big_ms")" "" ""
  row "fast_count_register() (holds the trigger lock; ms)" "$(printf %.0f "$reg_ms")" "" ""
  row "backfill by the worker, until ready (s)" "$backfill_s" "" ""
  row "writer latency max, ms: before / during registration" "$base_max / $during_max" "" ""
  row "  during backfill (max / p99; p99 before: $base_p99)" "$backfill_max / $backfill_p99" "" ""
  row "one fold of all groups (ms)" "$(printf %.0f "$fold_ms")" "" ""
  row "  the same of fast_count_groups(), after the fold (ms; / GROUP BY)" "$(printf %.0f "$groups_big_ms")" "$(ratio "$groups_big_ms" "$groupby_big_ms")" ""
  row "exact_deltas after fold + VACUUM: rows (all registrations)" "$delta_rows" "$(ratio "$delta_rows" "$((big_groups + groups_n))")" "(/ groups of big + book)"
  row "  heap / with indexes (MB); bytes per group, with indexes" "$(awk -v a="$delta_heap" -v b="$delta_total" 'BEGIN { printf "%.0f / %.0f", a / 1048576, b / 1048576 }')" "$(awk -v b="$delta_total" -v g="$((big_groups + groups_n))" 'BEGIN { printf "%.0f", b / g }')" ""
  row "one group's fast_count(), 8 clients: at 1,000 groups" "$(printf %.0f "$sc_small")" "" ""
  row "  at 1,000,000 groups (ratio: / at 1,000)" "$(printf %.0f "$sc_big")" "$(ratio "$sc_big" "$sc_small")" "~1.0"
  row "(fast_count() = count(*): $check_big)" "" "" ""
fi
echo "load average before / after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg) (2 shared cores: other sessions' work skews every figure)"
