/* The quantized executor.  Making one is four passes over the graph:
 *   1. representations: every value's from its table entry (constants also get the range of
 *      their data);
 *   2. rules: each layer's rule (qp/qops.h) prepares its state and says in which
 *      representation it wants its inputs and writes its outputs;
 *   3. fusion (unless QP_QEXEC_NO_FUSE): layers that are exact functions of their producer's
 *      integers element by element (unary tables, Mul(y, Sigmoid(y)) ...) are composed into one
 *      table over those integers by running their own rules on every possible input value, so
 *      the composition is the same arithmetic by construction; a table that is a plain clamp of
 *      the same parameters becomes the producer's output clamp (a fused Relu);
 *   4. steps: the layers in graph order with a conversion before a layer that wants another
 *      representation (one per value and representation; constants converted once now) and
 *      after a layer that writes another one; then lifetimes and the memory plan. */
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/memplan.h"
#include "qp/op.h"
#include "qp/q_lut.h"
#include "qp/qexec.h"

struct slot {
    qp_qtensor qt;
    int value;
    int is_const;               /* data fixed now (graph data or the arena) */
    int first, last;            /* steps that write it first and read it last */
};

enum { ST_NODE, ST_CONVERT, ST_LUT };

struct step {
    int kind;
    int ni;                     /* ST_NODE */
    int *in, *out;              /* ST_NODE: slots, -1 absent */
    int src, dst;               /* ST_CONVERT, ST_LUT */
    const void *table;          /* ST_LUT */
    int hook;                   /* layer to report after the step, -1 */
};

struct conv_key {
    int value;
    qp_qrep rep;
    int slot;
};

struct qp_qexec {
    const qp_graph *g;
    const qp_qtable *table;
    int flags;
    qp_arena *arena;
    const qp_qop **rule;        /* per node */
    qp_qnode *qn;               /* per node */
    qp_qrep *vrep;              /* per value */
    int *vslot;                 /* per value: the slot holding it in vrep, -1 */
    unsigned char *skip;        /* per node: fused into an earlier layer */
    const void **tail;          /* per node: composed table applied after it, or NULL */
    int *tail_out;              /* per node: the value the tail (or fused clamp) produces, -1 */
    int *tail_last;             /* per node: the last layer of its fused group */
    struct slot *slot;
    int n_slot, cap_slot;
    struct step *step;
    int n_step, cap_step;
    struct conv_key *conv;
    int n_conv, cap_conv;
    unsigned char *buf;
    size_t peak, naive;
    void *scratch;
    size_t scratch_size;
    qp_qexec_hook hook;
    void *hook_ctx;
    int *lstep;                 /* per node + 1: first step of the layer (qp_qexec_run_layer) */
    int *lnode;                 /* per node: its ST_NODE step, -1 */
    int **nin;                  /* per node: the slots its step reads (NULL: not run) */
    int n_layers, n_converts, n_fused;
};

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static int grow(void **p, int *cap, int need, size_t elsize)
{
    if (need <= *cap)
        return 0;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *np = qp_realloc(*p, (size_t)nc * elsize);
    if (!np)
        return QP_ESYS;
    memset((char *)np + (size_t)*cap * elsize, 0, (size_t)(nc - *cap) * elsize);
    *p = np;
    *cap = nc;
    return 0;
}

static int is_graph_output(const qp_graph *g, int vi)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == vi)
            return 1;
    return 0;
}

static const char *value_label(const qp_value *v)
{
    return v->key && v->key[0] ? v->key : v->name;
}

static int storage_dtype(const qp_qrep *r, int graph_dtype)
{
    if (r->kind == QP_QREP_QUANT)
        return qp_dtype_of_qtype(r->q.type);
    if (r->kind == QP_QREP_FLOAT)
        return QP_DT_F32;
    return graph_dtype;
}

/* ---- pass 1: representations --------------------------------------------------------------- */

static int value_reps(qp_qexec *x)
{
    const qp_graph *g = x->g;
    for (int vi = 0; vi < g->n_values; vi++) {
        const qp_value *v = &g->values[vi];
        qp_qrep *r = &x->vrep[vi];
        if (v->dtype != QP_DT_F32) {
            memset(r, 0, sizeof *r);
            r->kind = QP_QREP_NATIVE;
            r->min = 1;
            r->max = 0;
            continue;
        }
        int rc = qp_qrep_of_entry(x->table->value ? &x->table->value[vi] : NULL, r);
        if (rc)
            return qp_error_prefix(rc, "tensor '%s'", value_label(v));
        if (v->is_const) {
            /* the range of the data, for parameters derived at a boundary */
            size_t n;
            qp_value_numel(v, &n);
            const float *d = v->data;
            double lo = 0, hi = 0;
            for (size_t i = 0; i < n; i++) {
                lo = d[i] < lo ? d[i] : lo;
                hi = d[i] > hi ? d[i] : hi;
            }
            r->min = lo;
            r->max = hi;
        }
    }
    return 0;
}

