/* AVX2 resize kernels: nearest upsampling of float32 rows by an integer factor, and the
 * linear/cubic row and gather interpolations.  All bit-identical to the references (data
 * movement, or the same multiplies and adds in the same order). */
#include <immintrin.h>
#include <stdint.h>

#include "qp/move_resize.h"

void qp_move_repeat_4__avx2(size_t n, size_t k, const void *px, void *py)
{
    const float *x = px;
    float *y = py;
    size_t i = 0;
    if (k == 2) {
        for (; i + 8 <= n; i += 8) {
            __m256 v = _mm256_loadu_ps(x + i);
            __m256 lo = _mm256_unpacklo_ps(v, v), hi = _mm256_unpackhi_ps(v, v);
            _mm256_storeu_ps(y + 2 * i, _mm256_permute2f128_ps(lo, hi, 0x20));
            _mm256_storeu_ps(y + 2 * i + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
        }
    } else if (k >= 8) {
        for (; i < n; i++) {
            __m256 v = _mm256_broadcast_ss(x + i);
            size_t j = 0;
            for (; j + 8 <= k; j += 8)
                _mm256_storeu_ps(y + i * k + j, v);
            for (; j < k; j++)
                y[i * k + j] = x[i];
        }
    }
    for (; i < n; i++)
        for (size_t j = 0; j < k; j++)
            y[i * k + j] = x[i];
}

/* Linear/cubic rows: the reference's multiply-then-add order, lane by lane (no FMA), so the
 * results are bit-identical. */
void qp_move_lerp_rows_f32__avx2(size_t n, int K, const float *const *rows, const float *w, float *y)
{
    size_t i = 0;
    __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(K > 1 ? w[1] : 0);
    if (K == 2) {
        const float *r0 = rows[0], *r1 = rows[1];
        for (; i + 8 <= n; i += 8) {
            __m256 acc = _mm256_mul_ps(w0, _mm256_loadu_ps(r0 + i));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(w1, _mm256_loadu_ps(r1 + i)));
            _mm256_storeu_ps(y + i, acc);
        }
    } else {
        for (; i + 8 <= n; i += 8) {
            __m256 acc = _mm256_mul_ps(w0, _mm256_loadu_ps(rows[0] + i));
            for (int k = 1; k < K; k++)
                acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(w[k]), _mm256_loadu_ps(rows[k] + i)));
            _mm256_storeu_ps(y + i, acc);
        }
    }
    for (; i < n; i++) {
        float acc = w[0] * rows[0][i];
        for (int k = 1; k < K; k++)
            acc += w[k] * rows[k][i];
        y[i] = acc;
    }
}

void qp_move_lerp_gather_f32__avx2(size_t outer, size_t n_in, size_t n_out, int K, const int32_t *idx,
                                   const float *w, const float *x, float *y)
{
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x + o * n_in;
        float *yo = y + o * n_out;
        size_t j = 0;
        for (; j + 8 <= n_out; j += 8) {
            __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(w + j),
                                       _mm256_i32gather_ps(xo, _mm256_loadu_si256((const __m256i *)(idx + j)), 4));
            for (int k = 1; k < K; k++) {
                size_t t = (size_t)k * n_out + j;
                __m256 v = _mm256_i32gather_ps(xo, _mm256_loadu_si256((const __m256i *)(idx + t)), 4);
                acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(w + t), v));
            }
            _mm256_storeu_ps(yo + j, acc);
        }
        for (; j < n_out; j++) {
            float acc = w[j] * xo[idx[j]];
            for (int k = 1; k < K; k++)
                acc += w[k * n_out + j] * xo[idx[k * n_out + j]];
            yo[j] = acc;
        }
    }
}
