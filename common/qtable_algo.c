/* Quantization-table arithmetic: ranges from calibration histograms, parameters from
 * ranges, the sensitivity score.  Rounding goes through qp/requant.h so that qtable, qmix
 * and qinfer agree bit for bit. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/qtable_algo.h"
#include "qp/requant.h"

static const char *const algo_names[] = {
    [QP_QALGO_NORMAL] = "normal",
    [QP_QALGO_KL_DIVERGENCE] = "kl_divergence",
    [QP_QALGO_MOVING_AVERAGE] = "moving_average",
    [QP_QALGO_PERCENTILE] = "percentile",
    [QP_QALGO_MSE] = "mse",
};
_Static_assert(sizeof algo_names / sizeof *algo_names == QP_QALGO_COUNT, "name every algorithm");

const char *qp_qalgo_name(int algo)
{
    return algo >= 0 && algo < QP_QALGO_COUNT ? algo_names[algo] : "?";
}

int qp_qalgo_parse(const char *s)
{
    for (int i = 0; i < QP_QALGO_COUNT; i++)
        if (!strcmp(s, algo_names[i]))
            return i;
    return -1;
}

static int last_nonempty(qp_qhist h, uint64_t *total)
{
    int last = -1;
    uint64_t t = 0;
    for (int b = 0; b < h.n; b++)
        if (h.count[b]) {
            last = b;
            t += h.count[b];
        }
    if (total)
        *total = t;
    return last;
}

/* ---- kl_divergence -------------------------------------------------------------------------- */

/* MXNet's _smooth_distribution on counts: eps to the empty bins, taken back evenly from the
 * others.  -1 if every bin is empty or the correction would empty a bin. */
static int smooth(double *p, int n)
{
    const double eps = 1e-4;
    int zeros = 0;
    for (int j = 0; j < n; j++)
        zeros += p[j] == 0;
    if (zeros == n)
        return -1;
    double eps1 = eps * zeros / (n - zeros);
    if (eps1 >= 1.0)
        return -1;
    for (int j = 0; j < n; j++)
        p[j] = p[j] == 0 ? eps : p[j] - eps1;
    return 0;
}

/* KL(p || q) of the two count vectors, each normalised. */
static double kl(double *p, double *q, int n)
{
    if (smooth(p, n) || smooth(q, n))
        return HUGE_VAL;
    double sp = 0, sq = 0, d = 0;
    for (int j = 0; j < n; j++)
        sp += p[j], sq += q[j];
    for (int j = 0; j < n; j++) {
        double a = p[j] / sp, b = q[j] / sq;
        d += a * log(a / b);
    }
    return d;
}

/* The divergence of threshold i (bins [0, i), outliers folded into bin i - 1). */
static double kl_at(qp_qhist h, int nq, int i, double *p, double *q, const uint64_t *outl)
{
    for (int j = 0; j < i; j++)
        p[j] = (double)h.count[j];
    p[i - 1] += (double)outl[i];
    int merged = i / nq;
    for (int grp = 0; grp < nq; grp++) {
        int start = grp * merged, stop = grp == nq - 1 ? i : start + merged, nz = 0;
        double sum = 0;
        for (int j = start; j < stop; j++) {
            sum += (double)h.count[j];
            nz += p[j] != 0;
        }
        for (int j = start; j < stop; j++)
            q[j] = p[j] != 0 && nz ? sum / nz : 0;
    }
    return kl(p, q, i);
}

double qp_qalgo_kl_threshold(qp_qhist h, int nq)
{
    int last = last_nonempty(h, NULL);
    if (last < 0)
        return 0;
    if (nq < 1)
        nq = 1;
    if (last + 1 <= nq)
        return (last + 1) * h.width;
    double *p = malloc(sizeof *p * (size_t)(last + 1) * 2);
    uint64_t *outl = malloc(sizeof *outl * (size_t)(last + 2));
    if (!p || !outl) {
        free(p);
        free(outl);
        return (last + 1) * h.width; /* no scratch: no clipping */
    }
    double *q = p + last + 1;
    outl[last + 1] = 0;
    for (int b = last; b >= 0; b--)
        outl[b] = outl[b + 1] + h.count[b];
    /* every QP_QALGO_KL_STRIDE-th threshold, then bin by bin around the best of those */
    int best_i = last + 1;
    double best = kl_at(h, nq, last + 1, p, q, outl);
    for (int pass = 0; pass < 2; pass++) {
        int from = pass ? best_i - QP_QALGO_KL_STRIDE + 1 : nq, to = pass ? best_i + QP_QALGO_KL_STRIDE - 1 : last;
        int step = pass ? 1 : QP_QALGO_KL_STRIDE;
        for (int i = from < nq ? nq : from; i <= to && i <= last + 1; i += step) {
            double d = kl_at(h, nq, i, p, q, outl);
            if (d < best || (d == best && i < best_i)) {
                best = d;
                best_i = i;
            }
        }
    }
    free(p);
    free(outl);
    return best_i * h.width;
}

/* ---- percentile ----------------------------------------------------------------------------- */

