#!/bin/sh
# make bench, calibration: calib's time per sample (decode and preprocess the image, run
# every node unfused, gather the statistics) as a ratio to one float qinfer run (fused, the
# input already loaded), per thread count, plus the size of the calib section in the stream.
# Each figure is the lowest of ROUNDS runs.  usage: tests/bench/calib.sh [MODEL_NAME...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${QP_BUILD:-$root/build}
cache=$root/tests/cache
ROUNDS=${ROUNDS:-3}
SAMPLES=${SAMPLES:-16}
RUNS=${RUNS:-11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name  file  scale (the model's input normalisation)
models="yolov5s yolov5s.onnx 0.0039215686
blazeface_front face_detection_front_128x128_barracuda.onnx 0.0078125"

images=$cache/images/dataset.txt
[ -f "$images" ] || images=$work/builtin.txt
[ -f "$images" ] || ls "$root"/tests/data/images/*.jpg > "$images"

printf '%-16s %3s %8s %10s %10s %7s %10s\n' model thr samples qinfer_ms calib_ms ratio section_kb
echo "$models" | while read -r name file scale; do
    [ $# -gt 0 ] && ! echo " $* " | grep -q " $name " && continue
    d=$work/$name
    mkdir -p "$d"
    head -n "$SAMPLES" "$images" > "$d/dataset.txt"
    "$build/bin/onnx2ir" --inputmeta "$d/meta.yml" --dataset dataset.txt "$cache/models/$file" > "$d/m.ir"
    sed -i "s/^\( *scale:\).*/\1 $scale/" "$d/meta.yml"
    n=$(wc -l < "$d/dataset.txt")
    for t in 1 2; do
        best_q= best_c=
        r=0
        while [ "$r" -lt "$ROUNDS" ]; do
            q=$(QP_THREADS=$t "$build/bin/qinfer" --input-meta "$d/meta.yml" --repeat "$RUNS" -q \
                  --output-dir "$d/q" < "$d/m.ir" 2>&1 | sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p')
            c=$(QP_THREADS=$t "$build/bin/calib" --input-meta "$d/meta.yml" -v < "$d/m.ir" 2>&1 >"$d/c.ir" |
                  sed -n 's/.*: \([0-9.]*\) ms\/sample.*/\1/p')
            best_q=$(echo "$q $best_q" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            best_c=$(echo "$c $best_c" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            r=$((r + 1))
        done
        kb=$(( ($(wc -c < "$d/c.ir") - $(wc -c < "$d/m.ir")) / 1024 ))
        printf '%-16s %3s %8s %10.2f %10.2f %7.2f %10s\n' "$name" "$t" "$n" "$best_q" "$best_c" \
            "$(echo "$best_c $best_q" | awk '{ print $1 / $2 }')" "$kb"
    done
done
