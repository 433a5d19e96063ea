#!/bin/sh
# make bench: qinfer versus onnxruntime-node on the same input tensors, in this one script,
# so the ratios compare runs made under the same machine load.  Each engine's figure is
# the lowest of ROUNDS medians of RUNS runs (the two engines alternate), per thread count.
# usage: tests/bench/run.sh [MODEL_NAME...]   (default: all)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${QP_BUILD:-$root/build}
cache=$root/tests/cache
RUNS=${RUNS:-11}
ROUNDS=${ROUNDS:-3}
sh "$root/tests/fetch-all.sh" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name  file  input-size (empty: static)
models="yolov5s yolov5s.onnx -
ppocr_det ch_PP-OCRv4_det_infer.onnx 1,3,640,640
ppocr_cls ch_ppocr_mobile_v2.0_cls_infer.onnx 1,3,48,192
blazeface_front face_detection_front_128x128_barracuda.onnx -
mlsd_tiny_320 mlsd_320x320_tiny.onnx -"

median_of() {   # extracts median_ms=X from stdin
    sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' | head -n 1
}

# The quantized models: yolov5s calibrated on the images of tests/data/images, then the
# integer simulation (qinfer --dtype quantized) of an asymmetric uint8 table (8-bit layers,
# bar 1.5 x onnxruntime float at 1 thread) and an int16 dynamic fixed point table (16-bit
# layers, bar 3 x), on the same input tensor as onnxruntime.
QMODELS=${QMODELS:-yolov5s}

printf '%-16s %3s %10s %10s %7s\n' model thr ort_ms qpipe_ms ratio
echo "$models" | while read -r name file size; do
    [ $# -gt 0 ] && ! echo " $* " | grep -q " $name " && continue
    m=$cache/models/$file
    d=$work/$name
    mkdir -p "$d"
    if [ "$size" = - ]; then
        "$build/bin/onnx2ir" "$m" > "$d/m.ir"
        node "$root/tests/ref/ort_run.js" "$m" "$d" --random-input 1 > /dev/null
    else
        "$build/bin/onnx2ir" --input-size "$size" "$m" > "$d/m.ir"
        node "$root/tests/ref/ort_run.js" "$m" "$d" --random-input 1 --shape "$size" > /dev/null
    fi
    for t in 1 2; do
        best_o=; best_q=
        r=0
        while [ $r -lt "$ROUNDS" ]; do
            o=$(node "$root/tests/ref/ort_run.js" "$m" "$d/ort" --threads $t --runs "$RUNS" --bench \
                  "$d/input_0.npy" | median_of)
            q=$(QP_THREADS=$t "$build/bin/qinfer" --input "$d/input_0.npy" --repeat "$RUNS" -q \
                  --output-dir "$d/qp" < "$d/m.ir" 2>&1 | median_of)
            best_o=$(echo "$o $best_o" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            best_q=$(echo "$q $best_q" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            r=$((r + 1))
        done
        printf '%-16s %3s %10.2f %10.2f %7.2f\n' "$name" $t "$best_o" "$best_q" \
            "$(echo "$best_q $best_o" | awk '{ print $1 / $2 }')"
    done
done

# ---- quantized ---------------------------------------------------------------------------------
for name in $QMODELS; do
    [ $# -gt 0 ] && ! echo " $* " | grep -q " $name\(-int8\|-int16\|-nbg\)\? " && continue
    m=$cache/models/$name.onnx
    d=$work/q_$name
    mkdir -p "$d"
    "$build/bin/onnx2ir" "$m" --inputmeta "$d/meta.yml" > "$d/m.ir"
    # pixels to [0, 1], as yolov5 wants
    sed -i 's/^        scale: 1\.0$/        scale: 0.00392156863/' "$d/meta.yml"
    ls "$root"/tests/data/images/*.jpg > "$d/dataset.txt"
    "$build/bin/calib" -q --input-meta "$d/meta.yml" < "$d/m.ir" > "$d/c.ir"
    "$build/bin/qtable" --quantizer asymmetric_affine --qtype uint8 < "$d/c.ir" > "$d/int8.ir"
    "$build/bin/qtable" --quantizer dynamic_fixed_point --qtype int16 < "$d/c.ir" > "$d/int16.ir"
    node "$root/tests/ref/ort_run.js" "$m" "$d" --random-input 1 > /dev/null
    for t in 1 2; do
        best_o=; best_8=; best_16=
        r=0
        while [ $r -lt "$ROUNDS" ]; do
            o=$(node "$root/tests/ref/ort_run.js" "$m" "$d/ort" --threads $t --runs "$RUNS" --bench \
                  "$d/input_0.npy" | median_of)
            q8=$(QP_THREADS=$t "$build/bin/qinfer" --dtype quantized --input "$d/input_0.npy" --repeat "$RUNS" -q \
                  --output-dir "$d/q8" < "$d/int8.ir" 2>&1 | median_of)
            q16=$(QP_THREADS=$t "$build/bin/qinfer" --dtype quantized --input "$d/input_0.npy" --repeat "$RUNS" -q \
                  --output-dir "$d/q16" < "$d/int16.ir" 2>&1 | median_of)
            best_o=$(echo "$o $best_o" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            best_8=$(echo "$q8 $best_8" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            best_16=$(echo "$q16 $best_16" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            r=$((r + 1))
        done
        for v in "int8:$best_8" "int16:$best_16"; do
            printf '%-16s %3s %10.2f %10.2f %7.2f\n' "$name-${v%%:*}" $t "$best_o" "${v#*:}" \
                "$(echo "${v#*:} $best_o" | awk '{ print $1 / $2 }')"
        done
    done
done

# ---- the exported runtime ----------------------------------------------------------------------
# nbgexport's project (one thread, built with the exported Makefile's -O2) against qinfer's
# quantized run at one thread, same stream and input tensor: the ratio is runtime / qinfer.
printf '\n%-18s %3s %10s %10s %7s\n' model thr qinfer_ms nbg_ms ratio
for name in $QMODELS; do
    [ $# -gt 0 ] && ! echo " $* " | grep -q " $name\(-int8\|-int16\|-nbg\)\? " && continue
    d=$work/q_$name
    [ -f "$d/int8.ir" ] || continue
    for v in int8 int16; do
        "$build/bin/nbgexport" --output-path "$d/prj_$v" --name net < "$d/$v.ir"
        if [ "$v" = int8 ]; then
            make -s -C "$d/prj_$v" -j2 > "$d/make.log" 2>&1 || { cat "$d/make.log" >&2; exit 1; }
            exe=$d/prj_int8/net
        fi
        best_q=; best_n=
        r=0
        while [ $r -lt "$ROUNDS" ]; do
            q=$(QP_THREADS=1 "$build/bin/qinfer" --dtype quantized --input "$d/input_0.npy" --repeat "$RUNS" -q \
                  --output-dir "$d/qn" < "$d/$v.ir" 2>&1 | median_of)
            n=$("$exe" --nbg "$d/prj_$v/net.nbg" --repeat "$RUNS" --output-dir "$d/on" "$d/input_0.npy" 2>&1 |
                  median_of)
            best_q=$(echo "$q $best_q" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            best_n=$(echo "$n $best_n" | awk '{ if ($2 == "" || $1 < $2) print $1; else print $2 }')
            r=$((r + 1))
        done
        printf '%-18s %3s %10.2f %10.2f %7.2f\n' "$name-$v-nbg" 1 "$best_q" "$best_n" \
            "$(echo "$best_n $best_q" | awk '{ print $1 / $2 }')"
    done
done
