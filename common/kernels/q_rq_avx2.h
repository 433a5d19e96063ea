/* Private to the q_*_avx2.c kernels: qp_requant_i32 (qp/requant.h section 4) on 8 lanes, bit
 * for bit.  AVX2 has no 64-bit arithmetic right shift, so floor(x / 2^n) is computed as
 * ((x ^ 2^63) >>> n) - 2^(63 - n) (x + 2^63 is non-negative and 2^63 is a multiple of 2^n),
 * and rtne as floor((p + 2^(n-1) - 1 + bit_n(p)) / 2^n): below the tie this is floor(p / 2^n),
 * above it floor + 1, and at the tie floor + (floor is odd).  |p| < 2^62 (int32 times a
 * 31-bit multiplier), so neither the addend nor n capped at 63 changes the result. */
#ifndef QP_Q_RQ_AVX2_H
#define QP_Q_RQ_AVX2_H
#include <immintrin.h>
#include <stdint.h>

#include "qp/requant.h"

typedef struct qp_rq8_row {
    __m256i bias, mult, half_m1, sign, corr, zp, lo, hi, i32min, i32max, one;
    __m256i zp32, lo32, hi32;
    __m128i cnt, cnt32;
    int n;
} qp_rq8_row;

static inline qp_rq8_row qp_rq8_row_init(int64_t bias, qp_qmul m, int32_t zp, int32_t lo,
                                         int32_t hi)
{
    qp_rq8_row r;
    int n = 31 + m.shift;
    n = n > 63 ? 63 : n;
    r.n = n;
    r.bias = _mm256_set1_epi64x(bias);
    r.mult = _mm256_set1_epi64x(m.mult);
    r.half_m1 = _mm256_set1_epi64x(n > 0 ? (int64_t)((UINT64_C(1) << (n - 1)) - 1) : 0);
    r.sign = _mm256_set1_epi64x(INT64_MIN);
    r.corr = _mm256_set1_epi64x((int64_t)(UINT64_C(1) << (63 - n)));
    r.zp = _mm256_set1_epi64x(zp);
    r.lo = _mm256_set1_epi64x(lo);
    r.hi = _mm256_set1_epi64x(hi);
    r.i32min = _mm256_set1_epi64x(INT32_MIN);
    r.i32max = _mm256_set1_epi64x(INT32_MAX);
    r.one = _mm256_set1_epi64x(1);
    r.cnt = _mm_cvtsi32_si128(n);
    r.cnt32 = _mm_cvtsi32_si128(n >= 32 ? n - 32 : 0);
    r.zp32 = _mm256_set1_epi32(zp);
    r.lo32 = _mm256_set1_epi32(lo);
    r.hi32 = _mm256_set1_epi32(hi);
    return r;
}

static inline __m256i qp_rq8_clamp64(__m256i x, __m256i lo, __m256i hi)
{
    x = _mm256_blendv_epi8(x, hi, _mm256_cmpgt_epi64(x, hi));
    return _mm256_blendv_epi8(x, lo, _mm256_cmpgt_epi64(lo, x));
}

/* 4 int64 accumulators (before the bias) to 4 clamped outputs in int64 lanes. */
static inline __m256i qp_rq8_apply4(const qp_rq8_row *r, __m256i x)
{
    x = qp_rq8_clamp64(_mm256_add_epi64(x, r->bias), r->i32min, r->i32max);
    __m256i p = _mm256_mul_epi32(x, r->mult);
    if (r->n > 0) {
        __m256i bit = _mm256_and_si256(_mm256_srl_epi64(p, r->cnt), r->one);
        p = _mm256_add_epi64(p, _mm256_add_epi64(r->half_m1, bit));
        p = _mm256_sub_epi64(_mm256_srl_epi64(_mm256_xor_si256(p, r->sign), r->cnt), r->corr);
    }
    return qp_rq8_clamp64(_mm256_add_epi64(p, r->zp), r->lo, r->hi);
}

/* The low 32 bits of the int64 lanes of a then b, in order. */
static inline __m256i qp_narrow64(__m256i a, __m256i b)
{
    __m256 s = _mm256_shuffle_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b),
                                 _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_permute4x64_epi64(_mm256_castps_si256(s), 0xD8);
}

/* 8 int32 accumulators to 8 clamped int32 outputs. */
static inline __m256i qp_rq8_apply(const qp_rq8_row *r, __m256i acc)
{
    __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc));
    __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc, 1));
    return qp_narrow64(qp_rq8_apply4(r, lo), qp_rq8_apply4(r, hi));
}

