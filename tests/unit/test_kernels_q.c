/* Checker for the integer kernels: every variant (X-macro lists of q_gemm, q_conv2d, q_eltwise,
 * q_convert) against its __ref bit for bit on random inputs and edge cases (extreme zero
 * points, saturation, odd channel counts, tile +-1, big pads, strides, dilations, groups), one
 * and two threads byte-identical, and golden integer outputs in tests/data/golden/ so that
 * any change of arithmetic shows.
 * Usage: test_kernels_q [-v] [--golden DIR] [--regen DIR]
 * Exits non-zero on any failure; the last line is "N passed, M failed". */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/q_conv2d.h"
#include "qp/q_convert.h"
#include "qp/q_eltwise.h"
#include "qp/q_gemm.h"
#include "qp/q_lut.h"
#include "qp/q_pool.h"
#include "qp/requant.h"
#include "qp/threads.h"
#include "qp/vmath.h"

#include "check.h"
static int verbose;


/* ---- Helpers ------------------------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int64_t rnd_range(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static void *xmalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(3);
    }
    memset(p, 0xA5, (n + 63) & ~(size_t)63);
    return p;
}

/* Random values of type t; with mode 1 mostly the extremes (saturation), 2 constant lo. */
static void fill(void *x, size_t n, qp_qtype t, int mode)
{
    int64_t lo = qp_qtype_min(t), hi = qp_qtype_max(t);
    for (size_t i = 0; i < n; i++) {
        int64_t v = rnd_range(lo, hi);
        if (mode == 1 && rnd() % 4)
            v = rnd() & 1 ? lo : hi;
        if (mode == 2)
            v = lo;
        qp_qstore(x, i, t, (int32_t)v);
    }
}

static qp_qmul rnd_mul(int bits)
{
    qp_qmul m;
    /* typical layer multipliers are 2^-5 .. 2^-20; a few extreme ones */
    double e = bits == 8 ? -(double)rnd_range(4, 20) : -(double)rnd_range(14, 36);
    int r = (int)(rnd() % 16);
    if (r == 0)
        e = -(double)rnd_range(0, 3);
    if (r == 1)
        e = -(double)rnd_range(40, 62);
    qp_requant_multiplier(ldexp(1.0 + (double)(rnd() % 1000000) / 1000000.0, (int)e), &m);
    if (r == 2)
        m.mult = 1 << 30; /* exact powers of two: ties happen */
    return m;
}

static qp_qtype rnd_act8(void)
{
    return rnd() & 1 ? QP_QTYPE_U8 : QP_QTYPE_I8;
}
static qp_qtype rnd_out(void)
{
    static const qp_qtype t[] = {QP_QTYPE_U8, QP_QTYPE_I8, QP_QTYPE_I16};
    return t[rnd() % 3];
}
static int32_t rnd_zp(qp_qtype t)
{
    if (t == QP_QTYPE_I16)
        return rnd() % 4 ? 0 : (int32_t)rnd_range(-300, 300);
    int r = (int)(rnd() % 4);
    return r == 0 ? (int32_t)qp_qtype_min(t) : r == 1 ? (int32_t)qp_qtype_max(t)
                                                       : (int32_t)rnd_range(qp_qtype_min(t), qp_qtype_max(t));
}
static void rnd_clamp(qp_qtype t, int32_t zp, int32_t *lo, int32_t *hi)
{
    *lo = (int32_t)qp_qtype_min(t);
    *hi = (int32_t)qp_qtype_max(t);
    if (rnd() % 4 == 0 && zp >= *lo && zp <= *hi) { /* fused ReLU, sometimes ReLU6-like */
        *lo = zp;
        if (rnd() & 1)
            *hi = (int32_t)(zp + (*hi - zp) / 3);
    }
}

static int same(const void *a, const void *b, size_t n, size_t *where)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) {
            *where = i;
            return 0;
        }
    return 1;
}

/* ---- q_gemm -------------------------------------------------------------------------------- */

static void gemm_case(int bits, const qp_gemm_q_ukernel *uk, size_t M, size_t N, size_t K,
                      int mode)
{
    qp_qtype bt = bits == 8 ? rnd_act8() : QP_QTYPE_I16, ct = rnd_out();
    size_t asz = bits / 8;
    void *A = xmalloc(M * K * asz), *B = xmalloc(K * N * qp_qtype_size(bt));
    fill(A, M * K, bits == 8 ? QP_QTYPE_I8 : QP_QTYPE_I16, mode);
    fill(B, K * N, bt, mode);
    void *bias = xmalloc(M * 8);
    qp_qmul *mul = xmalloc(M * sizeof *mul);
    for (size_t m = 0; m < M; m++) {
        mul[m] = rnd_mul(bits);
        if (bits == 8)
            ((int32_t *)bias)[m] = rnd() % 8 == 0 ? (rnd() & 1 ? INT32_MAX : INT32_MIN)
                                                  : (int32_t)rnd_range(-100000, 100000);
        else
            ((int64_t *)bias)[m] = rnd() % 8 == 0 ? (rnd() & 1 ? INT64_MAX : INT64_MIN)
                                                  : rnd_range(-(INT64_C(1) << 40), INT64_C(1) << 40);
    }
    qp_gemm_q_args a = {.M = M, .N = N, .K = K, .B = B, .ldb = N, .b_type = bt,
                        .b_zp = bits == 8 ? rnd_zp(bt) : 0, .bias = rnd() % 5 ? bias : NULL,
                        .mul = mul, .c_type = ct, .c_zp = rnd_zp(ct), .ldc = N};
    rnd_clamp(ct, a.c_zp, &a.c_lo, &a.c_hi);
    size_t csz = M * N * qp_qtype_size(ct);
    void *C0 = xmalloc(csz), *C1 = xmalloc(csz), *C2 = xmalloc(csz);
    size_t ps = bits == 8 ? qp_gemm_q8_packed_size(M, K) : qp_gemm_q16_packed_size(M, K);
    void *packed = xmalloc(ps), *scratch = xmalloc(qp_gemm_q_scratch_size(K, QP_THREADS_MAX));
    if (bits == 8)
        qp_gemm_q8_pack(M, K, A, K, packed);
    else
        qp_gemm_q16_pack(M, K, A, K, packed);
    a.packed_a = packed;
    a.C = C0;
    if (bits == 8)
        qp_gemm_q8__ref(&a, A, K);
    else
        qp_gemm_q16__ref(&a, A, K);
    qp_gemm_q_ukernel_force(bits, uk);
    for (int th = 1; th <= 2; th++) {
        qp_threads_set_count(th);
        a.C = th == 1 ? C1 : C2;
        if (bits == 8)
            qp_gemm_q8(&a, scratch);
        else
            qp_gemm_q16(&a, scratch);
    }
    qp_gemm_q_ukernel_force(bits, NULL);
    size_t at = 0;
    CHECK(same(C0, C1, csz, &at) && same(C1, C2, csz, &at),
          "gemm %s M=%zu N=%zu K=%zu b=%s zp=%d c=%s zp=%d [%d,%d] mode=%d: byte %zu differs",
          uk->name, M, N, K, qp_qtype_name(bt), a.b_zp, qp_qtype_name(ct), a.c_zp, a.c_lo,
          a.c_hi, mode, at);
    free(A), free(B), free(bias), free(mul), free(C0), free(C1), free(C2), free(packed),
        free(scratch);
}

