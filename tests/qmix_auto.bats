#!/usr/bin/env bats
# qmix --auto on the built-in yolov5s (int8 PCQ table, calibrated on two built-in photos):
# the objectness field (last axis 4:5) collapses in int8; --auto must bring it to a target,
# and an independent qinfer + tsim run must agree.  Also: same bytes at 1 and 2 threads, the
# unreachable target, bad option values.
bats_require_minimum_version 1.5.0
load helpers

YOLO=$QP_CACHE/models/yolov5s.onnx
IMAGES=$BATS_TEST_DIRNAME/data/images
OUT=attach_Concat_Concat_303_out0_0_out0_1_25200_85

setup_file() {
    [ -f "$YOLO" ] || return 0
    cd "$BATS_FILE_TMPDIR"
    onnx2ir --inputmeta y.yml --dataset ds.txt "$YOLO" > y.ir
    sed -i -e 's/^\( *scale:\).*/\1 0.0039215686/' -e '/^ *mean:/,/^ *scale:/{/^ *- /d}' \
        -e 's/^\( *mean:\).*/\1 [0, 0, 0]/' y.yml
    ls "$IMAGES"/dog.jpg "$IMAGES"/chelsea.jpg > ds.txt
    calib --input-meta y.yml < y.ir > c.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 < c.ir > q.ir
    qinfer -q --input-meta y.yml --iterations 2 --format npy --output-dir golden < y.ir
    # the search once, in t1/ with relative paths (the stream's history records the command
    # line); the tests read its outputs.  0.6: above int8's 0.0 and the output tail's 0.53,
    # below int16's 0.68, so the search goes through doubling, bisection and pruning
    mkdir t1 && cp y.yml ds.txt t1/
    (cd t1 && QP_THREADS=1 qmix --auto --input-meta y.yml --target-field obj=4:5 --target-cos 0.6 \
        --max-runs 20 -o auto.quantize --report auto.txt < ../q.ir > auto.ir)
}

setup() {
    require_file "$YOLO"
    cd "$BATS_TEST_TMPDIR"
    F=$BATS_FILE_TMPDIR
}

# mean over the two samples of tsim's objectness cosine between golden and DIR
obj_cos() {
    for i in 0 1; do
        tsim --split-last 4,1,80 "$F/golden/iter_${i}_$OUT.npy" "$1/iter_${i}_$OUT.npy" | sed -n 3p
    done | awk '{ s += $2; n++ } END { printf "%.6f\n", s / n }'
}

@test "--auto reaches the objectness target; an independent qinfer + tsim run agrees" {
    grep -q '^chosen: [0-9]* layers in dynamic_fixed_point-i16' "$F/t1/auto.txt"
    grep -q '^cost: .*% of MACs' "$F/t1/auto.txt"
    grep -q '^verification runs: [0-9]*, 2 samples each' "$F/t1/auto.txt"
    reported=$(awk '/^cos: / { print $(NF - 2) }' "$F/t1/auto.txt")
    awk -v c="$reported" 'BEGIN { exit !(c >= 0.6) }'
    grep -q 'run .* bisect ' "$F/t1/auto.txt"
    grep -q 'run .* prune ' "$F/t1/auto.txt"
    # the int8 table collapses objectness: the target is not met without --auto
    qinfer -q --dtype quantized --input-meta "$F/y.yml" --iterations 2 --format npy --output-dir q8 < "$F/q.ir"
    c8=$(obj_cos q8)
    awk -v c="$c8" 'BEGIN { exit !(c < 0.6) }'
    qinfer -q --dtype quantized --input-meta "$F/y.yml" --iterations 2 --format npy --output-dir hy < "$F/t1/auto.ir"
    c=$(obj_cos hy)
    awk -v c="$c" -v r="$reported" 'BEGIN { d = c - r; exit !(c >= 0.6 && d < 1e-5 && d > -1e-5) }'
}

@test "the written .quantize lists the chosen layers and reapplies to the same table" {
    n=$(awk '/^chosen: / { print $2 }' "$F/t1/auto.txt")
    grep -A100000 '^customized_quantize_layers:' "$F/t1/auto.quantize" > map.txt
    [ "$(grep -c ': dynamic_fixed_point-i16$' map.txt)" -ge "$n" ]
    awk '/^  [A-Za-z]/ && p { print $1 } /^chosen:/ { p = 1 } /^cost:/ { p = 0 }' "$F/t1/auto.txt" | while read -r k; do
        grep -q "^  '\?$k'\?: dynamic_fixed_point-i16" map.txt || { echo "missing $k"; exit 1; }
    done
    qmix -q "$F/t1/auto.quantize" < "$F/q.ir" > again.ir
    qinfer -q --dtype quantized --input-meta "$F/y.yml" --format npy --output-dir a < "$F/t1/auto.ir"
    qinfer -q --dtype quantized --input-meta "$F/y.yml" --format npy --output-dir b < again.ir
    cmp "a/iter_0_$OUT.npy" "b/iter_0_$OUT.npy"
}

