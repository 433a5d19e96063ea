/* zstd framing of the IR stream.  The content checksum is always on (libzstd leaves it
 * off by default and a flipped byte would then decode silently); truncation shows as a
 * non-zero decoder hint at EOF, and the records carry their own end record and hash. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "qp/diag.h"
#include "qp/stream.h"

uint64_t qp_fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

struct qp_swriter {
    FILE *out;
    const char *name;
    ZSTD_CCtx *cctx;
    unsigned char *obuf;
    size_t osize;
    uint64_t hash, count;
    int failed;
};

qp_swriter *qp_swriter_new(FILE *out, const char *name, int level)
{
    qp_swriter *w = qp_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->out = out;
    w->name = name;
    w->cctx = ZSTD_createCCtx();
    w->osize = ZSTD_CStreamOutSize();
    w->obuf = qp_malloc(w->osize);
    if (!w->cctx || !w->obuf) {
        qp_errorf(QP_ESYS, "out of memory");
        qp_swriter_free(w);
        return NULL;
    }
    if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1))) {
        qp_errorf(QP_ESYS, "cannot configure zstd");
        qp_swriter_free(w);
        return NULL;
    }
    w->hash = QP_FNV1A64_INIT;
    return w;
}

void qp_swriter_free(qp_swriter *w)
{
    if (!w)
        return;
    ZSTD_freeCCtx(w->cctx);
    free(w->obuf);
    free(w);
}

static int push(qp_swriter *w, const void *data, size_t len, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = { data, len, 0 };
    for (;;) {
        ZSTD_outBuffer ob = { w->obuf, w->osize, 0 };
        size_t rem = ZSTD_compressStream2(w->cctx, &ob, &in, mode);
        if (ZSTD_isError(rem))
            return qp_errorf(QP_ESYS, "zstd: %s", ZSTD_getErrorName(rem));
        if (ob.pos && fwrite(w->obuf, 1, ob.pos, w->out) != ob.pos)
            return qp_errorf(QP_ESYS, "cannot write '%s': %s", w->name, strerror(errno));
        if (mode == ZSTD_e_end ? rem == 0 : in.pos == in.size)
            return 0;
    }
}

int qp_swriter_record(qp_swriter *w, const void *data, size_t len)
{
    if (w->failed)
        return QP_ESYS;
    if (len > QP_STREAM_MAX_RECORD)
        return qp_errorf(QP_EINPUT, "record of %zu bytes is larger than the stream allows", len);
    unsigned char lp[4] = { (unsigned char)len, (unsigned char)(len >> 8),
                            (unsigned char)(len >> 16), (unsigned char)(len >> 24) };
    int rc = push(w, lp, 4, ZSTD_e_continue);
    if (!rc)
        rc = push(w, data, len, ZSTD_e_continue);
    if (rc) {
        w->failed = 1;
        return rc;
    }
    w->hash = qp_fnv1a64(qp_fnv1a64(w->hash, lp, 4), data, len);
    w->count++;
    return 0;
}

uint64_t qp_swriter_hash(const qp_swriter *w) { return w->hash; }
uint64_t qp_swriter_count(const qp_swriter *w) { return w->count; }

int qp_swriter_finish(qp_swriter *w)
{
    int rc = w->failed ? QP_ESYS : push(w, NULL, 0, ZSTD_e_end);
    if (!rc && fflush(w->out))
        rc = qp_errorf(QP_ESYS, "cannot write '%s': %s", w->name, strerror(errno));
    if (!rc && ferror(w->out))
        rc = qp_errorf(QP_ESYS, "cannot write '%s'", w->name);
    qp_swriter_free(w);
    return rc;
}

struct qp_sreader {
    FILE *in;
    const char *name;
    ZSTD_DCtx *dctx;
    unsigned char *ibuf;
    size_t isize;
    ZSTD_inBuffer zin;
    size_t last_hint;       /* last return of ZSTD_decompressStream: 0 = frame complete */
    int eof, started, any_input;
    unsigned char *rec;     /* current record */
    size_t rec_cap;
    uint64_t hash, count, hash_before, count_before;
};

qp_sreader *qp_sreader_new(FILE *in, const char *name)
{
    qp_sreader *r = qp_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->in = in;
    r->name = name;
    r->dctx = ZSTD_createDCtx();
    r->isize = ZSTD_DStreamInSize();
    r->ibuf = qp_malloc(r->isize);
    if (!r->dctx || !r->ibuf) {
        qp_errorf(QP_ESYS, "out of memory");
        qp_sreader_free(r);
        return NULL;
    }
    /* a window cap bounds the decoder's memory on hostile frames */
    ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, 27);
    r->zin.src = r->ibuf;
    r->hash = QP_FNV1A64_INIT;
    r->last_hint = 1;
    return r;
}

