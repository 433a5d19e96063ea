#!/usr/bin/python3
"""Edits the scales of a dialect-2 .quantize table (as qtable -q writes it) for scale experiments:
--pow2 rounds each chosen scale up to a power of two (int16: the step a DFP fl would give), with
--clip-within F it rounds an activation's (key ending :out0) down instead when its max|x| is less than F
above a power of two (one bit won, the values above clipped); --times K multiplies it by K. Bias scales are dropped (qtable --read re-derives them as s_in * s_w).
usage: scale_edit.py (--pow2 [--clip-within F] | --times K) [--keys REGEX] IN.quantize OUT.quantize
(prints the count of scales changed)"""
import argparse, math, re, sys

ap = argparse.ArgumentParser()
g = ap.add_mutually_exclusive_group(required=True)
g.add_argument("--pow2", action="store_true")
g.add_argument("--times", type=float)
ap.add_argument("--clip-within", type=float, default=0, help="with --pow2: e.g. 0.1")
ap.add_argument("--keys", default=".", help="regex on the quoted key, e.g. ':out0$' (default: every key)")
ap.add_argument("src")
ap.add_argument("dst")
a = ap.parse_args()
out, key, n = [], None, 0
for line in open(a.src, encoding="utf-8").read().split("\n"):
    m = re.match(r"  '(@[^']+)':", line)
    if m:
        key = m.group(1)
    m = re.match(r"(\s+scale: )(\S+)$", line)
    if m and key:
        if key.endswith(":bias"):
            continue
        if re.search(a.keys, key):
            s = float(m.group(2))
            if a.pow2:   # DFP: fl = 15 - ceil(log2 max)
                e = math.ceil(math.log2(s * 32767))
                e -= 1 if key.endswith(":out0") and s * 32767 < (1 + a.clip_within) * 2.0 ** (e - 1) else 0
                s = 2.0 ** (e - 15)
            else:
                s *= a.times
            line, n = m.group(1) + repr(s), n + 1
    out.append(line)
open(a.dst, "w", encoding="utf-8").write("\n".join(out))
print(n)
