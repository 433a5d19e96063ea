/* Layer keys as Acuity assigns them (ANCHORS 1.7): layers are nodes, graph inputs, graph
 * outputs ("attach_" layers) and the constants that are not absorbed into their consumer as a
 * weight or a parameter; uids are handed out breadth-first from the outputs.  qmix and every
 * tool that names layers resolve keys here. */
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/keys.h"
#include "qp/op.h"

struct ctx {
    qp_graph *g;
    const unsigned char *init;
    int nn, nv, nl;
    unsigned char *is_layer;    /* per value: graph input or Initializer_ constant */
    unsigned char *is_input;    /* per value */
};

/* Does input j of node ni make its constant a layer (and is it an edge of the layer graph)? */
static int const_edge(const struct ctx *c, int ni, int j)
{
    const qp_node *n = &c->g->nodes[ni];
    int vi = n->in[j];
    const qp_op *op = qp_op_get(n->op);
    uint32_t bit = j < 32 ? (uint32_t)1 << j : 0;
    uint32_t wmask = op ? op->weight_mask : 0, pmask = op ? op->param_mask : 0;
    if (wmask & bit)
        return 0;
    return !(pmask & bit) || (c->init && c->init[vi]);
}

/* The layer value vi comes from when read by input j of node ni (ni < 0: a graph output), or -1. */
static int source_layer(const struct ctx *c, int vi, int ni, int j)
{
    const qp_value *v = &c->g->values[vi];
    if (v->producer >= 0)
        return v->producer;
    if (!c->is_layer[vi])
        return -1;
    if (c->is_input[vi] || ni < 0 || const_edge(c, ni, j))
        return c->nn + vi;
    return -1;
}

/* The name of the layer that produces value vi and the producer's port, for attach_ names. */
static const char *producer_name(const struct ctx *c, int vi, int *port)
{
    const qp_value *v = &c->g->values[vi];
    *port = 0;
    if (v->producer >= 0) {
        const qp_node *n = &c->g->nodes[v->producer];
        *port = v->port;
        return qp_arena_printf(c->g->arena, "%s_%s", n->op_type, n->name);
    }
    if (c->is_input[vi])
        return v->name;
    return qp_arena_printf(c->g->arena, "Initializer_%s", v->name);
}

int qp_keys_assign(qp_graph *g, const unsigned char *const_is_initializer)
{
    struct ctx c = { g, const_is_initializer, g->n_nodes, g->n_values, 0, NULL, NULL };
    c.nl = c.nn + c.nv + g->n_outputs;
    c.is_layer = qp_calloc((size_t)c.nv + 1, 1);
    c.is_input = qp_calloc((size_t)c.nv + 1, 1);
    long *uid = qp_calloc((size_t)c.nl + 1, sizeof *uid);
    int *queue = qp_calloc((size_t)c.nl + 1, sizeof *queue);
    int rc = 0;
    if (!c.is_layer || !c.is_input || !uid || !queue) {
        rc = QP_ESYS;
        goto out;
    }
    for (int i = 0; i < g->n_inputs; i++)
        c.is_layer[g->inputs[i]] = c.is_input[g->inputs[i]] = 1;
    for (int ni = 0; ni < c.nn; ni++) {
        const qp_node *n = &g->nodes[ni];
        for (int j = 0; j < n->n_in; j++) {
            int vi = n->in[j];
            if (vi >= 0 && g->values[vi].is_const && g->values[vi].producer < 0 && const_edge(&c, ni, j))
                c.is_layer[vi] = 1;
        }
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->values[g->outputs[i]].producer < 0)
            c.is_layer[g->outputs[i]] = 1;      /* a constant or input as an output needs a layer */
    for (int l = 0; l < c.nl; l++)
        uid[l] = -1;
    long next = 0;
    int head = 0, tail = 0;
    for (int k = 0; k < g->n_outputs; k++) {
        uid[c.nn + c.nv + k] = next++;
        queue[tail++] = c.nn + c.nv + k;
    }
    while (head < tail) {
        int l = queue[head++];
        if (l >= c.nn + c.nv) {
            int src = source_layer(&c, g->outputs[l - c.nn - c.nv], -1, 0);
            if (src >= 0 && uid[src] < 0) {
                uid[src] = next++;
                queue[tail++] = src;
            }
        } else if (l < c.nn) {
            const qp_node *n = &g->nodes[l];
            for (int j = 0; j < n->n_in; j++) {
                if (n->in[j] < 0)
                    continue;
                int src = source_layer(&c, n->in[j], l, j);
                if (src >= 0 && uid[src] < 0) {
                    uid[src] = next++;
                    queue[tail++] = src;
                }
            }
        }
    }
    for (int l = 0; l < c.nn + c.nv; l++)   /* layers the outputs do not reach */
        if (uid[l] < 0 && (l < c.nn || c.is_layer[l - c.nn]))
            uid[l] = next++;
    for (int ni = 0; ni < c.nn; ni++) {
        qp_node *n = &g->nodes[ni];
        if (!(n->key = qp_arena_printf(g->arena, "%s_%s_%ld", n->op_type, n->name, uid[ni]))) {
            rc = QP_ESYS;
            goto out;
        }
    }
    for (int vi = 0; vi < c.nv; vi++) {
        qp_value *v = &g->values[vi];
        if (!c.is_layer[vi]) {
            v->key = "";
            continue;
        }
        v->key = c.is_input[vi] ? qp_arena_printf(g->arena, "%s_%ld", v->name, uid[c.nn + vi])
                                : qp_arena_printf(g->arena, "Initializer_%s_%ld", v->name, uid[c.nn + vi]);
        if (!v->key) {
            rc = QP_ESYS;
            goto out;
        }
    }
    g->output_keys = qp_arena_array(g->arena, (size_t)g->n_outputs + 1, sizeof(char *));
    if (!g->output_keys) {
        rc = QP_ESYS;
        goto out;
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int port;
        const char *pn = producer_name(&c, g->outputs[k], &port);
        if (!pn || !(g->output_keys[k] = qp_arena_printf(g->arena, "attach_%s/out%d_%ld", pn, port,
                                                          uid[c.nn + c.nv + k]))) {
            rc = QP_ESYS;
            goto out;
        }
    }
out:
    qp_free(c.is_layer);
    qp_free(c.is_input);
    qp_free(uid);
    qp_free(queue);
    return rc;
}

