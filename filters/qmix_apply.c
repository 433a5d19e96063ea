/* qmix's work: re-deriving the entries of customized layers from the calibration statistics
 * (one table per target type is built with qtable's own rules, qp_qtable_build, and the
 * switched layers' entries are copied from it), re-deriving the biases that depend on a
 * switched input or weight, and naming the dtype converters at precision boundaries. */
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qmix.h"
#include "qp/diag.h"
#include "qp/keys.h"
#include "qp/qtable_build.h"
#include "qp/qtable_conv.h"

/* ---- target types ---------------------------------------------------------------------------- */

/* A normalised type ("dynamic_fixed_point-i16", "bfloat16", "float32") as quantizer/qtype. */
static int type_parse(const char *type, int *qz, int *qt)
{
    const char *dash = strrchr(type, '-');
    if (!dash) {
        *qz = qp_quantizer_parse(type);
        *qt = *qz == QP_QZ_BFLOAT16 ? QP_DT_BF16 : *qz == QP_QZ_FLOAT16 ? QP_DT_F16 : QP_DT_F32;
        return *qz < 0 ? -1 : 0;
    }
    char q[128];
    size_t len = (size_t)(dash - type);
    if (len >= sizeof q)
        return -1;
    memcpy(q, type, len);
    q[len] = 0;
    *qz = qp_quantizer_parse(q);
    *qt = qp_qtable_qtype_parse(dash + 1);
    return *qz < 0 || !*qt ? -1 : 0;
}

/* Tables of the whole graph at one type, built once each. */
#define MAX_ALT 32
static struct {
    char type[96];
    qp_qtable *t;
} alt[MAX_ALT];
static int n_alt;

static int alt_table(const qp_qtable *t, const qp_calib *c, int algo, const char *type, qp_qtable **out)
{
    for (int i = 0; i < n_alt; i++)
        if (!strcmp(alt[i].type, type)) {
            *out = alt[i].t;
            return 0;
        }
    int qz, qt;
    if (type_parse(type, &qz, &qt) || qz == QP_QZ_NONE || n_alt == MAX_ALT || strlen(type) >= sizeof alt[0].type)
        return qp_errorf(QP_EUSAGE, "type '%s' cannot be built", type);
    qp_qtable_opts o;
    qp_qtable_opts_init(&o, qz, qt);
    o.algorithm = algo;
    o.batch_size = c->batch_size > 0 ? c->batch_size : 1;
    o.ma_weight = c->moving_average_weight > 0 ? c->moving_average_weight : QP_QALGO_DEFAULT_MA_WEIGHT;
    int rc = qp_qtable_build(t->g, c, &o, out);
    if (rc)
        return qp_error_prefix(rc, "deriving the '%s' parameters", type);
    strcpy(alt[n_alt].type, type);
    alt[n_alt++].t = *out;
    return 0;
}

static void alt_free(void)
{
    for (int i = 0; i < n_alt; i++)
        qp_qtable_free(alt[i].t);
    n_alt = 0;
}

static int copy_entry(qp_qtable *t, qp_qentry *dst, const qp_qentry *src)
{
    double mn = src->min, mx = src->max;
    int rc = qp_qentry_set(t, dst, src->quantizer, src->qtype, src->n, src->scale, src->zero_point);
    dst->min = mn;
    dst->max = mx;
    dst->fl = src->fl;
    dst->channel_dim = src->channel_dim;
    return rc;
}

/* dst takes type (float32 keeps the range and drops the parameters). */
static int switch_entry(qp_qtable *t, const qp_calib *c, int algo, const char *type, qp_qslot s)
{
    qp_qentry *dst = qp_qtable_entry(t, s);
    if (!strcmp(type, "float32")) {
        double mn = dst->min, mx = dst->max;
        int rc = qp_qentry_set(t, dst, QP_QZ_NONE, QP_DT_F32, 0, NULL, NULL);
        dst->min = mn;
        dst->max = mx;
        dst->fl = 0;
        dst->channel_dim = -1;
        return rc;
    }
    qp_qtable *a;
    int rc = alt_table(t, c, algo, type, &a);
    return rc ? rc : copy_entry(t, dst, qp_qtable_entry(a, s));
}

/* ---- required slots ---------------------------------------------------------------------------- */

struct req {
    unsigned char *v, *w, *b;
};

static int req_load(const qp_graph *g, struct req *r)
{
    qp_qslot *s;
    int n, rc = qp_qtable_slots(g, &s, &n);
    if (rc)
        return rc;
    r->v = qp_calloc((size_t)g->n_values + 1, 1);
    r->w = qp_calloc((size_t)g->n_nodes + 1, 1);
    r->b = qp_calloc((size_t)g->n_nodes + 1, 1);
    if (!r->v || !r->w || !r->b) {
        free(s);
        return QP_ESYS;
    }
    for (int i = 0; i < n; i++)
        if (s[i].required)
            (s[i].port == QP_QPORT_VALUE ? r->v : s[i].port == QP_QPORT_WEIGHT ? r->w : r->b)[s[i].index] = 1;
    free(s);
    return 0;
}

