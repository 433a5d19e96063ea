/* Elementwise ops: broadcasting binary arithmetic, comparisons and logic, the variadic
 * Sum/Mean/Max/Min, Where, the unary activations and math functions, Clip, Cast/CastLike,
 * Identity and Dropout (inference).  Shapes and attributes are checked here; the arithmetic
 * is in common/kernels/elt_*.c, cut into chunks for the thread pool. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/elt_bcast.h"
#include "qp/elt_binary.h"
#include "qp/elt_cast.h"
#include "qp/elt_unary.h"
#include "qp/op.h"
#include "qp/threads.h"

static int64_t opset(const qp_graph *g) { return g->opset > 0 ? g->opset : 17; }

static size_t numel_of(const qp_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->rank; d++)
        n *= (size_t)t->dims[d];
    return n;
}

/* ---- running element ranges on the thread pool ---------------------------------------------- */

#define CHUNK 32768     /* elements per task: the split depends on the size only */

typedef void (*range_fn)(void *ctx, size_t begin, size_t end);
struct par { range_fn fn; void *ctx; size_t n; };

static void par_task(void *c, int task, int worker)
{
    (void)worker;
    const struct par *p = c;
    size_t b = (size_t)task * CHUNK, e = b + CHUNK < p->n ? b + CHUNK : p->n;
    p->fn(p->ctx, b, e);
}

static void run_range(size_t n, range_fn fn, void *ctx)
{
    if (n <= CHUNK || qp_threads_count() == 1) {
        fn(ctx, 0, n);
        return;
    }
    struct par p = {fn, ctx, n};
    qp_parallel_for((int)((n + CHUNK - 1) / CHUNK), par_task, &p);
}

/* ---- shared checks -------------------------------------------------------------------------- */

static const char *dt_name(int dt) { return qp_dtype_name(dt); }

/* Inputs [first, last] are all given (no empty name among the operands). */
static int need_inputs(const qp_graph *g, int ni, int first, int last)
{
    for (int i = first; i <= last; i++)
        if (!qp_op_in(g, ni, i))
            return qp_op_error(g, ni, "input %d is missing (an empty name where an operand is required)", i);
    return 0;
}

static int need_same_dtype(const qp_graph *g, int ni, int first, int last)
{
    const qp_value *a = qp_op_in(g, ni, first);
    for (int i = first + 1; i <= last; i++) {
        const qp_value *b = qp_op_in(g, ni, i);
        if (b && b->dtype != a->dtype)
            return qp_op_error(g, ni, "input %d is %s but input %d is %s", first, dt_name(a->dtype), i,
                               dt_name(b->dtype));
    }
    return 0;
}

/* The broadcast shape of inputs [first, last]. */
static int bcast_inputs(const qp_graph *g, int ni, int first, int last, int *rank, int64_t *dims)
{
    const qp_value *v = qp_op_in(g, ni, first);
    *rank = v->rank;
    memcpy(dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    for (int i = first + 1; i <= last; i++) {
        v = qp_op_in(g, ni, i);
        int64_t tmp[QP_MAX_RANK];
        memcpy(tmp, dims, sizeof tmp);
        if (qp_op_broadcast(g, ni, *rank, tmp, v->rank, v->dims, rank, dims))
            return QP_EINPUT;
    }
    return 0;
}

/* ---- binary and variadic ops ----------------------------------------------------------------- */

static qp_elt_binop binop_of(const char *name)
{
    static const struct { const char *name; qp_elt_binop op; } map[] = {
        {"Add", QP_ELT_ADD}, {"Sub", QP_ELT_SUB}, {"Mul", QP_ELT_MUL}, {"Div", QP_ELT_DIV},
        {"Pow", QP_ELT_POW}, {"Max", QP_ELT_MAX}, {"Min", QP_ELT_MIN}, {"Sum", QP_ELT_ADD},
        {"Mean", QP_ELT_ADD}, {"PRelu", QP_ELT_PRELU}, {"Equal", QP_ELT_EQ}, {"Greater", QP_ELT_GT},
        {"Less", QP_ELT_LT}, {"GreaterOrEqual", QP_ELT_GE}, {"LessOrEqual", QP_ELT_LE},
        {"And", QP_ELT_AND}, {"Or", QP_ELT_OR}, {"Xor", QP_ELT_XOR},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].name, name))
            return map[i].op;
    return QP_ELT_BINOP_COUNT;
}