/* ---- pass 2: rules ------------------------------------------------------------------------- */

/* Can a value held as `from` be handed over as `to` (const: from its float data)? */
static int convertible(const qp_qrep *from, const qp_qrep *to, int is_const)
{
    if (to->kind == QP_QREP_NONE || qp_qrep_equal(from, to))
        return 1;
    if (is_const && to->kind == QP_QREP_NATIVE)
        return 1;
    return from->kind != QP_QREP_NATIVE && to->kind != QP_QREP_NATIVE;
}

static const qp_qop *choose_rule(const qp_qexec *x, int ni)
{
    const qp_graph *g = x->g;
    const qp_node *n = &g->nodes[ni];
    int any_float = 0, any_quant = 0, all_native = 1;
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0)
            continue;
        int kind = x->vrep[n->out[k]].kind;
        any_float |= kind == QP_QREP_FLOAT;
        any_quant |= kind == QP_QREP_QUANT;
        all_native &= kind == QP_QREP_NATIVE;
    }
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] >= 0 && !g->values[n->in[j]].is_const)
            all_native &= x->vrep[n->in[j]].kind == QP_QREP_NATIVE;
    if (any_float || all_native)
        return qp_qops_float();         /* a float layer, or integers in their own type */
    const qp_qop *r = qp_qops_find(n->op_type);
    if (r)
        return r;
    return any_quant ? NULL : qp_qops_float();
}

static int prepare_rules(qp_qexec *x)
{
    const qp_graph *g = x->g;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        qp_qnode *q = &x->qn[ni];
        q->g = g;
        q->ni = ni;
        q->table = x->table;
        q->n_in = n->n_in;
        q->n_out = n->n_out;
        q->in = qp_arena_array(x->arena, (size_t)n->n_in + 1, sizeof *q->in);
        q->out = qp_arena_array(x->arena, (size_t)n->n_out + 1, sizeof *q->out);
        if (!q->in || !q->out)
            return QP_ESYS;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                q->in[j] = x->vrep[n->in[j]];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0)
                q->out[k] = x->vrep[n->out[k]];
        x->rule[ni] = choose_rule(x, ni);
        if (!x->rule[ni]) {
            char b[96] = "a quantized";
            for (int k = n->n_out - 1; k >= 0; k--)
                if (n->out[k] >= 0 && x->vrep[n->out[k]].kind == QP_QREP_QUANT)
                    qp_qrep_format(&x->vrep[n->out[k]], QP_DT_F32, b, sizeof b);
            return qp_qops_error(g, ni, "no integer rule for a %s output (make it a float layer in the table; the "
                                        "ops with one are in qpipe(7))", b);
        }
        int rc = x->rule[ni]->prepare(q, x->arena);
        if (rc)
            return rc;
        for (int j = 0; j < n->n_in; j++) {
            if (n->in[j] < 0)
                continue;
            const qp_value *v = &g->values[n->in[j]];
            if (!convertible(&x->vrep[n->in[j]], &q->in[j], v->is_const)) {
                char a[96], b[96];
                return qp_qops_error(g, ni, "input %d ('%s') is %s, the layer needs %s", j, v->name,
                                     qp_qrep_format(&x->vrep[n->in[j]], v->dtype, a, sizeof a),
                                     qp_qrep_format(&q->in[j], v->dtype, b, sizeof b));
            }
        }
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0)
                continue;
            const qp_value *v = &g->values[n->out[k]];
            if (q->out[k].kind == QP_QREP_NONE || !convertible(&q->out[k], &x->vrep[n->out[k]], 0)) {
                char a[96], b[96];
                return qp_qops_error(g, ni, "output %d ('%s') is %s, the layer writes %s", k, v->name,
                                     qp_qrep_format(&x->vrep[n->out[k]], v->dtype, a, sizeof a),
                                     qp_qrep_format(&q->out[k], v->dtype, b, sizeof b));
            }
        }
        if (q->scratch > x->scratch_size)
            x->scratch_size = q->scratch;
    }
    return 0;
}

/* ---- pass 3: fusion ------------------------------------------------------------------------ */

static size_t value_numel(const qp_graph *g, int vi)
{
    size_t n = 0;
    qp_value_numel(&g->values[vi], &n);
    return n;
}

static int same_shape(const qp_value *a, const qp_value *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d])
            return 0;
    return 1;
}

/* Node ni maps its non-constant inputs, all among vals[0..nv), element by element, with no
 * conversion on either side. */
