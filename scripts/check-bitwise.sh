#!/usr/bin/env bash
# Checks that the shipped models give the same bytes as before a refactoring: every output below is hashed
# (sha256) and compared with scripts/bitwise-checksums.txt, recorded with the release binary of the commit a
# change started from. Covers the demo WAV, a `synth render` batch (audio, .npy and `auto` lines), babble, the
# features, music continuations (sampling, the sliding window past the context, beam search, a FluidSynth WAV, the
# model's generation_config.json defaults), a text continuation (its model's min-p default),
# the `synth eval` and `synth music eval` figures, and a few training steps of each family (the weights after
# them), which take the forward and backward passes.
#
#   scripts/check-bitwise.sh              rebuild (release) and compare
#   scripts/check-bitwise.sh --no-build   compare the binary as it is
#   BIN=old/synth VOICES=old/voices scripts/check-bitwise.sh --record   record with another binary and voices
#
# Needs ../shared/data/speech and ../shared/data/midi (the data beside a checkout on our machines).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/synth}
SUMS=scripts/bitwise-checksums.txt
record=0 build=1
for a in "$@"; do
    case "$a" in
        --record) record=1 ;;
        --no-build) build=0 ;;
        *) echo "usage: $0 [--no-build] [--record]" >&2; exit 64 ;;
    esac
done
if [ "$build" = 1 ] && [ -z "${VOICES:-}" ]; then swift build -c release --product synth >&2; fi
[ -n "${VOICES:-}" ] && export SYNTH_VOICES=$(cd "$VOICES" && pwd)
SPEECH=../shared/data/speech/MANIFEST.tsv
MIDI=../shared/data/midi/MANIFEST.tsv
OUT=$(mktemp -d /tmp/check-bitwise.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
got="$OUT/sums.txt"
: > "$got"
hash() { echo "$1 $(sha256sum "$2" | cut -d' ' -f1)" >> "$got"; }
run() { "$BIN" "$@" > "$OUT/stdout" 2> "$OUT/stderr" || { cat "$OUT/stderr" >&2; echo "failed: synth $*" >&2; exit 1; }; }

echo "vocoder..." >&2
run vocode samples/arctic_a0009.wav -o "$OUT/demo.wav" --speaker klettres-de --seed 1; hash demo.wav "$OUT/demo.wav"
run vocode samples/arctic_a0009.wav -o "$OUT/auto.wav" --speaker auto --seed 2 --temperature 0.9 --top-p 0.95
hash vocode-auto.wav "$OUT/auto.wav"
run features samples/arctic_a0009.wav -o "$OUT/arctic.npy"; hash features.npy "$OUT/arctic.npy"
run generate --seconds 0.5 --speaker klettres-fr --seed 2 -o "$OUT/babble.wav"; hash babble.wav "$OUT/babble.wav"
cp samples/arctic_a0009.wav "$OUT/arctic.wav"
printf 'input\tspeaker\toutput\narctic.wav\tklettres-de\ta.wav\narctic.wav\tklettres-fr\tb.wav\narctic.npy\tklettres-en\tc.wav\narctic.wav\tauto\td.wav\n' > "$OUT/lines.tsv"
run render "$OUT/lines.tsv" --out "$OUT/render" --batch 2 --threads 2
for f in a b c d; do hash "render-$f.wav" "$OUT/render/$f.wav"; done
run eval --data "$SPEECH" --max-utterances 10 --threads 2; hash eval.txt "$OUT/stdout"

echo "music..." >&2
P=samples/bwv113.8.mid
# Without the continuation defaults of voices/music/generation_config.json (added later), as these were recorded.
OFF="--prime-cut exact --max-note-seconds off --max-polyphony off --key-bias 0 --key-profile-bias 0 --no-snap-to-prime-grid"
run music generate --prime $P --seconds 10 --seed 1 -o "$OUT/m1.mid" $OFF; hash music-seconds.mid "$OUT/m1.mid"
run music generate --prime $P --prime-seconds 4 --tokens 300 --temperature 0.9 --top-k 40 --top-p 0.95 \
    --repetition-penalty 1.1 --seed 3 -o "$OUT/m2.mid" --wav "$OUT/m2.wav" --sample-rate 16000 $OFF
hash music-processors.mid "$OUT/m2.mid"; hash music-processors.wav "$OUT/m2.wav"
run music generate --tokens 600 --seed 2 -o "$OUT/m3.mid"; hash music-window.mid "$OUT/m3.mid"
run music generate --prime $P --prime-seconds 3 --beam 2 --tokens 12 -o "$OUT/m4.mid" --prime-cut exact --no-snap-to-prime-grid
hash music-beam.mid "$OUT/m4.mid"
# With them: the beat cut, the note limits, the key profile bias and the grid snap.
run music generate --prime $P --prime-seconds 8 --seconds 10 --seed 1 -o "$OUT/m5.mid"; hash music-defaults.mid "$OUT/m5.mid"
echo "text..." >&2
run text generate --prompt "And it came to pass" --tokens 300 --seed 1; cp "$OUT/stdout" "$OUT/text.txt"; hash text-defaults.txt "$OUT/text.txt"
run music eval --data "$MIDI"; sed -E 's/ \[[0-9.]+ s\]//' "$OUT/stdout" > "$OUT/music-eval.txt"; hash music-eval.txt "$OUT/music-eval.txt"

echo "training..." >&2
small=(--steps 3 --batch 2 --segment 800 --stacks 1 --dilation-cycle 3 --residual 8 --gate 16 --skip 16 --cond-channels 8
       --cond-layers 1 --speaker-dim 4 --max-utterances 2 --validate-every 3 --checkpoint-every 3 --valid-segments 2)
run train --data "$SPEECH" --out "$OUT/t1" "${small[@]}"; hash train-wavenet.safetensors "$OUT/t1/best/model.safetensors"
run train --data "$SPEECH" --out "$OUT/t2" "${small[@]}" --pitch --source --lpc
hash train-wavenet-pitch-source-lpc.safetensors "$OUT/t2/best/model.safetensors"
run train --data "$SPEECH" --out "$OUT/t3" --init-from default --grow --residual 72 --steps 1 --batch 1 --segment 800 \
    --max-utterances 1 --validate-every 1 --valid-segments 1
hash train-grow.safetensors "$OUT/t3/best/model.safetensors"
run music train --data "$MIDI" --out "$OUT/mt" --steps 3 --batch 2 --context 32 --d-model 16 --heads 2 --layers 1 \
    --max-files 3 --validate-every 3 --checkpoint-every 3
hash train-transformer.safetensors "$OUT/mt/best/model.safetensors"

if [ "$record" = 1 ]; then
    { echo "# sha256 of scripts/check-bitwise.sh's outputs, recorded with $BIN at $(git rev-parse --short HEAD) on $(date -u +%Y-%m-%d)"
      cat "$got"; } > "$SUMS"
    echo "recorded $(wc -l < "$got") checksums in $SUMS" >&2
    exit 0
fi
fail=0
while read -r name sum; do
    want=$(grep -E "^$name " "$SUMS" | cut -d' ' -f2 || true)
    if [ "$want" = "$sum" ]; then echo "same      $name"; else echo "DIFFERENT $name"; fail=1; fi
done < "$got"
[ "$fail" = 0 ] && echo "bitwise: all $(wc -l < "$got") outputs are identical" || echo "bitwise: outputs differ" >&2
exit "$fail"
