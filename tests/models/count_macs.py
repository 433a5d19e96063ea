#!/usr/bin/env python3
# MACs of an ONNX model counted from its own shapes (onnx shape inference), independently of
# qpipe: the reference of tests/profile.bats.  usage: count_macs.py MODEL.onnx N,C,H,W
import sys, onnx
from onnx import shape_inference
m = onnx.load(sys.argv[1])
size = [int(x) for x in sys.argv[2].split(",")]
for i in m.graph.input[:1]:
    for d, v in zip(i.type.tensor_type.shape.dim, size):
        d.ClearField("dim_param"); d.dim_value = v
g = shape_inference.infer_shapes(m).graph
shape = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in list(g.value_info) + list(g.output) + list(g.input)}
shape.update({i.name: list(i.dims) for i in g.initializer})
shape.update({n.output[0]: list(n.attribute[0].t.dims) for n in g.node if n.op_type == "Constant"})
def prod(l):
    p = 1
    for x in l: p *= x
    return p
macs = 0
for n in g.node:
    if n.op_type == "Conv":            # output elements x C/group x kernel (W's dims after the first)
        macs += prod(shape[n.output[0]]) * prod(shape[n.input[1]][1:])
    elif n.op_type == "ConvTranspose": # input elements x M/group x kernel
        macs += prod(shape[n.input[0]]) * prod(shape[n.input[1]][1:])
    elif n.op_type == "MatMul":        # output elements x the inner dimension
        b = shape[n.input[1]]          # a constant B [.., K, N]; A's shape may be unknown (batch 1)
        out = shape.get(n.output[0]) or b[-1:]
        macs += prod(out) * b[-2]
    elif n.op_type == "Gemm":
        a = shape[n.input[0]]
        t = [x.i for x in n.attribute if x.name == "transA"]
        macs += prod(shape[n.output[0]]) * (a[0] if t and t[0] else a[1])
print(macs)
