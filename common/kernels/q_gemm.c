/* Quantized GEMM: the references, the packed layouts, the portable microkernels and the
 * threaded driver.  The AVX2 microkernels are in q_gemm_avx2.c. */
#include <assert.h>
#include <stdatomic.h>
#include <string.h>

#include "qp/q_gemm.h"
#include "qp/threads.h"

#define MR QP_GEMM_Q_MR
#define NR QP_GEMM_Q_NR
#define KBP (QP_GEMM_Q16_KB / 2) /* k pairs per exact block of the 16-bit path */

/* ---- References ---------------------------------------------------------------------------- */

static int c_ok(const qp_gemm_q_args *a)
{
    if (a->c_type != QP_QTYPE_U8 && a->c_type != QP_QTYPE_I8 && a->c_type != QP_QTYPE_I16)
        return 0;
    return a->c_lo <= a->c_hi && a->c_lo >= qp_qtype_min(a->c_type) &&
           a->c_hi <= qp_qtype_max(a->c_type) && a->mul != NULL;
}

int qp_gemm_q8_check(const qp_gemm_q_args *a)
{
    if (!c_ok(a) || a->K > QP_GEMM_Q8_K_MAX)
        return -1;
    if (!a->pack_b && a->b_type != QP_QTYPE_U8 && a->b_type != QP_QTYPE_I8)
        return -1;
    if (!a->pack_b && (a->b_zp < qp_qtype_min(a->b_type) || a->b_zp > qp_qtype_max(a->b_type)))
        return -1;
    return 0;
}

int qp_gemm_q16_check(const qp_gemm_q_args *a)
{
    if (!c_ok(a))
        return -1;
    if (!a->pack_b && (a->b_type != QP_QTYPE_I16 || a->b_zp != 0))
        return -1;
    return 0;
}

void qp_gemm_q8__ref(const qp_gemm_q_args *a, const int8_t *A, size_t lda)
{
    const int32_t *bias = a->bias;
    for (size_t m = 0; m < a->M; m++)
        for (size_t n = 0; n < a->N; n++) {
            int64_t sum = 0;
            for (size_t k = 0; k < a->K; k++)
                sum += (int64_t)A[m * lda + k] *
                       (qp_qload(a->B, k * a->ldb + n, a->b_type) - a->b_zp);
            int32_t acc = qp_acc32(bias ? bias[m] : 0, sum);
            qp_qstore(a->C, m * a->ldc + n, a->c_type,
                      qp_requant_i32(acc, a->mul[m], a->c_zp, a->c_lo, a->c_hi));
        }
}

void qp_gemm_q16__ref(const qp_gemm_q_args *a, const int16_t *A, size_t lda)
{
    const int64_t *bias = a->bias;
    const int16_t *B = a->B;
    for (size_t m = 0; m < a->M; m++)
        for (size_t n = 0; n < a->N; n++) {
            int64_t sum = 0;
            for (size_t k = 0; k < a->K; k++)
                sum += (int64_t)A[m * lda + k] * B[k * a->ldb + n];
            int64_t acc = qp_acc64(bias ? bias[m] : 0, sum);
            qp_qstore(a->C, m * a->ldc + n, a->c_type,
                      qp_requant_i64(acc, a->mul[m], a->c_zp, a->c_lo, a->c_hi));
        }
}

/* ---- Packed weights ------------------------------------------------------------------------ */

/* header | copy of A (row-major, lda = K) | row panels of MR rows, int16 k pairs:
 *   q8:  panel[p][i][2]            = A[m0 + i][2p + {0,1}]
 *   q16: per block of KBP pairs, the low bytes then the high bytes:
 *        lo[p][i][2] = al, hi[p][i][2] = ah with A = 256 ah + al, al in [0, 255] */
#define PACK_MAGIC 0x71706771u /* "qgpq" */
typedef struct pack_hdr {
    uint32_t magic, bits;
    uint64_t M, K, copy_bytes, panel_elems;
    uint8_t pad[24];
} pack_hdr;
_Static_assert(sizeof(pack_hdr) == 64, "64-byte header keeps the panels aligned");

