/* Matrix helpers for the Gemm/MatMul op layer.  The transposition works in 8x8 blocks so both
 * sides stay in cache; the epilogue is a loop of vmath row calls. */
#include "qp/nn_matrix.h"
#include "qp/vmath.h"

#define TB 8

void qp_transpose2d_f32__ref(size_t rows, size_t cols, const float *x, float *y)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            y[c * rows + r] = x[r * cols + c];
}

void qp_transpose2d_f32(size_t rows, size_t cols, const float *x, float *y)
{
    for (size_t r0 = 0; r0 < rows; r0 += TB)
        for (size_t c0 = 0; c0 < cols; c0 += TB) {
            size_t r1 = r0 + TB < rows ? r0 + TB : rows, c1 = c0 + TB < cols ? c0 + TB : cols;
            for (size_t c = c0; c < c1; c++)
                for (size_t r = r0; r < r1; r++)
                    y[c * rows + r] = x[r * cols + c];
        }
}

void qp_scaled_fill_f32(size_t n, const float *c, size_t inc, float beta, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = beta * c[i * inc];
}

void qp_gemm_epilogue_f32(size_t m, size_t n, float alpha, float *y, float beta, const float *c,
                          size_t c_row, size_t c_col)
{
    for (size_t i = 0; i < m; i++) {
        float *row = y + i * n;
        if (alpha != 1.0f)
            qp_vaffine_f32(n, row, alpha, 0.0f, row);
        if (!c || beta == 0.0f)
            continue;
        const float *crow = c + i * c_row;
        if (beta == 1.0f) {
            qp_vbinary_f32(QP_BIN_ADD, n, row, 1, crow, c_col, row);
        } else if (c_col == 0) {
            float b = beta * crow[0];
            qp_vbinary_f32(QP_BIN_ADD, n, row, 1, &b, 0, row);
        } else {
            /* row += beta * crow, one element at a time through the fused form */
            for (size_t j = 0; j < n; j++)
                row[j] += beta * crow[j];
        }
    }
}
