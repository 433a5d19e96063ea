/* Conformance runner for the nn op family (a stop-gap until qinfer runs the node tests):
 * loads single-node ONNX backend tests, builds the graph by hand, runs it through the executor
 * and compares with the expected outputs like ONNX's runner (rtol 1e-3, atol 1e-7).
 *
 * Every test runs with the weight ports bound as graph inputs (run-time packing, as the node
 * tests ship them) and as constants (packing in prepare); with QP_THREADS 1 and 2, which must
 * agree byte for byte; and with the reference and the portable scalar kernels.  Parameter
 * ports (axes) and initializers are constants.
 *
 * Usage: test_ops_nn [-v] [-a ATOL] [-r RTOL] [test_dir...].  Without test directories it runs
 * every float32 single-node test of the family under $ONNX_NODE_TESTS (default
 * /usr/include/onnx/backend/test/data/node) and also checks that malformed nodes
 * (strides, pads, group, kernel size, W channels, axes, attribute types) are
 * rejected by infer with a message naming the node and the bad value, that
 * qp_nn_conv_set_activation gives the op followed by the activation, and that the nn_* kernels'
 * fast variants match their references. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/exec.h"
#include "qp/graph.h"
#include "qp/nn.h"
#include "qp/nn_matrix.h"
#include "qp/nn_norm.h"
#include "qp/nn_softmax.h"
#include "qp/onnx_tensor.h"
#include "qp/op.h"
#include "qp/tensorio.h"
#include "qp/threads.h"
#include "qp/vmath.h"
#include "onnx.pb-c.h"

#define MAX_IO 16

static int verbose;
static double tol_abs = 1e-7, tol_rel = 1e-3;

/* Tests this family does not support on purpose, with the reason; they must fail cleanly
 * (an error from bind/infer), never crash or give wrong numbers. */
static const struct { const char *test, *why; } unsupported[] = {
    {"test_averagepool_3d_default", "3-D pooling"},
    {"test_maxpool_3d_default", "3-D pooling"},
    {"test_convtranspose_3d", "3-D convolution"},
    {"test_maxpool_with_argmax_2d_precomputed_pads", "MaxPool Indices output"},
    {"test_maxpool_with_argmax_2d_precomputed_strides", "MaxPool Indices output"},
    {"test_batchnorm_epsilon_training_mode", "training mode"},
    {"test_batchnorm_example_training_mode", "training mode"},
};

static const char *const prefixes[] = {
    "test_basic_conv_", "test_conv_", "test_convtranspose", "test_gemm_", "test_matmul_",
    "test_batchnorm_", "test_maxpool_", "test_averagepool_", "test_globalaveragepool",
    "test_globalmaxpool", "test_softmax_", "test_logsoftmax_", "test_reduce_", "test_lrn",
    "test_instancenorm_",
};

static const char *unsupported_why(const char *name)
{
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (!strcmp(unsupported[i].test, name))
            return unsupported[i].why;
    return NULL;
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

/* A test case: the model and its tensors. */
typedef struct tcase {
    char dir[1024];
    const char *name;
    Onnx__ModelProto *model;
    const Onnx__NodeProto *node;
    int opset;
    int n_in, n_out;
    qp_tensor in[MAX_IO], out[MAX_IO];
    int in_dtype[MAX_IO];
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

/* 0 loaded, 1 skip (reason in why), -1 error (message recorded). */
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
        return qp_errorf(QP_EINPUT, "cannot read '%s'", path), -1;
    tc->model = onnx__model_proto__unpack(NULL, n, buf);
    free(buf);
    if (!tc->model || !tc->model->graph)
        return qp_errorf(QP_EINPUT, "cannot parse '%s'", path), -1;
    const Onnx__GraphProto *gp = tc->model->graph;
    if (gp->n_node != 1) {
        snprintf(why, nwhy, "%zu nodes", gp->n_node);
        return 1;
    }
    tc->node = gp->node[0];
    tc->opset = 1;
    for (size_t i = 0; i < tc->model->n_opset_import; i++) {
        const char *d = tc->model->opset_import[i]->domain;
        if (!d || !*d || !strcmp(d, "ai.onnx"))
            tc->opset = (int)tc->model->opset_import[i]->version;
    }
    if (gp->n_input > MAX_IO || gp->n_output > MAX_IO || gp->n_initializer > MAX_IO) {
        snprintf(why, nwhy, "unusual graph");
        return 1;
    }
    tc->n_in = (int)gp->n_input;
    tc->n_out = (int)gp->n_output;
    for (int i = 0; i < tc->n_in; i++) {
        const Onnx__TypeProto *tp = gp->input[i]->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
            snprintf(why, nwhy, "input %d is not a tensor", i);
            return 1;
        }
        tc->in_dtype[i] = tp->tensor_type->elem_type;
        if (tc->in_dtype[i] != QP_DT_F32 && tc->in_dtype[i] != QP_DT_I64) {
            snprintf(why, nwhy, "input %d is %s", i, qp_dtype_name(tc->in_dtype[i]));
            return 1;
        }
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, i);
        if (qp_onnx_tensor_read_pb(path, &tc->in[i]))
            return -1;
    }
    for (int i = 0; i < tc->n_out; i++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, i);
        if (qp_onnx_tensor_read_pb(path, &tc->out[i]))
            return -1;
    }
    return 0;
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

