/* qinfer --analyze: RKNN-Toolkit2's accuracy analysis on the integer simulator.  Per layer,
 * over the samples: the "entire" error (the quantized run from the model input, so error
 * accumulates) and the "single" error (the layer alone: the float run's inputs quantized with
 * the layer's input parameters, its integer rule, dequantized), both against the float run.
 * The machinery is common/analyze.c (qp/analyze.h), shared with qmix --auto; here the outputs:
 * the table, --tsv, --svg, --suggest. */
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
#include "qp/analyze.h"
#include "qp/qtable.h"


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

static int write_tsv(const char *path, const qp_graph *g, const qp_analyze_row *rows, int nr)
{
    qp_outfile o;
    FILE *f;
    int rc = open_tmp(path, &o, &f);
    if (rc)
        return rc;
    fprintf(f, "layer\top\tentire_cos\tentire_euc\tentire_sqnr_db\tsingle_cos\tsingle_euc\tsingle_sqnr_db\n");
    for (int i = 0; i < nr; i++) {
        const qp_node *n = &g->nodes[rows[i].ni];
        qp_analyze_mean e = qp_analyze_get(&rows[i].e), s = qp_analyze_get(&rows[i].s);
        char b1[32], b2[32];
        fprintf(f, "%s\t%s\t%.9g\t%.9g\t%s\t%.9g\t%.9g\t%s\n", qp_node_key(n), n->op_type, e.cos, e.euc,
                fmt_db(b1, sizeof b1, e.sqnr, 1), s.cos, s.euc, fmt_db(b2, sizeof b2, s.sqnr, 1));
    }
    return close_tmp(&o);
}

/* SQNR in dB against the layer index; infinite values (exact layers) drawn at the top. */
static int write_svg(const char *path, const qp_analyze_row *rows, int nr)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < nr; i++) {
        qp_analyze_mean m[2] = {qp_analyze_get(&rows[i].e), qp_analyze_get(&rows[i].s)};
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
            qp_analyze_mean m = qp_analyze_get(k ? &rows[i].s : &rows[i].e);
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

static void print_table(const qp_graph *g, qp_analyze_row *rows, int nr, int samples)
{
    qp_analyze_row *sorted = qp_malloc((size_t)nr * sizeof *sorted + 1);
    if (!sorted)
        qp_diag_exit(QP_ESYS);
    memcpy(sorted, rows, (size_t)nr * sizeof *sorted);
    qsort(sorted, (size_t)nr, sizeof *sorted, qp_analyze_cmp_entire);
    printf("# %d layers, %d samples; worst entire cosine first.  entire: the quantized run from the input "
           "(error accumulates); single: the layer alone on the float run's inputs\n",
           nr, samples);
    int kw = 5, ow = 2;
    for (int i = 0; i < nr; i++) {
        const qp_node *n = &g->nodes[rows[i].ni];
        int a = (int)strlen(qp_node_key(n)), b = (int)strlen(n->op_type);
        kw = a > kw ? a : kw;
        ow = b > ow ? b : ow;
    }
    printf("%-*s %-*s %10s %11s %9s  %10s %11s %9s\n", kw, "layer", ow, "op", "entire_cos", "entire_euc",
           "sqnr_db", "single_cos", "single_euc", "sqnr_db");
    for (int i = 0; i < nr; i++) {
        const qp_node *n = &g->nodes[sorted[i].ni];
        qp_analyze_mean e = qp_analyze_get(&sorted[i].e), s = qp_analyze_get(&sorted[i].s);
        char b1[32], b2[32];
        printf("%-*s %-*s %10.6f %11.4e %9s  %10.6f %11.4e %9s\n", kw, qp_node_key(n), ow, n->op_type, e.cos, e.euc,
               fmt_db(b1, sizeof b1, e.sqnr, 0), s.cos, s.euc, fmt_db(b2, sizeof b2, s.sqnr, 0));
    }
    free(sorted);
}

/* The N layers with the lowest single cosine (then SQNR) among those held quantized: the ones
 * whose own quantization costs most, whatever their input brings. */
static void print_suggest(const qp_graph *g, const qp_analyze_row *rows, int nr, int want)
{
    qp_analyze_row *c = qp_malloc((size_t)nr * sizeof *c + 1);
    if (!c)
        qp_diag_exit(QP_ESYS);
    int nc = 0;
    for (int i = 0; i < nr; i++)
        if (rows[i].quant && rows[i].s.n && g->nodes[rows[i].ni].key[0])
            c[nc++] = rows[i];
    qsort(c, (size_t)nc, sizeof *c, qp_analyze_cmp_single);
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

static void progress(void *ctx, int i, int n)
{
    (void)ctx;
    fprintf(stderr, "qinfer: analyze: sample %d of %d done\n", i, n);
}

int qinfer_analyze(const struct qinfer_analyze_opts *o, const qp_graph *g, qp_samples *io)
{
    qp_qtable *t;
    int rc = qp_qtable_load(g, &t);
    if (rc)
        return rc;
    qp_analyze_row *rows = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = qp_analyze_run(g, t, io, o->iterations, o->quiet ? NULL : progress, NULL, &rows);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc && !o->quiet)
        fprintf(stderr, "qinfer: analyze: %d layers, %d samples in %.2f s\n", g->n_nodes, o->iterations,
                (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (!rc && o->tsv)
        rc = write_tsv(o->tsv, g, rows, g->n_nodes);
    if (!rc && o->svg)
        rc = write_svg(o->svg, rows, g->n_nodes);
    if (!rc) {
        print_table(g, rows, g->n_nodes, o->iterations);
        if (o->suggest)
            print_suggest(g, rows, g->n_nodes, o->suggest);
    }
    free(rows);
    qp_qtable_free(t);
    return rc;
}
