/* Float32 executor.  The memory plan gives every activation an offset in one buffer:
 * values whose lifetimes (producer .. last consumer) overlap never share bytes; qp_memplan
 * places them (largest first at the lowest offset that fits). */
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/exec.h"
#include "qp/memplan.h"
#include "qp/nn.h"
#include "qp/op.h"

struct qp_exec {
    const qp_graph *g;
    qp_arena *arena;            /* prepared state, tensors table */
    qp_op_prep *prep;
    unsigned char *skip;        /* per node: fused into an earlier node, not run */
    int *alias;                 /* per value: the value whose tensor it shares, or itself */
    qp_tensor *t;               /* one per value */
    size_t *offset;             /* activation offset, (size_t)-1 if none */
    unsigned char *buf;         /* activations */
    size_t peak, naive, weights;
    void *scratch;
    size_t scratch_size;
    qp_exec_hook hook;
    void *hook_ctx;
    int flags;
};

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static int plan(qp_exec *x)
{
    const qp_graph *g = x->g;
    qp_memplan_span *s = qp_calloc((size_t)g->n_values + 1, sizeof *s);
    int *vis = qp_calloc((size_t)g->n_values + 1, sizeof *vis);
    int *last = qp_calloc((size_t)g->n_values + 1, sizeof *last);
    if (!s || !vis || !last) {
        free(s);
        free(vis);
        free(last);
        return QP_ESYS;
    }
    for (int i = 0; i < g->n_values; i++)
        last[i] = -2;
    for (int ni = 0; ni < g->n_nodes; ni++)
        for (int j = 0; j < g->nodes[ni].n_in; j++)
            if (g->nodes[ni].in[j] >= 0)
                last[g->nodes[ni].in[j]] = ni;
    for (int i = 0; i < g->n_outputs; i++)
        last[g->outputs[i]] = g->n_nodes;
    /* a fused node's output lives as long as the value that aliases it */
    for (int vi = 0; vi < g->n_values; vi++)
        if (x->alias[vi] != vi && last[vi] > last[x->alias[vi]])
            last[x->alias[vi]] = last[vi];
    int ns = 0, rc = 0;
    for (int vi = 0; vi < g->n_values; vi++) {
        const qp_value *v = &g->values[vi];
        x->offset[vi] = (size_t)-1;
        if (v->is_const)
            continue;
        size_t numel, bytes;
        if (qp_value_numel(v, &numel) || qp_mul_size(numel, qp_dtype_size(v->dtype), &bytes)) {
            rc = qp_error_prefix(QP_EINPUT, "tensor '%s'", v->name);
            break;
        }
        int first = v->producer;        /* -1: graph input, alive from the start */
        int is_input = 0;
        for (int i = 0; i < g->n_inputs; i++)
            is_input |= g->inputs[i] == vi;
        if (v->producer < 0 && !is_input)
            continue;                   /* an unused, unproduced value */
        if (v->producer >= 0 && x->skip[v->producer])
            continue;                   /* made by a fused node: aliased or never written */
        int l = last[vi] == -2 ? first : last[vi];
        if (is_input)
            l = g->n_nodes;             /* inputs survive runs: callers set them once */
        vis[ns] = vi;
        s[ns].size = bytes;
        s[ns].first = first;
        s[ns].last = l;
        ns++;
    }
    if (!rc)
        rc = qp_memplan_place(s, ns, &x->peak, &x->naive);
    for (int i = 0; !rc && i < ns; i++)
        x->offset[vis[i]] = s[i].off;
    free(s);
    free(vis);
    free(last);
    return rc;
}

/* Activation fusion: Conv/Gemm/MatMul followed by Relu, Clip, SiLU (Sigmoid + Mul)... runs as
 * one node; the replaced nodes are skipped and their final output aliases the fused one. */
static void fuse(qp_exec *x)
{
    const qp_graph *g = x->g;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        qp_act act;
        int skip[2], n_skip;
        if (x->skip[ni] || qp_nn_match_activation(g, ni, &act, skip, &n_skip))
            continue;
        if (qp_nn_conv_set_activation(g, ni, &x->prep[ni], act))
            continue;
        for (int k = 0; k < n_skip; k++)
            x->skip[skip[k]] = 1;
        x->alias[g->nodes[skip[n_skip - 1]].out[0]] = g->nodes[ni].out[0];
    }
}

