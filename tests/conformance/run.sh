#!/usr/bin/env bash
# The ONNX backend node tests (Debian's libonnx-testdata) of the ops in ops.txt, through the
# real filters: onnx2ir model.onnx | qinfer --input input_0.pb ... --format npy, then every
# output against output_N.pb with tsim --allclose 1e-3,1e-7 (onnx's own runner tolerance).
# Usage: run.sh [-j JOBS] [-k DIR] [PATTERN]; see README.md.  Exit 1 if any test failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export QP_BUILD=${QP_BUILD:-$root/build}
export QP_ONNX_NODE_TESTS=${QP_ONNX_NODE_TESTS:-/usr/include/onnx/backend/test/data/node}
export QP_THREADS=1 LC_ALL=C
TOL=1e-3,1e-7
LIMIT=120 # seconds per filter run: a hang is a failure, not a stuck suite

usage() {
    echo "usage: run.sh [-h] [-j JOBS] [-k DIR] [PATTERN]" >&2
    exit 2
}

# One line of stderr, made short: no program or model path prefix, no op list.
tidy() {
    head -n 1 "$1" | sed -E "s/^[a-z0-9_]+: //; s/^'[^']*': //; s/ \(supported: [^)]*\)//" | cut -c1-240
}

# The reason to skip a test, from onnx2ir's or qinfer's error, when the model lies outside
# what qpipe supports (element types, sequences, training, control flow, old opsets);
# empty for any other error, which is a failure.
skip_reason() {
    local m=$1
    case $m in
    *"has element type "*", not supported"*) echo "${m#*has element type }" | sed -E 's/ \(.*//; s/^/type /' ;;
    *"is not a tensor (sequence, map, optional"*) echo "sequence or optional input" ;;
    *"; only float32 is supported"*) echo "$m" | sed -E 's/.* is ([a-z0-9]+); only float32.*/\1 data (float32 only)/' ;;
    *"cast from "*" to type 8 is not supported"*) echo "cast to STRING" ;;
    *"opset "*" is not supported (7 to 17)"*) echo "$m" | sed -E 's/.*opset ([0-9]+) is not.*/model opset \1 (onnx2ir imports 7 to 17)/' ;;
    *"imports no opset of the default ONNX domain"*) echo "training domain only" ;;
    *"training_mode"* | *"training mode"*) echo "training mode" ;;
    *"unsupported op '"*) echo "$m" | sed -E "s/.*unsupported op '([^']*)'.*/uses unsupported op \1/" ;;
    *"control-flow ops are not supported"*) echo "control flow" ;;
    *"the Indices output is not supported"*) echo "int64 Indices output" ;;
    *"bfloat16 has no .npy type"*) echo "BFLOAT16 output (no .npy type)" ;;
    esac
}

# The node an import error says needs a constant input (shape, axes, pads, scales...), if any.
const_node() {
    case $1 in
    *"must be constant"* | *"must be a constant"*) echo "$1" | sed -nE "s/^node '([^']+)' \(.*/\1/p" ;;
    esac
}

