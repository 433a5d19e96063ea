#!/usr/bin/python3
"""An independent fake-quant copy of an ONNX model from a qpipe .quantize table (dialect 2),
to run in onnxruntime (ort_run.js) and compare with qinfer --dtype quantized: built from the
table alone, with none of qpipe's integer code.

  qdq_copy.py MODEL.onnx TABLE.quantize OUT.onnx [--no-act] [--no-w] [--wpc16] [--skip=OP,...] [--all]

Every node output with a u8/i8/i16 entry becomes (clip(round(x / s) + zp) - zp) * s (ONNX Div,
Round (half to even), Add, Clip, Sub, Mul: QuantizeLinear has no int16 before opset 21);
Conv/ConvTranspose/Gemm weights are fake-quantized in numpy with the table's per-tensor or
per-channel scales, biases at s_x * s_w.  Conv -> BatchNormalization pairs are folded first,
as onnx2ir does.  Constant operands of elementwise ops stay float (qpipe's table rule).
  --no-act      leave the activations float (weights only)
  --no-w        leave the weights and biases float (activations only)
  --wpc16       int16 weights per output channel (max|w_c| / 32767) instead of the table's
  --skip=OPS    leave the outputs of these op types (or node names) float
  --all         also make every fake-quantized tensor a graph output, and write
                OUT.onnx.map.json mapping its file name (as ort_run.js writes it) to the key
  --single=DIR  layer by layer: the readers of each fake-quantized tensor read instead the
                simulator's own value of it, from DIR (qinfer --dtype quantized --dump-all
                --format npy, iteration 0), held as a constant, so every layer starts from
                the simulator's inputs and a difference cannot travel (use with --all)
Needs python3-onnx, python3-numpy, python3-yaml.  Exit status 0 ok, 1 bad input, 2 usage."""
import json
import sys

import numpy as np
import onnx
import yaml
from onnx import helper, numpy_helper, TensorProto


def die(code, msg):
    sys.stderr.write(f'qdq_copy: {msg}\n')
    sys.exit(code)


args = [a for a in sys.argv[1:] if not a.startswith('--')]
flags = [a for a in sys.argv[1:] if a.startswith('--')]
known = ('--no-act', '--no-w', '--wpc16', '--all')
for f in flags:
    if f not in known and not f.startswith('--skip=') and not f.startswith('--single='):
        die(2, f"unknown option '{f}'")
if len(args) != 3:
    die(2, 'usage: qdq_copy.py MODEL.onnx TABLE.quantize OUT.onnx [options]')
src, tab, out = args
skip = set(sum((f[7:].split(',') for f in flags if f.startswith('--skip=')), []))
single = ([f[9:] for f in flags if f.startswith('--single=')] or [None])[-1]
try:
    m = onnx.load(src)
    q = yaml.safe_load(open(tab))['quantize_parameters']
except Exception as e:  # noqa: BLE001 - any unreadable input is a bad input
    die(1, f'{src} / {tab}: {e}')
g = m.graph
consts = {n.output[0]: n for n in g.node if n.op_type == 'Constant'}
inits = {i.name: i for i in g.initializer}


def getw(name):
    if name in consts:
        return numpy_helper.to_array(consts[name].attribute[0].t)
    return numpy_helper.to_array(inits[name])


def setw(name, a):
    t = numpy_helper.from_array(a.astype(np.float32), name)
    (consts[name].attribute[0].t if name in consts else inits[name]).CopyFrom(t)


# Conv -> BatchNormalization, as onnx2ir folds it (the table has the folded conv's entries)
users = {}
for n in g.node:
    for x in n.input:
        users.setdefault(x, []).append(n)
for n in list(g.node):
    if n.op_type != 'Conv' or len(users.get(n.output[0], [])) != 1:
        continue
    b = users[n.output[0]][0]
    if b.op_type != 'BatchNormalization':
        continue
    eps = ([a.f for a in b.attribute if a.name == 'epsilon'] or [1e-5])[0]
    sc, bb, mean, var = (getw(x).astype(np.float64) for x in b.input[1:5])
    a = sc / np.sqrt(var + eps)
    w = getw(n.input[1]).astype(np.float64)
    bias = getw(n.input[2]).astype(np.float64) if len(n.input) > 2 and n.input[2] else np.zeros(w.shape[0])
    wn, bn = n.name + '_qdq_w', n.name + '_qdq_b'
    for name, v in ((wn, w * a.reshape(-1, 1, 1, 1)), (bn, (bias - mean) * a + bb)):
        g.initializer.append(numpy_helper.from_array(v.astype(np.float32), name))
        inits[name] = g.initializer[-1]
    del n.input[1:]
    n.input.extend([wn, bn])
    n.output[0] = b.output[0]
    g.node.remove(b)

byname = {n.name: n for n in g.node}
inputs = {i.name for i in g.input}
QRANGE = {'i8': (-128, 127), 'u8': (0, 255), 'i16': (-32768, 32767), 'i32': (-2**31, 2**31 - 1),
          'i64': (-2**63, 2**63 - 1)}


def split_key(key):
    """'@Add_p2o.Add.14_292:out0' -> ('Add', 'p2o.Add.14', 'out0'); a graph input is
    '@<input name>_<uid>:out0' -> (None, name, 'out0')."""
    k, port = key[1:].rsplit(':', 1)
    base = k.rsplit('_', 1)[0]
    if base in inputs:
        return None, base, port
    op, rest = k.split('_', 1)
    return op, rest.rsplit('_', 1)[0], port


