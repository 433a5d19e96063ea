/* The quantized rule table (qp/qops.h) and what the families and the executor share:
 * representations from table entries, boundary parameters, conversions, the float rule. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/op.h"
#include "qp/q_convert.h"
#include "qp/q_lut.h"
#include "qp/qops.h"
#include "qp/threads.h"

struct family { const qp_qop *ops; const int *count; };
static const struct family families[] = {
#define QP_QOPS_ENTRY_(f) { qp_qops_##f, &qp_qops_##f##_count },
    QP_QOPS_FAMILIES(QP_QOPS_ENTRY_)
#undef QP_QOPS_ENTRY_
};
#define N_FAMILIES (sizeof families / sizeof families[0])

const qp_qop *qp_qops_find(const char *op_type)
{
    for (size_t f = 0; f < N_FAMILIES; f++)
        for (int i = 0; i < *families[f].count; i++)
            if (!strcmp(families[f].ops[i].name, op_type))
                return &families[f].ops[i];
    return NULL;
}

int qp_qops_check_table(void)
{
    for (size_t f = 0; f < N_FAMILIES; f++)
        for (int i = 0; i < *families[f].count; i++) {
            const qp_qop *r = &families[f].ops[i];
            if (qp_op_find(r->name) < 0)
                return qp_errorf(QP_EINPUT, "quantized rule '%s' has no float op", r->name);
            if (qp_qops_find(r->name) != r)
                return qp_errorf(QP_EINPUT, "quantized rule '%s' appears twice", r->name);
            if (!r->prepare || !r->run)
                return qp_errorf(QP_EINPUT, "quantized rule '%s' lacks prepare or run", r->name);
        }
    return 0;
}

int qp_qops_error(const qp_graph *g, int ni, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    const qp_node *n = &g->nodes[ni];
    return qp_errorf(QP_EINPUT, "layer '%s' (%s): %s", qp_node_key(n), n->op_type, buf);
}

/* ---- representations ----------------------------------------------------------------------- */

int qp_qtype_of_dtype(int dtype)
{
    switch (dtype) {
    case QP_DT_U8: return QP_QTYPE_U8;
    case QP_DT_I8: return QP_QTYPE_I8;
    case QP_DT_I16: return QP_QTYPE_I16;
    case QP_DT_I32: return QP_QTYPE_I32;
    case QP_DT_I64: return QP_QTYPE_I64;
    default: return -1;
    }
}

int qp_dtype_of_qtype(qp_qtype t)
{
    static const int map[QP_QTYPE_COUNT] = {QP_DT_U8, QP_DT_I8, QP_DT_I16, QP_DT_I32, QP_DT_I64};
    return (int)t >= 0 && t < QP_QTYPE_COUNT ? map[t] : QP_DT_UNDEFINED;
}

int qp_qrep_of_entry(const qp_qentry *e, qp_qrep *r)
{
    memset(r, 0, sizeof *r);
    r->min = 1;
    r->max = 0;     /* unknown */
    if (e && (e->min != 0 || e->max != 0) && e->min <= e->max) {
        r->min = e->min;
        r->max = e->max;
    }
    int qz = e ? e->quantizer : QP_QZ_NONE;
    if (qp_quantizer_is_float(qz)) {
        r->kind = QP_QREP_FLOAT;
        r->fmt = qz == QP_QZ_BFLOAT16 ? QP_DT_BF16 : qz == QP_QZ_FLOAT16 ? QP_DT_F16 : QP_DT_F32;
        if (qz == QP_QZ_NONE && e && (e->qtype == QP_DT_BF16 || e->qtype == QP_DT_F16))
            r->fmt = e->qtype;
        return 0;
    }
    if (qz < 0 || qz >= QP_QZ_COUNT)
        return qp_errorf(QP_EINPUT, "unknown quantizer %d", qz);
    int t = qp_qtype_of_dtype(e->qtype);
    if (t != QP_QTYPE_U8 && t != QP_QTYPE_I8 && t != QP_QTYPE_I16)
        return qp_errorf(QP_EINPUT, "%s activations of type %s are not supported (u8, i8 or i16)",
                         qp_quantizer_name(qz), qp_dtype_name(e->qtype));
    if (e->n > 1)
        return qp_errorf(QP_EINPUT, "per-channel parameters (%d scales) on an activation are not supported",
                         e->n);
    double scale = e->n == 1 && e->scale ? e->scale[0] : 0;
    if (qz == QP_QZ_DYNAMIC_FIXED_POINT && !(scale > 0))
        scale = ldexp(1.0, -e->fl);
    int32_t zp = e->n == 1 && e->zero_point ? e->zero_point[0] : 0;
    if (!(scale > 0) || !isfinite(scale))
        return qp_errorf(QP_EINPUT, "scale %g is not a positive number", scale);
    if (zp < qp_qtype_min((qp_qtype)t) || zp > qp_qtype_max((qp_qtype)t))
        return qp_errorf(QP_EINPUT, "zero point %d is outside %s", (int)zp, qp_qtype_name((qp_qtype)t));
    r->kind = QP_QREP_QUANT;
    r->q.type = (qp_qtype)t;
    r->q.scale = scale;
    r->q.zp = zp;
    return 0;
}

