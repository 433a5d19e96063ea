#!/bin/sh
# Smoke check of the test material: gets every model, runs each in onnxruntime on a seeded random input
# (ort_run.js) and prints its outputs and 1-thread latency. usage: smoke.sh [RUNS]  (default 10)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
models=$(cd "$here/../cache" && pwd)/models
runs=${1:-10}
sh "$here/install.sh"
sh "$here/../models/fetch.sh"
sh "$here/../models/get_yolov5s.sh" >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
while read -r model shape; do
    log=$(node "$here/ort_run.js" "$models/$model" "$out/${model%.onnx}" --random-input 1 \
          ${shape:+--shape $shape} --threads 1 --bench --runs "$runs" --verbose 2>&1 >"$out/t")
    outs=$(echo "$log" | awk '{printf "%s%s%s", sep, $1, $2; sep=" "}')
    printf '%-46s %-20s %s  %s\n' "$model" "${shape:-static}" "$(cat "$out/t")" "$outs"
done <<'LIST'
yolov5s.onnx
ch_PP-OCRv4_det_infer.onnx 1,3,640,640
ch_ppocr_mobile_v2.0_cls_infer.onnx 1,3,48,192
face_detection_front_128x128_barracuda.onnx
face_detection_back_256x256_barracuda.onnx
mlsd_320x320_tiny.onnx
mlsd_512x512_tiny.onnx
LIST
