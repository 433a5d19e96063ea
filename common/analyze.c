/* Per-layer analysis (qp/analyze.h).  The float executor runs each sample once, without
 * fusion; its hook runs the same layer on two quantized executors: one fed by its own previous
 * layers (entire), one fed with the float run's inputs (single).  Float inputs a later layer
 * still reads are kept until their last reader has run. */
#include <stdlib.h>
#include <string.h>

#include "qp/analyze.h"
#include "qp/diag.h"
#include "qp/exec.h"
#include "qp/metrics.h"
#include "qp/qexec.h"

struct an {
    const qp_graph *g;
    qp_exec *fx;
    qp_qexec *xe, *xs;
    qp_tensor *keep;    /* per value: the float run's tensor while a later layer reads it */
    int *uses, *left;   /* per value: readers, readers still to run */
    qp_analyze_row *rows;
};

static void sum_add(qp_analyze_sum *v, qp_metrics m)
{
    v->cos += m.cos;
    v->euc += m.euc;
    v->sqnr += m.sqnr;
    v->n++;
}

qp_analyze_mean qp_analyze_get(const qp_analyze_sum *v)
{
    int n = v->n ? v->n : 1;
    return (qp_analyze_mean){v->cos / n, v->euc / n, v->sqnr / n};
}

/* Compares the quantized executor's outputs of layer ni with the float ones. */
static int compare(const qp_graph *g, int ni, const qp_qexec *x, const qp_tensor *const *fouts, qp_analyze_sum *v)
{
    const qp_node *n = &g->nodes[ni];
    qp_metrics_acc a = {0};
    int any = 0;
    for (int k = 0; k < n->n_out; k++) {
        const qp_qtensor *q = n->out[k] >= 0 ? qp_qexec_value(x, n->out[k]) : NULL;
        if (!q || !fouts[k])
            continue;
        qp_tensor dq, fr = {0};
        int rc = qp_qexec_dequantize(q, &dq);
        if (rc)
            return rc;
        const qp_tensor *ref = fouts[k];
        if (ref->dtype != QP_DT_F32) {
            if ((rc = qp_tensor_to_f32(ref, &fr))) {
                qp_tensor_free(&dq);
                return rc;
            }
            ref = &fr;
        }
        if (ref->nbytes == dq.nbytes) {
            qp_metrics_add_f32(&a, ref->data, dq.data, (int64_t)(dq.nbytes / sizeof(float)));
            any = 1;
        }
        qp_tensor_free(&dq);
        qp_tensor_free(&fr);
    }
    if (any)
        sum_add(v, qp_metrics_get(&a));
    return 0;
}

static int float_hook(void *ctx, const qp_graph *g, int ni, const qp_tensor *const *outs)
{
    struct an *A = ctx;
    const qp_node *n = &g->nodes[ni];
    const qp_tensor *fin[QP_MAX_IO];
    for (int j = 0; j < n->n_in; j++) {
        int vi = n->in[j];
        fin[j] = NULL;
        if (vi < 0 || g->values[vi].is_const)
            continue;
        fin[j] = A->keep[vi].data ? &A->keep[vi] : qp_exec_value(A->fx, vi);
    }
    int rc = qp_qexec_run_layer(A->xe, ni, NULL);
    if (!rc)
        rc = compare(g, ni, A->xe, outs, &A->rows[ni].e);
    if (!rc)
        rc = qp_qexec_run_layer(A->xs, ni, fin);
    if (!rc)
        rc = compare(g, ni, A->xs, outs, &A->rows[ni].s);
    if (rc)
        return qp_error_prefix(rc, "layer '%s' (%s)", qp_node_key(n), n->op_type);
    for (int j = 0; j < n->n_in; j++) {
        int vi = n->in[j];
        if (vi >= 0 && A->uses[vi] && --A->left[vi] == 0)
            qp_tensor_free(&A->keep[vi]);
    }
    for (int k = 0; k < n->n_out; k++) {
        int vi = n->out[k];
        if (vi < 0 || !outs[k] || !A->uses[vi])
            continue;
        qp_tensor *t = &A->keep[vi];
        if ((rc = qp_tensor_alloc(t, outs[k]->dtype, outs[k]->rank, outs[k]->dims)))
            return rc;
        memcpy(t->data, outs[k]->data, t->nbytes);
        A->left[vi] = A->uses[vi];
    }
    return 0;
}

