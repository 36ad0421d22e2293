#!/usr/bin/env bash
# The comparison of docs/text.md: LSTM, GRU, transformer and WaveNet over bytes, each trained for the same wall-clock
# time on the King James Bible (../shared/data/text) (CPU time, --cpu-limit, since the machine is shared; on an idle
# machine it is wall-clock), then the n-gram baseline, generation speed
# at batch 1 and memory. Usage: scripts/text-compare.sh [SYNTH_BINARY] [OUT_DIR] [MINUTES]
set -euo pipefail
BIN=${1:-.build/release/synth}
OUT=${2:-runs/text-compare}
MIN=${3:-1.2}
DATA=${DATA:-../shared/data/text}
mkdir -p "$OUT"
common=(--data "$DATA" --batch 32 --context 256 --steps 100000 --warmup 50 --validate-every 25 --checkpoint-every 1000
        --log-every 10 --valid-windows 128 --threads 1 --cpu-limit "$MIN" --time-limit "${WALL:-60}")
run() {  # name, flags...
  local name=$1; shift
  [ -d "$OUT/$name/best" ] && return 0
  /usr/bin/time -f "$name cpu_user_s %U cpu_sys_s %S max_rss_kb %M wall_s %e" -a -o "$OUT/time.txt" \
    nice -n 10 "$BIN" text train --out "$OUT/$name" "$@" "${common[@]}" > "$OUT/$name.log" 2>&1
}
# Side by side (each single-threaded at nice 10): on a shared machine each gets what it gets, and --cpu-limit
# gives each the same CPU time.
run lstm --model lstm --hidden 256 --embedding 64 --lr 2e-3 &
run gru --model gru --hidden 256 --embedding 64 --lr 2e-3 &
run transformer --model transformer --d-model 128 --heads 4 --layers 3 --lr 1e-3 &
run wavenet --model wavenet --residual 64 --dilation-cycle 8 --stacks 2 --lr 1e-3 &
wait
for m in lstm gru transformer wavenet; do
  grep "valid" "$OUT/$m.log" | tail -1 | sed "s/^/$m: /" >> "$OUT/summary.txt"
  nice -n 10 "$BIN" text generate --model "$OUT/$m/best" --prompt "And it came to pass" --tokens 400 --seed 1 \
    > "$OUT/$m.sample.txt" 2>> "$OUT/generate.txt"
done
"$(dirname "$0")/text-speed.sh" "$BIN" 20000 20 "$OUT"/{lstm,gru,transformer,wavenet}/best >> "$OUT/speed.txt"
nice -n 10 "$BIN" text eval --data "$DATA" --ngram-only --order 5 >> "$OUT/summary.txt"
