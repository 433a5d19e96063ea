/* Convolution helpers for AVX2: the depthwise row kernel (interior blocks of 16 columns keep
 * their int32 sums in registers over all taps; edges use the portable sums; both requantize
 * with the bit-exact epilogues of q_rq_avx2.h) and the implicit-im2col panel packer. */
#include <immintrin.h>
#include <string.h>

#include "q_rq_avx2.h"
#include "qp/q_conv2d.h"

/* Fills the padded copies of the input rows the output row reads; valid[i] = 0 for a row
 * outside the input (all padding: contributes 0, skipped). */
static void dw_pad_rows(const qp_dwconv2d_q_row_args *a, size_t len, size_t esz, int *valid)
{
    size_t stride = (len * 2 + 63) & ~(size_t)63; /* as sized by q_conv2d.c */
    for (int i = 0; i < a->kh; i++) {
        int iy = a->oy * a->sh - a->pad_top + i * a->dh;
        valid[i] = iy >= 0 && iy < a->h;
        if (!valid[i])
            continue;
        char *d = (char *)a->rows + (size_t)i * stride;
        if (esz == 1)
            memset(d, a->x_zp & 0xff, len);
        else
            memset(d, 0, len * 2); /* i16: zp 0 */
        size_t n = (size_t)a->w, at = (size_t)a->pad_left;
        n = at >= len ? 0 : n < len - at ? n : len - at;
        memcpy(d + at * esz, (const char *)a->x + (size_t)iy * a->w * esz, n * esz);
    }
}

/* Sixteen taps p, p + sw, ... of a padded 8-bit row as int16 x - zp. */
static inline __m256i dw_load16(const qp_dwconv2d_q_row_args *a, const char *row, size_t p,
                                __m256i zp)
{
    const char *s = row + p;
    __m256i v;
    if (a->sw == 1) {
        v = a->x_type == QP_QTYPE_U8 ? _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)s))
                                     : _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)s));
    } else if (a->sw == 2) {
        v = _mm256_loadu_si256((const __m256i *)s); /* the even bytes of 32 */
        v = a->x_type == QP_QTYPE_U8 ? _mm256_and_si256(v, _mm256_set1_epi16(0xff))
                                     : _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8);
    } else {
        int16_t t[16];
        for (int u = 0; u < 16; u++)
            t[u] = (int16_t)(a->x_type == QP_QTYPE_U8 ? ((const uint8_t *)s)[u * a->sw]
                                                      : ((const int8_t *)s)[u * a->sw]);
        v = _mm256_loadu_si256((const __m256i *)t);
    }
    return _mm256_sub_epi16(v, zp);
}

static void dw_row8(const qp_dwconv2d_q_row_args *a)
{
    size_t len = qp_dwconv2d_q_row_len(a->ow, a->sw, a->kw, a->dw);
    size_t stride = (len * 2 + 63) & ~(size_t)63, ysz = qp_qtype_size(a->y_type);
    int valid[a->kh];
    dw_pad_rows(a, len, 1, valid);
    __m256i zp = _mm256_set1_epi16((int16_t)a->x_zp);
    qp_rq8_row r = qp_rq8_row_init(a->bias, a->mul, a->y_zp, a->y_lo, a->y_hi);
    /* |sum| <= kh kw 128 255: with the bias inside int32 the lanes take it from the start */
    int64_t bound = (int64_t)a->kh * a->kw * 32640, b = a->bias < 0 ? -a->bias : a->bias;
    int fold = r.n >= 32 && b + bound <= INT32_MAX;
    for (int ox0 = 0; ox0 < a->ow; ox0 += 16) {
        int n = a->ow - ox0 < 16 ? a->ow - ox0 : 16;
        __m256i acc0 = fold ? _mm256_set1_epi32((int32_t)a->bias) : _mm256_setzero_si256();
        __m256i acc1 = acc0;
        for (int i = 0; i < a->kh; i++) {
            if (!valid[i])
                continue; /* padding rows: x = zp, contributes 0 */
            const char *row = (const char *)a->rows + (size_t)i * stride;
            for (int j = 0; j < a->kw; j++) {
                /* |w (x - zp)| <= 128 * 255 fits int16: one 16-bit multiply, then widen */
                __m256i p = _mm256_mullo_epi16(
                    dw_load16(a, row, (size_t)ox0 * a->sw + (size_t)j * a->dw, zp),
                    _mm256_set1_epi16((int16_t)a->wgt[i * a->kw + j]));
                acc0 = _mm256_add_epi32(acc0, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(p)));
                acc1 = _mm256_add_epi32(acc1, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(p, 1)));
            }
        }
        int32_t out[16];
        _mm256_storeu_si256((__m256i *)out, fold ? qp_rq8_fast(&r, acc0) : qp_rq8_apply(&r, acc0));
        _mm256_storeu_si256((__m256i *)(out + 8), fold ? qp_rq8_fast(&r, acc1) : qp_rq8_apply(&r, acc1));
        char *y = (char *)a->y + (size_t)ox0 * ysz;
        for (int t = 0; t < n; t++)
            qp_qstore(y, (size_t)t, a->y_type, out[t]);
    }
}

