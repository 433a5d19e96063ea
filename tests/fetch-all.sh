#!/bin/sh
# Fetches or generates every model, image and reference tool the tests use into
# tests/cache/ (each script is idempotent and checks its sha256 pins).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/models/get_yolov5s.sh" "$here/cache/models/yolov5s.onnx"
sh "$here/models/fetch.sh"
sh "$here/models/get_blazeface_decode.sh" "$here/cache/models/blazeface_decode.onnx"
sh "$here/images/fetch.sh"
sh "$here/ref/install.sh"
