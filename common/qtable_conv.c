/* Converter names (qp/qtable_conv.h): qmix lists them and writes their entries, qinfer
 * --dump-all dumps the tensor each converted input is at, under the same names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/keys.h"
#include "qp/qtable_conv.h"

/* The type as the vendor glues it into a converter's name: dynamic_fixed_pointi16, float16. */
static void glued(const qp_qentry *e, char *buf, size_t n)
{
    if (qp_quantizer_is_float(e->quantizer))
        snprintf(buf, n, "%s", e->quantizer == QP_QZ_NONE ? "float32" : qp_quantizer_name(e->quantizer));
    else
        snprintf(buf, n, "%s%s", qp_quantizer_name(e->quantizer), qp_qtable_qtype_name(e->qtype));
}

void qp_qtable_converters_free(qp_qconv *cv, int n)
{
    for (int i = 0; i < n; i++)
        free(cv[i].key);
    free(cv);
}

int qp_qtable_converters(const qp_qtable *t, qp_qconv **out, int *n)
{
    const qp_graph *g = t->g;
    qp_qslot *s;
    qp_key_layer *l;
    int ns, nl, rc;
    *out = NULL;
    *n = 0;
    if ((rc = qp_qtable_slots(g, &s, &ns)))
        return rc;
    /* which tensors the table describes: values, weights, biases */
    unsigned char *rv = qp_calloc((size_t)g->n_values + 1, 1), *rw = qp_calloc((size_t)g->n_nodes + 1, 1),
                  *rb = qp_calloc((size_t)g->n_nodes + 1, 1);
    if (!rv || !rw || !rb)
        rc = QP_ESYS;
    for (int i = 0; !rc && i < ns; i++)
        if (s[i].required)
            (s[i].port == QP_QPORT_VALUE ? rv : s[i].port == QP_QPORT_WEIGHT ? rw : rb)[s[i].index] = 1;
    free(s);
    long uid = 0;
    if (!rc && !(rc = qp_keys_layers(g, &l, &nl))) {
        for (int i = 0; i < nl; i++)
            if (l[i].uid >= uid)
                uid = l[i].uid + 1;
        free(l);
    }
    int cap = 16, k = 0;
    qp_qconv *cv = rc ? NULL : qp_calloc((size_t)cap, sizeof *cv);
    if (!rc && !cv)
        rc = QP_ESYS;
    for (int ni = 0; !rc && ni < g->n_nodes; ni++) {
        const qp_node *nd = &g->nodes[ni];
        if (nd->n_out < 1 || nd->out[0] < 0 || !rv[nd->out[0]])
            continue;
        const qp_qentry *to = &t->value[nd->out[0]];
        for (int j = 0; !rc && j < nd->n_in; j++) {
            int vi = nd->in[j];
            if (vi < 0 || !rv[vi] || g->values[vi].is_const || (j == 1 && rw[ni]) || (j == 2 && rb[ni]))
                continue;
            const qp_qentry *from = &t->value[vi];
            if (from->quantizer == to->quantizer && from->qtype == to->qtype)
                continue;
            if (k == cap) {
                qp_qconv *m = qp_realloc(cv, (size_t)(cap *= 2) * sizeof *cv);
                if (!m) {
                    rc = QP_ESYS;
                    break;
                }
                cv = m;
            }
            char a[96], b[96];
            glued(from, a, sizeof a);
            glued(to, b, sizeof b);
            size_t len = strlen(nd->key) + strlen(a) + strlen(b) + 48;
            qp_qconv *x = &cv[k];
            *x = (qp_qconv){ni, j, vi, qp_malloc(len)};
            if (!x->key) {
                rc = QP_ESYS;
                break;
            }
            snprintf(x->key, len, "%s_pre_%s_to_%s_%ld", nd->key, a, b, uid++);
            k++;
        }
    }
    free(rv);
    free(rw);
    free(rb);
    if (rc) {
        qp_qtable_converters_free(cv, k);
        return rc;
    }
    *out = cv;
    *n = k;
    return 0;
}
