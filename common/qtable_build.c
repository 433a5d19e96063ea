/* Building a quantization table from calibration statistics, and the sensitivity ranking of
 * --compute-entropy.  Order of work: a range per tensor (the algorithm on the statistics,
 * constants from their data), one union range per group of tensors that data-moving ops
 * tie together (and a layer with the Relu or Clip fused after it), parameters per
 * quantizer, then weights and biases.  qpipe-quantize(5)
 * states every rule; the arithmetic is in qtable_algo.c and requant.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/nn.h"
#include "qp/op.h"
#include "qp/qtable_build.h"
#include "qp/requant.h"

enum { FAM_ASYM, FAM_SYM, FAM_FLOAT };

/* What the table's quantizer/qtype mean for activations and weights. */
struct mode {
    int act_qz, act_qt, w_qz, w_qt, family, bits;
};

static struct mode mode_of(const qp_qtable_opts *o)
{
    struct mode m = {o->quantizer, o->qtype, o->quantizer, o->qtype, FAM_SYM, qp_qtable_qtype_bits(o->qtype)};
    switch (o->quantizer) {
    case QP_QZ_ASYMMETRIC_AFFINE: /* weights: int8, zero point 0 (qpipe(7) section 5) */
        m.family = FAM_ASYM;
        m.w_qt = QP_DT_I8;
        break;
    case QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE:
        if (o->qtype == QP_DT_I16) { /* activations: symmetric int16 per tensor (16-bit layers have zero point 0) */
            m.act_qz = QP_QZ_SYMMETRIC_AFFINE;
            break;
        }
        m.family = FAM_ASYM; /* activations: asymmetric int8 per tensor */
        m.act_qz = QP_QZ_ASYMMETRIC_AFFINE;
        m.act_qt = m.w_qt = QP_DT_I8;
        m.bits = 8;
        break;
    case QP_QZ_BFLOAT16:
    case QP_QZ_FLOAT16:
        m.family = FAM_FLOAT;
        break;
    default:
        break;
    }
    return m;
}

static qp_qtype to_qtype(int dt)
{
    return dt == QP_DT_U8 ? QP_QTYPE_U8 : dt == QP_DT_I8 ? QP_QTYPE_I8 : dt == QP_DT_I16 ? QP_QTYPE_I16
           : dt == QP_DT_I32 ? QP_QTYPE_I32 : QP_QTYPE_I64;
}

void qp_qtable_opts_init(qp_qtable_opts *o, int quantizer, int qtype)
{
    memset(o, 0, sizeof *o);
    o->quantizer = quantizer;
    o->qtype = qtype;
    o->algorithm = QP_QALGO_NORMAL;
    o->percentile = QP_QALGO_DEFAULT_PERCENTILE;
    o->ma_weight = QP_QALGO_DEFAULT_MA_WEIGHT;
    o->batch_size = 1;
}

int qp_qtable_opts_check(const qp_qtable_opts *o)
{
    static const struct {
        int qz;
        int qt[2];
        const char *allowed;
    } rules[] = {
        {QP_QZ_ASYMMETRIC_AFFINE, {QP_DT_U8, QP_DT_I8}, "uint8 or int8"},
        {QP_QZ_SYMMETRIC_AFFINE, {QP_DT_I8, QP_DT_I16}, "int8 or int16"},
        {QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE, {QP_DT_I8, QP_DT_I16}, "int8 or int16"},
        {QP_QZ_DYNAMIC_FIXED_POINT, {QP_DT_I8, QP_DT_I16}, "int8 or int16"},
        {QP_QZ_BFLOAT16, {QP_DT_BF16, QP_DT_BF16}, "bfloat16"},
        {QP_QZ_FLOAT16, {QP_DT_F16, QP_DT_F16}, "float16"},
    };
    int found = 0;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
        if (rules[i].qz == o->quantizer) {
            found = 1;
            if (o->qtype != rules[i].qt[0] && o->qtype != rules[i].qt[1])
                return qp_errorf(QP_EUSAGE, "quantizer '%s' takes qtype %s, not '%s'", qp_quantizer_name(o->quantizer),
                                 rules[i].allowed, qp_qtable_qtype_name(o->qtype));
        }
    if (!found)
        return qp_errorf(QP_EUSAGE, "'%s' is not a quantizer qtable builds with", qp_quantizer_name(o->quantizer));
    if (o->algorithm < 0 || o->algorithm >= QP_QALGO_COUNT)
        return qp_errorf(QP_EUSAGE, "unknown algorithm");
    if (o->divergence_nbins < 0 || o->divergence_nbins > QP_CALIB_BINS)
        return qp_errorf(QP_EUSAGE, "--divergence-nbins %d is not from 1 to %d", o->divergence_nbins, QP_CALIB_BINS);
    if (!(o->percentile > 0 && o->percentile <= 100))
        return qp_errorf(QP_EUSAGE, "--percentile %g is not in (0, 100]", o->percentile);
    if (!(o->ma_weight > 0 && o->ma_weight <= 1))
        return qp_errorf(QP_EUSAGE, "--moving-average-weight %g is not in (0, 1]", o->ma_weight);
    if (o->batch_size < 1)
        return qp_errorf(QP_EUSAGE, "--batch-size %d is not positive", o->batch_size);
    return 0;
}

