#!/usr/bin/env bats
# Target profiles (qpipe-target(5)), through tests/unit/test_profile.c until nbgexport calls
# them: the built-in targets, the check on the built-in yolov5s's int8 PCQ, uint8 and hybrid
# tables, the report's totals against counts made here from the ONNX file, and every bad-YAML
# class (tests/data/bad/target_*.yml, hand-written) refused with file:line:column and exit 2.
load helpers

BAD=$BATS_TEST_DIRNAME/data/bad
YOLO=$QP_CACHE/models/yolov5s.onnx
HYBRID=$QP_ROOT/pipelines/yolov5s-hybrid.quantize
TP=$QP_BUILD/tests/test_profile
PICO=VIP9000PICO_PID0XEE
NANO=VIPNANOQI_PID0X88

# yolov5s imported, calibrated on one photo, then the int8 PCQ and uint8 tables and the
# vendor guide's hybrid list (pipelines/hybrid.sh's qmix step) on each.
setup_file() {
    [ -f "$YOLO" ] && [ -f "$QP_CACHE/images/dataset.txt" ] || return 0
    cd "$BATS_FILE_TMPDIR"
    onnx2ir --inputmeta y.yml --dataset "$QP_CACHE/images/dataset.txt" "$YOLO" > y.ir
    calib -q --input-meta y.yml --iterations 1 < y.ir > yc.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 -q pcq.quantize < yc.ir > pcq.ir
    qtable --quantizer asymmetric_affine --qtype uint8 -q u8.quantize < yc.ir > u8.ir
    qtable --quantizer dynamic_fixed_point --qtype int16 -q i16.quantize < yc.ir > i16.ir
    qmix -q "$HYBRID" -o hy_pcq.quantize < pcq.ir > hy_pcq.ir
    qmix -q "$HYBRID" -o hy_u8.quantize < u8.ir > hy_u8.ir
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    F=$BATS_FILE_TMPDIR
}

need_yolo() {
    require_file "$YOLO"
    [ -f "$F/hy_u8.ir" ] || skip "yolov5s streams not built"
}

# A profile that refuses the int16 DFP <-> uint8 boundary, as the part of radxa-docs#1321 did.
strict_yml() {
    cat > strict.yml <<'EOF'
name: strict
clock_mhz: 500
sram_kib: 512
units:
  nn: {types: {asymmetric_affine-u8: 256, dynamic_fixed_point-i16: 64}}
  tp: {types: {asymmetric_affine-u8: 32, dynamic_fixed_point-i16: 16}}
  ppu: {types: {asymmetric_affine-u8: 8, dynamic_fixed_point-i16: 4}}
converters:
  default: allow
  deny:
    - [asymmetric_affine-u8, dynamic_fixed_point-i16]
    - [dynamic_fixed_point-i16, asymmetric_affine-u8]
EOF
}

# ---- the module ----

@test "profile module: every op mapped, the representations, the built-ins (tests/unit/test_profile.c)" {
    run "$TP"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    [[ "${lines[-1]}" == *" passed, 0 failed" ]]
}

@test "the built-in targets load by name, with no data directory; an unknown one lists them" {
    for t in $PICO $NANO generic; do
        run -0 "$TP" load $t
        [ "$output" = "$t" ]
    done
    run -2 --separate-stderr "$TP" load VIP9000PICO
    assert_clean_failure test_profile "unknown target 'VIP9000PICO' (known: VIP9000PICO_PID0XEE, VIPNANOQI_PID0X88, generic; or a target YAML file)"
    # the files in the tree are the built-ins, byte for byte readable as files too
    for t in $PICO $NANO generic; do
        run -0 "$TP" load "$QP_ROOT/common/targets/$t.yml"
        [ "$output" = "$t" ]
    done
}

# ---- the check ----

@test "yolov5s int8 PCQ is refused on both Vivante targets, naming the layer, its type and what the unit allows" {
    need_yolo
    for t in $PICO $NANO; do
        run -1 --separate-stderr "$TP" check $t < "$F/pcq.ir"
        assert_clean_failure test_profile "layer 'Conv_Conv_0_257' (Conv) has perchannel_symmetric_affine-i8 weights, not supported on the nn unit of $t (it allows asymmetric_affine-u8, dynamic_fixed_point-i8, dynamic_fixed_point-i16) (and 244 more illegal layers)"
    done
    run -0 "$TP" check generic < "$F/pcq.ir"
    [ "$output" = "generic: legal" ]
}

