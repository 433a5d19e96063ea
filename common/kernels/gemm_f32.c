/* float32 GEMM driver: A packed once into MR-row panels; B packed per task into NR-wide
 * panels (or, for narrow N, all at once into shared scratch); tasks cut by problem size; the
 * microkernel runs every MR x NR tile, edge tiles through a buffer.  Also the reference and
 * the portable microkernel. */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "qp/gemm_f32.h"
#include "qp/threads.h"

/* Blocking.  kc: K is cut into equal blocks of at most KC_MAX, so an A micro-panel (kc x MR)
 * stays in L1 and a C tile is reloaded only K/kc times.  B_BYTES: the packed B block of one
 * task, kept well inside the 512 KiB L2 of the machines we measure (Zen 3). */
#ifndef QP_GEMM_KC_MAX
#define QP_GEMM_KC_MAX 512
#endif
#ifndef QP_GEMM_B_BYTES
#define QP_GEMM_B_BYTES (192 * 1024)
#endif
#ifndef QP_GEMM_A_BYTES
#define QP_GEMM_A_BYTES (256 * 1024) /* an M chunk's A block, prepacked mode */
#endif
#ifndef QP_GEMM_PREPACK_BYTES
#define QP_GEMM_PREPACK_BYTES (8 * 1024 * 1024) /* largest B packed whole */
#endif
#define TASK_FLOPS 4000000.0 /* below this a task is not worth a thread hand-off */
#define MAX_TASKS 32
#define MR_MAX 8
#define NR_MAX 16

#define PACK_MAGIC 0x47463332u /* "GF32" */

/* The packed A block starts with this header (64 bytes, so the panels stay aligned). */
typedef struct pack_header {
    uint32_t magic;
    uint32_t mr; /* 0: plain row-major copy (reference path), else the panel height */
    uint64_t M, K;
    uint8_t pad[40];
} pack_header;
_Static_assert(sizeof(pack_header) == 64, "header keeps panels 64-byte aligned");

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }
static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }
static void *align_ptr(void *p) { return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* ---- variants ------------------------------------------------------------------------------ */

#define QP_GEMM_ENTRY_(name, isa, mr, nr) {#name, isa, mr, nr, qp_gemm_f32_##name},
const qp_gemm_f32_ukernel qp_gemm_f32_ukernels[] = {QP_GEMM_F32_UKERNELS(QP_GEMM_ENTRY_)};
const size_t qp_gemm_f32_n_ukernels = sizeof qp_gemm_f32_ukernels / sizeof qp_gemm_f32_ukernels[0];
#define QP_GEMM_CHECK_(name, isa, mr, nr) \
    _Static_assert((mr) <= MR_MAX && (nr) <= NR_MAX, "tile fits the edge buffer");
QP_GEMM_F32_UKERNELS(QP_GEMM_CHECK_)

const qp_gemm_f32_ukernel *qp_gemm_f32_ukernel_pick(void)
{
    qp_isa isa = qp_kernels_isa();
    const qp_gemm_f32_ukernel *best = NULL;
    if (isa == QP_ISA_REF)
        return NULL;
    for (size_t i = 0; i < qp_gemm_f32_n_ukernels; i++)
        if (qp_gemm_f32_ukernels[i].isa <= isa &&
            (!best || qp_gemm_f32_ukernels[i].isa >= best->isa))
            best = &qp_gemm_f32_ukernels[i];
    return best;
}

/* ---- reference ----------------------------------------------------------------------------- */

void qp_gemm_f32__ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B,
                      size_t ldb, const float *bias, qp_act act, const float *R, size_t ldr,
                      float *C, size_t ldc)
{
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            float s = 0;
            for (size_t k = 0; k < K; k++)
                s += A[m * lda + k] * B[k * ldb + n];
            if (bias)
                s += bias[m];
            s = qp_act_f32__ref(act, s);
            if (R)
                s += R[m * ldr + n];
            C[m * ldc + n] = s;
        }
}

/* ---- portable microkernel ------------------------------------------------------------------ */

/* Plain loops over a 4 x 8 accumulator block (32 floats: with SSE2 that is 8 registers, so
 * the block, a B row and a broadcast fit the 16 the baseline x86-64 target has; wider blocks
 * spill).  Compilers vectorize the j loops for whatever SIMD the baseline has. */
