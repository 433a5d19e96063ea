#!/usr/bin/env bats
# calib: statistics that merge exactly (a single run, any sharding merged in any order,
# GNU parallel, 1 or 2 threads: the same bytes), and every bad input of the reliability
# checklist that reaches it (input meta YAML, dataset lists, images, .npy samples, streams,
# merges) refused with one line, the right exit status and nothing on stdout.
load helpers

BAD=$BATS_TEST_DIRNAME/data/bad
TENSORS=$BATS_TEST_DIRNAME/data/tensors
IMAGES=$BATS_TEST_DIRNAME/data/images
NODE=/usr/include/onnx/backend/test/data/node
BLAZE=$QP_CACHE/models/face_detection_front_128x128_barracuda.onnx
PARALLEL=$BATS_TEST_DIRNAME/../pipelines/calib-parallel.sh

# Shared by the tests: BlazeFace (128x128, 93 nodes) with a meta whose list holds the four
# built-in photos and two repeats (6 samples: 3 shards are 2+2+2, 4 shards uneven), and the
# single run every sharding must reproduce.
setup_file() {
    [ -f "$BLAZE" ] || return 0
    cd "$BATS_FILE_TMPDIR"
    onnx2ir --inputmeta bf.yml --dataset ds.txt "$BLAZE" > bf.ir
    sed -i 's/^\( *scale:\).*/\1 0.0078125/' bf.yml
    { ls "$IMAGES"/*.jpg; echo "$IMAGES/dog.jpg"; echo "$IMAGES/astronaut.jpg"; } > ds.txt
    calib --input-meta bf.yml < bf.ir > single.ir
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    F=$BATS_FILE_TMPDIR
}

need_blaze() {
    require_file "$BLAZE"
    cp "$F/bf.ir" "$F/bf.yml" "$F/ds.txt" .
}

# A calibration of BlazeFace over the given list lines must fail with TEXT and exit CODE.
reject_list() {   # reject_list CODE TEXT < list
    local code=$1 text=$2
    cat > ds.txt
    run "-$code" --separate-stderr calib --input-meta bf.yml < bf.ir
    assert_clean_failure calib "$text"
}

# .npy v1 float32 of the given shape tuple text and little-endian bytes (printf escapes).
mknpy() {
    local out=$1 shape=$2 bytes=$3
    local hdr="{'descr': '<f4', 'fortran_order': False, 'shape': ($shape), }"
    while [ $(((10 + ${#hdr} + 1) % 64)) -ne 0 ]; do hdr="$hdr "; done
    printf '\x93NUMPY\x01\x00' >"$out"
    printf "\\x$(printf %02x $(((${#hdr} + 1) % 256)))\\x$(printf %02x $(((${#hdr} + 1) / 256)))" >>"$out"
    printf '%s\n' "$hdr" >>"$out"
    printf "$bytes" >>"$out"
}

# The ONNX node test Relu (x: 3x4x5 float) with a generated meta over ds.txt.
relu_model() {
    require_file "$NODE/test_relu/model.onnx"
    onnx2ir --inputmeta r.yml --dataset ds.txt "$NODE/test_relu/model.onnx" > r.ir
    local b='' i
    for i in $(seq 58); do b="$b\\x00\\x00\\x80\\x3f"; done           # 1.0
    mknpy ok.npy '3, 4, 5' "$b\\x00\\x00\\x00\\xc0\\x00\\x00\\x00\\xc0"   # ..., -2, -2
    mknpy nan.npy '3, 4, 5' "$b\\x00\\x00\\xc0\\x7f\\x00\\x00\\x00\\xc0"  # ..., NaN, -2
}

# ---- command line ----

@test "calib --help prints the usage and exits 0" {
    run -0 --separate-stderr calib --help
    [[ "$output" == "usage: calib --input-meta META"* ]]
    [[ "$output" == *"--shard K/N"* && "$output" == *"--merge"* ]]
    [ -z "$stderr" ]
}

@test "calib --version" {
    run -0 --separate-stderr calib --version
    [ "$output" = "calib (qpipe) 0.1.0" ]
}

@test "calib: bad options exit 2 with one line" {
    run -2 --separate-stderr calib --frobnicate
    assert_clean_failure calib "unknown option '--frobnicate'"
    run -2 --separate-stderr calib --input-meta
    assert_clean_failure calib "option '--input-meta' needs a value"
    run -2 --separate-stderr calib --input-meta m.yml extra
    assert_clean_failure calib "unexpected argument 'extra'"
    run -2 --separate-stderr calib
    assert_clean_failure calib "--input-meta FILE is required"
    run -2 --separate-stderr calib --merge
    assert_clean_failure calib "--merge needs the stream files"
    run -2 --separate-stderr calib --merge --shard 1/2 a.ir
    assert_clean_failure calib "--merge takes only stream files"
    run -2 --separate-stderr calib --merge --summary a.ir
    assert_clean_failure calib "do not go together"
}

@test "calib: bad --shard values exit 2" {
    for s in 0/3 4/3 1/0 abc 1/ /3 1/3x -1/3 1//3 ' 1/3' 1/99999999999999999999; do
        run -2 --separate-stderr calib --input-meta m.yml --shard "$s"
        assert_clean_failure calib "--shard '$s': expected K/N with 1 <= K <= N"
    done
}

@test "calib: bad --iterations, --batch-size and --moving-average-weight values exit 2" {
    for v in 0 -1 abc 1.5 ''; do
        run -2 --separate-stderr calib --input-meta m.yml --iterations "$v"
        assert_clean_failure calib "--iterations '$v' is not a count"
        run -2 --separate-stderr calib --input-meta m.yml --batch-size "$v"
        assert_clean_failure calib "--batch-size '$v' is not a count"
    done
    for w in 0 1.5 -0.1 nan inf abc 0.1x; do
        run -2 --separate-stderr calib --input-meta m.yml --moving-average-weight "$w"
        assert_clean_failure calib "--moving-average-weight '$w' is not a number in (0, 1]"
    done
}

@test "calib: --iterations x --batch-size beyond the dataset exits 2" {
    need_blaze
    run -2 --separate-stderr calib --input-meta bf.yml --iterations 4 --batch-size 2 < bf.ir
    assert_clean_failure calib "--iterations 4 x --batch-size 2 needs 8 samples but the dataset of 'bf.yml' has 6"
}

# ---- exact merging ----

@test "calib: one run, 2 shards merged and 3 shards merged are the same bytes" {
    need_blaze
    for n in 2 3 4; do
        files=()
        for k in $(seq "$n"); do
            calib --input-meta bf.yml --shard "$k/$n" < bf.ir > "s$k.ir"
            files+=("s$k.ir")
        done
        calib --merge "${files[@]}" > "m$n.ir"
        cmp "m$n.ir" "$F/single.ir"
    done
}

@test "calib: merging in another order, and merging merges, give the same bytes" {
    need_blaze
    for k in 1 2 3; do calib --input-meta bf.yml --shard "$k/3" < bf.ir > "s$k.ir"; done
    calib --merge s3.ir s1.ir s2.ir | cmp - "$F/single.ir"
    calib --merge s2.ir s3.ir > s23.ir
    run -0 qinfer --summary < s23.ir      # incomplete: the merge records itself
    [ "${lines[3]}" = "# history 2: calib 0.1.0 --merge s2.ir s3.ir" ]
    calib --merge s23.ir s1.ir | cmp - "$F/single.ir"
    calib --merge s1.ir s23.ir | cmp - "$F/single.ir"
}

@test "calib: QP_THREADS=1 and 2 give the same bytes" {
    need_blaze
    QP_THREADS=1 calib --input-meta bf.yml < bf.ir | cmp - "$F/single.ir"
    QP_THREADS=2 calib --input-meta bf.yml < bf.ir | cmp - "$F/single.ir"
}

@test "calib-parallel.sh -j 2 equals the single run byte for byte" {
    need_blaze
    command -v parallel >/dev/null || skip "GNU parallel is not installed"
    mkdir t
    TMPDIR=$PWD/t run -0 --separate-stderr "$PARALLEL" -j 2 bf.yml bf.ir par.ir 3
    [ -z "$stderr" ]
    cmp par.ir "$F/single.ir"
    TMPDIR=$PWD/t run -0 --separate-stderr "$PARALLEL" -j 2 bf.yml bf.ir par2.ir
    cmp par2.ir "$F/single.ir"
    [ -z "$(ls t)" ] && [ -z "$(ls | grep '^par.*\.ir\.')" ]    # no temporary left behind
}

@test "calib-parallel.sh passes a failing shard's error on and writes nothing" {
    need_blaze
    command -v parallel >/dev/null || skip "GNU parallel is not installed"
    # both shards fail the same way, so whichever finishes first reports it
    printf 'nosuch.jpg\nnosuch.jpg\n' > ds.txt
    run -1 --separate-stderr "$PARALLEL" -j 2 bf.yml bf.ir out.ir 2
    [[ "$stderr" == *"calib-parallel: shard "[12]"/2: calib: ds.txt:1: entry 'nosuch.jpg': no such file"* ]]
    [ ! -e out.ir ]
    run -2 --separate-stderr "$PARALLEL" -j 0 bf.yml bf.ir out.ir
    [[ "$stderr" == "calib-parallel: -j '0' is not a positive count" ]]
}

# ---- the output stream ----

@test "calib: the output is the input stream plus the calib section and a history entry" {
    need_blaze
    run -0 --separate-stderr qinfer --summary < "$F/single.ir"
    [[ "${lines[2]}" == "# history 1: calib 0.1.0 --input-meta bf.yml --batch-size 1 --moving-average-weight 0.01" ]]
    run -0 --separate-stderr calib --summary < "$F/single.ir"
    [[ "${lines[0]}" == "# calib: 6 samples of 6 selected, batch size 1, moving-average weight 0.01, 2048 bins, "* ]]
    [[ "${lines[2]}" == "@input:0_112:out0	input:0	0	1.9921875	294912	0	1	6" ]]
    # every float activation has statistics; the int64 shape tensors none
    [ "$(grep -vc '^#' <<<"$output")" -eq "$(qinfer --summary < bf.ir |
        awk -F'\t' '$2 != "constant" && $2 != "output" && $3 == "float32"' | wc -l)" ]
    # the float graph still runs on it
    qinfer --input-meta bf.yml --output-dir q < "$F/single.ir"
}

@test "calib: a second run replaces the calib section" {
    need_blaze
    calib --input-meta bf.yml --iterations 2 < "$F/single.ir" > again.ir
    run -0 --separate-stderr calib --summary < again.ir
    [[ "${lines[0]}" == "# calib: 2 samples of 2 selected, "* ]]
    run -0 --separate-stderr qinfer --summary < again.ir
    [[ "${lines[3]}" == "# history 2: calib 0.1.0 --input-meta bf.yml --iterations 2 --batch-size 1 --moving-average-weight 0.01" ]]
}

@test "calib: --iterations N --batch-size B takes the first N x B lines" {
    need_blaze
    calib --input-meta bf.yml --iterations 2 --batch-size 2 --moving-average-weight 0.25 < bf.ir > it.ir
    head -n 4 ds.txt > ds4.txt
    sed 's/ds.txt/ds4.txt/' bf.yml > bf4.yml
    calib --input-meta bf4.yml --batch-size 2 --moving-average-weight 0.25 < bf.ir > four.ir
    run -0 calib --summary < it.ir
    [[ "${lines[0]}" == "# calib: 4 samples of 4 selected, batch size 2, moving-average weight 0.25, "* ]]
    diff <(calib --summary < it.ir | tail -n +2) <(calib --summary < four.ir | tail -n +2)
}

@test "calib: stderr stays empty without a terminal, -q or not" {
    need_blaze
    run -0 --separate-stderr bash -c 'calib --input-meta bf.yml < bf.ir > o.ir'
    [ -z "$stderr" ]
    run -0 --separate-stderr bash -c 'calib -q --input-meta bf.yml < bf.ir > o.ir'
    [ -z "$stderr" ]
    cmp o.ir "$F/single.ir"
}

@test "calib: a progress bar when stderr is a terminal, none with -q" {
    need_blaze
    command -v script >/dev/null || skip "no script(1) to make a terminal"
    run -0 script -qec "calib --input-meta bf.yml < bf.ir > o.ir" /dev/null
    [[ "$output" == *"calib: [##############################] 6/6 samples, "* ]]
    cmp o.ir "$F/single.ir"
    run -0 script -qec "calib -q --input-meta bf.yml < bf.ir > o.ir" /dev/null
    [ -z "$output" ]
}

# ---- dataset lists (RELIABILITY.md) ----

@test "dataset list: empty" {
    need_blaze
    reject_list 1 "ds.txt: no samples (empty list)" < /dev/null
    printf '\n  \n' | reject_list 1 "ds.txt: no samples (empty list)"
}

@test "dataset list: a missing entry" {
    need_blaze
    printf '%s\nno_such.jpg\n' "$IMAGES/dog.jpg" | reject_list 1 "ds.txt:2: entry 'no_such.jpg': no such file"
}

@test "dataset list: a directory entry" {
    need_blaze
    mkdir adir
    echo adir | reject_list 1 "ds.txt:1: entry 'adir': is a directory"
}

@test "dataset list: an unreadable entry" {
    need_blaze
    d=$(mktemp -d)
    chmod 755 "$d"
    cp bf.yml bf.ir "$IMAGES/dog.jpg" "$d/"
    chmod 644 "$d"/*
    chmod 000 "$d/dog.jpg"
    echo dog.jpg > "$d/ds.txt"
    if [ "$(id -u)" -eq 0 ]; then      # root reads anything: run as nobody
        command -v setpriv >/dev/null || { rm -rf "$d"; skip "root without setpriv"; }
        run -1 --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
            "$QP_BUILD/bin/calib" --input-meta "$d/bf.yml" < "$d/bf.ir"
    else
        run -1 --separate-stderr calib --input-meta "$d/bf.yml" < "$d/bf.ir"
    fi
    rm -rf "$d"
    assert_clean_failure calib "ds.txt:1: entry 'dog.jpg'"
    [[ "$stderr" == *": Permission denied" ]]
}

@test "dataset list: a BOM, CRLF, blank lines and trailing blanks are accepted" {
    need_blaze
    printf '\xef\xbb\xbf%s  \r\n\r\n\t%s\t\r\n' "$IMAGES/dog.jpg" "$IMAGES/coffee.jpg" > ds.txt
    calib --input-meta bf.yml < bf.ir > a.ir
    printf '%s\n%s\n' "$IMAGES/dog.jpg" "$IMAGES/coffee.jpg" > ds.txt
    calib --input-meta bf.yml < bf.ir | cmp - a.ir
}

@test "dataset list: relative entries are relative to the list's directory, the list to the meta's" {
    need_blaze
    mkdir -p m/imgs elsewhere
    cp bf.yml m/
    cp "$IMAGES/dog.jpg" m/imgs/
    echo imgs/dog.jpg > m/ds.txt
    cd elsewhere
    calib --input-meta ../m/bf.yml < ../bf.ir > o.ir
    run -0 calib --summary < o.ir
    [[ "${lines[0]}" == "# calib: 1 samples of 1 selected"* ]]
}

@test "dataset list: a NUL byte" {
    need_blaze
    printf '%s\0x\n' "$IMAGES/dog.jpg" | reject_list 1 "ds.txt:1: NUL byte"
}

@test "dataset list: an over-long line" {
    need_blaze
    head -c 5000 /dev/zero | tr '\0' a | reject_list 1 "ds.txt:1: line longer than 4096 bytes"
}

@test "dataset list: the wrong entry count for the model's inputs" {
    need_blaze
    echo "$IMAGES/dog.jpg $IMAGES/dog.jpg" | reject_list 1 "ds.txt:1: 2 entries, the model has 1 input"
}

@test "dataset list: two inputs per line feed a two-input model" {
    require_file "$NODE/test_add/model.onnx"
    onnx2ir --inputmeta a.yml --dataset ds.txt "$NODE/test_add/model.onnx" > a.ir
    mknpy x.npy '3, 4, 5' "$(for i in $(seq 60); do printf '\\x00\\x00\\x80\\x3f'; done)"
    mknpy y.npy '3, 4, 5' "$(for i in $(seq 60); do printf '\\x00\\x00\\x00\\x40'; done)"
    echo "x.npy y.npy" > ds.txt
    calib --input-meta a.yml < a.ir > o.ir
    run -0 calib --summary < o.ir
    [ "${#lines[@]}" -eq 5 ]                     # header, columns, x, y, the sum
    [[ "${lines[4]}" == *"	3	3	60	0	2	1" ]]   # 1 + 2 everywhere
    echo "x.npy" > ds.txt
    run -1 --separate-stderr calib --input-meta a.yml < a.ir
    assert_clean_failure calib "ds.txt:1: 1 entry, the model has 2 inputs"
}

@test "dataset: a text file named .jpg" {
    need_blaze
    echo hello > text.jpg
    echo text.jpg | reject_list 1 "cannot read 'text.jpg': not a PNG or JPEG image"
}

@test "dataset: other formats (GIF, CMYK JPEG) are refused" {
    need_blaze
    echo "$BAD/img_gif.gif" | reject_list 1 "this is a GIF image; only PNG and JPEG images are supported"
    echo "$BAD/img_cmyk.jpg" | reject_list 1 "JPEG colour space YCCK is not supported"
    echo "$BAD/img_empty.png" | reject_list 1 "img_empty.png"
}

@test "dataset: truncated JPEG and PNG" {
    need_blaze
    echo "$BAD/img_truncated.jpg" | reject_list 1 "bad JPEG: Premature end of JPEG file"
    echo "$BAD/img_truncated.png" | reject_list 1 "bad PNG: truncated file"
    echo "$BAD/img_no_iend.png" | reject_list 1 "img_no_iend.png"
    echo "$BAD/img_bad_crc.png" | reject_list 1 "img_bad_crc.png"
}

@test "dataset: images above the dimension caps" {
    need_blaze
    echo "$BAD/img_huge.jpg" | reject_list 1 "JPEG image is 60000x60000, above the 16384-pixel side limit"
    echo "$BAD/img_too_wide.png" | reject_list 1 "PNG image is 16385x1, above the 16384-pixel side limit"
    echo "$BAD/img_too_many_pixels.png" | reject_list 1 "PNG image is 9000x9000, above the 67108864-pixel limit"
}

@test "dataset: gray, RGBA, 16-bit and palette images are converted (R=G=B, alpha dropped, scaled to 8 bits)" {
    need_blaze
    for img in img_gray_8x8.jpg img_gray_3x1.png img_rgba_4x2.png img_rgb16_4x2.png img_palette_4x2.png; do
        echo "$TENSORS/$img" > ds.txt
        calib --input-meta bf.yml < bf.ir > o.ir
        run -0 calib --summary < o.ir
        [[ "${lines[2]}" == "@input:0_112:out0	"* ]]
    done
}

@test "dataset: a sample that fails midway leaves no output" {
    need_blaze
    printf '%s\n%s\n' "$IMAGES/dog.jpg" "$BAD/img_truncated.jpg" > ds.txt
    run -1 --separate-stderr bash -c 'calib --input-meta bf.yml < bf.ir > o.ir'
    [ ! -s o.ir ]
    [[ "$stderr" == "calib: cannot read '$BAD/img_truncated.jpg': bad JPEG"* ]]
}

# ---- .npy samples ----

@test ".npy samples with NaN: one warning per tensor, excluded from the statistics, exit 0" {
    relu_model
    printf 'ok.npy\nnan.npy\nok.npy\n' > ds.txt
    run -0 --separate-stderr bash -c 'calib --input-meta r.yml < r.ir > o.ir'
    [ "$stderr" = "calib: warning: tensor '@x_2:out0' (x): 1 NaN/Inf values in sample 1 ('nan.npy'), left out of the statistics" ]
    run -0 calib --summary < o.ir
    [ "${lines[2]}" = "@x_2:out0	x	-2	1	179	1	2	3" ]
    run -0 --separate-stderr bash -c 'calib -q --input-meta r.yml < r.ir | cmp - o.ir'
    [ -z "$stderr" ]
}

@test ".npy samples: every malformed file of tests/data/bad is refused" {
    relu_model
    for f in "$BAD"/npy_*.npy; do
        echo "$f" > ds.txt
        run -1 --separate-stderr calib --input-meta r.yml < r.ir
        assert_clean_failure calib "cannot read '$f': "
    done
}

@test ".npy samples: a shape other than the port's is refused" {
    relu_model
    mknpy small.npy '2, 3' "$(for i in $(seq 6); do printf '\\x00\\x00\\x80\\x3f'; done)"
    echo small.npy > ds.txt
    run -1 --separate-stderr calib --input-meta r.yml < r.ir
    assert_clean_failure calib "small.npy"
}

# ---- input meta YAML (RELIABILITY.md) ----

@test "input meta: every bad YAML of tests/data/bad exits 2 naming the file" {
    need_blaze
    for f in "$BAD"/meta_*.yml; do
        run -2 --separate-stderr calib --input-meta "$f" < bf.ir
        assert_clean_failure calib "$f:"
    done
    run -1 --separate-stderr calib --input-meta no_such.yml < bf.ir
    assert_clean_failure calib "no_such.yml"
}

# ---- streams ----

@test "calib: a truncated or empty upstream stream exits 1" {
    need_blaze
    run -1 --separate-stderr bash -c 'head -c 20000 bf.ir | calib --input-meta bf.yml'
    assert_clean_failure calib "truncated IR stream"
    run -1 --separate-stderr calib --input-meta bf.yml < /dev/null
    assert_clean_failure calib "<stdin>"
}

@test "calib --merge: streams of different models exit 1 naming the file" {
    need_blaze
    calib --input-meta bf.yml --shard 1/2 < bf.ir > s1.ir
    mkdir relu && cd relu
    relu_model
    echo ok.npy > ds.txt
    calib --input-meta r.yml < r.ir > ../relu.ir
    cd ..
    run -1 --separate-stderr calib --merge s1.ir relu.ir
    assert_clean_failure calib "'relu.ir' holds another graph than 's1.ir'"
}

@test "calib --merge: overlapping shards exit 1" {
    need_blaze
    calib --input-meta bf.yml --shard 1/2 < bf.ir > s1.ir
    run -1 --separate-stderr calib --merge s1.ir s1.ir
    assert_clean_failure calib "'s1.ir' and 's1.ir': sample 0 is in both (overlapping shards)"
    calib --input-meta bf.yml --shard 2/3 < bf.ir > t2.ir
    run -1 --separate-stderr calib --merge "$F/single.ir" t2.ir
    assert_clean_failure calib "sample 1 is in both (overlapping shards)"
}

@test "calib --merge: shards of runs with other parameters exit 1" {
    need_blaze
    calib --input-meta bf.yml --shard 1/2 < bf.ir > s1.ir
    calib --input-meta bf.yml --shard 2/2 --batch-size 2 < bf.ir > s2.ir
    run -1 --separate-stderr calib --merge s1.ir s2.ir
    assert_clean_failure calib "calibrated with --batch-size 1 and 2"
    calib --input-meta bf.yml --shard 2/2 --iterations 4 < bf.ir > s3.ir
    run -1 --separate-stderr calib --merge s1.ir s3.ir
    assert_clean_failure calib "runs over 6 and 4 samples"
}

@test "calib --merge: a stream without statistics, a bad and a missing file" {
    need_blaze
    run -1 --separate-stderr calib --merge "$F/single.ir" bf.ir
    assert_clean_failure calib "'bf.ir': the stream has no calib section (run calib first)"
    head -c 1000 "$F/single.ir" > cut.ir
    run -1 --separate-stderr calib --merge "$F/single.ir" cut.ir
    assert_clean_failure calib "cut.ir"
    run -3 --separate-stderr calib --merge "$F/single.ir" no_such.ir
    assert_clean_failure calib "cannot open 'no_such.ir'"
}

@test "calib --summary: a stream without statistics exits 1" {
    need_blaze
    run -1 --separate-stderr calib --summary < bf.ir
    assert_clean_failure calib "no calib section"
}

# ---- a real model, and the module's own checks ----

@test "calib: yolov5s, 2 shards merged equal the single run" {
    require_file "$QP_CACHE/models/yolov5s.onnx"
    [ -z "${QP_SANITIZED:-}" ] || skip "too slow under sanitizers"
    onnx2ir --inputmeta y.yml --dataset ds.txt "$QP_CACHE/models/yolov5s.onnx" > y.ir
    sed -i 's/^\( *scale:\).*/\1 0.0039215686/' y.yml
    printf '%s\n%s\n' "$IMAGES/dog.jpg" "$IMAGES/coffee.jpg" > ds.txt
    calib --input-meta y.yml < y.ir > single.ir
    calib --input-meta y.yml --shard 1/2 < y.ir > a.ir
    calib --input-meta y.yml --shard 2/2 < y.ir > b.ir
    calib --merge b.ir a.ir | cmp - single.ir
    [ "$(calib --summary < single.ir | awk -F'\t' '!/^#/ && ($5 == 0 || $8 != 2)' | wc -l)" -eq 0 ]
}

@test "calib: NaN reaching many tensors warns for the first eight and counts the rest" {
    require_file "$QP_CACHE/models/yolov5s.onnx"
    onnx2ir --inputmeta y.yml --dataset ds.txt "$QP_CACHE/models/yolov5s.onnx" > y.ir
    mknpy nan.npy '1, 3, 640, 640' ''
    printf '\x00\x00\xc0\x7f%.0s' $(seq 1228800) >> nan.npy
    echo nan.npy > ds.txt
    run -0 --separate-stderr bash -c 'calib --input-meta y.yml < y.ir > o.ir'
    [ "${#stderr_lines[@]}" -eq 9 ]
    [ "${stderr_lines[0]}" = "calib: warning: tensor '@images_266:out0' (images): 1228800 NaN/Inf values in sample 0 ('nan.npy'), left out of the statistics" ]
    [[ "${stderr_lines[8]}" == "calib: warning: NaN/Inf values also in "*" more tensors (not listed)" ]]
}

@test "statistics module: exact rebinning, orders, shards, threads, corrupt sections" {
    run "$QP_BUILD/tests/test_calib"
    [ "$status" -eq 0 ]
    [[ "${lines[-1]}" == *" passed, 0 failed" ]]
}

@test "calib(1): the EXAMPLES run" {
    need_blaze
    command -v parallel >/dev/null || skip "GNU parallel is not installed"
    cp "$BLAZE" model.onnx
    mkdir images
    cp "$IMAGES"/*.jpg images/
    sed -n '/^\.SH EXAMPLES/,/^\.SH/p' "$BATS_TEST_DIRNAME/../man/man1/calib.1" |
        sed -n '/^\.nf/,/^\.fi/p' | grep -v -e '^\.' -e 'sshlogin' | sed -e 's/\\-/-/g' -e 's/\\e/\\/g' > examples.sh
    [ "$(wc -l < examples.sh)" -ge 5 ]
    PATH="$BATS_TEST_DIRNAME/../pipelines:$PATH" run -0 bash -euo pipefail examples.sh
}
