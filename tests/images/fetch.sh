#!/bin/sh
# Fills tests/cache/images with free colour photos out of Debian's darknet and python3-skimage packages
# (downloaded, not installed) plus a mirrored crop of each, listed in dataset.txt, and 4 rendered text lines
# for the OCR models, listed in text.txt (absolute paths). Licences: README.md.
set -eu
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")" && pwd)
dest=$(mkdir -p "$here/../cache/images" && cd "$here/../cache/images" && pwd)
stamp=$(sha256sum "$here/fetch.sh" | cut -d' ' -f1)

if [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$stamp" ] && [ -s "$dest/dataset.txt" ] && [ -s "$dest/text.txt" ] &&
   cat "$dest/dataset.txt" "$dest/text.txt" | while read -r f; do [ -f "$f" ] || exit 1; done; then
    exit 0
fi

apt_install() { apt-get install -y "$@" || { apt-get update && apt-get install -y "$@"; }; }
[ -x /usr/bin/convert ] || apt_install imagemagick     # /usr/bin: another 'convert' may come first on PATH
font=/usr/share/fonts/truetype/dejavu
[ -f $font/DejaVuSans.ttf ] || apt_install fonts-dejavu-core

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
# as root itself: apt's sandbox user may not write into our temp dir
download() { (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root darknet python3-skimage); }
download || { apt-get update && download; }
for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/x"; done

rm -f "$dest/dataset.txt" "$dest/text.txt" "$dest/.stamp" "$dest/dataset.tmp" "$dest/text.tmp"
dk=$tmp/x/usr/share/darknet/data
sk=$tmp/x/usr/lib/python3/dist-packages/skimage/data
for f in $dk/dog.jpg $dk/eagle.jpg $dk/giraffe.jpg $dk/horses.jpg $dk/kite.jpg $dk/person.jpg $dk/scream.jpg \
         $sk/astronaut.png $sk/chelsea.png $sk/coffee.png $sk/hubble_deep_field.jpg $sk/ihc.png \
         $sk/motorcycle_left.png $sk/motorcycle_right.png $sk/retina.jpg $sk/rocket.jpg; do
    b=${f##*/}
    cp "$f" "$dest/$b"
    # a second view of each photo: mirrored, the top-left 70% of it, as PNG
    /usr/bin/convert -quiet "$f" -flop -gravity northwest -crop 70%x70%+0+0 +repage -strip \
        "PNG24:$dest/flop_${b%.*}.png"
    printf '%s\n%s\n' "$dest/$b" "$dest/flop_${b%.*}.png" >> "$dest/dataset.tmp"
done
mkdir -p "$dest/doc"
cp "$tmp/x/usr/share/doc/darknet/copyright" "$dest/doc/darknet.copyright"
cp "$tmp/x/usr/share/doc/python3-skimage/copyright" "$dest/doc/python3-skimage.copyright"

# text lines: font, size, ink, paper, text
n=0
while IFS='|' read -r face size ink paper text; do
    n=$((n + 1))
    /usr/bin/convert -background "$paper" -fill "$ink" -font "$font/$face.ttf" -pointsize "$size" \
        label:"$text" -bordercolor "$paper" -border 24x16 -strip "PNG24:$dest/text_$n.png"
    echo "$dest/text_$n.png" >> "$dest/text.tmp"
done <<'LINES'
DejaVuSans|40|black|white|Quantize the post-processing in int16, the rest in int8.
DejaVuSerif|36|#1a237e|#fff8e1|Invoice No. 2024-0815    Total: 1,234.56 EUR
DejaVuSans-Bold|44|white|#37474f|THE QUICK BROWN FOX JUMPS OVER 13 LAZY DOGS
DejaVuSansMono|32|#b71c1c|#eceff1|tel. +49 30 1234 5678 / 09:41 / qpipe v0.1
LINES
mv "$dest/dataset.tmp" "$dest/dataset.txt"
mv "$dest/text.tmp" "$dest/text.txt"
echo "$stamp" > "$dest/.stamp"
