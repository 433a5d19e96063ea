/* The NBG runtime: validates an untrusted image (qpipe-nbg(5)) and rebuilds the graph and its
 * quantization table inside the caller's arena, then prepares them with the same executor as
 * `qinfer --dtype quantized` (qexec.c), so the results are the same bytes.  Everything the load
 * allocates comes from a bump allocator over the caller's arena (qp_set_allocator); runs
 * allocate nothing.  Only libc. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/nbg.h"
#include "qp/op.h"
#include "qp/qexec.h"
#include "qp/requant.h"
#include "qp/threads.h"

static const char *const op_names[] = {
#define QP_NBG_OP_NAME(name) #name,
    QP_NBG_OPS(QP_NBG_OP_NAME)
#undef QP_NBG_OP_NAME
};
_Static_assert(sizeof op_names / sizeof *op_names == QP_NBG_OP_COUNT, "name every NBG op code");

const char *qp_nbg_op_name(int code)
{
    return code >= 0 && code < QP_NBG_OP_COUNT ? op_names[code] : NULL;
}

int qp_nbg_op_code(const char *name)
{
    for (int i = 0; i < QP_NBG_OP_COUNT; i++)
        if (!strcmp(op_names[i], name))
            return i;
    return -1;
}

/* ---- little-endian fields -------------------------------------------------------------------- */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static int32_t rdi32(const uint8_t *p) { return (int32_t)rd32(p); }
static int64_t rdi64(const uint8_t *p) { return (int64_t)rd64(p); }

