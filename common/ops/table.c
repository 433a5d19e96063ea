/* The op table and the helpers op families share.  Adding an op: write its infer/run in
 * the family file (common/ops/<family>.c), add one entry to that family's array, add its
 * ONNX conformance tests to tests/conformance/ops.txt (see README, "Adding an op"). */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/op.h"

#define DECL(f) extern const qp_op qp_ops_##f[]; extern const int qp_ops_##f##_count;
QP_OP_FAMILIES(DECL)
#undef DECL

struct family { const qp_op *ops; const int *count; };
static const struct family families[] = {
#define ENTRY(f) { qp_ops_##f, &qp_ops_##f##_count },
    QP_OP_FAMILIES(ENTRY)
#undef ENTRY
};

int qp_op_count(void)
{
    int n = 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        n += *families[f].count;
    return n;
}

const qp_op *qp_op_get(int op)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        if (op < *families[f].count)
            return op >= 0 ? &families[f].ops[op] : NULL;
        op -= *families[f].count;
    }
    return NULL;
}

int qp_op_find(const char *op_type)
{
    int base = 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        for (int i = 0; i < *families[f].count; i++)
            if (!strcmp(families[f].ops[i].name, op_type))
                return base + i;
        base += *families[f].count;
    }
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *qp_op_list(void)
{
    static char buf[4096];
    const char *names[512];
    int n = qp_op_count();
    if (n > 512)
        n = 512;
    for (int i = 0; i < n; i++)
        names[i] = qp_op_get(i)->name;
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    size_t pos = 0;
    buf[0] = 0;
    for (int i = 0; i < n && pos < sizeof buf; i++)
        pos += (size_t)snprintf(buf + pos, sizeof buf - pos, "%s%s", i ? " " : "", names[i]);
    return buf;
}

int qp_op_bind(qp_graph *g)
{
    for (int ni = 0; ni < g->n_nodes; ni++) {
        qp_node *n = &g->nodes[ni];
        n->op = qp_op_find(n->op_type);
        if (n->op < 0)
            return qp_errorf(QP_EINPUT, "node '%s': unsupported op '%s' (supported: %s)", n->name, n->op_type,
                             qp_op_list());
        const qp_op *op = qp_op_get(n->op);
        if (n->n_in < op->min_in || n->n_in > op->max_in)
            return qp_errorf(QP_EINPUT, "node '%s' (%s): %d inputs, expected %d to %d", n->name, n->op_type,
                             n->n_in, op->min_in, op->max_in);
        if (n->n_out < op->min_out || n->n_out > op->max_out)
            return qp_errorf(QP_EINPUT, "node '%s' (%s): %d outputs, expected %d to %d", n->name, n->op_type,
                             n->n_out, op->min_out, op->max_out);
        for (int j = 0; j < op->min_in; j++)
            if (n->in[j] < 0)
                return qp_errorf(QP_EINPUT, "node '%s' (%s): required input %d is missing", n->name,
                                 n->op_type, j);
    }
    return 0;
}

int qp_op_error(const qp_graph *g, int ni, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    const qp_node *n = &g->nodes[ni];
    return qp_errorf(QP_EINPUT, "node '%s' (%s): %s", n->name, n->op_type, buf);
}

int qp_op_set_out(qp_graph *g, int ni, int oi, int dtype, int rank, const int64_t *dims)
{
    qp_node *n = &g->nodes[ni];
    if (oi >= n->n_out || n->out[oi] < 0)
        return 0;
    if (rank < 0 || rank > QP_MAX_RANK)
        return qp_op_error(g, ni, "output rank %d is above %d", rank, QP_MAX_RANK);
    qp_value *v = &g->values[n->out[oi]];
    size_t numel, bytes;
    if (qp_dims_numel(rank, dims, &numel) || qp_mul_size(numel, qp_dtype_size(dtype), &bytes))
        return qp_op_error(g, ni, "output size overflows");
    v->dtype = dtype;
    v->rank = rank;
    memset(v->dims, 0, sizeof v->dims);
    if (rank)
        memcpy(v->dims, dims, (size_t)rank * sizeof(int64_t));
    return 0;
}

const qp_value *qp_op_in(const qp_graph *g, int ni, int i)
{
    const qp_node *n = &g->nodes[ni];
    if (i >= n->n_in || n->in[i] < 0)
        return NULL;
    return &g->values[n->in[i]];
}

int qp_op_const_ints(const qp_graph *g, int ni, int i, int64_t *out, int max)
{
    const qp_value *v = qp_op_in(g, ni, i);
    if (!v || !v->is_const)
        return -1;
    size_t numel;
    if (qp_value_numel(v, &numel) || numel > (size_t)max)
        return -1;
    for (size_t k = 0; k < numel; k++) {
        if (v->dtype == QP_DT_I64)
            memcpy(&out[k], (const char *)v->data + 8 * k, 8);
        else if (v->dtype == QP_DT_I32) {
            int32_t x;
            memcpy(&x, (const char *)v->data + 4 * k, 4);
            out[k] = x;
        } else
            return -1;
    }
    return (int)numel;
}

