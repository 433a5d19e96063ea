/* Tensor file I/O: .npy, Acuity .tensor text and raw binary, read into and written
 * from qp_tensor.  Every reader parses from memory (so each parser can be fuzzed) and
 * validates sizes before allocating; writers go through a temporary file.  Tensors in memory
 * are tensor_data.c. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qp/diag.h"
#include "qp/tensorio.h"
#include "tensorio_dtype.h"

/* ---- files ---- */

static int errno_status(int e)
{
    return (e == ENOENT || e == ENOTDIR || e == EISDIR || e == EACCES || e == ELOOP ||
            e == ENAMETOOLONG || e == EPERM || e == EFBIG)
               ? QP_EINPUT
               : QP_ESYS;
}

int qp_tensorio_read_file(const char *path, size_t max, unsigned char **buf, size_t *n)
{
    *buf = NULL;
    *n = 0;
    if (!max)
        max = (size_t)4 << 30;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return qp_errorf(errno_status(e), "cannot read '%s': %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return qp_errorf(QP_ESYS, "cannot read '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return qp_errorf(QP_EINPUT, "cannot read '%s': is a directory", path);
    }
    /* room for the NUL and for the read() that sees EOF, so a regular file is read
     * into one allocation */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 2 : 65536, len = 0;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
        close(fd);
        return qp_errorf(QP_EINPUT, "cannot read '%s': file is larger than %zu bytes", path, max);
    }
    unsigned char *b = malloc(cap);
    if (!b) {
        close(fd);
        return qp_errorf(QP_ESYS, "cannot read '%s': out of memory (%zu bytes)", path, cap);
    }
    for (;;) {
        if (len + 1 >= cap) { /* grow (non-regular files, or a file that grew) */
            if (cap > max) {
                free(b);
                close(fd);
                return qp_errorf(QP_EINPUT, "cannot read '%s': file is larger than %zu bytes", path, max);
            }
            size_t nc = cap * 2;
            unsigned char *nb = realloc(b, nc);
            if (!nb) {
                free(b);
                close(fd);
                return qp_errorf(QP_ESYS, "cannot read '%s': out of memory (%zu bytes)", path, nc);
            }
            b = nb;
            cap = nc;
        }
        ssize_t r = read(fd, b + len, cap - 1 - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(b);
            close(fd);
            return qp_errorf(errno_status(e), "cannot read '%s': %s", path, strerror(e));
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (len > max) {
        free(b);
        return qp_errorf(QP_EINPUT, "cannot read '%s': file is larger than %zu bytes", path, max);
    }
    b[len] = 0;
    *buf = b;
    *n = len;
    return QP_OK;
}

static int read_error(int code, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int read_error(int code, const char *name, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qp_errorf(code, "cannot read '%s': %s", name, msg);
}

/* ---- .npy ---- */

struct npy_hdr {
    const char *p, *end;
};

static void npy_ws(struct npy_hdr *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

/* A Python string literal (no escapes needed for the keys and descrs we accept). */
static int npy_string(struct npy_hdr *h, char *out, size_t n)
{
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return -1;
    char q = *h->p++;
    size_t o = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || o + 1 >= n)
            return -1;
        out[o++] = *h->p++;
    }
    if (h->p >= h->end)
        return -1;
    h->p++;
    out[o] = 0;
    return 0;
}

static int npy_word(struct npy_hdr *h, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) >= n && !memcmp(h->p, w, n)) {
        h->p += n;
        return 1;
    }
    return 0;
}

static int npy_descr(const char *name, const char *descr, int *dtype, int *swap)
{
    size_t len = strlen(descr);
    if (!strcmp(descr, "|O") || !strcmp(descr, "O") || (len >= 2 && descr[1] == 'O'))
        return read_error(QP_EINPUT, name, "descr '%s' (pickle) is not allowed", descr);
    if (len == 3) {
        char order = descr[0];
        for (size_t i = 0; qp_dtype_info_at(i); i++) {
            const struct qp_dtype_info *d = qp_dtype_info_at(i);
            if (!d->npy || strcmp(descr + 1, d->npy))
                continue;
            if (d->size == 1 ? (order == '|' || order == '<' || order == '>' || order == '=')
                             : (order == '<' || order == '>')) {
                *dtype = d->code;
                *swap = d->size > 1 && order == '>';
                return QP_OK;
            }
        }
    }
    return read_error(QP_EINPUT, name,
                      "descr '%s' is not supported (allowed: <f4 <f8 <f2 |u1 |i1 <i2 <u2 <i4 <u4 "
                      "<i8 <u8 |b1, or '>' for big endian)",
                      descr);
}