@test "same stream, table and report at QP_THREADS=2 as at 1" {
    cp "$F/y.yml" "$F/ds.txt" .
    QP_THREADS=2 qmix --auto --input-meta y.yml --target-field obj=4:5 --target-cos 0.6 \
        --max-runs 20 -o auto.quantize --report auto.txt < "$F/q.ir" > auto.ir
    cmp auto.ir "$F/t1/auto.ir"
    cmp auto.quantize "$F/t1/auto.quantize"
    diff <(grep -v '^verification runs' auto.txt) <(grep -v '^verification runs' "$F/t1/auto.txt")
}

@test "an unreachable target exits 4 naming the best cosine, and writes nothing" {
    run -4 --separate-stderr qmix --auto --input-meta "$F/y.yml" --target-field 4:5 --target-cos 0.99 \
        -o x.quantize --report x.txt < "$F/q.ir"
    assert_clean_failure qmix "target cosine 0.99 not reachable: the best is 0."
    [ ! -e x.quantize ] && [ ! -e x.txt ]
    # a MAC budget too small for the target
    run -4 --separate-stderr qmix --auto --input-meta "$F/y.yml" --target-field 4:5 --target-cos 0.5 \
        --max-int16-share 0 < "$F/q.ir"
    assert_clean_failure qmix "the most --max-int16-share allows"
}

@test "--max-int16-share alone promotes the most sensitive layers within the budget" {
    qmix --auto --input-meta "$F/y.yml" --max-int16-share 0.05 --iterations 1 --report r.txt < "$F/q.ir" > s.ir
    share=$(awk '/^cost: / { sub("%", "", $2); print $2 }' r.txt)
    awk -v s="$share" 'BEGIN { exit !(s > 0 && s <= 5) }'
}

@test "--to float16 with three fields (a list and a repeat): the output tail suffices for 0.5" {
    qmix --auto --input-meta "$F/y.yml" --target-field obj=4:5,cls=5:85 --target-field 0:4 --target-cos 0.5 \
        --to float16 -o f.quantize --report f.txt < "$F/q.ir" > f.ir
    grep -q '^chosen: [0-9]* layers in float16' f.txt
    [ "$(grep -c '^cos: attach_Concat_Concat_303/out0_0 \[\(obj=4:5\|cls=5:85\|0:4\)\] ' f.txt)" -eq 3 ]
    # the stream's history has the command line as given
    qinfer --summary < f.ir | grep -q -- '^# history .*: qmix .* --target-field obj=4:5,cls=5:85 --target-field 0:4 '
    grep -q '^  Concat_Concat_303_1: float16$' f.quantize
    grep -q '^verification runs: 3,' f.txt   # the table, everything, then the output tail alone
    qinfer -q --dtype quantized --input-meta "$F/y.yml" --iterations 2 --format npy --output-dir f < f.ir
    awk -v c="$(obj_cos f)" 'BEGIN { exit !(c >= 0.5) }'
}

@test "bad option values are one-line usage errors" {
    for args in "--target-cos 2" "--target-cos x" "--target-field 5:4 --target-cos 0.5" \
        "--target-field x --target-cos 0.5" "--target-field =1:2 --target-cos 0.5" \
        "--max-int16-share 1.5" "--iterations 0 --target-cos 0.5" "--max-runs -1 --target-cos 0.5" \
        "--rank x --target-cos 0.5"; do
        run -2 --separate-stderr qmix --auto --input-meta "$F/y.yml" $args < "$F/q.ir"
        assert_clean_failure qmix "is not"
    done
    run -2 --separate-stderr qmix --auto --target-cos 0.5 < "$F/q.ir"
    assert_clean_failure qmix "--auto needs --input-meta FILE"
    run -2 --separate-stderr qmix --auto --input-meta "$F/y.yml" < "$F/q.ir"
    assert_clean_failure qmix "--auto needs --target-cos C or --max-int16-share S"
    run -2 --separate-stderr qmix --auto --input-meta "$F/y.yml" --target-cos 0.5 --layer 'a=float16' < "$F/q.ir"
    assert_clean_failure qmix "--auto chooses the layers itself"
    run -2 --separate-stderr qmix --target-cos 0.5 < "$F/q.ir"
    assert_clean_failure qmix "go with --auto"
    run -2 --separate-stderr qmix --auto --input-meta "$F/y.yml" --target-cos 0.5 --to int3 < "$F/q.ir"
    assert_clean_failure qmix "--to 'int3' is not <quantizer>-<qtype>"
    run -2 --separate-stderr qmix --auto --input-meta "$F/y.yml" --target-cos 0.5 --iterations 3 < "$F/q.ir"
    assert_clean_failure qmix "--iterations 3 but the dataset has 2 samples"
    run -2 --separate-stderr qmix --auto --input-meta "$F/y.yml" --target-cos 0.5 --target-field 90:91 < "$F/q.ir"
    assert_clean_failure qmix "--target-field '90:91' goes past the last axis of output"
    run -2 --separate-stderr qmix --auto --input-meta "$F/y.yml" --target-cos 0.5 --target-output 'x*' < "$F/q.ir"
    assert_clean_failure qmix "--target-output 'x*' matches no model output (attach_Concat_Concat_303/out0_0)"
    run -2 --separate-stderr qmix --auto --input-meta "$F/y.yml" --max-int16-share 0.1 --target-output 'a*' < "$F/q.ir"
    assert_clean_failure qmix "--target-output needs --target-cos"
}
