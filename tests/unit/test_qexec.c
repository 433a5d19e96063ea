/* Checker for the quantized executor (qp/qexec.h) and its op rules (qp/qops.h): small graphs
 * built here (conv + fused Relu, depthwise i16, Add with broadcast, Concat of three parameter
 * sets, Sigmoid and SiLU tables, MaxPool with a requantized output, linear and nearest Resize,
 * Softmax, MatMul, Gemm, BatchNormalization, a 16-bit conv behind an 8-bit producer) run
 * through qexec and compared bit for bit with the same arithmetic done directly on the __ref
 * kernels and with stored golden integer outputs (tests/data/golden/qexec_*.bin), across 1 and
 * 2 threads, fused and unfused, reference, scalar and AVX2 kernels; a bfloat16 layer between
 * integer ones; the new kernels (q_softmax, q_resize) against their references on random
 * shapes and the worked examples of qpipe(7); the rule table against the float op table; and
 * the one-line errors of layers without an integer rule.
 * Usage: test_qexec [-v] [--golden DIR] [--regen DIR]
 * Exits non-zero on any failure; the last line is "N passed, M failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/graph.h"
#include "qp/op.h"
#include "qp/q_conv2d.h"
#include "qp/q_convert.h"
#include "qp/q_eltwise.h"
#include "qp/q_gemm.h"
#include "qp/q_lut.h"
#include "qp/q_pool.h"
#include "qp/q_resize.h"
#include "qp/q_softmax.h"
#include "qp/qexec.h"
#include "qp/qops.h"
#include "qp/qtable.h"
#include "qp/requant.h"
#include "qp/threads.h"
#include "qp/vmath.h"

#include "check.h"
static int verbose;


/* ---- data ---------------------------------------------------------------------------------- */

static uint32_t lcg;
static void seed(uint32_t s) { lcg = s * 2654435761u + 1; }
static double urand(void) /* [-1, 1) */
{
    lcg = lcg * 1664525u + 1013904223u;
    return (double)(lcg >> 8) / (double)(1u << 23) - 1.0;
}
static void ffill(float *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * (urand() + 1) / 2);
}

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(3);
    }
    return p;
}

/* ---- graphs -------------------------------------------------------------------------------- */

static qp_graph *g_new(int opset)
{
    qp_graph *g = qp_graph_new();
    if (!g)
        exit(3);
    g->opset = opset;
    g->inputs = qp_arena_array(g->arena, 16, sizeof(int));
    g->outputs = qp_arena_array(g->arena, 16, sizeof(int));
    g->output_keys = qp_arena_array(g->arena, 16, sizeof(char *));
    return g;
}

static int g_input(qp_graph *g, const char *name, int rank, const int64_t *dims)
{
    int vi = qp_graph_add_value(g, name, QP_DT_F32, rank, dims);
    g->values[vi].key = qp_arena_strdup(g->arena, name);
    g->inputs[g->n_inputs++] = vi;
    return vi;
}

static int g_const(qp_graph *g, const char *name, int dtype, int rank, const int64_t *dims, const void *data)
{
    size_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= (size_t)dims[d];
    int vi = qp_graph_add_const(g, name, dtype, rank, dims, data, n * qp_dtype_size(dtype));
    g->values[vi].key = qp_arena_printf(g->arena, "Initializer_%s", name);
    return vi;
}

/* A node with n_out new outputs; returns the node index. */
static int g_node(qp_graph *g, const char *op, const char *name, int n_in, const int *in, int n_out)
{
    int out[8];
    for (int k = 0; k < n_out; k++) {
        char nm[128];
        snprintf(nm, sizeof nm, "%s_o%d", name, k);
        out[k] = qp_graph_add_value(g, nm, QP_DT_F32, 0, NULL);
    }
    int ni = qp_graph_add_node(g, op, name, n_in, in, n_out, out);
    g->nodes[ni].key = qp_arena_strdup(g->arena, name);
    return ni;
}

static int out0(const qp_graph *g, int ni) { return g->nodes[ni].out[0]; }

static void g_output(qp_graph *g, int vi)
{
    g->output_keys[g->n_outputs] = qp_arena_printf(g->arena, "attach_%s/out0_%d", g->values[vi].name, g->n_outputs);
    g->outputs[g->n_outputs++] = vi;
}

static int g_finish(qp_graph *g)
{
    int rc = qp_op_bind(g);
    for (int ni = 0; !rc && ni < g->n_nodes; ni++)
        rc = qp_op_get(g->nodes[ni].op)->infer(g, ni);
    if (rc)
        printf("graph: %s\n", qp_error_msg());
    return rc;
}

/* Table entries. */
static void ent(qp_qtable *t, qp_qentry *e, int qz, int qtype, double scale, int zp)
{
    int32_t z = zp;
    qp_qentry_set(t, e, qz, qtype, 1, &scale, &z);
    if (qz == QP_QZ_DYNAMIC_FIXED_POINT)
        e->fl = (int)lround(-log2(scale));
}
static void ent_u8(qp_qtable *t, int vi, double s, int zp) { ent(t, &t->value[vi], QP_QZ_ASYMMETRIC_AFFINE, QP_DT_U8, s, zp); }
static void ent_i8(qp_qtable *t, int vi, double s, int zp) { ent(t, &t->value[vi], QP_QZ_ASYMMETRIC_AFFINE, QP_DT_I8, s, zp); }
static void ent_dfp(qp_qtable *t, int vi, int fl) { ent(t, &t->value[vi], QP_QZ_DYNAMIC_FIXED_POINT, QP_DT_I16, ldexp(1, -fl), 0); }
static void ent_w_pc(qp_qtable *t, int ni, int qtype, int n, const double *s)
{
    qp_qentry_set(t, &t->weight[ni], QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE, qtype, n, s, NULL);
    t->weight[ni].channel_dim = 0;
}

/* ---- running ------------------------------------------------------------------------------- */

typedef struct run_cfg {
    int threads;
    qp_isa isa;
    int flags;
    const char *name;
} run_cfg;

static const run_cfg cfgs[] = {
    {1, QP_ISA_COUNT, 0, "fused, 1 thread"},
    {2, QP_ISA_COUNT, 0, "fused, 2 threads"},
    {1, QP_ISA_COUNT, QP_QEXEC_NO_FUSE, "unfused"},
    {2, QP_ISA_REF, QP_QEXEC_NO_FUSE, "unfused, reference kernels, 2 threads"},
    {1, QP_ISA_SCALAR, 0, "scalar kernels"},
};
#define N_CFG (sizeof cfgs / sizeof cfgs[0])

/* Runs g with t on the float inputs; appends the raw bytes of every graph output to buf.
 * Returns the byte count, or 0 on error (reported). */
