/* qmix --auto: automatic mixed precision.  The float outputs of the samples are computed once;
 * the per-layer analysis (qp/analyze.h) ranks the quantized layers by their own error (single
 * cosine, then SQNR, then graph order); a candidate set is the top k of that ranking closed
 * over the graph (a promoted layer drags its data-moving neighbours, so no converter sits
 * where it buys nothing); with --rank target the ranking is by each layer's damage per MAC on
 * the targets instead (one run per layer); each candidate is verified by running the quantized model on the
 * samples (qp/qexec.h).  The smallest k that reaches the target is found by doubling, then
 * bisection; then seeds, least sensitive first, are dropped while the target still holds.
 * Everything is in a fixed order, so the result is the same whatever QP_THREADS. */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qmix_auto.h"
#include "qp/analyze.h"
#include "qp/diag.h"
#include "qp/exec.h"
#include "qp/metrics.h"
#include "qp/qexec.h"

struct run {
    double *cos;        /* per target: mean over the samples */
    double worst;       /* the lowest of them */
    int ok;
};

struct au {
    const struct qmix_auto_opts *o;
    const qp_graph *g;
    const qp_calib *c;
    int algo;
    int n;                      /* samples */
    qp_tensor *in;              /* [n][n_inputs] the samples as float32 */
    qp_tensor *ref;             /* [n][n_outputs] the float outputs */
    int n_tgt;                  /* targets: outputs x fields (or whole outputs) */
    int *tgt_out, *tgt_a, *tgt_b;
    const char **tgt_name;
    int **cons;                 /* per value: consumer nodes, -1 terminated */
    double *macs;               /* per node */
    double total_macs;
    int runs;
    int rank_runs;              /* --rank target's runs, not counted in runs */
    FILE *log;                  /* the report's search lines (a memory stream) */
};

/* ---- the samples and their float outputs ---------------------------------------------------- */

static int load_samples(struct au *A, qp_samples *io)
{
    const qp_graph *g = A->g;
    size_t ni = (size_t)g->n_inputs, no = (size_t)g->n_outputs;
    A->in = qp_calloc((size_t)A->n * ni + 1, sizeof *A->in);
    A->ref = qp_calloc((size_t)A->n * no + 1, sizeof *A->ref);
    if (!A->in || !A->ref)
        return QP_ESYS;
    qp_exec *fx = NULL;
    int rc = qp_exec_new(g, 0, &fx);
    for (int s = 0; !rc && s < A->n; s++) {
        for (size_t i = 0; !rc && i < ni; i++) {
            qp_tensor *t = &A->in[(size_t)s * ni + i];
            if (!(rc = qp_samples_get_f32(io, s, (int)i, t)))
                rc = qp_exec_set_input(fx, (int)i, t);
        }
        if (!rc)
            rc = qp_exec_run(fx);
        for (size_t k = 0; !rc && k < no; k++) {
            const qp_tensor *y = qp_exec_value(fx, g->outputs[k]);
            if (!y)
                rc = qp_errorf(QP_EINPUT, "output '%s' is not computed", g->output_keys[k]);
            else
                rc = qp_tensor_to_f32(y, &A->ref[(size_t)s * no + k]);
        }
    }
    if (fx)
        qp_exec_free(fx);
    return rc;
}

