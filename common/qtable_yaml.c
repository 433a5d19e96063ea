/* The .quantize YAML (qpipe-quantize(5)).  Reading walks qp/yamltree.h's strict tree
 * with the dialect's schema, every number converted with strtod/strtoll and every error
 * reported at its file:line:column.  Writing is hand-made dialect 2 in PyYAML's
 * block layout, numbers printed so that they read back exactly. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qp/diag.h"
#include "qp/qtable.h"
#include "qp/qtable_algo.h"
#include "qp/qtable_yaml.h"
#include "qp/requant.h"
#include "qp/tensorio.h"
#include "qp/yamltree.h"

#define MAX_DEPTH 16

/* ---- typed access (qp/yamltree.h) ------------------------------------------------------------ */

static char *q40(char *buf, size_t n, const char *s)
{
    return qp_tensorio_quote(buf, n, s, strlen(s));
}


/* ---- entries -------------------------------------------------------------------------------- */

static const char *const top_keys[] = {"version", "quantize_parameters", "customized_quantize_layers",
                                       "bias_correction", NULL};
static const char *const fields_d1[] = {"dtype", "method", "max_value", "min_value", "zero_point", "scale",
                                        "fl", "qtype", NULL};
static const char *const fields_d2[] = {"qtype", "quantizer", "rounding", "max_value", "min_value", "scale",
                                        "zero_point", "fl", "channel_dim", NULL};

/* One entry as written, before it becomes a qp_qentry. */
struct raw {
    const qp_ynode *key, *qtype_n, *quantizer_n, *scale_n, *zp_n, *fl_n, *cd_n, *max_n, *min_n;
    int qtype, quantizer, method_channel, has_method, n_scale, n_zp, n_fl, n_max, n_min, scale_list;
    double *scale, *maxv, *minv;
    int64_t *zp, *fl, cd;
};