def scale_of(e):
    return e['scale'] if 'scale' in e else 2.0 ** -e['fl']


new_nodes, renames, act_scale, keymap, missing = [], {}, {}, {}, []
for key, e in q.items():
    op, nn, port = split_key(key)
    if port != 'out0' or e.get('qtype') not in ('u8', 'i8', 'i16'):
        continue
    if op is None:
        tname = nn
    elif nn in byname:
        tname = byname[nn].output[0]
    else:
        missing.append(key)  # constants (Initializer_) and layers onnx2ir made
        continue
    act_scale[tname] = scale_of(e)
    keymap[tname] = key
    if '--no-act' in flags or op in skip or nn in skip:
        continue
    lo, hi = QRANGE[e['qtype']]
    p = tname + '_qdq'
    for suf, v in (('s', scale_of(e)), ('z', e.get('zero_point', 0)), ('lo', lo), ('hi', hi)):
        g.initializer.append(numpy_helper.from_array(np.array(v, np.float32), p + suf))
    new_nodes += [helper.make_node('Div', [tname, p + 's'], [p + '1']),
                  helper.make_node('Round', [p + '1'], [p + '2']),
                  helper.make_node('Add', [p + '2', p + 'z'], [p + '3']),
                  helper.make_node('Clip', [p + '3', p + 'lo', p + 'hi'], [p + '4']),
                  helper.make_node('Sub', [p + '4', p + 'z'], [p + '5']),
                  helper.make_node('Mul', [p + '5', p + 's'], [p])]
    renames[tname] = p

for key, e in q.items():
    op, nn, port = split_key(key)
    if port != 'weight' or nn not in byname or '--no-w' in flags:
        continue
    n = byname[nn]
    w = getw(n.input[1])
    s = np.array(scale_of(e), np.float64).reshape(-1)
    ax = e.get('channel_dim', 0)
    if '--wpc16' in flags and e['qtype'] == 'i16':
        ax = 1 if n.op_type == 'ConvTranspose' else 0
        s = np.abs(np.moveaxis(w, ax, 0)).reshape(w.shape[ax], -1).max(1).astype(np.float64) / 32767
        s[s == 0] = 1.0
    shape = [1] * w.ndim
    if len(s) > 1:
        if w.shape[ax] != len(s):
            die(1, f"{tab}: '{key}' has {len(s)} scales for axis {ax} of a weight {list(w.shape)}")
        shape[ax] = len(s)
    lo, hi = QRANGE[e['qtype']]
    setw(n.input[1], np.clip(np.round(w / s.reshape(shape)), lo, hi) * s.reshape(shape))
    if len(n.input) > 2 and n.input[2]:
        if n.input[0] not in act_scale:
            die(1, f"{tab}: no entry for the input of '{key}' to scale its bias")
        bs = act_scale[n.input[0]] * s
        lo, hi = QRANGE['i64' if e['qtype'] == 'i16' else 'i32']
        setw(n.input[2], np.clip(np.round(getw(n.input[2]) / bs), lo, hi) * bs)

if single is not None:  # readers take the simulator's value of the tensor instead
    import glob
    import os
    for tname in list(renames):
        k = keymap[tname][1:].rsplit(':', 1)[0]
        files = glob.glob(os.path.join(glob.escape(single), 'iter_0_' + glob.escape(k.replace('/', '_')) + '_out0_*.npy'))
        if len(files) != 1:
            die(1, f"{single}: {len(files)} dumps of '{keymap[tname]}' (want qinfer --dump-all --format npy)")
        g.initializer.append(numpy_helper.from_array(np.load(files[0]).astype(np.float32), tname + '_sim'))
        for n in g.node:
            for i, x in enumerate(n.input):
                if x == tname:
                    n.input[i] = tname + '_sim'
else:
    for n in g.node:
        for i, x in enumerate(n.input):
            if x in renames:
                n.input[i] = renames[x]
g.node.extend(new_nodes)
for o in g.output:  # the outputs read their fake-quantized copy, under the same name
    if o.name in renames:
        src_name = renames[o.name]
        for n in g.node:
            for i, x in enumerate(n.output):
                if x == o.name:
                    n.output[i] = o.name + '_float'
            for i, x in enumerate(n.input):
                if x == o.name:
                    n.input[i] = o.name + '_float'
        g.node.append(helper.make_node('Identity', [src_name], [o.name]))
if '--all' in flags:
    mp = {}
    for t, k in keymap.items():
        if t in renames:
            g.output.append(helper.make_tensor_value_info(renames[t], TensorProto.FLOAT, None))
            mp[renames[t].replace('/', '_').replace(':', '_')] = k
    json.dump(mp, open(out + '.map.json', 'w'), indent=0, sort_keys=True)

# topological order (the new nodes were appended)
prod = {o: n for n in g.node for o in n.output}
order, seen = [], set()


def visit(n):
    stack = [(n, False)]
    while stack:
        x, done = stack.pop()
        if done:
            order.append(x)
            continue
        if id(x) in seen:
            continue
        seen.add(id(x))
        stack.append((x, True))
        stack.extend((prod[i], False) for i in x.input if i in prod and id(prod[i]) not in seen)


for n in list(g.node):
    visit(n)
del g.node[:]
g.node.extend(order)
onnx.save(m, out)
if missing:
    sys.stderr.write(f'qdq_copy: {len(missing)} entries without an ONNX node left as they are '
                     f'(constants, layers onnx2ir made), e.g. {missing[0]}\n')