static double rdf64(const uint8_t *p)
{
    uint64_t u = rd64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static float rdf32(const uint8_t *p)
{
    uint32_t u = rd32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* CRC-32 (IEEE 802.3, reflected, as zlib's), over the image with the checksum field as zeros. */
static void crc32_table(uint32_t table[256])
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc32_update(const uint32_t table[256], uint32_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

uint32_t qp_nbg_checksum(const uint8_t *buf, size_t len)
{
    static const uint8_t zero[4];
    uint32_t table[256];        /* built per call: no shared state between threads */
    crc32_table(table);
    uint32_t c = crc32_update(table, 0xFFFFFFFFu, buf, 48);
    c = crc32_update(table, c, zero, 4);
    c = crc32_update(table, c, buf + 52, len - 52);
    return c ^ 0xFFFFFFFFu;
}

/* ---- the image: header and sections ---------------------------------------------------------- */

static const struct { const char *name; size_t rec; } sec_info[QP_NBG_SEC_COUNT + 1] = {
    [QP_NBG_SEC_STRINGS] = {"strings", 1},   [QP_NBG_SEC_VALUES] = {"values", 104},
    [QP_NBG_SEC_NODES] = {"nodes", 32},       [QP_NBG_SEC_ATTRS] = {"attrs", 112},
    [QP_NBG_SEC_INDICES] = {"indices", 4},    [QP_NBG_SEC_QENTRIES] = {"qentries", 64},
    [QP_NBG_SEC_QPARAMS] = {"qparams", 1},    [QP_NBG_SEC_IO] = {"io", 128},
    [QP_NBG_SEC_PLAN] = {"plan", 32},         [QP_NBG_SEC_DATA] = {"data", 1},
};

struct image {
    const uint8_t *b;
    size_t len;
    uint64_t arena_bytes;
    struct { const uint8_t *p; uint64_t size, count; } sec[QP_NBG_SEC_COUNT + 1];
};

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qp_errorf(QP_EINPUT, "%s", msg);
}

static int parse_image(const void *image, size_t len, struct image *im)
{
    const uint8_t *b = image;
    memset(im, 0, sizeof *im);
    if (len < QP_NBG_HEADER_SIZE)
        return bad("truncated NBG: %zu bytes, the header alone is %d", len, QP_NBG_HEADER_SIZE);
    if (memcmp(b, QP_NBG_MAGIC, 8))
        return bad("bad magic: not an NBG file");
    uint32_t tag = rd32(b + 12);
    if (tag != QP_NBG_ENDIAN_TAG)
        return bad(tag == 0x0D0C0B0Au ? "big-endian NBG (endianness tag 0a0b0c0d stored big-endian): "
                                        "only little-endian is defined"
                                      : "bad endianness tag 0x%08x (expected 0x0a0b0c0d little-endian)",
                   tag);
    unsigned major = b[8] | b[9] << 8, minor = b[10] | b[11] << 8;
    if (major != QP_NBG_VERSION_MAJOR)
        return bad("NBG version %u.%u not supported (this runtime reads %d.x)", major, minor,
                   QP_NBG_VERSION_MAJOR);
    uint64_t fsize = rd64(b + 16);
    if (fsize != len)
        return bad("NBG says it is %llu bytes, the image has %zu (truncated or padded)",
                   (unsigned long long)fsize, len);
    if (rd32(b + 32) != QP_NBG_HEADER_SIZE)
        return bad("header size %u (expected %d)", rd32(b + 32), QP_NBG_HEADER_SIZE);
    if (rd32(b + 52) != 0 || rd64(b + 56) != 0)
        return bad("header flags or reserved field set (0x%08x, 0x%016llx)", rd32(b + 52),
                   (unsigned long long)rd64(b + 56));
    uint32_t want = rd32(b + 48), got = qp_nbg_checksum(b, len);
    if (want != got)
        return bad("checksum mismatch: header says %08x, contents give %08x", want, got);
    im->b = b;
    im->len = len;
    im->arena_bytes = rd64(b + 24);
    uint32_t ns = rd32(b + 36);
    uint64_t so = rd64(b + 40);
    if (ns == 0 || ns > QP_NBG_MAX_SECTIONS)
        return bad("%u sections (1 to %d allowed)", ns, QP_NBG_MAX_SECTIONS);
    if (so % 8 || so < QP_NBG_HEADER_SIZE)
        return bad("section table at offset %llu: misaligned or inside the header", (unsigned long long)so);
    if (so > len || (uint64_t)ns * QP_NBG_SECTION_ENTRY > len - so)
        return bad("section table (%u entries at offset %llu) runs past the end of the %zu-byte file", ns,
                   (unsigned long long)so, len);
    static const struct { int kind; uint64_t cap; } caps[] = {
        {QP_NBG_SEC_VALUES, QP_NBG_MAX_VALUES}, {QP_NBG_SEC_NODES, QP_NBG_MAX_NODES},
        {QP_NBG_SEC_ATTRS, QP_NBG_MAX_ATTRS},   {QP_NBG_SEC_INDICES, 2ull * QP_MAX_IO * QP_NBG_MAX_NODES},
        {QP_NBG_SEC_QENTRIES, 3ull * QP_NBG_MAX_VALUES}, {QP_NBG_SEC_IO, 2 * QP_NBG_MAX_IO},
    };
    for (uint32_t i = 0; i < ns; i++) {
        const uint8_t *e = b + so + (uint64_t)i * QP_NBG_SECTION_ENTRY;
        uint32_t kind = rd32(e), count = rd32(e + 4);
        uint64_t off = rd64(e + 8), size = rd64(e + 16);
        if (kind < 1 || kind > QP_NBG_SEC_COUNT)
            return bad("section %u has unknown kind %u", i, kind);
        const char *nm = sec_info[kind].name;
        if (im->sec[kind].p)
            return bad("section '%s' appears twice", nm);
        if (rd64(e + 24))
            return bad("section '%s': reserved field set", nm);
        if (off % QP_NBG_ALIGN)
            return bad("section '%s' at offset %llu is not %d-byte aligned", nm, (unsigned long long)off,
                       QP_NBG_ALIGN);
        if (off > len || size > len - off)
            return bad("section '%s' (offset %llu, %llu bytes) lies outside the %zu-byte file", nm,
                       (unsigned long long)off, (unsigned long long)size, len);
        if (off < so + (uint64_t)ns * QP_NBG_SECTION_ENTRY && off + size > QP_NBG_HEADER_SIZE && size)
            return bad("section '%s' overlaps the header or the section table", nm);
        for (size_t c = 0; c < sizeof caps / sizeof *caps; c++)
            if (caps[c].kind == (int)kind && count > caps[c].cap)
                return bad("section '%s' has %u records (at most %llu)", nm, count, (unsigned long long)caps[c].cap);
        size_t rec = sec_info[kind].rec;
        if (rec > 1 && kind != QP_NBG_SEC_PLAN && size != (uint64_t)count * rec)
            return bad("section '%s': %llu bytes for %u records of %zu", nm, (unsigned long long)size, count, rec);
        if (kind == QP_NBG_SEC_PLAN && size < rec)
            return bad("section 'plan' is %llu bytes (at least %zu)", (unsigned long long)size, rec);
        im->sec[kind].p = b + off;
        im->sec[kind].size = size;
        im->sec[kind].count = count;
    }
    for (int k = 1; k <= QP_NBG_SEC_COUNT; k++)
        if (!im->sec[k].p)
            return bad("section '%s' is missing", sec_info[k].name);
    return 0;
}

int qp_nbg_arena_size(const void *image, size_t len, size_t *arena_bytes)
{
    struct image im;
    int rc = parse_image(image, len, &im);
    if (rc)
        return rc;
    if (im.arena_bytes > SIZE_MAX)
        return bad("arena size %llu does not fit this machine", (unsigned long long)im.arena_bytes);
    *arena_bytes = (size_t)im.arena_bytes;
    return 0;
}

/* A string of the strings section: NUL-terminated inside it. */
static int str_at(const struct image *im, uint32_t off, const char **out)
{
    const uint8_t *s = im->sec[QP_NBG_SEC_STRINGS].p;
    uint64_t n = im->sec[QP_NBG_SEC_STRINGS].size;
    if (off >= n || !memchr(s + off, 0, n - off))
        return bad("string offset %u outside the strings section (%llu bytes) or unterminated", off,
                   (unsigned long long)n);
    *out = (const char *)s + off;
    return 0;
}

/* A payload of the data section, aligned to al and of exactly n bytes. */
static int data_at(const struct image *im, uint64_t off, uint64_t n, unsigned al, const char *what,
                   const uint8_t **out)
{
    uint64_t size = im->sec[QP_NBG_SEC_DATA].size;
    if (off > size || n > size - off)
        return bad("%s: payload (offset %llu, %llu bytes) outside the data section (%llu bytes)", what,
                   (unsigned long long)off, (unsigned long long)n, (unsigned long long)size);
    if (off % al)
        return bad("%s: payload offset %llu is not %u-byte aligned", what, (unsigned long long)off, al);
    *out = im->sec[QP_NBG_SEC_DATA].p + off;
    return 0;
}

static int read_dims(const uint8_t *p, int rank, int64_t *dims, const char *what)
{
    if (rank < 0 || rank > QP_MAX_RANK)
        return bad("%s: rank %d (0 to %d allowed)", what, rank, QP_MAX_RANK);
    for (int d = 0; d < QP_MAX_RANK; d++) {
        dims[d] = rdi64(p + 8 * d);
        if (d < rank && (dims[d] < 0 || dims[d] > ((int64_t)1 << 40)))
            return bad("%s: dimension %d is %lld", what, d, (long long)dims[d]);
        if (d >= rank && dims[d])
            return bad("%s: dimension %d set beyond rank %d", what, d, rank);
    }
    size_t n;
    if (qp_dims_numel(rank, dims, &n))
        return qp_error_prefix(QP_EINPUT, "%s", what);
    return 0;
}

/* ---- the arena allocator ---------------------------------------------------------------------- */

struct bump {
    uint8_t *base;
    size_t cap, used;
    int failed;
};

/* Each block is preceded by its size (for resize); blocks are at least 16-byte aligned. */
static void *bump_alloc(void *ctx, size_t n, size_t align)
{
    struct bump *b = ctx;
    if (align < 16)
        align = 16;
    uintptr_t base = (uintptr_t)b->base;
    size_t start = b->used + 16;
    size_t mis = (base + start) & (align - 1);
    if (mis)
        start += align - mis;
    if (start > b->cap || n > b->cap - start) {
        b->failed = 1;
        return NULL;
    }
    memcpy(b->base + start - 16, &n, sizeof n);
    b->used = start + n;
    return b->base + start;
}

static void *bump_resize(void *ctx, void *p, size_t n)
{
    struct bump *b = ctx;
    if (!p)
        return bump_alloc(ctx, n, 16);
    size_t old;
    memcpy(&old, (uint8_t *)p - 16, sizeof old);
    size_t at = (size_t)((uint8_t *)p - b->base);
    if (at + old == b->used && n <= b->cap - at) {      /* the last block grows in place */
        memcpy((uint8_t *)p - 16, &n, sizeof n);
        b->used = at + n;
        return p;
    }
    void *q = bump_alloc(ctx, n, 16);
    if (q)
        memcpy(q, p, old < n ? old : n);
    return q;
}

/* ---- load ------------------------------------------------------------------------------------- */

struct qweight {
    int node;                   /* node + 1 whose weight entry quantized it; 0: a float payload */
    const uint8_t *p;
    uint64_t bytes;
};

struct qp_nbg {
    struct qweight *qw;         /* per value, during the load */
    qp_graph *g;
    qp_qtable *t;
    qp_qexec *x;
    int n_in, n_out;
    qp_nbg_io io[2 * QP_NBG_MAX_IO];
    int io_value[2 * QP_NBG_MAX_IO];
    size_t used;
};

static int build_values(const struct image *im, qp_graph *g, qp_nbg *nb)
{
    nb->qw = qp_calloc(im->sec[QP_NBG_SEC_VALUES].count + 1, sizeof *nb->qw);
    if (!nb->qw)
        return QP_ESYS;
    const uint8_t *r = im->sec[QP_NBG_SEC_VALUES].p;
    for (uint64_t i = 0; i < im->sec[QP_NBG_SEC_VALUES].count; i++, r += 104) {
        const char *name = "", *key = "";
        char what[64];
        snprintf(what, sizeof what, "value %llu", (unsigned long long)i);
        int rc, rank = rdi32(r + 12), dtype = rdi32(r + 8);
        int64_t dims[QP_MAX_RANK];
        if ((rc = str_at(im, rd32(r), &name)) || (rc = str_at(im, rd32(r + 4), &key)))
            return qp_error_prefix(rc, "%s", what);
        if ((rc = read_dims(r + 16, rank, dims, what)))
            return rc;
        if (qp_dtype_size(dtype) == 0)
            return bad("%s '%s': unknown dtype %d", what, name, dtype);
        uint32_t flags = rd32(r + 80), qnode = rd32(r + 84);
        if (flags > 1)
            return bad("%s '%s': unknown flags 0x%x", what, name, flags);
        if (qnode && (!(flags & 1) || dtype != QP_DT_F32 || qnode > im->sec[QP_NBG_SEC_NODES].count))
            return bad("%s '%s': quantized by layer %u, which is not a layer, or not a float constant", what,
                       name, qnode - 1);
        int vi = qp_graph_add_value(g, name, dtype, rank, dims);
        if (vi < 0)
            return QP_ESYS;
        qp_value *v = &g->values[vi];
        v->key = qp_arena_strdup(g->arena, key);
        if (!v->key)
            return QP_ESYS;
        uint64_t off = rd64(r + 88), nbytes = rd64(r + 96);
        if (!(flags & 1)) {
            if (off || nbytes)
                return bad("%s '%s': a payload on a value that is not constant", what, name);
            continue;
        }
        size_t numel, want;
        qp_value_numel(v, &numel);
        if (qp_mul_size(numel, qp_dtype_size(dtype), &want) || (!qnode && nbytes != want))
            return bad("%s '%s': %llu bytes of data for %zu elements of %s", what, name,
                       (unsigned long long)nbytes, numel, qp_dtype_name(dtype));
        const uint8_t *d;
        if ((rc = data_at(im, off, nbytes, QP_NBG_ALIGN, what, &d)))
            return rc;
        v->is_const = 1;
        v->data = (void *)d;        /* read-only: the executor never writes graph constants */
        v->nbytes = want;
        if (qnode)                  /* integers: made float once the table is read */
            nb->qw[vi] = (struct qweight){(int)qnode, d, nbytes};
    }
    return 0;
}

static int build_attr(const struct image *im, qp_graph *g, int ni, const uint8_t *r)
{
    const char *name = "";
    int rc;
    if ((rc = str_at(im, rd32(r), &name)))
        return rc;
    uint32_t type = rd32(r + 4), n = rd32(r + 20);
    uint64_t off = rd64(r + 24), nbytes = rd64(r + 32);
    const uint8_t *d;
    char what[160];
    snprintf(what, sizeof what, "attribute '%.80s'", name);
    if (n > QP_NBG_MAX_ATTR_ELEMS)
        return bad("%s: %u elements (at most %d)", what, n, QP_NBG_MAX_ATTR_ELEMS);
    switch (type) {
    case QP_ATTR_INT:
        return qp_node_set_int(g, ni, name, rdi64(r + 8));
    case QP_ATTR_FLOAT:
        return qp_node_set_float(g, ni, name, rdf32(r + 16));
    case QP_ATTR_STRING: {
        const uint8_t *s = im->sec[QP_NBG_SEC_STRINGS].p;
        uint64_t size = im->sec[QP_NBG_SEC_STRINGS].size;
        if (off > size || nbytes >= size - off || s[off + nbytes])
            return bad("%s: string outside the strings section or unterminated", what);
        return qp_node_set_string(g, ni, name, (const char *)s + off, (size_t)nbytes);
    }
    case QP_ATTR_INTS:
        if (nbytes != (uint64_t)n * 8 || (rc = data_at(im, off, nbytes, 8, what, &d)))
            return rc ? rc : bad("%s: %llu bytes for %u ints", what, (unsigned long long)nbytes, n);
        return qp_node_set_ints(g, ni, name, (int)n, (const int64_t *)(const void *)d);
    case QP_ATTR_FLOATS:
        if (nbytes != (uint64_t)n * 4 || (rc = data_at(im, off, nbytes, 4, what, &d)))
            return rc ? rc : bad("%s: %llu bytes for %u floats", what, (unsigned long long)nbytes, n);
        return qp_node_set_floats(g, ni, name, (int)n, (const float *)(const void *)d);
    case QP_ATTR_TENSOR: {
        qp_tensor t = {0};
        t.dtype = rdi32(r + 40);
        t.rank = rdi32(r + 44);
        if ((rc = read_dims(r + 48, t.rank, t.dims, what)))
            return rc;
        size_t numel, want;
        qp_dims_numel(t.rank, t.dims, &numel);
        if (!qp_dtype_size(t.dtype) || qp_mul_size(numel, qp_dtype_size(t.dtype), &want) || want != nbytes)
            return bad("%s: %llu bytes for a %s tensor of %zu elements", what, (unsigned long long)nbytes,
                       qp_dtype_name(t.dtype), numel);
        if ((rc = data_at(im, off, nbytes, 8, what, &d)))
            return rc;
        t.data = (void *)d;
        t.nbytes = (size_t)nbytes;
        return qp_node_set_tensor(g, ni, name, &t);
    }
    default:
        return bad("%s: unknown type %u", what, type);
    }
}

static int build_nodes(const struct image *im, qp_graph *g)
{
    const uint8_t *r = im->sec[QP_NBG_SEC_NODES].p;
    const uint8_t *idx = im->sec[QP_NBG_SEC_INDICES].p;
    uint64_t n_idx = im->sec[QP_NBG_SEC_INDICES].count, n_attr = im->sec[QP_NBG_SEC_ATTRS].count;
    for (uint64_t i = 0; i < im->sec[QP_NBG_SEC_NODES].count; i++, r += 32) {
        const char *name = "", *key = "";
        int rc;
        if ((rc = str_at(im, rd32(r + 4), &name)) || (rc = str_at(im, rd32(r + 8), &key)))
            return qp_error_prefix(rc, "node %llu", (unsigned long long)i);
        uint32_t op = rd32(r), nin = rd32(r + 12), nout = rd32(r + 16), first = rd32(r + 20);
        uint32_t na = rd32(r + 24), afirst = rd32(r + 28);
        const char *op_type = qp_nbg_op_name((int)op);
        if (!op_type)
            return bad("node %llu '%s': unknown op code %u (this runtime knows 0 to %d)", (unsigned long long)i,
                       name, op, QP_NBG_OP_COUNT - 1);
        if (nin > QP_MAX_IO || nout > QP_MAX_IO)
            return bad("node '%s' (%s): %u inputs and %u outputs (at most %d)", name, op_type, nin, nout, QP_MAX_IO);
        if ((uint64_t)first + nin + nout > n_idx)
            return bad("node '%s' (%s): index range %u+%u runs past the %llu indices", name, op_type, first,
                       nin + nout, (unsigned long long)n_idx);
        if ((uint64_t)afirst + na > n_attr)
            return bad("node '%s' (%s): attribute range %u+%u runs past the %llu attributes", name, op_type,
                       afirst, na, (unsigned long long)n_attr);
        int io[2 * QP_MAX_IO];
        for (uint32_t k = 0; k < nin + nout; k++) {
            io[k] = rdi32(idx + 4 * ((uint64_t)first + k));
            if (io[k] < -1 || io[k] >= g->n_values)
                return bad("node '%s' (%s): %s %u refers to value %d (the graph has %d)", name, op_type,
                           k < nin ? "input" : "output", k < nin ? k : k - nin, io[k], g->n_values);
            if (k >= nin && (io[k] < 0 || g->values[io[k]].is_const || g->values[io[k]].producer >= 0))
                return bad("node '%s' (%s): output %u (value %d) is absent, constant or already produced",
                           name, op_type, k - nin, io[k]);
        }
        int ni = qp_graph_add_node(g, op_type, name, (int)nin, io, (int)nout, io + nin);
        if (ni < 0)
            return QP_ESYS;
        if (!(g->nodes[ni].key = qp_arena_strdup(g->arena, key)))
            return QP_ESYS;
        for (uint32_t a = 0; a < na; a++)
            if ((rc = build_attr(im, g, ni, im->sec[QP_NBG_SEC_ATTRS].p + 112 * ((uint64_t)afirst + a))))
                return rc == QP_ESYS ? rc : qp_error_prefix(rc, "node '%s' (%s)", name, op_type);
    }
    return 0;
}

static int build_io(const struct image *im, qp_graph *g, qp_nbg *nb)
{
    const uint8_t *r = im->sec[QP_NBG_SEC_IO].p;
    uint64_t n = im->sec[QP_NBG_SEC_IO].count;
    int cnt[2] = {0, 0};
    for (uint64_t i = 0; i < n; i++, r += 128) {
        uint32_t dir = rd32(r), vi = rd32(r + 4);
        if (dir > 1)
            return bad("io descriptor %llu: direction %u (0 input, 1 output)", (unsigned long long)i, dir);
        if (vi >= (uint32_t)g->n_values)
            return bad("io descriptor %llu: value %u out of range (the graph has %d)", (unsigned long long)i, vi,
                       g->n_values);
        if (dir == 0 && cnt[1])
            return bad("io descriptor %llu: an input after the outputs", (unsigned long long)i);
        if (cnt[dir] >= QP_NBG_MAX_IO)
            return bad("more than %d %s", QP_NBG_MAX_IO, dir ? "outputs" : "inputs");
        qp_nbg_io *d = &nb->io[i];
        int rc;
        if ((rc = str_at(im, rd32(r + 8), &d->name)) || (rc = str_at(im, rd32(r + 12), &d->key)))
            return qp_error_prefix(rc, "io descriptor %llu", (unsigned long long)i);
        d->dtype = rdi32(r + 16);
        d->rank = rdi32(r + 20);
        if ((rc = read_dims(r + 24, d->rank, d->dims, "io descriptor")))
            return rc;
        d->quantizer = rdi32(r + 88);
        d->scale = rdf64(r + 96);
        d->zero_point = rdi32(r + 104);
        d->fl = rdi32(r + 108);
        d->nbytes = (size_t)rd64(r + 112);
        const qp_value *v = &g->values[vi];
        int same = v->rank == d->rank && strcmp(v->name, d->name) == 0;
        for (int k = 0; same && k < v->rank; k++)
            same = v->dims[k] == d->dims[k];
        if (!same)
            return bad("%s '%s': descriptor does not match value %u", dir ? "output" : "input", d->name, vi);
        if (dir == 0 && (v->is_const || v->producer >= 0))
            return bad("input '%s': value %u is constant or produced by a layer", d->name, vi);
        if (dir == 1 && v->producer < 0)
            return bad("output '%s': value %u is not produced by any layer", d->name, vi);
        for (uint64_t k = 0; k < i; k++)
            if (nb->io_value[k] == (int)vi && rd32(im->sec[QP_NBG_SEC_IO].p + 128 * k) == dir)
                return bad("%s '%s': value %u is described twice", dir ? "output" : "input", d->name, vi);
        nb->io_value[i] = (int)vi;
        cnt[dir]++;
    }
    nb->n_in = cnt[0];
    nb->n_out = cnt[1];
    if (!nb->n_out)
        return bad("the network has no outputs");
    g->n_inputs = cnt[0];
    g->n_outputs = cnt[1];
    g->inputs = qp_arena_array(g->arena, (size_t)cnt[0] + 1, sizeof(int));
    g->outputs = qp_arena_array(g->arena, (size_t)cnt[1] + 1, sizeof(int));
    g->output_keys = qp_arena_array(g->arena, (size_t)cnt[1] + 1, sizeof(char *));
    if (!g->inputs || !g->outputs || !g->output_keys)
        return QP_ESYS;
    for (int i = 0; i < cnt[0]; i++)
        g->inputs[i] = nb->io_value[i];
    for (int i = 0; i < cnt[1]; i++) {
        g->outputs[i] = nb->io_value[cnt[0] + i];
        g->output_keys[i] = nb->io[cnt[0] + i].key;
    }
    return 0;
}

/* Re-derives every layer's outputs with the op's own shape inference: a stored shape or dtype
 * that differs (a buffer smaller than its layer writes) is rejected. */
static int check_shapes(qp_graph *g)
{
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *n = &g->nodes[ni];
        struct { int dtype, rank; int64_t dims[QP_MAX_RANK]; } want[QP_MAX_IO];
        for (int k = 0; k < n->n_out; k++) {
            const qp_value *v = &g->values[n->out[k]];
            want[k].dtype = v->dtype;
            want[k].rank = v->rank;
            memcpy(want[k].dims, v->dims, sizeof want[k].dims);
        }
        int rc = qp_op_get(n->op)->infer(g, ni);
        if (rc)
            return rc == QP_ESYS ? rc : QP_EINPUT;
        for (int k = 0; k < n->n_out; k++) {
            const qp_value *v = &g->values[n->out[k]];
            int same = v->dtype == want[k].dtype && v->rank == want[k].rank;
            for (int d = 0; same && d < v->rank; d++)
                same = v->dims[d] == want[k].dims[d];
            if (!same) {
                char a[128], b[128];
                return bad("layer '%s' (%s): output %d is stored as %s %s, the layer makes %s %s", n->name,
                           n->op_type, k, qp_dtype_name(want[k].dtype),
                           qp_shape_format(a, sizeof a, want[k].rank, want[k].dims), qp_dtype_name(v->dtype),
                           qp_shape_format(b, sizeof b, v->rank, v->dims));
            }
        }
    }
    return 0;
}

/* The entries of the qentries section into t; ok marks the slots a table can describe. */
static int table_entries(const struct image *im, const qp_graph *g, qp_qtable *t, const unsigned char *ok)
{
    const uint8_t *r = im->sec[QP_NBG_SEC_QENTRIES].p;
    const uint8_t *qp = im->sec[QP_NBG_SEC_QPARAMS].p;
    uint64_t qsize = im->sec[QP_NBG_SEC_QPARAMS].size;
    int rc;
    for (uint64_t i = 0; i < im->sec[QP_NBG_SEC_QENTRIES].count; i++, r += 64) {
        uint32_t port = rd32(r), index = rd32(r + 4);
        int quantizer = rdi32(r + 8), qtype = rdi32(r + 12), n = rdi32(r + 32);
        char key[1100];
        if (port == QP_NBG_PORT_BIAS_CORR) {
            uint64_t so = rd64(r + 48);
            if (index >= (uint32_t)g->n_nodes)
                return bad("bias correction %llu: layer %u out of range", (unsigned long long)i, index);
            const char *lk = qp_node_key(&g->nodes[index]);
            if (t->bias_corr[index])
                return bad("bias correction of '%s' appears twice", lk);
            if (n < 1 || n > QP_NBG_MAX_CHANNELS || so % 8 || so > qsize || (uint64_t)n * 8 > qsize - so)
                return bad("bias correction of '%s': %d values or parameters outside the qparams section", lk, n);
            double *v = qp_calloc((size_t)n, sizeof *v);
            if (!v)
                return QP_ESYS;
            for (int c = 0; c < n; c++)
                v[c] = rdf64(qp + so + 8 * (uint64_t)c);
            rc = qp_qtable_set_bias_corr(t, (int)index, v, n);
            qp_free(v);
            if (rc)
                return rc == QP_ESYS ? rc : QP_EINPUT;
            continue;
        }
        if (port > QP_QPORT_BIAS)
            return bad("quantization entry %llu: unknown port %u", (unsigned long long)i, port);
        if (index >= (uint32_t)(port == QP_QPORT_VALUE ? g->n_values : g->n_nodes))
            return bad("quantization entry %llu: %s %u out of range", (unsigned long long)i,
                       port == QP_QPORT_VALUE ? "value" : "layer", index);
        qp_qslot s = {(int)port, (int)index, 1};
        qp_qtable_key(g, s, key, sizeof key);
        if (port == QP_QPORT_VALUE && g->values[index].dtype != QP_DT_F32)
            return bad("quantization entry '%s': the tensor is %s, only float tensors are quantized", key,
                       qp_dtype_name(g->values[index].dtype));
        if (!ok[port == QP_QPORT_VALUE ? index
                : (size_t)g->n_values + (size_t)(port - 1) * (size_t)g->n_nodes + index])
            return bad("quantization entry '%s': not a tensor a table describes", key);
        qp_qentry *e = qp_qtable_entry(t, s);
        if (qp_qentry_present(e))
            return bad("quantization entry '%s' appears twice", key);
        if (quantizer < 0 || quantizer >= QP_QZ_COUNT)
            return bad("quantization entry '%s': unknown quantizer %d", key, quantizer);
        if (n < 0 || n > QP_NBG_MAX_CHANNELS)
            return bad("quantization entry '%s': %d channels (at most %d)", key, n, QP_NBG_MAX_CHANNELS);
        uint64_t so = rd64(r + 48), zo = rd64(r + 56);
        if (so % 8 || zo % 4 || so > qsize || (uint64_t)n * 8 > qsize - so || zo > qsize ||
            (uint64_t)n * 4 > qsize - zo)
            return bad("quantization entry '%s': parameters outside the qparams section", key);
        rc = qp_qentry_set(t, e, quantizer, qtype, n, NULL, NULL);
        if (rc)
            return rc;
        for (int c = 0; c < n; c++) {
            e->scale[c] = rdf64(qp + so + 8 * (uint64_t)c);
            e->zero_point[c] = rdi32(qp + zo + 4 * (uint64_t)c);
        }
        e->min = rdf64(r + 16);
        e->max = rdf64(r + 24);
        e->fl = rdi32(r + 36);
        e->channel_dim = rdi32(r + 40);
        if (e->channel_dim < -1 || e->channel_dim >= QP_MAX_RANK)
            return bad("quantization entry '%s': channel axis %d", key, e->channel_dim);
        if (!qp_qentry_present(e))
            return bad("quantization entry '%s': empty (quantizer float32 without a qtype)", key);
        if ((rc = qp_qtable_check_entry(t, s, e)))
            return qp_error_prefix(QP_EINPUT, "quantization entry '%s'", key);
    }
    return 0;
}

static int build_table(const struct image *im, const qp_graph *g, qp_qtable *t)
{
    /* the tensors a table can describe (qpipe-quantize(5), WHICH TENSORS) */
    qp_qslot *slots;
    int n_slots, rc = qp_qtable_slots(g, &slots, &n_slots);
    if (rc)
        return rc;
    unsigned char *ok = qp_calloc((size_t)g->n_values + 2 * (size_t)g->n_nodes + 1, 1);
    if (ok) {
        for (int k = 0; k < n_slots; k++)
            ok[slots[k].port == QP_QPORT_VALUE ? (size_t)slots[k].index
               : (size_t)g->n_values + (size_t)(slots[k].port - 1) * (size_t)g->n_nodes + (size_t)slots[k].index] = 1;
        rc = table_entries(im, g, t, ok);
    } else
        rc = QP_ESYS;
    qp_free(ok);
    qp_free(slots);
    return rc;
}

/* Weights stored as the integers of their layer's weight entry become the floats the rule
 * quantizes back to the same integers (nbgexport stores a weight so only when that holds). */
static int dequantize_weights(const qp_nbg *nb, qp_graph *g, const qp_qtable *t)
{
    for (int vi = 0; vi < g->n_values; vi++) {
        const struct qweight *w = &nb->qw[vi];
        if (!w->node)
            continue;
        qp_value *v = &g->values[vi];
        int ni = w->node - 1;
        const qp_node *n = &g->nodes[ni];
        const qp_qentry *e = &t->weight[ni];
        int qt = qp_qtype_of_dtype(e->qtype);
        size_t es = qt == QP_QTYPE_I16 ? 2 : 1, numel = v->nbytes / sizeof(float), inner = 1, axis_n = 1;
        if (n->n_in < 2 || n->in[1] != vi || !qp_qentry_present(e) || !e->scale ||
            (qt != QP_QTYPE_U8 && qt != QP_QTYPE_I8 && qt != QP_QTYPE_I16))
            return bad("value '%s': stored as integers of layer '%s', which has no integer weight entry for it",
                       v->name, n->name);
        if (w->bytes != (uint64_t)numel * es)
            return bad("value '%s': %llu bytes of data for %zu elements of %s", v->name,
                       (unsigned long long)w->bytes, numel, qp_dtype_name(e->qtype));
        int cd = e->n > 1 ? qp_qtable_weight_channel_dim(g, ni) : -1;
        if (e->n > 1) {
            if (cd < 0 || v->dims[cd] != e->n)
                return bad("value '%s': %d scales do not follow the output channels of layer '%s'", v->name, e->n,
                           n->name);
            for (int d = cd + 1; d < v->rank; d++)
                inner *= (size_t)v->dims[d];
            axis_n = (size_t)v->dims[cd];
        }
        float *f = qp_aligned_alloc(QP_NBG_ALIGN, numel * sizeof(float) + 1);
        if (!f)
            return QP_ESYS;
        for (size_t i = 0; i < numel; i++) {
            size_t c = e->n > 1 ? (i / inner) % axis_n : 0;
            qp_qparams p = {e->scale[c], e->zero_point[c], (qp_qtype)qt};
            int32_t x = es == 2 ? (int16_t)(w->p[2 * i] | w->p[2 * i + 1] << 8)
                                : qt == QP_QTYPE_U8 ? (int32_t)w->p[i] : (int32_t)(int8_t)w->p[i];
            f[i] = qp_dequantize(x, &p);
        }
        v->data = f;
    }
    return 0;
}

/* The descriptors say how each input and output is held: the executor must agree. */
static int check_io_reps(qp_nbg *nb)
{
    for (int i = 0; i < nb->n_in + nb->n_out; i++) {
        qp_nbg_io *d = &nb->io[i];
        const qp_qtensor *q = qp_qexec_value(nb->x, nb->io_value[i]);
        const qp_qrep *r = qp_qexec_rep(nb->x, nb->io_value[i]);
        if (!q || !r)
            return bad("%s '%s' is not materialized by the network", i < nb->n_in ? "input" : "output", d->name);
        int quant = r->kind == QP_QREP_QUANT;
        if (q->t.dtype != d->dtype || q->t.nbytes != d->nbytes ||
            (quant && (r->q.scale != d->scale || r->q.zp != d->zero_point)))
            return bad("%s '%s': the descriptor says %s (scale %g, zero point %d), the network holds %s "
                       "(scale %g, zero point %d)",
                       i < nb->n_in ? "input" : "output", d->name, qp_dtype_name(d->dtype), d->scale,
                       (int)d->zero_point, qp_dtype_name(q->t.dtype), quant ? r->q.scale : 0.0,
                       quant ? (int)r->q.zp : 0);
    }
    return 0;
}

static int load(const struct image *im, qp_nbg **out)
{
    qp_nbg *nb = qp_calloc(1, sizeof *nb);
    qp_graph *g = qp_graph_new();
    if (!nb || !g)
        return QP_ESYS;
    nb->g = g;
    int rc;
    if ((rc = build_values(im, g, nb)) || (rc = build_nodes(im, g)) || (rc = build_io(im, g, nb)))
        return rc;
    if ((rc = qp_graph_validate(g)) || (rc = qp_op_bind(g)))
        return rc == QP_ESYS ? rc : QP_EINPUT;
    if (!(nb->t = qp_qtable_new(g)))
        return QP_ESYS;
    if ((rc = build_table(im, g, nb->t)) || (rc = dequantize_weights(nb, g, nb->t)))
        return rc;
    if ((rc = check_shapes(g)))
        return rc;
    if ((rc = qp_qexec_new(g, nb->t, 0, &nb->x)))
        return rc == QP_ESYS ? rc : QP_EINPUT;
    if ((rc = check_io_reps(nb)))
        return rc;
    *out = nb;
    return 0;
}

int qp_nbg_load(const void *image, size_t len, void *arena, size_t arena_len, qp_nbg **out)
{
    struct image im;
    *out = NULL;
    int rc = parse_image(image, len, &im);
    if (rc)
        return rc;
    if ((uintptr_t)image % QP_NBG_ALIGN || (uintptr_t)arena % QP_NBG_ALIGN)
        return qp_errorf(QP_EUSAGE, "the NBG image and the arena must be %d-byte aligned", QP_NBG_ALIGN);
    if (arena_len < im.arena_bytes)
        return qp_errorf(QP_ESYS, "arena of %zu bytes, the NBG needs %llu", arena_len,
                         (unsigned long long)im.arena_bytes);
    struct bump b = {arena, arena_len, 0, 0};
    qp_allocator a = {bump_alloc, bump_resize, NULL, &b};
    qp_set_allocator(&a);
    rc = load(&im, out);
    qp_set_allocator(NULL);
    if (rc && b.failed)
        return qp_errorf(QP_ESYS, "arena of %zu bytes is too small for this NBG", arena_len);
    if (rc)
        return rc;
    (*out)->used = b.used;
    return 0;
}

size_t qp_nbg_arena_used(const qp_nbg *n) { return n->used; }

/* ---- run -------------------------------------------------------------------------------------- */

int qp_nbg_n_inputs(const qp_nbg *n) { return n->n_in; }
int qp_nbg_n_outputs(const qp_nbg *n) { return n->n_out; }

int qp_nbg_input(const qp_nbg *n, int i, qp_nbg_io *io)
{
    if (i < 0 || i >= n->n_in)
        return qp_errorf(QP_EUSAGE, "the network has %d inputs, not %d", n->n_in, i + 1);
    *io = n->io[i];
    return 0;
}

int qp_nbg_output(const qp_nbg *n, int i, qp_nbg_io *io)
{
    if (i < 0 || i >= n->n_out)
        return qp_errorf(QP_EUSAGE, "the network has %d outputs, not %d", n->n_out, i + 1);
    *io = n->io[n->n_in + i];
    return 0;
}

int qp_nbg_set_input_f32(qp_nbg *n, int i, const float *data, int rank, const int64_t *dims)
{
    if (i < 0 || i >= n->n_in)
        return qp_errorf(QP_EUSAGE, "the network has %d inputs, not %d", n->n_in, i + 1);
    if (rank < 0 || rank > QP_MAX_RANK)
        return qp_errorf(QP_EINPUT, "input rank %d", rank);
    qp_tensor t = {0};
    t.dtype = QP_DT_F32;
    t.rank = rank;
    memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
    t.data = (void *)data;
    return qp_qexec_set_input(n->x, i, &t);
}

int qp_nbg_set_input_raw(qp_nbg *n, int i, const void *data, size_t nbytes)
{
    if (i < 0 || i >= n->n_in)
        return qp_errorf(QP_EUSAGE, "the network has %d inputs, not %d", n->n_in, i + 1);
    const qp_nbg_io *d = &n->io[i];
    if (nbytes != d->nbytes)
        return qp_errorf(QP_EINPUT, "input '%s' is %zu bytes of %s, got %zu", d->name, d->nbytes,
                         qp_dtype_name(d->dtype), nbytes);
    qp_tensor t = {0};
    t.dtype = d->dtype;
    t.rank = d->rank;
    memcpy(t.dims, d->dims, sizeof t.dims);
    t.data = (void *)data;
    t.nbytes = nbytes;
    return qp_qexec_set_input_raw(n->x, i, &t);
}

int qp_nbg_run(qp_nbg *n) { return qp_qexec_run(n->x); }

const void *qp_nbg_output_data(const qp_nbg *n, int i)
{
    if (i < 0 || i >= n->n_out)
        return NULL;
    return qp_qexec_value(n->x, n->io_value[n->n_in + i])->t.data;
}

const qp_qtensor *qp_nbg_output_tensor(const qp_nbg *n, int i)
{
    if (i < 0 || i >= n->n_out)
        return NULL;
    return qp_qexec_value(n->x, n->io_value[n->n_in + i]);
}