static int parse_fields(const qp_yaml *P, int dialect, const qp_ynode *map, struct raw *r)
{
    char q[64];
    const char *const *known = dialect == 1 ? fields_d1 : fields_d2;
    const char *const *other = dialect == 1 ? fields_d2 : fields_d1;
    int rc;
    r->cd = -1;
    r->quantizer = -1;
    for (int i = 0; i < map->n; i++) {
        const qp_ynode *k = map->k[2 * i], *v = map->k[2 * i + 1];
        const char *f = k->v;
        if (!qp_yaml_in_list(f, known)) {
            if (qp_yaml_in_list(f, other))
                return qp_yaml_errorf(P, k->line, k->col, "field '%s' belongs to dialect %d (%s)", q40(q, sizeof q, f),
                            3 - dialect, dialect == 1 ? "add 'version: 2'" : "this file says 'version: 2'");
            return qp_yaml_errorf(P, k->line, k->col, "unknown field '%s' in '%s' (did you mean '%s'?)", q40(q, sizeof q, f),
                        r->key->v, qp_yaml_nearest(f, known, -1));
        }
        if (!strcmp(f, "qtype")) {
            const char *s;
            if ((rc = qp_yaml_to_str(P, v, f, 0, &s)))
                return rc;
            if (!(r->qtype = qp_qtable_qtype_parse(s)))
                return qp_yaml_errorf(P, v->line, v->col,
                            "unknown qtype '%s' (allowed: u8 i8 i16 i32 i64 bf16 f16 f32, or uint8 int8 int16 int32 "
                            "int64 bfloat16 float16 float32)",
                            q40(q, sizeof q, s));
            r->qtype_n = v;
        } else if (!strcmp(f, "quantizer") || !strcmp(f, "dtype")) {
            const char *s;
            if ((rc = qp_yaml_to_str(P, v, f, 0, &s)))
                return rc;
            if ((r->quantizer = qp_quantizer_parse(s)) < 0)
                return qp_yaml_errorf(P, v->line, v->col,
                            "unknown quantizer '%s' (allowed: asymmetric_affine, symmetric_affine, "
                            "perchannel_symmetric_affine, dynamic_fixed_point, bfloat16, float16, float32)",
                            q40(q, sizeof q, s));
            r->quantizer_n = v;
        } else if (!strcmp(f, "rounding")) {
            const char *s;
            if ((rc = qp_yaml_to_str(P, v, f, 0, &s)))
                return rc;
            if (strcmp(s, "rtne"))
                return qp_yaml_errorf(P, v->line, v->col, "rounding '%s' is not supported (only rtne: qpipe(7))",
                            q40(q, sizeof q, s));
        } else if (!strcmp(f, "method")) {
            const char *s;
            if ((rc = qp_yaml_to_str(P, v, f, 0, &s)))
                return rc;
            if (strcmp(s, "layer") && strcmp(s, "channel"))
                return qp_yaml_errorf(P, v->line, v->col, "method '%s' is not layer or channel", q40(q, sizeof q, s));
            r->has_method = 1;
            r->method_channel = !strcmp(s, "channel");
        } else if (!strcmp(f, "max_value")) {
            int l;
            if ((rc = qp_yaml_to_nums(P, v, f, QP_YAML_NULL_OK, &r->maxv, &r->n_max, &l)))
                return rc;
            r->max_n = v;
        } else if (!strcmp(f, "min_value")) {
            int l;
            if ((rc = qp_yaml_to_nums(P, v, f, QP_YAML_NULL_OK, &r->minv, &r->n_min, &l)))
                return rc;
            r->min_n = v;
        } else if (!strcmp(f, "scale")) {
            if ((rc = qp_yaml_to_nums(P, v, f, QP_YAML_NULL_OK, &r->scale, &r->n_scale, &r->scale_list)))
                return rc;
            for (int c = 0; c < r->n_scale; c++)
                if (!(r->scale[c] > 0))
                    return qp_yaml_errorf(P, v->line, v->col, "scale %s must be positive",
                                qp_qalgo_format_double(q, sizeof q, r->scale[c]));
            r->scale_n = v;
        } else if (!strcmp(f, "zero_point")) {
            if ((rc = qp_yaml_to_ints(P, v, f, QP_YAML_NULL_OK, INT32_MIN, INT32_MAX, &r->zp, &r->n_zp)))
                return rc;
            r->zp_n = v;
        } else if (!strcmp(f, "fl")) {
            if ((rc = qp_yaml_to_ints(P, v, f, QP_YAML_NULL_OK, 2 * QP_QALGO_FL_MIN, 2 * QP_QALGO_FL_MAX, &r->fl, &r->n_fl)))
                return rc;
            if (r->n_fl > 1)
                return qp_yaml_errorf(P, v->line, v->col, "'fl' must be one integer, not %d", r->n_fl);
            r->fl_n = v;
        } else if (!strcmp(f, "channel_dim")) {
            if (!qp_yaml_is_null(v) && (rc = qp_yaml_to_int(P, v, f, 0, 7, &r->cd)))
                return rc;
            r->cd_n = v;
        }
    }
    if (!r->qtype_n)
        return qp_yaml_errorf(P, r->key->line, r->key->col, "'%s' lacks 'qtype'", r->key->v);
    if (!r->quantizer_n)
        return qp_yaml_errorf(P, r->key->line, r->key->col, "'%s' lacks '%s'", r->key->v, dialect == 1 ? "dtype" : "quantizer");
    if (r->n_zp && r->n_scale && r->n_zp != r->n_scale)
        return qp_yaml_errorf(P, r->zp_n->line, r->zp_n->col, "%d zero points for %d scales", r->n_zp, r->n_scale);
    if (!r->n_max != !r->n_min) {
        const qp_ynode *at = r->max_n ? r->max_n : r->min_n ? r->min_n : r->key;
        return qp_yaml_errorf(P, at->line, at->col, "'%s' has %s but no %s", r->key->v, r->n_max ? "max_value" : "min_value",
                    r->n_max ? "min_value" : "max_value");
    }
    if (r->has_method && !r->method_channel && r->n_scale > 1)
        return qp_yaml_errorf(P, r->scale_n->line, r->scale_n->col, "method 'layer' with %d scales", r->n_scale);
    return 0;
}

/* The representable range of an integer entry, for entries written without min/max. */
static void params_range(const qp_qentry *e, double *lo, double *hi)
{
    int bits = qp_qtable_qtype_bits(e->qtype);
    double qmin = e->qtype == QP_DT_U8 ? 0 : -ldexp(1, bits - 1), qmax = e->qtype == QP_DT_U8 ? 255 : ldexp(1, bits - 1) - 1;
    *lo = *hi = 0;
    for (int c = 0; c < e->n; c++) {
        double a = e->scale[c] * (qmin - e->zero_point[c]), b = e->scale[c] * (qmax - e->zero_point[c]);
        if (a < *lo)
            *lo = a;
        if (b > *hi)
            *hi = b;
    }
}

