#!/usr/bin/env bats
# onnx2ir: every ONNX bad-input class of the reliability checklist is refused with one line,
# exit 1 and nothing on stdout; good models import into a readable, deterministic stream with
# Acuity's layer keys.  Bad models come from tests/data/bad/make_bad_onnx.py.
load helpers

BAD=$BATS_TEST_DIRNAME/data/bad
NODE=/usr/include/onnx/backend/test/data/node
MODELS=$QP_CACHE/models

reject() {   # reject MODEL TEXT [options...]
    local model=$1 text=$2
    shift 2
    run -1 --separate-stderr onnx2ir "$@" "$model"
    assert_clean_failure onnx2ir "$text"
}

bad() {      # bad CLASS TEXT: tests/data/bad/onnx_CLASS.onnx must be refused naming TEXT
    reject "$BAD/onnx_$1.onnx" "$2"
    [[ "$stderr" == "onnx2ir: '$BAD/onnx_$1.onnx': "* ]]
}

# The stream is a zstd frame the IR reader accepts (when qinfer is built).
check_stream() {
    zstd -qt "$1"
    if [ -x "$QP_BUILD/bin/qinfer" ]; then
        run -0 --separate-stderr qinfer --summary < "$1"
    fi
}

# ---- command line ----

@test "--help prints usage and exits 0" {
    run -0 --separate-stderr onnx2ir --help
    [[ "$output" == "usage: onnx2ir "* ]]
    [[ "$output" == *"--input-size"* ]]
}

@test "--version" {
    run -0 --separate-stderr onnx2ir --version
    [[ "$output" == "onnx2ir (qpipe) "* ]]
}

@test "an unknown option is a usage error" {
    run -2 --separate-stderr onnx2ir --frobnicate "$BAD/onnx_external_ok.onnx"
    assert_clean_failure onnx2ir "unknown option '--frobnicate'"
}

@test "no model is a usage error" {
    run -2 --separate-stderr onnx2ir
    assert_clean_failure onnx2ir "no model given"
}

@test "a malformed --input-size is a usage error" {
    run -2 --separate-stderr onnx2ir --input-size x=1,0,3 "$BAD/onnx_symbolic_dim.onnx"
    assert_clean_failure onnx2ir "--input-size 'x=1,0,3'"
}

@test "--dataset without --inputmeta is a usage error" {
    run -2 --separate-stderr onnx2ir --dataset d.txt "$BAD/onnx_external_ok.onnx"
    assert_clean_failure onnx2ir "needs --inputmeta"
}

@test "refuses a terminal on stdout" {
    command -v script >/dev/null || skip "no script(1) to make a terminal"
    run script -qec "$QP_BUILD/bin/onnx2ir $BAD/onnx_external_ok.onnx" /dev/null
    [[ "$output" == *"refusing to write a binary IR stream to a terminal"* ]]
}

@test "a missing model file" {
    run -1 --separate-stderr onnx2ir "$BATS_TEST_TMPDIR/nope.onnx"
    assert_clean_failure onnx2ir "cannot read '$BATS_TEST_TMPDIR/nope.onnx'"
}

# ---- the file and the protobuf ----

@test "an empty file" {
    : > "$BATS_TEST_TMPDIR/empty.onnx"
    reject "$BATS_TEST_TMPDIR/empty.onnx" "not a valid ONNX model (empty file)"
}
@test "not protobuf" { bad not_protobuf "not a valid ONNX model"; }
@test "truncated protobuf" { bad truncated "not a valid ONNX model"; }

@test "10,000 nested subgraphs are refused before unpacking" {
    /usr/bin/python3 "$BAD/make_bad_onnx.py" --deep-graph "$BATS_TEST_TMPDIR/deep.onnx"
    reject "$BATS_TEST_TMPDIR/deep.onnx" "node 'If_0' (If): attribute 'then_branch' holds a subgraph"
}

