/* The IR record codec: reads a whole stream into a qp_graph (caller frees it with
 * qp_graph_free) and writes a graph as a stream.  See qpipe-ir(5). */
#ifndef QP_IR_H
#define QP_IR_H
#include <stdio.h>

#include "qp/graph.h"

#define QP_IR_MAGIC "qpipe-ir"
#define QP_IR_VERSION_MAJOR 1
#define QP_IR_VERSION_MINOR 0

/* name appears in messages.  Validates everything (see qpipe-ir(5), READERS REJECT). */
int qp_ir_read(FILE *in, const char *name, qp_graph **out);
/* Writes g (header with g's history, values, nodes, io, sections, end). */
int qp_ir_write(FILE *out, const char *name, const qp_graph *g);

#endif
