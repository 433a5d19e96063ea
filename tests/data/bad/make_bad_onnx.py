#!/usr/bin/python3
"""Writes the crafted bad ONNX models of tests/onnx2ir.bats (one per bad-input class of the
reliability checklist) into this directory as onnx_<class>.onnx, plus the external-data files
they point at.  Deterministic, no checker: most of them are invalid on purpose.

usage: /usr/bin/python3 make_bad_onnx.py [OUTDIR]        (default: this script's directory)
       /usr/bin/python3 make_bad_onnx.py --deep-graph OUT  10,000 nested subgraphs (~250 KB)
       /usr/bin/python3 make_bad_onnx.py --deep-type OUT   10,000 nested sequence types
The two --deep files are made at test time, so the repository stays small."""
import math
import os
import struct
import sys

from onnx import TensorProto, helper

F = TensorProto.FLOAT


def model(nodes, inputs, outputs, inits=(), opset=13, ir=7, domain=''):
    g = helper.make_graph(nodes, 'bad', inputs, outputs, list(inits))
    m = helper.make_model(g, producer_name='make_bad_onnx.py', opset_imports=[helper.make_opsetid(domain, opset)])
    m.ir_version = ir
    return m


def vi(name, shape, t=F):
    return helper.make_tensor_value_info(name, t, shape)


def ftensor(name, dims, vals=None):
    """A float initializer with float_data (vals) or nothing set."""
    t = TensorProto(name=name, data_type=F, dims=dims)
    if vals is not None:
        t.float_data.extend(vals)
    return t


def relu_model(init, x_shape=(1, 4)):
    """y = Add(x, init): the initializer is read, so it must decode."""
    return model([helper.make_node('Add', ['x', init.name], ['y'], name='Add_0')],
                 [vi('x', list(x_shape))], [vi('y', list(x_shape))], [init])


def conv_model(x_shape, w_shape, **attrs):
    w = ftensor('W', list(w_shape), [0.5] * math.prod(w_shape))
    return model([helper.make_node('Conv', ['x', 'W'], ['y'], name='Conv_0', **attrs)],
                 [vi('x', list(x_shape))], [vi('y', None)], [w])