static void data_range(const qp_value *v, double *lo, double *hi)
{
    size_t n = 0;
    *lo = *hi = 0;
    if (!v || !v->data || qp_value_numel(v, &n) || !n)
        return;
    qp_tensor t = qp_value_tensor(v);
    double *d = malloc(n * sizeof *d);
    if (!d)
        return;
    qp_tensor_get_f64(&t, d);
    int first = 1;
    for (size_t i = 0; i < n; i++)
        if (isfinite(d[i])) {
            if (first || d[i] < *lo)
                *lo = d[i];
            if (first || d[i] > *hi)
                *hi = d[i];
            first = 0;
        }
    free(d);
}

struct ctx {
    const qp_yaml *P;
    qp_qtable *t;
    int dialect;
    const qp_ynode **where_v, **where_w, **where_b; /* the key of each slot's entry */
    struct raw *pending;                                 /* biases to derive */
    qp_qslot *pending_slot;
    int n_pending;
};

static const qp_ynode **where_of(struct ctx *C, qp_qslot s)
{
    return s.port == QP_QPORT_VALUE ? &C->where_v[s.index]
           : s.port == QP_QPORT_WEIGHT ? &C->where_w[s.index]
                                       : &C->where_b[s.index];
}

static int entry_error(struct ctx *C, const qp_ynode *at, const char *key)
{
    char msg[800];
    snprintf(msg, sizeof msg, "%s", qp_error_msg());
    return qp_yaml_errorf(C->P, at->line, at->col, "'%s': %s", key, msg);
}

