/* onnx2ir: what it writes besides the stream: the input meta YAML (--inputmeta), which
 * Acuity users then edit (mean, scale, reverse_channel), and the layer list (--list-layers)
 * that maps Acuity layer keys to ops and shapes. */
#include <stdlib.h>
#include <string.h>

#include "onnx2ir.h"
#include "qp/diag.h"
#include "qp/inputmeta.h"
#include "qp/keys.h"

static int is_channels(int64_t c) { return c == 1 || c == 3 || c == 4; }

/* Layout and category of an input by its shape: 4-D with 1, 3 or 4 channels in dim 1 is an
 * NCHW image, else with them in dim 3 an NHWC image (BlazeFace, M-LSD). */
static void classify(const qp_value *v, int *layout, int64_t *channels)
{
    *layout = QP_LAYOUT_NCHW;
    *channels = 0;
    if (v->rank != 4)
        return;
    if (is_channels(v->dims[1]))
        *channels = v->dims[1];
    else if (is_channels(v->dims[3])) {
        *layout = QP_LAYOUT_NHWC;
        *channels = v->dims[3];
    }
}

int qp_o2i_write_inputmeta(const qp_graph *g, const char *path, const char *dataset)
{
    if (!g->n_inputs)
        return qp_errorf(QP_EUSAGE, "--inputmeta: the model has no inputs (every input is an initializer)");
    qp_inputmeta *m = qp_inputmeta_new();
    if (!m)
        return QP_ESYS;
    int rc = 0;
    qp_meta_db *db = qp_inputmeta_add_db(m, dataset ? dataset : "dataset.txt", QP_DB_TEXT);
    if (!db)
        rc = QP_ESYS;
    for (int i = 0; !rc && i < g->n_inputs; i++) {
        const qp_value *v = &g->values[g->inputs[i]];
        qp_meta_port *p = qp_inputmeta_add_port(m, db, v->key, v->rank, v->dims);
        if (!p) {
            rc = qp_error_prefix(QP_EUSAGE, "input '%s'", v->name);
            break;
        }
        int layout;
        int64_t c;
        classify(v, &layout, &c);
        p->layout = layout;
        p->category = c ? QP_CAT_IMAGE : QP_CAT_UNDEFINED;
        p->n_mean = c ? (int)c : 1;
        p->mean = qp_arena_array(m->arena, (size_t)p->n_mean, sizeof *p->mean);
        if (!p->mean) {
            rc = QP_ESYS;
            break;
        }
        p->node.preproc_type = c == 3 ? "IMAGE_RGB" : c == 1 ? "IMAGE_GRAY" : "TENSOR";
        p->node.has_image_size = p->node.has_crop = c != 0;
        memset(p->node.crop_rect, 0, sizeof p->node.crop_rect);
        if (c) {
            int64_t h = v->dims[layout == QP_LAYOUT_NHWC ? 1 : 2], w = v->dims[layout == QP_LAYOUT_NHWC ? 2 : 3];
            p->node.image_size[0] = h;
            p->node.image_size[1] = w;
            p->node.crop_rect[2] = w;
            p->node.crop_rect[3] = h;
        }
    }
    if (!rc)
        rc = qp_inputmeta_write(path, m);
    qp_inputmeta_free(m);
    return rc;
}

static void put_shape(FILE *f, const qp_value *v)
{
    char buf[160];
    fputs(qp_shape_format(buf, sizeof buf, v->rank, v->dims), f);
}

int qp_o2i_list_layers(FILE *f, const qp_graph *g)
{
    qp_key_layer *l;
    int n;
    int rc = qp_keys_layers(g, &l, &n);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\t", l[i].key);
        if (l[i].kind == QP_KEY_NODE) {
            const qp_node *nd = &g->nodes[l[i].index];
            fprintf(f, "%s\t", nd->op_type);
            int first = 1;
            for (int j = 0; j < nd->n_out; j++)
                if (nd->out[j] >= 0) {
                    if (!first)
                        fputc(',', f);
                    put_shape(f, &g->values[nd->out[j]]);
                    first = 0;
                }
        } else if (l[i].kind == QP_KEY_VALUE) {
            const qp_value *v = &g->values[l[i].index];
            fprintf(f, "%s\t", v->is_const ? "variable" : "input");
            put_shape(f, v);
        } else {
            fputs("output\t", f);
            put_shape(f, &g->values[g->outputs[l[i].index]]);
        }
        fputc('\n', f);
    }
    free(l);
    return 0;
}
