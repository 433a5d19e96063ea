#!/bin/sh
# Fills tests/cache/images with free colour photos out of Debian's darknet and python3-skimage packages
# (downloaded, not installed) plus a mirrored crop of each, listed in dataset.txt; 32 face images for the face
# detector, listed in faces.txt; and 4 rendered text lines for the OCR models, listed in text.txt (absolute
# paths). Licences: README.md.
set -eu
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")" && pwd)
dest=$(mkdir -p "$here/../cache/images" && cd "$here/../cache/images" && pwd)
stamp=$(sha256sum "$here/fetch.sh" | cut -d' ' -f1)

if [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$stamp" ] && [ -s "$dest/dataset.txt" ] && [ -s "$dest/text.txt" ] &&
   [ -s "$dest/faces.txt" ] && cat "$dest/dataset.txt" "$dest/text.txt" "$dest/faces.txt" | while read -r f; do [ -f "$f" ] || exit 1; done; then
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

rm -f "$dest/dataset.txt" "$dest/text.txt" "$dest/faces.txt" "$dest/.stamp" "$dest/dataset.tmp" "$dest/text.tmp" \
      "$dest/faces.tmp"
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

# faces for the face detector (BlazeFace front, 128x128): two photos with a face filling a good part of the frame,
# and 30 faces of Labeled Faces in the Wild (skimage's lfw_subset.npy: 100 faces, 25x25 grey, float64 in 0..1),
# each enlarged to 56..84 px and pasted onto a 128x128 view of one of the 16 photos above. faces.txt lists 32
# images, odd lines (astronaut + 15 faces) for calibration, even lines (cameraman + 15 other faces) held out.
/usr/bin/python3 - "$sk/lfw_subset.npy" "$tmp" <<'PY'
import ast, struct, sys
raw = open(sys.argv[1], "rb").read()
assert raw[:6] == b"\x93NUMPY", "lfw_subset.npy: not a .npy file"
hlen = struct.unpack("<H", raw[8:10])[0]
head = ast.literal_eval(raw[10:10 + hlen].decode("latin1"))
assert head["descr"] == "<f8" and tuple(head["shape"]) == (200, 25, 25) and not head["fortran_order"], head
px = struct.unpack("<%dd" % (200 * 625), raw[10 + hlen:10 + hlen + 200 * 625 * 8])
for i in range(30):
    grey = bytes(min(255, max(0, round(v * 255))) for v in px[i * 625:(i + 1) * 625])
    open("%s/lfw%02d.pgm" % (sys.argv[2], i), "wb").write(b"P5 25 25 255\n" + grey)
PY
bgs="dog.jpg eagle.jpg giraffe.jpg horses.jpg kite.jpg person.jpg scream.jpg astronaut.png chelsea.png coffee.png
     hubble_deep_field.jpg ihc.png motorcycle_left.png motorcycle_right.png retina.jpg rocket.jpg"
/usr/bin/convert -quiet "$sk/astronaut.png" -crop 358x358+0+0 +repage -resize 128x128! -strip "PNG24:$dest/face_00.png"
/usr/bin/convert -quiet "$sk/camera.png" -crop 256x256+128+0 +repage -resize 128x128! -type TrueColor -strip \
    "PNG24:$dest/face_01.png"
i=0
for bg in $bgs $bgs; do
    [ $i -lt 30 ] || break
    s=$((56 + i * 7 % 29)) n=$(printf %02d $((i + 2)))
    /usr/bin/convert -quiet "$dest/$bg" -gravity center -crop 60%x60%+0+0 +repage -resize 128x128! \
        \( "$tmp/lfw$(printf %02d $i).pgm" -filter Triangle -resize "${s}x${s}!" -colorspace sRGB \) \
        -gravity northwest -geometry "+$((i * 13 % (128 - s)))+$((i * 29 % (128 - s)))" -composite \
        -type TrueColor -strip "PNG24:$dest/face_$n.png"
    i=$((i + 1))
done
for n in $(seq -w 0 31); do echo "$dest/face_$n.png"; done > "$dest/faces.tmp"

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
mv "$dest/faces.tmp" "$dest/faces.txt"
echo "$stamp" > "$dest/.stamp"
