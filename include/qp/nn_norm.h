/* Normalisations of float32 NCHW-style data viewed as [n][c][hw]: batch normalisation
 * (inference), instance normalisation and local response normalisation.  The caller owns
 * every array; nothing here allocates or keeps a pointer; y may alias x exactly. */
#ifndef QP_NN_NORM_H
#define QP_NN_NORM_H
#include <stddef.h>

/* Folds BatchNormalization parameters into a per-channel affine map:
 * out_scale = scale / sqrt(var + eps), out_bias = bias - mean * out_scale. */
void qp_batchnorm_fold_f32(size_t c, const float *scale, const float *bias, const float *mean,
                           const float *var, float eps, float *out_scale, float *out_bias);

/* y[i][j][k] = x[i][j][k] * scale[j] + bias[j] (bias may be NULL). */
void qp_channel_affine_f32(size_t n, size_t c, size_t hw, const float *x, const float *scale,
                           const float *bias, float *y);

/* InstanceNormalization: each (i, j) plane is normalised by its own mean and (biased)
 * variance, then y = (x - mean) / sqrt(var + eps) * scale[j] + bias[j]. */
void qp_instancenorm_f32(size_t n, size_t c, size_t hw, const float *x, const float *scale,
                         const float *bias, float eps, float *y);

/* LRN across channels: y = x / (bias + alpha / size * sum of x^2 over the channels
 * [j - floor((size - 1) / 2), j + ceil((size - 1) / 2)])^beta.  y must not overlap x. */
void qp_lrn_f32(size_t n, size_t c, size_t hw, size_t size, float alpha, float beta, float bias,
                const float *x, float *y);

void qp_instancenorm_f32__ref(size_t n, size_t c, size_t hw, const float *x, const float *scale,
                              const float *bias, float eps, float *y);
void qp_lrn_f32__ref(size_t n, size_t c, size_t hw, size_t size, float alpha, float beta,
                     float bias, const float *x, float *y);

#endif
