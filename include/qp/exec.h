/* The executor: runs a bound graph in float32.  It owns the packed weights (prepared
 * once), one activation buffer laid out by a liveness-based memory plan, and the scratch
 * buffer; tensors it hands out stay valid until the next run or qp_exec_free. */
#ifndef QP_EXEC_H
#define QP_EXEC_H
#include <stddef.h>

#include "qp/graph.h"
#include "qp/tensorio.h"

typedef struct qp_exec qp_exec;

enum {
    QP_EXEC_NO_FUSE = 1,        /* run every node as written (dumps, calibration) */
};

/* Called after each node with its outputs (for dumps and statistics). */
typedef int (*qp_exec_hook)(void *ctx, const qp_graph *g, int ni, const qp_tensor *const *outs);

int qp_exec_new(const qp_graph *g, int flags, qp_exec **out);
void qp_exec_free(qp_exec *x);
/* Copies t into graph input i after checking dtype and shape. */
int qp_exec_set_input(qp_exec *x, int i, const qp_tensor *t);
void qp_exec_set_hook(qp_exec *x, qp_exec_hook fn, void *ctx);
int qp_exec_run(qp_exec *x);
/* The tensor of value vi after a run: graph inputs, outputs and constants always; other
 * values only inside the hook for the node that produced them. */
const qp_tensor *qp_exec_value(const qp_exec *x, int vi);
/* Bytes of the activation buffer (the memory plan's peak) and what a plan without reuse
 * would need. */
size_t qp_exec_peak_bytes(const qp_exec *x);
size_t qp_exec_naive_bytes(const qp_exec *x);
size_t qp_exec_weight_bytes(const qp_exec *x);

#endif
