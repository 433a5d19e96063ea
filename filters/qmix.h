/* qmix's private interface: the per-layer precision plan (which layers take which type),
 * applying it to a table with parameters re-derived from the calibration statistics, and
 * the dtype converters the vendor inserts at each precision boundary.  Every function
 * returns 0 or a QP_E* status with the message set (qp/diag.h); a plan is the caller's. */
#ifndef QP_QMIX_H
#define QP_QMIX_H
#include <stdio.h>

#include "qp/calib.h"
#include "qp/qtable.h"

/* The customized_quantize_layers map of a .quantize file: key/type pairs (strings malloc'd,
 * qp_qmix_map_free releases them).  Keys of its quantize_parameters that name no tensor of g
 * make it "the table of another model" (QP_EINPUT). */
typedef struct qp_qmix_map {
    int n;
    char **key, **type;
} qp_qmix_map;
int qp_qmix_map_read(const char *path, const qp_graph *g, qp_qmix_map *m);
void qp_qmix_map_free(qp_qmix_map *m);

/* Layers downstream of (and including) the layer named by what: a full key, a key without
 * its _<uid>, or an ONNX node name when unambiguous.  Sets the custom type of each node, of
 * the Initializer_ constants they read and of the attach_ outputs they produce.  code is
 * the status of a name that does not resolve. */
int qp_qmix_from(qp_qtable *t, const char *what, const char *type, int code);
/* Every node with mark[ni] set takes type as qp_qmix_from gives it (its float outputs and
 * weight, the Initializer_ constants it reads, the attach_ outputs it produces); integer side
 * branches keep their type. */
int qp_qmix_set_nodes(qp_qtable *t, const unsigned char *mark, const char *type, int code);
/* Every layer key matching the fnmatch pattern gets type; a pattern with * ? or [ skips the
 * layers without a float tensor; no match is an error (code). */
int qp_qmix_glob(qp_qtable *t, const char *pattern, const char *type, int code);

/* Re-derives the entries of every customized layer of t from c (algorithm algo) and checks
 * the table.  QP_EINPUT naming the layer when a layer has no tensor the type can describe. */
int qp_qmix_apply(qp_qtable *t, const qp_calib *c, int algo);

/* A converter: before layer `layer` (a node), its input value `value` changes type. */
typedef struct qp_qmix_conv {
    int node, value;
    char *key;                  /* <layer>_pre_<qz><qt>_to_<qz><qt>_<uid> (malloc'd) */
    qp_qentry out;              /* target parameters (arrays in the plan's table arena) */
} qp_qmix_conv;
int qp_qmix_converters(qp_qtable *t, const qp_calib *c, int algo, qp_qmix_conv **out, int *n);
void qp_qmix_converters_free(qp_qmix_conv *cv, int n);
/* The table as dialect-2 YAML with the converters' out0 entries added. */
int qp_qmix_emit_yaml(FILE *f, const qp_qtable *t, const qp_qmix_conv *cv, int n);

#endif
