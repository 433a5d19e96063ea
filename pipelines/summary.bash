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

# summary_print NOTE-TITLE: the table, a header (the sample count, the fields, NOTE-TITLE) then the rows
summary_print() {
    { cat "$work/summary.head"; printf '\t%s\n' "$1"; cat "$work/summary.txt"; } |
        awk -F'\t' 'NR == 1 { printf "%-18s", "mean cos (" $1 ")"; for (i = 2; i < NF; i++) printf " %10s", $i
                              printf "  %s\n", $NF; next }
                    { printf "%-18s", $1; for (i = 2; i < NF; i++) printf " %10s", $i; printf "  %s\n", $NF }'
}
