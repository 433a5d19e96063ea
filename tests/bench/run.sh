#!/bin/sh
# make bench: qinfer versus onnxruntime-node on the same input tensors, in this one script,
# so the ratios compare runs made under the same machine load.  Each engine's figure is
# the lowest of ROUNDS medians of RUNS runs (the two engines alternate), per thread count.
# usage: tests/bench/run.sh [MODEL_NAME...]   (default: all)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${QP_BUILD:-$root/build}
cache=$root/tests/cache
RUNS=${RUNS:-11}
ROUNDS=${ROUNDS:-3}
sh "$root/tests/fetch-all.sh" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name  file  input-size (empty: static)
models="yolov5s yolov5s.onnx -
ppocr_det ch_PP-OCRv4_det_infer.onnx 1,3,640,640
ppocr_cls ch_ppocr_mobile_v2.0_cls_infer.onnx 1,3,48,192
blazeface_front face_detection_front_128x128_barracuda.onnx -
mlsd_tiny_320 mlsd_320x320_tiny.onnx -"

median_of() {   # extracts median_ms=X from stdin
    sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' | head -n 1
}

printf '%-16s %3s %10s %10s %7s\n' model thr ort_ms qpipe_ms ratio
echo "$models" | while read -r name file size; do
    [ $# -gt 0 ] && ! echo " $* " | grep -q " $name " && continue
    m=$cache/models/$file
    d=$work/$name
    mkdir -p "$d"
    if [ "$size" = - ]; then
        "$build/bin/onnx2ir" "$m" > "$d/m.ir"
        node "$root/tests/ref/ort_run.js" "$m" "$d" --random-input 1 > /dev/null
    else
        "$build/bin/onnx2ir" --input-size "$size" "$m" > "$d/m.ir"
        node "$root/tests/ref/ort_run.js" "$m" "$d" --random-input 1 --shape "$size" > /dev/null
    fi
    for t in 1 2; do
        best_o=; best_q=
        r=0
        while [ $r -lt "$ROUNDS" ]; do
            o=$(node "$root/tests/ref/ort_run.js" "$m" "$d/ort" --threads $t --runs "$RUNS" --bench \
                  "$d/input_0.npy" | median_of)
            q=$(QP_THREADS=$t "$build/bin/qinfer" --input "$d/input_0.npy" --repeat "$RUNS" -q \
                  --output-dir "$d/qp" < "$d/m.ir" 2>&1 | median_of)
            best_o=$(echo "$o $best_o" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            best_q=$(echo "$q $best_q" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            r=$((r + 1))
        done
        printf '%-16s %3s %10.2f %10.2f %7.2f\n' "$name" $t "$best_o" "$best_q" \
            "$(echo "$best_q $best_o" | awk '{ print $1 / $2 }')"
    done
done