/* Builds the one-node graph; weight ports become constants when weights_const. */
static int build(const tcase *tc, int weights_const, qp_graph **out)
{
    *out = NULL;
    qp_graph *g = qp_graph_new();
    if (!g)
        return QP_ESYS;
    const Onnx__GraphProto *gp = tc->model->graph;
    const Onnx__NodeProto *np = tc->node;
    int op = qp_op_find(np->op_type);
    const qp_op *o = qp_op_get(op);
    int rc = 0;
    g->opset = tc->opset;
    g->inputs = qp_arena_array(g->arena, (size_t)tc->n_in + 1, sizeof(int));
    g->outputs = qp_arena_array(g->arena, (size_t)tc->n_out + 1, sizeof(int));
    int vin[MAX_IO], vout[MAX_IO];
    if (!g->inputs || !g->outputs || np->n_input > MAX_IO || np->n_output > MAX_IO) {
        rc = qp_errorf(QP_EINPUT, "too many inputs");
        goto out;
    }
    for (size_t k = 0; k < gp->n_initializer; k++) {
        qp_tensor t;
        if ((rc = qp_onnx_tensor_decode(gp->initializer[k], NULL, g->arena, &t)))
            goto out;
        if (qp_graph_add_const(g, gp->initializer[k]->name, t.dtype, t.rank, t.dims, t.data, t.nbytes) < 0) {
            rc = QP_ESYS;
            goto out;
        }
    }
    for (size_t j = 0; j < np->n_input; j++) {
        vin[j] = -1;
        if (!*np->input[j])
            continue;
        int vi = qp_graph_find_value(g, np->input[j]);
        if (vi >= 0) {
            vin[j] = vi;
            continue;
        }
        int gi = -1;
        for (int i = 0; i < tc->n_in; i++)
            if (!strcmp(gp->input[i]->name, np->input[j]))
                gi = i;
        if (gi < 0) {
            rc = qp_errorf(QP_EINPUT, "node input '%s' is not a graph input", np->input[j]);
            goto out;
        }
        const qp_tensor *t = &tc->in[gi];
        int as_const = o && ((o->param_mask >> j & 1) || (weights_const && (o->weight_mask >> j & 1)));
        vi = as_const ? qp_graph_add_const(g, np->input[j], t->dtype, t->rank, t->dims, t->data, t->nbytes)
                      : qp_graph_add_value(g, np->input[j], t->dtype, t->rank, t->dims);
        if (vi < 0) {
            rc = QP_ESYS;
            goto out;
        }
        if (!as_const)
            g->inputs[g->n_inputs++] = vi;
        vin[j] = vi;
    }
    for (size_t j = 0; j < np->n_output; j++) {
        vout[j] = -1;
        if (!*np->output[j])
            continue;
        if ((vout[j] = qp_graph_add_value(g, np->output[j], QP_DT_F32, 0, NULL)) < 0) {
            rc = QP_ESYS;
            goto out;
        }
    }
    for (int i = 0; i < tc->n_out; i++)
        g->outputs[g->n_outputs++] = qp_graph_find_value(g, gp->output[i]->name);
    int ni = qp_graph_add_node(g, np->op_type, np->name && *np->name ? np->name : tc->name, (int)np->n_input,
                               vin, (int)np->n_output, vout);
    if (ni < 0) {
        rc = QP_ESYS;
        goto out;
    }
    for (size_t k = 0; k < np->n_attribute && !rc; k++)
        rc = add_attr(g, ni, np->attribute[k]);
    if (!rc)
        rc = qp_op_bind(g);
    if (!rc)
        rc = qp_op_get(g->nodes[ni].op)->infer(g, ni);
out:
    if (rc)
        qp_graph_free(g);
    else
        *out = g;
    return rc;
}

/* Runs g once; copies the outputs into res (malloc'd). */
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
        if (!rc)
            memcpy(res[i].data, t->data, t->nbytes);
    }
    qp_exec_free(x);
    return rc;
}

/* rtol 1e-3, atol 1e-7 as numpy.testing.assert_allclose in ONNX's backend runner (-a, -r change them). */
static int compare(const qp_tensor *got, const qp_tensor *want, char *msg, size_t n)
{
    if (got->rank != want->rank || memcmp(got->dims, want->dims, (size_t)got->rank * sizeof(int64_t))) {
        char a[128], b[128];
        snprintf(msg, n, "shape %s, expected %s", qp_shape_format(a, sizeof a, got->rank, got->dims),
                 qp_shape_format(b, sizeof b, want->rank, want->dims));
        return -1;
    }
    if (got->dtype != want->dtype) {
        snprintf(msg, n, "type %s, expected %s", qp_dtype_name(got->dtype), qp_dtype_name(want->dtype));
        return -1;
    }
    int64_t ne = qp_tensor_numel(got);
    double *a = malloc(((size_t)ne + 1) * sizeof(double)), *b = malloc(((size_t)ne + 1) * sizeof(double));
    int bad = 0;
    if (!a || !b) {
        snprintf(msg, n, "out of memory");
        bad = -1;
    } else {
        qp_tensor_get_f64(got, a);
        qp_tensor_get_f64(want, b);
        for (int64_t i = 0; i < ne; i++) {
            if (isnan(a[i]) && isnan(b[i]))
                continue;
            if (a[i] == b[i])
                continue;
            if (!(fabs(a[i] - b[i]) <= tol_abs + tol_rel * fabs(b[i]))) {
                snprintf(msg, n, "element %lld: %.9g, expected %.9g", (long long)i, a[i], b[i]);
                bad = -1;
                break;
            }
        }
    }
    free(a);
    free(b);
    return bad;
}

static void free_res(qp_tensor *res, int n)
{
    for (int i = 0; i < n; i++)
        qp_tensor_free(&res[i]);
}

/* One configuration; 0 pass, else msg says why. */
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
        if (compare(&res1[i], &tc->out[i], msg, n))
            bad = 1;
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

enum { PASS, FAIL, UNSUPPORTED, SKIP };