static void req_free(struct req *r)
{
    free(r->v);
    free(r->w);
    free(r->b);
}

/* ---- applying -------------------------------------------------------------------------------- */

static int set_bias(qp_qtable *t, int ni)
{
    const qp_graph *g = t->g;
    const qp_node *nd = &g->nodes[ni];
    const qp_qentry *in = &t->value[nd->in[0]], *w = &t->weight[ni];
    qp_qentry *b = &t->bias[ni];
    double mn = b->min, mx = b->max;
    int rc;
    if (qp_quantizer_is_float(w->quantizer) || qp_quantizer_is_float(in->quantizer)) {
        int fz = qp_quantizer_is_float(w->quantizer) ? w->quantizer : in->quantizer;
        int ft = qp_quantizer_is_float(w->quantizer) ? w->qtype : in->qtype;
        rc = qp_qentry_set(t, b, fz, ft, 0, NULL, NULL);
        b->channel_dim = -1;
    } else {
        int qt = qp_qtable_qtype_bits(in->qtype) <= 8 && qp_qtable_qtype_bits(w->qtype) <= 8 ? QP_DT_I32 : QP_DT_I64;
        if (w->quantizer == QP_QZ_DYNAMIC_FIXED_POINT && in->quantizer == QP_QZ_DYNAMIC_FIXED_POINT) {
            double s = ldexp(1.0, -(in->fl + w->fl));
            rc = qp_qentry_set(t, b, QP_QZ_DYNAMIC_FIXED_POINT, qt, 1, &s, NULL);
            b->fl = in->fl + w->fl;
            b->channel_dim = -1;
        } else {
            double *s = qp_arena_array(t->arena, (size_t)w->n, sizeof *s);
            if (!s)
                return QP_ESYS;
            for (int k = 0; k < w->n; k++)
                s[k] = in->scale[0] * w->scale[k];
            int qz = w->quantizer == QP_QZ_DYNAMIC_FIXED_POINT ? QP_QZ_SYMMETRIC_AFFINE : w->quantizer;
            rc = qp_qentry_set(t, b, qz, qt, w->n, s, NULL);
            b->channel_dim = w->n > 1 ? g->values[nd->in[2]].rank - 1 : -1;
        }
    }
    b->min = mn;
    b->max = mx;
    return rc;
}

int qp_qmix_apply(qp_qtable *t, const qp_calib *c, int algo)
{
    const qp_graph *g = t->g;
    struct req r;
    int rc = req_load(g, &r);
    unsigned char *changed = qp_calloc((size_t)g->n_values + 1, 1);
    if (!rc && !changed)
        rc = QP_ESYS;
    for (int vi = 0; !rc && vi < g->n_values; vi++) {
        if (!t->custom_value[vi])
            continue;
        if (!r.v[vi])
            rc = qp_errorf(QP_EINPUT, "layer '%s' has no float tensor to take '%s'", g->values[vi].key,
                           t->custom_value[vi]);
        else
            rc = switch_entry(t, c, algo, t->custom_value[vi], (qp_qslot){QP_QPORT_VALUE, vi, 1});
        changed[vi] = 1;
    }
    for (int k = 0; !rc && k < g->n_outputs; k++) {
        int vi = g->outputs[k];
        if (!t->custom_output[k])
            continue;
        if (!r.v[vi])
            rc = qp_errorf(QP_EINPUT, "layer '%s' has no float tensor to take '%s'", g->output_keys[k],
                           t->custom_output[k]);
        else
            rc = switch_entry(t, c, algo, t->custom_output[k], (qp_qslot){QP_QPORT_VALUE, vi, 1});
        changed[vi] = 1;
    }
    for (int ni = 0; !rc && ni < g->n_nodes; ni++) {
        const qp_node *nd = &g->nodes[ni];
        const char *type = t->custom[ni];
        int hit = 0;
        if (!type)
            continue;
        for (int k = 0; !rc && k < nd->n_out; k++)
            if (nd->out[k] >= 0 && r.v[nd->out[k]]) {
                rc = switch_entry(t, c, algo, type, (qp_qslot){QP_QPORT_VALUE, nd->out[k], 1});
                changed[nd->out[k]] = 1;
                hit = 1;
            }
        if (!rc && r.w[ni]) {
            rc = switch_entry(t, c, algo, type, (qp_qslot){QP_QPORT_WEIGHT, ni, 1});
            hit = 1;
        }
        if (!rc && !hit)
            rc = qp_errorf(QP_EINPUT, "layer '%s' has no float tensor to take '%s' (its outputs are not float)",
                           nd->key, type);
    }
    /* biases follow their input's and weight's scales (qpipe-quantize(5), bias rule) */
    for (int ni = 0; !rc && ni < g->n_nodes; ni++)
        if (r.b[ni] && (t->custom[ni] || changed[g->nodes[ni].in[0]]))
            rc = set_bias(t, ni);
    if (!rc) {
        qp_qslot *s;
        int n;
        char key[1100];
        if (!(rc = qp_qtable_slots(g, &s, &n))) {
            for (int i = 0; !rc && i < n; i++)
                if (s[i].required && qp_qtable_check_entry(t, s[i], qp_qtable_entry(t, s[i])))
                    rc = qp_error_prefix(QP_EINPUT, "'%s'", qp_qtable_key(g, s[i], key, sizeof key));
            free(s);
        }
    }
    if (!rc)
        rc = qp_qtable_check_complete(t);
    free(changed);
    req_free(&r);
    return rc;
}