static size_t run_graph(const qp_graph *g, const qp_qtable *t, const run_cfg *c, qp_tensor *in, unsigned char *buf,
                        qp_qexec **keep)
{
    qp_threads_set_count(c->threads);
    qp_kernels_set_isa(c->isa);
    qp_qexec *x;
    size_t n = 0;
    if (qp_qexec_new(g, t, c->flags, &x)) {
        printf("FAIL qexec_new (%s): %s\n", c->name, qp_error_msg());
        n_fail++;
        return 0;
    }
    int rc = 0;
    for (int i = 0; !rc && i < g->n_inputs; i++)
        rc = qp_qexec_set_input(x, i, &in[i]);
    if (!rc)
        rc = qp_qexec_run(x);
    if (rc) {
        printf("FAIL run (%s): %s\n", c->name, qp_error_msg());
        n_fail++;
    }
    for (int i = 0; !rc && i < g->n_outputs; i++) {
        const qp_qtensor *o = qp_qexec_value(x, g->outputs[i]);
        memcpy(buf + n, o->t.data, o->t.nbytes);
        n += o->t.nbytes;
    }
    if (keep)
        *keep = x;
    else
        qp_qexec_free(x);
    qp_kernels_set_isa(QP_ISA_COUNT);
    return rc ? 0 : n;
}

/* The quantized integers of input i as the executor holds them. */
static void *quant_input(const qp_tensor *t, const qp_qparams *p)
{
    size_t n = (size_t)qp_tensor_numel(t);
    void *q = xmalloc(n * 2);
    for (size_t i = 0; i < n; i++)
        qp_qstore(q, i, p->type, qp_quantize(((const float *)t->data)[i], p));
    return q;
}

static qp_tensor ftensor(int rank, const int64_t *dims, double lo, double hi)
{
    qp_tensor t;
    qp_tensor_alloc(&t, QP_DT_F32, rank, dims);
    ffill(t.data, (size_t)qp_tensor_numel(&t), lo, hi);
    return t;
}

/* A case builds its graph, table and inputs, and computes the expected output bytes with the
 * reference kernels into want (returning the count). */
typedef struct qcase {
    qp_graph *g;
    qp_qtable *t;
    qp_tensor in[4];
    int n_in;
    unsigned char *want;
    size_t n_want;
} qcase;

static void qcase_free(qcase *c)
{
    for (int i = 0; i < c->n_in; i++)
        qp_tensor_free(&c->in[i]);
    qp_qtable_free(c->t);
    qp_graph_free(c->g);
    free(c->want);
    memset(c, 0, sizeof *c);
}

/* Weights quantized as the rules do: q = quantize(w / s[c]), per output channel (dim 0). */
static void quant_w8(const float *w, size_t n, size_t m, const double *s, int8_t *q)
{
    for (size_t i = 0; i < n; i++) {
        size_t c = i / (n / m);
        q[i] = (int8_t)qp_quantize_clamp(w[i], s[c], 0, -128, 127);
    }
}

/* ---- cases --------------------------------------------------------------------------------- */

/* Conv 3x3 pad 1, 5 -> 7 channels, u8 (s 0.02, zp 131) -> u8 (s 0.05, zp 7) with per-channel
 * int8 weights and a bias, then a Relu of the same parameters (fused into the clamp). */
static int case_conv(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t xd[4] = {1, 5, 9, 10}, wd[4] = {7, 5, 3, 3}, bd[1] = {7};
    float w[7 * 5 * 9], b[7];
    seed(1);
    ffill(w, 315, -0.5, 0.5);
    ffill(b, 7, -0.3, 0.3);
    int x = g_input(g, "x", 4, xd);
    int wv = g_const(g, "w", QP_DT_F32, 4, wd, w), bv = g_const(g, "b", QP_DT_F32, 1, bd, b);
    int ins[3] = {x, wv, bv};
    int conv = g_node(g, "Conv", "Conv_0", 3, ins, 1);
    int64_t pads[4] = {1, 1, 1, 1};
    qp_node_set_ints(g, conv, "pads", 4, pads);
    int r_in = out0(g, conv);
    int relu = g_node(g, "Relu", "Relu_1", 1, &r_in, 1);
    g_output(g, out0(g, relu));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_u8(t, x, 0.02, 131);
    ent_u8(t, out0(g, conv), 0.05, 7);
    ent_u8(t, out0(g, relu), 0.05, 7);
    double sw[7];
    for (int k = 0; k < 7; k++)
        sw[k] = 0.5 / 127 * (1 + 0.1 * k);
    ent_w_pc(t, conv, QP_DT_I8, 7, sw);
    c->in[0] = ftensor(4, xd, -2.6, 2.4);
    c->n_in = 1;
    /* expected: the reference convolution with the ReLU as the clamp */
    qp_qparams px = {0.02, 131, QP_QTYPE_U8};
    unsigned char *xq = quant_input(&c->in[0], &px);
    int8_t wq[315];
    quant_w8(w, 315, 7, sw, wq);
    int32_t bq[7];
    qp_qmul mul[7];
    for (int k = 0; k < 7; k++)
        bq[k] = qp_quantize_bias32(b[k], 0.02 * sw[k]);
    qp_requant_layer_multipliers(0.02, sw, 7, 0.05, 7, mul);
    qp_conv2d_q_params p = {1, 5, 9, 10, 7, 9, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    qp_conv2d_q_quant q = {QP_QTYPE_U8, 131, QP_QTYPE_U8, 7, 7, 255, mul, bq};
    c->want = xmalloc(7 * 90);
    qp_conv2d_q8__ref(&p, &q, wq, xq, c->want);
    c->n_want = 7 * 90;
    free(xq);
    return 0;
}

/* Depthwise 3x3 stride 2 pads (0,0,1,1), 6 channels, 16-bit DFP: i16 fl 10 -> i16 fl 9,
 * weights i16 per channel, int64 bias. */
static int case_dw16(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t xd[4] = {1, 6, 11, 11}, wd[4] = {6, 1, 3, 3}, bd[1] = {6};
    float w[54], b[6];
    seed(2);
    ffill(w, 54, -1, 1);
    ffill(b, 6, -2, 2);
    int x = g_input(g, "x", 4, xd);
    int ins[3] = {x, g_const(g, "w", QP_DT_F32, 4, wd, w), g_const(g, "b", QP_DT_F32, 1, bd, b)};
    int conv = g_node(g, "Conv", "Conv_dw", 3, ins, 1);
    int64_t pads[4] = {0, 0, 1, 1}, st[2] = {2, 2};
    qp_node_set_ints(g, conv, "pads", 4, pads);
    qp_node_set_ints(g, conv, "strides", 2, st);
    qp_node_set_int(g, conv, "group", 6);
    g_output(g, out0(g, conv));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_dfp(t, x, 10);
    ent_dfp(t, out0(g, conv), 9);
    double sw[6];
    for (int k = 0; k < 6; k++)
        sw[k] = ldexp(1, -14);
    qp_qentry_set(t, &t->weight[conv], QP_QZ_DYNAMIC_FIXED_POINT, QP_DT_I16, 6, sw, NULL);
    t->weight[conv].fl = 14;
    c->in[0] = ftensor(4, xd, -20, 20);
    c->n_in = 1;
    qp_qparams px = qp_qparams_dfp(QP_QTYPE_I16, 10);
    int16_t *xq = quant_input(&c->in[0], &px), wq[54];
    for (int i = 0; i < 54; i++)
        wq[i] = (int16_t)qp_quantize_clamp(w[i], sw[0], 0, -32768, 32767);
    int64_t bq[6];
    qp_qmul mul[6];
    for (int k = 0; k < 6; k++)
        bq[k] = qp_quantize_bias64(b[k], ldexp(1, -24));
    qp_requant_layer_multipliers(ldexp(1, -10), sw, 6, ldexp(1, -9), 6, mul);
    qp_conv2d_q_params p = {1, 6, 11, 11, 6, 5, 5, 3, 3, 6, 2, 2, 1, 1, 0, 0, 1, 1};
    qp_conv2d_q_quant q = {QP_QTYPE_I16, 0, QP_QTYPE_I16, 0, -32768, 32767, mul, bq};
    c->n_want = 6 * 25 * 2;
    c->want = xmalloc(c->n_want);
    qp_conv2d_q16__ref(&p, &q, wq, xq, c->want);
    free(xq);
    return 0;
}

/* Add of a u8 [2,3,4,5] and an i8 [3,1,5] (numpy broadcast) into i8, then Add of a constant
 * [1,3,1,1] quantized with its own entry. */
static int case_add(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t ad[4] = {2, 3, 4, 5}, bd[3] = {3, 1, 5}, cd[4] = {1, 3, 1, 1};
    float cv[3] = {0.25f, -0.5f, 1.0f};
    int a = g_input(g, "a", 4, ad), b = g_input(g, "b", 3, bd);
    int ins[2] = {a, b};
    int add = g_node(g, "Add", "Add_0", 2, ins, 1);
    int ins2[2] = {out0(g, add), g_const(g, "c", QP_DT_F32, 4, cd, cv)};
    int add2 = g_node(g, "Add", "Add_1", 2, ins2, 1);
    g_output(g, out0(g, add2));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_u8(t, a, 0.01, 100);
    ent_i8(t, b, 0.03, -7);
    ent_i8(t, out0(g, add), 0.025, 3);
    ent_i8(t, ins2[1], 1.0 / 127, 0);
    ent_i8(t, out0(g, add2), 0.03, -10);
    seed(3);
    c->in[0] = ftensor(4, ad, -1, 1.5);
    c->in[1] = ftensor(3, bd, -3, 3);
    c->n_in = 2;
    qp_qparams pa = {0.01, 100, QP_QTYPE_U8}, pb = {0.03, -7, QP_QTYPE_I8}, py = {0.025, 3, QP_QTYPE_I8};
    qp_qparams pc = {1.0 / 127, 0, QP_QTYPE_I8}, pz = {0.03, -10, QP_QTYPE_I8};
    unsigned char *aq = quant_input(&c->in[0], &pa);
    signed char *bq = quant_input(&c->in[1], &pb);
    qp_q_elt_params e1, e2;
    qp_q_elt_init(&e1, QP_Q_ELT_ADD, &pa, &pb, &py, -128, 127);
    qp_q_elt_init(&e2, QP_Q_ELT_ADD, &py, &pc, &pz, -128, 127);
    c->n_want = 120;
    c->want = xmalloc(120);
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 3; ch++)
            for (int h = 0; h < 4; h++)
                for (int w = 0; w < 5; w++) {
                    size_t i = (size_t)((n * 3 + ch) * 4 + h) * 5 + w;
                    int8_t y, z, cq = (int8_t)qp_quantize(cv[ch], &pc);
                    qp_q_elt__ref(&e1, 1, aq + i, 0, bq + ch * 5 + w, 0, &y);
                    qp_q_elt__ref(&e2, 1, &y, 0, &cq, 0, &z);
                    c->want[i] = (unsigned char)z;
                }
    free(aq);
    free(bq);
    return 0;
}

