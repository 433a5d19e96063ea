/* The quantization table: which tensors of a graph it describes (slots, in graph order),
 * how their Acuity keys are spelled and resolved, and the rules every entry obeys.  Only libc:
 * the NBG runtime (nbg.c) builds on it.  The IR section "qtable" and the YAML files are
 * qtable_ir.c, parsing the YAML is qtable_yaml.c, building from statistics qtable_build.c,
 * the arithmetic qtable_algo.c. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/keys.h"
#include "qp/op.h"
#include "qp/qtable.h"
#include "qp/qtable_algo.h"
#include "qp/requant.h"

/* ---- names ---------------------------------------------------------------------------------- */

static const char *const quantizer_names[] = {
    [QP_QZ_NONE] = "float32",
    [QP_QZ_ASYMMETRIC_AFFINE] = "asymmetric_affine",
    [QP_QZ_SYMMETRIC_AFFINE] = "symmetric_affine",
    [QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE] = "perchannel_symmetric_affine",
    [QP_QZ_DYNAMIC_FIXED_POINT] = "dynamic_fixed_point",
    [QP_QZ_BFLOAT16] = "bfloat16",
    [QP_QZ_FLOAT16] = "float16",
};
_Static_assert(sizeof quantizer_names / sizeof *quantizer_names == QP_QZ_COUNT, "name every quantizer");

const char *qp_quantizer_name(int quantizer)
{
    return quantizer >= 0 && quantizer < QP_QZ_COUNT ? quantizer_names[quantizer] : "?";
}

int qp_quantizer_parse(const char *name)
{
    for (int i = 0; i < QP_QZ_COUNT; i++)
        if (!strcmp(name, quantizer_names[i]))
            return i;
    if (!strcmp(name, "qbfloat16")) /* Acuity's other spelling */
        return QP_QZ_BFLOAT16;
    return -1;
}

static const struct {
    int dt, bits;
    const char *name, *long_name;
} qtypes[] = {
    {QP_DT_U8, 8, "u8", "uint8"},         {QP_DT_I8, 8, "i8", "int8"},
    {QP_DT_I16, 16, "i16", "int16"},      {QP_DT_I32, 32, "i32", "int32"},
    {QP_DT_I64, 64, "i64", "int64"},      {QP_DT_BF16, 0, "bf16", "bfloat16"},
    {QP_DT_F16, 0, "f16", "float16"},     {QP_DT_F32, 0, "f32", "float32"},
};
#define N_QTYPES ((int)(sizeof qtypes / sizeof *qtypes))

const char *qp_qtable_qtype_name(int qtype)
{
    for (int i = 0; i < N_QTYPES; i++)
        if (qtypes[i].dt == qtype)
            return qtypes[i].name;
    return "?";
}

int qp_qtable_qtype_parse(const char *s)
{
    for (int i = 0; i < N_QTYPES; i++)
        if (!strcmp(s, qtypes[i].name) || !strcmp(s, qtypes[i].long_name))
            return qtypes[i].dt;
    return 0;
}

int qp_qtable_qtype_bits(int qtype)
{
    for (int i = 0; i < N_QTYPES; i++)
        if (qtypes[i].dt == qtype)
            return qtypes[i].bits;
    return 0;
}

int qp_qtable_qtype_allowed(int quantizer, int qtype, int bias)
{
    switch (quantizer) {
    case QP_QZ_NONE: return qtype == QP_DT_F32;
    case QP_QZ_BFLOAT16: return qtype == QP_DT_BF16;
    case QP_QZ_FLOAT16: return qtype == QP_DT_F16;
    case QP_QZ_ASYMMETRIC_AFFINE:
        if (!bias && qtype == QP_DT_U8)
            return 1;
        /* fall through */
    case QP_QZ_SYMMETRIC_AFFINE:
    case QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE:
    case QP_QZ_DYNAMIC_FIXED_POINT:
        return bias ? qtype == QP_DT_I32 || qtype == QP_DT_I64 : qtype == QP_DT_I8 || qtype == QP_DT_I16;
    default: return 0;
    }
}

