/* Stop-gap conformance runner for the elementwise and tensor op families until onnx2ir and
 * qinfer run the same tests: loads ONNX backend node tests, builds the graph by hand (Constant
 * nodes become constants, nodes whose inputs are all constant are folded through prepare+run
 * and Shape/Size always are, as the importer does), runs the rest through the executor and
 * compares with the expected outputs like ONNX's runner (rtol 1e-3, atol 1e-7).
 *
 * Each test runs three ways: parameter inputs constant and data inputs fed at run time (with
 * 1 and 2 threads, which must agree byte for byte), the same with the reference kernels, and
 * with every input constant (the whole graph folded).  Usage: test_ops_node [-v] [test_dir...];
 * with no argument it runs every test under $ONNX_NODE_TESTS (default
 * /usr/include/onnx/backend/test/data/node) that uses an op of the two families and only
 * registered ops. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/exec.h"
#include "qp/graph.h"
#include "qp/graph_edit.h"
#include "qp/onnx_tensor.h"
#include "qp/op.h"
#include "qp/tensorio.h"
#include "qp/threads.h"
#include "qp/vmath.h"
#include "onnx.pb-c.h"

#define MAX_IO 16

extern const qp_op qp_ops_elementwise[], qp_ops_tensor[];
extern const int qp_ops_elementwise_count, qp_ops_tensor_count;

static int verbose;

/* Tests these families reject on purpose: they must fail cleanly (an error from load, bind or
 * infer), never crash or give wrong numbers. */
static const struct { const char *test, *why; } unsupported[] = {
    {"test_cast_FLOAT_to_STRING", "strings"},
    {"test_cast_STRING_to_FLOAT", "strings"},
    {"test_castlike_FLOAT_to_STRING", "strings"},
    {"test_castlike_STRING_to_FLOAT", "strings"},
    {"test_castlike_FLOAT_to_STRING_expanded", "strings"},
    {"test_castlike_STRING_to_FLOAT_expanded", "strings"},
    {"test_training_dropout", "training mode"},
    {"test_training_dropout_default", "training mode"},
    {"test_training_dropout_default_mask", "training mode"},
    {"test_training_dropout_mask", "training mode"},
    {"test_training_dropout_zero_ratio", "training mode"},
    {"test_training_dropout_zero_ratio_mask", "training mode"},
    {"test_identity_opt", "optional type"},
    {"test_identity_sequence", "sequence type"},
};

static const char *unsupported_why(const char *name)
{
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (!strcmp(unsupported[i].test, name))
            return unsupported[i].why;
    return NULL;
}

static int family_op(const char *name)
{
    for (int i = 0; i < qp_ops_elementwise_count; i++)
        if (!strcmp(qp_ops_elementwise[i].name, name))
            return 1;
    for (int i = 0; i < qp_ops_tensor_count; i++)
        if (!strcmp(qp_ops_tensor[i].name, name))
            return 1;
    return 0;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *n = len;
    return buf;
}

typedef struct tcase {
    char dir[1024];
    const char *name;
    Onnx__ModelProto *model;
    int opset;
    int n_in, n_out;
    qp_tensor in[MAX_IO], out[MAX_IO];
    char op[64];        /* the family op the test is counted under */
} tcase;

static void tcase_free(tcase *tc)
{
    for (int i = 0; i < MAX_IO; i++) {
        qp_tensor_free(&tc->in[i]);
        qp_tensor_free(&tc->out[i]);
    }
    if (tc->model)
        onnx__model_proto__free_unpacked(tc->model, NULL);
}

enum { PASS, FAIL, UNSUPPORTED, SKIP, NOT_MINE };