void qp_gemm_f32_4x8__scalar(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                             const float *bias, unsigned flags, float lo, float hi)
{
    float acc0[8] = {0}, acc1[8] = {0}, acc2[8] = {0}, acc3[8] = {0};
    for (size_t k = 0; k < kc; k++, a += 4, b += 8) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            acc0[j] += a[0] * b[j];
            acc1[j] += a[1] * b[j];
            acc2[j] += a[2] * b[j];
            acc3[j] += a[3] * b[j];
        }
    }
    float *acc[4] = {acc0, acc1, acc2, acc3};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) {
            float v = acc[i][j];
            if (flags & QP_GEMM_LOAD_C)
                v = c[i * ldc + j] + v;
            if (flags & QP_GEMM_BIAS)
                v += bias[i];
            if (flags & QP_GEMM_CLAMP) {
                v = v > lo ? v : lo;
                v = v < hi ? v : hi;
            }
            c[i * ldc + j] = v;
        }
}

/* ---- packing A ----------------------------------------------------------------------------- */

static size_t packed_bytes(size_t M, size_t K, int mr)
{
    size_t rows = mr ? ceil_div(M, (size_t)mr) * (size_t)mr : M;
    return sizeof(pack_header) + align64(rows * K * sizeof(float));
}

size_t qp_gemm_f32_packed_size(size_t M, size_t K)
{
    const qp_gemm_f32_ukernel *uk = qp_gemm_f32_ukernel_pick();
    return packed_bytes(M, K, uk ? uk->mr : 0);
}

void qp_gemm_f32_pack_a_strided(size_t M, size_t K, const float *A, size_t rs, size_t cs,
                                void *packed)
{
    const qp_gemm_f32_ukernel *uk = qp_gemm_f32_ukernel_pick();
    pack_header *h = packed;
    memset(h, 0, sizeof *h);
    h->magic = PACK_MAGIC;
    h->M = M;
    h->K = K;
    float *dst = (float *)(h + 1);
    if (!uk) {
        h->mr = 0;
        for (size_t m = 0; m < M; m++)
            for (size_t k = 0; k < K; k++)
                *dst++ = A[m * rs + k * cs];
        return;
    }
    size_t mr = (size_t)uk->mr;
    h->mr = (uint32_t)mr;
    /* panel p: element (r, k) at p*K*mr + k*mr + r; rows past M are zero */
    for (size_t p = 0; p < ceil_div(M, mr); p++)
        for (size_t k = 0; k < K; k++)
            for (size_t r = 0; r < mr; r++) {
                size_t m = p * mr + r;
                *dst++ = m < M ? A[m * rs + k * cs] : 0.0f;
            }
}

void qp_gemm_f32_pack_a(size_t M, size_t K, const float *A, size_t lda, void *packed)
{
    qp_gemm_f32_pack_a_strided(M, K, A, lda, 1, packed);
}

/* ---- plan ---------------------------------------------------------------------------------- */

/* How a problem is cut: a function of (M, N, K) and the tile shape only, never of the thread
 * count.  Each C element is computed by the same operations whatever the cut (the K blocks
 * are fixed by K, edge tiles run the full microkernel), so even the cut could change without
 * changing a bit; the rule keeps it simple to see.
 *
 * Two modes.  Streaming (wide N): a task owns a column chunk whose packed B block (kc x nc)
 * stays in L2 while A micro-panels stream through L1.  Prepacked (narrow N, where column
 * chunks alone would give too few tasks): all of B is packed once into shared scratch, then a
 * task owns an M chunk whose A block (mc x kc) stays in L2 while B micro-panels sit in L1, so
 * B (for a convolution, the im2col) is never packed twice. */
typedef struct plan {
    int prepack;
    size_t kc, nkb;          /* K blocks: nkb blocks of kc (the last may be shorter) */
    size_t pm, mm;           /* M panels, M chunks */
    size_t pn, nn;           /* N panels, N chunks */
    size_t max_chunk_panels; /* widest N chunk, in panels (streaming mode) */
    size_t pack_group;       /* panels per packing task (prepacked mode) */
} plan;