def cases(outdir):
    c = {}
    c['not_protobuf'] = b'this is not an ONNX model\n'
    c['truncated'] = None    # filled below from a good model
    m = model([helper.make_node('Relu', ['x'], ['y'], name='Relu_0')], [vi('x', [1, 4])], [vi('y', [1, 4])])
    good = m.SerializeToString()
    c['truncated'] = good[:len(good) // 2]
    nog = model([helper.make_node('Relu', ['x'], ['y'])], [vi('x', [1, 4])], [vi('y', [1, 4])])
    nog.ClearField('graph')
    c['no_graph'] = nog
    m9 = model([helper.make_node('Relu', ['x'], ['y'], name='Relu_0')], [vi('x', [1, 4])], [vi('y', [1, 4])], ir=9)
    c['ir_version9'] = m9
    c['opset18'] = model([helper.make_node('Relu', ['x'], ['y'], name='Relu_0')], [vi('x', [1, 4])],
                         [vi('y', [1, 4])], opset=18, ir=8)
    c['opset6'] = model([helper.make_node('Relu', ['x'], ['y'], name='Relu_0')], [vi('x', [1, 4])],
                        [vi('y', [1, 4])], opset=6, ir=3)
    c['no_opset'] = model([helper.make_node('Relu', ['x'], ['y'], name='Relu_0')], [vi('x', [1, 4])],
                          [vi('y', [1, 4])], domain='ai.onnx.ml', opset=3)
    fm = model([helper.make_node('FusedConv', ['x'], ['y'], name='FusedConv_0', domain='com.microsoft')],
               [vi('x', [1, 4])], [vi('y', [1, 4])])
    fm.opset_import.append(helper.make_opsetid('com.microsoft', 1))
    c['foreign_domain'] = fm
    c['unsupported_op'] = model([helper.make_node('TfIdfVectorizer', ['x'], ['y'], name='TfIdf_0')],
                                [vi('x', [1, 4])], [vi('y', [1, 4])])
    sub = helper.make_graph([helper.make_node('Relu', ['x'], ['t'])], 'then', [], [vi('t', [1, 4])])
    # a variadic operand left empty (found by fuzz_onnx: shape inference read a missing input)
    c['variadic_empty'] = model([helper.make_node('Max', ['x', ''], ['y'], name='Max_0')],
                                [vi('x', [1, 4])], [vi('y', [1, 4])])
    c['subgraph_if'] = model([helper.make_node('If', ['cond'], ['y'], name='If_0', then_branch=sub,
                                               else_branch=sub)],
                             [vi('cond', [], TensorProto.BOOL), vi('x', [1, 4])], [vi('y', [1, 4])])
    c['string_tensor'] = relu_model(helper.make_tensor('s', TensorProto.STRING, [4], [b'a', b'b', b'c', b'd']))
    c['complex_tensor'] = relu_model(TensorProto(name='c', data_type=TensorProto.COMPLEX64, dims=[4],
                                                 float_data=[0.0] * 8))
    c['negative_dim'] = relu_model(ftensor('w', [-4], [1.0] * 4))
    c['rank9'] = relu_model(ftensor('w', [1] * 9, [1.0]))
    c['overflow_dims'] = relu_model(ftensor('w', [2147483647, 2147483647, 2147483647, 4], [1.0] * 4))
    c['huge_dim'] = relu_model(ftensor('w', [1 << 40], [1.0]))
    c['raw_length'] = relu_model(TensorProto(name='w', data_type=F, dims=[4], raw_data=b'\0' * 12))
    c['raw_and_typed'] = relu_model(TensorProto(name='w', data_type=F, dims=[4], raw_data=b'\0' * 16,
                                                float_data=[1.0] * 4))
    c['typed_count'] = relu_model(ftensor('w', [4], [1.0] * 3))
    c['typed_field'] = relu_model(TensorProto(name='w', data_type=F, dims=[4], int64_data=[1] * 4))
    c['no_data'] = relu_model(ftensor('w', [4]))
    c['int8_range'] = model([helper.make_node('Add', ['x', 'w'], ['y'], name='Add_0')],
                            [vi('x', [4], TensorProto.INT8)], [vi('y', [4], TensorProto.INT8)],
                            [TensorProto(name='w', data_type=TensorProto.INT8, dims=[4], int32_data=[1, 2, 300, 4])])

    def ext(name, loc, offset=None, length=None):
        t = TensorProto(name=name, data_type=F, dims=[4])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (('location', loc), ('offset', offset), ('length', length)):
            if v is not None:
                e = t.external_data.add()
                e.key, e.value = k, str(v)
        return relu_model(t)
    c['external_dotdot'] = ext('w', '../onnx_ext.bin')
    c['external_absolute'] = ext('w', '/etc/passwd', 0, 16)
    c['external_range'] = ext('w', 'onnx_ext.bin', 24, 16)
    c['external_missing'] = ext('w', 'onnx_no_such_file.bin')
    c['external_ok'] = ext('w', 'onnx_ext.bin', 8, 16)    # a good one: the file is 32 bytes
    c['unsorted'] = model([helper.make_node('Relu', ['t'], ['y'], name='Relu_1'),
                           helper.make_node('Relu', ['x'], ['t'], name='Relu_0')],
                          [vi('x', [1, 4])], [vi('y', [1, 4])])
    c['cycle'] = model([helper.make_node('Add', ['x', 'u'], ['t'], name='Add_0'),
                        helper.make_node('Relu', ['t'], ['u'], name='Relu_1')],
                       [vi('x', [1, 4])], [vi('u', [1, 4])])
    c['undefined_input'] = model([helper.make_node('Relu', ['nowhere'], ['y'], name='Relu_0')],
                                 [vi('x', [1, 4])], [vi('y', [1, 4])])
    c['duplicate_output'] = model([helper.make_node('Relu', ['x'], ['t'], name='Relu_0'),
                                   helper.make_node('Relu', ['x'], ['t'], name='Relu_1')],
                                  [vi('x', [1, 4])], [vi('t', [1, 4])])
    c['unproduced_output'] = model([helper.make_node('Relu', ['x'], ['y'], name='Relu_0')],
                                   [vi('x', [1, 4])], [vi('y', [1, 4]), vi('z', [1, 4])])
    c['input_sequence'] = model([helper.make_node('Relu', ['x'], ['y'], name='Relu_0')],
                                [helper.make_tensor_sequence_value_info('x', F, [1, 4])], [vi('y', [1, 4])])
    c['attr_wrong_type'] = conv_model([1, 2, 4, 4], [2, 2, 3, 3], group=1.0)
    c['attr_missing'] = model([helper.make_node('Cast', ['x'], ['y'], name='Cast_0')],
                              [vi('x', [1, 4])], [vi('y', [1, 4])])
    c['stride0'] = conv_model([1, 2, 4, 4], [2, 2, 3, 3], strides=[0, 0])
    c['dilation0'] = conv_model([1, 2, 4, 4], [2, 2, 3, 3], dilations=[0, 1])
    c['negative_pads'] = conv_model([1, 2, 4, 4], [2, 2, 3, 3], pads=[-1, 0, 0, 0])
    c['group_divide'] = conv_model([1, 3, 4, 4], [2, 1, 3, 3], group=2)
    c['kernel_large'] = conv_model([1, 2, 4, 4], [2, 2, 7, 7])
    c['w_channels'] = conv_model([1, 4, 4, 4], [2, 3, 3, 3])
    c['axis_range'] = model([helper.make_node('Concat', ['x', 'x'], ['y'], name='Concat_0', axis=5)],
                            [vi('x', [1, 2, 4, 4])], [vi('y', None)])
    c['constant_string'] = model([helper.make_node('Constant', [], ['c'], name='Constant_0', value_string='s'),
                                  helper.make_node('Relu', ['x'], ['y'], name='Relu_0')],
                                 [vi('x', [1, 4])], [vi('y', [1, 4])])
    c['symbolic_dim'] = model([helper.make_node('Relu', ['x'], ['y'], name='Relu_0')],
                              [vi('x', ['N', 'C'])], [vi('y', ['N', 'C'])])
    return c


def write(outdir, name, m):
    data = m if isinstance(m, bytes) else m.SerializeToString()
    with open(os.path.join(outdir, f'onnx_{name}.onnx'), 'wb') as f:
        f.write(data)


def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7f, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def deep_graph(levels):
    """Model.graph -> Node(If).attribute(g) -> Graph -> ... levels deep, built bytes-first: the
    protobuf libraries themselves refuse to serialize this."""
    g = b''
    for _ in range(levels):
        attr = field(1, b'then_branch') + field(6, g) + varint(20 << 3) + varint(5)
        node = field(1, b'c') + field(2, b'y') + field(4, b'If') + field(5, attr)
        g = field(1, node)
    return varint(1 << 3) + varint(7) + field(7, g) + field(8, varint(2 << 3) + varint(13))


def deep_type(levels):
    """A graph input whose type is a sequence of sequences of ... levels deep."""
    t = field(1, varint(1 << 3) + varint(1))                 # TypeProto{tensor_type{elem_type FLOAT}}
    for _ in range(levels):
        t = field(4, field(1, t))                            # TypeProto{sequence_type{elem_type t}}
    graph = field(11, field(1, b'x') + field(2, t))
    return varint(1 << 3) + varint(7) + field(7, graph) + field(8, varint(2 << 3) + varint(13))


def main():
    if len(sys.argv) == 3 and sys.argv[1] in ('--deep-graph', '--deep-type'):
        data = (deep_graph if sys.argv[1] == '--deep-graph' else deep_type)(10000)
        with open(sys.argv[2], 'wb') as f:
            f.write(data)
        return
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    outdir = sys.argv[1] if len(sys.argv) == 2 else os.path.dirname(os.path.abspath(__file__))
    for name, m in cases(outdir).items():
        write(outdir, name, m)
    with open(os.path.join(outdir, 'onnx_ext.bin'), 'wb') as f:
        f.write(struct.pack('<8f', *range(8)))


if __name__ == '__main__':
    main()
