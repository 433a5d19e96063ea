#!/bin/sh
# Installs, on Debian, what qpipe needs to build and test: only the packages that are
# missing, so it is quick to rerun.  Needs root (or sudo) only when something is missing.
set -eu
pkgs="build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev libzstd-dev zstd
libyaml-dev libpng-dev libjpeg-dev libonnx-dev libonnx-testdata bats python3-onnx
python3-numpy python3-yaml imagemagick fonts-dejavu-core clang valgrind nodejs npm parallel
gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
# (the last three: nbgexport.bats cross-builds an exported project for aarch64 and runs it)
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
# the machine may carry its own node/npm outside apt
if [ -n "$missing" ] && command -v node >/dev/null && command -v npm >/dev/null; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -v -x -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo $missing)
[ -z "$missing" ] && exit 0
echo "install-deps: installing $missing" >&2
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