static int infer_binary(qp_graph *g, int ni)
{
    const qp_node *n = &g->nodes[ni];
    qp_elt_binop op = binop_of(n->op_type);
    int last = n->n_in - 1;
    if (need_inputs(g, ni, 0, last))
        return QP_EINPUT;
    const qp_value *a = qp_op_in(g, ni, 0);
    if (op == QP_ELT_POW) {
        const qp_value *b = qp_op_in(g, ni, 1);
        if (b->dtype != a->dtype && !(qp_elt_cast_supported(b->dtype, a->dtype) &&
                                      qp_elt_binary_supported(op, a->dtype)))
            return qp_op_error(g, ni, "exponent type %s is not supported with base type %s",
                               dt_name(b->dtype), dt_name(a->dtype));
    } else if (need_same_dtype(g, ni, 0, last))
        return QP_EINPUT;
    if (!qp_elt_binary_supported(op, a->dtype))
        return qp_op_error(g, ni, "input type %s is not supported", dt_name(a->dtype));
    if (op == QP_ELT_ADD && !strcmp(n->op_type, "Mean") && a->dtype != QP_DT_F32 && a->dtype != QP_DT_F64)
        return qp_op_error(g, ni, "input type %s is not supported", dt_name(a->dtype));
    int rank;
    int64_t dims[QP_MAX_RANK];
    if (bcast_inputs(g, ni, 0, last, &rank, dims))
        return QP_EINPUT;
    if (op == QP_ELT_PRELU) {
        /* the slope broadcasts to X (unidirectionally); the output has X's shape */
        int same = rank == a->rank;
        for (int d = 0; same && d < rank; d++)
            same = dims[d] == a->dims[d];
        if (!same)
            return qp_op_error(g, ni, "slope does not broadcast to the input's shape");
    }
    return qp_op_set_out(g, ni, 0, qp_elt_binary_out_dtype(op, a->dtype), rank, dims);
}

static int prepare_binary(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep)
{
    (void)a;
    const qp_value *x = qp_op_in(g, ni, 0), *e = qp_op_in(g, ni, 1);
    if (!strcmp(g->nodes[ni].op_type, "Pow") && e->dtype != x->dtype) {
        size_t n;
        if (qp_value_numel(e, &n))
            return QP_EINPUT;
        prep->scratch = n * qp_dtype_size(x->dtype);
    }
    return 0;
}

struct bin_job {
    qp_elt_binop op;
    int dtype;
    qp_elt_bcast plan;
    const void *a, *b;
    void *y;
};

static void bin_range(void *ctx, size_t b, size_t e)
{
    struct bin_job *j = ctx;
    qp_elt_binary(j->op, j->dtype, &j->plan, j->a, j->b, j->y, b, e);
}

static void binary_into(qp_elt_binop op, int dtype, const qp_tensor *a, const qp_tensor *b, qp_tensor *y)
{
    struct bin_job j = {op, dtype, {0}, a->data, b->data, y->data};
    int ranks[2] = {a->rank, b->rank};
    const int64_t *shapes[2] = {a->dims, b->dims};
    qp_elt_bcast_init(&j.plan, y->rank, y->dims, 2, ranks, shapes);
    run_range(j.plan.numel, bin_range, &j);
}

static int run_binary(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                      qp_tensor *const *out, void *scratch)
{
    (void)prep;
    const qp_node *n = &g->nodes[ni];
    qp_elt_binop op = binop_of(n->op_type);
    int dtype = in[0]->dtype;
    qp_tensor *y = out[0];
    if (n->n_in == 1) {
        memcpy(y->data, in[0]->data, numel_of(y) * qp_dtype_size(dtype));
        return 0;
    }
    qp_tensor b = *in[1];
    if (op == QP_ELT_POW && b.dtype != dtype) {
        qp_elt_cast(numel_of(&b), b.data, b.dtype, scratch, dtype);
        b.data = scratch;
        b.dtype = dtype;
    }
    binary_into(op, dtype, in[0], &b, y);
    for (int i = 2; i < n->n_in; i++)
        binary_into(op, dtype, y, in[i], y);
    if (!strcmp(n->op_type, "Mean")) {
        qp_tensor cnt = {0};
        double dn = n->n_in;
        float fn = (float)n->n_in;
        cnt.dtype = dtype;
        cnt.data = dtype == QP_DT_F32 ? (void *)&fn : (void *)&dn;
        binary_into(QP_ELT_DIV, dtype, y, &cnt, y);
    }
    return 0;
}

