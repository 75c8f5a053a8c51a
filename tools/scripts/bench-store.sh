#!/usr/bin/env bash
# make bench-store: the engines' push path in process (no HTTP, no load generators), on SQLite and
# then on an empty database of the throwaway cluster with-postgres.sh started (warmed first). Runs
# each engine BENCH_RUNS times (3), because this 2-core VM's speed moves by a fifth between runs.
set -euo pipefail
bench=$1
runs=${BENCH_RUNS:-3}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for run in $(seq 1 "$runs"); do "$bench" | tee -a "$log"; done
"$(dirname "$0")/warm-postgres.sh"
for run in $(seq 1 "$runs"); do
  name="store_${run}_$$"
  psql -q "$CONCIERGE_TEST_DATABASE_URL" -c "CREATE DATABASE $name"
  BENCH_DATABASE_URL="${CONCIERGE_TEST_DATABASE_URL%/*}/$name?sslmode=disable" "$bench" | tee -a "$log"
  psql -q "$CONCIERGE_TEST_DATABASE_URL" -c "DROP DATABASE $name"
done
# The last line sums up: the range of each engine's runs.
awk '/^store push/ { engine = ($3 == "(SQLite,") ? "SQLite" : "PostgreSQL"; rate = $12 + 0
  if (!(engine in low) || rate < low[engine]) low[engine] = rate
  if (rate > high[engine]) high[engine] = rate }
  END { printf "store push, register writes/s: SQLite %d - %d, PostgreSQL %d - %d\n", low["SQLite"], high["SQLite"], low["PostgreSQL"], high["PostgreSQL"] }' "$log"