static int mappable(const qp_qexec *x, int ni, const int *vals, int nv)
{
    const qp_graph *g = x->g;
    const qp_node *n = &g->nodes[ni];
    const qp_qnode *q = &x->qn[ni];
    if (x->skip[ni] || !x->rule[ni] || x->rule[ni]->map != QP_QOP_MAP_ELEMENTWISE || n->n_out != 1 || n->out[0] < 0)
        return 0;
    int y = n->out[0];
    if (x->vrep[y].kind != QP_QREP_QUANT || !qp_qrep_equal(&q->out[0], &x->vrep[y]))
        return 0;
    int reads = 0;
    for (int j = 0; j < n->n_in; j++) {
        int v = n->in[j];
        if (v < 0)
            continue;
        if (g->values[v].is_const) {
            if (value_numel(g, v) != 1 || q->in[j].kind != QP_QREP_NONE)
                return 0;
            continue;
        }
        int ok = 0;
        for (int k = 0; k < nv; k++)
            ok |= vals[k] == v;
        if (!ok || !qp_qrep_equal(&q->in[j], &x->vrep[v]) || !same_shape(&g->values[v], &g->values[y]))
            return 0;
        reads++;
    }
    return reads > 0;
}

#define MAX_GROUP 16

/* The layers after producer ni that compose into one table over its output 0. */
static int find_group(const qp_qexec *x, int ni, int *group)
{
    const qp_graph *g = x->g;
    int y = g->nodes[ni].out[0], c = y, ng = 0;
    while (ng + 2 <= MAX_GROUP && !is_graph_output(g, c)) {
        int cons[3];
        int nc = qp_graph_consumers(g, c, cons, 3);
        if (nc == 1 && mappable(x, cons[0], &c, 1)) {
            group[ng++] = cons[0];
            c = g->nodes[cons[0]].out[0];
            continue;
        }
        if (nc != 2)
            break;
        int found = 0;
        for (int k = 0; k < 2 && !found; k++) {
            int s = cons[k], m = cons[1 - k];
            if (s > m || !mappable(x, s, &c, 1))
                continue;
            int so = g->nodes[s].out[0];
            int two[2] = {c, so};
            if (is_graph_output(g, so) || qp_graph_consumers(g, so, NULL, 0) != 1 || !mappable(x, m, two, 2))
                continue;
            group[ng++] = s;
            group[ng++] = m;
            c = g->nodes[m].out[0];
            found = 1;
        }
        if (!found)
            break;
    }
    return ng;
}

/* Runs the group's rules on every integer of y's type: the composed table (arena). */
static int compose(qp_qexec *x, int y, const int *group, int ng, void **table)
{
    const qp_graph *g = x->g;
    const qp_qrep *ry = &x->vrep[y];
    size_t N = qp_lut_entries(ry->q.type);
    int vals[MAX_GROUP + 1];
    qp_qtensor t[MAX_GROUP + 1];
    memset(t, 0, sizeof t);
    int rc = 0;
    void *scratch = NULL;
    size_t ss = 0;
    for (int i = 0; i < ng; i++)
        ss = x->qn[group[i]].scratch > ss ? x->qn[group[i]].scratch : ss;
    if (ss && !(scratch = qp_aligned_alloc(64, align64(ss))))
        return QP_ESYS;
    for (int i = 0; i <= ng && !rc; i++) {
        vals[i] = i == 0 ? y : g->nodes[group[i - 1]].out[0];
        const qp_qrep *r = &x->vrep[vals[i]];
        t[i].r = *r;
        t[i].t.dtype = qp_dtype_of_qtype(r->q.type);
        t[i].t.rank = 1;
        t[i].t.dims[0] = (int64_t)N;
        t[i].t.nbytes = N * qp_qtype_size(r->q.type);
        t[i].t.data = qp_arena_alloc(x->arena, t[i].t.nbytes);
        if (!t[i].t.data)
            rc = QP_ESYS;
    }
    int64_t qmin = qp_qtype_min(ry->q.type);
    for (size_t k = 0; !rc && k < N; k++)
        qp_qstore(t[0].t.data, k, ry->q.type, (int32_t)(qmin + (int64_t)k));
    for (int i = 0; i < ng && !rc; i++) {
        const qp_node *n = &g->nodes[group[i]];
        const qp_qtensor *in[QP_MAX_IO];
        qp_qtensor *out[1] = {&t[i + 1]};
        for (int j = 0; j < n->n_in; j++) {
            in[j] = NULL;
            for (int k = 0; k <= i; k++)
                if (n->in[j] >= 0 && n->in[j] == vals[k])
                    in[j] = &t[k];
        }
        rc = x->rule[group[i]]->run(&x->qn[group[i]], in, out, scratch);
    }
    qp_free(scratch);
    *table = t[ng].t.data;
    return rc;
}

/* A table over y's integers that is clamp(q, lo, hi) in the same parameters. */
static int table_clamp(const qp_qrep *ry, const qp_qrep *rz, const void *table, int32_t *lo, int32_t *hi)
{
    if (!qp_qrep_equal(ry, rz))
        return 0;
    qp_qtype t = ry->q.type;
    size_t N = qp_lut_entries(t);
    int32_t qmin = (int32_t)qp_qtype_min(t);
    *lo = qp_qload(table, 0, t);
    *hi = qp_qload(table, N - 1, t);
    if (*lo > *hi)
        return 0;
    for (size_t k = 0; k < N; k++) {
        int32_t q = qmin + (int32_t)k, v = q < *lo ? *lo : q > *hi ? *hi : q;
        if (qp_qload(table, k, t) != v)
            return 0;
    }
    return 1;
}

