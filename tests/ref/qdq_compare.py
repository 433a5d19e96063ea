#!/usr/bin/python3
"""Layer-by-layer comparison of the simulator with the fake-quant copy run with --single.

  qdq_compare.py TABLE.quantize MAP.json ORT_OUTDIR SIM_DUMPDIR

MAP.json is what qdq_copy.py --all wrote; ORT_OUTDIR what ort_run.js wrote for that copy;
SIM_DUMPDIR is qinfer --dtype quantized --dump-all --format npy (iteration 0).  For every
fake-quantized tensor, prints its key, its element count, how many elements differ from the
simulator's and by how many quantization steps at most; the last line is a summary:
'layers N elements E differing D max_steps S worst_fraction F'.  onnxruntime computes in
float32, so an accumulator whose exact requantized value lies within float32's error of a
rounding tie (x.5) can round the other way there: a correct simulator differs in a few
isolated elements by one step; a departing rule differs in many.
Exit status 0 ok, 1 bad input, 2 usage."""
import glob
import json
import os
import sys

import numpy as np
import yaml


def die(code, msg):
    sys.stderr.write(f'qdq_compare: {msg}\n')
    sys.exit(code)


if len(sys.argv) != 5:
    die(2, 'usage: qdq_compare.py TABLE.quantize MAP.json ORT_OUTDIR SIM_DUMPDIR')
tab, mapf, ortdir, simdir = sys.argv[1:]
try:
    q = yaml.safe_load(open(tab))['quantize_parameters']
    mp = json.load(open(mapf))
except Exception as e:  # noqa: BLE001 - any unreadable input is a bad input
    die(1, f'{tab} / {mapf}: {e}')
n_layers = n_el = n_diff = 0
max_steps = 0.0
worst = 0.0
for fname, key in sorted(mp.items(), key=lambda kv: kv[1]):
    e = q[key]
    s = e['scale'] if 'scale' in e else 2.0 ** -e['fl']
    k = key[1:].rsplit(':', 1)[0]
    sims = glob.glob(os.path.join(glob.escape(simdir), 'iter_0_' + glob.escape(k.replace('/', '_')) + '_out0_*.npy'))
    ref = os.path.join(ortdir, fname + '.npy')
    if len(sims) != 1 or not os.path.exists(ref):
        die(1, f"'{key}': {len(sims)} simulator dumps, onnxruntime output {'found' if os.path.exists(ref) else 'missing'}")
    a = np.load(ref).astype(np.float64).ravel()
    b = np.load(sims[0]).astype(np.float64).ravel()
    if a.size != b.size:
        die(1, f"'{key}': {a.size} elements from onnxruntime, {b.size} from the simulator")
    steps = np.abs(a - b) / s
    d = int((steps > 0.5).sum())
    st = float(steps.max()) if a.size else 0.0
    print(f'{key}\t{a.size}\t{d}\t{st:.3f}')
    n_layers += 1
    n_el += a.size
    n_diff += d
    max_steps = max(max_steps, st)
    worst = max(worst, d / a.size if a.size else 0)
print(f'layers {n_layers} elements {n_el} differing {n_diff} max_steps {max_steps:.3f} worst_fraction {worst:.2e}')
