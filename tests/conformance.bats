#!/usr/bin/env bats
# The ONNX backend node tests of every supported op, through onnx2ir | qinfer | tsim
# (tests/conformance/run.sh): nothing may fail but the listed known failures; and the
# runner itself must report a wrong output, a skip and a stale list entry as such.
load helpers

NODE=/usr/include/onnx/backend/test/data/node
CONF=$BATS_TEST_DIRNAME/conformance

setup() {
    [ -d "$NODE" ] || skip "libonnx-testdata is not installed (tests/install-deps.sh)"
    export QP_BUILD
    cd "$BATS_TEST_TMPDIR"
}

@test "conformance: no ONNX node test of a supported op fails" {
    run -0 --separate-stderr "$CONF/run.sh"
    [ -z "$stderr" ] || { echo "$stderr"; false; }
    [[ "${lines[-1]}" =~ ^[0-9]+\ passed,\ 0\ failed,\ [0-9]+\ skipped,\ [0-9]+\ xfail$ ]]
    # every selected test has a status line; skips and known failures say why
    [ "$(grep -c '^pass test_' <<<"$output")" -gt 400 ]
    [ -z "$(grep -E '^fail ' <<<"$output")" ]
    [ -z "$(grep -E '^(skip|xfail) test_[^ ]+$' <<<"$output")" ]
}

@test "conformance: ops.txt has a line for each op onnx2ir supports, and no other" {
    run -1 --separate-stderr onnx2ir "$CONF/unknown_op.onnx"
    [[ "$stderr" == *"unsupported op 'QpNoSuchOp' (supported: "* ]]
    supported=$(sed -E 's/.*\(supported: ([^)]*)\).*/\1/' <<<"$stderr" | tr ' ' '\n' | sort)
    listed=$(grep -vE '^(#|$)' "$CONF/ops.txt" | awk '$1 != "Constant" {print $1}' | sort)
    diff <(echo "$supported") <(echo "$listed")
}

@test "conformance: every known failure names a node test that ops.txt selects" {
    while read -r t reason; do
        case $t in '' | '#'*) continue ;; esac
        [ -n "$reason" ] || { echo "no reason for $t"; false; }
        [ -d "$NODE/$t" ] || { echo "no such test: $t"; false; }
        run -0 "$CONF/run.sh" "^$t\$"
        [[ "${lines[0]}" == "xfail $t "* ]] || { echo "$output"; false; }
    done <"$CONF/known-failures.txt"
}

@test "conformance: a wrong output is a failure, an unsupported type a skip; binding, opset raise" {
    mkdir -p node
    for t in test_add test_cast_STRING_to_FLOAT test_elu test_reshape_reduced_dims test_split_equal_parts_1d; do
        cp -r "$NODE/$t" node/
    done
    chmod -R u+w node
    # the second output of Split swapped with the first: shapes agree, values do not
    cp "$NODE/test_split_equal_parts_1d/test_data_set_0/output_0.pb" node/test_split_equal_parts_1d/test_data_set_0/output_1.pb
    QP_ONNX_NODE_TESTS=$PWD/node run -1 --separate-stderr "$CONF/run.sh" -j 1
    [ "${lines[0]}" = "pass test_add" ]
    [ "${lines[1]}" = "skip test_cast_STRING_to_FLOAT type STRING" ]
    [ "${lines[2]}" = "pass test_elu (opset 6 raised to 7)" ]
    [ "${lines[3]}" = "pass test_reshape_reduced_dims (bound at import: shape)" ]
    [[ "${lines[4]}" == "fail test_split_equal_parts_1d output 1: 2 of 2 elements (in 1 of 1 rows) fail --allclose 0.001,1e-07 "* ]]
    [ "${lines[-1]}" = "3 passed, 1 failed, 1 skipped, 0 xfail" ]
    # a known failure that passes is reported, so the list cannot go stale
    mkdir conf
    cp "$CONF"/run.sh "$CONF"/ops.txt "$CONF"/unknown_op.onnx "$CONF"/raise_opset.py conf/
    printf 'test_add some reason\n' >conf/known-failures.txt
    QP_ONNX_NODE_TESTS=$PWD/node run -1 --separate-stderr conf/run.sh '^test_add$'
    [ "${lines[0]}" = "fail test_add passes but is listed in known-failures.txt: remove it" ]
}

@test "conformance: run.sh rejects bad usage" {
    run -2 --separate-stderr "$CONF/run.sh" -x
    [[ "$stderr" == *"usage: run.sh "* ]]
    run -2 --separate-stderr "$CONF/run.sh" '^no_such_test$'
    [ "$stderr" = "run.sh: no test matches '^no_such_test\$'" ]
}
