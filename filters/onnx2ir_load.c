/* onnx2ir: loading a model safely.  protobuf-c 1.4.1 recurses without a limit, so the wire
 * format is walked first along every path that can nest (graphs in attributes, functions,
 * training info, nested TypeProtos) and any subgraph or deep nesting is refused before
 * onnx__model_proto__unpack sees the bytes; unpacking then draws from a budgeted arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx2ir.h"
#include "qp/diag.h"
#include "qp/onnx_tensor.h"
#include "onnx.pb-c.h"

/* ---- the wire scan ---- */

enum msg { M_NONE, M_MODEL, M_GRAPH, M_NODE, M_ATTR, M_FUNC, M_TRAIN, M_VINFO, M_TYPE, M_TSEQ, M_TMAP, M_TOPT };

/* Submessage fields along which messages can nest (onnx.proto field numbers). */
static const struct { unsigned char msg, field, child; } edges[] = {
    { M_MODEL, 7, M_GRAPH }, { M_MODEL, 20, M_TRAIN }, { M_MODEL, 25, M_FUNC },
    { M_GRAPH, 1, M_NODE }, { M_GRAPH, 11, M_VINFO }, { M_GRAPH, 12, M_VINFO }, { M_GRAPH, 13, M_VINFO },
    { M_NODE, 5, M_ATTR },
    { M_ATTR, 6, M_GRAPH }, { M_ATTR, 11, M_GRAPH }, { M_ATTR, 14, M_TYPE }, { M_ATTR, 15, M_TYPE },
    { M_FUNC, 7, M_NODE },
    { M_TRAIN, 1, M_GRAPH }, { M_TRAIN, 2, M_GRAPH },
    { M_VINFO, 2, M_TYPE },
    { M_TYPE, 4, M_TSEQ }, { M_TYPE, 5, M_TMAP }, { M_TYPE, 9, M_TOPT },
    { M_TSEQ, 1, M_TYPE }, { M_TMAP, 2, M_TYPE }, { M_TOPT, 1, M_TYPE },
};

struct field {
    uint64_t num;
    int wt;
    const uint8_t *data;        /* wire type 2: the payload */
    size_t len;
};

struct wire {
    const uint8_t *p, *end, *start;
};

