#!/usr/bin/env bats
# Float accuracy on the real models: each imported with a realistic preprocessing in its input
# meta and run by qinfer on a real photo; onnxruntime then runs the input tensor qinfer dumped,
# and every output must reach cosine 0.99999 with a max abs error within 1e-4 of its range.
load helpers

MODELS=$QP_CACHE/models
PHOTOS=$QP_ROOT/tests/data/images

setup() {
    require_file "$QP_CACHE/ort/node_modules/onnxruntime-node/package.json"
    command -v node >/dev/null || skip "node is not installed (tests/install-deps.sh)"
    cd "$BATS_TEST_TMPDIR"
}

# set_preproc META MEAN,... SCALE,...: the mean and scale lists of the (single) port of a
# meta written by onnx2ir --inputmeta; preprocessing is (x - mean) * scale per channel.
set_preproc() {
    awk -v mean="$2" -v scale="$3" '
        /^        mean:$/ { print; n = split(mean, m, ","); for (i = 1; i <= n; i++) print "        - " m[i]; skip = 1; next }
        /^        scale:/ { n = split(scale, s, ","); if (n == 1) print "        scale: " s[1]
                          else { print "        scale:"; for (i = 1; i <= n; i++) print "        - " s[i] }
                          skip = 1; next }
        /^        preproc_node_params:$/ { skip = 0 }
        skip && /^        - / { next }
        { print }' "$1" >"$1.new"
    mv "$1.new" "$1"
    grep -q "^        - $(cut -d, -f1 <<<"$2")\$" "$1" # the meta had the layout this expects
}

# run_model MODEL.onnx INPUT MEAN SCALE [onnx2ir options]: imports, runs qinfer (--format
# both) on INPUT, runs onnxruntime on qinfer's input dump, compares each output in graph
# order and reports the figures on fd 3.
run_model() {
    local model=$1 input=$2 mean=$3 scale=$4
    shift 4
    local name
    name=$(basename "$model" .onnx)
    onnx2ir "$@" --inputmeta meta.yml "$model" >m.ir
    set_preproc meta.yml "$mean" "$scale"
    run -0 --separate-stderr qinfer --quiet --input-meta meta.yml --input "$input" --format both --output-dir qp <m.ir
    qinfer --summary <m.ir >summary
    local key kind dtype dims in_npy="" n=0
    local -a outs=()
    while IFS=$'\t' read -r key kind dtype dims; do
        case $kind in
        input) in_npy=qp/iter_0_${key//\//_}_out0_${dims//x/_}.npy ;;
        output) outs+=("qp/iter_0_${key//\//_}_out0_${dims//x/_}") ;;
        esac
    done <summary
    [ -f "$in_npy" ]
    run -0 --separate-stderr node "$QP_ROOT/tests/ref/ort_run.js" --verbose "$model" ort "$in_npy"
    local -a refs
    mapfile -t refs < <(sed -n 's/.* -> //p' <<<"$stderr")
    [ "${#refs[@]}" -eq "${#outs[@]}" ]
    local k fails=0
    for k in "${!outs[@]}"; do
        [ -f "${outs[$k]}.tensor" ] # --format both
        # for the log only: tsim names maxabs / range when it fails --max-err-rel 0
        run --separate-stderr tsim --max-err-rel 0 "${refs[$k]}" "${outs[$k]}.npy"
        local rel
        rel=$(sed -nE 's/.*, ([^ ]+) of the reference range.*/\1/p' <<<"$stderr")
        run --separate-stderr tsim --min-cos 0.99999 --max-err-rel 1e-4 "${refs[$k]}" "${outs[$k]}.npy"
        echo "# $name ${refs[$k]#ort/}: ${output%%  *} maxabs/range ${rel:-0}" >&3
        if [ "$status" -ne 0 ]; then
            echo "# $stderr" >&3
            fails=$((fails + 1))
        fi
    done
    [ $fails -eq 0 ]
}

@test "models: yolov5s (scale 1/255) on a photo matches onnxruntime" {
    require_file "$MODELS/yolov5s.onnx"
    run_model "$MODELS/yolov5s.onnx" "$PHOTOS/dog.jpg" 0,0,0 0.00392156862745098
}

@test "models: PP-OCRv4 det (ImageNet mean and scale) on a text line matches onnxruntime" {
    require_file "$MODELS/ch_PP-OCRv4_det_infer.onnx"
    require_file "$QP_CACHE/images/text_1.png"
    run_model "$MODELS/ch_PP-OCRv4_det_infer.onnx" "$QP_CACHE/images/text_1.png" \
        123.675,116.28,103.53 0.01712475,0.017507,0.01742919 --input-size 1,3,640,640
}

@test "models: PP-OCR mobile v2.0 cls (ImageNet mean and scale) on a text line matches onnxruntime" {
    require_file "$MODELS/ch_ppocr_mobile_v2.0_cls_infer.onnx"
    require_file "$QP_CACHE/images/text_2.png"
    run_model "$MODELS/ch_ppocr_mobile_v2.0_cls_infer.onnx" "$QP_CACHE/images/text_2.png" \
        123.675,116.28,103.53 0.01712475,0.017507,0.01742919 --input-size 1,3,48,192
}

@test "models: BlazeFace front 128x128 (NHWC, [-1, 1]) on a portrait matches onnxruntime" {
    require_file "$MODELS/face_detection_front_128x128_barracuda.onnx"
    run_model "$MODELS/face_detection_front_128x128_barracuda.onnx" "$PHOTOS/astronaut.jpg" \
        127.5,127.5,127.5 0.00784313725490196
}

