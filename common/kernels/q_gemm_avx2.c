/* Quantized GEMM microkernels for AVX2 (no VNNI): vpmaddwd on int16 pairs, exact by the
 * bounds in qp/q_gemm.h, and a requantization epilogue that reproduces qp_requant_i32 bit
 * for bit in 64-bit lanes. */
#include <immintrin.h>
#include <string.h>

#include "qp/q_gemm.h"
#include "q_rq_avx2.h"

#define MR QP_GEMM_Q_MR
#define NR QP_GEMM_Q_NR
#define KBP (QP_GEMM_Q16_KB / 2)

static inline __m256i bcast_pair(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

/* Stores 16 clamped int32 (two vectors, columns 0-7 and 8-15) as nr elements of c_type. */
static inline void store16(void *c, qp_qtype type, size_t nr, __m256i v0, __m256i v1)
{
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8); /* 16 x int16 */
    if (type == QP_QTYPE_I16) {
        if (nr == NR) {
            _mm256_storeu_si256((__m256i *)c, w);
        } else {
            int16_t tmp[NR];
            _mm256_storeu_si256((__m256i *)tmp, w);
            memcpy(c, tmp, nr * sizeof(int16_t));
        }
        return;
    }
    __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
    __m128i b = type == QP_QTYPE_U8 ? _mm_packus_epi16(lo, hi) : _mm_packs_epi16(lo, hi);
    if (nr == NR) {
        _mm_storeu_si128((__m128i *)c, b);
    } else {
        uint8_t tmp[NR];
        _mm_storeu_si128((__m128i *)tmp, b);
        memcpy(c, tmp, nr);
    }
}

void qp_gemm_q_q8_4x16__avx2(const qp_gemm_q_tile *t)
{
    size_t kp = (t->K + 1) / 2;
    const int16_t *a = t->a, *b = t->b;
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,
            c21 = c00, c30 = c00, c31 = c00;
    for (size_t p = 0; p < kp; p++, a += MR * 2, b += NR * 2) {
        __m256i b0 = _mm256_load_si256((const __m256i *)b);
        __m256i b1 = _mm256_load_si256((const __m256i *)(b + 16));
        __m256i a0 = bcast_pair(a), a1 = bcast_pair(a + 2);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(b0, a0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(b1, a0));
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(b0, a1));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(b1, a1));
        __m256i a2 = bcast_pair(a + 4), a3 = bcast_pair(a + 6);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(b0, a2));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(b1, a2));
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(b0, a3));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(b1, a3));
    }
    __m256i acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
    const int32_t *bias = t->bias;
    size_t csz = qp_qtype_size(t->c_type);
    int64_t bound = (int64_t)t->K * 32640; /* |sum| <= K * 128 * 255 */
    for (size_t i = 0; i < t->mr; i++) {
        int64_t b = bias ? bias[i] : 0;
        qp_rq8_row r = qp_rq8_row_init(b, t->mul[i], t->zp, t->lo, t->hi);
        char *c = (char *)t->c + i * t->ldc * csz;
        if (r.n >= 32 && (b < 0 ? -b : b) + bound <= INT32_MAX) {
            /* bias + sum cannot leave int32: add it in the lanes, no saturation */
            __m256i vb = _mm256_set1_epi32((int32_t)b);
            store16(c, t->c_type, t->nr, qp_rq8_fast(&r, _mm256_add_epi32(acc[i][0], vb)),
                    qp_rq8_fast(&r, _mm256_add_epi32(acc[i][1], vb)));
        } else {
            store16(c, t->c_type, t->nr, qp_rq8_apply(&r, acc[i][0]), qp_rq8_apply(&r, acc[i][1]));
        }
    }
}

/* Adds the 8 int32 lanes of v (columns j0..j0+7), times 2^sh, to s[j0..j0+7] (int64). */
static inline void flush64(int64_t *s, __m256i v, int sh)
{
    __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v));
    __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1));
    lo = _mm256_slli_epi64(lo, sh);
    hi = _mm256_slli_epi64(hi, sh);
    _mm256_storeu_si256((__m256i *)s, _mm256_add_epi64(_mm256_loadu_si256((__m256i *)s), lo));
    _mm256_storeu_si256((__m256i *)(s + 4),
                        _mm256_add_epi64(_mm256_loadu_si256((__m256i *)(s + 4)), hi));
}

