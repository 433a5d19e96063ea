/* float32 2-D pooling, NCHW: the caller owns the tensors; nothing here allocates, prints or
 * keeps a pointer, and no scratch is needed. */
#ifndef QP_POOL_F32_H
#define QP_POOL_F32_H
#include <stddef.h>

#include "qp/vmath.h"

/* X [n, c, h, w] -> Y [n, c, oh, ow].  The op layer computes oh/ow (floor or ceil_mode) and
 * passes explicit pads; window positions past the padded input (ceil_mode) are skipped.
 * MaxPool: taps outside the input are ignored (a window with none gives -FLT_MAX, as
 * onnxruntime).  AveragePool: count_include_pad counts the taps inside the padded input
 * [-pad_begin, size + pad_end), else only those inside the input. */
typedef struct qp_pool2d_f32_params {
    int n, c, h, w;
    int oh, ow;
    int kh, kw;
    int stride_h, stride_w;
    int dil_h, dil_w;
    int pad_top, pad_left, pad_bottom, pad_right;
    int count_include_pad;
} qp_pool2d_f32_params;

/* 0 if the kernels accept the shape (positive sizes, every window starts inside the padded
 * input). */
int qp_pool2d_f32_check(const qp_pool2d_f32_params *p);

void qp_maxpool2d_f32(const qp_pool2d_f32_params *p, const float *x, float *y);
void qp_avgpool2d_f32(const qp_pool2d_f32_params *p, const float *x, float *y);
void qp_maxpool2d_f32__ref(const qp_pool2d_f32_params *p, const float *x, float *y);
void qp_avgpool2d_f32__ref(const qp_pool2d_f32_params *p, const float *x, float *y);

/* y[i] = mean (max) of x[i*hw .. i*hw + hw) for i < nc (nc = n*c planes).  The mean sums in a
 * fixed order (32 interleaved partial sums on AVX2, 4 on the portable path), so it is
 * deterministic but rounds differently from the sequential __ref. */
void qp_global_avgpool_f32(size_t nc, size_t hw, const float *x, float *y);
void qp_global_maxpool_f32(size_t nc, size_t hw, const float *x, float *y);

/* Plane kernels: one input plane to one output plane.  X(name, isa) lists them:
 * qp_maxpool2d_f32_plane__<name>, qp_global_{avg,max}pool_f32_plane__<name> (the global
 * ones reduce one plane of hw floats to a float). */
typedef void (*qp_pool2d_f32_plane_fn)(const qp_pool2d_f32_params *p, const float *x, float *y);
typedef float (*qp_global_pool_f32_plane_fn)(size_t hw, const float *x);
#define QP_POOL_F32_VARIANTS(X) \
    X(ref, QP_ISA_REF)          \
    X(scalar, QP_ISA_SCALAR)    \
    QP_IF_AVX2(X(avx2, QP_ISA_AVX2))
#define QP_POOL_F32_DECLARE_(name, isa)                                                       \
    void qp_maxpool2d_f32_plane__##name(const qp_pool2d_f32_params *p, const float *x,       \
                                        float *y);                                          \
    float qp_global_avgpool_f32_plane__##name(size_t hw, const float *x);                   \
    float qp_global_maxpool_f32_plane__##name(size_t hw, const float *x);
QP_POOL_F32_VARIANTS(QP_POOL_F32_DECLARE_)

#endif