/* Concat on axis 1 of a u8 [1,2,3,4], an i16 DFP [1,3,3,4] and a zero constant [1,1,3,4] into
 * u8 (s 0.04, zp 60): three parameter sets converted to the output's. */
static int case_concat(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t d1[4] = {1, 2, 3, 4}, d2[4] = {1, 3, 3, 4}, d3[4] = {1, 1, 3, 4};
    float zeros[12] = {0};
    int x1 = g_input(g, "x1", 4, d1), x2 = g_input(g, "x2", 4, d2);
    int ins[3] = {x1, x2, g_const(g, "zeros", QP_DT_F32, 4, d3, zeros)};
    int cat = g_node(g, "Concat", "Concat_0", 3, ins, 1);
    qp_node_set_int(g, cat, "axis", 1);
    g_output(g, out0(g, cat));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_u8(t, x1, 0.011, 3);
    ent_dfp(t, x2, 12);
    ent_u8(t, ins[2], 1, 0);
    ent_u8(t, out0(g, cat), 0.04, 60);
    seed(4);
    c->in[0] = ftensor(4, d1, 0, 2.5);
    c->in[1] = ftensor(4, d2, -3, 7);
    c->n_in = 2;
    qp_qparams p1 = {0.011, 3, QP_QTYPE_U8}, p2 = qp_qparams_dfp(QP_QTYPE_I16, 12), py = {0.04, 60, QP_QTYPE_U8};
    unsigned char *q1 = quant_input(&c->in[0], &p1);
    int16_t *q2 = quant_input(&c->in[1], &p2);
    qp_qconvert c1, c2;
    qp_qconvert_init(&p1, &py, &c1);
    qp_qconvert_init(&p2, &py, &c2);
    c->n_want = 72;
    c->want = xmalloc(72);
    qp_q_convert__ref(&c1, QP_QTYPE_U8, QP_QTYPE_U8, 24, q1, c->want);
    qp_q_convert__ref(&c2, QP_QTYPE_I16, QP_QTYPE_U8, 36, q2, c->want + 24);
    memset(c->want + 60, qp_quantize(0, &py), 12);
    free(q1);
    free(q2);
    return 0;
}

/* Sigmoid i16 DFP fl 11 -> u8 (s 1/256, zp 0), and SiLU after a producer: y (u8) -> Identity
 * -> Sigmoid (u8) -> Mul(y, s) (u8), composed into one table over y's integers when fused. */
static int case_sigmoid(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t d[2] = {4, 50};
    int x = g_input(g, "x", 2, d), y = g_input(g, "y", 2, d);
    int sg = g_node(g, "Sigmoid", "Sigmoid_0", 1, &x, 1);
    int yy = out0(g, g_node(g, "Identity", "Identity_y", 1, &y, 1));
    int s2 = g_node(g, "Sigmoid", "Sigmoid_1", 1, &yy, 1);
    int mi[2] = {yy, out0(g, s2)};
    int mul = g_node(g, "Mul", "Mul_2", 2, mi, 1);
    g_output(g, out0(g, sg));
    g_output(g, out0(g, mul));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_dfp(t, x, 11);
    ent_u8(t, out0(g, sg), 1.0 / 256, 0);
    ent_u8(t, y, 0.05, 128);
    ent_u8(t, yy, 0.05, 128);
    ent_u8(t, out0(g, s2), 1.0 / 255, 0);
    ent_u8(t, out0(g, mul), 0.03, 20);
    seed(5);
    c->in[0] = ftensor(2, d, -12, 12);
    c->in[1] = ftensor(2, d, -6.5, 6.5);
    c->n_in = 2;
    qp_qparams px = qp_qparams_dfp(QP_QTYPE_I16, 11), ps = {1.0 / 256, 0, QP_QTYPE_U8}, py = {0.05, 128, QP_QTYPE_U8};
    qp_qparams ps2 = {1.0 / 255, 0, QP_QTYPE_U8}, pm = {0.03, 20, QP_QTYPE_U8};
    int16_t *xq = quant_input(&c->in[0], &px);
    unsigned char *yq = quant_input(&c->in[1], &py);
    static uint8_t tab16[65536], tab8[256];
    qp_lut_fn_args sig = {QP_LUT_SIGMOID, 0, 0};
    qp_lut_build_ex(qp_lut_eval, &sig, &px, &ps, tab16);
    qp_lut_build_ex(qp_lut_eval, &sig, &py, &ps2, tab8);
    c->n_want = 400;
    c->want = xmalloc(400);
    qp_lut_apply__ref(QP_QTYPE_I16, QP_QTYPE_U8, tab16, 200, xq, c->want);
    uint8_t s[200];
    qp_lut_apply__ref(QP_QTYPE_U8, QP_QTYPE_U8, tab8, 200, yq, s);
    qp_q_elt_params e;
    qp_q_elt_init(&e, QP_Q_ELT_MUL, &py, &ps2, &pm, 0, 255);
    qp_q_elt__ref(&e, 200, yq, 1, s, 1, c->want + 200);
    free(xq);
    free(yq);
    return 0;
}