/* ---- ranges --------------------------------------------------------------------------------- */

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static qp_qhist hist_of(const uint64_t *h, int exp)
{
    static const uint64_t none[1];
    if (!h)
        return (qp_qhist){none, 0, 1};
    return (qp_qhist){h, QP_CALIB_BINS, ldexp(1.0, exp) / QP_CALIB_BINS};
}

static int empty(qp_qhist h)
{
    for (int b = 0; b < h.n; b++)
        if (h.count[b])
            return 0;
    return 1;
}

/* The range of a calibrated tensor under the algorithm. */
static void calib_range(const qp_calib_tensor *ct, const qp_qtable_opts *o, const struct mode *m, uint64_t *abs_scratch,
                        double *lo, double *hi)
{
    double mn = ct->min, mx = ct->max;
    *lo = mn;
    *hi = mx;
    if (m->family == FAM_FLOAT || o->algorithm == QP_QALGO_NORMAL)
        return;
    if (o->algorithm == QP_QALGO_MOVING_AVERAGE) {
        if (ct->n_samples > 0 && ct->sample_min && ct->sample_max)
            qp_qalgo_moving_average(ct->sample_min, ct->sample_max, ct->n_samples, o->batch_size, o->ma_weight, lo, hi);
        return;
    }
    qp_qhist pos = hist_of(ct->hist_pos, ct->hist_exp), neg = hist_of(ct->hist_neg, ct->hist_exp);
    int nq = o->divergence_nbins ? o->divergence_nbins : m->bits - 1 < 12 ? 1 << (m->bits - 1) : QP_CALIB_BINS;
    if (nq > QP_CALIB_BINS)
        nq = QP_CALIB_BINS;
    int64_t qmax = qp_qtype_max(to_qtype(m->act_qt)), qmin = qp_qtype_min(to_qtype(m->act_qt));
    if (m->family == FAM_SYM) {
        double absmax = fmax(fabs(mn), fabs(mx)), T = absmax;
        qp_qhist comb = {abs_scratch, QP_CALIB_BINS, pos.n ? pos.width : neg.width};
        for (int b = 0; b < QP_CALIB_BINS; b++)
            abs_scratch[b] = (pos.n ? pos.count[b] : 0) + (neg.n ? neg.count[b] : 0);
        if (o->algorithm == QP_QALGO_KL_DIVERGENCE)
            T = qp_qalgo_kl_threshold(comb, nq);
        else if (o->algorithm == QP_QALGO_PERCENTILE)
            T = qp_qalgo_percentile_threshold(comb, o->percentile);
        else if (o->algorithm == QP_QALGO_MSE && m->act_qz == QP_QZ_DYNAMIC_FIXED_POINT)
            /* the largest value of the chosen fl's grid: set_activation derives that fl back */
            T = ldexp((double)qmax, -qp_qalgo_dfp_mse_fl(pos, neg, absmax, m->bits));
        else if (o->algorithm == QP_QALGO_MSE)
            T = absmax * qp_qalgo_mse_fraction(pos, neg, -absmax, absmax, 2 * qmax + 1);
        if (T > 0 && T < absmax) {
            *lo = clampd(mn, -T, T);
            *hi = clampd(mx, -T, T);
        }
        return;
    }
    double Tp = mx > 0 ? mx : 0, Tn = mn < 0 ? -mn : 0;
    int both = !empty(pos) && !empty(neg);
    if (o->algorithm == QP_QALGO_KL_DIVERGENCE) {
        int nqs = both ? nq : 2 * nq;
        if (Tp > 0)
            Tp = qp_qalgo_kl_threshold(pos, nqs);
        if (Tn > 0)
            Tn = qp_qalgo_kl_threshold(neg, nqs);
    } else if (o->algorithm == QP_QALGO_PERCENTILE) {
        if (Tp > 0)
            Tp = qp_qalgo_percentile_threshold(pos, o->percentile);
        if (Tn > 0)
            Tn = qp_qalgo_percentile_threshold(neg, o->percentile);
    } else if (o->algorithm == QP_QALGO_MSE) {
        double a = qp_qalgo_mse_fraction(pos, neg, -Tn, Tp, qmax - qmin + 1);
        Tp *= a;
        Tn *= a;
    }
    *lo = clampd(mn, -Tn, Tp);
    *hi = clampd(mx, -Tn, Tp);
}

