#!/usr/bin/env bats
# qtable --bias-correction: every integer Conv gets one value per output channel; the channel
# means of the quantized run move to the float run's; the same table whatever the thread
# count; the corrections survive the .quantize round trip (and a second pass on the table read
# back is the two-pass run); bad options and bad bias_correction maps are one-line errors.  The
# issue's int8 bar on PP-OCRv4 det is checked with the README's table script.
bats_require_minimum_version 1.5.0
load helpers

BLAZE=$QP_CACHE/models/face_detection_front_128x128_barracuda.onnx
IMAGES=$BATS_TEST_DIRNAME/data/images

# BlazeFace front over the four built-in photos: the plain int8 PCQ table and the corrected one.
setup_file() {
    [ -f "$BLAZE" ] || return 0
    cd "$BATS_FILE_TMPDIR"
    onnx2ir --inputmeta bf.yml --dataset ds.txt "$BLAZE" > bf.ir
    sed -i 's/^        - 0\.0$/        - 127.5/; s/^        scale: 1\.0$/        scale: 0.00784313725/' bf.yml
    ls "$IMAGES"/*.jpg > ds.txt
    calib -q --input-meta bf.yml < bf.ir > c.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 < c.ir > q0.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 --bias-correction --input-meta bf.yml \
        -q bc.quantize < c.ir > q1.ir
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    F=$BATS_FILE_TMPDIR
}

need_blaze() {
    require_file "$BLAZE"
    cp "$F/bf.ir" "$F/bf.yml" "$F/ds.txt" "$F/c.ir" .
}

@test "every integer Conv gets one value per output channel; the file and the stream agree" {
    need_blaze
    convs=$(qinfer --summary < bf.ir | awk -F'\t' '$2 == "Conv"' | wc -l)
    [ "$convs" -ge 30 ]
    # one map entry per Conv, one list item per output channel (BlazeFace front: 2,412)
    n=$(awk '/^bias_correction:/ { on = 1; next } on && /^  [^ -]/ { k++ } END { print k + 0 }' "$F/bc.quantize")
    [ "$n" -eq "$convs" ]
    items=$(awk '/^bias_correction:/ { on = 1; next } on && /^  - / { k++ } END { print k + 0 }' "$F/bc.quantize")
    [ "$items" -gt "$convs" ]
    qtable --summary < "$F/q1.ir" | cmp - "$F/bc.quantize"
    # the plain table has none
    ! qtable --summary < "$F/q0.ir" | grep -q bias_correction
}

@test "the channel means of the corrected convs move to the float run's" {
    need_blaze
    qinfer -q --input-meta bf.yml --iterations 4 --dump-all --format npy --output-dir f < bf.ir
    for q in q0 q1; do
        qinfer -q --dtype quantized --input-meta bf.yml --iterations 4 --dump-all --format npy \
            --output-dir $q < "$F/$q.ir"
    done
    # per Conv: the RMS over channels of (quantized - float) channel means over the 4 samples,
    # relative to the RMS of the float channel means; mean over the convs
    run /usr/bin/python3 - <<'EOF'
import glob, os, numpy as np
def err(q):
    rs = []
    for f in sorted(glob.glob('f/iter_0_Conv_*.npy')):
        name = os.path.basename(f)[len('iter_0_'):]
        fm = qm = 0
        for it in range(4):
            a = np.load('f/iter_%d_%s' % (it, name)).astype(np.float64)
            b = np.load('%s/iter_%d_%s' % (q, it, name)).astype(np.float64)
            fm = fm + a.reshape(a.shape[0], a.shape[1], -1).mean(axis=(0, 2))
            qm = qm + b.reshape(b.shape[0], b.shape[1], -1).mean(axis=(0, 2))
        rs.append(np.sqrt(((qm - fm) ** 2).mean()) / (np.sqrt((fm ** 2).mean()) + 1e-12))
    return len(rs), float(np.mean(rs))
n0, e0 = err('q0'); n1, e1 = err('q1')
print(n0, '%.6f %.6f' % (e0, e1))
assert n0 == n1 and n0 >= 30, (n0, n1)
assert e1 < 0.5 * e0, (e0, e1)
EOF
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "the same table with 1 and 2 threads" {
    need_blaze
    QP_THREADS=1 qtable --quantizer perchannel_symmetric_affine --qtype int8 --bias-correction \
        --input-meta bf.yml < c.ir > t1.ir
    QP_THREADS=2 qtable --quantizer perchannel_symmetric_affine --qtype int8 --bias-correction \
        --input-meta bf.yml < c.ir > t2.ir
    cmp t1.ir t2.ir
    qtable --summary < t1.ir | cmp - "$F/bc.quantize"
}

@test "the .quantize round trip keeps the corrections; two passes = one pass then one more on the table read back" {
    need_blaze
    qtable --read "$F/bc.quantize" < bf.ir > r.ir
    for s in "$F/q1.ir" r.ir; do
        QP_THREADS=1 qinfer -q --dtype quantized --raw --format npy --input-meta bf.yml --iterations 2 \
            --output-dir "o_$(basename "$s" .ir)" < "$s"
    done
    diff -r o_q1 o_r
    qtable --summary < r.ir | cmp - "$F/bc.quantize"
    # --bias-correction-passes 1, then the table read back corrected once more
    qtable --quantizer perchannel_symmetric_affine --qtype int8 --bias-correction --bias-correction-passes 1 \
        --input-meta bf.yml -q one.quantize < c.ir > /dev/null
    ! cmp -s one.quantize "$F/bc.quantize"
    qtable --read one.quantize --bias-correction --bias-correction-passes 1 --input-meta bf.yml \
        -q two.quantize < bf.ir > /dev/null
    cmp two.quantize "$F/bc.quantize"
}

@test "a correction that lowers the output cosine on its own samples is reported (BlazeFace, 16 photos)" {
    need_blaze
    require_file "$QP_CACHE/images/dataset.txt"
    head -n 16 "$QP_CACHE/images/dataset.txt" > ds.txt
    [ "$(wc -l < ds.txt)" -eq 16 ]
    calib -q --input-meta bf.yml < bf.ir > c16.ir
    run -0 --separate-stderr sh -c 'qtable --quantizer perchannel_symmetric_affine --qtype int8 \
        --algorithm moving_average --bias-correction --input-meta bf.yml -q w.quantize < c16.ir > w.ir'
    echo "$stderr"
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "qtable: warning: --bias-correction lowered the mean output cosine on its 16 samples from 0.99"*" to 0.99"* ]]
    grep -q '^bias_correction:' w.quantize
    # the four built-in photos: it raises the cosine there, and says nothing
    ls "$IMAGES"/*.jpg > ds.txt
    run -0 --separate-stderr sh -c 'qtable --quantizer perchannel_symmetric_affine --qtype int8 \
        --bias-correction --input-meta bf.yml < c.ir > w2.ir'
    [ -z "$stderr" ]
    [ -s w2.ir ]
}

@test "bad options: one line, exit 2, nothing on stdout" {
    need_blaze
    q="qtable --quantizer perchannel_symmetric_affine --qtype int8"
    run -2 --separate-stderr $q --bias-correction < c.ir
    assert_clean_failure qtable "--bias-correction needs --input-meta FILE"
    run -2 --separate-stderr $q --input-meta bf.yml < c.ir
    assert_clean_failure qtable "apply to --bias-correction"
    run -2 --separate-stderr $q --iterations 3 < c.ir
    assert_clean_failure qtable "apply to --bias-correction"
    run -2 --separate-stderr $q --bias-correction --input-meta bf.yml --iterations 9 < c.ir
    assert_clean_failure qtable "--iterations 9 but the dataset of 'bf.yml' has 4 samples"
    run -2 --separate-stderr $q --bias-correction --input-meta bf.yml --bias-correction-passes 0 < c.ir
    assert_clean_failure qtable "--bias-correction-passes '0' is not an integer from 1 to 100"
    run -2 --separate-stderr qtable --summary --bias-correction --input-meta bf.yml < c.ir
    assert_clean_failure qtable "--summary takes no other option"
    run -1 --separate-stderr $q --bias-correction --input-meta missing.yml < c.ir
    assert_clean_failure qtable "missing.yml"
}

# The corrected table with its bias_correction map edited by SED must be refused with TEXT.
reject_map() {   # reject_map SED TEXT
    sed "$1" "$F/bc.quantize" > bad.quantize
    run -2 --separate-stderr qtable --read bad.quantize < bf.ir
    assert_clean_failure qtable "$2"
    [[ "$stderr" == *"bad.quantize"* ]]
}

@test "a bad bias_correction map: layer, count, value, shape; one line naming the file" {
    need_blaze
    first=$(awk '/^bias_correction:/ { getline; sub(/:$/, "", $1); print $1; exit }' "$F/bc.quantize")
    [ -n "$first" ]
    reject_map "s|^  $first:|  Nope_1:|" "bias correction of 'Nope_1': no such layer"
    # a layer that is not a Conv: the model's first layer key of another op
    other=$(qinfer --summary < bf.ir | awk -F'\t' '$2 == "Relu" { print $1; exit }')
    [ -n "$other" ]
    reject_map "s|^  $first:|  $other:|" "only a Conv or ConvTranspose"
    # one value removed from the first list
    awk -v k="  $first:" '$0 == k { print; getline; next } { print }' "$F/bc.quantize" > bad.quantize
    run -2 --separate-stderr qtable --read bad.quantize < bf.ir
    assert_clean_failure qtable "values for"
    awk '/^bias_correction:/ { on = 1 } on && /^  - / && !done { print "  - abc"; done = 1; next } { print }' \
        "$F/bc.quantize" > bad.quantize
    run -2 --separate-stderr qtable --read bad.quantize < bf.ir
    assert_clean_failure qtable "abc"
    reject_map '/^bias_correction:/,$c\
bias_correction: 3' "'bias_correction' must be a mapping"
}

@test "PP-OCRv4 det: int8 PCQ moving_average with bias correction >= 0.98 on the 8 held-out pages (the issue's bar)" {
    [ -z "${QP_SANITIZED:-}" ] || skip "too slow under sanitizers"
    require_file "$QP_CACHE/models/ch_PP-OCRv4_det_infer.onnx"
    command -v /usr/bin/convert > /dev/null || skip "ImageMagick's convert is not installed"
    run bash -c "QT_BC=1 QT_SCHEMES=perchannel_symmetric_affine:int8 QT_ALGOS='moving_average' \
        bash '$BATS_TEST_DIRNAME/bench/quant_table.sh' ppocr_det"
    echo "$output"
    [ "$status" -eq 0 ]
    c=$(echo "$output" | awk '$1 == "ppocr_det" && $4 == "moving_average+bc" { print $5 }')
    [ -n "$c" ]
    awk -v c="$c" 'BEGIN { exit !(c >= 0.98) }'
}

@test "M-LSD tiny: int16 DFP with bias correction: offsets and the scores map before its NMS mask >= 0.9999 held out (the issue's int16 bar)" {
    # a conv behind a ReLU6 is compared after the clamp (its output is the clamp's in the
    # table); comparing the raw means there gave offsets 0.978 (checked)
    [ -z "${QP_SANITIZED:-}" ] || skip "too slow under sanitizers"
    require_file "$QP_CACHE/models/mlsd_320x320_tiny.onnx"
    command -v /usr/bin/convert > /dev/null || skip "ImageMagick's convert is not installed"
    run bash -c "QT_KEEP='$PWD/k' QT_BC=1 QT_SCHEMES=dynamic_fixed_point:int16 QT_ALGOS=normal \
        bash '$BATS_TEST_DIRNAME/bench/quant_table.sh' -v mlsd_tiny"
    echo "$output"
    [ "$status" -eq 0 ]
    off=$(echo "$output" | awk '$1 == "cos" && /attach_Transpose/ { s += $2; n++ } END { if (n == 8) print s / n }')
    [ -n "$off" ]
    awk -v c="$off" 'BEGIN { exit !(c >= 0.9999) }'
    d=k/mlsd_tiny
    qinfer -q --input-meta $d/meta_eval.yml --iterations 8 --dump-all --format npy --output-dir f < $d/m.ir
    qinfer -q --dtype quantized --input-meta $d/meta_eval.yml --iterations 8 --dump-all --format npy \
        --output-dir q < $d/q.ir
    run -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/bench/mask_split.py" f q
    echo "$output"
    awk '/^map cosine mean/ { m = $4 } /^output cosine with the float mask/ { o = $NF }
         END { exit !(m >= 0.9999 && o >= 0.9999) }' <<< "$output"
}