/* One half (lo or hi weights) of a block: int32 sums of nb pairs, exact (qp/q_gemm.h). */
static inline void block_half(size_t nb, const int16_t *a, const int16_t *b, int64_t s[MR][NR],
                              int sh)
{
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,
            c21 = c00, c30 = c00, c31 = c00;
    for (size_t p = 0; p < nb; p++, a += MR * 2, b += NR * 2) {
        __m256i b0 = _mm256_load_si256((const __m256i *)b);
        __m256i b1 = _mm256_load_si256((const __m256i *)(b + 16));
        __m256i a0 = bcast_pair(a), a1 = bcast_pair(a + 2);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(b0, a0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(b1, a0));
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(b0, a1));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(b1, a1));
        __m256i a2 = bcast_pair(a + 4), a3 = bcast_pair(a + 6);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(b0, a2));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(b1, a2));
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(b0, a3));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(b1, a3));
    }
    flush64(s[0], c00, sh);
    flush64(s[0] + 8, c01, sh);
    flush64(s[1], c10, sh);
    flush64(s[1] + 8, c11, sh);
    flush64(s[2], c20, sh);
    flush64(s[2] + 8, c21, sh);
    flush64(s[3], c30, sh);
    flush64(s[3] + 8, c31, sh);
}

void qp_gemm_q_q16_4x16__avx2(const qp_gemm_q_tile *t)
{
    size_t kp = (t->K + 1) / 2;
    int64_t s[MR][NR];
    memset(s, 0, sizeof s);
    for (size_t b0 = 0; b0 < kp; b0 += KBP) {
        size_t nb = kp - b0 < KBP ? kp - b0 : KBP;
        const int16_t *lo = t->a + b0 * MR * 2 * 2, *hi = lo + nb * MR * 2;
        const int16_t *b = t->b + b0 * 2 * NR;
        block_half(nb, lo, b, s, 0);
        block_half(nb, hi, b, s, 8); /* |256 * sum_h| < 2^38: the shift cannot overflow */
    }
    const int64_t *bias = t->bias;
    size_t csz = qp_qtype_size(t->c_type);
    for (size_t i = 0; i < t->mr; i++) {
        int64_t bi = bias ? bias[i] : 0;
        if (qp_rq16_ok(t->mul[i], bi) && t->K <= (size_t)1 << 29) {
            /* |acc| < 2^60 + 2^59: the vector rounding of q_rq_avx2.h applies */
            qp_rq16_row r = qp_rq16_row_init(t->mul[i], t->zp, t->lo, t->hi);
            __m256i vb = _mm256_set1_epi64x(bi), v[4];
            for (int q = 0; q < 4; q++)
                v[q] = qp_rq16_apply4(&r, _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)&s[i][4 * q]), vb));
            store16((char *)t->c + i * t->ldc * csz, t->c_type, t->nr, qp_narrow64(v[0], v[1]),
                    qp_narrow64(v[2], v[3]));
            continue;
        }
        for (size_t j = 0; j < t->nr; j++)
            qp_qstore(t->c, i * t->ldc + j, t->c_type,
                      qp_requant_i64(qp_acc64(bi, s[i][j]), t->mul[i], t->zp, t->lo, t->hi));
    }
}

/* qp_gemm_q_pack_b_rows for full 16-column panels: rows k and k+1 widened (minus zp) and
 * interleaved into k pairs; partial panels use the portable packer. */
void qp_gemm_q_pack_b_rows__avx2(const void *ctx, size_t n0, size_t nc, size_t K, int16_t *dst)
{
    const qp_gemm_q_rows *r = ctx;
    if (nc != NR) {
        qp_gemm_q_pack_b_rows(ctx, n0, nc, K, dst);
        return;
    }
    __m256i zp = _mm256_set1_epi16((int16_t)r->zp); /* 0 for i16; 8-bit x - zp fits int16 */
    for (size_t k = 0; k < K; k += 2, dst += 2 * NR) {
        __m256i v[2];
        for (size_t t = 0; t < 2; t++) {
            if (k + t >= K) {
                v[t] = _mm256_setzero_si256();
                continue;
            }
            const char *s = (const char *)r->B + ((k + t) * r->ldb + n0) * qp_qtype_size(r->type);
            v[t] = r->type == QP_QTYPE_U8   ? _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)s))
                   : r->type == QP_QTYPE_I8 ? _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)s))
                                            : _mm256_loadu_si256((const __m256i *)s);
            v[t] = _mm256_sub_epi16(v[t], zp);
        }
        __m256i lo = _mm256_unpacklo_epi16(v[0], v[1]), hi = _mm256_unpackhi_epi16(v[0], v[1]);
        _mm256_store_si256((__m256i *)dst, _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_store_si256((__m256i *)(dst + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
}
