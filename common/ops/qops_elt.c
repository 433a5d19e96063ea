/* Quantized elementwise rules.
 *
 * Unary functions (Relu, LeakyRelu, Elu, Selu, Sigmoid, HardSigmoid, HardSwish, Tanh, Exp,
 * Log, Sqrt, Neg, Abs, Reciprocal, Floor, Ceil, Round, Sign, Erf, Softplus, Softsign, Sin,
 * Cos, Clip) and binary ops with one scalar constant operand (Add, Sub, Mul, Div, Pow, Max,
 * Min, either operand order) are one table over the input's integers (qp/q_lut.h):
 * table[q] = quantize_out(f(dequantize_in(q))) with f evaluated in double, the constant read
 * as the float32 the model holds.
 *
 * Binary ops of two tensors (Add, Sub, Mul, Min, Max) run q_eltwise over numpy broadcasting
 * (contiguous runs against a run or a repeated element); a constant operand is quantized with
 * its own table entry (an Initializer layer), or, without one, with parameters of the output's
 * type derived from its data.  Div and Pow of two tensors have no integer rule. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/elt_bcast.h"
#include "qp/op.h"
#include "qp/q_eltwise.h"
#include "qp/q_lut.h"
#include "qp/qops.h"

enum fn {
    F_RELU, F_LEAKYRELU, F_ELU, F_SELU, F_SIGMOID, F_HARDSIGMOID, F_HARDSWISH, F_TANH, F_EXP,
    F_LOG, F_SQRT, F_NEG, F_ABS, F_RECIPROCAL, F_FLOOR, F_CEIL, F_ROUND, F_SIGN, F_ERF,
    F_SOFTPLUS, F_SOFTSIGN, F_SIN, F_COS, F_CLIP,
    F_ADD, F_SUB, F_MUL, F_DIV, F_POW, F_MAX, F_MIN,
    F_COUNT
};

static const char *const fn_names[F_COUNT] = {
    "Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Exp",
    "Log", "Sqrt", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf",
    "Softplus", "Softsign", "Sin", "Cos", "Clip",
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min",
};
_Static_assert(sizeof fn_names / sizeof fn_names[0] == F_COUNT, "fn_names must name every function");

static int fn_of(const char *op)
{
    for (int i = 0; i < F_COUNT; i++)
        if (!strcmp(fn_names[i], op))
            return i;
    return -1;
}

typedef struct fn_ctx {
    int fn;
    double alpha, beta, gamma;  /* attributes; Clip bounds */
    double c;                   /* the scalar constant of a binary op */
    int c_first;                /* the constant is the first operand */
} fn_ctx;

static double fn_eval(double x, const void *vctx)
{
    const fn_ctx *f = vctx;
    qp_lut_fn_args std = {QP_LUT_FN_COUNT, f->alpha, f->beta};
    double a = f->c_first ? f->c : x, b = f->c_first ? x : f->c;
    switch (f->fn) {
    /* the library's definitions (q_lut.c), so these tables equal the kernel goldens' */
    case F_RELU: std.fn = QP_LUT_RELU; return qp_lut_eval(x, &std);
    case F_LEAKYRELU: std.fn = QP_LUT_LEAKYRELU; return qp_lut_eval(x, &std);
    case F_SIGMOID: std.fn = QP_LUT_SIGMOID; return qp_lut_eval(x, &std);
    case F_HARDSIGMOID: std.fn = QP_LUT_HARDSIGMOID; return qp_lut_eval(x, &std);
    case F_HARDSWISH: std.fn = QP_LUT_HARDSWISH; return qp_lut_eval(x, &std);
    case F_TANH: std.fn = QP_LUT_TANH; return qp_lut_eval(x, &std);
    case F_EXP: std.fn = QP_LUT_EXP; return qp_lut_eval(x, &std);
    case F_CLIP: std.fn = QP_LUT_CLIP; return qp_lut_eval(x, &std);
    case F_ELU: return x > 0 ? x : f->alpha * expm1(x);
    case F_SELU: return f->gamma * (x > 0 ? x : f->alpha * expm1(x));
    case F_LOG: return log(x);
    case F_SQRT: return sqrt(x);
    case F_NEG: return -x;
    case F_ABS: return fabs(x);
    case F_RECIPROCAL: return 1.0 / x;
    case F_FLOOR: return floor(x);
    case F_CEIL: return ceil(x);
    case F_ROUND: return qp_rtne(x);
    case F_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
    case F_ERF: return erf(x);
    case F_SOFTPLUS: return log1p(exp(x));
    case F_SOFTSIGN: return x / (1 + fabs(x));
    case F_SIN: return sin(x);
    case F_COS: return cos(x);
    case F_ADD: return a + b;
    case F_SUB: return a - b;
    case F_MUL: return a * b;
    case F_DIV: return a / b;
    case F_POW: return pow(a, b);
    case F_MAX: return fmax(a, b);
    case F_MIN: return fmin(a, b);
    default: return NAN;
    }
}

/* ---- tables -------------------------------------------------------------------------------- */