int qp_tensorio_parse_npy(const void *buf, size_t n, const char *name, qp_tensor *out)
{
    const unsigned char *b = buf;
    char sh[160];
    memset(out, 0, sizeof *out);
    if (n < 8 || memcmp(b, "\x93NUMPY", 6))
        return read_error(QP_EINPUT, name, "not a .npy file (bad magic)");
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return read_error(QP_EINPUT, name, "unsupported .npy version %d.%d (allowed: 1.0, 2.0, 3.0)",
                          major, minor);
    size_t hstart = major == 1 ? 10 : 12, hlen;
    if (n < hstart)
        return read_error(QP_EINPUT, name, "header past end of file (file is %zu bytes)", n);
    hlen = major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                      : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    if (hlen > n - hstart)
        return read_error(QP_EINPUT, name, "header of %zu bytes runs past end of file (file is %zu bytes)",
                          hlen, n);
    if (hlen == 0 || b[hstart + hlen - 1] != '\n')
        return read_error(QP_EINPUT, name, "header does not end with a newline");
    if (memchr(b + hstart, 0, hlen))
        return read_error(QP_EINPUT, name, "NUL byte in header");

    struct npy_hdr h = {(const char *)b + hstart, (const char *)b + hstart + hlen};
    char key[32], descr[32] = "";
    int have_descr = 0, have_fo = 0, have_shape = 0, fortran = 0, rank = 0;
    int64_t dims[QP_TENSOR_MAX_RANK] = {0};
    npy_ws(&h);
    if (h.p >= h.end || *h.p++ != '{')
        return read_error(QP_EINPUT, name, "header is not a dictionary");
    for (;;) {
        npy_ws(&h);
        if (h.p < h.end && *h.p == '}') {
            h.p++;
            break;
        }
        if (npy_string(&h, key, sizeof key))
            return read_error(QP_EINPUT, name, "malformed header: expected a quoted key");
        npy_ws(&h);
        if (h.p >= h.end || *h.p++ != ':')
            return read_error(QP_EINPUT, name, "malformed header: expected ':' after '%s'", key);
        npy_ws(&h);
        if (!strcmp(key, "descr")) {
            if (have_descr++)
                return read_error(QP_EINPUT, name, "duplicate header key 'descr'");
            if (h.p < h.end && *h.p == '[')
                return read_error(QP_EINPUT, name, "structured dtypes are not supported");
            if (npy_string(&h, descr, sizeof descr))
                return read_error(QP_EINPUT, name, "malformed header: bad 'descr' value");
        } else if (!strcmp(key, "fortran_order")) {
            if (have_fo++)
                return read_error(QP_EINPUT, name, "duplicate header key 'fortran_order'");
            if (npy_word(&h, "True"))
                fortran = 1;
            else if (!npy_word(&h, "False"))
                return read_error(QP_EINPUT, name, "malformed header: 'fortran_order' must be True or False");
        } else if (!strcmp(key, "shape")) {
            if (have_shape++)
                return read_error(QP_EINPUT, name, "duplicate header key 'shape'");
            if (h.p >= h.end || *h.p++ != '(')
                return read_error(QP_EINPUT, name, "malformed header: 'shape' must be a tuple");
            for (;;) {
                npy_ws(&h);
                if (h.p < h.end && *h.p == ')') {
                    h.p++;
                    break;
                }
                if (h.p < h.end && *h.p == '-')
                    return read_error(QP_EINPUT, name, "negative dimension in shape");
                if (h.p >= h.end || *h.p < '0' || *h.p > '9')
                    return read_error(QP_EINPUT, name, "malformed header: bad 'shape' tuple");
                int64_t v = 0;
                while (h.p < h.end && *h.p >= '0' && *h.p <= '9') {
                    int dgt = *h.p++ - '0';
                    if (v > (INT64_MAX - dgt) / 10)
                        return read_error(QP_EINPUT, name, "dimension in shape overflows");
                    v = v * 10 + dgt;
                }
                if (h.p < h.end && *h.p == 'L') /* Python 2 long */
                    h.p++;
                if (rank == QP_TENSOR_MAX_RANK)
                    return read_error(QP_EINPUT, name, "rank above %d", QP_TENSOR_MAX_RANK);
                dims[rank++] = v;
                npy_ws(&h);
                if (h.p < h.end && *h.p == ',') {
                    h.p++;
                    continue;
                }
                if (h.p < h.end && *h.p == ')') {
                    h.p++;
                    break;
                }
                return read_error(QP_EINPUT, name, "malformed header: bad 'shape' tuple");
            }
        } else {
            char q[64];
            return read_error(QP_EINPUT, name, "unknown header key '%s'",
                              qp_tensorio_quote(q, sizeof q, key, strlen(key)));
        }
        npy_ws(&h);
        if (h.p < h.end && *h.p == ',') {
            h.p++;
            continue;
        }
        if (h.p < h.end && *h.p == '}') {
            h.p++;
            break;
        }
        return read_error(QP_EINPUT, name, "malformed header: expected ',' or '}'");
    }
    npy_ws(&h);
    if (h.p != h.end)
        return read_error(QP_EINPUT, name, "malformed header: text after the dictionary");
    if (!have_descr || !have_fo || !have_shape)
        return read_error(QP_EINPUT, name, "header lacks '%s'",
                          !have_descr ? "descr" : !have_fo ? "fortran_order" : "shape");
    int dtype = QP_DT_UNDEFINED, swap = 0;
    int rc = npy_descr(name, descr, &dtype, &swap);
    if (rc)
        return rc;
    if (fortran)
        return read_error(QP_EINPUT, name, "fortran_order True is not supported (save a C-order array)");
    int64_t numel = qp_shape_numel(rank, dims);
    size_t es = qp_dtype_size(dtype), need;
    if (numel < 0 || qp_mul_size((size_t)numel, es, &need))
        return read_error(QP_EINPUT, name, "shape %s overflows", qp_shape_format(sh, sizeof sh, rank, dims));
    size_t have = n - hstart - hlen;
    if (have < need)
        return read_error(QP_EINPUT, name, "truncated data: %zu bytes, shape %s of %s needs %zu",
                          have, qp_shape_format(sh, sizeof sh, rank, dims), qp_dtype_name(dtype), need);
    if (have > need)
        return read_error(QP_EINPUT, name, "%zu trailing bytes after the data", have - need);
    rc = qp_tensor_alloc(out, dtype, rank, dims);
    if (rc)
        return qp_error_prefix(rc, "cannot read '%s'", name);
    memcpy(out->data, b + hstart + hlen, need);
    unsigned char *d = out->data;
    if (swap)
        for (size_t i = 0; i < need; i += es)
            for (size_t j = 0; j < es / 2; j++) {
                unsigned char t = d[i + j];
                d[i + j] = d[i + es - 1 - j];
                d[i + es - 1 - j] = t;
            }
    if (dtype == QP_DT_BOOL)
        for (size_t i = 0; i < need; i++)
            if (d[i] > 1) {
                qp_tensor_free(out);
                return read_error(QP_EINPUT, name, "bool element %zu is %d (allowed: 0, 1)", i, b[hstart + hlen + i]);
            }
    return QP_OK;
}

