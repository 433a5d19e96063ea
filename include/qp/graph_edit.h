/* Graph rewriting utilities: rewiring uses of a value, dropping dead nodes and values and
 * compacting ids.  They edit the graph in place; the caller owns every array it passes. */
#ifndef QP_GRAPH_EDIT_H
#define QP_GRAPH_EDIT_H

#include "qp/graph.h"

/* Makes every node input and graph output that reads value `from` read `to` instead;
 * returns the number of uses changed. */
int qp_graph_replace_uses(qp_graph *g, int from, int to);

/* Makes node ni write its output oi into value vi (which then has ni as producer); the value
 * it wrote before is left without a producer. */
void qp_graph_set_output(qp_graph *g, int ni, int oi, int vi);

/* Marks the nodes and values the graph outputs depend on: node_live[n_nodes] and
 * value_live[n_values] (either may be NULL).  Nodes flagged in `removed` (may be NULL) count
 * as gone.  Graph inputs are always live. */
int qp_graph_liveness(const qp_graph *g, const unsigned char *removed, unsigned char *node_live,
                      unsigned char *value_live);

/* Removes the nodes flagged in `removed` (may be NULL) and every node and value the graph
 * outputs do not depend on, keeping the order of the rest and renumbering ids.  If vmap is
 * not NULL it receives, for each old value id, the new id or -1 (n_values entries as before
 * the call); nmap likewise for nodes.  Graph inputs are kept even when unused. */
int qp_graph_compact(qp_graph *g, const unsigned char *removed, int *vmap, int *nmap);

/* A value name not yet used in the graph: base itself, else base_1, base_2...  The string
 * lives in the graph's arena (NULL on allocation failure). */
const char *qp_graph_unique_name(qp_graph *g, const char *base);

#endif