/* ---- choosing layers ---------------------------------------------------------------------------- */

/* Whether layer l has a tensor that takes a precision (a required value or weight slot). */
static int takes_type(const qp_graph *g, const struct req *r, const qp_key_layer *l)
{
    if (l->kind == QP_KEY_VALUE)
        return r->v[l->index];
    if (l->kind == QP_KEY_OUTPUT)
        return r->v[g->outputs[l->index]];
    const qp_node *nd = &g->nodes[l->index];
    for (int k = 0; k < nd->n_out; k++)
        if (nd->out[k] >= 0 && r->v[nd->out[k]])
            return 1;
    return r->w[l->index];
}

/* A pattern (with * ? or [) skips the layers that hold no float tensor (constants folded into
 * their consumer's parameters): '*=TYPE' means every layer that can take TYPE. An exact key that
 * cannot is an error, later, naming it. */
int qp_qmix_glob(qp_qtable *t, const char *pattern, const char *type, int code)
{
    qp_key_layer *l = NULL;
    struct req r = {0};
    int n, hits = 0, rc = qp_keys_layers(t->g, &l, &n);
    int wild = strpbrk(pattern, "*?[") != NULL;
    if (!rc && wild)
        rc = req_load(t->g, &r);
    for (int i = 0; !rc && i < n; i++)
        if (!fnmatch(pattern, l[i].key, 0) && (!wild || takes_type(t->g, &r, &l[i]))) {
            hits++;
            if ((rc = qp_qtable_set_custom(t, l[i].key, type)))
                rc = code;
        }
    free(l);
    if (wild)
        req_free(&r);
    if (!rc && !hits)
        rc = qp_errorf(code, "pattern '%s' matches no layer key%s", pattern, wild ? " that holds a float tensor" : "");
    return rc;
}

/* A key without its _<uid>: length of the prefix, or 0. */
static size_t strip_uid(const char *key)
{
    const char *u = strrchr(key, '_');
    if (!u || !u[1])
        return 0;
    for (const char *p = u + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return (size_t)(u - key);
}

static int resolve_node(const qp_graph *g, const char *what, int code, int *ni)
{
    int kind, idx;
    if (!qp_keys_find(g, what, &kind, &idx) && kind == QP_KEY_NODE) {
        *ni = idx;
        return 0;
    }
    int found = -1, count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const qp_node *nd = &g->nodes[i];
        size_t len = nd->key ? strip_uid(nd->key) : 0;
        int m = (len && strlen(what) == len && !strncmp(nd->key, what, len)) || (nd->name && !strcmp(nd->name, what));
        if (m) {
            if (count++ == 0)
                found = i;
            else if (count == 2)
                return qp_errorf(code, "layer '%s' is ambiguous: '%s' and '%s' match (give the full key)", what,
                                 g->nodes[found].key, nd->key);
        }
    }
    if (count == 1) {
        *ni = found;
        return 0;
    }
    const char *near[4];
    int nn = qp_keys_nearest(g, what, near, 4);
    char msg[600] = "";
    size_t o = 0;
    for (int i = 0; i < nn && o < sizeof msg - 1; i++)
        o += (size_t)snprintf(msg + o, sizeof msg - o, "%s'%s'", i ? ", " : " (did you mean ", near[i]);
    if (nn && o < sizeof msg - 1)
        snprintf(msg + o, sizeof msg - o, "?)");
    return qp_errorf(code, "layer '%s' not found in the graph%s", what, msg);
}

