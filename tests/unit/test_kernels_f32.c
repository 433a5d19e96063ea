/* The float32 kernel checker: every variant in the X-macro lists against its __ref on random
 * inputs and edge shapes, at each ISA level the CPU has, plus byte-identical output for 1 and
 * 2 threads.  Exits non-zero on any failure; the last line is "N passed, M failed".
 *
 * Tolerances (stated once, used everywhere):
 *   exact ops (max pooling, Add/Sub/Mul/Div/Max/Min, Pow x^2, 1 vs 2 threads): bit-identical;
 *   vexp/vsigmoid/vsilu/vtanh: within ULP_* below of the double-precision value;
 *   GEMM and convolutions: |y - y_ref| <= 1.5 * 2^-22 * sqrt(K) * S + 2^-21 * |y_ref| (+ 2^-22
 *     for the non-piecewise-linear activations), where S = sum_k |a_k * b_k| + |bias| is what
 *     the output's rounding errors scale with, K the terms per output, and 1.5 bounds the
 *     activations' slope; the second term covers the activation's own few-ulp difference. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/conv_f32.h"
#include "qp/gemm_f32.h"
#include "qp/pool_f32.h"
#include "qp/threads.h"
#include "qp/vmath.h"

/* Measured maxima (AVX2 / glibc references): exp 1.00 / 0.50, sigmoid 2.18 / 2.18,
 * silu 2.99 / 2.81, tanh 1.30 / 2.14.  silu is measured against max(ulp, |x| * 2^-149), because
 * where sigmoid(x) is subnormal the product keeps only its few bits. */
#define ULP_EXP 1.5
#define ULP_SIGMOID 2.5
#define ULP_SILU 3.5
#define ULP_TANH 2.5

static int n_pass, n_fail;
static double worst_ratio; /* largest |error| / tolerance seen in GEMM/conv checks */

static void check(int ok, const char *what)
{
    if (ok) {
        n_pass++;
    } else {
        n_fail++;
        printf("FAIL %s\n", what);
    }
}

/* ---- helpers ------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float frand(void) { return (float)(rnd() & 0xFFFFFF) / 8388608.0f - 1.0f; } /* [-1, 1) */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_kernels_f32: out of memory\n");
        exit(3);
    }
    return p;
}

static float *rand_array(size_t n)
{
    float *a = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        a[i] = frand();
    return a;
}

static double ulp_of(double t)
{
    t = fabs(t);
    if (t < FLT_MIN)
        return ldexp(1.0, -149);
    int e;
    frexp(t, &e); /* t = f * 2^e, f in [0.5, 1) */
    return ldexp(1.0, e - 24);
}

static const qp_isa all_isas[] = {QP_ISA_REF, QP_ISA_SCALAR, QP_ISA_AVX2};

static int is_smooth(qp_act_kind k)
{
    return k != QP_ACT_NONE && k != QP_ACT_RELU && k != QP_ACT_CLIP;
}

/* Compares y to y_ref under the GEMM/conv tolerance; s[i] is the sum of |terms| for i. */
static int close_enough(size_t n, const float *y, const float *y_ref, const float *s, double k,
                        qp_act act, char *msg, size_t msg_len)
{
    for (size_t i = 0; i < n; i++) {
        double tol = 1.5 * ldexp(1.0, -22) * sqrt(k > 1 ? k : 1) * s[i] +
                     ldexp(1.0, -21) * fabs(y_ref[i]) + (is_smooth(act.kind) ? ldexp(1.0, -22) : 0) +
                     1e-37;
        double err = fabs((double)y[i] - (double)y_ref[i]);
        if (!(err <= tol)) {
            snprintf(msg, msg_len, "at %zu: %.9g vs ref %.9g (err %.3g, tol %.3g)", i, y[i],
                     y_ref[i], err, tol);
            return 0;
        }
        if (tol > 0 && err / tol > worst_ratio)
            worst_ratio = err / tol;
    }
    return 1;
}

static qp_act act_cycle(int i)
{
    static const qp_act acts[] = {
        {QP_ACT_NONE, 0, 0},         {QP_ACT_RELU, 0, 0},       {QP_ACT_CLIP, -0.25f, 0.5f},
        {QP_ACT_SIGMOID, 0, 0},      {QP_ACT_SILU, 0, 0},       {QP_ACT_HARDSIGMOID, 0.2f, 0.5f},
        {QP_ACT_LEAKYRELU, 0.1f, 0}, {QP_ACT_TANH, 0, 0},       {QP_ACT_HARDSWISH, 0, 0},
    };
    _Static_assert(sizeof acts / sizeof acts[0] == QP_ACT_COUNT, "every activation is tested");
    return acts[i % QP_ACT_COUNT];
}

/* ---- threads ------------------------------------------------------------------------------- */

typedef struct count_ctx {
    int *hits;
    int bad_worker;
} count_ctx;

static void count_task(void *vctx, int task, int worker)
{
    count_ctx *c = vctx;
    __atomic_fetch_add(&c->hits[task], 1, __ATOMIC_RELAXED);
    if (worker < 0 || worker >= qp_threads_count())
        __atomic_store_n(&c->bad_worker, 1, __ATOMIC_RELAXED);
}

