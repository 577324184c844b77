#!/usr/bin/env bash
# fast_count hot-path benchmark (issue 4): P1 throughput of a hit, P2 hit
# latency against count(*), P3 single flight under 32 readers, P5 idle worker,
# P6 worker refresh against count(*), shared and backend memory.
#
#   bash test/bench/hot_path.sh [--rows N] [--seconds S] [--rounds R] [--keep]
#
# Runs on the PostgreSQL that PG_CONFIG names (default: the system's 15), on
# which fast_count must already be installed; it installs nothing. It makes a
# temporary cluster (as the postgres OS user, unix socket only), loads a table
# of N rows, measures every variant in R interleaved rounds, prints medians
# (min..max) and a summary table of ratios measured in this same run, and
# removes the cluster at exit (unless --keep). It asserts nothing about time:
# the machine it runs on decides the figures.
set -euo pipefail

ROWS=10000000
SECS=5
ROUNDS=5
KEEP=0
P1_CLIENTS=4
P1_THREADS=2
P3_CLIENTS=32
P5_QUERIES=50
P5_NAPTIMES=5
MEMO_QUERIES=100000
MEMO_LARGER=10000

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 2 ;;
  esac
done
for n in "$ROWS" "$SECS" "$ROUNDS"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "--rows, --seconds and --rounds take positive integers" >&2; exit 2; }
done

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
if [ ! -x "$PG_CONFIG" ]; then
  echo "PG_CONFIG=$PG_CONFIG is not an executable pg_config" >&2
  exit 2
fi
BIN=$("$PG_CONFIG" --bindir)
LIBDIR=$("$PG_CONFIG" --pkglibdir)
SHAREDIR=$("$PG_CONFIG" --sharedir)
if [ ! -f "$LIBDIR/fast_count.so" ] || [ ! -f "$SHAREDIR/extension/fast_count.control" ]; then
  cat >&2 <<EOF
fast_count is not installed into the PostgreSQL of PG_CONFIG=$PG_CONFIG
(no $LIBDIR/fast_count.so or $SHAREDIR/extension/fast_count.control).
Build and install it first, e.g.:
  make PG_CONFIG=$PG_CONFIG && make install PG_CONFIG=$PG_CONFIG
EOF
  exit 2
fi
for tool in initdb pg_ctl psql pgbench; do
  [ -x "$BIN/$tool" ] || { echo "missing $BIN/$tool" >&2; exit 2; }
done

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# --- the temporary cluster ---------------------------------------------------

