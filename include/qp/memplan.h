/* Memory plans: offsets in one buffer for tensors with known lifetimes, shared by the float
 * executor (qp/exec.h) and the quantized one (qp/qexec.h).  The caller owns the span array;
 * nothing here allocates beyond a temporary sort index, prints or keeps a pointer. */
#ifndef QP_MEMPLAN_H
#define QP_MEMPLAN_H
#include <stddef.h>

/* One tensor: alive from step first to step last inclusive (steps are the caller's: node or
 * kernel-call indices), size bytes.  Spans whose step intervals overlap never share bytes. */
typedef struct qp_memplan_span {
    size_t size;                /* in: bytes (rounded up to 64 by the planner) */
    int first, last;            /* in */
    size_t off;                 /* out: offset in the buffer, a multiple of 64 */
} qp_memplan_span;

/* Places the spans largest first (ties: lower index first) at the lowest offset that fits
 * beside every placed, time-overlapping span: deterministic and close to optimal on these
 * graphs.  *peak gets the buffer size, *naive the sum of the sizes (no reuse).  0, or
 * QP_ESYS. */
int qp_memplan_place(qp_memplan_span *s, int n, size_t *peak, size_t *naive);

#endif
