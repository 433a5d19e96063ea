/* Elementwise binary operations with broadcasting, for the numeric types ONNX graphs use
 * (float32/64, float16 computed in float32, (u)int8/16/32/64, bool).  The caller owns every
 * array; nothing here allocates or keeps a pointer.  y may alias an operand only if that operand has the output's shape.
 *
 * Semantics: float arithmetic is IEEE (Max/Min propagate NaN as numpy does); integer
 * Add/Sub/Mul/Pow wrap modulo 2^bits, Div truncates toward zero, x/0 gives 0 and
 * INT_MIN/-1 gives INT_MIN (C leaves both undefined); an integer Pow with a negative
 * exponent gives 1/x truncated (1, -1 or 0).  Comparisons give bool (one byte 0/1). */
#ifndef QP_ELT_BINARY_H
#define QP_ELT_BINARY_H
#include <stddef.h>

#include "qp/elt_bcast.h"
#include "qp/tensorio.h"
#include "qp/vmath.h"

typedef enum qp_elt_binop {
    QP_ELT_ADD = 0,
    QP_ELT_SUB,
    QP_ELT_MUL,
    QP_ELT_DIV,
    QP_ELT_POW,
    QP_ELT_MAX,
    QP_ELT_MIN,
    QP_ELT_PRELU,       /* a < 0 ? a * b : a */
    QP_ELT_EQ,          /* comparisons: bool out */
    QP_ELT_GT,
    QP_ELT_LT,
    QP_ELT_GE,
    QP_ELT_LE,
    QP_ELT_AND,         /* logic: bool in, bool out */
    QP_ELT_OR,
    QP_ELT_XOR,
    QP_ELT_BINOP_COUNT
} qp_elt_binop;

/* y[i] = a[i * inc_a] op b[i * inc_b] for i < n (inc 0: a scalar operand). */
typedef void (*qp_elt_binary_fn)(size_t n, const void *a, size_t inc_a, const void *b, size_t inc_b,
                                 void *y);

/* Whether op is defined on dtype (enum qp_dtype), and the dtype of its result. */
int qp_elt_binary_supported(qp_elt_binop op, int dtype);
int qp_elt_binary_out_dtype(qp_elt_binop op, int dtype);

/* The best run kernel not above isa (QP_ISA_REF gives the reference); NULL if unsupported. */
qp_elt_binary_fn qp_elt_binary_get(qp_elt_binop op, int dtype, qp_isa isa);

/* Output elements [begin, end) of the plan p (operand 0 is a, 1 is b), with the kernels of
 * the current ISA; __ref with the references only. */
void qp_elt_binary(qp_elt_binop op, int dtype, const qp_elt_bcast *p, const void *a, const void *b,
                   void *y, size_t begin, size_t end);
void qp_elt_binary__ref(qp_elt_binop op, int dtype, const qp_elt_bcast *p, const void *a,
                        const void *b, void *y, size_t begin, size_t end);

/* Where: y = cond ? x : z, with operands 0, 1, 2 of p; any element type of elsize bytes
 * (1, 2, 4 or 8); cond is bool. */
void qp_elt_where(size_t elsize, const qp_elt_bcast *p, const unsigned char *cond, const void *x,
                  const void *z, void *y, size_t begin, size_t end);

/* Variants beside the references, X(op, dtype, function, isa), as the dispatcher and the
 * checker see them (function qp_elt_<name>). */
#define QP_ELT_BINARY_VARIANTS(X)                                 \
    QP_IF_AVX2(X(PRELU, QP_DT_F32, prelu_f32__avx2, QP_ISA_AVX2)) \
    QP_IF_AVX2(X(EQ, QP_DT_F32, eq_f32__avx2, QP_ISA_AVX2))       \
    QP_IF_AVX2(X(GT, QP_DT_F32, gt_f32__avx2, QP_ISA_AVX2))       \
    QP_IF_AVX2(X(LT, QP_DT_F32, lt_f32__avx2, QP_ISA_AVX2))       \
    QP_IF_AVX2(X(GE, QP_DT_F32, ge_f32__avx2, QP_ISA_AVX2))       \
    QP_IF_AVX2(X(LE, QP_DT_F32, le_f32__avx2, QP_ISA_AVX2))
#define QP_ELT_BINARY_DECLARE_(op, dtype, fname, isa)                                           \
    void qp_elt_##fname(size_t n, const void *a, size_t inc_a, const void *b, size_t inc_b, \
                        void *y);
QP_ELT_BINARY_VARIANTS(QP_ELT_BINARY_DECLARE_)

#endif
