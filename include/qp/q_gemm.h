/* Quantized GEMM (8-bit and 16-bit), bit-exact on every path: the caller owns A, B, C, bias,
 * the multipliers, the packed weights and the scratch; nothing here allocates, prints or keeps
 * a pointer after returning.
 *
 * C[M x N] = requant(A[M x K] . (B[K x N] - zp_b) + bias[M]), row m requantized with mul[m]
 * (qp/requant.h sections 4 and 5):
 *   q8:  A int8 weights (per-row scales folded into mul), B u8 or i8 with zero point zp_b,
 *        acc = sat32(bias + sum) with bias int32;  K <= QP_GEMM_Q8_K_MAX keeps the sum exact
 *        in int32 (|w (b - zp)| <= 128 * 255).
 *   q16: A int16, B int16 (zp_b must be 0), acc = sat64(bias + sum) with bias int64.
 *   C is u8, i8 or i16 with zero point zp_c, clamped to [lo, hi] (a subrange of the type: a
 *   fused ReLU/ReLU6 is only the clamp).
 *
 * How the fast paths stay exact (there is no VNNI on the target and vpmaddubsw saturates the
 * int16 sum of its two u8 x i8 products, 2 * 255 * -128 < -32768):
 *   q8:  B is packed as int16 (b - zp_b), in [-255, 255] (so a padded tap, b = zp_b, packs to
 *        0 and needs no correction); A as int16.  vpmaddwd forms a0 b0 + a1 b1 exactly
 *        (|.| <= 2 * 128 * 255 = 65280) and K <= 65536 keeps the int32 lanes exact.
 *   q16: vpmaddwd's pair sum of full-range int16 can reach 2^31 (two (-32768)^2), so A is
 *        split at packing, a = 256 ah + al with al in [0, 255], ah in [-128, 127]:
 *        |b0 al0 + b1 al1| <= 2 * 32768 * 255 = 16711680 and 128 such pairs stay below
 *        2^31 - 1 (2139095040); |b0 ah0 + b1 ah1| <= 2^23, 128 pairs <= 2^30.  So each block
 *        of 256 k values is summed exactly in int32 per half, then widened to int64 as
 *        256 * sum_h + sum_l.
 * Threading: tasks are 16-column panels of C; each element is summed by one task in an order
 * fixed by K, so C is byte-identical for any QP_THREADS (integers: for any order anyway). */
#ifndef QP_Q_GEMM_H
#define QP_Q_GEMM_H
#include <stddef.h>
#include <stdint.h>

#include "qp/requant.h"
#include "qp/vmath.h"

#define QP_GEMM_Q_MR 4
#define QP_GEMM_Q_NR 16
#define QP_GEMM_Q8_K_MAX 65536
#define QP_GEMM_Q16_KB 256 /* k values per exactly summed int32 block of the 16-bit path */

/* Fills one packed B panel: columns [n0, n0 + nc) (nc <= QP_GEMM_Q_NR), all K rows, as k
 * pairs: row k, column n0 + j goes to dst[(k / 2) * 2 * NR + j * 2 + k % 2] as the int16
 * value b - zp_b (q8) or b (q16); row K (odd K) and columns j >= nc are 0. */
typedef void (*qp_gemm_q_pack_b_fn)(const void *ctx, size_t n0, size_t nc, size_t K,
                                    int16_t *dst);

typedef struct qp_gemm_q_args {
    size_t M, N, K;
    const void *packed_a;   /* qp_gemm_q8_pack / qp_gemm_q16_pack */
    const void *B;          /* row-major K x N, element (k, n) at B[k * ldb + n] ... */
    size_t ldb;
    qp_qtype b_type;        /* ... u8 or i8 (q8), i16 (q16) */
    int32_t b_zp;
    qp_gemm_q_pack_b_fn pack_b; /* if set, B/ldb/b_type are ignored (implicit im2col) */
    const void *pack_b_ctx;
    const void *bias;       /* M int32_t (q8) or int64_t (q16), or NULL */
    const qp_qmul *mul;     /* M multipliers s_b * s_a[m] / s_c */
    qp_qtype c_type;        /* u8, i8 or i16 */
    int32_t c_zp, c_lo, c_hi;
    void *C;                /* element (m, n) at C[m * ldc + n] */
    size_t ldc;
} qp_gemm_q_args;

/* 0 if the kernels accept the arguments (types, clamp inside the type, K limit); the op layer
 * reports errors, kernels only assert. */
int qp_gemm_q8_check(const qp_gemm_q_args *a);
int qp_gemm_q16_check(const qp_gemm_q_args *a);

