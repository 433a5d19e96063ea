/* The quantized op rules: for each op type, how a layer runs in the integer simulator
 * (qp/qexec.h) under the arithmetic contract (qp/requant.h, qpipe(7)): which representation
 * each input must arrive in, the prepared integer state (quantized and packed weights,
 * multipliers, tables) and the run on the integer kernels.  Rule state and scratch sizes live
 * in the executor's arena and scratch; rules own nothing.  Adding a rule: one function pair in
 * the family file (common/ops/qops_<family>.c), one entry in that family's table, a case in
 * tests/unit/test_qexec.c and a line in qpipe(7) ARITHMETIC CONTRACT. */
#ifndef QP_QOPS_H
#define QP_QOPS_H
#include <stddef.h>
#include <stdint.h>

#include "qp/arena.h"
#include "qp/graph.h"
#include "qp/qtable.h"
#include "qp/requant.h"
#include "qp/tensorio.h"

/* How a tensor is held in the simulator. */
enum qp_qrep_kind {
    QP_QREP_NONE = 0,   /* not handed to the rule (a weight or parameter it reads from the graph) */
    QP_QREP_NATIVE,     /* the graph's own dtype, untouched (shapes, indices, bools, int64) */
    QP_QREP_QUANT,      /* integers q (u8, i8, i16) with real value scale (q - zp) */
    QP_QREP_FLOAT       /* float32 values, rounded to fmt at every layer output */
};

typedef struct qp_qrep {
    int kind;                   /* enum qp_qrep_kind */
    qp_qparams q;               /* QUANT */
    int fmt;                    /* FLOAT: QP_DT_F32, QP_DT_BF16 or QP_DT_F16 */
    double min, max;            /* the real range from the table (or a constant's data); min > max
                                   when unknown: boundary conversions derive parameters from it */
} qp_qrep;

/* A tensor as rules see it: t.dtype is u8/i8/i16 for QUANT, float32 for FLOAT, the graph's
 * for NATIVE; t.dims are the value's. */
typedef struct qp_qtensor {
    qp_tensor t;
    qp_qrep r;
} qp_qtensor;

/* A node being prepared.  The executor fills in[] with the representation each input value
 * has (constants: their table entry, else NATIVE) and out[] with the table's; prepare may
 * change in[i] (the executor then converts the value, once per value and representation) and
 * out[i] (the node then writes that representation and the executor converts it to the
 * table's), and must leave weight and parameter ports it reads from the graph as they are. */
typedef struct qp_qnode {
    const qp_graph *g;
    int ni;
    const qp_qtable *table;
    int n_in, n_out;
    qp_qrep *in, *out;
    void *state;                /* the rule's, in the executor's arena */
    size_t scratch;             /* bytes the run needs (64-byte aligned buffer) */
} qp_qnode;

/* What the executor may assume when it fuses (composes tables over a producer's integers). */
enum qp_qop_map {
    QP_QOP_MAP_NONE = 0,
    QP_QOP_MAP_ELEMENTWISE      /* output element i is a function of element i of the
                                   non-constant inputs alone when their shapes equal the
                                   output's and every constant input is a scalar; the run
                                   reads shapes from the tensors it is given */
};

typedef struct qp_qop {
    const char *name;           /* ONNX op type, as in the float op table (qp/op.h) */
    int map;                    /* enum qp_qop_map */
    /* Decides the representations and builds the state; errors name the layer (qp_qops_error). */
    int (*prepare)(qp_qnode *n, qp_arena *a);
    int (*run)(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out, void *scratch);
    /* Optional, after prepare: clamp output 0 to [lo, hi] in its own type (a fused Relu or
     * Clip whose table says the same parameters); -1 if the rule cannot. */
    int (*set_clamp)(qp_qnode *n, int32_t lo, int32_t hi);
} qp_qop;

