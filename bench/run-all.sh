#!/bin/sh
# The measured runs behind README's "Benchmarks" section, in the order they are reported.
# About 8 minutes on a 2-core machine; run it on a quiet host (check `uptime` first).
#
#   npm run build && bench/run-all.sh            # writes bench/results/*.json|.md|.svg
#   ROUNDS=5 bench/run-all.sh                    # more alternating runs per scenario
#   SCALE=0.05 ROUNDS=1 RESULTS=/tmp/r bench/run-all.sh   # a quick trial of the whole script
#
# nbench (../shared/tools/nbench, a Go generator on nats.go) is the yardstick; build it once with
# ../shared/tools/nbench/build.sh (-> /tmp/nbench/nbench, or set NBENCH).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SCALE=${SCALE:-1}
RESULTS=${RESULTS:-bench/results}
# Natrium's worker count for the comparisons: what `natrium tune` (step 5) recommends on the
# 2-core machine of README's tables; the CLI's own default is one per core.
WORKERS=${WORKERS:-1}
natrium() { node dist/src/cli/main.js "$@"; }
# 10 000 idle connections need more than the usual 1 024 open files (--memory also re-runs itself
# under a raised limit when the hard limit allows).
ulimit -n 20000 2>/dev/null || true

echo "== host: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); load: $(cut -d' ' -f1-3 /proc/loadavg)"
# 1. Does the node generator keep up? Both generators against nats-server.
natrium bench --check-generator --rounds "$ROUNDS" --scale "$SCALE" --out "$RESULTS/check-generator"
# 2. Natrium (WORKERS workers) vs nats-server, measured with nbench (the issue's
#    yardstick), then with the default generator (node; nbench for request/reply).
natrium bench --compare --workers "$WORKERS" --rounds "$ROUNDS" --scale "$SCALE" --generator nbench --out "$RESULTS/compare-nbench"
natrium bench --compare --workers "$WORKERS" --rounds "$ROUNDS" --scale "$SCALE" --out "$RESULTS/compare"
# 3. Payload sizes 16 B .. 64 KiB, 1 -> 1.
natrium bench --compare --workers "$WORKERS" --rounds "$ROUNDS" --scale "$SCALE" --scenario sizes --generator nbench --out "$RESULTS/compare-sizes-nbench"
# 4. Memory: idle, 1 000 and 10 000 idle connections, under load.
natrium bench --memory --workers "$WORKERS" --scale "$SCALE" --out "$RESULTS/memory"
# 5. Worker count for this host.
natrium tune --scenario 3,5,7 --rounds "$ROUNDS" --scale "$SCALE" --generator nbench --out "$RESULTS/tune"
echo "== load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