# Runs one test; writes "status<TAB>op<TAB>test<TAB>reason" to $work/res/<test>.
one() {
    local work=$1 op=$2 t=$3
    local dir=$QP_ONNX_NODE_TESTS/$t w=$work/tmp/$t
    local bin=$QP_BUILD/bin note="" raised=""
    mkdir -p "$w"
    result() {
        printf '%s\t%s\t%s\t%s\n' "$1" "$op" "$t" "$2" >"$work/res/$t"
        rm -rf "$w"
        exit 0
    }
    local ds found=0
    for ds in "$dir"/test_data_set_*; do
        [ -d "$ds" ] || continue
        found=1
        local d=$w/${ds##*/} src=$dir/model.onnx model=$dir/model.onnx msg name node reason old
        local -a bind=() names=()
        mkdir -p "$d/out"
        "$QP_BUILD/tests/onnx_bind" --inputs "$model" >"$d/inputs" 2>"$d/bind.err" ||
            result fail "cannot list the inputs: $(tidy "$d/bind.err")"
        mapfile -t names <"$d/inputs"
        # import; when a node needs an input known at import (shape, axes, pads, scales...),
        # its parameter inputs (slots 1.., else slot 0) are bound to their values from this
        # data set and the import retried
        local rc=0
        while :; do
            timeout $LIMIT "$bin/onnx2ir" "$model" >"$d/m.ir" 2>"$d/import.err" && break
            rc=$?
            msg=$(tidy "$d/import.err")
            node=$(const_node "$msg")
            local -a add=()
            if [ -n "$node" ]; then
                "$QP_BUILD/tests/onnx_bind" --feeds "$src" "$node" >"$d/feeds" 2>"$d/bind.err" ||
                    result fail "cannot list the inputs of '$node': $(tidy "$d/bind.err")"
                local slot want
                for want in params data; do
                    while IFS=$'\t' read -r slot name; do
                        [ "$want" = params ] && [ "$slot" -eq 0 ] && continue
                        [ "$want" = data ] && [ "$slot" -ne 0 ] && continue
                        [[ " ${bind[*]-} " == *" $name="* ]] && continue
                        local k idx=-1
                        for k in "${!names[@]}"; do [ "${names[$k]}" = "$name" ] && idx=$k; done
                        [ "$idx" -ge 0 ] && [ -f "$ds/input_$idx.pb" ] && add+=("$name=$ds/input_$idx.pb")
                    done <"$d/feeds"
                    [ ${#add[@]} -eq 0 ] || break
                done
            fi
            if [ ${#add[@]} -gt 0 ]; then
                bind+=("${add[@]}")
                "$QP_BUILD/tests/onnx_bind" "$src" "${bind[@]}" >"$d/bound.onnx" 2>"$d/bind.err" ||
                    result fail "cannot bind ${add[*]%%=*}: $(tidy "$d/bind.err")"
                model=$d/bound.onnx
                continue
            fi
            # a model stored at an opset below 7 is raised to 7 when no op changes version
            old=$(echo "$msg" | sed -nE 's/^opset ([0-6]) is not supported \(7 to 17\)$/\1/p')
            if [ -n "$old" ] && [ "$src" = "$dir/model.onnx" ]; then
                [ "$QP_CONF_PYONNX" = 1 ] || result skip "$(skip_reason "$msg"); raising it needs /usr/bin/python3 with onnx"
                if /usr/bin/python3 "$here/raise_opset.py" 7 "$src" "$d/raised.onnx" 2>"$d/raise.err"; then
                    src=$d/raised.onnx model=$src
                    raised="opset $old raised to 7"
                    continue
                fi
                result skip "$(skip_reason "$msg"); not raised: $(tidy "$d/raise.err")"
            fi
            reason=$(skip_reason "$msg")
            [ -n "$reason" ] && result skip "$reason"
            result fail "onnx2ir: ${msg:-exit status $rc}"
        done
        [ ${#bind[@]} -eq 0 ] || note="bound at import: $(printf '%s\n' "${bind[@]}" | sed 's/=.*//' | paste -sd, -)"
        [ -z "$raised" ] || note="$raised${note:+; $note}"
        [ -z "$note" ] || note="($note)"
        # the runtime inputs, in graph order, skipping the bound ones
        local -a args=()
        for k in "${!names[@]}"; do
            [[ " ${bind[*]-} " == *" ${names[$k]}="* ]] && continue
            [ -f "$ds/input_$k.pb" ] || result fail "no input_$k.pb for input '${names[$k]}'"
            args+=(--input "$ds/input_$k.pb")
        done
        rc=0
        timeout $LIMIT "$bin/qinfer" --quiet --format npy --output-dir "$d/out" "${args[@]}" \
            <"$d/m.ir" >/dev/null 2>"$d/run.err" || rc=$?
        if [ $rc -ne 0 ]; then
            msg=$(tidy "$d/run.err")
            reason=$(skip_reason "$msg")
            [ -n "$reason" ] && result skip "$reason"
            result fail "qinfer: ${msg:-exit status $rc}"
        fi
        "$bin/qinfer" --summary <"$d/m.ir" >"$d/summary" 2>"$d/run.err" || result fail "qinfer --summary: $(tidy "$d/run.err")"
        # outputs in graph order, named after the output layer key and shape
        local -a outs=()
        local key kind dims
        while IFS=$'\t' read -r key kind _ dims; do
            [ "$kind" = output ] || continue
            [ "$dims" = scalar ] && dims="" || dims=_${dims//x/_}
            outs+=("$d/out/iter_0_${key//\//_}_out0$dims.npy")
        done <"$d/summary"
        local n_exp=0
        while [ -f "$ds/output_$n_exp.pb" ]; do n_exp=$((n_exp + 1)); done
        [ ${#outs[@]} -eq $n_exp ] || result fail "the model has ${#outs[@]} outputs, the test $n_exp"
        for k in "${!outs[@]}"; do
            [ -f "${outs[$k]}" ] || result fail "qinfer wrote no ${outs[$k]##*/}"
            "$bin/tsim" --allclose "$TOL" "$ds/output_$k.pb" "${outs[$k]}" >/dev/null 2>"$d/tsim.err" ||
                result fail "output $k: $(tidy "$d/tsim.err")"
        done
    done
    [ $found -eq 1 ] || result fail "no test_data_set_*"
    result pass "$note"
}

if [ "${1-}" = --one ]; then
    one "$2" "$3" "$4"
fi

keep=""
while getopts hj:k: o; do
    case $o in
    h)
        sed -n '2,5p' "$here/run.sh" | sed 's/^# \{0,1\}//'
        echo "  -j JOBS   tests run in parallel (default: the number of CPUs)"
        echo "  -k DIR    keep the work files (IR, dumps) in DIR"
        echo "  PATTERN   only the tests whose name or op matches this extended regex"
        exit 0 ;;
    j) jobs=$OPTARG ;;
    k) keep=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
pattern=${1-}
jobs=${jobs:-$(nproc 2>/dev/null || echo 2)}

for f in onnx2ir qinfer tsim; do
    [ -x "$QP_BUILD/bin/$f" ] || { echo "run.sh: $QP_BUILD/bin/$f not built (make)" >&2; exit 2; }
done
[ -x "$QP_BUILD/tests/onnx_bind" ] || { echo "run.sh: $QP_BUILD/tests/onnx_bind not built (make)" >&2; exit 2; }
[ -d "$QP_ONNX_NODE_TESTS" ] || { echo "run.sh: no $QP_ONNX_NODE_TESTS (apt-get install libonnx-testdata)" >&2; exit 2; }

# ops.txt: op and globs per line; every test matched by at most one op
declare -A op_of known
declare -a ops=()
while read -r op globs; do
    case $op in '' | '#'*) continue ;; esac
    ops+=("$op")
    read -ra pats <<<"${globs%%#*}"
    for g in "${pats[@]}"; do
        for d in "$QP_ONNX_NODE_TESTS"/test_$g; do
            [ -d "$d" ] || continue
            t=${d##*/}
            if [ -n "${op_of[$t]-}" ] && [ "${op_of[$t]}" != "$op" ]; then
                echo "run.sh: ops.txt: $t matches both ${op_of[$t]} and $op" >&2
                exit 2
            fi
            op_of[$t]=$op
        done
    done
done <"$here/ops.txt"
while read -r t reason; do
    case $t in '' | '#'*) continue ;; esac
    known[$t]=$reason
done <"$here/known-failures.txt"

# the ops onnx2ir supports that ops.txt lacks: a new op without its tests
supported=$("$QP_BUILD/bin/onnx2ir" "$here/unknown_op.onnx" 2>&1 >/dev/null | sed -nE 's/.*\(supported: ([^)]*)\).*/\1/p' || true)
for s in $supported; do
    [[ " ${ops[*]} " == *" $s "* ]] || echo "run.sh: warning: op $s is supported but has no line in ops.txt" >&2
done

# raise_opset.py needs python3-onnx; without it those tests are skipped, saying so
QP_CONF_PYONNX=0
/usr/bin/python3 -c 'import onnx' 2>/dev/null && QP_CONF_PYONNX=1
export QP_CONF_PYONNX

if [ -n "$keep" ]; then
    work=$keep
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/qp-conformance.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM
fi
rm -rf "$work/res" "$work/tmp"
mkdir -p "$work/res" "$work/tmp"

selected=$(for t in "${!op_of[@]}"; do
    op=${op_of[$t]}
    if [ -z "$pattern" ] || [[ $t =~ $pattern ]] || [[ $op =~ $pattern ]]; then printf '%s %s\n' "$op" "$t"; fi
done | sort -k2)
[ -n "$selected" ] || { echo "run.sh: no test matches '$pattern'" >&2; exit 2; }
# a worker that dies leaves no result: reported below as a failure
printf '%s\n' "$selected" | xargs -n 2 -P "$jobs" bash "$here/run.sh" --one "$work" || true

declare -A n_pass n_fail n_skip n_xfail
pass=0 fail=0 skip=0 xfail=0
while read -r op t; do
    IFS=$'\t' read -r status _ _ reason <"$work/res/$t" || { status=fail reason="the runner lost its result"; }
    if [ -n "${known[$t]-}" ]; then
        case $status in
        fail) status=xfail reason="${known[$t]} [$reason]" ;;
        pass) status=fail reason="passes but is listed in known-failures.txt: remove it" ;;
        esac
    fi
    printf '%s %s%s\n' "$status" "$t" "${reason:+ $reason}"
    case $status in
    pass) pass=$((pass + 1)) n_pass[$op]=$((${n_pass[$op]-0} + 1)) ;;
    fail) fail=$((fail + 1)) n_fail[$op]=$((${n_fail[$op]-0} + 1)) ;;
    skip) skip=$((skip + 1)) n_skip[$op]=$((${n_skip[$op]-0} + 1)) ;;
    xfail) xfail=$((xfail + 1)) n_xfail[$op]=$((${n_xfail[$op]-0} + 1)) ;;
    esac
done <<<"$selected"

echo
printf '%-22s %5s %5s %5s %5s\n' op pass fail xfail skip
for op in $(printf '%s\n' "${ops[@]}" | sort); do
    [[ $'\n'"$selected"$'\n' == *$'\n'"$op "* ]] || continue
    printf '%-22s %5d %5d %5d %5d\n' "$op" "${n_pass[$op]-0}" "${n_fail[$op]-0}" "${n_xfail[$op]-0}" "${n_skip[$op]-0}"
done
echo
echo "$pass passed, $fail failed, $skip skipped, $xfail xfail"
[ $fail -eq 0 ]
