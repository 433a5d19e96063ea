/* Image decoding (libpng, libjpeg-turbo) to 8-bit RGB, bilinear resize and Acuity
 * style normalisation.  Decoders run from memory with setjmp error managers: the only
 * state touched after setjmp lives in a context owned by the caller's frame, so the
 * error path frees everything (no volatile locals needed). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "qp/diag.h"
#include "qp/image.h"

static int img_error(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int img_error(const char *name, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qp_errorf(QP_EINPUT, "cannot read '%s': %s", name, msg);
}

static int check_dims(const char *name, const char *fmt, uint64_t w, uint64_t h)
{
    if (w == 0 || h == 0)
        return img_error(name, "%s image has a zero dimension", fmt);
    if (w > QP_IMAGE_MAX_SIDE || h > QP_IMAGE_MAX_SIDE)
        return img_error(name, "%s image is %llux%llu, above the %d-pixel side limit", fmt,
                         (unsigned long long)w, (unsigned long long)h, QP_IMAGE_MAX_SIDE);
    if (w * h > (uint64_t)QP_IMAGE_MAX_PIXELS)
        return img_error(name, "%s image is %llux%llu, above the %lld-pixel limit", fmt,
                         (unsigned long long)w, (unsigned long long)h, (long long)QP_IMAGE_MAX_PIXELS);
    return QP_OK;
}

/* ---- PNG ---- */

struct png_ctx {
    const unsigned char *buf;
    size_t n, off;
    char msg[256];
    unsigned char *pix;
    png_bytep *rows;
};

static void png_on_error(png_structp png, png_const_charp msg)
{
    struct png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* benign (gamma, iCCP profile, text chunk) remarks: never printed */
    (void)msg;
}

static void png_on_read(png_structp png, png_bytep out, size_t len)
{
    struct png_ctx *c = png_get_io_ptr(png);
    if (len > c->n - c->off)
        png_error(png, "truncated file");
    memcpy(out, c->buf + c->off, len);
    c->off += len;
}

static int png_decode(struct png_ctx *c, const char *name, qp_image *out)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return qp_errorf(QP_ESYS, "cannot read '%s': out of memory", name);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return img_error(name, "bad PNG: %s", c->msg);
    }
    png_set_read_fn(png, c, png_on_read);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)8 << 20); /* text/ICC chunk bombs */
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    int rc = check_dims(name, "PNG", w, h);
    if (rc) {
        png_destroy_read_struct(&png, &info, NULL);
        return rc;
    }
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16)
        png_set_scale_16(png);
    if (color & PNG_COLOR_MASK_ALPHA)
        png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    if (interlace != PNG_INTERLACE_NONE)
        png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) {
        png_destroy_read_struct(&png, &info, NULL);
        return img_error(name, "bad PNG: unexpected row size after conversion to RGB");
    }
    c->pix = malloc((size_t)w * h * 3);
    c->rows = malloc((size_t)h * sizeof *c->rows);
    if (!c->pix || !c->rows) {
        png_destroy_read_struct(&png, &info, NULL);
        return qp_errorf(QP_ESYS, "cannot read '%s': out of memory (%ux%u image)", name, w, h);
    }
    for (png_uint_32 y = 0; y < h; y++)
        c->rows[y] = c->pix + (size_t)y * w * 3;
    png_read_image(png, c->rows);
    png_read_end(png, NULL); /* up to IEND: a file cut after the pixels is still truncated */
    png_destroy_read_struct(&png, &info, NULL);
    out->width = (int)w;
    out->height = (int)h;
    out->rgb = c->pix;
    c->pix = NULL;
    return QP_OK;
}

/* ---- JPEG ---- */

struct jpg_ctx {
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr err;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    unsigned char *pix;
};

static void jpg_on_error(j_common_ptr ci)
{
    struct jpg_ctx *c = ci->client_data;
    ci->err->format_message(ci, c->msg);
    longjmp(c->jb, 1);
}

/* Level -1 is a warning about corrupt data ("premature end of JPEG file", "extraneous
 * bytes before marker"): a calibration image must be intact, so it is an error. */
static void jpg_on_message(j_common_ptr ci, int level)
{
    if (level < 0)
        jpg_on_error(ci);
}

static void jpg_on_output(j_common_ptr ci) { (void)ci; }

