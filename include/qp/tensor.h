/* The tensor op family's entry points beyond the op table (qp/op.h): the plans of Pad and
 * Resize, for the quantized rules (qp/qops.h) that move integers with the same geometry.
 * Plans are values the caller owns. */
#ifndef QP_TENSOR_H
#define QP_TENSOR_H
#include <stdint.h>

#include "qp/graph.h"
#include "qp/move_pad.h"
#include "qp/move_resize.h"

/* Pad: the mode, the begin offsets (negative crops), the output dims and the constant value
 * (the attribute before opset 11; from 11 the caller reads input 2, absent meaning 0). */
typedef struct qp_tensor_pad {
    qp_pad_mode mode;
    int64_t begin[QP_MAX_RANK], dims[QP_MAX_RANK];
    float value;
} qp_tensor_pad;

/* Both derive the plan exactly as the float op does (errors name the node). */
int qp_tensor_pad_plan(const qp_graph *g, int ni, qp_tensor_pad *p);
int qp_tensor_resize_plan(const qp_graph *g, int ni, qp_resize_params *p);

#endif
