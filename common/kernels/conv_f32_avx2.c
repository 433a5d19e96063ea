/* AVX2+FMA depthwise convolution rows.  The driver has already padded and phase-split the
 * input, so every tap of every stride and dilation is one unaligned load; kw = 3 and 5 get
 * fully unrolled copies (PP-OCR and BlazeFace depthwise layers), others the same loop. */
#include <immintrin.h>
#include <stdint.h>

#include "qp/conv_f32.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

ALWAYS_INLINE __m256 clamp8(__m256 v, unsigned clamp, __m256 lo, __m256 hi)
{
    return clamp ? _mm256_min_ps(_mm256_max_ps(v, lo), hi) : v;
}

/* A block of up to 8 accumulators: nr rows (<= 8/V) of V vectors starting at column o; the
 * last vector stores through mask.  Eight independent FMA chains cover the FMA latency.
 * Each output: bias, then one FMA per tap in (i, j) order, whatever block computed it. */
ALWAYS_INLINE void dw_block(const qp_dwconv2d_f32_rows_args *a, const size_t *off, int kw, int V,
                            int R, int r0, int o, __m256i mask)
{
    __m256 acc[8];
    __m256 vb = _mm256_set1_ps(a->bias);
#pragma GCC unroll 8
    for (int t = 0; t < 8; t++)
        acc[t] = vb;
    size_t row_step = (size_t)a->sh * a->in_row, step_i = (size_t)a->dh * a->in_row;
    const float *base = a->in + (size_t)r0 * row_step + o;
    const float *w = a->wgt;
    for (int i = 0; i < a->kh; i++, base += step_i, w += kw)
        for (int j = 0; j < kw; j++) {
            __m256 wv = _mm256_broadcast_ss(w + j);
            const float *s = base + off[j];
#pragma GCC unroll 8
            for (int r = 0; r < R; r++)
#pragma GCC unroll 4
                for (int v = 0; v < V; v++)
                        acc[r * V + v] = _mm256_fmadd_ps(
                            wv, _mm256_loadu_ps(s + (size_t)r * row_step + 8 * v), acc[r * V + v]);
        }
    __m256 lo = _mm256_set1_ps(a->lo), hi = _mm256_set1_ps(a->hi);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
            float *out = a->out + (size_t)(r0 + r) * a->ldy + o;
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) {
                __m256 c = clamp8(acc[r * V + v], a->clamp, lo, hi);
                if (v + 1 < V)
                    _mm256_storeu_ps(out + 8 * v, c);
                else
                    _mm256_maskstore_ps(out + 8 * v, mask, c);
            }
        }
}

/* Blocks of R rows x V vectors with R*V <= 8; leftover rows go one at a time.  All block
 * shapes are compile-time constants so the accumulators live in registers. */
ALWAYS_INLINE void dw_cols(const qp_dwconv2d_f32_rows_args *a, const size_t *off, int kw, int V,
                           int R, int r0, int o, __m256i mask)
{
    switch (V * 16 + R) {
#define B(v, r)                                       \
    case v * 16 + r:                                  \
        dw_block(a, off, kw, v, r, r0, o, mask);      \
        break;
        B(4, 2) B(4, 1) B(3, 2) B(3, 1) B(2, 4) B(2, 1) B(1, 8) B(1, 1)
#undef B
    default:
        break;
    }
}

ALWAYS_INLINE void dw_rows(const qp_dwconv2d_f32_rows_args *a, int kw)
{
    size_t off[QP_DWCONV2D_KW_MAX];
    for (int j = 0; j < kw; j++) {
        int t = j * a->dw;
        off[j] = (size_t)(t % a->sw) * a->pw + (size_t)(t / a->sw);
    }
    __m256i full = _mm256_set1_epi32(-1);
    int vecs = (a->ow + 7) / 8;
    int vmain = vecs < 4 ? vecs : 4;
    int rest = a->ow % (8 * vmain), vrest = (rest + 7) / 8;
    int main_end = a->ow - rest;
    __m256i mrest = full;
    if (rest % 8)
        mrest = _mm256_loadu_si256((const __m256i *)(mask_table + 8 - rest % 8));
    int r0 = 0;
    for (; r0 < a->out_rows; ) {
        int R = a->out_rows - r0 >= 8 / vmain ? 8 / vmain : 1;
        for (int o = 0; o < main_end; o += 8 * vmain)
            dw_cols(a, off, kw, vmain, R, r0, o, full);
        if (rest) {
            int Rr = 8 / vrest;
            for (int rr = 0; rr < R; ) {
                int n = R - rr >= Rr ? Rr : 1;
                dw_cols(a, off, kw, vrest, n, r0 + rr, main_end, mrest);
                rr += n;
            }
        }
        r0 += R;
    }
}

void qp_dwconv2d_f32_rows__avx2(const qp_dwconv2d_f32_rows_args *a)
{
    switch (a->kw) {
    case 3:
        dw_rows(a, 3);
        break;
    case 5:
        dw_rows(a, 5);
        break;
    default:
        dw_rows(a, a->kw);
        break;
    }
}
