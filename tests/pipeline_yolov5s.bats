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
    FIELDS=boxes:4,obj:1,cls:80 "$QP_ROOT/pipelines/hybrid.sh" "$W" \
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
