/* onnx2ir: shape inference and constant folding in one pass in node order, so a Reshape
 * shape, a Pad's pads or a Resize's sizes computed at run time (Shape -> Gather -> Concat...)
 * are constants by the time their consumer's infer needs them.  Then BatchNormalization
 * folds into the Conv before it, and what the outputs do not need goes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx2ir.h"
#include "qp/diag.h"
#include "qp/graph_edit.h"
#include "qp/op.h"

#define FOLD_MAX_BYTES ((size_t)256 << 20)   /* larger results stay nodes, computed at run time */

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* The arity checks of qp_op_bind, for one node. */
static int bind_node(qp_graph *g, int ni)
{
    qp_node *n = &g->nodes[ni];
    n->op = qp_op_find(n->op_type);
    const qp_op *op = qp_op_get(n->op);
    if (!op)
        return qp_errorf(QP_EINPUT, "%s: unsupported op '%s' (supported: %s)", qp_node_label(g, ni), n->op_type,
                         qp_op_list());
    if (n->n_in < op->min_in || n->n_in > op->max_in)
        return qp_op_error(g, ni, "%d inputs, expected %d to %d", n->n_in, op->min_in, op->max_in);
    if (n->n_out < op->min_out || n->n_out > op->max_out)
        return qp_op_error(g, ni, "%d outputs, expected %d to %d", n->n_out, op->min_out, op->max_out);
    for (int j = 0; j < op->min_in; j++)
        if (n->in[j] < 0)
            return qp_op_error(g, ni, "required input %d is missing", j);
    return 0;
}

static int set_const(qp_graph *g, int vi, void *data, size_t nbytes)
{
    qp_value *v = &g->values[vi];
    v->is_const = 1;
    v->data = data;
    v->nbytes = nbytes;
    v->producer = -1;
    v->port = 0;
    return 0;
}

/* Shape and Size need only the input's dims, which are always known here. */
static int fold_shape(qp_graph *g, int ni)
{
    qp_node *n = &g->nodes[ni];
    if (n->n_in != 1 || n->in[0] < 0 || n->n_out != 1 || n->out[0] < 0)
        return qp_errorf(QP_EINPUT, "%s: takes one input and one output", qp_node_label(g, ni));
    const qp_value *x = &g->values[n->in[0]];
    int64_t vals[QP_MAX_RANK];
    int count;
    if (!strcmp(n->op_type, "Size")) {
        size_t numel;
        if (qp_value_numel(x, &numel))
            return qp_error_prefix(QP_EINPUT, "%s", qp_node_label(g, ni));
        vals[0] = (int64_t)numel;
        count = 0;
    } else {
        int64_t r = x->rank, start = qp_node_int(n, "start", 0), end = qp_node_int(n, "end", r);
        const qp_attr *as = qp_node_attr(n, "start"), *ae = qp_node_attr(n, "end");
        if ((as && as->type != QP_ATTR_INT) || (ae && ae->type != QP_ATTR_INT))
            return qp_op_error(g, ni, "attributes 'start' and 'end' must be INT");
        if ((as || ae) && g->opset < 15)
            return qp_op_error(g, ni, "attributes 'start' and 'end' need opset 15 (the model has %lld)",
                               (long long)g->opset);
        start = start < 0 ? start + r : start;
        end = end < 0 ? end + r : end;
        start = start < 0 ? 0 : start > r ? r : start;
        end = end < 0 ? 0 : end > r ? r : end;
        count = end > start ? (int)(end - start) : 0;
        for (int i = 0; i < count; i++)
            vals[i] = x->dims[start + i];
    }
    int64_t d1 = count;
    int rank = strcmp(n->op_type, "Size") ? 1 : 0;
    size_t bytes = (size_t)(rank ? count : 1) * 8;
    void *data = qp_arena_alloc(g->arena, bytes ? bytes : 1);
    if (!data)
        return QP_ESYS;
    memcpy(data, vals, bytes);
    qp_value *y = &g->values[n->out[0]];
    y->dtype = QP_DT_I64;
    y->rank = rank;
    memset(y->dims, 0, sizeof y->dims);
    y->dims[0] = rank ? d1 : 0;
    return set_const(g, n->out[0], data, bytes);
}