int qp_qmix_from(qp_qtable *t, const char *what, const char *type, int code)
{
    const qp_graph *g = t->g;
    int start, rc = resolve_node(g, what, code, &start);
    if (rc)
        return rc;
    unsigned char *mark = qp_calloc((size_t)g->n_nodes + 1, 1);
    if (!mark)
        return QP_ESYS;
    mark[start] = 1;
    for (int more = 1; more;) { /* passes until nothing is added: node order need not be topological */
        more = 0;
        for (int ni = 0; ni < g->n_nodes; ni++) {
            const qp_node *nd = &g->nodes[ni];
            for (int j = 0; !mark[ni] && j < nd->n_in; j++) {
                int vi = nd->in[j];
                if (vi >= 0 && g->values[vi].producer >= 0 && mark[g->values[vi].producer])
                    mark[ni] = more = 1;
            }
        }
    }
    rc = qp_qmix_set_nodes(t, mark, type, code);
    free(mark);
    return rc;
}

int qp_qmix_set_nodes(qp_qtable *t, const unsigned char *mark, const char *type, int code)
{
    const qp_graph *g = t->g;
    struct req r;
    int rc = req_load(g, &r);
    for (int ni = 0; !rc && ni < g->n_nodes; ni++) {
        const qp_node *nd = &g->nodes[ni];
        if (!mark[ni])
            continue;
        int hit = 0;
        for (int k = 0; k < nd->n_out; k++)
            hit |= nd->out[k] >= 0 && r.v[nd->out[k]];
        if (hit || r.w[ni]) /* integer side branches (Shape...) keep their type */
            if (qp_qtable_set_custom(t, nd->key, type))
                rc = code;
        for (int j = 0; !rc && j < nd->n_in; j++) {
            int vi = nd->in[j];
            if (vi >= 0 && g->values[vi].is_const && g->values[vi].key && r.v[vi] && !(j == 1 && r.w[ni]) &&
                !(j == 2 && r.b[ni]) && qp_qtable_set_custom(t, g->values[vi].key, type))
                rc = code;
        }
    }
    for (int k = 0; !rc && k < g->n_outputs; k++) {
        int p = g->values[g->outputs[k]].producer;
        if (p >= 0 && mark[p] && qp_qtable_set_custom(t, g->output_keys[k], type))
            rc = code;
    }
    req_free(&r);
    return rc;
}

/* ---- converters -------------------------------------------------------------------------------- */

static void type_of(const qp_qentry *e, char *buf, size_t n)
{
    if (qp_quantizer_is_float(e->quantizer))
        snprintf(buf, n, "%s", e->quantizer == QP_QZ_NONE ? "float32" : qp_quantizer_name(e->quantizer));
    else
        snprintf(buf, n, "%s-%s", qp_quantizer_name(e->quantizer), qp_qtable_qtype_name(e->qtype));
}

/* The names come from qp_qtable_converters (shared with qinfer --dump-all); here each gets its
 * output entry: the input's range at the consumer's type. */
int qp_qmix_converters(qp_qtable *t, const qp_calib *c, int algo, qp_qmix_conv **out, int *n)
{
    qp_qconv *q;
    int nq, rc = qp_qtable_converters(t, &q, &nq);
    *out = NULL;
    *n = 0;
    if (rc)
        return rc;
    qp_qmix_conv *cv = qp_calloc((size_t)nq + 1, sizeof *cv);
    if (!cv) {
        qp_qtable_converters_free(q, nq);
        return QP_ESYS;
    }
    for (int i = 0; i < nq; i++) {
        cv[i].node = q[i].node;
        cv[i].value = q[i].value;
        cv[i].key = q[i].key;   /* the key moves to cv */
        q[i].key = NULL;
    }
    qp_qtable_converters_free(q, nq);
    for (int i = 0; !rc && i < nq; i++) {
        const qp_qentry *from = &t->value[cv[i].value], *to = &t->value[t->g->nodes[cv[i].node].out[0]];
        qp_qmix_conv *x = &cv[i];
        if (qp_quantizer_is_float(to->quantizer)) {
            x->out.quantizer = to->quantizer;
            x->out.qtype = to->qtype;
            x->out.min = from->min;
            x->out.max = from->max;
            x->out.channel_dim = -1;
        } else {
            char tt[96];
            qp_qtable *at;
            type_of(to, tt, sizeof tt);
            if (!(rc = alt_table(t, c, algo, tt, &at)))
                x->out = at->value[x->value];
        }
    }
    if (rc) {
        qp_qmix_converters_free(cv, nq);
        return rc;
    }
    *out = cv;
    *n = nq;
    return 0;
}

void qp_qmix_converters_free(qp_qmix_conv *cv, int n)
{
    for (int i = 0; i < n; i++)
        free(cv[i].key);
    free(cv);
    alt_free();
}
