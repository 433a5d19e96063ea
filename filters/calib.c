/* calib: runs the float graph of an IR stream over the calibration dataset of an input meta
 * and appends per-tensor statistics (the "calib" section) for qtable; --shard computes a
 * part of the dataset and --merge combines parts into the bytes of a single run.
 * main: options, read the stream, open the dataset, loop over the samples, write. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calib_cli.h"
#include "qp/calib.h"
#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/exec.h"
#include "qp/graph.h"
#include "qp/samples.h"

static const char usage[] =
    "usage: calib --input-meta META [options] < model.ir > calibrated.ir\n"
    "       calib --merge A.ir B.ir ... > calibrated.ir\n"
    "Runs the float model over the dataset of the input meta and appends per-tensor\n"
    "statistics (min/max, per-sample min/max, |x| histograms) to the stream for qtable.\n"
    "\n"
    "  --input-meta FILE            input meta YAML (preprocessing, dataset list)\n"
    "  --iterations N               use the first N x batch-size samples of the list\n"
    "                               (default: the whole list)\n"
    "  --batch-size B               samples per batch of the moving average (default 1)\n"
    "  --moving-average-weight W    weight of the newest batch in qtable's moving\n"
    "                               average, 0 < W <= 1 (default 0.01)\n"
    "  --shard K/N                  only samples i with i %% N == K-1 (1 <= K <= N)\n"
    "  --merge FILE...              combine the statistics of shards of one run\n"
    "  --summary                    print the calib section of the stream and exit\n"
    "  -q, --quiet                  no progress bar, no warnings\n"
    "  -v, --verbose                timing on stderr\n"
    "  -h, --help                   this help\n"
    "      --version                print the version\n"
    "Environment: QP_THREADS (worker threads), QP_KERNELS=ref (reference kernels).\n"
    "Exit status: 0 ok, 1 bad input, 2 usage, 3 system error.\n";

struct opts {
    const char *meta;
    long iterations;            /* 0: the whole list */
    long batch;
    double maw;
    long shard_k, shard_n;      /* 1/1 without --shard */
    int quiet, verbose, merge, summary;
};

/* The run's state as the executor hook sees it. */
struct run {
    qp_calib *c;
    uint64_t sample;
    double stats_ms;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long parse_count(const char *opt, const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 1 || v > max || s[0] == '+' || s[0] == ' ')
        qp_cli_usage_error("%s '%s' is not a count from 1 to %ld", opt, s, max);
    return v;
}

static void parse_shard(const char *s, struct opts *o)
{
    char *slash;
    errno = 0;
    long k = strtol(s, &slash, 10);
    int ok = slash != s && *slash == '/' && s[0] >= '0' && s[0] <= '9' && !errno;
    long n = 0;
    if (ok) {
        char *end;
        const char *p = slash + 1;
        n = strtol(p, &end, 10);
        ok = end != p && !*end && p[0] >= '0' && p[0] <= '9' && !errno;
    }
    if (!ok || n < 1 || n > 1000000 || k < 1 || k > n)
        qp_cli_usage_error("--shard '%s': expected K/N with 1 <= K <= N <= 1000000", s);
    o->shard_k = k;
    o->shard_n = n;
}

