#!/usr/bin/python3
"""Splits the error of an output of the form map * (MaxPool(map) == map) (an NMS mask, as
M-LSD's `scores`) into the map's own error and the mask's flips.

  mask_split.py FLOAT_DIR QUANT_DIR [N]

FLOAT_DIR and QUANT_DIR are `qinfer --dump-all --format npy` runs (float, and --dtype
quantized) over the same N samples (default 8); the map is the one Sigmoid layer's output,
the mask the one Equal layer's.  Prints the mean cosine of the map, the mask pixels that
differ per sample, and the mean cosine of the output with the float run's mask applied to
both (the output's error without the flips).  Exit status 0 ok, 1 bad input, 2 usage."""
import glob
import os
import sys

import numpy as np


def die(code, msg):
    sys.stderr.write(f'mask_split: {msg}\n')
    sys.exit(code)


if len(sys.argv) not in (3, 4):
    die(2, 'usage: mask_split.py FLOAT_DIR QUANT_DIR [N]')
fdir, qdir = sys.argv[1:3]
n = int(sys.argv[3]) if len(sys.argv) == 4 else 8


def one(d, i, op):
    f = glob.glob(os.path.join(glob.escape(d), f'iter_{i}_{op}_*.npy'))
    if len(f) != 1:
        die(1, f"{d}: {len(f)} dumps of a {op} layer for sample {i} (want exactly one)")
    return np.load(f[0])


def cos(a, b):
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


cm, flips, cout = [], [], []
for i in range(n):
    fm, qm = (one(d, i, 'Sigmoid').astype(np.float64) for d in (fdir, qdir))
    fk, qk = (one(d, i, 'Equal').astype(bool) for d in (fdir, qdir))
    if fm.size != qm.size or fk.size != fm.size or qk.size != fk.size:
        die(1, f'sample {i}: the map and the mask differ in size')
    cm.append(cos(fm, qm))
    flips.append(int((fk != qk).sum()))
    k = fk.reshape(-1)
    cout.append(cos(fm.reshape(-1) * k, qm.reshape(-1) * k))
print(f'map cosine mean {np.mean(cm):.6f} min {min(cm):.6f}')
print(f'mask pixels differing per sample (of {fk.size}): {" ".join(map(str, flips))}')
print(f'output cosine with the float mask on both: mean {np.mean(cout):.6f}')