static int run_test(const char *dir, char *op_out, size_t op_n)
{
    tcase tc;
    char why[512] = "";
    int rc = tcase_load(&tc, dir, why, sizeof why);
    const char *name = tc.name;
    snprintf(op_out, op_n, "%s", tc.node ? tc.node->op_type : "?");
    if (rc) {
        if (rc < 0)
            printf("FAIL %s: %s\n", name, qp_error_msg());
        else if (verbose)
            printf("skip %s: %s\n", name, why);
        tcase_free(&tc);
        return rc < 0 ? FAIL : SKIP;
    }
    const char *uwhy = unsupported_why(name);
    int result = PASS;
    static const struct { int weights_const; qp_isa isa; const char *label; } configs[] = {
        {0, QP_ISA_AVX2, "weights as inputs"},
        {1, QP_ISA_AVX2, "constant weights"},
        {0, QP_ISA_REF, "weights as inputs, ref kernels"},
        {1, QP_ISA_REF, "constant weights, ref kernels"},
        {0, QP_ISA_SCALAR, "weights as inputs, scalar kernels"},
    };
    for (size_t c = 0; c < sizeof configs / sizeof configs[0] && result == PASS; c++) {
        qp_graph *g;
        qp_error_clear();
        qp_kernels_set_isa(configs[c].isa);
        if (build(&tc, configs[c].weights_const, &g)) {
            if (uwhy) {
                if (verbose || c == 0)
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
    if (result == PASS)
        printf("pass %s\n", name);
    tcase_free(&tc);
    return result;
}

/* ---- bad nodes: each must be rejected by infer with a message naming the node and the value ---- */

static const struct bad_case {
    const char *op;
    const char *inputs;         /* "name=shape ..."; a name starting with '#' is a constant int64 input */
    const char *attrs;          /* "name:type:value ..." with type int, float, string, ints, floats */
    int n_out;
    int opset;
    const char *expect;
} bad_cases[] = {
    {"Conv", "x=1x3x8x8 W=4x3x3x3", "strides:ints:0,1", 1, 13, "strides value 0 on axis 2 must be positive"},
    {"Conv", "x=1x3x8x8 W=4x3x3x3", "dilations:ints:1,-1", 1, 13, "dilations value -1 on axis 3 must be positive"},
    {"Conv", "x=1x3x8x8 W=4x3x3x3", "pads:ints:0,-1,0,0", 1, 13, "pads must not be negative (-1, 0 on axis 3)"},
    {"Conv", "x=1x3x8x8 W=4x1x3x3", "group:int:2", 1, 13, "group 2 does not divide the 3 input channels"},
    {"Conv", "x=1x4x8x8 W=4x1x3x3", "group:int:0", 1, 13, "group 0 must be positive"},
    {"Conv", "x=1x4x8x8 W=4x3x3x3", "", 1, 13, "W ('W') has 3 channels per group, expected C/group = 4/1 = 4"},
    {"Conv", "x=1x4x8x8 W=6x1x3x3", "group:int:4", 1, 13, "group 4 does not divide the 6 output channels"},
    {"Conv", "x=1x3x4x4 W=2x3x7x7", "", 1, 13, "kernel (7 with dilation 1) is larger than the padded input (4) on axis 2"},
    {"Conv", "x=1x3x9x9 W=2x3x3x3", "dilations:ints:5,5", 1, 13, "kernel (3 with dilation 5) is larger than the padded input (9)"},
    {"Conv", "x=1x3x8x8 W=4x3x3x3", "group:float:1", 1, 13, "attribute 'group' is FLOAT, expected INT"},
    {"Conv", "x=1x3x8x8 W=4x3x3x3", "auto_pad:string:SAME", 1, 13, "attribute 'auto_pad' is \"SAME\", expected NOTSET"},
    {"Conv", "x=1x3x8x8 W=4x3x3x3", "strides:ints:1", 1, 13, "attribute 'strides' has 1 values, expected 2"},
    {"Conv", "x=1x3x8x8 W=4x3x3x3", "kernel_shape:ints:3,5", 1, 13, "kernel_shape 5 on axis 3 differs from W's 3"},
    {"Conv", "x=1x3x4x4x4 W=4x3x3x3x3", "", 1, 13, "only 1-D and 2-D convolutions"},
    {"Conv", "x=1x3x8x8 W=4x3x3", "", 1, 13, "W ('W') has rank 3, the input rank 4"},
    {"Conv", "x=1x3x8x8 W=4x3x3x3 B=5", "", 1, 13, "bias B (input 2, 'B') has shape 5, expected 4"},
    {"ConvTranspose", "x=1x3x8x8 W=4x2x3x3", "", 1, 13, "W ('W') has 4 input channels (dimension 0), expected C = 3"},
    {"ConvTranspose", "x=1x4x8x8 W=4x2x3x3", "strides:ints:2,2 output_padding:ints:2,0", 1, 13, "output_padding 2 on axis 2 must be in [0, 2)"},
    {"ConvTranspose", "x=1x4x8x8 W=4x2x3x3", "strides:ints:2,2 output_shape:ints:40,17", 1, 13, "output_shape value 40 on axis 2 is larger than"},
    {"ConvTranspose", "x=1x4x2x2 W=4x2x3x3", "pads:ints:3,3,3,3", 1, 13, "leave no output"},
    {"MaxPool", "x=1x3x8x8", "", 1, 13, "required attribute 'kernel_shape' is missing"},
    {"MaxPool", "x=1x3x8x8", "kernel_shape:ints:2,2 strides:ints:2,0", 1, 13, "strides value 0 on axis 3 must be positive"},
    {"MaxPool", "x=1x3x3x3", "kernel_shape:ints:5,5", 1, 13, "kernel (5 with dilation 1) is larger than the padded input (3)"},
    {"MaxPool", "x=1x3x8x8", "kernel_shape:ints:2,2 ceil_mode:int:2", 1, 13, "attribute 'ceil_mode' is 2, expected 0 or 1"},
    {"MaxPool", "x=1x3x8x8", "kernel_shape:ints:2,2", 2, 13, "the Indices output is not supported"},
    {"MaxPool", "x=1x3x8x8", "kernel_shape:ints:3,3 pads:ints:-1,0,0,0", 1, 13, "pads must not be negative"},
    {"AveragePool", "x=1x3x8x8", "kernel_shape:ints:3,3 pads:ints:3,0,0,0", 1, 13, "pads 3, 0 on axis 2 are not smaller than the kernel (3)"},
    {"AveragePool", "x=1x3x8x8", "kernel_shape:floats:3,3", 1, 13, "attribute 'kernel_shape' is FLOATS, expected INTS"},
    {"GlobalAveragePool", "x=3x8", "", 1, 13, "input has rank 2, expected at least 3"},
    {"Softmax", "x=2x3", "axis:int:2", 1, 13, "axis 2 is out of range for rank 2"},
    {"Softmax", "x=2x3", "axis:int:-3", 1, 11, "axis -3 is out of range for rank 2"},
    {"LogSoftmax", "x=2x3", "axis:ints:1", 1, 13, "attribute 'axis' is INTS, expected INT"},
    {"ReduceMean", "x=2x3x4", "axes:ints:3", 1, 13, "axis 3 is out of range for rank 3"},
    {"ReduceMean", "x=2x3x4", "axes:ints:1,-2", 1, 13, "axis -2 appears twice in axes"},
    {"ReduceMean", "x=2x3x4", "keepdims:float:1", 1, 13, "attribute 'keepdims' is FLOAT, expected INT"},
    {"ReduceSum", "x=2x3x4 axes=1", "", 1, 13, "axes (input 1, 'axes') must be a constant"},
    {"ReduceSum", "x=2x3x4 #axes=1", "axes:ints:1", 1, 13, "axes given both as an attribute and as input 1"},
    {"Gemm", "a=2x3 b=4x5", "", 1, 13, "inner dimensions differ: A gives K = 3, B gives 4"},
    {"Gemm", "a=2x3 b=3x5 c=3x3", "", 1, 13, "C ('c') of shape 3x3 does not broadcast to 2x5"},
    {"Gemm", "a=2x3 b=3x5", "alpha:int:2", 1, 13, "attribute 'alpha' is INT, expected FLOAT"},
    {"Gemm", "a=2x3 b=3x5", "transA:int:3", 1, 13, "attribute 'transA' is 3, expected 0 or 1"},
    {"MatMul", "a=2x3 b=4x5", "", 1, 13, "inner dimensions differ: A gives K = 3, B gives 4"},
    {"MatMul", "a=2x3x4 b=3x4x5", "", 1, 13, "shapes cannot broadcast"},
    {"BatchNormalization", "x=1x3x4x4 s=4 b=3 m=3 v=3", "", 1, 15, "scale (input 1, 's') has shape 4, expected 3"},
    {"BatchNormalization", "x=1x3x4x4 s=3 b=3 m=3 v=3", "training_mode:int:1", 1, 15, "training_mode=1 is not supported"},
    {"BatchNormalization", "x=1x3x4x4 s=3 b=3 m=3 v=3", "", 3, 9, "output 1 ('out1'): a training output is not supported"},
    {"BatchNormalization", "x=1x3x4x4 s=3 b=3 m=3 v=3", "epsilon:string:x", 1, 15, "attribute 'epsilon' is STRING, expected FLOAT"},
    {"InstanceNormalization", "x=1x3x4x4 s=3 b=2", "", 1, 13, "bias B (input 2, 'b') has shape 2, expected 3"},
    {"LRN", "x=1x3x4x4", "", 1, 13, "required attribute 'size' is missing"},
    {"LRN", "x=1x3x4x4", "size:int:0", 1, 13, "attribute 'size' is 0, expected a positive number"},
};

static int add_attr_spec(qp_graph *g, int ni, char *spec)
{
    char *name = strtok(spec, ":"), *type = strtok(NULL, ":"), *val = strtok(NULL, "");
    if (!name || !type || !val)
        return -1;
    int64_t iv[8];
    float fv[8];
    int n = 0;
    for (char *t = strtok(val, ","); t && n < 8; t = strtok(NULL, ","), n++) {
        iv[n] = strtoll(t, NULL, 10);
        fv[n] = strtof(t, NULL);
    }
    if (!strcmp(type, "int"))
        return qp_node_set_int(g, ni, name, iv[0]);
    if (!strcmp(type, "float"))
        return qp_node_set_float(g, ni, name, fv[0]);
    if (!strcmp(type, "ints"))
        return qp_node_set_ints(g, ni, name, n, iv);
    if (!strcmp(type, "floats"))
        return qp_node_set_floats(g, ni, name, n, fv);
    if (!strcmp(type, "string"))
        return qp_node_set_string(g, ni, name, val, strlen(val));
    return -1;
}

/* Builds the node of a bad case and runs bind + infer; 0 if it failed with the expected text. */
static int run_bad_case(const struct bad_case *bc, char *msg, size_t nmsg)
{
    qp_graph *g = qp_graph_new();
    char buf[256];
    int vin[8], vout[8], n_in = 0, rc = -1;
    g->opset = bc->opset;
    snprintf(buf, sizeof buf, "%s", bc->inputs);
    char *save;
    for (char *tok = strtok_r(buf, " ", &save); tok && n_in < 8; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        int rank;
        int64_t dims[QP_MAX_RANK];
        if (qp_shape_parse(eq + 1, &rank, dims))
            goto out;
        if (tok[0] == '#') {
            int64_t data[QP_MAX_RANK] = {0};
            vin[n_in++] = qp_graph_add_const(g, tok + 1, QP_DT_I64, rank, dims, data, (size_t)dims[0] * 8);
        } else {
            int dt = !strcmp(tok, "axes") ? QP_DT_I64 : QP_DT_F32;
            vin[n_in++] = qp_graph_add_value(g, tok, dt, rank, dims);
        }
    }
    for (int i = 0; i < bc->n_out; i++) {
        snprintf(buf, sizeof buf, "out%d", i);
        vout[i] = qp_graph_add_value(g, buf, QP_DT_F32, 0, NULL);
    }
    int ni = qp_graph_add_node(g, bc->op, "bad", n_in, vin, bc->n_out, vout);
    snprintf(buf, sizeof buf, "%s", bc->attrs);
    char *specs[8];
    int ns = 0;
    for (char *tok = strtok_r(buf, " ", &save); tok && ns < 8; tok = strtok_r(NULL, " ", &save))
        specs[ns++] = tok;
    for (int i = 0; i < ns; i++)
        if (add_attr_spec(g, ni, specs[i]))
            goto out;
    qp_error_clear();
    int bad = qp_op_bind(g);
    if (!bad)
        bad = qp_op_get(g->nodes[ni].op)->infer(g, ni);
    const char *m = qp_error_msg();
    char prefix[64];
    snprintf(prefix, sizeof prefix, "node 'bad' (%s): ", bc->op);
    if (!bad)
        snprintf(msg, nmsg, "accepted, expected \"%s\"", bc->expect);
    else if (strncmp(m, prefix, strlen(prefix)) || !strstr(m, bc->expect))
        snprintf(msg, nmsg, "got \"%s\", expected \"%s%s...\"", m, prefix, bc->expect);
    else
        rc = 0;
out:
    if (rc && !*msg)
        snprintf(msg, nmsg, "cannot build the case");
    qp_graph_free(g);
    return rc;
}

static int run_bad_cases(int *pass, int *fail)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        char msg[1024] = "";
        if (run_bad_case(&bad_cases[i], msg, sizeof msg)) {
            printf("FAIL bad %s [%s] [%s]: %s\n", bad_cases[i].op, bad_cases[i].inputs, bad_cases[i].attrs, msg);
            (*fail)++;
        } else {
            if (verbose)
                printf("pass bad %s: %s\n", bad_cases[i].op, bad_cases[i].expect);
            (*pass)++;
        }
    }
    return 0;
}

/* ---- activation fusion: the fused epilogue must equal the op followed by the activation ---- */

static const struct fuse_case {
    const char *op;
    const char *inputs;         /* as in bad_cases; inputs named W, B, b, c are constants */
    const char *attrs;
    int fusable;                /* qp_nn_conv_set_activation must accept (1) or refuse (0) */
} fuse_cases[] = {
    {"Conv", "x=1x16x12x12 W=24x16x3x3 B=24", "pads:ints:1,1,1,1", 1},
    {"Conv", "x=1x16x12x12 W=32x16x1x1 B=32", "", 1},
    {"Conv", "x=1x16x12x12 W=16x1x3x3 B=16", "group:int:16 strides:ints:2,2 pads:ints:1,1,1,1", 1},
    {"Conv", "x=1x8x30 W=8x8x3", "", 1},
    {"ConvTranspose", "x=1x8x6x6 W=8x4x2x2 B=4", "strides:ints:2,2", 1},
    {"MatMul", "x=3x7x20 b=20x9", "", 1},
    {"Gemm", "x=1x40 b=40x10 c=10", "", 1},
    {"Gemm", "x=4x40 b=10x40", "transB:int:1", 1},
    {"Gemm", "x=4x40 b=40x10 c=4x10", "", 0},
    {"Gemm", "x=4x40 b=40x10", "alpha:float:2", 0},
};

static void fill_random(float *p, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

/* Prepares node 0 of g (with a fresh arena), optionally fuses act, runs it on xs. */
static int run_node(const qp_graph *g, const qp_tensor *x, int fuse, qp_act act, qp_tensor *y, int *accepted)
{
    const qp_node *n = &g->nodes[0];
    const qp_op *op = qp_op_get(n->op);
    qp_arena *a = qp_arena_new(1 << 16);
    qp_op_prep prep = {0};
    int rc = op->prepare ? op->prepare(g, 0, a, &prep) : 0;
    if (!rc && fuse)
        *accepted = qp_nn_conv_set_activation(g, 0, &prep, act) == 0;
    void *scratch = aligned_alloc(64, (prep.scratch + 64) & ~(size_t)63);
    const qp_tensor *in[QP_MAX_IO];
    qp_tensor ins[QP_MAX_IO];
    for (int j = 0; j < n->n_in; j++) {
        ins[j] = qp_value_tensor(&g->values[n->in[j]]);
        in[j] = j == 0 ? x : &ins[j];
    }
    const qp_value *ov = &g->values[n->out[0]];
    if (!rc)
        rc = qp_tensor_alloc(y, QP_DT_F32, ov->rank, ov->dims);
    qp_tensor *out[1] = {y};
    if (!rc)
        rc = op->run(g, 0, &prep, in, out, scratch);
    free(scratch);
    qp_arena_free(a);
    return rc;
}

static int run_fuse_case(const struct fuse_case *fc, char *msg, size_t nmsg)
{
    static const qp_act acts[] = {
        {QP_ACT_RELU, 0, 0}, {QP_ACT_CLIP, 0, 6}, {QP_ACT_SIGMOID, 0, 0}, {QP_ACT_SILU, 0, 0},
        {QP_ACT_HARDSIGMOID, 0.2f, 0.5f}, {QP_ACT_LEAKYRELU, 0.1f, 0}, {QP_ACT_TANH, 0, 0},
        {QP_ACT_HARDSWISH, 0, 0},
    };
    qp_graph *g = qp_graph_new();
    unsigned seed = 12345;
    char buf[256], *save;
    int vin[8], n_in = 0, rc = -1;
    qp_tensor x = {0}, y0 = {0}, y1 = {0};
    g->opset = 13;
    snprintf(buf, sizeof buf, "%s", fc->inputs);
    for (char *tok = strtok_r(buf, " ", &save); tok && n_in < 8; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        int rank;
        int64_t dims[QP_MAX_RANK];
        size_t numel;
        if (qp_shape_parse(eq + 1, &rank, dims) || qp_dims_numel(rank, dims, &numel))
            goto out;
        if (n_in == 0) {
            vin[n_in++] = qp_graph_add_value(g, tok, QP_DT_F32, rank, dims);
            g->inputs = qp_arena_array(g->arena, 1, sizeof(int));
            g->inputs[g->n_inputs++] = vin[0];
            if (qp_tensor_alloc(&x, QP_DT_F32, rank, dims))
                goto out;
            fill_random(x.data, numel, &seed);
        } else {
            float *d = malloc(numel * sizeof(float));
            fill_random(d, numel, &seed);
            vin[n_in++] = qp_graph_add_const(g, tok, QP_DT_F32, rank, dims, d, numel * sizeof(float));
            free(d);
        }
    }
    int vo = qp_graph_add_value(g, "y", QP_DT_F32, 0, NULL);
    qp_graph_add_node(g, fc->op, "fused", n_in, vin, 1, &vo);
    snprintf(buf, sizeof buf, "%s", fc->attrs);
    char *specs[8];
    int ns = 0;
    for (char *tok = strtok_r(buf, " ", &save); tok && ns < 8; tok = strtok_r(NULL, " ", &save))
        specs[ns++] = tok;
    for (int i = 0; i < ns; i++)
        if (add_attr_spec(g, 0, specs[i]))
            goto out;
    if (qp_op_bind(g) || qp_op_get(g->nodes[0].op)->infer(g, 0)) {
        snprintf(msg, nmsg, "%s", qp_error_msg());
        goto out;
    }
    int dummy;
    qp_act none = {QP_ACT_NONE, 0, 0};
    if (run_node(g, &x, 0, none, &y0, &dummy)) {
        snprintf(msg, nmsg, "%s", qp_error_msg());
        goto out;
    }
    size_t ne = (size_t)qp_tensor_numel(&y0);
    float *ref = malloc(ne * sizeof(float) + 1);
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        int accepted = -1;
        qp_tensor_free(&y1);
        if (run_node(g, &x, 1, acts[k], &y1, &accepted)) {
            snprintf(msg, nmsg, "%s", qp_error_msg());
            free(ref);
            goto out;
        }
        if (accepted != fc->fusable) {
            snprintf(msg, nmsg, "activation %d was %s", (int)acts[k].kind, accepted ? "accepted" : "refused");
            free(ref);
            goto out;
        }
        if (!accepted)
            continue;
        qp_vact_f32(acts[k], ne, y0.data, ref);
        const float *f = y1.data;
        for (size_t i = 0; i < ne; i++)
            if (!(fabsf(f[i] - ref[i]) <= 1e-5f + 1e-5f * fabsf(ref[i]))) {
                snprintf(msg, nmsg, "activation %d, element %zu: fused %.9g, separate %.9g", (int)acts[k].kind, i,
                         (double)f[i], (double)ref[i]);
                free(ref);
                goto out;
            }
    }
    free(ref);
    rc = 0;
out:
    if (rc && !*msg)
        snprintf(msg, nmsg, "cannot build the case");
    qp_tensor_free(&x);
    qp_tensor_free(&y0);
    qp_tensor_free(&y1);
    qp_graph_free(g);
    return rc;
}

static void run_fuse_cases(int *pass, int *fail)
{
    for (qp_isa isa = QP_ISA_REF; isa <= QP_ISA_AVX2; isa++) {
        qp_kernels_set_isa(isa);
        for (size_t i = 0; i < sizeof fuse_cases / sizeof fuse_cases[0]; i++) {
            char msg[1024] = "";
            if (run_fuse_case(&fuse_cases[i], msg, sizeof msg)) {
                printf("FAIL fuse %s [%s] (%s kernels): %s\n", fuse_cases[i].op, fuse_cases[i].inputs,
                       qp_kernels_isa_name(isa), msg);
                (*fail)++;
            } else
                (*pass)++;
        }
    }
}

/* ---- the nn_* kernels' fast variants against their references ---- */

static int close_arrays(const float *a, const float *b, size_t n, float tol, const char *what, char *msg, size_t nmsg)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(a[i] - b[i]) <= tol + tol * fabsf(b[i]))) {
            snprintf(msg, nmsg, "%s: element %zu: %.9g, reference %.9g", what, i, (double)a[i], (double)b[i]);
            return -1;
        }
    return 0;
}

