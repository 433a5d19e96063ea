/* Convolution helpers for AVX2: the depthwise plane kernel (the input plane copied once into
 * scratch padded with the zero point, so every tap is a plain load; blocks of 16 columns keep
 * their sums in registers over all taps and requantize with the bit-exact epilogues of
 * q_rq_avx2.h) and the implicit-im2col panel packer. */
#include <immintrin.h>
#include <string.h>

#include "q_rq_avx2.h"
#include "qp/q_conv2d.h"

/* Copies the input plane into the zero-point-padded plane (qp/q_conv2d.h); returns it. */
static char *dw_pad_plane(const qp_dwconv2d_q_plane_args *a, size_t rows, size_t cols, size_t esz)
{
    char *d = (char *)a->scratch + (((size_t)a->ow * 8 + 63) & ~(size_t)63);
    if (esz == 1)
        memset(d, a->x_zp & 0xff, rows * cols);
    else
        memset(d, 0, rows * cols * 2); /* i16: zp 0 */
    size_t room = cols - (size_t)a->pad_left;
    size_t n = (size_t)a->w < room ? (size_t)a->w : room;
    for (int iy = 0; iy < a->h; iy++) {
        size_t py = (size_t)iy + (size_t)a->pad_top;
        if (py >= rows)
            break;
        memcpy(d + (py * cols + (size_t)a->pad_left) * esz,
               (const char *)a->x + (size_t)iy * a->w * esz, n * esz);
    }
    return d;
}

/* Sixteen taps s[0], s[sw], ... of a padded 8-bit row as int16 x - zp. */
static inline __m256i dw_load16(const char *s, int sw, int is_u8, __m256i zp)
{
    __m256i v;
    if (sw == 1) {
        __m128i b = _mm_loadu_si128((const __m128i *)s);
        v = is_u8 ? _mm256_cvtepu8_epi16(b) : _mm256_cvtepi8_epi16(b);
    } else if (sw == 2) {
        v = _mm256_loadu_si256((const __m256i *)s); /* the even bytes of 32 */
        v = is_u8 ? _mm256_and_si256(v, _mm256_set1_epi16(0xff))
                  : _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8);
    } else {
        int16_t t[16];
        for (int u = 0; u < 16; u++)
            t[u] = (int16_t)(is_u8 ? ((const uint8_t *)s)[u * sw] : ((const int8_t *)s)[u * sw]);
        v = _mm256_loadu_si256((const __m256i *)t);
    }
    return _mm256_sub_epi16(v, zp);
}

/* Stores n <= 16 clamped int32 (two vectors) as u8/i8/i16. */
static inline void dw_store(void *y, qp_qtype t, int n, __m256i v0, __m256i v1)
{
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
    if (t == QP_QTYPE_I16) {
        if (n == 16) {
            _mm256_storeu_si256((__m256i *)y, w);
            return;
        }
        int16_t tmp[16];
        _mm256_storeu_si256((__m256i *)tmp, w);
        memcpy(y, tmp, (size_t)n * 2);
        return;
    }
    __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
    __m128i b = t == QP_QTYPE_U8 ? _mm_packus_epi16(lo, hi) : _mm_packs_epi16(lo, hi);
    if (n == 16) {
        _mm_storeu_si128((__m128i *)y, b);
        return;
    }
    uint8_t tmp[16];
    _mm_storeu_si128((__m128i *)tmp, b);
    memcpy(y, tmp, (size_t)n);
}

/* 8-bit: taps are taken in pairs (t, t + 1) and vpmaddwd forms w_t x_t + w_t+1 x_t+1 exactly
 * (|w x| <= 128 * 255, a pair <= 65280) on the raw inputs; the zero point goes into the bias
 * as -zp * sum(w), an integer identity, so sum w (x - zp) is unchanged.  unpacklo/hi leave
 * columns 0-3, 8-11 and 4-7, 12-15 in the two accumulators; one lane permute restores them. */
