#!/usr/bin/env bats
# The vendor guide's flow on the built-in yolov5s through pipelines/: float (golden),
# int8 PCQ (the scores collapse), hybrid with the guide's verbatim list (they come back).
load helpers

setup_file() {
    M=$QP_CACHE/models/yolov5s.onnx
    [ -f "$M" ] || return 0
    export W=$BATS_FILE_TMPDIR/w
    "$QP_ROOT/pipelines/float.sh" "$M" "$W" "$QP_ROOT/tests/data/images/dog.jpg" \
        "$QP_ROOT/tests/data/images/chelsea.jpg" >/dev/null
    FIELDS=boxes:4,obj:1,cls:80 "$QP_ROOT/pipelines/int8.sh" "$W" > "$W/int8.txt"
    local ort=$QP_CACHE/ort/node_modules/onnxruntime-node/package.json   # the float row needs onnxruntime
    # AUTO: 0.6, as tests/qmix_auto.bats (on these two photos int16 everywhere gives 0.68)
    MODEL=$([ ! -f "$ort" ] || echo "$M") FIELDS=boxes:4,obj:1,cls:80 AUTO="--target-field 4:5 --target-cos 0.6" \
        "$QP_ROOT/pipelines/hybrid.sh" "$W" \
        "$QP_ROOT/pipelines/yolov5s-hybrid.quantize" > "$W/hybrid.txt"
}

cos_of() {   # FILE FIELD: the cosine of sample 0's row for that field ("" = whole)
    grep 'iter_0_' "$1" | awk -v f="$2" '(f == "" && $NF !~ /^\[/) || $NF == "[" f "]" { print $2; exit }'
}

@test "float.sh writes the golden tensor under Acuity's name" {
    require_file "$QP_CACHE/models/yolov5s.onnx"
    [ -f "$W/golden/iter_0_attach_Concat_Concat_303_out0_0_out0_1_25200_85.tensor" ]
    [ -f "$W/golden/iter_1_attach_Concat_Concat_303_out0_0_out0_1_25200_85.tensor" ]
}

@test "int8 PCQ: boxes survive, objectness and classes collapse (the guide's problem)" {
    require_file "$QP_CACHE/models/yolov5s.onnx"
    awk -v c="$(cos_of "$W/int8.txt" boxes)" 'BEGIN { exit !(c > 0.99) }'
    awk -v c="$(cos_of "$W/int8.txt" obj)" 'BEGIN { exit !(c < 0.05) }'
    [ -f "$W/yolov5s.perchannel_symmetric_affine-int8.quantize" ]
}

@test "hybrid with the guide's verbatim list: every key resolves, scores come back" {
    require_file "$QP_CACHE/models/yolov5s.onnx"
    grep -q 'Sigmoid_Sigmoid_202_21: dynamic_fixed_point-i16' "$W/yolov5s.hybrid.quantize"
    awk -v c="$(cos_of "$W/hybrid.txt" obj)" 'BEGIN { exit !(c > 0.6) }'
    awk -v c="$(cos_of "$W/hybrid.txt" cls)" 'BEGIN { exit !(c > 0.6) }'
    awk -v c="$(cos_of "$W/hybrid.txt" "")" 'BEGIN { exit !(c > 0.99) }'
}

# col LABEL N: column N (1 whole, 2 boxes, 3 obj, 4 cls, 5 int16 layers) of hybrid.sh's summary row LABEL
col() {
    awk -v l="$1" -v c="$2" 'substr($0, 1, 18) == sprintf("%-18s", l) { split(substr($0, 19), f, " "); print f[c] }' \
        "$W/hybrid.txt"
}

@test "hybrid.sh ends with one summary table: float, int8 PCQ, the list, the list in float32, auto" {
    require_file "$QP_CACHE/models/yolov5s.onnx"
    [ -f "$QP_CACHE/ort/node_modules/onnxruntime-node/package.json" ] || skip "onnxruntime-node is not installed"
    tail -n 6 "$W/hybrid.txt" | grep -q '^mean cos (2) .* whole .* boxes .* obj .* cls  i16 MAC layers$'
    local hyb_obj f32_obj
    hyb_obj=$(col "hybrid (list)" 3) f32_obj=$(col "list in float32" 3)
    [ -n "$hyb_obj" ] && [ -n "$f32_obj" ]
    awk -v c="$(col "float (ort)" 1)" -v o="$(col "float (ort)" 3)" 'BEGIN { exit !(c > 0.99999 && o > 0.99999) }'
    awk -v o="$(col "int8 PCQ" 3)" 'BEGIN { exit !(o < 0.05) }'
    awk -v h="$hyb_obj" -v p="$(col "int8 PCQ" 3)" 'BEGIN { exit !(h > p + 0.3) }'
    # no change of only the listed layers beats them in float32
    awk -v h="$hyb_obj" -v f="$f32_obj" 'BEGIN { exit !(f >= h - 0.01) }'
    [ "$(col "int8 PCQ" 5)" = 0/60 ]
    # qmix --auto's row reaches its objectness target on the samples it searched on
    awk -v o="$(col auto 3)" 'BEGIN { exit !(o >= 0.6) }'
    grep -q '^cost: .*% of MACs' "$W/yolov5s.auto.report"
}