/* The same for n >= 32 when acc already holds the bias (no saturation possible), in 32-bit
 * lanes: the products of the even and odd lanes are rounded in 64 bits (p + 2^(n-1) - 1 +
 * bit_n), then floor(r / 2^n) = floor(floor(r / 2^32) / 2^(n-32)): the signed high halves,
 * shifted arithmetically by n - 32 <= 31.  |r| < 2^62, so the result fits in 30 bits. */
static inline __m256i qp_rq8_fast(const qp_rq8_row *r, __m256i acc)
{
    __m256i pe = _mm256_mul_epi32(acc, r->mult);
    __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), r->mult);
    __m256i be = _mm256_and_si256(_mm256_srl_epi64(pe, r->cnt), r->one);
    __m256i bo = _mm256_and_si256(_mm256_srl_epi64(po, r->cnt), r->one);
    pe = _mm256_add_epi64(pe, _mm256_add_epi64(r->half_m1, be));
    po = _mm256_add_epi64(po, _mm256_add_epi64(r->half_m1, bo));
    __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
    h = _mm256_add_epi32(_mm256_sra_epi32(h, r->cnt32), r->zp32);
    return _mm256_max_epi32(_mm256_min_epi32(h, r->hi32), r->lo32);
}

/* qp_requant_i64 for n = 31 + shift >= 33 and |acc| < 2^61 (acc includes the bias), on 4
 * int64 lanes.  With acc = ah 2^32 + al (al unsigned), P = acc * mult = u 2^32 + tl where
 * u = ah * mult + ((al * mult) >> 32) and tl = (al * mult) mod 2^32.  rtne(P / 2^n) only
 * depends on whether tl is zero (n - 32 >= 1: the tie point is a multiple of 2^32), so it
 * equals rtne((2u + (tl != 0)) / 2^(n - 31)), a 64-bit rounding (|2u + 1| < 2^62). */
typedef struct qp_rq16_row {
    __m256i mult, half_m1, sign, corr, zp, lo, hi, one, low32;
    __m128i cnt;
} qp_rq16_row;

static inline int qp_rq16_ok(qp_qmul m, int64_t bias)
{
    return 31 + m.shift >= 33 && bias > -(INT64_C(1) << 60) && bias < (INT64_C(1) << 60);
}

static inline qp_rq16_row qp_rq16_row_init(qp_qmul m, int32_t zp, int32_t lo, int32_t hi)
{
    qp_rq16_row r;
    int k = 31 + m.shift - 31; /* = shift, in [2, 62] */
    r.mult = _mm256_set1_epi64x(m.mult);
    r.half_m1 = _mm256_set1_epi64x((int64_t)((UINT64_C(1) << (k - 1)) - 1));
    r.sign = _mm256_set1_epi64x(INT64_MIN);
    r.corr = _mm256_set1_epi64x((int64_t)(UINT64_C(1) << (63 - k)));
    r.zp = _mm256_set1_epi64x(zp);
    r.lo = _mm256_set1_epi64x(lo);
    r.hi = _mm256_set1_epi64x(hi);
    r.one = _mm256_set1_epi64x(1);
    r.low32 = _mm256_set1_epi64x(0xffffffff);
    r.cnt = _mm_cvtsi32_si128(k);
    return r;
}

static inline __m256i qp_rq16_apply4(const qp_rq16_row *r, __m256i acc)
{
    __m256i t = _mm256_mul_epu32(acc, r->mult);
    __m256i ph = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), r->mult);
    __m256i u = _mm256_add_epi64(ph, _mm256_srli_epi64(t, 32));
    __m256i tz = _mm256_cmpeq_epi64(_mm256_and_si256(t, r->low32), _mm256_setzero_si256());
    __m256i u2 = _mm256_or_si256(_mm256_slli_epi64(u, 1), _mm256_andnot_si256(tz, r->one));
    __m256i bit = _mm256_and_si256(_mm256_srl_epi64(u2, r->cnt), r->one);
    u2 = _mm256_add_epi64(u2, _mm256_add_epi64(r->half_m1, bit));
    u2 = _mm256_sub_epi64(_mm256_srl_epi64(_mm256_xor_si256(u2, r->sign), r->cnt), r->corr);
    return qp_rq8_clamp64(_mm256_add_epi64(u2, r->zp), r->lo, r->hi);
}

#endif
