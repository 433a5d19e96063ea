#!/usr/bin/env bats
# The float32 kernels: every variant against its reference on random and edge shapes, and
# byte-identical results for 1 and 2 threads (tests/unit/test_kernels_f32.c does the work).

setup() {
    QP_BUILD=${QP_BUILD:-build}
}

@test "kernels: every variant matches its reference, 1 and 2 threads agree" {
    run "$QP_BUILD/tests/test_kernels_f32"
    [ "$status" -eq 0 ]
    [[ "${lines[-1]}" == *" passed, 0 failed" ]]
}

@test "kernels: QP_KERNELS=ref selects the reference path" {
    QP_KERNELS=ref run "$QP_BUILD/tests/test_kernels_f32" --print-isa
    [ "$status" -eq 0 ]
    [ "$output" = "ref" ]
}

@test "kernels: QP_KERNELS=scalar selects the portable path" {
    QP_KERNELS=scalar run "$QP_BUILD/tests/test_kernels_f32" --print-isa
    [ "$status" -eq 0 ]
    [ "$output" = "scalar" ]
}

@test "kernels: the checker passes under QP_KERNELS=ref and QP_THREADS=1" {
    QP_KERNELS=ref QP_THREADS=1 run "$QP_BUILD/tests/test_kernels_f32" --quick
    [ "$status" -eq 0 ]
    [[ "${lines[-1]}" == *" passed, 0 failed" ]]
}

@test "kernels: the benchmark runs every shape" {
    [ -z "${QP_SANITIZED:-}" ] || skip "too slow under sanitizers"
    run "$QP_BUILD/tests/bench_kernels_f32" quick
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "bench: quick run done" ]
}