/* Whether value vi is the output of an op bounded to [0, 1] by construction (Sigmoid,
 * HardSigmoid, Softmax): a probability or a gate, whose values near 1 carry the meaning.
 * The clipping algorithms would cut its rare large values (a detector's text or object
 * pixels among a background near 0) and saturate every detection below the threshold
 * that reads it, so it keeps its calibrated [min, max]. */
static int bounded_output(const qp_graph *g, int vi)
{
    int p = g->values[vi].producer;
    if (p < 0)
        return 0;
    const char *op = g->nodes[p].op_type;
    return !strcmp(op, "Sigmoid") || !strcmp(op, "HardSigmoid") || !strcmp(op, "Softmax");
}

/* Extremes of a constant's data (doubles in *data, malloc'd, when data is not NULL);
 * -1 if an element is not finite. */
static int const_values(const qp_value *v, double **data, size_t *n, double *lo, double *hi)
{
    size_t cnt = 0;
    *lo = *hi = 0;
    if (data)
        *data = NULL;
    if (qp_value_numel(v, &cnt) || !v->data)
        return -1;
    double *d = qp_malloc((cnt ? cnt : 1) * sizeof *d);
    if (!d)
        return -2;
    qp_tensor t = qp_value_tensor(v);
    qp_tensor_get_f64(&t, d);
    for (size_t i = 0; i < cnt; i++) {
        if (!isfinite(d[i])) {
            free(d);
            return -1;
        }
        if (i == 0 || d[i] < *lo)
            *lo = d[i];
        if (i == 0 || d[i] > *hi)
            *hi = d[i];
    }
    if (n)
        *n = cnt;
    if (data)
        *data = d;
    else
        free(d);
    return 0;
}

/* ---- groups of tensors that share parameters ------------------------------------------------ */

static int find(int *p, int x)
{
    while (p[x] != x) {
        p[x] = p[p[x]];
        x = p[x];
    }
    return x;
}

/* Merges the groups of a and b: the root keeps the union range and the narrowest source. */
static void join(int *p, double *lo, double *hi, double *narrow, int a, int b)
{
    a = find(p, a);
    b = find(p, b);
    if (a == b)
        return;
    int r = a < b ? a : b, o = a < b ? b : a;
    p[o] = r;
    lo[r] = fmin(lo[r], lo[o]);
    hi[r] = fmax(hi[r], hi[o]);
    narrow[r] = fmin(narrow[r], narrow[o]);
}

/* What a range costs in precision: the width with 0 included (asymmetric), or max|x|. */
static double width(const struct mode *m, double lo, double hi)
{
    if (m->family == FAM_ASYM)
        return fmax(hi, 0) - fmin(lo, 0);
    return fmax(fabs(lo), fabs(hi));
}

static int is_zero_const(const qp_graph *g, int vi)
{
    if (vi < 0)
        return 1;
    double lo, hi;
    const qp_value *v = &g->values[vi];
    return v->is_const && !const_values(v, NULL, NULL, &lo, &hi) && lo == 0 && hi == 0;
}

/* Which of node ni's inputs share its outputs' parameters: bit j for input j; *all_out says
 * whether every output joins (else only output 0).  0 for ops that compute new values. */
