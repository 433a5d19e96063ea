/* AVX2 pooling planes: stride-1 max pooling vectorised along the output row (yolov5's SPPF
 * k5 s1 p2, M-LSD's k3 s1 p1), a 2x2 stride-2 kernel that de-interleaves pairs in registers
 * (PP-OCR cls, BlazeFace), and the global reductions.  Max is exact, so the vector and
 * scalar code give identical results; the window edges use the scalar rule. */
#include <float.h>
#include <immintrin.h>
#include <stdint.h>

#include "qp/pool_f32.h"

/* One output element with full bounds checks (window edges and ceil_mode windows). */
static float max_at(const qp_pool2d_f32_params *p, const float *x, int oh, int ow)
{
    float m = -FLT_MAX;
    for (int i = 0; i < p->kh; i++) {
        int ih = oh * p->stride_h - p->pad_top + i * p->dil_h;
        if (ih < 0 || ih >= p->h)
            continue;
        for (int j = 0; j < p->kw; j++) {
            int iw = ow * p->stride_w - p->pad_left + j * p->dil_w;
            if (iw < 0 || iw >= p->w)
                continue;
            float v = x[(size_t)ih * p->w + iw];
            m = v > m ? v : m;
        }
    }
    return m;
}

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i tail_mask(int rem) /* lanes [0, rem) */
{
    return _mm256_loadu_si256((const __m256i *)(mask_table + 8 - rem));
}

#define ROW_MAX 4096 /* widest padded row the separable path keeps on the stack */

/* Separable: per output row, the max over the window's input rows for every column, then
 * the max over the window's columns of that row, padded with -FLT_MAX so the edges need no
 * special case.  maxps returns its second operand when the first is NaN, matching the
 * reference's "v > m ? v : m"; max is exact, so the order does not change the result. */
static void max_stride1(const qp_pool2d_f32_params *p, const float *x, float *y)
{
    int span_w = (p->kw - 1) * p->dil_w;
    size_t len = (size_t)p->ow + (size_t)span_w + 8; /* every tap of every vector */
    if ((size_t)p->pad_left + (size_t)p->w > len)
        len = (size_t)p->pad_left + (size_t)p->w;
    if (len > ROW_MAX) {
        qp_maxpool2d_f32_plane__scalar(p, x, y);
        return;
    }
    float buf[ROW_MAX];
    __m256 lowest = _mm256_set1_ps(-FLT_MAX);
    for (size_t i = 0; i < len; i++)
        buf[i] = -FLT_MAX;
    float *vm = buf + p->pad_left; /* vm[w]: column w's max over the window's rows */
    for (int oh = 0; oh < p->oh; oh++) {
        int ih0 = oh * p->stride_h - p->pad_top;
        int i0 = 0, i1 = p->kh;
        while (i0 < i1 && ih0 + i0 * p->dil_h < 0)
            i0++;
        while (i1 > i0 && ih0 + (i1 - 1) * p->dil_h >= p->h)
            i1--;
        int w = 0;
        for (; w + 8 <= p->w; w += 8) {
            __m256 m = lowest;
            for (int i = i0; i < i1; i++)
                m = _mm256_max_ps(_mm256_loadu_ps(x + (size_t)(ih0 + i * p->dil_h) * p->w + w), m);
            _mm256_storeu_ps(vm + w, m);
        }
        if (w < p->w) {
            __m256i mask = tail_mask(p->w - w);
            __m256 m = lowest;
            for (int i = i0; i < i1; i++)
                m = _mm256_max_ps(
                    _mm256_maskload_ps(x + (size_t)(ih0 + i * p->dil_h) * p->w + w, mask), m);
            float t[8]; /* a plain store and copy: masked stores are microcoded on AMD */
            _mm256_storeu_ps(t, m);
            for (int k = 0; k < p->w - w; k++)
                vm[w + k] = t[k];
        }
        float *yr = y + (size_t)oh * p->ow;
        int ow = 0;
        for (; ow + 8 <= p->ow; ow += 8) {
            __m256 m = lowest;
            for (int j = 0; j < p->kw; j++)
                m = _mm256_max_ps(_mm256_loadu_ps(buf + ow + j * p->dil_w), m);
            _mm256_storeu_ps(yr + ow, m);
        }
        if (ow < p->ow) { /* buf has room for the whole vector */
            __m256 m = lowest;
            for (int j = 0; j < p->kw; j++)
                m = _mm256_max_ps(_mm256_loadu_ps(buf + ow + j * p->dil_w), m);
            float t[8];
            _mm256_storeu_ps(t, m);
            for (int k = 0; k < p->ow - ow; k++)
                yr[ow + k] = t[k];
        }
    }
}

static void max_k2s2(const qp_pool2d_f32_params *p, const float *x, float *y)
{
    int full_rows = p->h / 2 < p->oh ? p->h / 2 : p->oh;
    int full_cols = p->w / 2 < p->ow ? p->w / 2 : p->ow;
    for (int oh = 0; oh < p->oh; oh++) {
        float *yr = y + (size_t)oh * p->ow;
        int ow = 0;
        if (oh < full_rows) {
            const float *r0 = x + (size_t)(2 * oh) * p->w, *r1 = r0 + p->w;
            for (; ow + 8 <= full_cols; ow += 8) {
                __m256 a = _mm256_max_ps(_mm256_loadu_ps(r1 + 2 * ow), _mm256_loadu_ps(r0 + 2 * ow));
                __m256 b = _mm256_max_ps(_mm256_loadu_ps(r1 + 2 * ow + 8),
                                         _mm256_loadu_ps(r0 + 2 * ow + 8));
                __m256 ev = _mm256_shuffle_ps(a, b, 0x88), od = _mm256_shuffle_ps(a, b, 0xDD);
                __m256 m = _mm256_max_ps(od, ev);
                m = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xD8));
                _mm256_storeu_ps(yr + ow, m);
            }
        }
        for (; ow < p->ow; ow++)
            yr[ow] = max_at(p, x, oh, ow);
    }
}

void qp_maxpool2d_f32_plane__avx2(const qp_pool2d_f32_params *p, const float *x, float *y)
{
    if (p->kh == 2 && p->kw == 2 && p->stride_h == 2 && p->stride_w == 2 && p->dil_h == 1 &&
        p->dil_w == 1 && p->pad_top == 0 && p->pad_left == 0)
        max_k2s2(p, x, y);
    else if (p->stride_w == 1)
        max_stride1(p, x, y);
    else
        qp_maxpool2d_f32_plane__scalar(p, x, y);
}

/* Eight lanes times four accumulators, combined pairwise: a fixed order for a given hw. */
float qp_global_avgpool_f32_plane__avx2(size_t hw, const float *x)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= hw; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(x + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(x + i + 24));
    }
    for (; i + 8 <= hw; i += 8)
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float t = _mm_cvtss_f32(h);
    for (; i < hw; i++)
        t += x[i];
    return t / (float)hw;
}

float qp_global_maxpool_f32_plane__avx2(size_t hw, const float *x)
{
    __m256 m = _mm256_set1_ps(-FLT_MAX);
    size_t i = 0;
    for (; i + 8 <= hw; i += 8)
        m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);
    float lanes[8];
    _mm256_storeu_ps(lanes, m);
    float r = -FLT_MAX;
    for (int k = 0; k < 8; k++)
        r = lanes[k] > r ? lanes[k] : r;
    for (; i < hw; i++)
        r = x[i] > r ? x[i] : r;
    return r;
}
