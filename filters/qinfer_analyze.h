/* qinfer --analyze: per-layer error of the quantized stream against its float run (private to
 * qinfer; qinfer_analyze.c).  The caller keeps the graph and samples. */
#ifndef QINFER_ANALYZE_H
#define QINFER_ANALYZE_H

#include "qp/graph.h"
#include "qp/samples.h"

struct qinfer_analyze_opts {
    int iterations, suggest, quiet;
    const char *tsv, *svg;
};

/* Runs the analysis and writes its outputs; 0, or a status with the error recorded. */
int qinfer_analyze(const struct qinfer_analyze_opts *o, const qp_graph *g, qp_samples *io);

#endif
