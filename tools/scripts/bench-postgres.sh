#!/usr/bin/env bash
# make bench-server-postgres: the server benchmark on PostgreSQL, with one instance and with two,
# each on an empty database of the throwaway cluster with-postgres.sh started (warmed first).
set -euo pipefail
bench=$1
"$(dirname "$0")/warm-postgres.sh"
for instances in 1 2; do
  name="bench_${instances}_$$"
  psql -q "$CONCIERGE_TEST_DATABASE_URL" -c "CREATE DATABASE $name"
  echo "== PostgreSQL, $instances instance(s)"
  BENCH_DATABASE_URL="${CONCIERGE_TEST_DATABASE_URL%/*}/$name?sslmode=disable" BENCH_INSTANCES=$instances "$bench"
done
