#!/usr/bin/python3
"""Writes tiny.onnx and its calibration samples tiny_0.npy, tiny_1.npy (listed in
tiny_dataset.txt): a small graph with every kind of tensor a quantization table describes.

x[1,3,8,8] -> Conv 3x3 (W, B) -> Relu -> MaxPool 2x2 -> m
              m -> Conv 1x1 (W, B) -> d;  Concat(m, d) -> Mul(k = 0.5, an initializer)
              -> Reshape(shape, an int64 initializer) -> Gemm (B[128,10], C[10]) -> out
Deterministic (fixed seeds).  Run with Debian's python3-onnx: /usr/bin/python3 make_tiny.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(7)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


inits = [
    init("w1", (rng.randn(4, 3, 3, 3) * 0.3).astype(np.float32)),
    init("b1", (rng.randn(4) * 0.1).astype(np.float32)),
    init("w2", (rng.randn(4, 4, 1, 1) * 0.5).astype(np.float32)),
    init("b2", (rng.randn(4) * 0.1).astype(np.float32)),
    init("k", np.array(0.5, dtype=np.float32)),
    init("shape", np.array([1, 128], dtype=np.int64)),
    init("wg", (rng.randn(128, 10) * 0.1).astype(np.float32)),
    init("bg", (rng.randn(10) * 0.1).astype(np.float32)),
]
nodes = [
    helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
    helper.make_node("MaxPool", ["r1"], ["m"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Conv", ["m", "w2", "b2"], ["d"], name="conv2"),
    helper.make_node("Concat", ["m", "d"], ["cat"], name="cat1", axis=1),
    helper.make_node("Mul", ["cat", "k"], ["y"], name="mul1"),
    helper.make_node("Reshape", ["y", "shape"], ["z"], name="flat1"),
    helper.make_node("Gemm", ["z", "wg", "bg"], ["out"], name="fc1"),
]
graph = helper.make_graph(
    nodes, "tiny",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
    [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 10])],
    inits)
model = helper.make_model(graph, producer_name="make_tiny.py",
                          opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 7
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "tiny.onnx"))

with open(os.path.join(here, "tiny_dataset.txt"), "w") as f:
    for i in range(2):
        a = (rng.rand(1, 3, 8, 8) * 2 - 0.5).astype(np.float32)
        np.save(os.path.join(here, "tiny_%d.npy" % i), a)
        f.write("tiny_%d.npy\n" % i)
