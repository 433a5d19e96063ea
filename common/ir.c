/* IR record codec: graph <-> protobuf records on the zstd stream.  The reader trusts
 * nothing: every id, size and count is checked before use, and the end record's counts
 * and hash must match what was read. */
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/ir.h"
#include "qp/op.h"
#include "qp/stream.h"
#include "qpipe_ir.pb-c.h"

/* ---- writing ---- */

static int put(qp_swriter *w, Qpipe__Record *rec)
{
    size_t n = qpipe__record__get_packed_size(rec);
    uint8_t *buf = qp_malloc(n);
    if (!buf)
        return QP_ESYS;
    qpipe__record__pack(rec, buf);
    int rc = qp_swriter_record(w, buf, n);
    free(buf);
    return rc;
}

static int write_header(qp_swriter *w, const qp_graph *g)
{
    Qpipe__Header h = QPIPE__HEADER__INIT;
    h.magic = (char *)QP_IR_MAGIC;
    h.version_major = QP_IR_VERSION_MAJOR;
    h.version_minor = QP_IR_VERSION_MINOR;
    h.model_name = (char *)g->model_name;
    h.producer = (char *)g->producer;
    h.onnx_ir_version = g->onnx_ir_version;
    h.opset = g->opset;
    Qpipe__HistoryEntry *ents = qp_calloc((size_t)g->n_history + 1, sizeof *ents);
    Qpipe__HistoryEntry **ptrs = qp_calloc((size_t)g->n_history + 1, sizeof *ptrs);
    if (!ents || !ptrs) {
        free(ents);
        free(ptrs);
        return QP_ESYS;
    }
    for (int i = 0; i < g->n_history; i++) {
        qpipe__history_entry__init(&ents[i]);
        ents[i].tool = (char *)g->history[i].tool;
        ents[i].version = (char *)g->history[i].version;
        ents[i].n_args = (size_t)g->history[i].n_args;
        ents[i].args = (char **)g->history[i].args;
        ptrs[i] = &ents[i];
    }
    h.n_history = (size_t)g->n_history;
    h.history = ptrs;
    Qpipe__Record rec = QPIPE__RECORD__INIT;
    rec.r_case = QPIPE__RECORD__R_HEADER;
    rec.header = &h;
    int rc = put(w, &rec);
    free(ents);
    free(ptrs);
    return rc;
}

static int write_value(qp_swriter *w, const qp_graph *g, int vi)
{
    const qp_value *v = &g->values[vi];
    Qpipe__Value pv = QPIPE__VALUE__INIT;
    pv.id = (uint32_t)vi;
    pv.name = (char *)v->name;
    pv.dtype = v->dtype;
    pv.n_dims = (size_t)v->rank;
    pv.dims = (int64_t *)v->dims;
    pv.is_const = v->is_const;
    if (v->is_const) {
        pv.data.data = v->data;
        pv.data.len = v->nbytes;
    }
    pv.key = (char *)(v->key ? v->key : "");
    Qpipe__Record rec = QPIPE__RECORD__INIT;
    rec.r_case = QPIPE__RECORD__R_VALUE;
    rec.value = &pv;
    return put(w, &rec);
}

static int write_node(qp_swriter *w, const qp_graph *g, int ni)
{
    const qp_node *n = &g->nodes[ni];
    Qpipe__Node pn = QPIPE__NODE__INIT;
    pn.id = (uint32_t)ni;
    pn.op_type = (char *)n->op_type;
    pn.name = (char *)n->name;
    pn.key = (char *)(n->key ? n->key : "");
    pn.n_inputs = (size_t)n->n_in;
    pn.inputs = (int32_t *)n->in;
    pn.n_outputs = (size_t)n->n_out;
    pn.outputs = (uint32_t *)n->out;
    Qpipe__Attribute *at = qp_calloc((size_t)n->n_attr + 1, sizeof *at);
    Qpipe__Attribute **ap = qp_calloc((size_t)n->n_attr + 1, sizeof *ap);
    if (!at || !ap) {
        free(at);
        free(ap);
        return QP_ESYS;
    }
    for (int i = 0; i < n->n_attr; i++) {
        const qp_attr *a = &n->attr[i];
        Qpipe__Attribute *p = &at[i];
        qpipe__attribute__init(p);
        p->name = (char *)a->name;
        p->type = (Qpipe__Attribute__Type)a->type;
        switch (a->type) {
        case QP_ATTR_INT: p->i = a->i; break;
        case QP_ATTR_FLOAT: p->f = a->f; break;
        case QP_ATTR_STRING: p->s.data = (uint8_t *)a->s; p->s.len = a->s_len; break;
        case QP_ATTR_INTS: p->n_ints = (size_t)a->n; p->ints = a->ints; break;
        case QP_ATTR_FLOATS: p->n_floats = (size_t)a->n; p->floats = a->floats; break;
        case QP_ATTR_TENSOR:
            p->t_dtype = a->t.dtype;
            p->n_t_dims = (size_t)a->t.rank;
            p->t_dims = (int64_t *)a->t.dims;
            p->t_data.data = a->t.data;
            p->t_data.len = a->t.nbytes;
            break;
        }
        ap[i] = p;
    }
    pn.n_attrs = (size_t)n->n_attr;
    pn.attrs = ap;
    Qpipe__Record rec = QPIPE__RECORD__INIT;
    rec.r_case = QPIPE__RECORD__R_NODE;
    rec.node = &pn;
    int rc = put(w, &rec);
    free(at);
    free(ap);
    return rc;
}