/* ---- Where ---------------------------------------------------------------------------------- */

static int infer_where(qp_graph *g, int ni)
{
    if (need_inputs(g, ni, 0, 2))
        return QP_EINPUT;
    const qp_value *c = qp_op_in(g, ni, 0), *x = qp_op_in(g, ni, 1);
    if (c->dtype != QP_DT_BOOL)
        return qp_op_error(g, ni, "condition is %s, expected bool", dt_name(c->dtype));
    if (need_same_dtype(g, ni, 1, 2))
        return QP_EINPUT;
    size_t es = qp_dtype_size(x->dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return qp_op_error(g, ni, "input type %s is not supported", dt_name(x->dtype));
    int rank;
    int64_t dims[QP_MAX_RANK];
    if (bcast_inputs(g, ni, 0, 2, &rank, dims))
        return QP_EINPUT;
    return qp_op_set_out(g, ni, 0, x->dtype, rank, dims);
}

struct where_job {
    size_t es;
    qp_elt_bcast plan;
    const void *c, *x, *z;
    void *y;
};

static void where_range(void *ctx, size_t b, size_t e)
{
    struct where_job *j = ctx;
    qp_elt_where(j->es, &j->plan, j->c, j->x, j->z, j->y, b, e);
}

static int run_where(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                     qp_tensor *const *out, void *scratch)
{
    (void)g, (void)ni, (void)prep, (void)scratch;
    struct where_job j = {qp_dtype_size(in[1]->dtype), {0}, in[0]->data, in[1]->data, in[2]->data, out[0]->data};
    int ranks[3] = {in[0]->rank, in[1]->rank, in[2]->rank};
    const int64_t *shapes[3] = {in[0]->dims, in[1]->dims, in[2]->dims};
    qp_elt_bcast_init(&j.plan, out[0]->rank, out[0]->dims, 3, ranks, shapes);
    run_range(j.plan.numel, where_range, &j);
    return 0;
}

/* ---- unary ops ------------------------------------------------------------------------------ */

static qp_elt_unop unop_of(const char *name)
{
    static const struct { const char *name; qp_elt_unop op; } map[] = {
        {"Relu", QP_ELT_RELU}, {"LeakyRelu", QP_ELT_LEAKYRELU}, {"Elu", QP_ELT_ELU},
        {"Selu", QP_ELT_SELU}, {"Clip", QP_ELT_CLIP}, {"Sigmoid", QP_ELT_SIGMOID},
        {"HardSigmoid", QP_ELT_HARDSIGMOID}, {"HardSwish", QP_ELT_HARDSWISH}, {"Tanh", QP_ELT_TANH},
        {"Exp", QP_ELT_EXP}, {"Log", QP_ELT_LOG}, {"Sqrt", QP_ELT_SQRT}, {"Neg", QP_ELT_NEG},
        {"Abs", QP_ELT_ABS}, {"Reciprocal", QP_ELT_RECIPROCAL}, {"Floor", QP_ELT_FLOOR},
        {"Ceil", QP_ELT_CEIL}, {"Round", QP_ELT_ROUND}, {"Sign", QP_ELT_SIGN}, {"Erf", QP_ELT_ERF},
        {"Softplus", QP_ELT_SOFTPLUS}, {"Softsign", QP_ELT_SOFTSIGN}, {"Sin", QP_ELT_SIN},
        {"Cos", QP_ELT_COS}, {"Not", QP_ELT_NOT},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].name, name))
            return map[i].op;
    return QP_ELT_UNOP_COUNT;
}

