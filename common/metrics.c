/* Tensor similarity metrics (qp/metrics.h), shared by tsim and qinfer --analyze so their
 * figures agree to the last digit. */
#include <math.h>

#include "qp/metrics.h"

void qp_ksum_add(qp_ksum *k, double v)
{
    double t = k->s + v;
    if (fabs(k->s) >= fabs(v))
        k->c += (k->s - t) + v;
    else
        k->c += (v - t) + k->s;
    k->s = t;
}

double qp_ksum_value(const qp_ksum *k) { return k->s + k->c; }

void qp_metrics_add(qp_metrics_acc *a, double ref, double x)
{
    double d = ref - x;
    qp_ksum_add(&a->dot, ref * x);
    qp_ksum_add(&a->nref, ref * ref);
    qp_ksum_add(&a->nx, x * x);
    qp_ksum_add(&a->se, d * d);
    qp_ksum_add(&a->ae, fabs(d));
    if (fabs(d) > a->maxabs)
        a->maxabs = fabs(d);
    a->count++;
}

void qp_metrics_add_f32(qp_metrics_acc *a, const float *ref, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        qp_metrics_add(a, ref[i], x[i]);
}

qp_metrics qp_metrics_get(const qp_metrics_acc *a)
{
    qp_metrics m;
    double sa = qp_ksum_value(&a->nref), sb = qp_ksum_value(&a->nx), noise = qp_ksum_value(&a->se);
    if (sa == 0 && sb == 0)
        m.cos = 1;
    else if (sa == 0 || sb == 0)
        m.cos = 0;
    else
        m.cos = qp_ksum_value(&a->dot) / (sqrt(sa) * sqrt(sb));
    if (m.cos > 1)
        m.cos = 1;
    if (m.cos < -1)
        m.cos = -1;
    m.euc = sqrt(noise);
    m.maxabs = a->maxabs;
    m.meanabs = a->count ? qp_ksum_value(&a->ae) / (double)a->count : 0;
    if (noise == 0)
        m.sqnr = INFINITY;
    else if (sa == 0)
        m.sqnr = -INFINITY;
    else
        m.sqnr = 10 * log10(sa / noise);
    return m;
}
