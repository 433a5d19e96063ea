#!/usr/bin/env bats
# qinfer --analyze: per-layer entire/single error of a quantized stream (RKNN-Toolkit2's
# accuracy_analysis).  The key check: a layer's single error is what quantizing that layer
# alone measures, through an independent path (an edited table, qinfer dumps, tsim).
load helpers

IMAGES=$BATS_TEST_DIRNAME/data/images
BLAZE=$QP_CACHE/models/face_detection_front_128x128_barracuda.onnx
# The first convolution of BlazeFace and what feeds it: the graph input and a Transpose (a
# permutation, so quantizing before or after it gives the same integers).
CONV=Conv_StatefulPartitionedCall/functional_1/conv2d/BiasAdd_109
FEED="input:0_112 Transpose_StatefulPartitionedCall/functional_1/conv2d/BiasAdd__11_111"

setup_file() {
    [ -f "$BLAZE" ] || return 0
    cd "$BATS_FILE_TMPDIR"
    onnx2ir --inputmeta bf.yml --dataset ds.txt "$BLAZE" > bf.ir
    sed -i 's/^\( *scale:\).*/\1 0.0078125/' bf.yml
    ls "$IMAGES"/*.jpg > ds.txt
    calib --input-meta bf.yml < bf.ir | qtable --quantizer asymmetric_affine --qtype uint8 > q.ir
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    F=$BATS_FILE_TMPDIR
}

need_blaze() {
    require_file "$BLAZE"
    cp "$F/bf.ir" "$F/bf.yml" "$F/ds.txt" "$F/q.ir" .
}

# The node keys of a --summary, in graph order (its other lines are comments, inputs,
# constants and outputs).
layer_keys() {
    awk -F'\t' '!/^#/ && $2 != "input" && $2 != "output" && $2 != "constant" {print $1}'
}

have_pyyaml() { /usr/bin/python3 -c 'import yaml' 2>/dev/null; }

@test "--help mentions --analyze and its options" {
    run -0 qinfer --help
    [[ "$output" == *--analyze* && "$output" == *--suggest* && "$output" == *--svg* && "$output" == *--tsv* ]]
}

@test "one row per layer, in the table and the TSV; worst entire cosine first" {
    need_blaze
    run -0 --separate-stderr qinfer --analyze --input-meta bf.yml --iterations 2 --tsv a.tsv < q.ir
    local layers
    layers=$(qinfer --summary < q.ir | layer_keys | wc -l)
    [ "$layers" -gt 50 ]
    [ "$(($(wc -l < a.tsv) - 1))" -eq "$layers" ]
    [ "$((${#lines[@]} - 2))" -eq "$layers" ]
    [[ "${lines[0]}" == "# $layers layers, 2 samples"* ]]
    # the TSV is in graph order: the same keys as --summary
    diff <(cut -f1 a.tsv | tail -n +2) \
         <(qinfer --summary < q.ir | layer_keys)
    # the table is sorted by entire cosine, ascending
    printf '%s\n' "${lines[@]:2}" | awk '{print $3}' | sort -g -c
    # the first layer sees only the input's quantization: entire equals single
    local row
    row=$(grep -F "$CONV	" a.tsv)
    [ "$(echo "$row" | cut -f3-5)" = "$(echo "$row" | cut -f6-8)" ]
    # and deeper layers accumulate error: some entire cosine is below its single one
    awk -F'\t' 'NR > 1 && $3 < $6 - 1e-4 {found = 1} END {exit !found}' a.tsv
}

@test "the single error of a layer equals the error of quantizing that layer alone" {
    need_blaze
    have_pyyaml || skip "python3 yaml missing"
    qinfer -q --analyze --input-meta bf.yml --tsv a.tsv < q.ir > /dev/null
    # the table with every tensor float32 but the layer's own entries and its input's
    qtable --summary < q.ir > full.quantize
    /usr/bin/python3 - "$CONV" $FEED > alone.quantize <<'PY'
import sys, yaml
t = yaml.safe_load(open('full.quantize'))
keep = ['@%s:' % sys.argv[1]] + ['@%s:out0' % k for k in sys.argv[2:]]
q = t['quantize_parameters']
for k in q:
    if not any(k.startswith(p) for p in keep):
        q[k] = {'qtype': 'float32', 'quantizer': 'float32'}
yaml.safe_dump(t, sys.stdout, sort_keys=False)
PY
    [ "$(grep -c 'qtype: u8' alone.quantize)" -eq 3 ]
    qtable --read alone.quantize < bf.ir > alone.ir
    qinfer -q --dtype quantized --dump-all --input-meta bf.yml --output-dir qa < alone.ir
    qinfer -q --dump-all --input-meta bf.yml --output-dir fa < bf.ir
    local f
    f=$(cd qa && ls iter_0_Conv_StatefulPartitionedCall_functional_1_conv2d_BiasAdd_109_out0_*.tensor)
    run -0 tsim --tsv "fa/$f" "qa/$f"
    local direct single
    direct=$(echo "${lines[1]}" | awk -F'\t' '{print $4, $5, $8}')
    single=$(grep -F "$CONV	" a.tsv | awk -F'\t' '{print $6, $7, $8}')
    echo "direct: $direct  single: $single"
    [ "$direct" = "$single" ]
}

@test "--suggest prints a customized_quantize_layers block that qtable reads back" {
    need_blaze
    run -0 --separate-stderr qinfer --analyze --input-meta bf.yml --suggest 3 < q.ir
    sed -n '/^customized_quantize_layers:/,$p' <<< "$output" > block.yml
    [ "$(grep -c ': dynamic_fixed_point-i16$' block.yml)" -eq 3 ]
    if have_pyyaml; then
        /usr/bin/python3 -c 'import sys, yaml; d = yaml.safe_load(open("block.yml"))
assert len(d["customized_quantize_layers"]) == 3
assert set(d["customized_quantize_layers"].values()) == {"dynamic_fixed_point-i16"}'
    fi
    # pasted into the stream's table, qtable accepts it and writes it back
    { qtable --summary < q.ir | grep -v '^customized_quantize_layers: {}$'; cat block.yml; } > mixed.quantize
    qtable --read mixed.quantize < bf.ir > m.ir
    qtable --summary < m.ir | sed -n '/^customized_quantize_layers:/,$p' > back.yml
    [ "$(grep -c 'dynamic_fixed_point-i16' back.yml)" -eq 3 ]
}

@test "--svg writes a well-formed SVG with two polylines" {
    need_blaze
    qinfer -q --analyze --input-meta bf.yml --svg a.svg < q.ir > /dev/null
    [ "$(grep -c '<polyline' a.svg)" -eq 2 ]
    grep -q 'SQNR (dB)' a.svg
    if command -v xmllint > /dev/null; then
        xmllint --noout a.svg
    fi
}

@test "bad inputs: no table exits 1, no dataset or a stray option exits 2" {
    need_blaze
    run -1 --separate-stderr qinfer --analyze --input-meta bf.yml < bf.ir
    assert_clean_failure qinfer "no quantization table"
    run -2 --separate-stderr qinfer --analyze < q.ir
    assert_clean_failure qinfer "--analyze needs the dataset of --input-meta"
    run -2 --separate-stderr qinfer --tsv x.tsv --input-meta bf.yml < q.ir
    assert_clean_failure qinfer "--tsv needs --analyze"
    run -2 --separate-stderr qinfer --analyze --suggest 0 --input-meta bf.yml < q.ir
    assert_clean_failure qinfer "--suggest '0'"
    run -2 --separate-stderr qinfer --analyze --dump-all --input-meta bf.yml < q.ir
    assert_clean_failure qinfer "--analyze writes no tensors"
    [ ! -e x.tsv ]
}

@test "the entire error of a deep layer is that of the whole quantized run's dump" {
    need_blaze
    qinfer -q --analyze --input-meta bf.yml --tsv a.tsv < q.ir > /dev/null
    qinfer -q --dtype quantized --dump-all --input-meta bf.yml --output-dir qd < q.ir
    qinfer -q --dump-all --input-meta bf.yml --output-dir fd < q.ir
    local key=Conv_StatefulPartitionedCall/functional_1/conv2d_16/BiasAdd_26 f
    f=$(cd qd && ls iter_0_Conv_StatefulPartitionedCall_functional_1_conv2d_16_BiasAdd_26_out0_*.tensor)
    run -0 tsim --tsv "fd/$f" "qd/$f"
    [ "$(echo "${lines[1]}" | awk -F'\t' '{print $4, $5, $8}')" = \
      "$(grep -F "$key	" a.tsv | awk -F'\t' '{print $3, $4, $5}')" ]
}

@test "--tsv to an unwritable place exits 3 and leaves nothing" {
    need_blaze
    run -3 --separate-stderr qinfer -q --analyze --input-meta bf.yml --tsv nodir/a.tsv < q.ir
    assert_clean_failure qinfer "cannot create 'nodir/a.tsv'"
}
