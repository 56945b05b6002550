#!/bin/bash
# Natrium (npm start defaults) and nats-server back to back with nbench's 8 scenarios,
# alternating for ROUNDS rounds; raw RESULT lines go to bench/results/nbench-<broker>.txt.
#   bench/nbench-compare.sh [ROUNDS]      (needs /tmp/nbench/nbench: ../shared/tools/nbench/build.sh)
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
PORT=${PORT:-4390}
BENCH=${BENCH:-../shared/tools/nbench/bench.sh}
mkdir -p bench/results
rm -f bench/results/nbench-natrium.txt bench/results/nbench-nats-server.txt
wait_port() { for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
for round in $(seq "$ROUNDS"); do
  for broker in natrium nats-server; do
    if [ "$broker" = natrium ]; then node dist/src/cli/main.js -a 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
    else nats-server -a 127.0.0.1 -p "$PORT" >/dev/null 2>&1 & fi
    pid=$!
    wait_port || { echo "$broker did not start" >&2; exit 1; }
    echo "== round $round: $broker" >&2
    RAW="$PWD/bench/results/nbench-$broker.txt" "$BENCH" "nats://127.0.0.1:$PORT" >&2
    kill "$pid"; wait "$pid" 2>/dev/null
  done
done
node bench/nbench-table.mjs bench/results/nbench-natrium.txt bench/results/nbench-nats-server.txt
