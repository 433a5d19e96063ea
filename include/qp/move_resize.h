/* Resize (ONNX Resize 10-17 and Upsample) of a C-order array: nearest for any element size,
 * linear and cubic for float32, over any set of axes.  The caller owns x, y and the scratch;
 * nothing here allocates.
 *
 * Every axis maps output position x to an input coordinate by the coordinate transformation
 * (with length_resized = scale * length_original, as the ONNX reference computes it), then
 * nearest rounds it by the nearest mode and clamps into the input, and linear/cubic weight
 * their 2/4 neighbours (indices clamped to the edge; exclude_outside drops the outside ones
 * and renormalises).  Axes are separable: linear and cubic run one pass per changed axis. */
#ifndef QP_MOVE_RESIZE_H
#define QP_MOVE_RESIZE_H
#include <stddef.h>
#include <stdint.h>

#include "qp/vmath.h"

#define QP_RESIZE_MAX_RANK 8

typedef enum qp_resize_mode { QP_RESIZE_NEAREST = 0, QP_RESIZE_LINEAR, QP_RESIZE_CUBIC } qp_resize_mode;

typedef enum qp_resize_coord {
    QP_RESIZE_HALF_PIXEL = 0,       /* (x + 0.5) / scale - 0.5 */
    QP_RESIZE_PYTORCH_HALF_PIXEL,   /* the same, or 0 when length_resized <= 1 */
    QP_RESIZE_ALIGN_CORNERS,        /* x (in - 1) / (length_resized - 1), or 0 */
    QP_RESIZE_ASYMMETRIC,           /* x / scale */
    QP_RESIZE_TF_HALF_PIXEL_FOR_NN, /* (x + 0.5) / scale */
    QP_RESIZE_TF_CROP_AND_RESIZE    /* through roi; outside [0, in - 1]: the extrapolation value */
} qp_resize_coord;

typedef enum qp_resize_nearest {
    QP_RESIZE_ROUND_PREFER_FLOOR = 0,
    QP_RESIZE_ROUND_PREFER_CEIL,
    QP_RESIZE_FLOOR,
    QP_RESIZE_CEIL,
    QP_RESIZE_SIMPLE                /* Upsample and Resize-10: floor, or ceil when downsampling */
} qp_resize_nearest;

typedef struct qp_resize_params {
    qp_resize_mode mode;
    qp_resize_coord coord;
    qp_resize_nearest nearest;
    float cubic_a;                  /* -0.75 by default */
    int exclude_outside;
    int rank;
    int64_t in[QP_RESIZE_MAX_RANK], out[QP_RESIZE_MAX_RANK];
    double scale[QP_RESIZE_MAX_RANK];   /* > 0 */
    double roi_start[QP_RESIZE_MAX_RANK], roi_end[QP_RESIZE_MAX_RANK];  /* tf_crop_and_resize */
} qp_resize_params;

/* Bytes of scratch for qp_move_resize with these parameters (input dims below 2^31). */
size_t qp_move_resize_scratch_size(const qp_resize_params *p);
/* y = resize(x); elsize 4 (float32) for linear and cubic; extrap points to one element (the
 * extrapolation value in x's type). */
void qp_move_resize(const qp_resize_params *p, size_t elsize, const void *extrap, const void *x, void *y,
                    void *scratch);

/* Linear/cubic interpolation kernels, float32, K taps (2 or 4), weights and indices planar
 * (tap k of output j at [k * n_out + j]):
 *   rows:   y[i] = sum_k w[k] * rows[k][i] for i < n (one output row from K input rows);
 *   gather: y[o * n_out + j] = sum_k w[k * n_out + j] * x[o * n_in + idx[k * n_out + j]].
 * Sums run k = 0, 1, ... as separate multiplies and adds, so every variant rounds alike. */
typedef void (*qp_move_lerp_rows_fn)(size_t n, int K, const float *const *rows, const float *w, float *y);
typedef void (*qp_move_lerp_gather_fn)(size_t outer, size_t n_in, size_t n_out, int K, const int32_t *idx,
                                       const float *w, const float *x, float *y);
qp_move_lerp_rows_fn qp_move_lerp_rows_get(qp_isa isa);
qp_move_lerp_gather_fn qp_move_lerp_gather_get(qp_isa isa);
void qp_move_lerp_rows_f32__ref(size_t n, int K, const float *const *rows, const float *w, float *y);
void qp_move_lerp_gather_f32__ref(size_t outer, size_t n_in, size_t n_out, int K, const int32_t *idx,
                                  const float *w, const float *x, float *y);
#define QP_MOVE_LERP_VARIANTS(X) QP_IF_AVX2(X(lerp_rows_f32__avx2, lerp_gather_f32__avx2, QP_ISA_AVX2))
#define QP_MOVE_LERP_DECLARE_(rows, gather, isa)                                                         \
    void qp_move_##rows(size_t n, int K, const float *const *r, const float *w, float *y);               \
    void qp_move_##gather(size_t outer, size_t n_in, size_t n_out, int K, const int32_t *idx, const float *w, \
                          const float *x, float *y);
QP_MOVE_LERP_VARIANTS(QP_MOVE_LERP_DECLARE_)

/* y[j] = x[j / k] for j < n * k: nearest upsampling of a row by an integer factor. */
typedef void (*qp_move_repeat_fn)(size_t n, size_t k, const void *x, void *y);
qp_move_repeat_fn qp_move_repeat_get(size_t elsize, qp_isa isa);
void qp_move_repeat_4__ref(size_t n, size_t k, const void *x, void *y);
#define QP_MOVE_REPEAT_VARIANTS(X) QP_IF_AVX2(X(4, repeat_4__avx2, QP_ISA_AVX2))
#define QP_MOVE_REPEAT_DECLARE_(es, fname, isa) void qp_move_##fname(size_t n, size_t k, const void *x, void *y);
QP_MOVE_REPEAT_VARIANTS(QP_MOVE_REPEAT_DECLARE_)

#endif
