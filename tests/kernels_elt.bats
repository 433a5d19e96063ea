#!/usr/bin/env bats
# The elementwise and movement kernels: every fast variant against its reference, the
# broadcast/strided/pad/resize drivers against naive loops, the cast rules against a table.

load helpers

@test "elementwise and movement kernels match their references" {
    run "$QP_BUILD/tests/test_kernels_elt"
    echo "$output" | tail -20
    [ "$status" -eq 0 ]
    [[ "${lines[-1]}" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
}

@test "the same checks pass with QP_KERNELS=ref set" {
    QP_KERNELS=ref run "$QP_BUILD/tests/test_kernels_elt"
    [ "$status" -eq 0 ]
    [[ "${lines[-1]}" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
}