/* The targets: each field of each output, or each whole output. */
static int make_targets(struct au *A)
{
    const qp_graph *g = A->g;
    const struct qmix_auto_opts *o = A->o;
    int nf = o->n_field ? o->n_field : 1;
    size_t n = (size_t)g->n_outputs * (size_t)nf + 1;
    A->tgt_out = qp_calloc(n, sizeof *A->tgt_out);
    A->tgt_a = qp_calloc(n, sizeof *A->tgt_a);
    A->tgt_b = qp_calloc(n, sizeof *A->tgt_b);
    A->tgt_name = qp_calloc(n, sizeof *A->tgt_name);
    if (!A->tgt_out || !A->tgt_a || !A->tgt_b || !A->tgt_name)
        return QP_ESYS;
    for (int i = 0; i < o->n_output; i++) {
        int hit = 0;
        for (int k = 0; k < g->n_outputs; k++)
            hit |= !fnmatch(o->output[i], g->output_keys[k], 0);
        if (!hit)
            return qp_errorf(QP_EUSAGE, "--target-output '%s' matches no model output (%s%s)", o->output[i],
                             g->output_keys[0], g->n_outputs > 1 ? ", ..." : "");
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const qp_value *v = &g->values[g->outputs[k]];
        int64_t last = v->rank ? v->dims[v->rank - 1] : 1;
        int hit = !o->n_output;
        for (int i = 0; i < o->n_output; i++)
            hit |= !fnmatch(o->output[i], g->output_keys[k], 0);
        if (!hit)
            continue;
        for (int f = 0; f < nf; f++) {
            int t = A->n_tgt++;
            A->tgt_out[t] = k;
            A->tgt_a[t] = o->n_field ? o->field[f].a : 0;
            A->tgt_b[t] = o->n_field ? o->field[f].b : (int)last;
            A->tgt_name[t] = o->n_field ? o->field[f].name : NULL;
            if (o->n_field && o->field[f].b > last)
                return qp_errorf(QP_EUSAGE, "--target-field '%d:%d' goes past the last axis of output '%s' (%lld)",
                                 o->field[f].a, o->field[f].b, g->output_keys[k], (long long)last);
        }
    }
    return 0;
}

/* ---- verifying a candidate -------------------------------------------------------------------- */

