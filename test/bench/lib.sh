# Pieces the benchmarks share; sourced (after PG_CONFIG is set), not run.

# Exits unless fast_count is installed in PG_CONFIG's PostgreSQL.
require_installed() {
  if [ ! -f "$("$PG_CONFIG" --pkglibdir)/fast_count.so" ]; then
    echo "fast_count is not installed in $("$PG_CONFIG" --pkglibdir): make install PG_CONFIG=$PG_CONFIG" >&2
    exit 1
  fi
}

# As root, runs the calling script again as postgres (initdb refuses root)
# with the given arguments, in a work directory postgres owns (BENCH_WORK).
run_as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    local dir
    dir=$(mktemp -d /tmp/fast_count-bench.XXXXXX)
    chown postgres "$dir"
    exec runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" BENCH_WORK="$dir" bash "$0" "$@"
  fi
}

# Numbers separated by spaces or newlines -> their median.
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }

# CPU time of the cluster in data directory $1 (every backend, the worker,
# autovacuum and the other auxiliary processes), in clock ticks: the
# postmaster's live children plus what its exited children used. Per
# transaction, it says what the statements cost whatever else the machine's
# cores are doing (which moves tps far more).
cluster_ticks() {
  local pm
  pm=$(head -1 "$1/postmaster.pid")
  # (a postgres process's name has no space: the fields are as numbered)
  cat /proc/[0-9]*/stat 2>/dev/null |
    awk -v pm="$pm" '$1 == pm { t += $14 + $15 + $16 + $17 } $4 == pm { t += $14 + $15 } END { print t + 0 }'
}

# data_dir pgbench errors_file pgbench_options... -> "tps cpu_us_per_transaction"
pgbench_with_cpu() {
  local data=$1 pgbench=$2 errors=$3 before after out n
  shift 3
  before=$(cluster_ticks "$data")
  out=$("$pgbench" -n "$@" 2>>"$errors")
  sleep 0.2  # the clients' backends have exited and been waited for
  after=$(cluster_ticks "$data")
  n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
  echo "$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | tail -1)" \
       "$(awk -v t="$((after - before))" -v n="$n" -v hz="$(getconf CLK_TCK)" \
            'BEGIN { printf "%.2f", (n > 0 ? t * 1e6 / hz / n : 0) }')"
}