/* The integer rule of an op type, or NULL. */
const qp_qop *qp_qops_find(const char *op_type);
/* The float rule: runs the float op (qp/op.h) on dequantized inputs, rounds float outputs to
 * their format and leaves quantized ones to a boundary conversion.  The executor takes it for
 * layers whose table entry is float (bfloat16, float16, float32), for layers on tensors that
 * are not float (shapes, bools), and for ops without an integer rule whose outputs are not
 * quantized (a comparison of quantized tensors). */
const qp_qop *qp_qops_float(void);
/* Every integer rule's name is an op of the float table, and no name appears twice: 0, or
 * QP_EINPUT naming the first offender (the checker in tests/unit/test_qexec.c calls it). */
int qp_qops_check_table(void);

/* ---- helpers for rules and the executor ---------------------------------------------------- */

/* "layer 'key' (Op): <message>" as a QP_EINPUT error (the key, or the node name if none). */
int qp_qops_error(const qp_graph *g, int ni, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A table entry as representation: QUANT for u8/i8/i16 quantizers (per tensor), FLOAT with the
 * format for bfloat16/float16/float32 and for no entry.  QP_EINPUT (the caller names the
 * tensor) for per-channel activation entries, bad scales or zero points. */
int qp_qrep_of_entry(const qp_qentry *e, qp_qrep *r);
/* Parameters of type t covering [min, max] (with 0 inside): u8 and i8 asymmetric
 * (scale (max - min) / 255, zero point rtne(qmin - min / scale)), i16 dynamic fixed point
 * (the largest fl with max(|min|, |max|) <= 32767 * 2^-fl).  -1 if the range is unknown. */
int qp_qrep_derive(qp_qtype t, double min, double max, qp_qparams *q);
/* Representable real range of a quantized representation. */
void qp_qrep_range(const qp_qrep *r, double *min, double *max);
int qp_qrep_equal(const qp_qrep *a, const qp_qrep *b);
/* "u8(s=0.0392, zp=12)", "bf16", "int64" into buf. */
const char *qp_qrep_format(const qp_qrep *r, int graph_dtype, char *buf, size_t n);
/* qp_qtype of a storage dtype (QP_DT_U8/I8/I16), -1 otherwise; and back. */
int qp_qtype_of_dtype(int dtype);
int qp_dtype_of_qtype(qp_qtype t);

/* Makes input i quantized: kept if it already is (and, when allow16 is 0, 8-bit), else
 * parameters of type t derived from its range (qp_qrep_derive); an error naming the layer if
 * the range is unknown. */
int qp_qops_want_quant(qp_qnode *n, int i, qp_qtype t, int allow16);
/* Input i as i16 with zero point 0 for a 16-bit layer: an 8-bit input is widened without loss
 * (q - zp at the same scale), anything else derived from its range as dynamic fixed point. */
int qp_qops_want_q16(qp_qnode *n, int i);
/* Runs fn(ctx, begin, end) over [0, n) in chunks decided by n alone, on the thread pool. */
void qp_qops_parallel(size_t n, void (*fn)(void *ctx, size_t begin, size_t end), void *ctx);
/* Parallel elementwise helpers on whole arrays. */
void qp_qops_convert(const qp_qrep *from, const qp_qrep *to, size_t n, const void *x, void *y);
void qp_qops_lut(qp_qtype in, qp_qtype out, const void *table, size_t n, const void *x, void *y);
/* The float rule's two halves, for integer rules that run the float op (Cast, Shape...). */
int qp_qops_float_prepare(qp_qnode *n, qp_arena *a);
int qp_qops_float_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out,
                      void *scratch);

/* The families' tables (common/ops/qops_<family>.c). */
#define QP_QOPS_FAMILIES(X) X(nn) X(elt) X(tensor)
#define QP_QOPS_DECLARE_(f) extern const qp_qop qp_qops_##f[]; extern const int qp_qops_##f##_count;
QP_QOPS_FAMILIES(QP_QOPS_DECLARE_)

#endif