static plan make_plan(size_t M, size_t N, size_t K, size_t mr, size_t nr)
{
    plan p;
    memset(&p, 0, sizeof p);
    p.nkb = K > QP_GEMM_KC_MAX ? ceil_div(K, QP_GEMM_KC_MAX) : 1;
    p.kc = K ? ceil_div(K, p.nkb) : 0;
    p.pm = ceil_div(M, mr);
    p.pn = ceil_div(N, nr);
    size_t kc1 = p.kc ? p.kc : 1;
    size_t b_panels = QP_GEMM_B_BYTES / (kc1 * nr * sizeof(float));
    if (b_panels < 1)
        b_panels = 1;
    double flops = 2.0 * (double)M * (double)N * (double)(K ? K : 1);
    double t = flops / TASK_FLOPS;
    size_t target = t < 1 ? 1 : t > MAX_TASKS ? MAX_TASKS : (size_t)t;
    size_t nn_min = ceil_div(p.pn, b_panels);
    double b_bytes = (double)p.pn * (double)nr * (double)(K ? K : 1) * sizeof(float);
    if (nn_min < target && b_bytes <= QP_GEMM_PREPACK_BYTES && p.pm > 1) {
        p.prepack = 1;
        size_t a_panels = QP_GEMM_A_BYTES / (kc1 * mr * sizeof(float));
        if (a_panels < 1)
            a_panels = 1;
        p.mm = ceil_div(p.pm, a_panels);
        if (p.mm < target)
            p.mm = target < p.pm ? target : p.pm;
        p.nn = ceil_div(target, p.mm);
        if (p.nn > p.pn)
            p.nn = p.pn;
        p.max_chunk_panels = ceil_div(p.pn, p.nn);
        p.pack_group = b_panels;
        return p;
    }
    p.mm = 1;
    p.nn = nn_min > target ? nn_min : target < p.pn ? target : p.pn;
    if (p.nn < 1)
        p.nn = 1;
    p.max_chunk_panels = ceil_div(p.pn, p.nn);
    return p;
}

static size_t worker_bytes(const plan *p, size_t nr)
{
    if (p->prepack)
        return 0;
    return align64(p->max_chunk_panels * nr * (p->kc ? p->kc : 1) * sizeof(float)) + 64;
}

static size_t shared_bytes(const plan *p, size_t nr, size_t K)
{
    if (!p->prepack)
        return 0;
    return align64(p->pn * nr * (K ? K : 1) * sizeof(float)) + 64;
}

size_t qp_gemm_f32_scratch_size(size_t M, size_t N, size_t K, int n_workers)
{
    size_t nw = (size_t)(n_workers < 1 ? 1 : n_workers);
    size_t most = (align64((K ? K : 1) * sizeof(float)) + 64) * nw; /* reference + pack_b */
    for (size_t i = 0; i < qp_gemm_f32_n_ukernels; i++) {
        const qp_gemm_f32_ukernel *uk = &qp_gemm_f32_ukernels[i];
        plan p = make_plan(M, N, K, (size_t)uk->mr, (size_t)uk->nr);
        size_t b = shared_bytes(&p, (size_t)uk->nr, K) + worker_bytes(&p, (size_t)uk->nr) * nw;
        if (b > most)
            most = b;
    }
    return most;
}

/* ---- packing B ----------------------------------------------------------------------------- */

/* A panel row is only nr floats: a libc call per 64 bytes would cost more than the copy, so
 * nr == 16 (every microkernel so far) uses a constant-size memcpy the compiler inlines; the
 * loops are written so that it does not turn them back into calls either. */
static inline void copy_floats(float *d, const float *s, size_t n)
{
    for (; n >= 4; n -= 4, d += 4, s += 4)
        memcpy(d, s, 4 * sizeof(float));
    for (; n; n--)
        *d++ = *s++;
}

static void pack_b_rows(const float *B, size_t ldb, size_t k0, size_t kc, size_t n0, size_t nc,
                        size_t nr, float *dst)
{
    size_t full = nc / nr, rem = nc % nr;
    for (size_t k = 0; k < kc; k++) {
        const float *src = B + (k0 + k) * ldb + n0;
        float *d = dst + k * nr;
        /* rows are ldb apart, too far for the hardware prefetcher to follow: fetch 4 ahead */
        size_t ahead = k + 4 < kc ? 4 * ldb : 0;
        if (nr == 16)
            for (size_t q = 0; q < full; q++, src += 16, d += kc * 16) {
                __builtin_prefetch(src + ahead, 0, 3);
                memcpy(d, src, 16 * sizeof(float));
            }
        else
            for (size_t q = 0; q < full; q++, src += nr, d += kc * nr)
                copy_floats(d, src, nr);
        if (rem) {
            copy_floats(d, src, rem);
            for (size_t i = rem; i < nr; i++)
                d[i] = 0.0f;
        }
    }
}

