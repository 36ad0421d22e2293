#!/usr/bin/env python3
"""Scores vocoders side by side on the same held-out files: voices (synth vocode) and Griffin-Lim
(synth vocode --vocoder griffin-lim) on the valid split of a speech manifest and on the demo sentence.

Usage:
  python3 scripts/compare_vocoders.py --out DIR --voice "NAME=VOICE_DIR [VOCODE OPTIONS]" [--voice ...] [--griffin-lim]
      [--manifest ../shared/data/speech/MANIFEST-all.tsv] [--seconds 4] [--demo samples/arctic_a0009.wav]
      [--demo-speaker auto] [--unknown-speakers auto] [--seed 1 | --seeds 1 2 3] [--bin .build/release/synth]

For every speaker of the manifest, the reference joins its valid clips (sorted by path, each mixed to mono, resampled
to 16 kHz with librosa and trimmed of leading and trailing silence as training trims it: 40 dB below the peak, 50 ms
kept; 0.25 s of silence between) until --seconds of speech, written to DIR/reference/SPEAKER.wav; each system vocodes that reference (valid files with their own speaker, the
demo sentence with --demo-speaker; with --unknown-speakers auto, a valid file whose speaker a voice does not know
with `--speaker auto`, as a user with a new speaker would, instead of leaving it out) and is scored against it:
  PESQ-WB (ITU-T P.862.2), STOI (Taal et al. 2011), log-mel distance (dB RMS of 10 log10 mel power, 80 bins,
  n_fft 1024, hop 200), F0 RMSE in cents on frames voiced in both and the V/UV error (share of frames whose
  voicing differs), both from librosa.pyin (60-500 Hz, frame 1024, hop 200).
Prints a Markdown table (valid mean over files, and the demo sentence; with --seeds, the mean over seeds and, in
brackets, the range of the per-seed means; when some system rendered fewer valid files, also every system on the files
all of them rendered) and writes DIR/scores.json with every file's figures (with --seeds, per seed).
`--tables-from DIR...` prints that table for earlier runs' scores.json files together, scoring nothing. Needs: pip install pystoi pesq soundfile numpy librosa.
"""
import argparse
import csv
import json
import os
import shlex
import subprocess
import sys

import librosa
import numpy as np
import soundfile as sf
from pesq import pesq
from pystoi import stoi

SR = 16000


# The mels of the log-mel distance (those of scripts/eval_vocoder.py).
MEL = dict(sr=SR, n_fft=1024, hop_length=200, win_length=800, n_mels=80, fmin=50, fmax=7600)


def pitch(x):
    f0, voiced, _ = librosa.pyin(x, fmin=60, fmax=500, sr=SR, frame_length=1024, hop_length=200)
    return f0, voiced