static void parse(int argc, char **argv, struct opts *o)
{
    enum { O_META = 256, O_ITER, O_BATCH, O_MAW, O_SHARD, O_MERGE, O_SUMMARY };
    static const struct option lo[] = {
        { "input-meta", required_argument, 0, O_META },
        { "with-input-meta", required_argument, 0, O_META },
        { "iterations", required_argument, 0, O_ITER },
        { "batch-size", required_argument, 0, O_BATCH },
        { "moving-average-weight", required_argument, 0, O_MAW },
        { "shard", required_argument, 0, O_SHARD },
        { "merge", no_argument, 0, O_MERGE },
        { "summary", no_argument, 0, O_SUMMARY },
        { "quiet", no_argument, 0, 'q' },
        { "verbose", no_argument, 0, 'v' },
        { 0, 0, 0, 0 },
    };
    memset(o, 0, sizeof *o);
    o->batch = 1;
    o->maw = 0.01;
    o->shard_k = o->shard_n = 1;
    int set_run = 0, set_shard = 0, c;
    char *end;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qv", lo, NULL)) != -1) {
        switch (c) {
        case O_META: o->meta = optarg; set_run = 1; break;
        case O_ITER: o->iterations = parse_count("--iterations", optarg, 1000000); set_run = 1; break;
        case O_BATCH: o->batch = parse_count("--batch-size", optarg, 65536); set_run = 1; break;
        case O_MAW:
            errno = 0;
            o->maw = strtod(optarg, &end);
            if (end == optarg || *end || errno || !(o->maw > 0 && o->maw <= 1))
                qp_cli_usage_error("--moving-average-weight '%s' is not a number in (0, 1]", optarg);
            set_run = 1;
            break;
        case O_SHARD: parse_shard(optarg, o); set_shard = 1; break;
        case O_MERGE: o->merge = 1; break;
        case O_SUMMARY: o->summary = 1; break;
        case 'q': o->quiet = 1; break;
        case 'v': o->verbose = 1; break;
        case ':': qp_cli_usage_error("option '%s' needs a value", argv[optind - 1]);
        default: qp_cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (o->merge && o->summary)
        qp_cli_usage_error("--merge and --summary do not go together");
    if (o->summary) {
        if (set_run || set_shard)
            qp_cli_usage_error("--summary takes no other option (it reads the stream on standard input)");
        if (optind < argc)
            qp_cli_usage_error("unexpected argument '%s' (the stream comes on standard input)", argv[optind]);
        return;
    }
    if (o->merge) {
        if (set_run || set_shard)
            qp_cli_usage_error("--merge takes only stream files (the run's options travel in them)");
        if (optind == argc)
            qp_cli_usage_error("--merge needs the stream files to merge");
        return;
    }
    if (optind < argc)
        qp_cli_usage_error("unexpected argument '%s' (the stream comes on standard input)", argv[optind]);
    if (!o->meta)
        qp_cli_usage_error("--input-meta FILE is required (it names the calibration dataset)");
}

/* Shortest decimal that reads back as v (for the history entry). */
static void fmt_double(char *buf, size_t n, double v)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* The history entry: the options that decide the statistics, in a fixed order, so that
 * equal runs make equal streams and a merge can state the single run it equals. */
static void write_stream(qp_graph *g, const struct opts *o)
{
    char iter[32], batch[32], maw[40], shard[48];
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)qp_diag_prog();
    argv[argc++] = "--input-meta";
    argv[argc++] = (char *)o->meta;
    if (o->iterations) {
        snprintf(iter, sizeof iter, "%ld", o->iterations);
        argv[argc++] = "--iterations";
        argv[argc++] = iter;
    }
    snprintf(batch, sizeof batch, "%ld", o->batch);
    fmt_double(maw, sizeof maw, o->maw);
    argv[argc++] = "--batch-size";
    argv[argc++] = batch;
    argv[argc++] = "--moving-average-weight";
    argv[argc++] = maw;
    if (o->shard_n > 1) {
        snprintf(shard, sizeof shard, "%ld/%ld", o->shard_k, o->shard_n);
        argv[argc++] = "--shard";
        argv[argc++] = shard;
    }
    argv[argc] = NULL;
    qp_cli_write_ir(g, argc, argv);
}

static int stats_hook(void *ctx, const qp_graph *g, int ni, const qp_tensor *const *outs)
{
    struct run *r = ctx;
    const qp_node *n = &g->nodes[ni];
    double t0 = now_ms();
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j] >= 0 && outs[j]) {
            int rc = qp_calib_add(r->c, n->out[j], r->sample, outs[j]);
            if (rc)
                return qp_error_prefix(rc, "layer '%s'", n->key);
        }
    r->stats_ms += now_ms() - t0;
    return 0;
}

/* "@<layer key>:out<port>", the tensor's name in quantize tables. */
static void tensor_key(char *buf, size_t n, const qp_graph *g, int vi)
{
    const qp_value *v = &g->values[vi];
    if (v->producer >= 0)
        snprintf(buf, n, "@%s:out%d", g->nodes[v->producer].key, v->port);
    else
        snprintf(buf, n, "@%s:out0", v->key && v->key[0] ? v->key : v->name);
}

