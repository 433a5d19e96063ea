/* qmix: hybrid quantization.  Applies a precision per layer to the stream's quantization
 * table (Acuity's customized_quantize_layers: from a .quantize file, --layer KEY=TYPE with
 * globs, or --from KEY --to TYPE for a layer and everything downstream), re-derives the
 * switched tensors' parameters from the stream's calibration statistics and names the
 * dtype converters at the precision boundaries.  main: options, read, plan, apply, write. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qmix.h"
#include "qmix_auto.h"
#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/qtable_algo.h"
#include "qp/samples.h"

static const char usage[] =
    "usage: qmix [-q FILE.quantize] [--layer KEY=TYPE]... [--from KEY --to TYPE] [options]\n"
    "            < q.ir > hybrid.ir\n"
    "       qmix --auto --input-meta META (--target-cos C [--target-field [NAME=]A:B]... |\n"
    "            --max-int16-share S) [--to TYPE] [--iterations N] [-o FILE] [--report FILE]\n"
    "            < q.ir > hybrid.ir\n"
    "Applies a precision per layer to the stream's quantization table and re-derives the\n"
    "switched tensors' parameters from the stream's calibration statistics.\n"
    "\n"
    "  -q, --model-quantize FILE  apply FILE's customized_quantize_layers map\n"
    "  --layer KEY=TYPE           give layer KEY (an fnmatch pattern) the type TYPE\n"
    "                             (repeatable; applied after -q)\n"
    "  --from KEY --to TYPE       KEY (a key, a key without _<uid>, or an ONNX node name)\n"
    "                             and every layer downstream of it take TYPE\n"
    "  -o, --write-quantize FILE  write the updated table (dialect 2, with the converters'\n"
    "                             entries and customized_quantize_layers)\n"
    "  --list-converters          print the dtype converters, one per line, and no stream\n"
    "  --auto                     choose the layers to promote (to --to TYPE, default\n"
    "                             dynamic_fixed_point-i16), verified on the samples:\n"
    "  --input-meta FILE          the input meta whose dataset gives the samples\n"
    "  --iterations N             samples to verify on (default 4, or fewer if the list is)\n"
    "  --target-cos C             every output (or field) reaches cosine C, mean over samples\n"
    "  --target-field [NAME=]A:B  the target is on [A, B) of every output's last axis\n"
    "                             (repeatable, or a comma list; each field must reach C)\n"
    "  --max-int16-share S        at most the share S (0..1) of the MACs promoted\n"
    "  --max-runs N               stop pruning after N verification runs (default 40)\n"
    "  --target-output KEY        only the outputs KEY matches (an fnmatch pattern;\n"
    "                             repeatable) are targets\n"
    "  --rank single|target       rank the layers by their own error (qinfer --analyze,\n"
    "                             the default) or by the target cosine with each layer\n"
    "                             alone left quantized (one verification run per layer)\n"
    "  --report FILE              the report to FILE instead of standard error\n"
    "  -v, --verbose              list the converters on standard error\n"
    "  -h, --help                 this help\n"
    "      --version              print the version\n"
    "TYPE: <quantizer>-<qtype> (dynamic_fixed_point-i16, asymmetric_affine-u8,\n"
    "perchannel_symmetric_affine-i8, ...), bfloat16, float16 or float32.\n"
    "Exit status: 0 ok, 1 bad input (incl. keys and types of FILE), 2 usage (incl. keys and\n"
    "types of --layer/--from), 3 system error, 4 --auto's target not reachable.\n";

struct assign {
    const char *key, *type;
};

struct opts {
    const char *quantize, *write, *from, *to;
    struct assign *layer;
    int n_layer, list, verbose;
    int autom, iter_given, rank_given;
    const char *meta, *report;
    struct qmix_auto_opts a;
    qp_qtable *keep;            /* --auto: the stream's table, owner of the normalised --to */
    char *field_arg[QMIX_AUTO_MAX_FIELDS];  /* copies the field names point into */
    int n_field_arg;
};

static double parse_real(const char *opt, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        qp_cli_usage_error("%s '%s' is not a number from %g to %g", opt, s, lo, hi);
    return v;
}

