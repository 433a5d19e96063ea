#!/bin/sh
# Remakes the small committed photo set tests/data/images/*.jpg (JPEG quality 85, at most 640 px a side) from
# the photos fetch.sh takes out of Debian's packages. Run only to change that set; see its README.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/fetch.sh"
src=$here/../cache/images
out=$here/../data/images
mkdir -p "$out"
for f in dog.jpg astronaut.png chelsea.png coffee.png; do
    /usr/bin/convert -quiet "$src/$f" -resize '640x640>' -strip -sampling-factor 2x2 -quality 85 "$out/${f%.*}.jpg"
done