int qp_qrep_derive(qp_qtype t, double min, double max, qp_qparams *q)
{
    if (!(min <= max) || !isfinite(min) || !isfinite(max))
        return -1;
    min = min < 0 ? min : 0;
    max = max > 0 ? max : 0;
    q->type = t;
    if (t == QP_QTYPE_I16) {
        double a = fmax(-min, max);
        int fl = 15;
        if (a > 0) {
            fl = (int)floor(log2(32767.0 / a));
            while (fl > -31 && ldexp(32767.0, -fl) < a)
                fl--;
            fl = fl > 40 ? 40 : fl < -31 ? -31 : fl;
        }
        *q = qp_qparams_dfp(QP_QTYPE_I16, fl);
        return 0;
    }
    if (t != QP_QTYPE_U8 && t != QP_QTYPE_I8)
        return -1;
    double lo = (double)qp_qtype_min(t), hi = (double)qp_qtype_max(t);
    q->scale = max > min ? (max - min) / (hi - lo) : 1.0;
    q->zp = (int32_t)qp_clamp64((int64_t)qp_rtne(lo - min / q->scale), (int64_t)lo, (int64_t)hi);
    return 0;
}

void qp_qrep_range(const qp_qrep *r, double *min, double *max)
{
    if (r->kind != QP_QREP_QUANT) {
        *min = r->min;
        *max = r->max;
        return;
    }
    *min = r->q.scale * (double)(qp_qtype_min(r->q.type) - r->q.zp);
    *max = r->q.scale * (double)(qp_qtype_max(r->q.type) - r->q.zp);
}

int qp_qrep_equal(const qp_qrep *a, const qp_qrep *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == QP_QREP_QUANT)
        return a->q.type == b->q.type && a->q.scale == b->q.scale && a->q.zp == b->q.zp;
    if (a->kind == QP_QREP_FLOAT)
        return a->fmt == b->fmt;
    return 1;
}

const char *qp_qrep_format(const qp_qrep *r, int graph_dtype, char *buf, size_t n)
{
    switch (r->kind) {
    case QP_QREP_QUANT:
        snprintf(buf, n, "%s(s=%.6g, zp=%d)", qp_qtype_name(r->q.type), r->q.scale, (int)r->q.zp);
        break;
    case QP_QREP_FLOAT:
        snprintf(buf, n, "%s", r->fmt == QP_DT_BF16 ? "bf16" : r->fmt == QP_DT_F16 ? "fp16" : "f32");
        break;
    case QP_QREP_NATIVE:
        snprintf(buf, n, "%s", qp_dtype_name(graph_dtype));
        break;
    default:
        snprintf(buf, n, "none");
    }
    return buf;
}

