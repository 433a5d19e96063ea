#!/usr/bin/env bats
# qinfer (float32): options, inputs of every kind, Acuity dump names, determinism across
# thread counts, and bad inputs.
load helpers

N=/usr/include/onnx/backend/test/data/node

setup() {
    T=$N/test_conv_with_strides_padding
    onnx2ir "$T/model.onnx" > "$BATS_TEST_TMPDIR/conv.ir"
}

@test "--help and --version" {
    run -0 qinfer --help
    [[ "$output" == usage:* ]]
    run -0 qinfer --version
    [[ "$output" == "qinfer (qpipe) "* ]]
}

@test "a bad option exits 2" {
    run -2 --separate-stderr qinfer --frobnicate < "$BATS_TEST_TMPDIR/conv.ir"
    assert_clean_failure qinfer "unknown option"
    run -2 --separate-stderr qinfer --format xml < "$BATS_TEST_TMPDIR/conv.ir"
    assert_clean_failure qinfer "--format 'xml'"
}

@test "no input for a model with inputs exits 2" {
    run -2 --separate-stderr qinfer < "$BATS_TEST_TMPDIR/conv.ir"
    assert_clean_failure qinfer "--input"
}

@test "inputs from .pb, outputs match the ONNX test within its tolerance" {
    run -0 qinfer --input "$T/test_data_set_0/input_0.pb" --input "$T/test_data_set_0/input_1.pb" \
        --format both --output-dir "$BATS_TEST_TMPDIR/o" < "$BATS_TEST_TMPDIR/conv.ir"
    ls "$BATS_TEST_TMPDIR/o"
    local y=$BATS_TEST_TMPDIR/o/iter_0_attach_Conv_Conv_0_out0_0_out0_1_1_4_3.npy
    [ -f "$y" ] && [ -f "${y%.npy}.tensor" ]
    [ -f "$BATS_TEST_TMPDIR/o/iter_0_x_2_out0_1_1_7_5.tensor" ]      # inputs are dumped too
    [ -f "$BATS_TEST_TMPDIR/o/iter_0_W_3_out0_1_1_3_3.tensor" ]
    run -0 tsim --allclose 1e-3,1e-7 "$T/test_data_set_0/output_0.pb" "$y"
    run -0 tsim --allclose 1e-3,1e-7 "$T/test_data_set_0/output_0.pb" "${y%.npy}.tensor"
}

@test "--dump-all writes every layer under its key" {
    local d=$N/test_sigmoid
    onnx2ir "$d/model.onnx" > "$BATS_TEST_TMPDIR/s.ir"
    run -0 qinfer --input "$d/test_data_set_0/input_0.pb" --dump-all --output-dir "$BATS_TEST_TMPDIR/d" < "$BATS_TEST_TMPDIR/s.ir"
    run -0 ls "$BATS_TEST_TMPDIR/d"
    [ "${lines[0]}" = iter_0_Sigmoid_Sigmoid_0_1_out0_3_4_5.tensor ]
    [ "${lines[1]}" = iter_0_attach_Sigmoid_Sigmoid_0_out0_0_out0_3_4_5.tensor ]
    [ "${lines[2]}" = iter_0_x_2_out0_3_4_5.tensor ]
}

@test "an input of the wrong shape exits 1 naming the input" {
    run -1 --separate-stderr qinfer --input "$T/test_data_set_0/input_1.pb" --input "$T/test_data_set_0/input_1.pb" \
        --output-dir "$BATS_TEST_TMPDIR/o" < "$BATS_TEST_TMPDIR/conv.ir"
    assert_clean_failure qinfer "input 'x' expects"
}

@test "the wrong number of inputs exits 2" {
    run -2 --separate-stderr qinfer --input "$T/test_data_set_0/input_0.pb" --output-dir "$BATS_TEST_TMPDIR/o" \
        < "$BATS_TEST_TMPDIR/conv.ir"
    assert_clean_failure qinfer "inputs"
}

@test "a corrupt image exits 1 naming the file" {
    local m=$QP_CACHE/models/face_detection_front_128x128_barracuda.onnx
    require_file "$m"
    onnx2ir "$m" > "$BATS_TEST_TMPDIR/b.ir"
    head -c 2000 "$QP_ROOT/tests/data/images/astronaut.jpg" > "$BATS_TEST_TMPDIR/cut.jpg"
    run -1 --separate-stderr qinfer --input "$BATS_TEST_TMPDIR/cut.jpg" --output-dir "$BATS_TEST_TMPDIR/o" < "$BATS_TEST_TMPDIR/b.ir"
    assert_clean_failure qinfer "cut.jpg"
}

@test "outputs are byte-identical for 1 and 2 threads (yolov5s, with fusion)" {
    local m=$QP_CACHE/models/yolov5s.onnx
    require_file "$m"
    onnx2ir --inputmeta "$BATS_TEST_TMPDIR/meta.yml" "$m" > "$BATS_TEST_TMPDIR/y.ir"
    sed -i 's/^\( *scale:\).*/\1 0.0039215686/' "$BATS_TEST_TMPDIR/meta.yml"
    echo "$QP_ROOT/tests/data/images/dog.jpg" > "$BATS_TEST_TMPDIR/dataset.txt"
    QP_THREADS=1 qinfer --input-meta "$BATS_TEST_TMPDIR/meta.yml" --format npy --output-dir "$BATS_TEST_TMPDIR/t1" < "$BATS_TEST_TMPDIR/y.ir"
    QP_THREADS=2 qinfer --input-meta "$BATS_TEST_TMPDIR/meta.yml" --format npy --output-dir "$BATS_TEST_TMPDIR/t2" < "$BATS_TEST_TMPDIR/y.ir"
    cmp "$BATS_TEST_TMPDIR"/t1/iter_0_attach_*.npy "$BATS_TEST_TMPDIR"/t2/iter_0_attach_*.npy
}

@test "-v reports the memory plan, which reuses activation buffers" {
    run -0 --separate-stderr qinfer -v --input "$T/test_data_set_0/input_0.pb" --input "$T/test_data_set_0/input_1.pb" \
        --output-dir "$BATS_TEST_TMPDIR/o" < "$BATS_TEST_TMPDIR/conv.ir"
    [[ "$stderr" == *"memory plan: activations"* ]]
}

@test "--repeat prints the median and minimum run time" {
    run -0 --separate-stderr qinfer --repeat 3 --input "$T/test_data_set_0/input_0.pb" --input "$T/test_data_set_0/input_1.pb" \
        --output-dir "$BATS_TEST_TMPDIR/o" < "$BATS_TEST_TMPDIR/conv.ir"
    [[ "$stderr" == *"median_ms="*"min_ms="*"runs=3"* ]]
}

@test "an output directory that cannot be created exits 3" {
    run -3 --separate-stderr qinfer --input "$T/test_data_set_0/input_0.pb" --input "$T/test_data_set_0/input_1.pb" \
        --output-dir /proc/nope/x < "$BATS_TEST_TMPDIR/conv.ir"
    assert_clean_failure qinfer "cannot create"
}

@test "--summary lists history and layers" {
    run -0 qinfer --summary < "$BATS_TEST_TMPDIR/conv.ir"
    [[ "$output" == *"history 0: onnx2ir"* ]]
    [[ "$output" == *"Conv"* ]]
}
