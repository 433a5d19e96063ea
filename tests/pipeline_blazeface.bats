#!/usr/bin/env bats
# pipelines/blazeface.sh on BlazeFace front with its decoding in the graph (tests/models/get_blazeface_decode.sh):
# calibrated on 16 face images, evaluated on 16 other faces (tests/cache/images/faces.txt), one table of mean
# cosines per field.
load helpers

setup_file() {
    M=$QP_CACHE/models/blazeface_decode.onnx
    [ -f "$M" ] && [ -f "$QP_CACHE/ort/node_modules/onnxruntime-node/package.json" ] || return 0
    export T=$BATS_FILE_TMPDIR/table.txt
    "$QP_ROOT/pipelines/blazeface.sh" "$BATS_FILE_TMPDIR/w" > "$T"
}

setup() {
    require_file "$QP_CACHE/models/blazeface_decode.onnx"
    require_file "$QP_CACHE/ort/node_modules/onnxruntime-node/package.json"
}

col() {   # ROW-LABEL COLUMN (1 whole, 2 boxes, 3 keypoints, 4 scores, 5 int16 layers)
    awk -v l="$1" -v c="$2" 'substr($0, 1, 18) == sprintf("%-18s", l) { split(substr($0, 19), f, " "); print f[c] }' "$T"
}

# holds A EXPR [B]: the awk expression EXPR of the numbers a and b is true (an empty A is a failure)
holds() { [ -n "$1" ] && awk -v a="$1" -v b="${3:-0}" "BEGIN { exit !($2) }"; }

@test "blazeface.sh: one table, a header and the nine rows, cosines in [0, 1]" {
    [ "$(wc -l < "$T")" -ge 10 ]
    local l c v
    for l in "float (ort)" uint8 "int8 PCQ" "int16 DFP" "hybrid tail i16" "float32 tail" "tail+score heads" auto \
             "auto rank target"; do
        for c in 1 2 3 4; do
            v=$(col "$l" $c)
            [ -n "$v" ] || { echo "no column $c in row '$l'"; cat "$T"; return 1; }
            holds "$v" 'a >= 0 && a <= 1.000001'
        done
    done
    [ "$(col "int8 PCQ" 5)" = 0/37 ] && [ "$(col "int16 DFP" 5)" = 37/37 ] && [ "$(col "hybrid tail i16" 5)" = 0/37 ]
}

@test "blazeface.sh: float matches onnxruntime; int8 keeps boxes and keypoints but loses the scores" {
    holds "$(col "float (ort)" 1)" 'a > 0.99999'
    holds "$(col "float (ort)" 4)" 'a > 0.99999'
    holds "$(col "int8 PCQ" 2)" 'a > 0.99'
    holds "$(col "int8 PCQ" 3)" 'a > 0.99'
    holds "$(col "int8 PCQ" 4)" 'a < 0.5'
    holds "$(col "uint8" 4)" 'a < 0.5'
    holds "$(col "int16 DFP" 4)" 'a > 0.99'
}

@test "blazeface.sh: the int16 tail brings the scores back, up to the float32 tail's ceiling" {
    holds "$(col "hybrid tail i16" 4)" 'a > b + 0.5' "$(col "int8 PCQ" 4)"
    holds "$(col "hybrid tail i16" 4)" 'a > b - 0.01' "$(col "float32 tail" 4)"
    holds "$(col "hybrid tail i16" 1)" 'a >= b' "$(col "int8 PCQ" 1)"
    holds "$(col "tail+score heads" 4)" 'a > b' "$(col "float32 tail" 4)"
}

# Issue #4's bar: scores >= 0.99 on the held-out faces at an int16 MAC share well below 100%, with the issue's
# own command (qmix --auto --target-cos 0.99 --target-field 16:17, searched on the calibration faces).
# Measured (2026-11-26): 0.990362 held out at 18.21% of the MACs; --rank target at 0.992: 0.991128 at 2.40%.
share() { awk '/^cost: / { sub("%", "", $2); print $2 }' "$1"; }

@test "blazeface.sh: qmix --auto, searched on the calibration faces, holds 0.99 on the held-out scores" {
    holds "$(col auto 4)" 'a >= 0.99'
    holds "$(col auto 1)" 'a >= b' "$(col "int8 PCQ" 1)"
    holds "$(share "$BATS_FILE_TMPDIR/w/auto.report")" 'a > 0 && a < 25'
    grep -q '^ranking: .* by single cosine' "$BATS_FILE_TMPDIR/w/auto.report"
}

@test "blazeface.sh: qmix --auto --rank target holds 0.99 on the held-out scores at a smaller MAC share" {
    holds "$(col "auto rank target" 4)" 'a >= 0.99'
    holds "$(share "$BATS_FILE_TMPDIR/w/auto-target.report")" 'a > 0 && a < b' \
        "$(share "$BATS_FILE_TMPDIR/w/auto.report")"
    grep -q '^ranking on the targets (--rank target): ' "$BATS_FILE_TMPDIR/w/auto-target.report"
}

@test "blazeface.sh: --rank target chooses the same layers at QP_THREADS=1 as the pipeline's run (all CPUs)" {
    local w=$BATS_FILE_TMPDIR/w
    cd "$BATS_TEST_TMPDIR"
    QP_THREADS=1 qmix --auto --rank target --input-meta "$w/calib-inputmeta.yml" --iterations 16 \
        --target-cos 0.992 --target-field scores=16:17 -o t1.quantize --report t1.txt < "$w/pcq.ir" > t1.ir
    cmp t1.quantize "$w/auto-target.quantize"
    diff <(grep -v '^verification runs' t1.txt) <(grep -v '^verification runs' "$w/auto-target.report")
}

@test "blazeface.sh: a missing model is one error line, exit 1, no table" {
    run -1 --separate-stderr "$QP_ROOT/pipelines/blazeface.sh" "$BATS_TEST_TMPDIR/w" "$BATS_TEST_TMPDIR/none.onnx"
    assert_clean_failure blazeface.sh "none.onnx"
    run -2 --separate-stderr "$QP_ROOT/pipelines/blazeface.sh"
    assert_clean_failure usage ""
}
