/* qmix's YAML: the customized_quantize_layers map of a .quantize file (read into qtable's
 * strict tree; the rest of the file only serves to recognise a table of another model), and the
 * rewritten table with the converters' entries (qtable's emitter for both). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qmix.h"
#include "qp/diag.h"
#include "qp/qtable_yaml.h"
#include "qp/tensorio.h"

static int add(qp_qmix_map *m, const char *k, const char *v)
{
    char **a = realloc(m->key, (size_t)(m->n + 1) * sizeof *a);
    if (!a)
        return QP_ESYS;
    m->key = a;
    char **b = realloc(m->type, (size_t)(m->n + 1) * sizeof *b);
    if (!b)
        return QP_ESYS;
    m->type = b;
    m->key[m->n] = strdup(k);
    m->type[m->n] = strdup(v);
    if (!m->key[m->n] || !m->type[m->n])
        return QP_ESYS;
    m->n++;
    return 0;
}

int qp_qmix_map_read(const char *path, const qp_graph *g, qp_qmix_map *m)
{
    unsigned char *buf;
    size_t len;
    memset(m, 0, sizeof *m);
    int rc = qp_tensorio_read_file(path, QP_QTABLE_YAML_MAX_FILE, &buf, &len);
    if (rc)
        return rc;
    qp_yaml y;
    qp_ynode *root = NULL;
    qp_qtable_yaml_init(&y, qp_arena_new(1 << 16), path);
    if (!y.a)
        rc = qp_errorf(QP_ESYS, "out of memory");
    else if (!(rc = qp_yaml_parse(&y, (const char *)buf, len, &root)) && root->kind != QP_YN_MAP)
        rc = qp_errorf(QP_EUSAGE, "%s: not a .quantize table (no top-level mapping)", path);
    int bad = 0, total = 0, have_map = 0;
    char first[1100] = "";
    for (int i = 0; !rc && i < root->n; i++) {
        const char *k = root->k[2 * i]->v;
        const qp_ynode *v = root->k[2 * i + 1];
        if (!strcmp(k, "quantize_parameters") && v->kind == QP_YN_MAP) {
            for (int j = 0; j < v->n; j++) {
                qp_qslot s;
                int ign = 0;
                total++;
                if (qp_qtable_resolve(g, v->k[2 * j]->v, &s, &ign) && !bad++)
                    snprintf(first, sizeof first, "%s", v->k[2 * j]->v);
            }
            qp_error_clear();
        } else if (!strcmp(k, "customized_quantize_layers")) {
            have_map = 1;
            if (qp_yaml_is_null(v))
                continue;
            if (v->kind != QP_YN_MAP)
                rc = qp_yaml_errorf(&y, v->line, v->col, "'customized_quantize_layers' must be a mapping, not %s",
                                    qp_yaml_kind_name(v->kind));
            for (int j = 0; !rc && j < v->n; j++) {
                const qp_ynode *ck = v->k[2 * j], *cv = v->k[2 * j + 1];
                rc = cv->kind != QP_YN_SCALAR
                         ? qp_yaml_errorf(&y, ck->line, ck->col, "customized layers map a key to a type string")
                         : add(m, ck->v, cv->v);
            }
        }
    }
    if (!rc && bad)
        rc = qp_errorf(QP_EINPUT,
                       "'%s' is the table of another model: %d of %d entries name no tensor of this graph "
                       "(first '%s')",
                       path, bad, total, first);
    if (!rc && !have_map)
        rc = qp_errorf(QP_EUSAGE, "'%s' has no customized_quantize_layers", path);
    qp_arena_free(y.a);
    free(buf);
    if (rc)
        qp_qmix_map_free(m);
    return rc;
}

void qp_qmix_map_free(qp_qmix_map *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->key[i]);
        free(m->type[i]);
    }
    free(m->key);
    free(m->type);
    memset(m, 0, sizeof *m);
}

int qp_qmix_emit_yaml(FILE *f, const qp_qtable *t, const qp_qmix_conv *cv, int n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return qp_errorf(QP_ESYS, "%s", strerror(errno));
    int rc = qp_qtable_emit_yaml(m, t);
    if (fclose(m) && !rc)
        rc = qp_errorf(QP_ESYS, "%s", strerror(errno));
    if (rc) {
        free(buf);
        return rc;
    }
    /* the converters go at the end of quantize_parameters (qtable --read skips their keys) */
    char *cut = strstr(buf, "\ncustomized_quantize_layers:");
    size_t head = cut ? (size_t)(cut - buf) + 1 : len;
    fwrite(buf, 1, head, f);
    for (int i = 0; !rc && i < n; i++) {
        char *key;
        if (asprintf(&key, "@%s:out0", cv[i].key) < 0)
            return free(buf), qp_errorf(QP_ESYS, "out of memory");
        rc = qp_qtable_emit_entry(f, key, &cv[i].out);
        free(key);
    }
    if (!rc)
        fwrite(buf + head, 1, len - head, f);
    free(buf);
    if (rc)
        return rc;
    return ferror(f) ? qp_errorf(QP_ESYS, "%s", strerror(errno)) : 0;
}