static size_t round64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}
static size_t kpairs(size_t K)
{
    return (K + 1) / 2;
}
static size_t panel_elems(size_t K, int bits)
{
    return kpairs(K) * MR * 2 * (bits == 16 ? 2 : 1);
}
static size_t packed_size(size_t M, size_t K, int bits)
{
    size_t np = (M + MR - 1) / MR;
    return sizeof(pack_hdr) + round64(M * K * (size_t)(bits / 8)) +
           np * panel_elems(K, bits) * sizeof(int16_t);
}
size_t qp_gemm_q8_packed_size(size_t M, size_t K)
{
    return packed_size(M, K, 8);
}
size_t qp_gemm_q16_packed_size(size_t M, size_t K)
{
    return packed_size(M, K, 16);
}

static int16_t *panels_of(void *packed)
{
    pack_hdr *h = packed;
    return (int16_t *)((char *)packed + sizeof(pack_hdr) + round64(h->copy_bytes));
}

const int16_t *qp_gemm_q_packed_panel(const void *packed, size_t m0)
{
    const pack_hdr *h = packed;
    assert(h->magic == PACK_MAGIC);
    return panels_of((void *)packed) + (m0 / MR) * h->panel_elems;
}

static void pack_init(pack_hdr *h, size_t M, size_t K, int bits)
{
    memset(h, 0, sizeof *h);
    h->magic = PACK_MAGIC;
    h->bits = (uint32_t)bits;
    h->M = M;
    h->K = K;
    h->copy_bytes = M * K * (size_t)(bits / 8);
    h->panel_elems = panel_elems(K, bits);
}

void qp_gemm_q8_pack(size_t M, size_t K, const int8_t *A, size_t lda, void *packed)
{
    pack_hdr *h = packed;
    pack_init(h, M, K, 8);
    int8_t *copy = (int8_t *)(h + 1);
    for (size_t m = 0; m < M; m++)
        memcpy(copy + m * K, A + m * lda, K);
    int16_t *pp = panels_of(packed);
    size_t kp = kpairs(K);
    for (size_t m0 = 0; m0 < M; m0 += MR, pp += h->panel_elems)
        for (size_t p = 0; p < kp; p++)
            for (size_t i = 0; i < MR; i++)
                for (size_t t = 0; t < 2; t++) {
                    size_t m = m0 + i, k = 2 * p + t;
                    pp[(p * MR + i) * 2 + t] = m < M && k < K ? A[m * lda + k] : 0;
                }
}

void qp_gemm_q16_pack(size_t M, size_t K, const int16_t *A, size_t lda, void *packed)
{
    pack_hdr *h = packed;
    pack_init(h, M, K, 16);
    int16_t *copy = (int16_t *)(h + 1);
    for (size_t m = 0; m < M; m++)
        memcpy(copy + m * K, A + m * lda, K * sizeof(int16_t));
    int16_t *pp = panels_of(packed);
    size_t kp = kpairs(K);
    for (size_t m0 = 0; m0 < M; m0 += MR, pp += h->panel_elems)
        for (size_t b0 = 0; b0 < kp; b0 += KBP) {
            size_t nb = kp - b0 < KBP ? kp - b0 : KBP;
            int16_t *lo = pp + b0 * MR * 2 * 2, *hi = lo + nb * MR * 2;
            for (size_t p = 0; p < nb; p++)
                for (size_t i = 0; i < MR; i++)
                    for (size_t t = 0; t < 2; t++) {
                        size_t m = m0 + i, k = 2 * (b0 + p) + t;
                        int32_t w = m < M && k < K ? A[m * lda + k] : 0;
                        int32_t wl = (int32_t)((uint32_t)w & 255u);
                        lo[(p * MR + i) * 2 + t] = (int16_t)wl;
                        hi[(p * MR + i) * 2 + t] = (int16_t)((w - wl) / 256);
                    }
        }
}

size_t qp_gemm_q_scratch_size(size_t K, int n_workers)
{
    return (size_t)(n_workers < 1 ? 1 : n_workers) * round64(kpairs(K) * NR * 2 * sizeof(int16_t)) +
           64;
}

