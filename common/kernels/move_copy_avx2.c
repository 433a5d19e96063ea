/* AVX2 2-D transposition of 4-byte elements in 8x8 register tiles (pure data movement, so
 * bit-identical to the reference). */
#include <immintrin.h>
#include <stdint.h>

#include "qp/move_copy.h"

static inline void t8x8(const float *x, size_t ldx, float *y, size_t ldy)
{
    __m256 r0 = _mm256_loadu_ps(x + 0 * ldx), r1 = _mm256_loadu_ps(x + 1 * ldx);
    __m256 r2 = _mm256_loadu_ps(x + 2 * ldx), r3 = _mm256_loadu_ps(x + 3 * ldx);
    __m256 r4 = _mm256_loadu_ps(x + 4 * ldx), r5 = _mm256_loadu_ps(x + 5 * ldx);
    __m256 r6 = _mm256_loadu_ps(x + 6 * ldx), r7 = _mm256_loadu_ps(x + 7 * ldx);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
    _mm256_storeu_ps(y + 0 * ldy, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(y + 1 * ldy, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(y + 2 * ldy, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(y + 3 * ldy, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(y + 4 * ldy, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(y + 5 * ldy, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(y + 6 * ldy, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(y + 7 * ldy, _mm256_permute2f128_ps(s3, s7, 0x31));
}

/* y[r * ldy + c] = x[c * ldx + r]: x rows are y columns; 8x8 tiles inside 32x32 cache blocks,
 * the ragged edges element by element. */
void qp_move_transpose2d_4__avx2(size_t rows, size_t cols, const void *px, size_t ldx, void *py, size_t ldy)
{
    const float *x = px;
    float *y = py;
    size_t r8 = rows & ~(size_t)7, c8 = cols & ~(size_t)7;
    for (size_t r0 = 0; r0 < r8; r0 += 32)
        for (size_t c0 = 0; c0 < c8; c0 += 32) {
            size_t r1 = r0 + 32 < r8 ? r0 + 32 : r8, c1 = c0 + 32 < c8 ? c0 + 32 : c8;
            for (size_t r = r0; r < r1; r += 8)
                for (size_t c = c0; c < c1; c += 8)
                    t8x8(x + c * ldx + r, ldx, y + r * ldy + c, ldy);
        }
    for (size_t r = 0; r < r8; r++)
        for (size_t c = c8; c < cols; c++)
            y[r * ldy + c] = x[c * ldx + r];
    for (size_t r = r8; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            y[r * ldy + c] = x[c * ldx + r];
}