int qp_ir_write(FILE *out, const char *name, const qp_graph *g)
{
    int rc = qp_graph_validate(g);
    if (rc)
        return rc;
    qp_swriter *w = qp_swriter_new(out, name, 3);
    if (!w)
        return QP_ESYS;
    rc = write_header(w, g);
    for (int i = 0; !rc && i < g->n_values; i++)
        rc = write_value(w, g, i);
    for (int i = 0; !rc && i < g->n_nodes; i++)
        rc = write_node(w, g, i);
    if (!rc) {
        Qpipe__GraphIO io = QPIPE__GRAPH_IO__INIT;
        io.n_inputs = (size_t)g->n_inputs;
        io.inputs = (uint32_t *)g->inputs;
        io.n_outputs = (size_t)g->n_outputs;
        io.outputs = (uint32_t *)g->outputs;
        io.n_output_keys = g->output_keys ? (size_t)g->n_outputs : 0;
        io.output_keys = (char **)g->output_keys;
        Qpipe__Record rec = QPIPE__RECORD__INIT;
        rec.r_case = QPIPE__RECORD__R_IO;
        rec.io = &io;
        rc = put(w, &rec);
    }
    for (int i = 0; !rc && i < g->n_sections; i++) {
        Qpipe__Section s = QPIPE__SECTION__INIT;
        s.kind = (char *)g->sections[i].kind;
        s.version = g->sections[i].version;
        s.payload.data = (uint8_t *)g->sections[i].data;
        s.payload.len = g->sections[i].len;
        Qpipe__Record rec = QPIPE__RECORD__INIT;
        rec.r_case = QPIPE__RECORD__R_SECTION;
        rec.section = &s;
        rc = put(w, &rec);
    }
    if (!rc) {
        Qpipe__End e = QPIPE__END__INIT;
        e.n_records = qp_swriter_count(w);
        e.n_values = (uint64_t)g->n_values;
        e.n_nodes = (uint64_t)g->n_nodes;
        e.n_sections = (uint64_t)g->n_sections;
        e.hash = qp_swriter_hash(w);
        Qpipe__Record rec = QPIPE__RECORD__INIT;
        rec.r_case = QPIPE__RECORD__R_END;
        rec.end = &e;
        rc = put(w, &rec);
    }
    if (rc) {
        qp_swriter_free(w);
        return rc;
    }
    return qp_swriter_finish(w);
}

/* ---- reading ---- */

enum { ST_HEADER, ST_VALUES, ST_NODES, ST_TAIL, ST_DONE };

static int bad(const char *name, uint64_t rec, const char *what)
{
    return qp_errorf(QP_EINPUT, "'%s': record %llu: %s", name, (unsigned long long)rec, what);
}