/* Runs node ni (every input constant) with its op's prepare and run; its outputs become
 * constants.  *done stays 0 when the result would be too large to keep. */
static int fold_node(qp_graph *g, int ni, int *done)
{
    *done = 0;
    const qp_node *n = &g->nodes[ni];
    const qp_op *op = qp_op_get(n->op);
    size_t total = 0, bytes[QP_MAX_IO];
    for (int j = 0; j < n->n_out; j++) {
        bytes[j] = 0;
        if (n->out[j] < 0)
            continue;
        const qp_value *v = &g->values[n->out[j]];
        size_t numel;
        if (qp_value_numel(v, &numel) || qp_mul_size(numel, qp_dtype_size(v->dtype), &bytes[j]) ||
            qp_add_size(total, bytes[j], &total))
            return qp_error_prefix(QP_EINPUT, "%s: output '%s'", qp_node_label(g, ni), v->name);
    }
    if (total > FOLD_MAX_BYTES)
        return 0;
    qp_arena *tmp = qp_arena_new(1u << 16);
    if (!tmp)
        return QP_ESYS;
    qp_op_prep prep;
    memset(&prep, 0, sizeof prep);
    int rc = op->prepare ? op->prepare(g, ni, tmp, &prep) : 0;
    if (rc && rc != QP_ESYS)
        rc = QP_EINPUT;
    void *scratch = NULL;
    qp_tensor tin[QP_MAX_IO], tout[QP_MAX_IO];
    const qp_tensor *in[QP_MAX_IO];
    qp_tensor *out[QP_MAX_IO];
    if (!rc && prep.scratch && !(scratch = aligned_alloc(64, align64(prep.scratch))))
        rc = qp_errorf(QP_ESYS, "out of memory (%zu bytes of scratch)", prep.scratch);
    for (int j = 0; !rc && j < n->n_in; j++) {
        in[j] = NULL;
        if (n->in[j] >= 0) {
            tin[j] = qp_value_tensor(&g->values[n->in[j]]);
            in[j] = &tin[j];
        }
    }
    for (int j = 0; !rc && j < n->n_out; j++) {
        out[j] = NULL;
        if (n->out[j] < 0)
            continue;
        tout[j] = qp_value_tensor(&g->values[n->out[j]]);
        tout[j].nbytes = bytes[j];
        if (!(tout[j].data = qp_arena_alloc(g->arena, bytes[j] ? bytes[j] : 1)))
            rc = QP_ESYS;
        out[j] = &tout[j];
    }
    if (!rc && (rc = op->run(g, ni, &prep, in, out, scratch)) && rc != QP_ESYS)
        rc = QP_EINPUT;
    for (int j = 0; !rc && j < n->n_out; j++)
        if (n->out[j] >= 0)
            set_const(g, n->out[j], tout[j].data, bytes[j]);
    *done = !rc;
    free(scratch);
    qp_arena_free(tmp);
    return rc;
}

static int all_inputs_const(const qp_graph *g, int ni)
{
    const qp_node *n = &g->nodes[ni];
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] >= 0 && !g->values[n->in[j]].is_const)
            return 0;
    return 1;
}

/* Optional trailing outputs nobody reads become absent, so ops need not infer them. */
static void drop_unused_outputs(qp_graph *g, const int *uses)
{
    for (int ni = 0; ni < g->n_nodes; ni++) {
        qp_node *n = &g->nodes[ni];
        const qp_op *op = qp_op_get(qp_op_find(n->op_type));
        int min_out = op ? op->min_out : 1;
        for (int j = min_out > 0 ? min_out : 1; j < n->n_out; j++)
            if (n->out[j] >= 0 && !uses[n->out[j]]) {
                g->values[n->out[j]].producer = -1;
                n->out[j] = -1;
            }
    }
}

