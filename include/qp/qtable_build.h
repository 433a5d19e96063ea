/* Building a quantization table from calibration statistics (qtable(1)): ranges by the chosen
 * algorithm, shared parameters for ops that only move data, parameters per quantizer, the
 * bias rule; and the per-tensor sensitivity ranking of --compute-entropy.  The rules are
 * qpipe-quantize(5).  The caller owns the graph and the statistics; a built table is the
 * caller's to qp_qtable_free; a score list is malloc'd. */
#ifndef QP_QTABLE_BUILD_H
#define QP_QTABLE_BUILD_H

#include "qp/calib.h"
#include "qp/qtable.h"
#include "qp/qtable_algo.h"

typedef struct qp_qtable_opts {
    int quantizer;              /* enum qp_quantizer (not QP_QZ_NONE) */
    int qtype;                  /* QP_DT_*: activations (perchannel: i8) */
    int algorithm;              /* enum qp_qalgo */
    int divergence_nbins;       /* kl_divergence target bins per sign; 0: 2^(bits-1), at most
                                   QP_CALIB_BINS */
    double percentile;          /* (0, 100] */
    double ma_weight;           /* moving_average weight of a new batch, (0, 1] */
    int batch_size;             /* moving_average samples per batch, >= 1 */
} qp_qtable_opts;

/* Defaults: normal, percentile 99.99, moving-average weight 0.01 and batch 1. */
void qp_qtable_opts_init(qp_qtable_opts *o, int quantizer, int qtype);
/* QP_EUSAGE (naming what is allowed) if the quantizer does not take that qtype or an option
 * is out of range. */
int qp_qtable_opts_check(const qp_qtable_opts *o);

/* A complete table for g from c (qp_calib for g).  QP_EINPUT if a tensor that needs an entry
 * has no statistics or an unusable range, naming its key. */
int qp_qtable_build(const qp_graph *g, const qp_calib *c, const qp_qtable_opts *o, qp_qtable **out);

typedef struct qp_qscore {
    qp_qslot slot;
    double score;               /* [0, 1): mse / (mse + mean square), higher is worse */
} qp_qscore;

/* The sensitivity of every quantized activation (":out<k>", from c's histograms; constants
 * from their data) and weight (from the data) of t, at t's own parameters: activations
 * first, then weights, each ascending (ties in graph order), as Acuity's entropy.txt.
 * Float32 entries are left out.  QP_EINPUT if an activation has no statistics. */
int qp_qtable_entropy(const qp_qtable *t, const qp_calib *c, qp_qscore **out, int *n);

#endif