int qp_tensorio_read_npy(const char *path, qp_tensor *out)
{
    unsigned char *buf;
    size_t n;
    memset(out, 0, sizeof *out);
    int rc = qp_tensorio_read_file(path, 0, &buf, &n);
    if (rc)
        return rc;
    rc = qp_tensorio_parse_npy(buf, n, path, out);
    free(buf);
    return rc;
}

/* ---- .tensor ---- */

int qp_tensorio_name_dims(const char *path, int *rank, int64_t *dims)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    const char *end = dot ? dot : base + strlen(base);
    const char *port = NULL;
    for (const char *p = base; p + 4 <= end; p++) /* the last "_out<digits>" followed by '_' or the end */
        if (!memcmp(p, "_out", 4) && p + 4 < end && p[4] >= '0' && p[4] <= '9') {
            const char *q = p + 4;
            while (q < end && *q >= '0' && *q <= '9')
                q++;
            if (q == end || *q == '_')
                port = q;
        }
    if (!port)
        return -1;
    int r = 0;
    int64_t d[QP_TENSOR_MAX_RANK] = {0};
    const char *p = port;
    while (p < end) {
        p++; /* '_' */
        if (p >= end || *p < '1' || *p > '9' || r == QP_TENSOR_MAX_RANK)
            return -1;
        int64_t v = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return -1;
            v = v * 10 + (*p++ - '0');
        }
        if (p < end && *p != '_')
            return -1;
        d[r++] = v;
    }
    if (qp_shape_numel(r, d) < 0)
        return -1;
    *rank = r;
    for (int i = 0; i < r; i++)
        dims[i] = d[i];
    return 0;
}

