/* AVX2 float32 unary kernels whose every lane does the reference's IEEE operations (sign
 * flips, rounding, sqrt, division), so results are bit-identical to the references. */
#include <immintrin.h>

#include "qp/elt_unary.h"

#define DEF_AVX(name, VEXPR, SEXPR)                                                        \
    void qp_elt_##name##_f32__avx2(const qp_elt_unary_params *p, size_t n, const void *px, \
                                   void *py)                                               \
    {                                                                                      \
        const float *X = px;                                                               \
        float *Y = py;                                                                     \
        const __m256 sgn = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);              \
        (void)p;                                                                           \
        (void)sgn;                                                                         \
        (void)one;                                                                         \
        size_t i = 0;                                                                      \
        for (; i + 8 <= n; i += 8) {                                                       \
            __m256 x = _mm256_loadu_ps(X + i);                                             \
            _mm256_storeu_ps(Y + i, VEXPR);                                                \
        }                                                                                  \
        for (; i < n; i++) {                                                               \
            float x = X[i];                                                                \
            Y[i] = SEXPR;                                                                  \
        }                                                                                  \
    }

DEF_AVX(neg, _mm256_xor_ps(x, sgn), -x)
DEF_AVX(abs, _mm256_andnot_ps(sgn, x), __builtin_fabsf(x))
DEF_AVX(floor, _mm256_round_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), __builtin_floorf(x))
DEF_AVX(ceil, _mm256_round_ps(x, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC), __builtin_ceilf(x))
DEF_AVX(round, _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), __builtin_nearbyintf(x))
DEF_AVX(sqrt, _mm256_sqrt_ps(x), __builtin_sqrtf(x))
DEF_AVX(reciprocal, _mm256_div_ps(one, x), 1 / x)
DEF_AVX(softsign, _mm256_div_ps(x, _mm256_add_ps(one, _mm256_andnot_ps(sgn, x))), x / (1 + __builtin_fabsf(x)))
/* x > 0: 1; x < 0: -1; else x itself (+-0, NaN) */
DEF_AVX(sign,
        _mm256_blendv_ps(_mm256_blendv_ps(x, one, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ)),
                         _mm256_xor_ps(one, sgn), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ)),
        x > 0 ? 1.0f : x < 0 ? -1.0f : x)