static void run_kernel_checks(int *pass, int *fail)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {3, 7, 1}, {2, 33, 5}, {1, 1000, 1}, {4, 3, 17}, {2, 1, 9}};
    unsigned seed = 777;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (int log = 0; log < 2; log++) {
            size_t o = shapes[k][0], n = shapes[k][1], in = shapes[k][2], ne = o * n * in;
            float *x = malloc(ne * sizeof(float)), *y = malloc(ne * sizeof(float)), *r = malloc(ne * sizeof(float));
            void *sc = malloc(qp_softmax_f32_scratch_size(n, in));
            fill_random(x, ne, &seed);
            for (size_t i = 0; i < ne; i++)
                x[i] *= 30.0f;
            qp_softmax_f32__ref(o, n, in, log, x, r, sc);
            qp_softmax_f32__vexp(o, n, in, log, x, y, sc);
            char msg[256];
            int bad = close_arrays(y, r, ne, 1e-5f, log ? "logsoftmax" : "softmax", msg, sizeof msg);
            /* in place (y aliasing x exactly) */
            if (!bad) {
                memcpy(y, x, ne * sizeof(float));
                qp_softmax_f32__vexp(o, n, in, log, y, y, sc);
                bad = close_arrays(y, r, ne, 1e-5f, "softmax in place", msg, sizeof msg);
            }
            if (bad) {
                printf("FAIL kernel %zux%zux%zu: %s\n", o, n, in, msg);
                (*fail)++;
            } else
                (*pass)++;
            free(x);
            free(y);
            free(r);
            free(sc);
        }
    {
        size_t n = 2, c = 5, hw = 37, ne = n * c * hw;
        float *x = malloc(ne * sizeof(float)), *y = malloc(ne * sizeof(float)), *r = malloc(ne * sizeof(float));
        float sc[5], bi[5];
        fill_random(x, ne, &seed);
        fill_random(sc, c, &seed);
        fill_random(bi, c, &seed);
        qp_instancenorm_f32__ref(n, c, hw, x, sc, bi, 1e-5f, r);
        qp_instancenorm_f32(n, c, hw, x, sc, bi, 1e-5f, y);
        char msg[256];
        if (close_arrays(y, r, ne, 1e-5f, "instancenorm", msg, sizeof msg)) {
            printf("FAIL kernel %s\n", msg);
            (*fail)++;
        } else
            (*pass)++;
        size_t rows = 19, cols = 13;
        qp_transpose2d_f32__ref(rows, cols, x, r);
        qp_transpose2d_f32(rows, cols, x, y);
        if (memcmp(y, r, rows * cols * sizeof(float))) {
            printf("FAIL kernel transpose2d\n");
            (*fail)++;
        } else
            (*pass)++;
        free(x);
        free(y);
        free(r);
    }
}

