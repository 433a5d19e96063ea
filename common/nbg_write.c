/* The NBG writer (nbgexport): serialises a graph and its quantization table into the sections of
 * qpipe-nbg(5), in graph order, so the same graph and table give the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/nbg.h"
#include "qp/requant.h"


struct buf {
    uint8_t *p;
    size_t len, cap;
    uint32_t count;
};

static int reserve(struct buf *b, size_t n)
{
    size_t need;
    if (qp_add_size(b->len, n, &need))
        return qp_errorf(QP_ESYS, "NBG too large");
    if (need <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < need)
        nc *= 2;
    uint8_t *np = qp_realloc(b->p, nc);
    if (!np)
        return QP_ESYS;
    memset(np + b->cap, 0, nc - b->cap);
    b->p = np;
    b->cap = nc;
    return 0;
}

/* A zeroed record of n bytes at the end; NULL on failure. */
static uint8_t *rec(struct buf *b, size_t n)
{
    if (reserve(b, n))
        return NULL;
    uint8_t *r = b->p + b->len;
    memset(r, 0, n);
    b->len += n;
    b->count++;
    return r;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void wrf64(uint8_t *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    wr64(p, u);
}

/* Appends bytes aligned to al; returns the offset or -1. */
static int64_t put(struct buf *b, const void *data, size_t n, size_t al)
{
    size_t pad = (al - b->len % al) % al;
    if (reserve(b, pad + n))
        return -1;
    memset(b->p + b->len, 0, pad);
    b->len += pad;
    int64_t off = (int64_t)b->len;
    if (n && data)
        memcpy(b->p + b->len, data, n);
    else if (n)
        memset(b->p + b->len, 0, n);
    b->len += n;
    return off;
}

static int64_t put_str(struct buf *s, const char *str)
{
    if (!str || !*str)
        return 0;               /* offset 0 is the empty string */
    return put(s, str, strlen(str) + 1, 1);
}

/* ints/floats attribute payloads as little-endian 8/4-byte elements */
static int64_t put_le(struct buf *d, const void *src, size_t n, size_t es, size_t al)
{
    int64_t off = put(d, NULL, n * es, al);
    if (off < 0)
        return -1;
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        memcpy(&v, s + i * es, es);     /* host little-endian: the build refuses others */
        for (size_t k = 0; k < es; k++)
            d->p[off + (int64_t)(i * es + k)] = (uint8_t)(v >> (8 * k));
    }
    return off;
}

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the NBG writer assumes a little-endian host"
#endif

static void put_dims(uint8_t *p, int rank, const int64_t *dims)
{
    for (int d = 0; d < rank; d++)
        wr64(p + 8 * d, (uint64_t)dims[d]);
}

enum { N_SEC = QP_NBG_SEC_COUNT };

/* A weight stored as the integers its table entry makes (1 or 2 bytes an element instead of 4):
 * when it is a float constant read only as the weight port of node ni, with an integer entry,
 * and every element comes back to the same integer when the loader's float (qp_dequantize) is
 * quantized again as the layer's rule does (qp_quantize_clamp).  *out (qp_free) and *nbytes,
 * or 0 with *out NULL when the weight stays float. */
static int quantized_weight(const qp_graph *g, const qp_qtable *t, int vi, int *node, uint8_t **out,
                            size_t *nbytes)
{
    const qp_value *v = &g->values[vi];
    *out = NULL;
    if (!v->is_const || v->dtype != QP_DT_F32 || qp_graph_uses(g, vi) != 1 || !t->weight)
        return 0;
    int ni = -1;
    for (int k = 0; k < g->n_nodes && ni < 0; k++)
        if (g->nodes[k].n_in > 1 && g->nodes[k].in[1] == vi)
            ni = k;
    if (ni < 0)
        return 0;
    const qp_qentry *e = &t->weight[ni];
    int qt = qp_qtype_of_dtype(e->qtype);
    if ((e->quantizer != QP_QZ_ASYMMETRIC_AFFINE && e->quantizer != QP_QZ_SYMMETRIC_AFFINE &&
         e->quantizer != QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE && e->quantizer != QP_QZ_DYNAMIC_FIXED_POINT) ||
        (qt != QP_QTYPE_U8 && qt != QP_QTYPE_I8 && qt != QP_QTYPE_I16) || e->n < 1 || !e->scale)
        return 0;
    size_t numel, inner = 1, axis_n = 1;
    qp_value_numel(v, &numel);
    int cd = e->n > 1 ? qp_qtable_weight_channel_dim(g, ni) : -1;
    if (e->n > 1) {
        if (cd < 0 || v->dims[cd] != e->n)
            return 0;
        for (int d = cd + 1; d < v->rank; d++)
            inner *= (size_t)v->dims[d];
        axis_n = (size_t)v->dims[cd];
    }
    size_t es = qt == QP_QTYPE_I16 ? 2 : 1;
    uint8_t *q = qp_malloc(numel * es + 1);
    if (!q)
        return QP_ESYS;
    int32_t lo = (int32_t)qp_qtype_min((qp_qtype)qt), hi = (int32_t)qp_qtype_max((qp_qtype)qt);
    const float *w = v->data;
    for (size_t i = 0; i < numel; i++) {
        size_t c = e->n > 1 ? (i / inner) % axis_n : 0;
        qp_qparams p = {e->scale[c], e->zero_point[c], (qp_qtype)qt};
        int32_t x = qp_quantize_clamp(w[i], p.scale, p.zp, lo, hi);
        if (qp_quantize_clamp(qp_dequantize(x, &p), p.scale, p.zp, lo, hi) != x) {
            qp_free(q);
            return 0;
        }
        if (es == 2) {
            q[2 * i] = (uint8_t)((uint32_t)x & 0xff);
            q[2 * i + 1] = (uint8_t)(((uint32_t)x >> 8) & 0xff);
        } else {
            q[i] = (uint8_t)((uint32_t)x & 0xff);
        }
    }
    *out = q;
    *nbytes = numel * es;
    *node = ni;
    return 0;
}

