#!/bin/sh
# Makes the synthetic yolov5s test model with make_yolov5s.py unless it is already there, and checks it
# against the pinned yolov5s.sha256. usage: get_yolov5s.sh [OUT]  (a file, or a directory for yolov5s.onnx;
# default tests/cache/models). Prints the model's path.
set -eu
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(cd "$here/.." && pwd)/cache/models/}
case $out in */) out=${out}yolov5s.onnx ;; esac
[ -d "$out" ] && out=$out/yolov5s.onnx
want=$(cut -d' ' -f1 "$here/yolov5s.sha256")

sum() { sha256sum "$1" | cut -d' ' -f1; }
if [ -f "$out" ] && [ "$(sum "$out")" = "$want" ]; then
    echo "$out"
    exit 0
fi
if ! /usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null; then
    apt-get install -y python3-onnx python3-numpy ||
        { apt-get update && apt-get install -y python3-onnx python3-numpy; }
fi
mkdir -p "$(dirname "$out")"
trap 'rm -f "$out.tmp"' EXIT
trap 'exit 130' INT TERM
/usr/bin/python3 "$here/make_yolov5s.py" "$out.tmp"
if [ "$(sum "$out.tmp")" != "$want" ]; then
    echo "get_yolov5s.sh: generated model differs from yolov5s.sha256 (numpy or onnx not Debian 12's?)" >&2
    exit 1
fi
mv "$out.tmp" "$out"
echo "$out"