static uint32_t sharing(const qp_graph *g, int ni, int *all_out)
{
    const qp_node *n = &g->nodes[ni];
    const char *op = n->op_type;
    static const char *const movers[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice",
                                         "Gather", "Expand", "Tile", "DepthToSpace", "SpaceToDepth", "Identity",
                                         "Split", NULL};
    static const char *const pickers[] = {"MaxPool", "Dropout", "GlobalMaxPool", "ReduceMax", "ReduceMin", NULL};
    *all_out = 0;
    if (!strcmp(op, "Concat")) {
        *all_out = 1;
        return n->n_in >= 32 ? 0xffffffffu : ((uint32_t)1 << n->n_in) - 1;
    }
    for (int i = 0; movers[i]; i++)
        if (!strcmp(op, movers[i])) {
            *all_out = 1;
            return 1;
        }
    for (int i = 0; pickers[i]; i++)
        if (!strcmp(op, pickers[i]))
            return 1;
    if (!strcmp(op, "Resize") || !strcmp(op, "Upsample")) {
        const char *mode = qp_node_string(n, "mode", "nearest");
        const char *ct = qp_node_string(n, "coordinate_transformation_mode", "half_pixel");
        if (strcmp(mode, "nearest"))
            return 0;
        if (!strcmp(ct, "tf_crop_and_resize") && qp_node_float(n, "extrapolation_value", 0) != 0)
            return 0;
        return 1;
    }
    if (!strcmp(op, "Pad")) {
        const char *mode = qp_node_string(n, "mode", "constant");
        if (strcmp(mode, "constant"))
            return 1; /* reflect, edge: copies */
        if (qp_node_attr(n, "value"))
            return qp_node_float(n, "value", 0) == 0 ? 1 : 0;
        return n->n_in < 3 || is_zero_const(g, n->in[2]) ? 1 : 0;
    }
    return 0;
}

/* ---- entries -------------------------------------------------------------------------------- */

static int set_activation(qp_qtable *t, qp_qentry *e, const struct mode *m, double lo, double hi, const char *key)
{
    e->min = lo;
    e->max = hi;
    if (m->family == FAM_FLOAT)
        return qp_qentry_set(t, e, m->act_qz, m->act_qt, 0, NULL, NULL);
    qp_qtype qt = to_qtype(m->act_qt);
    double s, absmax = fmax(fabs(lo), fabs(hi));
    int32_t zp = 0;
    int bad = 0;
    if (m->act_qz == QP_QZ_ASYMMETRIC_AFFINE)
        bad = qp_qalgo_asymmetric(lo, hi, qp_qtype_min(qt), qp_qtype_max(qt), &s, &zp);
    else if (m->act_qz == QP_QZ_SYMMETRIC_AFFINE)
        bad = qp_qalgo_symmetric(absmax, qp_qtype_max(qt), &s);
    else {
        e->fl = qp_qalgo_dfp_fl(absmax, m->bits);
        s = qp_qparams_dfp(qt, e->fl).scale;
    }
    if (bad)
        return qp_errorf(QP_EINPUT, "the range [%g, %g] of '%s' is too wide to quantize", lo, hi, key);
    return qp_qentry_set(t, e, m->act_qz, m->act_qt, 1, &s, &zp);
}

