# shellcheck shell=bash disable=SC2154  # $work is set by the script that sources this file
# Sourced by the pipelines that end with one summary table (blazeface.sh, hybrid.sh): a row per run, the mean
# over the samples of the cosine against the golden tensors ($work/golden/iter_*_attach_*.npy), whole and per
# field (tsim --fields $FIELDS), and one free column. Rows accumulate in $work/summary.txt; nothing is printed
# until summary_print, so a failing run leaves no partial table.

# summary_begin: a new table
summary_begin() { : > "$work/summary.txt"; }

# summary_row LABEL DIR [NOTE]: DIR holds the run's outputs under the golden tensors' names (.npy)
summary_row() {
    local label=$1 dir=$2 note=${3:--} f
    for f in "$work"/golden/iter_*_attach_*.npy; do
        tsim --tsv ${FIELDS:+--fields "$FIELDS"} "$f" "$dir/$(basename "$f")" | tail -n +2
    done > "$work/summary.tsv"
    awk -F'\t' -v l="$label" -v note="$note" -v head="$work/summary.head" '
        !($3 in s) { name[++nf] = $3 }
        { s[$3] += $4; c[$3]++ }
        END { printf "%s", l; for (i = 1; i <= nf; i++) printf "\t%.6f", s[name[i]] / c[name[i]]
              printf "\t%s\n", note
              printf "%d", c[name[1]] > head      # the header, from the last row (all rows have the same)
              for (i = 1; i <= nf; i++) printf "\t%s", (name[i] == "all" ? "whole" : name[i]) > head }
    ' "$work/summary.tsv" >> "$work/summary.txt"
}

# summary_i16 FILE.quantize: "k/n", k of the n layers with weights (Conv, Gemm, MatMul: all the MACs) in int16
summary_i16() {
    awk '/:weight.:$/ { w = 1; n++; next } w && /qtype:/ { k += $2 == "i16"; w = 0 } END { printf "%d/%d", k, n }' "$1"
}

# summary_ort MODEL.onnx: onnxruntime-node (tests/ref/ort_run.js) on the golden run's input tensors, its output
# written under the golden output's name in $work/ort; prints that directory. One input and one output only.
summary_ort() {
    local model=$1 f k x
    local -a ins outs
    rm -rf "$work/ort"
    for f in "$work"/golden/iter_*_attach_*.npy; do
        k=${f##*/iter_}
        k=${k%%_*}
        ins=()
        for x in "$work"/golden/iter_"$k"_*.npy; do [ "$x" = "$f" ] || ins+=("$x"); done
        node "$(dirname "${BASH_SOURCE[0]}")/../tests/ref/ort_run.js" "$model" "$work/ort/$k" "${ins[@]}" >/dev/null
        outs=("$work/ort/$k"/*.npy)
        if [ ${#ins[@]} -ne 1 ] || [ ${#outs[@]} -ne 1 ]; then
            echo "summary_ort: '$model': the float row handles one input and one output" >&2
            return 1
        fi
        mv "${outs[0]}" "$work/ort/${f##*/}"
    done
    echo "$work/ort"
}

# summary_print NOTE-TITLE: the table, a header (the sample count, the fields, NOTE-TITLE) then the rows
summary_print() {
    { cat "$work/summary.head"; printf '\t%s\n' "$1"; cat "$work/summary.txt"; } |
        awk -F'\t' 'NR == 1 { printf "%-18s", "mean cos (" $1 ")"; for (i = 2; i < NF; i++) printf " %10s", $i
                              printf "  %s\n", $NF; next }
                    { printf "%-18s", $1; for (i = 2; i < NF; i++) printf " %10s", $i; printf "  %s\n", $NF }'
}