static void test_threads(void)
{
    int sizes[] = {0, 1, 2, 3, 7, 64, 1000};
    for (int t = 1; t <= 3; t++) {
        qp_threads_set_count(t);
        check(qp_threads_count() == t, "qp_threads_set_count");
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (int rep = 0; rep < 20; rep++) {
                int n = sizes[s];
                int *hits = calloc((size_t)n + 1, sizeof(int));
                count_ctx c = {hits, 0};
                qp_parallel_for(n, count_task, &c);
                int ok = !c.bad_worker;
                for (int i = 0; i < n; i++)
                    ok &= hits[i] == 1;
                free(hits);
                if (!ok || rep == 19) {
                    char msg[96];
                    snprintf(msg, sizeof msg, "parallel_for threads=%d n=%d: each task once", t, n);
                    check(ok, msg);
                    break;
                }
            }
    }
    qp_threads_set_count(0);
    check(qp_threads_count() == 1, "thread count clamps to 1");
    qp_threads_set_count(1000);
    check(qp_threads_count() == QP_THREADS_MAX, "thread count clamps to QP_THREADS_MAX");
    qp_threads_shutdown();
    qp_threads_shutdown();
    check(1, "shutdown twice");
}

/* ---- vmath --------------------------------------------------------------------------------- */

static double truth_unary(const char *name, double x)
{
    if (strncmp(name, "vexp", 4) == 0)
        return exp(x);
    if (strncmp(name, "vsigmoid", 8) == 0)
        return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
    if (strncmp(name, "vsilu", 5) == 0)
        return x < -700 ? -0.0 : x * (x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)));
    return tanh(x);
}

static double ulp_bound(const char *name)
{
    if (strncmp(name, "vexp", 4) == 0)
        return ULP_EXP;
    if (strncmp(name, "vsigmoid", 8) == 0)
        return ULP_SIGMOID;
    if (strncmp(name, "vsilu", 5) == 0)
        return ULP_SILU;
    return ULP_TANH;
}

static void test_vunary(void)
{
    size_t n = 0, cap = 6000000;
    float *x = xmalloc(cap * sizeof(float)), *y = xmalloc(cap * sizeof(float));
    for (double v = -110; v < 110 && n < cap; v += 1.0 / 8192)
        x[n++] = (float)v;
    for (double v = -1; v < 1 && n < cap; v += 1.0 / 1048576)
        x[n++] = (float)v;
    for (int i = 0; i < 200000; i++)
        x[n++] = frand() * 20;
    float specials[] = {0.0f, -0.0f, FLT_MIN, -FLT_MIN, 1e-30f, -1e-30f, 1e-45f, 88.72283f,
                        88.7228394f, 88.7229f, -87.33654f, -103.97f, -104.0f, 89.0f, 1e10f,
                        -1e10f, FLT_MAX, -FLT_MAX, 0.625f, -0.625f, 0.62499994f, 9.0f};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
        x[n++] = specials[i];

    for (size_t v = 0; v < qp_vunary_f32_n_variants; v++) {
        const qp_vunary_f32_variant *var = &qp_vunary_f32_variants[v];
        if (!qp_kernels_isa_supported(var->isa))
            continue;
        var->fn(n, x, y);
        double worst = 0;
        float worst_x = 0;
        for (size_t i = 0; i < n; i++) {
            double t = truth_unary(var->name, x[i]);
            if (fabs(t) > FLT_MAX) /* overflows float: must be inf of the right sign */
                worst = isinf(y[i]) && (y[i] > 0) == (t > 0) ? worst : INFINITY;
            else {
                double u = ulp_of(t);
                if (strncmp(var->name, "vsilu", 5) == 0 && u < fabs(x[i]) * ldexp(1.0, -149))
                    u = fabs(x[i]) * ldexp(1.0, -149);
                double e = fabs(y[i] - t) / u;
                if (!(e <= worst)) {
                    worst = e;
                    worst_x = x[i];
                }
            }
        }
        char msg[160];
        snprintf(msg, sizeof msg, "%s: max error %.2f ulp (at x=%.9g), bound %.1f", var->name,
                 worst, worst_x, ulp_bound(var->name));
        printf("  %s\n", msg);
        check(worst <= ulp_bound(var->name), msg);

        /* specials: NaN propagates, infinities saturate */
        float sp[4] = {NAN, INFINITY, -INFINITY, -0.0f}, r[4];
        var->fn(4, sp, r);
        int ok = isnan(r[0]);
        if (strncmp(var->name, "vexp", 4) == 0)
            ok &= isinf(r[1]) && r[1] > 0 && r[2] == 0;
        else if (strncmp(var->name, "vsigmoid", 8) == 0)
            ok &= r[1] == 1 && r[2] == 0;
        else if (strncmp(var->name, "vsilu", 5) == 0)
            ok &= isinf(r[1]) && r[2] == 0;
        else
            ok &= r[1] == 1 && r[2] == -1 && r[3] == 0 && signbit(r[3]);
        snprintf(msg, sizeof msg, "%s: NaN and infinities", var->name);
        check(ok, msg);

        /* tails: every length 0..40 gives the same elements as one long call */
        float xs[41], ys[41], yl[41];
        for (int i = 0; i < 41; i++)
            xs[i] = frand() * 10;
        var->fn(41, xs, yl);
        ok = 1;
        for (size_t len = 0; len <= 40; len++) {
            for (int i = 0; i < 41; i++)
                ys[i] = 12345.0f;
            var->fn(len, xs, ys);
            for (size_t i = 0; i < 41; i++)
                ok &= i < len ? memcmp(&ys[i], &yl[i], 4) == 0 : ys[i] == 12345.0f;
        }
        snprintf(msg, sizeof msg, "%s: tails and bounds", var->name);
        check(ok, msg);
    }
    free(x);
    free(y);
}

