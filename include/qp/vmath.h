/* Vector math on float32 arrays: the caller owns every array; nothing here allocates, prints
 * or keeps a pointer, and y may alias x (or a/b) exactly, never partially. */
#ifndef QP_VMATH_H
#define QP_VMATH_H
#include <stddef.h>

/* The instruction set the kernel modules (vmath, gemm_f32, conv_f32, pool_f32) dispatch on.
 * It lives here because vmath is the one module all the others include.  Chosen once: the best
 * the CPU has, unless QP_KERNELS is "ref" (plain C11 references) or "scalar" (portable
 * blocked C, no intrinsics). */
typedef enum qp_isa {
    QP_ISA_REF = 0,
    QP_ISA_SCALAR = 1,
    QP_ISA_AVX2 = 2, /* AVX2 + FMA + F16C */
    QP_ISA_COUNT
} qp_isa;

/* QP_NO_AVX2 builds without the *_avx2.c files: every variant list below drops its AVX2 entries
 * (QP_IF_AVX2), dispatch never names an AVX2 symbol and the best ISA is QP_ISA_SCALAR.  Set
 * automatically off x86-64 (the exported runtime on an ARM board), or by hand (`make PORTABLE=1`
 * in an exported project).  A list left empty ends with a zeroed sentinel its users skip. */
#if !defined(QP_NO_AVX2) && !defined(__x86_64__)
#define QP_NO_AVX2
#endif
#ifdef QP_NO_AVX2
#define QP_IF_AVX2(entry)
#else
#define QP_IF_AVX2(entry) entry
#endif

qp_isa qp_kernels_isa(void);
int qp_kernels_isa_supported(qp_isa isa);
/* For tests and benchmarks: force an ISA (lowered to the best supported one). Packed weights
 * and scratch sizes must come from the same ISA as the run: pack after setting it. */
void qp_kernels_set_isa(qp_isa isa);
const char *qp_kernels_isa_name(qp_isa isa);

/* Activations fused into gemm/conv epilogues and applied standalone by qp_vact_f32. */
typedef enum qp_act_kind {
    QP_ACT_NONE = 0,
    QP_ACT_RELU,        /* max(x, 0) */
    QP_ACT_CLIP,        /* min(max(x, alpha), beta) */
    QP_ACT_SIGMOID,     /* 1 / (1 + exp(-x)) */
    QP_ACT_SILU,        /* x * sigmoid(x) */
    QP_ACT_HARDSIGMOID, /* max(0, min(1, alpha * x + beta)) */
    QP_ACT_LEAKYRELU,   /* x >= 0 ? x : alpha * x */
    QP_ACT_TANH,
    QP_ACT_HARDSWISH,   /* x * max(0, min(1, x / 6 + 1 / 2)) */
    QP_ACT_COUNT
} qp_act_kind;

typedef struct qp_act {
    qp_act_kind kind;
    float alpha, beta;
} qp_act;

/* Elementwise binary operations; Max/Min propagate NaN (numpy maximum/minimum). */
typedef enum qp_binop {
    QP_BIN_ADD = 0,
    QP_BIN_SUB,
    QP_BIN_MUL,
    QP_BIN_DIV,
    QP_BIN_POW,
    QP_BIN_MAX,
    QP_BIN_MIN,
    QP_BIN_COUNT
} qp_binop;

/* Accuracy, measured by tests/unit/test_kernels_f32.c against double-precision libm over
 * [-110, 110] in steps of 2^-13, [-1, 1] in steps of 2^-20 and random inputs (max ulp of the
 * float result; AVX2 / the glibc-based references): exp 1.00 / 0.50, sigmoid 2.18 / 2.18,
 * silu 2.99 / 2.81, tanh 1.30 / 2.14.  The checker's bounds are 1.5, 2.5, 3.5 and 2.5 ulp.
 * (silu is measured against max(ulp, |x| * 2^-149): where sigmoid(x) is subnormal only its
 * few bits survive.)  exp(-inf) = 0, exp(+inf) = +inf, NaN gives NaN; sigmoid, silu and tanh
 * saturate without overflow or NaN. */