@test "a layer without weights is refused by its output type on its own unit" {
    need_yolo
    cat > pcq_nn.yml <<'EOF'
name: pcq-nn-only
clock_mhz: 100
sram_kib: 0
units:
  nn: {types: {perchannel_symmetric_affine-i8: 64, asymmetric_affine-i8: 64}}
  tp: {types: {asymmetric_affine-u8: 8}}
  ppu: {types: {}}
EOF
    run -1 --separate-stderr "$TP" check ./pcq_nn.yml < "$F/pcq.ir"
    assert_clean_failure test_profile "layer 'Sigmoid_Sigmoid_1_258' (Sigmoid) is asymmetric_affine-i8, not supported on the ppu unit of pcq-nn-only (it allows nothing) (and 184 more illegal layers)"
}

@test "yolov5s uint8 and int16 DFP are accepted on every target" {
    need_yolo
    for s in u8 i16; do
        for t in $PICO $NANO generic; do
            run -0 "$TP" check $t < "$F/$s.ir"
            [ "$output" = "$t: legal" ]
        done
    done
}

@test "the vendor guide's hybrid: uint8 + int16 tail passes where the converters exist, names the boundary where not" {
    need_yolo
    run -0 "$TP" check $PICO < "$F/hy_u8.ir"
    strict_yml
    run -1 --separate-stderr "$TP" check ./strict.yml < "$F/hy_u8.ir"
    assert_clean_failure test_profile "layer 'Sigmoid_Sigmoid_202_21' (Sigmoid): the converter asymmetric_affine-u8 -> dynamic_fixed_point-i16 from 'Transpose_Transpose_199_36' is not supported on strict (and 2 more illegal layers)"
    # the same list on the PCQ table (pipelines/hybrid.sh's default) keeps its per-channel convs
    run -1 --separate-stderr "$TP" check $PICO < "$F/hy_pcq.ir"
    assert_clean_failure test_profile "has perchannel_symmetric_affine-i8 weights, not supported on the nn unit of $PICO"
    # and without the boundaries in the table, the strict target takes it
    run -0 "$TP" check ./strict.yml < "$F/u8.ir"
}

# ---- the report ----

@test "report: yolov5s MACs equal a count made from the ONNX file by onnx's shape inference" {
    need_yolo
    /usr/bin/python3 -c 'import onnx' 2>/dev/null || skip "needs /usr/bin/python3 with onnx"
    want=$(/usr/bin/python3 "$QP_ROOT/tests/models/count_macs.py" "$YOLO" 1,3,640,640)
    [ "$want" -gt 8000000000 ]    # 8.2 GMACs = 16.4 GFLOPs, ultralytics' figure for yolov5s at 640
    "$TP" report $PICO < "$F/u8.ir" > rep.txt
    grep -q "^total: 245 layers, $want MACs (8.217G) on nn" rep.txt || { cat rep.txt | tail -5; echo "want $want"; return 1; }
}

@test "report: MACs of ConvTranspose (PP-OCRv4 det) and MatMul (PP-OCR cls) equal the ONNX count too" {
    /usr/bin/python3 -c 'import onnx' 2>/dev/null || skip "needs /usr/bin/python3 with onnx"
    for m in "ch_PP-OCRv4_det_infer 1,3,640,640" "ch_ppocr_mobile_v2.0_cls_infer 1,3,48,192"; do
        set -- $m
        require_file "$QP_CACHE/models/$1.onnx"
        onnx2ir --input-size "$2" --inputmeta m.yml --dataset "$QP_CACHE/images/dataset.txt" "$QP_CACHE/models/$1.onnx" > m.ir
        calib -q --input-meta m.yml --iterations 1 < m.ir |
            qtable --quantizer asymmetric_affine --qtype uint8 > q.ir
        want=$(/usr/bin/python3 "$QP_ROOT/tests/models/count_macs.py" "$QP_CACHE/models/$1.onnx" "$2")
        "$TP" report generic < q.ir > rep.txt
        grep -q "^total: [0-9]* layers, $want MACs " rep.txt || { grep ^total rep.txt; echo "$1: want $want"; return 1; }
    done
    grep -q "^MatMul_p2o.MatMul.0_3 .* nn   asymmetric_affine-u8 *400 " rep.txt
}