int qp_qops_want_quant(qp_qnode *n, int i, qp_qtype t, int allow16)
{
    qp_qrep *r = &n->in[i];
    if (r->kind == QP_QREP_QUANT && (allow16 || r->q.type != QP_QTYPE_I16))
        return 0;
    double lo, hi;
    qp_qrep_range(r, &lo, &hi);
    qp_qparams q;
    if (r->kind == QP_QREP_NATIVE || qp_qrep_derive(t, lo, hi, &q)) {
        const qp_value *v = &n->g->values[n->g->nodes[n->ni].in[i]];
        return qp_qops_error(n->g, n->ni, "input %d ('%s') is %s and has no recorded range to quantize it to %s", i,
                             v->name, r->kind == QP_QREP_NATIVE ? qp_dtype_name(v->dtype) : "not quantized",
                             qp_qtype_name(t));
    }
    r->kind = QP_QREP_QUANT;
    r->q = q;
    return 0;
}

int qp_qops_want_q16(qp_qnode *n, int i)
{
    qp_qrep *r = &n->in[i];
    if (r->kind == QP_QREP_QUANT && r->q.type == QP_QTYPE_I16 && r->q.zp == 0)
        return 0;
    if (r->kind == QP_QREP_QUANT && r->q.type != QP_QTYPE_I16) {
        r->q.type = QP_QTYPE_I16; /* q - zp in [-255, 255]: exact */
        r->q.zp = 0;
        return 0;
    }
    if (r->kind == QP_QREP_QUANT) {
        qp_qrep_range(r, &r->min, &r->max);
        r->kind = QP_QREP_FLOAT;
    }
    return qp_qops_want_quant(n, i, QP_QTYPE_I16, 1);
}

/* ---- parallel elementwise helpers ---------------------------------------------------------- */

#define CHUNK 65536     /* elements per task: the split depends on the size only */

struct par { void (*fn)(void *, size_t, size_t); void *ctx; size_t n; };

static void par_task(void *c, int task, int worker)
{
    (void)worker;
    const struct par *p = c;
    size_t b = (size_t)task * CHUNK, e = b + CHUNK < p->n ? b + CHUNK : p->n;
    p->fn(p->ctx, b, e);
}

void qp_qops_parallel(size_t n, void (*fn)(void *ctx, size_t begin, size_t end), void *ctx)
{
    if (n <= CHUNK || qp_threads_count() == 1) {
        if (n)
            fn(ctx, 0, n);
        return;
    }
    struct par p = {fn, ctx, n};
    qp_parallel_for((int)((n + CHUNK - 1) / CHUNK), par_task, &p);
}

struct conv_job {
    const qp_qrep *from, *to;
    qp_qconvert c;
    size_t xs, ys;
    const char *x;
    char *y;
};

static void conv_range(void *ctx, size_t b, size_t e)
{
    const struct conv_job *j = ctx;
    const char *x = j->x + b * j->xs;
    char *y = j->y + b * j->ys;
    size_t n = e - b;
    const qp_qrep *f = j->from, *t = j->to;
    if (f->kind == QP_QREP_QUANT && t->kind == QP_QREP_QUANT) {
        qp_q_convert(&j->c, f->q.type, t->q.type, n, x, y);
    } else if (f->kind == QP_QREP_QUANT) {
        qp_q_dequantize_f32(&f->q, n, x, (float *)y);
        if (t->fmt == QP_DT_BF16)
            qp_round_bf16_f32(n, (float *)y, (float *)y);
        else if (t->fmt == QP_DT_F16)
            qp_round_fp16_f32(n, (float *)y, (float *)y);
    } else if (t->kind == QP_QREP_QUANT) {
        qp_q_quantize_f32(&t->q, n, (const float *)x, y);
    } else if (f->kind == QP_QREP_FLOAT && t->kind == QP_QREP_FLOAT && t->fmt == QP_DT_BF16) {
        qp_round_bf16_f32(n, (const float *)x, (float *)y);
    } else if (f->kind == QP_QREP_FLOAT && t->kind == QP_QREP_FLOAT && t->fmt == QP_DT_F16) {
        qp_round_fp16_f32(n, (const float *)x, (float *)y);
    } else if (x != y) {
        memcpy(y, x, n * j->ys);
    }
}

static size_t rep_size(const qp_qrep *r)
{
    return r->kind == QP_QREP_QUANT ? qp_qtype_size(r->q.type) : 4;
}