/* Fills e from r (everything but a bias derived later). */
static int make_entry(struct ctx *C, qp_qslot s, struct raw *r, int *defer)
{
    const qp_yaml *P = C->P;
    qp_qtable *t = C->t;
    const qp_graph *g = t->g;
    qp_qentry *e = qp_qtable_entry(t, s);
    const char *key = r->key->v;
    int qz = r->quantizer, qt = r->qtype, bias = s.port == QP_QPORT_BIAS, rc;
    *defer = 0;
    if (!qp_qtable_qtype_allowed(qz, qt, bias)) {
        qp_qentry probe = {.quantizer = qz, .qtype = qt};
        qp_qtable_check_entry(t, s, &probe);
        return entry_error(C, r->qtype_n, key);
    }
    int is_float = qp_quantizer_is_float(qz);
    int dfp = qz == QP_QZ_DYNAMIC_FIXED_POINT;
    if (is_float || dfp) {
        const qp_ynode *bad = r->n_scale ? r->scale_n : r->n_zp ? r->zp_n : NULL;
        if (bad)
            return qp_yaml_errorf(P, bad->line, bad->col, "'%s': %s takes no '%s'%s", key, qp_quantizer_name(qz),
                        bad == r->scale_n ? "scale" : "zero_point", dfp ? " (it takes 'fl')" : "");
    }
    if (!dfp && r->n_fl)
        return qp_yaml_errorf(P, r->fl_n->line, r->fl_n->col, "'%s': 'fl' is for dynamic_fixed_point, not %s", key,
                    qp_quantizer_name(qz));
    if (is_float && r->cd_n && r->cd >= 0)
        return qp_yaml_errorf(P, r->cd_n->line, r->cd_n->col, "'%s': %s takes no 'channel_dim'", key, qp_quantizer_name(qz));
    double lo = 0, hi = 0;
    if (r->n_max) {
        lo = r->minv[0];
        hi = r->maxv[0];
        for (int i = 1; i < r->n_min; i++)
            lo = r->minv[i] < lo ? r->minv[i] : lo;
        for (int i = 1; i < r->n_max; i++)
            hi = r->maxv[i] > hi ? r->maxv[i] : hi;
        if (lo > hi) {
            char a[40], b[40];
            return qp_yaml_errorf(P, r->min_n->line, r->min_n->col, "'%s': min_value %s is greater than max_value %s", key,
                        qp_qalgo_format_double(a, sizeof a, lo), qp_qalgo_format_double(b, sizeof b, hi));
        }
    }
    e->min = lo;
    e->max = hi;
    e->fl = 0;
    e->channel_dim = -1;
    if (is_float)
        return qp_qentry_set(t, e, qz, qt, 0, NULL, NULL);
    int bits = qp_qtable_qtype_bits(qt);
    qp_qtype qtt = qt == QP_DT_U8 ? QP_QTYPE_U8 : qt == QP_DT_I8 ? QP_QTYPE_I8 : qt == QP_DT_I16 ? QP_QTYPE_I16
                                              : qt == QP_DT_I32 ? QP_QTYPE_I32 : QP_QTYPE_I64;
    if (dfp) {
        int fl;
        if (r->n_fl)
            fl = (int)r->fl[0];
        else if (bias) {
            *defer = 1;
            return 0;
        } else if (r->n_max)
            fl = qp_qalgo_dfp_fl(fabs(lo) > fabs(hi) ? lo : hi, bits);
        else
            return qp_yaml_errorf(P, r->key->line, r->key->col, "'%s' needs 'fl' (or min_value and max_value to derive it)", key);
        double sc = qp_qparams_dfp(qtt, fl).scale;
        if ((rc = qp_qentry_set(t, e, qz, qt, 1, &sc, NULL)))
            return rc;
        e->fl = fl;
    } else if (r->n_scale) {
        if (!r->n_zp && qz == QP_QZ_ASYMMETRIC_AFFINE && !bias)
            return qp_yaml_errorf(P, r->scale_n->line, r->scale_n->col, "'%s': asymmetric_affine needs 'zero_point' with 'scale'",
                        key);
        int32_t *zp = qp_arena_array(t->arena, (size_t)r->n_scale, sizeof *zp);
        if (!zp)
            return QP_ESYS;
        for (int c = 0; c < r->n_zp; c++)
            zp[c] = (int32_t)r->zp[c];
        if ((rc = qp_qentry_set(t, e, qz, qt, r->n_scale, r->scale, zp)))
            return rc;
    } else if (bias) {
        *defer = 1;
        return 0;
    } else if (r->n_max && qz == QP_QZ_ASYMMETRIC_AFFINE) {
        double sc;
        int32_t zp;
        if (qp_qalgo_asymmetric(lo, hi, qp_qtype_min(qtt), qp_qtype_max(qtt), &sc, &zp))
            return qp_yaml_errorf(P, r->key->line, r->key->col, "'%s': the range is too wide for a scale", key);
        if ((rc = qp_qentry_set(t, e, qz, qt, 1, &sc, &zp)))
            return rc;
    } else if (r->n_max && (qz == QP_QZ_SYMMETRIC_AFFINE || s.port == QP_QPORT_VALUE)) {
        double sc;
        if (qp_qalgo_symmetric(fabs(lo) > fabs(hi) ? lo : hi, qp_qtype_max(qtt), &sc))
            return qp_yaml_errorf(P, r->key->line, r->key->col, "'%s': the range is too wide for a scale", key);
        if ((rc = qp_qentry_set(t, e, qz, qt, 1, &sc, NULL)))
            return rc;
    } else {
        return qp_yaml_errorf(P, r->key->line, r->key->col,
                    "'%s' needs 'scale'%s (or min_value and max_value to derive %s)", key,
                    qz == QP_QZ_ASYMMETRIC_AFFINE ? " and 'zero_point'" : "",
                    qz == QP_QZ_ASYMMETRIC_AFFINE ? "them" : "it");
    }
    /* channel_dim: written (dialect 2), or the op's output-channel axis for a per-channel
     * entry that does not say (dialect 1 'method: channel') */
    if (r->cd_n && r->cd >= 0)
        e->channel_dim = (int)r->cd;
    else if ((e->n > 1 || r->method_channel || qz == QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE) && s.port != QP_QPORT_VALUE) {
        if (s.port == QP_QPORT_WEIGHT)
            e->channel_dim = qp_qtable_weight_channel_dim(g, s.index);
        else {
            const qp_value *b = &g->values[g->nodes[s.index].in[2]];
            e->channel_dim = b->rank - 1;
        }
    }
    return 0;
}