static int set_weight(qp_qtable *t, int ni, const struct mode *m, const char *key)
{
    const qp_graph *g = t->g;
    const qp_value *v = &g->values[g->nodes[ni].in[1]];
    qp_qentry *e = &t->weight[ni];
    double *d, lo, hi;
    size_t n;
    int rc = const_values(v, &d, &n, &lo, &hi);
    if (rc)
        return rc == -2 ? QP_ESYS : qp_errorf(QP_EINPUT, "the weight '%s' has a value that is not finite", key);
    e->min = lo;
    e->max = hi;
    double absmax = fmax(fabs(lo), fabs(hi)), s;
    qp_qtype qt = to_qtype(m->w_qt);
    int64_t qmax = qp_qtype_max(qt);
    if (m->family == FAM_FLOAT) {
        rc = qp_qentry_set(t, e, m->w_qz, m->w_qt, 0, NULL, NULL);
    } else if (m->w_qz == QP_QZ_DYNAMIC_FIXED_POINT) {
        e->fl = qp_qalgo_dfp_fl(absmax, m->bits);
        s = qp_qparams_dfp(qt, e->fl).scale;
        rc = qp_qentry_set(t, e, m->w_qz, m->w_qt, 1, &s, NULL);
    } else {
        int cd = m->w_qz == QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE ? qp_qtable_weight_channel_dim(g, ni) : -1;
        int qz = m->w_qz == QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE && cd < 0 ? QP_QZ_SYMMETRIC_AFFINE : m->w_qz;
        if (cd < 0) {
            if (qp_qalgo_symmetric(absmax, qmax, &s))
                rc = qp_errorf(QP_EINPUT, "the weight '%s' is too large to quantize", key);
            else
                rc = qp_qentry_set(t, e, qz, m->w_qt, 1, &s, NULL);
        } else {
            int C = (int)v->dims[cd];
            size_t inner = 1;
            for (int k = cd + 1; k < v->rank; k++)
                inner *= (size_t)v->dims[k];
            double *cmax = qp_calloc((size_t)C, sizeof *cmax);
            if (!cmax)
                rc = QP_ESYS;
            for (size_t i = 0; !rc && i < n; i++) {
                size_t c = i / inner % (size_t)C;
                if (fabs(d[i]) > cmax[c])
                    cmax[c] = fabs(d[i]);
            }
            for (int c = 0; !rc && c < C; c++) /* an all-zero channel takes the tensor's scale */
                if (qp_qalgo_symmetric(cmax[c] > 0 ? cmax[c] : absmax, qmax, &cmax[c]))
                    rc = qp_errorf(QP_EINPUT, "the weight '%s' is too large to quantize", key);
            if (!rc && !(rc = qp_qentry_set(t, e, qz, m->w_qt, C, cmax, NULL)))
                e->channel_dim = cd;
            free(cmax);
        }
    }
    free(d);
    return rc;
}

static int set_bias(qp_qtable *t, int ni, const struct mode *m, const char *key)
{
    const qp_graph *g = t->g;
    const qp_node *nd = &g->nodes[ni];
    const qp_value *v = &g->values[nd->in[2]];
    qp_qentry *e = &t->bias[ni];
    const qp_qentry *in = nd->in[0] >= 0 ? &t->value[nd->in[0]] : NULL, *w = &t->weight[ni];
    double lo, hi;
    int rc = const_values(v, NULL, NULL, &lo, &hi);
    if (rc)
        return rc == -2 ? QP_ESYS : qp_errorf(QP_EINPUT, "the bias '%s' has a value that is not finite", key);
    e->min = lo;
    e->max = hi;
    if (m->family == FAM_FLOAT)
        return qp_qentry_set(t, e, m->w_qz, m->w_qt, 0, NULL, NULL);
    if (!in || !in->scale || !w->scale)
        return qp_errorf(QP_EINPUT, "the bias '%s' has no quantized input or weight to take its scale from", key);
    int qt = qp_qtable_qtype_bits(in->qtype) <= 8 ? QP_DT_I32 : QP_DT_I64;
    if (w->quantizer == QP_QZ_DYNAMIC_FIXED_POINT) {
        e->fl = in->fl + w->fl;
        double s = ldexp(1.0, -e->fl);
        return qp_qentry_set(t, e, w->quantizer, qt, 1, &s, NULL);
    }
    double *s = qp_arena_array(t->arena, (size_t)w->n, sizeof *s);
    if (!s)
        return QP_ESYS;
    for (int c = 0; c < w->n; c++)
        s[c] = in->scale[0] * w->scale[c];
    if ((rc = qp_qentry_set(t, e, w->quantizer, qt, w->n, s, NULL)))
        return rc;
    if (w->n > 1)
        e->channel_dim = v->rank - 1;
    return 0;
}

