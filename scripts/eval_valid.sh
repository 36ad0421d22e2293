#!/usr/bin/env bash
# Held-out evaluation over the whole valid split of the speech corpus: for every speaker, joins that
# speaker's valid recordings (0.25 s of silence between them) into one reference file, vocodes it with
# the speaker's own embedding (seed 1) and scores it with scripts/eval_vocoder.py (no ASR: the corpus is
# letters and syllables in 19 languages). Prints each speaker's line, then the mean, min and max of
# STOI, PESQ-WB, V/UV F1 and log-mel distance.
# Usage: bash scripts/eval_valid.sh VOICE_DIR OUT_DIR [extra `synth vocode` options, e.g. --temperature 0.8]
# The corpus root defaults to ../shared/data/speech (set DATA to change it).
set -euo pipefail
cd "$(dirname "$0")/.."
voice=$1 out=$2
shift 2
data=${DATA:-../shared/data/speech}
bin=.build/release/synth
mkdir -p "$out/reference"
python3 - "$data" "$out/reference" <<'PY'
import csv, os, sys
import numpy as np, soundfile as sf
data, out = sys.argv[1:]
clips = {}
with open(os.path.join(data, "MANIFEST.tsv"), newline="") as f:
    for row in csv.DictReader(f, delimiter="\t"):
        if row["split"] == "valid":
            clips.setdefault(row["speaker"], []).append(row["path"])
for speaker, paths in clips.items():
    parts = []
    for p in sorted(paths):
        y, sr = sf.read(os.path.join(data, p), dtype="float32")
        parts += [y if y.ndim == 1 else y.mean(axis=1), np.zeros(sr // 4, dtype=np.float32)]
    sf.write(os.path.join(out, speaker + ".wav"), np.concatenate(parts), sr, subtype="PCM_16")
PY
for ref in "$out"/reference/*.wav; do
  speaker=$(basename "$ref" .wav)
  "$bin" vocode "$ref" -o "$out/$speaker.wav" --voice "$voice" --speaker "$speaker" --seed 1 "$@" 2>/dev/null
  echo "$speaker $(python3 scripts/eval_vocoder.py "$ref" "$out/$speaker.wav" --no-asr 2>/dev/null | sed 's/  (.*//')"
done | tee "$out/scores.txt"
python3 scripts/summarise_scores.py "$out/scores.txt" STOI PESQ-WB "V/UV F1" "log-mel distance"