/* ---- the fusion pattern matcher on small graphs ---- */

/* x -> Conv -> pattern; returns the graph with the Conv as node 0.  kind: see match_cases. */
static qp_graph *pattern_graph(int kind, int opset)
{
    qp_graph *g = qp_graph_new();
    int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {2, 2, 1, 1}, sd[1] = {1};
    float w[4] = {1, 0, 0, 1}, zero = 0, six = 6;
    g->opset = opset;
    g->inputs = qp_arena_array(g->arena, 1, sizeof(int));
    g->outputs = qp_arena_array(g->arena, 2, sizeof(int));
    int x = qp_graph_add_value(g, "x", QP_DT_F32, 4, xd);
    g->inputs[g->n_inputs++] = x;
    int wv = qp_graph_add_const(g, "W", QP_DT_F32, 4, wd, w, sizeof w);
    int y = qp_graph_add_value(g, "y", QP_DT_F32, 4, xd);
    int a = qp_graph_add_value(g, "a", QP_DT_F32, 4, xd), b = qp_graph_add_value(g, "b", QP_DT_F32, 4, xd);
    int lo = qp_graph_add_const(g, "lo", QP_DT_F32, 0, sd, &zero, 4);
    int hi = qp_graph_add_const(g, "hi", QP_DT_F32, 0, sd, &six, 4);
    int hv = qp_graph_add_value(g, "hv", QP_DT_F32, 0, sd);
    int in2[2] = {x, wv};
    qp_graph_add_node(g, "Conv", "conv", 2, in2, 1, &y);
    int out = a;
    switch (kind) {
    case 0: /* Relu */
    case 3: /* Relu, y also a graph output */
        qp_graph_add_node(g, "Relu", "act", 1, &y, 1, &a);
        if (kind == 3)
            g->outputs[g->n_outputs++] = y;
        break;
    case 1: /* SiLU */
    case 2: { /* SiLU, Mul operands swapped */
        qp_graph_add_node(g, "Sigmoid", "sig", 1, &y, 1, &a);
        int m[2] = {kind == 1 ? y : a, kind == 1 ? a : y};
        qp_graph_add_node(g, "Mul", "mul", 2, m, 1, &b);
        out = b;
        break;
    }
    case 4: { /* two readers */
        qp_graph_add_node(g, "Relu", "act", 1, &y, 1, &a);
        int m[2] = {y, a};
        qp_graph_add_node(g, "Add", "add", 2, m, 1, &b);
        out = b;
        break;
    }
    case 5: { /* Clip(0, 6) by inputs */
        int c[3] = {y, lo, hi};
        qp_graph_add_node(g, "Clip", "clip", 3, c, 1, &a);
        break;
    }
    case 6: { /* Clip with a computed max */
        int c[3] = {y, lo, hv};
        qp_graph_add_node(g, "Clip", "clip", 3, c, 1, &a);
        break;
    }
    case 7: /* Clip(0, 6) by attributes */
        qp_graph_add_node(g, "Clip", "clip", 1, &y, 1, &a);
        qp_node_set_float(g, 1, "min", 0);
        qp_node_set_float(g, 1, "max", 6);
        break;
    case 8: { /* Clip with min only */
        int c[2] = {y, lo};
        qp_graph_add_node(g, "Clip", "clip", 2, c, 1, &a);
        break;
    }
    case 9: { /* the Sigmoid also read elsewhere */
        qp_graph_add_node(g, "Sigmoid", "sig", 1, &y, 1, &a);
        int m[2] = {y, a};
        qp_graph_add_node(g, "Mul", "mul", 2, m, 1, &b);
        g->outputs[g->n_outputs++] = a;
        out = b;
        break;
    }
    case 10:
        qp_graph_add_node(g, "HardSigmoid", "hs", 1, &y, 1, &a);
        qp_node_set_float(g, 1, "alpha", 1.0f / 6);
        break;
    case 11: { /* Mul(y, y) */
        int m[2] = {y, y};
        qp_graph_add_node(g, "Mul", "sq", 2, m, 1, &a);
        break;
    }
    }
    g->outputs[g->n_outputs++] = out;
    return g;
}

