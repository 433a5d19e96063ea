/* Pad (and crop, with negative pads) of a C-order array, element-size generic.  The caller owns
 * x, y and the scratch; nothing here allocates. */
#ifndef QP_MOVE_PAD_H
#define QP_MOVE_PAD_H
#include <stddef.h>
#include <stdint.h>

#define QP_PAD_MAX_RANK 8

typedef enum qp_pad_mode {
    QP_PAD_CONSTANT = 0,    /* outside x: *value */
    QP_PAD_REFLECT,         /* mirror without repeating the edge (numpy 'reflect'; period 2(n-1)) */
    QP_PAD_EDGE             /* repeat the edge element */
} qp_pad_mode;

/* Output position o along dim d reads x at o - begin[d] (mapped by the mode); ydims[d] =
 * xdims[d] + begin[d] + end[d] >= 0 is the caller's business.  Reflect and edge need
 * xdims[d] > 0 wherever ydims[d] > 0.  Scratch: qp_move_pad_scratch_size bytes. */
size_t qp_move_pad_scratch_size(int rank, const int64_t *ydims);
/* Output rows along dim 0 are cut into n_parts pieces; part does one of them. */
void qp_move_pad(size_t elsize, qp_pad_mode mode, int rank, const int64_t *xdims, const int64_t *ydims,
                 const int64_t *begin, const void *value, const void *x, void *y, void *scratch,
                 int part, int n_parts);

#endif