static void test_vmisc(void)
{
    size_t lens[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 100, 1003};
    float *a = rand_array(1003), *b = rand_array(1003), *y = xmalloc(1003 * 4),
          *r = xmalloc(1003 * 4);
    for (size_t i = 0; i < 1003; i++) {
        a[i] *= 8;
        b[i] = b[i] * 4 + (b[i] >= 0 ? 0.25f : -0.25f);
    }
    a[3] = NAN;
    b[5] = NAN;
    a[10] = b[10] = 0.0f;
    b[11] = -0.0f;
    for (size_t ia = 0; ia < sizeof all_isas / sizeof all_isas[0]; ia++) {
        qp_isa isa = all_isas[ia];
        if (!qp_kernels_isa_supported(isa))
            continue;
        qp_kernels_set_isa(isa);
        char msg[160];
        for (int op = 0; op < QP_BIN_COUNT; op++)
            for (int inc = 0; inc < 4; inc++) {
                size_t inc_a = (size_t)(inc & 1) ^ 1, inc_b = (size_t)(inc >> 1) ^ 1;
                int ok = 1;
                for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
                    size_t n = lens[l];
                    const float *pa = a, *pb = b;
                    float pw_exp = 2.0f;
                    if (op == QP_BIN_POW) {
                        if (!inc_b && inc & 1)
                            pb = &pw_exp; /* the x^2 fast path */
                        else
                            continue;
                    }
                    qp_vbinary_f32((qp_binop)op, n, pa, inc_a, pb, inc_b, y);
                    qp_vbinary_f32__ref((qp_binop)op, n, pa, inc_a, pb, inc_b, r);
                    for (size_t i = 0; i < n; i++)
                        ok &= memcmp(&y[i], &r[i], 4) == 0 || (isnan(y[i]) && isnan(r[i]));
                }
                snprintf(msg, sizeof msg, "vbinary[%s] op %d inc (%zu,%zu): bit-identical to ref",
                         qp_kernels_isa_name(isa), op, inc_a, inc_b);
                check(ok, msg);
            }
        /* in place */
        memcpy(y, a, 1003 * 4);
        qp_vbinary_f32(QP_BIN_MUL, 1003, y, 1, b, 1, y);
        qp_vbinary_f32__ref(QP_BIN_MUL, 1003, a, 1, b, 1, r);
        int ok = 1;
        for (size_t i = 0; i < 1003; i++)
            ok &= y[i] == r[i] || (isnan(y[i]) && isnan(r[i]));
        snprintf(msg, sizeof msg, "vbinary[%s] in place", qp_kernels_isa_name(isa));
        check(ok, msg);

        for (int k = 0; k < QP_ACT_COUNT; k++) {
            qp_act act = act_cycle(k);
            ok = 1;
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
                size_t n = lens[l];
                qp_vact_f32(act, n, b, y);
                qp_vact_f32__ref(act, n, b, r);
                for (size_t i = 0; i < n; i++) {
                    if (isnan(b[i]))
                        continue;
                    double tol = 4 * ulp_of(r[i]) + (is_smooth(act.kind) ? 1e-7 : 0);
                    ok &= fabs((double)y[i] - r[i]) <= tol;
                }
            }
            snprintf(msg, sizeof msg, "vact[%s] kind %d within 4 ulp", qp_kernels_isa_name(isa), k);
            check(ok, msg);
        }
        qp_vaffine_f32(1003, a, 0.75f, -0.125f, y);
        qp_vaffine_f32__ref(1003, a, 0.75f, -0.125f, r);
        ok = 1;
        for (size_t i = 0; i < 1003; i++)
            ok &= isnan(a[i]) ? isnan(y[i]) : fabs((double)y[i] - r[i]) <= 2 * ulp_of(8);
        snprintf(msg, sizeof msg, "vaffine[%s]", qp_kernels_isa_name(isa));
        check(ok, msg);
    }
    free(a);
    free(b);
    free(y);
    free(r);
}

/* ---- GEMM ---------------------------------------------------------------------------------- */

typedef struct gemm_case {
    size_t M, N, K;
} gemm_case;

/* Runs qp_gemm_f32_ex under the current ISA with 1 and 2 threads; returns 0 on mismatch. */
static void abs_array(size_t n, const float *a, float *b);