/* MaxPool 5x5 s1 pad 2 of u8 (s 0.02, zp 17), the output's entry other parameters
 * (s 0.03, zp 5): pooled in the input's, then converted. */
static int case_maxpool(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t d[4] = {1, 3, 8, 8};
    int x = g_input(g, "x", 4, d);
    int mp = g_node(g, "MaxPool", "MaxPool_0", 1, &x, 1);
    int64_t k[2] = {5, 5}, pads[4] = {2, 2, 2, 2};
    qp_node_set_ints(g, mp, "kernel_shape", 2, k);
    qp_node_set_ints(g, mp, "pads", 4, pads);
    g_output(g, out0(g, mp));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_u8(t, x, 0.02, 17);
    ent_u8(t, out0(g, mp), 0.03, 5);
    seed(6);
    c->in[0] = ftensor(4, d, -0.3, 4.7);
    c->n_in = 1;
    qp_qparams px = {0.02, 17, QP_QTYPE_U8}, py = {0.03, 5, QP_QTYPE_U8};
    unsigned char *xq = quant_input(&c->in[0], &px), pooled[192];
    qp_pool2d_q_params p = {1, 3, 8, 8, 8, 8, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0};
    qp_maxpool2d_q__ref(&p, QP_QTYPE_U8, xq, pooled);
    qp_qconvert cv;
    qp_qconvert_init(&px, &py, &cv);
    c->n_want = 192;
    c->want = xmalloc(192);
    qp_q_convert__ref(&cv, QP_QTYPE_U8, QP_QTYPE_U8, 192, pooled, c->want);
    free(xq);
    return 0;
}

/* Resize x2 of a u8 [1,2,5,7]: linear half_pixel into u8 of other parameters (the integer
 * bilinear rule), and nearest asymmetric/floor (a move). */
static int case_resize(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t d[4] = {1, 2, 5, 7}, sd[1] = {4}, ed[1] = {0};
    float scales[4] = {1, 1, 2, 2};
    int x = g_input(g, "x", 4, d);
    int roi = g_const(g, "roi", QP_DT_F32, 1, ed, NULL), sc = g_const(g, "scales", QP_DT_F32, 1, sd, scales);
    int ins[3] = {x, roi, sc};
    int lin = g_node(g, "Resize", "Resize_lin", 3, ins, 1);
    qp_node_set_string(g, lin, "mode", "linear", 6);
    int near = g_node(g, "Resize", "Resize_near", 3, ins, 1);
    qp_node_set_string(g, near, "mode", "nearest", 7);
    qp_node_set_string(g, near, "coordinate_transformation_mode", "asymmetric", 10);
    qp_node_set_string(g, near, "nearest_mode", "floor", 5);
    g_output(g, out0(g, lin));
    g_output(g, out0(g, near));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_u8(t, x, 0.02, 40);
    ent_u8(t, out0(g, lin), 0.015, 60);
    ent_u8(t, out0(g, near), 0.02, 40);
    seed(7);
    c->in[0] = ftensor(4, d, -0.8, 4.3);
    c->n_in = 1;
    qp_qparams px = {0.02, 40, QP_QTYPE_U8}, py = {0.015, 60, QP_QTYPE_U8};
    unsigned char *xq = quant_input(&c->in[0], &px);
    qp_resize_params rp;
    memset(&rp, 0, sizeof rp);
    rp.mode = QP_RESIZE_LINEAR;
    rp.coord = QP_RESIZE_HALF_PIXEL;
    rp.rank = 4;
    for (int k = 0; k < 4; k++) {
        rp.in[k] = d[k];
        rp.out[k] = d[k] * (int64_t)scales[k];
        rp.scale[k] = scales[k];
    }
    int32_t i0[2][14], i1[2][14], lam[2][14];
    qp_resize_q_axis ay = {5, 10, i0[0], i1[0], lam[0]}, ax = {7, 14, i0[1], i1[1], lam[1]};
    qp_resize_q_axis_init(&rp, 2, &ay);
    qp_resize_q_axis_init(&rp, 3, &ax);
    qp_resize_q_args a = {2, &ay, &ax, 0, 0, 0, 0, 0, 0, {0, 0}, xq, NULL};
    qp_resize_q_init(&a, &px, &py);
    c->n_want = 2 * 2 * 10 * 14;
    c->want = xmalloc(c->n_want);
    a.y = c->want;
    qp_resize_q_linear__ref(&a);
    unsigned char *nn = c->want + 280;
    for (int p = 0; p < 2; p++)
        for (int oy = 0; oy < 10; oy++)
            for (int ox = 0; ox < 14; ox++)
                nn[(p * 10 + oy) * 14 + ox] = xq[(p * 5 + oy / 2) * 7 + ox / 2];
    free(xq);
    return 0;
}

/* Softmax on the last axis of an i8 [3,10] into u8 (s 1/256, zp 0), the exact integer rule. */
static int case_softmax(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t d[2] = {3, 10};
    int x = g_input(g, "x", 2, d);
    int sm = g_node(g, "Softmax", "Softmax_0", 1, &x, 1);
    g_output(g, out0(g, sm));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_i8(t, x, 0.08, -5);
    ent_u8(t, out0(g, sm), 1.0 / 256, 0);
    seed(8);
    c->in[0] = ftensor(2, d, -6, 6);
    c->n_in = 1;
    qp_qparams px = {0.08, -5, QP_QTYPE_I8}, py = {1.0 / 256, 0, QP_QTYPE_U8};
    signed char *xq = quant_input(&c->in[0], &px);
    int32_t table[256];
    qp_softmax_q_params p;
    qp_softmax_q_init(&p, &px, &py, table);
    c->n_want = 30;
    c->want = xmalloc(30);
    qp_softmax_q__ref(&p, 3, 10, 1, xq, c->want);
    free(xq);
    return 0;
}

