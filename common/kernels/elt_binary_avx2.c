/* AVX2 float32 comparisons and PRelu.  Each lane computes exactly what the reference computes
 * (ordered, non-signalling compares: NaN compares false), so results are bit-identical. */
#include <immintrin.h>
#include <stdint.h>

#include "qp/elt_binary.h"

static inline __m256 load8(const float *p, size_t inc) { return inc ? _mm256_loadu_ps(p) : _mm256_broadcast_ss(p); }

/* 8 compare masks to 8 bytes of 0/1 */
static inline void store_bool8(uint8_t *y, __m256 m)
{
    __m256i b = _mm256_and_si256(_mm256_castps_si256(m), _mm256_set1_epi32(1));
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    _mm_storel_epi64((__m128i *)y, _mm_packus_epi16(w, w));
}

#define DEF_CMP(name, PRED, EXPR)                                                                 \
    void qp_elt_##name##_f32__avx2(size_t n, const void *pa, size_t ia, const void *pb, size_t ib, \
                                   void *py)                                                      \
    {                                                                                             \
        const float *A = pa, *B = pb;                                                             \
        uint8_t *Y = py;                                                                          \
        size_t i = 0;                                                                             \
        for (; i + 8 <= n; i += 8)                                                                \
            store_bool8(Y + i, _mm256_cmp_ps(load8(A + i * ia, ia), load8(B + i * ib, ib), PRED)); \
        for (; i < n; i++) {                                                                      \
            float a = A[i * ia], b = B[i * ib];                                                   \
            Y[i] = (uint8_t)(EXPR);                                                               \
        }                                                                                         \
    }
DEF_CMP(eq, _CMP_EQ_OQ, a == b)
DEF_CMP(gt, _CMP_GT_OQ, a > b)
DEF_CMP(lt, _CMP_LT_OQ, a < b)
DEF_CMP(ge, _CMP_GE_OQ, a >= b)
DEF_CMP(le, _CMP_LE_OQ, a <= b)

void qp_elt_prelu_f32__avx2(size_t n, const void *pa, size_t ia, const void *pb, size_t ib, void *py)
{
    const float *A = pa, *B = pb;
    float *Y = py;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = load8(A + i * ia, ia), b = load8(B + i * ib, ib);
        __m256 neg = _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_LT_OQ);
        _mm256_storeu_ps(Y + i, _mm256_blendv_ps(a, _mm256_mul_ps(a, b), neg));
    }
    for (; i < n; i++) {
        float a = A[i * ia], b = B[i * ib];
        Y[i] = a < 0 ? a * b : a;
    }
}
