#!/usr/bin/env bash
# The quantized flow of the vendor guide after the float one (float.sh WORKDIR first):
# calibrate on the dataset, build the table (per-channel int8 by default), run the integer
# simulation, compare its outputs with the golden ones.
# usage: int8.sh WORKDIR [QUANTIZER QTYPE [ALGORITHM]]
#        (default perchannel_symmetric_affine int8 normal); env FIELDS for tsim --fields,
#        BIAS_CORRECTION=1 for qtable --bias-correction on the dataset
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: int8.sh WORKDIR [QUANTIZER QTYPE [ALGORITHM]]" >&2; exit 2; }
work=$1 q=${2:-perchannel_symmetric_affine} t=${3:-int8} algo=${4:-normal}
ir=$(ls "$work"/*.ir | grep -v -e '\.calib\.ir$' -e '\.q\.' | head -n 1)
name=$(basename "$ir" .ir)
meta=$work/$name-inputmeta.yml
n=$(grep -c . "$work/dataset.txt")
# 1. calibration statistics (pegasus quantize's float passes), once
[ -f "$work/$name.calib.ir" ] || calib -q --input-meta "$meta" < "$ir" > "$work/$name.calib.ir"
# 2. the quantization table, in the stream and as Acuity's .quantize
bc=()
[ -n "${BIAS_CORRECTION:-}" ] && bc=(--bias-correction --input-meta "$meta")
qtable --quantizer "$q" --qtype "$t" --algorithm "$algo" "${bc[@]}" -q "$work/$name.$q-$t.quantize" \
    < "$work/$name.calib.ir" > "$work/$name.q.$q-$t.ir"
# 3. the integer simulation (pegasus inference --dtype quantized)
rm -rf "$work/$q-$t"
qinfer -q --dtype quantized --input-meta "$meta" --iterations "$n" --format both \
    --output-dir "$work/$q-$t" < "$work/$name.q.$q-$t.ir"
# 4. cosine against the golden tensors (compute_tensor_similarity), per field if asked
for f in "$work"/golden/iter_*_attach_*.npy; do
    tsim ${FIELDS:+--fields "$FIELDS"} "$f" "$work/$q-$t/$(basename "$f")"
done
