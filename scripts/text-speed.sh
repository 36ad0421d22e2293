#!/usr/bin/env bash
# Generation speed and memory of text models at batch 1 on one thread (docs/text.md): for each model folder, bytes
# generated per second of CPU time (user + system, from /usr/bin/time, so that a loaded machine does not distort it)
# and the peak resident memory of the process.
# Usage: scripts/text-speed.sh SYNTH_BINARY TOKENS PROMPT_BYTES MODEL_DIR...
set -euo pipefail
BIN=$1; N=$2; P=$3; shift 3
prompt=$(head -c "$P" "${DATA:-../shared/data/text}/kjv.valid.txt")
for m in "$@"; do
  tf=$(mktemp)
  /usr/bin/time -f "%U %S %M" -o "$tf" nice -n 10 "$BIN" text generate --model "$m" --prompt "$prompt" --tokens "$N" --seed 1 \
    --no-echo > /dev/null 2>&1
  t=$(tail -1 "$tf"); rm -f "$tf"
  read -r user sys rss <<< "$t"
  awk -v m="$m" -v n="$N" -v p="$P" -v u="$user" -v s="$sys" -v r="$rss" \
    'BEGIN { printf "%s: prompt %d bytes, %d bytes in %.2f s CPU = %.0f bytes/s, peak RSS %.1f MB\n", m, p, n, u + s, n / (u + s), r / 1024 }'
done
