#!/usr/bin/env python3
"""How real the words of a text model's samples are, per sampling setting, over several seeds.

Usage:
  python3 scripts/text_samples.py [--bin .build/release/synth] [--model text] [--data ../shared/data/text]
      [--prompt "And it came to pass"] [--tokens 400] [--seeds 1 2 ... 10] --setting "NAME=OPTIONS" [--setting ...]

For every setting (NAME, which has no "=", then the `synth text generate` options as one string; an empty string is the
model's own defaults), runs `synth text generate --no-echo --prompt P --tokens N --seed S OPTIONS` for each seed and reports over all
its continuations:
  real words  share of words (maximal runs of ASCII letters and apostrophes, case kept) that occur as words in the
              train text (DATA/*.train.txt): a misspelt or invented word does not;
  distinct-2  distinct word bigrams / word bigrams (within each sample, then the mean): 1 means no bigram repeats,
              low values mean loops;
  words       the mean number of words per sample.
With --reference, the same figures for as many windows of the valid text itself, of --tokens bytes each.
Prints a Markdown table. Needs Python 3 only.
"""
import argparse
import glob
import os
import re
import shlex
import subprocess

WORD = re.compile(r"[A-Za-z']+")


def words(text):
    return [w.strip("'") for w in WORD.findall(text) if w.strip("'")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=".build/release/synth")
    ap.add_argument("--model", default="text")
    ap.add_argument("--data", default="../shared/data/text")
    ap.add_argument("--prompt", default="And it came to pass")
    ap.add_argument("--tokens", type=int, default=400)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 11)))
    ap.add_argument("--setting", action="append", default=[], help='"NAME=OPTIONS"')
    ap.add_argument("--reference", action="store_true",
                    help="also score windows of --tokens bytes of the valid text (DATA/*.valid.txt), evenly spaced, one per seed")
    a = ap.parse_args()

    vocab = set()
    for path in sorted(glob.glob(os.path.join(a.data, "*.train.txt"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            vocab.update(words(f.read()))
    if not vocab:
        raise SystemExit(f"no *.train.txt words under {a.data}")

    if not a.setting and not a.reference:
        raise SystemExit("give --setting NAME=OPTIONS (one or more) or --reference")

    def row(name, options, samples):
        real = total = 0
        distinct = []
        for text in samples:
            ws = words(text)
            real += sum(w in vocab for w in ws)
            total += len(ws)
            bigrams = list(zip(ws, ws[1:]))
            distinct.append(len(set(bigrams)) / max(1, len(bigrams)))
        print(f"| {name} | {options} | {100 * real / max(1, total):.1f} % | "
              f"{sum(distinct) / len(distinct):.3f} | {total / len(samples):.0f} |", flush=True)

    print("| setting | options | real words | distinct-2 | words per sample |")
    print("|---|---|---|---|---|")
    for setting in a.setting:
        name, _, options = setting.partition("=")
        samples = []
        for seed in a.seeds:
            cmd = [a.bin, "text", "generate", "--model", a.model, "--no-echo", "--prompt", a.prompt,
                   "--tokens", str(a.tokens), "--seed", str(seed)] + shlex.split(options)
            r = subprocess.run(cmd, capture_output=True)
            if r.returncode != 0:
                raise SystemExit(f"failed ({r.returncode}): {shlex.join(cmd)}\n{r.stderr.decode(errors='replace')}")
            samples.append(r.stdout.decode("utf-8", errors="replace"))
        row(name, f"`{options or '(defaults)'}`", samples)
    if a.reference:
        valid = b"".join(open(p, "rb").read() for p in sorted(glob.glob(os.path.join(a.data, "*.valid.txt"))))
        if len(valid) < a.tokens:
            raise SystemExit(f"the valid text under {a.data} is shorter than --tokens")
        step = (len(valid) - a.tokens) // max(1, len(a.seeds))
        windows = [valid[i * step:i * step + a.tokens].decode("utf-8", errors="replace") for i in range(len(a.seeds))]
        row("the valid text", f"{len(windows)} windows of {a.tokens} bytes", windows)


if __name__ == "__main__":
    main()