static void test_gemm(void)
{
    static const size_t Ms[] = {1, 3, 4, 5, 7, 17};
    static const size_t Ns[] = {1, 15, 16, 17, 33};
    static const size_t Ks[] = {1, 2, 3, 7, 16, 17, 64, 255, 256, 257, 300, 513};
    int n0 = n_pass + n_fail;
    for (size_t u = 0; u < qp_gemm_q_n_ukernels; u++) {
        const qp_gemm_q_ukernel *uk = &qp_gemm_q_ukernels[u];
        if (!qp_kernels_isa_supported(uk->isa))
            continue;
        for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++)
            for (size_t j = 0; j < sizeof Ns / sizeof Ns[0]; j++)
                for (size_t k = 0; k < sizeof Ks / sizeof Ks[0]; k++)
                    if ((i + j + k) % 3 == 0 || Ms[i] == 17)
                        gemm_case(uk->bits, uk, Ms[i], Ns[j], Ks[k], (int)((i + j + k) % 3));
        /* the exactness limits: K at the 8-bit bound with saturating inputs; 16-bit blocks */
        gemm_case(uk->bits, uk, 5, 17, uk->bits == 8 ? QP_GEMM_Q8_K_MAX : 1025, 1);
        gemm_case(uk->bits, uk, 4, 16, uk->bits == 8 ? QP_GEMM_Q8_K_MAX - 1 : 4097, 1);
    }
    if (verbose)
        printf("gemm: %d cases\n", n_pass + n_fail - n0);
}

/* A 16-bit GEMM whose every product is (-32768)^2: the case vpmaddwd alone gets wrong. */
static void test_gemm16_extreme(void)
{
    size_t M = 4, N = 16, K = 512;
    int16_t *A = xmalloc(M * K * 2), *B = xmalloc(K * N * 2), C[64], R[64];
    for (size_t i = 0; i < M * K; i++)
        A[i] = -32768;
    for (size_t i = 0; i < K * N; i++)
        B[i] = -32768;
    qp_qmul mul[4];
    for (int i = 0; i < 4; i++)
        qp_requant_multiplier(ldexp(1.0, -39), &mul[i]); /* 512 * 2^30 * 2^-39 = 1 */
    void *packed = xmalloc(qp_gemm_q16_packed_size(M, K)),
         *scratch = xmalloc(qp_gemm_q_scratch_size(K, QP_THREADS_MAX));
    qp_gemm_q16_pack(M, K, A, K, packed);
    qp_gemm_q_args a = {.M = M, .N = N, .K = K, .packed_a = packed, .B = B, .ldb = N,
                        .b_type = QP_QTYPE_I16, .mul = mul, .c_type = QP_QTYPE_I16,
                        .c_lo = -32768, .c_hi = 32767, .C = R, .ldc = N};
    qp_gemm_q16__ref(&a, A, K);
    int ok = 1;
    for (int i = 0; i < 64; i++)
        ok &= R[i] == 1;
    CHECK(ok, "gemm16 extreme: ref gives %d, want 1", R[0]);
    for (size_t u = 0; u < qp_gemm_q_n_ukernels; u++) {
        const qp_gemm_q_ukernel *uk = &qp_gemm_q_ukernels[u];
        if (uk->bits != 16 || !qp_kernels_isa_supported(uk->isa))
            continue;
        qp_gemm_q_ukernel_force(16, uk);
        a.C = C;
        qp_gemm_q16(&a, scratch);
        qp_gemm_q_ukernel_force(16, NULL);
        size_t at;
        CHECK(same(C, R, sizeof C, &at), "gemm16 extreme %s: %d", uk->name, C[at / 2]);
    }
    free(A), free(B), free(packed), free(scratch);
}

/* ---- q_conv2d ------------------------------------------------------------------------------ */

typedef struct conv_case {
    int n, c, h, w, m, kh, kw, group, sh, sw, dh, dw, pt, pl, pb, pr;
} conv_case;