static int put_entry(struct buf *sec, struct buf *qp, int port, int index, const qp_qentry *e)
{
    uint8_t *r = rec(sec, 64);
    if (!r)
        return QP_ESYS;
    int64_t so = put(qp, e->scale, (size_t)e->n * sizeof(double), 8);
    int64_t zo = put(qp, e->zero_point, (size_t)e->n * sizeof(int32_t), 8);
    if (so < 0 || zo < 0)
        return QP_ESYS;
    wr32(r, (uint32_t)port);
    wr32(r + 4, (uint32_t)index);
    wr32(r + 8, (uint32_t)e->quantizer);
    wr32(r + 12, (uint32_t)e->qtype);
    wrf64(r + 16, e->min);
    wrf64(r + 24, e->max);
    wr32(r + 32, (uint32_t)(e->scale ? e->n : 0));
    wr32(r + 36, (uint32_t)e->fl);
    wr32(r + 40, (uint32_t)e->channel_dim);
    wr64(r + 48, e->scale ? (uint64_t)so : 0);
    wr64(r + 56, e->scale ? (uint64_t)zo : 0);
    return 0;
}

static int write_sections(const qp_graph *g, const qp_qtable *t, struct buf *s)
{
    struct buf *str = &s[QP_NBG_SEC_STRINGS], *data = &s[QP_NBG_SEC_DATA];
    if (put(str, "", 1, 1) < 0)
        return QP_ESYS;
    for (int vi = 0; vi < g->n_values; vi++) {
        const qp_value *v = &g->values[vi];
        uint8_t *r = rec(&s[QP_NBG_SEC_VALUES], 104);
        int64_t nm = put_str(str, v->name), key = put_str(str, v->key);
        if (!r || nm < 0 || key < 0)
            return QP_ESYS;
        r = s[QP_NBG_SEC_VALUES].p + (size_t)vi * 104;      /* rec may have moved it */
        wr32(r, (uint32_t)nm);
        wr32(r + 4, (uint32_t)key);
        wr32(r + 8, (uint32_t)v->dtype);
        wr32(r + 12, (uint32_t)v->rank);
        put_dims(r + 16, v->rank, v->dims);
        if (v->is_const) {
            uint8_t *q;
            size_t qbytes = 0;
            int qnode = -1, rc = quantized_weight(g, t, vi, &qnode, &q, &qbytes);
            if (rc)
                return rc;
            int64_t off = q ? put(data, q, qbytes, QP_NBG_ALIGN) : put(data, v->data, v->nbytes, QP_NBG_ALIGN);
            qp_free(q);
            if (off < 0)
                return QP_ESYS;
            r = s[QP_NBG_SEC_VALUES].p + (size_t)vi * 104;
            wr32(r + 80, 1);
            wr32(r + 84, q ? (uint32_t)qnode + 1 : 0);
            wr64(r + 88, (uint64_t)off);
            wr64(r + 96, q ? qbytes : v->nbytes);
        }
    }
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        int code = qp_nbg_op_code(n->op_type);
        if (code < 0)
            return qp_errorf(QP_EINPUT, "layer %s: op '%s' has no NBG op code", qp_node_label(g, ni), n->op_type);
        uint32_t first = s[QP_NBG_SEC_INDICES].count, afirst = s[QP_NBG_SEC_ATTRS].count;
        for (int k = 0; k < n->n_in + n->n_out; k++) {
            uint8_t *ix = rec(&s[QP_NBG_SEC_INDICES], 4);
            if (!ix)
                return QP_ESYS;
            wr32(ix, (uint32_t)(k < n->n_in ? n->in[k] : n->out[k - n->n_in]));
        }
        for (int a = 0; a < n->n_attr; a++) {
            const qp_attr *at = &n->attr[a];
            int64_t nm = put_str(str, at->name), off = 0;
            uint64_t nbytes = 0;
            uint32_t cnt = 0;
            switch (at->type) {
            case QP_ATTR_STRING:
                off = put(str, at->s, at->s_len + 1, 1);
                if (off >= 0)
                    str->p[off + (int64_t)at->s_len] = 0;
                nbytes = at->s_len;
                break;
            case QP_ATTR_INTS:
                off = put_le(data, at->ints, (size_t)at->n, 8, 8);
                cnt = (uint32_t)at->n;
                nbytes = (uint64_t)at->n * 8;
                break;
            case QP_ATTR_FLOATS:
                off = put_le(data, at->floats, (size_t)at->n, 4, 8);
                cnt = (uint32_t)at->n;
                nbytes = (uint64_t)at->n * 4;
                break;
            case QP_ATTR_TENSOR:
                off = put(data, at->t.data, at->t.nbytes, QP_NBG_ALIGN);
                nbytes = at->t.nbytes;
                break;
            default:
                break;
            }
            uint8_t *r = rec(&s[QP_NBG_SEC_ATTRS], 112);
            if (!r || nm < 0 || off < 0)
                return QP_ESYS;
            wr32(r, (uint32_t)nm);
            wr32(r + 4, (uint32_t)at->type);
            wr64(r + 8, (uint64_t)at->i);
            uint32_t f;
            memcpy(&f, &at->f, 4);
            wr32(r + 16, f);
            wr32(r + 20, cnt);
            wr64(r + 24, (uint64_t)off);
            wr64(r + 32, nbytes);
            if (at->type == QP_ATTR_TENSOR) {
                wr32(r + 40, (uint32_t)at->t.dtype);
                wr32(r + 44, (uint32_t)at->t.rank);
                put_dims(r + 48, at->t.rank, at->t.dims);
            }
        }
        int64_t nm = put_str(str, n->name), key = put_str(str, n->key);
        uint8_t *r = rec(&s[QP_NBG_SEC_NODES], 32);
        if (!r || nm < 0 || key < 0)
            return QP_ESYS;
        wr32(r, (uint32_t)code);
        wr32(r + 4, (uint32_t)nm);
        wr32(r + 8, (uint32_t)key);
        wr32(r + 12, (uint32_t)n->n_in);
        wr32(r + 16, (uint32_t)n->n_out);
        wr32(r + 20, first);
        wr32(r + 24, (uint32_t)n->n_attr);
        wr32(r + 28, afirst);
    }
    /* the table, slot by slot in graph order */
    qp_qslot *slots;
    int n_slots, rc = qp_qtable_slots(g, &slots, &n_slots);
    if (rc)
        return rc;
    for (int k = 0; k < n_slots && !rc; k++) {
        const qp_qentry *e = qp_qtable_entry(t, slots[k]);
        if (qp_qentry_present(e))
            rc = put_entry(&s[QP_NBG_SEC_QENTRIES], &s[QP_NBG_SEC_QPARAMS], slots[k].port, slots[k].index, e);
    }
    qp_free(slots);
    /* then the bias corrections (port 3, version 1.1): n f64 in place of the scales */
    for (int ni = 0; !rc && ni < g->n_nodes; ni++) {
        if (!t->bias_corr[ni])
            continue;
        int n = qp_qtable_bias_corr_channels(g, ni);
        uint8_t *r = rec(&s[QP_NBG_SEC_QENTRIES], 64);
        int64_t so = r ? put(&s[QP_NBG_SEC_QPARAMS], t->bias_corr[ni], (size_t)n * sizeof(double), 8) : -1;
        if (so < 0)
            return QP_ESYS;
        r = s[QP_NBG_SEC_QENTRIES].p + s[QP_NBG_SEC_QENTRIES].len - 64;
        wr32(r, QP_NBG_PORT_BIAS_CORR);
        wr32(r + 4, (uint32_t)ni);
        wr32(r + 32, (uint32_t)n);
        wr32(r + 40, (uint32_t)-1);
        wr64(r + 48, (uint64_t)so);
    }
    return rc;
}