@test "report: cycles, time, weight bytes and arena add up from the rows" {
    need_yolo
    /usr/bin/python3 -c 'import onnx' 2>/dev/null || skip "needs /usr/bin/python3 with onnx"
    "$TP" report $PICO < "$F/u8.ir" > rep.txt
    # nn cycles: ceil(MACs / 512) per Conv row (uint8 on the Pico's NN core); all cycles: the column
    read -r nn all <<< "$(awk 'NR > 2 && !/^total/ { c += $6; if ($3 == "nn") n += int(($5 + 511) / 512) } END { printf "%d %d\n", n, c }' rep.txt)"
    grep -q "^total: $all cycles (.*; nn $nn, tp " rep.txt
    ms=$(awk -v c="$all" 'BEGIN { printf "%.3f", c / 1e6 }')
    grep -q "= $ms ms at 1000 MHz" rep.txt
    # Conv weight bytes: uint8 weights + int32 biases, counted from the ONNX initializers
    want=$(/usr/bin/python3 - "$YOLO" <<'EOF'
import sys, onnx
g = onnx.load(sys.argv[1]).graph
init = {i.name: i for i in g.initializer}
def numel(t):
    n = 1
    for d in t.dims: n *= d
    return n
print(sum(numel(init[n.input[1]]) + 4 * (numel(init[n.input[2]]) if len(n.input) > 2 else 0)
          for n in g.node if n.op_type == "Conv"))
EOF
)
    got=$(awk 'NR > 2 && !/^total/ && $2 == "Conv" { s += $7 } END { printf "%d\n", s }' rep.txt)
    [ "$got" -eq "$want" ] || { echo "conv weight bytes $got, want $want"; return 1; }
    # int16 doubles every activation byte; the arena (the largest live set) too
    "$TP" report $PICO < "$F/i16.ir" > rep16.txt
    a8=$(sed -n 's/^total: weight traffic .*, activation traffic \([0-9]*\) B.*/\1/p' rep.txt)
    a16=$(sed -n 's/^total: weight traffic .*, activation traffic \([0-9]*\) B.*/\1/p' rep16.txt)
    [ "$a16" -eq $((2 * a8)) ]
    grep -q "^total: arena 9830400 B (9600.0 KiB), on-chip SRAM 256 KiB: does not fit" rep.txt
    grep -q "^total: arena 19660800 B" rep16.txt
    # the faster core is faster on the same table
    "$TP" report $NANO < "$F/u8.ir" | grep -q "^total: .* cycles (.*; nn 10698954,"
}

@test "report: the hybrid's dtype converters are rows of their own, named as qmix names them" {
    need_yolo
    "$TP" report $PICO < "$F/hy_u8.ir" > rep.txt
    awk '$2 == "dtype_converter" { print $1 }' rep.txt > ours.txt
    sed -n "s/^  '@\(.*_pre_.*\)_[0-9]*:out0':$/\1/p" "$F/hy_u8.quantize" > qmix.txt
    [ -s qmix.txt ]
    diff qmix.txt ours.txt
    grep -q "^total: 245 layers and 3 converters, " rep.txt
    # 1 x 3 x 80 x 80 x 85 elements at the tp's int16 rate (32 per cycle on the Pico)
    grep -q "^Sigmoid_Sigmoid_202_21_pre_asymmetric_affineu8_to_dynamic_fixed_pointi16 .* tp   dynamic_fixed_point-i16 *1632000 *51000 *0 *4896000$" rep.txt
}

@test "report: layers illegal on the target are listed but not priced" {
    need_yolo
    "$TP" report $PICO < "$F/pcq.ir" > rep.txt
    grep -q "^total: 245 layers or converters not priced (not legal on $PICO: see the check)" rep.txt
    grep -q "^Conv_Conv_0_257 .* nn   asymmetric_affine-i8/w:perchannel_symmetric_affine-i8 *353894400 *- " rep.txt
}

# ---- bad target files: one line, exit 2, file:line:column ----

bad() {   # bad NAME TEXT
    run -2 --separate-stderr "$TP" load "$BAD/target_$1.yml"
    assert_clean_failure test_profile "$BAD/target_$1.yml$2"
}

