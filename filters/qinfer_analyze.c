/* qinfer --analyze: RKNN-Toolkit2's accuracy analysis on the integer simulator.  Per layer,
 * over the samples: the "entire" error (the quantized run from the model input, so error
 * accumulates) and the "single" error (the layer alone: the float run's inputs quantized with
 * the layer's input parameters, its integer rule, dequantized), both against the float run.
 * One float run per sample drives two layer-by-layer quantized executors from its hook. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qinfer_analyze.h"
#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/exec.h"
#include "qp/metrics.h"
#include "qp/qexec.h"
#include "qp/qtable.h"

/* A layer's figures, means over the samples. */
struct metric {
    double cos, euc, sqnr;
};

/* Sums over samples of each metric. */
struct avg {
    double cos, euc, sqnr;
    int n;
};

struct row {
    int ni;
    struct avg e, s;
    int quant;      /* output 0 is held quantized: a candidate for --suggest */
};

struct an {
    const qp_graph *g;
    qp_exec *fx;
    qp_qexec *xe, *xs;
    qp_tensor *keep;    /* per value: the float run's tensor while a later layer reads it */
    int *uses, *left;   /* per value: readers, readers still to run */
    struct row *rows;
};

static void avg_add(struct avg *v, qp_metrics m)
{
    v->cos += m.cos;
    v->euc += m.euc;
    v->sqnr += m.sqnr;
    v->n++;
}

static struct metric avg_get(const struct avg *v)
{
    int n = v->n ? v->n : 1;
    return (struct metric){v->cos / n, v->euc / n, v->sqnr / n};
}

/* Compares the quantized executor's outputs of layer ni with the float ones. */
static int compare(const qp_graph *g, int ni, const qp_qexec *x, const qp_tensor *const *fouts, struct avg *v)
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
        avg_add(v, qp_metrics_get(&a));   /* the formulas of tsim(1) */
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
        return qp_error_prefix(rc, "layer '%s' (%s)", n->key[0] ? n->key : n->name, n->op_type);
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

static const char *layer_key(const qp_node *n) { return n->key && n->key[0] ? n->key : n->name; }

static int cmp_entire(const void *pa, const void *pb, void *ctx)
{
    (void)ctx;
    const struct row *a = pa, *b = pb;
    struct metric x = avg_get(&a->e), y = avg_get(&b->e);
    if (x.cos != y.cos)
        return x.cos < y.cos ? -1 : 1;
    return a->ni - b->ni;
}

static int cmp_single(const void *pa, const void *pb)
{
    const struct row *a = pa, *b = pb;
    struct metric x = avg_get(&a->s), y = avg_get(&b->s);
    if (x.cos != y.cos)
        return x.cos < y.cos ? -1 : 1;
    if (x.sqnr != y.sqnr)
        return x.sqnr < y.sqnr ? -1 : 1;
    return a->ni - b->ni;
}

static const char *fmt_db(char *b, size_t n, double v, int tsv)
{
    if (isinf(v))
        snprintf(b, n, "%s", v > 0 ? "inf" : "-inf");
    else
        snprintf(b, n, tsv ? "%.9g" : "%.2f", v);
    return b;
}

/* Files go through qp_outfile (cli.h): a temporary renamed when complete (qpipe(7)). */
static int open_tmp(const char *path, qp_outfile *o, FILE **out)
{
    int rc = qp_outfile_open(o, path, "w");
    *out = rc ? NULL : o->f;
    return rc;
}

static int close_tmp(qp_outfile *o)
{
    return qp_outfile_commit(o);
}