struct progress {
    int on, open;               /* a bar is drawn / a bar line is on screen */
    double t0;
};

static void progress_draw(struct progress *p, int64_t done, int64_t total)
{
    if (!p->on)
        return;
    double el = (now_ms() - p->t0) / 1e3, per = done ? el / (double)done : 0;
    int fill = total ? (int)(30 * done / total) : 30;
    char bar[31];
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(30 - fill));
    bar[30] = 0;
    qp_diag_info("\r%s: [%s] %lld/%lld samples, %.2f s/sample, %.0f s left ", qp_diag_prog(), bar,
                 (long long)done, (long long)total, per, per * (double)(total - done));
    p->open = 1;
}

static void progress_break(struct progress *p)
{
    if (p->open)
        qp_diag_info("\n");
    p->open = 0;
}

/* NaN/Inf: one warning per tensor, the first few tensors only (a NaN input reaches every
 * later tensor; the first ones locate it). */
#define MAX_NAN_WARNINGS 8

struct nan_watch {
    uint64_t *seen;             /* per value: n_nonfinite already reported */
    unsigned char *warned;
    int n_warned, n_more;
};

static void nan_check(struct nan_watch *w, const qp_calib *c, const qp_graph *g, qp_samples *s, int64_t i,
                      int quiet, struct progress *p)
{
    for (int vi = 0; vi < g->n_values; vi++) {
        const qp_calib_tensor *t = &c->t[vi];
        if (t->value < 0 || t->n_nonfinite == w->seen[vi])
            continue;
        uint64_t k = t->n_nonfinite - w->seen[vi];
        w->seen[vi] = t->n_nonfinite;
        if (w->warned[vi])
            continue;
        w->warned[vi] = 1;
        if (quiet)
            continue;
        if (w->n_warned == MAX_NAN_WARNINGS) {
            w->n_more++;
            continue;
        }
        w->n_warned++;
        char key[512];
        tensor_key(key, sizeof key, g, vi);
        progress_break(p);
        if (g->n_inputs == 1)
            qp_diag_warn("tensor '%s' (%s): %llu NaN/Inf values in sample %lld ('%s'), left out of the statistics",
                         key, g->values[vi].name, (unsigned long long)k, (long long)i, qp_samples_path(s, (int)i, 0));
        else
            qp_diag_warn("tensor '%s' (%s): %llu NaN/Inf values in sample %lld, left out of the statistics", key,
                         g->values[vi].name, (unsigned long long)k, (long long)i);
    }
}

