/* The .quantize YAML of qpipe-quantize(5) on memory and on open files: the parser reads both
 * Acuity dialects strictly (libyaml events into a checked tree: duplicate keys, anchors,
 * aliases, tags and several documents are refused, every number goes through strtod/strtol
 * with its line:column); the emitter writes dialect 2 so that write -> read -> write is
 * byte-identical.  qp_qtable_read_yaml/qp_qtable_write_yaml (qp/qtable.h) wrap these. */
#ifndef QP_QTABLE_YAML_H
#define QP_QTABLE_YAML_H
#include <stddef.h>
#include <stdio.h>

#include "qp/qtable.h"
#include "qp/yamltree.h"

#define QP_QTABLE_YAML_MAX_FILE ((size_t)256 << 20)

/* name is used in messages ("name:line:col: ..."); buf need not be NUL-terminated.  The
 * table is bound to g and complete (qp_qtable_check_complete); *out is the caller's. */
/* The format's reader settings for qp_yaml_parse (nodes in a, messages naming name). */
void qp_qtable_yaml_init(qp_yaml *y, qp_arena *a, const char *name);
int qp_qtable_parse_yaml(const void *buf, size_t len, const char *name, const qp_graph *g,
                         qp_qtable **out);
/* Writes dialect 2; the caller owns f (qp_outfile for an atomic file).  QP_EUSAGE if an
 * entry cannot be written (a non-finite number), QP_ESYS on a write error. */
int qp_qtable_emit_yaml(FILE *f, const qp_qtable *t);
/* One entry of quantize_parameters under key, in that layout (qmix adds its converters). */
int qp_qtable_emit_entry(FILE *f, const char *key, const qp_qentry *e);

#endif
