#!/usr/bin/env bash
# Batch-rendering throughput: seconds of audio per wall-clock second for B = 1, 4 and 16 on 2 threads.
# Uses voices/default if installed, else the reference configuration with random weights.
# Called by scripts/bench.sh (make bench); runs the release binary built by `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/synth}
[ -x "$BIN" ] || { echo "bench-render: $BIN not found; run 'make build' first" >&2; exit 1; }
echo "== batch rendering ($(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
"$BIN" bench-render --voice "${VOICE:-default}" --batches "${BATCHES:-1,4,16}" --threads "${THREADS:-2}" --seconds "${SECONDS_PER_UTTERANCE:-1}"
