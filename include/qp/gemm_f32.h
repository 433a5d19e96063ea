/* float32 GEMM: the caller owns A, B, C, bias, the packed weights and the scratch; nothing here
 * allocates, prints or keeps a pointer after returning. */
#ifndef QP_GEMM_F32_H
#define QP_GEMM_F32_H
#include <stddef.h>

#include "qp/vmath.h"

/* C[M x N] = act(A[M x K] . B[K x N] + bias[M] (per row, may be NULL)) (+ R, see _ex).
 *
 * A is the weight matrix, packed once; the layout depends on the ISA in force when packing
 * (QP_KERNELS) and is recorded in the packed block, which qp_gemm_f32 checks.  B is row-major
 * with leading dimension ldb (for a 1x1 convolution, the NCHW input itself: K = C, N = H*W);
 * C is row-major with leading dimension ldc and must not overlap A, B or bias.
 *
 * Threading and determinism: the work is cut into tasks by M, N and K alone and each C element
 * is summed over K in an order fixed by K alone, so results are byte-identical for every
 * QP_THREADS.  The AVX2 and portable paths round differently from __ref (FMA, blocked K);
 * the checker holds them to |C - C_ref| <= 1.5 * 2^-22 * sqrt(K) * S + 2^-21 * |C_ref|, with
 * S = sum_k |a_mk b_kn| + |bias_m| (plus 2^-22 absolute for the smooth activations). */

/* Bytes of the packed A (64-byte aligned inside: pass a pointer to at least this many). */
size_t qp_gemm_f32_packed_size(size_t M, size_t K);
/* Packs row-major A (element (m,k) at A[m*lda + k]). */
void qp_gemm_f32_pack_a(size_t M, size_t K, const float *A, size_t lda, void *packed);
/* Packs A with element (m,k) at A[m*rs + k*cs] (transposed weights: rs = 1, cs = M). */
void qp_gemm_f32_pack_a_strided(size_t M, size_t K, const float *A, size_t rs, size_t cs,
                                void *packed);
/* Bytes of scratch for any call of this shape with at most n_workers pool workers (pass
 * qp_threads_count()); independent of the ISA. */
size_t qp_gemm_f32_scratch_size(size_t M, size_t N, size_t K, int n_workers);

void qp_gemm_f32(size_t M, size_t N, size_t K, const void *packed_a, const float *B, size_t ldb,
                 const float *bias, qp_act act, float *C, size_t ldc, void *scratch);

/* The general form, used by conv_f32 (its im2col writes B panels directly) and by fusion. */
/* Fills dst with rows [k0, k0+kc) x columns [n0, n0+nc) of B cut into nr-wide panels: column
 * n0+j, row k0+k goes to dst[(j / nr) * kc * nr + k * nr + j % nr]; the columns of the last
 * panel past nc must be written as 0. */
typedef void (*qp_gemm_f32_pack_b_fn)(const void *ctx, size_t k0, size_t kc, size_t n0,
                                      size_t nc, size_t nr, float *dst);
typedef struct qp_gemm_f32_args {
    size_t M, N, K;
    const void *packed_a;
    const float *B;    /* row-major K x N ... */
    size_t ldb;        /* ... element (k,n) at B[k*ldb + n], or at B[n*ldb + k] if b_trans */
    int b_trans;
    qp_gemm_f32_pack_b_fn pack_b; /* if set, B/ldb/b_trans are ignored */
    const void *pack_b_ctx;
    const float *bias; /* M values or NULL */
    qp_act act;
    const float *R;    /* residual added after the activation, or NULL */
    size_t ldr;
    float *C;
    size_t ldc;
} qp_gemm_f32_args;
void qp_gemm_f32_ex(const qp_gemm_f32_args *args, void *scratch);

/* The specification: A row-major (lda), sums over k in order, then bias, act, + R. */
void qp_gemm_f32__ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B,
                      size_t ldb, const float *bias, qp_act act, const float *R, size_t ldr,
                      float *C, size_t ldc);

/* Microkernels: one MR x NR tile of C from a packed A panel (kc x MR, k-major) and a packed B
 * panel (kc x NR, k-major).  Flags: LOAD_C accumulates onto C (later K blocks), BIAS adds
 * bias[0..MR) per row, CLAMP applies min(max(c, lo), hi) (ReLU, Clip) after the bias.
 * X(name, isa, mr, nr) lists them for dispatch and the checker: qp_gemm_f32_<name>. */
enum { QP_GEMM_LOAD_C = 1, QP_GEMM_BIAS = 2, QP_GEMM_CLAMP = 4 };
typedef void (*qp_gemm_f32_ukernel_fn)(size_t kc, const float *a, const float *b, float *c,
                                       size_t ldc, const float *bias, unsigned flags, float lo,
                                       float hi);
#define QP_GEMM_F32_UKERNELS(X)         \
    X(4x8__scalar, QP_ISA_SCALAR, 4, 8) \
    QP_IF_AVX2(X(6x16__avx2, QP_ISA_AVX2, 6, 16))
#define QP_GEMM_F32_DECLARE_(name, isa, mr, nr)                                           \
    void qp_gemm_f32_##name(size_t kc, const float *a, const float *b, float *c,          \
                            size_t ldc, const float *bias, unsigned flags, float lo, float hi);
QP_GEMM_F32_UKERNELS(QP_GEMM_F32_DECLARE_)

typedef struct qp_gemm_f32_ukernel {
    const char *name;
    qp_isa isa;
    int mr, nr;
    qp_gemm_f32_ukernel_fn fn;
} qp_gemm_f32_ukernel;
extern const qp_gemm_f32_ukernel qp_gemm_f32_ukernels[];
extern const size_t qp_gemm_f32_n_ukernels;
/* The microkernel the current ISA uses (NULL under QP_KERNELS=ref). */
const qp_gemm_f32_ukernel *qp_gemm_f32_ukernel_pick(void);

#endif