int qp_tensorio_acuity_name(char *buf, size_t n, int iter, const char *layer_key,
                            const int64_t *dims, int rank)
{
    if (!layer_key || !*layer_key)
        return qp_errorf(QP_EUSAGE, "empty layer key for a dump name");
    if (rank < 0 || rank > QP_TENSOR_MAX_RANK)
        return qp_errorf(QP_EUSAGE, "rank %d is outside 0..%d", rank, QP_TENSOR_MAX_RANK);
    size_t o = 0;
    int w = snprintf(buf, n, "iter_%d_", iter);
    if (w < 0 || (size_t)w >= n)
        goto toolong;
    o = (size_t)w;
    for (const char *k = layer_key; *k; k++) {
        if (o + 1 >= n)
            goto toolong;
        buf[o++] = *k == '/' ? '_' : *k;
    }
    buf[o] = 0;
    w = snprintf(buf + o, n - o, "_out0");
    if (w < 0 || (size_t)w >= n - o)
        goto toolong;
    o += (size_t)w;
    for (int i = 0; i < rank; i++) {
        w = snprintf(buf + o, n - o, "_%lld", (long long)dims[i]);
        if (w < 0 || (size_t)w >= n - o)
            goto toolong;
        o += (size_t)w;
    }
    w = snprintf(buf + o, n - o, ".tensor");
    if (w < 0 || (size_t)w >= n - o)
        goto toolong;
    return QP_OK;
toolong:
    if (n)
        buf[0] = 0;
    return qp_errorf(QP_EUSAGE, "dump name for layer '%s' is longer than %zu bytes", layer_key, n);
}

