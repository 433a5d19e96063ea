/* Per-layer error of a quantized table against the float run (RKNN-Toolkit2's accuracy
 * analysis on the integer simulator): per layer, over the samples, the "entire" error (the
 * quantized run from the model input, so error accumulates) and the "single" error (the layer
 * alone: the float run's inputs quantized with the layer's input parameters, its integer rule,
 * dequantized), both against the float run.  Rows are the caller's (free()). */
#ifndef QP_ANALYZE_H
#define QP_ANALYZE_H

#include "qp/graph.h"
#include "qp/qtable.h"
#include "qp/samples.h"

/* Sums over the samples of each metric (the formulas of tsim(1)), and how many. */
typedef struct qp_analyze_sum {
    double cos, euc, sqnr;
    int n;
} qp_analyze_sum;

typedef struct qp_analyze_row {
    int ni;
    qp_analyze_sum e, s;    /* entire, single */
    int quant;              /* output 0 is held quantized (a candidate for another precision) */
} qp_analyze_row;

/* Means over the samples (0 samples: zeros). */
typedef struct qp_analyze_mean {
    double cos, euc, sqnr;
} qp_analyze_mean;
qp_analyze_mean qp_analyze_get(const qp_analyze_sum *s);

/* Called after each sample (i of n) when not NULL. */
typedef void (*qp_analyze_progress)(void *ctx, int i, int n);

/* Analyses g with table t over samples [0, iterations) of io: rows[ni] for every node, in
 * graph order.  One float run per sample drives two layer-by-layer quantized executors. */
int qp_analyze_run(const qp_graph *g, const qp_qtable *t, qp_samples *io, int iterations,
                   qp_analyze_progress progress, void *ctx, qp_analyze_row **rows);

/* qsort comparators: lowest entire cosine first; lowest single cosine, then SQNR, first;
 * ties in graph order. */
int qp_analyze_cmp_entire(const void *a, const void *b);
int qp_analyze_cmp_single(const void *a, const void *b);

#endif
