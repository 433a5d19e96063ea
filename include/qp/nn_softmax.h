/* Softmax and LogSoftmax of float32 data along one axis.  The caller owns every array and
 * the scratch (qp_softmax_f32_scratch_size bytes); nothing here allocates or keeps a pointer.
 * The data is viewed as [outer][n][inner] with the axis of length n; y may alias x exactly. */
#ifndef QP_NN_SOFTMAX_H
#define QP_NN_SOFTMAX_H
#include <stddef.h>

/* Bytes of scratch qp_softmax_f32 needs for this view. */
size_t qp_softmax_f32_scratch_size(size_t n, size_t inner);

/* y = exp(x - max) / sum(exp(x - max)) along the axis, or, with log set,
 * y = x - max - log(sum(exp(x - max))).  Dispatches on qp_kernels_isa(): the reference
 * for QP_KERNELS=ref, else the vectorised version built on qp_vexp_f32. */
void qp_softmax_f32(size_t outer, size_t n, size_t inner, int log, const float *x, float *y,
                    void *scratch);

/* Variants (the checker compares them on random data). */
void qp_softmax_f32__ref(size_t outer, size_t n, size_t inner, int log, const float *x, float *y,
                         void *scratch);
void qp_softmax_f32__vexp(size_t outer, size_t n, size_t inner, int log, const float *x,
                          float *y, void *scratch);

#endif