static int infer_and_fold(qp_graph *g, unsigned char *removed, qp_o2i_stats *st)
{
    int *uses = qp_calloc((size_t)g->n_values + 1, sizeof *uses);
    if (!uses)
        return QP_ESYS;
    for (int ni = 0; ni < g->n_nodes; ni++)
        for (int j = 0; j < g->nodes[ni].n_in; j++)
            if (g->nodes[ni].in[j] >= 0)
                uses[g->nodes[ni].in[j]]++;
    for (int i = 0; i < g->n_outputs; i++)
        uses[g->outputs[i]]++;
    drop_unused_outputs(g, uses);
    free(uses);
    for (int ni = 0; ni < g->n_nodes; ni++) {
        qp_node *n = &g->nodes[ni];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && g->values[n->in[j]].dtype == QP_DT_UNDEFINED)
                return qp_errorf(QP_EINPUT, "%s: input '%s' has no type (its producer did not infer it)",
                                 qp_node_label(g, ni), g->values[n->in[j]].name);
        if (!strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size")) {
            int rc = fold_shape(g, ni);
            if (rc)
                return rc;
            removed[ni] = 1;
            st->folded++;
            continue;
        }
        int rc = bind_node(g, ni);
        if (rc)
            return rc;
        const qp_op *op = qp_op_get(n->op);
        if (!op->infer)
            return qp_op_error(g, ni, "op has no shape inference");
        if ((rc = op->infer(g, ni)))
            return rc == QP_ESYS || rc == QP_EUSAGE ? rc : QP_EINPUT;     /* any other code is a bad model */
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && g->values[n->out[j]].dtype == QP_DT_UNDEFINED)
                return qp_op_error(g, ni, "output %d ('%s') was not inferred", j, g->values[n->out[j]].name);
        if (op->run && all_inputs_const(g, ni)) {
            int done;
            if ((rc = fold_node(g, ni, &done)))
                return rc;
            if (done) {
                removed[ni] = 1;
                st->folded++;
            }
        }
    }
    return 0;
}

/* ---- BatchNormalization into Conv ---- */

static int uses_live(const qp_graph *g, const unsigned char *removed, int vi)
{
    int c = 0;
    for (int ni = 0; ni < g->n_nodes; ni++)
        for (int j = 0; !removed[ni] && j < g->nodes[ni].n_in; j++)
            c += g->nodes[ni].in[j] == vi;
    for (int i = 0; i < g->n_outputs; i++)
        c += g->outputs[i] == vi;
    return c;
}

static const qp_value *const_f32(const qp_graph *g, int vi, int rank, int64_t d0)
{
    if (vi < 0)
        return NULL;
    const qp_value *v = &g->values[vi];
    if (!v->is_const || v->dtype != QP_DT_F32 || (rank >= 0 && v->rank != rank) || (d0 >= 0 && v->dims[0] != d0))
        return NULL;
    return v;
}

/* A constant for new data: value vi itself when only this node reads it, else a new one. */
static int writable_const(qp_graph *g, const unsigned char *removed, qp_o2i_flags *fl, int vi, const char *suffix)
{
    if (uses_live(g, removed, vi) == 1)
        return vi;
    qp_value v = g->values[vi];
    char base[512];
    snprintf(base, sizeof base, "%s%s", v.name, suffix);
    const char *name = qp_graph_unique_name(g, base);
    if (!name)
        return -1;
    int nv = qp_graph_add_const(g, name, v.dtype, v.rank, v.dims, v.data, v.nbytes);
    if (nv < 0 || qp_o2i_flag_set(fl, nv, fl->is_init[vi]))
        return -1;
    return nv;
}