void qp_sreader_free(qp_sreader *r)
{
    if (!r)
        return;
    ZSTD_freeDCtx(r->dctx);
    free(r->ibuf);
    free(r->rec);
    free(r);
}

static int refill(qp_sreader *r)
{
    if (r->zin.pos < r->zin.size || r->eof)
        return 0;
    size_t n = fread(r->ibuf, 1, r->isize, r->in);
    if (n == 0) {
        if (ferror(r->in))
            return qp_errorf(QP_ESYS, "cannot read '%s': %s", r->name, strerror(errno));
        r->eof = 1;
    }
    r->any_input |= n > 0;
    r->zin.size = n;
    r->zin.pos = 0;
    return 0;
}

/* Decode exactly len bytes into dst.  Returns 0, QP_STREAM_END if the input ended cleanly
 * before any byte, or an error (truncated, corrupt). */
static int read_exact(qp_sreader *r, unsigned char *dst, size_t len, int at_record_start)
{
    size_t got = 0;
    while (got < len) {
        int rc = refill(r);
        if (rc)
            return rc;
        if (r->eof && r->zin.pos == r->zin.size) {
            if (!r->any_input)
                return qp_errorf(QP_EINPUT, "'%s': empty IR stream (did the upstream filter fail?)", r->name);
            if (got == 0 && at_record_start && r->last_hint == 0)
                return QP_STREAM_END;
            return qp_errorf(QP_EINPUT, "'%s': truncated IR stream (did the upstream filter fail?)", r->name);
        }
        ZSTD_outBuffer out = { dst + got, len - got, 0 };
        size_t hint = ZSTD_decompressStream(r->dctx, &out, &r->zin);
        if (ZSTD_isError(hint))
            return qp_errorf(QP_EINPUT, "'%s': corrupt IR stream (zstd: %s)", r->name, ZSTD_getErrorName(hint));
        r->started = 1;
        r->last_hint = hint;
        got += out.pos;
    }
    return 0;
}

int qp_sreader_record(qp_sreader *r, const uint8_t **data, size_t *len)
{
    unsigned char lp[4];
    int rc = read_exact(r, lp, 4, 1);
    if (rc)
        return rc;
    size_t n = (size_t)lp[0] | (size_t)lp[1] << 8 | (size_t)lp[2] << 16 | (size_t)lp[3] << 24;
    if (n > QP_STREAM_MAX_RECORD)
        return qp_errorf(QP_EINPUT, "'%s': record %llu claims %zu bytes (over the limit)", r->name,
                         (unsigned long long)r->count, n);
    if (n + 1 > r->rec_cap) {
        /* grow in steps so a lying length costs memory only as data actually arrives */
        size_t cap = r->rec_cap ? r->rec_cap : 4096;
        while (cap < n + 1)
            cap *= 2;
        unsigned char *p = qp_realloc(r->rec, cap);
        if (!p)
            return QP_ESYS;
        r->rec = p;
        r->rec_cap = cap;
    }
    rc = read_exact(r, r->rec, n, 0);
    if (rc == QP_STREAM_END)
        rc = qp_errorf(QP_EINPUT, "'%s': truncated IR stream", r->name);
    if (rc)
        return rc;
    r->hash_before = r->hash;
    r->count_before = r->count;
    r->hash = qp_fnv1a64(qp_fnv1a64(r->hash, lp, 4), r->rec, n);
    r->count++;
    *data = r->rec;
    *len = n;
    return 0;
}

uint64_t qp_sreader_hash_before(const qp_sreader *r) { return r->hash_before; }
uint64_t qp_sreader_count_before(const qp_sreader *r) { return r->count_before; }

int qp_sreader_expect_eof(qp_sreader *r)
{
    unsigned char b;
    /* finish the frame (its checksum is verified when the last block is consumed) */
    while (r->last_hint != 0) {
        int rc = refill(r);
        if (rc)
            return rc;
        if (r->eof && r->zin.pos == r->zin.size)
            return qp_errorf(QP_EINPUT, "'%s': truncated IR stream after the end record", r->name);
        ZSTD_outBuffer out = { &b, 1, 0 };
        size_t hint = ZSTD_decompressStream(r->dctx, &out, &r->zin);
        if (ZSTD_isError(hint))
            return qp_errorf(QP_EINPUT, "'%s': corrupt IR stream (zstd: %s)", r->name, ZSTD_getErrorName(hint));
        if (out.pos)
            return qp_errorf(QP_EINPUT, "'%s': data after the end record", r->name);
        r->last_hint = hint;
    }
    int rc = refill(r);
    if (rc)
        return rc;
    if (r->zin.pos < r->zin.size)
        return qp_errorf(QP_EINPUT, "'%s': bytes after the end of the IR stream", r->name);
    return 0;
}
