/* The quantization table's IR section "qtable" (protobuf-c) and its .quantize files (libyaml,
 * qtable_yaml.c): kept apart from qtable.c so that the table itself depends on libc only. */
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/qtable.h"
#include "qp/qtable_yaml.h"
#include "qp/tensorio.h"
#include "qpipe_ir.pb-c.h"

#define SECTION_KIND "qtable"
#define SECTION_VERSION 1

/* ---- the IR section ------------------------------------------------------------------------- */

int qp_qtable_store(qp_graph *g, const qp_qtable *t)
{
    qp_qslot *s;
    qp_qcustom *cu;
    int n, nc, rc = qp_qtable_slots(g, &s, &n);
    if (rc)
        return rc;
    if ((rc = qp_qtable_customs(t, &cu, &nc))) {
        free(s);
        return rc;
    }
    Qpipe__QuantEntry *ent = qp_calloc((size_t)n + 1, sizeof *ent);
    Qpipe__QuantEntry **pent = qp_calloc((size_t)n + 1, sizeof *pent);
    Qpipe__CustomLayer *cl = qp_calloc((size_t)nc + 1, sizeof *cl);
    Qpipe__CustomLayer **pcl = qp_calloc((size_t)nc + 1, sizeof *pcl);
    Qpipe__BiasCorrection *bc = qp_calloc((size_t)g->n_nodes + 1, sizeof *bc);
    Qpipe__BiasCorrection **pbc = qp_calloc((size_t)g->n_nodes + 1, sizeof *pbc);
    qp_arena *keys = qp_arena_new(1 << 14);
    uint8_t *buf = NULL;
    char key[1100];
    if (!ent || !pent || !cl || !pcl || !bc || !pbc || !keys) {
        rc = QP_ESYS;
        goto out;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        const qp_qentry *e = qp_qtable_entry(t, s[i]);
        if (!qp_qentry_present(e))
            continue;
        Qpipe__QuantEntry *q = &ent[m];
        qpipe__quant_entry__init(q);
        if (!(q->key = qp_arena_strdup(keys, qp_qtable_key(g, s[i], key, sizeof key)))) {
            rc = QP_ESYS;
            goto out;
        }
        q->quantizer = (char *)qp_quantizer_name(e->quantizer);
        q->qtype = (char *)qp_qtable_qtype_name(e->qtype);
        q->min_value = e->min;
        q->max_value = e->max;
        q->n_scale = e->scale ? (size_t)e->n : 0;
        q->scale = e->scale;
        q->n_zero_point = e->zero_point ? (size_t)e->n : 0;
        q->zero_point = e->zero_point;
        q->fl = e->fl;
        q->has_fl = e->quantizer == QP_QZ_DYNAMIC_FIXED_POINT;
        q->channel_dim = e->channel_dim;
        pent[m] = q;
        m++;
    }
    for (int i = 0; i < nc; i++) {
        qpipe__custom_layer__init(&cl[i]);
        cl[i].key = (char *)cu[i].key;
        cl[i].type = (char *)cu[i].type;
        pcl[i] = &cl[i];
    }
    size_t nb = 0;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        if (!t->bias_corr[ni])
            continue;
        qpipe__bias_correction__init(&bc[nb]);
        bc[nb].key = (char *)qp_node_key(&g->nodes[ni]);
        bc[nb].n_delta = (size_t)qp_qtable_bias_corr_channels(g, ni);
        bc[nb].delta = t->bias_corr[ni];
        pbc[nb] = &bc[nb];
        nb++;
    }
    Qpipe__QuantTable qt = QPIPE__QUANT_TABLE__INIT;
    qt.n_bias_correction = nb;
    qt.bias_correction = pbc;
    qt.quantizer = (char *)(t->quantizer ? t->quantizer : "");
    qt.qtype = (char *)(t->qtype ? t->qtype : "");
    qt.algorithm = (char *)(t->algorithm ? t->algorithm : "");
    qt.n_entries = (size_t)m;
    qt.entries = pent;
    qt.n_customized = (size_t)nc;
    qt.customized = pcl;
    size_t len = qpipe__quant_table__get_packed_size(&qt);
    if (!(buf = qp_malloc(len + 1))) {
        rc = QP_ESYS;
        goto out;
    }
    qpipe__quant_table__pack(&qt, buf);
    rc = qp_graph_set_section(g, SECTION_KIND, SECTION_VERSION, buf, len);
out:
    free(buf);
    qp_arena_free(keys);
    free(ent);
    free(pent);
    free(cl);
    free(pcl);
    free(bc);
    free(pbc);
    free(cu);
    free(s);
    return rc;
}

