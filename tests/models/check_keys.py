#!/usr/bin/python3
"""Checks that an ONNX model has the Acuity-compatible layer keys '<layer>_<uid>' listed in a key file, using
qpipe's naming and breadth-first uid rule; prints the missing keys and exits 1 if any (--list prints all keys).

usage: check_keys.py MODEL.onnx [KEYS.txt] [--list]   (KEYS.txt defaults to seed_keys.txt beside this script)
"""
import os
import sys
from collections import deque

import onnx

WEIGHT_PORTS = {'Conv': {1, 2}}                   # constants here are weights, never layers
PARAM_PORTS = {'Reshape': {1}, 'Slice': {1, 2, 3, 4}, 'Resize': {1, 2, 3}}   # Constant-node values absorbed


def layer_name(n):
    # The rule names a layer by its node; for unnamed nodes (tf2onnx's Pad and Split helpers in BlazeFace
    # and M-LSD) this checker falls back to the first output's name.
    return f'{n.op_type}_{n.name or n.output[0]}'


def layer_keys(model):
    g = model.graph
    inits = {t.name for t in g.initializer}
    const_out = {n.output[0] for n in g.node if n.op_type == 'Constant'}
    producer = {i.name: (i.name, 0) for i in g.input if i.name not in inits}
    for n in g.node:
        if n.op_type != 'Constant':
            for k, o in enumerate(n.output):
                producer[o] = (layer_name(n), k)
    inputs = {}                                       # layer -> its input layers, in input order
    for n in g.node:
        if n.op_type == 'Constant':
            continue
        ins = []
        for port, name in enumerate(n.input):
            if not name or port in WEIGHT_PORTS.get(n.op_type, ()):
                continue
            if name in inits or name in const_out:
                if name in const_out and port in PARAM_PORTS.get(n.op_type, ()):
                    continue
                ins.append(f'Initializer_{name}')
            else:
                ins.append(producer[name][0])
        inputs[layer_name(n)] = ins
    uid, queue = {}, deque()
    for o in g.output:
        layer, k = producer[o.name]
        attach = f'attach_{layer}/out{k}'
        inputs[attach] = [layer]
        uid[attach] = len(uid)
        queue.append(attach)
    while queue:
        for src in inputs.get(queue.popleft(), []):
            if src not in uid:
                uid[src] = len(uid)
                queue.append(src)
    return [f'{layer}_{u}' for layer, u in uid.items()]


def main():
    args = [a for a in sys.argv[1:] if a != '--list']
    if len(args) not in (1, 2):
        sys.exit('usage: check_keys.py MODEL.onnx [KEYS.txt] [--list]')
    keyfile = args[1] if len(args) == 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         'seed_keys.txt')
    keys = layer_keys(onnx.load(args[0]))
    if '--list' in sys.argv:
        print('\n'.join(keys))
    want = [line.strip() for line in open(keyfile) if line.strip()]
    missing = [k for k in want if k not in set(keys)]
    for k in missing:
        print(f'missing: {k}')
    print(f'{len(want) - len(missing)}/{len(want)} keys found ({len(keys)} layers)')
    sys.exit(1 if missing else 0)


if __name__ == '__main__':
    main()
