/* qtable: turns the calibration statistics of an IR stream into a quantization table (or
 * reads an Acuity .quantize table), stores it in the stream's "qtable" section and
 * optionally writes it as a dialect-2 .quantize YAML and an entropy.txt ranking (Acuity's
 * `pegasus quantize`).  main: options, read the stream, build or read the table, write. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qp/biascorr.h"
#include "qp/calib.h"
#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/graph.h"
#include "qp/qtable.h"
#include "qp/qtable_build.h"
#include "qp/qtable_yaml.h"
#include "qp/samples.h"

static const char usage[] =
    "usage: qtable --quantizer Q --qtype T [options] < calib.ir > q.ir\n"
    "       qtable --read FILE.quantize [options] < model.ir > q.ir\n"
    "       qtable --summary < q.ir > table.quantize\n"
    "Builds the quantization table from the stream's calibration statistics, or reads an\n"
    "Acuity .quantize table, and stores it in the stream.\n"
    "\n"
    "  --quantizer Q             asymmetric_affine, symmetric_affine,\n"
    "                            perchannel_symmetric_affine, dynamic_fixed_point, bfloat16,\n"
    "                            float16\n"
    "  --qtype T                 uint8 (u8), int8 (i8), int16 (i16), bfloat16 (bf16),\n"
    "                            float16 (f16)\n"
    "  --algorithm A             normal (default), kl_divergence, moving_average,\n"
    "                            percentile, mse\n"
    "  --divergence-nbins N      kl_divergence: quantized bins per sign (default 128 for\n"
    "                            8-bit types, 2048 for 16-bit)\n"
    "  --percentile P            percentile: the percentage of |x| kept (default 99.99)\n"
    "  --read FILE               read the table from FILE (dialect 1 or 2) instead\n"
    "  -q, --model-quantize FILE also write the table to FILE (dialect 2)\n"
    "  --compute-entropy FILE    write each tensor's sensitivity, Acuity's entropy.txt\n"
    "  --bias-correction         then correct the integer Conv/ConvTranspose biases so\n"
    "                            that each output channel's mean over the samples matches\n"
    "                            the float run (needs --input-meta)\n"
    "  --input-meta FILE         the input meta whose dataset --bias-correction runs on\n"
    "  --iterations N            samples for --bias-correction (default 16, or fewer if the\n"
    "                            dataset is)\n"
    "  --bias-correction-passes N  passes over the layers (default 2)\n"
    "  --summary                 print the stream's table (dialect 2) instead of a stream\n"
    "  -h, --help                this help\n"
    "      --version             print the version\n"
    "Exit status: 0 ok, 1 bad input, 2 usage or bad table, 3 system error.\n";

struct opts {
    const char *read, *yaml, *entropy, *meta;
    qp_qtable_opts q;
    int have_quantizer, have_qtype, have_algorithm, have_nbins, have_percentile, summary;
    int bias_corr, iterations, have_iterations, passes, have_passes;
};

static long parse_long(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        qp_cli_usage_error("%s '%s' is not an integer from %ld to %ld", opt, s, lo, hi);
    return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
    enum { O_QUANTIZER = 256, O_QTYPE, O_ALGO, O_NBINS, O_PCT, O_READ, O_ENTROPY, O_SUMMARY, O_BC, O_META, O_ITER, O_PASSES };
    static const struct option lo[] = {
        {"quantizer", required_argument, 0, O_QUANTIZER},
        {"qtype", required_argument, 0, O_QTYPE},
        {"algorithm", required_argument, 0, O_ALGO},
        {"divergence-nbins", required_argument, 0, O_NBINS},
        {"percentile", required_argument, 0, O_PCT},
        {"read", required_argument, 0, O_READ},
        {"model-quantize", required_argument, 0, 'q'},
        {"compute-entropy", required_argument, 0, O_ENTROPY},
        {"summary", no_argument, 0, O_SUMMARY},
        {"bias-correction", no_argument, 0, O_BC},
        {"input-meta", required_argument, 0, O_META},
        {"iterations", required_argument, 0, O_ITER},
        {"bias-correction-passes", required_argument, 0, O_PASSES},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    qp_qtable_opts_init(&o->q, -1, 0);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":q:", lo, NULL)) != -1) {
        switch (c) {
        case O_QUANTIZER:
            o->q.quantizer = qp_quantizer_parse(optarg);
            if (o->q.quantizer <= 0)
                qp_cli_usage_error("--quantizer '%s': expected asymmetric_affine, symmetric_affine, "
                                   "perchannel_symmetric_affine, dynamic_fixed_point, bfloat16 or float16",
                                   optarg);
            o->have_quantizer = 1;
            break;
        case O_QTYPE:
            o->q.qtype = qp_qtable_qtype_parse(optarg);
            if (!o->q.qtype)
                qp_cli_usage_error("--qtype '%s': expected uint8, int8, int16, bfloat16 or float16", optarg);
            o->have_qtype = 1;
            break;
        case O_ALGO:
            o->q.algorithm = qp_qalgo_parse(optarg);
            if (o->q.algorithm < 0)
                qp_cli_usage_error("--algorithm '%s': expected normal, kl_divergence, moving_average, percentile "
                                   "or mse",
                                   optarg);
            o->have_algorithm = 1;
            break;
        case O_NBINS:
            o->q.divergence_nbins = (int)parse_long("--divergence-nbins", optarg, 1, QP_CALIB_BINS);
            o->have_nbins = 1;
            break;
        case O_PCT: {
            char *end;
            errno = 0;
            double p = strtod(optarg, &end);
            if (!*optarg || *end || errno || !(p > 0 && p <= 100))
                qp_cli_usage_error("--percentile '%s' is not a number in (0, 100]", optarg);
            o->q.percentile = p;
            o->have_percentile = 1;
            break;
        }
        case O_READ: o->read = optarg; break;
        case 'q': o->yaml = optarg; break;
        case O_ENTROPY: o->entropy = optarg; break;
        case O_SUMMARY: o->summary = 1; break;
        case O_BC: o->bias_corr = 1; break;
        case O_META: o->meta = optarg; break;
        case O_ITER:
            o->iterations = (int)parse_long("--iterations", optarg, 1, 100000);
            o->have_iterations = 1;
            break;
        case O_PASSES:
            o->passes = (int)parse_long("--bias-correction-passes", optarg, 1, 100);
            o->have_passes = 1;
            break;
        case ':': qp_cli_usage_error("option '%s' needs a value", argv[optind - 1]);
        default: qp_cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        qp_cli_usage_error("unexpected argument '%s' (the stream comes on standard input)", argv[optind]);
    int build = o->have_quantizer || o->have_qtype || o->have_algorithm || o->have_nbins || o->have_percentile;
    if ((o->meta || o->have_iterations || o->have_passes) && !o->bias_corr)
        qp_cli_usage_error("--input-meta, --iterations and --bias-correction-passes apply to --bias-correction");
    if (o->bias_corr && !o->meta)
        qp_cli_usage_error("--bias-correction needs --input-meta FILE (the samples it runs on)");
    if (o->summary) {
        if (build || o->read || o->yaml || o->entropy || o->bias_corr)
            qp_cli_usage_error("--summary takes no other option");
        return;
    }
    if (o->read) {
        if (build)
            qp_cli_usage_error("--read takes the table as it is: --quantizer, --qtype, --algorithm, "
                               "--divergence-nbins and --percentile do not apply");
        return;
    }
    if (!o->have_quantizer || !o->have_qtype)
        qp_cli_usage_error("give --quantizer and --qtype (or --read FILE)");
    if (o->have_nbins && o->q.algorithm != QP_QALGO_KL_DIVERGENCE)
        qp_cli_usage_error("--divergence-nbins applies to --algorithm kl_divergence");
    if (o->have_percentile && o->q.algorithm != QP_QALGO_PERCENTILE)
        qp_cli_usage_error("--percentile applies to --algorithm percentile");
    if (qp_qtable_opts_check(&o->q))
        qp_cli_usage_error("%s", qp_error_msg());
}

struct entropy_arg {
    const qp_qtable *t;
    qp_qscore *s;
    int n;
};

static int write_entropy(FILE *f, const struct entropy_arg *a)
{
    char key[1100], num[40];
    for (int i = 0; i < a->n; i++)
        fprintf(f, "%s, %s\n", qp_qtable_key(a->t->g, a->s[i].slot, key, sizeof key),
                qp_qalgo_format_double(num, sizeof num, a->s[i].score));
    return ferror(f) ? qp_errorf(QP_ESYS, "%s", strerror(errno)) : 0;
}

/* Opens path as a temporary, writes it; committed once the stream is out. */
static void prepare(qp_outfile *out, const char *path, int (*fn)(FILE *, const void *), const void *arg)
{
    int rc = qp_outfile_open(out, path, "w");
    if (rc)
        qp_diag_exit(rc);
    if ((rc = fn(out->f, arg)))
        rc = qp_error_prefix(rc, "cannot write '%s'", path);
    if (rc) {
        qp_outfile_abort(out);
        qp_diag_exit(rc);
    }
}

