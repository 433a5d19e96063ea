#!/usr/bin/env bash
# Hybrid quantization of a trained detector with its decoding in the graph: BlazeFace front with MediaPipe's
# decoding (tests/models/get_blazeface_decode.sh), output [1,896,17] = 4 box, 12 keypoints, 1 score. Calibrates
# on the 16 face images of the odd lines of the list, evaluates on the 16 other faces of its even lines (held
# out), and prints one table: mean cosine against the float golden output over the held-out samples, whole and
# per field; the last row is qmix --auto's choice, searched on the calibration images only.
# usage: blazeface.sh WORKDIR [MODEL.onnx [DATASET.txt]]   (WORKDIR is emptied first)
#        (defaults tests/cache/models/blazeface_decode.onnx, tests/cache/images/faces.txt)
set -euo pipefail
shopt -s inherit_errexit   # a failing producer inside $(...) stops the script
[ $# -ge 1 ] || { echo "usage: blazeface.sh WORKDIR [MODEL.onnx [DATASET.txt]]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
work=$1 model=${2:-$root/tests/cache/models/blazeface_decode.onnx} list=${3:-$root/tests/cache/images/faces.txt}
tail=decode_raw   # the first decoding layer: everything below it is the decoding tail
export FIELDS=boxes:4,keypoints:12,scores:1    # = tsim --split-last 4,12,1, named
# shellcheck source=pipelines/summary.bash
. "$root/pipelines/summary.bash"
[ -f "$model" ] || { echo "blazeface.sh: missing '$model' (tests/fetch-all.sh)" >&2; exit 1; }
[ "$(grep -c . "$list")" -ge 32 ] || { echo "blazeface.sh: '$list' needs 32 images (16 + 16)" >&2; exit 1; }
# the list's images, found next to it (its paths may name another checkout)
imgs() { sed -n "$1" "$list" | while read -r f; do echo "$(dirname "$list")/$(basename "$f")"; done; }
rm -rf "$work"
# 1. float golden on the evaluation images, MediaPipe's [-1, 1] preprocessing
mapfile -t evals < <(imgs 2~2p)
MEAN="127.5 127.5 127.5" SCALE=0.0078431373 "$root/pipelines/float.sh" "$model" "$work" "${evals[@]}" >/dev/null
name=$(basename "$model" .onnx)
meta=$work/$name-inputmeta.yml n=${#evals[@]}
# 2. calibration on 16 other images
imgs 1~2p > "$work/calib.txt"
sed 's/^\( *- path:\) dataset.txt$/\1 calib.txt/' "$meta" > "$work/calib-inputmeta.yml"
calib -q --input-meta "$work/calib-inputmeta.yml" < "$work/$name.ir" > "$work/$name.calib.ir"
# Producers of a row, each printing a path: table Q T OUT (qtable on the statistics), mix OUT QMIX-OPTIONS...
# (qmix on the int8 PCQ table), summary_ort MODEL (onnxruntime-node's outputs on the golden's input tensors)
table() { qtable --quantizer "$1" --qtype "$2" -q "$work/$3.quantize" < "$work/$name.calib.ir" > "$work/$3.ir"
          echo "$work/$3.ir"; }
mix() { local out=$work/$1; shift; qmix "$@" -o "$out.quantize" < "$work/pcq.ir" > "$out.ir"; echo "$out.ir"; }

# row LABEL PRODUCER...: runs the producer, then the integer simulation of the stream it made (or takes the
# outputs in the directory it names); its summary row, noting how many of the layers with weights (Conv, Gemm,
# MatMul: all the MACs) are int16
row() {
    local label=$1 out i16=- ir
    shift
    ir=$("$@")
    out=$ir
    if [ -f "$ir" ]; then
        i16=$(summary_i16 "${ir%.ir}.quantize")
        out=$work/run.$(basename "$ir" .ir)
        qinfer -q --dtype quantized --input-meta "$meta" --iterations "$n" --format npy --output-dir "$out" < "$ir"
    fi
    summary_row "$label" "$out" "$i16"
}

summary_begin
table perchannel_symmetric_affine int8 pcq >/dev/null
row "float (ort)"      summary_ort "$model"
row "uint8"            table asymmetric_affine uint8 u8
row "int8 PCQ"         table perchannel_symmetric_affine int8 pcq
row "int16 DFP"        table dynamic_fixed_point int16 i16
row "hybrid tail i16"  mix tail-i16 --from "$tail" --to dynamic_fixed_point-i16
row "float32 tail"     mix tail-f32 --from "$tail" --to float32
row "tail+score heads" mix heads-i16 --from "$tail" --to dynamic_fixed_point-i16 \
    --layer '*conv2d_1[78]/*=dynamic_fixed_point-i16' --layer '*classificators*=dynamic_fixed_point-i16'
# qmix --auto searches on the 16 calibration images (the table's figures are on the held-out ones): "auto" as
# issue #4 words it (layers ranked by their single-layer error), "auto rank target" ranks them by what each costs
# the scores field itself and aims a little higher; their reports (MAC share, layers, runs) in
# WORKDIR/auto.report and WORKDIR/auto-target.report
row "auto"             mix auto --auto --input-meta "$work/calib-inputmeta.yml" --iterations 16 \
    --target-cos 0.99 --target-field scores=16:17 --report "$work/auto.report"
row "auto rank target" mix auto-target --auto --rank target --input-meta "$work/calib-inputmeta.yml" \
    --iterations 16 --target-cos 0.992 --target-field scores=16:17 --report "$work/auto-target.report"
summary_print "i16 MAC layers"
