#!/usr/bin/env bats
# qtable: tables built from calibration statistics for every quantizer, the .quantize YAML
# round trip (stream -> YAML -> stream -> YAML byte-identical, a hand edit changes one
# entry), Acuity's two dialects as the vendor writes them, and every YAML bad-input class of
# the reliability checklist refused with one line, exit 2 and nothing on stdout.
load helpers

BAD=$BATS_TEST_DIRNAME/data/bad
Q=$BATS_TEST_DIRNAME/data/quantize
IMAGES=$BATS_TEST_DIRNAME/data/images
YOLO=$QP_CACHE/models/yolov5s.onnx

# Shared: tests/data/quantize/tiny.onnx (make_tiny.py) imported, calibrated on its two .npy
# samples (the reference kernels, one thread: the same numbers everywhere), and yolov5s
# imported when the model cache has it.
setup_file() {
    cd "$BATS_FILE_TMPDIR"
    onnx2ir --inputmeta tiny.yml --dataset "$Q/tiny_dataset.txt" "$Q/tiny.onnx" > tiny.ir
    if [ -x "$QP_BUILD/bin/calib" ]; then
        QP_KERNELS=ref QP_THREADS=1 calib -q --input-meta tiny.yml < tiny.ir > tinyc.ir
    fi
    if [ -f "$YOLO" ]; then
        onnx2ir "$YOLO" > yolo.ir
    fi
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    F=$BATS_FILE_TMPDIR
}

need_calib() {
    [ -f "$F/tinyc.ir" ] || skip "calib is not built"
}

need_yolo() {
    require_file "$YOLO"
}

# "key qtype quantizer" per entry of a dialect-2 file written by qtable.
entries() {
    awk '/^  .@/ { k = $1 } /^    qtype:/ { t = $2 } /^    quantizer:/ { print k, t, $2 }' "$1"
}

# qtable --read BAD must fail with exit CODE and TEXT, naming the file.
bad() {   # bad FILE CODE TEXT
    run "-$2" --separate-stderr qtable --read "$BAD/$1.quantize" < "$F/tiny.ir"
    assert_clean_failure qtable "$3"
    [[ "$stderr" == "qtable: $BAD/$1.quantize:"* ]]
}

# ---- the module ----

@test "qtable module: parameters, algorithms, sharing, round trips (tests/unit/test_qtable.c)" {
    run "$QP_BUILD/tests/test_qtable"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    [[ "${lines[-1]}" == *" passed, 0 failed" ]]
}

# ---- command line ----

@test "qtable --help prints the usage and exits 0" {
    run -0 --separate-stderr qtable --help
    [[ "$output" == "usage: qtable --quantizer Q --qtype T"* ]]
    [[ "$output" == *"--divergence-nbins"* && "$output" == *"--compute-entropy"* ]]
    [ -z "$stderr" ]
}

@test "qtable --version" {
    run -0 --separate-stderr qtable --version
    [ "$output" = "qtable (qpipe) 0.1.0" ]
}

@test "qtable: bad options exit 2 with one line" {
    run -2 --separate-stderr qtable --frobnicate
    assert_clean_failure qtable "unknown option '--frobnicate'"
    run -2 --separate-stderr qtable --quantizer
    assert_clean_failure qtable "option '--quantizer' needs a value"
    run -2 --separate-stderr qtable --quantizer asymmetric_affine --qtype uint8 extra
    assert_clean_failure qtable "unexpected argument 'extra'"
    run -2 --separate-stderr qtable
    assert_clean_failure qtable "give --quantizer and --qtype (or --read FILE)"
    run -2 --separate-stderr qtable --quantizer asym --qtype uint8
    assert_clean_failure qtable "--quantizer 'asym': expected asymmetric_affine"
    run -2 --separate-stderr qtable --quantizer asymmetric_affine --qtype uint4
    assert_clean_failure qtable "--qtype 'uint4': expected uint8, int8, int16"
    run -2 --separate-stderr qtable --quantizer asymmetric_affine --qtype int16
    assert_clean_failure qtable "quantizer 'asymmetric_affine' takes qtype uint8 or int8, not 'i16'"
    run -2 --separate-stderr qtable --quantizer perchannel_symmetric_affine --qtype u8
    assert_clean_failure qtable "takes qtype int8 or int16, not 'u8'"
    run -2 --separate-stderr qtable --quantizer float16 --qtype bf16
    assert_clean_failure qtable "takes qtype float16"
    run -2 --separate-stderr qtable --quantizer asymmetric_affine --qtype u8 --algorithm minmax
    assert_clean_failure qtable "--algorithm 'minmax': expected normal, kl_divergence"
    run -2 --separate-stderr qtable --quantizer asymmetric_affine --qtype u8 --divergence-nbins 64
    assert_clean_failure qtable "--divergence-nbins applies to --algorithm kl_divergence"
    run -2 --separate-stderr qtable --quantizer asymmetric_affine --qtype u8 --algorithm kl_divergence \
        --divergence-nbins 0
    assert_clean_failure qtable "--divergence-nbins '0' is not an integer from 1 to 2048"
    run -2 --separate-stderr qtable --quantizer asymmetric_affine --qtype u8 --algorithm percentile --percentile 101
    assert_clean_failure qtable "--percentile '101' is not a number in (0, 100]"
    run -2 --separate-stderr qtable --read t.quantize --qtype u8
    assert_clean_failure qtable "--read takes the table as it is"
    run -2 --separate-stderr qtable --summary -q t.quantize
    assert_clean_failure qtable "--summary takes no other option"
}