static int fuse(qp_qexec *x)
{
    const qp_graph *g = x->g;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        if (x->skip[ni] || n->n_out < 1 || n->out[0] < 0 || x->rule[ni] == qp_qops_float())
            continue;
        int y = n->out[0];
        const qp_qrep *ry = &x->vrep[y];
        if (ry->kind != QP_QREP_QUANT || !qp_qrep_equal(&x->qn[ni].out[0], ry) || is_graph_output(g, y))
            continue;
        int group[MAX_GROUP];
        int ng = find_group(x, ni, group);
        if (!ng)
            continue;
        int z = g->nodes[group[ng - 1]].out[0];
        void *table;
        int rc = compose(x, y, group, ng, &table);
        if (rc)
            return rc;
        int32_t lo, hi;
        if (table_clamp(ry, &x->vrep[z], table, &lo, &hi) && x->rule[ni]->set_clamp &&
            x->rule[ni]->set_clamp(&x->qn[ni], lo, hi) == 0)
            x->tail[ni] = NULL;         /* the producer clamps and writes z itself */
        else
            x->tail[ni] = table;
        x->tail_out[ni] = z;
        x->tail_last[ni] = group[ng - 1];
        for (int i = 0; i < ng; i++)
            x->skip[group[i]] = 1;
        x->n_fused += ng;
    }
    return 0;
}

/* ---- pass 4: steps and the plan ------------------------------------------------------------ */

static int new_slot(qp_qexec *x, int vi, const qp_qrep *r)
{
    if (grow((void **)&x->slot, &x->cap_slot, x->n_slot + 1, sizeof *x->slot))
        return -1;
    const qp_value *v = &x->g->values[vi];
    struct slot *s = &x->slot[x->n_slot];
    memset(s, 0, sizeof *s);
    s->value = vi;
    s->first = s->last = -2;
    s->qt.r = *r;
    s->qt.t = qp_value_tensor(v);
    s->qt.t.dtype = storage_dtype(r, v->dtype);
    s->qt.t.data = NULL;
    s->qt.t.nbytes = value_numel(x->g, vi) * qp_dtype_size(s->qt.t.dtype);
    return x->n_slot++;
}