int qp_keys_find(const qp_graph *g, const char *key, int *is_node, int *index)
{
    for (int ni = 0; ni < g->n_nodes; ni++)
        if (g->nodes[ni].key && !strcmp(g->nodes[ni].key, key)) {
            *is_node = QP_KEY_NODE;
            *index = ni;
            return 0;
        }
    for (int vi = 0; vi < g->n_values; vi++)
        if (g->values[vi].key && g->values[vi].key[0] && !strcmp(g->values[vi].key, key)) {
            *is_node = QP_KEY_VALUE;
            *index = vi;
            return 0;
        }
    for (int k = 0; g->output_keys && k < g->n_outputs; k++)
        if (g->output_keys[k] && !strcmp(g->output_keys[k], key)) {
            *is_node = QP_KEY_OUTPUT;
            *index = k;
            return 0;
        }
    return -1;
}

/* ---- suggestions ---- */

static size_t levenshtein(const char *a, size_t na, const char *b, size_t nb, size_t *row)
{
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* Length of s without a trailing "_<digits>" uid. */
static size_t base_len(const char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
        i--;
    return i < n && i > 0 && s[i - 1] == '_' ? i - 1 : n;
}

struct cand { const char *key; size_t score; };

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return strcmp(x->key, y->key);
}

int qp_keys_nearest(const qp_graph *g, const char *key, const char **out, int max)
{
    int total = g->n_nodes + g->n_values + g->n_outputs;
    struct cand *c = qp_calloc((size_t)total + 1, sizeof *c);
    size_t nk = strlen(key), kb = base_len(key), longest = 0;
    const char **all = qp_calloc((size_t)total + 1, sizeof *all);
    int n = 0, na = 0;
    if (!c || !all) {
        qp_free(c);
        qp_free(all);
        return 0;
    }
    for (int i = 0; i < g->n_nodes; i++)
        all[na++] = g->nodes[i].key;
    for (int i = 0; i < g->n_values; i++)
        all[na++] = g->values[i].key;
    for (int i = 0; g->output_keys && i < g->n_outputs; i++)
        all[na++] = g->output_keys[i];
    for (int i = 0; i < na; i++)
        if (all[i] && strlen(all[i]) > longest)
            longest = strlen(all[i]);
    size_t *row = qp_calloc(longest + nk + 2, sizeof *row);
    size_t limit = nk / 3 > 2 ? nk / 3 : 2;
    for (int i = 0; row && i < na; i++) {
        const char *k = all[i];
        if (!k || !k[0])
            continue;
        size_t nkk = strlen(k), kkb = base_len(k);
        size_t s = levenshtein(key, nk, k, nkk, row);
        size_t s2 = levenshtein(key, nk, k, kkb, row);          /* the key without its uid */
        size_t s3 = levenshtein(key, kb, k, kkb, row) + 1;      /* right name, wrong uid */
        if (s2 < s)
            s = s2;
        if (s3 < s)
            s = s3;
        if (nk >= 3 && strstr(k, key) && s > 1)
            s = 1;
        if (s <= limit)
            c[n++] = (struct cand){ k, s };
    }
    qsort(c, (size_t)n, sizeof *c, cmp_cand);
    int m = n < max ? n : max;
    for (int i = 0; i < m; i++)
        out[i] = c[i].key;
    qp_free(row);
    qp_free(c);
    qp_free(all);
    return m;
}

/* ---- listing ---- */

static long key_uid(const char *k)
{
    size_t n = strlen(k), b = base_len(k);
    return b < n ? strtol(k + b + 1, NULL, 10) : -1;
}

static int cmp_layer(const void *a, const void *b)
{
    const qp_key_layer *x = a, *y = b;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

int qp_keys_layers(const qp_graph *g, qp_key_layer **out, int *n_layers)
{
    *out = NULL;
    *n_layers = 0;
    qp_key_layer *l = qp_calloc((size_t)(g->n_nodes + g->n_values + g->n_outputs) + 1, sizeof *l);
    if (!l)
        return QP_ESYS;
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].key && g->nodes[i].key[0])
            l[n++] = (qp_key_layer){ QP_KEY_NODE, i, g->nodes[i].key, key_uid(g->nodes[i].key) };
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].key && g->values[i].key[0])
            l[n++] = (qp_key_layer){ QP_KEY_VALUE, i, g->values[i].key, key_uid(g->values[i].key) };
    for (int i = 0; g->output_keys && i < g->n_outputs; i++)
        if (g->output_keys[i] && g->output_keys[i][0])
            l[n++] = (qp_key_layer){ QP_KEY_OUTPUT, i, g->output_keys[i], key_uid(g->output_keys[i]) };
    qsort(l, (size_t)n, sizeof *l, cmp_layer);
    *out = l;
    *n_layers = n;
    return 0;
}
