/* Images: a qp_image owns its pixel buffer (malloc'd by the decoders and by
 * qp_image_resize) and qp_image_free releases it.  PNG (libpng) and JPEG
 * (libjpeg-turbo) decode to 8-bit RGB; preprocessing turns an image into the float32
 * input of a model port as Acuity does: resize, optional RGB->BGR, (x - mean) * scale. */
#ifndef QP_IMAGE_H
#define QP_IMAGE_H
#include <stddef.h>
#include <stdint.h>

#include "qp/tensorio.h"

/* Checked from the file header, before any pixel memory is allocated. */
#define QP_IMAGE_MAX_SIDE 16384
#define QP_IMAGE_MAX_PIXELS ((int64_t)1 << 26) /* 8192 x 8192 */
#define QP_IMAGE_MAX_FILE ((size_t)256 << 20)

typedef struct qp_image {
    int width, height;
    unsigned char *rgb; /* height rows of width RGB triplets, no padding */
} qp_image;

/* Decodes by content (magic bytes), whatever the extension.  Gray becomes R=G=B;
 * an alpha channel is dropped (not composited); 16-bit samples are scaled to 8 bits
 * (v * 255 / 65535, rounded); palettes are expanded; interlaced PNG is supported.
 * Rejected (QP_EINPUT, "cannot read 'x.jpg': <reason>"): other formats, CMYK/YCCK
 * JPEG, a side above QP_IMAGE_MAX_SIDE or more than QP_IMAGE_MAX_PIXELS pixels,
 * truncated or corrupt data (libjpeg warnings such as "premature end" are errors). */
int qp_image_read(const char *path, qp_image *out);
int qp_image_decode(const void *buf, size_t n, const char *name, qp_image *out);
void qp_image_free(qp_image *img);

/* Bilinear resize with half-pixel centres (OpenCV INTER_LINEAR without antialias):
 * for destination column dx, fx = (dx + 0.5) * src_w / dst_w - 0.5, x0 = floor(fx),
 * a = fx - x0; a border sample is repeated (x0 < 0 gives x0 = 0, a = 0; x0 >= src_w - 1
 * gives x0 = src_w - 1, a = 0); the same for rows with b; then
 * v = (1-a)(1-b) p[y0][x0] + a(1-b) p[y0][x0+1] + (1-a)b p[y0+1][x0] + ab p[y0+1][x0+1]
 * in double, stored as floor(v + 0.5).  Equal sizes copy exactly. */
int qp_image_resize(const qp_image *src, int width, int height, qp_image *dst);

/* Channel normalisation: reverse the channel axis if asked, then
 * y[c] = (x[c] - mean[c]) * scale[c]; a list of one value applies to every channel. */
typedef struct qp_norm {
    int reverse_channel;
    int n_mean;
    const double *mean;  /* n_mean values: 1 or the channel count; NULL means 0 */
    int n_scale;
    const double *scale; /* n_scale values: 1 or the channel count; NULL means 1 */
} qp_norm;

/* In place on float32 data of the given shape; axis is the channel axis, or -1 for a
 * tensor without one (then mean/scale must have one value and reverse_channel be 0).
 * QP_EUSAGE if a list length is neither 1 nor the channel count. */
int qp_image_normalize(float *data, int rank, const int64_t *dims, int axis, const qp_norm *n);

/* A decoded image to the float32 input of a port: resize to height x width, then
 * 3 channels as RGB (BGR with reverse_channel) or 1 channel as BT.601 luma
 * 0.299 R + 0.587 G + 0.114 B, then the normalisation above; written to out in layout
 * (QP_LAYOUT_NCHW: [c][y][x], QP_LAYOUT_NHWC: [y][x][c]), channels*height*width floats. */
int qp_image_preprocess(const qp_image *img, int layout, int height, int width, int channels,
                        const qp_norm *n, float *out);

#endif
