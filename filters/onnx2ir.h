/* onnx2ir's private interface between its files: loading (onnx2ir_load.c), building the
 * graph (onnx2ir_build.c), inference and folding (onnx2ir_fold.c), the --inputmeta and
 * --list-layers outputs (onnx2ir_meta.c).  Everything returns a status with the error
 * recorded (qp_errorf), without the model's file name, which main adds. */
#ifndef QP_ONNX2IR_H
#define QP_ONNX2IR_H
#include <stdint.h>
#include <stdio.h>

#include "qp/arena.h"
#include "qp/graph.h"

typedef struct Onnx__ModelProto Onnx__ModelProto;

#define QP_O2I_MAX_SIZES 64
#define QP_O2I_MAX_DEPTH 64             /* protobuf nesting accepted before unpacking */

/* One --input-size: name NULL applies to the n-th input without a name. */
typedef struct qp_o2i_size {
    const char *name;
    int rank;
    int64_t dims[QP_MAX_RANK];
} qp_o2i_size;

typedef struct qp_o2i_model {
    const char *path, *dir;             /* the file and its directory (external data) */
    qp_arena *arena;                    /* the unpacked message lives here */
    Onnx__ModelProto *m;
    int64_t opset;                      /* default-domain opset */
} qp_o2i_model;

/* Per-value flags that travel with the graph through rewriting. */
typedef struct qp_o2i_flags {
    unsigned char *is_init;             /* came from an ONNX graph initializer */
    int cap;
} qp_o2i_flags;

typedef struct qp_o2i_stats {
    int onnx_nodes, constants, folded, identities, bn_folded, dead, nodes, layers;
} qp_o2i_stats;

/* Reads, scans the wire format for nesting and subgraphs, unpacks and checks the model
 * header (graph, ir_version, opsets).  Errors are complete messages naming the file. */
int qp_o2i_load(const char *path, qp_o2i_model *out);
void qp_o2i_model_free(qp_o2i_model *mod);
/* The nesting and subgraph scan alone (exposed for the loader). */
int qp_o2i_scan(const uint8_t *buf, size_t n);

/* The graph of the model: values for inputs (sized from the model and --input-size),
 * initializers and node outputs, nodes with their attributes, Constant nodes as constants,
 * Identity and Dropout removed.  QP_EUSAGE when --input-size does not fit the model. */
int qp_o2i_build(const qp_o2i_model *mod, const qp_o2i_size *sizes, int n_sizes, qp_graph **out,
                 qp_o2i_flags *fl, qp_o2i_stats *st);
int qp_o2i_flag_set(qp_o2i_flags *fl, int vi, int is_init);

/* Binds ops, infers shapes in order, folds constant subgraphs (and Shape/Size of known
 * dims), folds BatchNormalization into a preceding Conv, drops dead nodes and compacts. */
int qp_o2i_simplify(qp_graph *g, qp_o2i_flags *fl, qp_o2i_stats *st);

/* --inputmeta: one port per graph input. */
int qp_o2i_write_inputmeta(const qp_graph *g, const char *path, const char *dataset);
/* --list-layers: "key<TAB>op<TAB>shape" per layer in uid order. */
int qp_o2i_list_layers(FILE *f, const qp_graph *g);

#endif