typedef struct lut_state {
    int var;                    /* the input the table reads */
    qp_qtype in, out;
    void *table;
    int lut;                    /* binary ops: 1 in table mode */
    qp_q_elt_params e;          /* binary ops in tensor mode */
} lut_state;

static int build_table(qp_qnode *n, qp_arena *a, lut_state *s, const fn_ctx *f)
{
    const qp_qrep *ri = &n->in[s->var], *ro = &n->out[0];
    s->in = ri->q.type;
    s->out = ro->q.type;
    size_t entries = qp_lut_entries(s->in);
    s->table = qp_arena_alloc(a, entries * qp_qtype_size(s->out));
    if (!s->table)
        return QP_ESYS;
    if (qp_lut_build_ex(fn_eval, f, &ri->q, &ro->q, s->table))
        return qp_qops_error(n->g, n->ni, "cannot build the %s table (scales %g -> %g)", fn_names[f->fn], ri->q.scale,
                             ro->q.scale);
    s->lut = 1;
    return 0;
}

static int need_quant_out(qp_qnode *n)
{
    if (n->out[0].kind != QP_QREP_QUANT)
        return qp_qops_error(n->g, n->ni, "the output is not quantized");
    return 0;
}

/* A constant float input as a double (absent: dflt); -1 (error set) if not a constant scalar. */
static int const_scalar(qp_qnode *n, int i, double dflt, double *v)
{
    const qp_value *c = qp_op_in(n->g, n->ni, i);
    *v = dflt;
    if (!c)
        return 0;
    float f;
    if (!c->is_const || qp_op_const_floats(n->g, n->ni, i, &f, 1) != 1)
        return qp_qops_error(n->g, n->ni, "input %d ('%s') must be a constant scalar", i, c->name);
    *v = f;
    n->in[i].kind = QP_QREP_NONE;
    return 0;
}

static int attr(qp_qnode *n, const char *name, float dflt, double *v)
{
    float f;
    if (qp_op_attr_float(n->g, n->ni, name, dflt, &f))
        return QP_EINPUT;
    *v = f;
    return 0;
}

static int unary_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    lut_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    fn_ctx f = {fn_of(g->nodes[n->ni].op_type), 0, 0, 0, 0, 0};
    int rc = need_quant_out(n);
    if (!rc)
        rc = qp_qops_want_quant(n, 0, n->out[0].q.type, 1);
    if (rc)
        return rc;
    switch (f.fn) {
    case F_LEAKYRELU: rc = attr(n, "alpha", 0.01f, &f.alpha); break;
    case F_ELU: rc = attr(n, "alpha", 1.0f, &f.alpha); break;
    case F_SELU:
        rc = attr(n, "alpha", 1.67326319217681884765625f, &f.alpha);
        if (!rc)
            rc = attr(n, "gamma", 1.05070102214813232421875f, &f.gamma);
        break;
    case F_HARDSIGMOID:
        rc = attr(n, "alpha", 0.2f, &f.alpha);
        if (!rc)
            rc = attr(n, "beta", 0.5f, &f.beta);
        break;
    case F_CLIP:
        if (g->opset > 0 && g->opset < 11) {
            rc = attr(n, "min", -FLT_MAX, &f.alpha);
            if (!rc)
                rc = attr(n, "max", FLT_MAX, &f.beta);
        } else {
            rc = const_scalar(n, 1, -INFINITY, &f.alpha);
            if (!rc)
                rc = const_scalar(n, 2, INFINITY, &f.beta);
        }
        break;
    default: break;
    }
    if (rc)
        return rc;
    n->state = s;
    return build_table(n, a, s, &f);
}

static int lut_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out, void *scratch)
{
    (void)scratch;
    const lut_state *s = n->state;
    const qp_qtensor *x = in[s->var];
    qp_qops_lut(s->in, s->out, s->table, x->t.nbytes / qp_qtype_size(s->in), x->t.data, out[0]->t.data);
    return 0;
}

/* ---- binary ops ---------------------------------------------------------------------------- */

static int numel_of(const qp_value *v)
{
    size_t n;
    return qp_value_numel(v, &n) || n > 1 ? 2 : (int)n;
}

