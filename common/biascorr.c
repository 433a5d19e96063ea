/* Empirical bias correction (qp/biascorr.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qp/biascorr.h"
#include "qp/diag.h"
#include "qp/exec.h"
#include "qp/metrics.h"
#include "qp/nn.h"
#include "qp/qexec.h"

struct bc {
    const qp_graph *g;
    int n;                      /* samples */
    qp_tensor *in;              /* [n][n_inputs] float32 */
    int *target;                /* per node id: index into the targets, or -1 */
    int *node;                  /* per target: node id */
    int *m;                     /* per target: output channels */
    double **fsum;              /* per target: per channel sum of the float run's outputs */
    double **fin;               /* per target: per channel count of float outputs inside (lo, hi) */
    double *lo, *hi;            /* per target: the clamp of a Relu or Clip that alone reads it */
    double *count;              /* per target: elements per channel summed */
};

/* Whether the table runs node ni as an integer layer with a quantized output. */
static int integer_layer(const qp_qtable *t, int ni)
{
    const qp_graph *g = t->g;
    const qp_qentry *w = &t->weight[ni];
    int vo = g->nodes[ni].out[0];
    const qp_qentry *y = &t->value[vo];
    return !qp_quantizer_is_float(w->quantizer) && qp_qtable_qtype_bits(w->qtype) &&
           !qp_quantizer_is_float(y->quantizer) && qp_qtable_qtype_bits(y->qtype);
}

/* Adds each channel's (axis 1) sum of the float32 tensor y, clamped to [lo, hi], to sum[m],
 * and if in is not NULL the count of its elements strictly inside (lo, hi) to in[m]; *count
 * += elements a channel has. */
static int channel_sums(const qp_graph *g, int ni, const qp_tensor *y, int m, double lo, double hi, double *sum,
                        double *in, double *count)
{
    if (y->dtype != QP_DT_F32 || y->rank < 2 || y->dims[1] != m)
        return qp_errorf(QP_EINPUT, "layer '%s': output is not float32 with %d channels on axis 1",
                         qp_node_key(&g->nodes[ni]), m);
    size_t outer = (size_t)y->dims[0], inner = 1;
    for (int d = 2; d < y->rank; d++)
        inner *= (size_t)y->dims[d];
    const float *p = y->data;
    for (size_t o = 0; o < outer; o++)
        for (int c = 0; c < m; c++) {
            const float *q = p + (o * (size_t)m + (size_t)c) * inner;
            double s = 0, k = 0;
            for (size_t i = 0; i < inner; i++) {
                double v = q[i];
                k += v > lo && v < hi;
                s += v < lo ? lo : v > hi ? hi : v;
            }
            sum[c] += s;
            if (in)
                in[c] += k;
        }
    *count += (double)(outer * inner);
    return 0;
}

static int float_hook(void *ctx, const qp_graph *g, int ni, const qp_tensor *const *outs)
{
    struct bc *B = ctx;
    int k = B->target[ni];
    if (k < 0 || !outs[0])
        return 0;
    return channel_sums(g, ni, outs[0], B->m[k], B->lo[k], B->hi[k], B->fsum[k], B->fin[k], &B->count[k]);
}

static int set_inputs_q(const struct bc *B, qp_qexec *x, int s)
{
    int rc = 0;
    for (int i = 0; !rc && i < B->g->n_inputs; i++)
        rc = qp_qexec_set_input(x, i, &B->in[(size_t)s * (size_t)B->g->n_inputs + (size_t)i]);
    return rc;
}

/* The samples (float32) and the float run's channel sums of every target. */
static int float_pass(struct bc *B, qp_samples *io)
{
    const qp_graph *g = B->g;
    size_t ni = (size_t)g->n_inputs;
    qp_exec *fx = NULL;
    int rc = qp_exec_new(g, QP_EXEC_NO_FUSE, &fx);
    if (!rc)
        qp_exec_set_hook(fx, float_hook, B);
    for (int s = 0; !rc && s < B->n; s++) {
        for (size_t i = 0; !rc && i < ni; i++) {
            qp_tensor *t = &B->in[(size_t)s * ni + i];
            if (!(rc = qp_samples_get_f32(io, s, (int)i, t)))
                rc = qp_exec_set_input(fx, (int)i, t);
        }
        if (!rc)
            rc = qp_exec_run(fx);
        if (rc)
            rc = qp_error_prefix(rc, "sample %d", s);
    }
    qp_exec_free(fx);
    return rc;
}

