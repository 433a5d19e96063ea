/* qmix's YAML: the customized_quantize_layers map of a .quantize file (libyaml's document
 * API; the rest of the file only serves to recognise a table of another model), and the
 * rewritten table with the converters' entries (qtable's emitter for both). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "qmix.h"
#include "qp/diag.h"
#include "qp/qtable_yaml.h"

static const char *scalar(yaml_document_t *d, yaml_node_t *n)
{
    (void)d;
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

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
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f)
        return qp_errorf(QP_ESYS, "cannot open '%s': %s", path, strerror(errno));
    yaml_parser_t p;
    yaml_document_t d;
    int rc = 0;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    if (!yaml_parser_load(&p, &d)) {
        rc = qp_errorf(QP_EUSAGE, "%s:%lu: %s", path, (unsigned long)p.problem_mark.line + 1,
                       p.problem ? p.problem : "invalid YAML");
        yaml_parser_delete(&p);
        fclose(f);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&d);
    if (!root || root->type != YAML_MAPPING_NODE)
        rc = qp_errorf(QP_EUSAGE, "%s: not a .quantize table (no top-level mapping)", path);
    int bad = 0, total = 0, have_map = 0;
    char first[1100] = "";
    for (yaml_node_pair_t *pr = rc ? NULL : root->data.mapping.pairs.start; pr && pr < root->data.mapping.pairs.top;
         pr++) {
        const char *k = scalar(&d, yaml_document_get_node(&d, pr->key));
        yaml_node_t *v = yaml_document_get_node(&d, pr->value);
        if (!k)
            continue;
        if (!strcmp(k, "quantize_parameters") && v->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                const char *ek = scalar(&d, yaml_document_get_node(&d, q->key));
                qp_qslot s;
                int ign = 0;
                total++;
                if (ek && qp_qtable_resolve(g, ek, &s, &ign)) {
                    if (!bad++)
                        snprintf(first, sizeof first, "%s", ek);
                }
            }
            qp_error_clear();
        } else if (!strcmp(k, "customized_quantize_layers")) {
            have_map = 1;
            if (v->type == YAML_SCALAR_NODE && !strcmp(scalar(&d, v), ""))
                continue;
            if (v->type != YAML_MAPPING_NODE) {
                rc = qp_errorf(QP_EUSAGE, "%s:%lu: 'customized_quantize_layers' must be a mapping", path,
                               (unsigned long)v->start_mark.line + 1);
                break;
            }
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; !rc && q < v->data.mapping.pairs.top; q++) {
                const char *ck = scalar(&d, yaml_document_get_node(&d, q->key));
                const char *cv = scalar(&d, yaml_document_get_node(&d, q->value));
                if (!ck || !cv)
                    rc = qp_errorf(QP_EUSAGE, "%s:%lu: customized layers map a key to a type string", path,
                                   (unsigned long)yaml_document_get_node(&d, q->key)->start_mark.line + 1);
                else
                    rc = add(m, ck, cv);
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
    yaml_document_delete(&d);
    yaml_parser_delete(&p);
    fclose(f);
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
