/* The in-memory graph.  Values and nodes live in growable arrays owned by the graph;
 * strings, attribute payloads and constant data live in the graph's arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/graph.h"

qp_graph *qp_graph_new(void)
{
    qp_graph *g = qp_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->arena = qp_arena_new(1u << 20);
    if (!g->arena) {
        qp_free(g);
        return NULL;
    }
    g->model_name = g->producer = "";
    return g;
}

void qp_graph_free(qp_graph *g)
{
    if (!g)
        return;
    qp_free(g->values);
    qp_free(g->nodes);
    qp_arena_free(g->arena);
    qp_free(g);
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *p = qp_realloc(*arr, (size_t)nc * elem);
    if (!p)
        return -1;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return 0;
}

int qp_dims_numel(int rank, const int64_t *dims, size_t *numel)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return qp_errorf(QP_EINPUT, "negative dimension %lld", (long long)dims[i]);
        if (qp_mul_size(n, (size_t)dims[i], &n) || n > ((size_t)1 << 40))
            return qp_errorf(QP_EINPUT, "tensor size overflows");
    }
    *numel = n;
    return 0;
}

int qp_value_numel(const qp_value *v, size_t *numel)
{
    return qp_dims_numel(v->rank, v->dims, numel);
}

int qp_graph_add_value(qp_graph *g, const char *name, int dtype, int rank, const int64_t *dims)
{
    if (rank < 0 || rank > QP_MAX_RANK) {
        qp_errorf(QP_EINPUT, "tensor '%s' has rank %d (at most %d)", name, rank, QP_MAX_RANK);
        return -1;
    }
    if (grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof(qp_value)))
        return -1;
    qp_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = qp_arena_strdup(g->arena, name);
    if (!v->name)
        return -1;
    v->dtype = dtype;
    v->rank = rank;
    if (rank)
        memcpy(v->dims, dims, (size_t)rank * sizeof(int64_t));
    v->producer = -1;
    v->key = "";
    return g->n_values++;
}

int qp_graph_add_const(qp_graph *g, const char *name, int dtype, int rank, const int64_t *dims,
                       const void *data, size_t nbytes)
{
    int vi = qp_graph_add_value(g, name, dtype, rank, dims);
    if (vi < 0)
        return -1;
    qp_value *v = &g->values[vi];
    v->is_const = 1;
    v->nbytes = nbytes;
    v->data = qp_arena_alloc(g->arena, nbytes ? nbytes : 1);
    if (!v->data)
        return -1;
    if (nbytes && data)
        memcpy(v->data, data, nbytes);
    return vi;
}

int qp_graph_add_node(qp_graph *g, const char *op_type, const char *name, int n_in, const int *in,
                      int n_out, const int *out)
{
    if (n_in < 0 || n_in > QP_MAX_IO || n_out < 0 || n_out > QP_MAX_IO) {
        qp_errorf(QP_EINPUT, "node '%s' has %d inputs and %d outputs (at most %d)", name, n_in,
                  n_out, QP_MAX_IO);
        return -1;
    }
    if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(qp_node)))
        return -1;
    qp_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op_type = qp_arena_strdup(g->arena, op_type);
    n->name = qp_arena_strdup(g->arena, name);
    n->key = "";
    n->op = -1;
    n->in = qp_arena_array(g->arena, (size_t)n_in + 1, sizeof(int));
    n->out = qp_arena_array(g->arena, (size_t)n_out + 1, sizeof(int));
    if (!n->op_type || !n->name || !n->in || !n->out)
        return -1;
    n->n_in = n_in;
    n->n_out = n_out;
    if (n_in)
        memcpy(n->in, in, (size_t)n_in * sizeof(int));
    if (n_out)
        memcpy(n->out, out, (size_t)n_out * sizeof(int));
    for (int j = 0; j < n_out; j++)
        if (out[j] >= 0 && out[j] < g->n_values) {
            g->values[out[j]].producer = g->n_nodes;
            g->values[out[j]].port = j;
        }
    return g->n_nodes++;
}

static qp_attr *new_attr(qp_graph *g, int ni, const char *name, int type)
{
    qp_node *n = &g->nodes[ni];
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attr[i].name, name)) {
            qp_attr *a = &n->attr[i];
            memset(a, 0, sizeof *a);
            a->name = name;
            a->name = qp_arena_strdup(g->arena, name);
            a->type = type;
            return a->name ? a : NULL;
        }
    qp_attr *na = qp_arena_array(g->arena, (size_t)n->n_attr + 1, sizeof(qp_attr));
    if (!na)
        return NULL;
    if (n->n_attr)
        memcpy(na, n->attr, (size_t)n->n_attr * sizeof(qp_attr));
    n->attr = na;
    qp_attr *a = &na[n->n_attr++];
    a->name = qp_arena_strdup(g->arena, name);
    a->type = type;
    return a->name ? a : NULL;
}

int qp_node_set_int(qp_graph *g, int ni, const char *name, int64_t v)
{
    qp_attr *a = new_attr(g, ni, name, QP_ATTR_INT);
    if (!a)
        return QP_ESYS;
    a->i = v;
    return 0;
}

int qp_node_set_float(qp_graph *g, int ni, const char *name, float v)
{
    qp_attr *a = new_attr(g, ni, name, QP_ATTR_FLOAT);
    if (!a)
        return QP_ESYS;
    a->f = v;
    return 0;
}

int qp_node_set_string(qp_graph *g, int ni, const char *name, const char *s, size_t len)
{
    qp_attr *a = new_attr(g, ni, name, QP_ATTR_STRING);
    if (!a || !(a->s = qp_arena_strndup(g->arena, s, len)))
        return QP_ESYS;
    a->s_len = len;
    return 0;
}

int qp_node_set_ints(qp_graph *g, int ni, const char *name, int n, const int64_t *v)
{
    qp_attr *a = new_attr(g, ni, name, QP_ATTR_INTS);
    if (!a || !(a->ints = qp_arena_array(g->arena, (size_t)n + 1, sizeof(int64_t))))
        return QP_ESYS;
    a->n = n;
    if (n)
        memcpy(a->ints, v, (size_t)n * sizeof(int64_t));
    return 0;
}

int qp_node_set_floats(qp_graph *g, int ni, const char *name, int n, const float *v)
{
    qp_attr *a = new_attr(g, ni, name, QP_ATTR_FLOATS);
    if (!a || !(a->floats = qp_arena_array(g->arena, (size_t)n + 1, sizeof(float))))
        return QP_ESYS;
    a->n = n;
    if (n)
        memcpy(a->floats, v, (size_t)n * sizeof(float));
    return 0;
}

int qp_node_set_tensor(qp_graph *g, int ni, const char *name, const qp_tensor *t)
{
    qp_attr *a = new_attr(g, ni, name, QP_ATTR_TENSOR);
    if (!a)
        return QP_ESYS;
    a->t = *t;
    a->t.data = qp_arena_alloc(g->arena, t->nbytes ? t->nbytes : 1);
    if (!a->t.data)
        return QP_ESYS;
    if (t->nbytes)
        memcpy(a->t.data, t->data, t->nbytes);
    return 0;
}

int qp_graph_add_history(qp_graph *g, const char *tool, int argc, char **argv)
{
    qp_history *h = qp_arena_array(g->arena, (size_t)g->n_history + 1, sizeof *h);
    if (!h)
        return QP_ESYS;
    if (g->n_history)
        memcpy(h, g->history, (size_t)g->n_history * sizeof *h);
    qp_history *e = &h[g->n_history];
    e->tool = qp_arena_strdup(g->arena, tool);
    e->version = QP_VERSION_STRING;
    e->args = qp_arena_array(g->arena, (size_t)argc + 1, sizeof(char *));
    if (!e->tool || !e->args)
        return QP_ESYS;
    for (int i = 0; i < argc; i++)
        if (!(e->args[i] = qp_arena_strdup(g->arena, argv[i])))
            return QP_ESYS;
    e->n_args = argc;
    g->history = h;
    g->n_history++;
    return 0;
}

int qp_graph_set_section(qp_graph *g, const char *kind, uint32_t version, const void *data, size_t len)
{
    uint8_t *copy = qp_arena_alloc(g->arena, len ? len : 1);
    if (!copy)
        return QP_ESYS;
    if (len)
        memcpy(copy, data, len);
    for (int i = 0; i < g->n_sections; i++)
        if (!strcmp(g->sections[i].kind, kind)) {
            g->sections[i].version = version;
            g->sections[i].data = copy;
            g->sections[i].len = len;
            return 0;
        }
    qp_section *s = qp_arena_array(g->arena, (size_t)g->n_sections + 1, sizeof *s);
    if (!s)
        return QP_ESYS;
    if (g->n_sections)
        memcpy(s, g->sections, (size_t)g->n_sections * sizeof *s);
    s[g->n_sections].kind = qp_arena_strdup(g->arena, kind);
    s[g->n_sections].version = version;
    s[g->n_sections].data = copy;
    s[g->n_sections].len = len;
    g->sections = s;
    g->n_sections++;
    return 0;
}

const qp_section *qp_graph_section(const qp_graph *g, const char *kind)
{
    for (int i = 0; i < g->n_sections; i++)
        if (!strcmp(g->sections[i].kind, kind))
            return &g->sections[i];
    return NULL;
}

const qp_attr *qp_node_attr(const qp_node *n, const char *name)
{
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attr[i].name, name))
            return &n->attr[i];
    return NULL;
}

int64_t qp_node_int(const qp_node *n, const char *name, int64_t dflt)
{
    const qp_attr *a = qp_node_attr(n, name);
    return a && a->type == QP_ATTR_INT ? a->i : dflt;
}

float qp_node_float(const qp_node *n, const char *name, float dflt)
{
    const qp_attr *a = qp_node_attr(n, name);
    return a && a->type == QP_ATTR_FLOAT ? a->f : dflt;
}

const char *qp_node_string(const qp_node *n, const char *name, const char *dflt)
{
    const qp_attr *a = qp_node_attr(n, name);
    return a && a->type == QP_ATTR_STRING ? a->s : dflt;
}

qp_tensor qp_value_tensor(const qp_value *v)
{
    qp_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = v->dtype;
    t.rank = v->rank;
    memcpy(t.dims, v->dims, sizeof t.dims);
    t.data = v->data;
    t.nbytes = v->nbytes;
    return t;
}

const char *qp_node_key(const qp_node *n)
{
    return n->key && n->key[0] ? n->key : n->name;
}

const char *qp_node_label(const qp_graph *g, int ni)
{
    static _Thread_local char buf[512];
    if (ni < 0 || ni >= g->n_nodes)
        return "'?'";
    const qp_node *n = &g->nodes[ni];
    snprintf(buf, sizeof buf, "node '%s' (%s)", n->name, n->op_type);
    return buf;
}

int qp_graph_consumers(const qp_graph *g, int vi, int *nodes, int max)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const qp_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == vi) {
                if (c < max)
                    nodes[c] = i;
                c++;
                break;
            }
    }
    return c;
}

int qp_graph_uses(const qp_graph *g, int vi)
{
    int c = qp_graph_consumers(g, vi, NULL, 0);
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == vi)
            c++;
    return c;
}

int qp_graph_find_value(const qp_graph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (!strcmp(g->values[i].name, name))
            return i;
    return -1;
}

int qp_graph_validate(const qp_graph *g)
{
    int rc = 0;
    char *defined = qp_calloc((size_t)g->n_values + 1, 1);
    if (!defined)
        return QP_ESYS;
    for (int i = 0; i < g->n_values; i++) {
        const qp_value *v = &g->values[i];
        size_t numel, bytes;
        if (v->rank < 0 || v->rank > QP_MAX_RANK) {
            rc = qp_errorf(QP_EINPUT, "tensor '%s' has rank %d", v->name, v->rank);
            goto out;
        }
        if (qp_value_numel(v, &numel)) {
            rc = qp_error_prefix(QP_EINPUT, "tensor '%s'", v->name);
            goto out;
        }
        if (qp_dtype_size(v->dtype) == 0) {
            rc = qp_errorf(QP_EINPUT, "tensor '%s' has unsupported data type %d", v->name, v->dtype);
            goto out;
        }
        if (qp_mul_size(numel, qp_dtype_size(v->dtype), &bytes)) {
            rc = qp_errorf(QP_EINPUT, "tensor '%s': size overflows", v->name);
            goto out;
        }
        if (v->is_const) {
            if (v->nbytes != bytes) {
                rc = qp_errorf(QP_EINPUT, "constant '%s' has %zu bytes of data, its shape needs %zu",
                               v->name, v->nbytes, bytes);
                goto out;
            }
            defined[i] = 1;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        int vi = g->inputs[i];
        if (vi < 0 || vi >= g->n_values) {
            rc = qp_errorf(QP_EINPUT, "graph input %d refers to tensor %d, not in the graph", i, vi);
            goto out;
        }
        if (g->values[vi].is_const) {
            rc = qp_errorf(QP_EINPUT, "graph input '%s' is a constant", g->values[vi].name);
            goto out;
        }
        defined[vi] = 1;
    }
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        for (int j = 0; j < n->n_in; j++) {
            int vi = n->in[j];
            if (vi == -1)
                continue;
            if (vi < 0 || vi >= g->n_values) {
                rc = qp_errorf(QP_EINPUT, "%s: input %d refers to tensor %d, not in the graph",
                               qp_node_label(g, ni), j, vi);
                goto out;
            }
            if (!defined[vi]) {
                rc = qp_errorf(QP_EINPUT, "%s: input '%s' is used before it is produced (a cycle or bad order)",
                               qp_node_label(g, ni), g->values[vi].name);
                goto out;
            }
        }
        for (int j = 0; j < n->n_out; j++) {
            int vi = n->out[j];
            if (vi == -1)
                continue;
            if (vi < 0 || vi >= g->n_values) {
                rc = qp_errorf(QP_EINPUT, "%s: output %d refers to tensor %d, not in the graph",
                               qp_node_label(g, ni), j, vi);
                goto out;
            }
            if (defined[vi]) {
                rc = qp_errorf(QP_EINPUT, "%s: output '%s' is already produced elsewhere",
                               qp_node_label(g, ni), g->values[vi].name);
                goto out;
            }
            defined[vi] = 1;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int vi = g->outputs[i];
        if (vi < 0 || vi >= g->n_values) {
            rc = qp_errorf(QP_EINPUT, "graph output %d refers to tensor %d, not in the graph", i, vi);
            goto out;
        }
        if (!defined[vi]) {
            rc = qp_errorf(QP_EINPUT, "graph output '%s' is not produced by any node", g->values[vi].name);
            goto out;
        }
    }
out:
    qp_free(defined);
    return rc;
}