static int is_blank(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

int qp_tensorio_parse_tensor(const void *buf, size_t n, const char *name, int rank,
                             const int64_t *dims, qp_tensor *out)
{
    const char *b = buf, *end = b + n;
    char sh[160], q[64];
    memset(out, 0, sizeof *out);
    const char *nul = memchr(b, 0, n);
    if (nul) {
        size_t line = 1;
        for (const char *p = b; p < nul; p++)
            line += *p == '\n';
        return read_error(QP_EINPUT, name, "NUL byte at line %zu", line);
    }
    if (n >= 3 && !memcmp(b, "\xef\xbb\xbf", 3))
        b += 3;
    size_t lines = 1;
    for (const char *p = b; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        lines++;
    float *vals = malloc(lines * sizeof *vals);
    if (!vals)
        return read_error(QP_ESYS, name, "out of memory (%zu values)", lines);
    size_t count = 0, line = 0;
    char tok[64];
    for (const char *p = b; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *s = p, *e = le;
        line++;
        while (s < e && is_blank((unsigned char)*s))
            s++;
        while (e > s && is_blank((unsigned char)e[-1]))
            e--;
        if (s == e) { /* blank: allowed only at the end of the file */
            const char *r = le;
            while (r < end && (is_blank((unsigned char)*r) || *r == '\n'))
                r++;
            if (r == end)
                break;
            free(vals);
            return read_error(QP_EINPUT, name, "empty line %zu", line);
        }
        size_t tl = (size_t)(e - s);
        if (tl >= sizeof tok || memchr(s, 'x', tl) || memchr(s, 'X', tl) || memchr(s, ' ', tl) ||
            memchr(s, '\t', tl)) {
            free(vals);
            return read_error(QP_EINPUT, name, "line %zu: '%s' is not a number", line,
                              qp_tensorio_quote(q, sizeof q, s, tl));
        }
        memcpy(tok, s, tl);
        tok[tl] = 0;
        char *te;
        errno = 0;
        double v = strtod(tok, &te);
        if (te == tok || *te) {
            free(vals);
            return read_error(QP_EINPUT, name, "line %zu: '%s' is not a number", line,
                              qp_tensorio_quote(q, sizeof q, s, tl));
        }
        if (!isfinite(v)) {
            free(vals);
            return read_error(QP_EINPUT, name, "line %zu: non-finite value '%s'", line,
                              qp_tensorio_quote(q, sizeof q, s, tl));
        }
        if (fabs(v) > FLT_MAX) {
            free(vals);
            return read_error(QP_EINPUT, name, "line %zu: '%s' is beyond the float32 range", line,
                              qp_tensorio_quote(q, sizeof q, s, tl));
        }
        vals[count++] = (float)v;
        p = nl ? nl + 1 : end;
    }
    if (count == 0) {
        free(vals);
        return read_error(QP_EINPUT, name, "no values (empty file)");
    }
    int64_t d[QP_TENSOR_MAX_RANK] = {0};
    int r;
    if (rank >= 0) {
        if (rank > QP_TENSOR_MAX_RANK) {
            free(vals);
            return read_error(QP_EUSAGE, name, "rank %d above %d", rank, QP_TENSOR_MAX_RANK);
        }
        r = rank;
        if (rank)
            memcpy(d, dims, (size_t)rank * sizeof *d);
    } else if (qp_tensorio_name_dims(name, &r, d)) {
        if (rank == QP_SHAPE_FROM_NAME) {
            free(vals);
            return read_error(QP_EINPUT, name, "no shape: the name has no '_out<N>_<d0>_<d1>...' suffix");
        }
        r = 1;
        d[0] = (int64_t)count;
    }
    int64_t numel = qp_shape_numel(r, d);
    if (numel != (int64_t)count) {
        free(vals);
        return read_error(QP_EINPUT, name, "%zu values, but shape %s needs %lld", count,
                          qp_shape_format(sh, sizeof sh, r, d), (long long)numel);
    }
    out->dtype = QP_DT_F32;
    out->rank = r;
    memcpy(out->dims, d, (size_t)r * sizeof *d);
    out->data = vals;
    out->nbytes = count * sizeof *vals;
    return QP_OK;
}

int qp_tensorio_read_tensor(const char *path, int rank, const int64_t *dims, qp_tensor *out)
{
    unsigned char *buf;
    size_t n;
    memset(out, 0, sizeof *out);
    int rc = qp_tensorio_read_file(path, 0, &buf, &n);
    if (rc)
        return rc;
    rc = qp_tensorio_parse_tensor(buf, n, path, rank, dims, out);
    free(buf);
    return rc;
}

/* ---- raw ---- */

int qp_tensorio_read_raw(const char *path, int dtype, int rank, const int64_t *dims, qp_tensor *out)
{
    char sh[160];
    memset(out, 0, sizeof *out);
    size_t es = qp_dtype_size(dtype), need;
    if (!es)
        return read_error(QP_EUSAGE, path, "unknown dtype %d for raw data", dtype);
    int64_t numel = qp_shape_numel(rank, dims);
    if (numel < 0 || qp_mul_size((size_t)numel, es, &need))
        return read_error(QP_EUSAGE, path, "shape %s overflows", qp_shape_format(sh, sizeof sh, rank, dims));
    unsigned char *buf;
    size_t n;
    int rc = qp_tensorio_read_file(path, 0, &buf, &n);
    if (rc)
        return rc;
    if (n != need) {
        free(buf);
        return read_error(QP_EINPUT, path, "raw file is %zu bytes, shape %s of %s needs %zu", n,
                          qp_shape_format(sh, sizeof sh, rank, dims), qp_dtype_name(dtype), need);
    }
    out->dtype = dtype;
    out->rank = rank;
    if (rank)
        memcpy(out->dims, dims, (size_t)rank * sizeof *dims);
    out->data = buf; /* the trailing NUL is harmless */
    out->nbytes = n;
    return QP_OK;
}

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && !strcasecmp(path + n - e, ext);
}

int qp_tensorio_read(const char *path, int dtype, int rank, const int64_t *dims, qp_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (has_ext(path, ".npy"))
        return qp_tensorio_read_npy(path, out);
    if (has_ext(path, ".tensor"))
        return qp_tensorio_read_tensor(path, rank >= 0 ? rank : QP_SHAPE_ANY, dims, out);
    if (rank < 0)
        return read_error(QP_EUSAGE, path, "raw data needs a shape (not .npy or .tensor)");
    return qp_tensorio_read_raw(path, dtype ? dtype : QP_DT_F32, rank, dims, out);
}

/* ---- writing ---- */

struct tmpfile_state {
    char *tmp;
};

/* The umask without changing it (umask(2) would, for a moment, for every thread). */
static mode_t current_umask(void)
{
    static int cached = -1;
    if (cached < 0) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[128];
        unsigned v;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "Umask: %o", &v) == 1) {
                cached = (int)(v & 0777);
                break;
            }
        if (f)
            fclose(f);
        if (cached < 0) {
            mode_t m = umask(022);
            umask(m);
            cached = (int)m;
        }
    }
    return (mode_t)cached;
}

