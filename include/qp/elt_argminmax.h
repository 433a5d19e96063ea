/* ArgMax / ArgMin along one axis of a C-order array viewed as [outer, n, inner].  The caller
 * owns x and y (outer * inner int64 indices); nothing here allocates.  Ties give the first
 * index, or the last with select_last; NaN never wins a comparison (a NaN at index 0 stays
 * the answer until a number beats it, as in onnxruntime). */
#ifndef QP_ELT_ARGMINMAX_H
#define QP_ELT_ARGMINMAX_H
#include <stddef.h>
#include <stdint.h>

int qp_elt_argminmax_supported(int dtype);
void qp_elt_argminmax__ref(int dtype, int is_min, int select_last, size_t outer, size_t n,
                           size_t inner, const void *x, int64_t *y);

#endif
