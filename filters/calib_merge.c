/* calib --merge: combines the calib sections of streams of one model (shards of one run)
 * into the section a single run would have written, and writes the first stream with it.
 * Once all shards are in, the history entry is the shards' calib command without --shard:
 * the run the merge reproduces, so the merged stream is the single run's, byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "calib_cli.h"
#include "qp/calib.h"
#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/stream.h"

static uint64_t h_bytes(uint64_t h, const void *p, size_t n)
{
    uint64_t len = n;
    h = qp_fnv1a64(h, &len, sizeof len);    /* length first: no two fields run together */
    return n ? qp_fnv1a64(h, p, n) : h;
}

static uint64_t h_str(uint64_t h, const char *s)
{
    return s ? h_bytes(h, s, strlen(s) + 1) : h_bytes(h, "", 0);
}

static uint64_t h_i64(uint64_t h, int64_t v) { return qp_fnv1a64(h, &v, sizeof v); }

static uint64_t h_tensor(uint64_t h, const qp_tensor *t)
{
    h = h_i64(h, t->dtype);
    h = h_i64(h, t->rank);
    for (int d = 0; d < t->rank; d++)
        h = h_i64(h, t->dims[d]);
    return h_bytes(h, t->data, t->data ? t->nbytes : 0);
}

uint64_t qp_cal_graph_hash(const qp_graph *g)
{
    uint64_t h = QP_FNV1A64_INIT;
    h = h_str(h, g->model_name);
    h = h_str(h, g->producer);
    h = h_i64(h, g->onnx_ir_version);
    h = h_i64(h, g->opset);
    h = h_i64(h, g->n_values);
    for (int vi = 0; vi < g->n_values; vi++) {
        const qp_value *v = &g->values[vi];
        h = h_str(h, v->name);
        h = h_i64(h, v->dtype);
        h = h_i64(h, v->rank);
        for (int d = 0; d < v->rank; d++)
            h = h_i64(h, v->dims[d]);
        h = h_i64(h, v->is_const);
        h = h_bytes(h, v->data, v->data ? v->nbytes : 0);
        h = h_str(h, v->key);
        h = h_i64(h, v->producer);
        h = h_i64(h, v->port);
    }
    h = h_i64(h, g->n_nodes);
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        h = h_str(h, n->op_type);
        h = h_str(h, n->name);
        h = h_str(h, n->key);
        h = h_bytes(h, n->in, (size_t)n->n_in * sizeof *n->in);
        h = h_bytes(h, n->out, (size_t)n->n_out * sizeof *n->out);
        h = h_i64(h, n->n_attr);
        for (int a = 0; a < n->n_attr; a++) {
            const qp_attr *at = &n->attr[a];
            h = h_str(h, at->name);
            h = h_i64(h, at->type);
            h = h_i64(h, at->i);
            h = h_bytes(h, &at->f, sizeof at->f);
            h = h_bytes(h, at->s, at->s ? at->s_len : 0);
            h = h_bytes(h, at->ints, at->ints ? (size_t)at->n * sizeof *at->ints : 0);
            h = h_bytes(h, at->floats, at->floats ? (size_t)at->n * sizeof *at->floats : 0);
            if (at->type == QP_ATTR_TENSOR)
                h = h_tensor(h, &at->t);
        }
    }
    h = h_bytes(h, g->inputs, (size_t)g->n_inputs * sizeof *g->inputs);
    h = h_bytes(h, g->outputs, (size_t)g->n_outputs * sizeof *g->outputs);
    for (int i = 0; i < g->n_outputs; i++)
        h = h_str(h, g->output_keys[i]);
    return h;
}

/* The stream's calib statistics, or exit with the file named. */
static qp_calib *load(const qp_graph *g, const char *file)
{
    qp_calib *c;
    int rc = qp_calib_load(g, &c);
    if (rc) {
        qp_error_prefix(rc, "'%s'", file);
        qp_diag_exit(rc);
    }
    return c;
}

int qp_cal_merge(int n_files, char **files, int argc, char **argv)
{
    /* one stream in memory besides the first: shards of a large model stay cheap */
    qp_graph *g = qp_cli_read_ir(files[0]);
    uint64_t hash = qp_cal_graph_hash(g);
    qp_calib *c = load(g, files[0]);
    for (int i = 1; i < n_files; i++) {
        qp_graph *gi = qp_cli_read_ir(files[i]);
        if (qp_cal_graph_hash(gi) != hash)
            qp_diag_die(QP_EINPUT, "'%s' holds another graph than '%s' (statistics of different models do not merge)",
                        files[i], files[0]);
        qp_calib *ci = load(gi, files[i]);
        int rc = qp_calib_merge(c, ci);
        if (rc) {
            qp_error_prefix(rc, "'%s' and '%s'", files[0], files[i]);
            qp_diag_exit(rc);
        }
        qp_calib_free(ci);
        qp_graph_free(gi);
    }
    int rc = qp_calib_store(g, c);
    if (rc)
        qp_diag_exit(rc);
    int complete = c->n_samples == c->n_selected;
    qp_calib_free(c);

    /* History.  The first stream's last calib run (an entry with --input-meta, perhaps
     * followed by entries of earlier merges): once the statistics are complete, it stands
     * without its --shard option in place of all that (the single run this equals);
     * before that, the merge records itself. */
    const char *me = qp_diag_prog();
    int run = -1;
    for (int h = g->n_history - 1; h >= 0 && run < 0; h--) {
        const qp_history *e = &g->history[h];
        int is_calib = !strcmp(e->tool, me), is_merge = 0;
        for (int a = 0; is_calib && a < e->n_args; a++)
            is_merge |= !strcmp(e->args[a], "--merge");
        if (is_calib && !is_merge)
            run = h;
        else if (!is_merge)
            break;                      /* another filter ran after calib: keep everything */
    }
    if (!complete || run < 0) {
        qp_cli_write_ir(g, argc, argv);
    } else {
        const qp_history *e = &g->history[run];
        char **args = qp_calloc((size_t)e->n_args + 2, sizeof *args);
        if (!args)
            qp_diag_exit(QP_ESYS);
        int n = 0;
        args[n++] = (char *)me;
        for (int a = 0; a < e->n_args; a++) {
            if (!strcmp(e->args[a], "--shard") && a + 1 < e->n_args) {
                a++;
                continue;
            }
            args[n++] = (char *)e->args[a];
        }
        g->n_history = run;
        qp_cli_write_ir(g, n, args);
        free(args);
    }
    qp_graph_free(g);
    return 0;
}
