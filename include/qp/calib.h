/* Calibration statistics: per activation tensor (every non-constant value of the graph),
 * the extremes, the per-sample extremes and a histogram of |x| split by sign, gathered by
 * calib(1) over float runs and stored in the IR section "calib".  Statistics merge
 * exactly: any split of the dataset into shards merges to the bytes of a single run.
 * A qp_calib owns all its memory; qp_calib_free releases it. */
#ifndef QP_CALIB_H
#define QP_CALIB_H
#include <stdint.h>

#include "qp/graph.h"
#include "qp/tensorio.h"

#define QP_CALIB_BINS 2048          /* per sign: bins over [0, 2^hist_exp) */

typedef struct qp_calib_tensor {
    int value;                      /* value id in the graph; -1 if not tracked */
    double min, max;                /* over every finite element of every sample */
    int64_t n_samples;
    uint64_t *sample_index;         /* dataset position of each sample, ascending */
    float *sample_min, *sample_max;
    int hist_exp;                   /* bin b covers [b, b+1) * 2^hist_exp / QP_CALIB_BINS */
    uint64_t *hist_pos, *hist_neg;  /* QP_CALIB_BINS each */
    uint64_t count, n_nonfinite;
} qp_calib_tensor;

#define QP_CALIB_EXP_MIN (-160)    /* hist_exp of a tensor without non-zero |x| (below float's 2^-149) */

typedef struct qp_calib {
    const qp_graph *g;
    int64_t n_samples;
    qp_calib_tensor *t;             /* per value id (non-constant values; others have value -1) */
    /* run parameters, stored for qtable; merging requires them equal */
    int batch_size;                 /* qtable's moving average runs over batches of this many samples */
    double moving_average_weight;
    int64_t n_selected;             /* samples the whole run selects (every shard together) */
    struct qp_calib_work *work;     /* private: per-worker scratch of qp_calib_add */
} qp_calib;

qp_calib *qp_calib_new(const qp_graph *g);
void qp_calib_free(qp_calib *c);
/* Adds one sample's tensor for value vi (sample = its dataset position): float32, float16,
 * bfloat16 or float64 (rounded to float32); untracked values (integer, constant) are
 * ignored.  NaN/Inf elements only count in n_nonfinite; a sample without a finite element
 * gets NaN as its sample_min/sample_max.  Adding the same sample twice is an error. */
int qp_calib_add(qp_calib *c, int vi, uint64_t sample, const qp_tensor *x);
/* dst += src (same graph); exact and order-independent; a sample index present in both is
 * an error (overlapping shards). */
int qp_calib_merge(qp_calib *dst, const qp_calib *src);
/* The IR section "calib". */
int qp_calib_load(const qp_graph *g, qp_calib **out);       /* QP_EINPUT if no section */
int qp_calib_store(qp_graph *g, const qp_calib *c);

#endif
