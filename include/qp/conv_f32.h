/* float32 2-D convolution and transposed convolution, NCHW: the caller owns the tensors, the
 * packed weights and the scratch; nothing here allocates, prints or keeps a pointer. */
#ifndef QP_CONV_F32_H
#define QP_CONV_F32_H
#include <stddef.h>

#include "qp/vmath.h"

/* Shapes.  Conv: X [n, c, h, w], W [m, c/group, kh, kw], Y [n, m, oh, ow] with
 *   oh = (h + pad_top + pad_bottom - dil_h*(kh-1) - 1) / stride_h + 1 (likewise ow).
 * ConvTranspose: X [n, c, h, w], W [c, m/group, kh, kw], Y [n, m, oh, ow] with
 *   oh = stride_h*(h-1) + output_padding_h + dil_h*(kh-1) + 1 - pad_top - pad_bottom.
 * The op layer resolves auto_pad and output_shape into explicit pads and passes oh/ow; the
 * kernels check them.  1-D convolutions map to h = kh = 1. */
typedef struct qp_conv2d_f32_params {
    int n;
    int c, h, w;
    int m, oh, ow;
    int kh, kw;
    int group;
    int stride_h, stride_w;
    int dil_h, dil_w;
    int pad_top, pad_left, pad_bottom, pad_right;
} qp_conv2d_f32_params;

/* Checks sizes, divisibility by group and the output-size formula; 0 if the kernels accept
 * the shape (the op layer reports the error; kernels only assert). */
int qp_conv2d_f32_check(const qp_conv2d_f32_params *p);
int qp_convtranspose2d_f32_check(const qp_conv2d_f32_params *p);

/* Paths, chosen from the shape alone (qp_conv2d_f32_path_of tells which):
 *   depthwise (c/group == 1, any multiplier m/group, kw <= QP_DWCONV2D_KW_MAX): a direct
 *     kernel over a zero-padded, stride-phase-split copy of a few input rows (AVX2: every
 *     k/s/d, with 3x3 vertical-stride-1 rows keeping weights in registers);
 *   1x1, stride 1, no pad: GEMM per group on X itself;
 *   otherwise: GEMM whose B panels are filled straight from X (implicit im2col).
 * Scratch for the GEMM paths is one L2-sized packed block per worker, or for narrow outputs
 * (few pixels, large c*kh*kw) the whole packed B shared by all workers, at most 8 MiB. */
typedef enum qp_conv2d_f32_path {
    QP_CONV_PATH_REF = 0,
    QP_CONV_PATH_GEMM_1X1,
    QP_CONV_PATH_DEPTHWISE,
    QP_CONV_PATH_IM2COL,
    QP_CONV_PATH_COUNT
} qp_conv2d_f32_path;
qp_conv2d_f32_path qp_conv2d_f32_path_of(const qp_conv2d_f32_params *p);

/* Weights are packed once per layer (layout depends on the path and on the ISA in force). */
size_t qp_conv2d_f32_packed_size(const qp_conv2d_f32_params *p);
void qp_conv2d_f32_pack(const qp_conv2d_f32_params *p, const float *w, void *packed);
/* Bytes of scratch for a call with at most n_workers pool workers (pass qp_threads_count()). */
size_t qp_conv2d_f32_scratch_size(const qp_conv2d_f32_params *p, int n_workers);
/* Y = act(conv(X, W) + bias) (bias: m values or NULL).  Byte-identical for any QP_THREADS. */
void qp_conv2d_f32(const qp_conv2d_f32_params *p, const void *packed, const float *bias,
                   qp_act act, const float *x, float *y, void *scratch);
/* The specification: the direct seven-loop sum over unpacked W, in (c, i, j) order. */
void qp_conv2d_f32__ref(const qp_conv2d_f32_params *p, const float *w, const float *bias,
                        qp_act act, const float *x, float *y);

/* ConvTranspose: per group a GEMM cols = W_g^T . X_g over tiles of input pixels, then col2im
 * scatter-adds the tile into Y (parallel over output channels, so each Y element is summed in
 * a fixed order), then the activation. */
size_t qp_convtranspose2d_f32_packed_size(const qp_conv2d_f32_params *p);
void qp_convtranspose2d_f32_pack(const qp_conv2d_f32_params *p, const float *w, void *packed);
size_t qp_convtranspose2d_f32_scratch_size(const qp_conv2d_f32_params *p, int n_workers);
void qp_convtranspose2d_f32(const qp_conv2d_f32_params *p, const void *packed, const float *bias,
                            qp_act act, const float *x, float *y, void *scratch);
void qp_convtranspose2d_f32__ref(const qp_conv2d_f32_params *p, const float *w,
                                 const float *bias, qp_act act, const float *x, float *y);

/* Depthwise row kernels: out_rows rows of one output channel from the prepared input block
 * (rows of sw phases, each pw floats: phase q, element e holds input column e*sw + q - pad_left
 * or 0, with pw >= round_up(ow, 8) + 8 + (kw-1)*dw/sw, so a tap reads contiguous floats and
 * a vector may run up to 15 past ow).  Weights kh*kw, kw <= QP_DWCONV2D_KW_MAX; each output is
 * bias + the taps in (i, j) order.  X(name, isa) lists them: qp_dwconv2d_f32_rows__<name>. */
#define QP_DWCONV2D_KW_MAX 32
typedef struct qp_dwconv2d_f32_rows_args {
    const float *in;   /* first input row of the block */
    size_t in_row;     /* floats between input rows of the block (sw * pw) */
    size_t pw;         /* floats per phase */
    int out_rows, ow;
    int kh, kw, sh, sw, dh, dw;
    const float *wgt;  /* kh*kw weights of this channel */
    float bias;
    unsigned clamp;    /* apply min(max(v, lo), hi) */
    float lo, hi;
    float *out;
    size_t ldy;
} qp_dwconv2d_f32_rows_args;
typedef void (*qp_dwconv2d_f32_rows_fn)(const qp_dwconv2d_f32_rows_args *a);
#define QP_DWCONV2D_F32_VARIANTS(X) \
    X(scalar, QP_ISA_SCALAR)        \
    QP_IF_AVX2(X(avx2, QP_ISA_AVX2))
#define QP_DWCONV2D_F32_DECLARE_(name, isa) \
    void qp_dwconv2d_f32_rows__##name(const qp_dwconv2d_f32_rows_args *a);
QP_DWCONV2D_F32_VARIANTS(QP_DWCONV2D_F32_DECLARE_)

#endif