static int varint(struct wire *w, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (w->p >= w->end)
            return -1;
        uint8_t b = *w->p++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* The next field; 1 at the end, -1 if malformed. */
static int next_field(struct wire *w, struct field *f)
{
    if (w->p >= w->end)
        return 1;
    uint64_t tag, v;
    if (varint(w, &tag))
        return -1;
    f->num = tag >> 3;
    f->wt = (int)(tag & 7);
    f->data = NULL;
    f->len = 0;
    if (f->num == 0)
        return -1;
    switch (f->wt) {
    case 0:
        return varint(w, &v);
    case 1:
    case 5: {
        size_t n = f->wt == 1 ? 8 : 4;
        if ((size_t)(w->end - w->p) < n)
            return -1;
        w->p += n;
        return 0;
    }
    case 2:
        if (varint(w, &v) || v > (uint64_t)(w->end - w->p))
            return -1;
        f->data = w->p;
        f->len = (size_t)v;
        w->p += v;
        return 0;
    default:
        return -1;              /* groups (3, 4) and reserved types: not in ONNX */
    }
}

static int child_of(int msg, uint64_t num)
{
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        if (edges[i].msg == msg && edges[i].field == num)
            return edges[i].child;
    return M_NONE;
}

/* The first string field `num` of a message, for messages: control bytes become '?'. */
static void str_field(const uint8_t *p, size_t n, uint64_t num, char *buf, size_t cap)
{
    struct wire w = { p, p + n, p };
    struct field f;
    buf[0] = 0;
    while (next_field(&w, &f) == 0)
        if (f.num == num && f.wt == 2) {
            size_t k = f.len < cap - 1 ? f.len : cap - 1;
            memcpy(buf, f.data, k);
            buf[k] = 0;
            for (size_t i = 0; i < k; i++)
                if ((unsigned char)buf[i] < 0x20)
                    buf[i] = '?';
            return;
        }
}

struct nodectx {
    char name[160], op[64];
};

static int malformed(const struct wire *w)
{
    return qp_errorf(QP_EINPUT, "not a valid ONNX model (malformed protobuf near byte %zu)",
                     (size_t)(w->p - w->start));
}

/* index: the message's position among its siblings (names unnamed nodes as the importer does). */
static int scan(int msg, const uint8_t *p, size_t n, int depth, size_t index, const struct nodectx *nc,
                const uint8_t *start)
{
    if (depth > QP_O2I_MAX_DEPTH)
        return qp_errorf(QP_EINPUT, "messages nest deeper than %d levels (refused before unpacking)",
                         QP_O2I_MAX_DEPTH);
    struct nodectx here;
    if (msg == M_NODE) {
        str_field(p, n, 3, here.name, sizeof here.name);
        str_field(p, n, 4, here.op, sizeof here.op);
        if (!here.name[0])
            snprintf(here.name, sizeof here.name, "%s_%zu", here.op, index);
        nc = &here;
    }
    struct wire w = { p, p + n, start };
    struct field f;
    int r;
    size_t count[16] = { 0 };
    while ((r = next_field(&w, &f)) == 0) {
        if (f.wt != 2)
            continue;
        int child = child_of(msg, f.num);
        if (child == M_NONE)
            continue;
        if (msg == M_ATTR && child == M_GRAPH) {
            char an[128];
            str_field(p, n, 1, an, sizeof an);
            if (nc)
                return qp_errorf(QP_EINPUT, "node '%s' (%s): attribute '%s' holds a subgraph (control-flow ops "
                                 "are not supported)", nc->name, nc->op, an);
            return qp_errorf(QP_EINPUT, "attribute '%s' holds a subgraph (control-flow ops are not supported)", an);
        }
        int rc = scan(child, f.data, f.len, depth + 1, count[f.num & 15]++, nc, start);
        if (rc)
            return rc;
    }
    return r < 0 ? malformed(&w) : 0;
}

int qp_o2i_scan(const uint8_t *buf, size_t n)
{
    return scan(M_MODEL, buf, n, 1, 0, NULL, buf);
}

/* ---- loading ---- */

void qp_o2i_model_free(qp_o2i_model *mod)
{
    qp_arena_free(mod->arena);
    free((char *)mod->dir);
    memset(mod, 0, sizeof *mod);
}

static int check_header(qp_o2i_model *mod)
{
    const Onnx__ModelProto *m = mod->m;
    if (!m->graph)
        return qp_errorf(QP_EINPUT, "the model has no graph");
    if (!m->has_ir_version)
        return qp_errorf(QP_EINPUT, "the model has no ir_version");
    if (m->ir_version < 3 || m->ir_version > 8)
        return qp_errorf(QP_EINPUT, "ir_version %lld is not supported (3 to 8)", (long long)m->ir_version);
    int found = 0;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        const char *d = o->domain ? o->domain : "";
        if (d[0] && strcmp(d, "ai.onnx"))
            continue;           /* other domains may be listed; nodes in them are refused */
        if (found)
            return qp_errorf(QP_EINPUT, "the default ONNX domain's opset is listed twice");
        if (!o->has_version)
            return qp_errorf(QP_EINPUT, "the default ONNX domain's opset has no version");
        found = 1;
        mod->opset = o->version;
    }
    if (!found)
        return qp_errorf(QP_EINPUT, "the model imports no opset of the default ONNX domain");
    if (mod->opset < 7 || mod->opset > 17)
        return qp_errorf(QP_EINPUT, "opset %lld is not supported (7 to 17)", (long long)mod->opset);
    return 0;
}

int qp_o2i_load(const char *path, qp_o2i_model *out)
{
    memset(out, 0, sizeof *out);
    out->path = path;
    unsigned char *buf;
    size_t n;
    int rc = qp_tensorio_read_file(!strcmp(path, "-") ? "/dev/stdin" : path, QP_ONNX_MAX_FILE, &buf, &n);
    if (rc)
        return rc;
    const char *slash = strrchr(path, '/');
    char *dir = qp_malloc(strlen(path) + 2);
    if (!dir) {
        free(buf);
        return QP_ESYS;
    }
    if (!strcmp(path, "-"))
        strcpy(dir, ".");
    else if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = 0;
    }
    out->dir = dir;
    if (n == 0)
        rc = qp_errorf(QP_EINPUT, "not a valid ONNX model (empty file)");
    else
        rc = qp_o2i_scan(buf, n);
    if (!rc) {
        size_t budget = n > (SIZE_MAX - ((size_t)256 << 20)) / 3 ? SIZE_MAX : 3 * n + ((size_t)256 << 20);
        out->arena = qp_arena_new(1u << 20);
        qp_onnx_alloc al;
        if (!out->arena)
            rc = QP_ESYS;
        else {
            qp_onnx_alloc_init(&al, out->arena, budget);
            out->m = onnx__model_proto__unpack(&al.pc, n, buf);
            if (!out->m)
                rc = al.exhausted ? qp_errorf(QP_EINPUT, "unpacking the model needs more than %zu MiB (refused)",
                                              budget >> 20)
                                  : qp_errorf(QP_EINPUT, "not a valid ONNX model (protobuf does not parse)");
        }
    }
    free(buf);
    if (!rc)
        rc = check_header(out);
    if (rc) {
        qp_error_prefix(rc, "'%s'", path);
        qp_o2i_model_free(out);
        out->path = path;
    }
    return rc;
}