static int binary_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    const qp_node *nd = &g->nodes[n->ni];
    lut_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int rc = need_quant_out(n);
    if (rc)
        return rc;
    if (nd->n_in != 2)
        return qp_qops_error(g, n->ni, "%d inputs: only two have an integer rule", nd->n_in);
    int fn = fn_of(nd->op_type);
    const qp_value *va = qp_op_in(g, n->ni, 0), *vb = qp_op_in(g, n->ni, 1);
    int ca = va->is_const && numel_of(va) == 1, cb = vb->is_const && numel_of(vb) == 1;
    n->state = s;
    if (ca != cb) {
        /* x op c or c op x: one table over x */
        fn_ctx f = {fn, 0, 0, 0, 0, ca};
        s->var = ca ? 1 : 0;
        if ((rc = const_scalar(n, ca ? 0 : 1, 0, &f.c)) || (rc = qp_qops_want_quant(n, s->var, n->out[0].q.type, 1)))
            return rc;
        return build_table(n, a, s, &f);
    }
    static const struct { int fn; qp_q_eltop op; } ops[] = {
        {F_ADD, QP_Q_ELT_ADD}, {F_SUB, QP_Q_ELT_SUB}, {F_MUL, QP_Q_ELT_MUL}, {F_MIN, QP_Q_ELT_MIN}, {F_MAX, QP_Q_ELT_MAX},
    };
    int k = -1;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ops[i].fn == fn)
            k = (int)i;
    if (k < 0)
        return qp_qops_error(g, n->ni, "no integer rule for %s of two tensors (only of a tensor and a scalar constant)",
                             nd->op_type);
    for (int i = 0; i < 2; i++)
        if ((rc = qp_qops_want_quant(n, i, n->out[0].q.type, 1)))
            return rc;
    const qp_qparams *y = &n->out[0].q;
    if (qp_q_elt_init(&s->e, ops[k].op, &n->in[0].q, &n->in[1].q, y, (int32_t)qp_qtype_min(y->type),
                      (int32_t)qp_qtype_max(y->type)))
        return qp_qops_error(g, n->ni, "scales %g, %g -> %g cannot be requantized", n->in[0].q.scale, n->in[1].q.scale,
                             y->scale);
    return 0;
}

static int binary_set_clamp(qp_qnode *n, int32_t lo, int32_t hi)
{
    lut_state *s = n->state;
    if (s->lut)
        return -1;
    qp_q_elt_params e;
    if (qp_q_elt_init(&e, s->e.op, &s->e.a, &s->e.b, &s->e.y, lo, hi))
        return -1;
    s->e = e;
    return 0;
}

struct bin_job {
    const qp_q_elt_params *e;
    qp_elt_bcast plan;
    const char *a, *b;
    char *y;
    size_t sa, sb, sy;
};

static void bin_run(void *ctx, size_t n, const int64_t *off, const int64_t *inc, size_t yoff)
{
    const struct bin_job *j = ctx;
    qp_q_elt(j->e, n, j->a + (size_t)off[0] * j->sa, (size_t)inc[0], j->b + (size_t)off[1] * j->sb,
             (size_t)inc[1], j->y + yoff * j->sy);
}

static void bin_range(void *ctx, size_t b, size_t e)
{
    struct bin_job *j = ctx;
    qp_elt_bcast_walk(&j->plan, b, e, bin_run, j);
}

static int binary_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out, void *scratch)
{
    const lut_state *s = n->state;
    if (s->lut)
        return lut_run(n, in, out, scratch);
    const qp_tensor *a = &in[0]->t, *b = &in[1]->t;
    qp_tensor *y = &out[0]->t;
    if (y->rank > QP_ELT_MAX_RANK)
        return qp_qops_error(n->g, n->ni, "rank %d is above %d", y->rank, QP_ELT_MAX_RANK);
    struct bin_job j = {&s->e, {0}, a->data, b->data, y->data, qp_qtype_size(s->e.a.type),
                        qp_qtype_size(s->e.b.type), qp_qtype_size(s->e.y.type)};
    int ranks[2] = {a->rank, b->rank};
    const int64_t *shapes[2] = {a->dims, b->dims};
    qp_elt_bcast_init(&j.plan, y->rank, y->dims, 2, ranks, shapes);
    qp_qops_parallel(j.plan.numel, bin_range, &j);
    return 0;
}

/* ---- the table ----------------------------------------------------------------------------- */

#define UN(name) {name, QP_QOP_MAP_ELEMENTWISE, unary_prepare, lut_run, NULL}
#define BIN(name) {name, QP_QOP_MAP_ELEMENTWISE, binary_prepare, binary_run, binary_set_clamp}

const qp_qop qp_qops_elt[] = {
    BIN("Add"), BIN("Sub"), BIN("Mul"), BIN("Div"), BIN("Pow"), BIN("Max"), BIN("Min"),
    UN("Relu"), UN("LeakyRelu"), UN("Elu"), UN("Selu"), UN("Sigmoid"), UN("HardSigmoid"),
    UN("HardSwish"), UN("Tanh"), UN("Exp"), UN("Log"), UN("Sqrt"), UN("Neg"), UN("Abs"),
    UN("Reciprocal"), UN("Floor"), UN("Ceil"), UN("Round"), UN("Sign"), UN("Erf"), UN("Softplus"),
    UN("Softsign"), UN("Sin"), UN("Cos"), UN("Clip"),
    /* exact conversions of small values: run the float op, quantize at the boundary */
    {"Cast", QP_QOP_MAP_NONE, qp_qops_float_prepare, qp_qops_float_run, NULL},
    {"CastLike", QP_QOP_MAP_NONE, qp_qops_float_prepare, qp_qops_float_run, NULL},
};
const int qp_qops_elt_count = (int)(sizeof qp_qops_elt / sizeof qp_qops_elt[0]);
