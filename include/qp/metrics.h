/* Similarity of a tensor to a reference, as tsim(1) reports it: cosine, Euclidean distance,
 * maximum and mean absolute error, SQNR in dB, over sums kept in double with Neumaier
 * compensation.  Plain values: nothing is allocated. */
#ifndef QP_METRICS_H
#define QP_METRICS_H
#include <stdint.h>

typedef struct qp_ksum {
    double s, c;        /* sum and compensation */
} qp_ksum;

/* Running sums of one comparison; zero-initialize ({0}) to start. */
typedef struct qp_metrics_acc {
    qp_ksum dot, nref, nx, se, ae;
    double maxabs;
    int64_t count;
} qp_metrics_acc;

typedef struct qp_metrics {
    double cos;         /* in [-1, 1]; 1 when both are all zero, 0 when one is */
    double euc;         /* sqrt(sum (ref - x)^2) */
    double maxabs, meanabs;
    double sqnr;        /* 10 log10(sum ref^2 / sum (ref - x)^2); +inf if equal, -inf if ref is 0 */
} qp_metrics;

void qp_ksum_add(qp_ksum *k, double v);
double qp_ksum_value(const qp_ksum *k);
/* One element pair: ref[i] and x[i]. */
void qp_metrics_add(qp_metrics_acc *a, double ref, double x);
void qp_metrics_add_f32(qp_metrics_acc *a, const float *ref, const float *x, int64_t n);
qp_metrics qp_metrics_get(const qp_metrics_acc *a);

#endif