@test "10,000 nested types are refused before unpacking (depth cap)" {
    /usr/bin/python3 "$BAD/make_bad_onnx.py" --deep-type "$BATS_TEST_TMPDIR/deep.onnx"
    reject "$BATS_TEST_TMPDIR/deep.onnx" "nest deeper than 64 levels"
}

# ---- the model header ----

@test "no graph" { bad no_graph "the model has no graph"; }
@test "ir_version 9" { bad ir_version9 "ir_version 9 is not supported (3 to 8)"; }
@test "opset 18" { bad opset18 "opset 18 is not supported (7 to 17)"; }
@test "opset 6" { bad opset6 "opset 6 is not supported (7 to 17)"; }
@test "no default-domain opset" { bad no_opset "imports no opset of the default ONNX domain"; }
@test "a node in a foreign domain" { bad foreign_domain "node 'FusedConv_0' (FusedConv): domain 'com.microsoft' is not supported"; }
@test "an unsupported op names it and lists the supported ones" {
    bad unsupported_op "node 'TfIdf_0' (TfIdfVectorizer): unsupported op 'TfIdfVectorizer' (supported: "
    [[ "$stderr" == *"Conv"* ]]
}
@test "a variadic operand left empty (fuzz_onnx finding)" { bad variadic_empty "node 'Max_0' (Max): input 1 is missing"; }
@test "a subgraph attribute (If)" { bad subgraph_if "node 'If_0' (If): attribute 'else_branch' holds a subgraph"; }

# ---- tensors ----

@test "a string tensor" { bad string_tensor "tensor 's': data type STRING (8) is not supported"; }
@test "a complex tensor" { bad complex_tensor "data type COMPLEX64 (14) is not supported"; }
@test "a negative dimension" { bad negative_dim "tensor 'w': dimension 0 is negative (-4)"; }
@test "rank 9" { bad rank9 "tensor 'w': rank 9 is above 8"; }
@test "dims whose product overflows" { bad overflow_dims "tensor 'w': its dims make more than"; }
@test "a dimension above the cap" { bad huge_dim "tensor 'w': dimension 0 (1099511627776) is above"; }
@test "raw_data length differs from the shape" { bad raw_length "tensor 'w': raw_data has 12 bytes, its shape needs 16"; }
@test "both raw_data and a typed field" { bad raw_and_typed "tensor 'w': more than one value field (raw_data, float_data)"; }
@test "typed field count differs from the shape" { bad typed_count "tensor 'w': float_data has 3 values, its shape needs 4"; }
@test "values in the typed field of another type" { bad typed_field "keeps its values in float_data, not in int64_data"; }
@test "no value field at all" { bad no_data "tensor 'w': no data"; }
@test "an int8 value out of range" { bad int8_range "int32_data[2] = 300 is out of range for int8"; }
@test "a Constant with a string value" { bad constant_string "Constant attribute 'value_string' is not supported"; }
@test "external data with '..'" { bad external_dotdot "leaves the model's directory ('..')"; }
@test "external data with an absolute path" { bad external_absolute "location '/etc/passwd' is absolute"; }
@test "external data beyond the end of its file" { bad external_range "offset 24 + length 16 is beyond the end of 'onnx_ext.bin' (32 bytes)"; }
@test "external data file missing" { bad external_missing "cannot open external data file 'onnx_no_such_file.bin'"; }

@test "external data through a symbolic link" {
    cp "$BAD/onnx_external_ok.onnx" "$BATS_TEST_TMPDIR/m.onnx"
    ln -s "$BAD/onnx_ext.bin" "$BATS_TEST_TMPDIR/onnx_ext.bin"
    reject "$BATS_TEST_TMPDIR/m.onnx" "external data file 'onnx_ext.bin' is a symbolic link"
}

@test "external data in range is read" {
    run -0 onnx2ir --list-layers "$BAD/onnx_external_ok.onnx"
    [[ "$output" == *"Initializer_w_"*"variable"* ]]
}