int qp_qtable_build(const qp_graph *g, const qp_calib *c, const qp_qtable_opts *o, qp_qtable **out)
{
    *out = NULL;
    int rc = qp_qtable_opts_check(o);
    if (rc)
        return rc;
    struct mode m = mode_of(o);
    qp_qslot *slots;
    int ns;
    if ((rc = qp_qtable_slots(g, &slots, &ns)))
        return rc;
    qp_qtable *t = qp_qtable_new(g);
    size_t nv = (size_t)g->n_values + 1;
    double *lo = qp_calloc(nv, sizeof *lo), *hi = qp_calloc(nv, sizeof *hi), *narrow = qp_calloc(nv, sizeof *narrow);
    unsigned char *has = qp_calloc(nv, 1);
    int *parent = qp_calloc(nv, sizeof *parent);
    uint64_t *scratch = qp_calloc(QP_CALIB_BINS, sizeof *scratch);
    char key[1100];
    if (!t || !lo || !hi || !narrow || !has || !parent || !scratch)
        rc = QP_ESYS;
    /* 1. a range per activation */
    for (int i = 0; !rc && i < ns; i++) {
        if (slots[i].port != QP_QPORT_VALUE || !slots[i].required)
            continue;
        int vi = slots[i].index;
        const qp_value *v = &g->values[vi];
        qp_qtable_key(g, slots[i], key, sizeof key);
        if (v->is_const) {
            int r = const_values(v, NULL, NULL, &lo[vi], &hi[vi]);
            if (r)
                rc = r == -2 ? QP_ESYS : qp_errorf(QP_EINPUT, "the constant '%s' has a value that is not finite", key);
        } else {
            const qp_calib_tensor *ct = c && c->t && vi < g->n_values ? &c->t[vi] : NULL;
            if (!ct || ct->value != vi || ct->count == 0)
                rc = qp_errorf(QP_EINPUT, "no calibration statistics for '%s' (tensor '%s'): run calib on this stream",
                               key, v->name);
            else if (bounded_output(g, vi)) {
                qp_qtable_opts keep = *o;     /* a probability keeps its calibrated range */
                keep.algorithm = QP_QALGO_NORMAL;
                calib_range(ct, &keep, &m, scratch, &lo[vi], &hi[vi]);
            } else
                calib_range(ct, o, &m, scratch, &lo[vi], &hi[vi]);
        }
        has[vi] = 1;
    }
    /* 2. data-moving ops share one parameter set: groups with the union of their ranges */
    for (size_t vi = 0; !rc && vi < nv; vi++) {
        parent[vi] = (int)vi;
        narrow[vi] = HUGE_VAL;
    }
    for (int vi = 0; !rc && vi < g->n_values; vi++) {
        int p = g->values[vi].producer, all_out;
        if (has[vi] && (p < 0 || !sharing(g, p, &all_out)) && width(&m, lo[vi], hi[vi]) > 0)
            narrow[vi] = width(&m, lo[vi], hi[vi]); /* a source of new values */
    }
    for (int ni = 0; !rc && ni < g->n_nodes; ni++) {
        const qp_node *nd = &g->nodes[ni];
        int all_out;
        uint32_t ins = sharing(g, ni, &all_out);
        int o0 = nd->n_out > 0 ? nd->out[0] : -1;
        if (!ins || o0 < 0 || !has[o0])
            continue;
        for (int k = 1; all_out && k < nd->n_out; k++)
            if (nd->out[k] >= 0 && has[nd->out[k]])
                join(parent, lo, hi, narrow, o0, nd->out[k]);
        if (strcmp(nd->op_type, "Concat")) {     /* a mover: its values are its input's */
            if (nd->in[0] >= 0 && has[nd->in[0]])
                join(parent, lo, hi, narrow, o0, nd->in[0]);
            continue;
        }
        /* Concat: one set with every input that loses at most one bit by the union */
        double ulo = lo[find(parent, o0)], uhi = hi[find(parent, o0)];
        for (int j = 0; j < nd->n_in; j++)
            if (nd->in[j] >= 0 && has[nd->in[j]]) {
                int r = find(parent, nd->in[j]);
                ulo = fmin(ulo, lo[r]);
                uhi = fmax(uhi, hi[r]);
            }
        for (int j = 0; j < nd->n_in; j++)
            if (nd->in[j] >= 0 && has[nd->in[j]] && width(&m, ulo, uhi) <= 2 * narrow[find(parent, nd->in[j])])
                join(parent, lo, hi, narrow, o0, nd->in[j]);
    }
    /* 2b. a fused activation: a new tensor read only by a Relu or Clip takes the part of its
     * range the clamp keeps and shares the activation's parameters (what is outside is clamped
     * away anyway), so the layer's requantization is the clamp and no value is rounded twice */
    for (int ni = 0; !rc && ni < g->n_nodes; ni++) {
        int all_out, an, y = g->nodes[ni].n_out > 0 ? g->nodes[ni].out[0] : -1;
        double a, b;
        if (y < 0 || !has[y] || sharing(g, ni, &all_out) || qp_nn_match_clamp(g, ni, &an, &a, &b))
            continue;
        int z = g->nodes[an].out[0], r = find(parent, y);
        if (!has[z] || r != y || fmax(lo[y], a) > fmin(hi[y], b))
            continue;
        lo[y] = fmax(lo[y], a);
        hi[y] = fmin(hi[y], b);
        join(parent, lo, hi, narrow, y, z);
    }
    /* 3. parameters, in graph order (a bias needs its input's and weight's) */
    for (int i = 0; !rc && i < ns; i++) {
        if (!slots[i].required)
            continue;
        qp_qtable_key(g, slots[i], key, sizeof key);
        if (slots[i].port == QP_QPORT_VALUE) {
            int r = find(parent, slots[i].index);
            rc = set_activation(t, &t->value[slots[i].index], &m, lo[r], hi[r], key);
        } else if (slots[i].port == QP_QPORT_WEIGHT) {
            rc = set_weight(t, slots[i].index, &m, key);
        }
    }
    for (int i = 0; !rc && i < ns; i++)
        if (slots[i].port == QP_QPORT_BIAS)
            rc = set_bias(t, slots[i].index, &m, qp_qtable_key(g, slots[i], key, sizeof key));
    for (int i = 0; !rc && i < ns; i++) /* the same rules a table read from a file obeys */
        if (slots[i].required && qp_qtable_check_entry(t, slots[i], qp_qtable_entry(t, slots[i])))
            rc = qp_error_prefix(QP_EINPUT, "'%s'", qp_qtable_key(g, slots[i], key, sizeof key));
    if (!rc) {
        t->quantizer = qp_quantizer_name(o->quantizer);
        t->qtype = qp_qtable_qtype_name(o->qtype);
        t->algorithm = qp_qalgo_name(o->algorithm);
    }
    free(slots);
    free(lo);
    free(hi);
    free(narrow);
    free(has);
    free(parent);
    free(scratch);
    if (rc) {
        qp_qtable_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- sensitivity ---------------------------------------------------------------------------- */

static int is_float_qz(int qz)
{
    return qz == QP_QZ_BFLOAT16 || qz == QP_QZ_FLOAT16;
}

/* Squared error of rounding to a float format with mant explicit mantissa bits (bin centres,
 * error uniform over one ulp), plus clipping above max_finite. */
static double float_mse_side(qp_qhist h, int mant, double max_finite, double min_ulp)
{
    double s = 0;
    for (int b = 0; b < h.n; b++) {
        if (!h.count[b])
            continue;
        double c = (b + 0.5) * h.width;
        if (c > max_finite) {
            s += (double)h.count[b] * (c - max_finite) * (c - max_finite);
            continue;
        }
        int e;
        frexp(c, &e); /* c in [2^(e-1), 2^e) */
        double ulp = fmax(ldexp(1.0, e - 1 - mant), min_ulp);
        s += (double)h.count[b] * ulp * ulp / 12;
    }
    return s;
}

static double score_hist(const qp_qentry *e, qp_qhist pos, qp_qhist neg)
{
    double power = qp_qalgo_power(pos, neg), mse;
    if (is_float_qz(e->quantizer)) {
        uint64_t tp = 0;
        for (int b = 0; b < pos.n; b++)
            tp += pos.count[b];
        for (int b = 0; b < neg.n; b++)
            tp += neg.count[b];
        int bf = e->quantizer == QP_QZ_BFLOAT16;
        double mx = bf ? 3.3895313892515355e38 : 65504, mu = bf ? ldexp(1, -133) : ldexp(1, -24);
        int mant = bf ? 7 : 10;
        mse = tp ? (float_mse_side(pos, mant, mx, mu) + float_mse_side(neg, mant, mx, mu)) / (double)tp : 0;
    } else {
        qp_qtype qt = to_qtype(e->qtype);
        double s = e->scale[0], z = e->zero_point[0];
        double lo = s * ((double)qp_qtype_min(qt) - z), hi = s * ((double)qp_qtype_max(qt) - z);
        mse = qp_qalgo_expected_mse(pos, neg, fmin(lo, 0), fmax(hi, 0), s);
    }
    return mse + power > 0 ? mse / (mse + power) : 0;
}

static double score_data(const qp_qentry *e, const qp_value *v)
{
    double *d, lo, hi;
    size_t n;
    if (const_values(v, &d, &n, &lo, &hi))
        return 0;
    size_t inner = 1, C = 1;
    if (e->n > 1 && e->channel_dim >= 0) {
        C = (size_t)e->n;
        for (int k = e->channel_dim + 1; k < v->rank; k++)
            inner *= (size_t)v->dims[k];
    }
    qp_qtype qt = to_qtype(e->qtype);
    int32_t qmin = (int32_t)qp_qtype_min(qt), qmax = (int32_t)qp_qtype_max(qt);
    double mse = 0, power = 0;
    for (size_t i = 0; i < n; i++) {
        double x = d[i], r;
        if (e->quantizer == QP_QZ_BFLOAT16)
            r = qp_bf16_to_f32(qp_f32_to_bf16((float)x));
        else if (e->quantizer == QP_QZ_FLOAT16)
            r = qp_f16_to_f32(qp_f32_to_f16((float)x));
        else {
            size_t c = e->n > 1 ? i / inner % C : 0;
            int32_t q = qp_quantize_clamp(x, e->scale[c], e->zero_point[c], qmin, qmax);
            r = e->scale[c] * ((double)q - e->zero_point[c]);
        }
        mse += (x - r) * (x - r);
        power += x * x;
    }
    free(d);
    return mse + power > 0 ? mse / (mse + power) : 0;
}

/* A score and its slot's place in graph order, for ties. */
struct ranked {
    qp_qscore s;
    int rank;
};

static int cmp_score(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    int wx = x->s.slot.port != QP_QPORT_VALUE, wy = y->s.slot.port != QP_QPORT_VALUE;
    if (wx != wy)
        return wx - wy;
    if (x->s.score != y->s.score)
        return x->s.score < y->s.score ? -1 : 1;
    return x->rank - y->rank;
}

int qp_qtable_entropy(const qp_qtable *t, const qp_calib *c, qp_qscore **out, int *n)
{
    const qp_graph *g = t->g;
    qp_qslot *s;
    int ns, rc = qp_qtable_slots(g, &s, &ns), k = 0;
    *out = NULL;
    *n = 0;
    if (rc)
        return rc;
    struct ranked *r = qp_calloc((size_t)ns + 1, sizeof *r);
    qp_qscore *sc = qp_calloc((size_t)ns + 1, sizeof *sc);
    char key[1100];
    if (!r || !sc)
        rc = QP_ESYS;
    for (int i = 0; !rc && i < ns; i++) {
        const qp_qentry *e = qp_qtable_entry(t, s[i]);
        if (!qp_qentry_present(e) || e->quantizer == QP_QZ_NONE || s[i].port == QP_QPORT_BIAS)
            continue;
        double score;
        if (s[i].port == QP_QPORT_WEIGHT) {
            score = score_data(e, &g->values[g->nodes[s[i].index].in[1]]);
        } else if (g->values[s[i].index].is_const) {
            score = score_data(e, &g->values[s[i].index]);
        } else {
            int vi = s[i].index;
            const qp_calib_tensor *ct = c && c->t ? &c->t[vi] : NULL;
            if (!ct || ct->value != vi || ct->count == 0) {
                rc = qp_errorf(QP_EINPUT, "no calibration statistics for '%s': run calib on this stream",
                               qp_qtable_key(g, s[i], key, sizeof key));
                break;
            }
            score = score_hist(e, hist_of(ct->hist_pos, ct->hist_exp), hist_of(ct->hist_neg, ct->hist_exp));
        }
        r[k++] = (struct ranked){{s[i], score}, i};
    }
    if (!rc) {
        qsort(r, (size_t)k, sizeof *r, cmp_score);
        for (int i = 0; i < k; i++)
            sc[i] = r[i].s;
    }
    free(s);
    free(r);
    if (rc) {
        free(sc);
        return rc;
    }
    *out = sc;
    *n = k;
    return 0;
}
