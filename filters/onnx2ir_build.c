/* onnx2ir: the unpacked ModelProto to a qp_graph.  Names are resolved in one pass in node
 * order, so an input that is not defined earlier (an unsorted graph, a cycle, a typo) is
 * an error; every tensor goes through qp_onnx_tensor_decode; Constant nodes become
 * constants and Identity/Dropout disappear before any op sees the graph. */
#include <stdlib.h>
#include <string.h>

#include "onnx2ir.h"
#include "qp/diag.h"
#include "qp/graph_edit.h"
#include "qp/onnx_tensor.h"
#include "qp/op.h"
#include "onnx.pb-c.h"

/* ---- name -> value id ---- */

struct names {
    const char **key;
    int *val;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int names_grow(struct names *t)
{
    size_t nc = t->cap ? t->cap * 2 : 1024;
    const char **k = qp_calloc(nc, sizeof *k);
    int *v = qp_calloc(nc, sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return QP_ESYS;
    }
    for (size_t i = 0; i < t->cap; i++)
        if (t->key[i]) {
            size_t j = hash_str(t->key[i]) & (nc - 1);
            while (k[j])
                j = (j + 1) & (nc - 1);
            k[j] = t->key[i];
            v[j] = t->val[i];
        }
    free(t->key);
    free(t->val);
    t->key = k;
    t->val = v;
    t->cap = nc;
    return 0;
}

static int names_get(const struct names *t, const char *s)
{
    if (!t->cap)
        return -1;
    for (size_t j = hash_str(s) & (t->cap - 1); t->key[j]; j = (j + 1) & (t->cap - 1))
        if (!strcmp(t->key[j], s))
            return t->val[j];
    return -1;
}

/* Sets s -> v (s must outlive the table). */
static int names_put(struct names *t, const char *s, int v)
{
    if (2 * (t->n + 1) > t->cap && names_grow(t))
        return QP_ESYS;
    size_t j = hash_str(s) & (t->cap - 1);
    while (t->key[j] && strcmp(t->key[j], s))
        j = (j + 1) & (t->cap - 1);
    if (!t->key[j])
        t->n++;
    t->key[j] = s;
    t->val[j] = v;
    return 0;
}

static void names_free(struct names *t)
{
    free(t->key);
    free(t->val);
}

/* ---- flags ---- */

int qp_o2i_flag_set(qp_o2i_flags *fl, int vi, int is_init)
{
    if (vi >= fl->cap) {
        int nc = fl->cap ? fl->cap : 1024;
        while (nc <= vi)
            nc *= 2;
        unsigned char *p = qp_realloc(fl->is_init, (size_t)nc);
        if (!p)
            return QP_ESYS;
        memset(p + fl->cap, 0, (size_t)(nc - fl->cap));
        fl->is_init = p;
        fl->cap = nc;
    }
    fl->is_init[vi] = (unsigned char)is_init;
    return 0;
}

/* ---- pieces ---- */

struct build {
    const qp_o2i_model *mod;
    const Onnx__GraphProto *gp;
    qp_graph *g;
    qp_o2i_flags *fl;
    struct names names;
    const char **node_names;    /* per ONNX node, empty names filled in */
};

static const char *node_label(const struct build *b, size_t i)
{
    static _Thread_local char buf[320];
    const Onnx__NodeProto *np = b->gp->node[i];
    snprintf(buf, sizeof buf, "node '%.200s' (%.64s)", b->node_names[i], np->op_type ? np->op_type : "");
    return buf;
}

/* Adds a decoded tensor as a constant named name. */
static int add_tensor_const(struct build *b, const char *name, const qp_tensor *t, int is_init)
{
    int vi = qp_graph_add_value(b->g, name, t->dtype, t->rank, t->dims);
    if (vi < 0)
        return QP_ESYS;
    qp_value *v = &b->g->values[vi];
    v->is_const = 1;
    v->data = t->data;
    v->nbytes = t->nbytes;
    if (qp_o2i_flag_set(b->fl, vi, is_init) || names_put(&b->names, v->name, vi))
        return QP_ESYS;
    return 0;
}

/* Where name was defined, for duplicate-definition messages. */
static const char *defined_where(const struct build *b, int vi)
{
    static _Thread_local char buf[320];
    const qp_value *v = &b->g->values[vi];
    if (v->producer >= 0)
        snprintf(buf, sizeof buf, "node '%.200s'", b->g->nodes[v->producer].name);
    else if (v->is_const)
        snprintf(buf, sizeof buf, "%s", b->fl->is_init[vi] ? "an initializer" : "a Constant node");
    else
        snprintf(buf, sizeof buf, "a graph input");
    return buf;
}

static int add_initializers(struct build *b)
{
    const Onnx__GraphProto *gp = b->gp;
    if (gp->n_sparse_initializer)
        return qp_errorf(QP_EINPUT, "sparse initializers are not supported (initializer '%s')",
                         gp->sparse_initializer[0]->values && gp->sparse_initializer[0]->values->name
                             ? gp->sparse_initializer[0]->values->name : "");
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0])
            return qp_errorf(QP_EINPUT, "initializer %zu has no name", i);
        int prev = names_get(&b->names, tp->name);
        if (prev >= 0)
            return qp_errorf(QP_EINPUT, "initializer '%s' is defined twice", tp->name);
        qp_tensor t;
        int rc;
        if ((rc = qp_onnx_tensor_decode(tp, b->mod->dir, b->g->arena, &t)) ||
            (rc = add_tensor_const(b, tp->name, &t, 1)))
            return rc;
    }
    return 0;
}

