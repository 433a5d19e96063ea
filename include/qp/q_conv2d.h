/* Quantized 2-D convolution and transposed convolution, NCHW, 8-bit (u8/i8 activations, i8
 * weights, int32 bias) and 16-bit (i16 x i16, int64 bias): the caller owns the tensors, the
 * packed weights, the multipliers and the scratch; nothing here allocates, prints or keeps a
 * pointer after returning.
 *
 * y[b][o][oy][ox] = requant_o(bias[o] + sum over the group's input channels ci and taps (i, j)
 *                   of w[o][ci][i][j] * (x[b][ci][iy][ix] - zp_x)),
 *   iy = oy * stride_h - pad_top + i * dil_h (likewise ix);  a tap outside the input is
 *   padding with the input zero point, so it contributes exactly 0 (a padded tap is 0 real).
 * requant_o and the accumulator rules are qp/requant.h sections 4 and 5 (multiplier
 * mul[o] = s_x * s_w[o] / s_y).  Results are bit-identical on every path and thread count. */
#ifndef QP_Q_CONV2D_H
#define QP_Q_CONV2D_H
#include <stddef.h>
#include <stdint.h>

#include "qp/requant.h"
#include "qp/vmath.h"

/* Shapes as conv_f32: X [n, c, h, w], W [m, c/group, kh, kw], Y [n, m, oh, ow] with
 *   oh = (h + pad_top + pad_bottom - dil_h*(kh-1) - 1) / stride_h + 1 (likewise ow).
 * ConvTranspose: W [c, m/group, kh, kw],
 *   oh = stride_h*(h-1) + output_padding_h + dil_h*(kh-1) + 1 - pad_top - pad_bottom. */
typedef struct qp_conv2d_q_params {
    int n;
    int c, h, w;
    int m, oh, ow;
    int kh, kw;
    int group;
    int stride_h, stride_w;
    int dil_h, dil_w;
    int pad_top, pad_left, pad_bottom, pad_right;
} qp_conv2d_q_params;

/* The integer side of a layer. */
typedef struct qp_conv2d_q_quant {
    qp_qtype x_type;        /* u8 or i8 (8-bit), i16 (16-bit, x_zp 0) */
    int32_t x_zp;
    qp_qtype y_type;        /* u8, i8 or i16 */
    int32_t y_zp, y_lo, y_hi; /* output zero point and clamp (fused ReLU/ReLU6) */
    const qp_qmul *mul;     /* m multipliers */
    const void *bias;       /* m int32_t (8-bit) or int64_t (16-bit), or NULL */
} qp_conv2d_q_quant;

/* 0 if the kernels accept the shape / the quantization (K = c/group*kh*kw <= 65536 for
 * 8-bit); the op layer reports errors, kernels only assert. */
int qp_conv2d_q_check(const qp_conv2d_q_params *p);
int qp_convtranspose2d_q_check(const qp_conv2d_q_params *p);
int qp_conv2d_q_quant_check(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, int bits);

/* Paths, chosen from the shape alone:
 *   1x1, stride 1, no pad: q_gemm per group on X itself;
 *   depthwise (c/group == 1): direct kernel per channel plane (AVX2: the plane copied once
 *     into scratch padded with the zero point; 8-bit taps paired into vpmaddwd);
 *   otherwise: q_gemm with B panels packed straight from X (implicit im2col, zp subtracted,
 *     pads 0), so scratch is one K x 16 panel per worker. */
typedef enum qp_conv2d_q_path {
    QP_CONV_Q_PATH_REF = 0,
    QP_CONV_Q_PATH_GEMM_1X1,
    QP_CONV_Q_PATH_DEPTHWISE,
    QP_CONV_Q_PATH_IM2COL,
    QP_CONV_Q_PATH_COUNT
} qp_conv2d_q_path;
qp_conv2d_q_path qp_conv2d_q_path_of(const qp_conv2d_q_params *p);

/* Packed weights (ISA-independent; keeps a copy of W for the reference path). */
size_t qp_conv2d_q8_packed_size(const qp_conv2d_q_params *p);
void qp_conv2d_q8_pack(const qp_conv2d_q_params *p, const int8_t *w, void *packed);
size_t qp_conv2d_q16_packed_size(const qp_conv2d_q_params *p);
void qp_conv2d_q16_pack(const qp_conv2d_q_params *p, const int16_t *w, void *packed);
/* Scratch bytes for a call with at most n_workers pool workers (qp_threads_count()). */
size_t qp_conv2d_q_scratch_size(const qp_conv2d_q_params *p, int n_workers);

/* QP_KERNELS=ref runs the __ref. */
void qp_conv2d_q8(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, const void *packed,
                  const void *x, void *y, void *scratch);
void qp_conv2d_q16(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, const void *packed,
                   const void *x, void *y, void *scratch);

