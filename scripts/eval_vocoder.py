#!/usr/bin/env python3
"""Objective intelligibility and quality of a vocoded file against its reference recording.

Usage: python3 scripts/eval_vocoder.py REFERENCE.wav VOCODED.wav

Prints STOI (Taal et al. 2011, 0..1; ~0.6 is unintelligible, >0.85 clearly intelligible), wide-band PESQ
(ITU-T P.862.2, 1..4.5) and the log-mel spectral distance in dB. Needs: pip install pystoi pesq soundfile numpy librosa.
Not used by the test suite.
"""
import sys

import librosa
import numpy as np
import soundfile as sf
from pesq import pesq
from pystoi import stoi


def main(ref_path, deg_path):
    ref, sr = sf.read(ref_path, dtype="float32")
    deg, sr2 = sf.read(deg_path, dtype="float32")
    if ref.ndim > 1:
        ref = ref.mean(axis=1)
    if sr2 != sr:
        deg = librosa.resample(deg, orig_sr=sr2, target_sr=sr)
    n = min(len(ref), len(deg))
    ref, deg = ref[:n], deg[:n]
    s = stoi(ref, deg, sr, extended=False)
    try:
        p = pesq(sr, ref, deg, "wb") if sr == 16000 else float("nan")
    except Exception as e:  # PESQ refuses e.g. silent input
        p = float("nan")
        print(f"pesq failed: {e}", file=sys.stderr)
    kw = dict(sr=sr, n_fft=1024, hop_length=200, win_length=800, n_mels=80, fmin=50, fmax=7600)
    m1 = np.log10(np.maximum(librosa.feature.melspectrogram(y=ref, **kw), 1e-5))
    m2 = np.log10(np.maximum(librosa.feature.melspectrogram(y=deg, **kw), 1e-5))
    lsd = 10 * np.sqrt(np.mean((m1 - m2) ** 2))
    print(f"STOI {s:.3f}  PESQ-WB {p:.2f}  log-mel distance {lsd:.2f} dB  ({deg_path})")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