static int write_tsv(const char *path, const qp_graph *g, const struct row *rows, int nr)
{
    qp_outfile o;
    FILE *f;
    int rc = open_tmp(path, &o, &f);
    if (rc)
        return rc;
    fprintf(f, "layer\top\tentire_cos\tentire_euc\tentire_sqnr_db\tsingle_cos\tsingle_euc\tsingle_sqnr_db\n");
    for (int i = 0; i < nr; i++) {
        const qp_node *n = &g->nodes[rows[i].ni];
        struct metric e = avg_get(&rows[i].e), s = avg_get(&rows[i].s);
        char b1[32], b2[32];
        fprintf(f, "%s\t%s\t%.9g\t%.9g\t%s\t%.9g\t%.9g\t%s\n", layer_key(n), n->op_type, e.cos, e.euc,
                fmt_db(b1, sizeof b1, e.sqnr, 1), s.cos, s.euc, fmt_db(b2, sizeof b2, s.sqnr, 1));
    }
    return close_tmp(&o);
}

/* SQNR in dB against the layer index; infinite values (exact layers) drawn at the top. */
static int write_svg(const char *path, const struct row *rows, int nr)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < nr; i++) {
        struct metric m[2] = {avg_get(&rows[i].e), avg_get(&rows[i].s)};
        for (int k = 0; k < 2; k++)
            if (isfinite(m[k].sqnr)) {
                lo = m[k].sqnr < lo ? m[k].sqnr : lo;
                hi = m[k].sqnr > hi ? m[k].sqnr : hi;
            }
    }
    if (!(lo <= hi))
        lo = 0, hi = 60;
    lo = floor(lo / 10) * 10;
    hi = ceil(hi / 10) * 10 + 10;  /* room for infinite values */
    if (hi - lo < 20)
        hi = lo + 20;
    const double W = 1000, H = 500, L = 70, R = 20, T = 40, B = 60, pw = W - L - R, ph = H - T - B;
    int xmax = nr > 1 ? nr - 1 : 1;
    qp_outfile o;
    FILE *f;
    int rc = open_tmp(path, &o, &f);
    if (rc)
        return rc;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%g\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">qinfer --analyze: SQNR per layer "
               "(higher is better; top = exact)</text>\n",
            W, H, W, H, W / 2);
    for (double v = lo; v <= hi + 1e-9; v += (hi - lo) / 10 >= 10 ? ceil((hi - lo) / 100) * 10 : 10) {
        double y = T + ph * (1 - (v - lo) / (hi - lo));
        fprintf(f, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                L, y, L + pw, y, L - 6, y + 4, v);
    }
    int step = xmax <= 20 ? 1 : xmax <= 100 ? 10 : xmax <= 300 ? 25 : 50;
    for (int i = 0; i <= xmax; i += step) {
        double x = L + pw * i / xmax;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%d</text>\n",
                x, T, x, T + ph, x, T + ph + 16, i);
    }
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n", L, T, pw, ph);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">layer index (graph order)</text>\n", L + pw / 2,
            H - 18);
    fprintf(f, "<text x=\"18\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 18 %g)\">SQNR (dB)</text>\n",
            T + ph / 2, T + ph / 2);
    static const char *const color[2] = {"#1f77b4", "#d62728"};
    for (int k = 0; k < 2; k++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color[k]);
        for (int i = 0; i < nr; i++) {
            struct metric m = avg_get(k ? &rows[i].s : &rows[i].e);
            double v = isnan(m.sqnr) ? lo : m.sqnr > hi ? hi : m.sqnr < lo ? lo : m.sqnr;
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", L + pw * i / xmax, T + ph * (1 - (v - lo) / (hi - lo)));
        }
        fprintf(f, "\"/>\n");
        double ly = T + 16 + 18 * k;
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"/>"
                   "<text x=\"%g\" y=\"%g\">%s</text>\n",
                L + pw - 150, ly, L + pw - 120, ly, color[k], L + pw - 114, ly + 4,
                k ? "single (layer alone)" : "entire (accumulated)");
    }
    fprintf(f, "</svg>\n");
    return close_tmp(&o);
}