@test "qtable: a stream without statistics, an empty or broken stream" {
    run -1 --separate-stderr qtable --quantizer asymmetric_affine --qtype uint8 < "$F/tiny.ir"
    assert_clean_failure qtable "no calibration statistics in the stream: run calib first"
    run -1 --separate-stderr qtable --quantizer asymmetric_affine --qtype uint8 < /dev/null
    [ -z "$output" ] && [[ "$stderr" == "qtable: "* ]]
    head -c 300 "$F/tiny.ir" > cut.ir
    run -1 --separate-stderr qtable --read "$Q/tiny.quantize" < cut.ir
    [ -z "$output" ] && [[ "$stderr" == "qtable: "* ]]
    run -1 --separate-stderr qtable --summary < "$F/tiny.ir"
    assert_clean_failure qtable "no quantization table in the stream: run qtable first"
    run -1 --separate-stderr qtable --read "$Q/tiny.quantize" --compute-entropy e.txt < "$F/tiny.ir"
    assert_clean_failure qtable "--compute-entropy needs the calibration statistics"
}

# ---- building ----

@test "qtable: asymmetric uint8 table of tiny: every tensor it needs, graph order" {
    need_calib
    qtable --quantizer asymmetric_affine --qtype uint8 -q t.quantize < "$F/tinyc.ir" > /dev/null 2> err.txt
    [ ! -s err.txt ]
    [ "$(entries t.quantize)" = "'@x_11:out0': u8 asymmetric_affine
'@Conv_conv1_10:weight': i8 asymmetric_affine
'@Conv_conv1_10:bias': i32 asymmetric_affine
'@Conv_conv1_10:out0': u8 asymmetric_affine
'@Relu_relu1_9:out0': u8 asymmetric_affine
'@MaxPool_pool1_7:out0': u8 asymmetric_affine
'@Conv_conv2_8:weight': i8 asymmetric_affine
'@Conv_conv2_8:bias': i32 asymmetric_affine
'@Conv_conv2_8:out0': u8 asymmetric_affine
'@Concat_cat1_5:out0': u8 asymmetric_affine
'@Initializer_k_6:out0': u8 asymmetric_affine
'@Mul_mul1_3:out0': u8 asymmetric_affine
'@Reshape_flat1_2:out0': u8 asymmetric_affine
'@Gemm_fc1_1:weight': i8 asymmetric_affine
'@Gemm_fc1_1:bias': i32 asymmetric_affine
'@Gemm_fc1_1:out0': u8 asymmetric_affine" ]
    head -3 t.quantize | grep -qx 'version: 2'
    tail -1 t.quantize | grep -qx 'customized_quantize_layers: {}'
    # the int64 shape constant has no entry; weights are int8 with zero point 0
    ! grep -q Initializer_shape t.quantize || false
    [ "$(awk '/:weight.:$/ { w = 1 } w && /zero_point/ { print $2; w = 0 }' t.quantize | sort -u)" = 0 ]
    # the stream carries the same table, and a history entry
    qtable --quantizer asymmetric_affine --qtype uint8 < "$F/tinyc.ir" > q.ir
    qtable --summary < q.ir > s.quantize
    cmp t.quantize s.quantize
    qinfer --summary < q.ir | grep -q '^# history 2: qtable 0.1.0 --quantizer asymmetric_affine --qtype uint8$'
}

@test "qtable: ops that only move data share their input's parameters" {
    need_calib
    qtable --quantizer asymmetric_affine --qtype uint8 -q t.quantize < "$F/tinyc.ir" > /dev/null
    params() { awk -v k="'@$1:out0':" '$1 == k { f = 1; next } f && /^  / && !/^    / { exit } f && /scale|zero_point/' t.quantize; }
    [ "$(params MaxPool_pool1_7)" = "$(params Relu_relu1_9)" ]
    [ "$(params Reshape_flat1_2)" = "$(params Mul_mul1_3)" ]
    # Concat(MaxPool, Conv2): one set for both inputs and the output (their ranges are close)
    [ "$(params Concat_cat1_5)" = "$(params MaxPool_pool1_7)" ]
    [ "$(params Concat_cat1_5)" = "$(params Conv_conv2_8)" ]
}

@test "qtable: a tensor read only by a Relu or Clip takes the clamped range and the activation's parameters" {
    need_calib
    entry() { awk -v k="'@$1:out0':" '$1 == k { f = 1; next } f && /^  / && !/^    / { exit } f' t.quantize; }
    for tq in asymmetric_affine:uint8 dynamic_fixed_point:int16 perchannel_symmetric_affine:int8; do
        qtable --quantizer ${tq%:*} --qtype ${tq#*:} -q t.quantize < "$F/tinyc.ir" > t.ir
        # conv1 -> relu1: one parameter set (here the group of the MaxPool and Concat after it)
        [ "$(entry Conv_conv1_10)" = "$(entry Relu_relu1_9)" ]
        # the quantized run fuses the Relu into the Conv's requantization: the same integers
        # as the unfused run of --dump-all
        qinfer -q --dtype quantized --input-meta "$F/tiny.yml" --iterations 2 --raw --output-dir a < t.ir
        qinfer -q --dtype quantized --input-meta "$F/tiny.yml" --iterations 2 --raw --dump-all --output-dir b < t.ir
        for f in a/raw/*; do cmp "$f" "b/raw/${f#a/raw/}"; done
        rm -rf a b
    done
    # BlazeFace: the residual Add before a Relu had negative values in calibration; its entry
    # is the Relu's range [0, max]
    model=$QP_CACHE/models/face_detection_front_128x128_barracuda.onnx
    require_file "$model"
    onnx2ir --inputmeta b.yml "$model" > b.ir
    ls "$IMAGES"/*.jpg > dataset.txt
    sed -i "s|^\( *path:\).*|\1 $PWD/dataset.txt|" b.yml
    calib -q --input-meta b.yml < b.ir > bc.ir
    qinfer -q --input-meta b.yml --dump-all --format npy --output-dir f < b.ir
    /usr/bin/python3 -c "import glob, numpy as np, sys; sys.exit(not np.load(glob.glob('f/iter_0_Add_*add_add_106_out0_*.npy')[0]).min() < 0)"
    qtable --quantizer asymmetric_affine --qtype uint8 -q t.quantize < bc.ir > /dev/null
    add=Add_StatefulPartitionedCall/functional_1/add/add_106 relu=Relu_StatefulPartitionedCall/functional_1/re_lu/Relu_104
    entry $add | grep -qx '    min_value: 0.0'
    [ "$(entry $add)" = "$(entry $relu)" ]
}

@test "qtable: Acuity's qtype spellings give the same table" {
    need_calib
    qtable --quantizer asymmetric_affine --qtype uint8 -q a.quantize < "$F/tinyc.ir" > /dev/null
    qtable --quantizer asymmetric_affine --qtype u8 -q b.quantize < "$F/tinyc.ir" > /dev/null
    cmp a.quantize b.quantize
    qtable --quantizer dynamic_fixed_point --qtype int16 -q c.quantize < "$F/tinyc.ir" > /dev/null
    qtable --quantizer dynamic_fixed_point --qtype i16 -q d.quantize < "$F/tinyc.ir" > /dev/null
    cmp c.quantize d.quantize
    qtable --quantizer bfloat16 --qtype bf16 -q e.quantize < "$F/tinyc.ir" > /dev/null
    qtable --quantizer bfloat16 --qtype bfloat16 -q f.quantize < "$F/tinyc.ir" > /dev/null
    cmp e.quantize f.quantize
}

@test "qtable: every quantizer and qtype writes a table that reads back byte-identical" {
    need_calib
    for qq in asymmetric_affine:uint8 asymmetric_affine:int8 symmetric_affine:int8 symmetric_affine:int16 \
        perchannel_symmetric_affine:int8 perchannel_symmetric_affine:int16 dynamic_fixed_point:int8 \
        dynamic_fixed_point:int16 bfloat16:bfloat16 float16:float16; do
        qtable --quantizer "${qq%:*}" --qtype "${qq#*:}" -q a.quantize < "$F/tinyc.ir" > q.ir
        qtable --read a.quantize -q b.quantize < "$F/tiny.ir" > r.ir
        cmp a.quantize b.quantize || { echo "differs: $qq"; return 1; }
        qtable --summary < r.ir > c.quantize
        cmp a.quantize c.quantize || { echo "stream differs: $qq"; return 1; }
    done
}

@test "qtable: the rules per quantizer (weights, biases, fl, per-channel)" {
    need_calib
    field() { awk -v k="'@$2':" -v f="$3:" '$1 == k { e = 1; next } e && /^  [^ ]/ { exit } e && $1 == f { print $2; exit }' "$1"; }
    qtable --quantizer dynamic_fixed_point --qtype int16 -q d.quantize < "$F/tinyc.ir" > /dev/null
    [ "$(field d.quantize Conv_conv1_10:bias qtype)" = i64 ]
    [ "$(field d.quantize Conv_conv1_10:bias fl)" -eq \
      $(( $(field d.quantize x_11:out0 fl) + $(field d.quantize Conv_conv1_10:weight fl) )) ]
    qtable --quantizer dynamic_fixed_point --qtype int8 -q d8.quantize < "$F/tinyc.ir" > /dev/null
    [ "$(field d8.quantize Conv_conv1_10:bias qtype)" = i32 ]
    qtable --quantizer perchannel_symmetric_affine --qtype int8 -q p.quantize < "$F/tinyc.ir" > /dev/null
    [ "$(field p.quantize x_11:out0 quantizer)" = asymmetric_affine ]
    [ "$(field p.quantize x_11:out0 qtype)" = i8 ]
    [ "$(field p.quantize Conv_conv1_10:weight channel_dim)" = 0 ]
    [ "$(field p.quantize Gemm_fc1_1:weight channel_dim)" = 1 ]     # Gemm B [K, N]: N on axis 1
    [ "$(awk "/Gemm_fc1_1:weight/ { w = 1 } w && /^    - / { n++ } w && /channel_dim/ { print n; exit }" p.quantize)" = 20 ]
    # int16 per-channel: i16 weights per output channel, symmetric i16 activations (16-bit
    # layers have zero point 0), i64 biases at s_x * s_w[c]
    qtable --quantizer perchannel_symmetric_affine --qtype int16 -q p16.quantize < "$F/tinyc.ir" > /dev/null
    [ "$(field p16.quantize x_11:out0 quantizer)" = symmetric_affine ]
    [ "$(field p16.quantize x_11:out0 qtype)" = i16 ]
    [ "$(field p16.quantize x_11:out0 zero_point)" = 0 ]
    [ "$(field p16.quantize Conv_conv1_10:weight quantizer)" = perchannel_symmetric_affine ]
    [ "$(field p16.quantize Conv_conv1_10:weight qtype)" = i16 ]
    [ "$(field p16.quantize Conv_conv1_10:weight channel_dim)" = 0 ]
    [ "$(field p16.quantize Conv_conv1_10:bias qtype)" = i64 ]
    qtable --quantizer symmetric_affine --qtype int16 -q s.quantize < "$F/tinyc.ir" > /dev/null
    [ "$(field s.quantize x_11:out0 zero_point)" = 0 ]
    [ "$(field s.quantize Conv_conv1_10:bias qtype)" = i64 ]
    qtable --quantizer float16 --qtype float16 -q f.quantize < "$F/tinyc.ir" > /dev/null
    [ "$(grep -c '^    qtype: f16$' f.quantize)" -eq 16 ]
    ! grep -q scale f.quantize || false
}

@test "qtable: the algorithms build tables; percentile 100 is normal" {
    need_calib
    qtable --quantizer asymmetric_affine --qtype uint8 -q n.quantize < "$F/tinyc.ir" > /dev/null
    qtable --quantizer asymmetric_affine --qtype uint8 --algorithm percentile --percentile 100 -q p.quantize \
        < "$F/tinyc.ir" > /dev/null
    cmp n.quantize p.quantize
    for a in kl_divergence moving_average percentile mse; do
        qtable --quantizer symmetric_affine --qtype int8 --algorithm $a -q $a.quantize < "$F/tinyc.ir" > /dev/null
        qtable --read $a.quantize -q back.quantize < "$F/tiny.ir" > /dev/null
        cmp $a.quantize back.quantize
    done
    qtable --quantizer symmetric_affine --qtype int8 --algorithm kl_divergence --divergence-nbins 8 \
        -q k8.quantize < "$F/tinyc.ir" > /dev/null
    ! cmp -s k8.quantize kl_divergence.quantize || false
    ! cmp -s percentile.quantize n.quantize || false
}

@test "qtable: a Sigmoid/Softmax output keeps its calibrated range under the clipping algorithms" {
    # A probability map as a detector writes it: a background near 0 and 0.5% of pixels near
    # 1.  KL's least divergence (and percentile's 99.99%) would cut the rare values near 1 and
    # saturate every detection below a 0.3 threshold; the input logits are still clipped.
    /usr/bin/python3 - <<'PY'
import numpy as np, onnx
from onnx import helper, TensorProto
g = helper.make_graph([helper.make_node('Sigmoid', ['x'], ['y'], name='sig')], 'sig',
                      [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 1, 64, 64])],
                      [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 1, 64, 64])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]), 'sig.onnx')
rng = np.random.default_rng(3)
for i in range(2):
    x = rng.normal(-8, 1, (1, 1, 64, 64))
    x.flat[rng.choice(x.size, 20, replace=False)] = rng.uniform(4, 8, 20)
    np.save(f'x{i}.npy', x.astype(np.float32))
PY
    printf '%s\n' "$PWD/x0.npy" "$PWD/x1.npy" > ds.txt
    onnx2ir --inputmeta m.yml --dataset ds.txt sig.onnx > m.ir
    calib -q --input-meta m.yml < m.ir > c.ir
    field() { awk -v k="'@$2':" -v f="$3:" '$1 == k { e = 1; next } e && /^  [^ ]/ { exit } e && $1 == f { print $2; exit }' "$1"; }
    qtable --quantizer asymmetric_affine --qtype uint8 -q n.quantize < c.ir > /dev/null
    ymax=$(field n.quantize Sigmoid_sig_1:out0 max_value)
    awk -v m="$ymax" 'BEGIN { exit !(m > 0.98) }'
    for a in kl_divergence percentile mse moving_average; do
        qtable --quantizer asymmetric_affine --qtype uint8 --algorithm $a -q $a.quantize < c.ir > /dev/null
        [ "$(field $a.quantize Sigmoid_sig_1:out0 max_value)" = "$ymax" ] || { echo "$a clips the probability"; false; }
    done
    # the logits are clipped as before: the algorithm still acts on the other tensors
    [ "$(field percentile.quantize x_2:out0 min_value)" != "$(field n.quantize x_2:out0 min_value)" ]
}

@test "qtable --compute-entropy: activations then weights, each ascending, scores in [0, 1)" {
    need_calib
    qtable --quantizer asymmetric_affine --qtype uint8 --compute-entropy e.txt < "$F/tinyc.ir" > /dev/null
    [ "$(wc -l < e.txt)" -eq 13 ]           # 10 activations, 3 weights
    grep -Evq '^@[^,]+:(out0|weight), [0-9.e+-]+$' e.txt && return 1
    [ "$(grep -c ':out0, ' e.txt)" -eq 10 ]
    [ "$(head -10 e.txt | grep -c ':out0, ')" -eq 10 ]
    head -10 e.txt | awk -F', ' 'NR > 1 && $2 < p { exit 1 } { p = $2 }'
    tail -3 e.txt | awk -F', ' 'NR > 1 && $2 < p { exit 1 } { p = $2 }'
    awk -F', ' '$2 < 0 || $2 >= 1 { exit 1 }' e.txt
    # a table read back ranks the same
    qtable --quantizer asymmetric_affine --qtype uint8 -q t.quantize < "$F/tinyc.ir" > /dev/null
    qtable --read t.quantize --compute-entropy e2.txt < "$F/tinyc.ir" > /dev/null
    cmp e.txt e2.txt
}

@test "qtable: output files are written whole or not at all" {
    need_calib
    run -3 --separate-stderr qtable --quantizer asymmetric_affine --qtype uint8 -q nodir/t.quantize < "$F/tinyc.ir"
    assert_clean_failure qtable "nodir/t.quantize"
    [ -z "$(ls -A | grep -v '^separate-stderr')" ]
    qtable --quantizer asymmetric_affine --qtype uint8 -q t.quantize --compute-entropy e.txt < "$F/tinyc.ir" > /dev/null
    [ "$(stat -c %a t.quantize)" = "$(touch probe && stat -c %a probe)" ]
    [ "$(ls -A | grep -v '^separate-stderr')" = "e.txt
probe
t.quantize" ]
}

# ---- reading and round trips ----

@test "qtable --read: stream -> YAML -> stream -> YAML is byte-identical" {
    qtable --read "$Q/tiny.quantize" -q a.quantize < "$F/tiny.ir" > r.ir 2> err.txt
    [ ! -s err.txt ]
    cmp "$Q/tiny.quantize" a.quantize
    qtable --summary < r.ir > b.quantize
    cmp a.quantize b.quantize
    qtable --read b.quantize -q c.quantize < r.ir > r2.ir
    cmp a.quantize c.quantize
}

@test "qtable --read: a hand edit of one scale changes exactly that entry" {
    awk '/Relu_relu1_9:out0/ { e = 1 } e && /^    scale:/ { print "    scale: 0.25"; e = 0; next } { print }' \
        "$Q/tiny.quantize" > edited.quantize
    qtable --read edited.quantize -q out.quantize < "$F/tiny.ir" > /dev/null
    run diff "$Q/tiny.quantize" out.quantize
    [ "${#lines[@]}" -eq 4 ]
    [[ "${lines[1]}" == "<     scale: "* && "${lines[3]}" == ">     scale: 0.25" ]]
    # an entry without its scale and zero point gets them from min/max again
    awk '/x_11:out0/ { e = 1 } e && /^    (scale|zero_point):/ { next } /^  .@Conv/ { e = 0 } { print }' \
        "$Q/tiny.quantize" > noscale.quantize
    qtable --read noscale.quantize -q back.quantize < "$F/tiny.ir" > /dev/null
    cmp "$Q/tiny.quantize" back.quantize
}

@test "qtable --read: customized_quantize_layers round-trips, normalised" {
    { sed '$d' "$Q/tiny.quantize"
      printf "customized_quantize_layers:\n  Relu_relu1_9: dynamic_fixed_point-int16\n  x_11: asymmetric_affine-u8\n"
      printf "  'attach_Gemm_fc1/out0_0': bfloat16\n  Initializer_k_6: dynamic_fixed_point-i16\n"; } > c.quantize
    qtable --read c.quantize -q out.quantize < "$F/tiny.ir" > /dev/null
    [ "$(sed -n '/^customized_quantize_layers:/,$p' out.quantize)" = "customized_quantize_layers:
  x_11: asymmetric_affine-u8
  Relu_relu1_9: dynamic_fixed_point-i16
  Initializer_k_6: dynamic_fixed_point-i16
  attach_Gemm_fc1/out0_0: bfloat16" ]
    qtable --read out.quantize -q again.quantize < "$F/tiny.ir" > /dev/null
    cmp out.quantize again.quantize
}

@test "qtable --read: a required tensor without an entry" {
    awk '/Mul_mul1_3:out0/ { skip = 1; next } skip && /^    / { next } { skip = 0; print }' "$Q/tiny.quantize" \
        > missing.quantize
    run -2 --separate-stderr qtable --read missing.quantize < "$F/tiny.ir"
    assert_clean_failure qtable "missing.quantize: no entry for '@Mul_mul1_3:out0', which the graph needs"
    grep -v "^  .@\|^    " "$Q/tiny.quantize" > none.quantize
    run -2 --separate-stderr qtable --read none.quantize < "$F/tiny.ir"
    assert_clean_failure qtable "no entry for '@x_11:out0' and 15 more tensors the graph needs"
}

@test "qtable --read: a table from another model names the first unknown layer" {
    need_yolo
    run -2 --separate-stderr qtable --read "$Q/tiny.quantize" < "$F/yolo.ir"
    assert_clean_failure qtable "tiny.quantize:4:3: layer 'x_11' of '@x_11:out0' not found in the graph"
    run -2 --separate-stderr qtable --read "$Q/yolov5s_vendor_d2.quantize" < "$F/tiny.ir"
    assert_clean_failure qtable "yolov5s_vendor_d2.quantize:4:3: layer 'images_266' of '@images_266:out0' not found"
}

@test "qtable --read: the vendor's dialect 2 (hybrid, per-channel) of yolov5s" {
    need_yolo
    qtable --read "$Q/yolov5s_vendor_d2.quantize" -q out.quantize < "$F/yolo.ir" > /dev/null 2> err.txt
    [ ! -s err.txt ]
    field() { awk -v k="'@$1':" -v f="$2:" '$1 == k { e = 1; next } e && /^  [^ ]/ { exit } e && $1 == f { print $2; exit }' out.quantize; }
    [ "$(field Sigmoid_Sigmoid_202_21:out0 quantizer)" = dynamic_fixed_point ]
    [ "$(field Sigmoid_Sigmoid_202_21:out0 qtype)" = i16 ]
    [ "$(field Sigmoid_Sigmoid_202_21:out0 fl)" = 15 ]
    [ "$(field Conv_Conv_0_257:weight quantizer)" = perchannel_symmetric_affine ]
    [ "$(field Conv_Conv_0_257:weight channel_dim)" = 0 ]
    [ "$(field Conv_Conv_0_257:bias qtype)" = i32 ]         # scales derived: s_in * s_w[c]
    [ "$(sed -n '/^customized_quantize_layers:/,$p' out.quantize | grep -c dynamic_fixed_point-i16)" -eq 60 ]
    # the attach_ entry and the hybrid converters name no tensor of their own
    ! grep -q "attach_\|_pre_" <(grep "^  .@" out.quantize) || false
    qtable --read out.quantize -q again.quantize < "$F/yolo.ir" > /dev/null
    cmp out.quantize again.quantize
}

@test "qtable --read: the vendor's dialect 1 (Acuity 6.0 layout) of yolov5s" {
    need_yolo
    qtable --read "$Q/yolov5s_vendor_d1.quantize" -q out.quantize < "$F/yolo.ir" > /dev/null 2> err.txt
    [ ! -s err.txt ]
    [ "$(grep -c "^  .@" out.quantize)" -eq "$(grep -c "^    .@" "$Q/yolov5s_vendor_d1.quantize")" ]
    field() { awk -v k="'@$1':" -v f="$2:" '$1 == k { e = 1; next } e && /^  [^ ]/ { exit } e && $1 == f { print $2; exit }' out.quantize; }
    [ "$(field Conv_Conv_0_257:weight qtype)" = u8 ]        # the vendor's own uint8 weights
    [ "$(field Conv_Conv_0_257:weight zero_point)" = 125 ]
    [ "$(field Sigmoid_Sigmoid_237_26:out0 quantizer)" = dynamic_fixed_point ]
    # the third bias had no scale: s_in * s_w
    [ -n "$(field Conv_Conv_6_220:bias scale)" ]
    qtable --read out.quantize -q again.quantize < "$F/yolo.ir" > /dev/null
    cmp out.quantize again.quantize
}

@test "qtable: a yolov5s table from statistics reads back" {
    need_yolo
    need_calib
    require_file "$QP_CACHE/images/dataset.txt"
    onnx2ir --inputmeta y.yml --dataset "$QP_CACHE/images/dataset.txt" "$YOLO" > y.ir
    calib -q --input-meta y.yml --iterations 2 < y.ir > yc.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 -q y.quantize < yc.ir > /dev/null
    qtable --read y.quantize -q back.quantize < y.ir > /dev/null
    cmp y.quantize back.quantize
}

@test "qtable: what qtable writes, PyYAML reads as the same numbers" {
    /usr/bin/python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed"
    /usr/bin/python3 - "$Q/tiny.quantize" <<'EOF'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert d["version"] == 2 and d["customized_quantize_layers"] == {}
for k, e in d["quantize_parameters"].items():
    assert k.startswith("@") and isinstance(e["scale"], float) and isinstance(e["zero_point"], int), k
    assert isinstance(e["max_value"], float) and isinstance(e["min_value"], float), k
EOF
}

# ---- bad tables: one line, exit 2, the file:line:column ----

@test "qtable --read: YAML syntax, structure and libyaml's silent acceptances" {
    bad q_syntax 2 "q_syntax.quantize:5:4: did not find expected key"
    bad q_dup_key 2 "q_dup_key.quantize:9:3: duplicate key '@x_11:out0' (first at line 3)"
    bad q_dup_field 2 "q_dup_field.quantize:8:5: duplicate key 'scale' (first at line 7)"
    bad q_anchor 2 "q_anchor.quantize:3:17: anchors ('&a') are not allowed"
    bad q_alias 2 "q_alias.quantize:4:25: aliases ('*a') are not allowed"
    bad q_tag 2 "tags ('tag:yaml.org,2002:float') are not allowed"
    bad q_two_docs 2 "q_two_docs.quantize:3:1: several YAML documents"
    bad q_empty 2 "q_empty.quantize: empty file (expected 'quantize_parameters:')"
    bad q_not_map 2 "the document must be a mapping with 'quantize_parameters', not a list"
    bad q_entry_not_map 2 "entry '@x_11:out0' must be a mapping of fields, not a scalar"
    bad q_deep 2 "nesting deeper than 16 levels"
    bad q_tab 2 "q_tab.quantize:4:1: a TAB character"
    bad q_not_utf8 2 "q_not_utf8.quantize:3:14: invalid leading UTF-8 octet"
}

@test "qtable --read: unknown keys and fields, with the nearest known one" {
    bad q_unknown_top 2 "q_unknown_top.quantize:2:1: unknown key 'quantize_parameter' (did you mean 'quantize_parameters'?)"
    bad q_unknown_field 2 "q_unknown_field.quantize:7:5: unknown field 'scael' in '@x_11:out0' (did you mean 'scale'?)"
    bad q_dialect_mix 2 "field 'dtype' belongs to dialect 1 (this file says 'version: 2')"
    bad q_version 2 "q_version.quantize:1:10: version 3 is not supported"
    bad q_no_qtype 2 "'@x_11:out0' lacks 'qtype'"
    bad q_unknown_layer 2 "q_unknown_layer.quantize:3:3: layer 'Relu_relu1_8' of '@Relu_relu1_8:out0' not found in the graph (did you mean 'Relu_relu1_9'?)"
    bad q_key_form 2 "entry key 'Relu_relu1_9' is not of the form '@<layer key>:out0|weight|bias'"
    bad q_bad_port 2 "'@Relu_relu1_9:out2': layer 'Relu_relu1_9' (Relu) has 1 output"
    bad q_no_weight 2 "layer 'Relu_relu1_9' (Relu) has no constant float weight"
    bad q_int_tensor 2 "'Initializer_shape_4' is of type int64; only float tensors are quantized"
    bad q_custom_layer 2 "q_custom_layer.quantize:4:3: customized layer 'Relu_relu_9' not found in the graph (did you mean 'Relu_relu1_9'?)"
    bad q_custom_type 2 "customized type 'dynamic_fixed_point-i32' of 'Relu_relu1_9' is not <quantizer>-<qtype>"
}

@test "qtable --read: wrong scalar types and numbers strtod/strtol refuse" {
    bad q_wrong_type 2 "q_wrong_type.quantize:8:17: 'zero_point' must be an integer, not 'three'"
    bad q_map_type 2 "'scale' must be a number or a list of numbers, not a mapping"
    bad q_quoted_num 2 "'scale' must be a number, not '0.1' (quoted)"
    bad q_trailing 2 "q_trailing.quantize:7:12: 'scale' must be a number, not '0.1abc'"
    bad q_erange 2 "q_erange.quantize:7:16: 'max_value' value '1e999' is out of range"
    bad q_int_range 2 "'zero_point' value '99999999999' is out of range [-2147483648, 2147483647]"
    bad q_nan 2 "q_nan.quantize:7:16: 'max_value' value '.nan' is not finite"
    bad q_inf 2 "q_inf.quantize:7:12: 'scale' value '.inf' is not finite"
    bad q_quantizer 2 "unknown quantizer 'asymmetric' (allowed: asymmetric_affine,"
    bad q_rounding 2 "rounding 'rtz' is not supported (only rtne: qpipe(7))"
}

@test "qtable --read: values out of range for the quantizer and qtype" {
    bad q_bits 2 "'@x_11:out0': qtype 'i32' is for biases; activations and weights are 8 or 16 bits"
    bad q_bits4 2 "unknown qtype 'i4' (allowed: u8 i8 i16 i32 i64 bf16 f16 f32"
    bad q_bias_bits 2 "a bias is i32 (8-bit layers) or i64 (16-bit layers), not 'i16'"
    bad q_scale_zero 2 "q_scale_zero.quantize:7:12: scale 0.0 must be positive"
    bad q_scale_neg 2 "scale -0.5 must be positive"
    bad q_zp_range 2 "'@x_11:out0': zero_point 300 is outside the u8 range [0, 255]"
    bad q_zp_sym 2 "zero_point 5: symmetric_affine takes zero point 0"
    bad q_min_max 2 "q_min_max.quantize:8:16: '@x_11:out0': min_value 3.0 is greater than max_value -1.0"
    bad q_fl_range 2 "'@x_11:out0': fl 40 is outside [-32, 32]"
    bad q_dfp_scale 2 "dynamic_fixed_point takes no 'scale' (it takes 'fl')"
    bad q_per_channel_act 2 "per-channel scales (3) are only for weights and biases"
    bad q_channels 2 "'@Conv_conv1_10:weight': 3 scales for axis 0 of size 4"
}

@test "qtable --read: a missing file" {
    run -1 --separate-stderr qtable --read nosuch.quantize < "$F/tiny.ir"
    assert_clean_failure qtable "cannot read 'nosuch.quantize'"
}

# ---- the man pages' examples ----

@test "qtable(1) and qpipe-quantize(5): the EXAMPLES pipelines run" {
    need_calib
    cp "$F/tiny.ir" model.ir
    cp "$F/tinyc.ir" calibrated.ir
    cp "$Q/tiny.quantize" model.quantize
    cp "$F/tiny.yml" meta.yml
    for page in "$BATS_TEST_DIRNAME/../man/man1/qtable.1" "$BATS_TEST_DIRNAME/../man/man5/qpipe-quantize.5"; do
        awk '/^\.SH EXAMPLES/ { e = 1; next } /^\.SH / { e = 0 } e && /^\.RS/ { c = 1; next } /^\.RE/ { c = 0 }
             e && c && !/^\./ { gsub(/\\-/, "-"); gsub(/\\\(aq/, "\047"); gsub(/\\\\/, "\\"); print }' "$page" > ex.sh
        [ -s ex.sh ]
        run bash -e -o pipefail ex.sh
        [ "$status" -eq 0 ] || { cat ex.sh; echo "$output"; return 1; }
    done
}

@test "qtable -q onto a FIFO writes through it and leaves it a FIFO (no rename over a device)" {
    need_calib
    mkfifo pipe
    timeout 20 cat pipe > got.quantize &
    qtable --quantizer asymmetric_affine --qtype uint8 -q pipe < "$F/tinyc.ir" > /dev/null
    wait
    [ -p pipe ]
    grep -q '^quantize_parameters:' got.quantize
    ! ls pipe.tmp.* 2> /dev/null || false
}

@test "qtable -q onto a directory is one error line" {
    need_calib
    mkdir d
    run -2 --separate-stderr qtable --quantizer asymmetric_affine --qtype uint8 -q d < "$F/tinyc.ir"
    [[ "$stderr" == "qtable: cannot write 'd': Is a directory" ]] || { echo "$stderr"; false; }
}
