/* Quantized 2-D pooling, NCHW, u8/i8/i16: the caller owns the tensors; nothing here
 * allocates, prints or keeps a pointer, and no scratch is needed.
 *
 * MaxPool: the output has the input's parameters; taps outside the input are ignored (a
 *   window with none, possible only in ceil mode, gives the type's minimum).
 * AveragePool: acc = sum over the taps inside the input of (q - zp_in), exact (int64; int32
 *   would do for 8-bit), then out = clamp(rtne(acc * M) + zp_out) with
 *   M = (s_in / s_out) / count as (mult, shift) (qp/requant.h section 4), count = the taps
 *   inside the padded input [-pad_begin, size + pad_end) with count_include_pad, else the
 *   taps inside the input.  A padded tap counted by count_include_pad is a 0 real.
 * GlobalAveragePool: the same with count = h * w. */
#ifndef QP_Q_POOL_H
#define QP_Q_POOL_H
#include <stddef.h>

#include "qp/requant.h"

typedef struct qp_pool2d_q_params {
    int n, c, h, w;
    int oh, ow;
    int kh, kw;
    int stride_h, stride_w;
    int dil_h, dil_w;
    int pad_top, pad_left, pad_bottom, pad_right;
    int count_include_pad;
} qp_pool2d_q_params;

/* 0 if the kernels accept the shape (positive sizes, every window starts inside the padded
 * input); avgpool also needs representable multipliers (qp_avgpool2d_q_check). */
int qp_pool2d_q_check(const qp_pool2d_q_params *p);
int qp_avgpool2d_q_check(const qp_pool2d_q_params *p, const qp_qparams *in,
                         const qp_qparams *out);

/* Fast versions run planes on the pool; QP_KERNELS=ref runs the __ref. */
void qp_maxpool2d_q(const qp_pool2d_q_params *p, qp_qtype t, const void *x, void *y);
void qp_maxpool2d_q__ref(const qp_pool2d_q_params *p, qp_qtype t, const void *x, void *y);
void qp_avgpool2d_q(const qp_pool2d_q_params *p, const qp_qparams *in, const qp_qparams *out,
                    const void *x, void *y);
void qp_avgpool2d_q__ref(const qp_pool2d_q_params *p, const qp_qparams *in,
                         const qp_qparams *out, const void *x, void *y);
/* y[i] from the plane x[i*hw .. i*hw + hw), i < nc. */
void qp_global_avgpool_q(size_t nc, size_t hw, const qp_qparams *in, const qp_qparams *out,
                         const void *x, void *y);
void qp_global_avgpool_q__ref(size_t nc, size_t hw, const qp_qparams *in,
                              const qp_qparams *out, const void *x, void *y);

#endif