/* --summary: the section as a table, one line per tensor. */
static int summary(void)
{
    qp_graph *g = qp_cli_read_ir(NULL);
    qp_calib *c;
    int rc = qp_calib_load(g, &c);
    if (rc)
        qp_diag_exit(rc);
    char maw[40];
    fmt_double(maw, sizeof maw, c->moving_average_weight);
    printf("# calib: %lld samples of %lld selected, batch size %d, moving-average weight %s, %d bins, "
           "%zu bytes\n", (long long)c->n_samples, (long long)c->n_selected, c->batch_size, maw,
           QP_CALIB_BINS, qp_graph_section(g, "calib")->len);
    printf("# tensor\tname\tmin\tmax\tcount\tnonfinite\thist_exp\tsamples\n");
    for (int vi = 0; vi < g->n_values; vi++) {
        const qp_calib_tensor *t = &c->t[vi];
        if (t->value < 0)
            continue;
        char key[512];
        tensor_key(key, sizeof key, g, vi);
        printf("%s\t%s\t%.9g\t%.9g\t%llu\t%llu\t%d\t%lld\n", key, g->values[vi].name, t->count ? t->min : 0,
               t->count ? t->max : 0, (unsigned long long)t->count, (unsigned long long)t->n_nonfinite, t->hist_exp,
               (long long)t->n_samples);
    }
    qp_calib_free(c);
    qp_graph_free(g);
    return fflush(stdout) || ferror(stdout) ? QP_ESYS : 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    qp_cli_common(argc, argv, usage);
    parse(argc, argv, &o);
    if (o.merge)
        return qp_cal_merge(argc - optind, argv + optind, argc, argv);
    if (o.summary)
        return summary();

    qp_graph *g = qp_cli_read_ir(NULL);
    qp_samples *s;
    int rc = qp_samples_open(g, o.meta, 0, NULL, &s);
    if (rc)
        qp_diag_exit(rc);
    int64_t avail = qp_samples_count(s), total = avail;
    if (o.iterations) {
        total = (int64_t)o.iterations * o.batch;
        if (total > avail)
            qp_diag_die(QP_EUSAGE, "--iterations %ld x --batch-size %ld needs %lld samples but the dataset of '%s' has %lld",
                        o.iterations, o.batch, (long long)total, o.meta, (long long)avail);
    }
    qp_calib *c = qp_calib_new(g);
    if (!c)
        qp_diag_exit(QP_ESYS);
    c->batch_size = (int)o.batch;
    c->moving_average_weight = o.maw;
    c->n_selected = total;
    qp_exec *x;
    if ((rc = qp_exec_new(g, QP_EXEC_NO_FUSE, &x)))
        qp_diag_exit(rc);
    struct run r = { c, 0, 0 };
    qp_exec_set_hook(x, stats_hook, &r);
    struct nan_watch nw = { qp_calloc((size_t)g->n_values + 1, sizeof(uint64_t)),
                            qp_calloc((size_t)g->n_values + 1, 1), 0, 0 };
    if (!nw.seen || !nw.warned)
        qp_diag_exit(QP_ESYS);

    /* shard K/N: samples K-1, K-1+N, K-1+2N, ... (round robin: shards of equal cost) */
    int64_t mine = total > o.shard_k - 1 ? (total - o.shard_k + o.shard_n) / o.shard_n : 0, done = 0;
    struct progress pg = { isatty(STDERR_FILENO) && !o.quiet, 0, now_ms() };
    double load_ms = 0, run_ms = 0, t_start = now_ms();
    progress_draw(&pg, 0, mine);
    for (int64_t i = o.shard_k - 1; i < total; i += o.shard_n) {
        double t0 = now_ms();
        r.sample = (uint64_t)i;
        for (int j = 0; j < g->n_inputs; j++) {
            qp_tensor t;
            if ((rc = qp_samples_get(s, (int)i, j, &t)))
                break;
            rc = qp_exec_set_input(x, j, &t);
            qp_tensor_free(&t);
            if (!rc)
                rc = qp_calib_add(c, g->inputs[j], r.sample, qp_exec_value(x, g->inputs[j]));
            if (rc) {
                qp_error_prefix(rc, "'%s'", qp_samples_path(s, (int)i, j));
                break;
            }
        }
        double t1 = now_ms();
        if (!rc)
            rc = qp_exec_run(x);
        if (rc) {
            progress_break(&pg);
            qp_diag_exit(rc);
        }
        run_ms += now_ms() - t1;
        load_ms += t1 - t0;
        nan_check(&nw, c, g, s, i, o.quiet, &pg);
        progress_draw(&pg, ++done, mine);
    }
    progress_break(&pg);
    if (nw.n_more)
        qp_diag_warn("NaN/Inf values also in %d more tensors (not listed)", nw.n_more);
    if (o.verbose) {
        double all = now_ms() - t_start;
        qp_diag_info("%s: %lld samples in %.2f s: %.2f ms/sample (input %.2f, run %.2f, statistics %.2f)\n",
                     qp_diag_prog(), (long long)done, all / 1e3, done ? all / (double)done : 0,
                     done ? load_ms / (double)done : 0, done ? (run_ms - r.stats_ms) / (double)done : 0,
                     done ? r.stats_ms / (double)done : 0);
    }
    qp_exec_free(x);
    qp_samples_close(s);
    free(nw.seen);
    free(nw.warned);
    if ((rc = qp_calib_store(g, c)))
        qp_diag_exit(rc);
    qp_calib_free(c);
    write_stream(g, &o);
    qp_graph_free(g);
    return 0;
}
