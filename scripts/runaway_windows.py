#!/usr/bin/env python3
"""Counts runaway stretches in vocoded speech: quarter-second windows whose RMS is above 0.3 and more than four times
the reference's (the same window of the recording). Reads the folders scripts/compare_vocoders.py writes.

Usage:
  python3 scripts/runaway_windows.py --out DIR SYSTEM [SYSTEM ...]
      DIR holds reference/*.wav and one folder of *.wav per system (as compare_vocoders.py --out DIR writes them).
Prints per system the runaway windows of all windows, and for the worst window its file, time, RMS against the
reference's, the output's strongest frequency and the reference's share of energy below 300 Hz.
Needs: pip install numpy soundfile.
"""
import argparse
import glob
import os

import numpy as np
import soundfile as sf


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("systems", nargs="+")
    a = ap.parse_args()
    for system in a.systems:
        runaway = total = 0
        worst = None
        for path in sorted(glob.glob(os.path.join(a.out, system, "*.wav"))):
            ref_path = os.path.join(a.out, "reference", os.path.basename(path))
            if not os.path.exists(ref_path):
                continue
            y, sr = sf.read(path)
            r, _ = sf.read(ref_path)
            h = sr // 4
            for i in range(0, min(len(y), len(r)), h):
                yw, rw = y[i:i + h], r[i:i + h]
                ry, rr = np.sqrt(np.mean(yw ** 2)), np.sqrt(np.mean(rw ** 2))
                total += 1
                if ry > 0.3 and ry > 4 * rr:
                    runaway += 1
                    if worst is None or ry - rr > worst[0]:
                        worst = (ry - rr, os.path.basename(path), i / sr, ry, rr, yw, rw, sr)
        line = f"{system}: {runaway} runaway windows of {total}"
        if worst:
            _, name, t, ry, rr, yw, rw, sr = worst
            f = np.fft.rfftfreq(len(yw), 1 / sr)
            Y = np.abs(np.fft.rfft(yw * np.hanning(len(yw)))) ** 2
            R = np.abs(np.fft.rfft(rw * np.hanning(len(rw)))) ** 2
            low = R[f < 300].sum() / max(R.sum(), 1e-20)
            line += (f"; worst: {name} at {t:.2f} s, RMS {ry:.2f} (reference {rr:.2f}), strongest {f[np.argmax(Y)]:.0f} Hz,"
                     f" reference {100 * low:.0f} % below 300 Hz")
        print(line)


if __name__ == "__main__":
    main()