int qp_exec_new(const qp_graph *g, int flags, qp_exec **out)
{
    *out = NULL;
    qp_exec *x = qp_calloc(1, sizeof *x);
    if (!x)
        return QP_ESYS;
    x->g = g;
    x->flags = flags;
    x->arena = qp_arena_new(1u << 20);
    int rc = x->arena ? 0 : QP_ESYS;
    if (!rc) {
        x->prep = qp_arena_array(x->arena, (size_t)g->n_nodes + 1, sizeof *x->prep);
        x->t = qp_arena_array(x->arena, (size_t)g->n_values + 1, sizeof *x->t);
        x->offset = qp_arena_array(x->arena, (size_t)g->n_values + 1, sizeof *x->offset);
        x->skip = qp_arena_alloc(x->arena, (size_t)g->n_nodes + 1);
        x->alias = qp_arena_array(x->arena, (size_t)g->n_values + 1, sizeof *x->alias);
        if (!x->prep || !x->t || !x->offset || !x->skip || !x->alias)
            rc = QP_ESYS;
        for (int vi = 0; !rc && vi < g->n_values; vi++)
            x->alias[vi] = vi;
    }
    for (int ni = 0; !rc && ni < g->n_nodes; ni++) {
        const qp_op *op = qp_op_get(g->nodes[ni].op);
        if (!op)
            rc = qp_errorf(QP_EINPUT, "node '%s': op '%s' is not bound", g->nodes[ni].name, g->nodes[ni].op_type);
        else if (op->prepare)
            rc = op->prepare(g, ni, x->arena, &x->prep[ni]);
        if (!rc && x->prep[ni].scratch > x->scratch_size)
            x->scratch_size = x->prep[ni].scratch;
    }
    if (!rc && !(flags & QP_EXEC_NO_FUSE))
        fuse(x);
    if (!rc)
        rc = plan(x);
    if (!rc) {
        x->buf = aligned_alloc(64, x->peak ? x->peak : 64);
        x->scratch = aligned_alloc(64, align64(x->scratch_size ? x->scratch_size : 64));
        if (!x->buf || !x->scratch)
            rc = qp_errorf(QP_ESYS, "out of memory (activation plan of %zu bytes)", x->peak);
        else
            memset(x->buf, 0, x->peak ? x->peak : 64);
    }
    for (int vi = 0; !rc && vi < g->n_values; vi++) {
        const qp_value *v = &g->values[vi];
        x->t[vi] = qp_value_tensor(v);
        if (v->is_const) {
            x->weights += v->nbytes;
            continue;
        }
        size_t numel = 0;
        qp_value_numel(v, &numel);
        x->t[vi].nbytes = numel * qp_dtype_size(v->dtype);
        x->t[vi].data = x->offset[vi] == (size_t)-1 ? NULL : x->buf + x->offset[vi];
    }
    for (int vi = 0; !rc && vi < g->n_values; vi++)
        if (x->alias[vi] != vi)
            x->t[vi].data = x->t[x->alias[vi]].data;
    if (rc) {
        qp_exec_free(x);
        return rc;
    }
    *out = x;
    return 0;
}

void qp_exec_free(qp_exec *x)
{
    if (!x)
        return;
    free(x->buf);
    free(x->scratch);
    qp_arena_free(x->arena);
    free(x);
}

int qp_exec_set_input(qp_exec *x, int i, const qp_tensor *t)
{
    const qp_graph *g = x->g;
    if (i < 0 || i >= g->n_inputs)
        return qp_errorf(QP_EUSAGE, "the model has %d inputs, not %d", g->n_inputs, i + 1);
    int vi = g->inputs[i];
    qp_tensor *dst = &x->t[vi];
    const qp_value *v = &g->values[vi];
    int same = t->rank == v->rank && t->dtype == v->dtype;
    for (int d = 0; same && d < v->rank; d++)
        same = t->dims[d] == v->dims[d];
    if (!same) {
        char want[128] = "", got[128] = "";
        for (int d = 0; d < v->rank; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? "x" : "", (long long)v->dims[d]);
        for (int d = 0; d < t->rank; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "x" : "", (long long)t->dims[d]);
        return qp_errorf(QP_EINPUT, "input '%s' expects %s %s, got %s %s", v->name, qp_dtype_name(v->dtype), want,
                         qp_dtype_name(t->dtype), got);
    }
    memcpy(dst->data, t->data, dst->nbytes);
    return 0;
}

void qp_exec_set_hook(qp_exec *x, qp_exec_hook fn, void *ctx)
{
    x->hook = fn;
    x->hook_ctx = ctx;
}

int qp_exec_run(qp_exec *x)
{
    const qp_graph *g = x->g;
    const qp_tensor *in[QP_MAX_IO];
    qp_tensor *out[QP_MAX_IO];
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        const qp_op *op = qp_op_get(n->op);
        if (x->skip[ni])
            continue;
        for (int j = 0; j < n->n_in; j++)
            in[j] = n->in[j] >= 0 ? &x->t[n->in[j]] : NULL;
        for (int j = 0; j < n->n_out; j++)
            out[j] = n->out[j] >= 0 ? &x->t[n->out[j]] : NULL;
        int rc = op->run(g, ni, &x->prep[ni], in, out, x->scratch);
        if (rc)
            return rc;
        if (x->hook && (rc = x->hook(x->hook_ctx, g, ni, (const qp_tensor *const *)out)))
            return rc;
    }
    return 0;
}

const qp_tensor *qp_exec_value(const qp_exec *x, int vi)
{
    return vi >= 0 && vi < x->g->n_values ? &x->t[vi] : NULL;
}

size_t qp_exec_peak_bytes(const qp_exec *x) { return x->peak; }
size_t qp_exec_naive_bytes(const qp_exec *x) { return x->naive; }
size_t qp_exec_weight_bytes(const qp_exec *x) { return x->weights; }
