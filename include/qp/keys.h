/* Layer keys, compatible with Acuity's (<name>_<uid>, see onnx2ir(1), LAYER KEYS).  Keys are
 * strings in the graph's arena, stored in node->key, value->key and g->output_keys. */
#ifndef QP_KEYS_H
#define QP_KEYS_H

#include "qp/graph.h"

/* What a key names (qp_keys_find, qp_keys_layers). */
enum qp_key_kind {
    QP_KEY_VALUE = 0,       /* a graph input or an Initializer_ constant: index is a value id */
    QP_KEY_NODE = 1,        /* a node: index is a node id */
    QP_KEY_OUTPUT = 2       /* an attach_ output layer: index is the graph output's position */
};

/* Assigns every key.  Layers: each node (<OpType>_<name>), each graph input (<name>), each
 * graph output (attach_<producer layer>/out<k>) and each constant that feeds a port that is
 * neither a weight port nor a parameter port, or a parameter port when
 * const_is_initializer[vi] (may be NULL: none) says it was an ONNX graph initializer
 * (Initializer_<name>).  uids run breadth-first from the outputs (0..n-1 in output order),
 * visiting each layer's inputs in order; layers not reached follow in id order.
 * Needs bound ops (qp_op_bind). */
int qp_keys_assign(qp_graph *g, const unsigned char *const_is_initializer);

/* Resolves a full key: 0 with *is_node set to its enum qp_key_kind and *index, or -1. */
int qp_keys_find(const qp_graph *g, const char *key, int *is_node, int *index);

/* Up to max keys of g nearest to key (edit distance, also ignoring the _<uid> suffix, and
 * keys containing key), best first, into out; returns how many.  Keys further than about a
 * third of the key's length are not suggested. */
int qp_keys_nearest(const qp_graph *g, const char *key, const char **out, int max);

/* Every layer of g in uid order: kind, index, key and uid per entry (n_layers entries,
 * malloc'd, the caller frees *out).  Keys must have been assigned. */
typedef struct qp_key_layer {
    int kind;               /* enum qp_key_kind */
    int index;
    const char *key;
    long uid;
} qp_key_layer;
int qp_keys_layers(const qp_graph *g, qp_key_layer **out, int *n_layers);

#endif