static void fmt_model_dims(char *buf, size_t n, const Onnx__TensorShapeProto *sp)
{
    size_t len = 0;
    buf[0] = 0;
    for (size_t d = 0; sp && d < sp->n_dim && len < n; d++) {
        const Onnx__TensorShapeProto__Dimension *dm = sp->dim[d];
        if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            len += (size_t)snprintf(buf + len, n - len, "%s%lld", d ? "," : "", (long long)dm->dim_value);
        else
            len += (size_t)snprintf(buf + len, n - len, "%s%s", d ? "," : "",
                                    dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                                    dm->dim_param && dm->dim_param[0] ? dm->dim_param : "?");
    }
}

static int add_inputs(struct build *b, const qp_o2i_size *sizes, int n_sizes)
{
    const Onnx__GraphProto *gp = b->gp;
    unsigned char used[QP_O2I_MAX_SIZES] = { 0 };
    int positional = 0;
    b->g->inputs = qp_arena_array(b->g->arena, gp->n_input + 1, sizeof(int));
    if (!b->g->inputs)
        return QP_ESYS;
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        const char *name = vi->name ? vi->name : "";
        if (!name[0])
            return qp_errorf(QP_EINPUT, "graph input %zu has no name", i);
        int prev = names_get(&b->names, name);
        if (prev >= 0) {
            if (b->g->values[prev].is_const && b->fl->is_init[prev])
                continue;       /* an initializer listed as an input (IR < 4): a constant */
            return qp_errorf(QP_EINPUT, "graph input '%s' is listed twice", name);
        }
        const Onnx__TypeProto *tp = vi->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
            return qp_errorf(QP_EINPUT, "graph input '%s' is not a tensor (sequence, map, optional and sparse "
                             "inputs are not supported)", name);
        const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
        int dt = tt->has_elem_type ? tt->elem_type : 0;
        if (!qp_onnx_dtype_supported(dt))
            return qp_errorf(QP_EINPUT, "graph input '%s' has element type %s (%d), not supported (FLOAT, DOUBLE, "
                             "FLOAT16, INT8, UINT8, INT16, INT32, INT64, BOOL)", name, qp_onnx_dtype_name(dt), dt);
        const Onnx__TensorShapeProto *sp = tt->shape;
        /* the --input-size for this input, by name or else by position */
        const qp_o2i_size *sz = NULL;
        for (int k = 0; k < n_sizes; k++)
            if (sizes[k].name && !strcmp(sizes[k].name, name)) {
                sz = &sizes[k];
                used[k] = 1;
            }
        if (!sz) {
            int p = 0;
            for (int k = 0; k < n_sizes; k++)
                if (!sizes[k].name && p++ == positional) {
                    sz = &sizes[k];
                    used[k] = 1;
                }
            positional++;
        }
        int64_t dims[QP_MAX_RANK];
        char md[256];
        fmt_model_dims(md, sizeof md, sp);
        int rank = sp ? (int)(sp->n_dim > 64 ? 64 : sp->n_dim) : -1;
        if (rank > QP_MAX_RANK)
            return qp_errorf(QP_EINPUT, "graph input '%s' has rank %zu (at most %d)", name, sp->n_dim, QP_MAX_RANK);
        if (sz && rank >= 0 && sz->rank != rank)
            return qp_errorf(QP_EUSAGE, "--input-size for input '%s' has %d dimensions, the model's shape [%s] "
                             "has %d", name, sz->rank, md, rank);
        if (rank < 0) {
            if (!sz)
                return qp_errorf(QP_EUSAGE, "graph input '%s' has no shape in the model: give it with "
                                 "--input-size %s=D0,D1,...", name, name);
            rank = sz->rank;
        }
        for (int d = 0; d < rank; d++) {
            const Onnx__TensorShapeProto__Dimension *dm = sp ? sp->dim[d] : NULL;
            int fixed = dm && dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            if (fixed && (dm->dim_value < 0 || dm->dim_value > QP_ONNX_MAX_DIM))
                return qp_errorf(QP_EINPUT, "graph input '%s' has dimension %d = %lld (0 to %lld allowed)", name, d,
                                 (long long)dm->dim_value, (long long)QP_ONNX_MAX_DIM);
            if (sz) {
                if (fixed && sz->dims[d] != dm->dim_value)
                    return qp_errorf(QP_EUSAGE, "--input-size for input '%s' sets dimension %d to %lld, the model "
                                     "fixes it at %lld (shape [%s])", name, d, (long long)sz->dims[d],
                                     (long long)dm->dim_value, md);
                dims[d] = sz->dims[d];
            } else if (fixed)
                dims[d] = dm->dim_value;
            else if (d == 0)
                dims[d] = 1;    /* a symbolic batch dimension */
            else
                return qp_errorf(QP_EUSAGE, "graph input '%s' has symbolic dimensions [%s]: give its size with "
                                 "--input-size %s=1,...", name, md, name);
        }
        size_t numel;
        if (qp_dims_numel(rank, dims, &numel))
            return qp_error_prefix(QP_EINPUT, "graph input '%s'", name);
        int v = qp_graph_add_value(b->g, name, dt, rank, dims);
        if (v < 0 || qp_o2i_flag_set(b->fl, v, 0) || names_put(&b->names, b->g->values[v].name, v))
            return QP_ESYS;
        b->g->inputs[b->g->n_inputs++] = v;
    }
    for (int k = 0; k < n_sizes; k++)
        if (!used[k]) {
            if (sizes[k].name)
                return qp_errorf(QP_EUSAGE, "--input-size names input '%s', which the model does not have",
                                 sizes[k].name);
            return qp_errorf(QP_EUSAGE, "more --input-size options than the model has inputs (%d)",
                             b->g->n_inputs);
        }
    return 0;
}

