/* Quantized Softmax, integer only at run time: the caller owns the exponent table, the arrays
 * and the parameters; nothing here allocates, prints or keeps a pointer.
 *
 * The rule (qpipe(7), ARITHMETIC CONTRACT).  The input has type u8, i8 or i16 and scale s_x
 * (its zero point cancels); the output has parameters (s_y, zp_y).  For each row q_0..q_{n-1}
 * (the n values along the axis):
 *     m   = max_i q_i
 *     e_i = E[m - q_i]                      E[k] = rtne(exp(-s_x k) 2^30), k = 0 .. qmax - qmin
 *     S   = sum_i e_i                       exact in int64 (S >= 2^30: the maximum gives E[0])
 *     y_i = clamp(rtne(e_i M / S) + zp_y)   M = 1 / s_y as (mult, shift) (qp/requant.h 3),
 * the last one an exact rounded division: y_i - zp_y = rtne(e_i mult / (S 2^(31 + shift)))
 * with the numerator below 2^61 and the division done in 128 bits (0 when the quotient is
 * below 1/4 for every e_i, i.e. 31 + shift > 40).  E is built once in double (rtne of the
 * exact product by 2^30), so runs are bit-exact on every path, ISA and thread count; like the
 * unary tables, exported runtimes carry E itself.
 *
 * Layout as the float Softmax: x and y are [outer, n, inner], each row strided by inner. */
#ifndef QP_Q_SOFTMAX_H
#define QP_Q_SOFTMAX_H
#include <stddef.h>
#include <stdint.h>

#include "qp/requant.h"

#define QP_SOFTMAX_Q_ONE_BITS 30 /* E[0] = 2^30 */

typedef struct qp_softmax_q_params {
    qp_qtype x_type;     /* u8, i8 or i16 */
    qp_qtype y_type;     /* u8, i8 or i16 */
    int32_t y_zp, y_lo, y_hi;
    qp_qmul inv_sy;      /* 1 / s_y */
    const int32_t *exp_table; /* qp_softmax_q_table_entries(x_type) values */
} qp_softmax_q_params;

/* Entries of E for an input type (256 or 65536; 0 for others). */
size_t qp_softmax_q_table_entries(qp_qtype x_type);
/* Builds E into table (entries as above) and fills p; 0, or -1 for unsupported types or
 * scales (1 / s_y must be below 2^31). */
int qp_softmax_q_init(qp_softmax_q_params *p, const qp_qparams *x, const qp_qparams *y,
                      int32_t *table);

/* The specification, one row after another. */
void qp_softmax_q__ref(const qp_softmax_q_params *p, size_t outer, size_t n, size_t inner,
                       const void *x, void *y);
/* The same rows on the thread pool (tasks by size only). */
void qp_softmax_q(const qp_softmax_q_params *p, size_t outer, size_t n, size_t inner,
                  const void *x, void *y);

#endif