void qp_qops_convert(const qp_qrep *from, const qp_qrep *to, size_t n, const void *x, void *y)
{
    struct conv_job j = {from, to, {{0, 0}, 0, 0, 0, 0, 0}, rep_size(from), rep_size(to), x, y};
    if (from->kind == QP_QREP_QUANT && to->kind == QP_QREP_QUANT)
        qp_qconvert_init(&from->q, &to->q, &j.c);   /* checked by the caller when it planned */
    qp_qops_parallel(n, conv_range, &j);
}

struct lut_job { qp_qtype in, out; const void *table; const char *x; char *y; };

static void lut_range(void *ctx, size_t b, size_t e)
{
    const struct lut_job *j = ctx;
    qp_lut_apply(j->in, j->out, j->table, e - b, j->x + b * qp_qtype_size(j->in), j->y + b * qp_qtype_size(j->out));
}

void qp_qops_lut(qp_qtype in, qp_qtype out, const void *table, size_t n, const void *x, void *y)
{
    struct lut_job j = {in, out, table, x, y};
    qp_qops_parallel(n, lut_range, &j);
}

/* ---- the float rule ------------------------------------------------------------------------ */

/* Float layers (table entry bfloat16, float16 or float32) and nodes whose outputs are not float
 * tensors run the float op: quantized inputs are dequantized (a boundary conversion), constant
 * inputs are the graph's own data, float outputs are rounded to the layer's format, and an
 * output the table quantizes is produced in float32 and quantized at the boundary. */
typedef struct float_state {
    const qp_op *op;
    qp_op_prep prep;
} float_state;

int qp_qops_float_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    const qp_node *nd = &g->nodes[n->ni];
    float_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    s->op = qp_op_get(nd->op);
    if (!s->op)
        return qp_qops_error(g, n->ni, "op is not bound");
    for (int i = 0; i < n->n_in; i++) {
        if (nd->in[i] < 0)
            continue;
        if (g->values[nd->in[i]].is_const) {
            n->in[i].kind = QP_QREP_NATIVE;     /* the graph's data as it is */
        } else if (n->in[i].kind == QP_QREP_QUANT) {
            qp_qrep_range(&n->in[i], &n->in[i].min, &n->in[i].max);
            n->in[i].kind = QP_QREP_FLOAT;
            n->in[i].fmt = QP_DT_F32;
        }
    }
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k].kind == QP_QREP_QUANT) {
            n->out[k].kind = QP_QREP_FLOAT;
            n->out[k].fmt = QP_DT_F32;
        }
    int rc = s->op->prepare ? s->op->prepare(g, n->ni, a, &s->prep) : 0;
    if (rc)
        return rc;
    n->state = s;
    n->scratch = s->prep.scratch;
    return 0;
}

struct round_job { int fmt; float *y; };

static void round_range(void *ctx, size_t b, size_t e)
{
    const struct round_job *j = ctx;
    if (j->fmt == QP_DT_BF16)
        qp_round_bf16_f32(e - b, j->y + b, j->y + b);
    else
        qp_round_fp16_f32(e - b, j->y + b, j->y + b);
}

int qp_qops_float_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out,
                      void *scratch)
{
    const float_state *s = n->state;
    const qp_tensor *fin[QP_MAX_IO];
    qp_tensor *fout[QP_MAX_IO];
    for (int i = 0; i < n->n_in; i++)
        fin[i] = in[i] ? &in[i]->t : NULL;
    for (int k = 0; k < n->n_out; k++)
        fout[k] = out[k] ? &out[k]->t : NULL;
    int rc = s->op->run(n->g, n->ni, &s->prep, fin, fout, scratch);
    if (rc)
        return rc;
    for (int k = 0; k < n->n_out; k++)
        if (out[k] && out[k]->r.kind == QP_QREP_FLOAT && out[k]->r.fmt != QP_DT_F32) {
            struct round_job j = {out[k]->r.fmt, out[k]->t.data};
            qp_qops_parallel(out[k]->t.nbytes / sizeof(float), round_range, &j);
        }
    return 0;
}

static const qp_qop float_rule = {"(float)", QP_QOP_MAP_NONE, qp_qops_float_prepare, qp_qops_float_run, NULL};

const qp_qop *qp_qops_float(void)
{
    return &float_rule;
}