static void print_table(const qp_graph *g, struct row *rows, int nr, int samples)
{
    struct row *sorted = qp_malloc((size_t)nr * sizeof *sorted + 1);
    if (!sorted)
        qp_diag_exit(QP_ESYS);
    memcpy(sorted, rows, (size_t)nr * sizeof *sorted);
    qsort_r(sorted, (size_t)nr, sizeof *sorted, cmp_entire, NULL);
    printf("# %d layers, %d samples; worst entire cosine first.  entire: the quantized run from the input "
           "(error accumulates); single: the layer alone on the float run's inputs\n",
           nr, samples);
    int kw = 5, ow = 2;
    for (int i = 0; i < nr; i++) {
        const qp_node *n = &g->nodes[rows[i].ni];
        int a = (int)strlen(layer_key(n)), b = (int)strlen(n->op_type);
        kw = a > kw ? a : kw;
        ow = b > ow ? b : ow;
    }
    printf("%-*s %-*s %10s %11s %9s  %10s %11s %9s\n", kw, "layer", ow, "op", "entire_cos", "entire_euc",
           "sqnr_db", "single_cos", "single_euc", "sqnr_db");
    for (int i = 0; i < nr; i++) {
        const qp_node *n = &g->nodes[sorted[i].ni];
        struct metric e = avg_get(&sorted[i].e), s = avg_get(&sorted[i].s);
        char b1[32], b2[32];
        printf("%-*s %-*s %10.6f %11.4e %9s  %10.6f %11.4e %9s\n", kw, layer_key(n), ow, n->op_type, e.cos, e.euc,
               fmt_db(b1, sizeof b1, e.sqnr, 0), s.cos, s.euc, fmt_db(b2, sizeof b2, s.sqnr, 0));
    }
    free(sorted);
}

/* The N layers with the lowest single cosine (then SQNR) among those held quantized: the ones
 * whose own quantization costs most, whatever their input brings. */
static void print_suggest(const qp_graph *g, const struct row *rows, int nr, int want)
{
    struct row *c = qp_malloc((size_t)nr * sizeof *c + 1);
    if (!c)
        qp_diag_exit(QP_ESYS);
    int nc = 0;
    for (int i = 0; i < nr; i++)
        if (rows[i].quant && rows[i].s.n && g->nodes[rows[i].ni].key[0])
            c[nc++] = rows[i];
    qsort(c, (size_t)nc, sizeof *c, cmp_single);
    printf("\n# the %d layers of lowest single cosine, in 16 bits\ncustomized_quantize_layers:\n",
           want < nc ? want : nc);
    for (int i = 0; i < nc && i < want; i++) {
        printf("  '");
        for (const char *k = g->nodes[c[i].ni].key; *k; k++)
            printf(*k == '\'' ? "''" : "%c", *k);
        printf("': dynamic_fixed_point-i16\n");
    }
    free(c);
}

int qinfer_analyze(const struct qinfer_analyze_opts *o, const qp_graph *g, qp_samples *io)
{
    qp_qtable *t;
    int rc = qp_qtable_load(g, &t);
    if (rc)
        return rc;
    struct an A = {g, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
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
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int it = 0; !rc && it < o->iterations; it++) {
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
        if (!rc && !o->quiet)
            fprintf(stderr, "qinfer: analyze: sample %d of %d done\n", it + 1, o->iterations);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc && !o->quiet)
        fprintf(stderr, "qinfer: analyze: %d layers, %d samples in %.2f s\n", g->n_nodes, o->iterations,
                (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (!rc && o->tsv)
        rc = write_tsv(o->tsv, g, A.rows, g->n_nodes);
    if (!rc && o->svg)
        rc = write_svg(o->svg, A.rows, g->n_nodes);
    if (!rc) {
        print_table(g, A.rows, g->n_nodes, o->iterations);
        if (o->suggest)
            print_suggest(g, A.rows, g->n_nodes, o->suggest);
    }
    qp_exec_free(A.fx);
    qp_qexec_free(A.xe);
    qp_qexec_free(A.xs);
    free(A.keep);
    free(A.uses);
    free(A.left);
    free(A.rows);
    qp_qtable_free(t);
    return rc;
}
