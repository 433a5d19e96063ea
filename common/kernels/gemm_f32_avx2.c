/* AVX2+FMA GEMM microkernel: 6 x 16 tile, 12 accumulators, per k two loads of B and six
 * broadcasts of A.  Zen 3 and Haswell-class cores retire two FMAs a cycle with latency 4-5,
 * so twelve independent chains keep both pipes busy with registers to spare for B. */
#include <immintrin.h>

#include "qp/gemm_f32.h"

void qp_gemm_f32_6x16__avx2(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                            const float *bias, unsigned flags, float lo, float hi)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

    /* The C tile is touched only after the loop: start bringing it in now. */
    for (int i = 0; i < 6; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 15), _MM_HINT_T0);
    }

#define STEP(k)                                                       \
    do {                                                              \
        __m256 b0 = _mm256_load_ps(b + 16 * (k));                     \
        __m256 b1 = _mm256_load_ps(b + 16 * (k) + 8);                 \
        __m256 av = _mm256_broadcast_ss(a + 6 * (k) + 0);             \
        c00 = _mm256_fmadd_ps(av, b0, c00);                           \
        c01 = _mm256_fmadd_ps(av, b1, c01);                           \
        av = _mm256_broadcast_ss(a + 6 * (k) + 1);                    \
        c10 = _mm256_fmadd_ps(av, b0, c10);                           \
        c11 = _mm256_fmadd_ps(av, b1, c11);                           \
        av = _mm256_broadcast_ss(a + 6 * (k) + 2);                    \
        c20 = _mm256_fmadd_ps(av, b0, c20);                           \
        c21 = _mm256_fmadd_ps(av, b1, c21);                           \
        av = _mm256_broadcast_ss(a + 6 * (k) + 3);                    \
        c30 = _mm256_fmadd_ps(av, b0, c30);                           \
        c31 = _mm256_fmadd_ps(av, b1, c31);                           \
        av = _mm256_broadcast_ss(a + 6 * (k) + 4);                    \
        c40 = _mm256_fmadd_ps(av, b0, c40);                           \
        c41 = _mm256_fmadd_ps(av, b1, c41);                           \
        av = _mm256_broadcast_ss(a + 6 * (k) + 5);                    \
        c50 = _mm256_fmadd_ps(av, b0, c50);                           \
        c51 = _mm256_fmadd_ps(av, b1, c51);                           \
    } while (0)

    size_t k = 0;
    for (; k + 4 <= kc; k += 4) {
        _mm_prefetch((const char *)(b + 16 * 8), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 16 * 8 + 32), _MM_HINT_T0);
        STEP(0);
        STEP(1);
        STEP(2);
        STEP(3);
        a += 24;
        b += 64;
    }
    for (; k < kc; k++) {
        STEP(0);
        a += 6;
        b += 16;
    }
#undef STEP

    __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (int i = 0; i < 6; i++) {
        float *ci = c + i * ldc;
        __m256 v0 = acc[2 * i], v1 = acc[2 * i + 1];
        if (flags & QP_GEMM_LOAD_C) {
            v0 = _mm256_add_ps(_mm256_loadu_ps(ci), v0);
            v1 = _mm256_add_ps(_mm256_loadu_ps(ci + 8), v1);
        }
        if (flags & QP_GEMM_BIAS) {
            __m256 bi = _mm256_broadcast_ss(bias + i);
            v0 = _mm256_add_ps(v0, bi);
            v1 = _mm256_add_ps(v1, bi);
        }
        if (flags & QP_GEMM_CLAMP) {
            v0 = _mm256_min_ps(_mm256_max_ps(v0, vlo), vhi);
            v1 = _mm256_min_ps(_mm256_max_ps(v1, vlo), vhi);
        }
        _mm256_storeu_ps(ci, v0);
        _mm256_storeu_ps(ci + 8, v1);
    }
}