static void pack_b_trans(const float *B, size_t ldb, size_t k0, size_t kc, size_t n0, size_t nc,
                         size_t nr, float *dst)
{
    for (size_t q = 0; q < ceil_div(nc, nr); q++) {
        float *d = dst + q * kc * nr;
        for (size_t j = 0; j < nr; j++) {
            size_t n = q * nr + j;
            if (n < nc) {
                const float *src = B + (n0 + n) * ldb + k0;
                for (size_t k = 0; k < kc; k++)
                    d[k * nr + j] = src[k];
            } else {
                for (size_t k = 0; k < kc; k++)
                    d[k * nr + j] = 0.0f;
            }
        }
    }
}

/* ---- driver -------------------------------------------------------------------------------- */

typedef struct gemm_ctx {
    const qp_gemm_f32_args *g;
    const qp_gemm_f32_ukernel *uk;
    const float *a_panels;
    plan p;
    unsigned clamp;  /* QP_GEMM_CLAMP if the activation runs inside the microkernel */
    float lo, hi;
    int post_act;    /* the activation needs a pass over the finished rows */
    char *scratch;
    float *shared_b; /* prepacked mode */
    size_t worker_bytes;
} gemm_ctx;

static void pack_b(const gemm_ctx *x, size_t k0, size_t kc, size_t n0, size_t nc, float *dst)
{
    const qp_gemm_f32_args *g = x->g;
    size_t nr = (size_t)x->uk->nr;
    if (g->pack_b)
        g->pack_b(g->pack_b_ctx, k0, kc, n0, nc, nr, dst);
    else if (g->b_trans)
        pack_b_trans(g->B, g->ldb, k0, kc, n0, nc, nr, dst);
    else
        pack_b_rows(g->B, g->ldb, k0, kc, n0, nc, nr, dst);
}

/* One MR x NR tile (or the part of it inside C). */
static inline void tile(const gemm_ctx *x, size_t kc, size_t pi, size_t k0, const float *b,
                        size_t c0, size_t nv, unsigned flags)
{
    const qp_gemm_f32_args *g = x->g;
    size_t mr = (size_t)x->uk->mr, nr = (size_t)x->uk->nr;
    size_t r0 = pi * mr;
    size_t mv = g->M - r0 < mr ? g->M - r0 : mr;
    const float *a = x->a_panels + pi * g->K * mr + k0 * mr;
    float bias_tile[MR_MAX] = {0};
    const float *bias = NULL;
    if ((flags & QP_GEMM_BIAS)) {
        memcpy(bias_tile, g->bias + r0, mv * sizeof(float));
        bias = bias_tile;
    }
    float *c = g->C + r0 * g->ldc + c0;
    if (mv == mr && nv == nr) {
        x->uk->fn(kc, a, b, c, g->ldc, bias, flags, x->lo, x->hi);
        return;
    }
    /* Edge tile: the same microkernel on a full tile in a buffer, so an element's arithmetic
     * does not depend on where the tile ends. */
    float t[MR_MAX * NR_MAX];
    memset(t, 0, sizeof t);
    if (flags & QP_GEMM_LOAD_C)
        for (size_t i = 0; i < mv; i++)
            memcpy(t + i * nr, c + i * g->ldc, nv * sizeof(float));
    x->uk->fn(kc, a, b, t, nr, bias, flags, x->lo, x->hi);
    for (size_t i = 0; i < mv; i++)
        memcpy(c + i * g->ldc, t + i * nr, nv * sizeof(float));
}

/* The activations the microkernel does not do, and the residual, on finished rows. */
static void finish_rows(const gemm_ctx *x, size_t r0, size_t r1, size_t n0, size_t n1)
{
    const qp_gemm_f32_args *g = x->g;
    if (!x->post_act && !g->R)
        return;
    for (size_t r = r0; r < r1; r++) {
        float *row = g->C + r * g->ldc + n0;
        if (x->post_act)
            qp_vact_f32(g->act, n1 - n0, row, row);
        if (g->R)
            qp_vbinary_f32(QP_BIN_ADD, n1 - n0, row, 1, g->R + r * g->ldr + n0, 1, row);
    }
}