static qp_qtype to_qtype(int dt)
{
    switch (dt) {
    case QP_DT_U8: return QP_QTYPE_U8;
    case QP_DT_I8: return QP_QTYPE_I8;
    case QP_DT_I16: return QP_QTYPE_I16;
    case QP_DT_I32: return QP_QTYPE_I32;
    default: return QP_QTYPE_I64;
    }
}

/* ---- the table ------------------------------------------------------------------------------ */

static void init_entries(qp_qentry *e, int n)
{
    for (int i = 0; i < n; i++)
        e[i].channel_dim = -1;
}

qp_qtable *qp_qtable_new(const qp_graph *g)
{
    qp_arena *a = qp_arena_new(1 << 16);
    if (!a)
        return NULL;
    qp_qtable *t = qp_arena_alloc(a, sizeof *t);
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1, no = (size_t)g->n_outputs + 1;
    if (t) {
        t->arena = a;
        t->g = g;
        t->value = qp_arena_array(a, nv, sizeof *t->value);
        t->weight = qp_arena_array(a, nn, sizeof *t->weight);
        t->bias = qp_arena_array(a, nn, sizeof *t->bias);
        t->custom = qp_arena_array(a, nn, sizeof *t->custom);
        t->custom_value = qp_arena_array(a, nv, sizeof *t->custom_value);
        t->custom_output = qp_arena_array(a, no, sizeof *t->custom_output);
        t->bias_corr = qp_arena_array(a, nn, sizeof *t->bias_corr);
    }
    if (!t || !t->value || !t->weight || !t->bias || !t->custom || !t->custom_value || !t->custom_output ||
        !t->bias_corr) {
        qp_arena_free(a);
        qp_errorf(QP_ESYS, "out of memory");
        return NULL;
    }
    init_entries(t->value, g->n_values);
    init_entries(t->weight, g->n_nodes);
    init_entries(t->bias, g->n_nodes);
    return t;
}

void qp_qtable_free(qp_qtable *t)
{
    if (t)
        qp_arena_free(t->arena);
}

int qp_qentry_set(qp_qtable *t, qp_qentry *e, int quantizer, int qtype, int n, const double *scale,
                  const int32_t *zp)
{
    e->quantizer = quantizer;
    e->qtype = qtype;
    e->n = n;
    e->scale = NULL;
    e->zero_point = NULL;
    if (n <= 0)
        return 0;
    e->scale = qp_arena_array(t->arena, (size_t)n, sizeof *e->scale);
    e->zero_point = qp_arena_array(t->arena, (size_t)n, sizeof *e->zero_point);
    if (!e->scale || !e->zero_point)
        return qp_errorf(QP_ESYS, "out of memory");
    if (scale)
        memcpy(e->scale, scale, sizeof *scale * (size_t)n);
    if (zp)
        memcpy(e->zero_point, zp, sizeof *zp * (size_t)n);
    return 0;
}

/* ---- slots ---------------------------------------------------------------------------------- */

static int is_float(int dt)
{
    return dt == QP_DT_F32 || dt == QP_DT_F16 || dt == QP_DT_BF16 || dt == QP_DT_F64;
}

static int is_graph_input(const qp_graph *g, int vi)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == vi)
            return 1;
    return 0;
}

static int is_graph_output(const qp_graph *g, int vi)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == vi)
            return 1;
    return 0;
}

static size_t numel_of(const qp_value *v)
{
    size_t n = 0;
    return qp_value_numel(v, &n) ? 0 : n;
}

/* Weight port of node ni ("weight" 1, "bias" 2): the constant float value there, or -1. */
static int weight_value(const qp_graph *g, int ni, int port)
{
    const qp_node *n = &g->nodes[ni];
    const char *op = n->op_type;
    int ok = port == QP_QPORT_WEIGHT ? !strcmp(op, "Conv") || !strcmp(op, "ConvTranspose") || !strcmp(op, "Gemm") ||
                                            !strcmp(op, "MatMul")
                                      : !strcmp(op, "Conv") || !strcmp(op, "ConvTranspose") || !strcmp(op, "Gemm");
    int j = port == QP_QPORT_WEIGHT ? 1 : 2;
    if (!ok || j >= n->n_in || n->in[j] < 0)
        return -1;
    const qp_value *v = &g->values[n->in[j]];
    return v->is_const && is_float(v->dtype) && numel_of(v) > 0 ? n->in[j] : -1;
}