static int fold_bn(qp_graph *g, int bi, unsigned char *removed, qp_o2i_flags *fl)
{
    const qp_node *bn = &g->nodes[bi];
    if (bn->n_in != 5 || bn->in[0] < 0)
        return 0;
    for (int j = 1; j < bn->n_out; j++)
        if (bn->out[j] >= 0)
            return 0;
    int x = bn->in[0], ci = g->values[x].producer;
    if (ci < 0 || removed[ci] || strcmp(g->nodes[ci].op_type, "Conv") || uses_live(g, removed, x) != 1)
        return 0;
    const qp_node *cv = &g->nodes[ci];
    if (cv->n_in < 2 || cv->n_out != 1)
        return 0;
    const qp_value *w = const_f32(g, cv->in[1], -1, -1);
    if (!w || w->rank < 3)
        return 0;
    int64_t m = w->dims[0];
    if (m <= 0 || (cv->n_in > 2 && cv->in[2] >= 0 && !const_f32(g, cv->in[2], 1, m)))
        return 0;
    for (int j = 1; j < 5; j++)
        if (!const_f32(g, bn->in[j], 1, m))
            return 0;
    double eps = qp_node_float(bn, "epsilon", 1e-5f);
    size_t numel;
    if (qp_value_numel(w, &numel))
        return 0;
    size_t per = numel / (size_t)m;
    int bias_in = cv->n_in > 2 ? cv->in[2] : -1;
    int beta_in = bn->in[2], y = bn->out[0];
    /* the new weights and bias go into values only this Conv reads */
    int wv = writable_const(g, removed, fl, cv->in[1], "_bn");
    if (wv < 0)
        return QP_ESYS;
    int bv = bias_in >= 0 ? writable_const(g, removed, fl, bias_in, "_bn")
                          : writable_const(g, removed, fl, beta_in, "_bn");
    if (bv < 0)
        return QP_ESYS;
    const float *gam = g->values[g->nodes[bi].in[1]].data, *bet = g->values[g->nodes[bi].in[2]].data;
    const float *mean = g->values[g->nodes[bi].in[3]].data, *var = g->values[g->nodes[bi].in[4]].data;
    const float *b0 = bias_in >= 0 ? g->values[bias_in].data : NULL;
    float *wd = g->values[wv].data, *bd = g->values[bv].data;
    for (int64_t c = 0; c < m; c++) {
        double s = (double)gam[c] / sqrt((double)var[c] + eps);
        double bb = b0 ? (double)b0[c] : 0.0;
        if (!isfinite(s))
            return qp_op_error(g, bi, "cannot fold into the Conv: channel %lld scale is not finite", (long long)c);
        for (size_t k = 0; k < per; k++)
            wd[(size_t)c * per + k] = (float)((double)wd[(size_t)c * per + k] * s);
        bd[c] = (float)((bb - (double)mean[c]) * s + (double)bet[c]);
    }
    qp_node *conv = &g->nodes[ci];
    conv->in[1] = wv;
    if (conv->n_in > 2)
        conv->in[2] = bv;
    else {
        int in[3] = { conv->in[0], wv, bv };
        int *ni = qp_arena_array(g->arena, 4, sizeof(int));
        if (!ni)
            return QP_ESYS;
        memcpy(ni, in, sizeof in);
        conv->in = ni;
        conv->n_in = 3;
    }
    int old = conv->out[0];
    qp_graph_set_output(g, ci, 0, y);
    g->values[old].producer = -1;
    removed[bi] = 1;
    return 1;
}

int qp_o2i_simplify(qp_graph *g, qp_o2i_flags *fl, qp_o2i_stats *st)
{
    unsigned char *removed = qp_calloc((size_t)g->n_nodes + 1, 1);
    if (!removed)
        return QP_ESYS;
    int rc = infer_and_fold(g, removed, st);
    for (int ni = 0; !rc && ni < g->n_nodes; ni++)
        if (!removed[ni] && !strcmp(g->nodes[ni].op_type, "BatchNormalization")) {
            rc = fold_bn(g, ni, removed, fl);
            if (rc == 1) {
                st->bn_folded++;
                rc = 0;
            }
        }
    int nv = g->n_values, nn = g->n_nodes;
    int *vmap = NULL;
    if (!rc && !(vmap = qp_calloc((size_t)nv + 1, sizeof *vmap)))
        rc = QP_ESYS;
    if (!rc) {
        int alive = 0;
        for (int ni = 0; ni < nn; ni++)
            alive += !removed[ni];
        rc = qp_graph_compact(g, removed, vmap, NULL);
        st->dead += alive - g->n_nodes;
    }
    for (int vi = 0; !rc && vi < nv; vi++)
        if (vmap[vi] >= 0)
            fl->is_init[vmap[vi]] = fl->is_init[vi];
    free(vmap);
    free(removed);
    if (!rc)
        rc = qp_op_bind(g);
    st->nodes = g->n_nodes;
    return rc;
}
