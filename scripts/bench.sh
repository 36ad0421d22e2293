#!/usr/bin/env bash
# `make bench`: generation real-time factor, training throughput and peak memory, single-threaded,
# for the default voice and the reference configuration. Record results in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/synth}   # BIN=path/to/synth bash scripts/bench.sh measures another build
echo "# synth bench, $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$BIN" bench --voice default --threads 1
echo
echo "# synth vocode samples/arctic_a0009.wav (default voice, 1 thread)"
mkdir -p out
/usr/bin/time -f "peak memory (max RSS): %M KB" "$BIN" vocode samples/arctic_a0009.wav -o out/bench.wav 2>&1 | grep -E "real-time factor|peak memory"
echo
echo "# synth music generate: tokens/s of cached (KV-cache) generation, voices/music, 1 thread"
"$BIN" music generate --tokens 2000 --seed 1 -o out/bench.mid 2>&1 | grep -E "tokens/s"
if [ -x scripts/bench-render.sh ]; then
    echo
    bash scripts/bench-render.sh
fi
