/* Quantization-table arithmetic: float ranges from calibration statistics (the algorithms
 * normal, kl_divergence, moving_average, percentile, mse), quantization parameters from a
 * range, and the sensitivity score of --compute-entropy.  Pure functions on arrays: nothing
 * here allocates beyond its own scratch, prints or keeps a pointer.  The rules are written
 * out in qpipe-quantize(5), RANGES and PARAMETERS. */
#ifndef QP_QTABLE_ALGO_H
#define QP_QTABLE_ALGO_H
#include <stddef.h>
#include <stdint.h>

enum qp_qalgo {
    QP_QALGO_NORMAL = 0,            /* min/max */
    QP_QALGO_KL_DIVERGENCE,
    QP_QALGO_MOVING_AVERAGE,
    QP_QALGO_PERCENTILE,
    QP_QALGO_MSE,
    QP_QALGO_COUNT
};
const char *qp_qalgo_name(int algo);
int qp_qalgo_parse(const char *s);              /* -1 if unknown */

#define QP_QALGO_DEFAULT_PERCENTILE 99.99
#define QP_QALGO_DEFAULT_MA_WEIGHT 0.01
#define QP_QALGO_MSE_STEPS 4096                 /* candidate clipping fractions k/4096 */
/* An all-zero range gets this scale (DFP: the fl of max|x| = 2^-20, clamped). */
#define QP_QALGO_TINY_SCALE (1.0 / 1048576.0)
/* fl of activations and weights (building clamps to it, reading rejects beyond it); biases
 * take fl_in + fl_w, so twice that. */
#define QP_QALGO_FL_MIN (-32)
#define QP_QALGO_FL_MAX 32

/* A histogram of |x| for one sign: count[b] values in [b, b+1) * width, n bins. */
typedef struct qp_qhist {
    const uint64_t *count;
    int n;
    double width;
} qp_qhist;

/* ---- ranges ------------------------------------------------------------------------------- */

/* TensorRT's search: the threshold i * width (i from nq to the last non-empty bin + 1)
 * whose clipped reference distribution has the least KL divergence from its quantization
 * into nq bins (MXNet's merging and smoothing, eps 1e-4).  Thresholds are tried every
 * QP_QALGO_KL_STRIDE bins, then bin by bin around the best (the smallest i on ties).
 * 0 for an empty histogram. */
#define QP_QALGO_KL_STRIDE 16
double qp_qalgo_kl_threshold(qp_qhist h, int nq);
/* The magnitude below which p percent (0 < p <= 100) of the values lie, interpolated
 * linearly inside its bin.  0 for an empty histogram. */
double qp_qalgo_percentile_threshold(qp_qhist h, double p);
/* The clipping fraction a in (0, 1] of the range [min, max] (min <= 0 <= max) that
 * minimises qp_qalgo_expected_mse with levels - 1 steps over [a * min, a * max]
 * (candidates k / QP_QALGO_MSE_STEPS; the smallest on ties).  1 for empty histograms. */
double qp_qalgo_mse_fraction(qp_qhist pos, qp_qhist neg, double min, double max, int64_t levels);
/* Expected squared error per value of quantizing the histogrammed values with step `step`
 * on the representable range [lo, hi] (lo <= 0 <= hi): step^2/12 inside, (|x| - bound)^2
 * outside, values uniform inside each bin.  0 for empty histograms. */
double qp_qalgo_expected_mse(qp_qhist pos, qp_qhist neg, double lo, double hi, double step);
/* Dynamic fixed point under the mse algorithm: the fl among fl0 .. fl0 + QP_QALGO_DFP_MSE_FLS
 * (fl0 = qp_qalgo_dfp_fl(absmax, bits), which holds absmax) that minimises
 * qp_qalgo_expected_mse on DFP's own grid, step 2^-fl over [-2^(bits-1), 2^(bits-1) - 1] steps
 * (the smallest fl on ties).  A continuous clipping fraction rounded up to a power of two, as
 * mse does for the other quantizers, would throw away the bit it tried to win. */
#define QP_QALGO_DFP_MSE_FLS 8
int qp_qalgo_dfp_mse_fl(qp_qhist pos, qp_qhist neg, double absmax, int bits);
/* Mean of x^2 over the histogrammed values (uniform inside each bin). */
double qp_qalgo_power(qp_qhist pos, qp_qhist neg);
/* Exponential moving average over batches of batch samples in the given order:
 * m = b_1, then m = (1 - w) * m + w * b_k, where b_k is the batch's extreme over its
 * samples with finite extremes (batches without one are skipped).  *min and *max are left
 * as they are when no batch counts. */
void qp_qalgo_moving_average(const float *sample_min, const float *sample_max, int64_t n,
                             int batch, double weight, double *min, double *max);

/* ---- parameters (qp/requant.h does the rounding) ------------------------------------------- */

/* Asymmetric: [min, max] widened to include 0, scale = (max - min) / (qmax - qmin),
 * zp = clamp(rtne(qmin - min / scale)); an all-zero range gives QP_QALGO_TINY_SCALE and
 * zp = qmin.  -1 if the scale is not finite. */
int qp_qalgo_asymmetric(double min, double max, int64_t qmin, int64_t qmax, double *scale, int32_t *zp);
/* Symmetric: scale = absmax / qmax (QP_QALGO_TINY_SCALE for 0).  -1 if not finite. */
int qp_qalgo_symmetric(double absmax, int64_t qmax, double *scale);
/* Dynamic fixed point: fl = bits - 1 - ceil(log2(absmax)), clamped to
 * [QP_QALGO_FL_MIN, QP_QALGO_FL_MAX]; absmax 0 counts as 2^-20. */
int qp_qalgo_dfp_fl(double absmax, int bits);

/* ---- output ------------------------------------------------------------------------------- */

/* Shortest decimal that reads back as exactly x ("%.15g" to "%.17g"), always with a '.'
 * so that YAML 1.1 readers take it as a float ("1.0", "1.0e-05").  x finite. */
char *qp_qalgo_format_double(char *buf, size_t n, double x);

#endif