static void bc_progress(void *ctx, int done, int total)
{
    (void)ctx;
    fprintf(stderr, "\rqtable: bias correction %d/%d", done, total);
    if (done == total)
        fputc('\n', stderr);
}

/* --bias-correction: on the first --iterations samples of the meta's dataset. */
static void bias_correct(const struct opts *o, const qp_graph *g, qp_qtable *t)
{
    qp_samples *io = NULL;
    int rc = qp_samples_open(g, o->meta, 0, NULL, &io);
    if (rc)
        qp_diag_exit(rc);
    int have = qp_samples_count(io), n = o->have_iterations ? o->iterations : 16;
    qp_biascorr_result r;
    if (o->have_iterations && n > have)
        qp_diag_die(QP_EUSAGE, "--iterations %d but the dataset of '%s' has %d samples", n, o->meta, have);
    if (n > have)
        n = have;
    if (n < 1)
        qp_diag_die(QP_EINPUT, "'%s': the dataset has no samples", o->meta);
    if ((rc = qp_biascorr_run(g, t, io, n, o->have_passes ? o->passes : 2, isatty(2) ? bc_progress : NULL, NULL, &r)))
        qp_diag_exit(rc);
    qp_samples_close(io);
    if (!r.layers)
        fprintf(stderr, "qtable: warning: --bias-correction: no integer Conv or ConvTranspose layer to correct\n");
    else if (r.cos_after < r.cos_before)
        fprintf(stderr, "qtable: warning: --bias-correction lowered the mean output cosine on its %d samples "
                        "from %.6f to %.6f; compare the tables on held-out samples\n", n, r.cos_before, r.cos_after);
    else if (isatty(2))
        fprintf(stderr, "qtable: bias correction of %d layers: mean output cosine on the %d samples %.6f -> %.6f\n",
                r.layers, n, r.cos_before, r.cos_after);
}

