#!/bin/sh
# Makes blazeface_decode.onnx (BlazeFace front with MediaPipe's decoding in the graph) from the fetched
# face_detection_front_128x128_barracuda.onnx with make_blazeface_decode.py unless it is already there, and checks
# it against the pinned blazeface_decode.sha256. usage: get_blazeface_decode.sh [OUT]  (a file, or a directory for
# blazeface_decode.onnx; default tests/cache/models; the front model is read from tests/cache/models, fetch.sh
# first). Prints the model's path.
set -eu
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)/cache/models/face_detection_front_128x128_barracuda.onnx
out=${1:-$(cd "$here/.." && pwd)/cache/models/}
case $out in */) out=${out}blazeface_decode.onnx ;; esac
[ -d "$out" ] && out=$out/blazeface_decode.onnx
want=$(cut -d' ' -f1 "$here/blazeface_decode.sha256")

sum() { sha256sum "$1" | cut -d' ' -f1; }
if [ -f "$out" ] && [ "$(sum "$out")" = "$want" ]; then
    echo "$out"
    exit 0
fi
[ -f "$src" ] || { echo "get_blazeface_decode.sh: missing '$src' (run tests/models/fetch.sh first)" >&2; exit 1; }
if ! /usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null; then
    apt-get install -y python3-onnx python3-numpy ||
        { apt-get update && apt-get install -y python3-onnx python3-numpy; }
fi
mkdir -p "$(dirname "$out")"
trap 'rm -f "$out.tmp"' EXIT
trap 'exit 130' INT TERM
/usr/bin/python3 "$here/make_blazeface_decode.py" "$src" "$out.tmp"
if [ "$(sum "$out.tmp")" != "$want" ]; then
    echo "get_blazeface_decode.sh: generated model differs from blazeface_decode.sha256 (numpy or onnx not Debian 12's?)" >&2
    exit 1
fi
mv "$out.tmp" "$out"
echo "$out"
