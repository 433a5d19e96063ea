/* ONNX TensorProto decoding.  A TensorProto is untrusted: its type, dims, value fields and
 * external-data references are all checked before a byte is copied, and every size product
 * is checked for overflow before it is formed. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qp/diag.h"
#include "qp/onnx_tensor.h"
#include "onnx.pb-c.h"

int qp_onnx_dtype_supported(int dt)
{
    switch (dt) {
    case QP_DT_F32: case QP_DT_F64: case QP_DT_F16: case QP_DT_I8: case QP_DT_U8:
    case QP_DT_I16: case QP_DT_I32: case QP_DT_I64: case QP_DT_BOOL:
        return 1;
    default:
        return 0;
    }
}

const char *qp_onnx_dtype_name(int dt)
{
    static const char *const names[] = {
        "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL",
        "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
        "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4",
    };
    return dt >= 0 && dt < (int)(sizeof names / sizeof names[0]) ? names[dt] : "UNDEFINED";
}

/* ---- the budgeted allocator ---- */

static void *alloc_cb(void *data, size_t size)
{
    qp_onnx_alloc *al = data;
    if (size > al->budget - al->used) {
        al->exhausted = 1;
        return NULL;
    }
    void *p = qp_arena_alloc(al->arena, size);
    if (p)
        al->used += size;
    return p;
}

static void free_cb(void *data, void *p)
{
    (void)data;
    (void)p;
}

void qp_onnx_alloc_init(qp_onnx_alloc *al, qp_arena *arena, size_t budget)
{
    memset(al, 0, sizeof *al);
    al->pc.alloc = alloc_cb;
    al->pc.free = free_cb;
    al->pc.allocator_data = al;
    al->arena = arena;
    al->budget = budget;
}

/* ---- external data ---- */

/* Strict decimal: digits only, no sign, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* Opens base_dir/loc refusing absolute paths, '..' components and symbolic links on the way. */
static int open_external(const char *tname, const char *base_dir, const char *loc, int *fd_out)
{
    if (!base_dir)
        return qp_errorf(QP_EINPUT, "tensor '%s': external data is not allowed here", tname);
    if (!loc[0])
        return qp_errorf(QP_EINPUT, "tensor '%s': external data without a location", tname);
    if (loc[0] == '/')
        return qp_errorf(QP_EINPUT, "tensor '%s': external data location '%s' is absolute (only paths "
                         "relative to the model's directory are allowed)", tname, loc);
    for (const char *p = loc; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return qp_errorf(QP_EINPUT, "tensor '%s': external data location '%s' leaves the model's "
                             "directory ('..')", tname, loc);
        p += n;
        while (*p == '/')
            p++;
    }
    size_t nb = strlen(base_dir), nl = strlen(loc);
    char *path = qp_malloc(nb + nl + 2);
    if (!path)
        return QP_ESYS;
    memcpy(path, base_dir, nb);
    path[nb] = '/';
    memcpy(path + nb + 1, loc, nl + 1);
    /* every directory on the way must be a real directory, not a link out of the tree */
    int rc = 0;
    for (char *p = path + nb + 1; !rc && (p = strchr(p, '/')); p++) {
        *p = 0;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            rc = qp_errorf(QP_EINPUT, "tensor '%s': external data location '%s' goes through a symbolic link",
                           tname, loc);
        *p = '/';
    }
    if (!rc) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == ELOOP)
                rc = qp_errorf(QP_EINPUT, "tensor '%s': external data file '%s' is a symbolic link", tname, loc);
            else
                rc = qp_errorf(e == ENOENT || e == EACCES || e == ENOTDIR ? QP_EINPUT : QP_ESYS,
                               "tensor '%s': cannot open external data file '%s': %s", tname, loc, strerror(e));
        } else
            *fd_out = fd;
    }
    free(path);
    return rc;
}

