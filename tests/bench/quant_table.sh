#!/usr/bin/env bash
# The README's quantization table: output cosine against float32 per model, quantizer and
# calibration algorithm.  Calibrates on the first 16 photos of tests/cache/images, evaluates
# on 8 others (PP-OCRv4 det: 16 and 8 pages of text rendered here with ImageMagick) (the mean cosine over the 8 samples and over the model's outputs; per output
# with -v).  usage: tests/bench/quant_table.sh [-v] [MODEL...]   (yolov5s ppocr_det
# blazeface_front mlsd_tiny)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="${QP_BUILD:-$root/build}/bin:$PATH"
verbose=0
[ "${1:-}" = -v ] && { verbose=1; shift; }
sh "$root/tests/fetch-all.sh" >/dev/null
cache=$root/tests/cache
if [ -n "${QT_KEEP:-}" ]; then   # QT_KEEP=DIR keeps the streams, tables and outputs there (DIR is emptied)
    work=$QT_KEEP; rm -rf "$work"; mkdir -p "$work"
else
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi
head -n 16 "$cache/images/dataset.txt" > "$work/calib.txt"
tail -n 8 "$cache/images/dataset.txt" > "$work/eval.txt"

# QT_SCHEMES / QT_ALGOS override the quantizer:qtype pairs and the algorithms; QT_BC=1 adds
# qtable --bias-correction on the 16 calibration samples (algorithm shown as ALGO+bc)
schemes=${QT_SCHEMES:-"asymmetric_affine:uint8 perchannel_symmetric_affine:int8 dynamic_fixed_point:int16
    perchannel_symmetric_affine:int16 bfloat16:bfloat16"}
algos=${QT_ALGOS:-"normal kl_divergence"}

# name file input-size mean scale kind
models="yolov5s yolov5s.onnx - 0 0.0039215686 rgb
ppocr_det ch_PP-OCRv4_det_infer.onnx 1,3,640,640 123.675,116.28,103.53 0.01712475,0.017507,0.01742919 rgb
blazeface_front face_detection_front_128x128_barracuda.onnx - 127.5 0.0078431373 rgb
mlsd_tiny mlsd_320x320_tiny.onnx - 0 1 rgba"

mean_cos() {   # mean of the cos column of tsim --tsv over the attach_ (model output) rows
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "cos") c = i; next }
                $0 ~ /attach_/ { s += $c; n++ } END { if (n) printf "%.6f", s / n; else print "-" }'
}

text_list() {  # N OUT_LIST: pages of rendered text lines (PP-OCR det is a text detector)
    local words="qpipe hybrid quantization int8 int16 yolov5s detector NPU deployment golden tensor cosine
Acuity calibration histogram divergence percentile converter boundary runtime kernel packed"
    : > "$2"
    for i in $(seq 1 "$1"); do
        local args=() y=60
        for l in 1 2 3 4 5 6; do
            local line=$(echo $words | tr ' ' '\n' | awk -v s=$((i * 7 + l)) 'NR % 5 == s % 5 || NR % 7 == s % 7' | head -n 6 | tr '\n' ' ')
            args+=(-annotate "+$((20 + (i * l) % 90))+$y" "$line")
            y=$((y + 70 + (i + l) % 30))
        done
        /usr/bin/convert -size 640x640 xc:white -fill black -font DejaVu-Sans -pointsize $((24 + i % 12)) \
            "${args[@]}" "$work/text_$i.png"
        echo "$work/text_$i.png" >> "$2"
    done
}

rgba_list() {  # LIST SIZE OUT_LIST: photos -> RGBA float32 .npy (alpha 255), for M-LSD
    local i=0
    : > "$3"
    while read -r img; do
        /usr/bin/convert "$img" -resize "$2x$2!" -alpha set -channel A -evaluate set 100% +channel \
            "rgba:$work/img.raw"
        /usr/bin/python3 -c "import numpy as n,sys; a=n.fromfile(sys.argv[1],n.uint8).astype(n.float32)
n.save(sys.argv[2], a.reshape(1,$2,$2,4))" "$work/img.raw" "$work/rgba_$i.npy"
        echo "$work/rgba_$i.npy" >> "$3"
        i=$((i + 1))
    done < "$1"
}

printf '%-16s %-30s %-9s %-14s %s\n' model quantizer qtype algorithm cos_vs_float
echo "$models" | while read -r name file size mean scale kind; do
    [ $# -gt 0 ] && ! echo " $* " | grep -q " $name " && continue
    d=$work/$name
    mkdir -p "$d"
    sz=()
    [ "$size" = - ] || sz=(--input-size "$size")
    onnx2ir "${sz[@]}" --inputmeta "$d/meta.yml" "$cache/models/$file" > "$d/m.ir"
    mean_yaml=$(echo "$mean" | sed 's/,/, /g')
    case $mean in *,*) ;; *) mean_yaml="$mean, $mean, $mean"; [ "$kind" = rgba ] && mean_yaml="$mean_yaml, $mean" ;; esac
    scale_yaml=$scale
    case $scale in *,*) scale_yaml="[$(echo "$scale" | sed 's/,/, /g')]" ;; esac
    sed -i -e "/^ *mean:/,/^ *scale:/{/^ *- /d}" -e "s/^\( *mean:\).*/\1 [$mean_yaml]/" \
        -e "s/^\( *scale:\).*/\1 $scale_yaml/" "$d/meta.yml"
    if [ "$name" = ppocr_det ]; then
        text_list 24 "$d/all.txt"
        head -n 16 "$d/all.txt" > "$d/calib.txt"
        tail -n 8 "$d/all.txt" > "$d/eval.txt"
    elif [ "$kind" = rgba ]; then
        rgba_list "$work/calib.txt" 320 "$d/calib.txt"
        rgba_list "$work/eval.txt" 320 "$d/eval.txt"
    else
        cp "$work/calib.txt" "$work/eval.txt" "$d/"
    fi
    sed "s|\(path:\).*|\1 $d/calib.txt|" "$d/meta.yml" > "$d/meta_calib.yml"
    sed "s|\(path:\).*|\1 $d/eval.txt|" "$d/meta.yml" > "$d/meta_eval.yml"
    calib -q --input-meta "$d/meta_calib.yml" < "$d/m.ir" > "$d/c.ir"
    qinfer -q --input-meta "$d/meta_eval.yml" --iterations 8 --format npy --output-dir "$d/float" < "$d/m.ir"
    for sch in $schemes; do
        for algo in $algos; do
            q=${sch%%:*} t=${sch#*:}
            rm -rf "$d/q"
            bc=() label=$algo
            [ -n "${QT_BC:-}" ] && { bc=(--bias-correction --input-meta "$d/meta_calib.yml"); label=$algo+bc; }
            qtable --quantizer "$q" --qtype "$t" --algorithm "$algo" "${bc[@]}" < "$d/c.ir" > "$d/q.ir"
            qinfer -q --dtype quantized --input-meta "$d/meta_eval.yml" --iterations 8 --format npy \
                --output-dir "$d/q" < "$d/q.ir"
            c=$(tsim --tsv "$d/float" "$d/q" | mean_cos)
            printf '%-16s %-30s %-9s %-14s %s\n' "$name" "$q" "$t" "$label" "$c"
            [ $verbose = 1 ] && tsim "$d/float" "$d/q" | grep attach_ | sed 's/^/    /'
        done
    done
done