static const char *attr_type_name(int t)
{
    switch (t) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return "FLOAT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return "INT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return "STRING";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return "TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return "GRAPH";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: return "SPARSE_TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO: return "TYPE_PROTO";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return "FLOATS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return "INTS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return "STRINGS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: return "TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS: return "GRAPHS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS: return "SPARSE_TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS: return "TYPE_PROTOS";
    default: return "UNDEFINED";
    }
}

/* The attribute's type, from the type field or (old models) from the one field that is set. */
static int attr_type(const Onnx__AttributeProto *a)
{
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return a->type;
    int t = 0, n = 0;
    if (a->has_f) { t = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT; n++; }
    if (a->has_i) { t = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT; n++; }
    if (a->has_s) { t = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING; n++; }
    if (a->t) { t = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR; n++; }
    if (a->n_floats) { t = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS; n++; }
    if (a->n_ints) { t = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS; n++; }
    if (a->n_strings) { t = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS; n++; }
    return n == 1 ? t : 0;
}

static int add_attrs(struct build *b, size_t i, int ni)
{
    const Onnx__NodeProto *np = b->gp->node[i];
    qp_graph *g = b->g;
    for (size_t k = 0; k < np->n_attribute; k++) {
        const Onnx__AttributeProto *a = np->attribute[k];
        const char *an = a->name ? a->name : "";
        if (!an[0])
            return qp_errorf(QP_EINPUT, "%s: attribute %zu has no name", node_label(b, i), k);
        if (qp_node_attr(&g->nodes[ni], an))
            return qp_errorf(QP_EINPUT, "%s: attribute '%s' is given twice", node_label(b, i), an);
        if (a->ref_attr_name && a->ref_attr_name[0])
            return qp_errorf(QP_EINPUT, "%s: attribute '%s' refers to a function attribute", node_label(b, i), an);
        int t = attr_type(a), rc = 0;
        switch (t) {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
            rc = qp_node_set_float(g, ni, an, a->f);
            break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
            rc = qp_node_set_int(g, ni, an, a->i);
            break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
            rc = qp_node_set_string(g, ni, an, a->s.data ? (const char *)a->s.data : "", a->s.len);
            break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: {
            size_t cnt = t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS ? a->n_ints : a->n_floats;
            if (cnt > (1u << 24))
                return qp_errorf(QP_EINPUT, "%s: attribute '%s' has %zu values (at most %u)", node_label(b, i), an,
                                 cnt, 1u << 24);
            rc = t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS ? qp_node_set_ints(g, ni, an, (int)cnt, a->ints)
                                                                   : qp_node_set_floats(g, ni, an, (int)cnt, a->floats);
            break;
        }
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
            if (!a->t)
                return qp_errorf(QP_EINPUT, "%s: tensor attribute '%s' has no tensor", node_label(b, i), an);
            qp_tensor tv;
            if ((rc = qp_onnx_tensor_decode(a->t, b->mod->dir, g->arena, &tv)))
                return qp_error_prefix(rc, "%s: attribute '%s'", node_label(b, i), an);
            rc = qp_node_set_tensor(g, ni, an, &tv);
            break;
        }
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
            return qp_errorf(QP_EINPUT, "%s: attribute '%s' holds a subgraph (control-flow ops are not supported)",
                             node_label(b, i), an);
        case 0:
            return qp_errorf(QP_EINPUT, "%s: attribute '%s' has no type", node_label(b, i), an);
        default:
            return qp_errorf(QP_EINPUT, "%s: attribute '%s' has type %s, which qpipe does not support",
                             node_label(b, i), an, attr_type_name(t));
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* A Constant node: its one value attribute becomes a constant named after its output. */
static int add_constant(struct build *b, size_t i)
{
    const Onnx__NodeProto *np = b->gp->node[i];
    if (np->n_input != 0 || np->n_output != 1 || !np->output[0][0])
        return qp_errorf(QP_EINPUT, "%s: a Constant node takes no input and has one output", node_label(b, i));
    if (np->n_attribute != 1)
        return qp_errorf(QP_EINPUT, "%s: a Constant node needs exactly one value attribute (it has %zu)",
                         node_label(b, i), np->n_attribute);
    const Onnx__AttributeProto *a = np->attribute[0];
    const char *an = a->name ? a->name : "";
    int t = attr_type(a), rc;
    qp_tensor tv;
    memset(&tv, 0, sizeof tv);
    const void *src = NULL;
    enum { T_F = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, T_I = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT,
           T_FS = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS, T_IS = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS,
           T_T = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR };
    static const struct { const char *name; int type, dtype, rank; } forms[] = {
        { "value", T_T, 0, 0 }, { "value_float", T_F, QP_DT_F32, 0 }, { "value_int", T_I, QP_DT_I64, 0 },
        { "value_floats", T_FS, QP_DT_F32, 1 }, { "value_ints", T_IS, QP_DT_I64, 1 },
    };
    size_t f = 0;
    while (f < sizeof forms / sizeof forms[0] && strcmp(forms[f].name, an))
        f++;
    if (f == sizeof forms / sizeof forms[0])
        return qp_errorf(QP_EINPUT, "%s: Constant attribute '%s' is not supported (value, value_float, "
                         "value_floats, value_int, value_ints)", node_label(b, i), an);
    if (t != forms[f].type || (t == T_T && !a->t))
        return qp_errorf(QP_EINPUT, "%s: attribute '%s' has type %s, expected %s", node_label(b, i), an,
                         attr_type_name(t), attr_type_name(forms[f].type));
    if (t == T_T) {
        if ((rc = qp_onnx_tensor_decode(a->t, b->mod->dir, b->g->arena, &tv)))
            return qp_error_prefix(rc, "%s", node_label(b, i));
    } else {
        tv.dtype = forms[f].dtype;
        tv.rank = forms[f].rank;
        size_t cnt = t == T_F || t == T_I ? 1 : t == T_FS ? a->n_floats : a->n_ints;
        tv.dims[0] = (int64_t)cnt;
        tv.nbytes = cnt * qp_dtype_size(tv.dtype);
        src = t == T_F ? (const void *)&a->f : t == T_I ? (const void *)&a->i
            : t == T_FS ? (const void *)a->floats : (const void *)a->ints;
        if (!(tv.data = qp_arena_alloc(b->g->arena, tv.nbytes ? tv.nbytes : 1)))
            return QP_ESYS;
        if (tv.nbytes)
            memcpy(tv.data, src, tv.nbytes);
    }
    const char *out = np->output[0];
    int prev = names_get(&b->names, out);
    if (prev >= 0)
        return qp_errorf(QP_EINPUT, "%s: output '%s' is already defined by %s", node_label(b, i), out,
                         defined_where(b, prev));
    return add_tensor_const(b, out, &tv, 0);
}

static int add_nodes(struct build *b)
{
    const Onnx__GraphProto *gp = b->gp;
    qp_graph *g = b->g;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *op = np->op_type;
        if (!strcmp(op, "Constant")) {
            int rc = add_constant(b, i);
            if (rc)
                return rc;
            continue;
        }
        if (np->n_input > QP_MAX_IO || np->n_output > QP_MAX_IO)
            return qp_errorf(QP_EINPUT, "%s: %zu inputs and %zu outputs (at most %d each)", node_label(b, i),
                             np->n_input, np->n_output, QP_MAX_IO);
        int in[QP_MAX_IO], out[QP_MAX_IO];
        for (size_t j = 0; j < np->n_input; j++) {
            const char *nm = np->input[j];
            if (!nm[0]) {
                in[j] = -1;     /* an absent optional input */
                continue;
            }
            in[j] = names_get(&b->names, nm);
            if (in[j] >= 0)
                continue;
            for (size_t k = i + 1; k < gp->n_node; k++)
                for (size_t o = 0; o < gp->node[k]->n_output; o++)
                    if (!strcmp(gp->node[k]->output[o], nm))
                        return qp_errorf(QP_EINPUT, "%s: input '%s' is produced by a later node '%s' (the graph is "
                                         "not topologically sorted, or has a cycle)", node_label(b, i), nm,
                                         b->node_names[k]);
            return qp_errorf(QP_EINPUT, "%s: input '%s' is not defined (no graph input, initializer or earlier "
                             "node output has that name)", node_label(b, i), nm);
        }
        for (size_t j = 0; j < np->n_output; j++) {
            const char *nm = np->output[j];
            if (!nm[0]) {
                out[j] = -1;    /* an output not asked for */
                continue;
            }
            int prev = names_get(&b->names, nm);
            if (prev >= 0)
                return qp_errorf(QP_EINPUT, "%s: output '%s' is already defined by %s", node_label(b, i), nm,
                                 defined_where(b, prev));
            out[j] = qp_graph_add_value(g, nm, QP_DT_UNDEFINED, 0, NULL);
            if (out[j] < 0 || qp_o2i_flag_set(b->fl, out[j], 0) || names_put(&b->names, g->values[out[j]].name, out[j]))
                return QP_ESYS;
        }
        int ni = qp_graph_add_node(g, op, b->node_names[i], (int)np->n_input, in, (int)np->n_output, out);
        if (ni < 0)
            return QP_ESYS;
        int rc = add_attrs(b, i, ni);
        if (rc)
            return rc;
    }
    return 0;
}

static int add_outputs(struct build *b)
{
    const Onnx__GraphProto *gp = b->gp;
    qp_graph *g = b->g;
    if (!gp->n_output)
        return qp_errorf(QP_EINPUT, "the graph has no outputs");
    g->outputs = qp_arena_array(g->arena, gp->n_output + 1, sizeof(int));
    if (!g->outputs)
        return QP_ESYS;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *nm = gp->output[i]->name ? gp->output[i]->name : "";
        int vi = nm[0] ? names_get(&b->names, nm) : -1;
        if (vi < 0)
            return qp_errorf(QP_EINPUT, "graph output '%s' is not produced by any node", nm);
        g->outputs[g->n_outputs++] = vi;
    }
    return 0;
}