static int jpg_decode(struct jpg_ctx *c, const unsigned char *buf, size_t n, const char *name,
                      qp_image *out)
{
    c->ci.err = jpeg_std_error(&c->err);
    c->err.error_exit = jpg_on_error;
    c->err.emit_message = jpg_on_message;
    c->err.output_message = jpg_on_output;
    c->ci.client_data = c;
    if (setjmp(c->jb)) {
        jpeg_destroy_decompress(&c->ci);
        return img_error(name, "bad JPEG: %s", c->msg);
    }
    jpeg_create_decompress(&c->ci);
    c->ci.client_data = c; /* jpeg_create_decompress clears the struct but for err */
    jpeg_mem_src(&c->ci, buf, (unsigned long)n);
    jpeg_read_header(&c->ci, TRUE);
    int rc = check_dims(name, "JPEG", c->ci.image_width, c->ci.image_height);
    if (rc) {
        jpeg_destroy_decompress(&c->ci);
        return rc;
    }
    switch (c->ci.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        break;
    default:
        jpeg_destroy_decompress(&c->ci);
        return img_error(name, "JPEG colour space %s is not supported (allowed: gray, YCbCr, RGB)",
                         c->ci.jpeg_color_space == JCS_CMYK ? "CMYK"
                         : c->ci.jpeg_color_space == JCS_YCCK ? "YCCK"
                                                              : "unknown");
    }
    c->ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&c->ci);
    if (c->ci.output_components != 3) {
        jpeg_destroy_decompress(&c->ci);
        return img_error(name, "bad JPEG: %d output components", c->ci.output_components);
    }
    size_t w = c->ci.output_width, h = c->ci.output_height;
    c->pix = malloc(w * h * 3);
    if (!c->pix) {
        jpeg_destroy_decompress(&c->ci);
        return qp_errorf(QP_ESYS, "cannot read '%s': out of memory (%zux%zu image)", name, w, h);
    }
    while (c->ci.output_scanline < h) {
        JSAMPROW row = c->pix + (size_t)c->ci.output_scanline * w * 3;
        jpeg_read_scanlines(&c->ci, &row, 1);
    }
    jpeg_finish_decompress(&c->ci);
    jpeg_destroy_decompress(&c->ci);
    out->width = (int)w;
    out->height = (int)h;
    out->rgb = c->pix;
    c->pix = NULL;
    return QP_OK;
}

/* ---- entry points ---- */

static const char *sniff(const unsigned char *b, size_t n)
{
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6)))
        return "a GIF image";
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4))
        return "a WebP image";
    if (n >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4)))
        return "a TIFF image";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M')
        return "a BMP image";
    if (n >= 6 && !memcmp(b, "\x93NUMPY", 6))
        return "a .npy file";
    return NULL;
}

int qp_image_decode(const void *buf, size_t n, const char *name, qp_image *out)
{
    const unsigned char *b = buf;
    memset(out, 0, sizeof *out);
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) {
        struct png_ctx c = {.buf = b, .n = n};
        int rc = png_decode(&c, name, out);
        free(c.pix);
        free(c.rows);
        return rc;
    }
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) {
        struct jpg_ctx *c = calloc(1, sizeof *c);
        if (!c)
            return qp_errorf(QP_ESYS, "cannot read '%s': out of memory", name);
        int rc = jpg_decode(c, b, n, name, out);
        free(c->pix);
        free(c);
        return rc;
    }
    const char *what = sniff(b, n);
    if (n == 0)
        return img_error(name, "empty file (expected a PNG or JPEG image)");
    return img_error(name, "%s%s; only PNG and JPEG images are supported",
                     what ? "this is " : "not a PNG or JPEG image (unknown magic bytes)",
                     what ? what : "");
}

int qp_image_read(const char *path, qp_image *out)
{
    unsigned char *buf;
    size_t n;
    memset(out, 0, sizeof *out);
    int rc = qp_tensorio_read_file(path, QP_IMAGE_MAX_FILE, &buf, &n);
    if (rc)
        return rc;
    rc = qp_image_decode(buf, n, path, out);
    free(buf);
    return rc;
}