/* Packed weights: ISA-independent (every path reads the same layout; __ref reads the copy of
 * A kept inside).  Pass a 64-byte aligned block of at least _packed_size bytes. */
size_t qp_gemm_q8_packed_size(size_t M, size_t K);
void qp_gemm_q8_pack(size_t M, size_t K, const int8_t *A, size_t lda, void *packed);
size_t qp_gemm_q16_packed_size(size_t M, size_t K);
void qp_gemm_q16_pack(size_t M, size_t K, const int16_t *A, size_t lda, void *packed);
/* Scratch bytes for a call with at most n_workers pool workers (qp_threads_count()). */
size_t qp_gemm_q_scratch_size(size_t K, int n_workers);

/* Run on the pool; QP_KERNELS=ref runs __ref (when B is given; with pack_b, the portable
 * microkernel). */
void qp_gemm_q8(const qp_gemm_q_args *a, void *scratch);
void qp_gemm_q16(const qp_gemm_q_args *a, void *scratch);

/* The specification: for each (m, n), sum over k in order of A[m][k] * (B[k][n] - zp_b) in
 * int64, then the accumulator rule and qp_requant_i32 / qp_requant_i64.  Ignores packed_a
 * and pack_b. */
void qp_gemm_q8__ref(const qp_gemm_q_args *a, const int8_t *A, size_t lda);
void qp_gemm_q16__ref(const qp_gemm_q_args *a, const int16_t *A, size_t lda);

/* Microkernels: one MR x NR tile of C from a packed A row panel and a packed B panel.
 * X(name, bits, isa) lists them for dispatch and the checker: qp_gemm_q_<name>. */
typedef struct qp_gemm_q_tile {
    size_t K;            /* k values (the panels hold ceil(K / 2) pairs) */
    const int16_t *a;    /* packed A row panel (q16: lo/hi blocks) */
    const int16_t *b;    /* packed B panel */
    size_t mr, nr;       /* valid rows (<= MR) and columns (<= NR) */
    const void *bias;    /* mr int32_t (q8) or int64_t (q16), or NULL */
    const qp_qmul *mul;  /* mr */
    qp_qtype c_type;
    int32_t zp, lo, hi;
    void *c;             /* tile origin; element (i, j) at index i * ldc + j */
    size_t ldc;
} qp_gemm_q_tile;
typedef void (*qp_gemm_q_ukernel_fn)(const qp_gemm_q_tile *t);

#define QP_GEMM_Q_UKERNELS(X)                    \
    X(q8_4x16__scalar, 8, QP_ISA_SCALAR)         \
    QP_IF_AVX2(X(q8_4x16__avx2, 8, QP_ISA_AVX2)) \
    X(q16_4x16__scalar, 16, QP_ISA_SCALAR)       \
    QP_IF_AVX2(X(q16_4x16__avx2, 16, QP_ISA_AVX2))
#define QP_GEMM_Q_DECLARE_(name, bits, isa) void qp_gemm_q_##name(const qp_gemm_q_tile *t);
QP_GEMM_Q_UKERNELS(QP_GEMM_Q_DECLARE_)

typedef struct qp_gemm_q_ukernel {
    const char *name;
    int bits;
    qp_isa isa;
    qp_gemm_q_ukernel_fn fn;
} qp_gemm_q_ukernel;
extern const qp_gemm_q_ukernel qp_gemm_q_ukernels[];
extern const size_t qp_gemm_q_n_ukernels;
/* The microkernel the current ISA uses for 8 or 16 bits (the scalar one under ref). */
const qp_gemm_q_ukernel *qp_gemm_q_ukernel_pick(int bits);
/* For the checker: force one (NULL restores the choice by ISA). */
void qp_gemm_q_ukernel_force(int bits, const qp_gemm_q_ukernel *uk);

/* Packed-panel addressing for callers that run a microkernel themselves (the checker). */
const int16_t *qp_gemm_q_packed_panel(const void *packed, size_t m0);
/* The default B panel packer for row-major B (the checker and conv's 1x1 path). */
typedef struct qp_gemm_q_rows {
    const void *B;
    size_t ldb;
    qp_qtype type;
    int32_t zp;
} qp_gemm_q_rows;
void qp_gemm_q_pack_b_rows(const void *ctx, size_t n0, size_t nc, size_t K, int16_t *dst);
#ifndef QP_NO_AVX2
void qp_gemm_q_pack_b_rows__avx2(const void *ctx, size_t n0, size_t nc, size_t K, int16_t *dst);
#endif

#endif