# ---- graph structure ----

@test "an input used before it is defined" { bad unsorted "node 'Relu_1' (Relu): input 't' is produced by a later node 'Relu_0'"; }
@test "a cycle" { bad cycle "node 'Add_0' (Add): input 'u' is produced by a later node 'Relu_1'"; }
@test "an input nobody defines" { bad undefined_input "input 'nowhere' is not defined"; }
@test "a duplicate output" { bad duplicate_output "node 'Relu_1' (Relu): output 't' is already defined by node 'Relu_0'"; }
@test "an unproduced graph output" { bad unproduced_output "graph output 'z' is not produced by any node"; }
@test "a sequence graph input" { bad input_sequence "graph input 'x' is not a tensor"; }

@test "symbolic dims need --input-size (usage error)" {
    run -2 --separate-stderr onnx2ir "$BAD/onnx_symbolic_dim.onnx"
    assert_clean_failure onnx2ir "give its size with --input-size x=1,..."
}

@test "--input-size that contradicts the model's fixed dims" {
    run -2 --separate-stderr onnx2ir --input-size x=1,8 "$BAD/onnx_external_ok.onnx"
    assert_clean_failure onnx2ir "sets dimension 1 to 8, the model fixes it at 4"
}

@test "--input-size naming an input the model lacks" {
    run -2 --separate-stderr onnx2ir --input-size y=1,4 "$BAD/onnx_external_ok.onnx"
    assert_clean_failure onnx2ir "names input 'y', which the model does not have"
}

# ---- attributes and shapes (checked by the ops' shape inference) ----

@test "an attribute of the wrong type" { bad attr_wrong_type "node 'Conv_0' (Conv): "; [[ "$stderr" == *group* ]]; }
@test "a missing required attribute" { bad attr_missing "node 'Cast_0' (Cast): "; [[ "$stderr" == *"'to'"* ]]; }
@test "stride 0" { bad stride0 "node 'Conv_0' (Conv): "; [[ "$stderr" == *stride* ]]; }
@test "dilation 0" { bad dilation0 "node 'Conv_0' (Conv): "; [[ "$stderr" == *dilation* ]]; }
@test "negative pads" { bad negative_pads "node 'Conv_0' (Conv): "; [[ "$stderr" == *pad* ]]; }
@test "group not dividing C" { bad group_divide "node 'Conv_0' (Conv): "; [[ "$stderr" == *group* ]]; }
@test "kernel larger than the padded input" { bad kernel_large "node 'Conv_0' (Conv): "; [[ "$stderr" == *kernel* ]]; }
@test "axis out of range" { bad axis_range "node 'Concat_0' (Concat): "; [[ "$stderr" == *axis* ]]; }
@test "W channels differ from C/group" { bad w_channels "node 'Conv_0' (Conv): "; [[ "$stderr" == *channel* ]]; }

# ---- happy paths ----

node_model() {   # node_model TEST: the ONNX backend test's model, or skip
    local m="$NODE/$1/model.onnx"
    [ -f "$m" ] || skip "no ONNX backend test data ($m)"
    echo "$m"
}

@test "node tests import to a readable stream, identical on every run" {
    local t m
    for t in test_conv_with_strides_padding test_relu test_add_bcast test_concat_2d_axis_0 test_maxpool_2d_pads \
             test_transpose_default test_sigmoid test_softmax_axis_1 test_averagepool_2d_pads test_batchnorm_example; do
        m=$(node_model $t)
        onnx2ir "$m" > "$BATS_TEST_TMPDIR/$t.ir"
        onnx2ir "$m" > "$BATS_TEST_TMPDIR/$t.2.ir"
        cmp "$BATS_TEST_TMPDIR/$t.ir" "$BATS_TEST_TMPDIR/$t.2.ir"
        check_stream "$BATS_TEST_TMPDIR/$t.ir"
    done
}

