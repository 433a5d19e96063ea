/* Target profiles (common/profile.c): with no argument, the self-checks (every op of the op
 * table mapped to a unit, every representation one qpipe simulates, the built-in targets load
 * under their own names); with arguments, the harness tests/profile.bats drives:
 *   test_profile load TARGET            parse a built-in name or a YAML file
 *   test_profile check TARGET < IR      the legality check of the stream's table
 *   test_profile report TARGET < IR     the report, the arena planned as qinfer would
 * TARGET is a file when it contains '/' or ends in .yml, else a built-in name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/memplan.h"
#include "qp/op.h"
#include "qp/profile.h"
#include "qp/qtable.h"

#include "check.h"


static int load(const char *target, qp_profile **p)
{
    size_t n = strlen(target);
    if (strchr(target, '/') || (n > 4 && !strcmp(target + n - 4, ".yml")))
        return qp_profile_load_file(target, p);
    return qp_profile_load_name(target, p);
}

static const char *const all_reps[] = {
    "asymmetric_affine-u8", "asymmetric_affine-i8", "asymmetric_affine-i16", "symmetric_affine-i8",
    "symmetric_affine-i16", "perchannel_symmetric_affine-i8", "perchannel_symmetric_affine-i16",
    "dynamic_fixed_point-i8", "dynamic_fixed_point-i16", "bfloat16", "float16", "float32"};

/* MACs per op on shapes worked out by hand. */
static int node(qp_graph *g, const char *op, int a, int b, int y)
{
    int in[2] = {a, b}, out[1] = {y};
    return qp_graph_add_node(g, op, op, 2, in, 1, out);
}

static void work_tests(void)
{
    qp_graph *g = qp_graph_new();
    if (!g) {
        CHECK(0, "qp_graph_new");
        return;
    }
    const int64_t x[] = {1, 8, 10, 12}, w[] = {16, 8, 3, 3}, y[] = {1, 16, 10, 12};
    const int64_t wd[] = {8, 1, 3, 3}, yd[] = {1, 8, 5, 6};            /* depthwise, stride 2 */
    const int64_t wt[] = {8, 4, 2, 2}, yt[] = {1, 8, 20, 24};          /* ConvTranspose, group 2: M = 8 */
    const int64_t a[] = {5, 7}, at[] = {7, 5}, b[] = {7, 3}, ym[] = {5, 3};
    const int64_t a3[] = {2, 5, 7}, ym3[] = {2, 5, 3};
    int vx = qp_graph_add_value(g, "x", QP_DT_F32, 4, x), vw = qp_graph_add_value(g, "w", QP_DT_F32, 4, w);
    int vy = qp_graph_add_value(g, "y", QP_DT_F32, 4, y), vwd = qp_graph_add_value(g, "wd", QP_DT_F32, 4, wd);
    int vyd = qp_graph_add_value(g, "yd", QP_DT_F32, 4, yd), vwt = qp_graph_add_value(g, "wt", QP_DT_F32, 4, wt);
    int vyt = qp_graph_add_value(g, "yt", QP_DT_F32, 4, yt), va = qp_graph_add_value(g, "a", QP_DT_F32, 2, a);
    int vat = qp_graph_add_value(g, "at", QP_DT_F32, 2, at), vb = qp_graph_add_value(g, "b", QP_DT_F32, 2, b);
    int vym = qp_graph_add_value(g, "ym", QP_DT_F32, 2, ym), va3 = qp_graph_add_value(g, "a3", QP_DT_F32, 3, a3);
    int vym3 = qp_graph_add_value(g, "ym3", QP_DT_F32, 3, ym3), vr = qp_graph_add_value(g, "r", QP_DT_F32, 4, y);
    int conv = node(g, "Conv", vx, vw, vy), dw = node(g, "Conv", vx, vwd, vyd);
    int ct = node(g, "ConvTranspose", vx, vwt, vyt), gemm = node(g, "Gemm", va, vb, vym);
    int gemm_t = node(g, "Gemm", vat, vb, vym), mm = node(g, "MatMul", va3, vb, vym3), relu = node(g, "Relu", vy, -1, vr);
    CHECK(gemm_t >= 0 && qp_node_set_int(g, gemm_t, "transA", 1) == 0, "transA");
    CHECK(qp_profile_node_work(g, conv) == 1920.0 * 72, "Conv: 16*10*12 outputs x 8*3*3: %g",
          qp_profile_node_work(g, conv));
    CHECK(qp_profile_node_work(g, dw) == 240.0 * 9, "depthwise: 8*5*6 outputs x 1*3*3: %g", qp_profile_node_work(g, dw));
    CHECK(qp_profile_node_work(g, ct) == 960.0 * 16, "ConvTranspose: 8*10*12 inputs x 4*2*2: %g",
          qp_profile_node_work(g, ct));
    CHECK(qp_profile_node_work(g, gemm) == 105, "Gemm: 5*3 outputs x K 7: %g", qp_profile_node_work(g, gemm));
    CHECK(qp_profile_node_work(g, gemm_t) == 105, "Gemm transA: K from A's first axis: %g",
          qp_profile_node_work(g, gemm_t));
    CHECK(qp_profile_node_work(g, mm) == 210, "MatMul: 2*5*3 outputs x K 7: %g", qp_profile_node_work(g, mm));
    CHECK(qp_profile_node_work(g, relu) == 1920, "Relu: its output elements: %g", qp_profile_node_work(g, relu));
    qp_graph_free(g);
}

