#!/usr/bin/python3
"""Regenerates the tensor/image/input-meta fixtures of tests/data/tensors and the
npy_*, tensor_*, img_*, meta_* files of tests/data/bad (see README in this folder).
Needs python3-numpy and ImageMagick's convert.  Run from anywhere:
    /usr/bin/python3 tests/data/tensors/make_fixtures.py
The output is deterministic except for JPEG encoder details; the files are committed."""
import os
import struct
import subprocess
import tempfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BAD = os.path.join(HERE, "..", "bad")


def put(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def good(name, data):
    put(os.path.join(HERE, name), data)


def bad(name, data):
    put(os.path.join(BAD, name), data)


def npy_v1(header, data=b""):
    """A .npy v1 file with the given header dict text (padded like numpy)."""
    h = header.encode()
    pad = (64 - (10 + len(h) + 1) % 64) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


def convert(args, out):
    if out.endswith(".png"):  # no date/time chunks: the same bytes on every run
        args = args + ["-define", "png:exclude-chunks=date,time"]
    subprocess.run(["convert"] + args + [out], check=True)


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def main():
    os.makedirs(BAD, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="qp_fix")
    ppm_path, pgm_path, pgm1_path = (os.path.join(tmp, n) for n in ("a.ppm", "b.pgm", "c.pgm"))

    # ---- good .npy files written by numpy itself ----
    np.save(os.path.join(HERE, "np_f32_2x3.npy"), (np.arange(6, dtype="<f4").reshape(2, 3) * 0.5 - 1))
    np.save(os.path.join(HERE, "np_be_i16.npy"), np.array([1, -2, 300], dtype=">i2"))
    np.save(os.path.join(HERE, "np_f16.npy"), np.array([1.0, -2.5, 65504.0, 2.0**-24], dtype="<f2"))
    np.save(os.path.join(HERE, "np_bool.npy"), np.array([True, False, True]))
    np.save(os.path.join(HERE, "np_scalar_f64.npy"), np.float64(3.25))
    np.save(os.path.join(HERE, "np_be_f8.npy"), np.array([[0.1, -7.0]], dtype=">f8"))
    with open(os.path.join(HERE, "np_u8_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, np.arange(4, dtype="u1").reshape(1, 4), version=(2, 0))
    with open(os.path.join(HERE, "np_i64_v3.npy"), "wb") as f:
        np.lib.format.write_array(f, np.array([-(2**40), 7], dtype="<i8"), version=(3, 0))
    # an image-shaped input for the sample loader: 1x2x2x3 uint8 (NHWC)
    np.save(os.path.join(HERE, "np_u8_1x2x2x3.npy"), np.arange(12, dtype="u1").reshape(1, 2, 2, 3))

    # ---- good .tensor dump: an Acuity name carrying the shape 1x2x3 ----
    good("iter_0_attach_Concat_Concat_303_out0_0_out0_1_2_3.tensor",
         "0.5\n-1.25\n3\n1e-3\n  2.5  \r\n-0\n")

    # ---- good images (exact pixels, lossless) ----
    ppm = "P3\n4 2\n255\n" "255 0 0  0 255 0  0 0 255  255 255 255\n" "0 0 0  10 20 30  100 150 200  7 8 9\n"
    put(ppm_path, ppm)
    convert([ppm_path, "-define", "png:color-type=2"], os.path.join(HERE, "img_rgb_4x2.png"))
    convert([ppm_path, "-define", "png:color-type=6", "-alpha", "set", "-channel", "A",
             "-evaluate", "set", "50%", "+channel"], os.path.join(HERE, "img_rgba_4x2.png"))
    convert([ppm_path, "-depth", "16", "-define", "png:bit-depth=16"],
            os.path.join(HERE, "img_rgb16_4x2.png"))
    convert([ppm_path, "-interlace", "PNG", "-define", "png:color-type=2"],
            os.path.join(HERE, "img_interlaced_4x2.png"))
    convert([ppm_path, "-define", "png:color-type=3"], os.path.join(HERE, "img_palette_4x2.png"))
    put(pgm_path, "P2\n3 1\n255\n0 128 255\n")
    convert([pgm_path, "-define", "png:color-type=0"], os.path.join(HERE, "img_gray_3x1.png"))
    put(pgm1_path, "P2\n4 1\n255\n0 255 0 255\n")
    convert([pgm1_path, "-define", "png:bit-depth=1", "-define", "png:color-type=0"],
            os.path.join(HERE, "img_gray1_4x1.png"))
    # JPEG: lossy, so flat colours (decoded within a few levels)
    convert(["-size", "16x8", "xc:rgb(200,100,50)", "-quality", "95"], os.path.join(HERE, "img_rgb_16x8.jpg"))
    convert(["-size", "8x8", "xc:gray(120)", "-colorspace", "Gray", "-quality", "95"],
            os.path.join(HERE, "img_gray_8x8.jpg"))
    convert(["-size", "16x16", "xc:rgb(10,200,90)", "-interlace", "JPEG", "-quality", "95"],
            os.path.join(HERE, "img_progressive_16x16.jpg"))

    # ---- input meta + dataset list fixtures ----
    good("meta_ok.yml", """%YAML 1.2
---
# !!!This file disallow TABs!!!
input_meta:
  databases:
  - path: list_ok.txt
    type: TEXT
    ports:
    - lid: images_208
      category: image
      dtype: float32
      sparse: false
      tensor_name:
      layout: nchw
      shape:
      - 1
      - 3
      - 2
      - 4
      fitting: scale
      preprocess:
        reverse_channel: true
        mean:
        - 0
        - 0
        - 0
        scale:
        - 0.00392157
        - 0.00392157
        - 0.00392157
        preproc_node_params:
          add_preproc_node: false
          preproc_type: IMAGE_RGB
          # preproc_dtype_converter:
            # quantizer: asymmetric_affine
          preproc_image_size:
          - 2
          - 4
          preproc_crop:
            enable_preproc_crop: false
            crop_rect:
            - 0
            - 0
            - 4
            - 2
          preproc_perm:
          - 0
          - 1
          - 2
          - 3
      redirect_to_output: false
""")
    # BOM, CRLF, trailing blanks and a blank line: all tolerated
    good("list_ok.txt", "\ufeffimg_rgb_4x2.png  \r\n\r\nimg_rgb_16x8.jpg\r\n")
    good("list_two.txt", "np_f32_2x3.npy img_rgb_4x2.png\n")

    # ---- bad .npy ----
    f32 = struct.pack("<6f", *range(6))
    bad("npy_bad_magic.npy", b"\x93NUMPX\x01\x00" + npy_v1("{}")[8:])
    bad("npy_bad_version.npy", b"\x93NUMPY\x04\x00" + npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", f32)[8:])
    bad("npy_header_past_eof.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 1000) + b"{'descr': '<f4'")
    bad("npy_v2_short.npy", b"\x93NUMPY\x02\x00\x10")
    bad("npy_pickle.npy", npy_v1("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\x80\x04N."))
    bad("npy_descr_unicode.npy", npy_v1("{'descr': '<U2', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8))
    bad("npy_fortran.npy", npy_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f32))
    bad("npy_negative_shape.npy", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 6), }", f32))
    bad("npy_overflow_shape.npy", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", f32))
    bad("npy_data_short.npy", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", f32))
    bad("npy_trailing.npy", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32 + b"\0\0"))
    bad("npy_structured.npy", npy_v1("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", f32))
    bad("npy_bad_header.npy", npy_v1("{'descr': '<f4', 'fortran_order': False 'shape': (6,), }", f32))
    bad("npy_rank9.npy", npy_v1("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", b"\1"))
    bad("npy_bool_value.npy", npy_v1("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", b"\1\2"))
    bad("npy_missing_key.npy", npy_v1("{'descr': '<f4', 'shape': (6,), }", f32))
    h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }"
    bad("npy_no_newline.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + f32)

    # ---- bad .tensor ----
    bad("tensor_not_number.tensor", "1.0\nabc\n3\n")
    bad("tensor_nan.tensor", "1\n2\nnan\n")
    bad("tensor_inf.tensor", "-inf\n")
    bad("tensor_overflow.tensor", "1\n1e39\n")
    bad("tensor_empty.tensor", "")
    bad("tensor_blank_line.tensor", "1\n\n2\n")
    bad("tensor_nul.tensor", b"1\n2\0\n")
    bad("tensor_hex.tensor", "0x10\n")
    bad("tensor_two_per_line.tensor", "1 2\n")
    bad("tensor_count_out0_2_3.tensor", "1\n2\n3\n4\n5\n")

    # ---- bad images ----
    png = open(os.path.join(HERE, "img_rgb_4x2.png"), "rb").read()
    idat = png.index(b"IDAT")
    bad("img_truncated.png", png[: idat + 10])
    bad("img_no_iend.png", png[:-12])
    crc = bytearray(png)
    idat_len = struct.unpack(">I", png[idat - 4: idat])[0]
    crc[idat + 4 + idat_len] ^= 0xFF  # first byte of the IDAT CRC
    bad("img_bad_crc.png", bytes(crc))
    jpg = open(os.path.join(HERE, "img_rgb_16x8.jpg"), "rb").read()
    bad("img_truncated.jpg", jpg[: len(jpg) * 2 // 3])
    convert(["-size", "8x8", "xc:cmyk(10%,20%,30%,40%)", "-colorspace", "CMYK"], os.path.join(BAD, "img_cmyk.jpg"))
    wide = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 16385, 1, 8, 0, 0, 0, 0))
    wide += png_chunk(b"IDAT", zlib.compress(b"\0" * 16386, 9))
    bad("img_too_wide.png", b"\x89PNG\r\n\x1a\n" + wide + png_chunk(b"IEND", b""))
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0))
    bad("img_too_many_pixels.png", b"\x89PNG\r\n\x1a\n" + ihdr + png_chunk(b"IDAT", zlib.compress(b"\0" * 8))
        + png_chunk(b"IEND", b""))
    sof = jpg.index(b"\xff\xc0")  # baseline SOF0: FFC0 len(2) precision(1) height(2) width(2)
    huge = bytearray(jpg)
    huge[sof + 5: sof + 9] = struct.pack(">HH", 60000, 60000)
    bad("img_huge.jpg", bytes(huge))
    convert(["-size", "2x2", "xc:red"], os.path.join(BAD, "img_gif.gif"))
    bad("img_empty.png", b"")
    bad("img_text.jpg", "not an image\n")

    # ---- bad dataset lists (the input-meta module reads them) ----
    bad("meta_list_empty.txt", "")
    bad("meta_list_blank.txt", "\ufeff  \r\n\n")
    bad("meta_list_missing.txt", "../tensors/img_rgb_4x2.png\nno_such_image.jpg\n")
    bad("meta_list_dir.txt", "../tensors\n")
    bad("meta_list_nul.txt", b"../tensors/img_rgb_4x2.png\n../tensors/img\0.png\n")
    bad("meta_list_long.txt", "a" * 5000 + "\n")
    bad("meta_list_count.txt", "../tensors/img_rgb_4x2.png ../tensors/img_rgb_16x8.jpg\n")

    # ---- bad input-meta YAML: each a small change of a minimal valid file ----
    base = """input_meta:
  databases:
  - path: list.txt
    type: TEXT
    ports:
    - lid: images_208
      category: image
      layout: nchw
      shape: [1, 3, 4, 4]
      preprocess:
        reverse_channel: false
        mean: [0, 0, 0]
        scale: 0.5
"""
    good("meta_min.yml", base)

    def meta(name, old, new):
        assert old in base, old
        bad(name, base.replace(old, new, 1))

    meta("meta_syntax.yml", "shape: [1, 3, 4, 4]", "shape: [1, 3, 4, 4")
    meta("meta_tab.yml", "      layout: nchw", "      layout:\tnchw")
    meta("meta_dup_key.yml", "        scale: 0.5\n", "        scale: 0.5\n        mean: [1, 1, 1]\n")
    meta("meta_anchor.yml", "mean: [0, 0, 0]", "mean: &m [0, 0, 0]")
    meta("meta_alias.yml", "mean: [0, 0, 0]", "mean: *m")
    meta("meta_tag.yml", "scale: 0.5", "scale: !!float 0.5")
    bad("meta_two_docs.yml", base + "---\n" + base)
    meta("meta_unknown_key.yml", "reverse_channel: false", "revers_channel: false")
    meta("meta_bool_type.yml", "reverse_channel: false", "reverse_channel: yes")
    meta("meta_num_type.yml", "scale: 0.5", "scale: half")
    meta("meta_trailing.yml", "scale: 0.5", "scale: 0.5x")
    meta("meta_quoted_num.yml", "scale: 0.5", "scale: '0.5'")
    meta("meta_nan.yml", "scale: 0.5", "scale: .nan")
    meta("meta_inf.yml", "mean: [0, 0, 0]", "mean: [0, .inf, 0]")
    meta("meta_erange.yml", "mean: [0, 0, 0]", "mean: [0, 1e999, 0]")
    meta("meta_mean_len.yml", "mean: [0, 0, 0]", "mean: [0, 0]")
    meta("meta_scale_zero.yml", "scale: 0.5", "scale: 0")
    meta("meta_shape_zero.yml", "shape: [1, 3, 4, 4]", "shape: [1, 3, 0, 4]")
    meta("meta_shape_type.yml", "shape: [1, 3, 4, 4]", "shape: 640")
    meta("meta_int_range.yml", "shape: [1, 3, 4, 4]", "shape: [1, 3, 99999999999999999999, 4]")
    meta("meta_missing_lid.yml", "    - lid: images_208\n      category: image\n", "    - category: image\n")
    meta("meta_bad_dbtype.yml", "type: TEXT", "type: CSV")
    meta("meta_bad_layout.yml", "layout: nchw", "layout: chw")
    bad("meta_reverse_2d.yml", base.replace("shape: [1, 3, 4, 4]", "shape: [1, 12]")
        .replace("mean: [0, 0, 0]", "mean: [0]").replace("reverse_channel: false", "reverse_channel: true"))
    bad("meta_empty.yml", "")
    bad("meta_not_map.yml", "- input_meta\n")
    bad("meta_dup_lid.yml", base + base.split("ports:\n")[1])
    bad("meta_deep.yml", "input_meta: " + "[" * 40 + "]" * 40 + "\n")
    bad("meta_bad_utf8.yml", base.encode().replace(b"images_208", b"images_\xff\xfe"))
    for n in (ppm_path, pgm_path, pgm1_path):
        os.remove(n)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