@test "--list-layers: keys breadth-first from the outputs" {
    m=$(node_model test_conv_with_strides_padding)
    run -0 --separate-stderr onnx2ir --list-layers "$m"
    [ "${lines[0]}" = "attach_Conv_Conv_0/out0_0	output	1x1x4x3" ]
    [ "${lines[1]}" = "Conv_Conv_0_1	Conv	1x1x4x3" ]
    [ "${lines[2]}" = "x_2	input	1x1x7x5" ]
    [ "${lines[3]}" = "W_3	input	1x1x3x3" ]     # a graph input here, so a layer of its own
    [ "${#lines[@]}" -eq 4 ]
}

@test "Constant nodes, Shape/Gather/Unsqueeze/Concat chains and Identity fold away" {
    cat > "$BATS_TEST_TMPDIR/mk.py" <<'EOF'
import sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper
x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 2, 3, 4])
y = helper.make_tensor_value_info('y', TensorProto.FLOAT, None)
nodes = [
    helper.make_node('Shape', ['x'], ['s']),
    helper.make_node('Constant', [], ['i0'], value=numpy_helper.from_array(np.array(0, np.int64))),
    helper.make_node('Gather', ['s', 'i0'], ['n'], axis=0),
    helper.make_node('Unsqueeze', ['n', 'ax'], ['n1']),
    helper.make_node('Concat', ['n1', 'm1'], ['shape'], axis=0),
    helper.make_node('Reshape', ['x', 'shape'], ['r']),
    helper.make_node('Identity', ['r'], ['y']),
]
g = helper.make_graph(nodes, 'fold', [x], [y], [numpy_helper.from_array(np.array([0], np.int64), 'ax'),
                                              numpy_helper.from_array(np.array([-1], np.int64), 'm1')])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
m.ir_version = 7
open(sys.argv[1], 'wb').write(m.SerializeToString())
EOF
    /usr/bin/python3 "$BATS_TEST_TMPDIR/mk.py" "$BATS_TEST_TMPDIR/fold.onnx"
    run -0 --separate-stderr onnx2ir --list-layers "$BATS_TEST_TMPDIR/fold.onnx"
    [ "${lines[0]}" = "attach_Reshape_Reshape_5/out0_0	output	1x24" ]
    [ "${lines[1]}" = "Reshape_Reshape_5_1	Reshape	1x24" ]
    [ "${lines[2]}" = "x_2	input	1x2x3x4" ]
    [ "${#lines[@]}" -eq 3 ]
}

@test "BatchNormalization folds into the Conv before it, with the same results" {
    cat > "$BATS_TEST_TMPDIR/mk.py" <<'EOF'
import sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper
r = np.random.RandomState(1)
W, B = r.randn(3, 2, 3, 3), r.randn(3)
gam, bet, mu, var = r.rand(3) + 0.5, r.randn(3), r.randn(3), r.rand(3) + 0.5
init = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in [
    ('W', W), ('B', B), ('g', gam), ('b', bet), ('mu', mu), ('var', var)]]
nodes = [helper.make_node('Conv', ['x', 'W', 'B'], ['c'], name='conv', pads=[1, 1, 1, 1]),
         helper.make_node('BatchNormalization', ['c', 'g', 'b', 'mu', 'var'], ['y'], name='bn', epsilon=1e-3)]
g = helper.make_graph(nodes, 'bn', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 2, 5, 5])],
                      [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)], init)
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
m.ir_version = 7
d = sys.argv[1]
open(f'{d}/bn.onnx', 'wb').write(m.SerializeToString())
x = r.randn(1, 2, 5, 5).astype(np.float32)
np.save(f'{d}/x.npy', x)
xp = np.pad(x[0].astype(np.float64), ((0, 0), (1, 1), (1, 1)))
c = np.zeros((3, 5, 5))
for o in range(3):
    for i in range(5):
        for j in range(5):
            c[o, i, j] = (xp[:, i:i + 3, j:j + 3] * W[o]).sum() + B[o]
