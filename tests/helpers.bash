# Loaded by every bats file: paths to the built filters and shared assertions.
bats_require_minimum_version 1.5.0

QP_BUILD=${QP_BUILD:-$BATS_TEST_DIRNAME/../build}
export PATH="$QP_BUILD/bin:$PATH"
QP_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
QP_CACHE=${QP_CACHE:-$QP_ROOT/tests/cache}

# Expect the last `run -N --separate-stderr` to have failed cleanly: nothing on stdout,
# exactly one stderr line starting with "<prog>: " and containing the given text.
assert_clean_failure() {
    local prog=$1 text=$2
    [ -z "$output" ] || { echo "stdout not empty: $output"; return 1; }
    [ "${#stderr_lines[@]}" -eq 1 ] || { echo "expected one stderr line, got: $stderr"; return 1; }
    [[ "$stderr" == "$prog: "* ]] || { echo "stderr does not start with '$prog: ': $stderr"; return 1; }
    [[ "$stderr" == *"$text"* ]] || { echo "stderr lacks '$text': $stderr"; return 1; }
}

# Skip unless the cached models/images exist (fetched by tests/fetch-all.sh).
require_file() {
    [ -f "$1" ] || skip "missing $1 (run tests/fetch-all.sh)"
}
