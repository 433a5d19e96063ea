/* Private to the calib filter: what its main (calib.c) and its merge mode (calib_merge.c)
 * share.  Nothing here allocates beyond what each comment says. */
#ifndef QP_CALIB_CLI_H
#define QP_CALIB_CLI_H
#include <stdint.h>

#include "qp/graph.h"

/* A hash of the graph itself (values, constants, nodes, attributes, inputs and outputs),
 * not of its history or sections: streams of one model compare equal whatever ran on them. */
uint64_t qp_cal_graph_hash(const qp_graph *g);

/* calib --merge FILE...: reads, checks and merges the streams, writes the result; returns
 * only on success. */
int qp_cal_merge(int n_files, char **files, int argc, char **argv);

#endif