double qp_qalgo_percentile_threshold(qp_qhist h, double p)
{
    uint64_t total;
    int last = last_nonempty(h, &total);
    if (last < 0)
        return 0;
    double target = p / 100.0 * (double)total, cum = 0;
    for (int b = 0; b <= last; b++) {
        if (!h.count[b])
            continue;
        double c = (double)h.count[b];
        if (cum + c >= target) {
            double f = (target - cum) / c;
            return (b + (f < 0 ? 0 : f > 1 ? 1 : f)) * h.width;
        }
        cum += c;
    }
    return (last + 1) * h.width;
}

/* ---- mse ------------------------------------------------------------------------------------ */

/* Prefix sums of one side: N[k] = sum of count[b], S1 of count[b] * a_b, S2 of
 * count[b] * a_b^2 over b < k, a_b = b * width the bin's left edge. */
struct side {
    qp_qhist h;
    double *N, *S1, *S2;
};

static int side_init(struct side *s, qp_qhist h)
{
    s->h = h;
    s->N = malloc(sizeof(double) * 3 * (size_t)(h.n + 1));
    if (!s->N)
        return -1;
    s->S1 = s->N + h.n + 1;
    s->S2 = s->S1 + h.n + 1;
    s->N[0] = s->S1[0] = s->S2[0] = 0;
    for (int b = 0; b < h.n; b++) {
        double c = (double)h.count[b], a = b * h.width;
        s->N[b + 1] = s->N[b] + c;
        s->S1[b + 1] = s->S1[b] + c * a;
        s->S2[b + 1] = s->S2[b] + c * a * a;
    }
    return 0;
}

/* Both sides, or neither (-1, nothing to free). */
static int sides_init(struct side *p, struct side *q, qp_qhist pos, qp_qhist neg)
{
    if (side_init(p, pos))
        return -1;
    if (side_init(q, neg)) {
        free(p->N);
        return -1;
    }
    return 0;
}

static void sides_free(struct side *p, struct side *q)
{
    free(p->N);
    free(q->N);
}

/* Values of the side below the bound T (counted fractionally in T's bin), and the summed
 * squared clipping error of those above. */
static void side_eval(const struct side *s, double T, double *inside, double *clip)
{
    int n = s->h.n;
    double w = s->h.width;
    if (n == 0 || w <= 0 || T >= n * w) {
        *inside = n ? s->N[n] : 0;
        *clip = 0;
        return;
    }
    if (T < 0)
        T = 0;
    int k = (int)(T / w);
    if (k >= n)
        k = n - 1;
    double c = (double)s->h.count[k], a = k * w, f = (T - a) / w;
    if (f < 0)
        f = 0;
    if (f > 1)
        f = 1;
    double r = (k + 1) * w - T;
    if (r < 0)
        r = 0;
    *inside = s->N[k] + c * f;
    double e = c * r * r * r / (3 * w);
    double Nn = s->N[n] - s->N[k + 1], s1 = s->S1[n] - s->S1[k + 1], s2 = s->S2[n] - s->S2[k + 1];
    double rest = s2 - 2 * T * s1 + T * T * Nn + w * (s1 - T * Nn) + w * w / 3 * Nn;
    *clip = e + (rest > 0 ? rest : 0);
}

static double eval_mse(const struct side *p, const struct side *q, double lo, double hi, double step, double total)
{
    double ip, cp, in, cn;
    side_eval(p, hi, &ip, &cp);
    side_eval(q, -lo, &in, &cn);
    return ((ip + in) * step * step / 12 + cp + cn) / total;
}

double qp_qalgo_expected_mse(qp_qhist pos, qp_qhist neg, double lo, double hi, double step)
{
    struct side p, q;
    if (sides_init(&p, &q, pos, neg))
        return 0;
    double total = p.N[pos.n] + q.N[neg.n];
    double r = total > 0 ? eval_mse(&p, &q, lo, hi, step, total) : 0;
    sides_free(&p, &q);
    return r;
}

double qp_qalgo_mse_fraction(qp_qhist pos, qp_qhist neg, double min, double max, int64_t levels)
{
    if (!(max - min > 0) || levels < 2)
        return 1;
    struct side p, q;
    if (sides_init(&p, &q, pos, neg))
        return 1;
    double total = p.N[pos.n] + q.N[neg.n], best = HUGE_VAL, best_a = 1;
    for (int k = 1; total > 0 && k <= QP_QALGO_MSE_STEPS; k++) {
        double a = (double)k / QP_QALGO_MSE_STEPS, lo = a * min, hi = a * max;
        double e = eval_mse(&p, &q, lo, hi, (hi - lo) / (double)(levels - 1), total);
        if (e < best) {
            best = e;
            best_a = a;
        }
    }
    sides_free(&p, &q);
    return best_a;
}