/* Attribute parameters of the unary ops (validated types; defaults per the ONNX spec). */
static int unary_attrs(const qp_graph *g, int ni, qp_elt_unop op, qp_elt_unary_params *p)
{
    memset(p, 0, sizeof *p);
    switch (op) {
    case QP_ELT_LEAKYRELU:
        return qp_op_attr_float(g, ni, "alpha", 0.01f, &p->alpha);
    case QP_ELT_ELU:
        return qp_op_attr_float(g, ni, "alpha", 1.0f, &p->alpha);
    case QP_ELT_SELU:
        return qp_op_attr_float(g, ni, "alpha", 1.67326319217681884765625f, &p->alpha) ||
               qp_op_attr_float(g, ni, "gamma", 1.05070102214813232421875f, &p->gamma);
    case QP_ELT_HARDSIGMOID:
        return qp_op_attr_float(g, ni, "alpha", 0.2f, &p->alpha) ||
               qp_op_attr_float(g, ni, "beta", 0.5f, &p->beta);
    default:
        return 0;
    }
}

static int infer_unary(qp_graph *g, int ni)
{
    qp_elt_unop op = unop_of(g->nodes[ni].op_type);
    const qp_value *x = qp_op_in(g, ni, 0);
    qp_elt_unary_params p;
    if (unary_attrs(g, ni, op, &p))
        return QP_EINPUT;
    if (!qp_elt_unary_supported(op, x->dtype))
        return qp_op_error(g, ni, "input type %s is not supported", dt_name(x->dtype));
    return qp_op_set_out(g, ni, 0, x->dtype, x->rank, x->dims);
}

struct un_job {
    qp_elt_unop op;
    int dtype;
    size_t es;
    qp_elt_unary_params p;
    const char *x;
    char *y;
};

static void un_range(void *ctx, size_t b, size_t e)
{
    struct un_job *j = ctx;
    qp_elt_unary(j->op, j->dtype, &j->p, e - b, j->x + b * j->es, j->y + b * j->es);
}

static void unary_into(qp_elt_unop op, const qp_elt_unary_params *p, const qp_tensor *x, qp_tensor *y)
{
    struct un_job j = {op, x->dtype, qp_dtype_size(x->dtype), *p, x->data, y->data};
    run_range(numel_of(x), un_range, &j);
}

static int run_unary(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                     qp_tensor *const *out, void *scratch)
{
    (void)prep, (void)scratch;
    qp_elt_unop op = unop_of(g->nodes[ni].op_type);
    qp_elt_unary_params p;
    unary_attrs(g, ni, op, &p);
    unary_into(op, &p, in[0], out[0]);
    return 0;
}

/* ---- Clip ----------------------------------------------------------------------------------- */

static int infer_clip(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    if (opset(g) < 11) {
        float lo, hi;
        if (qp_op_in(g, ni, 1) || qp_op_in(g, ni, 2))
            return qp_op_error(g, ni, "min and max are attributes before opset 11, not inputs");
        if (qp_op_attr_float(g, ni, "min", -FLT_MAX, &lo) || qp_op_attr_float(g, ni, "max", FLT_MAX, &hi))
            return QP_EINPUT;
        if (x->dtype != QP_DT_F32 && x->dtype != QP_DT_F64)
            return qp_op_error(g, ni, "input type %s is not supported", dt_name(x->dtype));
    } else {
        if (qp_node_attr(&g->nodes[ni], "min") || qp_node_attr(&g->nodes[ni], "max"))
            return qp_op_error(g, ni, "min and max are inputs from opset 11, not attributes");
        for (int i = 1; i <= 2; i++) {
            const qp_value *b = qp_op_in(g, ni, i);
            size_t n;
            if (!b)
                continue;
            if (b->dtype != x->dtype)
                return qp_op_error(g, ni, "%s is %s, the input is %s", i == 1 ? "min" : "max",
                                   dt_name(b->dtype), dt_name(x->dtype));
            if (qp_value_numel(b, &n) || n != 1)
                return qp_op_error(g, ni, "%s must be a scalar", i == 1 ? "min" : "max");
        }
    }
    if (!qp_elt_unary_supported(QP_ELT_CLIP, x->dtype))
        return qp_op_error(g, ni, "input type %s is not supported", dt_name(x->dtype));
    return qp_op_set_out(g, ni, 0, x->dtype, x->rank, x->dims);
}