/* A value that can hold an entry: a float graph input, node output or keyed constant. */
static int value_slot(const qp_graph *g, int vi)
{
    const qp_value *v = &g->values[vi];
    if (!is_float(v->dtype))
        return 0;
    return v->producer >= 0 || is_graph_input(g, vi) || (v->is_const && v->key && v->key[0]);
}

/* Whether a complete table needs that value: constant layers only when something reads them
 * as data (not only through parameter ports such as Resize's scales). */
static int value_required(const qp_graph *g, int vi)
{
    const qp_value *v = &g->values[vi];
    if (!v->is_const || v->producer >= 0)
        return 1;
    if (numel_of(v) == 0)
        return 0;
    if (is_graph_output(g, vi))
        return 1;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        const qp_op *op = qp_op_get(n->op);
        uint32_t mask = op ? op->param_mask | op->weight_mask : 0;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == vi && !(j < 32 && (mask >> j & 1)))
                return 1;
    }
    return 0;
}

int qp_qtable_slots(const qp_graph *g, qp_qslot **out, int *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = (size_t)g->n_values + 2 * (size_t)g->n_nodes + 1;
    qp_qslot *s = qp_calloc(cap, sizeof *s);
    unsigned char *seen = qp_calloc((size_t)g->n_values + 1, 1);
    if (!s || !seen) {
        qp_free(s);
        qp_free(seen);
        return QP_ESYS;
    }
    int c = 0;
#define ADD_VALUE(vi)                                                                   \
    do {                                                                                \
        int v_ = (vi);                                                                  \
        if (v_ >= 0 && !seen[v_] && value_slot(g, v_)) {                                \
            seen[v_] = 1;                                                               \
            s[c++] = (qp_qslot){QP_QPORT_VALUE, v_, value_required(g, v_)};             \
        }                                                                               \
    } while (0)
    for (int i = 0; i < g->n_inputs; i++)
        ADD_VALUE(g->inputs[i]);
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *nd = &g->nodes[ni];
        for (int j = 0; j < nd->n_in; j++)
            if (nd->in[j] >= 0 && g->values[nd->in[j]].is_const)
                ADD_VALUE(nd->in[j]);
        if (weight_value(g, ni, QP_QPORT_WEIGHT) >= 0)
            s[c++] = (qp_qslot){QP_QPORT_WEIGHT, ni, 1};
        if (weight_value(g, ni, QP_QPORT_BIAS) >= 0)
            s[c++] = (qp_qslot){QP_QPORT_BIAS, ni, 1};
        for (int k = 0; k < nd->n_out; k++)
            ADD_VALUE(nd->out[k]);
    }
    for (int vi = 0; vi < g->n_values; vi++)
        ADD_VALUE(vi);
#undef ADD_VALUE
    qp_free(seen);
    *out = s;
    *n = c;
    return 0;
}

qp_qentry *qp_qtable_entry(const qp_qtable *t, qp_qslot s)
{
    return s.port == QP_QPORT_VALUE ? &t->value[s.index] : s.port == QP_QPORT_WEIGHT ? &t->weight[s.index]
                                                                                     : &t->bias[s.index];
}

char *qp_qtable_key(const qp_graph *g, qp_qslot s, char *buf, size_t n)
{
    if (s.port == QP_QPORT_VALUE) {
        const qp_value *v = &g->values[s.index];
        if (v->producer >= 0)
            snprintf(buf, n, "@%s:out%d", g->nodes[v->producer].key, v->port);
        else
            snprintf(buf, n, "@%s:out0", v->key && v->key[0] ? v->key : v->name);
    } else {
        snprintf(buf, n, "@%s:%s", g->nodes[s.index].key, s.port == QP_QPORT_WEIGHT ? "weight" : "bias");
    }
    return buf;
}

/* The tensor a slot describes. */
static const qp_value *slot_value(const qp_graph *g, qp_qslot s)
{
    if (s.port == QP_QPORT_VALUE)
        return &g->values[s.index];
    int vi = weight_value(g, s.index, s.port);
    return vi >= 0 ? &g->values[vi] : NULL;
}