static int read_external(const Onnx__TensorProto *t, const char *tname, const char *base_dir, void *dst,
                         size_t bytes)
{
    const char *loc = NULL, *off_s = NULL, *len_s = NULL;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = t->external_data[i];
        const char *k = e->key ? e->key : "";
        const char **slot = !strcmp(k, "location") ? &loc : !strcmp(k, "offset") ? &off_s
                          : !strcmp(k, "length") ? &len_s : NULL;
        if (!slot)
            continue;           /* "checksum" and future keys */
        if (*slot)
            return qp_errorf(QP_EINPUT, "tensor '%s': external data key '%s' given twice", tname, k);
        *slot = e->value ? e->value : "";
    }
    uint64_t off = 0, len = 0;
    if (off_s && parse_u64(off_s, &off))
        return qp_errorf(QP_EINPUT, "tensor '%s': external data offset '%s' is not a number", tname, off_s);
    if (len_s && parse_u64(len_s, &len))
        return qp_errorf(QP_EINPUT, "tensor '%s': external data length '%s' is not a number", tname, len_s);
    int fd = -1;
    int rc = open_external(tname, base_dir, loc ? loc : "", &fd);
    if (rc)
        return rc;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = qp_errorf(QP_ESYS, "tensor '%s': cannot stat external data file '%s': %s", tname, loc, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = qp_errorf(QP_EINPUT, "tensor '%s': external data file '%s' is not a regular file", tname, loc);
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (off > size) {
        rc = qp_errorf(QP_EINPUT, "tensor '%s': external data offset %llu is beyond the end of '%s' (%llu bytes)",
                       tname, (unsigned long long)off, loc, (unsigned long long)size);
        goto out;
    }
    if (!len_s)
        len = size - off;
    if (len > size - off) {
        rc = qp_errorf(QP_EINPUT, "tensor '%s': external data offset %llu + length %llu is beyond the end of "
                       "'%s' (%llu bytes)", tname, (unsigned long long)off, (unsigned long long)len, loc,
                       (unsigned long long)size);
        goto out;
    }
    if (len != bytes) {
        rc = qp_errorf(QP_EINPUT, "tensor '%s': external data has %llu bytes, its shape needs %zu", tname,
                       (unsigned long long)len, bytes);
        goto out;
    }
    for (size_t done = 0; done < bytes;) {
        ssize_t r = pread(fd, (char *)dst + done, bytes - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = qp_errorf(QP_ESYS, "tensor '%s': cannot read external data file '%s': %s", tname, loc,
                           r < 0 ? strerror(errno) : "file shrank");
            goto out;
        }
        done += (size_t)r;
    }
out:
    close(fd);
    return rc;
}

/* ---- typed fields ---- */

static const char *field_for(int dt)
{
    switch (dt) {
    case QP_DT_F32: return "float_data";
    case QP_DT_F64: return "double_data";
    case QP_DT_I64: return "int64_data";
    default: return "int32_data";
    }
}

static const char *first_typed_field(const Onnx__TensorProto *t)
{
    return t->n_float_data ? "float_data" : t->n_int32_data ? "int32_data" : t->n_int64_data ? "int64_data"
         : t->n_double_data ? "double_data" : t->n_uint64_data ? "uint64_data"
         : t->n_string_data ? "string_data" : "?";
}

/* Copies the typed field of t into dst (numel elements), range-checking narrow types. */
static int copy_typed(const Onnx__TensorProto *t, const char *tname, int dt, size_t numel, void *dst)
{
    size_t have;
    switch (dt) {
    case QP_DT_F32: have = t->n_float_data; break;
    case QP_DT_F64: have = t->n_double_data; break;
    case QP_DT_I64: have = t->n_int64_data; break;
    default: have = t->n_int32_data; break;
    }
    if (have == 0)
        return qp_errorf(QP_EINPUT, "tensor '%s': a %s tensor keeps its values in %s, not in %s", tname,
                         qp_dtype_name(dt), field_for(dt), first_typed_field(t));
    if (have != numel)
        return qp_errorf(QP_EINPUT, "tensor '%s': %s has %zu values, its shape needs %zu", tname, field_for(dt),
                         have, numel);
    switch (dt) {
    case QP_DT_F32: memcpy(dst, t->float_data, numel * 4); return 0;
    case QP_DT_F64: memcpy(dst, t->double_data, numel * 8); return 0;
    case QP_DT_I64: memcpy(dst, t->int64_data, numel * 8); return 0;
    case QP_DT_I32: memcpy(dst, t->int32_data, numel * 4); return 0;
    default: break;
    }
    int32_t lo, hi;
    switch (dt) {
    case QP_DT_I16: lo = INT16_MIN; hi = INT16_MAX; break;
    case QP_DT_I8: lo = INT8_MIN; hi = INT8_MAX; break;
    case QP_DT_U8: lo = 0; hi = UINT8_MAX; break;
    case QP_DT_BOOL: lo = 0; hi = 1; break;
    default: lo = 0; hi = UINT16_MAX; break;     /* float16: the bit pattern */
    }
    for (size_t i = 0; i < numel; i++) {
        int32_t v = t->int32_data[i];
        if (v < lo || v > hi)
            return qp_errorf(QP_EINPUT, "tensor '%s': int32_data[%zu] = %d is out of range for %s", tname, i, v,
                             qp_dtype_name(dt));
        switch (dt) {
        case QP_DT_I16: case QP_DT_F16: {
            uint16_t u = (uint16_t)v;
            memcpy((char *)dst + 2 * i, &u, 2);
            break;
        }
        default:
            ((uint8_t *)dst)[i] = (uint8_t)v;
        }
    }
    return 0;
}

