#!/usr/bin/env python3
"""Mean, min and max of metrics over the lines of a scores file written by eval_speakers.sh or eval_valid.sh.

Usage: python3 scripts/summarise_scores.py SCORES.txt METRIC [METRIC ...]   e.g. STOI PESQ-WB "V/UV F1" WER
Each line holds `NAME value` pairs as printed by scripts/eval_vocoder.py; lines without STOI are ignored.
"""
import re
import sys

path, keys = sys.argv[1], sys.argv[2:]
rows = [line for line in open(path) if "STOI" in line]
for key in keys:
    v = [float(re.search(re.escape(key) + r" ([-0-9.]+)", line).group(1)) for line in rows]
    print(f"{key}: mean {sum(v) / len(v):.3f}, min {min(v):.3f}, max {max(v):.3f} over {len(v)} speakers")