static void run_match_cases(int *pass, int *fail)
{
    static const struct {
        int kind, opset, found, act, n_skip;
        float alpha, beta;
        const char *what;
    } mc[] = {
        {0, 13, 1, QP_ACT_RELU, 1, 0, 0, "Conv -> Relu"},
        {1, 13, 1, QP_ACT_SILU, 2, 0, 0, "Conv -> Sigmoid -> Mul(y, s)"},
        {2, 13, 1, QP_ACT_SILU, 2, 0, 0, "Conv -> Sigmoid -> Mul(s, y)"},
        {3, 13, 0, 0, 0, 0, 0, "Conv output is a graph output"},
        {4, 13, 0, 0, 0, 0, 0, "Conv output read twice"},
        {5, 13, 1, QP_ACT_CLIP, 1, 0, 6, "Clip(0, 6) inputs"},
        {6, 13, 0, 0, 0, 0, 0, "Clip with a non-constant max"},
        {7, 9, 1, QP_ACT_CLIP, 1, 0, 6, "Clip(0, 6) attributes, opset 9"},
        {8, 13, 1, QP_ACT_CLIP, 1, 0, INFINITY, "Clip(0) min only"},
        {9, 13, 0, 0, 0, 0, 0, "Sigmoid output also a graph output"},
        {10, 13, 1, QP_ACT_HARDSIGMOID, 1, 1.0f / 6, 0.5f, "HardSigmoid(1/6)"},
        {11, 13, 0, 0, 0, 0, 0, "Mul(y, y)"},
    };
    for (size_t i = 0; i < sizeof mc / sizeof mc[0]; i++) {
        qp_graph *g = pattern_graph(mc[i].kind, mc[i].opset);
        qp_act act;
        int skip[2] = {-1, -1}, ns = -1;
        int found = qp_nn_match_activation(g, 0, &act, skip, &ns) == 0;
        int ok = found == mc[i].found;
        if (ok && found)
            ok = (int)act.kind == mc[i].act && ns == mc[i].n_skip && act.alpha == mc[i].alpha &&
                 act.beta == mc[i].beta && skip[0] == 1 && (ns < 2 || skip[1] == 2);
        if (ok)
            (*pass)++;
        else {
            printf("FAIL match %s: found %d, act %d (%g, %g), %d skipped\n", mc[i].what, found, found ? (int)act.kind : -1,
                   found ? (double)act.alpha : 0.0, found ? (double)act.beta : 0.0, ns);
            (*fail)++;
        }
        qp_graph_free(g);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct tally { char op[64]; int n[4]; };

int main(int argc, char **argv)
{
    int argi = 1;
    for (; argi < argc && argv[argi][0] == '-'; argi++) {
        if (!strcmp(argv[argi], "-v"))
            verbose = 1;
        else if (!strcmp(argv[argi], "-a") && argi + 1 < argc)
            tol_abs = atof(argv[++argi]);
        else if (!strcmp(argv[argi], "-r") && argi + 1 < argc)
            tol_rel = atof(argv[++argi]);
        else {
            fprintf(stderr, "usage: test_ops_nn [-v] [-a ATOL] [-r RTOL] [test_dir...]\n");
            return 2;
        }
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
            fprintf(stderr, "test_ops_nn: cannot open '%s'\n", root);
            return 1;
        }
        struct dirent *e;
        int cap = 0;
        while ((e = readdir(d))) {
            int want = 0;
            for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++)
                want |= !strncmp(e->d_name, prefixes[p], strlen(prefixes[p]));
            if (!want || strstr(e->d_name, "_expanded"))
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
    struct tally tal[64];
    int nt = 0, total[4] = {0};
    int bp = 0, bf = 0, fp = 0, ff = 0;
    if (argi == argc) {
        run_bad_cases(&bp, &bf);
        run_fuse_cases(&fp, &ff);
        run_kernel_checks(&fp, &ff);
        run_match_cases(&fp, &ff);
        total[PASS] += fp;
        total[FAIL] += ff;
        total[PASS] += bp;
        total[FAIL] += bf;
    }
    for (int i = 0; i < nd; i++) {
        char op[64];
        int r = run_test(dirs[i], op, sizeof op);
        total[r]++;
        int k = 0;
        while (k < nt && strcmp(tal[k].op, op))
            k++;
        if (k == nt && nt < 64) {
            memset(&tal[nt], 0, sizeof tal[nt]);
            snprintf(tal[nt++].op, sizeof tal[0].op, "%s", op);
        }
        if (k < 64)
            tal[k].n[r]++;
        free(dirs[i]);
    }
    free(dirs);
    for (int k = 0; k < nt; k++)
        if (tal[k].n[PASS] + tal[k].n[FAIL] + tal[k].n[UNSUPPORTED])
            printf("  %-22s %3d passed, %d failed, %d unsupported\n", tal[k].op, tal[k].n[PASS], tal[k].n[FAIL],
                   tal[k].n[UNSUPPORTED]);
    if (bp + bf)
        printf("  %-22s %3d passed, %d failed\n", "bad nodes rejected", bp, bf);
    if (fp + ff)
        printf("  %-22s %3d passed, %d failed\n", "fusion and nn kernels", fp, ff);
    printf("%d passed, %d failed (%d rejected as unsupported, %d skipped)\n", total[PASS], total[FAIL],
           total[UNSUPPORTED], total[SKIP]);
    qp_threads_shutdown();
    return total[FAIL] ? 1 : 0;
}