int qp_onnx_tensor_decode(const Onnx__TensorProto *t, const char *base_dir, qp_arena *arena, qp_tensor *out)
{
    memset(out, 0, sizeof *out);
    const char *tname = t->name ? t->name : "";
    if (!t->has_data_type || t->data_type == QP_DT_UNDEFINED)
        return qp_errorf(QP_EINPUT, "tensor '%s': no data type", tname);
    int dt = t->data_type;
    if (!qp_onnx_dtype_supported(dt))
        return qp_errorf(QP_EINPUT, "tensor '%s': data type %s (%d) is not supported (FLOAT, DOUBLE, FLOAT16, "
                         "INT8, UINT8, INT16, INT32, INT64, BOOL)", tname, qp_onnx_dtype_name(dt), dt);
    if (t->segment)
        return qp_errorf(QP_EINPUT, "tensor '%s': segmented tensors are not supported", tname);
    if (t->n_dims > QP_TENSOR_MAX_RANK)
        return qp_errorf(QP_EINPUT, "tensor '%s': rank %zu is above %d", tname, t->n_dims, QP_TENSOR_MAX_RANK);
    size_t esize = qp_dtype_size(dt), numel = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        int64_t d = t->dims[i];
        if (d < 0)
            return qp_errorf(QP_EINPUT, "tensor '%s': dimension %zu is negative (%lld)", tname, i, (long long)d);
        if (d > QP_ONNX_MAX_DIM)
            return qp_errorf(QP_EINPUT, "tensor '%s': dimension %zu (%lld) is above %lld", tname, i, (long long)d,
                             (long long)QP_ONNX_MAX_DIM);
    }
    for (size_t i = 0; i < t->n_dims; i++) {
        size_t d = (size_t)t->dims[i];
        if (d && numel > QP_ONNX_MAX_BYTES / esize / d)
            return qp_errorf(QP_EINPUT, "tensor '%s': its dims make more than %zu bytes (the size overflows)",
                             tname, QP_ONNX_MAX_BYTES);
        numel *= d;
    }
    size_t bytes = numel * esize;       /* <= QP_ONNX_MAX_BYTES by the loop above */
    int ext = t->n_external_data > 0 || (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL);
    if (ext && !(t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL))
        return qp_errorf(QP_EINPUT, "tensor '%s': external_data is set but data_location is not EXTERNAL", tname);
    int typed = (t->n_float_data > 0) + (t->n_int32_data > 0) + (t->n_int64_data > 0) + (t->n_double_data > 0) +
                (t->n_uint64_data > 0) + (t->n_string_data > 0);
    int fields = typed + (t->has_raw_data != 0) + ext;
    if (fields > 1)
        return qp_errorf(QP_EINPUT, "tensor '%s': more than one value field (%s%s%s) where exactly one is allowed",
                         tname, t->has_raw_data ? "raw_data" : "", t->has_raw_data && (typed || ext) ? ", " : "",
                         ext ? "external data" : typed ? first_typed_field(t) : "");
    if (fields == 0 && numel)
        return qp_errorf(QP_EINPUT, "tensor '%s': no data (no raw_data, typed field or external data)", tname);
    out->dtype = dt;
    out->rank = (int)t->n_dims;
    for (size_t i = 0; i < t->n_dims; i++)
        out->dims[i] = t->dims[i];
    out->nbytes = bytes;
    void *dst = arena ? qp_arena_alloc(arena, bytes ? bytes : 1) : qp_calloc(1, bytes ? bytes : 1);
    if (!dst) {
        memset(out, 0, sizeof *out);
        return QP_ESYS;
    }
    int rc = 0;
    if (t->has_raw_data) {
        if (t->raw_data.len != bytes)
            rc = qp_errorf(QP_EINPUT, "tensor '%s': raw_data has %zu bytes, its shape needs %zu", tname,
                           t->raw_data.len, bytes);
        else if (bytes)
            memcpy(dst, t->raw_data.data, bytes);     /* raw_data may be unaligned */
    } else if (ext)
        rc = read_external(t, tname, base_dir, dst, bytes);
    else if (typed)
        rc = t->n_string_data || t->n_uint64_data
             ? qp_errorf(QP_EINPUT, "tensor '%s': a %s tensor keeps its values in %s, not in %s", tname,
                         qp_dtype_name(dt), field_for(dt), first_typed_field(t))
             : copy_typed(t, tname, dt, numel, dst);
    if (rc) {
        if (!arena)
            free(dst);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->data = dst;
    return 0;
}

int qp_onnx_tensor_read_pb(const char *path, qp_tensor *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t n;
    int rc = qp_tensorio_read_file(path, QP_ONNX_MAX_FILE, &buf, &n);
    if (rc)
        return rc;
    qp_arena *arena = qp_arena_new(1u << 16);
    if (!arena) {
        free(buf);
        return QP_ESYS;
    }
    qp_onnx_alloc al;
    qp_onnx_alloc_init(&al, arena, 4 * n + ((size_t)64 << 20));
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(&al.pc, n, buf);
    free(buf);
    if (!t)
        rc = al.exhausted ? qp_errorf(QP_EINPUT, "'%s': the message needs more than %zu MiB to unpack", path,
                                      al.budget >> 20)
                          : qp_errorf(QP_EINPUT, "'%s': not a serialized ONNX TensorProto", path);
    else {
        char *dir = qp_malloc(strlen(path) + 2);
        if (!dir)
            rc = QP_ESYS;
        else {
            strcpy(dir, path);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = 0;
            else
                strcpy(dir, ".");
            rc = qp_onnx_tensor_decode(t, dir[0] ? dir : "/", NULL, out);
            if (rc)
                qp_error_prefix(rc, "'%s'", path);
            free(dir);
        }
    }
    qp_arena_free(arena);
    return rc;
}
