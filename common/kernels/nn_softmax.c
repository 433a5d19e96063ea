/* Softmax / LogSoftmax.  The reference reads like the ONNX definition (one lane of the axis at
 * a time, float libm); the vectorised version works on whole contiguous rows so qp_vexp_f32
 * does the exponentials. */
#include <math.h>
#include <string.h>

#include "qp/nn_softmax.h"
#include "qp/vmath.h"

size_t qp_softmax_f32_scratch_size(size_t n, size_t inner)
{
    size_t row = inner == 1 ? n : inner;
    return (row + 2 * inner) * sizeof(float);
}

void qp_softmax_f32__ref(size_t outer, size_t n, size_t inner, int log, const float *x, float *y,
                         void *scratch)
{
    (void)scratch;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < inner; j++) {
            const float *xs = x + o * n * inner + j;
            float *ys = y + o * n * inner + j;
            float m = -INFINITY;
            for (size_t k = 0; k < n; k++)
                m = xs[k * inner] > m ? xs[k * inner] : m;
            float s = 0;
            for (size_t k = 0; k < n; k++)
                s += expf(xs[k * inner] - m);
            float ls = logf(s);
            for (size_t k = 0; k < n; k++)
                ys[k * inner] = log ? xs[k * inner] - m - ls : expf(xs[k * inner] - m) / s;
        }
}

/* One contiguous row (inner == 1). */
static void row_softmax(size_t n, int log, const float *x, float *y, float *tmp)
{
    float m = -INFINITY;
    for (size_t k = 0; k < n; k++)
        m = x[k] > m ? x[k] : m;
    float *e = log ? tmp : y;
    for (size_t k = 0; k < n; k++)
        e[k] = x[k] - m;
    qp_vexp_f32(n, e, e);
    float s = 0;
    for (size_t k = 0; k < n; k++)
        s += e[k];
    if (log) {
        float ls = logf(s);
        for (size_t k = 0; k < n; k++)
            y[k] = x[k] - m - ls;
    } else {
        float r = 1.0f / s;
        for (size_t k = 0; k < n; k++)
            y[k] *= r;
    }
}

void qp_softmax_f32__vexp(size_t outer, size_t n, size_t inner, int log, const float *x,
                          float *y, void *scratch)
{
    float *tmp = scratch;
    if (inner == 1) {
        for (size_t o = 0; o < outer; o++)
            row_softmax(n, log, x + o * n, y + o * n, tmp);
        return;
    }
    /* The axis is strided: keep a running max and sum per lane, rows stay contiguous. */
    float *m = tmp + inner, *s = m + inner;
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x + o * n * inner;
        float *yo = y + o * n * inner;
        for (size_t j = 0; j < inner; j++) {
            m[j] = -INFINITY;
            s[j] = 0;
        }
        for (size_t k = 0; k < n; k++)
            for (size_t j = 0; j < inner; j++)
                m[j] = xo[k * inner + j] > m[j] ? xo[k * inner + j] : m[j];
        for (size_t k = 0; k < n; k++) {
            float *e = log ? tmp : yo + k * inner;
            for (size_t j = 0; j < inner; j++)
                e[j] = xo[k * inner + j] - m[j];
            qp_vexp_f32(inner, e, e);
            for (size_t j = 0; j < inner; j++)
                s[j] += e[j];
        }
        if (log) {
            for (size_t j = 0; j < inner; j++)
                s[j] = m[j] + logf(s[j]);
            for (size_t k = 0; k < n; k++)
                for (size_t j = 0; j < inner; j++)
                    yo[k * inner + j] = xo[k * inner + j] - s[j];
        } else {
            for (size_t j = 0; j < inner; j++)
                s[j] = 1.0f / s[j];
            for (size_t k = 0; k < n; k++)
                for (size_t j = 0; j < inner; j++)
                    yo[k * inner + j] *= s[j];
        }
    }
}

void qp_softmax_f32(size_t outer, size_t n, size_t inner, int log, const float *x, float *y,
                    void *scratch)
{
    if (qp_kernels_isa() == QP_ISA_REF)
        qp_softmax_f32__ref(outer, n, inner, log, x, y, scratch);
    else
        qp_softmax_f32__vexp(outer, n, inner, log, x, y, scratch);
}