int qp_qalgo_dfp_mse_fl(qp_qhist pos, qp_qhist neg, double absmax, int bits)
{
    int fl0 = qp_qalgo_dfp_fl(absmax, bits), best_fl = fl0;
    struct side p, q;
    if (sides_init(&p, &q, pos, neg))
        return fl0;
    double total = p.N[pos.n] + q.N[neg.n], best = HUGE_VAL;
    double top = ldexp(1.0, bits - 1);
    for (int fl = fl0; total > 0 && fl <= fl0 + QP_QALGO_DFP_MSE_FLS && fl <= QP_QALGO_FL_MAX; fl++) {
        double step = ldexp(1.0, -fl);
        double e = eval_mse(&p, &q, -top * step, (top - 1) * step, step, total);
        if (e < best) {
            best = e;
            best_fl = fl;
        }
    }
    sides_free(&p, &q);
    return best_fl;
}

static double side_power(qp_qhist h)
{
    double s = 0;
    for (int b = 0; b < h.n; b++)
        if (h.count[b]) {
            double a = b * h.width, e = a + h.width;
            s += (double)h.count[b] * (a * a + a * e + e * e) / 3;
        }
    return s;
}

double qp_qalgo_power(qp_qhist pos, qp_qhist neg)
{
    uint64_t tp = 0, tn = 0;
    last_nonempty(pos, &tp);
    last_nonempty(neg, &tn);
    return tp + tn ? (side_power(pos) + side_power(neg)) / (double)(tp + tn) : 0;
}

/* ---- moving_average ------------------------------------------------------------------------- */

void qp_qalgo_moving_average(const float *sample_min, const float *sample_max, int64_t n, int batch,
                             double weight, double *min, double *max)
{
    if (batch < 1)
        batch = 1;
    double m = *min, M = *max;
    int first = 1;
    for (int64_t s = 0; s < n; s += batch) {
        double bm = 0, bM = 0;
        int any = 0;
        for (int64_t j = s; j < s + batch && j < n; j++) {
            if (isnan(sample_min[j]) || isnan(sample_max[j]))
                continue; /* a sample without a finite element */
            if (!any || sample_min[j] < bm)
                bm = sample_min[j];
            if (!any || sample_max[j] > bM)
                bM = sample_max[j];
            any = 1;
        }
        if (!any)
            continue;
        if (first) {
            m = bm;
            M = bM;
            first = 0;
        } else {
            m = (1 - weight) * m + weight * bm;
            M = (1 - weight) * M + weight * bM;
        }
    }
    *min = m;
    *max = M;
}

/* ---- parameters ----------------------------------------------------------------------------- */

int qp_qalgo_asymmetric(double min, double max, int64_t qmin, int64_t qmax, double *scale, int32_t *zp)
{
    if (min > 0)
        min = 0;
    if (max < 0)
        max = 0;
    if (!(max - min > 0)) {
        if (max - min != 0)
            return -1; /* NaN */
        *scale = QP_QALGO_TINY_SCALE;
        *zp = (int32_t)qmin;
        return 0;
    }
    double s = (max - min) / (double)(qmax - qmin);
    if (!isfinite(s) || !(s > 0))
        return -1;
    double z = qp_rtne((double)qmin - min / s);
    *scale = s;
    *zp = (int32_t)(z < (double)qmin ? qmin : z > (double)qmax ? qmax : (int64_t)z);
    return 0;
}

int qp_qalgo_symmetric(double absmax, int64_t qmax, double *scale)
{
    if (absmax == 0) {
        *scale = QP_QALGO_TINY_SCALE;
        return 0;
    }
    double s = fabs(absmax) / (double)qmax;
    if (!isfinite(s) || !(s > 0))
        return -1;
    *scale = s;
    return 0;
}

int qp_qalgo_dfp_fl(double absmax, int bits)
{
    absmax = fabs(absmax);
    if (!isfinite(absmax))
        return QP_QALGO_FL_MIN;
    if (absmax == 0)
        absmax = QP_QALGO_TINY_SCALE;
    int e;
    double m = frexp(absmax, &e);       /* absmax = m * 2^e, m in [0.5, 1) */
    int ceil_log2 = m == 0.5 ? e - 1 : e;
    int fl = bits - 1 - ceil_log2;
    return fl < QP_QALGO_FL_MIN ? QP_QALGO_FL_MIN : fl > QP_QALGO_FL_MAX ? QP_QALGO_FL_MAX : fl;
}

/* ---- output --------------------------------------------------------------------------------- */

char *qp_qalgo_format_double(char *buf, size_t n, double x)
{
    char tmp[64];
    if (!isfinite(x)) {
        snprintf(buf, n, "%s", isnan(x) ? ".nan" : x > 0 ? ".inf" : "-.inf");
        return buf;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        double y = strtod(tmp, NULL);
        if (y == x && signbit(y) == signbit(x))
            break;
    }
    /* YAML 1.1 floats need a '.' in the mantissa: "1" -> "1.0", "1e-05" -> "1.0e-05" */
    char *e = strchr(tmp, 'e');
    if (!strchr(tmp, '.')) {
        char out[72];
        if (e)
            snprintf(out, sizeof out, "%.*s.0%s", (int)(e - tmp), tmp, e);
        else
            snprintf(out, sizeof out, "%s.0", tmp);
        snprintf(buf, n, "%s", out);
    } else {
        snprintf(buf, n, "%s", tmp);
    }
    return buf;
}