/* The table of the base stream with the marked nodes in the promotion type. */
static int build_table(struct au *A, const unsigned char *mark, qp_qtable **out)
{
    qp_qtable *t;
    int rc = qp_qtable_load(A->g, &t);
    if (rc)
        return rc;
    if (!(rc = qp_qmix_set_nodes(t, mark, A->o->to, QP_EUSAGE)))
        rc = qp_qmix_apply(t, A->c, A->algo);
    if (rc) {
        qp_qtable_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

static int verify(struct au *A, const unsigned char *mark, struct run *r)
{
    const qp_graph *g = A->g;
    qp_qtable *t;
    int rc = build_table(A, mark, &t);
    if (rc)
        return rc;
    qp_qexec *x;
    if ((rc = qp_qexec_new(g, t, 0, &x))) {
        qp_qtable_free(t);
        return rc;
    }
    A->runs++;
    for (int i = 0; i < A->n_tgt; i++)
        r->cos[i] = 0;
    for (int s = 0; !rc && s < A->n; s++) {
        for (int i = 0; !rc && i < g->n_inputs; i++)
            rc = qp_qexec_set_input(x, i, &A->in[(size_t)s * (size_t)g->n_inputs + (size_t)i]);
        if (!rc)
            rc = qp_qexec_run(x);
        for (int k = 0; !rc && k < g->n_outputs; k++) {
            qp_tensor y;
            const qp_tensor *ref = &A->ref[(size_t)s * (size_t)g->n_outputs + (size_t)k];
            if ((rc = qp_qexec_dequantize(qp_qexec_value(x, g->outputs[k]), &y)))
                break;
            const float *a = ref->data, *b = y.data;
            size_t numel = ref->nbytes / sizeof(float);
            const qp_value *v = &g->values[g->outputs[k]];
            size_t last = v->rank ? (size_t)v->dims[v->rank - 1] : 1;
            for (int ti = 0; ti < A->n_tgt; ti++) {
                if (A->tgt_out[ti] != k)
                    continue;
                qp_metrics_acc acc = {0};
                size_t lo = (size_t)A->tgt_a[ti], w = (size_t)(A->tgt_b[ti] - A->tgt_a[ti]);
                for (size_t row = 0; last && row < numel / last; row++)
                    qp_metrics_add_f32(&acc, a + row * last + lo, b + row * last + lo, (int64_t)w);
                r->cos[ti] += qp_metrics_get(&acc).cos;
            }
            qp_tensor_free(&y);
        }
    }
    qp_qexec_free(x);
    qp_qtable_free(t);
    if (rc)
        return rc;
    r->worst = INFINITY;
    for (int i = 0; i < A->n_tgt; i++) {
        r->cos[i] /= A->n;
        if (r->cos[i] < r->worst)
            r->worst = r->cos[i];
    }
    r->ok = !A->o->has_cos || r->worst >= A->o->target_cos;
    return 0;
}

/* ---- sets ------------------------------------------------------------------------------------- */

static int is_moving(const char *op)
{
    static const char *const moving[] = {"Reshape", "Transpose", "Slice", "Concat", "Split", "Squeeze",
                                         "Unsqueeze", "Flatten", "Identity", "Gather", "Expand", "Tile",
                                         "DepthToSpace", "SpaceToDepth", "MaxPool", "Resize", "Upsample", NULL};
    for (int i = 0; moving[i]; i++)
        if (!strcmp(op, moving[i]))
            return 1;
    return 0;
}

/* mark = the first k of rank, closed: a marked node drags its data-moving producers and
 * consumers (and they theirs), as long as they hold a quantized tensor (cand). */
static void closure(const struct au *A, const int *rank, int k, const unsigned char *cand, unsigned char *mark)
{
    const qp_graph *g = A->g;
    memset(mark, 0, (size_t)g->n_nodes + 1);
    for (int i = 0; i < k; i++)
        mark[rank[i]] = 1;
    for (int more = 1; more;) {
        more = 0;
        for (int ni = 0; ni < g->n_nodes; ni++) {
            if (!mark[ni])
                continue;
            const qp_node *n = &g->nodes[ni];
            for (int j = 0; j < n->n_in; j++) {
                int vi = n->in[j], p = vi >= 0 ? g->values[vi].producer : -1;
                if (p >= 0 && !mark[p] && cand[p] && is_moving(g->nodes[p].op_type))
                    mark[p] = more = 1;
            }
            for (int j = 0; j < n->n_out; j++)
                for (const int *c = n->out[j] >= 0 ? A->cons[n->out[j]] : NULL; c && *c >= 0; c++)
                    if (!mark[*c] && cand[*c] && is_moving(g->nodes[*c].op_type))
                        mark[*c] = more = 1;
        }
    }
}

static int count(const unsigned char *m, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += m[i] != 0;
    return c;
}

static double share(const struct au *A, const unsigned char *mark)
{
    double s = 0;
    for (int ni = 0; ni < A->g->n_nodes; ni++)
        if (mark[ni])
            s += A->macs[ni];
    return A->total_macs > 0 ? s / A->total_macs : 0;
}

/* MACs of a layer: with a weight, numel(output) x numel(weight) / output channels (Conv,
 * Gemm, MatMul); otherwise one per output element. */
static void count_macs(struct au *A, const unsigned char *cand, const qp_qtable *t)
{
    const qp_graph *g = A->g;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        if (!cand[ni] || n->n_out < 1 || n->out[0] < 0)
            continue;
        size_t out = 0;
        const qp_value *y = &g->values[n->out[0]];
        qp_value_numel(y, &out);
        double m = (double)out;
        if (qp_qentry_present(&t->weight[ni]) && n->n_in > 1 && n->in[1] >= 0 && y->rank >= 2) {
            size_t w = 0;
            qp_value_numel(&g->values[n->in[1]], &w);
            int cd = !strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "ConvTranspose") ? 1 : y->rank - 1;
            if (y->dims[cd] > 0)
                m *= (double)w / (double)y->dims[cd];
        }
        A->macs[ni] = m;
        A->total_macs += m;
    }
}

static void log_run(struct au *A, const char *what, int k, const unsigned char *mark, const struct run *r)
{
    fprintf(A->log, "  run %2d: %-10s k=%-4d layers=%-4d macs=%6.2f%%  worst cos %.6f %s\n", A->runs, what, k,
            count(mark, A->g->n_nodes), 100 * share(A, mark), r->worst, r->ok ? "ok" : "short");
}

