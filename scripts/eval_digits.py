#!/usr/bin/env python3
# How recognisable sampled digits are: a 3-nearest-neighbour classifier (Euclidean over the 64 grey levels, numpy)
# fitted on the training digits labels each sample written by `synth image sample --csv`; prints, per digit asked
# for, the fraction labelled as that digit. The same classifier's accuracy on the real valid digits is the yardstick.
#   usage: scripts/eval_digits.py TRAIN.csv VALID.csv SAMPLES.csv [SAMPLES.csv ...]
import sys

import numpy as np


def read(path):
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64)


def knn(train, x, k=3):
    d = ((x[:, None, :64] - train[None, :, :64]) ** 2).sum(-1)
    nearest = train[np.argsort(d, axis=1)[:, :k], 64]
    return np.array([np.bincount(row, minlength=10).argmax() for row in nearest])


def main():
    train, valid = read(sys.argv[1]), read(sys.argv[2])
    print(f"3-NN on the real valid digits: {np.mean(knn(train, valid) == valid[:, 64]):.3f} ({len(valid)} images)")
    for path in sys.argv[3:]:
        s = read(path)
        pred = knn(train, s)
        per = {int(d): float(np.mean(pred[s[:, 64] == d] == d)) for d in np.unique(s[:, 64])}
        print(f"{path}: {np.mean(pred == s[:, 64]):.3f} of {len(s)} samples recognised as the digit asked for; per digit "
              + " ".join(f"{d}:{v:.2f}" for d, v in per.items()))


if __name__ == "__main__":
    main()