WORK=$(mktemp -d /tmp/fast_count-bench.XXXXXX)
chmod 755 "$WORK"
[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK"
DATA=$WORK/data
PAUSED_PID=""
STARTED=0

cleanup() {
  local status=$?
  if [ -n "$PAUSED_PID" ]; then kill -CONT "$PAUSED_PID" 2>/dev/null || true; fi
  if [ "$KEEP" -eq 1 ]; then
    echo
    echo "--keep: the cluster is left running in $WORK (port $PORT, socket dir $WORK)."
    echo "  psql:  $BIN/psql -h $WORK -p $PORT -U postgres bench"
    echo "  stop:  runuser -u postgres -- $BIN/pg_ctl -D $DATA stop && rm -rf $WORK"
  else
    if [ "$STARTED" -eq 1 ]; then
      as_postgres "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
        as_postgres "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port no one listens on (the cluster listens on a unix socket in $WORK only,
# but its lock file and socket name follow the port).
PORT=""
for _ in $(seq 100); do
  candidate=$((20000 + RANDOM % 40000))
  if ! ss -Hltn "sport = :$candidate" 2>/dev/null | grep -q . && [ ! -e "/tmp/.s.PGSQL.$candidate" ]; then
    PORT=$candidate
    break
  fi
done
[ -n "$PORT" ] || { echo "no free port found" >&2; exit 1; }

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# shared_buffers holds the table and its indexes (about 200 bytes a row).
SHARED_BUFFERS_MB=$((ROWS * 250 / 1048576 + 128))

log "cluster in $WORK, port $PORT, PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}') from $BIN"
as_postgres "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C --no-sync -A trust >"$WORK/initdb.log" 2>&1 ||
  { cat "$WORK/initdb.log" >&2; exit 1; }
cat >>"$DATA/postgresql.conf" <<EOF

# hot_path.sh
listen_addresses = ''
port = $PORT
unix_socket_directories = '$WORK'
shared_preload_libraries = 'fast_count'
fast_count.naptime = 1
shared_buffers = ${SHARED_BUFFERS_MB}MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
max_connections = 100
max_worker_processes = 16
EOF
as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w -t 120 start >/dev/null ||
  { tail -n 30 "$WORK/server.log" >&2; exit 1; }
STARTED=1

psql_db() {
  "$BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d "${DB:-bench}" "$@"
}
sql() { psql_db -c "$1"; }

DB=postgres sql "CREATE DATABASE bench"

# --- numbers -----------------------------------------------------------------

declare -A S  # metric -> space-separated samples
add() { S[$1]="${S[$1]:-} $2"; }
# median, min, max of a metric's samples
med() { printf '%s\n' ${S[$1]:-} | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mn() { printf '%s\n' ${S[$1]:-} | sort -g | head -n 1; }
mx() { printf '%s\n' ${S[$1]:-} | sort -g | tail -n 1; }
calc() { awk "BEGIN {printf \"%.6g\", $1}"; }
# a readable number: integers as such, others with 3 significant digits
num() {
  awk -v x="$1" 'BEGIN {
    if (x == "nan" || x == "") { print "n/a"; exit }
    a = x < 0 ? -x : x
    if (a >= 1000) s = sprintf("%.0f", x)
    else if (a >= 100) s = sprintf("%.1f", x)
    else if (a >= 10) s = sprintf("%.2f", x)
    else if (a >= 1) s = sprintf("%.3f", x)
    else s = sprintf("%.3g", x)
    # thousands separators for large integers
    if (a >= 10000) { t = ""; while (length(s) > 3) { t = "," substr(s, length(s) - 2) t; s = substr(s, 1, length(s) - 3) } s = s t }
    print s
  }'
}
spread() { echo "$(num "$(med "$1")") ($(num "$(mn "$1")")..$(num "$(mx "$1")"))"; }

stats_row() { sql "SELECT hits, misses, counts, live_counts FROM fast_count_stats()"; }
# field n (1 hits, 2 misses, 3 counts, 4 live_counts) of after minus before
delta() { awk -F'|' -v n="$3" -v a="$2" -v b="$1" 'BEGIN {split(a, x, "|"); split(b, y, "|"); print x[n] - y[n]}'; }

worker_pid() { sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'fast_count worker' AND datname = 'bench' LIMIT 1"; }

# Waits until at least $3 of the keys in $1 (comma-separated quoted uuids)
# have a count newer than $2 (a timestamptz, or '-infinity'), looking every
# $4 seconds (default 0.2).
wait_counted() {
  local keys=$1 since=$2 want=$3 every=${4:-0.2} deadline=$((SECONDS + 600))
  while :; do
    local n
    n=$(sql "SELECT count(*) FROM fast_count_entries WHERE key IN ($keys) AND count IS NOT NULL AND NOT is_estimate AND counted_at > '$since'")
    [ "$n" -ge "$want" ] && return 0
    [ $SECONDS -lt $deadline ] || { log "timed out waiting for the worker to count ($n of $want)"; return 1; }
    sleep "$every"
  done
}

# How busy the machine was with work not ours, as a share of all its CPU
# time: everything busy in /proc/stat minus what our cluster (the postmaster,
# its live children and the children it reaped) and our clients (this
# script's reaped children) used. Printed beside each round's figures.
busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
all_jiffies() { awk '/^cpu / {s = 0; for (i = 2; i <= 9; i++) s += $i; print s; exit}' /proc/stat; }
proc_jiffies() {  # pid -> utime + stime + cutime + cstime
  sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}'
}
our_jiffies() {
  local pm total=0 p j
  pm=$(head -n 1 "$DATA/postmaster.pid")
  for p in "$pm" $(pgrep -P "$pm") $$; do
    j=$(proc_jiffies "$p")
    total=$((total + ${j:-0}))
  done
  echo "$total"
}
noise_start() { N_BUSY=$(busy_jiffies); N_ALL=$(all_jiffies); N_OURS=$(our_jiffies); }
noise_end() {  # -> percent of the machine's CPU time used by others
  local busy all ours
  busy=$(busy_jiffies); all=$(all_jiffies); ours=$(our_jiffies)
  calc "100 * (($busy - $N_BUSY) - ($ours - $N_OURS)) / ($all - $N_ALL)"
}

pgbench_tps() {  # protocol clients threads script -> tps (without connection time)
  local out
  out=$("$BIN/pgbench" -n -h "$WORK" -p "$PORT" -U postgres -M "$1" -c "$2" -j "$3" -T "$SECS" -f "$4" bench 2>&1) ||
    { echo "$out" >&2; return 1; }
  echo "$out" | awk '/^tps = / {print $3; exit}'
}

# --- load --------------------------------------------------------------------

log "loading $ROWS rows into items (shared_buffers = ${SHARED_BUFFERS_MB}MB)"
load_start=$SECONDS
psql_db <<EOF >/dev/null
CREATE EXTENSION fast_count;
CREATE EXTENSION pg_prewarm;
CREATE TABLE items (id bigint NOT NULL, status int NOT NULL, created_at timestamptz NOT NULL, payload text NOT NULL);
INSERT INTO items
SELECT g, (g * 7) % 10, timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second',
       'item ' || g || ' ' || repeat('x', 40)
  FROM generate_series(1, $ROWS) g;
ALTER TABLE items ADD PRIMARY KEY (id);
CREATE INDEX items_status ON items (status);
CREATE INDEX items_created_at ON items (created_at);
-- The hand-made alternative: a counter table kept by the application.
CREATE TABLE counters (name text PRIMARY KEY, n bigint NOT NULL);
INSERT INTO counters SELECT 'c' || i, i FROM generate_series(1, 1000) i;
VACUUM ANALYZE items;
VACUUM ANALYZE counters;
SELECT pg_prewarm(c) FROM unnest(ARRAY['items', 'items_pkey', 'items_status', 'items_created_at',
                                       'counters', 'counters_pkey']::regclass[]) c;
CHECKPOINT;
EOF
TABLE_SIZE=$(sql "SELECT pg_size_pretty(pg_total_relation_size('items'))")
log "loaded in $((SECONDS - load_start)) s; items with indexes: $TABLE_SIZE"

Q_HIT="SELECT * FROM items WHERE status = 3"
Q_ALL="SELECT * FROM items"
Q_B="SELECT * FROM items WHERE status = 5"
count_sql() { echo "SELECT count(*) FROM ($1) q"; }

# Registered (refreshed hourly) so that they stay cached throughout; the
# worker counts them once now.
key_of() { sql "SELECT fast_count_register('$1', '1 hour')"; }
K_HIT=$(key_of "$Q_HIT")
K_ALL=$(key_of "$Q_ALL")
K_B=$(key_of "$Q_B")
wait_counted "'$K_HIT','$K_ALL','$K_B'" "-infinity" 3
SETUP_HIT_MS=$(sql "SELECT extract(epoch FROM last_count_duration) * 1000 FROM fast_count_entries WHERE key = '$K_HIT'")
SETUP_ALL_MS=$(sql "SELECT extract(epoch FROM last_count_duration) * 1000 FROM fast_count_entries WHERE key = '$K_ALL'")
log "registered and counted: $(sql "SELECT string_agg(query || ' = ' || count, '; ') FROM fast_count_entries")"

# --- pgbench scripts -----------------------------------------------------------

cat >"$WORK/select1.sql" <<'EOF'
SELECT 1;
EOF
cat >"$WORK/hit.sql" <<EOF
SELECT fast_count('$Q_HIT');
EOF
cat >"$WORK/hitp.sql" <<'EOF'
\set s 3
SELECT fast_count('SELECT * FROM items WHERE status = $1', ARRAY[:s::text]);
EOF
# a built-in function call of the same shape: what any function call costs
cat >"$WORK/func.sql" <<EOF
SELECT octet_length('$Q_HIT');
EOF
cat >"$WORK/counter.sql" <<'EOF'
\set id random(1, 1000)
SELECT n FROM counters WHERE name = 'c' || :id;
EOF
cat >"$WORK/hitall.sql" <<EOF
SELECT fast_count('$Q_ALL');
EOF

# --- P1, P2, P6 in interleaved rounds -------------------------------------------

P1_VARIANTS=(select1 func hit hitp counter)
time_ms() {  # sql -> client-side milliseconds of one run
  # EXPLAIN first warms the session's catalog caches, as an application's
  # pooled connection would have them, without running the query: a second
  # run right after a first would find the index in the CPU caches, which the
  # worker's count (seconds later, after other counts) does not.
  psql_db -c "EXPLAIN $1" -c '\timing on' -c "$1" | awk '/^Time: / {t = $2} END {print t}'
}
# In-server cost of one fast_count() hit, in us: a PL/pgSQL loop of hits
# minus the same loop of PERFORM 1 (what a client's round trip adds, P2's
# latency above shows).
server_hit_us() {  # query
  psql_db -c "DO \$\$
    DECLARE n int := 200000; t0 timestamptz; idle float8; hits float8;
    BEGIN
      t0 := clock_timestamp();
      FOR i IN 1..n LOOP PERFORM 1; END LOOP;
      idle := extract(epoch FROM clock_timestamp() - t0);
      t0 := clock_timestamp();
      FOR i IN 1..n LOOP PERFORM fast_count('$1'); END LOOP;
      hits := extract(epoch FROM clock_timestamp() - t0);
      RAISE NOTICE 'us=%', round(((hits - idle) * 1e6 / n)::numeric, 3);
    END \$\$" 2>&1 | sed -n 's/.*us=//p'
}
duration_ms() {  # key -> last_count_duration in ms
  sql "SELECT round(extract(epoch FROM last_count_duration) * 1000, 3) FROM fast_count_entries WHERE key = '$1'"
}

before_p1=$(stats_row)
for r in $(seq 1 "$ROUNDS"); do
  log "round $r of $ROUNDS"
  noise_start
  # P1: throughput, each protocol, variants in an order that rotates by round
  for proto in simple prepared; do
    for i in 0 1 2 3 4; do
      v=${P1_VARIANTS[$(((i + r) % 5))]}
      tps=$(pgbench_tps "$proto" "$P1_CLIENTS" "$P1_THREADS" "$WORK/$v.sql")
      add "p1_${proto}_$v" "$tps"
    done
    add "p1_${proto}_hit_func_ratio" "$(calc "$(echo ${S[p1_${proto}_hit]} | awk '{print $NF}') / $(echo ${S[p1_${proto}_func]} | awk '{print $NF}')")"
    for v in func hit hitp counter; do
      add "p1_${proto}_${v}_ratio" "$(calc "$(echo ${S[p1_${proto}_$v]} | awk '{print $NF}') / $(echo ${S[p1_${proto}_select1]} | awk '{print $NF}')")"
    done
  done
  log "  P1 tps (simple): select1 $(echo ${S[p1_simple_select1]} | awk '{print $NF}'), hit $(echo ${S[p1_simple_hit]} | awk '{print $NF}'), counter $(echo ${S[p1_simple_counter]} | awk '{print $NF}')"

  # P2: single-client hit latency (prepared)
  P2_VARIANTS=(select1 hit hitall)
  for i in 0 1 2; do
    q=${P2_VARIANTS[$(((i + r) % 3))]}
    tps=$(pgbench_tps prepared 1 1 "$WORK/$q.sql")
    add "p2_${q}_us" "$(calc "1000000 / $tps")"
  done
  add p2_server_hit_us "$(server_hit_us "$Q_HIT")"
  add p2_server_hitall_us "$(server_hit_us "$Q_ALL")"

  # The plain count(*) of both queries (P2's baseline), after idle seconds.
  sleep 3
  c_hit=$(time_ms "$(count_sql "$Q_HIT")")
  c_all=$(time_ms "$(count_sql "$Q_ALL")")
  add p2_count_hit_ms "$c_hit"
  add p2_count_all_ms "$c_all"
  log "  P2 hit $(num "$(echo ${S[p2_hit_us]} | awk '{print $NF}')") us; count(*) $(num "$c_hit") ms (status = 3), $(num "$c_all") ms (all rows)"
  other=$(noise_end)
  add noise_pct "$other"
  log "  other processes used $(num "$other")% of the machine's CPU during this round"
done

# --- P6: the worker's count against a session's count(*) ------------------------
# Alternating pairs, each count alone after the same idle pause: the worker
# counts a query registered every second once a changed row shows in the
# statistics (the changing session exits, so they are flushed); then a new
# session runs count(*) of the same query. Measured apart from the rounds:
# on 2 cores anything running next to a parallel count changes its time.
log "P6: $ROUNDS pairs of worker refresh / session count(*) per query"
for q in hit all; do
  if [ "$q" = hit ]; then query=$Q_HIT key=$K_HIT; else query=$Q_ALL key=$K_ALL; fi
  sql "SELECT fast_count_register('$query', '1 second')" >/dev/null
  sleep 3
  for r in $(seq 1 "$ROUNDS"); do
    since=$(sql "SELECT counted_at FROM fast_count_entries WHERE key = '$key'")
    sql "UPDATE items SET payload = payload WHERE id = $r" >/dev/null
    sleep 3
    if wait_counted "'$key'" "$since" 1 1; then
      w=$(duration_ms "$key")
      sleep 3
      c=$("$BIN/psql" -X -h "$WORK" -p "$PORT" -U postgres -d "${DB:-bench}" -c '\timing on' -c "$(count_sql "$query")" \
        | awk '/^Time: / {t = $2} END {print t}')
      add "p6_worker_${q}_ms" "$w"
      add "p6_count_${q}_ms" "$c"
      add "p6_${q}_ratio" "$(calc "$w / $c")"
      log "  P6 $q pair $r: worker $(num "$w") ms, session count(*) $(num "$c") ms"
    fi
  done
  sql "SELECT fast_count_register('$query', '1 hour')" >/dev/null
done
after_p1=$(stats_row)
P1_MISSES=$(delta "$before_p1" "$after_p1" 2)
P1_LIVE=$(delta "$before_p1" "$after_p1" 4)
log "misses during the rounds: $P1_MISSES, live counts: $P1_LIVE (hits must be hits)"

# --- P3: 32 readers at once ---------------------------------------------------------

latencies() {  # pgbench log prefix -> "max median" in ms
  cat "$1".* | awk '{print $3 / 1000}' | sort -g |
    awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; print a[NR], m}'
}
pgbench_once() {  # log prefix, script; every client runs it once, at once
  local out
  out=$("$BIN/pgbench" -n -h "$WORK" -p "$PORT" -U postgres -M simple -c "$P3_CLIENTS" -j 2 -t 1 \
    -l --log-prefix="$1" -f "$2" bench 2>&1) || { echo "$out" >&2; return 1; }
  if echo "$out" | grep -q "aborted"; then echo "$out" >&2; fi
}

pause_worker() {
  local pid wait_event
  for _ in $(seq 100); do
    pid=$(worker_pid)
    if [ -n "$pid" ]; then
      kill -STOP "$pid"
      wait_event=$(sql "SELECT wait_event FROM pg_stat_activity WHERE pid = $pid")
      if [ "$wait_event" = "Extension" ]; then PAUSED_PID=$pid; return 0; fi
      kill -CONT "$pid"
    fi
    sleep 0.05
  done
  return 1
}
resume_worker() {
  kill -CONT "$PAUSED_PID"
  PAUSED_PID=""
}

for r in $(seq 1 "$ROUNDS"); do
  # (a) a query never counted before; cached whatever its size
  # (fast_count.cache_larger_than = 0 for these readers) so that small --rows
  # runs take the same path as 10M rows, where its ~N/10 rows are cached anyway.
  q="SELECT * FROM items WHERE status = 7 AND id > -$r"
  echo "SELECT fast_count('$q');" >"$WORK/p3a.sql"
  before=$(stats_row)
  PGOPTIONS="-c fast_count.cache_larger_than=0" pgbench_once "$WORK/p3a_$r" "$WORK/p3a.sql"
  after=$(stats_row)
  read -r worst median < <(latencies "$WORK/p3a_$r")
  own=$(sql "SELECT round(extract(epoch FROM last_count_duration) * 1000, 3) FROM fast_count_entries WHERE query = '$q'")
  add p3a_counts "$(($(delta "$before" "$after" 3) + $(delta "$before" "$after" 4)))"
  add p3a_worst_ms "$worst"
  add p3a_median_ms "$median"
  add p3a_own_ms "${own:-nan}"
  log "P3a round $r: counts $(delta "$before" "$after" 3) cached + $(delta "$before" "$after" 4) live, misses $(delta "$before" "$after" 2), worst $(num "$worst") ms, median $(num "$median") ms, the count itself $(num "${own:-nan}") ms"

  # (b) a registered query past its refresh time, within fast_count.max_stale.
  # The worker is paused (SIGSTOP, while it sleeps) so that the readers surely
  # meet the expired entry; otherwise it would refresh it within a naptime.
  sql "SELECT fast_count_register('$Q_B', '1 hour')" >/dev/null
  sleep 1.1
  pause_worker || { log "could not pause the worker"; exit 1; }
  since=$(sql "SELECT counted_at FROM fast_count_entries WHERE key = '$K_B'")
  sql "UPDATE items SET payload = payload WHERE id = $((100 + r))" >/dev/null
  sql "SELECT fast_count_register('$Q_B', '1 second')" >/dev/null
  stale=$(sql "SELECT served_stale FROM fast_count_entries WHERE key = '$K_B'")
  echo "SELECT fast_count('$Q_B');" >"$WORK/p3b.sql"
  # the same readers on a fresh entry: what 32 new sessions' first hit costs
  pgbench_once "$WORK/p3f_$r" "$WORK/hit.sql"
  read -r fresh_worst fresh_median < <(latencies "$WORK/p3f_$r")
  add p3f_worst_ms "$fresh_worst"
  add p3f_median_ms "$fresh_median"
  before=$(stats_row)
  pgbench_once "$WORK/p3b_$r" "$WORK/p3b.sql"
  after=$(stats_row)
  resume_worker
  wait_counted "'$K_B'" "$since" 1 || true
  sleep 0.5
  after_worker=$(stats_row)
  read -r worst median < <(latencies "$WORK/p3b_$r")
  add p3b_reader_counts "$(($(delta "$before" "$after" 3) + $(delta "$before" "$after" 4)))"
  add p3b_reader_misses "$(delta "$before" "$after" 2)"
  add p3b_worker_counts "$(delta "$after" "$after_worker" 3)"
  add p3b_worst_ms "$worst"
  add p3b_median_ms "$median"
  add p3b_worst_ratio "$(calc "$worst / $fresh_worst")"
  log "P3b round $r: expired=$stale; readers: $(delta "$before" "$after" 1) hits, $(delta "$before" "$after" 2) misses, $(delta "$before" "$after" 3) counts, $(delta "$before" "$after" 4) live; worker afterwards: $(delta "$after" "$after_worker" 3) count(s); worst $(num "$worst") ms, median $(num "$median") ms (fresh entry: worst $(num "$fresh_worst") ms, median $(num "$fresh_median") ms)"
  sql "SELECT fast_count_register('$Q_B', '1 hour')" >/dev/null
done

# --- P5: an idle database with 50 registered queries ---------------------------------

log "P5: registering $P5_QUERIES queries (refresh every second) and waiting for their first counts"
p5_keys=""
for i in $(seq 1 "$P5_QUERIES"); do
  k=$(sql "SELECT fast_count_register('SELECT * FROM items WHERE status = $((i % 10)) AND id >= $i', '1 second')")
  p5_keys="$p5_keys${p5_keys:+,}'$k'"
done
wait_counted "$p5_keys" "-infinity" "$P5_QUERIES"
sleep 2
pid=$(worker_pid)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
TICKS=$(getconf CLK_TCK)
before=$(stats_row)
entry_counts_before=$(sql "SELECT coalesce(sum(refreshes), 0) FROM fast_count_entries WHERE key IN ($p5_keys)")
lsn_before=$(sql "SELECT pg_current_wal_lsn()")
ticks_before=$(cpu_ticks "$pid")
checked_before=$(sql "SELECT max(checked_at) FROM fast_count_entries WHERE key IN ($p5_keys)")
sleep "$P5_NAPTIMES"
after=$(stats_row)
ticks_after=$(cpu_ticks "$pid")
entry_counts_after=$(sql "SELECT coalesce(sum(refreshes), 0) FROM fast_count_entries WHERE key IN ($p5_keys)")
P5_WAL=$(sql "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn_before')")
P5_CHECKED=$(sql "SELECT count(*) FROM fast_count_entries WHERE key IN ($p5_keys) AND checked_at > '$checked_before'")
P5_COUNTS=$(delta "$before" "$after" 3)
P5_ENTRY_COUNTS=$((entry_counts_after - entry_counts_before))
P5_CPU_MS=$(calc "($ticks_after - $ticks_before) * 1000 / $TICKS")
log "P5: over $P5_NAPTIMES naptimes: $P5_COUNTS counts (entries say $P5_ENTRY_COUNTS); worker CPU $(num "$P5_CPU_MS") ms; WAL $P5_WAL bytes; $P5_CHECKED of $P5_QUERIES entries re-checked"
for i in $(seq 1 "$P5_QUERIES"); do
  echo "SELECT fast_count_unregister('SELECT * FROM items WHERE status = $((i % 10)) AND id >= $i');"
done | psql_db >/dev/null

# --- Memory: backend memo after 100k distinct queries ----------------------------------

memo_run() {  # memo_size -> lines "fcmem i contexts total_bytes backend_total_bytes"
  local size=$1
  cat >"$WORK/memo.sql" <<EOF
SET fast_count.memo_size = $size;
SET client_min_messages = notice;
DO \$\$
DECLARE
  n bigint; b bigint; total bigint;
BEGIN
  FOR i IN 1..$MEMO_QUERIES LOOP
    PERFORM fast_count('SELECT * FROM counters WHERE name = ''q' || i || '''');
    IF i % 100 = 0 THEN COMMIT; END IF;
    IF i IN (1, $size, 2 * $size, 10000, 25000, 50000, $MEMO_QUERIES) THEN
      SELECT count(*), sum(total_bytes) INTO n, b FROM pg_backend_memory_contexts WHERE name LIKE 'fast_count%';
      SELECT sum(total_bytes) INTO total FROM pg_backend_memory_contexts;
      RAISE NOTICE 'fcmem % % % %', i, n, b, total;
    END IF;
  END LOOP;
END
\$\$;
EOF
  psql_db -f "$WORK/memo.sql" 2>&1 | sed -n 's/.*fcmem //p'
}
for size in 1000 "$MEMO_LARGER"; do
  log "memory: $MEMO_QUERIES distinct queries in one session, fast_count.memo_size = $size"
  t0=$SECONDS
  memo_run "$size" >"$WORK/memo_$size.txt"
  log "  ($((SECONDS - t0)) s) after N queries: contexts named fast_count%, their bytes, all backend bytes:"
  awk '{printf "    %7d queries: %7d contexts, %12d bytes (backend %12d)\n", $1, $2, $3, $4}' "$WORK/memo_$size.txt"
done
memo_at() { awk -v i="$2" '$1 == i {print $3}' "$WORK/memo_$1.txt"; }
memo_ctx_at() { awk -v i="$2" '$1 == i {print $2}' "$WORK/memo_$1.txt"; }

# --- Memory: shared memory per entry ---------------------------------------------------
# The index's elements are anonymous allocations (ShmemInitHash), so the named
# fast_count allocations alone miss them: measure the whole difference that
# ten times the default fast_count.max_entries makes.
shm_used() { DB=postgres sql "SELECT sum(allocated_size) FROM pg_shmem_allocations WHERE name IS NOT NULL"; }
shm_named() { DB=postgres sql "SELECT coalesce(sum(allocated_size), 0) FROM pg_shmem_allocations WHERE name LIKE 'fast_count%'"; }
MAX_ENTRIES=$(sql "SHOW fast_count.max_entries")
SHM_USED_1=$(shm_used)
SHM_NAMED_1=$(shm_named)
log "restarting with fast_count.max_entries = $((MAX_ENTRIES * 10)) to measure shared memory per entry"
echo "fast_count.max_entries = $((MAX_ENTRIES * 10))" >>"$DATA/postgresql.conf"
as_postgres "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 120 restart -l "$WORK/server.log" >/dev/null
SHM_USED_2=$(shm_used)
SHM_NAMED_2=$(shm_named)
SHM_PER_ENTRY=$(calc "($SHM_USED_2 - $SHM_USED_1) / ($MAX_ENTRIES * 9)")
log "shared memory: $SHM_USED_1 -> $SHM_USED_2 bytes in use (fast_count named: $SHM_NAMED_1 -> $SHM_NAMED_2)"

# --- summary ---------------------------------------------------------------------------

cores=$(nproc)
echo
echo "== fast_count hot path: $ROWS rows, $ROUNDS rounds, pgbench -T $SECS; $cores cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); items + indexes $TABLE_SIZE"
echo "   medians (min..max) over the rounds; ratios are medians of per-round ratios"
echo "   other processes on the machine used $(spread noise_pct)% of its CPU time during the P1/P2/P6 rounds"
echo
echo "P1 pgbench throughput, $P1_CLIENTS clients, $P1_THREADS threads, tps:"
for proto in simple prepared; do
  printf '  %-9s SELECT 1: %s | octet_length(text): %s | fast_count hit: %s | hit with params: %s | counter table: %s\n' "$proto" \
    "$(spread "p1_${proto}_select1")" "$(spread "p1_${proto}_func")" "$(spread "p1_${proto}_hit")" "$(spread "p1_${proto}_hitp")" "$(spread "p1_${proto}_counter")"
done
echo "  misses during all rounds: $P1_MISSES (0: every fast_count call was a hit)"
echo "P2 single-client latency (prepared), us: SELECT 1: $(spread p2_select1_us); hit, status = 3: $(spread p2_hit_us); hit, all rows: $(spread p2_hitall_us)"
echo "   in-server cost of a hit, us: status = 3: $(spread p2_server_hit_us); all rows: $(spread p2_server_hitall_us)"
echo "   count(*), ms: status = 3: $(spread p2_count_hit_ms); all rows: $(spread p2_count_all_ms)"
echo "P3a cold query, $P3_CLIENTS readers at once: counts $(spread p3a_counts); worst $(spread p3a_worst_ms) ms; median $(spread p3a_median_ms) ms; the count itself $(spread p3a_own_ms) ms"
echo "P3b expired registered query, $P3_CLIENTS readers: reader counts $(spread p3b_reader_counts), misses $(spread p3b_reader_misses); worker counts after $(spread p3b_worker_counts); worst $(spread p3b_worst_ms) ms; median $(spread p3b_median_ms) ms"
echo "    the same $P3_CLIENTS new sessions on a fresh entry: worst $(spread p3f_worst_ms) ms; median $(spread p3f_median_ms) ms"
echo "P5 idle, $P5_QUERIES registered (refresh 1 s), $P5_NAPTIMES naptimes: $P5_COUNTS counts; worker CPU $(num "$P5_CPU_MS") ms; WAL $P5_WAL bytes; $P5_CHECKED entries re-checked"
echo "P6 worker refresh, ms: status = 3: $(spread p6_worker_hit_ms); all rows: $(spread p6_worker_all_ms)"
echo "Memory: shared $(num "$SHM_PER_ENTRY") bytes/entry; named fast_count allocations $SHM_NAMED_1 bytes at max_entries = $MAX_ENTRIES"
for size in 1000 "$MEMO_LARGER"; do
  echo "   memo_size = $size: fast_count% contexts after $size queries: $(memo_ctx_at "$size" "$size") ($(memo_at "$size" "$size") bytes); after $MEMO_QUERIES: $(memo_ctx_at "$size" "$MEMO_QUERIES") ($(memo_at "$size" "$MEMO_QUERIES") bytes)"
done
echo

yes_no() { awk "BEGIN {print ($1) ? \"yes\" : \"NO\"}"; }
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$@"; }
echo "| metric | measured | baseline | ratio | goal | met? |"
echo "|---|---|---|---|---|---|"
for proto in simple prepared; do
  ratio=$(med "p1_${proto}_hit_ratio")
  row "P1 hit tps, $proto" "$(num "$(med "p1_${proto}_hit")")" "SELECT 1: $(num "$(med "p1_${proto}_select1")")" \
    "$(num "$ratio") ($(num "$(mn "p1_${proto}_hit_ratio")")..$(num "$(mx "p1_${proto}_hit_ratio")"))" ">= 0.90" "$(yes_no "$ratio >= 0.90")"
  ratio=$(med "p1_${proto}_hitp_ratio")
  row "P1 hit with params tps, $proto" "$(num "$(med "p1_${proto}_hitp")")" "SELECT 1: $(num "$(med "p1_${proto}_select1")")" \
    "$(num "$ratio") ($(num "$(mn "p1_${proto}_hitp_ratio")")..$(num "$(mx "p1_${proto}_hitp_ratio")"))" ">= 0.90" "$(yes_no "$ratio >= 0.90")"
  ratio=$(med "p1_${proto}_hit_func_ratio")
  row "P1 hit tps vs a built-in function, $proto" "$(num "$(med "p1_${proto}_hit")")" "octet_length(text): $(num "$(med "p1_${proto}_func")")" \
    "$(num "$ratio") ($(num "$(mn "p1_${proto}_hit_func_ratio")")..$(num "$(mx "p1_${proto}_hit_func_ratio")"))" "(reference)" "-"
  ratio=$(med "p1_${proto}_counter_ratio")
  row "P1 counter-table lookup tps, $proto" "$(num "$(med "p1_${proto}_counter")")" "SELECT 1: $(num "$(med "p1_${proto}_select1")")" \
    "$(num "$ratio") ($(num "$(mn "p1_${proto}_counter_ratio")")..$(num "$(mx "p1_${proto}_counter_ratio")"))" "(reference)" "-"
done
for q in hit all; do
  label=$([ "$q" = hit ] && echo "status = 3 ($(sql "SELECT count FROM fast_count_entries WHERE key = '$K_HIT'") rows)" || echo "all $ROWS rows")
  h=$(med "$([ "$q" = hit ] && echo p2_hit_us || echo p2_hitall_us)")
  c=$(med "p2_count_${q}_ms")
  ratio=$(calc "$c * 1000 / $h")
  row "P2 hit latency, $label" "$(num "$h") us" "count(*): $(num "$c") ms" "$(num "$ratio")x faster" ">= 10,000x" "$(yes_no "$ratio >= 10000")"
done
for q in hit all; do
  label=$([ "$q" = hit ] && echo "status = 3" || echo "all $ROWS rows")
  h=$(med "$([ "$q" = hit ] && echo p2_server_hit_us || echo p2_server_hitall_us)")
  c=$(med "p2_count_${q}_ms")
  ratio=$(calc "$c * 1000 / $h")
  row "P2 hit cost in the server, $label" "$(num "$h") us" "count(*): $(num "$c") ms" "$(num "$ratio")x faster" "(no round trip)" "-"
done
row "P2 hit latency vs SELECT 1 latency" "$(num "$(med p2_hit_us)") us" "SELECT 1: $(num "$(med p2_select1_us)") us" "$(num "$(calc "$(med p2_hit_us) / $(med p2_select1_us)")")" "(reference)" "-"
row "P3a counts, cold query, $P3_CLIENTS readers" "$(num "$(med p3a_counts)") (max $(mx p3a_counts))" "-" "-" "1" "$(yes_no "$(mn p3a_counts) == 1 && $(mx p3a_counts) == 1")"
p3a_base=$(calc "$(med p3a_own_ms) + $(med p3f_worst_ms)")
row "P3a worst reader latency" "$(num "$(med p3a_worst_ms)") ms" "its count + 32 new sessions' worst hit: $(num "$p3a_base") ms" "$(num "$(calc "$(med p3a_worst_ms) / $p3a_base")")" "(about 1: one count)" "-"
row "P3b reader counts, expired registered" "$(num "$(med p3b_reader_counts)") (max $(mx p3b_reader_counts))" "-" "-" "0" "$(yes_no "$(mx p3b_reader_counts) == 0")"
row "P3b worker counts after the readers" "$(num "$(med p3b_worker_counts)") (max $(mx p3b_worker_counts))" "-" "-" "(1)" "-"
row "P3b worst reader latency" "$(num "$(med p3b_worst_ms)") ms" "fresh entry: $(num "$(med p3f_worst_ms)") ms" "$(num "$(med p3b_worst_ratio)")" "(about 1: no wait)" "-"
row "P5 worker counts, idle, $P5_QUERIES queries, $P5_NAPTIMES naptimes" "$P5_COUNTS" "-" "-" "0" "$(yes_no "$P5_COUNTS == 0")"
row "P5 worker CPU / WAL while idle" "$(num "$P5_CPU_MS") ms CPU, $(num "$P5_WAL") B WAL" "$P5_NAPTIMES s" "-" "(small)" "-"
for q in hit all; do
  label=$([ "$q" = hit ] && echo "status = 3" || echo "all rows")
  ratio=$(med "p6_${q}_ratio")
  row "P6 worker refresh, $label" "$(num "$(med "p6_worker_${q}_ms")") ms" "count(*): $(num "$(med "p6_count_${q}_ms")") ms" \
    "$(num "$ratio") ($(num "$(mn "p6_${q}_ratio")")..$(num "$(mx "p6_${q}_ratio")"))" "<= 1.1" "$(yes_no "$ratio <= 1.1")"
done
row "Shared memory per entry" "$(num "$SHM_PER_ENTRY") B" "-" "-" "(small)" "-"
for size in 1000 "$MEMO_LARGER"; do
  full=$(memo_at "$size" "$size")
  last=$(memo_at "$size" "$MEMO_QUERIES")
  row "Backend memo memory, memo_size = $size, after $MEMO_QUERIES queries" "$(num "$last") B" "after $size queries: $(num "$full") B" \
    "$(num "$(calc "$last / $full")")" "bounded (<= 2)" "$(yes_no "$last <= 2 * $full")"
done