int qp_analyze_cmp_entire(const void *pa, const void *pb)
{
    const qp_analyze_row *a = pa, *b = pb;
    qp_analyze_mean x = qp_analyze_get(&a->e), y = qp_analyze_get(&b->e);
    if (x.cos != y.cos)
        return x.cos < y.cos ? -1 : 1;
    return a->ni - b->ni;
}

int qp_analyze_cmp_single(const void *pa, const void *pb)
{
    const qp_analyze_row *a = pa, *b = pb;
    qp_analyze_mean x = qp_analyze_get(&a->s), y = qp_analyze_get(&b->s);
    if (x.cos != y.cos)
        return x.cos < y.cos ? -1 : 1;
    if (x.sqnr != y.sqnr)
        return x.sqnr < y.sqnr ? -1 : 1;
    return a->ni - b->ni;
}

int qp_analyze_run(const qp_graph *g, const qp_qtable *t, qp_samples *io, int iterations,
                   qp_analyze_progress progress, void *ctx, qp_analyze_row **rows)
{
    struct an A = {g, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    int rc = 0;
    *rows = NULL;
    A.keep = qp_calloc(nv, sizeof *A.keep);
    A.uses = qp_calloc(nv, sizeof *A.uses);
    A.left = qp_calloc(nv, sizeof *A.left);
    A.rows = qp_calloc(nn, sizeof *A.rows);
    if (!A.keep || !A.uses || !A.left || !A.rows)
        rc = QP_ESYS;
    if (!rc)
        rc = qp_exec_new(g, QP_EXEC_NO_FUSE, &A.fx);
    if (!rc)
        rc = qp_qexec_new(g, t, QP_QEXEC_NO_FUSE, &A.xe);
    if (!rc)
        rc = qp_qexec_new(g, t, QP_QEXEC_NO_FUSE, &A.xs);
    for (int ni = 0; !rc && ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        A.rows[ni].ni = ni;
        const qp_qrep *r = n->n_out && n->out[0] >= 0 ? qp_qexec_rep(A.xe, n->out[0]) : NULL;
        A.rows[ni].quant = r && r->kind == QP_QREP_QUANT;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && !g->values[n->in[j]].is_const)
                A.uses[n->in[j]]++;
    }
    for (int i = 0; !rc && i < g->n_inputs; i++)
        A.uses[g->inputs[i]] = 0;   /* the executor keeps graph inputs */
    if (!rc)
        qp_exec_set_hook(A.fx, float_hook, &A);
    for (int it = 0; !rc && it < iterations; it++) {
        for (int i = 0; !rc && i < g->n_inputs; i++) {
            qp_tensor in;
            if ((rc = qp_samples_get(io, it, i, &in)))
                break;
            rc = qp_exec_set_input(A.fx, i, &in);
            if (!rc)
                rc = qp_qexec_set_input(A.xe, i, &in);
            qp_tensor_free(&in);
        }
        if (!rc)
            rc = qp_exec_run(A.fx);
        for (size_t v = 0; v < nv; v++)
            qp_tensor_free(&A.keep[v]);
        if (!rc && progress)
            progress(ctx, it + 1, iterations);
    }
    qp_exec_free(A.fx);
    qp_qexec_free(A.xe);
    qp_qexec_free(A.xs);
    free(A.keep);
    free(A.uses);
    free(A.left);
    if (rc)
        free(A.rows);
    else
        *rows = A.rows;
    return rc;
}