void qp_gemm_q_pack_b_rows(const void *ctx, size_t n0, size_t nc, size_t K, int16_t *dst)
{
    const qp_gemm_q_rows *r = ctx;
    size_t kp = kpairs(K);
    for (size_t p = 0; p < kp; p++)
        for (size_t t = 0; t < 2; t++) {
            size_t k = 2 * p + t;
            int16_t *d = dst + p * 2 * NR + t;
            if (k >= K) {
                for (size_t j = 0; j < NR; j++)
                    d[2 * j] = 0;
                continue;
            }
            size_t base = k * r->ldb + n0;
            switch (r->type) {
            case QP_QTYPE_U8: {
                const uint8_t *s = (const uint8_t *)r->B + base;
                for (size_t j = 0; j < nc; j++)
                    d[2 * j] = (int16_t)(s[j] - r->zp);
                break;
            }
            case QP_QTYPE_I8: {
                const int8_t *s = (const int8_t *)r->B + base;
                for (size_t j = 0; j < nc; j++)
                    d[2 * j] = (int16_t)(s[j] - r->zp);
                break;
            }
            default: {
                const int16_t *s = (const int16_t *)r->B + base;
                for (size_t j = 0; j < nc; j++)
                    d[2 * j] = s[j]; /* q16: zp 0 */
                break;
            }
            }
            for (size_t j = nc; j < NR; j++)
                d[2 * j] = 0;
        }
}

/* ---- Portable microkernels ----------------------------------------------------------------- */

void qp_gemm_q_q8_4x16__scalar(const qp_gemm_q_tile *t)
{
    size_t kp = kpairs(t->K);
    const int32_t *bias = t->bias;
    for (size_t i = 0; i < t->mr; i++)
        for (size_t j = 0; j < t->nr; j++) {
            int32_t sum = 0; /* exact: see qp/q_gemm.h */
            for (size_t p = 0; p < kp; p++)
                sum += t->a[(p * MR + i) * 2] * t->b[p * 2 * NR + 2 * j] +
                       t->a[(p * MR + i) * 2 + 1] * t->b[p * 2 * NR + 2 * j + 1];
            int32_t acc = qp_acc32(bias ? bias[i] : 0, sum);
            qp_qstore(t->c, i * t->ldc + j, t->c_type,
                      qp_requant_i32(acc, t->mul[i], t->zp, t->lo, t->hi));
        }
}

void qp_gemm_q_q16_4x16__scalar(const qp_gemm_q_tile *t)
{
    size_t kp = kpairs(t->K);
    const int64_t *bias = t->bias;
    for (size_t i = 0; i < t->mr; i++)
        for (size_t j = 0; j < t->nr; j++) {
            int64_t sum = 0;
            for (size_t b0 = 0; b0 < kp; b0 += KBP) {
                size_t nb = kp - b0 < KBP ? kp - b0 : KBP;
                const int16_t *lo = t->a + b0 * MR * 2 * 2, *hi = lo + nb * MR * 2;
                const int16_t *b = t->b + b0 * 2 * NR;
                for (size_t p = 0; p < nb; p++)
                    for (size_t u = 0; u < 2; u++) {
                        int64_t w = 256 * hi[(p * MR + i) * 2 + u] + lo[(p * MR + i) * 2 + u];
                        sum += w * b[p * 2 * NR + 2 * j + u];
                    }
            }
            int64_t acc = qp_acc64(bias ? bias[i] : 0, sum);
            qp_qstore(t->c, i * t->ldc + j, t->c_type,
                      qp_requant_i64(acc, t->mul[i], t->zp, t->lo, t->hi));
        }
}

/* ---- Dispatch ------------------------------------------------------------------------------ */

#define QP_GEMM_Q_ENTRY_(name, bits, isa) {#name, bits, isa, qp_gemm_q_##name},
const qp_gemm_q_ukernel qp_gemm_q_ukernels[] = {QP_GEMM_Q_UKERNELS(QP_GEMM_Q_ENTRY_)};
const size_t qp_gemm_q_n_ukernels = sizeof qp_gemm_q_ukernels / sizeof qp_gemm_q_ukernels[0];

static _Atomic(const qp_gemm_q_ukernel *) forced[2];

const qp_gemm_q_ukernel *qp_gemm_q_ukernel_pick(int bits)
{
    const qp_gemm_q_ukernel *f = atomic_load(&forced[bits == 16]);
    if (f)
        return f;
    qp_isa isa = qp_kernels_isa();
    const qp_gemm_q_ukernel *best = NULL;
    for (size_t i = 0; i < qp_gemm_q_n_ukernels; i++) {
        const qp_gemm_q_ukernel *u = &qp_gemm_q_ukernels[i];
        if (u->bits == bits && (u->isa <= isa || u->isa == QP_ISA_SCALAR) &&
            (!best || u->isa > best->isa) && qp_kernels_isa_supported(u->isa))
            best = u;
    }
    return best;
}