static void keep_run(const struct au *A, struct run *dst, const struct run *src)
{
    memcpy(dst->cos, src->cos, (size_t)A->n_tgt * sizeof *dst->cos);
    dst->worst = src->worst;
    dst->ok = src->ok;
}

/* Drops seeds (the tail of seed[], least sensitive last) while the target holds: chunks of a
 * quarter of them from the end, then halves, down to single seeds; no run when the closure does
 * not change; stops at --max-runs.  cur is the closure of the seeds kept. */
static int prune(struct au *A, int *seed, int *ns, const unsigned char *cand, unsigned char *cur,
                 unsigned char *mark, struct run *r, struct run *rb)
{
    int nn = A->g->n_nodes, n = *ns, rc = 0;
    int *trial = qp_calloc((size_t)n + 1, sizeof *trial);
    if (!trial)
        return QP_ESYS;
    for (int c = n / 4 > 1 ? n / 4 : 1;; c = (c + 1) / 2) {
        for (int end = n; !rc && end > 0; end -= c) {
            int lo = end - c > 0 ? end - c : 0, nt = 0;
            if (A->runs >= A->o->max_runs) {
                fprintf(A->log, "  prune stopped at --max-runs %d\n", A->o->max_runs);
                goto done;
            }
            for (int j = 0; j < n; j++)
                if (j < lo || j >= end)
                    trial[nt++] = seed[j];
            if (!nt)
                continue;
            closure(A, trial, nt, cand, mark);
            if (!memcmp(mark, cur, (size_t)nn))     /* dragged back in: nothing to verify */
                continue;
            if ((rc = verify(A, mark, r)))
                break;
            log_run(A, "prune", nt, mark, r);
            if (r->ok) {
                keep_run(A, rb, r);
                memcpy(seed, trial, (size_t)nt * sizeof *seed);
                n = nt;
                memcpy(cur, mark, (size_t)nn);
                end = lo + c;   /* the seeds below lo are where they were */
            }
        }
        if (rc || c == 1)
            break;
    }
done:
    free(trial);
    *ns = n;
    return rc;
}

struct lo1 {
    double cos;     /* the lowest target cosine with the layer alone left quantized */
    double key;
    int pos;        /* its place in the single-error ranking */
    int ni;
};