/* A bias written without its scale: s_in * s_w[c] (fl_in + fl_w), from its layer's entries. */
static int derive_bias(struct ctx *C, qp_qslot s, struct raw *r)
{
    qp_qtable *t = C->t;
    const qp_graph *g = t->g;
    const qp_node *n = &g->nodes[s.index];
    qp_qentry *e = qp_qtable_entry(t, s);
    const qp_qentry *in = n->in[0] >= 0 ? &t->value[n->in[0]] : NULL, *w = &t->weight[s.index];
    const char *key = r->key->v;
    int dfp = r->quantizer == QP_QZ_DYNAMIC_FIXED_POINT, rc;
    for (int p = 0; p < 2; p++) { /* a missing entry is the error to report, not the bias */
        qp_qslot from = p ? (qp_qslot){QP_QPORT_WEIGHT, s.index, 1} : (qp_qslot){QP_QPORT_VALUE, n->in[0], 1};
        if (p && (n->n_in < 2 || n->in[1] < 0 || !g->values[n->in[1]].is_const))
            continue; /* a weight computed at run time: an activation */
        if (from.index >= 0 && !qp_qentry_present(qp_qtable_entry(t, from))) {
            char k[1100];
            return qp_yaml_errorf(C->P, 0, 0, "no entry for '%s', which the graph needs (and '%s' derives its scale from it)",
                        qp_qtable_key(g, from, k, sizeof k), key);
        }
    }
    int ok = in && in->n >= 1 && in->scale && w->n >= 1 && w->scale;
    if (ok && dfp)
        ok = in->quantizer == QP_QZ_DYNAMIC_FIXED_POINT && w->quantizer == QP_QZ_DYNAMIC_FIXED_POINT;
    if (!ok)
        return qp_yaml_errorf(C->P, r->key->line, r->key->col,
                    "'%s' has no %s and its layer's input and weight entries cannot give one (s_bias = s_in * s_w)",
                    key, dfp ? "fl" : "scale");
    if (dfp) {
        int fl = in->fl + w->fl;
        double sc = ldexp(1.0, -fl);
        if ((rc = qp_qentry_set(t, e, r->quantizer, r->qtype, 1, &sc, NULL)))
            return rc;
        e->fl = fl;
    } else {
        double *sc = qp_arena_array(t->arena, (size_t)w->n, sizeof *sc);
        if (!sc)
            return QP_ESYS;
        for (int c = 0; c < w->n; c++)
            sc[c] = in->scale[0] * w->scale[c];
        if ((rc = qp_qentry_set(t, e, r->quantizer, r->qtype, w->n, sc, NULL)))
            return rc;
        if (w->n > 1)
            e->channel_dim = g->values[n->in[2]].rank - 1;
    }
    if (r->cd_n && r->cd >= 0)
        e->channel_dim = (int)r->cd;
    return 0;
}

static int finish_entry(struct ctx *C, qp_qslot s, struct raw *r)
{
    qp_qtable *t = C->t;
    qp_qentry *e = qp_qtable_entry(t, s);
    int integer = !qp_quantizer_is_float(e->quantizer);
    if (!r->n_max && integer) {
        if (s.port == QP_QPORT_VALUE && !t->g->values[s.index].is_const)
            params_range(e, &e->min, &e->max);
        else if (s.port == QP_QPORT_VALUE)
            data_range(&t->g->values[s.index], &e->min, &e->max);
        else
            data_range(&t->g->values[t->g->nodes[s.index].in[s.port == QP_QPORT_WEIGHT ? 1 : 2]], &e->min, &e->max);
    }
    if (qp_qtable_check_entry(t, s, e))
        return entry_error(C, r->key, r->key->v);
    return 0;
}

/* ---- the document --------------------------------------------------------------------------- */

static int read_entries(struct ctx *C, const qp_ynode *qp)
{
    const qp_yaml *P = C->P;
    qp_qtable *t = C->t;
    int rc;
    for (int i = 0; i < qp->n; i++) {
        const qp_ynode *k = qp->k[2 * i], *v = qp->k[2 * i + 1];
        struct raw r;
        memset(&r, 0, sizeof r);
        r.key = k;
        if (v->kind != QP_YN_MAP)
            return qp_yaml_errorf(P, v->line, v->col, "entry '%s' must be a mapping of fields, not %s", k->v,
                        qp_yaml_is_null(v) ? "empty" : qp_yaml_kind_name(v->kind));
        if ((rc = parse_fields(P, C->dialect, v, &r)))
            return rc;
        qp_qslot s;
        int ignored;
        if ((rc = qp_qtable_resolve(t->g, k->v, &s, &ignored))) {
            char msg[800];
            snprintf(msg, sizeof msg, "%s", qp_error_msg());
            return qp_yaml_errorf(P, k->line, k->col, "%s", msg);
        }
        if (ignored)
            continue;
        const qp_ynode **where = where_of(C, s);
        if (*where)
            return qp_yaml_errorf(P, k->line, k->col, "'%s' describes the same tensor as '%s' (line %d)", k->v, (*where)->v,
                        (*where)->line);
        *where = k;
        int defer;
        if ((rc = make_entry(C, s, &r, &defer)))
            return rc;
        if (defer) {
            C->pending[C->n_pending] = r;
            C->pending_slot[C->n_pending++] = s;
        } else if ((rc = finish_entry(C, s, &r))) {
            return rc;
        }
    }
    for (int i = 0; i < C->n_pending; i++)  /* biases after the entries they derive from */
        if ((rc = derive_bias(C, C->pending_slot[i], &C->pending[i])) ||
            (rc = finish_entry(C, C->pending_slot[i], &C->pending[i])))
            return rc;
    return 0;
}