static void run_gemm_case(gemm_case g, int variant_idx, int with_r, int b_trans, qp_act act,
                          const char *isa_name)
{
    size_t M = g.M, N = g.N, K = g.K;
    float *A = rand_array(M * K), *B = rand_array(K * N), *bias = rand_array(M);
    float *R = rand_array(M * N);
    float *Bt = xmalloc((K * N + 1) * sizeof(float));
    for (size_t k = 0; k < K; k++)
        for (size_t n = 0; n < N; n++)
            Bt[n * K + k] = B[k * N + n];
    /* A given transposed to exercise the strided packing on every other case */
    float *At = xmalloc((M * K + 1) * sizeof(float));
    for (size_t m = 0; m < M; m++)
        for (size_t k = 0; k < K; k++)
            At[k * M + m] = A[m * K + k];
    size_t ldc = N + 3;
    float *C1 = xmalloc(M * ldc * sizeof(float)), *C2 = xmalloc(M * ldc * sizeof(float));
    float *Cr = xmalloc(M * N * sizeof(float)), *S = xmalloc(M * N * sizeof(float));
    float *absA = xmalloc((M * K + 1) * 4), *absB = xmalloc((K * N + 1) * 4), *absb = xmalloc(M * 4);
    for (size_t i = 0; i < M * K; i++)
        absA[i] = fabsf(A[i]);
    for (size_t i = 0; i < K * N; i++)
        absB[i] = fabsf(B[i]);
    for (size_t i = 0; i < M; i++)
        absb[i] = fabsf(bias[i]);
    const float *use_bias = variant_idx % 3 == 2 ? NULL : bias;
    qp_act none = {QP_ACT_NONE, 0, 0};
    qp_gemm_f32__ref(M, N, K, A, K, B, N, use_bias, act, with_r ? R : NULL, N, Cr, N);
    qp_gemm_f32__ref(M, N, K, absA, K, absB, N, use_bias ? absb : NULL, none, NULL, 0, S, N);

    void *packed = xmalloc(qp_gemm_f32_packed_size(M, K));
    if (variant_idx % 2)
        qp_gemm_f32_pack_a_strided(M, K, At, 1, M, packed);
    else
        qp_gemm_f32_pack_a(M, K, A, K, packed);
    void *scratch = xmalloc(qp_gemm_f32_scratch_size(M, N, K, 2));
    qp_gemm_f32_args a = {0};
    a.M = M;
    a.N = N;
    a.K = K;
    a.packed_a = packed;
    a.B = b_trans ? Bt : B;
    a.ldb = b_trans ? K : N;
    a.b_trans = b_trans;
    a.bias = use_bias;
    a.act = act;
    a.R = with_r ? R : NULL;
    a.ldr = N;
    a.ldc = ldc;
    for (size_t i = 0; i < M * ldc; i++)
        C1[i] = C2[i] = -7.0f; /* the ldc gap must survive */
    qp_threads_set_count(1);
    a.C = C1;
    qp_gemm_f32_ex(&a, scratch);
    qp_threads_set_count(2);
    a.C = C2;
    qp_gemm_f32_ex(&a, scratch);

    char msg[256], where[160];
    int ok = 1;
    for (size_t m = 0; m < M && ok; m++) {
        float *row = xmalloc(N * 4 + 4);
        memcpy(row, C1 + m * ldc, N * 4);
        ok = close_enough(N, row, Cr + m * N, S + m * N, (double)K, act, where, sizeof where);
        for (size_t j = N; j < ldc; j++)
            ok &= C1[m * ldc + j] == -7.0f;
        free(row);
    }
    snprintf(msg, sizeof msg, "gemm[%s] M=%zu N=%zu K=%zu act=%d bias=%d R=%d bT=%d: %s",
             isa_name, M, N, K, act.kind, use_bias != NULL, with_r, b_trans, ok ? "" : where);
    check(ok, msg);
    snprintf(msg, sizeof msg, "gemm[%s] M=%zu N=%zu K=%zu: 1 and 2 threads bit-identical",
             isa_name, M, N, K);
    check(memcmp(C1, C2, M * ldc * sizeof(float)) == 0, msg);
    free(A), free(B), free(bias), free(R), free(Bt), free(At), free(C1), free(C2), free(Cr);
    free(S), free(absA), free(absB), free(absb), free(packed), free(scratch);
}

static void test_gemm(void)
{
    static const gemm_case cases[] = {
        {1, 1, 1},     {1, 17, 3},     {5, 1, 7},      {6, 16, 8},    {7, 17, 9},
        {5, 15, 33},   {4, 16, 2},     {3, 15, 1},     {13, 40, 511}, {12, 33, 512},
        {19, 47, 513}, {64, 400, 64},  {37, 1000, 1100}, {255, 400, 20}, {3, 4000, 5},
        {4, 5, 0},     {50, 130, 1025},
    };
    int idx = 0;
    size_t covered = 0, supported = 0;
    for (size_t i = 0; i < qp_gemm_f32_n_ukernels; i++)
        supported += qp_kernels_isa_supported(qp_gemm_f32_ukernels[i].isa) != 0;
    for (size_t ia = 0; ia < sizeof all_isas / sizeof all_isas[0]; ia++) {
        qp_isa isa = all_isas[ia];
        if (!qp_kernels_isa_supported(isa))
            continue;
        qp_kernels_set_isa(isa);
        const qp_gemm_f32_ukernel *uk = qp_gemm_f32_ukernel_pick();
        covered += uk != NULL;
        const char *name = uk ? uk->name : "ref";
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++, idx++)
            run_gemm_case(cases[c], idx, idx % 4 == 1, idx % 5 == 3, act_cycle(idx), name);
        /* the microkernel's own tile shape, +-1 */
        if (uk) {
            gemm_case t[] = {{(size_t)uk->mr, (size_t)uk->nr, 5},
                             {(size_t)uk->mr + 1, (size_t)uk->nr - 1, 6},
                             {(size_t)uk->mr - 1, (size_t)uk->nr + 1, 7},
                             {2 * (size_t)uk->mr, 2 * (size_t)uk->nr, 300}};
            for (size_t c = 0; c < 4; c++, idx++)
                run_gemm_case(t[c], idx, 0, 0, act_cycle(idx), name);
        }
    }
    check(covered == supported, "every microkernel in QP_GEMM_F32_UKERNELS the CPU has was run");
    qp_kernels_set_isa(QP_ISA_COUNT);
}

/* A pack_b callback over a row-major B, as conv_f32's im2col is one over X. */
typedef struct rowmajor_b {
    const float *B;
    size_t ldb;
} rowmajor_b;