int qp_op_const_floats(const qp_graph *g, int ni, int i, float *out, int max)
{
    const qp_value *v = qp_op_in(g, ni, i);
    if (!v || !v->is_const)
        return -1;
    size_t numel;
    if (qp_value_numel(v, &numel) || numel > (size_t)max)
        return -1;
    for (size_t k = 0; k < numel; k++) {
        if (v->dtype == QP_DT_F32)
            memcpy(&out[k], (const char *)v->data + 4 * k, 4);
        else if (v->dtype == QP_DT_F64) {
            double x;
            memcpy(&x, (const char *)v->data + 8 * k, 8);
            out[k] = (float)x;
        } else if (v->dtype == QP_DT_I64) {
            int64_t x;
            memcpy(&x, (const char *)v->data + 8 * k, 8);
            out[k] = (float)x;
        } else
            return -1;
    }
    return (int)numel;
}

int qp_op_axis(const qp_graph *g, int ni, int64_t axis, int rank)
{
    if (axis < -rank || axis >= (rank ? rank : 1)) {
        qp_op_error(g, ni, "axis %lld is out of range for rank %d", (long long)axis, rank);
        return -1;
    }
    return (int)(axis < 0 ? axis + rank : axis);
}

int qp_op_broadcast(const qp_graph *g, int ni, int ra, const int64_t *da, int rb, const int64_t *db,
                    int *rout, int64_t *dout)
{
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int64_t a = i - (r - ra) >= 0 ? da[i - (r - ra)] : 1;
        int64_t b = i - (r - rb) >= 0 ? db[i - (r - rb)] : 1;
        if (a != b && a != 1 && b != 1)
            return qp_op_error(g, ni, "shapes cannot broadcast (dimension %d: %lld vs %lld)", i, (long long)a,
                               (long long)b);
        dout[i] = a == 1 ? b : a;
    }
    *rout = r;
    return 0;
}

static const char *attr_type_name(int type)
{
    static const char *const names[] = {"undefined", "INT", "FLOAT", "STRING", "INTS", "FLOATS", "TENSOR"};
    return type >= 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : "unknown";
}

/* The attribute if present with the expected type; *a = NULL if absent; error if mistyped. */
static int attr_typed(const qp_graph *g, int ni, const char *name, int type, const qp_attr **a)
{
    *a = qp_node_attr(&g->nodes[ni], name);
    if (*a && (*a)->type != type)
        return qp_op_error(g, ni, "attribute '%s' is %s, expected %s", name, attr_type_name((*a)->type),
                           attr_type_name(type));
    return 0;
}

int qp_op_attr_int(const qp_graph *g, int ni, const char *name, int64_t dflt, int64_t *out)
{
    const qp_attr *a;
    int rc = attr_typed(g, ni, name, QP_ATTR_INT, &a);
    *out = a ? a->i : dflt;
    return rc;
}

int qp_op_attr_float(const qp_graph *g, int ni, const char *name, float dflt, float *out)
{
    const qp_attr *a;
    int rc = attr_typed(g, ni, name, QP_ATTR_FLOAT, &a);
    *out = a ? a->f : dflt;
    return rc;
}

int qp_op_attr_string(const qp_graph *g, int ni, const char *name, const char *dflt, const char **out)
{
    const qp_attr *a;
    int rc = attr_typed(g, ni, name, QP_ATTR_STRING, &a);
    *out = a ? a->s : dflt;
    return rc;
}

int qp_op_attr_ints(const qp_graph *g, int ni, const char *name, int *n, const int64_t **v)
{
    const qp_attr *a;
    int rc = attr_typed(g, ni, name, QP_ATTR_INTS, &a);
    *n = a ? a->n : -1;
    *v = a ? a->ints : NULL;
    return rc;
}

int qp_op_attr_floats(const qp_graph *g, int ni, const char *name, int *n, const float **v)
{
    const qp_attr *a;
    int rc = attr_typed(g, ni, name, QP_ATTR_FLOATS, &a);
    *n = a ? a->n : -1;
    *v = a ? a->floats : NULL;
    return rc;
}

int qp_op_attr_tensor(const qp_graph *g, int ni, const char *name, const qp_tensor **t)
{
    const qp_attr *a;
    int rc = attr_typed(g, ni, name, QP_ATTR_TENSOR, &a);
    *t = a ? &a->t : NULL;
    return rc;
}

int qp_op_attr_need(const qp_graph *g, int ni, const char *name)
{
    if (!qp_node_attr(&g->nodes[ni], name))
        return qp_op_error(g, ni, "required attribute '%s' is missing", name);
    return 0;
}