static int read_custom(struct ctx *C, const qp_ynode *cu)
{
    const qp_yaml *P = C->P;
    for (int i = 0; i < cu->n; i++) {
        const qp_ynode *k = cu->k[2 * i], *v = cu->k[2 * i + 1];
        const char *type;
        int rc = qp_yaml_to_str(P, v, k->v, 0, &type);
        if (rc)
            return rc;
        if ((rc = qp_qtable_set_custom(C->t, k->v, type))) {
            char msg[800];
            snprintf(msg, sizeof msg, "%s", qp_error_msg());
            return qp_yaml_errorf(P, k->line, k->col, "%s", msg);
        }
    }
    return 0;
}

/* qpipe's own top-level map: layer key -> one number per output channel. */
static int read_bias_corr(struct ctx *C, const qp_ynode *bc)
{
    const qp_yaml *P = C->P;
    for (int i = 0; i < bc->n; i++) {
        const qp_ynode *k = bc->k[2 * i], *v = bc->k[2 * i + 1];
        double *d;
        int n, is_list;
        int rc = qp_yaml_to_nums(P, v, k->v, 0, &d, &n, &is_list);
        if (rc)
            return rc;
        if ((rc = qp_qtable_set_bias_corr_key(C->t, k->v, d, n))) {
            char msg[800];
            snprintf(msg, sizeof msg, "%s", qp_error_msg());
            return qp_yaml_errorf(P, k->line, k->col, "%s", msg);
        }
    }
    return 0;
}

static int walk(struct ctx *C, const qp_ynode *root)
{
    const qp_yaml *P = C->P;
    char q[64];
    if (root->kind != QP_YN_MAP)
        return qp_yaml_errorf(P, root->line, root->col, "the document must be a mapping with 'quantize_parameters', not %s",
                    qp_yaml_is_null(root) ? "empty" : qp_yaml_kind_name(root->kind));
    const qp_ynode *version = NULL, *qp = NULL, *cu = NULL, *bc = NULL;
    for (int i = 0; i < root->n; i++) {
        const qp_ynode *k = root->k[2 * i], *v = root->k[2 * i + 1];
        if (!strcmp(k->v, "version"))
            version = v;
        else if (!strcmp(k->v, "quantize_parameters"))
            qp = v;
        else if (!strcmp(k->v, "customized_quantize_layers"))
            cu = v;
        else if (!strcmp(k->v, "bias_correction"))
            bc = v;
        else
            return qp_yaml_errorf(P, k->line, k->col, "unknown key '%s' (did you mean '%s'?)", q40(q, sizeof q, k->v),
                        qp_yaml_nearest(k->v, top_keys, -1));
    }
    C->dialect = 1;
    if (version) {
        int64_t ver;
        int rc = qp_yaml_to_int(P, version, "version", 0, 1000, &ver);
        if (rc)
            return rc;
        if (ver != 2)
            return qp_yaml_errorf(P, version->line, version->col,
                        "version %d is not supported (dialect 2 says 'version: 2'; dialect 1 has no version)", (int)ver);
        C->dialect = 2;
    }
    if (!qp)
        return qp_yaml_errorf(P, root->line, root->col, "the file has no 'quantize_parameters'");
    if (!qp_yaml_is_null(qp) && qp->kind != QP_YN_MAP)
        return qp_yaml_errorf(P, qp->line, qp->col, "'quantize_parameters' must be a mapping, not %s", qp_yaml_kind_name(qp->kind));
    if (cu && !qp_yaml_is_null(cu) && cu->kind != QP_YN_MAP)
        return qp_yaml_errorf(P, cu->line, cu->col, "'customized_quantize_layers' must be a mapping, not %s",
                    qp_yaml_kind_name(cu->kind));
    int n = qp->kind == QP_YN_MAP ? qp->n : 0;
    C->pending = qp_arena_array(P->a, (size_t)n + 1, sizeof *C->pending);
    C->pending_slot = qp_arena_array(P->a, (size_t)n + 1, sizeof *C->pending_slot);
    if (!C->pending || !C->pending_slot)
        return QP_ESYS;
    int rc = n ? read_entries(C, qp) : 0;
    if (!rc && cu && cu->kind == QP_YN_MAP)
        rc = read_custom(C, cu);
    if (!rc && bc && !qp_yaml_is_null(bc)) {
        if (bc->kind != QP_YN_MAP)
            return qp_yaml_errorf(P, bc->line, bc->col, "'bias_correction' must be a mapping, not %s",
                                  qp_yaml_kind_name(bc->kind));
        rc = read_bias_corr(C, bc);
    }
    return rc;
}

