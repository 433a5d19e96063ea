/* Samples for qinfer and calib.  With an input meta, every input kind goes through the
 * port's preprocessing (as Acuity does); without one, tensors are taken as they are and
 * images get the defaults of a generated meta (mean 0, scale 1). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qp/diag.h"
#include "qp/inputmeta.h"
#include "qp/onnx_tensor.h"
#include "qp/samples.h"

struct qp_samples {
    const qp_graph *g;
    qp_inputmeta *meta;         /* given, or generated defaults */
    int given;                  /* meta came from a file */
    qp_meta_port **port;        /* per graph input */
    int *db_of;                 /* per graph input: database index */
    int *col_of;                /* per graph input: column in that database's list */
    qp_dataset **lists;         /* per database */
    int n_files;
    const char *const *files;
    int count;
};

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

static int map_ports(qp_samples *s)
{
    const qp_graph *g = s->g;
    qp_inputmeta *m = s->meta;
    int np = qp_inputmeta_n_ports(m);
    int by_lid = 1;
    for (int j = 0; j < g->n_inputs; j++) {
        const char *key = g->values[g->inputs[j]].key;
        if (!qp_inputmeta_find_port(m, key))
            by_lid = 0;
    }
    if (!by_lid && np != g->n_inputs)
        return qp_errorf(QP_EUSAGE, "'%s': %d ports for a model with %d inputs, and their lids do not name the inputs",
                         m->file ? m->file : "input meta", np, g->n_inputs);
    for (int j = 0; j < g->n_inputs; j++) {
        const qp_value *v = &g->values[g->inputs[j]];
        qp_meta_port *p = by_lid ? qp_inputmeta_find_port(m, v->key) : qp_inputmeta_port(m, j);
        s->port[j] = p;
        int64_t numel_p = qp_shape_numel(p->rank, p->shape), numel_v = qp_shape_numel(v->rank, v->dims);
        if (numel_p != numel_v)
            return qp_errorf(QP_EUSAGE, "'%s': port '%s' has shape of %lld elements, input '%s' needs %lld",
                             m->file ? m->file : "input meta", p->lid, (long long)numel_p, v->name,
                             (long long)numel_v);
        /* which database and column */
        int col = 0;
        for (int d = 0; d < m->n_dbs; d++)
            for (int k = 0; k < m->dbs[d]->n_ports; k++)
                if (m->dbs[d]->ports[k] == p) {
                    s->db_of[j] = d;
                    col = k;
                }
        s->col_of[j] = col;
    }
    return 0;
}

int qp_samples_open(const qp_graph *g, const char *meta_path, int n_files, const char *const *files,
                    qp_samples **out)
{
    *out = NULL;
    qp_samples *s = qp_calloc(1, sizeof *s);
    if (!s)
        return QP_ESYS;
    s->g = g;
    s->n_files = n_files;
    s->files = files;
    int rc = 0;
    s->port = qp_calloc((size_t)g->n_inputs + 1, sizeof *s->port);
    s->db_of = qp_calloc((size_t)g->n_inputs + 1, sizeof *s->db_of);
    s->col_of = qp_calloc((size_t)g->n_inputs + 1, sizeof *s->col_of);
    if (!s->port || !s->db_of || !s->col_of)
        rc = QP_ESYS;
    if (!rc && n_files && n_files != g->n_inputs)
        rc = qp_errorf(QP_EUSAGE, "%d --input files for a model with %d inputs", n_files, g->n_inputs);
    if (!rc && meta_path) {
        rc = qp_inputmeta_read(meta_path, &s->meta);
        s->given = 1;
    } else if (!rc) {
        /* defaults of a generated meta, used for images given without one */
        s->meta = qp_inputmeta_new();
        qp_meta_db *db = s->meta ? qp_inputmeta_add_db(s->meta, "dataset.txt", QP_DB_TEXT) : NULL;
        for (int j = 0; db && j < g->n_inputs; j++) {
            const qp_value *v = &g->values[g->inputs[j]];
            static const int64_t one = 1; /* a scalar input gets a 1-element port (ports have rank >= 1) */
            if (!qp_inputmeta_add_port(s->meta, db, v->key[0] ? v->key : v->name, v->rank ? v->rank : 1,
                                       v->rank ? v->dims : &one))
                db = NULL;
        }
        if (!db)
            rc = QP_ESYS;
    }
    if (!rc)
        rc = map_ports(s);
    if (!rc && !n_files && g->n_inputs) {
        if (!s->given)
            rc = qp_errorf(QP_EUSAGE, "no input: give --input FILE or an input meta with a dataset");
        s->lists = rc ? NULL : qp_calloc((size_t)s->meta->n_dbs + 1, sizeof *s->lists);
        if (!rc && !s->lists)
            rc = QP_ESYS;
        s->count = 1 << 30;
        for (int d = 0; !rc && d < s->meta->n_dbs; d++) {
            rc = qp_inputmeta_open_db(s->meta, d, &s->lists[d]);
            if (!rc && s->lists[d]->n_samples < s->count)
                s->count = (int)s->lists[d]->n_samples;
        }
    } else if (!rc) {
        s->count = 1;
    }
    if (rc) {
        qp_samples_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int qp_samples_count(const qp_samples *s) { return s->count; }

const char *qp_samples_path(const qp_samples *s, int i, int j)
{
    if (s->n_files)
        return s->files[j];
    const qp_dataset *d = s->lists[s->db_of[j]];
    return d->paths[(size_t)i * (size_t)d->n_inputs + (size_t)s->col_of[j]];
}

int qp_samples_get(qp_samples *s, int i, int j, qp_tensor *out)
{
    if (i < 0 || i >= s->count || j < 0 || j >= s->g->n_inputs)
        return qp_errorf(QP_EUSAGE, "sample %d of input %d does not exist", i, j);
    const char *path = qp_samples_path(s, i, j);
    const qp_value *v = &s->g->values[s->g->inputs[j]];
    int rc;
    if (ends_with(path, ".pb")) {
        rc = qp_onnx_tensor_read_pb(path, out);
    } else if (!s->given && ends_with(path, ".npy")) {
        rc = qp_tensorio_read_npy(path, out);
    } else {
        rc = qp_inputmeta_load_sample(s->port[j], path, out);
    }
    if (rc)
        return rc;
    /* the port's shape may differ from the model's by layout-free reshaping (same count) */
    if (out->rank != v->rank || memcmp(out->dims, v->dims, sizeof(int64_t) * (size_t)v->rank)) {
        if (qp_tensor_numel(out) == qp_shape_numel(v->rank, v->dims) && s->given) {
            out->rank = v->rank;
            memcpy(out->dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
        }
    }
    return 0;
}

int qp_samples_get_f32(qp_samples *s, int i, int j, qp_tensor *out)
{
    int rc = qp_samples_get(s, i, j, out);
    if (rc || out->dtype == QP_DT_F32)
        return rc;
    qp_tensor f;
    if ((rc = qp_tensor_to_f32(out, &f)))
        return rc;
    qp_tensor_free(out);
    *out = f;
    return 0;
}

void qp_samples_close(qp_samples *s)
{
    if (!s)
        return;
    if (s->lists)
        for (int d = 0; d < s->meta->n_dbs; d++)
            qp_inputmeta_free_list(s->lists[d]);
    free(s->lists);
    qp_inputmeta_free(s->meta);
    free(s->port);
    free(s->db_of);
    free(s->col_of);
    free(s);
}
