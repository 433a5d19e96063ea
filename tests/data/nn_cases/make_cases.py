#!/usr/bin/python3
"""Makes the nn op family's extra conformance cases: single-node ONNX models in the layout of
ONNX's backend node tests (model.onnx, test_data_set_0/input_N.pb, output_N.pb), with expected
outputs from onnxruntime-node (tests/ref/ort_run.js).  They cover what the ONNX node tests
leave out: the real conv paths (1x1, im2col, depthwise, groups, dilation, asymmetric pads at
realistic channel counts), ConvTranspose with groups, pools with ceil_mode, batched MatMul,
Gemm epilogues, and the opset-dependent Softmax/Reduce forms.

usage: /usr/bin/python3 tests/data/nn_cases/make_cases.py [OUTDIR]   (default: this directory)
Needs Debian's python3-onnx and numpy, node, and tests/ref/install.sh done."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
ORT_RUN = os.path.join(ROOT, 'tests', 'ref', 'ort_run.js')


def case(name, op, inputs, attrs=None, opset=13, consts=None, n_out=1):
    """inputs: list of (name, array) fed as graph inputs; consts: (name, array) initializers."""
    return dict(name=name, op=op, inputs=inputs, attrs=attrs or {}, opset=opset, consts=consts or [],
                n_out=n_out)


def r(rng, *shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def cases():
    g = np.random.default_rng(20261125)
    c = []
    conv = lambda name, x, w, b=None, opset=13, **a: c.append(case(
        name, 'Conv', [('x', x), ('W', w)] + ([('B', b)] if b is not None else []), a, opset))
    conv('conv_3x3_im2col', r(g, 1, 16, 20, 20), r(g, 24, 16, 3, 3), r(g, 24), pads=[1, 1, 1, 1])
    conv('conv_1x1_gemm', r(g, 1, 32, 15, 17), r(g, 48, 32, 1, 1), r(g, 48))
    conv('conv_1x1_stride2', r(g, 1, 8, 9, 11), r(g, 12, 8, 1, 1), strides=[2, 2])
    conv('conv_dw_3x3', r(g, 1, 24, 19, 21), r(g, 24, 1, 3, 3), r(g, 24), group=24, pads=[1, 1, 1, 1])
    conv('conv_dw_5x5_s2_asym', r(g, 1, 16, 23, 22), r(g, 16, 1, 5, 5), r(g, 16), group=16, strides=[2, 2],
         pads=[1, 1, 2, 2])
    conv('conv_dw_3x3_s2_pad0011', r(g, 1, 12, 16, 16), r(g, 12, 1, 3, 3), group=12, strides=[2, 2],
         pads=[0, 0, 1, 1])
    conv('conv_dw_s2x1', r(g, 1, 8, 12, 40), r(g, 8, 1, 3, 3), group=8, strides=[2, 1], pads=[1, 1, 1, 1])
    conv('conv_dw_multiplier2', r(g, 1, 8, 10, 13), r(g, 16, 1, 3, 3), r(g, 16), group=8, pads=[1, 1, 1, 1])
    conv('conv_group4_s2', r(g, 2, 16, 13, 15), r(g, 32, 4, 3, 3), r(g, 32), group=4, strides=[2, 2],
         pads=[1, 1, 1, 1])
    conv('conv_dilated5', r(g, 1, 8, 30, 30), r(g, 8, 8, 3, 3), r(g, 8), dilations=[5, 5], pads=[5, 5, 5, 5])
    conv('conv_6x6_s2_stem', r(g, 1, 3, 40, 40), r(g, 16, 3, 6, 6), r(g, 16), strides=[2, 2], pads=[2, 2, 2, 2])
    conv('conv_5x5_s2_pad1122', r(g, 1, 3, 32, 32), r(g, 8, 3, 5, 5), r(g, 8), strides=[2, 2], pads=[1, 1, 2, 2])
    conv('conv_same_upper_k4s3', r(g, 1, 5, 17, 16), r(g, 7, 5, 4, 4), r(g, 7), auto_pad='SAME_UPPER',
         strides=[3, 3])
    conv('conv_same_lower_k2', r(g, 1, 5, 9, 8), r(g, 6, 5, 2, 2), auto_pad='SAME_LOWER')
    conv('conv_valid_k3s2', r(g, 1, 4, 11, 12), r(g, 6, 4, 3, 3), auto_pad='VALID', strides=[2, 2])
    conv('conv_1d_group_dil', r(g, 2, 6, 30), r(g, 8, 3, 5), r(g, 8), group=2, strides=[2], pads=[1, 2],
         dilations=[2])
    conv('conv_opset11_nobias_big_k', r(g, 1, 2, 9, 9), r(g, 3, 2, 7, 7), opset=11, pads=[3, 3, 3, 3])

    ct = lambda name, x, w, b=None, opset=13, **a: c.append(case(
        name, 'ConvTranspose', [('x', x), ('W', w)] + ([('B', b)] if b is not None else []), a, opset))
    ct('convt_k2s2_det', r(g, 1, 16, 10, 10), r(g, 16, 8, 2, 2), strides=[2, 2])
    ct('convt_group2_pad_opad', r(g, 1, 6, 7, 8), r(g, 6, 2, 3, 3), r(g, 4), group=2, strides=[2, 2],
       pads=[1, 1, 1, 1], output_padding=[1, 1])
    ct('convt_1d', r(g, 2, 4, 9), r(g, 4, 3, 4), r(g, 3), strides=[3], pads=[1, 0])
    ct('convt_same_lower', r(g, 1, 3, 5, 6), r(g, 3, 2, 3, 3), auto_pad='SAME_LOWER', strides=[2, 2])
    ct('convt_same_upper_k4', r(g, 1, 3, 5, 6), r(g, 3, 2, 4, 4), auto_pad='SAME_UPPER', strides=[3, 3])
    ct('convt_output_shape_odd', r(g, 1, 3, 8, 8), r(g, 3, 2, 4, 4), strides=[2, 2], output_shape=[15, 16])
    ct('convt_dil2_group3', r(g, 1, 6, 6, 7), r(g, 6, 1, 3, 3), r(g, 3), group=3, dilations=[2, 2], strides=[2, 2])

    pool = lambda name, op, x, opset=13, **a: c.append(case(name, op, [('x', x)], a, opset))
    pool('maxpool_2x2_ceil_odd', 'MaxPool', r(g, 1, 8, 17, 17), kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    pool('maxpool_5x5_sppf', 'MaxPool', r(g, 1, 16, 20, 20), kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    pool('maxpool_3x3_nms', 'MaxPool', r(g, 1, 4, 21, 19), kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    pool('maxpool_dil_pad_s2', 'MaxPool', r(g, 2, 3, 15, 14), kernel_shape=[3, 2], dilations=[2, 3],
         pads=[2, 1, 1, 1], strides=[2, 2])
    pool('maxpool_1d_ceil', 'MaxPool', r(g, 2, 3, 20), kernel_shape=[3], strides=[2], ceil_mode=1)
    pool('avgpool_ceil_exclude', 'AveragePool', r(g, 1, 5, 10, 11), kernel_shape=[3, 3], strides=[2, 2],
         pads=[1, 1, 1, 1], ceil_mode=1)
    pool('avgpool_ceil_include', 'AveragePool', r(g, 1, 5, 10, 11), kernel_shape=[3, 3], strides=[2, 2],
         pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)
    pool('avgpool_same_upper_s2', 'AveragePool', r(g, 1, 4, 9, 10), kernel_shape=[3, 3], strides=[2, 2],
         auto_pad='SAME_UPPER')
    pool('avgpool_1d_pads', 'AveragePool', r(g, 2, 3, 17), kernel_shape=[4], pads=[1, 2], strides=[3])
    pool('globalavgpool_7x9', 'GlobalAveragePool', r(g, 2, 64, 7, 9))
    pool('globalmaxpool_7x9', 'GlobalMaxPool', r(g, 2, 64, 7, 9))
    pool('globalavgpool_1d', 'GlobalAveragePool', r(g, 1, 5, 33))

    mm = lambda name, a, b, opset=13: c.append(case(name, 'MatMul', [('a', a), ('b', b)], {}, opset))
    mm('matmul_3d_x_2d_fold', r(g, 2, 5, 33), r(g, 33, 19))
    mm('matmul_bcast_4d', r(g, 3, 1, 4, 6), r(g, 5, 6, 7))
    mm('matmul_1d_x_2d', r(g, 6), r(g, 6, 4))
    mm('matmul_2d_x_1d', r(g, 5, 6), r(g, 6))
    mm('matmul_3d_x_1d', r(g, 2, 5, 6), r(g, 6))
    mm('matmul_1d_x_3d', r(g, 6), r(g, 2, 6, 3))
    mm('matmul_row_cls', r(g, 1, 200), r(g, 200, 2), opset=9)
    mm('matmul_big', r(g, 40, 130), r(g, 130, 30))

    gemm = lambda name, ins, opset=13, **a: c.append(case(name, 'Gemm', ins, a, opset))
    gemm('gemm_tt_alpha_beta_col', [('a', r(g, 33, 5)), ('b', r(g, 7, 33)), ('c', r(g, 5, 1))], transA=1,
         transB=1, alpha=0.5, beta=2.0)
    gemm('gemm_full_c_beta', [('a', r(g, 5, 33)), ('b', r(g, 33, 7)), ('c', r(g, 5, 7))], beta=0.5)
    gemm('gemm_fc_transb', [('a', r(g, 1, 200)), ('b', r(g, 60, 200)), ('c', r(g, 60))], transB=1)
    gemm('gemm_fc_batch4', [('a', r(g, 4, 64)), ('b', r(g, 10, 64)), ('c', r(g, 10))], transB=1, opset=9)
    gemm('gemm_scalar_c_alpha', [('a', r(g, 3, 8)), ('b', r(g, 8, 6)), ('c', r(g, 1))], alpha=2.0, beta=-1.0)
    gemm('gemm_no_c_opset11', [('a', r(g, 6, 9)), ('b', r(g, 9, 4))], opset=11)

    sm = lambda name, op, x, opset, **a: c.append(case(name, op, [('x', x)], a, opset))
    sm('softmax_opset11_axis1_coerce', 'Softmax', r(g, 2, 3, 4, lo=-5, hi=5), 11, axis=1)
    sm('softmax_opset9_axis3', 'Softmax', r(g, 1, 2, 3, 5, lo=-5, hi=5), 9, axis=3)
    sm('softmax_opset11_default', 'Softmax', r(g, 2, 3, 4, lo=-5, hi=5), 11)
    sm('logsoftmax_opset11_axis0', 'LogSoftmax', r(g, 3, 4, 5, lo=-5, hi=5), 11, axis=0)
    sm('softmax_strided_axis1', 'Softmax', r(g, 2, 70, 3, lo=-9, hi=9), 13, axis=1)
    sm('logsoftmax_strided_axis1', 'LogSoftmax', r(g, 2, 70, 3, lo=-9, hi=9), 13, axis=1)
    sm('softmax_long_row', 'Softmax', r(g, 1, 6625, lo=-20, hi=20), 13)

    bn = lambda name, n, opset, **a: c.append(case(name, 'BatchNormalization', [
        ('x', r(g, *n)), ('s', r(g, n[1])), ('b', r(g, n[1])), ('m', r(g, n[1])),
        ('v', r(g, n[1], lo=0.1, hi=2))], a, opset))
    bn('batchnorm_opset9', (2, 16, 5, 5), 9, epsilon=1e-3)
    bn('batchnorm_opset7', (1, 8, 7), 7)
    bn('batchnorm_opset15_2d', (4, 6), 15)

    red = lambda name, op, x, opset, **a: c.append(case(name, op, [('x', x)], a, opset))
    red('reducemean_hw_opset11', 'ReduceMean', r(g, 2, 16, 5, 5), 11, axes=[2, 3])
    red('reducemax_0_2_nokeep', 'ReduceMax', r(g, 3, 4, 5, 2), 13, axes=[0, 2], keepdims=0)
    red('reducemin_all_nokeep', 'ReduceMin', r(g, 3, 4, 5), 13, keepdims=0)
    red('reducel2_1_3', 'ReduceL2', r(g, 2, 3, 4, 5), 13, axes=[1, 3])
    red('reducelogsumexp_f32', 'ReduceLogSumExp', r(g, 3, 4, 5, lo=-30, hi=30), 13, axes=[1])
    c.append(case('reducesum_axes_const', 'ReduceSum', [('x', r(g, 2, 3, 4, 5))], {'keepdims': 0}, 13,
                  consts=[('axes', np.array([-1, 1], dtype=np.int64))]))
    c.append(case('reducemean_opset18_axes_input', 'ReduceMean', [('x', r(g, 2, 3, 4, 5))], {}, 18,
                  consts=[('axes', np.array([2], dtype=np.int64))]))
    c.append(case('reducemax_opset18_noop', 'ReduceMax', [('x', r(g, 2, 3, 4))], {'noop_with_empty_axes': 1}, 18))

    c.append(case('lrn_size5', 'LRN', [('x', r(g, 2, 16, 5, 6))], {'size': 5, 'alpha': 0.01, 'beta': 0.6,
                                                                   'bias': 1.5}, 13))
    c.append(case('instancenorm_2x16', 'InstanceNormalization', [('x', r(g, 2, 16, 7, 9)), ('s', r(g, 16)),
                                                                 ('b', r(g, 16))], {'epsilon': 1e-4}, 13))
    return c


def write_case(outdir, cs, tmp):
    d = os.path.join(outdir, 'test_nn_' + cs['name'])
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, 'test_data_set_0'))
    in_names = [n for n, _ in cs['inputs']] + [n for n, _ in cs['consts']]
    outs = ['y'] if cs['n_out'] == 1 else ['y%d' % i for i in range(cs['n_out'])]
    node = helper.make_node(cs['op'], in_names, outs, name=cs['name'], **cs['attrs'])
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, a.shape) for n, a in cs['inputs']]
    vo = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs]
    inits = [numpy_helper.from_array(a, n) for n, a in cs['consts']]
    graph = helper.make_graph([node], cs['name'], vi, vo, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', cs['opset'])],
                              producer_name='make_cases.py')
    model.ir_version = 8 if cs['opset'] <= 18 else 9

    mpath = os.path.join(d, 'model.onnx')
    onnx.save(model, mpath)
    npys = []
    for i, (n, a) in enumerate(cs['inputs']):
        p = os.path.join(tmp, '%s_in%d.npy' % (cs['name'], i))
        np.save(p, a)
        npys.append(p)
        with open(os.path.join(d, 'test_data_set_0', 'input_%d.pb' % i), 'wb') as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())
    od = os.path.join(tmp, cs['name'])
    os.makedirs(od)
    subprocess.run(['node', ORT_RUN, mpath, od] + npys, check=True)
    for i, o in enumerate(outs):
        y = np.load(os.path.join(od, o + '.npy'))
        with open(os.path.join(d, 'test_data_set_0', 'output_%d.pb' % i), 'wb') as f:
            f.write(numpy_helper.from_array(y, o).SerializeToString())


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else HERE
    with tempfile.TemporaryDirectory() as tmp:
        for cs in cases():
            write_case(outdir, cs, tmp)
    print('wrote %d cases to %s' % (len(cases()), outdir))


if __name__ == '__main__':
    main()
