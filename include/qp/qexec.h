/* The quantized executor: runs a bound graph with the integer arithmetic of the NPU as the
 * quantization table describes it (qpipe(7), ARITHMETIC CONTRACT; the per-op rules of
 * qp/qops.h).  It owns the prepared rule state (quantized, packed weights, multipliers,
 * tables), one activation buffer laid out by the memory plan (qp/memplan.h) and the scratch;
 * the graph and the table must outlive it, and tensors it hands out stay valid until the next
 * run or qp_qexec_free.
 *
 * Every value is held as its table entry says: integers (u8, i8, i16 with scale and zero
 * point), float32 rounded to bfloat16/float16/float32 (hybrid float layers), or, for tensors
 * that are not float (shapes, indices, bools), in the graph's own type.  Where a layer needs
 * its input in another representation than its producer wrote (another type or scale, a float
 * layer next to an integer one), a conversion is inserted when the executor is made, once per
 * value and representation.  Results are byte-identical for any QP_THREADS and QP_KERNELS. */
#ifndef QP_QEXEC_H
#define QP_QEXEC_H
#include <stddef.h>

#include "qp/graph.h"
#include "qp/qops.h"
#include "qp/qtable.h"
#include "qp/tensorio.h"

typedef struct qp_qexec qp_qexec;

enum {
    QP_QEXEC_NO_FUSE = 1,       /* run every layer as written (dumps): no composed tables, no
                                   clamps folded into the producer */
};

/* Called after each layer with its outputs (dequantize them with qp_qexec_dequantize).  With
 * fusion, a group of fused layers reports once, as its last layer. */
typedef int (*qp_qexec_hook)(void *ctx, const qp_graph *g, int ni, const qp_qtensor *const *outs);

/* Prepares g with table t (bound to g).  Errors name the layer, the op and the reason (a layer
 * without an integer rule for its types, a bad entry). */
int qp_qexec_new(const qp_graph *g, const qp_qtable *t, int flags, qp_qexec **out);
void qp_qexec_free(qp_qexec *x);
/* Input i from a float32 tensor (other numeric types are converted to float32 first), quantized
 * with the input's parameters (qp/requant.h section 6); inputs that are not float take their
 * own type.  Dtype and shape are checked. */
int qp_qexec_set_input(qp_qexec *x, int i, const qp_tensor *t);
/* Input i as integers already in the input's representation (its storage dtype). */
int qp_qexec_set_input_raw(qp_qexec *x, int i, const qp_tensor *t);
void qp_qexec_set_hook(qp_qexec *x, qp_qexec_hook fn, void *ctx);
int qp_qexec_run(qp_qexec *x);
/* Layer by layer (QP_QEXEC_NO_FUSE only; the hook is not called).  With in NULL: layer ni's
 * steps as qp_qexec_run does them (conversions of its inputs, the layer, conversions of its
 * outputs); calling it for every layer in graph order is a whole run.  With in: in[j] is the
 * float32 (or, for a tensor that is not float, its own type) value of input j, NULL for
 * constants; each is quantized to the representation the layer wants (as a conversion would)
 * and the layer runs on those, so only its own arithmetic differs from the float op.  Its
 * outputs are then read with qp_qexec_value until the next call. */
int qp_qexec_run_layer(qp_qexec *x, int ni, const qp_tensor *const *in);
/* The tensor of value vi after a run: graph inputs, outputs and constants always; other values
 * only inside the hook for the layer that produced them; NULL for a value never materialized. */
const qp_qtensor *qp_qexec_value(const qp_qexec *x, int vi);
/* What layer ni read as its input j in the last run: the conversion of the input to the
 * representation the layer wants (a dtype converter's output), or the input itself when the
 * layer reads it as it is held.  QP_QEXEC_NO_FUSE only, inside the hook for layer ni (the
 * memory plan keeps it until then); NULL otherwise or for a constant not read. */
const qp_qtensor *qp_qexec_input(const qp_qexec *x, int ni, int j);
/* The representation value vi has (its table entry). */
const qp_qrep *qp_qexec_rep(const qp_qexec *x, int vi);
/* A new float32 tensor with t's values (dequantized: (float)(scale * (q - zp))). */
int qp_qexec_dequantize(const qp_qtensor *t, qp_tensor *out);

/* Plan figures: activation buffer (and without reuse), prepared state (weights, tables). */
size_t qp_qexec_peak_bytes(const qp_qexec *x);
size_t qp_qexec_naive_bytes(const qp_qexec *x);
size_t qp_qexec_state_bytes(const qp_qexec *x);
/* Layers run, conversions inserted, layers fused away. */
void qp_qexec_counts(const qp_qexec *x, int *layers, int *converts, int *fused);

#endif
