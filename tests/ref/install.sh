#!/bin/sh
# Installs the pinned onnxruntime-node (package.json + package-lock.json here) into tests/cache/ort,
# the float reference engine for ort_run.js. Idempotent: does nothing when this lock is already installed.
set -eu
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")" && pwd)
dest=$here/../cache/ort

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt-get update && apt-get install -y nodejs npm
fi
cmp -s "$here/package-lock.json" "$dest/installed.lock" && exit 0
mkdir -p "$dest"
rm -f "$dest/installed.lock"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
# The package's install script would fetch GPU binaries from a host we cannot reach; the CPU ones ship inside.
(cd "$dest" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund)
cp "$here/package-lock.json" "$dest/installed.lock"
