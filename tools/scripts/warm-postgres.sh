#!/usr/bin/env bash
# Brings the throwaway cluster with-postgres.sh started to a steady state before a benchmark. A
# running cluster reuses its WAL segment files after each checkpoint; a new one creates and
# zero-fills a 16 MB file for every 16 MB of log it writes, which cost the first push benchmark
# on a fresh cluster a tenth to a sixth of its rate here (docs/benchmarks.md). This writes about
# 500 MB of log into a table it drops again, then checkpoints, so the measures reuse those files.
set -euo pipefail
psql -q "$CONCIERGE_TEST_DATABASE_URL" \
  -c "CREATE TABLE concierge_warm_wal AS SELECT g, md5(g::text) AS m FROM generate_series(1, 5000000) AS g" \
  -c "DROP TABLE concierge_warm_wal" -c "CHECKPOINT"
