#!/usr/bin/env python3
"""Averages the weights of several checkpoints of one run (Polyak averaging) into a voice folder.

Usage: python3 scripts/average_checkpoints.py OUT_DIR CHECKPOINT_DIR [CHECKPOINT_DIR ...]
Writes OUT_DIR/model.safetensors (the element-wise mean of every tensor, float32) and copies config.json from
the first checkpoint. All checkpoints must come from the same run (same tensor names and shapes). Used for the
"mean of the weights" row in docs/voices.md. Needs: pip install numpy safetensors.
"""
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

out, checkpoints = sys.argv[1], sys.argv[2:]
if not checkpoints:
    sys.exit("usage: average_checkpoints.py OUT_DIR CHECKPOINT_DIR [CHECKPOINT_DIR ...]")
weights = [load_file(os.path.join(c, "model.safetensors")) for c in checkpoints]
for c, w in zip(checkpoints, weights):
    if {k: v.shape for k, v in w.items()} != {k: v.shape for k, v in weights[0].items()}:
        sys.exit(f"{c}: tensor names or shapes differ from {checkpoints[0]}")
mean = {k: np.mean([w[k] for w in weights], axis=0).astype(np.float32) for k in weights[0]}
os.makedirs(out, exist_ok=True)
shutil.copy(os.path.join(checkpoints[0], "config.json"), os.path.join(out, "config.json"))
tmp = os.path.join(out, ".model.safetensors.tmp")
save_file(mean, tmp)
os.replace(tmp, os.path.join(out, "model.safetensors"))
print(f"averaged {len(checkpoints)} checkpoints into {out}")
