#!/usr/bin/env python3
"""Key of a generated continuation vs its prime (Krumhansl-Schmuckler key finding, duration-weighted
pitch classes), read with mido, independently of synth's MIDI code.

usage: music_key_check.py OUT.mid PRIME_SECONDS
Prints the key of the notes starting before PRIME_SECONDS (the prime), of the notes after it (the
continuation), and the share of continuation note time inside the prime key's diatonic scale."""
import sys
import mido
import numpy as np

MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def notes(path):
    t, on, out = 0.0, {}, []
    for msg in mido.MidiFile(path):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            on[(msg.channel, msg.note)] = t
        elif msg.type in ("note_off", "note_on") and (msg.channel, msg.note) in on:
            out.append((on.pop((msg.channel, msg.note)), t, msg.note))
    return out


def key(ns):
    h = np.zeros(12)
    for s, e, p in ns:
        h[p % 12] += e - s
    best = max(((np.corrcoef(h, np.roll(prof, k))[0, 1], k, mode) for mode, prof in (("major", MAJOR), ("minor", MINOR))
                for k in range(12)))
    return best[1], best[2], h


def main():
    path, cut = sys.argv[1], float(sys.argv[2])
    ns = notes(path)
    prime = [n for n in ns if n[0] < cut]
    cont = [n for n in ns if n[0] >= cut]
    (pk, pm, _), (ck, cm, ch) = key(prime), key(cont)
    scale = [0, 2, 4, 5, 7, 9, 11] if pm == "major" else [0, 2, 3, 5, 7, 8, 10, 11]  # harmonic + natural minor
    inside = sum(ch[(pk + d) % 12] for d in scale) / max(ch.sum(), 1e-9)
    dur = max((e for _, e, _ in cont), default=cut) - cut
    print(f"prime: {len(prime)} notes, key {NAMES[pk]} {pm}; continuation: {len(cont)} notes over {dur:.1f} s, "
          f"key {NAMES[ck]} {cm}; {100 * inside:.0f}% of continuation note time in the prime's scale")


if __name__ == "__main__":
    main()
