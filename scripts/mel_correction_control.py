#!/usr/bin/env python3
"""What the mel-envelope correction does by itself: white noise (or a system's uncorrected output) corrected toward
each reference's log-mels, for several numbers of rounds.

The control of docs/voices.md's mel-correction table: if noise corrected for N rounds scored as well as a voice
corrected for N rounds, the network would contribute nothing. For every reference of a compare_vocoders.py run
(DIR/reference/*.wav, and the demo sentence), white noise (standard deviation 0.05, seeded) of the reference's
length, or with --system NAME that system's seed-1 output in DIR (the references it rendered), is corrected toward the reference's own floored
log-mels by the numpy implementation of scripts/fixtures/mel_correction_fixtures.py (the one
DSP.MelEnvelopeCorrection is tested against), then scored as compare_vocoders.py scores (PESQ-WB, STOI, log-mel
distance, F0 RMSE, V/UV error).

Usage: python3 scripts/mel_correction_control.py --out DIR [--system NAME] [--rounds 40 ...] [--momentum 0 0.9 ...] [--seed 1]
           [--demo samples/arctic_a0009.wav]
Prints one row per number of rounds for the valid mean and the demo sentence. Needs what compare_vocoders.py needs.
"""
import argparse
import glob
import os
import sys

import librosa
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "fixtures"))
from compare_vocoders import SR, score  # noqa: E402
from mel_correction_fixtures import FLOOR, HOP, N_FFT, N_MELS, WIN, FMIN, FMAX, correct  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="a compare_vocoders.py output folder (its reference/ is read)")
    ap.add_argument("--rounds", type=int, nargs="+", default=[40])
    ap.add_argument("--system", help="correct this system's seed1/*.wav of DIR instead of white noise")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--momentum", type=float, nargs="+", default=[0.0],
                    help="momentum of the rounds (0 = plain rounds; 0.9 as synth's default): one row per value and rounds")
    ap.add_argument("--demo", default=os.path.join(HERE, "..", "samples", "arctic_a0009.wav"))
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.out, "reference", "*.wav"))) + [a.demo]
    rng = np.random.default_rng(a.seed)
    settings = [(n, b) for b in a.momentum for n in a.rounds]
    rows = {k: {} for k in settings}
    for path in files:
        ref, _ = librosa.load(path, sr=SR)
        mel = librosa.feature.melspectrogram(y=ref, sr=SR, n_fft=N_FFT, hop_length=HOP, win_length=WIN, n_mels=N_MELS,
                                             fmin=FMIN, fmax=FMAX, power=2.0, center=True, pad_mode="constant")
        logmel = np.log(np.maximum(mel, FLOOR)).T
        name = "demo" if path == a.demo else os.path.splitext(os.path.basename(path))[0]
        if a.system:
            # A several-seed run's seed 1, or a one-seed run's only output (compare_vocoders.py's two layouts).
            rendered = os.path.join(a.out, a.system, "seed1", name + ".wav")
            if not os.path.exists(rendered):
                rendered = os.path.join(a.out, a.system, name + ".wav")
            if not os.path.exists(rendered):
                continue  # a reference the system did not render (a speaker the voice does not know)
            start, _ = librosa.load(rendered, sr=SR)
            start = np.pad(start[:len(ref)], (0, max(0, len(ref) - len(start)))).astype(np.float64)
        else:
            start = 0.05 * rng.standard_normal(len(ref))
        for n, b in settings:
            y = np.clip(correct(start, logmel, rounds=n, max_db=12.0, momentum=b), -1, 1).astype(np.float32)
            rows[(n, b)][name] = score(ref, y)
            print(n, b, name, " ".join("%s %.3f" % (k, v) for k, v in rows[(n, b)][name].items()), file=sys.stderr, flush=True)
    what = a.system or "white noise"
    print("| %s, corrected | rounds | momentum | set | PESQ-WB | STOI | log-mel dist. (dB) | F0 RMSE (cents) | V/UV error |" % what)
    print("|---|---|---|---|---|---|---|---|---|")
    for n, b in settings:
        valid = [v for k, v in rows[(n, b)].items() if k != "demo"]
        for label, rs in (("valid (%d files)" % len(valid), valid), ("demo sentence", [rows[(n, b)]["demo"]])):
            m = {k: float(np.nanmean([r[k] for r in rs])) for k in ("pesq", "stoi", "mel_db", "f0_cents", "vuv_error")}
            print("| %s | %d | %g | %s | %.2f | %.3f | %.2f | %.0f | %.1f %% |" % (
                what, n, b, label, m["pesq"], m["stoi"], m["mel_db"], m["f0_cents"], 100 * m["vuv_error"]))


if __name__ == "__main__":
    main()
