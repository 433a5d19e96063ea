/* Quantized elementwise binary operations: the caller owns the arrays; nothing here
 * allocates, prints or keeps a pointer, and y may alias a or b exactly (never partially).
 *
 * With da = qa - zp_a, db = qb - zp_b (qp/requant.h sections 4, 7, 8):
 *   Add/Sub  y = clamp(rtne(da * Ma +- db * Mb) + zp_y, lo, hi), Ma = s_a / s_y, Mb = s_b / s_y
 *            on one common shift, rounded once (qp_qadd);
 *   Mul      y = clamp(rtne(da * db * M) + zp_y, lo, hi), M = s_a * s_b / s_y (qp_requant_i64);
 *   Min/Max  y = clamp(min/max(convert(qa), convert(qb)), lo, hi), each input first converted
 *            to the output parameters (qp_qconvert: monotonic, so this is the quantized
 *            min/max of the two converted values).
 * Types: any of u8, i8, i16 for a, b and y independently.  lo/hi (a subrange of y's type) give
 * a fused ReLU.  Broadcasting is the caller's: b (or a) may be a scalar (inc 0). */
#ifndef QP_Q_ELTWISE_H
#define QP_Q_ELTWISE_H
#include <stddef.h>

#include "qp/requant.h"
#include "qp/vmath.h"

typedef enum qp_q_eltop {
    QP_Q_ELT_ADD = 0,
    QP_Q_ELT_SUB,
    QP_Q_ELT_MUL,
    QP_Q_ELT_MIN,
    QP_Q_ELT_MAX,
    QP_Q_ELT_COUNT
} qp_q_eltop;

typedef struct qp_q_elt_params {
    qp_q_eltop op;
    qp_qparams a, b, y;
    int32_t lo, hi;
    qp_qadd add;          /* Add/Sub */
    qp_qmul mul;          /* Mul */
    qp_qconvert ca, cb;   /* Min/Max */
} qp_q_elt_params;

/* Derives the integer parameters; 0, or -1 if a multiplier is not representable or a type or
 * the clamp is invalid. */
int qp_q_elt_init(qp_q_elt_params *e, qp_q_eltop op, const qp_qparams *a, const qp_qparams *b,
                  const qp_qparams *y, int32_t lo, int32_t hi);

/* y[i] = a[i*inc_a] op b[i*inc_b], inc in {0, 1}. */
void qp_q_elt(const qp_q_elt_params *e, size_t n, const void *a, size_t inc_a, const void *b,
              size_t inc_b, void *y);
void qp_q_elt__ref(const qp_q_elt_params *e, size_t n, const void *a, size_t inc_a, const void *b,
                   size_t inc_b, void *y);

/* Concat and any other copy between parameter sets: qp_q_convert (qp/q_convert.h) with a
 * qp_qconvert from each input's parameters to the output's. */

/* Variants: X(name, isa), qp_q_elt__<name> (the AVX2 one does Add/Sub on any types and Mul
 * on 8-bit inputs, and falls back to the reference for the rest). */
#define QP_Q_ELT_VARIANTS(X) QP_IF_AVX2(X(avx2, QP_ISA_AVX2))
#define QP_Q_ELT_DECLARE_(name, isa)                                                         \
    void qp_q_elt__##name(const qp_q_elt_params *e, size_t n, const void *a, size_t inc_a,           \
                          const void *b, size_t inc_b, void *y);
QP_Q_ELT_VARIANTS(QP_Q_ELT_DECLARE_)
typedef void (*qp_q_elt_fn)(const qp_q_elt_params *e, size_t n, const void *a, size_t inc_a,
                            const void *b, size_t inc_b, void *y);
typedef struct qp_q_elt_variant {
    const char *name;
    qp_isa isa;
    qp_q_elt_fn fn;
} qp_q_elt_variant;
extern const qp_q_elt_variant qp_q_elt_variants[];
extern const size_t qp_q_elt_n_variants;

#endif
