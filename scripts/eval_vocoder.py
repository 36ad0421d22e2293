#!/usr/bin/env python3
"""Objective intelligibility and quality of a vocoded file against its reference recording.

Usage: python3 scripts/eval_vocoder.py REFERENCE.wav VOCODED.wav [--text "the sentence"]

Prints STOI (Taal et al. 2011, 0..1; ~0.6 is unintelligible, >0.85 clearly intelligible), wide-band PESQ
(ITU-T P.862.2, 1..4.5), the log-mel distance in dB, the pitch metrics of CARGAN (Morrison et al. 2021):
voiced/unvoiced F1 and F0 RMSE in cents over frames voiced in both, from librosa's pYIN (60-500 Hz,
frame 1024, hop 200), which show whether the harmonics of voiced speech are there, and, if pocketsphinx is installed (it ships an English
acoustic model, so it runs offline), what CMU PocketSphinx recognises in both files and the word error rate of
the vocoded file against --text (default: the recognition of the reference).
Needs: pip install pystoi pesq soundfile numpy librosa [pocketsphinx]. Not used by the test suite.
"""
import argparse
import sys

import librosa
import numpy as np
import soundfile as sf
from pesq import pesq
from pystoi import stoi


def recognise(x, sr):
    try:
        from pocketsphinx import Decoder
    except ImportError:
        return None
    if sr != 16000:
        x = librosa.resample(x, orig_sr=sr, target_sr=16000)
    d = Decoder(samprate=16000)
    d.start_utt()
    d.process_raw((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes(), full_utt=True)
    d.end_utt()
    return d.hyp().hypstr if d.hyp() else ""


def wer(ref, hyp):
    r, h = ref.lower().split(), hyp.lower().split()
    d = np.zeros((len(r) + 1, len(h) + 1), dtype=int)
    d[:, 0] = range(len(r) + 1)
    d[0, :] = range(len(h) + 1)
    for i in range(1, len(r) + 1):
        for j in range(1, len(h) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (r[i - 1] != h[j - 1]))
    return d[len(r), len(h)] / max(len(r), 1)


def pitch(x, sr):
    f0, voiced, _ = librosa.pyin(x, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=200)
    return f0, voiced


def pitch_metrics(ref, deg, sr):
    """Voiced/unvoiced F1 of `deg` against `ref`, and F0 RMSE in cents over frames voiced in both."""
    f_r, v_r = pitch(ref, sr)
    f_d, v_d = pitch(deg, sr)
    tp = np.sum(v_r & v_d)
    f1 = 2 * tp / max(np.sum(v_r) + np.sum(v_d), 1)
    both = v_r & v_d
    cents = 1200 * np.log2(f_d[both] / f_r[both]) if both.any() else np.array([np.nan])
    return f1, float(np.sqrt(np.mean(cents ** 2)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("vocoded")
    ap.add_argument("--text", help="the sentence spoken (lower case, no punctuation)")
    ap.add_argument("--no-asr", action="store_true",
                    help="skip the word error rate (for references that are not English speech)")
    a = ap.parse_args()
    ref, sr = sf.read(a.reference, dtype="float32")
    deg, sr2 = sf.read(a.vocoded, dtype="float32")
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
    f1, cents = pitch_metrics(ref, deg, sr)
    line = f"STOI {s:.3f}  PESQ-WB {p:.2f}  log-mel distance {lsd:.2f} dB  V/UV F1 {f1:.3f}  F0 RMSE {cents:.0f} cents"
    heard = None if a.no_asr else recognise(deg, sr)
    if heard is not None:
        truth = a.text or recognise(ref, sr)
        line += f"  WER {wer(truth, heard):.2f}  ASR: \"{heard}\" (reference: \"{truth}\")"
    print(f"{line}  ({a.vocoded})")


if __name__ == "__main__":
    main()