/* MatMul [3,20] u8 x constant [20,7] per-channel int8 -> i8. */
static int case_matmul(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t xd[2] = {3, 20}, wd[2] = {20, 7};
    float w[140];
    seed(9);
    ffill(w, 140, -0.4, 0.4);
    int x = g_input(g, "x", 2, xd);
    int ins[2] = {x, g_const(g, "w", QP_DT_F32, 2, wd, w)};
    int mm = g_node(g, "MatMul", "MatMul_0", 2, ins, 1);
    g_output(g, out0(g, mm));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_u8(t, x, 0.01, 0);
    ent_i8(t, out0(g, mm), 0.02, 4);
    double sw[7];
    for (int k = 0; k < 7; k++)
        sw[k] = 0.4 / 127 * (1 + 0.05 * k);
    qp_qentry_set(t, &t->weight[mm], QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE, QP_DT_I8, 7, sw, NULL);
    t->weight[mm].channel_dim = 1;
    c->in[0] = ftensor(2, xd, 0, 2.5);
    c->n_in = 1;
    qp_qparams px = {0.01, 0, QP_QTYPE_U8};
    unsigned char *xq = quant_input(&c->in[0], &px);
    int8_t wt[140]; /* W^T [7 x 20] */
    for (int k = 0; k < 20; k++)
        for (int j = 0; j < 7; j++)
            wt[j * 20 + k] = (int8_t)qp_quantize_clamp(w[k * 7 + j], sw[j], 0, -128, 127);
    qp_qmul mul[7];
    qp_requant_layer_multipliers(0.01, sw, 7, 0.02, 7, mul);
    unsigned char xt[60];
    for (int m = 0; m < 3; m++)
        for (int k = 0; k < 20; k++)
            xt[k * 3 + m] = xq[m * 20 + k];
    int8_t ct[21];
    qp_gemm_q_args a = {7, 3, 20, NULL, xt, 3, QP_QTYPE_U8, 0, NULL, NULL, NULL, mul, QP_QTYPE_I8, 4, -128, 127, ct, 3};
    qp_gemm_q8__ref(&a, wt, 20);
    c->n_want = 21;
    c->want = xmalloc(21);
    for (int m = 0; m < 3; m++)
        for (int j = 0; j < 7; j++)
            c->want[m * 7 + j] = (unsigned char)ct[j * 3 + m];
    free(xq);
    return 0;
}

/* Gemm transB = 1, alpha 0.5, beta 2, C a row: i8 [2,6] x constant [4,6]^T -> u8; alpha folds
 * into the multipliers, beta into the bias. */
static int case_gemm(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t xd[2] = {2, 6}, wd[2] = {4, 6}, cd[1] = {4};
    float w[24], cv[4] = {0.5f, -1.0f, 0.25f, 2.0f};
    seed(14);
    ffill(w, 24, -1, 1);
    int x = g_input(g, "x", 2, xd);
    int ins[3] = {x, g_const(g, "w", QP_DT_F32, 2, wd, w), g_const(g, "c", QP_DT_F32, 1, cd, cv)};
    int gm = g_node(g, "Gemm", "Gemm_0", 3, ins, 1);
    qp_node_set_int(g, gm, "transB", 1);
    qp_node_set_float(g, gm, "alpha", 0.5f);
    qp_node_set_float(g, gm, "beta", 2.0f);
    g_output(g, out0(g, gm));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_i8(t, x, 0.02, -20);
    ent_u8(t, out0(g, gm), 0.05, 90);
    ent(t, &t->weight[gm], QP_QZ_SYMMETRIC_AFFINE, QP_DT_I8, 1.0 / 127, 0);
    c->in[0] = ftensor(2, xd, -2, 2);
    c->n_in = 1;
    qp_qparams px = {0.02, -20, QP_QTYPE_I8};
    int8_t *xq = quant_input(&c->in[0], &px), wq[24], xt[12];
    for (int i = 0; i < 24; i++)
        wq[i] = (int8_t)qp_quantize_clamp(w[i], 1.0 / 127, 0, -128, 127);
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < 6; k++)
            xt[k * 2 + m] = xq[m * 6 + k];
    int32_t bq[4];
    qp_qmul mul[4];
    for (int n = 0; n < 4; n++) {
        bq[n] = qp_quantize_bias32(2.0 * cv[n], 0.02 / 127);
        qp_requant_multiplier(0.5 * 0.02 / 127 / 0.05, &mul[n]);
    }
    uint8_t ct[8];
    qp_gemm_q_args a = {4, 2, 6, NULL, xt, 2, QP_QTYPE_I8, -20, NULL, NULL, bq, mul, QP_QTYPE_U8, 90, 0, 255, ct, 2};
    qp_gemm_q8__ref(&a, wq, 6);
    c->n_want = 8;
    c->want = xmalloc(8);
    for (int m = 0; m < 2; m++)
        for (int n = 0; n < 4; n++)
            c->want[m * 4 + n] = ct[n * 2 + m];
    free(xq);
    return 0;
}

/* A 16-bit 1x1 conv (i16 weights) fed by an 8-bit producer: the u8 input is widened to i16
 * (q - zp, same scale) by a conversion the executor inserts. */
static int case_widen(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t xd[4] = {1, 4, 3, 5}, wd[4] = {3, 4, 1, 1};
    float w[12];
    seed(10);
    ffill(w, 12, -1, 1);
    int x = g_input(g, "x", 4, xd);
    int ins[2] = {x, g_const(g, "w", QP_DT_F32, 4, wd, w)};
    int conv = g_node(g, "Conv", "Conv_16", 2, ins, 1);
    g_output(g, out0(g, conv));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_u8(t, x, 0.01, 77);
    ent_dfp(t, out0(g, conv), 11);
    ent(t, &t->weight[conv], QP_QZ_DYNAMIC_FIXED_POINT, QP_DT_I16, ldexp(1, -15), 0);
    c->in[0] = ftensor(4, xd, -0.7, 1.8);
    c->n_in = 1;
    qp_qparams px = {0.01, 77, QP_QTYPE_U8};
    unsigned char *xq = quant_input(&c->in[0], &px);
    int16_t xw[60], wq[12];
    for (int i = 0; i < 60; i++)
        xw[i] = (int16_t)(xq[i] - 77);
    double sw = ldexp(1, -15);
    for (int i = 0; i < 12; i++)
        wq[i] = (int16_t)qp_quantize_clamp(w[i], sw, 0, -32768, 32767);
    qp_qmul mul[3];
    qp_requant_layer_multipliers(0.01, &sw, 1, ldexp(1, -11), 3, mul);
    qp_conv2d_q_params p = {1, 4, 3, 5, 3, 3, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
    qp_conv2d_q_quant q = {QP_QTYPE_I16, 0, QP_QTYPE_I16, 0, -32768, 32767, mul, NULL};
    c->n_want = 90;
    c->want = xmalloc(90);
    qp_conv2d_q16__ref(&p, &q, wq, xw, c->want);
    free(xq);
    return 0;
}

/* BatchNormalization of an i8 [2,3,2,5] (not folded): a depthwise 1x1 convolution with
 * per-channel symmetric weights (|q| 127) for a = scale / sqrt(var + eps), bias b = B - mean a. */
static int case_bn(qcase *c)
{
    qp_graph *g = c->g = g_new(13);
    int64_t xd[4] = {2, 3, 2, 5}, pd[1] = {3};
    float sc[3] = {0.5f, -1.25f, 2.0f}, bb[3] = {0.1f, -0.2f, 0.3f}, mean[3] = {0.2f, 0.0f, -0.4f},
          var[3] = {1.0f, 0.25f, 4.0f};
    int x = g_input(g, "x", 4, xd);
    int ins[5] = {x, g_const(g, "scale", QP_DT_F32, 1, pd, sc), g_const(g, "B", QP_DT_F32, 1, pd, bb),
                  g_const(g, "mean", QP_DT_F32, 1, pd, mean), g_const(g, "var", QP_DT_F32, 1, pd, var)};
    int bn = g_node(g, "BatchNormalization", "BatchNormalization_0", 5, ins, 1);
    g_output(g, out0(g, bn));
    if (g_finish(g))
        return -1;
    qp_qtable *t = c->t = qp_qtable_new(g);
    ent_i8(t, x, 0.03, 10);
    ent_i8(t, out0(g, bn), 0.02, -3);
    seed(13);
    c->in[0] = ftensor(4, xd, -3, 3);
    c->n_in = 1;
    qp_qparams px = {0.03, 10, QP_QTYPE_I8};
    int8_t *xq = quant_input(&c->in[0], &px), wq[3];
    double sw[3];
    int32_t bq[3];
    qp_qmul mul[3];
    for (int k = 0; k < 3; k++) {
        double a = (double)sc[k] / sqrt((double)var[k] + (double)1e-5f);
        float af = (float)a, bf = (float)((double)bb[k] - (double)mean[k] * a);
        sw[k] = fabs((double)af) / 127.0;
        wq[k] = (int8_t)qp_quantize_clamp(af, sw[k], 0, -128, 127);
        bq[k] = qp_quantize_bias32(bf, 0.03 * sw[k]);
    }
    qp_requant_layer_multipliers(0.03, sw, 3, 0.02, 3, mul);
    qp_conv2d_q_params p = {2, 3, 10, 1, 3, 10, 1, 1, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0};
    qp_conv2d_q_quant q = {QP_QTYPE_I8, 10, QP_QTYPE_I8, -3, -128, 127, mul, bq};
    c->n_want = 60;
    c->want = xmalloc(60);
    qp_conv2d_q8__ref(&p, &q, wq, xq, c->want);
    free(xq);
    return 0;
}

typedef struct gcase {
    const char *name;
    int (*build)(qcase *c);
} gcase;

static const gcase gcases[] = {
    {"conv", case_conv},       {"dw16", case_dw16},       {"add", case_add},
    {"concat", case_concat},   {"sigmoid", case_sigmoid}, {"maxpool", case_maxpool},
    {"resize", case_resize},   {"softmax", case_softmax}, {"matmul", case_matmul},
    {"widen", case_widen},     {"bn", case_bn},           {"gemm", case_gemm},
};
#define N_GCASES (sizeof gcases / sizeof gcases[0])

static size_t first_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return i;
    return n;
}

