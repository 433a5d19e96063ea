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
    int partial = o + 8 * V > a->ow;
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
                /* masked stores are slow (microcoded on AMD): only for a partial vector */
                if (v + 1 < V || !partial)
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

/* 3x3, stride and dilation 1 vertically (BlazeFace, M-LSD, PP-OCR): the nine weights stay in
 * registers and each loaded input vector feeds every output row that uses it (three rows
 * share five input rows), so loads no longer outnumber FMAs.  Per output the taps still go
 * in (i, j) order after the bias, exactly as in dw_block. */
static void dw_rows_k3(const qp_dwconv2d_f32_rows_args *a, const size_t *off)
{
    __m256 w00 = _mm256_broadcast_ss(a->wgt + 0), w01 = _mm256_broadcast_ss(a->wgt + 1);
    __m256 w02 = _mm256_broadcast_ss(a->wgt + 2), w10 = _mm256_broadcast_ss(a->wgt + 3);
    __m256 w11 = _mm256_broadcast_ss(a->wgt + 4), w12 = _mm256_broadcast_ss(a->wgt + 5);
    __m256 w20 = _mm256_broadcast_ss(a->wgt + 6), w21 = _mm256_broadcast_ss(a->wgt + 7);
    __m256 w22 = _mm256_broadcast_ss(a->wgt + 8);
    __m256 vb = _mm256_set1_ps(a->bias);
    __m256 lo = _mm256_set1_ps(a->lo), hi = _mm256_set1_ps(a->hi);
    size_t o0 = off[0], o1 = off[1], o2 = off[2];
    int rows3 = a->out_rows / 3 * 3;
    for (int r0 = 0; r0 < rows3; r0 += 3)
        for (int o = 0; o < a->ow; o += 16) {
            __m256 c00 = vb, c01 = vb, c10 = vb, c11 = vb, c20 = vb, c21 = vb;
            const float *p = a->in + (size_t)r0 * a->in_row + o;
#define TAPS(x, v, wa, wb, wc)                                    \
    do {                                                          \
        __m256 t0 = _mm256_loadu_ps(x + o0 + 8 * (v));            \
        __m256 t1 = _mm256_loadu_ps(x + o1 + 8 * (v));            \
        __m256 t2 = _mm256_loadu_ps(x + o2 + 8 * (v));            \
        (void)t0;                                                 \
        wa;                                                       \
        wb;                                                       \
        wc;                                                       \
    } while (0)
            /* input row 0 feeds output row 0 (i=0) */
            TAPS(p, 0, c00 = _mm256_fmadd_ps(w00, t0, c00), c00 = _mm256_fmadd_ps(w01, t1, c00),
                 c00 = _mm256_fmadd_ps(w02, t2, c00));
            TAPS(p, 1, c01 = _mm256_fmadd_ps(w00, t0, c01), c01 = _mm256_fmadd_ps(w01, t1, c01),
                 c01 = _mm256_fmadd_ps(w02, t2, c01));
            p += a->in_row; /* input row 1: rows 0 (i=1), 1 (i=0) */
            TAPS(p, 0, (c00 = _mm256_fmadd_ps(w10, t0, c00), c10 = _mm256_fmadd_ps(w00, t0, c10)),
                 (c00 = _mm256_fmadd_ps(w11, t1, c00), c10 = _mm256_fmadd_ps(w01, t1, c10)),
                 (c00 = _mm256_fmadd_ps(w12, t2, c00), c10 = _mm256_fmadd_ps(w02, t2, c10)));
            TAPS(p, 1, (c01 = _mm256_fmadd_ps(w10, t0, c01), c11 = _mm256_fmadd_ps(w00, t0, c11)),
                 (c01 = _mm256_fmadd_ps(w11, t1, c01), c11 = _mm256_fmadd_ps(w01, t1, c11)),
                 (c01 = _mm256_fmadd_ps(w12, t2, c01), c11 = _mm256_fmadd_ps(w02, t2, c11)));
            p += a->in_row; /* input row 2: rows 0 (i=2), 1 (i=1), 2 (i=0) */
            TAPS(p, 0,
                 (c00 = _mm256_fmadd_ps(w20, t0, c00), c10 = _mm256_fmadd_ps(w10, t0, c10),
                  c20 = _mm256_fmadd_ps(w00, t0, c20)),
                 (c00 = _mm256_fmadd_ps(w21, t1, c00), c10 = _mm256_fmadd_ps(w11, t1, c10),
                  c20 = _mm256_fmadd_ps(w01, t1, c20)),
                 (c00 = _mm256_fmadd_ps(w22, t2, c00), c10 = _mm256_fmadd_ps(w12, t2, c10),
                  c20 = _mm256_fmadd_ps(w02, t2, c20)));
            TAPS(p, 1,
                 (c01 = _mm256_fmadd_ps(w20, t0, c01), c11 = _mm256_fmadd_ps(w10, t0, c11),
                  c21 = _mm256_fmadd_ps(w00, t0, c21)),
                 (c01 = _mm256_fmadd_ps(w21, t1, c01), c11 = _mm256_fmadd_ps(w11, t1, c11),
                  c21 = _mm256_fmadd_ps(w01, t1, c21)),
                 (c01 = _mm256_fmadd_ps(w22, t2, c01), c11 = _mm256_fmadd_ps(w12, t2, c11),
                  c21 = _mm256_fmadd_ps(w02, t2, c21)));
            p += a->in_row; /* input row 3: rows 1 (i=2), 2 (i=1) */
            TAPS(p, 0, (c10 = _mm256_fmadd_ps(w20, t0, c10), c20 = _mm256_fmadd_ps(w10, t0, c20)),
                 (c10 = _mm256_fmadd_ps(w21, t1, c10), c20 = _mm256_fmadd_ps(w11, t1, c20)),
                 (c10 = _mm256_fmadd_ps(w22, t2, c10), c20 = _mm256_fmadd_ps(w12, t2, c20)));
            TAPS(p, 1, (c11 = _mm256_fmadd_ps(w20, t0, c11), c21 = _mm256_fmadd_ps(w10, t0, c21)),
                 (c11 = _mm256_fmadd_ps(w21, t1, c11), c21 = _mm256_fmadd_ps(w11, t1, c21)),
                 (c11 = _mm256_fmadd_ps(w22, t2, c11), c21 = _mm256_fmadd_ps(w12, t2, c21)));
            p += a->in_row; /* input row 4: row 2 (i=2) */
            TAPS(p, 0, c20 = _mm256_fmadd_ps(w20, t0, c20), c20 = _mm256_fmadd_ps(w21, t1, c20),
                 c20 = _mm256_fmadd_ps(w22, t2, c20));
            TAPS(p, 1, c21 = _mm256_fmadd_ps(w20, t0, c21), c21 = _mm256_fmadd_ps(w21, t1, c21),
                 c21 = _mm256_fmadd_ps(w22, t2, c21));
#undef TAPS
            float *y = a->out + (size_t)r0 * a->ldy + o;
            __m256 v[6] = {c00, c01, c10, c11, c20, c21};
            for (int k = 0; k < 6; k++)
                v[k] = clamp8(v[k], a->clamp, lo, hi);
            int rest = a->ow - o;
            if (rest >= 16) {
                for (int r = 0; r < 3; r++, y += a->ldy) {
                    _mm256_storeu_ps(y, v[2 * r]);
                    _mm256_storeu_ps(y + 8, v[2 * r + 1]);
                }
            } else {
                /* masked stores are slow (microcoded on AMD): only at the row's end */
                __m256i m0 = _mm256_loadu_si256(
                    (const __m256i *)(mask_table + 8 - (rest >= 8 ? 8 : rest)));
                __m256i m1 = _mm256_loadu_si256(
                    (const __m256i *)(mask_table + 8 - (rest > 8 ? rest - 8 : 0)));
                for (int r = 0; r < 3; r++, y += a->ldy) {
                    _mm256_maskstore_ps(y, m0, v[2 * r]);
                    _mm256_maskstore_ps(y + 8, m1, v[2 * r + 1]);
                }
            }
        }
    if (rows3 < a->out_rows) {
        qp_dwconv2d_f32_rows_args b = *a;
        b.in += (size_t)rows3 * a->in_row;
        b.out += (size_t)rows3 * a->ldy;
        b.out_rows = a->out_rows - rows3;
        dw_rows(&b, 3);
    }
}

void qp_dwconv2d_f32_rows__avx2(const qp_dwconv2d_f32_rows_args *a)
{
    switch (a->kw) {
    case 3:
        if (a->kh == 3 && a->sh == 1 && a->dh == 1) {
            size_t off[3];
            for (int j = 0; j < 3; j++)
                off[j] = (size_t)(j * a->dw % a->sw) * a->pw + (size_t)(j * a->dw / a->sw);
            dw_rows_k3(a, off);
        } else {
            dw_rows(a, 3);
        }
        break;
    case 5:
        dw_rows(a, 5);
        break;
    default:
        dw_rows(a, a->kw);
        break;
    }
}