/* Target k: the quantized run up to its node on every sample, the channel means compared with
 * the float run's; the difference is added to the table's correction of the node. */
static int correct(struct bc *B, qp_qtable *t, int k)
{
    const qp_graph *g = B->g;
    int node = B->node[k], m = B->m[k];
    double *qsum = qp_calloc((size_t)m + 1, sizeof *qsum), count = 0;
    double *d = qp_calloc((size_t)m + 1, sizeof *d);
    qp_qexec *x = NULL;
    int rc = qsum && d ? qp_qexec_new(g, t, QP_QEXEC_NO_FUSE, &x) : QP_ESYS;
    for (int s = 0; !rc && s < B->n; s++) {
        rc = set_inputs_q(B, x, s);
        for (int ni = 0; !rc && ni <= node; ni++)
            rc = qp_qexec_run_layer(x, ni, NULL);
        const qp_qtensor *q = rc ? NULL : qp_qexec_value(x, g->nodes[node].out[0]);
        qp_tensor y = {0};
        if (!rc && !q)
            rc = qp_errorf(QP_EINPUT, "layer '%s': output not computed", qp_node_key(&g->nodes[node]));
        if (!rc && !(rc = qp_qexec_dequantize(q, &y)))
            rc = channel_sums(g, node, &y, m, B->lo[k], B->hi[k], qsum, NULL, &count);
        qp_tensor_free(&y);
        if (rc)
            rc = qp_error_prefix(rc, "sample %d", s);
    }
    if (!rc && (count != B->count[k] || count <= 0))
        rc = qp_errorf(QP_EINPUT, "layer '%s': the float and quantized runs differ in shape", qp_node_key(&g->nodes[node]));
    if (!rc) {
        const double *old = t->bias_corr[node];
        /* behind a clamp the means compared are the clamped ones, and a bias shift moves the
         * clamped mean only where the output is inside it: the shift is the difference over
         * the fraction inside (none for a channel never inside) */
        for (int c = 0; c < m; c++) {
            double in = B->fin[k][c] / count;
            d[c] = (old ? old[c] : 0) + (in > 0 ? (B->fsum[k][c] - qsum[c]) / count / in : 0);
        }
        rc = qp_qtable_set_bias_corr(t, node, d, m);
    }
    qp_qexec_free(x);
    free(qsum);
    free(d);
    return rc;
}

/* The mean over the samples and the graph outputs of the cosine between table t's integer run
 * (dequantized) and the float run. */
static int output_cos(const struct bc *B, const qp_qtable *t, double *cos)
{
    const qp_graph *g = B->g;
    qp_exec *fx = NULL;
    qp_qexec *x = NULL;
    double sum = 0;
    int n = 0;
    int rc = qp_exec_new(g, 0, &fx);
    if (!rc)
        rc = qp_qexec_new(g, t, 0, &x);
    for (int s = 0; !rc && s < B->n; s++) {
        for (int i = 0; !rc && i < g->n_inputs; i++)
            rc = qp_exec_set_input(fx, i, &B->in[(size_t)s * (size_t)g->n_inputs + (size_t)i]);
        if (!rc && !(rc = set_inputs_q(B, x, s)) && !(rc = qp_exec_run(fx)))
            rc = qp_qexec_run(x);
        for (int k = 0; !rc && k < g->n_outputs; k++) {
            const qp_tensor *f = qp_exec_value(fx, g->outputs[k]);
            const qp_qtensor *q = qp_qexec_value(x, g->outputs[k]);
            qp_tensor y = {0};
            if (!f || !q || f->dtype != QP_DT_F32)
                continue;               /* an output that is not float (indices, shapes) */
            if ((rc = qp_qexec_dequantize(q, &y)))
                break;
            if (y.nbytes == f->nbytes) {
                qp_metrics_acc a = {0};
                qp_metrics_add_f32(&a, f->data, y.data, (int64_t)(y.nbytes / sizeof(float)));
                sum += qp_metrics_get(&a).cos;
                n++;
            }
            qp_tensor_free(&y);
        }
        if (rc)
            rc = qp_error_prefix(rc, "sample %d", s);
    }
    qp_exec_free(fx);
    qp_qexec_free(x);
    *cos = n ? sum / n : 1.0;
    return rc;
}

