/* onnx2ir: an ONNX model to a qpipe IR stream on stdout (Acuity's `import onnx`).
 * main: options, load and check the model, build the graph, infer and fold, assign layer
 * keys, then write the input meta and the stream (or list the layers). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "onnx2ir.h"
#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/keys.h"

static const char usage[] =
    "usage: onnx2ir [options] MODEL.onnx > model.ir\n"
    "Imports an ONNX model (opset 7-17) as a qpipe IR stream: shapes inferred, constant\n"
    "subgraphs folded, BatchNormalization folded into Conv, Acuity layer keys assigned.\n"
    "\n"
    "  --input-size [NAME=]D0,D1,...  size of a model input with symbolic dimensions\n"
    "                                 (a symbolic first dimension defaults to 1); repeat\n"
    "                                 per input, by name or in input order\n"
    "  --inputmeta FILE               also write an Acuity input meta YAML for the inputs\n"
    "  --dataset LIST                 the dataset list it names (default dataset.txt)\n"
    "  --list-layers                  print key, op and shape of every layer instead of\n"
    "                                 the stream\n"
    "  -v, --verbose                  counts and timing on stderr\n"
    "  -h, --help                     this help\n"
    "      --version                  print the version\n"
    "Exit status: 0 ok, 1 bad model, 2 usage, 3 system error.\n";

struct opts {
    const char *model, *inputmeta, *dataset;
    qp_o2i_size sizes[QP_O2I_MAX_SIZES];
    int n_sizes, list_layers, verbose;
};

static void parse_size(struct opts *o, const char *arg)
{
    if (o->n_sizes >= QP_O2I_MAX_SIZES)
        qp_cli_usage_error("at most %d --input-size options", QP_O2I_MAX_SIZES);
    qp_o2i_size *s = &o->sizes[o->n_sizes++];
    const char *eq = strrchr(arg, '='), *dims = eq ? eq + 1 : arg;
    if (eq) {
        if (eq == arg)
            qp_cli_usage_error("--input-size '%s': empty input name before '='", arg);
        char *name = qp_malloc((size_t)(eq - arg) + 1);
        if (!name)
            qp_diag_exit(QP_ESYS);
        memcpy(name, arg, (size_t)(eq - arg));
        name[eq - arg] = 0;
        s->name = name;
        for (int k = 0; k < o->n_sizes - 1; k++)
            if (o->sizes[k].name && !strcmp(o->sizes[k].name, name))
                qp_cli_usage_error("--input-size given twice for input '%s'", name);
    }
    long long d[QP_MAX_RANK + 1];
    int n = qp_cli_parse_dims(dims, d, QP_MAX_RANK + 1);
    if (n < 1 || n > QP_MAX_RANK)
        qp_cli_usage_error("--input-size '%s': expected [NAME=]D0,D1,... with 1 to %d positive dimensions", arg,
                           QP_MAX_RANK);
    s->rank = n;
    for (int i = 0; i < n; i++) {
        if (d[i] > 0x7fffffffLL)
            qp_cli_usage_error("--input-size '%s': dimension %lld is too large", arg, d[i]);
        s->dims[i] = d[i];
    }
}

static void parse(int argc, char **argv, struct opts *o)
{
    enum { O_SIZE = 256, O_META, O_DATASET, O_LIST };
    static const struct option lo[] = {
        { "input-size", required_argument, NULL, O_SIZE },
        { "inputmeta", required_argument, NULL, O_META },
        { "dataset", required_argument, NULL, O_DATASET },
        { "list-layers", no_argument, NULL, O_LIST },
        { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":v", lo, NULL)) != -1) {
        switch (c) {
        case O_SIZE: parse_size(o, optarg); break;
        case O_META: o->inputmeta = optarg; break;
        case O_DATASET: o->dataset = optarg; break;
        case O_LIST: o->list_layers = 1; break;
        case 'v': o->verbose = 1; break;
        case ':': qp_cli_usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt)
                qp_cli_usage_error("unknown option '-%c'", optopt);
            qp_cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        qp_cli_usage_error("no model given");
    if (optind < argc - 1)
        qp_cli_usage_error("one model at a time ('%s' is extra)", argv[optind + 1]);
    o->model = argv[optind];
    if (o->dataset && !o->inputmeta)
        qp_cli_usage_error("--dataset names the list inside the input meta: it needs --inputmeta");
    if (o->inputmeta && o->list_layers)
        qp_cli_usage_error("--inputmeta and --list-layers do not go together");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    qp_cli_common(argc, argv, usage);
    struct opts o;
    parse(argc, argv, &o);
    if (!o.list_layers && isatty(STDOUT_FILENO))
        qp_diag_die(QP_EUSAGE, "refusing to write a binary IR stream to a terminal (redirect or pipe it)");
    double t0 = now();

    qp_o2i_model mod;
    int rc = qp_o2i_load(o.model, &mod);
    if (rc)
        qp_diag_exit(rc);
    qp_graph *g = NULL;
    qp_o2i_flags fl = { NULL, 0 };
    qp_o2i_stats st;
    memset(&st, 0, sizeof st);
    rc = qp_o2i_build(&mod, o.sizes, o.n_sizes, &g, &fl, &st);
    qp_o2i_model_free(&mod);
    for (int i = 0; i < o.n_sizes; i++)
        free((char *)o.sizes[i].name);
    if (!rc)
        rc = qp_o2i_simplify(g, &fl, &st);
    if (!rc)
        rc = qp_keys_assign(g, fl.is_init);
    free(fl.is_init);
    if (rc)
        qp_diag_exit(rc == QP_ESYS ? rc : qp_error_prefix(rc, "'%s'", o.model));

    if (o.verbose) {
        qp_key_layer *l;
        if (!qp_keys_layers(g, &l, &st.layers))
            free(l);
        qp_diag_info("%s: '%s': %d ONNX nodes (%d constants) -> %d nodes, %d layers: %d folded, %d Identity/Dropout "
                     "removed, %d BatchNormalization folded into Conv, %d unused dropped; %.3f s\n",
                     qp_diag_prog(), o.model, st.onnx_nodes, st.constants, st.nodes, st.layers, st.folded,
                     st.identities, st.bn_folded, st.dead, now() - t0);
    }
    if (o.list_layers) {
        if ((rc = qp_o2i_list_layers(stdout, g)) || fflush(stdout) || ferror(stdout))
            qp_diag_die(QP_ESYS, "cannot write the layer list to standard output");
        qp_graph_free(g);
        return 0;
    }
    if (o.inputmeta && (rc = qp_o2i_write_inputmeta(g, o.inputmeta, o.dataset)))
        qp_diag_exit(rc);
    qp_cli_write_ir(g, argc, argv);
    qp_graph_free(g);
    return 0;
}
