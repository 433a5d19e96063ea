#!/usr/bin/env bash
# The float ("golden") flow of the vendor guide, step by step: import the ONNX model and
# write its input meta, set the preprocessing, run float inference on the dataset, keep
# the output tensors as golden data.
# usage: float.sh MODEL.onnx WORKDIR IMAGE...     env: MEAN (default "0 0 0"),
#        SCALE (default 0.0039215686 = 1/255, yolov5s), INPUT_SIZE (dynamic models)
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: float.sh MODEL.onnx WORKDIR IMAGE..." >&2; exit 2; }
model=$1 work=$2
shift 2
mkdir -p "$work"
name=$(basename "$model" .onnx)
meta=$work/$name-inputmeta.yml

# 1. import (pegasus import onnx + generate inputmeta)
onnx2ir ${INPUT_SIZE:+--input-size "$INPUT_SIZE"} --inputmeta "$meta" --dataset dataset.txt \
    "$model" > "$work/$name.ir"
# 2. the edit the guide does by hand: mean and scale of the training preprocessing
mean=$(echo "${MEAN:-0 0 0}" | sed 's/ \+/, /g')
sed -i -e "s/^\( *scale:\).*/\1 ${SCALE:-0.0039215686}/" \
       -e "/^ *mean:/,/^ *scale:/{/^ *- /d}" -e "s/^\( *mean:\).*/\1 [$mean]/" "$meta"
# 3. the dataset: one sample per line
for img in "$@"; do realpath "$img"; done > "$work/dataset.txt"
# 4. float inference: the golden tensors
qinfer --input-meta "$meta" --iterations $# --output-dir "$work/golden" --format both \
    < "$work/$name.ir"
ls "$work"/golden/iter_0_attach_*.tensor
