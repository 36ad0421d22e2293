#!/usr/bin/env python3
"""Calibrates the vocoder measures of scripts/eval_vocoder.py against the original recording with added noise.

Usage: python3 scripts/noise_calibration.py [REFERENCE.wav ...] [--text "the sentence"] [--seeds N] [--no-asr]

For white noise and for speech-shaped noise (white noise given the long-term magnitude spectrum of the reference,
random phases) at signal-to-noise ratios from -5 to 20 dB, mixes noise into the reference recording and prints the
mean STOI (Taal et al. 2011) and wide-band PESQ (ITU-T P.862.2) over --seeds noise draws (and over the files, given
several), and the word error rate of CMU PocketSphinx on each draw (one English file only; --no-asr skips it, e.g.
for the valid split's references written by scripts/eval_valid.sh). A vocoded file's scores can then be read as
"like the original at X dB SNR": listening tests put the speech reception threshold of sentences in stationary
noise (50 % of sentences understood) between about -5 and -3 dB SNR for normal-hearing listeners (Plomp and Mimpen
1979; Nilsson et al. 1994, HINT), so speech at +5 dB SNR and above is understood nearly word for word.
Defaults: samples/arctic_a0009.wav and its ARCTIC sentence, 3 seeds. Needs what eval_vocoder.py needs.
Not used by the test suite.
"""
import argparse
import os
import sys

import numpy as np
import soundfile as sf
from pesq import pesq
from pystoi import stoi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_vocoder import recognise, wer  # noqa: E402


def noise(kind, reference, rng):
    if kind == "white":
        return rng.standard_normal(len(reference))
    magnitude = np.abs(np.fft.rfft(reference))
    phase = np.exp(2j * np.pi * rng.random(len(magnitude)))
    return np.fft.irfft(magnitude * phase, len(reference))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("references", nargs="*", default=[os.path.join(root, "samples/arctic_a0009.wav")])
    ap.add_argument("--text", default="he turned sharply and faced gregson across the table")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-asr", action="store_true", help="skip the word error rate")
    a = ap.parse_args()
    asr = not a.no_asr and len(a.references) == 1
    refs = []
    for path in a.references:
        ref, sr = sf.read(path, dtype="float64")
        if sr != 16000:
            sys.exit(f"{path}: PESQ-WB needs 16000 Hz, got {sr}")
        refs.append(ref.mean(axis=1) if ref.ndim > 1 else ref)
    if asr:
        print(f"{a.references[0]} itself: WER {wer(a.text, recognise(refs[0].astype(np.float32), 16000)):.2f}")
    for kind in ["white", "speech-shaped"]:
        for snr in [-5, 0, 5, 10, 15, 20]:
            rows, errors = [], []
            for ref in refs:
                power = np.mean(ref ** 2)
                for seed in range(a.seeds):
                    n = noise(kind, ref, np.random.default_rng(seed))
                    n *= np.sqrt(power / np.mean(n ** 2) / 10 ** (snr / 10))
                    mix = ref + n
                    mix = (mix / max(1.0, np.abs(mix).max())).astype(np.float32)
                    rows.append((stoi(ref, mix, 16000), pesq(16000, ref.astype(np.float32), mix, "wb")))
                    if asr:
                        errors.append(wer(a.text, recognise(mix, 16000)))
            r = np.array(rows)
            line = f"{kind:13s} noise at {snr:3d} dB SNR: STOI {r[:, 0].mean():.3f}  PESQ-WB {r[:, 1].mean():.2f}"
            print(line + (f"  WER {' '.join(f'{w:.2f}' for w in errors)}" if asr else ""))


if __name__ == "__main__":
    main()
