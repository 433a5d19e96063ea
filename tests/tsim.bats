#!/usr/bin/env bats
# tsim: options, every bad input (exit 1/2, empty stdout, one "tsim: " line), metrics
# against hand-computed values, directory mode, --min-cos and --split-last/--fields.
bats_require_minimum_version 1.5.0
load helpers

setup() {
    TSIM="$QP_BUILD/bin/tsim"
    DATA="$BATS_TEST_DIRNAME/data"
    cd "$BATS_TEST_TMPDIR"
    printf '1\n2\n3\n4\n' >a.tensor
    printf '1\n2\n3\n5\n' >b.tensor
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

@test "tsim --help prints the usage and exits 0" {
    run -0 --separate-stderr "$TSIM" --help
    [[ "$output" == "usage: tsim [options] REF X"* ]]
    [[ "$output" == *"--split-last"* ]]
    [[ "$output" == *"--allclose RTOL,ATOL"* ]]
    [[ "$output" == *"--max-err-rel X"* ]]
    [[ "$output" == *".pb (ONNX TensorProto)"* ]]
    [ -z "$stderr" ]
    run -0 "$TSIM" -h
}

@test "tsim --version" {
    run -0 --separate-stderr "$TSIM" --version
    [ "$output" = "tsim (qpipe) 0.1.0" ]
}

@test "tsim: a bad option exits 2 with a usage line" {
    run -2 --separate-stderr "$TSIM" --frobnicate a.tensor b.tensor
    assert_clean_failure tsim "unknown option '--frobnicate' (usage: tsim [options] REF X"
    run -2 --separate-stderr "$TSIM" -z a.tensor b.tensor
    assert_clean_failure tsim "unknown option '-z'"
    run -2 --separate-stderr "$TSIM" a.tensor b.tensor --min-cos
    assert_clean_failure tsim "option '--min-cos' needs a value"
}

@test "tsim: wrong operand counts and bad option values exit 2" {
    run -2 --separate-stderr "$TSIM" a.tensor
    assert_clean_failure tsim "two operands needed"
    run -2 --separate-stderr "$TSIM" a.tensor b.tensor a.tensor
    assert_clean_failure tsim "too many operands"
    run -2 --separate-stderr "$TSIM" --min-cos 1.5 a.tensor b.tensor
    assert_clean_failure tsim "bad --min-cos '1.5': expected a number in [-1, 1]"
    run -2 --separate-stderr "$TSIM" --min-cos nan a.tensor b.tensor
    assert_clean_failure tsim "bad --min-cos 'nan'"
    run -2 --separate-stderr "$TSIM" --split-last 4,0,80 a.tensor b.tensor
    assert_clean_failure tsim "bad --split-last '4,0,80'"
    run -2 --separate-stderr "$TSIM" --split-last 4, a.tensor b.tensor
    assert_clean_failure tsim "trailing ','"
    run -2 --separate-stderr "$TSIM" --fields boxes:4,obj a.tensor b.tensor
    assert_clean_failure tsim "bad --fields 'boxes:4,obj'"
    run -2 --separate-stderr "$TSIM" --fields a:2 --split-last 2 a.tensor b.tensor
    assert_clean_failure tsim "not both"
    run -2 --separate-stderr "$TSIM" --shape 1,x a.tensor b.tensor
    assert_clean_failure tsim "bad shape '1,x'"
    run -2 --separate-stderr "$TSIM" --dtype complex64 a.tensor b.tensor
    assert_clean_failure tsim "unknown --dtype 'complex64'"
}

@test "tsim: a raw file without --shape exits 2" {
    printf '\0\0\0\0' >a.bin
    run -2 --separate-stderr "$TSIM" a.bin a.bin
    assert_clean_failure tsim "'a.bin' is not .npy, .tensor or .pb: give its shape with --shape"
}

@test "tsim: a file and a directory exit 2" {
    mkdir d
    run -2 --separate-stderr "$TSIM" d a.tensor
    assert_clean_failure tsim "'d' is a directory but 'a.tensor' is not"
}

@test "tsim: every bad .tensor file exits 1" {
    for f in "$DATA"/bad/tensor_*.tensor; do
        run -1 --separate-stderr "$TSIM" "$f" a.tensor
        assert_clean_failure tsim "cannot read '$f': "
        run -1 --separate-stderr "$TSIM" a.tensor "$f"
        assert_clean_failure tsim "cannot read '$f': "
    done
    run -1 --separate-stderr "$TSIM" a.tensor "$DATA/bad/tensor_nan.tensor"
    assert_clean_failure tsim "line 3: non-finite value 'nan'"
}

@test "tsim: every bad .npy file exits 1" {
    for f in "$DATA"/bad/npy_*.npy; do
        run -1 --separate-stderr "$TSIM" "$f" "$f"
        assert_clean_failure tsim "cannot read '$f': "
    done
    run -1 --separate-stderr "$TSIM" "$DATA/bad/npy_pickle.npy" a.tensor
    assert_clean_failure tsim "descr '|O' (pickle) is not allowed"
}

@test "tsim: a missing file exits 1" {
    run -1 --separate-stderr "$TSIM" a.tensor nothere.tensor
    assert_clean_failure tsim "cannot read 'nothere.tensor': No such file or directory"
}

@test "tsim: NaN in a .npy exits 1" {
    mknpy n.npy "2," '\x00\x00\x80\x3f\x00\x00\xc0\x7f'
    mknpy o.npy "2," '\x00\x00\x80\x3f\x00\x00\x80\x3f'
    run -0 "$TSIM" o.npy o.npy
    run -1 --separate-stderr "$TSIM" o.npy n.npy
    assert_clean_failure tsim "'n.npy': element 1 is not finite"
}

@test "tsim: size and shape mismatches exit 1" {
    printf '1\n2\n3\n' >c.tensor
    run -1 --separate-stderr "$TSIM" a.tensor c.tensor
    assert_clean_failure tsim "size mismatch: 'a.tensor' has 4 elements (4), 'c.tensor' has 3 (3)"
    cp a.tensor x_out0_1_2_2.tensor
    cp a.tensor y_out0_4_1.tensor
    run -1 --separate-stderr "$TSIM" x_out0_1_2_2.tensor y_out0_4_1.tensor
    assert_clean_failure tsim "shape mismatch: 'x_out0_1_2_2.tensor' is 1x2x2, 'y_out0_4_1.tensor' is 4x1"
    printf '\0\0\0\0\0\0\0\0' >r.bin
    run -1 --separate-stderr "$TSIM" --shape 3 r.bin r.bin
    assert_clean_failure tsim "raw file is 8 bytes, shape 3 of float32 needs 12"
}

@test "tsim: identical files give cos 1 and sqnr inf" {
    run -0 --separate-stderr "$TSIM" a.tensor a.tensor
    [ "$output" = "cos 1.000000 euc 0.000e+00 maxabs 0.000e+00 meanabs 0.000e+00 sqnr infdB  a.tensor a.tensor" ]
    [ -z "$stderr" ]
}

@test "tsim: a hand-computed pair" {
    # a=(1,2,3,4) b=(1,2,3,5): a.b=34, |a|^2=30, |b|^2=39, cos=34/sqrt(1170)=0.993999,
    # euc=1, maxabs=1, meanabs=0.25, sqnr=10*log10(30/1)=14.77 dB
    run -0 --separate-stderr "$TSIM" a.tensor b.tensor
    [ "$output" = "cos 0.993999 euc 1.000e+00 maxabs 1.000e+00 meanabs 2.500e-01 sqnr 14.77dB  a.tensor b.tensor" ]
    # (3,4) vs (4,3): cos 24/25, euc sqrt(2), sqnr 10*log10(25/2)
    printf '3\n4\n' >p.tensor
    printf '4\n3\n' >q.tensor
    run -0 "$TSIM" p.tensor q.tensor
    [ "$output" = "cos 0.960000 euc 1.414e+00 maxabs 1.000e+00 meanabs 1.000e+00 sqnr 10.97dB  p.tensor q.tensor" ]
    # opposite vectors, and zero vectors
    printf '1\n0\n' >u.tensor
    printf -- '-1\n0\n' >v.tensor
    printf '0\n0\n' >z.tensor
    run -0 "$TSIM" u.tensor v.tensor
    [[ "$output" == "cos -1.000000 euc 2.000e+00 "* ]]
    run -0 "$TSIM" z.tensor z.tensor
    [[ "$output" == "cos 1.000000 "*"sqnr infdB  z.tensor z.tensor" ]]
    run -0 "$TSIM" z.tensor u.tensor
    [[ "$output" == "cos 0.000000 "*"sqnr -infdB  z.tensor u.tensor" ]]
}

@test "tsim: --tsv has a header and full precision" {
    run -0 --separate-stderr "$TSIM" --tsv a.tensor b.tensor
    [ "${lines[0]}" = "$(printf 'ref\tx\tfield\tcos\teuc\tmaxabs\tmeanabs\tsqnr_db')" ]
    [ "${lines[1]}" = "$(printf 'a.tensor\tb.tensor\tall\t0.993999089\t1\t1\t0.25\t14.7712125')" ]
    [ "${#lines[@]}" -eq 2 ]
}

@test "tsim: .npy against an Acuity .tensor dump, and raw data" {
    # np_f32_2x3.npy holds arange(6) * 0.5 - 1
    printf -- '-1\n-0.5\n0\n0.5\n1\n1.5\n' >iter_0_out_Conv_1_out0_1_2_3.tensor
    run -0 "$TSIM" "$DATA/tensors/np_f32_2x3.npy" iter_0_out_Conv_1_out0_1_2_3.tensor
    [[ "$output" == "cos 1.000000 euc 0.000e+00 "* ]]
    printf '\x00\x00\x80\xbf\x00\x00\x00\xbf\x00\x00\x00\x00\x00\x00\x00\x3f\x00\x00\x80\x3f\x00\x00\xc0\x3f' >x.raw
    run -0 "$TSIM" --shape 2,3 "$DATA/tensors/np_f32_2x3.npy" x.raw
    [[ "$output" == "cos 1.000000 "* ]]
    printf '\x01\x02\x03\x04' >u8.bin
    run -0 "$TSIM" --shape 4 --dtype u8 a.tensor u8.bin
    [[ "$output" == "cos 1.000000 euc 0.000e+00 "* ]]
}

@test "tsim: directory mode pairs same-named files in name order" {
    mkdir ref quant
    cp a.tensor ref/iter_0_b_out0_4.tensor
    cp b.tensor quant/iter_0_b_out0_4.tensor
    cp a.tensor ref/iter_0_a_out0_2_2.tensor
    cp a.tensor quant/iter_0_a_out0_2_2.tensor
    cp a.tensor ref/only_ref.tensor
    cp a.tensor quant/only_quant.tensor
    printf 'ignored\n' >ref/notes.txt
    run -0 --separate-stderr "$TSIM" ref quant
    [ "${#lines[@]}" -eq 2 ]
    [ "${lines[0]}" = "cos 1.000000 euc 0.000e+00 maxabs 0.000e+00 meanabs 0.000e+00 sqnr infdB  iter_0_a_out0_2_2.tensor" ]
    [ "${lines[1]}" = "cos 0.993999 euc 1.000e+00 maxabs 1.000e+00 meanabs 2.500e-01 sqnr 14.77dB  iter_0_b_out0_4.tensor" ]
    [[ "$stderr" == *"tsim: warning: 1 file only in 'ref': only_ref.tensor"* ]]
    [[ "$stderr" == *"tsim: warning: 1 file only in 'quant': only_quant.tensor"* ]]
}

@test "tsim: directory mode with no common names exits 1" {
    mkdir d1 d2
    cp a.tensor d1/x.tensor
    cp a.tensor d2/y.tensor
    run -1 --separate-stderr "$TSIM" d1 d2
    assert_clean_failure tsim "no .tensor/.npy/.pb file names in common between 'd1' and 'd2'"
}

@test "tsim: a bad file in directory mode exits 1 with no table" {
    mkdir d1 d2
    cp a.tensor d1/x.tensor
    cp a.tensor d2/x.tensor
    cp a.tensor d1/y.tensor
    cp "$DATA/bad/tensor_hex.tensor" d2/y.tensor
    run -1 --separate-stderr "$TSIM" d1 d2
    assert_clean_failure tsim "cannot read 'd2/y.tensor': line 1: '0x10' is not a number"
}

@test "tsim --min-cos: exit 4 after the table when a pair is below" {
    run -0 "$TSIM" --min-cos 0.99 a.tensor b.tensor
    run -4 --separate-stderr "$TSIM" --min-cos 0.999 a.tensor b.tensor
    [[ "$output" == "cos 0.993999 "* ]]
    [ "$stderr" = "tsim: 1 of 1 rows below --min-cos 0.999 (lowest: cos 0.993999 for 'a.tensor')" ]
}

@test "tsim --split-last reports every slice of the last axis" {
    # two rows of 4: a=(1,2,3,4 | 5,6,7,8), b=(1,2,3,5 | 5,6,7,8); slices [0:1] [1:4]
    printf '%s\n' 1 2 3 4 5 6 7 8 >m_out0_2_4.tensor
    printf '%s\n' 1 2 3 5 5 6 7 8 >n_out0_2_4.tensor
    run -0 --separate-stderr "$TSIM" --split-last 1,3 m_out0_2_4.tensor n_out0_2_4.tensor
    [ "${#lines[@]}" -eq 3 ]
    [[ "${lines[0]}" == "cos "*"  m_out0_2_4.tensor n_out0_2_4.tensor" ]]
    [ "${lines[1]}" = "cos 1.000000 euc 0.000e+00 maxabs 0.000e+00 meanabs 0.000e+00 sqnr infdB  m_out0_2_4.tensor n_out0_2_4.tensor [0:1]" ]
    # slice 1:4 holds (2,3,4,6,7,8) vs (2,3,5,6,7,8): noise 1, signal 4+9+16+36+49+64=178
    [[ "${lines[2]}" == *"euc 1.000e+00 maxabs 1.000e+00 meanabs 1.667e-01 sqnr 22.50dB  m_out0_2_4.tensor n_out0_2_4.tensor [1:4]" ]]
    run -0 "$TSIM" --tsv --fields obj:1,cls:3 m_out0_2_4.tensor n_out0_2_4.tensor
    [[ "${lines[2]}" == *"$(printf '\tobj\t1\t0\t0\t0\tinf')" ]]
    [[ "${lines[3]}" == *"$(printf '\tcls\t')"* ]]
    run -4 "$TSIM" --min-cos 0.9999 --fields obj:1,cls:3 m_out0_2_4.tensor n_out0_2_4.tensor
    run -1 --separate-stderr "$TSIM" --split-last 4,1,80 m_out0_2_4.tensor n_out0_2_4.tensor
    assert_clean_failure tsim "fields add up to 85, but the last axis of 'm_out0_2_4.tensor' (2x4) is 4"
    run -2 --separate-stderr "$TSIM" --split-last 2,2 a.tensor b.tensor
    assert_clean_failure tsim "need a shape"
    run -0 "$TSIM" --shape 2,2 --split-last 1,1 a.tensor b.tensor
    [ "${#lines[@]}" -eq 3 ]
}

@test "tsim: a write error on stdout exits 3" {
    [ -w /dev/full ] || skip "no /dev/full"
    run -3 --separate-stderr sh -c '"$0" a.tensor b.tensor >/dev/full' "$TSIM"
    [[ "$stderr" == "tsim: cannot write the output: No space left on device" ]]
}

# ONNX TensorProto: dims (field 1), data_type (2), then raw_data (9) or a typed field.
mkpb() {
    printf "$2" >"$1"
}
PB_2X2_RAW='\x08\x02\x08\x02\x10\x01\x4a\x10\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40'
PB_2X2_FLOATS='\x08\x02\x08\x02\x10\x01\x22\x10\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\xa0\x40'
PB_4_INT64='\x08\x04\x10\x07\x3a\x04\x01\x02\x03\x04'

@test "tsim reads ONNX TensorProto .pb files (raw_data and typed fields)" {
    mkpb a.pb "$PB_2X2_RAW"
    mkpb b.pb "$PB_2X2_FLOATS"
    mkpb i.pb "$PB_4_INT64"
    run -0 --separate-stderr "$TSIM" a.pb a.tensor
    [ "$output" = "cos 1.000000 euc 0.000e+00 maxabs 0.000e+00 meanabs 0.000e+00 sqnr infdB  a.pb a.tensor" ]
    run -0 "$TSIM" a.pb b.pb
    [ "$output" = "cos 0.993999 euc 1.000e+00 maxabs 1.000e+00 meanabs 2.500e-01 sqnr 14.77dB  a.pb b.pb" ]
    run -0 "$TSIM" i.pb a.tensor
    [[ "$output" == "cos 1.000000 euc 0.000e+00 "* ]]
    # the shape comes from the message: 2x2 against 4 elements of a 4x1 dump is a mismatch
    cp a.tensor y_out0_4_1.tensor
    run -1 --separate-stderr "$TSIM" a.pb y_out0_4_1.tensor
    assert_clean_failure tsim "shape mismatch: 'a.pb' is 2x2, 'y_out0_4_1.tensor' is 4x1"
}

@test "tsim: bad .pb files exit 1" {
    printf 'not a tensor' >bad.pb
    run -1 --separate-stderr "$TSIM" bad.pb a.tensor
    assert_clean_failure tsim "'bad.pb': not a serialized ONNX TensorProto"
    # dims 3 but 16 bytes of float data
    printf '\x08\x03\x10\x01\x4a\x10\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40' >short.pb
    run -1 --separate-stderr "$TSIM" a.tensor short.pb
    assert_clean_failure tsim "'short.pb'"
    # a STRING tensor
    printf '\x08\x01\x10\x08\x32\x01x' >str.pb
    run -1 --separate-stderr "$TSIM" str.pb str.pb
    assert_clean_failure tsim "'str.pb'"
    run -1 --separate-stderr "$TSIM" a.tensor nothere.pb
    assert_clean_failure tsim "nothere.pb"
}

@test "tsim --allclose: |ref - x| <= atol + rtol |ref| element-wise, ref the first file" {
    # a=(1,2,3,4) b=(1,2,3,5): only element 3 differs, by 1
    run -0 --separate-stderr "$TSIM" --allclose 0.25,0 a.tensor b.tensor
    [ "$output" = "cos 0.993999 euc 1.000e+00 maxabs 1.000e+00 meanabs 2.500e-01 sqnr 14.77dB  a.tensor b.tensor" ]
    [ -z "$stderr" ]
    run -0 "$TSIM" --allclose 0,1 a.tensor b.tensor
    # tolerance 0.2 * |ref|: 0.8 with a as the reference fails, 1.0 with b passes
    run -4 --separate-stderr "$TSIM" --allclose 0.2,0 a.tensor b.tensor
    [[ "$output" == "cos 0.993999 "* ]]
    [ "$stderr" = "tsim: 1 of 4 elements (in 1 of 1 rows) fail --allclose 0.2,0 (worst: 'a.tensor' element [3] ref 4 x 5, |diff| 1.000e+00 > 8.000e-01)" ]
    run -0 "$TSIM" --allclose 0.2,0 b.tensor a.tensor
    # the worst element is the largest excess over its tolerance, indexed in the shape
    printf '%s\n' 10 20 30 40 >p_out0_2_2.tensor
    printf '%s\n' 10.5 20 30 41 >q_out0_2_2.tensor
    run -4 --separate-stderr "$TSIM" --allclose 0,0.1 p_out0_2_2.tensor q_out0_2_2.tensor
    [ "$stderr" = "tsim: 2 of 4 elements (in 1 of 1 rows) fail --allclose 0,0.1 (worst: 'p_out0_2_2.tensor' element [1,1] ref 40 x 41, |diff| 1.000e+00 > 1.000e-01)" ]
    run -0 "$TSIM" --allclose 0,0 a.tensor a.tensor
}

@test "tsim --max-err-rel: maxabs against the reference's range" {
    # maxabs 1, range of a 4 - 1 = 3: a ratio of 0.333
    run -0 --separate-stderr "$TSIM" --max-err-rel 0.34 a.tensor b.tensor
    [ -z "$stderr" ]
    run -4 --separate-stderr "$TSIM" --max-err-rel 0.33 a.tensor b.tensor
    [[ "$output" == "cos 0.993999 "* ]]
    [ "$stderr" = "tsim: 1 of 1 rows fail --max-err-rel 0.33 (worst: maxabs 1.000e+00, 3.333e-01 of the reference range 3, for 'a.tensor')" ]
    # a constant reference allows no error at all
    printf '2\n2\n2\n2\n' >c.tensor
    printf '2\n2\n2\n3\n' >d.tensor
    run -0 "$TSIM" --max-err-rel 0 c.tensor c.tensor
    run -4 --separate-stderr "$TSIM" --max-err-rel 1000 c.tensor d.tensor
    [ "$stderr" = "tsim: 1 of 1 rows fail --max-err-rel 1000 (worst: maxabs 1.000e+00, inf of the reference range 0, for 'c.tensor')" ]
}

@test "tsim: every failing check has its line, then exit 4; fields are not checked" {
    run -4 --separate-stderr "$TSIM" --min-cos 0.999 --allclose 0,0 --max-err-rel 0.1 a.tensor b.tensor
    [ "${#stderr_lines[@]}" -eq 3 ]
    [[ "${stderr_lines[0]}" == "tsim: 1 of 1 rows below --min-cos 0.999 "* ]]
    [[ "${stderr_lines[1]}" == "tsim: 1 of 4 elements (in 1 of 1 rows) fail --allclose 0,0 "* ]]
    [[ "${stderr_lines[2]}" == "tsim: 1 of 1 rows fail --max-err-rel 0.1 "* ]]
    # directory mode: counts over all pairs, the worst names its file
    mkdir r x
    cp a.tensor r/one_out0_2_2.tensor
    cp a.tensor x/one_out0_2_2.tensor
    cp a.tensor r/two_out0_2_2.tensor
    cp b.tensor x/two_out0_2_2.tensor
    run -4 --separate-stderr "$TSIM" --allclose 0,0.5 --fields lo:1,hi:1 r x
    [ "${#lines[@]}" -eq 6 ]
    [ "$stderr" = "tsim: 1 of 8 elements (in 1 of 2 rows) fail --allclose 0,0.5 (worst: 'two_out0_2_2.tensor' element [1,1] ref 4 x 5, |diff| 1.000e+00 > 5.000e-01)" ]
}

@test "tsim: bad --allclose and --max-err-rel values exit 2" {
    for v in 1e-3 1e-3, ,1e-7 -1,0 0,-1 nan,0 0,inf 1e-3,1e-7,1 x,y; do
        run -2 --separate-stderr "$TSIM" --allclose "$v" a.tensor b.tensor
        assert_clean_failure tsim "bad --allclose '$v': expected RTOL,ATOL, two finite numbers >= 0"
    done
    for v in -1 nan inf x ''; do
        run -2 --separate-stderr "$TSIM" --max-err-rel "$v" a.tensor b.tensor
        assert_clean_failure tsim "bad --max-err-rel '$v': expected a finite number >= 0"
    done
    run -2 --separate-stderr "$TSIM" a.tensor b.tensor --allclose
    assert_clean_failure tsim "option '--allclose' needs a value"
}

@test "tsim: two empty tensors of one shape are equal" {
    mknpy e.npy "0, 3" ''
    run -0 --separate-stderr "$TSIM" --allclose 0,0 --max-err-rel 0 e.npy e.npy
    [ "$output" = "cos 1.000000 euc 0.000e+00 maxabs 0.000e+00 meanabs 0.000e+00 sqnr infdB  e.npy e.npy" ]
    run -1 --separate-stderr "$TSIM" e.npy a.tensor
    assert_clean_failure tsim "size mismatch: 'e.npy' has 0 elements"
}
