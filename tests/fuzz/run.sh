#!/bin/sh
# Runs each libFuzzer target for a bounded time on a scratch copy of its seed corpus;
# fails if a target finds a crash, leak, hang or sanitizer report.
# usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -eu
build=$1 secs=$2
here=$(cd "$(dirname "$0")" && pwd)
for t in ir onnx nbg; do
    work=$build/fuzz-work-$t
    rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
    cp "$here/corpus_$t"/* "$work/corpus/"
    echo "fuzz_$t: ${secs}s" >&2
    "$build/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "$work/corpus" 2> "$work/log" || {
        tail -n 40 "$work/log" >&2
        echo "fuzz_$t: failed; the input is in $work/artifacts/" >&2
        exit 1
    }
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/log" | sed "s/^/fuzz_$t: /" >&2
done
