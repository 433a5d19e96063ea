/* The in-memory graph: values (tensors), nodes, graph inputs/outputs, history and
 * opaque sections.  Everything hangs off the graph's arena and is freed by qp_graph_free;
 * arrays grow by reallocation inside the graph, so never keep a qp_node or qp_value
 * pointer across qp_graph_add_* calls (keep indices). */
#ifndef QP_GRAPH_H
#define QP_GRAPH_H
#include <stddef.h>
#include <stdint.h>

#include "qp/arena.h"
#include "qp/tensorio.h"

#define QP_MAX_RANK 8
#define QP_MAX_IO 64            /* inputs or outputs of one node */

typedef struct qp_value {
    const char *name;           /* ONNX tensor name */
    int dtype;                  /* enum qp_dtype (ONNX numbers) */
    int rank;
    int64_t dims[QP_MAX_RANK];
    int is_const;
    void *data;                 /* constants: C-order payload of nbytes */
    size_t nbytes;
    const char *key;            /* layer key when the value is a layer (graph input, Initializer_*) */
    int producer;               /* node index, -1 for graph inputs and constants */
    int port;                   /* which output of the producer */
} qp_value;

enum qp_attr_type { QP_ATTR_UNDEF, QP_ATTR_INT, QP_ATTR_FLOAT, QP_ATTR_STRING,
                    QP_ATTR_INTS, QP_ATTR_FLOATS, QP_ATTR_TENSOR };

typedef struct qp_attr {
    const char *name;
    int type;
    int64_t i;
    float f;
    const char *s;              /* NUL-terminated copy */
    size_t s_len;
    int n;                      /* INTS/FLOATS count */
    int64_t *ints;
    float *floats;
    qp_tensor t;                /* TENSOR */
} qp_attr;

typedef struct qp_node {
    const char *op_type;
    const char *name;           /* ONNX node name (may be empty in the model; import names it) */
    const char *key;            /* layer key */
    int op;                     /* index into the op table, -1 unknown */
    int n_in, n_out;
    int *in;                    /* value ids, -1 = absent optional input */
    int *out;
    int n_attr;
    qp_attr *attr;
} qp_node;

typedef struct qp_history {
    const char *tool, *version;
    int n_args;
    const char **args;
} qp_history;

typedef struct qp_section {
    const char *kind;
    uint32_t version;
    const uint8_t *data;
    size_t len;
} qp_section;

typedef struct qp_graph {
    qp_arena *arena;
    int n_values, cap_values;
    qp_value *values;
    int n_nodes, cap_nodes;
    qp_node *nodes;
    int n_inputs, n_outputs;
    int *inputs, *outputs;      /* value ids */
    const char **output_keys;   /* attach_<producer>/out<k>_<uid> */
    int n_history;
    qp_history *history;
    int n_sections;
    qp_section *sections;
    const char *model_name, *producer;
    int64_t onnx_ir_version, opset;
} qp_graph;

qp_graph *qp_graph_new(void);
void qp_graph_free(qp_graph *g);

/* Append a value / node; return its index or -1 (error recorded). */
int qp_graph_add_value(qp_graph *g, const char *name, int dtype, int rank, const int64_t *dims);
int qp_graph_add_const(qp_graph *g, const char *name, int dtype, int rank, const int64_t *dims,
                       const void *data, size_t nbytes);
int qp_graph_add_node(qp_graph *g, const char *op_type, const char *name, int n_in, const int *in,
                      int n_out, const int *out);
/* Attributes on node ni (copied into the arena). */
int qp_node_set_int(qp_graph *g, int ni, const char *name, int64_t v);
int qp_node_set_float(qp_graph *g, int ni, const char *name, float v);
int qp_node_set_string(qp_graph *g, int ni, const char *name, const char *s, size_t len);
int qp_node_set_ints(qp_graph *g, int ni, const char *name, int n, const int64_t *v);
int qp_node_set_floats(qp_graph *g, int ni, const char *name, int n, const float *v);
int qp_node_set_tensor(qp_graph *g, int ni, const char *name, const qp_tensor *t);
int qp_graph_add_history(qp_graph *g, const char *tool, int argc, char **argv);
/* Add or replace the section of this kind. */
int qp_graph_set_section(qp_graph *g, const char *kind, uint32_t version, const void *data, size_t len);
const qp_section *qp_graph_section(const qp_graph *g, const char *kind);

/* Attribute lookup: NULL when absent. */
const qp_attr *qp_node_attr(const qp_node *n, const char *name);
int64_t qp_node_int(const qp_node *n, const char *name, int64_t dflt);
float qp_node_float(const qp_node *n, const char *name, float dflt);
const char *qp_node_string(const qp_node *n, const char *name, const char *dflt);

/* Element count and byte size of a value; -1 / error on overflow. */
int qp_value_numel(const qp_value *v, size_t *numel);
int qp_dims_numel(int rank, const int64_t *dims, size_t *numel);
/* A view of a value as a tensor (data NULL unless constant). */
qp_tensor qp_value_tensor(const qp_value *v);
/* A node's layer key, or its name when it has none. */
const char *qp_node_key(const qp_node *n);
/* Human-readable label of a node for messages: "'Conv_0' (Conv)". */
const char *qp_node_label(const qp_graph *g, int ni);
/* Consumers of value vi: count, and fills up to max node indices. */
int qp_graph_consumers(const qp_graph *g, int vi, int *nodes, int max);
/* Number of nodes reading value vi, plus 1 if it is a graph output. */
int qp_graph_uses(const qp_graph *g, int vi);
int qp_graph_find_value(const qp_graph *g, const char *name);

/* Structural validation used by the reader and the importer: references in range,
 * inputs defined before use (topological order), single producer per value, output
 * sizes that do not overflow. */
int qp_graph_validate(const qp_graph *g);

#endif
