/* Graph rewriting.  The graph is in topological order, so one backward sweep finds what the
 * outputs depend on; compaction keeps relative order, so the result stays topological. */
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/graph_edit.h"

int qp_graph_replace_uses(qp_graph *g, int from, int to)
{
    int c = 0;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        qp_node *n = &g->nodes[ni];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == from) {
                n->in[j] = to;
                c++;
            }
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == from) {
            g->outputs[i] = to;
            c++;
        }
    return c;
}

void qp_graph_set_output(qp_graph *g, int ni, int oi, int vi)
{
    qp_node *n = &g->nodes[ni];
    int old = n->out[oi];
    if (old >= 0 && g->values[old].producer == ni) {
        g->values[old].producer = -1;
        g->values[old].port = 0;
    }
    n->out[oi] = vi;
    if (vi >= 0) {
        g->values[vi].producer = ni;
        g->values[vi].port = oi;
    }
}

int qp_graph_liveness(const qp_graph *g, const unsigned char *removed, unsigned char *node_live,
                      unsigned char *value_live)
{
    unsigned char *vl = value_live ? value_live : qp_calloc((size_t)g->n_values + 1, 1);
    if (!vl)
        return QP_ESYS;
    memset(vl, 0, (size_t)g->n_values);
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] >= 0 && g->outputs[i] < g->n_values)
            vl[g->outputs[i]] = 1;
    for (int ni = g->n_nodes - 1; ni >= 0; ni--) {
        const qp_node *n = &g->nodes[ni];
        int live = 0;
        if (!removed || !removed[ni])
            for (int j = 0; j < n->n_out; j++)
                live |= n->out[j] >= 0 && vl[n->out[j]];
        if (node_live)
            node_live[ni] = (unsigned char)live;
        if (!live)
            continue;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0)
                vl[n->out[j]] = 1;      /* a live node keeps all its outputs */
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                vl[n->in[j]] = 1;
    }
    for (int i = 0; i < g->n_inputs; i++)
        vl[g->inputs[i]] = 1;
    if (!value_live)
        free(vl);
    return 0;
}

int qp_graph_compact(qp_graph *g, const unsigned char *removed, int *vmap, int *nmap)
{
    int nv = g->n_values, nn = g->n_nodes;
    unsigned char *nl = qp_calloc((size_t)nn + 1, 1), *vl = qp_calloc((size_t)nv + 1, 1);
    int *vm = vmap ? vmap : qp_calloc((size_t)nv + 1, sizeof *vm);
    int *nm = nmap ? nmap : qp_calloc((size_t)nn + 1, sizeof *nm);
    int rc = 0;
    if (!nl || !vl || !vm || !nm) {
        rc = QP_ESYS;
        goto out;
    }
    if ((rc = qp_graph_liveness(g, removed, nl, vl)))
        goto out;
    int k = 0;
    for (int vi = 0; vi < nv; vi++) {
        vm[vi] = vl[vi] ? k : -1;
        if (vl[vi])
            g->values[k++] = g->values[vi];
    }
    g->n_values = k;
    k = 0;
    for (int ni = 0; ni < nn; ni++) {
        nm[ni] = nl[ni] ? k : -1;
        if (nl[ni])
            g->nodes[k++] = g->nodes[ni];
    }
    g->n_nodes = k;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        qp_node *n = &g->nodes[ni];
        for (int j = 0; j < n->n_in; j++)
            n->in[j] = n->in[j] >= 0 ? vm[n->in[j]] : -1;
        for (int j = 0; j < n->n_out; j++)
            n->out[j] = n->out[j] >= 0 ? vm[n->out[j]] : -1;
    }
    for (int vi = 0; vi < g->n_values; vi++) {
        qp_value *v = &g->values[vi];
        v->producer = v->producer >= 0 && v->producer < nn ? nm[v->producer] : -1;
        if (v->producer < 0)
            v->port = 0;
    }
    for (int i = 0; i < g->n_inputs; i++)
        g->inputs[i] = vm[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++)
        g->outputs[i] = vm[g->outputs[i]];
out:
    free(nl);
    free(vl);
    if (!vmap)
        free(vm);
    if (!nmap)
        free(nm);
    return rc;
}

const char *qp_graph_unique_name(qp_graph *g, const char *base)
{
    if (qp_graph_find_value(g, base) < 0)
        return qp_arena_strdup(g->arena, base);
    for (unsigned i = 1;; i++) {
        char *s = qp_arena_printf(g->arena, "%s_%u", base, i);
        if (!s || qp_graph_find_value(g, s) < 0)
            return s;
    }
}
