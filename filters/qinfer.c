/* qinfer: runs the graph of an IR stream on inputs and writes the outputs as Acuity-named
 * .tensor and/or .npy files (Acuity's `inference`; with --dump-all, its `dump`), in float32 or,
 * with --dtype quantized, in the integer simulator of the stream's quantization table.
 * main: options, read the stream, prepare, loop over iterations, write. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "qinfer_analyze.h"
#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/exec.h"
#include "qp/graph.h"
#include "qp/stream.h"
#include "qp/qexec.h"
#include "qp/qtable_conv.h"
#include "qp/qtable.h"
#include "qp/samples.h"

static const char usage[] =
    "usage: qinfer [options] < model.ir\n"
    "Runs the model of the IR stream and writes its outputs as Acuity .tensor/.npy files.\n"
    "\n"
    "  --input-meta FILE      input meta YAML (preprocessing, dataset list)\n"
    "  --input FILE           an input sample (.npy .tensor .pb raw .png .jpg); repeat per\n"
    "                         model input; without it, samples come from the dataset list\n"
    "  --iterations N         samples to run from the dataset list (default 1)\n"
    "  --output-dir DIR       where to write (default .); created if missing\n"
    "  --format F             tensor, npy or both (default tensor)\n"
    "  --dump-all             write every layer's output, not only the model's\n"
    "  --repeat N             run each sample N times and print the median and minimum\n"
    "                         run time (benchmarking; files are written once)\n"
    "  --dtype T              float32 (default), or quantized: the integer simulation of\n"
    "                         the stream's quantization table (run qtable first)\n"
    "  --raw                  with --dtype quantized: also write each tensor's integers\n"
    "                         as .npy of its integer type, same names, under DIR/raw/\n"
    "  --summary              print the layers of the stream and exit\n"
    "  --analyze              per-layer error of the quantized stream against float over\n"
    "                         --iterations samples of the --input-meta dataset: entire\n"
    "                         (accumulated) and single (the layer alone) cosine, Euclidean\n"
    "                         distance, SQNR; a table on stdout, worst entire cosine first\n"
    "  --tsv FILE             with --analyze: the same figures in graph order\n"
    "  --svg FILE             with --analyze: both SQNRs per layer as an SVG plot\n"
    "  --suggest N            with --analyze: a customized_quantize_layers YAML block of\n"
    "                         the N layers of lowest single cosine, in 16 bits\n"
    "  -q, --quiet            no per-iteration line on stderr\n"
    "  -v, --verbose          memory plan and timing on stderr\n"
    "  -h, --help             this help\n"
    "      --version          print the version\n"
    "Environment: QP_THREADS (worker threads), QP_KERNELS=ref (reference kernels).\n";

struct opts {
    const char *meta, *outdir, *dtype;
    const char *inputs[64];
    int n_inputs, iterations, repeat, want_tensor, want_npy, dump_all, summary, verbose, quiet;
    int quantized, raw, analyze;
    const char *tsv, *svg;
    int suggest;
};

struct dumper {
    const struct opts *o;
    int iter;
    const qp_qexec *x;          /* quantized dumps: the executor and the table's converters */
    const qp_qconv *cv;
    int ncv;
};

/* Acuity's dump name iter_<i>_<key, '/' -> '_'>_out<k>_<dims>.<ext>.  File names are
 * limited to 255 bytes and tf2onnx keys can be longer: such a key keeps its first 160
 * bytes and its last 40 around a '~' and the 16-hex FNV-1a hash of the whole key, so the
 * name stays unique and recognisable. */
static int fmt_name(char *buf, size_t n, int iter, const char *key, int port, const qp_tensor *t,
                    const char *ext)
{
    char tail[256];
    int tl = snprintf(tail, sizeof tail, "_out%d", port);
    for (int d = 0; d < t->rank && (size_t)tl < sizeof tail; d++)
        tl += snprintf(tail + tl, sizeof tail - (size_t)tl, "_%lld", (long long)t->dims[d]);
    tl += snprintf(tail + tl, sizeof tail - (size_t)tl, ".%s", ext);
    char k[1024];
    size_t kl = strlen(key);
    if (kl >= sizeof k)
        kl = sizeof k - 1;
    for (size_t i = 0; i < kl; i++)
        k[i] = key[i] == '/' ? '_' : key[i];
    k[kl] = 0;
    char pre[32];
    int pl = snprintf(pre, sizeof pre, "iter_%d_", iter);
    if ((size_t)pl + kl + (size_t)tl > 255 && kl > 218) {
        char shortk[256];
        snprintf(shortk, sizeof shortk, "%.160s~%016llx~%s", k,
                 (unsigned long long)qp_fnv1a64(QP_FNV1A64_INIT, key, strlen(key)), k + kl - 40);
        snprintf(k, sizeof k, "%s", shortk);
    }
    int len = snprintf(buf, n, "%s%s%s", pre, k, tail);
    return len > 0 && (size_t)len < n ? 0 : qp_errorf(QP_EUSAGE, "layer key '%s' makes a file name too long", key);
}