static int write_io(const qp_graph *g, const qp_nbg_io *io, struct buf *s)
{
    struct buf *str = &s[QP_NBG_SEC_STRINGS];
    for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
        int out = i >= g->n_inputs;
        const qp_nbg_io *d = &io[i];
        int64_t nm = put_str(str, d->name), key = put_str(str, d->key);
        uint8_t *r = rec(&s[QP_NBG_SEC_IO], 128);
        if (!r || nm < 0 || key < 0)
            return QP_ESYS;
        wr32(r, (uint32_t)out);
        wr32(r + 4, (uint32_t)(out ? g->outputs[i - g->n_inputs] : g->inputs[i]));
        wr32(r + 8, (uint32_t)nm);
        wr32(r + 12, (uint32_t)key);
        wr32(r + 16, (uint32_t)d->dtype);
        wr32(r + 20, (uint32_t)d->rank);
        put_dims(r + 24, d->rank, d->dims);
        wr32(r + 88, (uint32_t)d->quantizer);
        wrf64(r + 96, d->scale);
        wr32(r + 104, (uint32_t)d->zero_point);
        wr32(r + 108, (uint32_t)d->fl);
        wr64(r + 112, d->nbytes);
    }
    return 0;
}

int qp_nbg_write(const qp_graph *g, const qp_qtable *t, const qp_nbg_io *io, const qp_nbg_plan *plan,
                 uint8_t **out, size_t *len)
{
    struct buf s[N_SEC + 1];
    memset(s, 0, sizeof s);
    *out = NULL;
    int rc = write_sections(g, t, s);
    if (!rc)
        rc = write_io(g, io, s);
    uint8_t *r = rc ? NULL : rec(&s[QP_NBG_SEC_PLAN], 32);
    if (!rc && !r)
        rc = QP_ESYS;
    if (!rc) {
        s[QP_NBG_SEC_PLAN].count = 0;
        wr64(r, plan->arena_bytes);
        wr64(r + 8, plan->activation_bytes);
        wr64(r + 16, plan->activation_naive);
        wr64(r + 24, plan->state_bytes);
    }
    /* layout: header, section table, then the sections in kind order, each 64-byte aligned */
    size_t off = QP_NBG_HEADER_SIZE + N_SEC * QP_NBG_SECTION_ENTRY, offs[N_SEC + 1];
    for (int k = 1; !rc && k <= N_SEC; k++) {
        off = (off + QP_NBG_ALIGN - 1) & ~(size_t)(QP_NBG_ALIGN - 1);
        offs[k] = off;
        if (qp_add_size(off, s[k].len, &off))
            rc = qp_errorf(QP_ESYS, "NBG too large");
    }
    uint8_t *b = rc ? NULL : qp_aligned_alloc(QP_NBG_ALIGN, off);   /* the runtime wants it aligned */
    if (!rc && !b)
        rc = QP_ESYS;
    if (b)
        memset(b, 0, off);
    if (!rc) {
        memcpy(b, QP_NBG_MAGIC, 8);
        b[8] = QP_NBG_VERSION_MAJOR;
        int corr = 0;
        for (int ni = 0; ni < g->n_nodes && !corr; ni++)
            corr = t->bias_corr[ni] != NULL;
        b[10] = corr ? QP_NBG_VERSION_MINOR : 0;     /* without bias corrections a 1.0 file */
        wr32(b + 12, QP_NBG_ENDIAN_TAG);
        wr64(b + 16, off);
        wr64(b + 24, plan->arena_bytes);
        wr32(b + 32, QP_NBG_HEADER_SIZE);
        wr32(b + 36, N_SEC);
        wr64(b + 40, QP_NBG_HEADER_SIZE);
        for (int k = 1; k <= N_SEC; k++) {
            uint8_t *e = b + QP_NBG_HEADER_SIZE + (size_t)(k - 1) * QP_NBG_SECTION_ENTRY;
            wr32(e, (uint32_t)k);
            wr32(e + 4, s[k].count);
            wr64(e + 8, offs[k]);
            wr64(e + 16, s[k].len);
            if (s[k].len)
                memcpy(b + offs[k], s[k].p, s[k].len);
        }
        wr32(b + 48, qp_nbg_checksum(b, off));
        *out = b;
        *len = off;
    }
    for (int k = 0; k <= N_SEC; k++)
        qp_free(s[k].p);
    return rc;
}

void qp_nbg_set_arena_bytes(uint8_t *buf, size_t len, uint64_t arena_bytes)
{
    wr64(buf + 24, arena_bytes);
    const uint8_t *e = buf + QP_NBG_HEADER_SIZE + (QP_NBG_SEC_PLAN - 1) * QP_NBG_SECTION_ENTRY;
    uint64_t plan = 0;
    for (int i = 7; i >= 0; i--)
        plan = plan << 8 | e[8 + i];
    if (plan + 8 <= len)
        wr64(buf + plan, arena_bytes);
    wr32(buf + 48, qp_nbg_checksum(buf, len));
}