void qp_image_free(qp_image *img)
{
    if (!img)
        return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

/* ---- resize ---- */

struct tap {
    int i0, i1;
    double a; /* weight of i1 */
};

static void taps(int src, int dst, struct tap *t)
{
    double ratio = (double)src / dst;
    for (int d = 0; d < dst; d++) {
        double f = (d + 0.5) * ratio - 0.5;
        int i = (int)floor(f);
        double a = f - i;
        if (i < 0) {
            i = 0;
            a = 0;
        }
        if (i >= src - 1) {
            i = src - 1;
            a = 0;
        }
        t[d].i0 = i;
        t[d].i1 = i + 1 < src ? i + 1 : i;
        t[d].a = a;
    }
}

int qp_image_resize(const qp_image *src, int width, int height, qp_image *dst)
{
    memset(dst, 0, sizeof *dst);
    if (width <= 0 || height <= 0 || width > QP_IMAGE_MAX_SIDE || height > QP_IMAGE_MAX_SIDE ||
        (int64_t)width * height > QP_IMAGE_MAX_PIXELS)
        return qp_errorf(QP_EUSAGE, "cannot resize to %dx%d (each side 1..%d, at most %lld pixels)",
                         width, height, QP_IMAGE_MAX_SIDE, (long long)QP_IMAGE_MAX_PIXELS);
    if (src->width <= 0 || src->height <= 0 || !src->rgb)
        return qp_errorf(QP_EUSAGE, "cannot resize an empty image");
    struct tap *tx = malloc((size_t)width * sizeof *tx), *ty = malloc((size_t)height * sizeof *ty);
    unsigned char *o = malloc((size_t)width * height * 3);
    if (!tx || !ty || !o) {
        free(tx);
        free(ty);
        free(o);
        return qp_errorf(QP_ESYS, "out of memory resizing to %dx%d", width, height);
    }
    taps(src->width, width, tx);
    taps(src->height, height, ty);
    size_t stride = (size_t)src->width * 3;
    for (int y = 0; y < height; y++) {
        const unsigned char *r0 = src->rgb + (size_t)ty[y].i0 * stride;
        const unsigned char *r1 = src->rgb + (size_t)ty[y].i1 * stride;
        double b = ty[y].a;
        for (int x = 0; x < width; x++) {
            size_t c0 = (size_t)tx[x].i0 * 3, c1 = (size_t)tx[x].i1 * 3;
            double a = tx[x].a;
            for (int c = 0; c < 3; c++) {
                double v = (1 - a) * (1 - b) * r0[c0 + c] + a * (1 - b) * r0[c1 + c] +
                           (1 - a) * b * r1[c0 + c] + a * b * r1[c1 + c];
                double r = floor(v + 0.5);
                o[((size_t)y * width + x) * 3 + c] = (unsigned char)(r < 0 ? 0 : r > 255 ? 255 : r);
            }
        }
    }
    free(tx);
    free(ty);
    dst->width = width;
    dst->height = height;
    dst->rgb = o;
    return QP_OK;
}

/* ---- normalisation ---- */

int qp_image_normalize(float *data, int rank, const int64_t *dims, int axis, const qp_norm *n)
{
    int64_t C = 1, inner = 1, outer = 1;
    if (axis >= rank || axis < -1)
        return qp_errorf(QP_EUSAGE, "channel axis %d outside a rank-%d tensor", axis, rank);
    for (int i = 0; i < rank; i++) {
        if (i < axis)
            outer *= dims[i];
        else if (i == axis)
            C = dims[i];
        else if (axis >= 0)
            inner *= dims[i];
        else
            outer *= dims[i];
    }
    if (n->n_mean != 1 && n->n_mean != C && !(n->n_mean == 0 && !n->mean))
        return qp_errorf(QP_EUSAGE, "mean has %d values, the tensor has %lld channels (give 1 or %lld)",
                         n->n_mean, (long long)C, (long long)C);
    if (n->n_scale != 1 && n->n_scale != C && !(n->n_scale == 0 && !n->scale))
        return qp_errorf(QP_EUSAGE, "scale has %d values, the tensor has %lld channels (give 1 or %lld)",
                         n->n_scale, (long long)C, (long long)C);
    if (n->reverse_channel && axis < 0)
        return qp_errorf(QP_EUSAGE, "reverse_channel needs a channel axis");
    for (int64_t o = 0; o < outer; o++) {
        float *blk = data + o * C * inner;
        if (n->reverse_channel)
            for (int64_t c = 0; c < C / 2; c++)
                for (int64_t i = 0; i < inner; i++) {
                    float t = blk[c * inner + i];
                    blk[c * inner + i] = blk[(C - 1 - c) * inner + i];
                    blk[(C - 1 - c) * inner + i] = t;
                }
        for (int64_t c = 0; c < C; c++) {
            double m = !n->mean || !n->n_mean ? 0.0 : n->mean[n->n_mean == 1 ? 0 : c];
            double s = !n->scale || !n->n_scale ? 1.0 : n->scale[n->n_scale == 1 ? 0 : c];
            for (int64_t i = 0; i < inner; i++) {
                float *p = &blk[c * inner + i];
                *p = (float)((*p - m) * s);
            }
        }
    }
    return QP_OK;
}

int qp_image_preprocess(const qp_image *img, int layout, int height, int width, int channels,
                        const qp_norm *n, float *out)
{
    if (channels != 1 && channels != 3)
        return qp_errorf(QP_EUSAGE, "an image gives 1 or 3 channels, the input has %d", channels);
    if (layout != QP_LAYOUT_NCHW && layout != QP_LAYOUT_NHWC)
        return qp_errorf(QP_EUSAGE, "unknown layout %d", layout);
    qp_image r;
    int rc = qp_image_resize(img, width, height, &r);
    if (rc)
        return rc;
    size_t hw = (size_t)width * height;
    for (size_t i = 0; i < hw; i++) {
        const unsigned char *p = r.rgb + i * 3;
        if (channels == 1) {
            out[i] = (float)(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]);
        } else if (layout == QP_LAYOUT_NCHW) {
            out[i] = p[0];
            out[hw + i] = p[1];
            out[2 * hw + i] = p[2];
        } else {
            out[i * 3] = p[0];
            out[i * 3 + 1] = p[1];
            out[i * 3 + 2] = p[2];
        }
    }
    qp_image_free(&r);
    int64_t dims[3];
    int axis;
    if (layout == QP_LAYOUT_NCHW) {
        dims[0] = channels, dims[1] = height, dims[2] = width, axis = 0;
    } else {
        dims[0] = height, dims[1] = width, dims[2] = channels, axis = 2;
    }
    return qp_image_normalize(out, 3, dims, axis, n);
}