/* The specification: the direct seven-loop sum, in int64, over unpacked W. */
void qp_conv2d_q8__ref(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                       const int8_t *w, const void *x, void *y);
void qp_conv2d_q16__ref(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                        const int16_t *w, const void *x, void *y);

/* ConvTranspose: y[b][o][oy][ox] = requant_o(bias + sum over ci of the group and taps (i, j)
 * with oy = iy*stride_h - pad_top + i*dil_h for an integer iy in [0, h) (likewise ox) of
 * w[ci][o % (m/group)][i][j] * (x[b][ci][iy][ix] - zp_x)).  The fast version gathers the same
 * sums per output channel on the pool (no scratch, W unpacked). */
void qp_convtranspose2d_q8(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                           const int8_t *w, const void *x, void *y);
void qp_convtranspose2d_q16(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                            const int16_t *w, const void *x, void *y);
void qp_convtranspose2d_q8__ref(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                                const int8_t *w, const void *x, void *y);
void qp_convtranspose2d_q16__ref(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                                 const int16_t *w, const void *x, void *y);

/* Depthwise plane kernels: every output row of one channel.  X(name, isa) lists them for
 * dispatch and the checker: qp_dwconv2d_q_plane__<name>.  The AVX2 one first copies the input
 * plane into scratch padded with the zero point, so every tap is a plain load. */
typedef struct qp_dwconv2d_q_plane_args {
    const void *x;           /* the input plane (h x w) */
    qp_qtype x_type;
    int32_t x_zp;
    int h, w, oh, ow;
    int kh, kw, sh, sw, dh, dw, pad_top, pad_left;
    const int32_t *wgt;      /* kh*kw weights of this channel, widened */
    int64_t bias;
    int bits;                /* 8: acc rule int32; 16: int64 */
    qp_qmul mul;
    qp_qtype y_type;
    int32_t y_zp, y_lo, y_hi;
    void *y;                 /* the output plane (oh x ow) */
    void *scratch;           /* qp_dwconv2d_q_plane_scratch bytes, 64-byte aligned */
} qp_dwconv2d_q_plane_args;
size_t qp_dwconv2d_q_plane_scratch(const qp_conv2d_q_params *p);
/* The padded plane: row py holds input row py - pad_top, element px input column px - pad_left
 * (zp outside the input); qp_dwconv2d_q_pad_rows x qp_dwconv2d_q_pad_cols elements. */
static inline size_t qp_dwconv2d_q_pad_cols(int ow, int sw, int kw, int dw)
{
    return (size_t)(ow + 16) * (size_t)sw + (size_t)(kw - 1) * (size_t)dw + 32;
}
static inline size_t qp_dwconv2d_q_pad_rows(int oh, int sh, int kh, int dh)
{
    return (size_t)(oh - 1) * (size_t)sh + (size_t)(kh - 1) * (size_t)dh + 1;
}
typedef void (*qp_dwconv2d_q_plane_fn)(const qp_dwconv2d_q_plane_args *a);
#define QP_DWCONV2D_Q_VARIANTS(X) \
    X(scalar, QP_ISA_SCALAR)      \
    QP_IF_AVX2(X(avx2, QP_ISA_AVX2))
#define QP_DWCONV2D_Q_DECLARE_(name, isa) \
    void qp_dwconv2d_q_plane__##name(const qp_dwconv2d_q_plane_args *a);
QP_DWCONV2D_Q_VARIANTS(QP_DWCONV2D_Q_DECLARE_)
typedef struct qp_dwconv2d_q_variant {
    const char *name;
    qp_isa isa;
    qp_dwconv2d_q_plane_fn fn;
} qp_dwconv2d_q_variant;
extern const qp_dwconv2d_q_variant qp_dwconv2d_q_variants[];
extern const size_t qp_dwconv2d_q_n_variants;
/* For the checker: force one (NULL restores the choice by ISA). */
void qp_dwconv2d_q_force(const qp_dwconv2d_q_variant *v);

/* Implicit im2col: B panels for q_gemm (qp_gemm_q_pack_b_fn) straight from X.  ctx is a
 * qp_im2col_q_ctx; row k = (ci, i, j) of the panel holds x - zp at the tap, 0 for padding.
 * X(name, isa) lists them: qp_im2col_q_pack__<name>. */
typedef struct qp_im2col_q_ctx {
    const qp_conv2d_q_params *p;
    const void *x; /* the group's first input channel */
    qp_qtype type;
    int32_t zp;
} qp_im2col_q_ctx;
#define QP_IM2COL_Q_VARIANTS(X) \
    X(scalar, QP_ISA_SCALAR)    \
    QP_IF_AVX2(X(avx2, QP_ISA_AVX2))
#define QP_IM2COL_Q_DECLARE_(name, isa) \
    void qp_im2col_q_pack__##name(const void *ctx, size_t n0, size_t nc, size_t K, int16_t *dst);
QP_IM2COL_Q_VARIANTS(QP_IM2COL_Q_DECLARE_)

#endif
