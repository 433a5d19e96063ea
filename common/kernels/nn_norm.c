/* Normalisations.  The per-channel affine maps go through qp_vaffine_f32 (vectorised in vmath);
 * the statistics accumulate in double, which keeps the references and the results identical
 * whatever the ISA. */
#include <math.h>

#include "qp/nn_norm.h"
#include "qp/vmath.h"

void qp_batchnorm_fold_f32(size_t c, const float *scale, const float *bias, const float *mean,
                           const float *var, float eps, float *out_scale, float *out_bias)
{
    for (size_t j = 0; j < c; j++) {
        float s = scale[j] / sqrtf(var[j] + eps);
        out_bias[j] = bias[j] - mean[j] * s;
        out_scale[j] = s;
    }
}

void qp_channel_affine_f32(size_t n, size_t c, size_t hw, const float *x, const float *scale,
                           const float *bias, float *y)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++) {
            size_t off = (i * c + j) * hw;
            qp_vaffine_f32(hw, x + off, scale[j], bias ? bias[j] : 0.0f, y + off);
        }
}

void qp_instancenorm_f32__ref(size_t n, size_t c, size_t hw, const float *x, const float *scale,
                              const float *bias, float eps, float *y)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++) {
            const float *xp = x + (i * c + j) * hw;
            float *yp = y + (i * c + j) * hw;
            double sum = 0, sq = 0;
            for (size_t k = 0; k < hw; k++)
                sum += xp[k];
            double mean = hw ? sum / (double)hw : 0;
            for (size_t k = 0; k < hw; k++)
                sq += (xp[k] - mean) * (xp[k] - mean);
            double var = hw ? sq / (double)hw : 0;
            double s = scale[j] / sqrt(var + eps);
            float fs = (float)s, fb = (float)(bias[j] - mean * s);
            for (size_t k = 0; k < hw; k++)
                yp[k] = xp[k] * fs + fb;
        }
}

void qp_instancenorm_f32(size_t n, size_t c, size_t hw, const float *x, const float *scale,
                         const float *bias, float eps, float *y)
{
    if (qp_kernels_isa() == QP_ISA_REF) {
        qp_instancenorm_f32__ref(n, c, hw, x, scale, bias, eps, y);
        return;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++) {
            const float *xp = x + (i * c + j) * hw;
            double sum = 0, sq = 0;
            for (size_t k = 0; k < hw; k++)
                sum += xp[k];
            double mean = hw ? sum / (double)hw : 0;
            for (size_t k = 0; k < hw; k++)
                sq += (xp[k] - mean) * (xp[k] - mean);
            double var = hw ? sq / (double)hw : 0;
            double s = scale[j] / sqrt(var + eps);
            qp_vaffine_f32(hw, xp, (float)s, (float)(bias[j] - mean * s), y + (i * c + j) * hw);
        }
}

void qp_lrn_f32__ref(size_t n, size_t c, size_t hw, size_t size, float alpha, float beta,
                     float bias, const float *x, float *y)
{
    size_t lo = (size - 1) / 2, hi = size - 1 - lo;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++)
            for (size_t k = 0; k < hw; k++) {
                size_t a = j >= lo ? j - lo : 0, b = j + hi < c ? j + hi : c - 1;
                float sq = 0;
                for (size_t q = a; q <= b; q++) {
                    float v = x[(i * c + q) * hw + k];
                    sq += v * v;
                }
                size_t at = (i * c + j) * hw + k;
                y[at] = x[at] / powf(bias + alpha / (float)size * sq, beta);
            }
}

void qp_lrn_f32(size_t n, size_t c, size_t hw, size_t size, float alpha, float beta, float bias,
                const float *x, float *y)
{
    qp_lrn_f32__ref(n, c, hw, size, alpha, beta, bias, x, y);
}
