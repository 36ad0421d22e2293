#!/usr/bin/env python3
"""Vocodes a few reference files with one voice and sampling settings, and scores them: mean PESQ-WB and V/UV error,
and the runaway windows (quarter-second windows whose RMS is above 0.3 and four times the reference's). A quick probe
beside scripts/compare_vocoders.py (whose folders it reads) for trying a setting on the files where a voice fails.

Usage:
  python3 scripts/vocode_subset.py --ref DIR/reference --voice VOICE_DIR --out OUT_DIR SPEAKER [SPEAKER ...]
      [--bin .build/release/synth] [--seed 1] [-- EXTRA synth vocode ARGS...]
Each SPEAKER names DIR/reference/SPEAKER.wav (as compare_vocoders.py writes them), vocoded with --speaker SPEAKER.
PESQ-WB (ITU-T P.862.2, the `pesq` package) and the V/UV error from librosa.pyin (60-500 Hz, frame 1024, hop 200), as
compare_vocoders.py computes them. Needs: pip install pesq soundfile numpy librosa.
"""
import argparse, os, subprocess, sys
import numpy as np, soundfile as sf, librosa
from pesq import pesq

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--ref", required=True); ap.add_argument("--voice", required=True); ap.add_argument("--out", required=True)
ap.add_argument("--bin", default=".build/release/synth"); ap.add_argument("--seed", default="1")
ap.add_argument("speakers", nargs="+")
argv = sys.argv[1:]
cut = argv.index("--") if "--" in argv else len(argv)
args, extra = ap.parse_args(argv[:cut]), argv[cut + 1:]
os.makedirs(args.out, exist_ok=True)
P, VU, bad, total = [], [], 0, 0
for s in args.speakers:
    ref, out = os.path.join(args.ref, s + ".wav"), os.path.join(args.out, s + ".wav")
    subprocess.run([args.bin, "vocode", ref, "--voice", args.voice, "--speaker", s, "--seed", args.seed, "-o", out] + extra,
                   check=True, stderr=subprocess.DEVNULL)
    y, sr = sf.read(out); r, _ = sf.read(ref); n = min(len(y), len(r)); y, r = y[:n], r[:n]
    P.append(pesq(sr, r, y, "wb"))
    _, vy, _ = librosa.pyin(y, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=200)
    _, vr, _ = librosa.pyin(r, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=200)
    VU.append(np.mean(vy != vr))
    h = sr // 4
    for i in range(0, n, h):
        a, b = np.sqrt(np.mean(y[i:i + h] ** 2)), np.sqrt(np.mean(r[i:i + h] ** 2))
        total += 1; bad += a > 0.3 and a > 4 * b
print("PESQ-WB %.3f  V/UV %.1f %%  runaway windows %d of %d  | per file PESQ: %s" %
      (np.mean(P), 100 * np.mean(VU), bad, total, " ".join("%.2f" % p for p in P)))