static const conv_case conv_cases[] = {
    /* n  c   h   w   m  kh kw g sh sw dh dw pt pl pb pr */
    {1, 3, 9, 11, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},       /* 3x3 pad 1 */
    {1, 3, 8, 8, 17, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},       /* 1x1 -> gemm on X */
    {2, 4, 7, 9, 5, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},        /* 1x1 stride 2 -> im2col */
    {1, 5, 10, 10, 3, 3, 3, 1, 2, 2, 1, 1, 0, 0, 1, 1},      /* asymmetric pad, stride 2 */
    {1, 2, 13, 12, 4, 5, 5, 1, 2, 2, 1, 1, 1, 1, 2, 2},      /* BlazeFace 5x5 s2 (1,1,2,2) */
    {1, 3, 12, 12, 4, 6, 6, 1, 2, 2, 1, 1, 2, 2, 2, 2},      /* yolov5 6x6 s2 */
    {1, 2, 11, 11, 3, 3, 3, 1, 1, 1, 5, 5, 5, 5, 5, 5},      /* dilation 5 (M-LSD) */
    {1, 2, 6, 7, 2, 3, 3, 1, 3, 3, 2, 1, 4, 2, 3, 4},        /* pads >= kernel - 1, stride 3 */
    {1, 6, 8, 8, 4, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},        /* groups */
    {1, 7, 9, 10, 7, 3, 3, 7, 1, 1, 1, 1, 1, 1, 1, 1},       /* depthwise 3x3 */
    {1, 3, 11, 21, 3, 3, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},      /* depthwise s2 (0,0,1,1) */
    {2, 17, 7, 19, 17, 5, 5, 17, 1, 1, 1, 1, 2, 2, 2, 2},    /* depthwise 5x5 */
    {1, 4, 9, 9, 8, 3, 3, 4, 2, 1, 2, 2, 3, 1, 2, 4},        /* depthwise x2, dilated */
    {1, 1, 16, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      /* single channel */
    {1, 16, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* 16 -> 16: tiles full */
    {1, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 3, 3, 3, 3},        /* pads bigger than the image */
    {1, 8, 6, 35, 9, 1, 7, 1, 1, 1, 1, 1, 0, 3, 0, 3},       /* 1x7 */
    {1, 2, 30, 1, 3, 7, 1, 1, 2, 1, 1, 1, 3, 0, 3, 0},       /* 7x1, width 1 */
    {1, 3, 9, 70, 4, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},       /* wide s2: direct panel loads */
    {1, 4, 6, 48, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},       /* wide s1: 3 panels a row */
    {1, 2, 5, 80, 5, 3, 3, 1, 1, 2, 1, 3, 1, 3, 1, 3},       /* wide, dilated columns */
};

static void out_size(const conv_case *cc, int *oh, int *ow)
{
    *oh = (cc->h + cc->pt + cc->pb - cc->dh * (cc->kh - 1) - 1) / cc->sh + 1;
    *ow = (cc->w + cc->pl + cc->pr - cc->dw * (cc->kw - 1) - 1) / cc->sw + 1;
}

static void conv_case_run(const conv_case *cc, int bits, int mode)
{
    qp_conv2d_q_params p = {cc->n, cc->c, cc->h, cc->w, cc->m, 0, 0, cc->kh, cc->kw, cc->group,
                            cc->sh, cc->sw, cc->dh, cc->dw, cc->pt, cc->pl, cc->pb, cc->pr};
    out_size(cc, &p.oh, &p.ow);
    CHECK(qp_conv2d_q_check(&p) == 0, "conv check rejects a valid shape");
    qp_qtype xt = bits == 8 ? rnd_act8() : QP_QTYPE_I16, yt = rnd_out();
    size_t xn = (size_t)p.n * p.c * p.h * p.w, yn = (size_t)p.n * p.m * p.oh * p.ow;
    size_t wn = (size_t)p.m * (p.c / p.group) * p.kh * p.kw;
    void *x = xmalloc(xn * qp_qtype_size(xt)), *w = xmalloc(wn * (size_t)(bits / 8));
    fill(x, xn, xt, mode);
    fill(w, wn, bits == 8 ? QP_QTYPE_I8 : QP_QTYPE_I16, mode);
    qp_qmul *mul = xmalloc((size_t)p.m * sizeof *mul);
    void *bias = xmalloc((size_t)p.m * 8);
    for (int o = 0; o < p.m; o++) {
        mul[o] = rnd_mul(bits);
        if (bits == 8)
            ((int32_t *)bias)[o] = (int32_t)rnd_range(-50000, 50000);
        else
            ((int64_t *)bias)[o] = rnd_range(-(INT64_C(1) << 36), INT64_C(1) << 36);
    }
    qp_conv2d_q_quant q = {.x_type = xt, .x_zp = bits == 8 ? rnd_zp(xt) : 0, .y_type = yt,
                           .y_zp = rnd_zp(yt), .mul = mul, .bias = rnd() % 4 ? bias : NULL};
    rnd_clamp(yt, q.y_zp, &q.y_lo, &q.y_hi);
    CHECK(qp_conv2d_q_quant_check(&p, &q, bits) == 0, "conv quant check");
    size_t ysz = yn * qp_qtype_size(yt);
    void *y0 = xmalloc(ysz), *y1 = xmalloc(ysz);
    size_t ps = bits == 8 ? qp_conv2d_q8_packed_size(&p) : qp_conv2d_q16_packed_size(&p);
    void *packed = xmalloc(ps), *scratch = xmalloc(qp_conv2d_q_scratch_size(&p, QP_THREADS_MAX));
    if (bits == 8) {
        qp_conv2d_q8_pack(&p, w, packed);
        qp_conv2d_q8__ref(&p, &q, w, x, y0);
    } else {
        qp_conv2d_q16_pack(&p, w, packed);
        qp_conv2d_q16__ref(&p, &q, w, x, y0);
    }
    /* every ISA (so every microkernel and depthwise variant), 1 and 2 threads */
    for (int isa = QP_ISA_REF; isa < QP_ISA_COUNT; isa++) {
        if (!qp_kernels_isa_supported((qp_isa)isa))
            continue;
        qp_kernels_set_isa((qp_isa)isa);
        for (int th = 1; th <= 2; th++) {
            qp_threads_set_count(th);
            memset(y1, 0x5A, ysz);
            if (bits == 8)
                qp_conv2d_q8(&p, &q, packed, x, y1, scratch);
            else
                qp_conv2d_q16(&p, &q, packed, x, y1, scratch);
            size_t at = 0;
            CHECK(same(y0, y1, ysz, &at),
                  "conv%d %s threads %d path %d c%d %dx%d m%d k%dx%d g%d s%d,%d d%d,%d p%d,%d,%d,%d "
                  "x=%s zp %d y=%s zp %d: byte %zu differs",
                  bits, qp_kernels_isa_name((qp_isa)isa), th, (int)qp_conv2d_q_path_of(&p), p.c,
                  p.h, p.w, p.m, p.kh, p.kw, p.group, p.stride_h, p.stride_w, p.dil_h, p.dil_w,
                  p.pad_top, p.pad_left, p.pad_bottom, p.pad_right, qp_qtype_name(xt), q.x_zp,
                  qp_qtype_name(yt), q.y_zp, at);
        }
    }
    qp_kernels_set_isa(QP_ISA_COUNT); /* back to the best */
    free(x), free(w), free(mul), free(bias), free(y0), free(y1), free(packed), free(scratch);
}

/* Padding uses the input zero point: a constant input equal to zp gives bias-only outputs. */
static void test_conv_pad_zero_point(void)
{
    qp_conv2d_q_params p = {1, 2, 5, 5, 3, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    uint8_t x[50];
    int8_t w[54];
    for (int i = 0; i < 50; i++)
        x[i] = 200;
    for (int i = 0; i < 54; i++)
        w[i] = (int8_t)(i * 37 % 255 - 127);
    int32_t bias[3] = {1000, -1000, 0};
    qp_qmul mul[3];
    for (int i = 0; i < 3; i++)
        qp_requant_multiplier(0.01, &mul[i]);
    qp_conv2d_q_quant q = {.x_type = QP_QTYPE_U8, .x_zp = 200, .y_type = QP_QTYPE_U8,
                           .y_zp = 100, .y_lo = 0, .y_hi = 255, .mul = mul, .bias = bias};
    uint8_t y[75];
    qp_conv2d_q8__ref(&p, &q, w, x, y);
    int ok = 1;
    for (int i = 0; i < 75; i++)
        ok &= y[i] == (i < 25 ? 110 : i < 50 ? 90 : 100);
    CHECK(ok, "padding with the zero point: y = %d %d %d", y[0], y[25], y[50]);
}

static void test_conv(void)
{
    int n0 = n_pass + n_fail;
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++)
        for (int bits = 8; bits <= 16; bits += 8)
            for (int mode = 0; mode < 2; mode++)
                conv_case_run(&conv_cases[i], bits, mode);
    /* random shapes */
    for (int r = 0; r < 60; r++) {
        conv_case cc;
        int g = rnd() % 3 == 0 ? (int)rnd_range(2, 5) : 1;
        cc.group = g;
        cc.c = g * (int)(rnd() % 4 == 0 ? 1 : rnd_range(1, 5));
        cc.m = g * (int)rnd_range(1, 6);
        cc.n = (int)rnd_range(1, 2);
        cc.kh = (int)rnd_range(1, 5), cc.kw = (int)rnd_range(1, 5);
        cc.sh = (int)rnd_range(1, 3), cc.sw = (int)rnd_range(1, 3);
        cc.dh = (int)rnd_range(1, 2), cc.dw = (int)rnd_range(1, 3);
        cc.pt = (int)rnd_range(0, 4), cc.pl = (int)rnd_range(0, 4);
        cc.pb = (int)rnd_range(0, 4), cc.pr = (int)rnd_range(0, 4);
        cc.h = (int)rnd_range(cc.dh * (cc.kh - 1) + 1, 20);
        cc.w = (int)rnd_range(cc.dw * (cc.kw - 1) + 1, 37);
        conv_case_run(&cc, rnd() & 1 ? 8 : 16, (int)(rnd() % 3));
    }
    test_conv_pad_zero_point();
    if (verbose)
        printf("conv: %d checks\n", n_pass + n_fail - n0);
}

/* ConvTranspose: the pooled gather against the reference; and a hand example. */
static void test_convtranspose(void)
{
    static const conv_case cases[] = {
        /* n c h w m kh kw g sh sw dh dw pt pl pb pr   (oh/ow below) */
        {1, 4, 5, 6, 3, 2, 2, 1, 2, 2, 1, 1, 0, 0, 0, 0}, /* PP-OCR k2 s2 */
        {1, 4, 4, 5, 6, 3, 3, 2, 2, 1, 1, 2, 1, 0, 1, 2},
        {2, 3, 3, 3, 2, 3, 3, 1, 3, 3, 2, 2, 2, 2, 1, 1},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int bits = 8; bits <= 16; bits += 8) {
            const conv_case *cc = &cases[ci];
            qp_conv2d_q_params p = {cc->n, cc->c, cc->h, cc->w, cc->m, 0, 0, cc->kh, cc->kw,
                                    cc->group, cc->sh, cc->sw, cc->dh, cc->dw, cc->pt, cc->pl,
                                    cc->pb, cc->pr};
            p.oh = cc->sh * (cc->h - 1) + cc->dh * (cc->kh - 1) + 1 - cc->pt - cc->pb + (int)(ci & 1);
            p.ow = cc->sw * (cc->w - 1) + cc->dw * (cc->kw - 1) + 1 - cc->pl - cc->pr;
            CHECK(qp_convtranspose2d_q_check(&p) == 0, "convtranspose check");
            qp_qtype xt = bits == 8 ? rnd_act8() : QP_QTYPE_I16, yt = rnd_out();
            size_t xn = (size_t)p.n * p.c * p.h * p.w, yn = (size_t)p.n * p.m * p.oh * p.ow;
            size_t wn = (size_t)p.c * (p.m / p.group) * p.kh * p.kw;
            void *x = xmalloc(xn * 2), *w = xmalloc(wn * 2), *bias = xmalloc((size_t)p.m * 8);
            fill(x, xn, xt, 0);
            fill(w, wn, bits == 8 ? QP_QTYPE_I8 : QP_QTYPE_I16, 0);
            fill(bias, (size_t)p.m * (bits / 8 == 1 ? 1 : 2), QP_QTYPE_I32, 0);
            qp_qmul mul[8];
            for (int o = 0; o < p.m; o++)
                mul[o] = rnd_mul(bits);
            qp_conv2d_q_quant q = {.x_type = xt, .x_zp = bits == 8 ? rnd_zp(xt) : 0,
                                   .y_type = yt, .y_zp = rnd_zp(yt), .mul = mul, .bias = bias};
            rnd_clamp(yt, q.y_zp, &q.y_lo, &q.y_hi);
            size_t ysz = yn * qp_qtype_size(yt);
            void *y0 = xmalloc(ysz), *y1 = xmalloc(ysz);
            if (bits == 8) {
                qp_convtranspose2d_q8__ref(&p, &q, w, x, y0);
                qp_convtranspose2d_q8(&p, &q, w, x, y1);
            } else {
                qp_convtranspose2d_q16__ref(&p, &q, w, x, y0);
                qp_convtranspose2d_q16(&p, &q, w, x, y1);
            }
            size_t at;
            CHECK(same(y0, y1, ysz, &at), "convtranspose%d case %zu: byte %zu", bits, ci, at);
            free(x), free(w), free(bias), free(y0), free(y1);
        }
    /* 1x1 input, 2x2 kernel stride 2: y is the kernel times (x - zp), requantized */
    qp_conv2d_q_params p = {1, 1, 1, 1, 1, 2, 2, 2, 2, 1, 2, 2, 1, 1, 0, 0, 0, 0};
    int8_t w[4] = {1, -2, 3, -128};
    uint8_t x = 13, y[4];
    qp_qmul mul;
    qp_requant_multiplier(0.5, &mul);
    qp_conv2d_q_quant q = {.x_type = QP_QTYPE_U8, .x_zp = 10, .y_type = QP_QTYPE_U8,
                           .y_zp = 128, .y_lo = 0, .y_hi = 255, .mul = &mul};
    qp_convtranspose2d_q8__ref(&p, &q, w, &x, y);
    /* 3 * {1, -2, 3, -128} * 0.5 = 1.5, -3, 4.5, -192 -> 2, -3, 4, -192 */
    CHECK(y[0] == 130 && y[1] == 125 && y[2] == 132 && y[3] == 0,
          "convtranspose example: %d %d %d %d", y[0], y[1], y[2], y[3]);
}

/* ---- q_pool -------------------------------------------------------------------------------- */

static void test_pool(void)
{
    static const qp_pool2d_q_params cases[] = {
        /* n c h w oh ow kh kw sh sw dh dw pt pl pb pr cip */
        {1, 3, 10, 10, 10, 10, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0}, /* yolov5 SPP */
        {1, 2, 8, 9, 4, 4, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0},
        {2, 3, 7, 7, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
        {1, 2, 7, 7, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},
        {1, 1, 5, 6, 3, 3, 2, 3, 2, 2, 2, 1, 0, 1, 1, 1, 1},     /* ceil-mode-like window */
    };
    static const qp_qtype ts[] = {QP_QTYPE_U8, QP_QTYPE_I8, QP_QTYPE_I16};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (size_t ti = 0; ti < 3; ti++) {
            const qp_pool2d_q_params *p = &cases[ci];
            CHECK(qp_pool2d_q_check(p) == 0, "pool check %zu", ci);
            qp_qtype t = ts[ti];
            size_t xn = (size_t)p->n * p->c * p->h * p->w, yn = (size_t)p->n * p->c * p->oh * p->ow;
            void *x = xmalloc(xn * 2), *y0 = xmalloc(yn * 2), *y1 = xmalloc(yn * 2);
            fill(x, xn, t, (int)(ci % 2));
            qp_maxpool2d_q__ref(p, t, x, y0);
            qp_maxpool2d_q(p, t, x, y1);
            size_t at;
            CHECK(same(y0, y1, yn * qp_qtype_size(t), &at), "maxpool %zu %s", ci, qp_qtype_name(t));
            qp_qparams in = {0.05 + (double)ci / 100, rnd_zp(t), t};
            qp_qtype ot = rnd_out();
            qp_qparams out = {rnd() & 1 ? in.scale : 0.031, rnd_zp(ot), ot};
            CHECK(qp_avgpool2d_q_check(p, &in, &out) == 0, "avgpool check");
            qp_avgpool2d_q__ref(p, &in, &out, x, y0);
            qp_threads_set_count(2);
            qp_avgpool2d_q(p, &in, &out, x, y1);
            CHECK(same(y0, y1, yn * qp_qtype_size(ot), &at), "avgpool %zu %s", ci, qp_qtype_name(t));
            size_t nc = (size_t)p->n * p->c, hw = (size_t)p->h * p->w;
            qp_global_avgpool_q__ref(nc, hw, &in, &out, x, y0);
            qp_global_avgpool_q(nc, hw, &in, &out, x, y1);
            CHECK(same(y0, y1, nc * qp_qtype_size(ot), &at), "global avgpool %zu", ci);
            free(x), free(y0), free(y1);
        }
    /* hand example: 2x2 average of {1, 2, 3, 6} (zp 0) = 3; of {1, 2, 3, 4} = 2.5 -> 2;
     * {3, 4, 5, 6} = 4.5 -> 4; with zp 1 and count_include_pad a corner 3x3 window */
    qp_pool2d_q_params p = {1, 1, 2, 4, 1, 2, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0};
    uint8_t x[8] = {1, 2, 3, 4, 3, 6, 5, 6}, y[2];
    qp_qparams u = {0.1, 0, QP_QTYPE_U8};
    qp_avgpool2d_q__ref(&p, &u, &u, x, y);
    CHECK(y[0] == 3 && y[1] == 4, "avgpool example: %d %d (want 3 4)", y[0], y[1]);
    uint8_t x2[8] = {1, 2, 3, 4, 1, 2, 3, 4};
    qp_avgpool2d_q__ref(&p, &u, &u, x2, y);
    CHECK(y[0] == 2 && y[1] == 4, "avgpool ties: %d %d (want 2 4: 1.5->2, 3.5->4)", y[0], y[1]);
    qp_pool2d_q_params pp = {1, 1, 2, 2, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1};
    uint8_t x3[4] = {11, 11, 11, 20}, y3;
    qp_qparams z = {0.1, 1, QP_QTYPE_U8};
    qp_avgpool2d_q__ref(&pp, &z, &z, x3, &y3); /* (10+10+10+19)/9 = 5.44 -> 5, + 1 */
    CHECK(y3 == 6, "avgpool count_include_pad: %d (want 6)", y3);
    pp.count_include_pad = 0;
    qp_avgpool2d_q__ref(&pp, &z, &z, x3, &y3); /* 49/4 = 12.25 -> 12, + 1 */
    CHECK(y3 == 13, "avgpool exclude pad: %d (want 13)", y3);
}

/* ---- q_eltwise ----------------------------------------------------------------------------- */

static void test_eltwise(void)
{
    static const qp_qtype ts[] = {QP_QTYPE_U8, QP_QTYPE_I8, QP_QTYPE_I16};
    static const size_t ns[] = {1, 7, 8, 9, 31, 100};
    int cases = 0;
    for (int op = 0; op < QP_Q_ELT_COUNT; op++)
        for (int ta = 0; ta < 3; ta++)
            for (int tb = 0; tb < 3; tb++)
                for (int ty = 0; ty < 3; ty++)
                    for (int inc = 0; inc < 3; inc++) {
                        size_t n = ns[(size_t)(op + ta + tb + ty + inc) % 6];
                        qp_qparams a = {ldexp(1.0 + (double)(rnd() % 1000) / 1000, -(int)rnd_range(1, 12)),
                                        rnd_zp(ts[ta]), ts[ta]};
                        qp_qparams b = {ldexp(1.0 + (double)(rnd() % 1000) / 1000, -(int)rnd_range(1, 12)),
                                        rnd_zp(ts[tb]), ts[tb]};
                        qp_qparams y = {ldexp(1.0 + (double)(rnd() % 1000) / 1000, -(int)rnd_range(1, 12)),
                                        rnd_zp(ts[ty]), ts[ty]};
                        if (rnd() % 4 == 0) /* DFP-like exact multipliers: ties */
                            a.scale = ldexp(1, -3), b.scale = ldexp(1, -5), y.scale = ldexp(1, -2);
                        int32_t lo, hi;
                        rnd_clamp(ts[ty], y.zp, &lo, &hi);
                        qp_q_elt_params e;
                        if (qp_q_elt_init(&e, (qp_q_eltop)op, &a, &b, &y, lo, hi)) {
                            CHECK(0, "elt init op %d", op);
                            continue;
                        }
                        void *xa = xmalloc(n * 2), *xb = xmalloc(n * 2), *y0 = xmalloc(n * 2),
                             *y1 = xmalloc(n * 2);
                        fill(xa, n, ts[ta], (int)(rnd() % 2));
                        fill(xb, n, ts[tb], (int)(rnd() % 2));
                        size_t ia = inc == 1 ? 0 : 1, ib = inc == 2 ? 0 : 1;
                        qp_q_elt__ref(&e, n, xa, ia, xb, ib, y0);
                        for (size_t v = 0; v < qp_q_elt_n_variants; v++) {
                            if (!qp_kernels_isa_supported(qp_q_elt_variants[v].isa))
                                continue;
                            qp_q_elt_variants[v].fn(&e, n, xa, ia, xb, ib, y1);
                            size_t at;
                            CHECK(same(y0, y1, n * qp_qtype_size(ts[ty]), &at),
                                  "elt %s op %d %s %s -> %s n %zu inc %d: byte %zu",
                                  qp_q_elt_variants[v].name, op, qp_qtype_name(ts[ta]),
                                  qp_qtype_name(ts[tb]), qp_qtype_name(ts[ty]), n, inc, at);
                        }
                        cases++;
                        free(xa), free(xb), free(y0), free(y1);
                    }
    /* hand examples: Mul u8 (s 0.5, zp 10) x i8 (s 0.25, zp 0) -> u8 (s 0.125, zp 0) */
    qp_qparams a = {0.5, 10, QP_QTYPE_U8}, b = {0.25, 0, QP_QTYPE_I8}, y = {0.125, 0, QP_QTYPE_U8};
    qp_q_elt_params e;
    qp_q_elt_init(&e, QP_Q_ELT_MUL, &a, &b, &y, 0, 255);
    uint8_t qa[3] = {13, 12, 255}, r[3];
    int8_t qb[3] = {5, -1, 127};
    qp_q_elt__ref(&e, 3, qa, 1, qb, 1, r); /* 1.5*1.25 = 1.875 -> 15; -0.25 -> 0; clamp 255 */
    CHECK(r[0] == 15 && r[1] == 0 && r[2] == 255, "mul example: %d %d %d", r[0], r[1], r[2]);
    qp_q_elt_init(&e, QP_Q_ELT_MAX, &a, &b, &y, 0, 255);
    qp_q_elt__ref(&e, 3, qa, 1, qb, 1, r); /* max(1.5, 1.25) = 1.5 -> 12; max(1, -.25) -> 8 */
    CHECK(r[0] == 12 && r[1] == 8 && r[2] == 255, "max example: %d %d %d", r[0], r[1], r[2]);
    if (verbose)
        printf("eltwise: %d cases\n", cases);
}

/* ---- q_lut --------------------------------------------------------------------------------- */

static double sq(double x)
{
    return x * x;
}

static void test_lut(void)
{
    static const qp_qtype ts[] = {QP_QTYPE_U8, QP_QTYPE_I8, QP_QTYPE_I16};
    for (int fn = 0; fn < QP_LUT_FN_COUNT; fn++)
        for (int ti = 0; ti < 3; ti++) {
            qp_lut_fn_args f = {(qp_lut_fn)fn, fn == QP_LUT_LEAKYRELU ? 0.1 : fn == QP_LUT_CLIP ? -1 : 0.2,
                                fn == QP_LUT_CLIP ? 2.5 : 0.5};
            qp_qparams in = {ts[ti] == QP_QTYPE_I16 ? ldexp(1, -12) : 0.05, rnd_zp(ts[ti]), ts[ti]};
            qp_qtype ot = rnd_out();
            qp_qparams out = {ot == QP_QTYPE_I16 ? ldexp(1, -13) : 1.0 / 255, rnd_zp(ot), ot};
            size_t ne = qp_lut_entries(ts[ti]);
            void *tab = xmalloc(ne * 2);
            CHECK(qp_lut_build_ex(qp_lut_eval, &f, &in, &out, tab) == 0, "lut build");
            int bad = 0;
            for (size_t i = 0; i < ne; i++) {
                int32_t q = (int32_t)(qp_qtype_min(ts[ti]) + (int64_t)i);
                double xv = in.scale * (double)((int64_t)q - in.zp);
                if (qp_qload(tab, i, ot) != qp_quantize(qp_lut_eval(xv, &f), &out))
                    bad++;
            }
            CHECK(bad == 0, "lut fn %d %s: %d entries differ from quantize(f(dequantize))", fn,
                  qp_qtype_name(ts[ti]), bad);
            size_t n = 1000;
            void *x = xmalloc(n * 2), *y0 = xmalloc(n * 2), *y1 = xmalloc(n * 2);
            fill(x, n, ts[ti], 0);
            qp_lut_apply__ref(ts[ti], ot, tab, n, x, y0);
            qp_lut_apply(ts[ti], ot, tab, n, x, y1);
            size_t at;
            CHECK(same(y0, y1, n * qp_qtype_size(ot), &at), "lut apply %d", fn);
            free(tab), free(x), free(y0), free(y1);
        }
    /* worked example: sigmoid, i16 DFP fl 12 in, u8 1/256 out: sigmoid(0) = 0.5 -> 128;
     * and a plain f */
    qp_qparams in = qp_qparams_dfp(QP_QTYPE_I16, 12), out = {1.0 / 256, 0, QP_QTYPE_U8};
    uint8_t *tab = xmalloc(65536);
    qp_lut_fn_args f = {QP_LUT_SIGMOID, 0, 0};
    qp_lut_build_ex(qp_lut_eval, &f, &in, &out, tab);
    CHECK(tab[32768] == 128 && tab[0] == 0 && tab[65535] == 255, "sigmoid table: %d %d %d",
          tab[32768], tab[0], tab[65535]);
    qp_qparams i8 = {0.5, 0, QP_QTYPE_I8}, o8 = {1, 0, QP_QTYPE_I8};
    int8_t t8[256];
    qp_lut_build(sq, &i8, &o8, t8); /* q = 3 -> 2.25 -> 2; q = 5 -> 6.25 -> 6; q = -128 -> 127 */
    CHECK(t8[128 + 3] == 2 && t8[128 + 5] == 6 && t8[0] == 127 && t8[128 + 1] == 0,
          "square table: %d %d %d", t8[131], t8[133], t8[0]);
    free(tab);
}

/* ---- q_convert ----------------------------------------------------------------------------- */

static float f_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t u_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void test_convert(void)
{
    static const qp_qtype ts[] = {QP_QTYPE_U8, QP_QTYPE_I8, QP_QTYPE_I16};
    size_t n = 1029;
    void *x = xmalloc(n * 2), *y0 = xmalloc(n * 4), *y1 = xmalloc(n * 4);
    float *f = xmalloc(n * 4);
    for (int ti = 0; ti < 3; ti++)
        for (int to = 0; to < 3; to++)
            for (int r = 0; r < 6; r++) {
                qp_qparams in = {ldexp(1.0 + (double)(rnd() % 999) / 1000, -(int)rnd_range(0, 14)),
                                 rnd_zp(ts[ti]), ts[ti]};
                qp_qparams out = {ldexp(1.0 + (double)(rnd() % 999) / 1000, -(int)rnd_range(0, 14)),
                                  rnd_zp(ts[to]), ts[to]};
                if (r == 0) /* DFP both sides: exact shifts */
                    in = qp_qparams_dfp(ts[ti], (int)rnd_range(0, 15)),
                    out = qp_qparams_dfp(ts[to], (int)rnd_range(0, 15));
                if (r == 1)
                    out.scale = in.scale;
                qp_qconvert c;
                CHECK(qp_qconvert_init(&in, &out, &c) == 0, "convert init");
                fill(x, n, ts[ti], r % 2);
                qp_q_convert__ref(&c, ts[ti], ts[to], n, x, y0);
                for (size_t v = 0; v < qp_q_convert_n_variants; v++) {
                    const qp_q_convert_variant *cv = &qp_q_convert_variants[v];
                    if (!qp_kernels_isa_supported(cv->isa))
                        continue;
                    cv->convert(&c, ts[ti], ts[to], n, x, y1);
                    size_t at;
                    CHECK(same(y0, y1, n * qp_qtype_size(ts[to]), &at), "convert %s %s->%s: byte %zu",
                          cv->name, qp_qtype_name(ts[ti]), qp_qtype_name(ts[to]), at);
                }
                /* quantize / dequantize */
                for (size_t i = 0; i < n; i++) {
                    double span = in.scale * 300 * (ts[ti] == QP_QTYPE_I16 ? 256 : 1);
                    f[i] = (float)(((double)(rnd() % 2000001) / 1000000 - 1) * span);
                    if (i % 17 == 0) /* exact ties x / scale = k + 0.5 */
                        f[i] = (float)(in.scale * ((double)rnd_range(-300, 300) + 0.5));
                }
                f[0] = NAN, f[1] = INFINITY, f[2] = -INFINITY, f[3] = -0.0f, f[4] = 1e30f;
                f[5] = f_of(1); /* the smallest subnormal */
                qp_q_quantize_f32__ref(&in, n, f, y0);
                for (size_t v = 0; v < qp_q_convert_n_variants; v++) {
                    const qp_q_convert_variant *cv = &qp_q_convert_variants[v];
                    if (!qp_kernels_isa_supported(cv->isa))
                        continue;
                    cv->quantize(&in, n, f, y1);
                    size_t at;
                    CHECK(same(y0, y1, n * qp_qtype_size(ts[ti]), &at), "quantize %s %s: byte %zu",
                          cv->name, qp_qtype_name(ts[ti]), at);
                    qp_q_dequantize_f32__ref(&in, n, x, (float *)y0);
                    cv->dequantize(&in, n, x, (float *)y1);
                    CHECK(same(y0, y1, n * 4, &at), "dequantize %s %s: byte %zu", cv->name,
                          qp_qtype_name(ts[ti]), at);
                    qp_q_quantize_f32__ref(&in, n, f, y0);
                }
            }
    free(x), free(y0), free(y1), free(f);

    /* bf16/fp16 rounding: the references against hand values, the variants against them on
     * 2^22 random bit patterns and every fp16 boundary region */
    static const struct { uint32_t in, bf16, fp16; } t[] = {
        {0x3f800000u, 0x3f80, 0x3c00},   /* 1 */
        {0x3f808000u, 0x3f80, 0x3c04},   /* 1 + 2^-8: bf16 tie -> even (1) */
        {0x3f818000u, 0x3f82, 0x3c0c},   /* 1 + 3 * 2^-8: bf16 tie -> even (up) */
        {0x3f801000u, 0x3f80, 0x3c00},   /* 1 + 2^-11: fp16 tie -> even (1) */
        {0x3f803000u, 0x3f80, 0x3c02},   /* 1 + 3 * 2^-11: fp16 tie -> up */
        {0x477fe000u, 0x4780, 0x7bff},   /* 65504: fp16 max */
        {0x477fefffu, 0x4780, 0x7bff},   /* just below 65520 */
        {0x477ff000u, 0x4780, 0x7c00},   /* 65520: tie -> inf */
        {0x7f7fffffu, 0x7f80, 0x7c00},   /* FLT_MAX: bf16 rounds to inf */
        {0x33800000u, 0x3380, 0x0001},   /* 2^-24: smallest fp16 subnormal */
        {0x33000000u, 0x3300, 0x0000},   /* 2^-25: tie -> 0 */
        {0x33400000u, 0x3340, 0x0001},   /* 1.5 * 2^-25 -> 1 */
        {0x33c00000u, 0x33c0, 0x0002},   /* 1.5 * 2^-24: tie -> even (2 units) */
        {0x34200000u, 0x3420, 0x0002},   /* 2.5 * 2^-24: tie -> even (2 units) */
        {0x34400000u, 0x3440, 0x0003},   /* 3 * 2^-24 exactly */
        {0x387fc000u, 0x3880, 0x03ff},   /* 1023 * 2^-24: the largest subnormal */
        {0x387fe000u, 0x3880, 0x0400},   /* 1023.5 units: tie -> even, the min normal */
        {0xbf800000u, 0xbf80, 0xbc00},
        {0x80000000u, 0x8000, 0x8000},
        {0x7f800000u, 0x7f80, 0x7c00},
        {0x7fc00001u, 0x7fc0, 0x7e00},   /* quiet NaN */
        {0x7f800001u, 0x7fc0, 0x7e00},   /* signalling NaN made quiet */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint16_t b = qp_f32_to_bf16_one(f_of(t[i].in)), h = qp_f32_to_fp16_one(f_of(t[i].in));
        CHECK(b == t[i].bf16 && h == t[i].fp16, "bf16/fp16 of %08x: %04x %04x, want %04x %04x",
              t[i].in, b, h, t[i].bf16, t[i].fp16);
    }
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float v = qp_fp16_to_f32_one((uint16_t)h);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            bad += !(v != v);
        else
            bad += qp_f32_to_fp16_one(v) != h;
    }
    CHECK(bad == 0, "fp16 round trip of every half: %d bad", bad);
    size_t m = 1 << 16;
    float *src = xmalloc(m * 4), *r0 = xmalloc(m * 4), *r1 = xmalloc(m * 4);
    for (int rep = 0; rep < 64; rep++) {
        for (size_t i = 0; i < m; i++) {
            uint32_t u = (uint32_t)rnd();
            if (rep % 2) /* dense near the fp16 range and its boundaries */
                u = (u & 0x80000000u) | (0x33000000u + (u & 0x7fffffu) + ((uint32_t)rnd_range(0, 40) << 23));
            src[i] = f_of(u);
        }
        for (size_t v = 0; v < qp_q_convert_n_variants; v++) {
            const qp_q_convert_variant *cv = &qp_q_convert_variants[v];
            if (!qp_kernels_isa_supported(cv->isa))
                continue;
            for (int k = 0; k < 2; k++) {
                (k ? qp_round_fp16_f32__ref : qp_round_bf16_f32__ref)(m, src, r0);
                (k ? cv->round_fp16 : cv->round_bf16)(m, src, r1);
                for (size_t i = 0; i < m; i++)
                    if (u_of(r0[i]) != u_of(r1[i]) && !(r0[i] != r0[i] && r1[i] != r1[i])) {
                        bad++;
                        if (verbose && bad < 5)
                            printf("%s %s %08x: %08x vs %08x\n", cv->name, k ? "fp16" : "bf16",
                                   u_of(src[i]), u_of(r0[i]), u_of(r1[i]));
                    }
            }
        }
    }
    CHECK(bad == 0, "bf16/fp16 rounding variants: %d differ", bad);
    free(src), free(r0), free(r1);
}

/* ---- Golden integer outputs ---------------------------------------------------------------- */

/* Small fixed cases with inputs from a fixed generator; the outputs are stored in
 * tests/data/golden/<name>.bin (see its README) and must match the reference and every fast
 * path byte for byte. */
typedef struct golden {
    const char *name;
    size_t (*run)(void *out, int fast); /* returns the bytes written */
} golden;

static void gfill(void *x, size_t n, qp_qtype t, uint64_t seed)
{
    uint64_t s = seed;
    int64_t lo = qp_qtype_min(t), hi = qp_qtype_max(t);
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        qp_qstore(x, i, t, (int32_t)(lo + (int64_t)((s >> 33) % (uint64_t)(hi - lo + 1))));
    }
}

static size_t g_conv(void *out, int fast, int bits, const qp_conv2d_q_params *p, qp_qtype xt,
                     int32_t xzp, qp_qtype yt, int32_t yzp, int32_t lo, int32_t hi, double M)
{
    size_t xn = (size_t)p->n * p->c * p->h * p->w, wn = (size_t)p->m * (p->c / p->group) * p->kh * p->kw;
    void *x = xmalloc(xn * 2), *w = xmalloc(wn * 2), *bias = xmalloc((size_t)p->m * 8);
    gfill(x, xn, xt, 1);
    gfill(w, wn, bits == 8 ? QP_QTYPE_I8 : QP_QTYPE_I16, 2);
    qp_qmul mul[64];
    for (int o = 0; o < p->m; o++) {
        qp_requant_multiplier(M * (1 + o / 16.0), &mul[o]);
        if (bits == 8)
            ((int32_t *)bias)[o] = (o * 7919) % 20001 - 10000;
        else
            ((int64_t *)bias)[o] = ((int64_t)o * 7919 % 20001 - 10000) * 65536;
    }
    qp_conv2d_q_quant q = {xt, xzp, yt, yzp, lo, hi, mul, bias};
    size_t ysz = (size_t)p->n * p->m * p->oh * p->ow * qp_qtype_size(yt);
    if (!fast) {
        if (bits == 8)
            qp_conv2d_q8__ref(p, &q, w, x, out);
        else
            qp_conv2d_q16__ref(p, &q, w, x, out);
    } else {
        void *pk = xmalloc(bits == 8 ? qp_conv2d_q8_packed_size(p) : qp_conv2d_q16_packed_size(p));
        void *sc = xmalloc(qp_conv2d_q_scratch_size(p, QP_THREADS_MAX));
        if (bits == 8) {
            qp_conv2d_q8_pack(p, w, pk);
            qp_conv2d_q8(p, &q, pk, x, out, sc);
        } else {
            qp_conv2d_q16_pack(p, w, pk);
            qp_conv2d_q16(p, &q, pk, x, out, sc);
        }
        free(pk), free(sc);
    }
    free(x), free(w), free(bias);
    return ysz;
}

static size_t g_conv3x3_u8(void *out, int fast)
{
    qp_conv2d_q_params p = {1, 5, 9, 10, 7, 9, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    return g_conv(out, fast, 8, &p, QP_QTYPE_U8, 131, QP_QTYPE_U8, 7, 0, 255, 0.00123);
}
static size_t g_conv5x5s2_i8_relu(void *out, int fast)
{
    qp_conv2d_q_params p = {1, 3, 12, 12, 17, 6, 6, 5, 5, 1, 2, 2, 1, 1, 1, 1, 2, 2};
    return g_conv(out, fast, 8, &p, QP_QTYPE_I8, -42, QP_QTYPE_I8, -20, -20, 127, 0.0007);
}
static size_t g_dwconv3x3s2_u8(void *out, int fast)
{
    qp_conv2d_q_params p = {1, 6, 11, 11, 6, 5, 5, 3, 3, 6, 2, 2, 1, 1, 0, 0, 1, 1};
    return g_conv(out, fast, 8, &p, QP_QTYPE_U8, 255, QP_QTYPE_U8, 0, 0, 255, 0.003);
}
static size_t g_conv1x1_u8_i16out(void *out, int fast)
{
    qp_conv2d_q_params p = {1, 19, 5, 7, 9, 5, 7, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
    return g_conv(out, fast, 8, &p, QP_QTYPE_U8, 0, QP_QTYPE_I16, 0, -32768, 32767, 0.05);
}
static size_t g_conv3x3_i16_dfp(void *out, int fast)
{
    qp_conv2d_q_params p = {1, 4, 7, 8, 5, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    /* DFP: fl_x 12, fl_w 14, fl_y 10: M = 2^-(12 + 14 - 10) = 2^-16, exact shifts */
    return g_conv(out, fast, 16, &p, QP_QTYPE_I16, 0, QP_QTYPE_I16, 0, -32768, 32767, ldexp(1, -16));
}
static size_t g_dwconv3x3_i16_dil2(void *out, int fast)
{
    qp_conv2d_q_params p = {1, 3, 9, 9, 3, 9, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2};
    return g_conv(out, fast, 16, &p, QP_QTYPE_I16, 0, QP_QTYPE_I16, 0, -32768, 32767, ldexp(1, -17));
}

static size_t g_gemm(void *out, int fast, int bits)
{
    size_t M = 6, N = 21, K = 37;
    qp_qtype bt = bits == 8 ? QP_QTYPE_U8 : QP_QTYPE_I16, ct = bits == 8 ? QP_QTYPE_I8 : QP_QTYPE_I16;
    void *A = xmalloc(M * K * 2), *B = xmalloc(K * N * 2), *bias = xmalloc(M * 8);
    gfill(A, M * K, bits == 8 ? QP_QTYPE_I8 : QP_QTYPE_I16, 3);
    gfill(B, K * N, bt, 4);
    qp_qmul mul[6];
    for (size_t m = 0; m < M; m++) {
        qp_requant_multiplier((bits == 8 ? 0.0011 : 1.3e-8) * (double)(m + 1), &mul[m]);
        if (bits == 8)
            ((int32_t *)bias)[m] = (int32_t)(m * 1000) - 2500;
        else
            ((int64_t *)bias)[m] = ((int64_t)m - 3) * (INT64_C(1) << 30);
    }
    qp_gemm_q_args a = {.M = M, .N = N, .K = K, .B = B, .ldb = N, .b_type = bt,
                        .b_zp = bits == 8 ? 77 : 0, .bias = bias, .mul = mul, .c_type = ct,
                        .c_zp = bits == 8 ? 3 : 0, .c_lo = (int32_t)qp_qtype_min(ct),
                        .c_hi = (int32_t)qp_qtype_max(ct), .C = out, .ldc = N};
    void *pk = xmalloc(bits == 8 ? qp_gemm_q8_packed_size(M, K) : qp_gemm_q16_packed_size(M, K));
    void *sc = xmalloc(qp_gemm_q_scratch_size(K, QP_THREADS_MAX));
    if (bits == 8)
        qp_gemm_q8_pack(M, K, A, K, pk);
    else
        qp_gemm_q16_pack(M, K, A, K, pk);
    a.packed_a = pk;
    if (!fast)
        bits == 8 ? qp_gemm_q8__ref(&a, A, K) : qp_gemm_q16__ref(&a, A, K);
    else
        bits == 8 ? qp_gemm_q8(&a, sc) : qp_gemm_q16(&a, sc);
    free(A), free(B), free(bias), free(pk), free(sc);
    return M * N * qp_qtype_size(ct);
}
static size_t g_gemm_q8(void *out, int fast)
{
    return g_gemm(out, fast, 8);
}
static size_t g_gemm_q16(void *out, int fast)
{
    return g_gemm(out, fast, 16);
}

static size_t g_eltwise(void *out, int fast)
{
    /* add u8+u8->u8, sub i8-u8->i8, mul u8*i8->u8, add i16 dfp, max u8 i8 -> u8, 40 each */
    size_t n = 40, off = 0;
    uint8_t a8[40], b8[40];
    int8_t c8[40];
    int16_t a16[40], b16[40];
    gfill(a8, n, QP_QTYPE_U8, 5);
    gfill(b8, n, QP_QTYPE_U8, 6);
    gfill(c8, n, QP_QTYPE_I8, 7);
    gfill(a16, n, QP_QTYPE_I16, 8);
    gfill(b16, n, QP_QTYPE_I16, 9);
    struct { qp_q_eltop op; qp_qparams a, b, y; const void *xa, *xb; } cs[] = {
        {QP_Q_ELT_ADD, {0.02, 128, QP_QTYPE_U8}, {0.013, 100, QP_QTYPE_U8}, {0.03, 60, QP_QTYPE_U8}, a8, b8},
        {QP_Q_ELT_SUB, {0.05, -3, QP_QTYPE_I8}, {0.02, 0, QP_QTYPE_U8}, {0.06, 10, QP_QTYPE_I8}, c8, b8},
        {QP_Q_ELT_MUL, {0.02, 128, QP_QTYPE_U8}, {0.05, -3, QP_QTYPE_I8}, {0.04, 128, QP_QTYPE_U8}, a8, c8},
        {QP_Q_ELT_ADD, {ldexp(1, -10), 0, QP_QTYPE_I16}, {ldexp(1, -12), 0, QP_QTYPE_I16},
         {ldexp(1, -11), 0, QP_QTYPE_I16}, a16, b16},
        {QP_Q_ELT_MAX, {0.02, 128, QP_QTYPE_U8}, {0.05, -3, QP_QTYPE_I8}, {0.03, 100, QP_QTYPE_U8}, a8, c8},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        qp_q_elt_params e;
        qp_q_elt_init(&e, cs[i].op, &cs[i].a, &cs[i].b, &cs[i].y, (int32_t)qp_qtype_min(cs[i].y.type),
                      (int32_t)qp_qtype_max(cs[i].y.type));
        (fast ? qp_q_elt : qp_q_elt__ref)(&e, n, cs[i].xa, 1, cs[i].xb, 1, (char *)out + off);
        off += n * qp_qtype_size(cs[i].y.type);
    }
    return off;
}

static size_t g_lut(void *out, int fast)
{
    /* sigmoid and silu: u8 -> u8 (256 entries each), i16 DFP fl 11 -> i16 fl 15 sigmoid */
    (void)fast; /* tables are built in one way only */
    qp_qparams u = {0.0625, 128, QP_QTYPE_U8}, uo = {1.0 / 256, 0, QP_QTYPE_U8};
    qp_qparams s = {0.05, 100, QP_QTYPE_U8};
    qp_qparams i = qp_qparams_dfp(QP_QTYPE_I16, 11), io = qp_qparams_dfp(QP_QTYPE_I16, 15);
    qp_lut_fn_args sg = {QP_LUT_SIGMOID, 0, 0}, si = {QP_LUT_SILU, 0, 0};
    char *o = out;
    qp_lut_build_ex(qp_lut_eval, &sg, &u, &uo, o);
    qp_lut_build_ex(qp_lut_eval, &si, &u, &s, o + 256);
    qp_lut_build_ex(qp_lut_eval, &sg, &i, &io, o + 512);
    return 512 + 65536 * 2;
}

static size_t g_pool(void *out, int fast)
{
    qp_pool2d_q_params p = {1, 3, 8, 8, 8, 8, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1};
    uint8_t x[192];
    gfill(x, 192, QP_QTYPE_U8, 10);
    qp_qparams in = {0.02, 17, QP_QTYPE_U8}, o = {0.03, 5, QP_QTYPE_U8};
    (fast ? qp_maxpool2d_q : qp_maxpool2d_q__ref)(&p, QP_QTYPE_U8, x, out);
    (fast ? qp_avgpool2d_q : qp_avgpool2d_q__ref)(&p, &in, &o, x, (char *)out + 192);
    (fast ? qp_global_avgpool_q : qp_global_avgpool_q__ref)(3, 64, &in, &o, x, (char *)out + 384);
    return 387;
}

static size_t g_convert(void *out, int fast)
{
    /* u8 asym -> i16 DFP fl 12 -> i8 DFP fl 4, and float quantize of a ramp */
    uint8_t x[64];
    gfill(x, 64, QP_QTYPE_U8, 11);
    qp_qparams u = {0.0235, 119, QP_QTYPE_U8}, d = qp_qparams_dfp(QP_QTYPE_I16, 12),
               e = qp_qparams_dfp(QP_QTYPE_I8, 4);
    qp_qconvert c1, c2;
    qp_qconvert_init(&u, &d, &c1);
    qp_qconvert_init(&d, &e, &c2);
    char *o = out;
    void (*cv)(const qp_qconvert *, qp_qtype, qp_qtype, size_t, const void *, void *) =
        fast ? qp_q_convert : qp_q_convert__ref;
    cv(&c1, QP_QTYPE_U8, QP_QTYPE_I16, 64, x, o);
    cv(&c2, QP_QTYPE_I16, QP_QTYPE_I8, 64, o, o + 128);
    float f[64];
    for (int i = 0; i < 64; i++)
        f[i] = (float)(i - 32) * 0.0117f;
    (fast ? qp_q_quantize_f32 : qp_q_quantize_f32__ref)(&u, 64, f, o + 192);
    return 256;
}

static const golden goldens[] = {
    {"conv3x3_u8", g_conv3x3_u8},
    {"conv5x5s2_i8_relu", g_conv5x5s2_i8_relu},
    {"dwconv3x3s2_u8", g_dwconv3x3s2_u8},
    {"conv1x1_u8_i16out", g_conv1x1_u8_i16out},
    {"conv3x3_i16_dfp", g_conv3x3_i16_dfp},
    {"dwconv3x3_i16_dil2", g_dwconv3x3_i16_dil2},
    {"gemm_q8", g_gemm_q8},
    {"gemm_q16", g_gemm_q16},
    {"eltwise", g_eltwise},
    {"lut", g_lut},
    {"pool", g_pool},
    {"convert", g_convert},
};

static int test_golden(const char *dir, int regen)
{
    size_t cap = 1 << 18;
    unsigned char *ref = xmalloc(cap), *fast = xmalloc(cap), *file = xmalloc(cap);
    for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.bin", dir, goldens[i].name);
        size_t n = goldens[i].run(ref, 0);
        if (regen) {
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(ref, 1, n, f) != n || fclose(f)) {
                fprintf(stderr, "test_kernels_q: cannot write '%s'\n", path);
                return 3;
            }
            printf("wrote %s (%zu bytes)\n", path, n);
            continue;
        }
        FILE *f = fopen(path, "rb");
        size_t got = f ? fread(file, 1, cap, f) : 0;
        if (f)
            fclose(f);
        size_t at = 0;
        CHECK(f && got == n && same(ref, file, n, &at), "golden %s: reference differs from %s (%s, byte %zu)",
              goldens[i].name, path, !f ? "missing" : got != n ? "size" : "content", at);
        for (int isa = QP_ISA_REF; isa < QP_ISA_COUNT; isa++) {
            if (!qp_kernels_isa_supported((qp_isa)isa))
                continue;
            qp_kernels_set_isa((qp_isa)isa);
            for (int th = 1; th <= 2; th++) {
                qp_threads_set_count(th);
                memset(fast, 0, n);
                size_t m = goldens[i].run(fast, 1);
                CHECK(m == n && same(ref, fast, n, &at), "golden %s: %s, %d threads differ at byte %zu",
                      goldens[i].name, qp_kernels_isa_name((qp_isa)isa), th, at);
            }
        }
        qp_kernels_set_isa(QP_ISA_COUNT);
    }
    free(ref), free(fast), free(file);
    return 0;
}

int main(int argc, char **argv)
{
    const char *golden_dir = "tests/data/golden", *regen = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v"))
            verbose = 1;
        else if (!strcmp(argv[i], "--golden") && i + 1 < argc)
            golden_dir = argv[++i];
        else if (!strcmp(argv[i], "--regen") && i + 1 < argc)
            regen = argv[++i];
        else {
            fprintf(stderr, "usage: test_kernels_q [-v] [--golden DIR] [--regen DIR]\n");
            return 2;
        }
    }
    if (regen)
        return test_golden(regen, 1);
    test_gemm();
    test_gemm16_extreme();
    test_conv();
    test_convtranspose();
    test_pool();
    test_eltwise();
    test_lut();
    test_convert();
    test_golden(golden_dir, 0);
    qp_threads_shutdown();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
