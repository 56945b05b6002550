#!/bin/bash
# Brokers back to back with nbench's 8 scenarios (../shared/tools/nbench/bench.sh), alternating for
# ROUNDS rounds; prints the medians of the first broker against the second, with their ratio.
# Each spec is "name:command"; the command gets `-a 127.0.0.1 -p PORT` (natrium and nats-server
# both take them). Raw RESULT lines go to bench/results/nbench-<name>.txt.
#   bench/nbench-variants.sh 3 "natrium:node dist/src/cli/main.js" "nats-server:nats-server"
#   bench/nbench-variants.sh 2 "native:node dist/src/cli/main.js --parser native" "js:node dist/src/cli/main.js --parser js"
set -u
cd "$(dirname "$0")/.."
ROUNDS=$1; shift
PORT=${PORT:-4391}
BENCH=${BENCH:-../shared/tools/nbench/bench.sh}
mkdir -p bench/results
for spec in "$@"; do rm -f "bench/results/nbench-${spec%%:*}.txt"; done
wait_port() { for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
for round in $(seq "$ROUNDS"); do
  for spec in "$@"; do
    name=${spec%%:*}; command=${spec#*:}
    # shellcheck disable=SC2086
    $command -a 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
    pid=$!
    wait_port || { echo "$name did not start" >&2; exit 1; }
    echo "== round $round: $name ($command)" >&2
    RAW="$PWD/bench/results/nbench-$name.txt" "$BENCH" "nats://127.0.0.1:$PORT" >&2
    kill "$pid"; wait "$pid" 2>/dev/null
  done
done
node bench/nbench-table.mjs "bench/results/nbench-${1%%:*}.txt" "bench/results/nbench-${2%%:*}.txt"
