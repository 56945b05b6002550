#!/bin/bash
# Natrium variants back to back with nbench's 8 scenarios (e.g. parser backends, worker counts),
# alternating for ROUNDS rounds; prints the median table of the first variant against the second.
#   bench/nbench-variants.sh ROUNDS "name:natrium flags" "name:natrium flags"
#   e.g. bench/nbench-variants.sh 2 "native:--parser native" "js:--parser js"
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
    name=${spec%%:*}; flags=${spec#*:}
    # shellcheck disable=SC2086
    node dist/src/cli/main.js -a 127.0.0.1 -p "$PORT" $flags >/dev/null 2>&1 &
    pid=$!
    wait_port || { echo "$name did not start" >&2; exit 1; }
    echo "== round $round: $name ($flags)" >&2
    RAW="$PWD/bench/results/nbench-$name.txt" "$BENCH" "nats://127.0.0.1:$PORT" >&2
    kill "$pid"; wait "$pid" 2>/dev/null
  done
done
first=${1%%:*}; second=${2%%:*}
node bench/nbench-table.mjs "bench/results/nbench-$first.txt" "bench/results/nbench-$second.txt" | sed "s/natrium msgs\/s/$first msgs\/s/; s/nats-server msgs\/s/$second msgs\/s/; s/natrium p50/$first p50/; s/nats-server p50/$second p50/"
