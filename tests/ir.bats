#!/usr/bin/env bats
# The IR stream reader: every bad-input class of qpipe-ir(5) is rejected by a reading
# filter with one line, exit 1 and nothing on stdout; a dead upstream fails the pipeline.
load helpers

setup_file() {
    export BADIR="$BATS_FILE_TMPDIR/ir"
    mkdir -p "$BADIR"
    "$QP_BUILD/tests/mkbadir" "$BADIR"
}

reject() {   # reject FILE TEXT
    run -1 --separate-stderr qinfer --summary < "$BADIR/$1.ir"
    assert_clean_failure qinfer "$2"
}

@test "a well-formed stream reads" {
    run -0 --separate-stderr qinfer --summary < "$BADIR/good.ir"
    [[ "$output" == *"Add_add0_1"* ]]
}

@test "empty input" { reject empty "empty IR stream"; }
@test "not a zstd frame" { reject not_zstd "corrupt IR stream"; }
@test "bad magic" { reject bad_magic "bad magic"; }
@test "another major version" { reject bad_version "IR format version 7"; }
@test "checksum mismatch (flipped byte)" { reject flipped "IR stream"; }
@test "truncated mid-stream" { reject truncated "truncated IR stream"; }
@test "cut at a record boundary: no end record" { reject no_end "no end record"; }
@test "end record counts differ" { reject bad_counts "counts do not match"; }
@test "end record hash differs" { reject bad_hash "hash does not match"; }
@test "bytes after the end" { reject trailing "after the end"; }
@test "a second frame after the end" { reject two_frames "after the end"; }
@test "a record after the end record" { reject after_end "after the end record"; }
@test "record length over the cap" { reject big_len "over the limit"; }
@test "unknown record type" { reject unknown_record "unknown record type"; }
@test "missing header" { reject no_header "missing header"; }
@test "dangling tensor reference" { reject dangling "does not exist"; }
@test "forward reference" { reject forward_ref "used before it is produced"; }
@test "duplicate ids" { reject dup_id "not dense"; }
@test "unknown op" { reject unknown_op "unsupported op 'FooBar'"; }
@test "dims product overflows" { reject overflow "overflow"; }
@test "constant data size differs from its shape" { reject const_len "its shape needs"; }

@test "a killed upstream makes the downstream filter fail" {
    local half=$(( $(stat -c %s "$BADIR/good.ir") / 2 ))
    run -1 --separate-stderr bash -c "set -o pipefail; ( head -c $half '$BADIR/good.ir'; kill -9 \$BASHPID ) | qinfer --summary"
    assert_clean_failure qinfer "truncated IR stream"
}

@test "refuses to read a stream from a terminal-less empty pipe" {
    run -1 --separate-stderr bash -c "true | qinfer --summary"
    assert_clean_failure qinfer "empty IR stream"
}