@test "bad target YAML: syntax, duplicates, anchors, tags, documents, TABs, empty" {
    bad syntax ":10:27: did not find expected ',' or ']' while parsing a flow sequence"
    bad dup_key ":4:1: duplicate key 'clock_mhz' (first at line 2)"
    bad dup_type ":11:7: duplicate key 'asymmetric_affine-u8' (first at line 10)"
    bad anchor ":4:8: anchors ('&u') are not allowed"
    bad tag ":4:8: tags ('tag:yaml.org,2002:map') are not allowed"
    bad two_docs ":14:1: several YAML documents (a target profile is one document)"
    bad tab ":3:10: TAB character (YAML indents with spaces)"
    bad empty ": empty file (expected 'name:')"
}

@test "bad target YAML: unknown and missing keys, with the nearest suggestion" {
    bad unknown_key ":3:1: unknown key 'sram_kb' in the target profile (did you mean 'sram_kib'?)"
    bad unknown_unit ":11:3: unknown key 'shader' in units (did you mean 'ppu'?)"
    bad unknown_unit_key ":6:5: unknown key 'tipes' in units.nn (did you mean 'types'?)"
    bad conv_key ":15:3: unknown key 'dney' in converters (did you mean 'deny'?)"
    bad missing ":1:1: the target profile lacks 'clock_mhz'"
    bad missing_unit ":5:3: units lacks 'ppu'"
}

@test "bad target YAML: wrong scalar types, non-finite, out of range, negative and zero numbers" {
    bad not_number ":2:12: 'clock_mhz' must be a number, not 'fast'"
    bad quoted_number ":2:12: 'clock_mhz' must be a number, not '100' (quoted)"
    bad trailing ":2:12: 'clock_mhz' must be a number, not '100MHz'"
    bad list_number ":2:12: 'clock_mhz' must be a scalar, not a list"
    bad name_type ":1:7: 'name' must be a scalar, not a list"
    bad name_chars ":1:7: 'name' may hold only letters, digits, '_', '-' and '.'"
    bad inf ":3:11: 'sram_kib' value '.inf' is not finite"
    bad nan ":3:11: 'sram_kib' value '.nan' is not finite"
    bad erange ":3:11: 'sram_kib' value '1e999' is out of range"
    bad negative ":3:11: 'sram_kib' value '-1' must be 0 or more"
    bad zero_rate ":7:29: 'units.nn.types.asymmetric_affine-u8' value '0' must be positive"
}

@test "bad target YAML: unknown representations and malformed converter rules" {
    bad unknown_rep ":7:7: unknown representation 'asymetric_affine-u8' (did you mean 'asymmetric_affine-u8'?)"
    bad bias_rep ":7:7: unknown representation 'dynamic_fixed_point-i32' (did you mean 'dynamic_fixed_point-i8'?)"
    bad conv_unknown ":16:30: unknown representation 'dynamic_fixed_pont-i16' (did you mean 'dynamic_fixed_point-i16'?)"
    bad conv_default ":15:12: 'converters.default' must be allow or deny, not 'maybe'"
    bad conv_triple ":16:7: 'converters.deny' entries are [FROM, TO] pairs, not 3 values"
    bad conv_same ":16:7: 'converters.deny' pair [float16, float16] is no conversion"
    bad conv_both ":18:7: pair [asymmetric_affine-u8, dynamic_fixed_point-i16] is listed twice in 'converters' (in allow and in deny)"
    run -1 --separate-stderr "$TP" load "$BATS_TEST_TMPDIR/none.yml"
    assert_clean_failure test_profile "cannot read '$BATS_TEST_TMPDIR/none.yml': No such file or directory"
    head -c 1048577 /dev/zero | tr '\0' '#' > big.yml
    run -1 --separate-stderr "$TP" load ./big.yml
    assert_clean_failure test_profile "cannot read './big.yml': file is larger than 1048576 bytes"
}

@test "qpipe-target(5): the EXAMPLES profile loads, and refuses what the page says" {
    awk '/^\.SH EXAMPLES/ { e = 1; next } /^\.SH / { e = 0 } e && /^\.RS/ { c = 1; next } /^\.RE/ { c = 0 }
         e && c && !/^\./ { gsub(/\\-/, "-"); print }' "$QP_ROOT/man/man5/qpipe-target.5" > ex.yml
    [ -s ex.yml ]
    run -0 "$TP" load ./ex.yml
    [ "$output" = "strict" ]
    need_yolo
    run -1 --separate-stderr "$TP" check ./ex.yml < "$F/hy_u8.ir"
    assert_clean_failure test_profile "the converter asymmetric_affine-u8 -> dynamic_fixed_point-i16 from 'Transpose_Transpose_199_36' is not supported on strict"
}
