#!/usr/bin/env bats
# nbgexport and the exported runtime: options, the project (make, run), outputs byte-identical
# to `qinfer --dtype quantized --raw` on every built-in model, same stream -> same NBG bytes,
# atomic writes, and every NBG bad-input class of RELIABILITY.md fed to the runtime.  The
# project is built once (BlazeFace, in setup_file: about a minute here); every export carries
# the same runtime sources (checked with diff), so other models run on that binary with --nbg.
bats_require_minimum_version 1.5.0
load helpers

NC=$BATS_TEST_DIRNAME/data/nn_cases
EDIT="python3 $BATS_TEST_DIRNAME/nbg_edit.py"
BF_MODEL=$QP_CACHE/models/face_detection_front_128x128_barracuda.onnx

setup_file() {
    export PRJ=$BATS_FILE_TMPDIR/prj BFW=$BATS_FILE_TMPDIR/bf
    [ -f "$BF_MODEL" ] || return 0
    mkdir -p "$BFW"
    cd "$BFW"
    onnx2ir "$BF_MODEL" --inputmeta meta.yml > m.ir
    sed -i 's/^        - 0\.0$/        - 127.5/; s/^        scale: 1\.0$/        scale: 0.00784313725/' meta.yml
    ls "$BATS_TEST_DIRNAME"/data/images/*.jpg > dataset.txt
    calib -q --input-meta meta.yml < m.ir > c.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 < c.ir > q.ir
    $EDIT mknpy:in.npy:1,128,128,3:-1:1
    nbgexport --output-path "$PRJ" --name bf < q.ir
    make -s -C "$PRJ" -j2 > "$BFW/make.log" 2>&1
}

setup() {
    cd "$BATS_TEST_TMPDIR"
}

need_prj() {
    require_file "$BF_MODEL"
    [ -x "$PRJ/bf" ] || { cat "$BFW/make.log"; false; }
}

# A quantized stream of a single-node test model (no cache needed).
mkq() {
    local d=$NC/$1
    cp "$d/test_data_set_0/input_0.pb" in.pb
    onnx2ir "$d/model.onnx" --inputmeta meta.yml > m.ir
    echo "$PWD/in.pb" > dataset.txt
    calib -q --input-meta meta.yml < m.ir > c.ir
    qtable --quantizer "$2" --qtype "$3" < c.ir > q.ir
}

# Export STREAM as project p/, check its runtime is the one built, run the built program ($BIN,
# default $PRJ/bf; a command, so it may start with an emulator) on INPUT and qinfer on the same
# input, compare every output file byte for byte.
same_as_qinfer() {
    local stream=$1 input=$2
    nbgexport --output-path p --name net < "$stream"
    diff -r "$PRJ/runtime" p/runtime
    cmp "$PRJ/main.c" p/main.c
    diff <(sed 's/\bbf\b/NAME/g' "$PRJ/Makefile") <(sed 's/\bnet\b/NAME/g' p/Makefile)
    ${BIN:-$PRJ/bf} --nbg p/net.nbg --output-dir o "$input"
    QP_THREADS=1 qinfer -q --dtype quantized --raw --format npy --input "$input" --output-dir q < "$stream"
    local n=0
    for f in q/iter_*attach_*.npy q/raw/iter_*attach_*.npy; do
        cmp "$f" "o/${f#q/}"
        n=$((n + 1))
    done
    [ "$n" -ge 2 ]
    [ "$(ls o | grep -c '\.npy$')" -eq "$(ls q | grep -c 'attach_.*\.npy$')" ]
}

@test "--help and --version" {
    run -0 nbgexport --help
    [[ "$output" == *"--output-path DIR"*"--nbg FILE"*"--target NAME"* ]]
    run -0 nbgexport --version
    [[ "$output" == "nbgexport (qpipe) "* ]]
}

@test "bad options are usage errors (exit 2)" {
    mkq test_nn_softmax_opset11_default asymmetric_affine uint8
    run -2 --separate-stderr nbgexport --bogus < q.ir
    assert_clean_failure nbgexport "unknown option '--bogus'"
    run -2 --separate-stderr nbgexport < q.ir
    assert_clean_failure nbgexport "give --output-path DIR or --nbg FILE"
    run -2 --separate-stderr nbgexport --nbg x.nbg --target-ide-project win32 < q.ir
    assert_clean_failure nbgexport "expected linux64"
    run -2 --separate-stderr nbgexport --nbg x.nbg --name ../evil < q.ir
    assert_clean_failure nbgexport "--name '../evil'"
    run -2 --separate-stderr nbgexport --nbg x.nbg --report < q.ir
    assert_clean_failure nbgexport "--report needs --target"
    run -2 --separate-stderr nbgexport --nbg x.nbg --target A --target-file b.yml < q.ir
    assert_clean_failure nbgexport "not both"
    [ ! -e x.nbg ]
}

@test "a stream without a quantization table is bad input, nothing written" {
    mkq test_nn_softmax_opset11_default asymmetric_affine uint8
    run -1 --separate-stderr nbgexport --nbg x.nbg --output-path p < m.ir
    assert_clean_failure nbgexport "no quantization table"
    [ ! -e x.nbg ] && [ ! -e p ]
}

@test "weights are stored as the integers of their table entry" {
    need_prj
    # BlazeFace int8 PCQ: 1 byte a weight instead of 4 (the NBG is less than the float weights)
    w=$(qinfer --summary < "$BFW/q.ir" | awk -F'\t' '$2 == "constant" && $3 == "float32"' | wc -l)
    [ "$w" -gt 10 ]
    [ "$(stat -c %s "$PRJ/bf.nbg")" -lt 500000 ]
    $EDIT "$PRJ/bf.nbg" x.nbg rec:2:qweight:u32@84=+0
    cmp x.nbg "$PRJ/bf.nbg"
}

@test "same stream, same NBG bytes; --nbg and the project's copy agree" {
    mkq test_nn_softmax_opset11_default asymmetric_affine uint8
    nbgexport --nbg a.nbg < q.ir
    nbgexport --nbg b.nbg --output-path p --name sm < q.ir
    cmp a.nbg b.nbg
    cmp a.nbg p/sm.nbg
    [ "$(head -c 5 a.nbg)" = QPNBG ]
}

@test "--output-path: a non-empty directory is refused and kept; no temporary left behind" {
    mkq test_nn_softmax_opset11_default asymmetric_affine uint8
    mkdir p && echo keep > p/file
    run -2 --separate-stderr nbgexport --output-path p < q.ir
    assert_clean_failure nbgexport "'p' exists and is not empty"
    [ "$(cat p/file)" = keep ]
    [ -z "$(ls -d p.tmp.* 2>/dev/null)" ]
    # an empty directory is replaced by the project
    mkdir e
    nbgexport --output-path e/ < q.ir
    [ -f e/Makefile ] && [ -f e/main.c ] && [ -f e/network.nbg ] && [ -f e/runtime/common/nbg.c ]
    [ -z "$(ls -d e.tmp.* 2>/dev/null)" ]
}

@test "an unwritable --output-path fails cleanly, no partial project" {
    mkq test_nn_softmax_opset11_default asymmetric_affine uint8
    # a parent that is a regular file: refused for root too (directory modes are not)
    : > ro
    run -3 --separate-stderr nbgexport --output-path ro/p < q.ir
    assert_clean_failure nbgexport "'ro/p': Not a directory"
    [ -f ro ] && [ ! -s ro ]
    ! ls -A | grep -E '^[.]?p([.]|$)' || false   # no project and no temporary directory
}

@test "the project builds with make, runs, reports the time per run and matches qinfer (BlazeFace int8 PCQ)" {
    need_prj
    cd "$BFW"
    rm -rf o q
    run -0 --separate-stderr "$PRJ/bf" --repeat 2 --output-dir o in.npy
    [[ "$stderr" =~ ^bf:\ load_ms=[0-9.]+\ median_ms=[0-9.]+\ min_ms=[0-9.]+\ runs=2\ arena_bytes=[0-9]+$ ]]
    QP_THREADS=1 qinfer -q --dtype quantized --raw --format npy --input in.npy --output-dir q < q.ir
    [ "$(ls o/raw | wc -l)" -eq 4 ]
    for f in q/iter_*attach_*.npy q/raw/iter_*attach_*.npy; do cmp "$f" "o/${f#q/}"; done
    # --raw input: the quantized input qinfer wrote, in its storage type
    "$PRJ/bf" --raw --output-dir r q/raw/iter_0_input*.npy 2>/dev/null
    for f in o/raw/*.npy; do cmp "$f" "r/raw/${f#o/raw/}"; done
}

@test "--info lists the inputs and outputs with their quantization and the arena" {
    need_prj
    run -0 "$PRJ/bf" --info
    [[ "${lines[0]}" == $'input\tinput:0\tint8\t1x128x128x3\tscale=0.00784313725\tzero_point=0' ]]
    [ "$(grep -c '^output' <<< "$output")" -eq 4 ]
    [[ "${lines[-1]}" =~ ^arena.[0-9]+\ bytes ]]
}

@test "wrong input count, shape or file: one error line" {
    need_prj
    run -2 --separate-stderr "$PRJ/bf"
    assert_clean_failure bf "the network has 1 input, 0 files given"
    $EDIT mknpy:small.npy:1,64,64,3:0:1
    run -1 --separate-stderr "$PRJ/bf" small.npy
    assert_clean_failure bf "expects 1x128x128x3"
    run -1 --separate-stderr "$PRJ/bf" missing.npy
    assert_clean_failure bf "missing.npy"
}

@test "yolov5s int8 PCQ and hybrid: outputs byte-identical to qinfer --dtype quantized --raw" {
    need_prj
    model=$QP_CACHE/models/yolov5s.onnx
    require_file "$model"
    onnx2ir "$model" --inputmeta meta.yml > m.ir
    $EDIT mknpy:in.npy:1,3,640,640:0:1
    echo "$PWD/in.npy" > dataset.txt
    calib -q --input-meta meta.yml < m.ir > c.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 < c.ir > q8.ir
    same_as_qinfer q8.ir in.npy
    rm -rf p o q
    qmix -q "$QP_ROOT/pipelines/yolov5s-hybrid.quantize" < q8.ir > hy.ir
    same_as_qinfer hy.ir in.npy
}

@test "PP-OCRv4 det int8 PCQ: outputs byte-identical to qinfer" {
    need_prj
    model=$QP_CACHE/models/ch_PP-OCRv4_det_infer.onnx
    require_file "$model"
    onnx2ir --input-size 1,3,640,640 --inputmeta meta.yml "$model" > m.ir
    $EDIT mknpy:in.npy:1,3,640,640:-2:2
    echo "$PWD/in.npy" > dataset.txt
    calib -q --input-meta meta.yml < m.ir > c.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 < c.ir > q.ir
    same_as_qinfer q.ir in.npy
}

@test "M-LSD tiny int8 PCQ and BlazeFace uint8 / int16: outputs byte-identical to qinfer" {
    need_prj
    model=$QP_CACHE/models/mlsd_320x320_tiny.onnx
    require_file "$model"
    onnx2ir --inputmeta meta.yml "$model" > m.ir
    $EDIT mknpy:in.npy:1,320,320,4:0:255
    echo "$PWD/in.npy" > dataset.txt
    calib -q --input-meta meta.yml < m.ir > c.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 < c.ir > q.ir
    same_as_qinfer q.ir in.npy
    for s in "asymmetric_affine uint8" "dynamic_fixed_point int16"; do
        rm -rf p o q
        qtable --quantizer ${s% *} --qtype ${s#* } < "$BFW/c.ir" > bq.ir
        same_as_qinfer bq.ir "$BFW/in.npy"
    done
}

@test "BlazeFace int8 PCQ with bias corrections: an NBG 1.1, outputs byte-identical to qinfer" {
    need_prj
    qtable --quantizer perchannel_symmetric_affine --qtype int8 --bias-correction --iterations 2 \
        --input-meta "$BFW/meta.yml" < "$BFW/c.ir" > bc.ir
    same_as_qinfer bc.ir "$BFW/in.npy"
    [ "$(od -An -tu2 -j8 -N4 p/net.nbg | tr -s ' ')" = " 1 1" ]
    # the corrections are what makes the integers differ from the plain table's
    nbgexport --nbg plain.nbg < "$BFW/q.ir"
    [ "$(od -An -tu2 -j8 -N4 plain.nbg | tr -s ' ')" = " 1 0" ]
    "$PRJ/bf" --nbg plain.nbg --output-dir o2 "$BFW/in.npy"
    ! diff -r o o2 > /dev/null
    cp p/net.nbg "$BATS_FILE_TMPDIR/bc.nbg"
}

@test "NBG: a bad bias correction record (layer, count, offset, port)" {
    need_prj
    [ -f "$BATS_FILE_TMPDIR/bc.nbg" ] || skip "needs the bias-correction NBG of the test above"
    bc() {
        local text=${*: -1}
        $EDIT "$BATS_FILE_TMPDIR/bc.nbg" bad.nbg "${@:1:$#-1}"
        run -1 --separate-stderr "$PRJ/bf" --nbg bad.nbg "$BFW/in.npy"
        assert_clean_failure bf "$text"
    }
    bc rec:6:last:u32@4=99999 "layer 99999 out of range"
    bc rec:6:last:u32@4=0 "only a Conv or ConvTranspose"
    bc rec:6:last:i32@32=-1 "values for"
    bc rec:6:last:i32@32=+1 "outside the qparams section"
    bc rec:6:last:u64@48=0xfffffffffffffff8 "outside the qparams section"
    bc rec:6:last:u32@0=4 "unknown port 4"
}

# ---- the NBG as untrusted input: every class of RELIABILITY.md ---------------------------------
# Section kinds: 1 strings, 2 values, 3 nodes, 4 attrs, 5 indices, 6 qentries, 7 qparams, 8 io,
# 9 plan, 10 data (qpipe-nbg(5)).

# bad EDIT... TEXT: the runtime refuses the edited NBG with one line naming the file and TEXT.
bad() {
    local text=${*: -1}
    $EDIT "$PRJ/bf.nbg" bad.nbg "${@:1:$#-1}"
    run -1 --separate-stderr "$PRJ/bf" --nbg bad.nbg "$BFW/in.npy"
    assert_clean_failure bf "$text"
    [[ "$stderr" == "bf: bad.nbg: "* ]]
}

@test "NBG: bad magic, version, endianness" {
    need_prj
    bad u8@0=0 keepcrc "bad magic"
    bad u16@8=2 "NBG version 2.0 not supported"
    bad u32@12=0x0D0C0B0A "big-endian NBG"
    bad u32@12=0x12345678 "bad endianness tag 0x12345678"
    : > empty.nbg
    run -1 --separate-stderr "$PRJ/bf" --nbg empty.nbg "$BFW/in.npy"
    assert_clean_failure bf "truncated NBG: 0 bytes"
}

@test "NBG: a section outside the file, with and without overflow; a truncated file" {
    need_prj
    bad sec:10:size=+1 "section 'data' (offset"
    bad sec:10:offset=0xffffffffffffffc0 sec:10:size=128 "lies outside the"
    bad sec:2:size=0xffffffffffffffff "section 'values'"
    bad u64@40=0xfffffffffffffff8 "section table"
    bad truncate=4096 "NBG says it is"
}

@test "NBG: misaligned section, payload and section table" {
    need_prj
    bad sec:2:offset=+8 "section 'values' at offset"
    bad sec:2:offset=+8 "not 64-byte aligned"
    bad rec:2:const:u64@88=+4 "is not 64-byte aligned"
    bad u64@40=+4 "misaligned"
}

@test "NBG: checksum mismatch" {
    need_prj
    bad rec:10:100:u32@0=+1 keepcrc "checksum mismatch"
    bad u64@24=+64 keepcrc "checksum mismatch"
}

@test "NBG: counts above a cap" {
    need_prj
    bad sec:2:count=2000000 "section 'values' has 2000000 records (at most 1000000)"
    bad sec:3:count=4000000000 "section 'nodes' has 4000000000 records"
    bad u32@36=1000 "1000 sections"
    bad rec:6:0:i32@32=2000000 "2000000 channels"
}

@test "NBG: tensor, op and buffer index out of range" {
    need_prj
    bad rec:5:0:i32@0=99999 "refers to value 99999"
    bad rec:5:0:u32@0=0xfffffff9 "refers to value -7"
    bad rec:3:0:u32@28=99999 "attribute range"
    bad rec:3:0:u32@20=0xfffffff0 "index range"
    bad rec:2:const:u64@88=0x7fffffffffffffc0 "outside the data section"
    bad rec:8:0:u32@4=99999 "value 99999 out of range"
    bad rec:6:0:u32@4=99999 "out of range"
    bad rec:2:0:u32@0=0xfffffff0 "string offset"
}

@test "NBG: unknown op code" {
    need_prj
    bad rec:3:0:u32@0=200 "unknown op code 200"
}

@test "NBG: bad quantization parameters" {
    need_prj
    bad qscale:0=-1 "scale -1 must be positive"
    bad qscale:0=nan "must be positive and finite"
    bad rec:6:0:i32@8=99 "unknown quantizer 99"
    bad rec:8:0:f64@96=0.5 "the descriptor says"
    bad qzp:0=300 "zero_point 300 is outside"
}

@test "NBG: a buffer smaller than its dims" {
    need_prj
    bad rec:2:const:u64@96=-4 "bytes of data for"
    bad rec:2:act:u64@24=+1 "the layer makes"
    bad rec:2:qweight:u64@96=-1 "bytes of data for"
    bad rec:2:qweight:u32@84=1 "which has no integer weight entry for it"
    bad rec:2:qweight:u32@84=100000 "which is not a layer"
    bad rec:2:@out:u64@24=+1 "descriptor does not match"
    bad rec:8:1:u64@112=-1 "the descriptor says"
}

@test "the arena: too small is a system error, and run performs no allocation" {
    need_prj
    # the header's figure shrunk: the load runs out of arena and says so
    $EDIT "$PRJ/bf.nbg" small.nbg u64@24=4096
    run -3 --separate-stderr "$PRJ/bf" --nbg small.nbg "$BFW/in.npy"
    assert_clean_failure bf "is too small for this NBG"
    # runs go through an allocator that refuses and counts (main.c): a clean run proves none
    run -0 --separate-stderr "$PRJ/bf" --repeat 3 --output-dir o "$BFW/in.npy"
    [[ "$stderr" != *allocate* ]]
}

@test "the runtime under ASan + UBSan: a run and the bad-input classes" {
    need_prj
    cp -r "$PRJ" asan
    make -s -C asan clean
    make -s -C asan -j2 CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all" > make.log 2>&1
    export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1
    asan/bf --output-dir o "$BFW/in.npy" 2> err.log
    "$PRJ/bf" --output-dir p "$BFW/in.npy" 2> /dev/null
    for f in p/*.npy p/raw/*.npy; do cmp "$f" "o/${f#p/}"; done
    for e in "u16@8=2" "sec:10:size=+1" "rec:5:0:i32@0=99999" "rec:3:0:u32@0=200" "qscale:0=-1" \
             "rec:2:const:u64@96=-4" "rec:2:act:u64@24=+1" "rec:4:0:u32@4=77"; do
        $EDIT "$PRJ/bf.nbg" bad.nbg $e
        run -1 --separate-stderr asan/bf --nbg bad.nbg "$BFW/in.npy"
        [ "${#stderr_lines[@]}" -eq 1 ] || { echo "$e: $stderr"; false; }
    done
}

@test "the runtime under valgrind: no invalid access, no leak" {
    need_prj
    command -v valgrind > /dev/null || skip "valgrind not installed"
    valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        "$PRJ/bf" --output-dir o "$BFW/in.npy"
    $EDIT "$PRJ/bf.nbg" bad.nbg rec:3:0:u32@0=200
    run -1 valgrind -q --error-exitcode=9 --leak-check=full "$PRJ/bf" --nbg bad.nbg "$BFW/in.npy"
}

@test "the runtime library calls only the ISO C library (and the compiler's helpers)" {
    need_prj
    [ -f "$PRJ/libnbgrt.a" ]
    nm -u "$PRJ/libnbgrt.a" | awk 'NF == 2 { print $2 }' | sort -u > und
    nm --defined-only "$PRJ/libnbgrt.a" | awk 'NF == 3 { print $3 }' | sort -u > def
    # C11 <stdlib.h> <string.h> <stdio.h> (snprintf only) <math.h> <assert.h> <errno.h>; libgcc
    iso='aligned_alloc calloc free malloc realloc qsort getenv strtol strtoll memchr memcpy memmove
         memset strcmp strlen strrchr strstr snprintf vsnprintf ceil cos cosf erf erff exp expf
         expm1 expm1f floor fmax fmin fmod frexp ldexp log log1p log1pf log2 logf nearbyint
         nearbyintf pow powf sin sinf sqrt sqrtf tanh tanhf __assert_fail __errno_location
         __cpu_indicator_init __cpu_model __divmodti4 _GLOBAL_OFFSET_TABLE_'
    extra=$(comm -23 und def | grep -vxF -f <(tr -s ' \n' '\n\n' <<< "$iso") || true)
    [ -z "$extra" ] || { echo "outside ISO C: $extra"; false; }
}

# ---- portability: no AVX2, strict C11, another architecture ------------------------------------
STRICT="-O2 -Wall -Wextra -Werror -pedantic"

@test "PORTABLE=1 builds with -std=c11 -pedantic -Wall -Wextra -Werror, has no AVX2 symbol, matches qinfer" {
    need_prj
    cp -r "$PRJ" port
    make -s -C port clean
    make -s -C port -j2 PORTABLE=1 CFLAGS="$STRICT" > make.log 2>&1 || { cat make.log; false; }
    make -n -B -C port PORTABLE=1 CFLAGS="$STRICT" obj/runtime/common/nbg.o | grep -q -- "$STRICT -std=c11 .*-DQP_NO_AVX2"
    [ -z "$(nm port/libnbgrt.a port/bf 2> /dev/null | grep -i 'avx2\|__cpu_model\|__cpu_indicator_init')" ]
    [ -z "$(ls port/obj/runtime/common/kernels | grep avx2)" ]
    BIN=port/bf same_as_qinfer "$BFW/q.ir" "$BFW/in.npy"
    for s in "asymmetric_affine uint8" "dynamic_fixed_point int16"; do
        rm -rf p o q
        qtable --quantizer ${s% *} --qtype ${s#* } < "$BFW/c.ir" > bq.ir
        BIN=port/bf same_as_qinfer bq.ir "$BFW/in.npy"
    done
}

@test "cross-built for aarch64 (PORTABLE by default there), run under qemu: byte-identical to qinfer" {
    need_prj
    command -v aarch64-linux-gnu-gcc > /dev/null && command -v qemu-aarch64 > /dev/null ||
        skip "gcc-aarch64-linux-gnu, libc6-dev-arm64-cross or qemu-user not installed"
    cp -r "$PRJ" arm
    make -s -C arm clean
    make -s -C arm -j2 CC=aarch64-linux-gnu-gcc AR=aarch64-linux-gnu-ar CFLAGS="$STRICT" > make.log 2>&1 ||
        { cat make.log; false; }
    aarch64-linux-gnu-readelf -h arm/bf | grep -q 'Machine: *AArch64'
    [ -z "$(aarch64-linux-gnu-nm arm/libnbgrt.a arm/bf 2> /dev/null | grep -i avx2)" ]
    BIN="qemu-aarch64 -L /usr/aarch64-linux-gnu arm/bf" same_as_qinfer "$BFW/q.ir" "$BFW/in.npy"
}

@test "the runtime's sources pass clang --target=aarch64-linux-gnu -std=c11 -pedantic -Werror" {
    command -v clang > /dev/null || skip "clang not installed"
    [ -f /usr/aarch64-linux-gnu/include/stdio.h ] || skip "no aarch64 libc headers (libc6-dev-arm64-cross)"
    mkq test_nn_softmax_opset11_default asymmetric_affine uint8
    nbgexport --output-path p < q.ir
    cd p
    n=0
    for f in main.c $(find runtime -name '*.c' ! -name '*_avx2.c'); do
        clang --target=aarch64-linux-gnu -std=c11 -Wall -Wextra -Werror -pedantic -DQP_NO_THREADS \
            -D_POSIX_C_SOURCE=200809L -Iruntime/include -fsyntax-only "$f"
        n=$((n + 1))
    done
    [ "$n" -gt 40 ]
}

@test "the EXAMPLES of nbgexport(1) run" {
    model=$QP_CACHE/models/yolov5s.onnx
    require_file "$model"
    # what pipelines/hybrid.sh leaves in out/, with a random input as the golden run's tensor
    mkdir -p out/golden
    onnx2ir "$model" --inputmeta meta.yml > m.ir
    $EDIT mknpy:out/golden/iter_0_images_266_out0_1_3_640_640.npy:1,3,640,640:0:1
    echo "$PWD/out/golden/iter_0_images_266_out0_1_3_640_640.npy" > dataset.txt
    calib -q --input-meta meta.yml < m.ir > c.ir
    qtable --quantizer perchannel_symmetric_affine --qtype int8 < c.ir |
        qmix -q "$QP_ROOT/pipelines/yolov5s-hybrid.quantize" > out/yolov5s.hybrid.ir
    sed -n '/^\.SH EXAMPLES/,/^\.SH/p' "$BATS_TEST_DIRNAME/../man/man1/nbgexport.1" |
        awk '/^\.nf/ { p = 1; next } /^\.fi/ { exit } p' | grep -v '^\.' |
        sed -e 's/\\-/-/g' -e 's/\\e/\\/g' > examples.sh
    [ "$(wc -l < examples.sh)" -ge 5 ]
    MAKEFLAGS=-j2 run -0 bash -euo pipefail examples.sh
    [ -x prj/yolov5s ] && [ -f o/raw/iter_0_attach_Concat_Concat_303_out0_0_out0_1_25200_85.npy ]
}

@test "--target: a per-channel table is refused on VIP9000PICO_PID0XEE, naming the layer; nothing is written" {
    need_prj
    run -1 --separate-stderr nbgexport --target VIP9000PICO_PID0XEE --nbg x.nbg --output-path p < "$BFW/q.ir"
    assert_clean_failure nbgexport "-i8, not supported on the tp unit of VIP9000PICO_PID0XEE (it allows asymmetric_affine-u8, dynamic_fixed_point-i8, dynamic_fixed_point-i16)"
    [[ "$stderr" == "nbgexport: layer '"*"' (Transpose) is asymmetric_affine-i8"*"more illegal layers)" ]]
    [ ! -e x.nbg ] && [ ! -e p ]
    ! ls .x.nbg* x.nbg.tmp* 2> /dev/null || false
}

@test "--target with --report: a uint8 table exports and the report's total counts every layer" {
    need_prj
    qtable --quantizer asymmetric_affine --qtype uint8 < "$BFW/c.ir" > u8.ir
    run -0 --separate-stderr nbgexport --target VIP9000PICO_PID0XEE --report --nbg u8.nbg < u8.ir
    [ -s u8.nbg ]
    layers=$(qinfer --summary < u8.ir | sed -n 's/^# model .*; \([0-9]*\) nodes, .*/\1/p')
    [ -n "$layers" ]
    grep -q "^total: $layers layers, " <<< "$output" || { echo "$output" | tail -3; echo "want $layers"; false; }
    # the same NBG bytes with and without a target: the check only reads
    nbgexport --nbg plain.nbg < u8.ir
    cmp u8.nbg plain.nbg
}

@test "--target: an unknown name lists the known targets" {
    need_prj
    run -2 --separate-stderr nbgexport --target VIP0000 --nbg x.nbg < "$BFW/q.ir"
    assert_clean_failure nbgexport "VIP9000PICO_PID0XEE"
    [ ! -e x.nbg ]
}