static void pack_rowmajor(const void *ctx, size_t k0, size_t kc, size_t n0, size_t nc, size_t nr,
                          float *dst)
{
    const rowmajor_b *b = ctx;
    for (size_t j = 0; j < (nc + nr - 1) / nr * nr; j++)
        for (size_t k = 0; k < kc; k++)
            dst[(j / nr) * kc * nr + k * nr + j % nr] =
                j < nc ? b->B[(k0 + k) * b->ldb + n0 + j] : 0.0f;
}

static void test_gemm_pack_b(void)
{
    static const gemm_case cases[] = {{7, 33, 9}, {13, 300, 700}, {40, 2000, 30}};
    for (size_t ia = 0; ia < sizeof all_isas / sizeof all_isas[0]; ia++) {
        if (!qp_kernels_isa_supported(all_isas[ia]))
            continue;
        qp_kernels_set_isa(all_isas[ia]);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            size_t M = cases[c].M, N = cases[c].N, K = cases[c].K;
            float *A = rand_array(M * K), *B = rand_array(K * N), *C = xmalloc(M * N * 4),
                  *Cr = xmalloc(M * N * 4), *S = xmalloc(M * N * 4);
            float *aA = xmalloc(M * K * 4), *aB = xmalloc(K * N * 4);
            abs_array(M * K, A, aA);
            abs_array(K * N, B, aB);
            qp_act act = {QP_ACT_NONE, 0, 0};
            qp_gemm_f32__ref(M, N, K, A, K, B, N, NULL, act, NULL, 0, Cr, N);
            qp_gemm_f32__ref(M, N, K, aA, K, aB, N, NULL, act, NULL, 0, S, N);
            void *packed = xmalloc(qp_gemm_f32_packed_size(M, K));
            qp_gemm_f32_pack_a(M, K, A, K, packed);
            void *scratch = xmalloc(qp_gemm_f32_scratch_size(M, N, K, qp_threads_count()));
            rowmajor_b rb = {B, N};
            qp_gemm_f32_args g = {0};
            g.M = M;
            g.N = N;
            g.K = K;
            g.packed_a = packed;
            g.pack_b = pack_rowmajor;
            g.pack_b_ctx = &rb;
            g.act = act;
            g.C = C;
            g.ldc = N;
            qp_gemm_f32_ex(&g, scratch);
            char msg[200], where[160];
            int ok = close_enough(M * N, C, Cr, S, (double)K, act, where, sizeof where);
            snprintf(msg, sizeof msg, "gemm[%s] pack_b callback M=%zu N=%zu K=%zu: %s",
                     qp_kernels_isa_name(all_isas[ia]), M, N, K, ok ? "" : where);
            check(ok, msg);
            free(A), free(B), free(C), free(Cr), free(S), free(aA), free(aB), free(packed);
            free(scratch);
        }
    }
    qp_kernels_set_isa(QP_ISA_COUNT);
}

/* ---- convolution --------------------------------------------------------------------------- */

