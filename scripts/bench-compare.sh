#!/usr/bin/env bash
# Compares the speed of two synth binaries in the same run, alternating them ROUNDS times (the machine is shared and
# noisy): `synth bench` (generation and training samples/s of the default voice and the reference configuration,
# wall clock), and the CPU seconds (user + system, steadier than wall clock on a loaded machine) of vocoding the demo
# sentence and of `synth music generate --tokens 2000`. Prints each round and the median of each figure, new / old.
#
#   scripts/bench-compare.sh OLD_BIN NEW_BIN [ROUNDS]     (OLD_VOICES=dir: the voices folder the old binary reads)
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: $0 OLD_BIN NEW_BIN [ROUNDS]} NEW=${2:?usage: $0 OLD_BIN NEW_BIN [ROUNDS]} ROUNDS=${3:-5}
OUT=$(mktemp -d /tmp/bench-compare.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
cpu() { /usr/bin/time -f "%U %S" -o "$OUT/time" "$@" > /dev/null 2>&1; awk '{print $1 + $2}' "$OUT/time"; }
measure() {  # binary, voices folder -> the five wall-clock rates and the two CPU times
    local bin=$1
    export SYNTH_VOICES=$2
    "$bin" bench --seconds 2 --train-steps 2 > "$OUT/bench.txt" 2>&1
    "$bin" music generate --tokens 2000 --seed 1 -o "$OUT/b.mid" 2> "$OUT/music.txt"
    local v r m
    v=$(grep "^| voice 'default'" "$OUT/bench.txt" | awk -F'|' '{gsub(/ /,"",$4); gsub(/ /,"",$8); print $4, $8}')
    r=$(grep "^| reference" "$OUT/bench.txt" | awk -F'|' '{gsub(/ /,"",$4); gsub(/ /,"",$8); print $4, $8}')
    m=$(sed -E 's/.* ([0-9]+) tokens\/s.*/\1/' "$OUT/music.txt" | tail -1)
    echo "$v $r $m $(cpu "$bin" vocode samples/arctic_a0009.wav -o "$OUT/v.wav" --speaker klettres-de) $(cpu "$bin" music generate --tokens 2000 --seed 1 -o "$OUT/c.mid")"
}
: > "$OUT/old"; : > "$OUT/new"
for i in $(seq 1 "$ROUNDS"); do
    o=$(measure "$OLD" "$(cd "${OLD_VOICES:-voices}" && pwd)"); echo "$o" >> "$OUT/old"
    n=$(measure "$NEW" "$(pwd)/voices"); echo "$n" >> "$OUT/new"
    echo "round $i  old: $o  new: $n" >&2
done
python3 - "$OUT/old" "$OUT/new" <<'PY'
import statistics, sys
names = ["voice generation samples/s", "voice training samples/s", "reference generation samples/s",
         "reference training samples/s", "music generate tokens/s", "CPU s, vocode the demo (lower is faster)",
         "CPU s, music generate 2000 tokens (lower is faster)"]
old = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
new = [list(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
print(f"| figure (median of {len(old)} alternating rounds) | old | new | new / old |")
print("|---|---|---|---|")
for k, name in enumerate(names):
    o = statistics.median(r[k] for r in old); n = statistics.median(r[k] for r in new)
    print(f"| {name} | {o:.2f} | {n:.2f} | {n / o:.3f} |")
PY