def score(ref, deg):
    n = min(len(ref), len(deg))
    ref, deg = ref[:n], deg[:n]
    out = {"stoi": float(stoi(ref, deg, SR, extended=False))}
    try:
        out["pesq"] = float(pesq(SR, ref, deg, "wb"))
    except Exception:
        out["pesq"] = float("nan")
    m1 = np.log10(np.maximum(librosa.feature.melspectrogram(y=ref, **MEL), 1e-5))
    m2 = np.log10(np.maximum(librosa.feature.melspectrogram(y=deg, **MEL), 1e-5))
    out["mel_db"] = float(10 * np.sqrt(np.mean((m1 - m2) ** 2)))
    f_r, v_r = pitch(ref)
    f_d, v_d = pitch(deg)
    both = v_r & v_d
    out["f0_cents"] = float(np.sqrt(np.mean((1200 * np.log2(f_d[both] / f_r[both])) ** 2))) if both.any() else float("nan")
    out["vuv_error"] = float(np.mean(v_r != v_d))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out")
    ap.add_argument("--tables-from", nargs="+", metavar="DIR",
                    help="print the table of earlier runs' DIR/scores.json together (the same references), scoring nothing")
    ap.add_argument("--voice", action="append", default=[],
                    help="NAME=VOICE_DIR, optionally followed by synth vocode options for that system, in one argument: "
                         "'t07=voices/default --temperature 0.7' (repeatable)")
    ap.add_argument("--griffin-lim", action="store_true")
    ap.add_argument("--manifest", default="../shared/data/speech/MANIFEST-all.tsv")
    ap.add_argument("--seconds", type=float, default=4.0,
                    help="per speaker, valid clips are joined (sorted by path, 0.25 s of silence between) until this long")
    ap.add_argument("--demo", default="samples/arctic_a0009.wav")
    ap.add_argument("--demo-speaker", default="auto")
    ap.add_argument("--unknown-speakers", choices=["skip", "auto"], default="skip",
                    help="a valid speaker a voice does not know: leave the file out (skip) or vocode it with --speaker auto")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--seeds", nargs="+", default=None,
                    help="several sampling seeds (overrides --seed): each system vocodes every file with each; the table "
                         "gives the mean over seeds and, in brackets, the lowest and highest of the per-seed means")
    ap.add_argument("--bin", default=".build/release/synth")
    a = ap.parse_args()
    if a.tables_from:
        results = {}
        for d in a.tables_from:
            with open(os.path.join(d, "scores.json")) as f:
                for name, data in json.load(f).items():
                    # One-seed runs store file -> figures; several seeds, seed -> file -> figures.
                    per_seed = data if all(isinstance(v, dict) and "stoi" not in v for v in data.values()) else {a.seed: data}
                    results[name] = per_seed
        seeds = list(next(iter(results.values())))
        n_valid = len({k for per_seed in results.values() for r in per_seed.values() for k in r if k != "demo"})
        print_table(results, seeds, n_valid)
        return
    if not a.out:
        ap.error("give --out (or --tables-from)")
    voices = []  # (name, voice folder, extra vocode options)
    for v in a.voice:
        head, *extra = shlex.split(v)
        name, folder = head.split("=", 1)
        voices.append((name, folder, extra))
    os.makedirs(os.path.join(a.out, "reference"), exist_ok=True)

    root = os.path.dirname(os.path.abspath(a.manifest))
    clips = {}
    with open(a.manifest, newline="") as f:
        for row in sorted(csv.DictReader(f, delimiter="\t"), key=lambda r: r["path"]):
            if row.get("split") == "valid":
                clips.setdefault(row["speaker"], []).append(row["path"])
    files = []  # (name, reference path, speaker or None for the demo)
    for speaker in sorted(clips):
        ref = os.path.join(a.out, "reference", speaker + ".wav")
        if not os.path.exists(ref):
            parts, total = [], 0
            for p in clips[speaker]:
                y, _ = librosa.load(os.path.join(root, p), sr=SR, mono=True)
                # Leading and trailing silence trimmed as training trims it (40 dB below the peak, 50 ms kept).
                _, (lo, hi) = librosa.effects.trim(y, top_db=40, frame_length=800, hop_length=200)
                parts += [y[max(0, lo - 800):hi + 800], np.zeros(SR // 4, dtype=np.float32)]
                total += hi - lo
                if total >= a.seconds * SR:
                    break
            sf.write(ref, np.concatenate(parts[:-1]), SR, subtype="PCM_16")
        files.append((speaker, ref, speaker))
    if a.demo:
        files.append(("demo", a.demo, None))

    systems = [(n, ["--voice", d] + extra) for n, d, extra in voices]
    known = {n: set(json.load(open(os.path.join(d, "config.json"))).get("speakers", [])) if os.path.isdir(d) else None
             for n, d, _ in voices}
    if a.griffin_lim:
        systems.append(("griffin-lim", ["--voice", voices[0][1] if voices else "default", "--vocoder", "griffin-lim"]))
    seeds = a.seeds or [a.seed]
    results = {}  # system -> seed -> file -> figures
    for sys_name, args in systems:
        for seed in seeds:
            # One seed keeps the layout of earlier runs (DIR/SYSTEM/FILE.wav); several get a folder each.
            folder = os.path.join(a.out, sys_name) if len(seeds) == 1 else os.path.join(a.out, sys_name, "seed" + seed)
            os.makedirs(folder, exist_ok=True)
            for name, ref, speaker in files:
                out = os.path.join(folder, name + ".wav")
                spk = speaker or a.demo_speaker
                if speaker and a.unknown_speakers == "auto" and known.get(sys_name) is not None and speaker not in known[sys_name]:
                    spk = "auto"
                cmd = [a.bin, "vocode", ref, "-o", out, "--seed", seed] + args
                if "--vocoder" not in args:
                    cmd += ["--speaker", spk]
                if not os.path.exists(out):
                    r = subprocess.run(cmd, capture_output=True, text=True)
                    if r.returncode != 0:
                        print(f"{sys_name} {name}: {r.stderr.strip()}", file=sys.stderr)
                        continue
                x, _ = librosa.load(ref, sr=SR, mono=True)
                y, _ = sf.read(out, dtype="float32")
                figures = score(x, y)
                results.setdefault(sys_name, {}).setdefault(seed, {})[name] = figures
                print(f"{sys_name} seed {seed} {name} {figures}", file=sys.stderr)
    with open(os.path.join(a.out, "scores.json"), "w") as f:
        json.dump(results if len(seeds) > 1 else {k: v[seeds[0]] for k, v in results.items()}, f, indent=1)

    print_table(results, seeds, sum(1 for f in files if f[2] is not None))

def print_table(results, seeds, n_valid):
    """The Markdown table of `results` (system -> seed -> file -> figures): per system the valid files it scored and
    the demo sentence; when the systems scored different valid files, also each system on the files all of them scored
    (a voice that does not know a speaker renders fewer), so that the valid figures can be compared."""
    keys = [("pesq", "PESQ-WB", "%.2f"), ("stoi", "STOI", "%.3f"), ("mel_db", "log-mel dist. (dB)", "%.2f"),
            ("f0_cents", "F0 RMSE (cents)", "%.0f"), ("vuv_error", "V/UV error", "%.1f %%")]
    valid = {name: {k for k in next(iter(per_seed.values())) if k != "demo"} for name, per_seed in results.items()}
    common = set.intersection(*valid.values()) if valid else set()
    partial = any(v != common for v in valid.values())
    print(f"| system | set | " + " | ".join(k[1] for k in keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for sys_name, per_seed in results.items():
        first = next(iter(per_seed.values()))
        rows = [(f"valid ({len(valid[sys_name])} of {n_valid} files)", lambda r: [v for k, v in r.items() if k != "demo"])]
        if partial:
            rows.append((f"valid, the {len(common)} files every system scored",
                         lambda r: [v for k, v in r.items() if k in common]))
        if "demo" in first:
            rows.append(("demo sentence", lambda r: [r["demo"]] if "demo" in r else []))
        if len(seeds) > 1:
            rows = [(f"{label}, seeds {' '.join(seeds)}", pick) for label, pick in rows]
        for label, pick in rows:
            cells = []
            for key, _, fmt in keys:
                scale = 100 if key == "vuv_error" else 1
                means = [scale * float(np.nanmean([v[key] for v in pick(r)])) if pick(r) else float("nan")
                         for r in per_seed.values()]
                cell = fmt % float(np.mean(means))
                if len(means) > 1:
                    cell += " (" + (fmt % min(means)).replace(" %", "") + "-" + (fmt % max(means)).replace(" %", "") + ")"
                cells.append(cell)
            print(f"| {sys_name} | {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
