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
#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/qtable_algo.h"

static const char usage[] =
    "usage: qmix [-q FILE.quantize] [--layer KEY=TYPE]... [--from KEY --to TYPE] [options]\n"
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
    "  -v, --verbose              list the converters on standard error\n"
    "  -h, --help                 this help\n"
    "      --version              print the version\n"
    "TYPE: <quantizer>-<qtype> (dynamic_fixed_point-i16, asymmetric_affine-u8,\n"
    "perchannel_symmetric_affine-i8, ...), bfloat16, float16 or float32.\n"
    "Exit status: 0 ok, 1 bad input (incl. keys and types of FILE), 2 usage (incl. keys and\n"
    "types of --layer/--from), 3 system error.\n";

struct assign {
    const char *key, *type;
};

struct opts {
    const char *quantize, *write, *from, *to;
    struct assign *layer;
    int n_layer, list, verbose;
};

static void parse(int argc, char **argv, struct opts *o)
{
    enum { O_LAYER = 256, O_FROM, O_TO, O_LIST };
    static const struct option lo[] = {
        {"model-quantize", required_argument, 0, 'q'},
        {"write-quantize", required_argument, 0, 'o'},
        {"layer", required_argument, 0, O_LAYER},
        {"from", required_argument, 0, O_FROM},
        {"to", required_argument, 0, O_TO},
        {"list-converters", no_argument, 0, O_LIST},
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
    if (!o->from != !o->to)
        qp_cli_usage_error("--from and --to go together");
    if (!o->quantize && !o->n_layer && !o->from)
        qp_cli_usage_error("nothing to apply: give -q FILE, --layer KEY=TYPE or --from KEY --to TYPE");
}

static int emit(FILE *f, const qp_qtable *t, const qp_qmix_conv *cv, int n)
{
    return qp_qmix_emit_yaml(f, t, cv, n);
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
    qp_cli_write_ir(g, argc, argv);
    if (o.write && (rc = qp_outfile_commit(&yaml)))
        qp_diag_exit(rc);
    qp_qmix_converters_free(cv, ncv);
    qp_qtable_free(t);
    qp_calib_free(c);
    qp_graph_free(g);
    free(o.layer);
    return fflush(stdout) ? QP_ESYS : 0;
}