/* 16-bit: products up to 2^30 need int64 sums; 8 columns as even/odd int64 lanes (vpmuldq). */
static void dw_row16(const qp_dwconv2d_q_row_args *a)
{
    if (!qp_rq16_ok(a->mul, a->bias) || a->sw != 1) {
        qp_dwconv2d_q_row__scalar(a);
        return;
    }
    size_t len = qp_dwconv2d_q_row_len(a->ow, a->sw, a->kw, a->dw);
    size_t stride = (len * 2 + 63) & ~(size_t)63, ysz = qp_qtype_size(a->y_type);
    int valid[a->kh];
    dw_pad_rows(a, len, 2, valid);
    qp_rq16_row r = qp_rq16_row_init(a->mul, a->y_zp, a->y_lo, a->y_hi);
    __m256i vb = _mm256_set1_epi64x(a->bias); /* |bias| < 2^60 and |sum| <= kh kw 2^30 */
    for (int ox0 = 0; ox0 < a->ow; ox0 += 8) {
        int n = a->ow - ox0 < 8 ? a->ow - ox0 : 8;
        __m256i s0 = _mm256_setzero_si256(), s1 = s0;
        for (int i = 0; i < a->kh; i++) {
            if (!valid[i])
                continue;
            const int16_t *row = (const int16_t *)((const char *)a->rows + (size_t)i * stride);
            for (int j = 0; j < a->kw; j++) {
                __m256i xv = _mm256_cvtepi16_epi32(
                    _mm_loadu_si128((const __m128i *)(row + ox0 + j * a->dw)));
                __m256i w = _mm256_set1_epi32(a->wgt[i * a->kw + j]);
                s0 = _mm256_add_epi64(s0, _mm256_mul_epi32(xv, w));
                s1 = _mm256_add_epi64(s1, _mm256_mul_epi32(_mm256_srli_epi64(xv, 32), w));
            }
        }
        __m256i e = qp_rq16_apply4(&r, _mm256_add_epi64(s0, vb)); /* columns 0, 2, 4, 6 */
        __m256i o = qp_rq16_apply4(&r, _mm256_add_epi64(s1, vb)); /* columns 1, 3, 5, 7 */
        int32_t out[8];
        _mm256_storeu_si256((__m256i *)out, _mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xAA));
        char *y = (char *)a->y + (size_t)ox0 * ysz;
        for (int t = 0; t < n; t++)
            qp_qstore(y, (size_t)t, a->y_type, out[t]);
    }
}

void qp_dwconv2d_q_row__avx2(const qp_dwconv2d_q_row_args *a)
{
    if (a->bits == 8)
        dw_row8(a);
    else
        dw_row16(a);
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