/* Every case: every configuration equals the reference computation; the goldens match. */
static int test_cases(const char *dir, int regen)
{
    for (size_t k = 0; k < N_GCASES; k++) {
        qcase c;
        memset(&c, 0, sizeof c);
        if (gcases[k].build(&c)) {
            CHECK(0, "case %s: cannot build", gcases[k].name);
            qcase_free(&c);
            continue;
        }
        unsigned char *got = xmalloc(c.n_want + 64), *file = xmalloc(c.n_want + 64);
        char path[4096];
        snprintf(path, sizeof path, "%s/qexec_%s.bin", dir, gcases[k].name);
        for (size_t i = 0; i < N_CFG; i++) {
            size_t n = run_graph(c.g, c.t, &cfgs[i], c.in, got, NULL);
            size_t at = first_diff(got, c.want, c.n_want);
            CHECK(n == c.n_want && at == c.n_want, "case %s (%s): %zu bytes, want %zu; first difference at byte %zu "
                  "(got %d, want %d)", gcases[k].name, cfgs[i].name, n, c.n_want, at, at < n ? got[at] : -1,
                  at < c.n_want ? c.want[at] : -1);
        }
        if (regen) {
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(c.want, 1, c.n_want, f) != c.n_want || fclose(f)) {
                fprintf(stderr, "cannot write %s\n", path);
                exit(3);
            }
        } else {
            FILE *f = fopen(path, "rb");
            size_t n = f ? fread(file, 1, c.n_want + 1, f) : 0;
            if (f)
                fclose(f);
            size_t at = first_diff(file, c.want, c.n_want);
            CHECK(f && n == c.n_want && at == c.n_want, "golden qexec_%s: %s differs (%s, byte %zu)", gcases[k].name,
                  path, !f ? "missing" : n != c.n_want ? "size" : "content", at);
        }
        if (verbose)
            printf("case %s: %zu bytes\n", gcases[k].name, c.n_want);
        free(got);
        free(file);
        qcase_free(&c);
    }
    return 0;
}

/* ---- fusion, conversions, hybrid, errors --------------------------------------------------- */

static void test_fusion_counts(void)
{
    qcase c;
    memset(&c, 0, sizeof c);
    case_sigmoid(&c);
    qp_qexec *x;
    int layers, converts, fused;
    unsigned char buf[8192];
    run_graph(c.g, c.t, &cfgs[0], c.in, buf, &x);
    qp_qexec_counts(x, &layers, &converts, &fused);
    /* Sigmoid_0 reads a graph input and stands alone; the SiLU pair composes after Identity */
    CHECK(layers == 2 && fused == 2 && converts == 0, "sigmoid case: %d layers, %d fused, %d conversions", layers,
          fused, converts);
    qp_qexec_free(x);
    qcase_free(&c);

    memset(&c, 0, sizeof c);
    case_conv(&c);
    run_graph(c.g, c.t, &cfgs[0], c.in, buf, &x);
    qp_qexec_counts(x, &layers, &converts, &fused);
    CHECK(layers == 1 && fused == 1 && converts == 0, "conv + relu: %d layers, %d fused, %d conversions", layers, fused,
          converts);
    qp_qexec_free(x);
    qcase_free(&c);

    /* set_input_raw takes the integers as they are held: the same result */
    memset(&c, 0, sizeof c);
    case_conv(&c);
    qp_qexec_new(c.g, c.t, 0, &x);
    qp_qparams px = {0.02, 131, QP_QTYPE_U8};
    qp_tensor raw = c.in[0];
    raw.dtype = QP_DT_U8;
    raw.data = quant_input(&c.in[0], &px);
    raw.nbytes = (size_t)qp_tensor_numel(&raw);
    int rc = qp_qexec_set_input_raw(x, 0, &raw);
    rc = rc ? rc : qp_qexec_run(x);
    const qp_qtensor *o = qp_qexec_value(x, c.g->outputs[0]);
    CHECK(!rc && o && !memcmp(o->t.data, c.want, c.n_want), "set_input_raw: rc %d or a different result", rc);
    raw.dtype = QP_DT_I8;
    CHECK(qp_qexec_set_input_raw(x, 0, &raw) == QP_EINPUT, "set_input_raw accepts the wrong dtype");
    free(raw.data);
    qp_qexec_free(x);
    qcase_free(&c);

    memset(&c, 0, sizeof c);
    case_widen(&c);
    run_graph(c.g, c.t, &cfgs[0], c.in, buf, &x);
    qp_qexec_counts(x, &layers, &converts, &fused);
    CHECK(converts == 1, "u8 into a 16-bit conv: %d conversions, want 1", converts);
    qp_qexec_free(x);
    qcase_free(&c);
}

/* Conv (u8) -> Sigmoid as a bfloat16 layer -> Conv (16-bit): the float layer sees the
 * dequantized conv output, rounds its result to bfloat16, and the next conv quantizes it at the
 * boundary with parameters derived from the recorded range. */
