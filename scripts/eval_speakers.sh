#!/usr/bin/env bash
# Vocodes the held-out ARCTIC sentence with every speaker of a voice (seed 1) and scores each with
# scripts/eval_vocoder.py, then prints the mean, min and max of STOI, PESQ-WB, V/UV F1 and WER.
# Usage: bash scripts/eval_speakers.sh VOICE_DIR OUT_DIR   (needs the Python packages eval_vocoder.py names)
set -euo pipefail
cd "$(dirname "$0")/.."
voice=$1 out=$2
bin=.build/release/synth
text="he turned sharply and faced gregson across the table"
mkdir -p "$out"
speakers=$(python3 -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))['speakers']))" "$voice/config.json")
for s in $speakers; do
  "$bin" vocode samples/arctic_a0009.wav -o "$out/$s.wav" --voice "$voice" --speaker "$s" --seed 1 2>/dev/null
  echo "$s $(python3 scripts/eval_vocoder.py samples/arctic_a0009.wav "$out/$s.wav" --text "$text" 2>/dev/null)"
done | tee "$out/scores.txt"
python3 scripts/summarise_scores.py "$out/scores.txt" STOI PESQ-WB "V/UV F1" WER
