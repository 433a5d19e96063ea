/* AVX2 nearest upsampling of float32 rows by an integer factor (pure data movement, so
 * bit-identical to the reference). */
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
