/* Quantized Add/Sub/Mul for AVX2.  Add/Sub: da * ma +- db * mb is an integer below 2^49, so
 * it is exact in double, and so is its product with 2^-(31 + shift) (a power of two, no
 * underflow); vroundpd to nearest then rounds half to even, the rtne of qp_qadd_one.  Mul on
 * 8-bit inputs: da * db fits int32, requantized by the bit-exact q_rq_avx2.h epilogue. */
#include <immintrin.h>
#include <math.h>

#include "q_rq_avx2.h"
#include "qp/q_eltwise.h"

static inline __m256i load8(const void *p, size_t i, size_t inc, qp_qtype t)
{
    if (inc == 0)
        return _mm256_set1_epi32(qp_qload(p, 0, t));
    switch (t) {
    case QP_QTYPE_U8:
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)((const uint8_t *)p + i)));
    case QP_QTYPE_I8:
        return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)p + i)));
    default:
        return _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)((const int16_t *)p + i)));
    }
}

static inline void store8(void *y, size_t i, qp_qtype t, __m256i v)
{
    __m128i w = _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packs_epi32(v, v), 0x08));
    if (t == QP_QTYPE_I16)
        _mm_storeu_si128((__m128i *)((int16_t *)y + i), w);
    else if (t == QP_QTYPE_U8)
        _mm_storel_epi64((__m128i *)((uint8_t *)y + i), _mm_packus_epi16(w, w));
    else
        _mm_storel_epi64((__m128i *)((int8_t *)y + i), _mm_packs_epi16(w, w));
}

static inline __m128i add4(__m128i da, __m128i db, __m256d ma, __m256d mb, __m256d scale,
                           __m256d zp, __m256d lo, __m256d hi)
{
    __m256d t = _mm256_fmadd_pd(_mm256_cvtepi32_pd(da), ma,
                                _mm256_mul_pd(_mm256_cvtepi32_pd(db), mb)); /* exact */
    t = _mm256_round_pd(_mm256_mul_pd(t, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    t = _mm256_min_pd(_mm256_max_pd(_mm256_add_pd(t, zp), lo), hi);
    return _mm256_cvtpd_epi32(t);
}

void qp_q_elt__avx2(const qp_q_elt_params *e, size_t n, const void *a, size_t inc_a, const void *b,
                    size_t inc_b, void *y)
{
    int is_add = e->op == QP_Q_ELT_ADD || e->op == QP_Q_ELT_SUB;
    int is_mul8 = e->op == QP_Q_ELT_MUL && e->a.type != QP_QTYPE_I16 &&
                  e->b.type != QP_QTYPE_I16;
    if (!is_add && !is_mul8) {
        qp_q_elt__ref(e, n, a, inc_a, b, inc_b, y);
        return;
    }
    __m256i za = _mm256_set1_epi32(e->a.zp), zb = _mm256_set1_epi32(e->b.zp);
    size_t i = 0;
    if (is_add) {
        const qp_qadd *p = &e->add;
        __m256d ma = _mm256_set1_pd(p->ma), mb = _mm256_set1_pd(p->sub ? -(double)p->mb : p->mb);
        __m256d scale = _mm256_set1_pd(ldexp(1.0, -(31 + p->shift)));
        __m256d zp = _mm256_set1_pd(p->zp_out), lo = _mm256_set1_pd(p->lo), hi = _mm256_set1_pd(p->hi);
        for (; i + 8 <= n; i += 8) {
            __m256i da = _mm256_sub_epi32(load8(a, i, inc_a, e->a.type), za);
            __m256i db = _mm256_sub_epi32(load8(b, i, inc_b, e->b.type), zb);
            __m128i r0 = add4(_mm256_castsi256_si128(da), _mm256_castsi256_si128(db), ma, mb,
                              scale, zp, lo, hi);
            __m128i r1 = add4(_mm256_extracti128_si256(da, 1), _mm256_extracti128_si256(db, 1),
                              ma, mb, scale, zp, lo, hi);
            store8(y, i, e->y.type, _mm256_set_m128i(r1, r0));
        }
    } else {
        qp_rq8_row r = qp_rq8_row_init(0, e->mul, e->y.zp, e->lo, e->hi);
        for (; i + 8 <= n; i += 8) {
            __m256i da = _mm256_sub_epi32(load8(a, i, inc_a, e->a.type), za);
            __m256i db = _mm256_sub_epi32(load8(b, i, inc_b, e->b.type), zb);
            store8(y, i, e->y.type, qp_rq8_apply(&r, _mm256_mullo_epi32(da, db)));
        }
    }
    if (i < n)
        qp_q_elt__ref(e, n - i, (const char *)a + i * inc_a * qp_qtype_size(e->a.type), inc_a,
                      (const char *)b + i * inc_b * qp_qtype_size(e->b.type), inc_b,
                      (char *)y + i * qp_qtype_size(e->y.type));
}
