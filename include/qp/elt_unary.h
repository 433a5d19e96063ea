/* Elementwise unary operations on contiguous arrays.  The caller owns x and y; nothing here
 * allocates or keeps a pointer; y may alias x exactly.  Float32 and float64 for every op;
 * the integer types for Relu, Neg, Abs, Sign and Clip (Neg and Abs wrap: -INT_MIN is
 * INT_MIN); bool for Not.  Float32 Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish,
 * Tanh and Exp are vmath's (qp_vact_f32, qp_vexp_f32). */
#ifndef QP_ELT_UNARY_H
#define QP_ELT_UNARY_H
#include <stddef.h>
#include <stdint.h>

#include "qp/tensorio.h"
#include "qp/vmath.h"

typedef enum qp_elt_unop {
    QP_ELT_RELU = 0,
    QP_ELT_LEAKYRELU,   /* x >= 0 ? x : alpha x */
    QP_ELT_ELU,         /* x >= 0 ? x : alpha (exp(x) - 1) */
    QP_ELT_SELU,        /* gamma (x > 0 ? x : alpha (exp(x) - 1)) */
    QP_ELT_CLIP,        /* min(max(x, lo), hi) */
    QP_ELT_SIGMOID,
    QP_ELT_HARDSIGMOID, /* max(0, min(1, alpha x + beta)) */
    QP_ELT_HARDSWISH,
    QP_ELT_TANH,
    QP_ELT_EXP,
    QP_ELT_LOG,
    QP_ELT_SQRT,
    QP_ELT_NEG,
    QP_ELT_ABS,
    QP_ELT_RECIPROCAL,
    QP_ELT_FLOOR,
    QP_ELT_CEIL,
    QP_ELT_ROUND,       /* half to even */
    QP_ELT_SIGN,
    QP_ELT_ERF,
    QP_ELT_SOFTPLUS,    /* log(1 + exp(x)) */
    QP_ELT_SOFTSIGN,    /* x / (1 + |x|) */
    QP_ELT_SIN,
    QP_ELT_COS,
    QP_ELT_NOT,         /* bool */
    QP_ELT_UNOP_COUNT
} qp_elt_unop;

typedef struct qp_elt_unary_params {
    float alpha, beta, gamma;   /* LeakyRelu, Elu, Selu, HardSigmoid */
    double lo, hi;              /* Clip bounds for float types */
    int64_t ilo, ihi;           /* Clip bounds for integer types */
} qp_elt_unary_params;

typedef void (*qp_elt_unary_fn)(const qp_elt_unary_params *p, size_t n, const void *x, void *y);

int qp_elt_unary_supported(qp_elt_unop op, int dtype);
/* The best kernel not above isa (QP_ISA_REF gives the reference); NULL if unsupported. */
qp_elt_unary_fn qp_elt_unary_get(qp_elt_unop op, int dtype, qp_isa isa);
/* With the kernels of the current ISA. */
void qp_elt_unary(qp_elt_unop op, int dtype, const qp_elt_unary_params *p, size_t n, const void *x,
                  void *y);

/* Variants beside the references: X(op, dtype, function, isa), function qp_elt_<name>. */
#define QP_ELT_UNARY_VARIANTS(X)                                            \
    QP_IF_AVX2(X(NEG, QP_DT_F32, neg_f32__avx2, QP_ISA_AVX2))               \
    QP_IF_AVX2(X(ABS, QP_DT_F32, abs_f32__avx2, QP_ISA_AVX2))               \
    QP_IF_AVX2(X(FLOOR, QP_DT_F32, floor_f32__avx2, QP_ISA_AVX2))           \
    QP_IF_AVX2(X(CEIL, QP_DT_F32, ceil_f32__avx2, QP_ISA_AVX2))             \
    QP_IF_AVX2(X(ROUND, QP_DT_F32, round_f32__avx2, QP_ISA_AVX2))           \
    QP_IF_AVX2(X(SQRT, QP_DT_F32, sqrt_f32__avx2, QP_ISA_AVX2))             \
    QP_IF_AVX2(X(RECIPROCAL, QP_DT_F32, reciprocal_f32__avx2, QP_ISA_AVX2)) \
    QP_IF_AVX2(X(SOFTSIGN, QP_DT_F32, softsign_f32__avx2, QP_ISA_AVX2))     \
    QP_IF_AVX2(X(SIGN, QP_DT_F32, sign_f32__avx2, QP_ISA_AVX2))
#define QP_ELT_UNARY_DECLARE_(op, dtype, fname, isa) \
    void qp_elt_##fname(const qp_elt_unary_params *p, size_t n, const void *x, void *y);
QP_ELT_UNARY_VARIANTS(QP_ELT_UNARY_DECLARE_)

#endif