void qp_qtable_yaml_init(qp_yaml *y, qp_arena *a, const char *name)
{
    /* Acuity's files say "This file disallow TABs" */
    *y = (qp_yaml){.a = a, .name = name, .first_key = "quantize_parameters", .doc = "a quantize table",
                   .tab = "a TAB character (this format uses spaces only)", .max_depth = MAX_DEPTH};
}

int qp_qtable_parse_yaml(const void *buf, size_t len, const char *name, const qp_graph *g, qp_qtable **out)
{
    *out = NULL;
    qp_yaml P;
    qp_qtable_yaml_init(&P, qp_arena_new(1 << 16), name);
    qp_qtable *t = qp_qtable_new(g);
    struct ctx C = {&P, t, 1, NULL, NULL, NULL, NULL, NULL, 0};
    int rc = 0;
    if (!P.a || !t)
        rc = qp_errorf(QP_ESYS, "out of memory");
    if (!rc) {
        C.where_v = qp_arena_array(P.a, (size_t)g->n_values + 1, sizeof *C.where_v);
        C.where_w = qp_arena_array(P.a, (size_t)g->n_nodes + 1, sizeof *C.where_w);
        C.where_b = qp_arena_array(P.a, (size_t)g->n_nodes + 1, sizeof *C.where_b);
        if (!C.where_v || !C.where_w || !C.where_b)
            rc = QP_ESYS;
    }
    qp_ynode *root = NULL;
    if (!rc && !(rc = qp_yaml_parse(&P, buf, len, &root)))
        rc = walk(&C, root);
    if (!rc && (rc = qp_qtable_check_complete(t)))
        rc = qp_error_prefix(rc, "%s", name);
    qp_arena_free(P.a);
    if (rc) {
        qp_qtable_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- writing -------------------------------------------------------------------------------- */

static int utf8_ok(const unsigned char *s)
{
    while (*s) {
        int n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2 : (*s & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && *s < 0xc2))
            return 0;
        s++;
        for (int i = 0; i < n; i++, s++)
            if ((*s & 0xc0) != 0x80)
                return 0;
    }
    return 1;
}

/* A scalar YAML reads back as the same string: plain when that is unambiguous, else quoted. */
static void put_scalar(FILE *f, const char *s, int force_quote)
{
    static const char *const words[] = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", NULL};
    int plain = !force_quote && ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_');
    for (const char *p = s; plain && *p; p++)
        plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                *p == '.' || *p == '/' || *p == '-';
    for (int i = 0; plain && words[i]; i++)
        plain = strcasecmp(s, words[i]) != 0;
    if (plain) {
        fputs(s, f);
        return;
    }
    int ctrl = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        ctrl |= *p < 0x20 || *p == 0x7f;
    if (!ctrl) {
        fputc('\'', f);
        for (const char *p = s; *p; p++) {
            if (*p == '\'')
                fputc('\'', f);
            fputc(*p, f);
        }
        fputc('\'', f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static int put_num(FILE *f, const char *field, double x, const char *key)
{
    char b[40];
    if (!isfinite(x))
        return qp_errorf(QP_EUSAGE, "'%s' of '%s' is not finite", field, key);
    fprintf(f, "    %s: %s\n", field, qp_qalgo_format_double(b, sizeof b, x));
    return 0;
}

/* float_range: a float entry also gets its range (in a hybrid table, the range its integer
 * consumers convert it with). */
static int emit_entry(FILE *f, const char *key, const qp_qentry *e, int float_range)
{
    char b[40];
    int rc;
    fputs("  ", f);
    put_scalar(f, key, 1);
    fputs(":\n", f);
    fprintf(f, "    qtype: %s\n    quantizer: %s\n", qp_qtable_qtype_name(e->qtype), qp_quantizer_name(e->quantizer));
    if (qp_quantizer_is_float(e->quantizer)) {
        if (float_range && (e->min != 0 || e->max != 0))
            if ((rc = put_num(f, "max_value", e->max, key)) || (rc = put_num(f, "min_value", e->min, key)))
                return rc;
        return 0;
    }
    fputs("    rounding: rtne\n", f);
    if ((rc = put_num(f, "max_value", e->max, key)) || (rc = put_num(f, "min_value", e->min, key)))
        return rc;
    if (e->quantizer == QP_QZ_DYNAMIC_FIXED_POINT) {
        fprintf(f, "    fl: %d\n", e->fl);
        return 0;
    }
    int list = e->n > 1 || e->quantizer == QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE;
    for (int c = 0; c < e->n; c++)
        if (!isfinite(e->scale[c]))
            return qp_errorf(QP_EUSAGE, "'scale' of '%s' is not finite", key);
    if (!list) {
        fprintf(f, "    scale: %s\n    zero_point: %d\n", qp_qalgo_format_double(b, sizeof b, e->scale[0]),
                (int)e->zero_point[0]);
    } else {
        fputs("    scale:\n", f);
        for (int c = 0; c < e->n; c++)
            fprintf(f, "    - %s\n", qp_qalgo_format_double(b, sizeof b, e->scale[c]));
        fputs("    zero_point:\n", f);
        for (int c = 0; c < e->n; c++)
            fprintf(f, "    - %d\n", (int)e->zero_point[c]);
    }
    if (e->channel_dim >= 0)
        fprintf(f, "    channel_dim: %d\n", e->channel_dim);
    return 0;
}

int qp_qtable_emit_entry(FILE *f, const char *key, const qp_qentry *e)
{
    return emit_entry(f, key, e, 0);
}

int qp_qtable_emit_yaml(FILE *f, const qp_qtable *t)
{
    qp_qslot *s;
    qp_qcustom *cu;
    int n, nc, rc = qp_qtable_slots(t->g, &s, &n);
    if (rc)
        return rc;
    if ((rc = qp_qtable_customs(t, &cu, &nc))) {
        free(s);
        return rc;
    }
    int any = 0, any_int = 0;
    for (int i = 0; i < n; i++) {
        const qp_qentry *e = qp_qtable_entry(t, s[i]);
        any |= qp_qentry_present(e);
        any_int |= qp_qentry_present(e) && !qp_quantizer_is_float(e->quantizer);
    }
    fputs("# !!!This file disallow TABs!!!\nversion: 2\n", f);
    fputs(any ? "quantize_parameters:\n" : "quantize_parameters: {}\n", f);
    for (int i = 0; !rc && i < n; i++) {
        const qp_qentry *e = qp_qtable_entry(t, s[i]);
        if (!qp_qentry_present(e))
            continue;
        char key[1100];
        qp_qtable_key(t->g, s[i], key, sizeof key);
        if (!utf8_ok((const unsigned char *)key))
            rc = qp_errorf(QP_EUSAGE, "layer key of '%s' is not valid UTF-8", key);
        else
            rc = emit_entry(f, key, e, any_int);
    }
    if (!rc) {
        fputs(nc ? "customized_quantize_layers:\n" : "customized_quantize_layers: {}\n", f);
        for (int i = 0; !rc && i < nc; i++) {
            if (!utf8_ok((const unsigned char *)cu[i].key)) {
                rc = qp_errorf(QP_EUSAGE, "layer key '%s' is not valid UTF-8", cu[i].key);
                break;
            }
            fputs("  ", f);
            put_scalar(f, cu[i].key, 0);
            fputs(": ", f);
            put_scalar(f, cu[i].type, 0);
            fputc('\n', f);
        }
    }
    int header = 0;
    for (int ni = 0; !rc && ni < t->g->n_nodes; ni++) {
        if (!t->bias_corr[ni])
            continue;
        const char *key = qp_node_key(&t->g->nodes[ni]);
        if (!utf8_ok((const unsigned char *)key)) {
            rc = qp_errorf(QP_EUSAGE, "layer key '%s' is not valid UTF-8", key);
            break;
        }
        if (!header++)
            fputs("# qpipe: real values added to each output channel's bias (qtable --bias-correction)\n"
                  "bias_correction:\n", f);
        fputs("  ", f);
        put_scalar(f, key, 0);
        fputs(":\n", f);
        for (int c = 0, m = qp_qtable_bias_corr_channels(t->g, ni); c < m; c++) {
            char b[40];
            fprintf(f, "  - %s\n", qp_qalgo_format_double(b, sizeof b, t->bias_corr[ni][c]));
        }
    }
    if (!rc && ferror(f))
        rc = qp_errorf(QP_ESYS, "%s", strerror(errno));
    free(s);
    free(cu);
    return rc;
}