static unsigned block_flags(const gemm_ctx *x, size_t kb)
{
    unsigned flags = kb ? QP_GEMM_LOAD_C : 0;
    if (kb + 1 == x->p.nkb)
        flags |= (x->g->bias ? QP_GEMM_BIAS : 0) | x->clamp;
    return flags;
}

/* Streaming mode: one column chunk, its B block packed per K block into this worker's
 * scratch; A micro-panels (L1) sweep the block (L2). */
static void stream_task(void *vctx, int task, int worker)
{
    const gemm_ctx *x = vctx;
    const qp_gemm_f32_args *g = x->g;
    const plan *p = &x->p;
    size_t mr = (size_t)x->uk->mr, nr = (size_t)x->uk->nr;
    size_t qn0 = (size_t)task * p->pn / p->nn, qn1 = ((size_t)task + 1) * p->pn / p->nn;
    size_t n0 = qn0 * nr, n1 = qn1 * nr < g->N ? qn1 * nr : g->N;
    if (n0 >= n1)
        return;
    float *bbuf = align_ptr(x->scratch + (size_t)worker * x->worker_bytes);
    for (size_t kb = 0; kb < p->nkb; kb++) {
        size_t k0 = kb * p->kc;
        size_t kc = g->K - k0 < p->kc ? g->K - k0 : p->kc;
        pack_b(x, k0, kc, n0, n1 - n0, bbuf);
        unsigned flags = block_flags(x, kb);
        for (size_t pi = 0; pi < p->pm; pi++) {
            for (size_t q = qn0; q < qn1; q++) {
                size_t c0 = q * nr;
                tile(x, kc, pi, k0, bbuf + (q - qn0) * kc * nr, c0,
                     g->N - c0 < nr ? g->N - c0 : nr, flags);
            }
            if (kb + 1 == p->nkb) {
                size_t r0 = pi * mr, r1 = r0 + mr < g->M ? r0 + mr : g->M;
                finish_rows(x, r0, r1, n0, n1);
            }
        }
    }
}

/* Prepacked mode, phase 1: K block kb, a group of panels, into the shared buffer (block kb
 * starts at kb*kc*pn*nr; inside it panel q is q*kcur*nr along). */
static void prepack_task(void *vctx, int task, int worker)
{
    const gemm_ctx *x = vctx;
    const plan *p = &x->p;
    size_t nr = (size_t)x->uk->nr;
    size_t groups = ceil_div(p->pn, p->pack_group);
    size_t kb = (size_t)task / groups, grp = (size_t)task % groups;
    size_t q0 = grp * p->pack_group, q1 = q0 + p->pack_group < p->pn ? q0 + p->pack_group : p->pn;
    size_t k0 = kb * p->kc;
    size_t kc = x->g->K - k0 < p->kc ? x->g->K - k0 : p->kc;
    size_t n1 = q1 * nr < x->g->N ? q1 * nr : x->g->N;
    (void)worker;
    pack_b(x, k0, kc, q0 * nr, n1 - q0 * nr, x->shared_b + kb * p->kc * p->pn * nr + q0 * kc * nr);
}

/* Prepacked mode, phase 2: an M chunk (its A block stays in L2) times a column chunk; each B
 * micro-panel (L1) meets every A micro-panel of the chunk. */
static void prepacked_task(void *vctx, int task, int worker)
{
    const gemm_ctx *x = vctx;
    const qp_gemm_f32_args *g = x->g;
    const plan *p = &x->p;
    size_t mr = (size_t)x->uk->mr, nr = (size_t)x->uk->nr;
    size_t ni = (size_t)task / p->mm, mi = (size_t)task % p->mm;
    size_t qn0 = ni * p->pn / p->nn, qn1 = (ni + 1) * p->pn / p->nn;
    size_t pm0 = mi * p->pm / p->mm, pm1 = (mi + 1) * p->pm / p->mm;
    (void)worker;
    if (qn0 >= qn1 || pm0 >= pm1)
        return;
    for (size_t kb = 0; kb < p->nkb; kb++) {
        size_t k0 = kb * p->kc;
        size_t kc = g->K - k0 < p->kc ? g->K - k0 : p->kc;
        const float *block = x->shared_b + kb * p->kc * p->pn * nr;
        unsigned flags = block_flags(x, kb);
        for (size_t q = qn0; q < qn1; q++) {
            size_t c0 = q * nr;
            for (size_t pi = pm0; pi < pm1; pi++)
                tile(x, kc, pi, k0, block + q * kc * nr, c0, g->N - c0 < nr ? g->N - c0 : nr,
                     flags);
        }
    }
    size_t n1 = qn1 * nr < g->N ? qn1 * nr : g->N;
    size_t r1 = pm1 * mr < g->M ? pm1 * mr : g->M;
    finish_rows(x, pm0 * mr, r1, qn0 * nr, n1);
}

