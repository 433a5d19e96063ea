/* Conversions for AVX2, bit-identical to the references in q_convert.c: quantized-to-quantized
 * through the q_rq_avx2.h requantization (d = x - zp_in is the accumulator, no bias); float
 * quantize in double with vroundpd to nearest even; dequantize in double with one rounding to
 * float; fp16 by F16C (round to nearest even); bf16 by the integer rounding of the reference. */
#include <immintrin.h>
#include <math.h>

#include "q_rq_avx2.h"
#include "qp/q_convert.h"

static inline __m256i load8(const void *p, size_t i, qp_qtype t)
{
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

void qp_q_convert__avx2(const qp_qconvert *c, qp_qtype in, qp_qtype out, size_t n, const void *x,
                        void *y)
{
    /* the identity flag only skips a multiply by exactly 1 (2^30 * 2^-30): same results */
    qp_rq8_row r = qp_rq8_row_init(0, c->mul, c->zp_out, c->lo, c->hi);
    __m256i zp = _mm256_set1_epi32(c->zp_in);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        store8(y, i, out, qp_rq8_apply(&r, _mm256_sub_epi32(load8(x, i, in), zp)));
    if (i < n)
        qp_q_convert__ref(c, in, out, n - i, (const char *)x + i * qp_qtype_size(in),
                          (char *)y + i * qp_qtype_size(out));
}

static inline __m128i quant4(__m128 x, __m256d scale, __m256d zp, __m256d lo, __m256d hi,
                             __m256d zpc)
{
    __m256d d = _mm256_cvtps_pd(x);
    __m256d nan = _mm256_cmp_pd(d, d, _CMP_UNORD_Q);
    __m256d r = _mm256_round_pd(_mm256_div_pd(d, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_add_pd(r, zp);
    r = _mm256_min_pd(_mm256_max_pd(r, lo), hi); /* 0/0 cannot occur: scale > 0 */
    return _mm256_cvtpd_epi32(_mm256_blendv_pd(r, zpc, nan));
}

void qp_q_quantize_f32__avx2(const qp_qparams *p, size_t n, const float *x, void *y)
{
    double lo = (double)qp_qtype_min(p->type), hi = (double)qp_qtype_max(p->type);
    double zc = p->zp < lo ? lo : p->zp > hi ? hi : p->zp;
    if (!(p->scale > 0)) { /* degenerate scales: leave them to the reference */
        qp_q_quantize_f32__ref(p, n, x, y);
        return;
    }
    __m256d scale = _mm256_set1_pd(p->scale), zp = _mm256_set1_pd(p->zp);
    __m256d vlo = _mm256_set1_pd(lo), vhi = _mm256_set1_pd(hi), zpc = _mm256_set1_pd(zc);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i a = quant4(_mm_loadu_ps(x + i), scale, zp, vlo, vhi, zpc);
        __m128i b = quant4(_mm_loadu_ps(x + i + 4), scale, zp, vlo, vhi, zpc);
        store8(y, i, p->type, _mm256_set_m128i(b, a));
    }
    if (i < n)
        qp_q_quantize_f32__ref(p, n - i, x + i, (char *)y + i * qp_qtype_size(p->type));
}

void qp_q_dequantize_f32__avx2(const qp_qparams *p, size_t n, const void *x, float *y)
{
    __m256d scale = _mm256_set1_pd(p->scale);
    __m256i zp = _mm256_set1_epi32(p->zp);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i d = _mm256_sub_epi32(load8(x, i, p->type), zp);
        __m128 a = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(d)), scale));
        __m128 b = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(d, 1)), scale));
        _mm_storeu_ps(y + i, a);
        _mm_storeu_ps(y + i + 4, b);
    }
    if (i < n)
        qp_q_dequantize_f32__ref(p, n - i, (const char *)x + i * qp_qtype_size(p->type), y + i);
}

void qp_round_bf16_f32__avx2(size_t n, const float *x, float *y)
{
    const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1);
    const __m256i mask = _mm256_set1_epi32((int)0xffff0000u), quiet = _mm256_set1_epi32(0x00400000);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256i u = _mm256_castps_si256(v);
        __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(bias, _mm256_and_si256(_mm256_srli_epi32(u, 16), one)));
        __m256i nanv = _mm256_or_si256(u, quiet);
        __m256 isnan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
        r = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(nanv), isnan));
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_and_si256(r, mask)));
    }
    if (i < n)
        qp_round_bf16_f32__ref(n - i, x + i, y + i);
}

void qp_round_fp16_f32__avx2(size_t n, const float *x, float *y)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
    }
    if (i < n)
        qp_round_fp16_f32__ref(n - i, x + i, y + i);
}
