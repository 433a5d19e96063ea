#!/usr/bin/env bats
# The nn op family (Conv, ConvTranspose, Gemm, MatMul, pools, norms, Softmax, Reduce*): ONNX's
# node tests and the extra cases of tests/data/nn_cases, run through the executor with weights
# as inputs and as constants, 1 and 2 threads (byte-identical) and the reference kernels.

load helpers

NODE_TESTS=${ONNX_NODE_TESTS:-/usr/include/onnx/backend/test/data/node}

@test "ONNX node tests of the nn ops pass" {
    [ -d "$NODE_TESTS" ] || skip "no ONNX node tests at $NODE_TESTS (install libonnx-dev)"
    run "$QP_BUILD/tests/test_ops_nn"
    echo "$output" | grep -v '^pass' | tail -30
    [ "$status" -eq 0 ]
    [[ "${lines[-1]}" =~ ^[0-9]+\ passed,\ 0\ failed ]]
}

@test "extra nn cases (real conv paths, opset variants) match onnxruntime" {
    run "$QP_BUILD/tests/test_ops_nn" -a 1e-5 "$QP_ROOT"/tests/data/nn_cases/test_nn_*
    echo "$output" | grep -v '^pass' | tail -30
    [ "$status" -eq 0 ]
    [[ "${lines[-1]}" =~ ^[0-9]+\ passed,\ 0\ failed\ \(0\ rejected ]]
}