/* Checks every node's domain and op before anything is decoded: the cheap errors first. */
static int check_ops(struct build *b)
{
    const Onnx__GraphProto *gp = b->gp;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *op = np->op_type ? np->op_type : "";
        const char *dom = np->domain ? np->domain : "";
        if (!op[0])
            return qp_errorf(QP_EINPUT, "node %zu ('%s') has no op_type", i, np->name ? np->name : "");
        b->node_names[i] = np->name && np->name[0] ? np->name : qp_arena_printf(b->g->arena, "%s_%zu", op, i);
        if (!b->node_names[i])
            return QP_ESYS;
        if (dom[0] && strcmp(dom, "ai.onnx"))
            return qp_errorf(QP_EINPUT, "%s: domain '%s' is not supported (only the default ONNX domain)",
                             node_label(b, i), dom);
        if (strcmp(op, "Constant") && strcmp(op, "Identity") && strcmp(op, "Dropout") && strcmp(op, "Shape") &&
            strcmp(op, "Size") && qp_op_find(op) < 0)
            return qp_errorf(QP_EINPUT, "%s: unsupported op '%s' (supported: %s)", node_label(b, i), op, qp_op_list());
    }
    return 0;
}

static int is_output(const qp_graph *g, int vi)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == vi)
            return 1;
    return 0;
}