int qp_qtable_weight_channel_dim(const qp_graph *g, int node)
{
    const qp_node *n = &g->nodes[node];
    int wv = weight_value(g, node, QP_QPORT_WEIGHT);
    if (wv < 0)
        return -1;
    const qp_value *w = &g->values[wv];
    int cd = -1;
    if (!strcmp(n->op_type, "Conv"))
        cd = 0;
    else if (!strcmp(n->op_type, "ConvTranspose"))
        cd = qp_node_int(n, "group", 1) == 1 ? 1 : -1;
    else if (!strcmp(n->op_type, "Gemm"))
        cd = qp_node_int(n, "transB", 0) ? 0 : 1;
    else if (!strcmp(n->op_type, "MatMul"))
        cd = w->rank >= 2 ? w->rank - 1 : -1;
    if (cd < 0 || cd >= w->rank)
        return -1;
    int bv = weight_value(g, node, QP_QPORT_BIAS);
    if (bv >= 0) { /* the bias must have one value per channel on its last axis */
        const qp_value *b = &g->values[bv];
        if (b->rank < 1 || b->dims[b->rank - 1] != w->dims[cd] || numel_of(b) % (size_t)w->dims[cd])
            return -1;
    }
    return cd;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static int nearest_msg(const qp_graph *g, const char *layer, char *buf, size_t n)
{
    const char *near[3];
    int k = qp_keys_nearest(g, layer, near, 3);
    if (!k)
        return snprintf(buf, n, " (no layer has a similar key)");
    int len = snprintf(buf, n, " (did you mean ");
    for (int i = 0; i < k && len >= 0 && (size_t)len < n; i++)
        len += snprintf(buf + len, n - (size_t)len, "%s'%s'", i == 0 ? "" : i == k - 1 ? " or " : ", ", near[i]);
    if (len >= 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len, "?)");
    return 0;
}

/* Acuity's hybrid converters, "<layer key>_pre_<from>_to_<to>_<uid>": not graph layers. */
static int is_converter(const qp_graph *g, const char *layer)
{
    for (const char *p = strstr(layer, "_pre_"); p; p = strstr(p + 1, "_pre_")) {
        if (!strstr(p, "_to_"))
            continue;
        char prefix[1024];
        size_t len = (size_t)(p - layer);
        if (len >= sizeof prefix)
            continue;
        memcpy(prefix, layer, len);
        prefix[len] = 0;
        int kind, idx;
        if (!qp_keys_find(g, prefix, &kind, &idx))
            return 1;
    }
    return 0;
}

static const char *kind_of(const qp_graph *g, int vi)
{
    return qp_dtype_name(g->values[vi].dtype);
}

int qp_qtable_resolve(const qp_graph *g, const char *key, qp_qslot *s, int *ignored)
{
    *ignored = 0;
    const char *colon = strrchr(key, ':');
    if (key[0] != '@' || !colon || colon == key + 1)
        return qp_errorf(QP_EUSAGE, "entry key '%s' is not of the form '@<layer key>:out0|weight|bias'", key);
    char layer[1024], near[512];
    size_t len = (size_t)(colon - key - 1);
    if (len >= sizeof layer)
        return qp_errorf(QP_EUSAGE, "entry key '%.60s...' is too long", key);
    memcpy(layer, key + 1, len);
    layer[len] = 0;
    const char *port = colon + 1;
    int kind, idx;
    if (qp_keys_find(g, layer, &kind, &idx)) {
        if (is_converter(g, layer)) {
            *ignored = 1;
            return 0;
        }
        nearest_msg(g, layer, near, sizeof near);
        return qp_errorf(QP_EUSAGE, "layer '%s' of '%s' not found in the graph%s", layer, key, near);
    }
    int out_k = -1;
    if (!strncmp(port, "out", 3) && port[3] >= '0' && port[3] <= '9' && (port[3] != '0' || !port[4])) {
        char *end;
        errno = 0;
        long k = strtol(port + 3, &end, 10);
        if (!*end && !errno && k < QP_MAX_IO)
            out_k = (int)k;
    }
    int is_w = !strcmp(port, "weight"), is_b = !strcmp(port, "bias");
    if (out_k < 0 && !is_w && !is_b)
        return qp_errorf(QP_EUSAGE, "entry key '%s': port '%s' is not out<k>, weight or bias", key, port);
    if (kind == QP_KEY_OUTPUT) {
        if (out_k != 0)
            return qp_errorf(QP_EUSAGE, "entry key '%s': output layer '%s' has only out0", key, layer);
        *ignored = 1;   /* the producer's own entry describes that tensor */
        return 0;
    }
    if (kind == QP_KEY_VALUE) {
        if (out_k != 0)
            return qp_errorf(QP_EUSAGE, "entry key '%s': layer '%s' has only out0", key, layer);
        if (!value_slot(g, idx))
            return qp_errorf(QP_EUSAGE, "entry key '%s': '%s' is of type %s; only float tensors are quantized", key,
                             layer, kind_of(g, idx));
        *s = (qp_qslot){QP_QPORT_VALUE, idx, value_required(g, idx)};
        return 0;
    }
    const qp_node *n = &g->nodes[idx];
    if (out_k >= 0) {
        if (out_k >= n->n_out || n->out[out_k] < 0)
            return qp_errorf(QP_EUSAGE, "entry key '%s': layer '%s' (%s) has %d output%s", key, layer, n->op_type,
                             n->n_out, n->n_out == 1 ? "" : "s");
        int vi = n->out[out_k];
        if (!value_slot(g, vi))
            return qp_errorf(QP_EUSAGE, "entry key '%s' is of type %s; only float tensors are quantized", key,
                             kind_of(g, vi));
        *s = (qp_qslot){QP_QPORT_VALUE, vi, 1};
        return 0;
    }
    int p = is_w ? QP_QPORT_WEIGHT : QP_QPORT_BIAS;
    if (weight_value(g, idx, p) < 0)
        return qp_errorf(QP_EUSAGE, "entry key '%s': layer '%s' (%s) has no constant float %s", key, layer, n->op_type,
                         port);
    *s = (qp_qslot){p, idx, 1};
    return 0;
}

/* ---- entry rules ---------------------------------------------------------------------------- */

int qp_qtable_check_entry(const qp_qtable *t, qp_qslot s, const qp_qentry *e)
{
    int bias = s.port == QP_QPORT_BIAS;
    const char *qz = qp_quantizer_name(e->quantizer), *qt = qp_qtable_qtype_name(e->qtype);
    if (e->quantizer < 0 || e->quantizer >= QP_QZ_COUNT)
        return qp_errorf(QP_EUSAGE, "unknown quantizer");
    if (!qp_qtable_qtype_allowed(e->quantizer, e->qtype, bias)) {
        int bits = qp_qtable_qtype_bits(e->qtype);
        if (!bias && bits > 16)
            return qp_errorf(QP_EUSAGE, "qtype '%s' is for biases; activations and weights are 8 or 16 bits", qt);
        if (bias && bits && bits <= 16)
            return qp_errorf(QP_EUSAGE, "a bias is i32 (8-bit layers) or i64 (16-bit layers), not '%s'", qt);
        return qp_errorf(QP_EUSAGE, "qtype '%s' is not allowed with quantizer '%s'", qt, qz);
    }
    if (!(e->min <= e->max) || !isfinite(e->min) || !isfinite(e->max))
        return qp_errorf(QP_EUSAGE, "min_value %g is greater than max_value %g", e->min, e->max);
    if (qp_quantizer_is_float(e->quantizer))
        return 0;
    if (e->n < 1 || !e->scale || !e->zero_point)
        return qp_errorf(QP_EUSAGE, "%s needs a scale", qz);
    int64_t qmin = qp_qtype_min(to_qtype(e->qtype)), qmax = qp_qtype_max(to_qtype(e->qtype));
    for (int c = 0; c < e->n; c++) {
        if (!(e->scale[c] > 0) || !isfinite(e->scale[c]))
            return qp_errorf(QP_EUSAGE, "scale %g must be positive and finite", e->scale[c]);
        if (e->zero_point[c] < qmin || e->zero_point[c] > qmax)
            return qp_errorf(QP_EUSAGE, "zero_point %d is outside the %s range [%lld, %lld]", (int)e->zero_point[c], qt,
                             (long long)qmin, (long long)qmax);
        if (e->quantizer != QP_QZ_ASYMMETRIC_AFFINE && e->zero_point[c] != 0)
            return qp_errorf(QP_EUSAGE, "zero_point %d: %s takes zero point 0", (int)e->zero_point[c], qz);
    }
    if (e->quantizer == QP_QZ_DYNAMIC_FIXED_POINT) {
        int lim = bias ? 2 : 1;
        if (e->n != 1)
            return qp_errorf(QP_EUSAGE, "dynamic_fixed_point takes one fl, not %d", e->n);
        if (e->fl < lim * QP_QALGO_FL_MIN || e->fl > lim * QP_QALGO_FL_MAX)
            return qp_errorf(QP_EUSAGE, "fl %d is outside [%d, %d]", e->fl, lim * QP_QALGO_FL_MIN,
                             lim * QP_QALGO_FL_MAX);
        if (e->scale[0] != ldexp(1.0, -e->fl))
            return qp_errorf(QP_EUSAGE, "scale %g is not 2^-fl for fl %d", e->scale[0], e->fl);
    }
    const qp_value *v = slot_value(t->g, s);
    if (e->channel_dim >= 0 && (!v || e->channel_dim >= v->rank))
        return qp_errorf(QP_EUSAGE, "channel_dim %d is not an axis of the %d-D tensor", e->channel_dim,
                         v ? v->rank : 0);
    if (e->n > 1) {
        if (s.port == QP_QPORT_VALUE)
            return qp_errorf(QP_EUSAGE, "per-channel scales (%d) are only for weights and biases", e->n);
        if (e->channel_dim < 0)
            return qp_errorf(QP_EUSAGE, "%d scales need a channel_dim", e->n);
        if (v->dims[e->channel_dim] != e->n)
            return qp_errorf(QP_EUSAGE, "%d scales for axis %d of size %lld", e->n, e->channel_dim,
                             (long long)v->dims[e->channel_dim]);
    }
    return 0;
}

int qp_qtable_check_complete(const qp_qtable *t)
{
    qp_qslot *s;
    int n, rc = qp_qtable_slots(t->g, &s, &n), missing = 0, first = -1;
    if (rc)
        return rc;
    for (int i = 0; i < n; i++)
        if (s[i].required && !qp_qentry_present(qp_qtable_entry(t, s[i]))) {
            if (first < 0)
                first = i;
            missing++;
        }
    if (missing) {
        char key[1100];
        qp_qtable_key(t->g, s[first], key, sizeof key);
        rc = missing == 1 ? qp_errorf(QP_EUSAGE, "no entry for '%s', which the graph needs", key)
                          : qp_errorf(QP_EUSAGE, "no entry for '%s' and %d more tensors the graph needs", key,
                                      missing - 1);
    }
    qp_free(s);
    return rc;
}

/* ---- customized layers ---------------------------------------------------------------------- */

int qp_qtable_set_custom(qp_qtable *t, const char *layer_key, const char *type)
{
    const qp_graph *g = t->g;
    int kind, idx;
    char near[512];
    if (qp_keys_find(g, layer_key, &kind, &idx)) {
        nearest_msg(g, layer_key, near, sizeof near);
        return qp_errorf(QP_EUSAGE, "customized layer '%s' not found in the graph%s", layer_key, near);
    }
    const char *norm = NULL;
    const char *dash = strrchr(type, '-');
    int qz = -1, qt = 0;
    if (!dash) {
        qz = qp_quantizer_parse(type);
        if (qz == QP_QZ_NONE || qz == QP_QZ_BFLOAT16 || qz == QP_QZ_FLOAT16)
            norm = qp_quantizer_name(qz);
    } else {
        char q[128];
        size_t len = (size_t)(dash - type);
        if (len < sizeof q) {
            memcpy(q, type, len);
            q[len] = 0;
            qz = qp_quantizer_parse(q);
            qt = qp_qtable_qtype_parse(dash + 1);
            if (qz >= 0 && qt && qp_qtable_qtype_allowed(qz, qt, 0))
                norm = qp_arena_printf(t->arena, "%s-%s", qp_quantizer_name(qz), qp_qtable_qtype_name(qt));
        }
    }
    if (!norm)
        return qp_errorf(QP_EUSAGE,
                         "customized type '%s' of '%s' is not <quantizer>-<qtype> (e.g. dynamic_fixed_point-i16, "
                         "asymmetric_affine-u8) nor bfloat16, float16, float32",
                         type, layer_key);
    if (kind == QP_KEY_NODE)
        t->custom[idx] = norm;
    else if (kind == QP_KEY_VALUE)
        t->custom_value[idx] = norm;
    else
        t->custom_output[idx] = norm;
    return 0;
}

/* ---- bias corrections ----------------------------------------------------------------------- */

int qp_qtable_bias_corr_channels(const qp_graph *g, int node)
{
    if (node < 0 || node >= g->n_nodes)
        return -1;
    const qp_node *n = &g->nodes[node];
    if ((strcmp(n->op_type, "Conv") && strcmp(n->op_type, "ConvTranspose")) || n->n_out < 1 || n->out[0] < 0)
        return -1;
    const qp_value *y = &g->values[n->out[0]];
    if (y->rank < 3 || y->dims[1] <= 0 || y->dims[1] > (1 << 24))
        return -1;
    return (int)y->dims[1];
}

int qp_qtable_set_bias_corr(qp_qtable *t, int node, const double *v, int n)
{
    const qp_graph *g = t->g;
    int m = qp_qtable_bias_corr_channels(g, node);
    const char *key = node >= 0 && node < g->n_nodes ? qp_node_key(&g->nodes[node]) : "?";
    if (m < 0)
        return qp_errorf(QP_EUSAGE, "bias correction of layer '%s': only a Conv or ConvTranspose with a known "
                         "output shape takes one", key);
    if (n != m)
        return qp_errorf(QP_EUSAGE, "bias correction of layer '%s' has %d values for %d output channels", key, n, m);
    double *d = qp_arena_array(t->arena, (size_t)n + 1, sizeof *d);
    if (!d)
        return QP_ESYS;
    for (int c = 0; c < n; c++) {
        if (!isfinite(v[c]))
            return qp_errorf(QP_EUSAGE, "bias correction of layer '%s': value %d is not finite", key, c);
        d[c] = v[c];
    }
    t->bias_corr[node] = d;
    return 0;
}

int qp_qtable_set_bias_corr_key(qp_qtable *t, const char *layer_key, const double *v, int n)
{
    int kind, idx;
    char near[512];
    if (qp_keys_find(t->g, layer_key, &kind, &idx) || kind != QP_KEY_NODE) {
        nearest_msg(t->g, layer_key, near, sizeof near);
        return qp_errorf(QP_EUSAGE, "bias correction of '%s': no such layer in the graph%s", layer_key, near);
    }
    return qp_qtable_set_bias_corr(t, idx, v, n);
}

int qp_qtable_customs(const qp_qtable *t, qp_qcustom **out, int *n)
{
    const qp_graph *g = t->g;
    *out = NULL;
    *n = 0;
    qp_qcustom *c = qp_calloc((size_t)g->n_values + (size_t)g->n_nodes + (size_t)g->n_outputs + 1, sizeof *c);
    unsigned char *seen = qp_calloc((size_t)g->n_values + 1, 1);
    if (!c || !seen) {
        qp_free(c);
        qp_free(seen);
        return QP_ESYS;
    }
    int k = 0;
#define ADD_VALUE(vi)                                                           \
    do {                                                                        \
        int v_ = (vi);                                                          \
        if (v_ >= 0 && !seen[v_]) {                                             \
            seen[v_] = 1;                                                       \
            if (t->custom_value[v_])                                            \
                c[k++] = (qp_qcustom){g->values[v_].key, t->custom_value[v_]};  \
        }                                                                       \
    } while (0)
    for (int i = 0; i < g->n_inputs; i++)
        ADD_VALUE(g->inputs[i]);
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *nd = &g->nodes[ni];
        for (int j = 0; j < nd->n_in; j++)
            if (nd->in[j] >= 0 && g->values[nd->in[j]].is_const)
                ADD_VALUE(nd->in[j]);
        if (t->custom[ni])
            c[k++] = (qp_qcustom){nd->key, t->custom[ni]};
    }
    for (int vi = 0; vi < g->n_values; vi++)
        ADD_VALUE(vi);
#undef ADD_VALUE
    for (int i = 0; i < g->n_outputs; i++)
        if (t->custom_output[i])
            c[k++] = (qp_qcustom){g->output_keys[i], t->custom_output[i]};
    qp_free(seen);
    *out = c;
    *n = k;
    return 0;
}
