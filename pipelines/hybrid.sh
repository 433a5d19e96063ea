#!/usr/bin/env bash
# The hybrid step of the vendor guide, after int8.sh: apply an edited
# customized_quantize_layers map (e.g. the guide's list, yolov5s-hybrid.quantize here) to
# the int8 table, rerun the integer simulation, compare with the golden tensors.
# Ends with one table, the mean over the samples of the cosine against golden, whole and per field: float
# (against onnxruntime-node on the same input tensors, when MODEL names the ONNX model), the table the list is
# applied to, the hybrid, and the same list in float32 (the ceiling of any change of only these layers).
# With AUTO (qmix --auto's target options, e.g. AUTO="--target-field 4:5 --target-cos 0.7"), a last row: the
# layers qmix --auto chooses on the same samples (its report in WORKDIR/NAME.auto.report).
# usage: hybrid.sh WORKDIR LAYERS.quantize [QUANTIZER QTYPE]   env FIELDS for tsim --fields, MODEL, AUTO
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
# 4. the summary table
# shellcheck source=pipelines/summary.bash
. "$(dirname "$0")/summary.bash"
summary_begin
if [ -n "${MODEL:-}" ]; then
    ort=$(summary_ort "$MODEL")
    summary_row "float (ort)" "$ort"
fi
base=$work/$q-$t                     # int8.sh's run, else run it now
[ -d "$base" ] || qinfer -q --dtype quantized --input-meta "$meta" --iterations "$n" --format npy \
    --output-dir "$base" < "$qir"
label=$q-$t
[ "$label" != perchannel_symmetric_affine-int8 ] || label="int8 PCQ"
i16=-
[ ! -f "$work/$name.$q-$t.quantize" ] || i16=$(summary_i16 "$work/$name.$q-$t.quantize")
summary_row "$label" "$base" "$i16"
summary_row "hybrid (list)" "$work/hybrid" "$(summary_i16 "$work/$name.hybrid.quantize")"
# the same list in float32: every value of its customized_quantize_layers block made float32
f32=$work/$name.list-f32
awk '/^customized_quantize_layers:/ { b = 1; print; next }
     /^[^ #]/ { b = 0 }
     b && /^  [^ #]/ { sub(/:[ \t]+[^ \t#]+/, ": float32") }
     { print }' "$layers" > "$f32.layers.quantize"
qmix -q "$f32.layers.quantize" -o "$f32.quantize" < "$qir" > "$f32.ir"
rm -rf "$work/list-f32"
qinfer -q --dtype quantized --input-meta "$meta" --iterations "$n" --format npy --output-dir "$work/list-f32" \
    < "$f32.ir"
summary_row "list in float32" "$work/list-f32" "$(summary_i16 "$f32.quantize")"
# qmix --auto on the same table, searched on the same samples, when AUTO gives its target options
if [ -n "${AUTO:-}" ]; then
    # shellcheck disable=SC2086  # AUTO is a list of options
    qmix --auto --input-meta "$meta" --iterations "$n" $AUTO -o "$work/$name.auto.quantize" \
        --report "$work/$name.auto.report" < "$qir" > "$work/$name.auto.ir"
    rm -rf "$work/auto"
    qinfer -q --dtype quantized --input-meta "$meta" --iterations "$n" --format npy --output-dir "$work/auto" \
        < "$work/$name.auto.ir"
    summary_row "auto" "$work/auto" "$(summary_i16 "$work/$name.auto.quantize")"
fi
echo
summary_print "i16 MAC layers"
