/* Data movement by strides: the one primitive behind Transpose, Slice, Concat, Split, Expand,
 * Tile, DepthToSpace and SpaceToDepth.  Element-size generic (bytes are copied, never
 * converted).  The caller owns x and y, which must not overlap; nothing here allocates. */
#ifndef QP_MOVE_COPY_H
#define QP_MOVE_COPY_H
#include <stddef.h>
#include <stdint.h>

#include "qp/vmath.h"

#define QP_MOVE_MAX_RANK 16

/* For every index i over dims[rank]: y[sum i_d ys_d] = x[sum i_d xs_d] (strides in elements;
 * x strides may be 0 to repeat or negative to reverse).  Dims of 1 are dropped and neighbours
 * walked contiguously by both sides merged; then contiguous runs become memcpy, runs reading
 * one element become fills, and a transposition (y contiguous along one dim, x along another)
 * is done in cache tiles.  The work is cut into n_parts pieces by the shape alone; part
 * (0 <= part < n_parts) does one of them, so parts can run on different threads. */
void qp_move_strided(size_t elsize, int rank, const int64_t *dims, const void *x, const int64_t *xs,
                     void *y, const int64_t *ys, int part, int n_parts);
void qp_move_strided__ref(size_t elsize, int rank, const int64_t *dims, const void *x,
                          const int64_t *xs, void *y, const int64_t *ys);

/* y[i] = *value for i < n (elsize bytes each). */
void qp_move_fill(size_t elsize, size_t n, const void *value, void *y);

/* y[r * ldy + c] = x[c * ldx + r] for r < rows, c < cols (strides in elements). */
typedef void (*qp_move_transpose2d_fn)(size_t rows, size_t cols, const void *x, size_t ldx, void *y,
                                       size_t ldy);
/* The best 2-D transpose of elsize-byte elements not above isa. */
qp_move_transpose2d_fn qp_move_transpose2d_get(size_t elsize, qp_isa isa);

/* Variants beside the references: X(elsize, function, isa), function qp_move_<name>. */
#define QP_MOVE_TRANSPOSE2D_VARIANTS(X) \
    QP_IF_AVX2(X(4, transpose2d_4__avx2, QP_ISA_AVX2))
#define QP_MOVE_TRANSPOSE2D_DECLARE_(es, fname, isa) \
    void qp_move_##fname(size_t rows, size_t cols, const void *x, size_t ldx, void *y, size_t ldy);
QP_MOVE_TRANSPOSE2D_VARIANTS(QP_MOVE_TRANSPOSE2D_DECLARE_)
void qp_move_transpose2d_1__ref(size_t rows, size_t cols, const void *x, size_t ldx, void *y, size_t ldy);
void qp_move_transpose2d_2__ref(size_t rows, size_t cols, const void *x, size_t ldx, void *y, size_t ldy);
void qp_move_transpose2d_4__ref(size_t rows, size_t cols, const void *x, size_t ldx, void *y, size_t ldy);
void qp_move_transpose2d_8__ref(size_t rows, size_t cols, const void *x, size_t ldx, void *y, size_t ldy);

#endif