/* n, c, h, w, m, kh, kw, group, sh, sw, dh, dw, pt, pl, pb, pr */
static const int conv_cases[][16] = {
    {1, 16, 7, 9, 24, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},   /* 1x1 */
    {2, 12, 5, 5, 18, 1, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0},   /* 1x1 grouped, batch 2 */
    {1, 7, 11, 13, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* 3x3, odd channels */
    {1, 8, 16, 15, 16, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},  /* 3x3 s2 */
    {1, 3, 32, 32, 8, 6, 6, 1, 2, 2, 1, 1, 2, 2, 2, 2},   /* yolov5 stem k6 s2 p2 */
    {1, 5, 17, 19, 7, 3, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1},   /* stride 3 */
    {1, 6, 15, 15, 5, 3, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2},   /* dilation 2 */
    {1, 4, 24, 24, 6, 3, 3, 1, 1, 1, 5, 5, 5, 5, 5, 5},   /* dilation 5 (M-LSD) */
    {1, 3, 20, 20, 6, 5, 5, 1, 2, 2, 1, 1, 1, 1, 2, 2},   /* pads (1,1,2,2) (BlazeFace) */
    {1, 8, 9, 9, 12, 3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1},    /* grouped dense */
    {1, 3, 5, 6, 4, 2, 3, 1, 1, 1, 1, 1, 3, 2, 4, 3},     /* pads >= kernel */
    {1, 4, 1, 30, 6, 1, 5, 1, 1, 2, 1, 1, 0, 2, 0, 2},    /* 1-D as h = 1 */
    {1, 1, 9, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     /* one input channel */
    {1, 57, 6, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* K = 513, KC + 1 */
    {1, 512, 3, 5, 9, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},   /* K = 512 */
    {1, 511, 4, 4, 7, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},   /* K = 511 */
    {1, 32, 40, 40, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* several N chunks */
    {1, 2, 3, 3, 3, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},     /* 1x1 stride 2 */
    {1, 9, 13, 21, 9, 3, 3, 9, 1, 1, 1, 1, 1, 1, 1, 1},   /* depthwise k3 s1 */
    {1, 5, 16, 16, 5, 3, 3, 5, 2, 2, 1, 1, 0, 0, 1, 1},   /* dw k3 s2 pads (0,0,1,1) */
    {1, 7, 19, 37, 7, 5, 5, 7, 1, 1, 1, 1, 2, 2, 2, 2},   /* dw k5 s1 */
    {1, 6, 20, 41, 6, 5, 5, 6, 2, 2, 1, 1, 2, 2, 2, 2},   /* dw k5 s2 */
    {1, 4, 12, 48, 4, 3, 3, 4, 2, 1, 1, 1, 1, 1, 1, 1},   /* dw k3 s(2,1) (PP-OCR cls) */
    {1, 4, 12, 48, 4, 5, 5, 4, 2, 1, 1, 1, 2, 2, 2, 2},   /* dw k5 s(2,1) */
    {1, 3, 10, 10, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* dw multiplier 2 */
    {1, 4, 20, 20, 4, 7, 7, 4, 1, 1, 2, 2, 6, 6, 6, 6},   /* dw k7 dilation 2 */
    {2, 3, 9, 70, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    /* dw wide rows, batch 2 */
    {1, 5, 11, 11, 5, 3, 3, 5, 3, 3, 2, 2, 4, 3, 2, 1},   /* dw stride 3 dil 2 odd pads */
    {1, 5, 15, 17, 5, 3, 3, 5, 2, 2, 1, 1, 1, 1, 1, 1},   /* dw k3 s2 odd pad_left */
    {1, 3, 14, 9, 3, 5, 5, 3, 2, 2, 2, 2, 3, 3, 4, 4},    /* dw k5 s2 dil 2 */
    {1, 3, 7, 7, 3, 1, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0},     /* dw 1x1 */
    {1, 2, 6, 6, 2, 3, 3, 2, 1, 1, 1, 1, 4, 4, 4, 4},     /* dw pads > kernel */
    {3, 2, 200, 3, 2, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},   /* dw tall: several row blocks */
};

static qp_conv2d_f32_params conv_params(const int *v, int transpose)
{
    qp_conv2d_f32_params p = {0};
    p.n = v[0];
    p.c = v[1];
    p.h = v[2];
    p.w = v[3];
    p.m = v[4];
    p.kh = v[5];
    p.kw = v[6];
    p.group = v[7];
    p.stride_h = v[8];
    p.stride_w = v[9];
    p.dil_h = v[10];
    p.dil_w = v[11];
    p.pad_top = v[12];
    p.pad_left = v[13];
    p.pad_bottom = v[14];
    p.pad_right = v[15];
    if (transpose) {
        p.oh = p.stride_h * (p.h - 1) + p.dil_h * (p.kh - 1) + 1 - p.pad_top - p.pad_bottom;
        p.ow = p.stride_w * (p.w - 1) + p.dil_w * (p.kw - 1) + 1 - p.pad_left - p.pad_right;
    } else {
        p.oh = (p.h + p.pad_top + p.pad_bottom - p.dil_h * (p.kh - 1) - 1) / p.stride_h + 1;
        p.ow = (p.w + p.pad_left + p.pad_right - p.dil_w * (p.kw - 1) - 1) / p.stride_w + 1;
    }
    return p;
}

static void abs_array(size_t n, const float *a, float *b)
{
    for (size_t i = 0; i < n; i++)
        b[i] = fabsf(a[i]);
}

static void run_conv_case(const qp_conv2d_f32_params *p, int transpose, int idx, qp_isa isa)
{
    size_t cg = (size_t)(p->c / p->group), mg = (size_t)(p->m / p->group);
    size_t nw = transpose ? (size_t)p->c * mg * p->kh * p->kw : (size_t)p->m * cg * p->kh * p->kw;
    size_t nx = (size_t)p->n * p->c * p->h * p->w, ny = (size_t)p->n * p->m * p->oh * p->ow;
    float *w = rand_array(nw), *x = rand_array(nx), *bias = rand_array((size_t)p->m);
    float *aw = xmalloc(nw * 4), *ax = xmalloc(nx * 4), *ab = xmalloc((size_t)p->m * 4);
    abs_array(nw, w, aw);
    abs_array(nx, x, ax);
    abs_array((size_t)p->m, bias, ab);
    float *y1 = xmalloc(ny * 4), *y2 = xmalloc(ny * 4), *yr = xmalloc(ny * 4), *s = xmalloc(ny * 4);
    qp_act act = act_cycle(idx), none = {QP_ACT_NONE, 0, 0};
    const float *use_bias = idx % 3 == 1 ? NULL : bias;
    const char *what = transpose ? "convtranspose" : "conv";
    size_t K = cg * p->kh * p->kw;
    void *packed, *scratch;
    qp_kernels_set_isa(isa);
    if (transpose) {
        qp_convtranspose2d_f32__ref(p, w, use_bias, act, x, yr);
        qp_convtranspose2d_f32__ref(p, aw, use_bias ? ab : NULL, none, ax, s);
        packed = xmalloc(qp_convtranspose2d_f32_packed_size(p));
        qp_convtranspose2d_f32_pack(p, w, packed);
        scratch = xmalloc(qp_convtranspose2d_f32_scratch_size(p, 2));
    } else {
        qp_conv2d_f32__ref(p, w, use_bias, act, x, yr);
        qp_conv2d_f32__ref(p, aw, use_bias ? ab : NULL, none, ax, s);
        packed = xmalloc(qp_conv2d_f32_packed_size(p));
        qp_conv2d_f32_pack(p, w, packed);
        scratch = xmalloc(qp_conv2d_f32_scratch_size(p, 2));
    }
    for (int t = 1; t <= 2; t++) {
        qp_threads_set_count(t);
        float *y = t == 1 ? y1 : y2;
        for (size_t i = 0; i < ny; i++)
            y[i] = NAN;
        if (transpose)
            qp_convtranspose2d_f32(p, packed, use_bias, act, x, y, scratch);
        else
            qp_conv2d_f32(p, packed, use_bias, act, x, y, scratch);
    }
    char msg[320], where[160];
    int ok = close_enough(ny, y1, yr, s, (double)K, act, where, sizeof where);
    snprintf(msg, sizeof msg,
             "%s[%s path %d] n%d c%d %dx%d m%d k%dx%d g%d s%d,%d d%d,%d p%d,%d,%d,%d act=%d: %s",
             what, qp_kernels_isa_name(isa), transpose ? -1 : (int)qp_conv2d_f32_path_of(p), p->n,
             p->c, p->h, p->w, p->m, p->kh, p->kw, p->group, p->stride_h, p->stride_w, p->dil_h,
             p->dil_w, p->pad_top, p->pad_left, p->pad_bottom, p->pad_right, act.kind,
             ok ? "" : where);
    check(ok, msg);
    snprintf(msg, sizeof msg, "%s[%s] case %d: 1 and 2 threads bit-identical", what,
             qp_kernels_isa_name(isa), idx);
    check(memcmp(y1, y2, ny * 4) == 0, msg);
    free(w), free(x), free(bias), free(aw), free(ax), free(ab), free(y1), free(y2), free(yr);
    free(s), free(packed), free(scratch);
}

static void test_conv(void)
{
    int idx = 0;
    for (size_t ia = 0; ia < sizeof all_isas / sizeof all_isas[0]; ia++) {
        if (!qp_kernels_isa_supported(all_isas[ia]))
            continue;
        for (size_t c = 0; c < sizeof conv_cases / sizeof conv_cases[0]; c++, idx++) {
            qp_conv2d_f32_params p = conv_params(conv_cases[c], 0);
            check(qp_conv2d_f32_check(&p) == 0, "conv case passes qp_conv2d_f32_check");
            run_conv_case(&p, 0, idx, all_isas[ia]);
        }
    }
    qp_kernels_set_isa(QP_ISA_COUNT);
    /* the shape checks reject what the kernels cannot do */
    qp_conv2d_f32_params p = conv_params(conv_cases[2], 0);
    p.oh++;
    check(qp_conv2d_f32_check(&p) != 0, "conv check rejects a wrong output size");
    p = conv_params(conv_cases[9], 0);
    p.group = 3;
    check(qp_conv2d_f32_check(&p) != 0, "conv check rejects channels not divisible by group");
}

/* n, c, h, w, m, kh, kw, group, sh, sw, dh, dw, pt, pl, pb, pr, output_padding h, w */
static const int convt_cases[][18] = {
    {1, 8, 5, 6, 6, 2, 2, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0},    /* PP-OCR k2 s2 */
    {1, 5, 4, 5, 7, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},    /* k3 s2 p1 output_padding 1 */
    {1, 6, 5, 5, 4, 3, 3, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0},    /* groups */
    {2, 3, 4, 3, 5, 3, 2, 1, 3, 2, 2, 1, 1, 0, 2, 1, 2, 1},    /* strides, dilation, asym */
    {1, 8, 40, 40, 64, 2, 2, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0}, /* several column tiles */
    {1, 4, 7, 1, 3, 5, 1, 1, 2, 1, 1, 1, 2, 0, 2, 0, 0, 0},    /* 1-D */
    {1, 3, 3, 3, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},    /* depthwise-like groups */
};

static void test_convtranspose(void)
{
    int idx = 0;
    for (size_t ia = 0; ia < sizeof all_isas / sizeof all_isas[0]; ia++) {
        if (!qp_kernels_isa_supported(all_isas[ia]))
            continue;
        for (size_t c = 0; c < sizeof convt_cases / sizeof convt_cases[0]; c++, idx++) {
            qp_conv2d_f32_params p = conv_params(convt_cases[c], 1);
            p.oh += convt_cases[c][16];
            p.ow += convt_cases[c][17];
            check(qp_convtranspose2d_f32_check(&p) == 0, "convtranspose case passes check");
            run_conv_case(&p, 1, idx, all_isas[ia]);
        }
    }
    qp_kernels_set_isa(QP_ISA_COUNT);
    qp_conv2d_f32_params p = conv_params(convt_cases[0], 1);
    p.oh += 2;
    check(qp_convtranspose2d_f32_check(&p) != 0, "convtranspose check rejects output_padding >= stride");
}

/* ---- pooling ------------------------------------------------------------------------------- */

/* n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, ceil, count_include_pad */
static const int pool_cases[][16] = {
    {1, 8, 20, 20, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0},  /* yolov5 SPPF */
    {1, 3, 12, 48, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0},  /* k2 s2 */
    {1, 3, 13, 47, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0},  /* k2 s2 odd, ceil_mode */
    {2, 5, 9, 35, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1},   /* M-LSD k3 s1 p1 */
    {1, 4, 11, 11, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0},  /* dilation 2 */
    {1, 4, 10, 10, 3, 2, 3, 2, 1, 1, 1, 0, 2, 1, 1, 1},  /* stride 3, ceil, asym pads */
    {1, 2, 1, 40, 1, 4, 1, 2, 1, 1, 0, 1, 0, 1, 0, 0},   /* 1-D */
    {1, 3, 6, 6, 4, 4, 1, 1, 1, 2, 3, 3, 3, 3, 0, 1},    /* big pads */
};

static qp_pool2d_f32_params pool_params(const int *v)
{
    qp_pool2d_f32_params p = {0};
    p.n = v[0];
    p.c = v[1];
    p.h = v[2];
    p.w = v[3];
    p.kh = v[4];
    p.kw = v[5];
    p.stride_h = v[6];
    p.stride_w = v[7];
    p.dil_h = v[8];
    p.dil_w = v[9];
    p.pad_top = v[10];
    p.pad_left = v[11];
    p.pad_bottom = v[12];
    p.pad_right = v[13];
    p.count_include_pad = v[15];
    int eh = p.h + p.pad_top + p.pad_bottom - p.dil_h * (p.kh - 1) - 1;
    int ew = p.w + p.pad_left + p.pad_right - p.dil_w * (p.kw - 1) - 1;
    if (v[14]) { /* ceil_mode, dropping a last window that would start in the end padding */
        p.oh = (eh + p.stride_h - 1) / p.stride_h + 1;
        p.ow = (ew + p.stride_w - 1) / p.stride_w + 1;
        if ((p.oh - 1) * p.stride_h >= p.h + p.pad_top)
            p.oh--;
        if ((p.ow - 1) * p.stride_w >= p.w + p.pad_left)
            p.ow--;
    } else {
        p.oh = eh / p.stride_h + 1;
        p.ow = ew / p.stride_w + 1;
    }
    return p;
}

static void test_pool(void)
{
    for (size_t ia = 0; ia < sizeof all_isas / sizeof all_isas[0]; ia++) {
        qp_isa isa = all_isas[ia];
        if (!qp_kernels_isa_supported(isa))
            continue;
        qp_kernels_set_isa(isa);
        for (size_t c = 0; c < sizeof pool_cases / sizeof pool_cases[0]; c++) {
            qp_pool2d_f32_params p = pool_params(pool_cases[c]);
            char msg[200];
            snprintf(msg, sizeof msg, "pool case %zu passes qp_pool2d_f32_check", c);
            check(qp_pool2d_f32_check(&p) == 0, msg);
            size_t nx = (size_t)p.n * p.c * p.h * p.w, ny = (size_t)p.n * p.c * p.oh * p.ow;
            float *x = rand_array(nx), *y1 = xmalloc(ny * 4), *y2 = xmalloc(ny * 4),
                  *yr = xmalloc(ny * 4);
            qp_maxpool2d_f32__ref(&p, x, yr);
            qp_threads_set_count(1);
            qp_maxpool2d_f32(&p, x, y1);
            qp_threads_set_count(2);
            qp_maxpool2d_f32(&p, x, y2);
            snprintf(msg, sizeof msg, "maxpool[%s] case %zu (%dx%d k%dx%d s%d,%d): exact", 
                     qp_kernels_isa_name(isa), c, p.h, p.w, p.kh, p.kw, p.stride_h, p.stride_w);
            check(memcmp(y1, yr, ny * 4) == 0 && memcmp(y2, yr, ny * 4) == 0, msg);

            qp_avgpool2d_f32__ref(&p, x, yr);
            qp_threads_set_count(1);
            qp_avgpool2d_f32(&p, x, y1);
            qp_threads_set_count(2);
            qp_avgpool2d_f32(&p, x, y2);
            snprintf(msg, sizeof msg, "avgpool[%s] case %zu: matches ref, 1 = 2 threads",
                     qp_kernels_isa_name(isa), c);
            check(memcmp(y1, yr, ny * 4) == 0 && memcmp(y1, y2, ny * 4) == 0, msg);
            free(x), free(y1), free(y2), free(yr);
        }
        /* global pools */
        size_t hws[] = {1, 7, 8, 31, 32, 33, 400, 1601};
        for (size_t h = 0; h < sizeof hws / sizeof hws[0]; h++) {
            size_t hw = hws[h], nc = 37;
            float *x = rand_array(nc * hw), y1[37], y2[37];
            int ok_avg = 1, ok_max = 1;
            qp_threads_set_count(1);
            qp_global_avgpool_f32(nc, hw, x, y1);
            qp_threads_set_count(2);
            qp_global_avgpool_f32(nc, hw, x, y2);
            ok_avg &= memcmp(y1, y2, sizeof y1) == 0;
            for (size_t i = 0; i < nc; i++) {
                double s = 0, sa = 0;
                for (size_t k = 0; k < hw; k++)
                    s += x[i * hw + k], sa += fabs(x[i * hw + k]);
                ok_avg &= fabs(y1[i] - s / hw) <= ldexp(1.0, -22) * sqrt((double)hw) * sa / hw +
                                                    ulp_of(s / hw);
            }
            qp_global_maxpool_f32(nc, hw, x, y1);
            for (size_t i = 0; i < nc; i++)
                ok_max &= y1[i] == qp_global_maxpool_f32_plane__ref(hw, x + i * hw);
            char msg[120];
            snprintf(msg, sizeof msg, "global avgpool[%s] hw=%zu: tolerance, 1 = 2 threads",
                     qp_kernels_isa_name(isa), hw);
            check(ok_avg, msg);
            snprintf(msg, sizeof msg, "global maxpool[%s] hw=%zu: exact", qp_kernels_isa_name(isa),
                     hw);
            check(ok_max, msg);
            free(x);
        }
    }
    qp_kernels_set_isa(QP_ISA_COUNT);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print-isa") == 0) {
        printf("%s\n", qp_kernels_isa_name(qp_kernels_isa()));
        return 0;
    }
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0; /* for valgrind */
    printf("kernels: isa %s, %d threads by default\n", qp_kernels_isa_name(qp_kernels_isa()),
           qp_threads_count());
    qp_isa start = qp_kernels_isa();
    test_threads();
    if (!quick)
        test_vunary();
    test_vmisc();
    test_gemm();
    test_gemm_pack_b();
    test_conv();
    test_convtranspose();
    test_pool();
    qp_kernels_set_isa(start);
    printf("worst GEMM/conv error: %.3f of the tolerance\n", worst_ratio);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