static int load_entry(qp_qtable *t, const Qpipe__QuantEntry *q, unsigned char *seen_v, unsigned char *seen_w,
                      unsigned char *seen_b)
{
    qp_qslot s;
    int ignored, rc;
    if (!q->key)
        return qp_errorf(QP_EINPUT, "an entry without a key");
    if ((rc = qp_qtable_resolve(t->g, q->key, &s, &ignored)))
        return rc;
    if (ignored)
        return 0;
    unsigned char *seen = s.port == QP_QPORT_VALUE ? seen_v : s.port == QP_QPORT_WEIGHT ? seen_w : seen_b;
    if (seen[s.index]++)
        return qp_errorf(QP_EINPUT, "'%s' appears twice", q->key);
    int qz = q->quantizer ? qp_quantizer_parse(q->quantizer) : -1;
    int qt = q->qtype ? qp_qtable_qtype_parse(q->qtype) : 0;
    if (qz < 0 || !qt)
        return qp_errorf(QP_EINPUT, "'%s': unknown quantizer '%s' or qtype '%s'", q->key,
                         q->quantizer ? q->quantizer : "", q->qtype ? q->qtype : "");
    if (q->n_zero_point && q->n_zero_point != q->n_scale)
        return qp_errorf(QP_EINPUT, "'%s': %zu scales but %zu zero points", q->key, q->n_scale, q->n_zero_point);
    if (q->n_scale > (size_t)1 << 24)
        return qp_errorf(QP_EINPUT, "'%s': %zu scales", q->key, q->n_scale);
    qp_qentry *e = qp_qtable_entry(t, s);
    if ((rc = qp_qentry_set(t, e, qz, qt, (int)q->n_scale, q->scale, q->n_zero_point ? q->zero_point : NULL)))
        return rc;
    e->min = q->min_value;
    e->max = q->max_value;
    e->fl = q->has_fl ? q->fl : 0;
    e->channel_dim = q->channel_dim < 0 ? -1 : q->channel_dim;
    if ((rc = qp_qtable_check_entry(t, s, e)))
        return qp_error_prefix(QP_EINPUT, "'%s'", q->key);
    return 0;
}

int qp_qtable_load(const qp_graph *g, qp_qtable **out)
{
    *out = NULL;
    const qp_section *sec = qp_graph_section(g, SECTION_KIND);
    if (!sec)
        return qp_errorf(QP_EINPUT, "no quantization table in the stream: run qtable first");
    if (sec->version != SECTION_VERSION)
        return qp_errorf(QP_EINPUT, "section 'qtable' has version %u, expected %d", sec->version, SECTION_VERSION);
    Qpipe__QuantTable *qt = qpipe__quant_table__unpack(NULL, sec->len, sec->data);
    if (!qt)
        return qp_errorf(QP_EINPUT, "section 'qtable' is not a valid QuantTable message");
    qp_qtable *t = qp_qtable_new(g);
    unsigned char *seen = qp_calloc((size_t)g->n_values + 2 * (size_t)g->n_nodes + 3, 1);
    int rc = t && seen ? 0 : QP_ESYS;
    if (!rc && (qt->quantizer[0] || qt->qtype[0] || qt->algorithm[0])) {
        t->quantizer = qt->quantizer[0] ? qp_arena_strdup(t->arena, qt->quantizer) : NULL;
        t->qtype = qt->qtype[0] ? qp_arena_strdup(t->arena, qt->qtype) : NULL;
        t->algorithm = qt->algorithm[0] ? qp_arena_strdup(t->arena, qt->algorithm) : NULL;
    }
    for (size_t i = 0; !rc && i < qt->n_entries; i++)
        rc = load_entry(t, qt->entries[i], seen, seen + g->n_values + 1, seen + g->n_values + g->n_nodes + 2);
    for (size_t i = 0; !rc && i < qt->n_customized; i++) {
        const Qpipe__CustomLayer *c = qt->customized[i];
        rc = qp_qtable_set_custom(t, c->key ? c->key : "", c->type ? c->type : "");
    }
    for (size_t i = 0; !rc && i < qt->n_bias_correction; i++) {
        const Qpipe__BiasCorrection *b = qt->bias_correction[i];
        if (b->n_delta > (size_t)1 << 24)
            rc = qp_errorf(QP_EINPUT, "bias correction of '%s': %zu values", b->key ? b->key : "", b->n_delta);
        else
            rc = qp_qtable_set_bias_corr_key(t, b->key ? b->key : "", b->delta, (int)b->n_delta);
    }
    if (rc && rc != QP_ESYS)
        rc = qp_error_prefix(QP_EINPUT, "section 'qtable'");
    free(seen);
    qpipe__quant_table__free_unpacked(qt, NULL);
    if (rc) {
        qp_qtable_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- YAML files ----------------------------------------------------------------------------- */

int qp_qtable_read_yaml(const char *path, const qp_graph *g, qp_qtable **out)
{
    unsigned char *buf;
    size_t len;
    *out = NULL;
    int rc = qp_tensorio_read_file(path, QP_QTABLE_YAML_MAX_FILE, &buf, &len);
    if (rc)
        return rc;
    rc = qp_qtable_parse_yaml(buf, len, path, g, out);
    free(buf);
    return rc;
}

static int emit_cb(FILE *f, void *arg)
{
    return qp_qtable_emit_yaml(f, arg);
}

int qp_qtable_write_yaml(const char *path, const qp_qtable *t)
{
    return qp_tensorio_write_file(path, emit_cb, (void *)t);
}