static int write_one(const struct opts *o, int iter, const char *key, int port, const qp_tensor *t)
{
    char name[1024], path[4096];
    if (o->want_tensor) {
        int rc = fmt_name(name, sizeof name, iter, key, port, t, "tensor");
        if (rc)
            return rc;
        snprintf(path, sizeof path, "%s/%s", o->outdir, name);
        if (t->dtype == QP_DT_F32 || t->dtype == QP_DT_F16 || t->dtype == QP_DT_F64) {
            if ((rc = qp_tensorio_write_tensor(path, t)))
                return rc;
        } else {
            qp_tensor f;
            if ((rc = qp_tensor_to_f32(t, &f)))
                return rc;
            rc = qp_tensorio_write_tensor(path, &f);
            qp_tensor_free(&f);
            if (rc)
                return rc;
        }
    }
    if (o->want_npy) {
        int rc = fmt_name(name, sizeof name, iter, key, port, t, "npy");
        if (rc)
            return rc;
        snprintf(path, sizeof path, "%s/%s", o->outdir, name);
        if ((rc = qp_tensorio_write_npy(path, t)))
            return rc;
    }
    return 0;
}

static int dump_hook(void *ctx, const qp_graph *g, int ni, const qp_tensor *const *outs)
{
    struct dumper *d = ctx;
    const qp_node *n = &g->nodes[ni];
    for (int j = 0; j < n->n_out; j++)
        if (outs[j] && n->key[0]) {
            int rc = write_one(d->o, d->iter, n->key, j, outs[j]);
            if (rc)
                return rc;
        }
    return 0;
}

/* A tensor of the quantized run: dequantized like the float dumps, and with --raw its integers
 * (the type it is held in) under DIR/raw/ with the same name as .npy. */
static int write_q(const struct opts *o, int iter, const char *key, int port, const qp_qtensor *qt)
{
    qp_tensor f;
    int rc = qp_qexec_dequantize(qt, &f);
    if (rc)
        return rc;
    rc = write_one(o, iter, key, port, &f);
    qp_tensor_free(&f);
    if (!rc && o->raw) {
        char name[1024], path[4096];
        if ((rc = fmt_name(name, sizeof name, iter, key, port, &qt->t, "npy")))
            return rc;
        snprintf(path, sizeof path, "%s/raw/%s", o->outdir, name);
        rc = qp_tensorio_write_npy(path, &qt->t);
    }
    return rc;
}

/* A layer's outputs, and before them the dtype converters in front of it (qp/qtable_conv.h,
 * the names qmix lists): each is the tensor the layer read at that input. */
static int qdump_hook(void *ctx, const qp_graph *g, int ni, const qp_qtensor *const *outs)
{
    struct dumper *d = ctx;
    const qp_node *n = &g->nodes[ni];
    for (int i = 0; i < d->ncv; i++) {
        if (d->cv[i].node != ni)
            continue;
        const qp_qtensor *in = qp_qexec_input(d->x, ni, d->cv[i].input);
        if (!in)
            return qp_errorf(QP_EINPUT, "converter '%s': the simulator did not read that input", d->cv[i].key);
        int rc = write_q(d->o, d->iter, d->cv[i].key, 0, in);
        if (rc)
            return rc;
    }
    for (int j = 0; j < n->n_out; j++)
        if (outs[j] && n->key[0]) {
            int rc = write_q(d->o, d->iter, n->key, j, outs[j]);
            if (rc)
                return rc;
        }
    return 0;
}