@test "models: BlazeFace front with MediaPipe's decoding in the graph (blazeface_decode.onnx) matches onnxruntime" {
    require_file "$MODELS/blazeface_decode.onnx"
    run_model "$MODELS/blazeface_decode.onnx" "$PHOTOS/astronaut.jpg" 127.5,127.5,127.5 0.00784313725490196
}

@test "models: blazeface_decode.onnx equals a numpy decoding of the front model's raw outputs and finds the face" {
    require_file "$MODELS/blazeface_decode.onnx"
    require_file "$MODELS/face_detection_front_128x128_barracuda.onnx"
    /usr/bin/python3 -c 'import numpy' 2>/dev/null || skip "needs /usr/bin/python3 with numpy"
    onnx2ir --inputmeta meta.yml "$MODELS/blazeface_decode.onnx" >m.ir
    set_preproc meta.yml 127.5,127.5,127.5 0.00784313725490196
    run -0 --separate-stderr qinfer --quiet --input-meta meta.yml --input "$PHOTOS/astronaut.jpg" --format npy --output-dir qp <m.ir
    run -0 --separate-stderr node "$QP_ROOT/tests/ref/ort_run.js" "$MODELS/face_detection_front_128x128_barracuda.onnx" \
        raw qp/iter_0_input:0_*_out0_1_128_128_3.npy
    # MediaPipe's TensorsToDetections on the four raw heads, written independently of the graph: anchors as the
    # tfjs blazeface makes them (strides 8 and 16, 2 and 6 per cell), normalised coordinates, then x128 pixels
    run -0 /usr/bin/python3 - qp/iter_0_attach_Concat_decode_detections_*_out0_1_896_17.npy <<'PY'
import sys
import numpy as np
h = {k: np.load(f'raw/Identity{k}_0.npy')[0].astype(np.float64) for k in ('', '_1', '_2', '_3')}
r, logit = np.concatenate([h['_2'], h['_3']]), np.concatenate([h[''], h['_1']])[:, 0]
a = np.array([((x + 0.5) * s / 128, (y + 0.5) * s / 128) for s, n in ((8, 2), (16, 6))
              for y in range(128 // s) for x in range(128 // s) for _ in range(n)])
xc, yc, w, hh = r[:, 0] / 128 + a[:, 0], r[:, 1] / 128 + a[:, 1], r[:, 2] / 128, r[:, 3] / 128
kp = np.stack([r[:, 4::2] / 128 + a[:, :1], r[:, 5::2] / 128 + a[:, 1:]], axis=2).reshape(896, 12)
ref = np.concatenate([np.stack([xc - w / 2, yc - hh / 2, xc + w / 2, yc + hh / 2], 1) * 128, kp * 128,
                      1 / (1 + np.exp(-np.clip(logit, -100, 100)))[:, None]], 1)
d = np.load(sys.argv[1])[0].astype(np.float64)
assert d.shape == (896, 17), d.shape
err = np.abs(d - ref).max()
best = int(d[:, 16].argmax())
print(f'maxabs {err:.3g} best anchor {best} score {d[best, 16]:.4f} box {np.round(d[best, :4], 2).tolist()} '
      f'{int((d[:, 16] > 0.5).sum())} anchors > 0.5')
assert err < 1e-3, f'decoding differs from numpy by {err}'
assert d[best, 16] > 0.5, 'no face detected'
assert (d[best, :4] >= 0).all() and (d[best, :4] <= 128).all() and (d[best, 2:4] > d[best, :2]).all(), 'bad box'
PY
    echo "# $output" >&3
}

@test "models: BlazeFace back 256x256 (NHWC, [-1, 1]) on a portrait matches onnxruntime" {
    require_file "$MODELS/face_detection_back_256x256_barracuda.onnx"
    run_model "$MODELS/face_detection_back_256x256_barracuda.onnx" "$PHOTOS/astronaut.jpg" \
        127.5,127.5,127.5 0.00784313725490196
}

@test "models: M-LSD tiny 320x320 (RGBA NHWC, raw 0..255) on a photo matches onnxruntime" {
    require_file "$MODELS/mlsd_320x320_tiny.onnx"
    /usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null || skip "needs /usr/bin/python3 with onnx and numpy"
    # M-LSD takes an RGBA image and normalises it itself (x / 127.5 - 1), and qinfer's image
    # loader gives 1 or 3 channels: the photo goes through qinfer's own loader and resizer
    # (a one-Relu model with a 320x320 RGB input), then gets an opaque alpha channel
    /usr/bin/python3 - <<'EOF'
import onnx, onnx.helper as h
x = h.make_tensor_value_info('image', onnx.TensorProto.FLOAT, [1, 320, 320, 3])
y = h.make_tensor_value_info('y', onnx.TensorProto.FLOAT, [1, 320, 320, 3])
m = h.make_model(h.make_graph([h.make_node('Relu', ['image'], ['y'])], 'rgb', [x], [y]),
                 opset_imports=[h.make_opsetid('', 13)])
m.ir_version = 7
onnx.save(m, 'rgb.onnx')
EOF
    onnx2ir --inputmeta rgb.yml rgb.onnx >rgb.ir
    run -0 --separate-stderr qinfer --quiet --input-meta rgb.yml --input "$PHOTOS/coffee.jpg" --format npy --output-dir rgb <rgb.ir
    /usr/bin/python3 - <<'EOF'
import numpy as np
x = np.load('rgb/iter_0_image_2_out0_1_320_320_3.npy')
assert x.shape == (1, 320, 320, 3) and x.min() >= 0 and x.max() <= 255 and x.max() > 1
np.save('rgba.npy', np.concatenate([x, np.full((1, 320, 320, 1), 255, np.float32)], axis=3))
EOF
    run_model "$MODELS/mlsd_320x320_tiny.onnx" rgba.npy 0,0,0,0 1
}