/* A one-element tensor as double and as int64 (saturated). */
static void scalar_value(const qp_tensor *t, double *d, int64_t *i)
{
    qp_elt_cast(1, t->data, t->dtype, d, QP_DT_F64);
    qp_elt_cast(1, t->data, t->dtype, i, QP_DT_I64);
    if (t->dtype == QP_DT_U64 && *i < 0)
        *i = INT64_MAX;
}

static int run_clip(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                    qp_tensor *const *out, void *scratch)
{
    (void)prep, (void)scratch;
    qp_elt_unary_params p;
    memset(&p, 0, sizeof p);
    p.lo = -INFINITY;
    p.hi = INFINITY;
    p.ilo = INT64_MIN;
    p.ihi = INT64_MAX;
    if (opset(g) < 11) {
        float lo, hi;
        qp_op_attr_float(g, ni, "min", -FLT_MAX, &lo);
        qp_op_attr_float(g, ni, "max", FLT_MAX, &hi);
        p.lo = lo;
        p.hi = hi;
    } else {
        const int n_in = g->nodes[ni].n_in;
        if (n_in > 1 && in[1])
            scalar_value(in[1], &p.lo, &p.ilo);
        if (n_in > 2 && in[2])
            scalar_value(in[2], &p.hi, &p.ihi);
    }
    unary_into(QP_ELT_CLIP, &p, in[0], out[0]);
    return 0;
}

/* ---- Cast, CastLike, Identity, Dropout ------------------------------------------------------ */

static int infer_cast(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t to;
    if (!strcmp(g->nodes[ni].op_type, "CastLike"))
        to = qp_op_in(g, ni, 1)->dtype;
    else if (qp_op_attr_need(g, ni, "to") || qp_op_attr_int(g, ni, "to", 0, &to))
        return QP_EINPUT;
    if (to < 0 || to > 64 || !qp_elt_cast_supported(x->dtype, (int)to))
        return qp_op_error(g, ni, "cast from %s to type %lld is not supported", dt_name(x->dtype), (long long)to);
    return qp_op_set_out(g, ni, 0, (int)to, x->rank, x->dims);
}

struct cast_job { int from, to; size_t es, os; const char *x; char *y; };

static void cast_range(void *ctx, size_t b, size_t e)
{
    struct cast_job *j = ctx;
    qp_elt_cast(e - b, j->x + b * j->es, j->from, j->y + b * j->os, j->to);
}

static int run_cast(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                    qp_tensor *const *out, void *scratch)
{
    (void)g, (void)ni, (void)prep, (void)scratch;
    struct cast_job j = {in[0]->dtype, out[0]->dtype, qp_dtype_size(in[0]->dtype), qp_dtype_size(out[0]->dtype),
                         in[0]->data, out[0]->data};
    run_range(numel_of(in[0]), cast_range, &j);
    return 0;
}

static int infer_identity(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    return qp_op_set_out(g, ni, 0, x->dtype, x->rank, x->dims);
}

static int run_identity(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                        qp_tensor *const *out, void *scratch)
{
    (void)g, (void)ni, (void)prep, (void)scratch;
    if (out[0]->data != in[0]->data)
        memcpy(out[0]->data, in[0]->data, numel_of(in[0]) * qp_dtype_size(in[0]->dtype));
    return 0;
}

static int infer_dropout(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    float ratio;
    int64_t is_test = 1;
    if (opset(g) < 12) {
        if (g->nodes[ni].n_in > 1)
            return qp_op_error(g, ni, "ratio is an attribute before opset 12, not an input");
        if (qp_op_attr_float(g, ni, "ratio", 0.5f, &ratio) || qp_op_attr_int(g, ni, "is_test", 1, &is_test))
            return QP_EINPUT;
        if (!is_test)
            return qp_op_error(g, ni, "training mode (is_test = 0) is not supported");
    } else {
        if (qp_node_attr(&g->nodes[ni], "ratio"))
            return qp_op_error(g, ni, "ratio is an input from opset 12, not an attribute");
        const qp_value *t = qp_op_in(g, ni, 2);
        if (t) {
            int64_t mode = 0;
            if (t->dtype != QP_DT_BOOL || !t->is_const || t->nbytes != 1)
                return qp_op_error(g, ni, "training_mode must be a constant bool scalar");
            mode = *(const unsigned char *)t->data;
            if (mode)
                return qp_op_error(g, ni, "training mode is not supported");
        }
    }
    if (qp_op_set_out(g, ni, 0, x->dtype, x->rank, x->dims))
        return QP_EINPUT;
    return qp_op_set_out(g, ni, 1, opset(g) < 10 ? x->dtype : QP_DT_BOOL, x->rank, x->dims);
}