static void unlink_tmp(void *arg)
{
    struct tmpfile_state *s = arg;
    if (s->tmp)
        unlink(s->tmp);
}

/* fn returns QP_OK, or a status with the reason recorded (without the file name). */
static int finish_write(FILE *f, int rc)
{
    if (!rc && (fflush(f) || ferror(f)))
        rc = qp_errorf(QP_ESYS, "%s", strerror(errno ? errno : EIO));
    if (fclose(f) && !rc)
        rc = qp_errorf(QP_ESYS, "%s", strerror(errno));
    return rc;
}

int qp_tensorio_write_file(const char *path, int (*fn)(FILE *f, void *arg), void *arg)
{
    struct stat st;
    int rc;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode))
            return qp_errorf(QP_EINPUT, "cannot write '%s': is a directory", path);
        FILE *f = fopen(path, "wb");
        if (!f) {
            int e = errno;
            return qp_errorf(errno_status(e), "cannot write '%s': %s", path, strerror(e));
        }
        errno = 0;
        rc = finish_write(f, fn(f, arg));
        return rc ? qp_error_prefix(rc, "cannot write '%s'", path) : QP_OK;
    }
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t tl = dlen + strlen(base) + 16;
    struct tmpfile_state s = {malloc(tl)};
    if (!s.tmp)
        return qp_errorf(QP_ESYS, "cannot write '%s': out of memory", path);
    snprintf(s.tmp, tl, "%.*s.%s.XXXXXX", (int)dlen, path, base);
    int fd = mkstemp(s.tmp);
    if (fd < 0) {
        int e = errno;
        free(s.tmp);
        return qp_errorf(errno_status(e), "cannot write '%s': %s", path, strerror(e));
    }
    if (fchmod(fd, 0666 & ~current_umask())) { /* mkstemp makes 0600; give the usual mode */
        rc = qp_errorf(QP_ESYS, "%s", strerror(errno));
        close(fd);
        goto fail;
    }
    qp_diag_atexit(unlink_tmp, &s);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        rc = qp_errorf(QP_ESYS, "%s", strerror(errno));
        close(fd);
        goto fail;
    }
    errno = 0;
    rc = finish_write(f, fn(f, arg));
    if (rc)
        goto fail;
    if (rename(s.tmp, path)) {
        int e = errno;
        rc = qp_errorf(errno_status(e), "rename: %s", strerror(e));
        goto fail;
    }
    qp_diag_cancel(unlink_tmp, &s);
    free(s.tmp);
    return QP_OK;
fail:
    unlink(s.tmp);
    qp_diag_cancel(unlink_tmp, &s);
    free(s.tmp);
    return qp_error_prefix(rc, "cannot write '%s'", path);
}