/* Identity and Dropout (inference) pass their input through: consumers read the input
 * instead, or, when the output is a graph output, the producer writes it directly.  What
 * cannot be rewired (a graph input passed straight to an output, a Dropout whose mask is
 * read) stays a node, for the op layer to run. */
static int remove_identities(struct build *b, unsigned char *removed, qp_o2i_stats *st)
{
    qp_graph *g = b->g;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        qp_node *n = &g->nodes[ni];
        int drop = !strcmp(n->op_type, "Dropout");
        if (strcmp(n->op_type, "Identity") && !drop)
            continue;
        int keep = qp_op_find(n->op_type) >= 0;
        if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || (!drop && (n->n_in != 1 || n->n_out != 1)) ||
            (drop && (n->n_in > 3 || n->n_out > 2))) {
            if (keep)
                continue;       /* the op's own checks will say what is wrong */
            return qp_errorf(QP_EINPUT, "%s: %d inputs and %d outputs", qp_node_label(g, ni), n->n_in, n->n_out);
        }
        if (drop && n->n_out == 2 && n->out[1] >= 0 && qp_graph_uses(g, n->out[1])) {
            if (keep)
                continue;
            return qp_errorf(QP_EINPUT, "%s: its mask output is used (training graphs are not supported)",
                             qp_node_label(g, ni));
        }
        int x = n->in[0], y = n->out[0];
        if (y < 0) {
            removed[ni] = 1;
            st->identities++;
            continue;
        }
        if (!is_output(g, y)) {
            qp_graph_replace_uses(g, y, x);
        } else {
            const qp_value *xv = &g->values[x];
            if (xv->producer < 0 || is_output(g, x)) {
                if (!xv->is_const) {
                    if (keep)
                        continue;
                    return qp_errorf(QP_EINPUT, "%s: graph output '%s' is %s '%s' passed through (not supported)",
                                     qp_node_label(g, ni), g->values[y].name,
                                     xv->producer < 0 ? "graph input" : "graph output", xv->name);
                }
                /* a constant output: a copy of the constant under the output's name */
                qp_value *yv = &g->values[y];
                yv->is_const = 1;
                yv->dtype = xv->dtype;
                yv->rank = xv->rank;
                memcpy(yv->dims, xv->dims, sizeof yv->dims);
                yv->nbytes = xv->nbytes;
                if (!(yv->data = qp_arena_alloc(g->arena, xv->nbytes ? xv->nbytes : 1)))
                    return QP_ESYS;
                memcpy(yv->data, xv->data, xv->nbytes);     /* not shared: BN folding may rewrite x */
                yv->producer = -1;
                if (qp_o2i_flag_set(b->fl, y, b->fl->is_init[x]))
                    return QP_ESYS;
            } else {
                int p = xv->producer, port = xv->port;
                for (int k = 0; k < g->n_nodes; k++)
                    for (int j = 0; k != ni && j < g->nodes[k].n_in; j++)
                        if (g->nodes[k].in[j] == x)
                            g->nodes[k].in[j] = y;
                qp_graph_set_output(g, p, port, y);
                g->nodes[ni].out[0] = -1;
            }
        }
        g->nodes[ni].in[0] = -1;
        removed[ni] = 1;
        st->identities++;
    }
    return 0;
}