static int self_tests(void)
{
    /* every op qpipe supports runs on some unit */
    for (int i = 0; i < qp_op_count(); i++)
        CHECK(qp_profile_op_unit(qp_op_get(i)->name) >= 0, "op '%s' has no unit in common/profile.c",
              qp_op_get(i)->name);
    CHECK(qp_profile_op_unit("Conv") == QP_UNIT_NN && qp_profile_op_unit("MaxPool") == QP_UNIT_TP &&
              qp_profile_op_unit("Sigmoid") == QP_UNIT_PPU && qp_profile_op_unit("Loop") < 0,
          "unit of Conv/MaxPool/Sigmoid/Loop");
    /* the representations are exactly what the quantize table allows for activations */
    int n_allowed = 0;
    for (int qz = 0; qz < QP_QZ_COUNT; qz++)
        for (int qt = 1; qt <= QP_DT_BF16; qt++)
            n_allowed += qp_qtable_qtype_allowed(qz, qt, 0);
    CHECK(n_allowed == (int)(sizeof all_reps / sizeof all_reps[0]), "%d quantizer/qtype pairs, %zu representations",
          n_allowed, sizeof all_reps / sizeof all_reps[0]);
    /* built-ins: known, named as their file, the generic one allows every representation */
    const char *const *names = qp_profile_builtin_names();
    int k = 0;
    for (; names[k]; k++) {
        qp_profile *p;
        int rc = qp_profile_load_name(names[k], &p);
        CHECK(rc == 0, "built-in '%s': %s", names[k], qp_error_msg());
        if (!rc) {
            CHECK(!strcmp(qp_profile_name(p), names[k]), "name %s", qp_profile_name(p));
            qp_profile_free(p);
        }
    }
    CHECK(k == 3, "%d built-in targets", k);
    qp_profile *p;
    CHECK(qp_profile_load_name("VIP9000", &p) == QP_EUSAGE &&
              strstr(qp_error_msg(), "unknown target 'VIP9000' (known: VIP9000PICO_PID0XEE, VIPNANOQI_PID0X88, generic"),
          "unknown name: %s", qp_error_msg());
    char y[4096];
    int len = snprintf(y, sizeof y, "name: all\nclock_mhz: 1\nsram_kib: 0\nunits:\n  nn: {types: {}}\n"
                                    "  tp: {types: {}}\n  ppu:\n    types:\n");
    for (size_t i = 0; i < sizeof all_reps / sizeof all_reps[0]; i++)
        len += snprintf(y + len, sizeof y - (size_t)len, "      %s: 1\n", all_reps[i]);
    int rc = qp_profile_parse(y, (size_t)len, "all.yml", &p);
    CHECK(rc == 0, "every representation name parses: %s", qp_error_msg());
    if (!rc)
        qp_profile_free(p);
    work_tests();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

/* The activation arena as the executors plan it: each non-constant value alive from its
 * producer to its last reader, sized at its table representation. */
static size_t arena_of(const qp_graph *g, const qp_qtable *t)
{
    qp_memplan_span *s = qp_calloc((size_t)g->n_values, sizeof *s);
    int n = 0;
    if (!s)
        qp_diag_exit(QP_ESYS);
    for (int vi = 0; vi < g->n_values; vi++) {
        const qp_value *v = &g->values[vi];
        if (v->is_const)
            continue;
        size_t numel;
        if (qp_value_numel(v, &numel))
            continue;
        const qp_qentry *e = &t->value[vi];
        int bits = qp_qentry_present(e) ? qp_qtable_qtype_bits(e->qtype) : 0;
        size_t es = bits ? (size_t)bits / 8
                         : qp_qentry_present(e) ? (e->qtype == QP_DT_F32 ? 4 : 2) : qp_dtype_size(v->dtype);
        int first = v->producer + 1, last = first;
        for (int ni = 0; ni < g->n_nodes; ni++)
            for (int j = 0; j < g->nodes[ni].n_in; j++)
                if (g->nodes[ni].in[j] == vi && ni + 1 > last)
                    last = ni + 1;
        for (int k = 0; k < g->n_outputs; k++)
            if (g->outputs[k] == vi)
                last = g->n_nodes + 1;
        s[n].size = numel * (es ? es : 4);
        s[n].first = first;
        s[n++].last = last;
    }
    size_t peak = 0, naive = 0;
    if (qp_memplan_place(s, n, &peak, &naive))
        qp_diag_exit(QP_ESYS);
    free(s);
    return peak;
}

int main(int argc, char **argv)
{
    if (argc == 1)
        return self_tests();
    qp_diag_init("test_profile");
    if (argc != 3 || (strcmp(argv[1], "load") && strcmp(argv[1], "check") && strcmp(argv[1], "report")))
        qp_diag_die(QP_EUSAGE, "usage: test_profile [load|check|report TARGET]");
    qp_profile *p;
    int rc = load(argv[2], &p);
    if (rc)
        qp_diag_exit(rc);
    if (!strcmp(argv[1], "load")) {
        printf("%s\n", qp_profile_name(p));
        qp_profile_free(p);
        return 0;
    }
    qp_graph *g = qp_cli_read_ir(NULL);
    qp_qtable *t;
    if ((rc = qp_qtable_load(g, &t)))
        qp_diag_exit(rc);
    if (!strcmp(argv[1], "check"))
        rc = qp_profile_check(p, g, t);
    else
        rc = qp_profile_report(p, g, t, arena_of(g, t), stdout);
    if (rc)
        qp_diag_exit(rc);
    if (!strcmp(argv[1], "check"))
        printf("%s: legal\n", qp_profile_name(p));
    qp_qtable_free(t);
    qp_graph_free(g);
    qp_profile_free(p);
    return 0;
}