static int check_tensor(const qp_tensor *t)
{
    int64_t numel = qp_tensor_numel(t);
    size_t es = qp_dtype_size(t->dtype), need;
    if (!es)
        return qp_errorf(QP_EUSAGE, "unknown dtype %d", t->dtype);
    if (numel < 0 || qp_mul_size((size_t)numel, es, &need) || need != t->nbytes || (need && !t->data))
        return qp_errorf(QP_EUSAGE, "tensor byte size %zu does not match its shape", t->nbytes);
    return QP_OK;
}

static int put_npy(FILE *f, void *arg)
{
    const qp_tensor *t = arg;
    const struct qp_dtype_info *d = qp_dtype_info_find(t->dtype);
    char hdr[512], sh[256] = "";
    size_t o = 0;
    for (int i = 0; i < t->rank; i++)
        o += (size_t)snprintf(sh + o, sizeof sh - o, "%lld, ", (long long)t->dims[i]);
    if (t->rank > 1)
        sh[o - 2] = 0; /* "2, 3" */
    else if (t->rank == 1)
        sh[o - 1] = 0; /* "5," */
    int hl = snprintf(hdr + 10, sizeof hdr - 10, "{'descr': '%c%s', 'fortran_order': False, 'shape': (%s), }",
                      d->size == 1 ? '|' : '<', d->npy, sh);
    size_t total = 10 + (size_t)hl + 1, pad = (64 - total % 64) % 64;
    memset(hdr + 10 + hl, ' ', pad);
    hdr[10 + hl + pad] = '\n';
    size_t hlen = (size_t)hl + pad + 1;
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)(hlen & 0xff);
    hdr[9] = (char)(hlen >> 8);
    if (fwrite(hdr, 1, 10 + hlen, f) != 10 + hlen ||
        (t->nbytes && fwrite(t->data, 1, t->nbytes, f) != t->nbytes))
        return qp_errorf(QP_ESYS, "%s", strerror(errno ? errno : EIO));
    return QP_OK;
}

int qp_tensorio_write_npy(const char *path, const qp_tensor *t)
{
    int rc = check_tensor(t);
    if (rc)
        return qp_error_prefix(rc, "cannot write '%s'", path);
    if (!qp_dtype_info_find(t->dtype)->npy)
        return qp_errorf(QP_EUSAGE, "cannot write '%s': %s has no .npy type", path, qp_dtype_name(t->dtype));
    return qp_tensorio_write_file(path, put_npy, (void *)t);
}

static int put_tensor(FILE *f, void *arg)
{
    const qp_tensor *t = arg;
    int64_t n = qp_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        float v = (float)qp_dtype_elem_f64(t->data, t->dtype, (size_t)i);
        if (fprintf(f, "%.9g\n", v) < 0)
            return qp_errorf(QP_ESYS, "%s", strerror(errno ? errno : EIO));
    }
    return QP_OK;
}

int qp_tensorio_write_tensor(const char *path, const qp_tensor *t)
{
    int rc = check_tensor(t);
    if (rc)
        return qp_error_prefix(rc, "cannot write '%s'", path);
    int64_t n = qp_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) { /* validate before the first write */
        double v = qp_dtype_elem_f64(t->data, t->dtype, (size_t)i);
        if (!isfinite(v) || fabs(v) > FLT_MAX)
            return qp_errorf(QP_EINPUT, "cannot write '%s': element %lld is %g (not a finite float32)",
                             path, (long long)i, v);
    }
    return qp_tensorio_write_file(path, put_tensor, (void *)t);
}

static int put_raw(FILE *f, void *arg)
{
    const qp_tensor *t = arg;
    if (t->nbytes && fwrite(t->data, 1, t->nbytes, f) != t->nbytes)
        return qp_errorf(QP_ESYS, "%s", strerror(errno ? errno : EIO));
    return QP_OK;
}

int qp_tensorio_write_raw(const char *path, const qp_tensor *t)
{
    int rc = check_tensor(t);
    if (rc)
        return qp_error_prefix(rc, "cannot write '%s'", path);
    return qp_tensorio_write_file(path, put_raw, (void *)t);
}