y = (c - mu[:, None, None]) / np.sqrt(var[:, None, None] + 1e-3) * gam[:, None, None] + bet[:, None, None]
np.save(f'{d}/want.npy', y[None].astype(np.float32))
EOF
    /usr/bin/python3 "$BATS_TEST_TMPDIR/mk.py" "$BATS_TEST_TMPDIR"
    run -0 --separate-stderr onnx2ir --list-layers "$BATS_TEST_TMPDIR/bn.onnx"
    [ "${lines[0]}" = "attach_Conv_conv/out0_0	output	1x3x5x5" ]
    [ "${lines[1]}" = "Conv_conv_1	Conv	1x3x5x5" ]
    [ "${lines[2]}" = "x_2	input	1x2x5x5" ]
    [ "${#lines[@]}" -eq 3 ]      # W and B are weights of the Conv layer, the BN is gone
    run -0 --separate-stderr onnx2ir -v "$BATS_TEST_TMPDIR/bn.onnx"
    [[ "$stderr" == *"1 BatchNormalization folded into Conv"* ]]
    [ -x "$QP_BUILD/bin/qinfer" ] || skip "no qinfer to run the folded Conv"
    onnx2ir "$BATS_TEST_TMPDIR/bn.onnx" > "$BATS_TEST_TMPDIR/bn.ir"
    QP_THREADS=1 qinfer -q --input "$BATS_TEST_TMPDIR/x.npy" --format npy --output-dir "$BATS_TEST_TMPDIR/out" \
        < "$BATS_TEST_TMPDIR/bn.ir"
    /usr/bin/python3 -c "
import numpy as np, sys
got = np.load(sys.argv[1]); want = np.load(sys.argv[2])
err = np.abs(got - want).max()
print('max abs error', err)
sys.exit(0 if err < 1e-4 else 1)" "$BATS_TEST_TMPDIR/out/iter_0_attach_Conv_conv_out0_0_out0_1_3_5_5.npy" \
        "$BATS_TEST_TMPDIR/want.npy"
}

@test "--inputmeta writes an Acuity input meta for the inputs" {
    m=$(node_model test_conv_with_strides_padding)
    onnx2ir --inputmeta "$BATS_TEST_TMPDIR/meta.yml" --dataset calib.txt "$m" > "$BATS_TEST_TMPDIR/m.ir"
    run cat "$BATS_TEST_TMPDIR/meta.yml"
    [ "${lines[0]}" = "%YAML 1.2" ]
    [[ "$output" == *"path: calib.txt"* ]]
    [[ "$output" == *"lid: x_2"* ]]
    [[ "$output" == *"category: image"* ]]
    [[ "$output" == *"layout: nchw"* ]]
    [[ "$output" == *"reverse_channel: false"* ]]
    [[ "$output" == *"scale: 1"* ]]
}

@test "--inputmeta: an NHWC input (channels last) gets layout nhwc" {
    cat > "$BATS_TEST_TMPDIR/mk.py" <<'EOF'
import sys
from onnx import TensorProto, helper
g = helper.make_graph([helper.make_node('Relu', ['in:0'], ['y'], name='r')], 'nhwc',
                      [helper.make_tensor_value_info('in:0', TensorProto.FLOAT, ['N', 16, 16, 4])],
                      [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 11)])
m.ir_version = 6
open(sys.argv[1], 'wb').write(m.SerializeToString())
EOF
    /usr/bin/python3 "$BATS_TEST_TMPDIR/mk.py" "$BATS_TEST_TMPDIR/nhwc.onnx"
    onnx2ir --inputmeta "$BATS_TEST_TMPDIR/meta.yml" "$BATS_TEST_TMPDIR/nhwc.onnx" > "$BATS_TEST_TMPDIR/m.ir"
    run cat "$BATS_TEST_TMPDIR/meta.yml"
    [[ "$output" == *"path: dataset.txt"* ]]
    [[ "$output" == *'lid: "in:0_2"'* ]]
    [[ "$output" == *"layout: nhwc"* ]]
    [[ "$output" == *"category: image"* ]]
}