/* [NAME=]A:B[,[NAME=]A:B...], parsed on a copy: argv goes into the stream's history as given */
static void parse_fields(struct opts *o, const char *given)
{
    if (o->n_field_arg == QMIX_AUTO_MAX_FIELDS)
        qp_cli_usage_error("--target-field: more than %d fields", QMIX_AUTO_MAX_FIELDS);
    char *arg = o->field_arg[o->n_field_arg++] = strdup(given);
    if (!arg)
        qp_diag_die(QP_ESYS, "out of memory");
    for (char *save = NULL, *f = strtok_r(arg, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        if (o->a.n_field == QMIX_AUTO_MAX_FIELDS)
            qp_cli_usage_error("--target-field: more than %d fields", QMIX_AUTO_MAX_FIELDS);
        const char *name = NULL;
        char *eq = strchr(f, '='), *end;
        if (eq) {
            *eq = 0;
            name = f;
            f = eq + 1;
            if (!*name)
                qp_cli_usage_error("--target-field '=%s' is not [NAME=]A:B (the name is empty)", f);
        }
        errno = 0;
        long a = strtol(f, &end, 10), b = -1;
        if (!errno && end != f && *end == ':') {
            char *p = end + 1;
            b = strtol(p, &end, 10);
            if (errno || end == p || *end)
                b = -1;
        }
        if (b < 0 || a < 0 || a >= b || b > 1 << 30)
            qp_cli_usage_error("--target-field '%s' is not A:B with 0 <= A < B (a slice of the last axis)", f);
        o->a.field[o->a.n_field].name = name;
        o->a.field[o->a.n_field].a = (int)a;
        o->a.field[o->a.n_field++].b = (int)b;
    }
}

static void parse(int argc, char **argv, struct opts *o)
{
    enum { O_LAYER = 256, O_FROM, O_TO, O_LIST, O_AUTO, O_META, O_ITER, O_COS, O_FIELD, O_SHARE, O_REPORT, O_RUNS, O_RANK, O_OUTPUT };
    static const struct option lo[] = {
        {"model-quantize", required_argument, 0, 'q'},
        {"write-quantize", required_argument, 0, 'o'},
        {"layer", required_argument, 0, O_LAYER},
        {"from", required_argument, 0, O_FROM},
        {"to", required_argument, 0, O_TO},
        {"list-converters", no_argument, 0, O_LIST},
        {"auto", no_argument, 0, O_AUTO},
        {"input-meta", required_argument, 0, O_META},
        {"iterations", required_argument, 0, O_ITER},
        {"target-cos", required_argument, 0, O_COS},
        {"target-field", required_argument, 0, O_FIELD},
        {"max-int16-share", required_argument, 0, O_SHARE},
        {"report", required_argument, 0, O_REPORT},
        {"max-runs", required_argument, 0, O_RUNS},
        {"rank", required_argument, 0, O_RANK},
        {"target-output", required_argument, 0, O_OUTPUT},
        {"verbose", no_argument, 0, 'v'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->layer = qp_calloc((size_t)argc + 1, sizeof *o->layer);
    if (!o->layer)
        qp_diag_exit(QP_ESYS);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":q:o:v", lo, NULL)) != -1) {
        switch (c) {
        case 'q': o->quantize = optarg; break;
        case 'o': o->write = optarg; break;
        case 'v': o->verbose = 1; break;
        case O_LIST: o->list = 1; break;
        case O_FROM: o->from = optarg; break;
        case O_TO: o->to = optarg; break;
        case O_AUTO: o->autom = 1; break;
        case O_META: o->meta = optarg; break;
        case O_REPORT: o->report = optarg; break;
        case O_ITER:
            o->a.iterations = (int)parse_real("--iterations", optarg, 1, 100000);
            if (o->a.iterations != strtod(optarg, NULL))
                qp_cli_usage_error("--iterations '%s' is not a count from 1 to 100000", optarg);
            o->iter_given = 1;
            break;
        case O_COS:
            o->a.target_cos = parse_real("--target-cos", optarg, -1, 1);
            o->a.has_cos = 1;
            break;
        case O_SHARE:
            o->a.max_share = parse_real("--max-int16-share", optarg, 0, 1);
            o->a.has_share = 1;
            break;
        case O_FIELD: parse_fields(o, optarg); break;
        case O_RUNS:
            o->a.max_runs = (int)parse_real("--max-runs", optarg, 1, 100000);
            if (o->a.max_runs != strtod(optarg, NULL))
                qp_cli_usage_error("--max-runs '%s' is not a count from 1 to 100000", optarg);
            break;
        case O_OUTPUT:
            if (o->a.n_output == QMIX_AUTO_MAX_FIELDS)
                qp_cli_usage_error("more than %d --target-output", QMIX_AUTO_MAX_FIELDS);
            o->a.output[o->a.n_output++] = optarg;
            break;
        case O_RANK:
            if (!strcmp(optarg, "target"))
                o->a.rank_target = 1;
            else if (strcmp(optarg, "single"))
                qp_cli_usage_error("--rank '%s' is not single or target", optarg);
            o->rank_given = 1;
            break;
        case O_LAYER: {
            char *eq = strrchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                qp_cli_usage_error("--layer '%s' is not KEY=TYPE", optarg);
            *eq = 0;
            o->layer[o->n_layer++] = (struct assign){optarg, eq + 1};
            break;
        }
        case ':': qp_cli_usage_error("option '%s' needs a value", argv[optind - 1]);
        default: qp_cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        qp_cli_usage_error("unexpected argument '%s' (the stream comes on standard input)", argv[optind]);
    if (o->autom) {
        if (o->quantize || o->n_layer || o->from || o->list)
            qp_cli_usage_error("--auto chooses the layers itself: drop -q, --layer, --from and --list-converters");
        if (!o->meta)
            qp_cli_usage_error("--auto needs --input-meta FILE (the samples it verifies on)");
        if (!o->a.has_cos && !o->a.has_share)
            qp_cli_usage_error("--auto needs --target-cos C or --max-int16-share S");
        if (o->a.n_field && !o->a.has_cos)
            qp_cli_usage_error("--target-field needs --target-cos");
        if (o->a.n_output && !o->a.has_cos)
            qp_cli_usage_error("--target-output needs --target-cos");
        if (!o->iter_given)
            o->a.iterations = 4;
        if (!o->a.max_runs)
            o->a.max_runs = 40;
        o->a.to = o->to ? o->to : "dynamic_fixed_point-i16";
        return;
    }
    if (o->meta || o->report || o->iter_given || o->a.has_cos || o->a.has_share || o->a.n_field || o->a.max_runs ||
        o->rank_given || o->a.n_output)
        qp_cli_usage_error("--input-meta, --iterations, --target-cos, --target-field, --max-int16-share, "
                           "--target-output, --max-runs, --rank and --report go with --auto");
    if (!o->from != !o->to)
        qp_cli_usage_error("--from and --to go together");
    if (!o->quantize && !o->n_layer && !o->from)
        qp_cli_usage_error("nothing to apply: give -q FILE, --layer KEY=TYPE or --from KEY --to TYPE");
}

static int emit(FILE *f, const qp_qtable *t, const qp_qmix_conv *cv, int n)
{
    return qp_qmix_emit_yaml(f, t, cv, n);
}

/* --auto: the type checked (and normalised) on the stream's table, then the search; t is
 * replaced by the chosen table.  Returns the report. */
static char *run_auto(struct opts *o, const qp_graph *g, const qp_calib *c, int algo, qp_qtable **t)
{
    int ni = 0, rc;
    while (ni < g->n_nodes && !(g->nodes[ni].key && g->nodes[ni].key[0]))
        ni++;
    if (ni == g->n_nodes)
        qp_diag_die(QP_EINPUT, "the graph has no layer to promote");
    if (qp_qtable_set_custom(*t, g->nodes[ni].key, o->a.to))
        qp_diag_die(QP_EUSAGE, "--to '%s' is not <quantizer>-<qtype> (e.g. dynamic_fixed_point-i16) nor bfloat16, "
                               "float16, float32", o->a.to);
    o->a.to = (*t)->custom[ni];     /* normalised, in the table's arena: keep the table until the end */
    qp_samples *io;
    if ((rc = qp_samples_open(g, o->meta, 0, NULL, &io)))
        qp_diag_exit(rc);
    int have = qp_samples_count(io);
    if (o->iter_given && o->a.iterations > have)
        qp_diag_die(QP_EUSAGE, "--iterations %d but the dataset has %d samples", o->a.iterations, have);
    if (o->a.iterations > have)
        o->a.iterations = have;
    if (o->a.iterations < 1)
        qp_diag_die(QP_EINPUT, "%s: the dataset has no sample", o->meta);
    qp_qtable *chosen;
    char *report;
    if ((rc = qp_qmix_auto(&o->a, g, c, algo, io, &chosen, &report)))
        qp_diag_exit(rc);
    qp_samples_close(io);
    o->keep = *t;
    *t = chosen;
    return report;
}

int main(int argc, char **argv)
{
    struct opts o;
    qp_cli_common(argc, argv, usage);
    parse(argc, argv, &o);
    qp_graph *g = qp_cli_read_ir(NULL);
    qp_calib *c = NULL;
    qp_qtable *t = NULL;
    int rc;
    if (!qp_graph_section(g, "calib"))
        qp_diag_die(QP_EINPUT, "no calibration statistics in the stream: qmix needs calib's statistics to "
                               "re-derive parameters");
    if ((rc = qp_calib_load(g, &c)) || (rc = qp_qtable_load(g, &t)))
        qp_diag_exit(rc);
    int algo = t->algorithm ? qp_qalgo_parse(t->algorithm) : QP_QALGO_NORMAL;
    if (algo < 0)
        algo = QP_QALGO_NORMAL;
    char *report = NULL;
    if (o.autom)
        report = run_auto(&o, g, c, algo, &t);
    /* the plan: the file's map, then --layer, then --from (a later one wins) */
    if (o.quantize) {
        qp_qmix_map m;
        if ((rc = qp_qmix_map_read(o.quantize, g, &m)))
            qp_diag_exit(rc);
        for (int i = 0; i < m.n; i++)
            if (qp_qtable_set_custom(t, m.key[i], m.type[i]))
                qp_diag_exit(qp_error_prefix(QP_EINPUT, "%s", o.quantize));
        qp_qmix_map_free(&m);
    }
    for (int i = 0; i < o.n_layer; i++) {
        const struct assign *a = &o.layer[i];
        if (strpbrk(a->key, "*?[")) {
            if ((rc = qp_qmix_glob(t, a->key, a->type, QP_EUSAGE)))
                qp_diag_exit(qp_error_prefix(rc, "--layer"));
        } else if (qp_qtable_set_custom(t, a->key, a->type)) {
            qp_diag_exit(qp_error_prefix(QP_EUSAGE, "--layer"));
        }
    }
    if (o.from && (rc = qp_qmix_from(t, o.from, o.to, QP_EUSAGE)))
        qp_diag_exit(qp_error_prefix(rc, "--from"));
    qp_qmix_conv *cv;
    int ncv;
    if ((rc = qp_qmix_apply(t, c, algo)) || (rc = qp_qmix_converters(t, c, algo, &cv, &ncv)))
        qp_diag_exit(rc);
    if (o.list || o.verbose) {
        FILE *f = o.list ? stdout : stderr;
        for (int i = 0; i < ncv; i++)
            fprintf(f, "%s\n", cv[i].key);
        if (o.list) {
            if (fflush(stdout) || ferror(stdout))
                qp_diag_die(QP_ESYS, "cannot write the list: %s", strerror(errno));
            qp_qmix_converters_free(cv, ncv);
            qp_qtable_free(t);
            qp_calib_free(c);
            qp_graph_free(g);
            free(o.layer);
            return 0;
        }
    }
    if ((rc = qp_qtable_store(g, t)))
        qp_diag_exit(rc);
    qp_outfile yaml = {0};
    if (o.write) {
        if ((rc = qp_outfile_open(&yaml, o.write, "w")))
            qp_diag_exit(rc);
        if ((rc = emit(yaml.f, t, cv, ncv))) {
            qp_outfile_abort(&yaml);
            qp_diag_die(QP_ESYS, "cannot write '%s': %s", o.write, qp_error_msg());
        }
    }
    qp_outfile rep = {0};
    if (report && o.report) {
        if ((rc = qp_outfile_open(&rep, o.report, "w")))
            qp_diag_exit(rc);
        fprintf(rep.f, "%sconverters: %d\n", report, ncv);
    }
    qp_cli_write_ir(g, argc, argv);
    if (o.write && (rc = qp_outfile_commit(&yaml)))
        qp_diag_exit(rc);
    if (report && o.report && (rc = qp_outfile_commit(&rep)))
        qp_diag_exit(rc);
    if (report && !o.report)
        fprintf(stderr, "%sconverters: %d\n", report, ncv);
    free(report);
    for (int i = 0; i < o.n_field_arg; i++)
        free(o.field_arg[i]);
    qp_qtable_free(o.keep);
    qp_qmix_converters_free(cv, ncv);
    qp_qtable_free(t);
    qp_calib_free(c);
    qp_graph_free(g);
    free(o.layer);
    return fflush(stdout) ? QP_ESYS : 0;
}
