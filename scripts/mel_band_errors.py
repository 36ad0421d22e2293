"""Where a vocoder's log-mel distance comes from: the RMS and the mean of (vocoded - reference) in dB per mel band,
over the loud frames (within 30 dB of each file's loudest) of every file a `scripts/compare_vocoders.py` run scored.

Usage: python3 scripts/mel_band_errors.py SCORE_DIR SYSTEM... [--seed 1] [--demo samples/arctic_a0009.wav]

Reads SCORE_DIR/reference/*.wav against SCORE_DIR/SYSTEM/seedN/*.wav (or SCORE_DIR/SYSTEM/*.wav for a one-seed run),
and demo.wav against --demo. Prints, for every 5th of the 80 bands (compare_vocoders.py's mels: n_fft 1024, hop 200,
window 800, 50-7,600 Hz), "centre Hz: RMS/mean" in dB. Needs: pip install numpy soundfile librosa.
"""
import argparse
import glob
import os

import librosa
import numpy as np
import soundfile as sf

from compare_vocoders import MEL


def log_mel(x):
    return 10 * np.log10(np.maximum(librosa.feature.melspectrogram(y=x, **MEL), 1e-5))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("score_dir")
    ap.add_argument("systems", nargs="+")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--demo", default="samples/arctic_a0009.wav")
    a = ap.parse_args()
    centres = librosa.mel_frequencies(MEL["n_mels"] + 2, fmin=MEL["fmin"], fmax=MEL["fmax"])[1:-1]
    for system in a.systems:
        folder = os.path.join(a.score_dir, system, "seed" + a.seed)
        if not os.path.isdir(folder):
            folder = os.path.join(a.score_dir, system)
        squares, sums, count = np.zeros(80), np.zeros(80), 0
        for path in sorted(glob.glob(os.path.join(folder, "*.wav"))):
            name = os.path.basename(path)
            ref_path = a.demo if name == "demo.wav" else os.path.join(a.score_dir, "reference", name)
            ref, _ = librosa.load(ref_path, sr=16000, mono=True)
            deg, _ = sf.read(path, dtype="float32")
            n = min(len(ref), len(deg))
            m_ref, m_deg = log_mel(ref[:n]), log_mel(deg[:n])
            level = m_ref.mean(axis=0)
            d = (m_deg - m_ref)[:, level > level.max() - 30]
            squares += (d ** 2).sum(axis=1)
            sums += d.sum(axis=1)
            count += d.shape[1]
        rms, mean = np.sqrt(squares / count), sums / count
        print(system, " ".join(f"{int(centres[i])}:{rms[i]:.1f}/{mean[i]:+.1f}" for i in range(0, 80, 5)))


if __name__ == "__main__":
    main()