#define DW_PAIRS_MAX 64
static void dw_plane8(const qp_dwconv2d_q_plane_args *a)
{
    size_t rows = qp_dwconv2d_q_pad_rows(a->oh, a->sh, a->kh, a->dh);
    size_t cols = qp_dwconv2d_q_pad_cols(a->ow, a->sw, a->kw, a->dw);
    int khw = a->kh * a->kw, np = (khw + 1) / 2;
    if (np > DW_PAIRS_MAX) {
        qp_dwconv2d_q_plane__scalar(a);
        return;
    }
    const char *pl = dw_pad_plane(a, rows, cols, 1);
    size_t ysz = qp_qtype_size(a->y_type), off[2 * DW_PAIRS_MAX];
    int32_t wpair[DW_PAIRS_MAX];
    int64_t sumw = 0;
    for (int t = 0; t < 2 * np; t++) {
        int tt = t < khw ? t : 0; /* the odd last tap pairs with weight 0 */
        off[t] = (size_t)(tt / a->kw) * a->dh * cols + (size_t)(tt % a->kw) * a->dw;
        int32_t w = t < khw ? a->wgt[t] : 0;
        sumw += w;
        if (t % 2 == 0)
            wpair[t / 2] = (int32_t)((uint32_t)(uint16_t)w);
        else
            wpair[t / 2] = (int32_t)((uint32_t)wpair[t / 2] | (uint32_t)w << 16);
    }
    int64_t bias = a->bias - (int64_t)a->x_zp * sumw; /* |.| < 2^31 + 2^31 */
    int is_u8 = a->x_type == QP_QTYPE_U8;
    qp_rq8_row r = qp_rq8_row_init(bias, a->mul, a->y_zp, a->y_lo, a->y_hi);
    int64_t bound = (int64_t)khw * 32640, b = bias < 0 ? -bias : bias;
    int fold = r.n >= 32 && b + bound <= INT32_MAX;
    __m256i init = fold ? _mm256_set1_epi32((int32_t)bias) : _mm256_setzero_si256();
    __m256i zero = _mm256_setzero_si256();
    for (int oy = 0; oy < a->oh; oy++) {
        const char *base = pl + (size_t)oy * a->sh * cols;
        char *y = (char *)a->y + (size_t)oy * a->ow * ysz;
        for (int ox0 = 0; ox0 < a->ow; ox0 += 16) {
            __m256i lo = init, hi = init;
            const char *s0 = base + (size_t)ox0 * a->sw;
            for (int q = 0; q < np; q++) {
                __m256i xa = dw_load16(s0 + off[2 * q], a->sw, is_u8, zero);
                __m256i xb = dw_load16(s0 + off[2 * q + 1], a->sw, is_u8, zero);
                __m256i wv = _mm256_set1_epi32(wpair[q]);
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), wv));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb), wv));
            }
            __m256i v0 = _mm256_permute2x128_si256(lo, hi, 0x20);
            __m256i v1 = _mm256_permute2x128_si256(lo, hi, 0x31);
            int n = a->ow - ox0 < 16 ? a->ow - ox0 : 16;
            if (fold)
                dw_store(y + (size_t)ox0 * ysz, a->y_type, n, qp_rq8_fast(&r, v0), qp_rq8_fast(&r, v1));
            else
                dw_store(y + (size_t)ox0 * ysz, a->y_type, n, qp_rq8_apply(&r, v0), qp_rq8_apply(&r, v1));
        }
    }
}

/* 16-bit: products up to 2^30 need int64 sums; 8 columns as even/odd int64 lanes (vpmuldq). */
static void dw_plane16(const qp_dwconv2d_q_plane_args *a)
{
    if (!qp_rq16_ok(a->mul, a->bias) || a->sw != 1) {
        qp_dwconv2d_q_plane__scalar(a);
        return;
    }
    size_t rows = qp_dwconv2d_q_pad_rows(a->oh, a->sh, a->kh, a->dh);
    size_t cols = qp_dwconv2d_q_pad_cols(a->ow, a->sw, a->kw, a->dw);
    const int16_t *pl = (const int16_t *)dw_pad_plane(a, rows, cols, 2);
    size_t ysz = qp_qtype_size(a->y_type);
    qp_rq16_row r = qp_rq16_row_init(a->mul, a->y_zp, a->y_lo, a->y_hi);
    __m256i vb = _mm256_set1_epi64x(a->bias); /* |bias| < 2^60 and |sum| <= kh kw 2^30 */
    for (int oy = 0; oy < a->oh; oy++) {
        const int16_t *base = pl + (size_t)oy * a->sh * cols;
        char *y = (char *)a->y + (size_t)oy * a->ow * ysz;
        for (int ox0 = 0; ox0 < a->ow; ox0 += 16) {
            __m256i v[2];
            for (int h = 0; h < 2; h++) {
                __m256i s0 = _mm256_setzero_si256(), s1 = s0;
                for (int i = 0; i < a->kh; i++) {
                    const int16_t *row = base + (size_t)i * a->dh * cols + ox0 + 8 * h;
                    for (int j = 0; j < a->kw; j++) {
                        __m256i xv = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(row + j * a->dw)));
                        __m256i w = _mm256_set1_epi32(a->wgt[i * a->kw + j]);
                        s0 = _mm256_add_epi64(s0, _mm256_mul_epi32(xv, w));
                        s1 = _mm256_add_epi64(s1, _mm256_mul_epi32(_mm256_srli_epi64(xv, 32), w));
                    }
                }
                __m256i e = qp_rq16_apply4(&r, _mm256_add_epi64(s0, vb)); /* columns 0, 2, 4, 6 */
                __m256i o = qp_rq16_apply4(&r, _mm256_add_epi64(s1, vb)); /* columns 1, 3, 5, 7 */
                v[h] = _mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xAA);
            }
            int n = a->ow - ox0 < 16 ? a->ow - ox0 : 16;
            dw_store(y + (size_t)ox0 * ysz, a->y_type, n, v[0], v[1]);
        }
    }
}