static int emit_yaml(FILE *f, const void *t) { return qp_qtable_emit_yaml(f, t); }
static int emit_entropy(FILE *f, const void *a) { return write_entropy(f, a); }

int main(int argc, char **argv)
{
    struct opts o;
    qp_cli_common(argc, argv, usage);
    parse(argc, argv, &o);
    qp_graph *g = qp_cli_read_ir(NULL);
    qp_calib *c = NULL;
    qp_qtable *t = NULL;
    int rc = 0;
    if (o.summary) {
        if ((rc = qp_qtable_load(g, &t)) || (rc = qp_qtable_emit_yaml(stdout, t)))
            qp_diag_exit(rc);
        qp_qtable_free(t);
        qp_graph_free(g);
        if (fflush(stdout) || ferror(stdout))
            qp_diag_die(QP_ESYS, "cannot write the table: %s", strerror(errno));
        return 0;
    }
    if (qp_graph_section(g, "calib") && (rc = qp_calib_load(g, &c)))
        qp_diag_exit(rc);
    if (o.read) {
        if ((rc = qp_qtable_read_yaml(o.read, g, &t)))
            qp_diag_exit(rc);
    } else {
        if (!c)
            qp_diag_die(QP_EINPUT, "no calibration statistics in the stream: run calib first");
        o.q.batch_size = c->batch_size > 0 ? c->batch_size : 1;
        o.q.ma_weight = c->moving_average_weight > 0 ? c->moving_average_weight : QP_QALGO_DEFAULT_MA_WEIGHT;
        if ((rc = qp_qtable_build(g, c, &o.q, &t)))
            qp_diag_exit(rc);
    }
    if (o.bias_corr)
        bias_correct(&o, g, t);
    struct entropy_arg ea = {t, NULL, 0};
    if (o.entropy) {
        if (!c)
            qp_diag_die(QP_EINPUT, "--compute-entropy needs the calibration statistics: run calib first");
        if ((rc = qp_qtable_entropy(t, c, &ea.s, &ea.n)))
            qp_diag_exit(rc);
    }
    if ((rc = qp_qtable_store(g, t)))
        qp_diag_exit(rc);
    qp_outfile yaml = {0}, ent = {0};
    if (o.yaml)
        prepare(&yaml, o.yaml, emit_yaml, t);
    if (o.entropy)
        prepare(&ent, o.entropy, emit_entropy, &ea);
    qp_cli_write_ir(g, argc, argv);
    if ((o.yaml && (rc = qp_outfile_commit(&yaml))) || (o.entropy && (rc = qp_outfile_commit(&ent))))
        qp_diag_exit(rc);
    free(ea.s);
    qp_qtable_free(t);
    qp_calib_free(c);
    qp_graph_free(g);
    return fflush(stdout) ? QP_ESYS : 0;
}