static int run_dropout(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                       qp_tensor *const *out, void *scratch)
{
    run_identity(g, ni, prep, in, out, scratch);
    if (g->nodes[ni].n_out > 1 && out[1]) {
        /* the mask of an inference dropout keeps everything */
        static const unsigned char one_b = 1;
        static const float one_f = 1;
        static const double one_d = 1;
        const void *one = out[1]->dtype == QP_DT_BOOL ? (const void *)&one_b
                        : out[1]->dtype == QP_DT_F64 ? (const void *)&one_d : (const void *)&one_f;
        int from = out[1]->dtype == QP_DT_BOOL ? QP_DT_BOOL : out[1]->dtype == QP_DT_F64 ? QP_DT_F64 : QP_DT_F32;
        size_t es = qp_dtype_size(out[1]->dtype), n = numel_of(out[1]);
        char v[16];
        qp_elt_cast(1, one, from, v, out[1]->dtype);
        for (size_t i = 0; i < n && es; i++)
            memcpy((char *)out[1]->data + i * es, v, es);
    }
    return 0;
}

/* ---- the table ------------------------------------------------------------------------------ */

#define BIN(name) {name, 2, 2, 1, 1, 0, 0, infer_binary, prepare_binary, run_binary}
#define VAR(name) {name, 1, QP_MAX_IO, 1, 1, 0, 0, infer_binary, NULL, run_binary}
#define UN(name) {name, 1, 1, 1, 1, 0, 0, infer_unary, NULL, run_unary}

const qp_op qp_ops_elementwise[] = {
    BIN("Add"), BIN("Sub"), BIN("Mul"), BIN("Div"), BIN("Pow"),
    VAR("Max"), VAR("Min"), VAR("Sum"), VAR("Mean"),
    BIN("Equal"), BIN("Greater"), BIN("Less"), BIN("GreaterOrEqual"), BIN("LessOrEqual"),
    BIN("And"), BIN("Or"), BIN("Xor"),
    {"PRelu", 2, 2, 1, 1, 0, 1u << 1, infer_binary, NULL, run_binary},
    {"Where", 3, 3, 1, 1, 0, 0, infer_where, NULL, run_where},
    UN("Relu"), UN("LeakyRelu"), UN("Elu"), UN("Selu"), UN("Sigmoid"), UN("HardSigmoid"),
    UN("HardSwish"), UN("Tanh"), UN("Exp"), UN("Log"), UN("Sqrt"), UN("Neg"), UN("Abs"),
    UN("Reciprocal"), UN("Floor"), UN("Ceil"), UN("Round"), UN("Sign"), UN("Erf"), UN("Softplus"),
    UN("Softsign"), UN("Sin"), UN("Cos"), UN("Not"),
    {"Clip", 1, 3, 1, 1, (1u << 1) | (1u << 2), 0, infer_clip, NULL, run_clip},
    {"Cast", 1, 1, 1, 1, 0, 0, infer_cast, NULL, run_cast},
    {"CastLike", 2, 2, 1, 1, 1u << 1, 0, infer_cast, NULL, run_cast},
    {"Identity", 1, 1, 1, 1, 0, 0, infer_identity, NULL, run_identity},
    {"Dropout", 1, 3, 1, 2, (1u << 1) | (1u << 2), 0, infer_dropout, NULL, run_dropout},
};
const int qp_ops_elementwise_count = (int)(sizeof qp_ops_elementwise / sizeof qp_ops_elementwise[0]);