void qp_vexp_f32(size_t n, const float *x, float *y);
void qp_vsigmoid_f32(size_t n, const float *x, float *y);
void qp_vsilu_f32(size_t n, const float *x, float *y);
void qp_vtanh_f32(size_t n, const float *x, float *y);

/* y = act(x). */
void qp_vact_f32(qp_act act, size_t n, const float *x, float *y);
/* y[i] = x[i] * scale + bias (BatchNormalization and other per-channel affine maps). */
void qp_vaffine_f32(size_t n, const float *x, float scale, float bias, float *y);
/* y[i] = a[i*inc_a] op b[i*inc_b] with inc_a, inc_b in {0, 1}: 0 makes that operand a scalar
 * (*a or *b), so both "vector op scalar" and "scalar op vector" are covered.  The op layer
 * maps general broadcasting onto calls on contiguous inner runs. */
void qp_vbinary_f32(qp_binop op, size_t n, const float *a, size_t inc_a, const float *b,
                    size_t inc_b, float *y);

/* Variants.  X(name, variant, isa): every implementation of the unary functions above, the
 * list both the dispatcher and the checker walk.  qp_<name>_f32__<variant>. */
typedef void (*qp_vunary_f32_fn)(size_t n, const float *x, float *y);
#define QP_VUNARY_F32_VARIANTS(X)              \
    X(vexp, ref, QP_ISA_REF)                   \
    QP_IF_AVX2(X(vexp, avx2, QP_ISA_AVX2))     \
    X(vsigmoid, ref, QP_ISA_REF)               \
    QP_IF_AVX2(X(vsigmoid, avx2, QP_ISA_AVX2)) \
    X(vsilu, ref, QP_ISA_REF)                  \
    QP_IF_AVX2(X(vsilu, avx2, QP_ISA_AVX2))    \
    X(vtanh, ref, QP_ISA_REF)                  \
    QP_IF_AVX2(X(vtanh, avx2, QP_ISA_AVX2))
#define QP_VMATH_DECLARE_UNARY_(name, variant, isa) \
    void qp_##name##_f32__##variant(size_t n, const float *x, float *y);
QP_VUNARY_F32_VARIANTS(QP_VMATH_DECLARE_UNARY_)

typedef struct qp_vunary_f32_variant {
    const char *name; /* "vexp__avx2" */
    qp_isa isa;
    qp_vunary_f32_fn fn, ref;
} qp_vunary_f32_variant;
extern const qp_vunary_f32_variant qp_vunary_f32_variants[];
extern const size_t qp_vunary_f32_n_variants;

/* X(variant, isa) for qp_vact_f32, qp_vaffine_f32 and qp_vbinary_f32. */
#define QP_VMISC_F32_VARIANTS(X) \
    X(ref, QP_ISA_REF)           \
    QP_IF_AVX2(X(avx2, QP_ISA_AVX2))
#define QP_VMATH_DECLARE_MISC_(variant, isa)                                                   \
    void qp_vact_f32__##variant(qp_act act, size_t n, const float *x, float *y);               \
    void qp_vaffine_f32__##variant(size_t n, const float *x, float scale, float bias,          \
                                   float *y);                                                  \
    void qp_vbinary_f32__##variant(qp_binop op, size_t n, const float *a, size_t inc_a,        \
                                   const float *b, size_t inc_b, float *y);
QP_VMISC_F32_VARIANTS(QP_VMATH_DECLARE_MISC_)

/* Scalar references the vector code is specified by (also used by other kernels' __ref). */
float qp_act_f32__ref(qp_act act, float x);
float qp_binop_f32__ref(qp_binop op, float a, float b);

#endif