@test "the import helpers' unit test passes" {
    [ -x "$QP_BUILD/tests/test_onnx_import" ] || skip "tests/unit/test_onnx_import.c not built"
    cd "$BATS_TEST_DIRNAME/.."
    run -0 "$QP_BUILD/tests/test_onnx_import"
}

# ---- the real models (fetched by tests/models/fetch.sh, made by tests/models/get_yolov5s.sh) ----

real() {   # real FILE [options]: imports twice, byte-identical, readable
    local m="$MODELS/$1"
    shift
    require_file "$m"
    onnx2ir "$@" "$m" > "$BATS_TEST_TMPDIR/a.ir"
    onnx2ir "$@" "$m" > "$BATS_TEST_TMPDIR/b.ir"
    cmp "$BATS_TEST_TMPDIR/a.ir" "$BATS_TEST_TMPDIR/b.ir"
    check_stream "$BATS_TEST_TMPDIR/a.ir"
}

@test "yolov5s imports" { real yolov5s.onnx; }
@test "PP-OCRv4 det imports (symbolic input sized)" { real ch_PP-OCRv4_det_infer.onnx --input-size x=1,3,640,640; }
@test "PP-OCR cls imports (opset 9, BatchNormalization folded)" {
    real ch_ppocr_mobile_v2.0_cls_infer.onnx --input-size 1,3,48,192
    run -0 --separate-stderr onnx2ir -v --input-size 1,3,48,192 "$MODELS/ch_ppocr_mobile_v2.0_cls_infer.onnx"
    [[ "$stderr" == *" 35 BatchNormalization folded into Conv"* ]]
}
@test "BlazeFace front imports" { real face_detection_front_128x128_barracuda.onnx; }
@test "BlazeFace back imports" { real face_detection_back_256x256_barracuda.onnx; }
@test "M-LSD tiny 320 imports (runtime-computed Pad and Resize folded)" { real mlsd_320x320_tiny.onnx; }
@test "M-LSD tiny 512 imports" { real mlsd_512x512_tiny.onnx; }

@test "yolov5s: the 60 layer keys of the vendor's hybrid guide resolve" {
    require_file "$MODELS/yolov5s.onnx"
    onnx2ir --list-layers "$MODELS/yolov5s.onnx" | cut -f1 > "$BATS_TEST_TMPDIR/keys"
    local missing=0 k
    while read -r k; do
        [ -n "$k" ] || continue
        grep -qxF "$k" "$BATS_TEST_TMPDIR/keys" || { echo "missing: $k"; missing=$((missing + 1)); }
    done < "$BATS_TEST_DIRNAME/models/seed_keys.txt"
    [ "$missing" -eq 0 ]
    grep -qx 'images_266' "$BATS_TEST_TMPDIR/keys"
    grep -qx 'attach_Concat_Concat_303/out0_0' "$BATS_TEST_TMPDIR/keys"
}

@test "BlazeFace: four outputs, NHWC input meta" {
    require_file "$MODELS/face_detection_front_128x128_barracuda.onnx"
    onnx2ir --inputmeta "$BATS_TEST_TMPDIR/meta.yml" "$MODELS/face_detection_front_128x128_barracuda.onnx" \
        > "$BATS_TEST_TMPDIR/m.ir"
    grep -q 'layout: nhwc' "$BATS_TEST_TMPDIR/meta.yml"
    run -0 onnx2ir --list-layers "$MODELS/face_detection_front_128x128_barracuda.onnx"
    [[ "${lines[0]}" == attach_*/out0_0* ]]
    [[ "${lines[3]}" == attach_*/out0_3* ]]
}