static void summary(const qp_graph *g)
{
    char shape[256];
    printf("# model '%s' from '%s', opset %lld; %d nodes, %d values\n", g->model_name, g->producer,
           (long long)g->opset, g->n_nodes, g->n_values);
    for (int i = 0; i < g->n_history; i++) {
        printf("# history %d: %s %s", i, g->history[i].tool, g->history[i].version);
        for (int a = 0; a < g->history[i].n_args; a++)
            printf(" %s", g->history[i].args[a]);
        printf("\n");
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const qp_value *v = &g->values[g->inputs[i]];
        printf("%s\tinput\t%s\t%s\n", v->key, qp_dtype_name(v->dtype), qp_shape_format(shape, sizeof shape, v->rank, v->dims));
    }
    for (int i = 0; i < g->n_values; i++) {
        const qp_value *v = &g->values[i];
        if (v->is_const && v->key && v->key[0])
            printf("%s\tconstant\t%s\t%s\n", v->key, qp_dtype_name(v->dtype),
                   qp_shape_format(shape, sizeof shape, v->rank, v->dims));
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const qp_node *n = &g->nodes[i];
        const qp_value *v = n->n_out && n->out[0] >= 0 ? &g->values[n->out[0]] : NULL;
        printf("%s\t%s\t%s\t%s\n", n->key, n->op_type, v ? qp_dtype_name(v->dtype) : "-",
               v ? qp_shape_format(shape, sizeof shape, v->rank, v->dims) : "-");
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const qp_value *v = &g->values[g->outputs[i]];
        printf("%s\toutput\t%s\t%s\n", g->output_keys[i], qp_dtype_name(v->dtype),
               qp_shape_format(shape, sizeof shape, v->rank, v->dims));
    }
}

