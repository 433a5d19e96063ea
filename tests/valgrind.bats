#!/usr/bin/env bats
# valgrind over the filters on small inputs: no invalid access, no uninitialised use, no
# definite leak.  (ASan + UBSan cover the whole suite through `make check-asan`.)
load helpers

setup() {
    [ -z "${QP_SANITIZED:-}" ] || skip "valgrind does not run ASan builds"
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    VG="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
}

@test "valgrind: onnx2ir, qinfer --dump-all and tsim on a conv node test" {
    local d=/usr/include/onnx/backend/test/data/node/test_conv_with_strides_padding
    run -0 bash -c "$VG onnx2ir '$d/model.onnx' > '$BATS_TEST_TMPDIR/m.ir'"
    run -0 bash -c "$VG qinfer --input '$d/test_data_set_0/input_0.pb' --input '$d/test_data_set_0/input_1.pb' \
        --dump-all --format both --output-dir '$BATS_TEST_TMPDIR/out' < '$BATS_TEST_TMPDIR/m.ir'"
    local y=$(ls "$BATS_TEST_TMPDIR"/out/iter_0_attach_*.npy)
    run -0 $VG tsim --allclose 1e-3,1e-7 "$d/test_data_set_0/output_0.pb" "$y"
}

@test "valgrind: the float flow on BlazeFace front with an image" {
    local m=$QP_CACHE/models/face_detection_front_128x128_barracuda.onnx
    require_file "$m"
    run -0 bash -c "$VG onnx2ir --inputmeta '$BATS_TEST_TMPDIR/meta.yml' '$m' > '$BATS_TEST_TMPDIR/b.ir'"
    echo "$QP_ROOT/tests/data/images/astronaut.jpg" > "$BATS_TEST_TMPDIR/dataset.txt"
    run -0 bash -c "QP_THREADS=2 $VG qinfer --input-meta '$BATS_TEST_TMPDIR/meta.yml' --output-dir '$BATS_TEST_TMPDIR/o' < '$BATS_TEST_TMPDIR/b.ir'"
}

@test "valgrind: the IR reader on a truncated stream fails cleanly" {
    run -0 "$QP_BUILD/tests/mkbadir" "$BATS_TEST_TMPDIR"
    run -1 --separate-stderr bash -c "$VG qinfer --summary < '$BATS_TEST_TMPDIR/truncated.ir'"
    [[ "$stderr" == *"truncated IR stream"* ]]
}
