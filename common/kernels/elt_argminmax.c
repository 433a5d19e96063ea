/* ArgMax / ArgMin references: one running best per output element, scanned along the axis so
 * that the inner dimension stays the contiguous loop. */
#include <stdint.h>

#include "qp/elt_argminmax.h"
#include "qp/tensorio.h"

#define ARG_LOOP(T)                                                                         \
    do {                                                                                    \
        const T *X = (const T *)x;                                                          \
        for (size_t o = 0; o < outer; o++) {                                                \
            const T *xo = X + o * n * inner;                                                \
            int64_t *yo = y + o * inner;                                                    \
            for (size_t j = 0; j < inner; j++)                                              \
                yo[j] = 0;                                                                  \
            for (size_t k = 1; k < n; k++)                                                  \
                for (size_t j = 0; j < inner; j++) {                                        \
                    T v = xo[k * inner + j], b = xo[(size_t)yo[j] * inner + j];             \
                    int better = is_min ? (last ? v <= b : v < b) : (last ? v >= b : v > b); \
                    if (better)                                                             \
                        yo[j] = (int64_t)k;                                                 \
                }                                                                           \
        }                                                                                   \
    } while (0)

int qp_elt_argminmax_supported(int dtype)
{
    switch (dtype) {
    case QP_DT_F32: case QP_DT_F64: case QP_DT_I8: case QP_DT_U8: case QP_DT_I16: case QP_DT_U16:
    case QP_DT_I32: case QP_DT_U32: case QP_DT_I64: case QP_DT_U64:
        return 1;
    default:
        return 0;
    }
}

void qp_elt_argminmax__ref(int dtype, int is_min, int last, size_t outer, size_t n, size_t inner,
                           const void *x, int64_t *y)
{
    if (n == 0) {
        for (size_t i = 0; i < outer * inner; i++)
            y[i] = 0;
        return;
    }
    switch (dtype) {
    case QP_DT_F32: ARG_LOOP(float); break;
    case QP_DT_F64: ARG_LOOP(double); break;
    case QP_DT_I8: ARG_LOOP(int8_t); break;
    case QP_DT_U8: ARG_LOOP(uint8_t); break;
    case QP_DT_I16: ARG_LOOP(int16_t); break;
    case QP_DT_U16: ARG_LOOP(uint16_t); break;
    case QP_DT_I32: ARG_LOOP(int32_t); break;
    case QP_DT_U32: ARG_LOOP(uint32_t); break;
    case QP_DT_I64: ARG_LOOP(int64_t); break;
    case QP_DT_U64: ARG_LOOP(uint64_t); break;
    default: break;
    }
}