static void parse(int argc, char **argv, struct opts *o)
{
    enum { O_META = 256, O_INPUT, O_ITER, O_OUTDIR, O_FORMAT, O_DUMP, O_DTYPE, O_SUMMARY, O_REPEAT, O_RAW,
           O_ANALYZE, O_TSV, O_SVG, O_SUGGEST };
    static const struct option lo[] = {
        { "input-meta", required_argument, 0, O_META }, { "with-input-meta", required_argument, 0, O_META },
        { "input", required_argument, 0, O_INPUT },     { "iterations", required_argument, 0, O_ITER },
        { "output-dir", required_argument, 0, O_OUTDIR }, { "format", required_argument, 0, O_FORMAT },
        { "dump-all", no_argument, 0, O_DUMP },          { "dtype", required_argument, 0, O_DTYPE },
        { "summary", no_argument, 0, O_SUMMARY },        { "repeat", required_argument, 0, O_REPEAT },
        { "raw", no_argument, 0, O_RAW },                { "analyze", no_argument, 0, O_ANALYZE },
        { "tsv", required_argument, 0, O_TSV },          { "svg", required_argument, 0, O_SVG },
        { "suggest", required_argument, 0, O_SUGGEST },        { "quiet", no_argument, 0, 'q' },
        { "verbose", no_argument, 0, 'v' },              { 0, 0, 0, 0 },
    };
    memset(o, 0, sizeof *o);
    o->outdir = ".";
    o->dtype = "float32";
    o->iterations = 1;
    o->repeat = 1;
    o->want_tensor = 1;
    opterr = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "qv", lo, NULL)) != -1) {
        switch (c) {
        case O_META: o->meta = optarg; break;
        case O_INPUT:
            if (o->n_inputs == 64)
                qp_cli_usage_error("too many --input options");
            o->inputs[o->n_inputs++] = optarg;
            break;
        case O_ITER:
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (*end || errno || v < 1 || v > 1000000)
                qp_cli_usage_error("--iterations '%s' is not a count from 1 to 1000000", optarg);
            o->iterations = (int)v;
            break;
        case O_REPEAT:
            errno = 0;
            long r = strtol(optarg, &end, 10);
            if (*end || errno || r < 1 || r > 100000)
                qp_cli_usage_error("--repeat '%s' is not a count from 1 to 100000", optarg);
            o->repeat = (int)r;
            break;
        case O_OUTDIR: o->outdir = optarg; break;
        case O_FORMAT:
            if (!strcmp(optarg, "tensor"))
                o->want_tensor = 1, o->want_npy = 0;
            else if (!strcmp(optarg, "npy"))
                o->want_tensor = 0, o->want_npy = 1;
            else if (!strcmp(optarg, "both"))
                o->want_tensor = 1, o->want_npy = 1;
            else
                qp_cli_usage_error("--format '%s': expected tensor, npy or both", optarg);
            break;
        case O_DUMP: o->dump_all = 1; break;
        case O_DTYPE:
            if (strcmp(optarg, "float32") && strcmp(optarg, "quantized"))
                qp_cli_usage_error("--dtype '%s': expected float32 or quantized", optarg);
            o->dtype = optarg;
            o->quantized = !strcmp(optarg, "quantized");
            break;
        case O_RAW: o->raw = 1; break;
        case O_ANALYZE: o->analyze = 1; break;
        case O_TSV: o->tsv = optarg; break;
        case O_SVG: o->svg = optarg; break;
        case O_SUGGEST:
            errno = 0;
            long sg = strtol(optarg, &end, 10);
            if (*end || errno || sg < 1 || sg > 1000000)
                qp_cli_usage_error("--suggest '%s' is not a count from 1 to 1000000", optarg);
            o->suggest = (int)sg;
            break;
        case O_SUMMARY: o->summary = 1; break;
        case 'q': o->quiet = 1; break;
        case 'v': o->verbose = 1; break;
        default:
            qp_cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        qp_cli_usage_error("unexpected argument '%s' (the stream comes on standard input)", argv[optind]);
    if (o->n_inputs && o->iterations > 1)
        qp_cli_usage_error("--iterations needs the dataset of --input-meta, not --input");
    if (o->raw && !o->quantized)
        qp_cli_usage_error("--raw needs --dtype quantized");
    if ((o->tsv || o->svg || o->suggest) && !o->analyze)
        qp_cli_usage_error("--%s needs --analyze", o->tsv ? "tsv" : o->svg ? "svg" : "suggest");
    if (o->analyze && (!o->meta || o->n_inputs))
        qp_cli_usage_error("--analyze needs the dataset of --input-meta FILE (and no --input)");
    if (o->analyze && (o->dump_all || o->raw || o->repeat > 1 || o->summary))
        qp_cli_usage_error("--analyze writes no tensors: drop --dump-all, --raw, --repeat and --summary");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* --dtype quantized: the same loop on the integer simulator (qp/qexec.h). */
static int run_quantized(const struct opts *o, qp_graph *g, qp_samples *io)
{
    qp_qtable *t;
    int rc = qp_qtable_load(g, &t);
    if (rc)
        qp_diag_exit(rc);
    if (o->raw) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/raw", o->outdir);
        if (mkdir(dir, 0777) && errno != EEXIST)
            qp_diag_die(QP_ESYS, "cannot create '%s': %s", dir, strerror(errno));
    }
    qp_qexec *x;
    if ((rc = qp_qexec_new(g, t, o->dump_all ? QP_QEXEC_NO_FUSE : 0, &x)))
        qp_diag_exit(rc);
    if (o->verbose) {
        int layers, converts, fused;
        qp_qexec_counts(x, &layers, &converts, &fused);
        qp_diag_info("qinfer: quantized: %d layers run, %d fused away, %d conversions; activations %.1f MiB "
                     "(%.1f MiB without reuse), prepared state %.1f MiB\n",
                     layers, fused, converts, qp_qexec_peak_bytes(x) / 1048576.0, qp_qexec_naive_bytes(x) / 1048576.0,
                     qp_qexec_state_bytes(x) / 1048576.0);
    }
    struct dumper d = { o, 0, x, NULL, 0 };
    qp_qconv *cv = NULL;
    if (o->dump_all && (rc = qp_qtable_converters(t, &cv, &d.ncv)))
        qp_diag_exit(rc);
    d.cv = cv;
    for (int it = 0; it < o->iterations; it++) {
        d.iter = it;
        for (int i = 0; i < g->n_inputs; i++) {
            qp_tensor in;
            if ((rc = qp_samples_get(io, it, i, &in)))
                qp_diag_exit(rc);
            rc = qp_qexec_set_input(x, i, &in);
            qp_tensor_free(&in);
            if (!rc)    /* the input as the model sees it: quantized */
                rc = write_q(o, it, g->values[g->inputs[i]].key, 0, qp_qexec_value(x, g->inputs[i]));
            if (rc)
                qp_diag_exit(rc);
        }
        double *ms = qp_calloc((size_t)o->repeat, sizeof *ms);
        if (!ms)
            qp_diag_exit(QP_ESYS);
        qp_qexec_set_hook(x, o->dump_all ? qdump_hook : NULL, &d);
        for (int r = 0; r < o->repeat; r++) {
            double t0 = now_ms();
            if ((rc = qp_qexec_run(x)))
                qp_diag_exit(rc);
            ms[r] = now_ms() - t0;
            qp_qexec_set_hook(x, NULL, NULL);   /* dump once */
        }
        qsort(ms, (size_t)o->repeat, sizeof *ms, cmp_double);
        if (o->repeat > 1)
            fprintf(stderr, "qinfer: median_ms=%.3f min_ms=%.3f runs=%d\n", ms[o->repeat / 2], ms[0], o->repeat);
        double best = ms[0];
        free(ms);
        for (int i = 0; i < g->n_outputs; i++)
            if ((rc = write_q(o, it, g->output_keys[i], 0, qp_qexec_value(x, g->outputs[i]))))
                qp_diag_exit(rc);
        if (o->verbose)
            qp_diag_info("qinfer: iteration %d: %.2f ms\n", it, best);
    }
    qp_qtable_converters_free(cv, d.ncv);
    qp_qexec_free(x);
    qp_qtable_free(t);
    qp_samples_close(io);
    qp_graph_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    qp_cli_common(argc, argv, usage);
    parse(argc, argv, &o);
    qp_graph *g = qp_cli_read_ir(NULL);
    if (o.summary) {
        summary(g);
        qp_graph_free(g);
        return fflush(stdout) ? QP_ESYS : 0;
    }
    if ((o.quantized || o.analyze) && !qp_graph_section(g, "qtable"))
        qp_diag_die(QP_EINPUT, "no quantization table in the stream: run qtable first");
    if (!o.n_inputs && !o.meta && g->n_inputs) /* a model without inputs (all constant) needs neither */
        qp_cli_usage_error("give --input FILE or --input-meta FILE with a dataset");
    qp_samples *io;
    int rc = qp_samples_open(g, o.meta, o.n_inputs, o.inputs, &io);
    if (rc)
        qp_diag_exit(rc);
    if (!o.n_inputs && o.iterations > qp_samples_count(io))
        qp_diag_die(QP_EUSAGE, "--iterations %d but the dataset has %d samples", o.iterations,
                    qp_samples_count(io));
    if (o.analyze) {
        struct qinfer_analyze_opts ao = { o.iterations, o.suggest, o.quiet, o.tsv, o.svg };
        if ((rc = qinfer_analyze(&ao, g, io)))
            qp_diag_exit(rc);
        qp_samples_close(io);
        qp_graph_free(g);
        return fflush(stdout) ? QP_ESYS : 0;
    }
    if (mkdir(o.outdir, 0777) && errno != EEXIST)
        qp_diag_die(QP_ESYS, "cannot create '%s': %s", o.outdir, strerror(errno));
    if (o.quantized)
        return run_quantized(&o, g, io);
    qp_exec *x;
    if ((rc = qp_exec_new(g, o.dump_all ? QP_EXEC_NO_FUSE : 0, &x)))
        qp_diag_exit(rc);
    if (o.verbose)
        qp_diag_info("qinfer: memory plan: activations %.1f MiB (%.1f MiB without reuse), weights %.1f MiB\n",
                     qp_exec_peak_bytes(x) / 1048576.0, qp_exec_naive_bytes(x) / 1048576.0,
                     qp_exec_weight_bytes(x) / 1048576.0);
    struct dumper d = { &o, 0, NULL, NULL, 0 };
    if (o.dump_all)
        qp_exec_set_hook(x, dump_hook, &d);
    for (int it = 0; it < o.iterations; it++) {
        d.iter = it;
        for (int i = 0; i < g->n_inputs; i++) {
            qp_tensor t;
            if ((rc = qp_samples_get(io, it, i, &t)))
                qp_diag_exit(rc);
            rc = qp_exec_set_input(x, i, &t);
            if (!rc)
                rc = write_one(&o, it, g->values[g->inputs[i]].key, 0, &t);
            qp_tensor_free(&t);
            if (rc)
                qp_diag_exit(rc);
        }
        double *ms = qp_calloc((size_t)o.repeat, sizeof *ms);
        if (!ms)
            qp_diag_exit(QP_ESYS);
        for (int r = 0; r < o.repeat; r++) {
            double t0 = now_ms();
            if ((rc = qp_exec_run(x)))
                qp_diag_exit(rc);
            ms[r] = now_ms() - t0;
            if (r == 0)
                qp_exec_set_hook(x, NULL, NULL);    /* dump once */
        }
        if (o.dump_all)
            qp_exec_set_hook(x, dump_hook, &d);
        qsort(ms, (size_t)o.repeat, sizeof *ms, cmp_double);
        if (o.repeat > 1)
            fprintf(stderr, "qinfer: median_ms=%.3f min_ms=%.3f runs=%d\n", ms[o.repeat / 2], ms[0], o.repeat);
        double t1 = ms[0], t0 = 0;
        free(ms);
        for (int i = 0; i < g->n_outputs; i++)
            if ((rc = write_one(&o, it, g->output_keys[i], 0, qp_exec_value(x, g->outputs[i]))))
                qp_diag_exit(rc);
        if (o.verbose)
            qp_diag_info("qinfer: iteration %d: %.2f ms\n", it, t1 - t0);
    }
    qp_exec_free(x);
    qp_samples_close(io);
    qp_graph_free(g);
    return 0;
}