void qp_dwconv2d_q_plane__avx2(const qp_dwconv2d_q_plane_args *a)
{
    if (a->bits == 8)
        dw_plane8(a);
    else
        dw_plane16(a);
}

/* One im2col row of a 16-column panel lying in one output row: 16 taps as int16 x - zp.
 * Contiguous (stride 1) and stride-2 rows inside the input load directly; the rest gathers. */
static inline __m256i im2col_row16(const qp_im2col_q_ctx *c, const char *plane, int iy, int ix0,
                                   __m256i zp)
{
    const qp_conv2d_q_params *p = c->p;
    if (iy < 0 || iy >= p->h)
        return _mm256_setzero_si256();
    size_t esz = c->type == QP_QTYPE_I16 ? 2 : 1;
    const char *row = plane + (size_t)iy * p->w * esz;
    int sw = p->stride_w;
    if (sw == 1 && ix0 >= 0 && ix0 + 16 <= p->w) {
        const char *s = row + (size_t)ix0 * esz;
        __m256i v = c->type == QP_QTYPE_U8   ? _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)s))
                    : c->type == QP_QTYPE_I8 ? _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)s))
                                             : _mm256_loadu_si256((const __m256i *)s);
        return _mm256_sub_epi16(v, zp);
    }
    if (sw == 2 && esz == 1 && ix0 >= 0 && ix0 + 32 <= p->w) {
        /* the even bytes of 32 as 16-bit lanes: mask (u8) or shift pair (i8) */
        __m256i v = _mm256_loadu_si256((const __m256i *)(row + ix0));
        v = c->type == QP_QTYPE_U8 ? _mm256_and_si256(v, _mm256_set1_epi16(0xff))
                                   : _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8);
        return _mm256_sub_epi16(v, zp);
    }
    int16_t t[16];
    for (int u = 0; u < 16; u++) {
        int ix = ix0 + u * sw;
        t[u] = ix >= 0 && ix < p->w ? (int16_t)(qp_qload(row, (size_t)ix, c->type) - c->zp) : 0;
    }
    return _mm256_loadu_si256((const __m256i *)t);
}

void qp_im2col_q_pack__avx2(const void *vctx, size_t n0, size_t nc, size_t K, int16_t *dst)
{
    const qp_im2col_q_ctx *c = vctx;
    const qp_conv2d_q_params *p = c->p;
    int oy = (int)(n0 / (size_t)p->ow), ox0 = (int)(n0 % (size_t)p->ow);
    if (nc != 16 || ox0 + 16 > p->ow) { /* the panel spans output rows or is the last one */
        qp_im2col_q_pack__scalar(vctx, n0, nc, K, dst);
        return;
    }
    /* an i16 input has zp 0 and an 8-bit x - zp fits int16, so 16-bit lanes are exact */
    __m256i zp = _mm256_set1_epi16((int16_t)c->zp);
    size_t esz = qp_qtype_size(c->type), plane = (size_t)p->h * p->w * esz;
    int ci = 0, i = 0, j = 0;
    int iy_base = oy * p->stride_h - p->pad_top, ix_base = ox0 * p->stride_w - p->pad_left;
    for (size_t k = 0; k < K; k += 2, dst += 32) {
        __m256i r[2];
        for (int t = 0; t < 2; t++) {
            if (k + (size_t)t >= K) {
                r[t] = _mm256_setzero_si256();
                continue;
            }
            r[t] = im2col_row16(c, (const char *)c->x + (size_t)ci * plane, iy_base + i * p->dil_h,
                                ix_base + j * p->dil_w, zp);
            if (++j == p->kw) { /* next tap: (ci, i, j) in row-major order */
                j = 0;
                if (++i == p->kh) {
                    i = 0;
                    ci++;
                }
            }
        }
        __m256i lo = _mm256_unpacklo_epi16(r[0], r[1]), hi = _mm256_unpackhi_epi16(r[0], r[1]);
        _mm256_store_si256((__m256i *)dst, _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_store_si256((__m256i *)(dst + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
}
