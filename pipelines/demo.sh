#!/usr/bin/env bash
# The quick start's main job on a fresh Debian machine: install what is missing, build,
# make the built-in yolov5s model, run the float flow on the built-in images and compare
# the golden output with onnxruntime's on the same input tensor, then the quantized flow
# (calib, qtable, integer simulation) in int16 DFP and per-channel int8, and the hybrid
# step (qmix with the vendor guide's layer list).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/install-deps.sh"
make -C "$root" -j2 >/dev/null
export PATH="$root/build/bin:$PATH"
model=$(sh "$root/tests/models/get_yolov5s.sh" "$root/tests/cache/models/yolov5s.onnx")
sh "$root/tests/ref/install.sh" >/dev/null
work=${1:-$root/out/demo}
rm -rf "$work"
"$root/pipelines/float.sh" "$model" "$work" "$root/tests/data/images/dog.jpg" \
    "$root"/tests/data/images/{astronaut,chelsea,coffee}.jpg >/dev/null
input=$(ls "$work"/golden/iter_0_images_*_out0_1_3_640_640.npy)
node "$root/tests/ref/ort_run.js" "$model" "$work/ort" "$input" >/dev/null
echo "golden output (qpipe) against onnxruntime on the same input, fields boxes/obj/cls:"
tsim --fields boxes:4,obj:1,cls:80 "$work/ort/output.npy" \
    "$work/golden/iter_0_attach_Concat_Concat_303_out0_0_out0_1_25200_85.npy"
# the quantized flow on the 4 built-in images: per-channel int8, then int16 DFP
for qt in "dynamic_fixed_point int16" "perchannel_symmetric_affine int8"; do
    echo "integer simulation ($qt) against the golden output, sample 0:"
    out=$(FIELDS=boxes:4,obj:1,cls:80 "$root/pipelines/int8.sh" "$work" $qt)
    echo "$out" | head -n 4
done
# the hybrid step: the vendor guide's list of Detect-tail layers in int16 DFP over int8 PCQ
echo "hybrid (int8 PCQ + the guide's 60 layers in int16 DFP) against the golden output, sample 0:"
out=$(MODEL=$model FIELDS=boxes:4,obj:1,cls:80 "$root/pipelines/hybrid.sh" "$work" \
    "$root/pipelines/yolov5s-hybrid.quantize")
echo "$out" | head -n 4
echo "summary over the 4 samples (int8 PCQ, the guide's list in int16 DFP, the same list in float32):"
echo "$out" | sed -n '/^mean cos/,$p'
