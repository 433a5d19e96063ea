#!/usr/bin/env bats
# The integer arithmetic contract and the quantized kernels: table-driven requantization
# tests, every kernel variant against its reference, and the golden integer outputs.
bats_require_minimum_version 1.5.0

setup() {
    BIN=${QP_BUILD:-build}/tests
    cd "$BATS_TEST_DIRNAME/.."
}

@test "requant: the rounding, multiplier and requantization tables hold" {
    run -0 "$BIN/test_requant"
    [[ "${lines[-1]}" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
}

@test "kernels_q: every variant matches its reference and the goldens" {
    run -0 "$BIN/test_kernels_q"
    [[ "${lines[-1]}" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
}

@test "kernels_q: the reference path alone (QP_KERNELS=ref) matches the goldens" {
    QP_KERNELS=ref run -0 "$BIN/test_kernels_q"
    [[ "${lines[-1]}" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
}

@test "kernels_q: one and two threads agree" {
    QP_THREADS=1 run -0 "$BIN/test_kernels_q"
    QP_THREADS=2 run -0 "$BIN/test_kernels_q"
}

@test "kernels_q: --regen writes the goldens byte for byte again" {
    run -0 "$BIN/test_kernels_q" --regen "$BATS_TEST_TMPDIR"
    # the kernel goldens (qexec_*.bin belong to test_qexec)
    local n=0
    for f in tests/data/golden/*.bin; do
        case $(basename "$f") in qexec_*) continue ;; esac
        cmp "$f" "$BATS_TEST_TMPDIR/$(basename "$f")"
        n=$((n + 1))
    done
    [ "$n" -ge 12 ]
}

@test "kernels_q: a changed golden byte is caught" {
    cp tests/data/golden/*.bin "$BATS_TEST_TMPDIR/"
    printf '\x01' | dd of="$BATS_TEST_TMPDIR/conv3x3_u8.bin" bs=1 seek=17 conv=notrunc status=none
    run -1 "$BIN/test_kernels_q" --golden "$BATS_TEST_TMPDIR"
    [[ "$output" == *"golden conv3x3_u8"* ]]
    [[ "${lines[-1]}" =~ ^[0-9]+\ passed,\ [1-9][0-9]*\ failed$ ]]
}

@test "kernels_q: a bad option is a usage error" {
    run -2 --separate-stderr "$BIN/test_kernels_q" --bogus
    [[ "$stderr" == usage:* ]]
}
