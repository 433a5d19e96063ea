/* Broadcast plans: numpy-style multidirectional broadcasting of up to three operands onto a
 * C-contiguous output, reduced to the fewest dimensions and walked as contiguous inner runs.
 * A plan is a small value the caller owns; nothing here allocates or keeps a pointer. */
#ifndef QP_ELT_BCAST_H
#define QP_ELT_BCAST_H
#include <stddef.h>
#include <stdint.h>

#define QP_ELT_MAX_RANK 8
#define QP_ELT_MAX_OPS 3

typedef struct qp_elt_bcast {
    int rank;                               /* after collapsing: 0 (scalar) .. QP_ELT_MAX_RANK */
    int n_ops;
    int64_t dims[QP_ELT_MAX_RANK];          /* output dims, none of them 1 */
    int64_t st[QP_ELT_MAX_OPS][QP_ELT_MAX_RANK]; /* element strides of each operand (0 = repeated) */
    size_t numel;                           /* output elements */
} qp_elt_bcast;

/* Plans y[dims] = f(op_0, ..., op_{n_ops-1}) where operand k has rank ranks[k] <= rank and
 * shape shapes[k], aligned to the right of dims (each of its dims equal to the output's or 1).
 * rank <= QP_ELT_MAX_RANK; the caller has checked that the shapes broadcast. */
void qp_elt_bcast_init(qp_elt_bcast *p, int rank, const int64_t *dims, int n_ops, const int *ranks,
                       const int64_t *const *shapes);

/* Calls run(ctx, n, off, yoff) for every contiguous run of output elements in [begin, end):
 * y[yoff + i] for i < n takes operand k at element off[k] + i * inc[k], where inc[k] (0 or
 * the operand's innermost stride, usually 1) is given once in *inc. */
typedef void (*qp_elt_bcast_run_fn)(void *ctx, size_t n, const int64_t *off, const int64_t *inc,
                                    size_t yoff);
void qp_elt_bcast_walk(const qp_elt_bcast *p, size_t begin, size_t end, qp_elt_bcast_run_fn run,
                       void *ctx);

#endif