void qp_gemm_q_ukernel_force(int bits, const qp_gemm_q_ukernel *uk)
{
    atomic_store(&forced[bits == 16], uk);
}

typedef struct gemm_ctx {
    const qp_gemm_q_args *a;
    qp_gemm_q_ukernel_fn fn;
    qp_gemm_q_pack_b_fn pack_b;
    const void *pack_ctx;
    const int16_t *panels;
    size_t panel_elems;
    char *scratch;
    size_t per_worker;
    size_t bias_size, c_size;
} gemm_ctx;

static void gemm_task(void *vctx, int task, int worker)
{
    const gemm_ctx *g = vctx;
    const qp_gemm_q_args *a = g->a;
    size_t n0 = (size_t)task * NR, nc = a->N - n0 < NR ? a->N - n0 : NR;
    int16_t *bp = (int16_t *)(g->scratch + (size_t)worker * g->per_worker);
    g->pack_b(g->pack_ctx, n0, nc, a->K, bp);
    for (size_t m0 = 0; m0 < a->M; m0 += MR) {
        qp_gemm_q_tile t = {
            .K = a->K,
            .a = g->panels + (m0 / MR) * g->panel_elems,
            .b = bp,
            .mr = a->M - m0 < MR ? a->M - m0 : MR,
            .nr = nc,
            .bias = a->bias ? (const char *)a->bias + m0 * g->bias_size : NULL,
            .mul = a->mul + m0,
            .c_type = a->c_type,
            .zp = a->c_zp,
            .lo = a->c_lo,
            .hi = a->c_hi,
            .c = (char *)a->C + (m0 * a->ldc + n0) * g->c_size,
            .ldc = a->ldc,
        };
        g->fn(&t);
    }
}

static void gemm_run(const qp_gemm_q_args *a, void *scratch, int bits)
{
    const pack_hdr *h = a->packed_a;
    assert(h->magic == PACK_MAGIC && h->bits == (uint32_t)bits && h->M == a->M && h->K == a->K);
    if (a->M == 0 || a->N == 0)
        return;
    if (qp_kernels_isa() == QP_ISA_REF && !a->pack_b) {
        if (bits == 8)
            qp_gemm_q8__ref(a, (const int8_t *)(h + 1), a->K);
        else
            qp_gemm_q16__ref(a, (const int16_t *)(h + 1), a->K);
        return;
    }
    qp_gemm_q_rows rows = {a->B, a->ldb, a->b_type, a->b_zp};
    gemm_ctx g = {
        .a = a,
        .fn = qp_gemm_q_ukernel_pick(bits)->fn,
        .pack_b = a->pack_b ? a->pack_b
#ifndef QP_NO_AVX2
                  : qp_kernels_isa() >= QP_ISA_AVX2 ? qp_gemm_q_pack_b_rows__avx2
#endif
                                                    : qp_gemm_q_pack_b_rows,
        .pack_ctx = a->pack_b ? a->pack_b_ctx : &rows,
        .panels = panels_of((void *)a->packed_a),
        .panel_elems = h->panel_elems,
        .scratch = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63),
        .per_worker = round64(kpairs(a->K) * NR * 2 * sizeof(int16_t)),
        .bias_size = bits == 8 ? sizeof(int32_t) : sizeof(int64_t),
        .c_size = qp_qtype_size(a->c_type),
    };
    size_t n_tasks = (a->N + NR - 1) / NR;
    assert(n_tasks <= (size_t)INT32_MAX);
    qp_parallel_for((int)n_tasks, gemm_task, &g);
}

void qp_gemm_q8(const qp_gemm_q_args *a, void *scratch)
{
    assert(qp_gemm_q8_check(a) == 0);
    gemm_run(a, scratch, 8);
}

void qp_gemm_q16(const qp_gemm_q_args *a, void *scratch)
{
    assert(qp_gemm_q16_check(a) == 0);
    gemm_run(a, scratch, 16);
}