int qp_o2i_build(const qp_o2i_model *mod, const qp_o2i_size *sizes, int n_sizes, qp_graph **out,
                 qp_o2i_flags *fl, qp_o2i_stats *st)
{
    *out = NULL;
    const Onnx__ModelProto *m = mod->m;
    struct build b = { mod, m->graph, qp_graph_new(), fl, { 0 }, NULL };
    if (!b.g)
        return QP_ESYS;
    qp_graph *g = b.g;
    g->model_name = qp_arena_strdup(g->arena, b.gp->name);
    g->producer = qp_arena_printf(g->arena, "%s%s%s", m->producer_name ? m->producer_name : "",
                                  m->producer_version && m->producer_version[0] ? " " : "",
                                  m->producer_version ? m->producer_version : "");
    g->onnx_ir_version = m->ir_version;
    g->opset = mod->opset;
    st->onnx_nodes = (int)b.gp->n_node;
    b.node_names = qp_arena_array(g->arena, b.gp->n_node + 1, sizeof(char *));
    unsigned char *removed = NULL;
    int rc = !g->model_name || !g->producer || !b.node_names ? QP_ESYS : 0;
    if (!rc)
        rc = check_ops(&b);
    if (!rc)
        rc = add_initializers(&b);
    if (!rc)
        rc = add_inputs(&b, sizes, n_sizes);
    if (!rc)
        rc = add_nodes(&b);
    if (!rc)
        rc = add_outputs(&b);
    if (!rc) {
        for (int vi = 0; vi < g->n_values; vi++)
            st->constants += g->values[vi].is_const;
        removed = qp_calloc((size_t)g->n_nodes + 1, 1);
        rc = removed ? remove_identities(&b, removed, st) : QP_ESYS;
    }
    if (!rc) {
        int *vmap = qp_calloc((size_t)g->n_values + 1, sizeof *vmap);
        int nv = g->n_values, before = g->n_nodes - st->identities;
        rc = vmap ? qp_graph_compact(g, removed, vmap, NULL) : QP_ESYS;
        st->dead = before - g->n_nodes;     /* nodes no output depends on */
        for (int vi = 0; !rc && vi < nv; vi++)
            if (vmap[vi] >= 0)
                fl->is_init[vmap[vi]] = fl->is_init[vi];
        free(vmap);
    }
    free(removed);
    names_free(&b.names);
    if (rc) {
        qp_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}
