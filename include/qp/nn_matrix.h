/* Small float32 matrix helpers around the GEMM kernel for Gemm/MatMul: transposition, bias
 * expansion and the alpha/beta epilogue.  The caller owns every array; nothing here allocates
 * or keeps a pointer; outputs must not overlap inputs unless stated. */
#ifndef QP_NN_MATRIX_H
#define QP_NN_MATRIX_H
#include <stddef.h>

/* y[c][r] = x[r][c] for an x of rows x cols (row-major, contiguous). */
void qp_transpose2d_f32(size_t rows, size_t cols, const float *x, float *y);
void qp_transpose2d_f32__ref(size_t rows, size_t cols, const float *x, float *y);

/* y[i] = beta * c[i * inc] for i < n (inc 0 repeats a scalar, 1 copies a vector). */
void qp_scaled_fill_f32(size_t n, const float *c, size_t inc, float beta, float *y);

/* In place on y [m][n]: y = alpha * y + beta * C, with C broadcast from its own shape:
 * element (i, j) of C is c[i * c_row + j * c_col] (c_row 0 repeats one row, c_col 0 repeats
 * one column).  c may be NULL (no C term).  Rows go through qp_vaffine_f32/qp_vbinary_f32. */
void qp_gemm_epilogue_f32(size_t m, size_t n, float alpha, float *y, float beta, const float *c,
                          size_t c_row, size_t c_col);

#endif