static struct step *new_step(qp_qexec *x, int kind)
{
    if (grow((void **)&x->step, &x->cap_step, x->n_step + 1, sizeof *x->step))
        return NULL;
    struct step *s = &x->step[x->n_step++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->hook = -1;
    s->src = s->dst = -1;
    return s;
}

static int convert_step(qp_qexec *x, int src, int dst)
{
    struct step *s = new_step(x, ST_CONVERT);
    if (!s)
        return QP_ESYS;
    s->src = src;
    s->dst = dst;
    x->n_converts++;
    return 0;
}

/* The primary slot of a constant: the graph's data as it is. */
static int const_slot(qp_qexec *x, int vi)
{
    if (x->vslot[vi] >= 0)
        return x->vslot[vi];
    qp_qrep native = {QP_QREP_NATIVE, {0, 0, 0}, 0, 1, 0};
    int s = new_slot(x, vi, &native);
    if (s < 0)
        return -1;
    x->slot[s].is_const = 1;
    x->slot[s].qt.t.dtype = x->g->values[vi].dtype;
    x->slot[s].qt.t.data = x->g->values[vi].data;
    x->vslot[vi] = s;
    return s;
}

/* The slot holding value vi as rep r: the primary one, or a conversion (made now, once). */
static int slot_as(qp_qexec *x, int vi, const qp_qrep *r, int *out)
{
    const qp_value *v = &x->g->values[vi];
    if (v->is_const) {
        int p = const_slot(x, vi);
        if (p < 0)
            return QP_ESYS;
        if (r->kind == QP_QREP_NATIVE) {
            *out = p;
            return 0;
        }
    } else if (qp_qrep_equal(&x->slot[x->vslot[vi]].qt.r, r)) {
        *out = x->vslot[vi];
        return 0;
    }
    for (int i = 0; i < x->n_conv; i++)
        if (x->conv[i].value == vi && qp_qrep_equal(&x->conv[i].rep, r)) {
            *out = x->conv[i].slot;
            return 0;
        }
    int s = new_slot(x, vi, r);
    if (s < 0 || grow((void **)&x->conv, &x->cap_conv, x->n_conv + 1, sizeof *x->conv))
        return QP_ESYS;
    x->conv[x->n_conv++] = (struct conv_key){vi, *r, s};
    if (v->is_const) {
        /* from the float data (or, for a float constant in float form, a rounding) */
        qp_qrep src = {QP_QREP_FLOAT, {0, 0, 0}, QP_DT_F32, 1, 0};
        struct slot *sl = &x->slot[s];
        sl->is_const = 1;
        sl->qt.t.data = qp_arena_alloc(x->arena, sl->qt.t.nbytes ? sl->qt.t.nbytes : 1);
        if (!sl->qt.t.data)
            return QP_ESYS;
        qp_qops_convert(&src, r, value_numel(x->g, vi), v->data, sl->qt.t.data);
    } else if (convert_step(x, x->vslot[vi], s)) {
        return QP_ESYS;
    }
    *out = s;
    return 0;
}

static int build_steps(qp_qexec *x)
{
    const qp_graph *g = x->g;
    for (int i = 0; i < g->n_inputs; i++) {
        int vi = g->inputs[i];
        if (x->vslot[vi] < 0 && (x->vslot[vi] = new_slot(x, vi, &x->vrep[vi])) < 0)
            return QP_ESYS;
    }
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        const qp_qnode *q = &x->qn[ni];
        if (x->skip[ni])
            continue;
        int *in = qp_arena_array(x->arena, (size_t)n->n_in + 1, sizeof *in);
        int *out = qp_arena_array(x->arena, (size_t)n->n_out + 1, sizeof *out);
        if (!in || !out)
            return QP_ESYS;
        for (int j = 0; j < n->n_in; j++) {
            in[j] = -1;
            if (n->in[j] < 0 || q->in[j].kind == QP_QREP_NONE)
                continue;
            if (!g->values[n->in[j]].is_const && x->vslot[n->in[j]] < 0)
                return qp_qops_error(g, ni, "input %d ('%s') is never computed", j, g->values[n->in[j]].name);
            int rc = slot_as(x, n->in[j], &q->in[j], &in[j]);
            if (rc)
                return rc;
        }
        int post[QP_MAX_IO], n_post = 0;
        for (int k = 0; k < n->n_out; k++) {
            out[k] = -1;
            int vi = n->out[k];
            if (vi < 0)
                continue;
            if (k == 0 && x->tail_out[ni] >= 0 && !x->tail[ni])
                vi = x->tail_out[ni];   /* a fused clamp: write the group's output directly */
            if ((x->vslot[vi] = new_slot(x, vi, &x->vrep[vi])) < 0)
                return QP_ESYS;
            out[k] = x->vslot[vi];
            if (!qp_qrep_equal(&q->out[k], &x->vrep[vi])) {
                if ((out[k] = new_slot(x, vi, &q->out[k])) < 0)
                    return QP_ESYS;
                post[n_post++] = k;
            }
        }
        struct step *s = new_step(x, ST_NODE);
        if (!s)
            return QP_ESYS;
        s->ni = ni;
        s->in = in;
        x->nin[ni] = in;
        s->out = out;
        int hook = x->tail_out[ni] >= 0 && !x->tail[ni] ? x->tail_last[ni] : ni;
        x->n_layers++;
        for (int i = 0; i < n_post; i++)
            if (convert_step(x, out[post[i]], x->vslot[n->out[post[i]]]))
                return QP_ESYS;
        /* report once every output holds its table representation */
        x->step[x->n_step - 1].hook = hook;
        if (x->tail[ni]) {
            int z = x->tail_out[ni];
            if ((x->vslot[z] = new_slot(x, z, &x->vrep[z])) < 0 || !(s = new_step(x, ST_LUT)))
                return QP_ESYS;
            s->src = x->vslot[n->out[0]];
            s->dst = x->vslot[z];
            s->table = x->tail[ni];
            s->hook = x->tail_last[ni];
        }
    }
    return 0;
}

static void touch(struct slot *s, int step)
{
    if (s->is_const)
        return;
    if (s->first == -2)
        s->first = step;
    if (step > s->last)
        s->last = step;
}