/* Reference path (QP_KERNELS=ref): the packed block is a plain copy of A. */
static void gemm_ref_path(const qp_gemm_f32_args *g, const float *A, void *scratch)
{
    if (!g->pack_b && !g->b_trans) {
        qp_gemm_f32__ref(g->M, g->N, g->K, A, g->K, g->B, g->ldb, g->bias, g->act, g->R, g->ldr,
                         g->C, g->ldc);
        return;
    }
    float *col = align_ptr(scratch);
    for (size_t n = 0; n < g->N; n++) {
        if (g->pack_b)
            g->pack_b(g->pack_b_ctx, 0, g->K, n, 1, 1, col);
        else
            for (size_t k = 0; k < g->K; k++)
                col[k] = g->B[n * g->ldb + k];
        qp_gemm_f32__ref(g->M, 1, g->K, A, g->K, col, 1, g->bias, g->act,
                         g->R ? g->R + n : NULL, g->ldr, g->C + n, g->ldc);
    }
}

void qp_gemm_f32_ex(const qp_gemm_f32_args *g, void *scratch)
{
    const pack_header *h = g->packed_a;
    assert(h->magic == PACK_MAGIC && h->M == g->M && h->K == g->K);
    if (g->M == 0 || g->N == 0)
        return;
    const float *a = (const float *)(h + 1);
    const qp_gemm_f32_ukernel *uk = qp_gemm_f32_ukernel_pick();
    if (h->mr == 0) {
        gemm_ref_path(g, a, scratch);
        return;
    }
    /* The layout was fixed when packing; use a microkernel of that ISA family if the current
     * choice differs (a test switching ISAs between packing and running). */
    if (!uk || (uint32_t)uk->mr != h->mr) {
        uk = NULL;
        for (size_t i = 0; i < qp_gemm_f32_n_ukernels; i++)
            if ((uint32_t)qp_gemm_f32_ukernels[i].mr == h->mr &&
                qp_kernels_isa_supported(qp_gemm_f32_ukernels[i].isa))
                uk = &qp_gemm_f32_ukernels[i];
        assert(uk && "weights packed for an ISA this CPU lacks");
    }
    gemm_ctx x;
    x.g = g;
    x.uk = uk;
    x.a_panels = a;
    x.p = make_plan(g->M, g->N, g->K, (size_t)uk->mr, (size_t)uk->nr);
    x.clamp = 0;
    x.lo = -INFINITY;
    x.hi = INFINITY;
    x.post_act = 0;
    switch (g->act.kind) {
    case QP_ACT_NONE:
        break;
    case QP_ACT_RELU:
        x.clamp = QP_GEMM_CLAMP;
        x.lo = 0;
        break;
    case QP_ACT_CLIP:
        x.clamp = QP_GEMM_CLAMP;
        x.lo = g->act.alpha;
        x.hi = g->act.beta;
        break;
    default:
        x.post_act = 1;
        break;
    }
    x.scratch = scratch;
    x.worker_bytes = worker_bytes(&x.p, (size_t)uk->nr);
    if (x.p.prepack) {
        x.shared_b = align_ptr(scratch);
        qp_parallel_for((int)(x.p.nkb * ceil_div(x.p.pn, x.p.pack_group)), prepack_task, &x);
        qp_parallel_for((int)(x.p.nn * x.p.mm), prepacked_task, &x);
    } else {
        x.shared_b = NULL;
        qp_parallel_for((int)x.p.nn, stream_task, &x);
    }
}

void qp_gemm_f32(size_t M, size_t N, size_t K, const void *packed_a, const float *B, size_t ldb,
                 const float *bias, qp_act act, float *C, size_t ldc, void *scratch)
{
    qp_gemm_f32_args g = {0};
    g.M = M;
    g.N = N;
    g.K = K;
    g.packed_a = packed_a;
    g.B = B;
    g.ldb = ldb;
    g.bias = bias;
    g.act = act;
    g.C = C;
    g.ldc = ldc;
    qp_gemm_f32_ex(&g, scratch);
}