int qp_biascorr_run(const qp_graph *g, qp_qtable *t, qp_samples *io, int n, int passes,
                    qp_biascorr_progress progress, void *ctx, qp_biascorr_result *res)
{
    struct bc B = {g, n, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t nn = (size_t)g->n_nodes + 1;
    int rc = 0, nt = 0;
    *res = (qp_biascorr_result){0, 1.0, 1.0};
    if (n < 1 || passes < 1)
        return qp_errorf(QP_EUSAGE, "bias correction needs at least one sample and one pass");
    B.in = qp_calloc((size_t)n * (size_t)g->n_inputs + 1, sizeof *B.in);
    B.target = qp_calloc(nn, sizeof *B.target);
    B.node = qp_calloc(nn, sizeof *B.node);
    B.m = qp_calloc(nn, sizeof *B.m);
    B.fsum = qp_calloc(nn, sizeof *B.fsum);
    B.fin = qp_calloc(nn, sizeof *B.fin);
    B.lo = qp_calloc(nn, sizeof *B.lo);
    B.hi = qp_calloc(nn, sizeof *B.hi);
    B.count = qp_calloc(nn, sizeof *B.count);
    if (!B.in || !B.target || !B.node || !B.m || !B.fsum || !B.fin || !B.lo || !B.hi || !B.count)
        rc = QP_ESYS;
    for (int ni = 0; !rc && ni < g->n_nodes; ni++) {
        B.target[ni] = -1;
        int m = qp_qtable_bias_corr_channels(g, ni);
        if (m < 0 || !integer_layer(t, ni))
            continue;
        B.target[ni] = nt;
        B.node[nt] = ni;
        B.m[nt] = m;
        int an;
        if (qp_nn_match_clamp(g, ni, &an, &B.lo[nt], &B.hi[nt])) {
            B.lo[nt] = -HUGE_VAL;
            B.hi[nt] = HUGE_VAL;
        }
        if (!(B.fsum[nt] = qp_calloc((size_t)m + 1, sizeof **B.fsum)) ||
            !(B.fin[nt] = qp_calloc((size_t)m + 1, sizeof **B.fin)))
            rc = QP_ESYS;
        nt++;
    }
    if (!rc && nt)
        rc = float_pass(&B, io);
    if (!rc && nt)
        rc = output_cos(&B, t, &res->cos_before);
    for (int p = 0; !rc && p < passes; p++)
        for (int k = 0; !rc && k < nt; k++) {
            rc = correct(&B, t, k);
            if (rc && rc != QP_ESYS)
                rc = qp_error_prefix(rc, "bias correction of layer '%s'", qp_node_key(&g->nodes[B.node[k]]));
            if (!rc && progress)
                progress(ctx, p * nt + k + 1, passes * nt);
        }
    if (!rc && nt)
        rc = output_cos(&B, t, &res->cos_after);
    if (!rc)
        res->layers = nt;
    for (size_t i = 0; B.in && i < (size_t)n * (size_t)g->n_inputs; i++)
        qp_tensor_free(&B.in[i]);
    for (int k = 0; B.fsum && k < nt; k++)
        free(B.fsum[k]);
    for (int k = 0; B.fin && k < nt; k++)
        free(B.fin[k]);
    free(B.in);
    free(B.target);
    free(B.node);
    free(B.m);
    free(B.fsum);
    free(B.fin);
    free(B.lo);
    free(B.hi);
    free(B.count);
    return rc;
}