static int plan(qp_qexec *x)
{
    const qp_graph *g = x->g;
    int end = x->n_step;
    for (int i = 0; i < g->n_inputs; i++) {
        struct slot *s = &x->slot[x->vslot[g->inputs[i]]];
        s->first = -1;      /* set before the first run and kept across runs */
        s->last = end;
    }
    for (int k = 0; k < x->n_step; k++) {
        const struct step *st = &x->step[k];
        if (st->kind == ST_NODE) {
            const qp_node *n = &g->nodes[st->ni];
            for (int j = 0; j < n->n_in; j++)
                if (st->in[j] >= 0)
                    touch(&x->slot[st->in[j]], k);
            for (int j = 0; j < n->n_out; j++)
                if (st->out[j] >= 0)
                    touch(&x->slot[st->out[j]], k);
        } else {
            touch(&x->slot[st->src], k);
            touch(&x->slot[st->dst], k);
        }
        /* without fusion the hook may read what the layer read (qp_qexec_input): its input
         * slots live until it is called; only the placement changes, not the arithmetic */
        if ((x->flags & QP_QEXEC_NO_FUSE) && st->hook >= 0 && x->nin[st->hook]) {
            const qp_node *n = &g->nodes[st->hook];
            for (int j = 0; j < n->n_in; j++)
                if (x->nin[st->hook][j] >= 0)
                    touch(&x->slot[x->nin[st->hook][j]], k);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int s = x->vslot[g->outputs[i]];
        if (s >= 0 && !x->slot[s].is_const)
            x->slot[s].last = end;
    }
    qp_memplan_span *sp = qp_calloc((size_t)x->n_slot + 1, sizeof *sp);
    int *idx = qp_calloc((size_t)x->n_slot + 1, sizeof *idx);
    if (!sp || !idx) {
        qp_free(sp);
        qp_free(idx);
        return QP_ESYS;
    }
    int ns = 0;
    for (int i = 0; i < x->n_slot; i++) {
        struct slot *s = &x->slot[i];
        if (s->is_const || s->first == -2)
            continue;
        idx[ns] = i;
        sp[ns].size = s->qt.t.nbytes;
        sp[ns].first = s->first;
        sp[ns].last = s->last;
        ns++;
    }
    int rc = qp_memplan_place(sp, ns, &x->peak, &x->naive);
    if (!rc) {
        x->buf = qp_aligned_alloc(64, x->peak ? x->peak : 64);
        x->scratch = qp_aligned_alloc(64, align64(x->scratch_size ? x->scratch_size : 64));
        if (!x->buf || !x->scratch)
            rc = qp_errorf(QP_ESYS, "out of memory (activation plan of %zu bytes)", x->peak);
        else
            memset(x->buf, 0, x->peak ? x->peak : 64);
    }
    for (int i = 0; !rc && i < ns; i++)
        x->slot[idx[i]].qt.t.data = x->buf + sp[i].off;
    qp_free(sp);
    qp_free(idx);
    return rc;
}

/* ---- the executor -------------------------------------------------------------------------- */

int qp_qexec_new(const qp_graph *g, const qp_qtable *t, int flags, qp_qexec **out)
{
    *out = NULL;
    if (!t)
        return qp_errorf(QP_EINPUT, "no quantization table");
    if (t->g && t->g != g)
        return qp_errorf(QP_EINPUT, "the quantization table belongs to another graph");
    qp_qexec *x = qp_calloc(1, sizeof *x);
    if (!x)
        return QP_ESYS;
    x->g = g;
    x->table = t;
    x->flags = flags;
    x->arena = qp_arena_new(1u << 20);
    int rc = x->arena ? 0 : QP_ESYS;
    size_t nn = (size_t)g->n_nodes + 1, nv = (size_t)g->n_values + 1;
    if (!rc) {
        x->rule = qp_arena_array(x->arena, nn, sizeof *x->rule);
        x->qn = qp_arena_array(x->arena, nn, sizeof *x->qn);
        x->skip = qp_arena_alloc(x->arena, nn);
        x->tail = qp_arena_array(x->arena, nn, sizeof *x->tail);
        x->tail_out = qp_arena_array(x->arena, nn, sizeof *x->tail_out);
        x->tail_last = qp_arena_array(x->arena, nn, sizeof *x->tail_last);
        x->vrep = qp_arena_array(x->arena, nv, sizeof *x->vrep);
        x->vslot = qp_arena_array(x->arena, nv, sizeof *x->vslot);
        x->nin = qp_arena_array(x->arena, nn, sizeof *x->nin);
        if (!x->rule || !x->qn || !x->skip || !x->tail || !x->tail_out || !x->tail_last || !x->vrep || !x->vslot ||
            !x->nin)
            rc = QP_ESYS;
    }
    for (int i = 0; !rc && i < g->n_nodes; i++)
        x->tail_out[i] = x->tail_last[i] = -1;
    for (int i = 0; !rc && i < g->n_values; i++)
        x->vslot[i] = -1;
    if (!rc)
        rc = value_reps(x);
    if (!rc)
        rc = prepare_rules(x);
    if (!rc && !(flags & QP_QEXEC_NO_FUSE))
        rc = fuse(x);
    if (!rc)
        rc = build_steps(x);
    if (!rc)
        rc = plan(x);
    if (rc) {
        qp_qexec_free(x);
        return rc;
    }
    *out = x;
    return 0;
}

void qp_qexec_free(qp_qexec *x)
{
    if (!x)
        return;
    qp_free(x->buf);
    qp_free(x->scratch);
    qp_free(x->slot);
    qp_free(x->step);
    qp_free(x->conv);
    qp_arena_free(x->arena);
    qp_free(x);
}

static int check_input(const qp_qexec *x, int i, const qp_tensor *t, struct slot **sl)
{
    const qp_graph *g = x->g;
    if (i < 0 || i >= g->n_inputs)
        return qp_errorf(QP_EUSAGE, "the model has %d inputs, not %d", g->n_inputs, i + 1);
    const qp_value *v = &g->values[g->inputs[i]];
    int same = t->rank == v->rank;
    for (int d = 0; same && d < v->rank; d++)
        same = t->dims[d] == v->dims[d];
    if (!same) {
        char want[128], got[128];
        return qp_errorf(QP_EINPUT, "input '%s' expects %s, got %s", v->name,
                         qp_shape_format(want, sizeof want, v->rank, v->dims),
                         qp_shape_format(got, sizeof got, t->rank, t->dims));
    }
    *sl = &x->slot[x->vslot[g->inputs[i]]];
    return 0;
}

int qp_qexec_set_input(qp_qexec *x, int i, const qp_tensor *t)
{
    struct slot *s;
    int rc = check_input(x, i, t, &s);
    if (rc)
        return rc;
    const qp_value *v = &x->g->values[s->value];
    if (s->qt.r.kind == QP_QREP_NATIVE) {
        if (t->dtype != v->dtype)
            return qp_errorf(QP_EINPUT, "input '%s' expects %s, got %s", v->name, qp_dtype_name(v->dtype),
                             qp_dtype_name(t->dtype));
        memcpy(s->qt.t.data, t->data, s->qt.t.nbytes);
        return 0;
    }
    qp_tensor f = {0};
    const qp_tensor *src = t;
    if (t->dtype != QP_DT_F32) {
        if ((rc = qp_tensor_to_f32(t, &f)))
            return rc;
        src = &f;
    }
    qp_qrep from = {QP_QREP_FLOAT, {0, 0, 0}, QP_DT_F32, 1, 0};
    qp_qops_convert(&from, &s->qt.r, value_numel(x->g, s->value), src->data, s->qt.t.data);
    qp_tensor_free(&f);
    return 0;
}

int qp_qexec_set_input_raw(qp_qexec *x, int i, const qp_tensor *t)
{
    struct slot *s;
    int rc = check_input(x, i, t, &s);
    if (rc)
        return rc;
    if (t->dtype != s->qt.t.dtype)
        return qp_errorf(QP_EINPUT, "input '%s' is held as %s, got %s", x->g->values[s->value].name,
                         qp_dtype_name(s->qt.t.dtype), qp_dtype_name(t->dtype));
    memcpy(s->qt.t.data, t->data, s->qt.t.nbytes);
    return 0;
}

void qp_qexec_set_hook(qp_qexec *x, qp_qexec_hook fn, void *ctx)
{
    x->hook = fn;
    x->hook_ctx = ctx;
}

/* Steps [from, to) as a run does them, calling the hook when `hook` is set. */
static int run_steps(qp_qexec *x, int from, int to, int hook)
{
    const qp_graph *g = x->g;
    const qp_qtensor *in[QP_MAX_IO];
    qp_qtensor *out[QP_MAX_IO];
    for (int k = from; k < to; k++) {
        const struct step *st = &x->step[k];
        int rc = 0;
        if (st->kind == ST_NODE) {
            const qp_node *n = &g->nodes[st->ni];
            for (int j = 0; j < n->n_in; j++)
                in[j] = st->in[j] >= 0 ? &x->slot[st->in[j]].qt : NULL;
            for (int j = 0; j < n->n_out; j++)
                out[j] = st->out[j] >= 0 ? &x->slot[st->out[j]].qt : NULL;
            rc = x->rule[st->ni]->run(&x->qn[st->ni], in, out, x->scratch);
        } else {
            const struct slot *a = &x->slot[st->src], *b = &x->slot[st->dst];
            size_t n = value_numel(g, a->value);
            if (st->kind == ST_CONVERT)
                qp_qops_convert(&a->qt.r, &b->qt.r, n, a->qt.t.data, b->qt.t.data);
            else
                qp_qops_lut(a->qt.r.q.type, b->qt.r.q.type, st->table, n, a->qt.t.data, b->qt.t.data);
        }
        if (rc)
            return rc;
        if (hook && x->hook && st->hook >= 0) {
            const qp_node *n = &g->nodes[st->hook];
            for (int j = 0; j < n->n_out; j++)
                out[j] = n->out[j] >= 0 && x->vslot[n->out[j]] >= 0 ? &x->slot[x->vslot[n->out[j]]].qt : NULL;
            if ((rc = x->hook(x->hook_ctx, g, st->hook, (const qp_qtensor *const *)out)))
                return rc;
        }
    }
    return 0;
}

int qp_qexec_run(qp_qexec *x)
{
    return run_steps(x, 0, x->n_step, 1);
}

/* Without fusion the steps are, per layer in graph order: the conversions of its inputs, the
 * layer, the conversions of its outputs; lstep[ni] is where layer ni's group starts. */
static int layer_steps(qp_qexec *x)
{
    int nn = x->g->n_nodes;
    x->lstep = qp_arena_array(x->arena, (size_t)nn + 2, sizeof *x->lstep);
    x->lnode = qp_arena_array(x->arena, (size_t)nn + 1, sizeof *x->lnode);
    if (!x->lstep || !x->lnode)
        return QP_ESYS;
    for (int ni = 0; ni < nn; ni++)
        x->lnode[ni] = -1;
    int start = 0, cur = -1;
    for (int k = 0; k < x->n_step; k++) {
        const struct step *st = &x->step[k];
        if (st->kind == ST_NODE) {
            for (int ni = cur + 1; ni <= st->ni; ni++)
                x->lstep[ni] = start;
            x->lnode[st->ni] = k;
            cur = st->ni;
        }
        if (st->hook >= 0)
            start = k + 1;
    }
    for (int ni = cur + 1; ni <= nn; ni++)
        x->lstep[ni] = start;
    return 0;
}

int qp_qexec_run_layer(qp_qexec *x, int ni, const qp_tensor *const *in)
{
    const qp_graph *g = x->g;
    if (!(x->flags & QP_QEXEC_NO_FUSE))
        return qp_errorf(QP_EUSAGE, "running layer by layer needs an executor without fusion");
    if (ni < 0 || ni >= g->n_nodes)
        return qp_errorf(QP_EUSAGE, "no layer %d", ni);
    int rc;
    if (!x->lstep && (rc = layer_steps(x)))
        return rc;
    int k = x->lnode[ni], end = x->lstep[ni + 1];
    if (k < 0)
        return 0;
    if (!in)
        return run_steps(x, x->lstep[ni], end, 0);
    const struct step *st = &x->step[k];
    const qp_node *n = &g->nodes[ni];
    for (int j = 0; j < n->n_in; j++) {
        if (st->in[j] < 0 || x->slot[st->in[j]].is_const)
            continue;
        struct slot *s = &x->slot[st->in[j]];
        const qp_value *v = &g->values[n->in[j]];
        const qp_tensor *t = in[j];
        size_t numel = value_numel(g, s->value);
        if (!t || t->nbytes != numel * qp_dtype_size(t->dtype))
            return qp_errorf(QP_EUSAGE, "layer %d: input %d ('%s') not given or of another size", ni, j, v->name);
        if (s->qt.r.kind == QP_QREP_NATIVE) {
            if (t->dtype != s->qt.t.dtype)
                return qp_errorf(QP_EINPUT, "input '%s' expects %s, got %s", v->name,
                                 qp_dtype_name(s->qt.t.dtype), qp_dtype_name(t->dtype));
            memcpy(s->qt.t.data, t->data, s->qt.t.nbytes);
            continue;
        }
        if (t->dtype != QP_DT_F32)
            return qp_errorf(QP_EINPUT, "input '%s' expects float32, got %s", v->name, qp_dtype_name(t->dtype));
        qp_qrep from = {QP_QREP_FLOAT, {0, 0, 0}, QP_DT_F32, 1, 0};
        qp_qops_convert(&from, &s->qt.r, numel, t->data, s->qt.t.data);
    }
    return run_steps(x, k, end, 0);
}

const qp_qtensor *qp_qexec_value(const qp_qexec *x, int vi)
{
    if (vi < 0 || vi >= x->g->n_values || x->vslot[vi] < 0)
        return NULL;
    return &x->slot[x->vslot[vi]].qt;
}

const qp_qtensor *qp_qexec_input(const qp_qexec *x, int ni, int j)
{
    if (!(x->flags & QP_QEXEC_NO_FUSE) || ni < 0 || ni >= x->g->n_nodes || !x->nin[ni] || j < 0 ||
        j >= x->g->nodes[ni].n_in || x->nin[ni][j] < 0)
        return NULL;
    return &x->slot[x->nin[ni][j]].qt;
}

const qp_qrep *qp_qexec_rep(const qp_qexec *x, int vi)
{
    return vi >= 0 && vi < x->g->n_values ? &x->vrep[vi] : NULL;
}

int qp_qexec_dequantize(const qp_qtensor *t, qp_tensor *out)
{
    if (t->r.kind == QP_QREP_NATIVE)
        return qp_tensor_to_f32(&t->t, out);
    int rc = qp_tensor_alloc(out, QP_DT_F32, t->t.rank, t->t.dims);
    if (rc)
        return rc;
    size_t n = out->nbytes / sizeof(float);
    qp_qrep f32 = {QP_QREP_FLOAT, {0, 0, 0}, QP_DT_F32, 1, 0};
    qp_qops_convert(&t->r, &f32, n, t->t.data, out->data);
    return 0;
}

size_t qp_qexec_peak_bytes(const qp_qexec *x) { return x->peak; }
size_t qp_qexec_naive_bytes(const qp_qexec *x) { return x->naive; }
size_t qp_qexec_state_bytes(const qp_qexec *x) { return qp_arena_used(x->arena); }

void qp_qexec_counts(const qp_qexec *x, int *layers, int *converts, int *fused)
{
    *layers = x->n_layers;
    *converts = x->n_converts;
    *fused = x->n_fused;
}
