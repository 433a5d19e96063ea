#!/usr/bin/env bash
# The hybrid step of the vendor guide, after int8.sh: apply an edited
# customized_quantize_layers map (e.g. the guide's list, yolov5s-hybrid.quantize here) to
# the int8 table, rerun the integer simulation, compare with the golden tensors.
# usage: hybrid.sh WORKDIR LAYERS.quantize [QUANTIZER QTYPE]   env FIELDS for tsim --fields
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: hybrid.sh WORKDIR LAYERS.quantize [QUANTIZER QTYPE]" >&2; exit 2; }
work=$1 layers=$2 q=${3:-perchannel_symmetric_affine} t=${4:-int8}
qir=$(ls "$work"/*.q."$q-$t".ir)
name=$(basename "$qir" ".q.$q-$t.ir")
meta=$work/$name-inputmeta.yml
n=$(grep -c . "$work/dataset.txt")
# 1. quantize --hybrid: switch the listed layers, re-derive their parameters, converters
qmix -q "$layers" -o "$work/$name.hybrid.quantize" < "$qir" > "$work/$name.hybrid.ir"
# 2. the integer simulation of the hybrid table
rm -rf "$work/hybrid"
qinfer -q --dtype quantized --input-meta "$meta" --iterations "$n" --format both \
    --output-dir "$work/hybrid" < "$work/$name.hybrid.ir"
# 3. cosine against the golden tensors
for f in "$work"/golden/iter_*_attach_*.npy; do
    tsim ${FIELDS:+--fields "$FIELDS"} "$f" "$work/hybrid/$(basename "$f")"
done