static void test_hybrid(void)
{
    qp_graph *g = g_new(13);
    int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {2, 2, 1, 1};
    float w[4] = {0.5f, -0.25f, 0.75f, 1.0f};
    int x = g_input(g, "x", 4, xd);
    int wv = g_const(g, "w", QP_DT_F32, 4, wd, w);
    int i1[2] = {x, wv};
    int c1 = g_node(g, "Conv", "Conv_a", 2, i1, 1);
    int s_in = out0(g, c1);
    int sg = g_node(g, "Sigmoid", "Sigmoid_b", 1, &s_in, 1);
    int i2[2] = {out0(g, sg), wv};
    int c2 = g_node(g, "Conv", "Conv_c", 2, i2, 1);
    g_output(g, out0(g, sg));
    g_output(g, out0(g, c2));
    if (g_finish(g)) {
        CHECK(0, "hybrid: cannot build");
        return;
    }
    qp_qtable *t = qp_qtable_new(g);
    ent_u8(t, x, 0.01, 128);
    ent_u8(t, out0(g, c1), 0.02, 100);
    qp_qentry_set(t, &t->value[out0(g, sg)], QP_QZ_BFLOAT16, QP_DT_BF16, 0, NULL, NULL);
    t->value[out0(g, sg)].min = 0;
    t->value[out0(g, sg)].max = 1;
    ent_dfp(t, out0(g, c2), 12);
    ent(t, &t->weight[c1], QP_QZ_SYMMETRIC_AFFINE, QP_DT_I8, 1.0 / 127, 0);
    ent(t, &t->weight[c2], QP_QZ_DYNAMIC_FIXED_POINT, QP_DT_I16, ldexp(1, -14), 0);
    seed(11);
    qp_tensor in = ftensor(4, xd, -1, 1);
    unsigned char buf[4096];
    qp_qexec *qx;
    if (!run_graph(g, t, &cfgs[0], &in, buf, &qx)) {
        qp_tensor_free(&in);
        qp_qtable_free(t);
        qp_graph_free(g);
        return;
    }
    int layers, converts, fused;
    qp_qexec_counts(qx, &layers, &converts, &fused);
    CHECK(layers == 3 && converts == 2, "hybrid: %d layers, %d conversions (want 3, 2: dequantize, quantize)", layers,
          converts);
    const qp_qtensor *s = qp_qexec_value(qx, out0(g, sg));
    CHECK(s && s->r.kind == QP_QREP_FLOAT && s->r.fmt == QP_DT_BF16 && s->t.dtype == QP_DT_F32,
          "hybrid: the bfloat16 layer's output is not float32 held as bf16");
    int bf_ok = 1, close = 1;
    const float *sv = s ? s->t.data : NULL;
    for (int i = 0; sv && i < 32; i++) {
        uint32_t u;
        memcpy(&u, &sv[i], 4);
        bf_ok &= (u & 0xffff) == 0;
        close &= sv[i] > 0 && sv[i] < 1;
    }
    CHECK(bf_ok && close, "hybrid: sigmoid outputs are not bfloat16 values in (0, 1)");
    /* against the float graph within the quantization error */
    const qp_qtensor *o = qp_qexec_value(qx, out0(g, c2));
    qp_tensor deq;
    double err = 0;
    if (o && !qp_qexec_dequantize(o, &deq)) {
        const float *dv = deq.data;
        double e = 0;
        for (int oc = 0; oc < 2; oc++)
            for (int i = 0; i < 16; i++) {
                double s0 = sv[i], s1 = sv[16 + i];
                double want = w[oc * 2] * s0 + w[oc * 2 + 1] * s1;
                e = fmax(e, fabs(want - dv[oc * 16 + i]));
            }
        err = e;
        qp_tensor_free(&deq);
    }
    CHECK(err < 0.01, "hybrid: the 16-bit conv after the bf16 layer is off by %g", err);
    qp_qexec_free(qx);
    qp_tensor_free(&in);
    qp_qtable_free(t);
    qp_graph_free(g);
}

