#!/usr/bin/env bats
# qmix: hybrid quantization.  Options and errors, --layer globs, --from, the rewritten table's
# round trip through qtable --read and qinfer runs of the hybrid streams on BlazeFace (small),
# and the vendor guide's 60-key list on the built-in yolov5s.
bats_require_minimum_version 1.5.0
load helpers

BLAZE=$QP_CACHE/models/face_detection_front_128x128_barracuda.onnx
YOLO=$QP_CACHE/models/yolov5s.onnx
IMAGES=$BATS_TEST_DIRNAME/data/images
SEED=$BATS_TEST_DIRNAME/models/seed_keys.txt
RELU0='Relu_StatefulPartitionedCall/functional_1/conv2d/Relu_107'

# BlazeFace: import, calibrate on the built-in photos, an int8 PCQ table (once per file).
setup_file() {
    [ -f "$BLAZE" ] || return 0
    cd "$BATS_FILE_TMPDIR"
    onnx2ir --inputmeta bf.yml --dataset ds.txt "$BLAZE" > bf.ir
    sed -i 's/^\( *scale:\).*/\1 0.0078125/' bf.yml
    ls "$IMAGES"/*.jpg > ds.txt
    calib --input-meta bf.yml < bf.ir > c.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 -q q.quantize < c.ir > q.ir
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    F=$BATS_FILE_TMPDIR
}

# The out0 entry of layer KEY in a .quantize file.
entry() {
    awk -v k="  '@$1:out0':" '$0 == k { p = 1; print; next } p && /^  [^ ]/ { p = 0 } p' "$2"
}

@test "--help and --version" {
    run -0 qmix --help
    [[ "$output" == *"--layer KEY=TYPE"* ]]
    [[ "$output" == *"--from KEY --to TYPE"* ]]
    run -0 qmix --version
    [[ "$output" == "qmix "* ]]
}

@test "a bad option, a --layer without TYPE, --from without --to and nothing to do are usage errors" {
    run -2 --separate-stderr qmix --bogus
    [[ "$stderr" == "qmix: unknown option '--bogus'"* ]]
    run -2 --separate-stderr qmix --layer Relu
    [[ "$stderr" == *"--layer 'Relu' is not KEY=TYPE"* ]]
    run -2 --separate-stderr qmix --from Relu
    [[ "$stderr" == *"--from and --to go together"* ]]
    run -2 --separate-stderr qmix
    [[ "$stderr" == *"nothing to apply"* ]]
}

@test "a stream without statistics is refused" {
    require_file "$BLAZE"
    qtable --read "$F/q.quantize" < "$F/bf.ir" > nocal.ir
    run -1 --separate-stderr qmix --layer "$RELU0=dynamic_fixed_point-i16" < nocal.ir
    assert_clean_failure qmix \
        "no calibration statistics in the stream: qmix needs calib's statistics to re-derive parameters"
}

@test "an unknown command-line key exits 2 naming the nearest key" {
    require_file "$BLAZE"
    run -2 --separate-stderr qmix --layer Relu_107=dynamic_fixed_point-i16 < "$F/q.ir"
    assert_clean_failure qmix "layer 'Relu_107' not found in the graph (did you mean '$RELU0'?)"
    run -2 --separate-stderr qmix --from Relu_99 --to float16 < "$F/q.ir"
    assert_clean_failure qmix "did you mean 'Relu_StatefulPartitionedCall/functional_1/re_lu_1/Relu_99'"
}

@test "an unknown type names the layer; an unknown key in a file exits 1" {
    require_file "$BLAZE"
    run -2 --separate-stderr qmix --layer "$RELU0=dynamic_fixed_point-i64" < "$F/q.ir"
    assert_clean_failure qmix "type 'dynamic_fixed_point-i64' of '$RELU0'"
    printf 'customized_quantize_layers:\n  Relu_StatefulPartitionedCall/functional_1/conv2d/Relu_10: bfloat16\n' > k.quantize
    run -1 --separate-stderr qmix -q k.quantize < "$F/q.ir"
    assert_clean_failure qmix "k.quantize: customized layer 'Relu_StatefulPartitionedCall/functional_1/conv2d/Relu_10' not found in the graph (did you mean '$RELU0'"
}

@test "another model's table is refused" {
    require_file "$BLAZE"
    cat > other.quantize <<'Q'
version: 2
quantize_parameters:
  '@images_266:out0': {qtype: i8, quantizer: asymmetric_affine, rounding: rtne, max_value: 1.0, min_value: 0.0, scale: 0.0039, zero_point: -128}
customized_quantize_layers:
  Sigmoid_Sigmoid_202_21: dynamic_fixed_point-i16
Q
    run -1 --separate-stderr qmix -q other.quantize < "$F/q.ir"
    assert_clean_failure qmix "'other.quantize' is the table of another model: 1 of 1 entries"
}

@test "--layer glob: the Relus go to int16, converters at every boundary, the stream runs" {
    require_file "$BLAZE"
    qmix --layer 'Relu_*=dynamic_fixed_point-i16' -v -o h.quantize < "$F/q.ir" > h.ir 2> err
    [ "$(sed -n '/^customized_quantize_layers:/,$p' h.quantize | grep -c ': dynamic_fixed_point-i16$')" -eq 17 ]
    grep -q "^${RELU0}_pre_asymmetric_affinei8_to_dynamic_fixed_pointi16_[0-9]*$" err
    run -0 qmix --layer 'Relu_*=dynamic_fixed_point-i16' --list-converters < "$F/q.ir"
    [ "$output" = "$(cat err)" ]
    e=$(entry "$RELU0" h.quantize)
    [[ "$e" == *"quantizer: dynamic_fixed_point"* && "$e" == *"qtype: i16"* && "$e" == *"fl: "* ]]
    c=$(grep -o "^  '@${RELU0}_pre_[^']*:out0'" h.quantize)
    [ -n "$c" ]
    run -0 qinfer --dtype quantized --input-meta "$F/bf.yml" --output-dir out < h.ir
    [ -n "$(ls out/iter_0_attach_*)" ]
}

@test "--layer '*=TYPE' takes every layer that holds a float tensor: the same integers as qtable's table of TYPE" {
    require_file "$BLAZE"
    qmix --layer '*=dynamic_fixed_point-i16' < "$F/q.ir" > star.ir
    qtable --quantizer dynamic_fixed_point --qtype int16 < "$F/c.ir" > dfp.ir
    qinfer -q --dtype quantized --input-meta "$F/bf.yml" --iterations 2 --raw --output-dir a < star.ir
    qinfer -q --dtype quantized --input-meta "$F/bf.yml" --iterations 2 --raw --output-dir b < dfp.ir
    [ -n "$(ls a/raw)" ]
    diff -r a b
}

@test "converters appear in qinfer --dump-all under the names qmix lists, holding their input" {
    require_file "$BLAZE"
    qmix --layer 'Relu_*=dynamic_fixed_point-i16' < "$F/q.ir" > h.ir
    qmix --layer 'Relu_*=dynamic_fixed_point-i16' --list-converters < "$F/q.ir" > conv.txt
    [ "$(wc -l < conv.txt)" -ge 17 ]
    qinfer -q --dtype quantized --input-meta "$F/bf.yml" --dump-all --format npy --output-dir d < h.ir
    [ "$(ls d | grep -c '_pre_')" -eq "$(wc -l < conv.txt)" ]
    while read -r k; do
        k=${k//\//_}   # file names have '_' for '/'
        f=$(ls d/iter_0_"${k}"_out0_*.npy)
        # the converted tensor is its input (a layer dumped under its own name) at the other type
        dims=${f#d/iter_0_${k}_out0}
        found=0
        for g in d/iter_0_*_out0"$dims"; do
            [[ "$g" == *_pre_* ]] && continue
            tsim --min-cos 0.999 "$g" "$f" > /dev/null 2>&1 && found=1 && break
        done
        [ "$found" = 1 ] || { echo "no input matches converter $k"; return 1; }
    done < conv.txt
    # the int8 table has no converter: none is dumped
    qinfer -q --dtype quantized --input-meta "$F/bf.yml" --dump-all --format npy --output-dir e < "$F/q.ir"
    [ "$(ls e | grep -c '_pre_')" -eq 0 ]
}

@test "the rewritten table reads back with qtable --read (converters skipped): the same table, the same integers" {
    require_file "$BLAZE"
    qmix --layer 'Conv_*=bfloat16' --layer "$RELU0=float32" -o h.quantize < "$F/q.ir" > h.ir
    qtable --read h.quantize < "$F/c.ir" > r.ir
    qtable --summary < h.ir > a.quantize
    qtable --summary < r.ir > b.quantize
    cmp a.quantize b.quantize
    grep -q "^  $RELU0: float32$" a.quantize
    # a float layer keeps the range its integer consumers convert it with, so the table read
    # back runs and gives the same integers (it did not before 2026-11-26: "no recorded range")
    grep -A4 "^  '@$RELU0:out0':" a.quantize | grep -q 'max_value:'
    for s in h r; do
        QP_THREADS=1 qinfer -q --dtype quantized --raw --format npy --input-meta "$F/bf.yml" --iterations 2 \
            --output-dir "o_$s" < $s.ir
    done
    diff -r o_h o_r
}

@test "switched weight layers run at every type" {
    require_file "$BLAZE"
    for t in bfloat16 float32 dynamic_fixed_point-i16 asymmetric_affine-u8; do
        qmix --layer "Conv_*conv2d_1/*=$t" < "$F/q.ir" > t.ir
        run -0 qinfer --dtype quantized --input-meta "$F/bf.yml" --output-dir "o_$t" < t.ir
    done
}

@test "yolov5s: the guide's 60-key list resolves, runs, and --from Transpose_199 gives the same tail" {
    require_file "$YOLO"
    onnx2ir --inputmeta m.yml --dataset ds.txt "$YOLO" > y.ir
    sed -i 's/^\( *scale:\).*/\1 0.0039215686/' m.yml
    ls "$IMAGES"/*.jpg > ds.txt
    calib --input-meta m.yml < y.ir > c.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 < c.ir > q.ir
    { echo 'customized_quantize_layers:'; sed 's/^\(.*\)$/  \1: dynamic_fixed_point-i16/' "$SEED"; } > seed.quantize
    [ "$(grep -c dynamic_fixed_point "seed.quantize")" -eq 60 ]
    qmix -q seed.quantize -v -o h.quantize < q.ir > h.ir 2> err
    # one converter per head, before each Sigmoid (the vendor's names, at our int8 activations)
    [ "$(grep -c '^Sigmoid_Sigmoid_[0-9]*_[0-9]*_pre_asymmetric_affinei8_to_dynamic_fixed_pointi16_[0-9]*$' err)" -eq 3 ]
    [ "$(sed -n '/^customized_quantize_layers:/,$p' h.quantize | grep -c ': dynamic_fixed_point-i16$')" -eq 60 ]
    run -0 qinfer --dtype quantized --input-meta m.yml --iterations 1 --output-dir out < h.ir
    [ -f out/iter_0_attach_Concat_Concat_303_out0_0_out0_1_25200_85.tensor ]
    # '*=TYPE' skips the constants that hold no float tensor (Initializer_331_64 is a Reshape's shape); a
    # pattern that matches only such constants (a usage error, as an unknown key) or the exact key of one is an
    # error naming it
    qmix --layer '*=dynamic_fixed_point-i16' < q.ir > /dev/null
    run -2 --separate-stderr qmix --layer 'Initializer_331_6*=dynamic_fixed_point-i16' < q.ir
    [ "$stderr" = "qmix: --layer: pattern 'Initializer_331_6*' matches no layer key that holds a float tensor" ]
    run -1 --separate-stderr qmix --layer 'Initializer_331_64=dynamic_fixed_point-i16' < q.ir
    [ "$stderr" = "qmix: layer 'Initializer_331_64' has no float tensor to take 'dynamic_fixed_point-i16'" ]
    qmix --from Transpose_199 --to dynamic_fixed_point-i16 -o fr.quantize < q.ir > fr.ir
    keys=$(sed -n '/^customized_quantize_layers:/,$p' fr.quantize | sed -n 's/^  \([^:]*\): .*/\1/p' |
        grep -v -e '^Transpose_' -e '^attach_')
    [ "$(echo "$keys" | wc -l)" -ge 20 ]
    for k in $keys; do
        grep -qx "$k" "$SEED"
        [ -n "$(entry "$k" h.quantize)" ]
        [ "$(entry "$k" fr.quantize)" = "$(entry "$k" h.quantize)" ]
    done
}

@test "the EXAMPLES of qmix(1) run" {
    require_file "$BLAZE"
    cp "$F/q.ir" "$F/bf.yml" "$F/ds.txt" .
    sed -n '/^\.SH EXAMPLES/,/^\.SH/p' "$BATS_TEST_DIRNAME/../man/man1/qmix.1" |
        awk '/^\.nf/ { p = 1; next } /^\.fi/ { exit } p' | grep -v '^\.' |
        sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e "s/\\\\(aq/'/g" > examples.sh  # the first block: BlazeFace
    [ "$(wc -l < examples.sh)" -ge 3 ]
    run -0 bash -euo pipefail examples.sh
}