static int read_header(qp_graph *g, const char *name, const Qpipe__Header *h)
{
    if (!h->magic || strcmp(h->magic, QP_IR_MAGIC))
        return qp_errorf(QP_EINPUT, "'%s': not a qpipe IR stream (bad magic)", name);
    if (h->version_major != QP_IR_VERSION_MAJOR)
        return qp_errorf(QP_EINPUT, "'%s': IR format version %u.%u, this qpipe reads %d.x", name,
                         h->version_major, h->version_minor, QP_IR_VERSION_MAJOR);
    g->model_name = qp_arena_strdup(g->arena, h->model_name);
    g->producer = qp_arena_strdup(g->arena, h->producer);
    g->onnx_ir_version = h->onnx_ir_version;
    g->opset = h->opset;
    if (h->n_history > 4096)
        return qp_errorf(QP_EINPUT, "'%s': header has %zu history entries", name, h->n_history);
    for (size_t i = 0; i < h->n_history; i++) {
        const Qpipe__HistoryEntry *e = h->history[i];
        if (e->n_args > 4096)
            return qp_errorf(QP_EINPUT, "'%s': history entry with %zu arguments", name, e->n_args);
        if (qp_graph_add_history(g, e->tool, (int)e->n_args, e->args))
            return QP_ESYS;
        g->history[g->n_history - 1].version = qp_arena_strdup(g->arena, e->version);
    }
    return 0;
}

static int read_value(qp_graph *g, const char *name, uint64_t recno, const Qpipe__Value *pv)
{
    if (pv->id != (uint32_t)g->n_values)
        return bad(name, recno, "value ids are not dense (duplicate or out of order)");
    if (pv->n_dims > QP_MAX_RANK)
        return bad(name, recno, "tensor rank above 8");
    if (qp_dtype_size(pv->dtype) == 0)
        return qp_errorf(QP_EINPUT, "'%s': tensor '%s' has unsupported data type %d", name, pv->name,
                         pv->dtype);
    int64_t dims[QP_MAX_RANK] = { 0 };
    for (size_t i = 0; i < pv->n_dims; i++)
        dims[i] = pv->dims[i];
    size_t numel, bytes;
    if (qp_dims_numel((int)pv->n_dims, dims, &numel) ||
        qp_mul_size(numel, qp_dtype_size(pv->dtype), &bytes))
        return qp_errorf(QP_EINPUT, "'%s': tensor '%s': size product overflows", name, pv->name);
    int vi;
    if (pv->is_const) {
        if (pv->data.len != bytes)
            return qp_errorf(QP_EINPUT, "'%s': constant '%s' has %zu bytes, its shape needs %zu", name,
                             pv->name, pv->data.len, bytes);
        vi = qp_graph_add_const(g, pv->name, pv->dtype, (int)pv->n_dims, dims, pv->data.data, bytes);
    } else {
        if (pv->data.len)
            return qp_errorf(QP_EINPUT, "'%s': tensor '%s' is not constant but carries data", name, pv->name);
        vi = qp_graph_add_value(g, pv->name, pv->dtype, (int)pv->n_dims, dims);
    }
    if (vi < 0)
        return QP_ESYS;
    g->values[vi].key = qp_arena_strdup(g->arena, pv->key);
    return 0;
}

