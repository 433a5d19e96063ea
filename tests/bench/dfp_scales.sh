#!/usr/bin/env bash
# Why int16 DFP loses to symmetric int16 on PP-OCRv4 det (README, quantization): the symmetric_affine int16
# table of tests/bench/quant_table.sh, its scales edited by tests/bench/scale_edit.py (rounded up to a power of
# two, the step DFP's fl gives, or multiplied by k) on chosen keys, read back with qtable --read and simulated
# on the 8 held-out pages; one line per variant: mean output cosine against float.
# usage: tests/bench/dfp_scales.sh [WORKDIR]   (default a temporary directory)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="${QP_BUILD:-$root/build}/bin:$PATH"
work=${1:-$(mktemp -d)}
[ $# -ge 1 ] || trap 'rm -rf "$work"' EXIT
QT_KEEP=$work QT_SCHEMES="symmetric_affine:int16 dynamic_fixed_point:int16" QT_ALGOS=normal \
    bash "$root/tests/bench/quant_table.sh" ppocr_det
d=$work/ppocr_det
qtable --quantizer symmetric_affine --qtype int16 -q "$d/sym.quantize" < "$d/c.ir" > /dev/null
variant() {   # LABEL SCALE_EDIT_OPTIONS...
    local label=$1 n
    shift
    n=$(/usr/bin/python3 "$root/tests/bench/scale_edit.py" "$@" "$d/sym.quantize" "$d/v.quantize")
    qtable --read "$d/v.quantize" < "$d/c.ir" > "$d/v.ir"
    rm -rf "$d/v"
    qinfer -q --dtype quantized --input-meta "$d/meta_eval.yml" --iterations 8 --format npy --output-dir "$d/v" \
        < "$d/v.ir"
    printf '%-44s %4d scales  %s\n' "$label" "$n" "$(tsim --tsv "$d/float" "$d/v" | awk -F'\t' '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "cos") c = i; next }
        /attach_/ { s += $c; n++ } END { printf "%.6f", s / n }')"
}
variant "symmetric int16, as written"              --times 1
variant "every scale rounded up to 2^k (= DFP)"    --pow2
variant "the same, activations < 2^k * 1.1 to 2^k" --pow2 --clip-within 0.1
variant "weights only to 2^k"                      --pow2 --keys ':weight$'
variant "Conv/ConvTranspose outputs only to 2^k"   --pow2 --keys '^@(Conv|ConvTranspose)_.*:out0$'
variant "Mul/Div/Add outputs only to 2^k"          --pow2 --keys '^@(Mul|Div|Add)_.*:out0$'
variant "Add outputs only, x2"                     --times 2 --keys '^@Add_.*:out0$'
variant "Add_p2o.Add.14_292 only, x2"              --times 2 --keys '^@Add_p2o\.Add\.14_292:out0$'
for k in 1.25 1.5 1.6 2 3; do
    variant "every activation scale x$k"           --times "$k" --keys ':out0$'
done
