/* The quantization table: one entry per quantized tensor of a graph, keyed as Acuity keys
 * them ("@<layer key>:out<k>" for a layer's output, graph inputs and Initializer_
 * constants; "@<layer key>:weight" and ":bias" for a node's weight ports), plus the
 * customized_quantize_layers map.  A qp_qtable owns an arena holding everything reachable
 * from it; qp_qtable_free releases it all.  Read from / written to the IR section "qtable"
 * and the .quantize YAML (qpipe-quantize(5), both Acuity dialects). */
#ifndef QP_QTABLE_H
#define QP_QTABLE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "qp/arena.h"
#include "qp/graph.h"

enum qp_quantizer {
    QP_QZ_NONE = 0,                 /* float32: not quantized */
    QP_QZ_ASYMMETRIC_AFFINE,        /* u8 / i8, scale and zero point */
    QP_QZ_SYMMETRIC_AFFINE,         /* i8 / i16, zero point 0 */
    QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE, /* weights: i8 per output channel; activations asym i8 */
    QP_QZ_DYNAMIC_FIXED_POINT,      /* i8 / i16: real = q * 2^-fl */
    QP_QZ_BFLOAT16,
    QP_QZ_FLOAT16,
    QP_QZ_COUNT
};

typedef struct qp_qentry {
    int quantizer;                  /* enum qp_quantizer; QP_QZ_NONE = no entry / float32 */
    int qtype;                      /* QP_DT_U8, I8, I16, I32, I64, BF16, F16, F32 */
    double min, max;                /* the float range it was derived from */
    int n;                          /* 1 (per tensor) or the channel count */
    double *scale;                  /* n values (DFP: 2^-fl) */
    int32_t *zero_point;            /* n values */
    int fl;                         /* dynamic_fixed_point */
    int channel_dim;                /* per-channel: the axis; -1 per tensor */
} qp_qentry;

typedef struct qp_qtable {
    qp_arena *arena;
    const qp_graph *g;              /* the graph it is bound to */
    qp_qentry *value;               /* per value id: activations, inputs, Initializer_ constants */
    qp_qentry *weight;              /* per node id: input 1 of Conv/ConvTranspose/Gemm/MatMul... */
    qp_qentry *bias;                /* per node id: the bias port */
    const char **custom;            /* per node id: customized type "<quantizer>-<qtype>" or NULL */
    const char *quantizer, *qtype, *algorithm;  /* how it was built (informative) */
    /* customized_quantize_layers may also name value layers (graph inputs, Initializer_
     * constants) and attach_ output layers: */
    const char **custom_value;      /* per value id, or NULL */
    const char **custom_output;     /* per graph output, or NULL */
    /* Bias correction (qtable --bias-correction, qp/biascorr.h): per node id, NULL or one real
     * value per output channel of a Conv/ConvTranspose (qp_qtable_bias_corr_channels), added
     * to its bias before the bias is quantized (qpipe(7)). */
    double **bias_corr;
} qp_qtable;

/* An entry with quantizer QP_QZ_NONE and qtype 0 is absent; QP_QZ_NONE with qtype QP_DT_F32
 * is an explicit float32 entry (quantizer "float32"). */
static inline int qp_qentry_present(const qp_qentry *e)
{
    return e->quantizer != QP_QZ_NONE || e->qtype != 0;
}

/* float32 (QP_QZ_NONE), bfloat16 and float16: the quantizers that keep a tensor in float. */
static inline int qp_quantizer_is_float(int qz)
{
    return qz == QP_QZ_NONE || qz == QP_QZ_BFLOAT16 || qz == QP_QZ_FLOAT16;
}

/* ---- Slots: the tensors a table can describe, in graph order ------------------------------ */

enum qp_qport {
    QP_QPORT_VALUE = 0,             /* "@<key>:out<k>": index is a value id */
    QP_QPORT_WEIGHT = 1,            /* "@<node key>:weight": index is a node id */
    QP_QPORT_BIAS = 2               /* "@<node key>:bias": index is a node id */
};

typedef struct qp_qslot {
    int port;                       /* enum qp_qport */
    int index;
    int required;                   /* a complete table has an entry here */
} qp_qslot;

/* Every slot of g in graph order (qpipe-quantize(5), WHICH TENSORS): graph inputs, then per
 * node its Initializer_ inputs, :weight, :bias and outputs.  malloc'd; the caller frees *out. */
