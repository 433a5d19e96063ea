/* The op table: for each supported ONNX op, its arity, which inputs are parameters,
 * attribute validation + shape inference, and the float32 implementation.  Op code never
 * loops over elements itself beyond trivial copies; arithmetic is in common/kernels/.
 * Run functions own nothing: tensors and scratch come from the executor. */
#ifndef QP_OP_H
#define QP_OP_H
#include <stddef.h>
#include <stdint.h>

#include "qp/graph.h"
#include "qp/tensorio.h"

/* Prepared per-node state (packed weights, plans) lives in the executor's arena. */
typedef struct qp_op_prep {
    void *state;
    size_t scratch;             /* bytes of scratch the run needs */
} qp_op_prep;

typedef struct qp_op {
    const char *name;           /* ONNX op type */
    int min_in, max_in;         /* inputs (optional trailing ones may be absent, id -1) */
    int min_out, max_out;
    uint32_t param_mask;        /* inputs that parameterise the op (shape, axes, pads...):
                                   constant values there become attributes of the layer */
    uint32_t weight_mask;       /* weight ports (Conv W and B): never layers of their own */
    /* Validate attributes and inputs, set every output's dtype and dims.  Inputs' dims are
     * known; constant inputs carry data.  Errors name the node. */
    int (*infer)(qp_graph *g, int ni);
    /* Optional: precompute (pack weights...) once before runs. */
    int (*prepare)(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep);
    /* Compute outputs (already allocated, dims as inferred) from inputs. */
    int (*run)(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
               qp_tensor *const *out, void *scratch);
} qp_op;

/* Index of the op, or -1. */
int qp_op_find(const char *op_type);
const qp_op *qp_op_get(int op);
int qp_op_count(void);
/* Comma-separated list of supported op names (static buffer). */
const char *qp_op_list(void);
/* Resolves n->op for every node; an unknown op is an error naming the node, the op and
 * the supported list. */
int qp_op_bind(qp_graph *g);

/* Helpers for op implementations. */
int qp_op_error(const qp_graph *g, int ni, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets output oi of node ni. */
int qp_op_set_out(qp_graph *g, int ni, int oi, int dtype, int rank, const int64_t *dims);
/* Input i's value, NULL when absent. */
const qp_value *qp_op_in(const qp_graph *g, int ni, int i);
/* Reads a constant 1-D integer input (int32/int64) into out (up to max); returns count or
 * -1 if the input is not constant. */
int qp_op_const_ints(const qp_graph *g, int ni, int i, int64_t *out, int max);
int qp_op_const_floats(const qp_graph *g, int ni, int i, float *out, int max);
/* Normalises an axis in [-rank, rank) to [0, rank); -1 (error set) if out of range. */
int qp_op_axis(const qp_graph *g, int ni, int64_t axis, int rank);
/* Numpy-style broadcast of two shapes; error if incompatible. */
int qp_op_broadcast(const qp_graph *g, int ni, int ra, const int64_t *da, int rb, const int64_t *db,
                    int *rout, int64_t *dout);

/* Typed attribute access (ONNX attributes are strictly typed): an attribute present with
 * another type is an error naming the node and the attribute.  Absent: *out = dflt (lists:
 * *n = -1, *v = NULL; tensor: *t = NULL) and 0 is returned.  qp_op_attr_need errors when
 * the attribute is absent. */
int qp_op_attr_int(const qp_graph *g, int ni, const char *name, int64_t dflt, int64_t *out);
int qp_op_attr_float(const qp_graph *g, int ni, const char *name, float dflt, float *out);
int qp_op_attr_string(const qp_graph *g, int ni, const char *name, const char *dflt, const char **out);
int qp_op_attr_ints(const qp_graph *g, int ni, const char *name, int *n, const int64_t **v);
int qp_op_attr_floats(const qp_graph *g, int ni, const char *name, int *n, const float **v);
int qp_op_attr_tensor(const qp_graph *g, int ni, const char *name, const qp_tensor **t);
int qp_op_attr_need(const qp_graph *g, int ni, const char *name);

/* Op families register their ops here (one table entry each, in common/ops/table.c). */
#define QP_OP_FAMILIES(X) X(elementwise) X(nn) X(tensor)

#endif
