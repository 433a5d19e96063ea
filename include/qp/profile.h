/* Target profiles (qpipe-target(5)): which representations each unit of an NPU core runs,
 * its rates, clock and on-chip SRAM, and which precision converters it can execute.  A
 * qp_profile owns everything reachable from it; qp_profile_free releases it.  Built-in
 * targets (common/targets/<NAME>.yml) are compiled into libqpipe. */
#ifndef QP_PROFILE_H
#define QP_PROFILE_H
#include <stddef.h>
#include <stdio.h>

#include "qp/graph.h"
#include "qp/qtable.h"

typedef struct qp_profile qp_profile;

/* A built-in target by name; an unknown name is QP_EUSAGE listing the known ones. */
int qp_profile_load_name(const char *name, qp_profile **out);
/* A target YAML file (strict: file:line:column errors, QP_EUSAGE). */
int qp_profile_load_file(const char *path, qp_profile **out);
/* The same from memory; name is used in messages. */
int qp_profile_parse(const char *buf, size_t len, const char *name, qp_profile **out);
void qp_profile_free(qp_profile *p);
const char *qp_profile_name(const qp_profile *p);

/* 0 if every layer's representation is legal on the target and every precision boundary is
 * a converter the target executes; else QP_EINPUT with a message naming the layer key, op,
 * representation, unit and what that unit allows (the first illegal layer in graph order,
 * and how many more there are). */
int qp_profile_check(const qp_profile *p, const qp_graph *g, const qp_qtable *t);

/* Per layer and in total: MACs (nn unit) or elements (tp, ppu), cycles at the unit's rate
 * for the layer's representation, weight and activation traffic in bytes, and the arena
 * size given, as an aligned text table on f.  QP_ESYS on a write error. */
int qp_profile_report(const qp_profile *p, const qp_graph *g, const qp_qtable *t, size_t arena_bytes, FILE *f);

/* ---- introspection (tests, man page, nbgexport --help) ---- */

enum qp_unit { QP_UNIT_NN = 0, QP_UNIT_TP, QP_UNIT_PPU, QP_UNIT_COUNT };
const char *qp_unit_name(int unit);
/* The unit an ONNX op type runs on, or -1 if the op is not in the mapping table. */
int qp_profile_op_unit(const char *op_type);
/* Names of the built-in targets, NULL-terminated. */
const char *const *qp_profile_builtin_names(void);
/* MACs (nn) or elements (tp, ppu) of node ni, 0 if unknown. */
double qp_profile_node_work(const qp_graph *g, int ni);

#endif