static int read_node(qp_graph *g, const char *name, uint64_t recno, const Qpipe__Node *pn)
{
    if (pn->id != (uint32_t)g->n_nodes)
        return bad(name, recno, "node ids are not dense (duplicate or out of order)");
    if (pn->n_inputs > QP_MAX_IO || pn->n_outputs > QP_MAX_IO)
        return qp_errorf(QP_EINPUT, "'%s': node '%s' has too many inputs or outputs", name, pn->name);
    int in[QP_MAX_IO], out[QP_MAX_IO];
    for (size_t i = 0; i < pn->n_inputs; i++) {
        in[i] = pn->inputs[i];
        if (in[i] < -1 || in[i] >= g->n_values)
            return qp_errorf(QP_EINPUT, "'%s': node '%s': input %zu refers to tensor %d, which does not exist",
                             name, pn->name, i, in[i]);
    }
    for (size_t i = 0; i < pn->n_outputs; i++) {
        if (pn->outputs[i] >= (uint32_t)g->n_values)
            return qp_errorf(QP_EINPUT, "'%s': node '%s': output %zu refers to tensor %u, which does not exist",
                             name, pn->name, i, pn->outputs[i]);
        out[i] = (int)pn->outputs[i];
        if (g->values[out[i]].producer >= 0)
            return qp_errorf(QP_EINPUT, "'%s': tensor '%s' is produced by two nodes", name,
                             g->values[out[i]].name);
        if (g->values[out[i]].is_const)
            return qp_errorf(QP_EINPUT, "'%s': node '%s' writes to constant '%s'", name, pn->name,
                             g->values[out[i]].name);
    }
    int ni = qp_graph_add_node(g, pn->op_type, pn->name, (int)pn->n_inputs, in, (int)pn->n_outputs, out);
    if (ni < 0)
        return QP_ESYS;
    g->nodes[ni].key = qp_arena_strdup(g->arena, pn->key);
    if (pn->n_attrs > 256)
        return qp_errorf(QP_EINPUT, "'%s': node '%s' has %zu attributes", name, pn->name, pn->n_attrs);
    for (size_t i = 0; i < pn->n_attrs; i++) {
        const Qpipe__Attribute *a = pn->attrs[i];
        int rc = 0;
        switch (a->type) {
        case QPIPE__ATTRIBUTE__TYPE__INT: rc = qp_node_set_int(g, ni, a->name, a->i); break;
        case QPIPE__ATTRIBUTE__TYPE__FLOAT: rc = qp_node_set_float(g, ni, a->name, a->f); break;
        case QPIPE__ATTRIBUTE__TYPE__STRING:
            rc = qp_node_set_string(g, ni, a->name, (const char *)a->s.data, a->s.len);
            break;
        case QPIPE__ATTRIBUTE__TYPE__INTS:
            if (a->n_ints > (1u << 20))
                return qp_errorf(QP_EINPUT, "'%s': node '%s': attribute '%s' too long", name, pn->name, a->name);
            rc = qp_node_set_ints(g, ni, a->name, (int)a->n_ints, a->ints);
            break;
        case QPIPE__ATTRIBUTE__TYPE__FLOATS:
            if (a->n_floats > (1u << 20))
                return qp_errorf(QP_EINPUT, "'%s': node '%s': attribute '%s' too long", name, pn->name, a->name);
            rc = qp_node_set_floats(g, ni, a->name, (int)a->n_floats, a->floats);
            break;
        case QPIPE__ATTRIBUTE__TYPE__TENSOR: {
            qp_tensor t;
            memset(&t, 0, sizeof t);
            size_t numel, bytes;
            if (a->n_t_dims > QP_MAX_RANK || qp_dtype_size(a->t_dtype) == 0)
                return qp_errorf(QP_EINPUT, "'%s': node '%s': bad tensor attribute '%s'", name, pn->name, a->name);
            t.dtype = a->t_dtype;
            t.rank = (int)a->n_t_dims;
            for (size_t d = 0; d < a->n_t_dims; d++)
                t.dims[d] = a->t_dims[d];
            if (qp_dims_numel(t.rank, t.dims, &numel) || qp_mul_size(numel, qp_dtype_size(t.dtype), &bytes) ||
                bytes != a->t_data.len)
                return qp_errorf(QP_EINPUT, "'%s': node '%s': tensor attribute '%s' size mismatch", name,
                                 pn->name, a->name);
            t.data = a->t_data.data;
            t.nbytes = bytes;
            rc = qp_node_set_tensor(g, ni, a->name, &t);
            break;
        }
        default:
            return qp_errorf(QP_EINPUT, "'%s': node '%s': attribute '%s' has unknown type %d", name, pn->name,
                             a->name, (int)a->type);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int read_io(qp_graph *g, const char *name, const Qpipe__GraphIO *io)
{
    if (io->n_inputs > 4096 || io->n_outputs > 4096)
        return qp_errorf(QP_EINPUT, "'%s': too many graph inputs or outputs", name);
    if (io->n_output_keys && io->n_output_keys != io->n_outputs)
        return qp_errorf(QP_EINPUT, "'%s': %zu output keys for %zu outputs", name, io->n_output_keys,
                         io->n_outputs);
    g->inputs = qp_arena_array(g->arena, io->n_inputs + 1, sizeof(int));
    g->outputs = qp_arena_array(g->arena, io->n_outputs + 1, sizeof(int));
    g->output_keys = qp_arena_array(g->arena, io->n_outputs + 1, sizeof(char *));
    if (!g->inputs || !g->outputs || !g->output_keys)
        return QP_ESYS;
    for (size_t i = 0; i < io->n_inputs; i++) {
        if (io->inputs[i] >= (uint32_t)g->n_values)
            return qp_errorf(QP_EINPUT, "'%s': graph input %zu refers to tensor %u, which does not exist",
                             name, i, io->inputs[i]);
        g->inputs[i] = (int)io->inputs[i];
    }
    for (size_t i = 0; i < io->n_outputs; i++) {
        if (io->outputs[i] >= (uint32_t)g->n_values)
            return qp_errorf(QP_EINPUT, "'%s': graph output %zu refers to tensor %u, which does not exist",
                             name, i, io->outputs[i]);
        g->outputs[i] = (int)io->outputs[i];
        g->output_keys[i] = qp_arena_strdup(g->arena, io->n_output_keys ? io->output_keys[i] : "");
    }
    g->n_inputs = (int)io->n_inputs;
    g->n_outputs = (int)io->n_outputs;
    return 0;
}

int qp_ir_read(FILE *in, const char *name, qp_graph **out)
{
    *out = NULL;
    qp_graph *g = qp_graph_new();
    qp_sreader *r = g ? qp_sreader_new(in, name) : NULL;
    if (!r) {
        qp_graph_free(g);
        return QP_ESYS;
    }
    int rc = 0, state = ST_HEADER, seen_io = 0;
    while (!rc && state != ST_DONE) {
        const uint8_t *data;
        size_t len;
        rc = qp_sreader_record(r, &data, &len);
        if (rc == QP_STREAM_END) {
            rc = qp_errorf(QP_EINPUT, "'%s': truncated IR stream: no end record (did the upstream filter fail?)",
                           name);
            break;
        }
        if (rc)
            break;
        uint64_t recno = qp_sreader_count_before(r);
        Qpipe__Record *rec = qpipe__record__unpack(NULL, len, data);
        if (!rec) {
            rc = bad(name, recno, state == ST_HEADER ? "not a qpipe IR stream (bad header record)"
                                                     : "malformed record");
            break;
        }
        switch (rec->r_case) {
        case QPIPE__RECORD__R_HEADER:
            rc = state == ST_HEADER ? read_header(g, name, rec->header) : bad(name, recno, "second header");
            state = ST_VALUES;
            break;
        case QPIPE__RECORD__R_VALUE:
            if (state != ST_VALUES)
                rc = bad(name, recno, state == ST_HEADER ? "missing header" : "value after the nodes");
            else
                rc = read_value(g, name, recno, rec->value);
            break;
        case QPIPE__RECORD__R_NODE:
            if (state == ST_VALUES)
                state = ST_NODES;
            rc = state == ST_NODES ? read_node(g, name, recno, rec->node)
                                   : bad(name, recno, state == ST_HEADER ? "missing header" : "node out of place");
            break;
        case QPIPE__RECORD__R_IO:
            if (state == ST_HEADER || seen_io)
                rc = bad(name, recno, state == ST_HEADER ? "missing header" : "second graph-io record");
            else {
                rc = read_io(g, name, rec->io);
                seen_io = 1;
                state = ST_TAIL;
            }
            break;
        case QPIPE__RECORD__R_SECTION:
            if (state != ST_TAIL)
                rc = bad(name, recno, "section before the graph-io record");
            else if (!rec->section->kind || !rec->section->kind[0])
                rc = bad(name, recno, "section without a kind");
            else if (qp_graph_section(g, rec->section->kind))
                rc = bad(name, recno, "duplicate section");
            else
                rc = qp_graph_set_section(g, rec->section->kind, rec->section->version,
                                          rec->section->payload.data, rec->section->payload.len);
            break;
        case QPIPE__RECORD__R_END: {
            const Qpipe__End *e = rec->end;
            if (state == ST_HEADER)
                rc = bad(name, recno, "missing header");
            else if (!seen_io)
                rc = bad(name, recno, "end record before the graph-io record");
            else if (e->n_records != recno || e->n_values != (uint64_t)g->n_values ||
                     e->n_nodes != (uint64_t)g->n_nodes || e->n_sections != (uint64_t)g->n_sections)
                rc = qp_errorf(QP_EINPUT, "'%s': end record counts do not match the stream (records lost?)", name);
            else if (e->hash != qp_sreader_hash_before(r))
                rc = qp_errorf(QP_EINPUT, "'%s': end record hash does not match the stream", name);
            state = ST_DONE;
            break;
        }
        default:
            rc = bad(name, recno, state == ST_HEADER ? "not a qpipe IR stream (bad header record)"
                                                     : "unknown record type");
        }
        qpipe__record__free_unpacked(rec, NULL);
    }
    if (!rc)
        rc = qp_sreader_expect_eof(r);
    qp_sreader_free(r);
    if (!rc)
        rc = qp_graph_validate(g);
    if (!rc)
        rc = qp_op_bind(g);
    if (rc) {
        qp_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}