/* PASS loaded; SKIP or NOT_MINE with the reason in why; FAIL (message recorded) */
static int tcase_load(tcase *tc, const char *dir, char *why, size_t nwhy)
{
    memset(tc, 0, sizeof *tc);
    snprintf(tc->dir, sizeof tc->dir, "%s", dir);
    const char *slash = strrchr(tc->dir, '/');
    tc->name = slash ? slash + 1 : tc->dir;
    char path[1200];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    size_t n;
    unsigned char *buf = read_all(path, &n);
    if (!buf)
        return qp_errorf(QP_EINPUT, "cannot read '%s'", path), FAIL;
    tc->model = onnx__model_proto__unpack(NULL, n, buf);
    free(buf);
    if (!tc->model || !tc->model->graph)
        return qp_errorf(QP_EINPUT, "cannot parse '%s'", path), FAIL;
    const Onnx__GraphProto *gp = tc->model->graph;
    int mine = 0;
    for (size_t i = 0; i < gp->n_node; i++) {
        const char *op = gp->node[i]->op_type;
        if (family_op(op) && !mine) {
            mine = 1;
            snprintf(tc->op, sizeof tc->op, "%s%s", op, gp->n_node > 1 ? "+" : "");
        }
    }
    if (!mine)
        return NOT_MINE;
    for (size_t i = 0; i < gp->n_node; i++) {
        const char *op = gp->node[i]->op_type;
        if (strcmp(op, "Constant") && qp_op_find(op) < 0) {
            snprintf(why, nwhy, "needs op %s", op);
            return SKIP;
        }
    }
    tc->opset = 1;
    for (size_t i = 0; i < tc->model->n_opset_import; i++) {
        const char *d = tc->model->opset_import[i]->domain;
        if (!d || !*d || !strcmp(d, "ai.onnx"))
            tc->opset = (int)tc->model->opset_import[i]->version;
    }
    if (gp->n_input > MAX_IO || gp->n_output > MAX_IO || gp->n_initializer) {
        snprintf(why, nwhy, "unusual graph");
        return SKIP;
    }
    tc->n_in = (int)gp->n_input;
    tc->n_out = (int)gp->n_output;
    /* element types the importer refuses never reach the ops */
    for (int i = 0; i < tc->n_in + tc->n_out; i++) {
        const Onnx__ValueInfoProto *vi = i < tc->n_in ? gp->input[i] : gp->output[i - tc->n_in];
        const Onnx__TypeProto *tp = vi->type;
        if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
            !qp_onnx_dtype_supported(tp->tensor_type->elem_type) && !unsupported_why(tc->name)) {
            snprintf(why, nwhy, "type %s is not imported", qp_onnx_dtype_name(tp->tensor_type->elem_type));
            return SKIP;
        }
    }
    for (int i = 0; i < tc->n_in; i++) {
        const Onnx__TypeProto *tp = gp->input[i]->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
            return qp_errorf(QP_EINPUT, "input %d is not a tensor", i), FAIL;
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, i);
        if (qp_onnx_tensor_read_pb(path, &tc->in[i]))
            return FAIL;
    }
    for (int i = 0; i < tc->n_out; i++) {
        const Onnx__TypeProto *tp = gp->output[i]->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
            return qp_errorf(QP_EINPUT, "output %d is not a tensor", i), FAIL;
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, i);
        if (qp_onnx_tensor_read_pb(path, &tc->out[i]))
            return FAIL;
    }
    return PASS;
}

static int add_attr(qp_graph *g, int ni, const Onnx__AttributeProto *a)
{
    switch (a->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        return qp_node_set_int(g, ni, a->name, a->i);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        return qp_node_set_float(g, ni, a->name, a->f);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        return qp_node_set_string(g, ni, a->name, (const char *)a->s.data, a->s.len);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        return qp_node_set_ints(g, ni, a->name, (int)a->n_ints, a->ints);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        return qp_node_set_floats(g, ni, a->name, (int)a->n_floats, a->floats);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        qp_tensor t;
        int rc = qp_onnx_tensor_decode(a->t, NULL, g->arena, &t);
        return rc ? rc : qp_node_set_tensor(g, ni, a->name, &t);
    }
    default:
        return qp_errorf(QP_EINPUT, "attribute '%s' has unsupported type %d", a->name, a->type);
    }
}

