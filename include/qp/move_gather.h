/* Gather along one axis, element-size generic.  The caller owns every array; nothing here
 * allocates. */
#ifndef QP_MOVE_GATHER_H
#define QP_MOVE_GATHER_H
#include <stddef.h>
#include <stdint.h>

/* x viewed as [outer, axis_n, inner], y as [outer, n_idx, inner]: y[o, j, :] = x[o, idx[j], :],
 * idx int32 (idx_is_64 = 0) or int64, negative indices counting from the end.  Returns 0, or
 * -1 - j for the first index j outside [-axis_n, axis_n), in which case y is not written. */
int64_t qp_move_gather(size_t elsize, size_t outer, size_t axis_n, size_t inner, const void *x,
                       const void *idx, int idx_is_64, size_t n_idx, void *y);

#endif
