/* Reductions of float32 data over any set of axes.  The caller owns x and y; nothing here
 * allocates or keeps a pointer, and no scratch is needed.  y must not overlap x. */
#ifndef QP_NN_REDUCE_H
#define QP_NN_REDUCE_H
#include <stddef.h>

#define QP_REDUCE_MAX_RANK 8

typedef enum qp_reduce_kind {
    QP_REDUCE_SUM = 0,
    QP_REDUCE_MEAN,
    QP_REDUCE_MAX,
    QP_REDUCE_MIN,
    QP_REDUCE_PROD,
    QP_REDUCE_L1,         /* sum |x| */
    QP_REDUCE_L2,         /* sqrt(sum x^2) */
    QP_REDUCE_SUMSQUARE,  /* sum x^2 */
    QP_REDUCE_LOGSUM,     /* log(sum x) */
    QP_REDUCE_LOGSUMEXP,  /* log(sum exp x), computed as max + log(sum exp(x - max)) */
    QP_REDUCE_COUNT
} qp_reduce_kind;

/* x has shape dims[rank] (rank <= QP_REDUCE_MAX_RANK, C order); axis d is reduced when red[d]
 * is non-zero.  y gets the kept axes in order (numel = product of the kept dims).  Sums
 * accumulate in double.  An empty reduction gives the identity: 0 for sums, 1 for Prod,
 * -inf for Max and LogSumExp, +inf for Min, -inf for LogSum. */
void qp_reduce_f32(qp_reduce_kind kind, int rank, const size_t *dims, const unsigned char *red,
                   const float *x, float *y);
void qp_reduce_f32__ref(qp_reduce_kind kind, int rank, const size_t *dims,
                        const unsigned char *red, const float *x, float *y);

#endif