/* A Constant node's value as a constant value named name. */
static int add_constant(qp_graph *g, const Onnx__NodeProto *np)
{
    if (np->n_attribute != 1 || np->n_output != 1)
        return qp_errorf(QP_EINPUT, "Constant '%s': one attribute expected", np->name);
    const Onnx__AttributeProto *a = np->attribute[0];
    qp_tensor t;
    memset(&t, 0, sizeof t);
    float f;
    int64_t iv;
    if (!strcmp(a->name, "value")) {
        int rc = qp_onnx_tensor_decode(a->t, NULL, g->arena, &t);
        if (rc)
            return rc;
    } else if (!strcmp(a->name, "value_float")) {
        f = a->f;
        t.dtype = QP_DT_F32;
        t.data = &f;
        t.nbytes = 4;
    } else if (!strcmp(a->name, "value_int")) {
        t.dtype = QP_DT_I64;
        iv = a->i;
        t.data = &iv;
        t.nbytes = 8;
    } else if (!strcmp(a->name, "value_ints")) {
        t.dtype = QP_DT_I64;
        t.rank = 1;
        t.dims[0] = (int64_t)a->n_ints;
        t.data = a->ints;
        t.nbytes = 8 * a->n_ints;
    } else if (!strcmp(a->name, "value_floats")) {
        t.dtype = QP_DT_F32;
        t.rank = 1;
        t.dims[0] = (int64_t)a->n_floats;
        t.data = a->floats;
        t.nbytes = 4 * a->n_floats;
    } else
        return qp_errorf(QP_EINPUT, "Constant '%s': attribute '%s' is not supported", np->name, a->name);
    return qp_graph_add_const(g, np->output[0], t.dtype, t.rank, t.dims, t.data, t.nbytes) < 0 ? QP_ESYS : 0;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Runs node ni through prepare + run; its outputs become constants (as onnx2ir folds). */
static int fold_node(qp_graph *g, int ni)
{
    const qp_node *n = &g->nodes[ni];
    const qp_op *op = qp_op_get(n->op);
    qp_op_prep prep;
    memset(&prep, 0, sizeof prep);
    qp_arena *tmp = qp_arena_new(1u << 16);
    int rc = op->prepare ? op->prepare(g, ni, tmp, &prep) : 0;
    void *scratch = NULL;
    qp_tensor tin[QP_MAX_IO], tout[QP_MAX_IO];
    const qp_tensor *in[QP_MAX_IO];
    qp_tensor *out[QP_MAX_IO];
    if (!rc && prep.scratch && !(scratch = aligned_alloc(64, align64(prep.scratch))))
        rc = QP_ESYS;
    for (int j = 0; !rc && j < n->n_in; j++) {
        in[j] = NULL;
        if (n->in[j] >= 0) {
            tin[j] = qp_value_tensor(&g->values[n->in[j]]);
            in[j] = &tin[j];
        }
    }
    for (int j = 0; !rc && j < n->n_out; j++) {
        out[j] = NULL;
        if (n->out[j] < 0)
            continue;
        size_t numel;
        qp_value_numel(&g->values[n->out[j]], &numel);
        tout[j] = qp_value_tensor(&g->values[n->out[j]]);
        tout[j].nbytes = numel * qp_dtype_size(tout[j].dtype);
        if (!(tout[j].data = qp_arena_alloc(g->arena, tout[j].nbytes ? tout[j].nbytes : 1)))
            rc = QP_ESYS;
        out[j] = &tout[j];
    }
    if (!rc)
        rc = op->run(g, ni, &prep, in, out, scratch);
    for (int j = 0; !rc && j < n->n_out; j++)
        if (n->out[j] >= 0) {
            qp_value *v = &g->values[n->out[j]];
            v->is_const = 1;
            v->data = tout[j].data;
            v->nbytes = tout[j].nbytes;
            v->producer = -1;
        }
    free(scratch);
    qp_arena_free(tmp);
    return rc;
}

/* Builds, infers and folds the graph.  all_const: every graph input is a constant; else only
 * those feeding a parameter port. */
static int build(const tcase *tc, int all_const, qp_graph **out)
{
    *out = NULL;
    qp_graph *g = qp_graph_new();
    if (!g)
        return QP_ESYS;
    const Onnx__GraphProto *gp = tc->model->graph;
    int rc = 0;
    unsigned char *removed = NULL;
    g->opset = tc->opset;
    g->inputs = qp_arena_array(g->arena, (size_t)tc->n_in + 1, sizeof(int));
    g->outputs = qp_arena_array(g->arena, (size_t)tc->n_out + 1, sizeof(int));
    if (!g->inputs || !g->outputs) {
        rc = QP_ESYS;
        goto out;
    }
    for (int i = 0; i < tc->n_in; i++) {
        const char *nm = gp->input[i]->name;
        int as_const = all_const;
        for (size_t k = 0; k < gp->n_node && !as_const; k++) {
            const Onnx__NodeProto *np = gp->node[k];
            const qp_op *o = qp_op_get(qp_op_find(np->op_type));
            for (size_t j = 0; o && j < np->n_input; j++)
                if (!strcmp(np->input[j], nm) && (o->param_mask >> j & 1))
                    as_const = 1;
        }
        const qp_tensor *t = &tc->in[i];
        int vi = as_const ? qp_graph_add_const(g, nm, t->dtype, t->rank, t->dims, t->data, t->nbytes)
                          : qp_graph_add_value(g, nm, t->dtype, t->rank, t->dims);
        if (vi < 0) {
            rc = QP_ESYS;
            goto out;
        }
        if (!as_const)
            g->inputs[g->n_inputs++] = vi;
    }
    for (size_t k = 0; k < gp->n_node && !rc; k++) {
        const Onnx__NodeProto *np = gp->node[k];
        if (!strcmp(np->op_type, "Constant")) {
            rc = add_constant(g, np);
            continue;
        }
        int vin[QP_MAX_IO], vout[QP_MAX_IO];
        if (np->n_input > QP_MAX_IO || np->n_output > QP_MAX_IO) {
            rc = qp_errorf(QP_EINPUT, "too many inputs");
            break;
        }
        for (size_t j = 0; j < np->n_input && !rc; j++) {
            vin[j] = *np->input[j] ? qp_graph_find_value(g, np->input[j]) : -1;
            if (*np->input[j] && vin[j] < 0)
                rc = qp_errorf(QP_EINPUT, "node input '%s' is not defined", np->input[j]);
        }
        for (size_t j = 0; j < np->n_output && !rc; j++) {
            vout[j] = -1;
            if (*np->output[j] && (vout[j] = qp_graph_add_value(g, np->output[j], QP_DT_UNDEFINED, 0, NULL)) < 0)
                rc = QP_ESYS;
        }
        if (rc)
            break;
        char name[256];
        snprintf(name, sizeof name, "%s", np->name && *np->name ? np->name : tc->name);
        int ni = qp_graph_add_node(g, np->op_type, name, (int)np->n_input, vin, (int)np->n_output, vout);
        if (ni < 0) {
            rc = QP_ESYS;
            break;
        }
        for (size_t j = 0; j < np->n_output; j++)
            if (vout[j] >= 0)
                g->values[vout[j]].producer = ni, g->values[vout[j]].port = (int)j;
        for (size_t a = 0; a < np->n_attribute && !rc; a++)
            rc = add_attr(g, ni, np->attribute[a]);
    }
    for (int i = 0; i < tc->n_out && !rc; i++) {
        int vi = qp_graph_find_value(g, gp->output[i]->name);
        if (vi < 0)
            rc = qp_errorf(QP_EINPUT, "output '%s' is not produced", gp->output[i]->name);
        g->outputs[g->n_outputs++] = vi;
    }
    if (!rc)
        rc = qp_op_bind(g);
    if (!rc && !(removed = calloc((size_t)g->n_nodes + 1, 1)))
        rc = QP_ESYS;
    for (int ni = 0; ni < g->n_nodes && !rc; ni++) {
        const qp_node *n = &g->nodes[ni];
        const qp_op *op = qp_op_get(n->op);
        if ((rc = op->infer(g, ni)))
            break;
        for (int j = 0; j < n->n_out && !rc; j++)
            if (n->out[j] >= 0 && g->values[n->out[j]].dtype == QP_DT_UNDEFINED)
                rc = qp_op_error(g, ni, "output %d was not inferred", j);
        int fold = !strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size");
        for (int j = 0, all = 1; j <= n->n_in && !fold; j++) {
            if (j == n->n_in)
                fold = all;
            else if (n->in[j] >= 0 && !g->values[n->in[j]].is_const)
                all = 0;
        }
        if (!rc && fold) {
            rc = fold_node(g, ni);
            removed[ni] = 1;
        }
    }
    if (!rc)
        rc = qp_graph_compact(g, removed, NULL, NULL);
    if (!rc)
        rc = qp_op_bind(g);
out:
    free(removed);
    if (rc)
        qp_graph_free(g);
    else
        *out = g;
    return rc;
}

static int run_once(const qp_graph *g, const tcase *tc, qp_tensor *res)
{
    qp_exec *x;
    int rc = qp_exec_new(g, QP_EXEC_NO_FUSE, &x);
    if (rc)
        return rc;
    for (int i = 0; i < g->n_inputs && !rc; i++) {
        const char *nm = g->values[g->inputs[i]].name;
        for (int k = 0; k < tc->n_in; k++)
            if (!strcmp(tc->model->graph->input[k]->name, nm))
                rc = qp_exec_set_input(x, i, &tc->in[k]);
    }
    if (!rc)
        rc = qp_exec_run(x);
    for (int i = 0; i < g->n_outputs && !rc; i++) {
        const qp_tensor *t = qp_exec_value(x, g->outputs[i]);
        rc = qp_tensor_alloc(&res[i], t->dtype, t->rank, t->dims);
        if (!rc && t->nbytes)
            memcpy(res[i].data, t->data, t->nbytes);
    }
    qp_exec_free(x);
    return rc;
}

/* rtol 1e-3, atol 1e-7 as numpy.testing.assert_allclose in ONNX's backend runner. */
static int compare(const qp_tensor *got, const qp_tensor *want, char *msg, size_t n)
{
    char a[128], b[128];
    if (got->rank != want->rank ||
        (got->rank && memcmp(got->dims, want->dims, (size_t)got->rank * sizeof(int64_t)))) {
        snprintf(msg, n, "shape %s, expected %s", qp_shape_format(a, sizeof a, got->rank, got->dims),
                 qp_shape_format(b, sizeof b, want->rank, want->dims));
        return -1;
    }
    if (got->dtype != want->dtype) {
        snprintf(msg, n, "type %s, expected %s", qp_dtype_name(got->dtype), qp_dtype_name(want->dtype));
        return -1;
    }
    int64_t ne = qp_tensor_numel(got);
    double *x = malloc(((size_t)ne + 1) * sizeof(double)), *y = malloc(((size_t)ne + 1) * sizeof(double));
    int bad = 0;
    if (!x || !y) {
        snprintf(msg, n, "out of memory");
        bad = -1;
    } else {
        qp_tensor_get_f64(got, x);
        qp_tensor_get_f64(want, y);
        for (int64_t i = 0; i < ne && !bad; i++) {
            if ((isnan(x[i]) && isnan(y[i])) || x[i] == y[i])
                continue;
            if (!(fabs(x[i] - y[i]) <= 1e-7 + 1e-3 * fabs(y[i]))) {
                snprintf(msg, n, "element %lld: %.9g, expected %.9g", (long long)i, x[i], y[i]);
                bad = -1;
            }
        }
    }
    free(x);
    free(y);
    return bad;
}

static void free_res(qp_tensor *res, int n)
{
    for (int i = 0; i < n; i++)
        qp_tensor_free(&res[i]);
}

static int run_config(const tcase *tc, const qp_graph *g, qp_isa isa, char *msg, size_t n)
{
    qp_tensor res1[MAX_IO], res2[MAX_IO];
    memset(res1, 0, sizeof res1);
    memset(res2, 0, sizeof res2);
    int bad = 0;
    qp_kernels_set_isa(isa);
    qp_threads_set_count(1);
    if (run_once(g, tc, res1)) {
        snprintf(msg, n, "run failed: %s", qp_error_msg());
        bad = 1;
    }
    for (int i = 0; i < g->n_outputs && !bad; i++)
        if (compare(&res1[i], &tc->out[i], msg, n)) {
            char tmp[768];
            memcpy(tmp, msg, sizeof tmp);
            tmp[sizeof tmp - 1] = 0;
            snprintf(msg, n, "output %d: %.700s", i, tmp);
            bad = 1;
        }
    if (!bad && isa != QP_ISA_REF) {
        qp_threads_set_count(2);
        if (run_once(g, tc, res2)) {
            snprintf(msg, n, "run with 2 threads failed: %s", qp_error_msg());
            bad = 1;
        }
        for (int i = 0; i < g->n_outputs && !bad; i++)
            if (res1[i].nbytes != res2[i].nbytes || memcmp(res1[i].data, res2[i].data, res1[i].nbytes)) {
                snprintf(msg, n, "output %d differs between 1 and 2 threads", i);
                bad = 1;
            }
    }
    free_res(res1, MAX_IO);
    free_res(res2, MAX_IO);
    qp_threads_set_count(1);
    return bad;
}

static int run_test(const char *dir, char *op_out, size_t op_n)
{
    tcase tc;
    char why[512] = "";
    qp_error_clear();
    int rc = tcase_load(&tc, dir, why, sizeof why);
    const char *name = tc.name, *uwhy = unsupported_why(name);
    snprintf(op_out, op_n, "%s", tc.op);
    if (rc != PASS) {
        if (rc == FAIL && uwhy) {
            if (verbose)
                printf("unsupported %s (%s): %s\n", name, uwhy, qp_error_msg());
            rc = UNSUPPORTED;
        } else if (rc == FAIL)
            printf("FAIL %s: %s\n", name, qp_error_msg());
        else if (rc == SKIP && verbose)
            printf("skip %s: %s\n", name, why);
        tcase_free(&tc);
        return rc;
    }
    int result = PASS;
    static const struct { int all_const; qp_isa isa; const char *label; } configs[] = {
        {0, QP_ISA_AVX2, "run time"},
        {0, QP_ISA_REF, "run time, ref kernels"},
        {1, QP_ISA_AVX2, "folded"},
    };
    for (size_t c = 0; c < sizeof configs / sizeof configs[0] && result == PASS; c++) {
        qp_graph *g;
        qp_error_clear();
        qp_kernels_set_isa(configs[c].isa);
        if (build(&tc, configs[c].all_const, &g)) {
            if (uwhy) {
                if (verbose)
                    printf("unsupported %s (%s): %s\n", name, uwhy, qp_error_msg());
                result = UNSUPPORTED;
            } else {
                printf("FAIL %s (%s): %s\n", name, configs[c].label, qp_error_msg());
                result = FAIL;
            }
            break;
        }
        char msg[768];
        if (run_config(&tc, g, configs[c].isa, msg, sizeof msg)) {
            printf("FAIL %s (%s): %s\n", name, configs[c].label, msg);
            result = FAIL;
        } else if (uwhy) {
            printf("FAIL %s: expected to be rejected (%s) but ran\n", name, uwhy);
            result = FAIL;
        }
        qp_graph_free(g);
    }
    if (result == PASS && verbose)
        printf("pass %s\n", name);
    tcase_free(&tc);
    return result;
}

/* ---- malformed nodes: infer must reject them with a message naming the node and the cause ---- */

/* An input: dtype, shape, and constant int64/float data (n_data values) or none (run time). */
typedef struct rin { int dtype, rank; int64_t dims[4]; int n_data; int64_t i[8]; float f[8]; } rin;
/* An attribute: kind 'i' INT, 'f' FLOAT, 's' STRING, 'I' INTS, 'F' FLOATS. */
typedef struct rattr { const char *name; char kind; int64_t i; float f; const char *s; int n; int64_t is[8]; } rattr;
typedef struct reject {
    const char *op;
    int opset, n_in;
    rin in[5];
    rattr attr[3];
    const char *expect;     /* part of the error message */
} reject;

#define F32(...) {QP_DT_F32, __VA_ARGS__}
#define I64C(r, d0, n, ...) {QP_DT_I64, r, {d0}, n, {__VA_ARGS__}}
#define F32C(r, d0, n, ...) {QP_DT_F32, r, {d0}, n, {0}, {__VA_ARGS__}}

/* the table leaves trailing fields to their zero defaults */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const reject rejects[] = {
    {"Transpose", 13, 1, {F32(2, {2, 3})}, {{"perm", 'F', .n = 2}}, "attribute 'perm' is FLOATS, expected INTS"},
    {"Transpose", 13, 1, {F32(2, {2, 3})}, {{"perm", 'I', .n = 2, .is = {0, 0}}}, "'perm' is not a permutation"},
    {"Concat", 13, 2, {F32(2, {2, 3}), F32(2, {2, 3})}, {{0}}, "required attribute 'axis' is missing"},
    {"Concat", 13, 2, {F32(2, {2, 3}), F32(2, {2, 3})}, {{"axis", 'i', 2}}, "axis 2 is out of range"},
    {"Concat", 13, 2, {F32(2, {2, 3}), F32(2, {3, 3})}, {{"axis", 'i', 1}}, "input 1 has dim 0 = 3"},
    {"Gather", 13, 2, {F32(2, {2, 3}), I64C(1, 1, 1, 5)}, {{"axis", 'f', .f = 1}},
     "attribute 'axis' is FLOAT, expected INT"},
    {"Gather", 13, 2, {F32(2, {2, 3}), I64C(1, 1, 1, 5)}, {{0}}, "index 5 is out of range"},
    {"Reshape", 13, 2, {F32(2, {2, 3}), {QP_DT_I64, 1, {2}}}, {{0}}, "input 'shape' must be constant"},
    {"Reshape", 13, 2, {F32(2, {2, 3}), I64C(1, 2, 2, -1, -1)}, {{0}}, "more than one -1"},
    {"Reshape", 13, 2, {F32(2, {2, 3}), I64C(1, 2, 2, 4, 2)}, {{0}}, "target shape has 8 elements, the input 6"},
    {"Slice", 13, 5, {F32(1, {4}), I64C(1, 1, 1, 0), I64C(1, 1, 1, 4), I64C(1, 1, 1, 0), I64C(1, 1, 1, 0)}, {{0}},
     "step for axis 0 is 0"},
    {"Slice", 9, 1, {F32(1, {4})}, {{"starts", 'I', .n = 1, .is = {0}}}, "required attribute 'ends' is missing"},
    {"Pad", 13, 2, {F32(2, {2, 3}), I64C(1, 4, 4, 1, 1, 1, 1)}, {{"mode", 's', .s = "wrap"}},
     "attribute 'mode' is 'wrap'"},
    {"Pad", 13, 2, {F32(2, {2, 3}), I64C(1, 2, 2, 1, 1)}, {{0}}, "2 pads for rank 2 (expected 4)"},
    {"Pad", 13, 2, {F32(2, {2, 3}), I64C(1, 4, 4, -3, 0, 0, 0)}, {{0}}, "do not fit axis 0 of size 2"},
    {"Pad", 9, 1, {F32(2, {2, 3})}, {{"pads", 'F', .n = 4}}, "attribute 'pads' is FLOATS, expected INTS"},
    {"Resize", 13, 3, {F32(4, {1, 1, 2, 2}), F32C(1, 0, 0), F32C(1, 4, 4, 1, 1, 2, 2)}, {{"mode", 's', .s = "area"}},
     "attribute 'mode' is 'area'"},
    {"Resize", 13, 4, {F32(4, {1, 1, 2, 2}), F32C(1, 0, 0), F32C(1, 4, 4, 1, 1, 2, 2), I64C(1, 4, 4, 1, 1, 4, 4)},
     {{0}},
     "exactly one of 'scales' and 'sizes'"},
    {"Resize", 13, 4, {F32(4, {1, 1, 2, 2}), F32C(1, 0, 0), F32C(1, 0, 0), {QP_DT_I64, 1, {4}}}, {{0}},
     "input 'sizes' must be constant"},
    {"Resize", 13, 3, {F32(4, {1, 1, 2, 2}), F32C(1, 0, 0), F32C(1, 4, 4, 1, 1, -2, 2)}, {{0}}, "must be positive"},
    {"Cast", 13, 1, {F32(1, {4})}, {{0}}, "required attribute 'to' is missing"},
    {"Cast", 13, 1, {F32(1, {4})}, {{"to", 'f', .f = 7}}, "attribute 'to' is FLOAT, expected INT"},
    {"Cast", 13, 1, {F32(1, {4})}, {{"to", 'i', 8}}, "cast from float32 to type 8 is not supported"},
    {"DepthToSpace", 13, 1, {F32(4, {1, 8, 2, 2})}, {{"blocksize", 'i', 0}}, "attribute 'blocksize' is 0"},
    {"DepthToSpace", 13, 1, {F32(4, {1, 6, 2, 2})}, {{"blocksize", 'i', 2}}, "not a multiple of blocksize^2"},
    {"SpaceToDepth", 13, 1, {F32(4, {1, 1, 3, 2})}, {{0}}, "required attribute 'blocksize' is missing"},
    {"Split", 13, 2, {F32(1, {6}), I64C(1, 1, 1, 5)}, {{0}}, "split sums to 5"},
    {"Split", 13, 2, {F32(1, {6}), I64C(1, 2, 2, 2, 4)}, {{0}}, "split has 2 entries for 1 outputs"},
    {"Split", 11, 2, {F32(1, {6}), I64C(1, 1, 1, 6)}, {{0}}, "split is an attribute before opset 13"},
    {"Unsqueeze", 13, 2, {F32(1, {6}), I64C(1, 2, 2, 0, 0)}, {{0}}, "axis 0 appears twice"},
    {"Unsqueeze", 11, 1, {F32(1, {6})}, {{0}}, "axes are required"},
    {"Squeeze", 13, 2, {F32(2, {1, 6}), I64C(1, 1, 1, 1)}, {{0}}, "cannot squeeze axis 1 of size 6"},
    {"Squeeze", 13, 1, {F32(2, {1, 6})}, {{"axes", 'I', .n = 1, .is = {0}}}, "axes is an input from opset 13"},
    {"Add", 14, 2, {F32(1, {4}), {QP_DT_I64, 1, {4}}}, {{0}}, "input 0 is float32 but input 1 is int64"},
    {"Add", 14, 2, {F32(1, {4}), F32(1, {3})}, {{0}}, "shapes cannot broadcast"},
    {"PRelu", 16, 2, {F32(1, {1}), F32(1, {3})}, {{0}}, "slope does not broadcast to the input's shape"},
    {"Where", 16, 3, {F32(1, {4}), F32(1, {4}), F32(1, {4})}, {{0}}, "condition is float32, expected bool"},
    {"Clip", 9, 3, {F32(1, {4}), F32C(0, 0, 1, 0), F32C(0, 0, 1, 6)}, {{0}}, "attributes before opset 11"},
    {"Clip", 13, 1, {F32(1, {4})}, {{"min", 'f', .f = 0}}, "inputs from opset 11"},
    {"LeakyRelu", 16, 1, {F32(1, {4})}, {{"alpha", 'i', 1}}, "attribute 'alpha' is INT, expected FLOAT"},
    {"HardSigmoid", 6, 1, {F32(1, {4})}, {{"beta", 's', .s = "x"}}, "attribute 'beta' is STRING, expected FLOAT"},
    {"Tile", 13, 2, {F32(1, {4}), I64C(1, 1, 1, -1)}, {{0}}, "repeat 0 is -1"},
    {"Expand", 13, 2, {F32(1, {4}), I64C(1, 1, 1, 3)}, {{0}}, "shapes cannot broadcast"},
    {"ArgMax", 13, 1, {F32(2, {2, 3})}, {{"axis", 'i', 2}}, "axis 2 is out of range for rank 2"},
    {"Flatten", 13, 1, {F32(2, {2, 3})}, {{"axis", 'i', 3}}, "attribute 'axis' is 3, allowed [-2, 2]"},
    {"ConstantOfShape", 9, 1, {I64C(1, 2, 2, 2, -1)}, {{0}}, "output dimension 1 is -1"},
    {"Dropout", 13, 3, {F32(1, {4}), F32C(0, 0, 1, 0.5f), {QP_DT_BOOL, 0, {0}, 1, {1}}}, {{0}}, "training mode"},
    {"Relu", 14, 1, {{QP_DT_BOOL, 1, {4}}}, {{0}}, "input type bool is not supported"},
};

static int try_reject(const reject *r, char *msg, size_t n)
{
    qp_graph *g = qp_graph_new();
    if (!g)
        return snprintf(msg, n, "out of memory"), -1;
    g->opset = r->opset;
    int vin[5], vout, bad = 0;
    for (int i = 0; i < r->n_in; i++) {
        const rin *x = &r->in[i];
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        if (x->n_data || (x->rank == 1 && x->dims[0] == 0)) {   /* data, or an empty constant */
            unsigned char data[64];
            size_t es = qp_dtype_size(x->dtype);
            for (int k = 0; k < x->n_data; k++) {
                if (x->dtype == QP_DT_F32)
                    memcpy(data + 4 * k, &x->f[k], 4);
                else if (x->dtype == QP_DT_I64)
                    memcpy(data + 8 * k, &x->i[k], 8);
                else
                    data[k] = (unsigned char)x->i[k];
            }
            vin[i] = qp_graph_add_const(g, name, x->dtype, x->rank, x->dims, data, es * (size_t)x->n_data);
        } else
            vin[i] = qp_graph_add_value(g, name, x->dtype, x->rank, x->dims);
    }
    vout = qp_graph_add_value(g, "out", QP_DT_UNDEFINED, 0, NULL);
    int ni = qp_graph_add_node(g, r->op, "bad_node", r->n_in, vin, 1, &vout);
    for (int a = 0; a < 3 && r->attr[a].name; a++) {
        const rattr *t = &r->attr[a];
        float fl[8] = {0};
        switch (t->kind) {
        case 'i': qp_node_set_int(g, ni, t->name, t->i); break;
        case 'f': qp_node_set_float(g, ni, t->name, t->f); break;
        case 's': qp_node_set_string(g, ni, t->name, t->s, strlen(t->s)); break;
        case 'I': qp_node_set_ints(g, ni, t->name, t->n, t->is); break;
        case 'F': qp_node_set_floats(g, ni, t->name, t->n, fl); break;
        }
    }
    qp_error_clear();
    int rc = qp_op_bind(g);
    if (!rc)
        rc = qp_op_get(g->nodes[ni].op)->infer(g, ni);
    const char *m = qp_error_msg();
    if (!rc) {
        snprintf(msg, n, "accepted");
        bad = 1;
    } else if (!strstr(m, r->expect) || !strstr(m, "'bad_node'")) {
        snprintf(msg, n, "error \"%s\" lacks \"%s\" or the node name", m, r->expect);
        bad = 1;
    }
    qp_graph_free(g);
    return bad;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct tally { char op[64]; int n[5]; };

int main(int argc, char **argv)
{
    int argi = 1;
    if (argi < argc && !strcmp(argv[argi], "-v")) {
        verbose = 1;
        argi++;
    }
    char **dirs = NULL;
    int nd = 0;
    const char *root = getenv("ONNX_NODE_TESTS");
    if (!root)
        root = "/usr/include/onnx/backend/test/data/node";
    if (argi < argc) {
        dirs = calloc((size_t)(argc - argi), sizeof *dirs);
        for (int i = argi; i < argc; i++)
            dirs[nd++] = strdup(argv[i]);
    } else {
        DIR *d = opendir(root);
        if (!d) {
            fprintf(stderr, "test_ops_node: cannot open '%s'\n", root);
            return 1;
        }
        struct dirent *e;
        int cap = 0;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "test_", 5))
                continue;
            if (nd == cap) {
                cap = cap ? 2 * cap : 256;
                dirs = realloc(dirs, (size_t)cap * sizeof *dirs);
            }
            size_t len = strlen(root) + strlen(e->d_name) + 2;
            dirs[nd] = malloc(len);
            snprintf(dirs[nd++], len, "%s/%s", root, e->d_name);
        }
        closedir(d);
        qsort(dirs, (size_t)nd, sizeof *dirs, cmp_str);
    }
    static struct tally tal[256];
    int nt = 0, total[5] = {0};
    for (int i = 0; i < nd; i++) {
        char op[64];
        int r = run_test(dirs[i], op, sizeof op);
        total[r]++;
        free(dirs[i]);
        if (r == NOT_MINE)
            continue;
        int k = 0;
        while (k < nt && strcmp(tal[k].op, op))
            k++;
        if (k == nt && nt < 256) {
            memset(&tal[nt], 0, sizeof tal[nt]);
            snprintf(tal[nt++].op, sizeof tal[0].op, "%s", op);
        }
        if (k < 256)
            tal[k].n[r]++;
    }
    free(dirs);
    int rej_pass = 0, rej_fail = 0;
    for (size_t i = 0; argi >= argc && i < sizeof rejects / sizeof rejects[0]; i++) {
        char msg[1024];
        if (try_reject(&rejects[i], msg, sizeof msg)) {
            printf("FAIL reject %s #%zu: %s\n", rejects[i].op, i, msg);
            rej_fail++;
        } else
            rej_pass++;
    }
    printf("  %-22s %3d passed, %d failed\n", "(malformed nodes)", rej_pass, rej_fail);
    total[PASS] += rej_pass;
    total[FAIL] += rej_fail;
    for (int k = 0; k < nt; k++)
        printf("  %-22s %3d passed, %d failed, %d unsupported, %d skipped\n", tal[k].op, tal[k].n[PASS],
               tal[k].n[FAIL], tal[k].n[UNSUPPORTED], tal[k].n[SKIP]);
    printf("%d passed, %d failed (%d rejected as unsupported, %d skipped)\n", total[PASS], total[FAIL],
           total[UNSUPPORTED], total[SKIP]);
    qp_threads_shutdown();
    return total[FAIL] ? 1 : 0;
}