static int cmp_lo1(const void *a, const void *b)
{
    const struct lo1 *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* --rank target: every layer with arithmetic (not data-moving) after the output producers is
 * verified alone left quantized, every other quantized layer promoted; its damage is the drop
 * of the lowest target cosine from the all-promoted run.  The layers with the most damage per
 * MAC come first (a cheap layer that hurts before an expensive one that hurts a little: the
 * greedy order of the knapsack); ties and the data-moving layers, which the closure drags
 * anyway, keep the single-error order.  These runs are not counted against --max-runs. */
static int rank_on_target(struct au *A, int *rank, int na, int nr, const unsigned char *cand, unsigned char *mark,
                          struct run *r)
{
    const qp_graph *g = A->g;
    int nn = g->n_nodes, rc = 0, nl = 0, runs0 = A->runs;
    struct lo1 *l = qp_calloc((size_t)nr + 1, sizeof *l);
    if (!l)
        return QP_ESYS;
    memcpy(mark, cand, (size_t)nn);
    if ((rc = verify(A, mark, r))) {
        free(l);
        return rc;
    }
    double all = r->worst;
    for (int i = na; i < nr; i++) {
        int ni = rank[i];
        l[nl] = (struct lo1){INFINITY, INFINITY, i, ni};
        if (!is_moving(g->nodes[ni].op_type)) {
            memcpy(mark, cand, (size_t)nn);
            mark[ni] = 0;
            if ((rc = verify(A, mark, r)))
                break;
            l[nl].cos = r->worst;
            /* the damage per MAC, negated: the most first */
            l[nl].key = -(all - r->worst) / (A->macs[ni] > 0 ? A->macs[ni] : 1);
        }
        nl++;
    }
    if (!rc) {
        qsort(l, (size_t)nl, sizeof *l, cmp_lo1);
        for (int i = 0; i < nl; i++)
            rank[na + i] = l[i].ni;
        fprintf(A->log, "ranking on the targets (--rank target): %d runs, each layer alone left quantized; first %s "
                        "(%.6f)\n",
                A->runs - runs0, nl ? g->nodes[l[0].ni].key : "-", nl ? l[0].cos : 0.0);
    }
    A->rank_runs = A->runs - runs0;
    A->runs = runs0;
    free(l);
    return rc;
}

/* ---- the search -------------------------------------------------------------------------------- */

static int search(struct au *A, qp_samples *io, qp_qtable **result, char **report)
{
    const qp_graph *g = A->g;
    const struct qmix_auto_opts *o = A->o;
    int nn = g->n_nodes, rc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t rlen = 0;
    char *rbuf = NULL;
    A->log = open_memstream(&rbuf, &rlen);
    if (!A->log)
        return QP_ESYS;
    qp_qtable *base;
    if ((rc = qp_qtable_load(g, &base)))
        goto out0;
    qp_analyze_row *rows = NULL;
    unsigned char *cand = qp_calloc((size_t)nn + 1, 1), *mark = qp_calloc((size_t)nn + 1, 1),
                  *best = qp_calloc((size_t)nn + 1, 1);
    int *rank = qp_calloc((size_t)nn + 1, sizeof *rank), nr = 0;
    A->macs = qp_calloc((size_t)nn + 1, sizeof *A->macs);
    struct run r = {qp_calloc((size_t)A->n_tgt + 1, sizeof(double)), 0, 0};
    struct run rb = {qp_calloc((size_t)A->n_tgt + 1, sizeof(double)), 0, 0};
    if (!cand || !mark || !best || !rank || !A->macs || !r.cos || !rb.cos) {
        rc = QP_ESYS;
        goto out;
    }
    /* 1. sensitivity: the layers held quantized, lowest single cosine first */
    if ((rc = qp_analyze_run(g, base, io, A->n, NULL, NULL, &rows)))
        goto out;
    qp_analyze_row *sorted = qp_malloc((size_t)nn * sizeof *sorted + 1);
    if (!sorted) {
        rc = QP_ESYS;
        goto out;
    }
    for (int ni = 0; ni < nn; ni++)
        if (rows[ni].quant && rows[ni].s.n && g->nodes[ni].key && g->nodes[ni].key[0]) {
            cand[ni] = 1;
            sorted[nr++] = rows[ni];
        }
    qsort(sorted, (size_t)nr, sizeof *sorted, qp_analyze_cmp_single);
    /* the producers of the outputs first: every target is measured there, and their closure
     * (the data-moving tail) costs next to nothing; without it a prefix of the ranking can
     * leave the one shared output scale that crushes a small field (yolov5s' final Concat) */
    int na = 0;
    for (int k = 0; k < g->n_outputs; k++) {
        int p = g->values[g->outputs[k]].producer, dup = 0;
        for (int i = 0; i < na; i++)
            dup |= rank[i] == p;
        if (p >= 0 && cand[p] && !dup)
            rank[na++] = p;
    }
    for (int i = 0, m = na; i < nr; i++) {
        int dup = 0;
        for (int j = 0; j < na; j++)
            dup |= rank[j] == sorted[i].ni;
        if (!dup)
            rank[m++] = sorted[i].ni;
    }
    free(sorted);
    count_macs(A, cand, base);
    fprintf(A->log, "ranking: %d quantized layers; first the %d output producer%s, then by single cosine over %d "
                    "samples (qinfer --analyze), first %s (%.6f)\n",
            nr, na, na == 1 ? "" : "s", A->n, nr > na ? g->nodes[rank[na]].key : "-",
            nr > na ? qp_analyze_get(&rows[rank[na]].s).cos : 0.0);
    if (o->rank_target && (rc = rank_on_target(A, rank, na, nr, cand, mark, &r)))
        goto out;
    /* 2. the largest set the budget allows */
    int kmax = nr;
    if (o->has_share) {
        int lo = 0, hi = nr;    /* share(lo) <= S; the closure only grows with k */
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            closure(A, rank, mid, cand, mark);
            if (share(A, mark) <= o->max_share)
                lo = mid;
            else
                hi = mid - 1;
        }
        kmax = lo;
    }
    closure(A, rank, 0, cand, mark);
    if ((rc = verify(A, mark, &r)))
        goto out;
    log_run(A, "base", 0, mark, &r);
    int k = 0;
    keep_run(A, &rb, &r);
    if (!r.ok || !o->has_cos) {
        closure(A, rank, kmax, cand, mark);
        if ((rc = verify(A, mark, &r)))
            goto out;
        log_run(A, o->has_share ? "budget" : "all", kmax, mark, &r);
        if (!r.ok || !o->has_cos) {
            memcpy(best, mark, (size_t)nn);
            k = kmax;
        }
        if (r.worst > rb.worst || r.ok)
            keep_run(A, &rb, &r);
        if (!r.ok) {
            char how[160];
            if (rb.worst == r.worst)
                snprintf(how, sizeof how, "with %d layers in %s%s", count(mark, nn), o->to,
                         o->has_share ? ", the most --max-int16-share allows" : ", every quantized layer");
            else
                snprintf(how, sizeof how, "with the table as it is");
            rc = qp_errorf(QP_ECHECK, "target cosine %g not reachable: the best is %.6f (lowest target, %s; %d "
                                      "verification runs)", o->target_cos, rb.worst, how, A->runs);
            goto out;
        }
        if (o->has_cos) {
            /* 3. the smallest k of the ranking that holds: doubling from 1 (small sets first:
             * the output tail often suffices), then bisection */
            int lo = 0, hi = kmax;  /* lo fails, hi holds */
            for (int step = 1; step < hi; step *= 2) {
                closure(A, rank, step, cand, mark);
                if ((rc = verify(A, mark, &r)))
                    goto out;
                log_run(A, "double", step, mark, &r);
                if (r.ok) {
                    hi = step;
                    keep_run(A, &rb, &r);
                    break;
                }
                lo = step;
            }
            while (hi - lo > 1) {
                int mid = lo + (hi - lo) / 2;
                closure(A, rank, mid, cand, mark);
                if ((rc = verify(A, mark, &r)))
                    goto out;
                log_run(A, "bisect", mid, mark, &r);
                if (r.ok) {
                    hi = mid;
                    keep_run(A, &rb, &r);
                }
                else
                    lo = mid;
            }
            k = hi;
            /* 4. prune: drop each seed, least sensitive first, when the target still holds */
            int *seed = qp_calloc((size_t)k + 1, sizeof *seed), ns = k;
            unsigned char *cur = qp_calloc((size_t)nn + 1, 1);
            if (!seed || !cur) {
                free(seed);
                free(cur);
                rc = QP_ESYS;
                goto out;
            }
            memcpy(seed, rank, (size_t)k * sizeof *seed);
            closure(A, seed, ns, cand, cur);
            rc = prune(A, seed, &ns, cand, cur, mark, &r, &rb);
            free(seed);
            memcpy(best, cur, (size_t)nn);
            k = ns;
            free(cur);
            if (rc)
                goto out;
        }
    }
    if (rc)
        goto out;
    qp_qtable *t;
    if ((rc = build_table(A, best, &t)))
        goto out;
    /* the report */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wb = 0, wb16 = 0;
    for (int ni = 0; ni < nn; ni++) {
        const qp_qentry *w = &t->weight[ni];
        size_t numel = 0;
        if (!qp_qentry_present(w) || g->nodes[ni].n_in < 2 || g->nodes[ni].in[1] < 0)
            continue;
        qp_value_numel(&g->values[g->nodes[ni].in[1]], &numel);
        double b = (double)numel * qp_qtable_qtype_bits(w->qtype) / 8;
        wb += b;
        if (best[ni])
            wb16 += b;
    }
    FILE *f = A->log;
    fprintf(f, "chosen: %d layers in %s (%d from the ranking, the rest dragged along the graph)\n",
            count(best, nn), o->to, k);
    for (int ni = 0; ni < nn; ni++)
        if (best[ni])
            fprintf(f, "  %s\n", g->nodes[ni].key);
    fprintf(f, "cost: %.2f%% of MACs, %.2f%% of weight bytes (%.0f of %.0f) in %s\n", 100 * share(A, best),
            wb > 0 ? 100 * wb16 / wb : 0.0, wb16, wb, o->to);
    for (int i = 0; i < A->n_tgt; i++) {
        fprintf(f, "cos: %s", g->output_keys[A->tgt_out[i]]);
        if (o->n_field)
            fprintf(f, " [%s%s%d:%d]", A->tgt_name[i] ? A->tgt_name[i] : "", A->tgt_name[i] ? "=" : "", A->tgt_a[i],
                    A->tgt_b[i]);
        fprintf(f, " %.6f", rb.cos[i]);
        if (o->has_cos)
            fprintf(f, " (target %g)", o->target_cos);
        fprintf(f, "\n");
    }
    if (o->rank_target)
        fprintf(f, "ranking runs: %d\n", A->rank_runs);
    fprintf(f, "verification runs: %d, %d samples each; %.1f s\n", A->runs, A->n,
            (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    *result = t;
out:
    free(rows);
    free(cand);
    free(mark);
    free(best);
    free(rank);
    free(r.cos);
    free(rb.cos);
    qp_qtable_free(base);
out0:
    fclose(A->log);
    if (rc)
        free(rbuf);
    else
        *report = rbuf;
    return rc;
}

int qp_qmix_auto(const struct qmix_auto_opts *o, const qp_graph *g, const qp_calib *c, int algo, qp_samples *io,
                 qp_qtable **out, char **report)
{
    struct au A = {0};
    A.o = o;
    A.g = g;
    A.c = c;
    A.algo = algo;
    A.n = o->iterations;
    *out = NULL;
    *report = NULL;
    int rc = make_targets(&A);
    if (!rc) {
        A.cons = qp_calloc((size_t)g->n_values + 1, sizeof *A.cons);
        int *nc = qp_calloc((size_t)g->n_values + 1, sizeof *nc);
        if (!A.cons || !nc)
            rc = QP_ESYS;
        for (int ni = 0; !rc && ni < g->n_nodes; ni++)
            for (int j = 0; j < g->nodes[ni].n_in; j++)
                if (g->nodes[ni].in[j] >= 0)
                    nc[g->nodes[ni].in[j]]++;
        for (int vi = 0; !rc && vi < g->n_values; vi++) {
            if (!(A.cons[vi] = qp_malloc(((size_t)nc[vi] + 1) * sizeof **A.cons)))
                rc = QP_ESYS;
            else
                A.cons[vi][0] = -1;
            nc[vi] = 0;
        }
        for (int ni = 0; !rc && ni < g->n_nodes; ni++)
            for (int j = 0; j < g->nodes[ni].n_in; j++) {
                int vi = g->nodes[ni].in[j];
                if (vi >= 0 && (nc[vi] == 0 || A.cons[vi][nc[vi] - 1] != ni)) {
                    A.cons[vi][nc[vi]++] = ni;
                    A.cons[vi][nc[vi]] = -1;
                }
            }
        free(nc);
    }
    if (!rc)
        rc = load_samples(&A, io);
    if (!rc)
        rc = search(&A, io, out, report);
    if (A.in)
        for (size_t i = 0; i < (size_t)A.n * (size_t)g->n_inputs; i++)
            qp_tensor_free(&A.in[i]);
    if (A.ref)
        for (size_t i = 0; i < (size_t)A.n * (size_t)g->n_outputs; i++)
            qp_tensor_free(&A.ref[i]);
    if (A.cons)
        for (int vi = 0; vi < g->n_values; vi++)
            free(A.cons[vi]);
    free(A.cons);
    free(A.in);
    free(A.ref);
    free(A.tgt_out);
    free(A.tgt_a);
    free(A.tgt_b);
    free(A.tgt_name);
    free(A.macs);
    return rc;
}