/* A layer without an integer rule for its quantized types is one error naming it. */
static void test_errors(void)
{
    static const struct { const char *op, *want; } cases[] = {
        {"Div", "layer 'Bad_0' (Div): no integer rule for Div of two tensors"},
        {"LogSoftmax", "layer 'Bad_0' (LogSoftmax): no integer rule for a u8"},
        {"Conv", "layer 'Bad_0' (Conv): the output is quantized but the weight has no quantized table entry"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        qp_graph *g = g_new(13);
        int64_t d[4] = {1, 2, 3, 3}, wd[4] = {2, 2, 1, 1};
        float w[4] = {1, 0, 0, 1};
        int a = g_input(g, "a", 4, d), b = g_input(g, "b", 4, d);
        int two[2] = {a, !strcmp(cases[k].op, "Conv") ? g_const(g, "w", QP_DT_F32, 4, wd, w) : b};
        int n_in = !strcmp(cases[k].op, "LogSoftmax") ? 1 : 2;
        int ni = g_node(g, cases[k].op, "Bad_0", n_in, two, 1);
        g_output(g, out0(g, ni));
        if (g_finish(g)) {
            CHECK(0, "errors %s: cannot build", cases[k].op);
            qp_graph_free(g);
            continue;
        }
        qp_qtable *t = qp_qtable_new(g);
        ent_u8(t, a, 0.1, 0);
        ent_u8(t, b, 0.1, 0);
        ent_u8(t, out0(g, ni), 0.1, 0);
        qp_qexec *x = NULL;
        int rc = qp_qexec_new(g, t, 0, &x);
        const char *msg = qp_error_msg();
        CHECK(rc == QP_EINPUT && !x && !strncmp(msg, cases[k].want, strlen(cases[k].want)) && !strchr(msg, '\n'),
              "errors %s: rc %d, message '%s', want it to start '%s'", cases[k].op, rc, msg, cases[k].want);
        qp_qexec_free(x);
        qp_qtable_free(t);
        qp_graph_free(g);
    }
}

/* ---- kernels: q_softmax, q_resize fast versus reference ------------------------------------ */

/* The worked examples of qpipe(7): Softmax of (0, -25) at s_x 0.08 into u8 s 1/256 is (225, 31);
 * half-pixel upsampling by 2 weighs the taps 512 and 1536. */
static void test_examples(void)
{
    qp_qparams px = {0.08, 0, QP_QTYPE_I8}, py = {1.0 / 256, 0, QP_QTYPE_U8};
    int32_t table[256];
    qp_softmax_q_params p;
    int8_t x[2] = {0, -25};
    uint8_t y[2];
    CHECK(!qp_softmax_q_init(&p, &px, &py, table) && table[0] == 1 << 30 && table[25] == 145315154,
          "softmax table: E[0] %d, E[25] %d", table[0], table[25]);
    qp_softmax_q__ref(&p, 1, 2, 1, x, y);
    CHECK(y[0] == 225 && y[1] == 31, "softmax example: (%d, %d), want (225, 31)", y[0], y[1]);
    qp_resize_params rp;
    memset(&rp, 0, sizeof rp);
    rp.mode = QP_RESIZE_LINEAR;
    rp.coord = QP_RESIZE_HALF_PIXEL;
    rp.rank = 1;
    rp.in[0] = 4;
    rp.out[0] = 8;
    rp.scale[0] = 2;
    int32_t i0[8], i1[8], lam[8];
    qp_resize_q_axis a = {0, 0, i0, i1, lam};
    qp_resize_q_axis_init(&rp, 0, &a);
    CHECK(lam[1] == 512 && lam[2] == 1536 && i0[1] == 0 && i1[1] == 1 && i0[0] == 0 && i1[0] == 0 && lam[0] == 1536,
          "resize example: lambda %d %d %d", lam[0], lam[1], lam[2]);
}

static void test_kernels(void)
{
    static const qp_qtype types[3] = {QP_QTYPE_U8, QP_QTYPE_I8, QP_QTYPE_I16};
    seed(12);
    for (int it = 0; it < 60; it++) {
        qp_qtype xt = types[it % 3], yt = types[(it / 3) % 3];
        size_t outer = 1 + (size_t)(it % 4), n = 1 + (size_t)((it * 7) % 37), inner = 1 + (size_t)(it % 3);
        qp_qparams px = {0.001 + 0.2 * (urand() + 1), (int32_t)(it % 2 ? qp_qtype_min(xt) : qp_qtype_max(xt) / 3), xt};
        if (xt == QP_QTYPE_I16)
            px.zp = 0, px.scale = ldexp(1, -(it % 14));
        qp_qparams py = {yt == QP_QTYPE_I16 ? ldexp(1, -15) : 1.0 / (yt == QP_QTYPE_U8 ? 256 : 255),
                         yt == QP_QTYPE_I8 ? -128 : 0, yt};
        size_t cnt = outer * n * inner;
        void *x = xmalloc(cnt * 2), *y0 = xmalloc(cnt * 2), *y1 = xmalloc(cnt * 2);
        for (size_t i = 0; i < cnt; i++) {
            int64_t lo = qp_qtype_min(xt), hi = qp_qtype_max(xt);
            int64_t v = it % 5 == 0 ? (i % 2 ? lo : hi) : lo + (int64_t)((urand() + 1) / 2 * (double)(hi - lo));
            qp_qstore(x, i, xt, (int32_t)v);
        }
        int32_t *table = xmalloc(65536 * sizeof *table);
        qp_softmax_q_params p;
        int rc = qp_softmax_q_init(&p, &px, &py, table);
        CHECK(rc == 0, "softmax init %d", it);
        qp_softmax_q__ref(&p, outer, n, inner, x, y0);
        for (int th = 1; th <= 2; th++) {
            qp_threads_set_count(th);
            qp_softmax_q(&p, outer, n, inner, x, y1);
            CHECK(!memcmp(y0, y1, cnt * qp_qtype_size(yt)), "softmax %d (%zux%zux%zu, %s -> %s, %d threads) differs",
                  it, outer, n, inner, qp_qtype_name(xt), qp_qtype_name(yt), th);
        }
        /* a row sums to about one */
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += py.scale * (qp_qload(y0, i * inner, yt) - py.zp);
        CHECK(fabs(s - 1) <= (double)n * py.scale, "softmax %d: a row sums to %g", it, s);
        free(table);
        free(x), free(y0), free(y1);
    }
    static const qp_resize_coord coords[] = {QP_RESIZE_HALF_PIXEL, QP_RESIZE_ALIGN_CORNERS, QP_RESIZE_ASYMMETRIC,
                                             QP_RESIZE_PYTORCH_HALF_PIXEL};
    for (int it = 0; it < 48; it++) {
        qp_qtype xt = types[it % 3], yt = types[(it + 1) % 3];
        qp_resize_params rp;
        memset(&rp, 0, sizeof rp);
        rp.mode = QP_RESIZE_LINEAR;
        rp.coord = coords[it % 4];
        rp.rank = 3;
        int64_t ih = 1 + it % 7, iw = 1 + (it * 5) % 11;
        double sh = it % 3 == 0 ? 0.5 : 1.0 + (it % 4), sw = it % 5 == 0 ? 0.75 : 2.0;
        rp.in[0] = rp.out[0] = 2;
        rp.in[1] = ih;
        rp.in[2] = iw;
        rp.out[1] = (int64_t)floor((double)ih * sh);
        rp.out[2] = (int64_t)floor((double)iw * sw);
        if (rp.out[1] < 1)
            rp.out[1] = 1;
        if (rp.out[2] < 1)
            rp.out[2] = 1;
        rp.scale[0] = 1;
        rp.scale[1] = sh;
        rp.scale[2] = sw;
        int32_t *tab = xmalloc(6 * 64 * sizeof *tab);
        qp_resize_q_axis ay = {0, 0, tab, tab + 64, tab + 128}, ax = {0, 0, tab + 192, tab + 256, tab + 320};
        CHECK(!qp_resize_q_axis_init(&rp, 1, &ay) && !qp_resize_q_axis_init(&rp, 2, &ax), "resize axes %d", it);
        qp_qparams px = {0.05, (int32_t)(xt == QP_QTYPE_I16 ? 0 : qp_qtype_max(xt) / 2), xt};
        qp_qparams py = {0.04, (int32_t)(yt == QP_QTYPE_I16 ? 0 : qp_qtype_min(yt) + 3), yt};
        size_t ni = 2 * (size_t)(ih * iw), no = 2 * (size_t)(rp.out[1] * rp.out[2]);
        void *x = xmalloc(ni * 2), *y0 = xmalloc(no * 2), *y1 = xmalloc(no * 2);
        for (size_t i = 0; i < ni; i++) {
            int64_t lo = qp_qtype_min(xt), hi = qp_qtype_max(xt);
            qp_qstore(x, i, xt, (int32_t)(it % 4 == 1 ? (i % 3 ? hi : lo) : lo + (int64_t)((urand() + 1) / 2 * (double)(hi - lo))));
        }
        qp_resize_q_args a = {2, &ay, &ax, 0, 0, 0, 0, 0, 0, {0, 0}, x, y0};
        CHECK(!qp_resize_q_init(&a, &px, &py), "resize init %d", it);
        qp_resize_q_linear__ref(&a);
        void *sc = xmalloc(qp_resize_q_scratch_size(&a) * 2 + 64);
        a.y = y1;
        for (int th = 1; th <= 2; th++) {
            qp_threads_set_count(th);
            memset(y1, 0, no * 2);
            qp_resize_q_linear(&a, sc);
            CHECK(!memcmp(y0, y1, no * qp_qtype_size(yt)), "resize %d (%lldx%lld -> %lldx%lld, coord %d, %d threads) "
                  "differs", it, (long long)ih, (long long)iw, (long long)rp.out[1], (long long)rp.out[2], (int)rp.coord, th);
        }
        free(sc), free(tab), free(x), free(y0), free(y1);
    }
    qp_threads_set_count(1);
}

int main(int argc, char **argv)
{
    const char *golden_dir = "tests/data/golden", *regen = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v"))
            verbose = 1;
        else if (!strcmp(argv[i], "--golden") && i + 1 < argc)
            golden_dir = argv[++i];
        else if (!strcmp(argv[i], "--regen") && i + 1 < argc)
            regen = argv[++i];
        else {
            fprintf(stderr, "usage: test_qexec [-v] [--golden DIR] [--regen DIR]\n");
            return 2;
        }
    }
    int rc = qp_qops_check_table();
    CHECK(rc == 0, "rule table: %s", rc ? qp_error_msg() : "");
    test_cases(regen ? regen : golden_dir, regen != NULL);
    if (!regen) {
        test_fusion_counts();
        test_hybrid();
        test_errors();
        test_examples();
        test_kernels();
    }
    qp_threads_shutdown();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