int qp_qtable_slots(const qp_graph *g, qp_qslot **out, int *n);
qp_qentry *qp_qtable_entry(const qp_qtable *t, qp_qslot s);
/* "@<layer key>:out<k>" / ":weight" / ":bias" into buf (truncated to n); returns buf. */
char *qp_qtable_key(const qp_graph *g, qp_qslot s, char *buf, size_t n);
/* Resolves an entry key.  0: *s set; 0 with *ignored = 1: a key that names no tensor of its
 * own (an attach_ output layer, or an Acuity hybrid "<layer>_pre_..._to_..._<uid>"
 * converter), to be skipped; else an error (QP_EUSAGE) naming the key and the nearest keys. */
int qp_qtable_resolve(const qp_graph *g, const char *key, qp_qslot *s, int *ignored);
/* The axis of a weight tensor that indexes output channels (Conv 0, ConvTranspose 1,
 * Gemm 0 or 1 by transB, MatMul the last), or -1 when per-channel scales cannot follow
 * output channels (grouped ConvTranspose, 1-D MatMul B). */
int qp_qtable_weight_channel_dim(const qp_graph *g, int node);
/* Checks one entry against the qtype/quantizer rules and the tensor it describes (channel
 * count, zero point range, scale, fl); 0 or QP_EUSAGE with the reason (no key prefix). */
int qp_qtable_check_entry(const qp_qtable *t, qp_qslot s, const qp_qentry *e);
/* Every required slot has an entry; else QP_EUSAGE naming the first missing key. */
int qp_qtable_check_complete(const qp_qtable *t);
/* Sets the customized type of a layer key ("<quantizer>-<qtype>", normalised; also
 * "bfloat16", "float16", "float32").  QP_EUSAGE if the key or the type is unknown. */
int qp_qtable_set_custom(qp_qtable *t, const char *layer_key, const char *type);

/* The output channels a bias correction of node takes (a Conv or ConvTranspose with a
 * static output shape), or -1. */
int qp_qtable_bias_corr_channels(const qp_graph *g, int node);
/* Sets (copies) the bias correction of a node; QP_EUSAGE (the reason, naming the layer) when
 * the node takes none, n is not its output channel count or a value is not finite. */
int qp_qtable_set_bias_corr(qp_qtable *t, int node, const double *v, int n);
/* The same by layer key (QP_EUSAGE naming the key and the nearest keys if it is unknown). */
int qp_qtable_set_bias_corr_key(qp_qtable *t, const char *layer_key, const double *v, int n);

/* The customized layers in graph order (qpipe-quantize(5)): malloc'd, the caller frees *out;
 * the strings belong to the table and the graph. */
typedef struct qp_qcustom {
    const char *key, *type;
} qp_qcustom;
int qp_qtable_customs(const qp_qtable *t, qp_qcustom **out, int *n);

/* Names: quantizer "asymmetric_affine"...; qtype "u8" "i8" "i16" "i32" "i64" "bf16" "f16"
 * "f32" (QP_DT_* values); parse also takes Acuity's long forms (uint8, int8, int16, int32,
 * int64, bfloat16, float16, float32).  0 if unknown. */
const char *qp_qtable_qtype_name(int qtype);
int qp_qtable_qtype_parse(const char *s);
/* Bits of an integer qtype (8, 16, 32, 64), 0 for float types. */
int qp_qtable_qtype_bits(int qtype);
/* Whether a quantizer takes that qtype for an activation/weight (bias = 0) or a bias. */
int qp_qtable_qtype_allowed(int quantizer, int qtype, int bias);

const char *qp_quantizer_name(int quantizer);
int qp_quantizer_parse(const char *name);   /* -1 if unknown */

qp_qtable *qp_qtable_new(const qp_graph *g);
void qp_qtable_free(qp_qtable *t);
/* Sets an entry's scale/zero-point arrays (copied into the table's arena). */
int qp_qentry_set(qp_qtable *t, qp_qentry *e, int quantizer, int qtype, int n, const double *scale,
                  const int32_t *zp);

/* The IR section "qtable": load binds every key to g (unknown keys are errors naming the key
 * and the nearest ones); store replaces the section. */
int qp_qtable_load(const qp_graph *g, qp_qtable **out);      /* QP_EINPUT if no section */
int qp_qtable_store(qp_graph *g, const qp_qtable *t);

/* The .quantize YAML (qpipe-quantize(5)): read either dialect, write dialect 2. */
int qp_qtable_read_yaml(const char *path, const qp_graph *g, qp_qtable **out);
int qp_qtable_write_yaml(const char *path, const qp_qtable *t);
/* (qp/qtable_yaml.h has the same on memory and on an open FILE.) */

#endif
