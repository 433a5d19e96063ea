/* Tensors in memory (qp/tensorio.h): dtypes, shapes, allocation, float16/bfloat16 and type
 * conversions.  Only libc: the NBG runtime links it; the files are tensorio.c. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qp/diag.h"
#include "qp/tensorio.h"
#include "tensorio_dtype.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "qpipe tensor I/O assumes a little-endian host"
#endif

/* ---- dtypes ---- */

static const struct qp_dtype_info dtypes[] = {
    {QP_DT_F32, 4, "float32", "f32", "f4"},    {QP_DT_U8, 1, "uint8", "u8", "u1"},
    {QP_DT_I8, 1, "int8", "i8", "i1"},         {QP_DT_U16, 2, "uint16", "u16", "u2"},
    {QP_DT_I16, 2, "int16", "i16", "i2"},      {QP_DT_I32, 4, "int32", "i32", "i4"},
    {QP_DT_I64, 8, "int64", "i64", "i8"},      {QP_DT_BOOL, 1, "bool", "bool", "b1"},
    {QP_DT_F16, 2, "float16", "f16", "f2"},    {QP_DT_F64, 8, "float64", "f64", "f8"},
    {QP_DT_U32, 4, "uint32", "u32", "u4"},     {QP_DT_U64, 8, "uint64", "u64", "u8"},
    {QP_DT_BF16, 2, "bfloat16", "bf16", NULL},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

const struct qp_dtype_info *qp_dtype_info_at(size_t i) { return i < N_DTYPES ? &dtypes[i] : NULL; }

const struct qp_dtype_info *qp_dtype_info_find(int code)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].code == code)
            return &dtypes[i];
    return NULL;
}

size_t qp_dtype_size(int dtype)
{
    const struct qp_dtype_info *d = qp_dtype_info_find(dtype);
    return d ? d->size : 0;
}

const char *qp_dtype_name(int dtype)
{
    const struct qp_dtype_info *d = qp_dtype_info_find(dtype);
    return d ? d->name : "undefined";
}

int qp_dtype_parse(const char *s)
{
    if (!s)
        return QP_DT_UNDEFINED;
    for (size_t i = 0; i < N_DTYPES; i++)
        if (!strcmp(s, dtypes[i].name) || !strcmp(s, dtypes[i].abbrev))
            return dtypes[i].code;
    if (!strcmp(s, "float") || !strcmp(s, "double"))
        return s[0] == 'f' ? QP_DT_F32 : QP_DT_F64;
    return QP_DT_UNDEFINED;
}

/* ---- shapes ---- */

int64_t qp_shape_numel(int rank, const int64_t *dims)
{
    if (rank < 0 || rank > QP_TENSOR_MAX_RANK)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return -1;
        if (dims[i] && n > INT64_MAX / dims[i])
            return -1;
        n *= dims[i];
    }
    if ((uint64_t)n > SIZE_MAX)
        return -1;
    return n;
}

char *qp_shape_format(char *buf, size_t n, int rank, const int64_t *dims)
{
    size_t len = 0;
    if (n == 0)
        return buf;
    buf[0] = 0;
    if (rank == 0) {
        snprintf(buf, n, "scalar");
        return buf;
    }
    for (int i = 0; i < rank && len < n; i++) {
        int w = snprintf(buf + len, n - len, "%s%lld", i ? "x" : "", (long long)dims[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}

int qp_shape_parse(const char *s, int *rank, int64_t *dims)
{
    int r = 0;
    const char *p = s;
    if (!s || !*s)
        return qp_errorf(QP_EUSAGE, "empty shape");
    for (;;) {
        if (*p < '0' || *p > '9')
            return qp_errorf(QP_EUSAGE, "bad shape '%s': expected positive integers separated by ','", s);
        errno = 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (errno == ERANGE || v <= 0)
            return qp_errorf(QP_EUSAGE, "bad shape '%s': dimension '%.*s' must be positive", s,
                             (int)(end - p), p);
        if (r == QP_TENSOR_MAX_RANK)
            return qp_errorf(QP_EUSAGE, "bad shape '%s': more than %d dimensions", s, QP_TENSOR_MAX_RANK);
        dims[r++] = v;
        p = end;
        if (!*p)
            break;
        if (*p != ',' && *p != 'x')
            return qp_errorf(QP_EUSAGE, "bad shape '%s': expected positive integers separated by ','", s);
        p++;
    }
    if (qp_shape_numel(r, dims) < 0)
        return qp_errorf(QP_EUSAGE, "bad shape '%s': element count overflows", s);
    *rank = r;
    return QP_OK;
}

/* ---- tensors ---- */

int qp_tensor_alloc(qp_tensor *t, int dtype, int rank, const int64_t *dims)
{
    char sh[160];
    memset(t, 0, sizeof *t);
    size_t es = qp_dtype_size(dtype);
    if (!es)
        return qp_errorf(QP_EUSAGE, "unknown dtype %d", dtype);
    if (rank < 0 || rank > QP_TENSOR_MAX_RANK)
        return qp_errorf(QP_EINPUT, "rank %d is outside 0..%d", rank, QP_TENSOR_MAX_RANK);
    int64_t n = qp_shape_numel(rank, dims);
    size_t bytes;
    if (n < 0 || qp_mul_size((size_t)n, es, &bytes))
        return qp_errorf(QP_EINPUT, "shape %s of %s is invalid or too large",
                         qp_shape_format(sh, sizeof sh, rank, dims), qp_dtype_name(dtype));
    void *p = qp_calloc(bytes ? bytes : 1, 1);
    if (!p)
        return qp_errorf(QP_ESYS, "out of memory (%zu bytes for a %s tensor)", bytes,
                         qp_shape_format(sh, sizeof sh, rank, dims));
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    t->data = p;
    t->nbytes = bytes;
    return QP_OK;
}

void qp_tensor_free(qp_tensor *t)
{
    if (!t)
        return;
    qp_free(t->data);
    memset(t, 0, sizeof *t);
}

int64_t qp_tensor_numel(const qp_tensor *t) { return qp_shape_numel(t->rank, t->dims); }

float qp_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man) { /* subnormal: normalise */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t qp_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffff;
    if (ax > 0x7f800000u) /* NaN: keep a quiet NaN */
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7c00);
    if (ax < 0x38800000u) { /* below 2^-14: subnormal or zero */
        if (ax < 0x33000000u) /* below 2^-25: rounds to zero */
            return (uint16_t)sign;
        uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* m * 2^(e-150) / 2^-24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = ax + 0xfff + ((ax >> 13) & 1); /* round to nearest even */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float qp_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t qp_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

double qp_dtype_elem_f64(const unsigned char *d, int dtype, size_t i)
{
    switch (dtype) {
    case QP_DT_F32: { float v; memcpy(&v, d + 4 * i, 4); return v; }
    case QP_DT_F64: { double v; memcpy(&v, d + 8 * i, 8); return v; }
    case QP_DT_F16: { uint16_t v; memcpy(&v, d + 2 * i, 2); return qp_f16_to_f32(v); }
    case QP_DT_BF16: { uint16_t v; memcpy(&v, d + 2 * i, 2); return qp_bf16_to_f32(v); }
    case QP_DT_U8: case QP_DT_BOOL: return d[i];
    case QP_DT_I8: return (int8_t)d[i];
    case QP_DT_U16: { uint16_t v; memcpy(&v, d + 2 * i, 2); return v; }
    case QP_DT_I16: { int16_t v; memcpy(&v, d + 2 * i, 2); return v; }
    case QP_DT_U32: { uint32_t v; memcpy(&v, d + 4 * i, 4); return v; }
    case QP_DT_I32: { int32_t v; memcpy(&v, d + 4 * i, 4); return v; }
    case QP_DT_U64: { uint64_t v; memcpy(&v, d + 8 * i, 8); return (double)v; }
    case QP_DT_I64: { int64_t v; memcpy(&v, d + 8 * i, 8); return (double)v; }
    default: return 0.0;
    }
}

void qp_tensor_get_f64(const qp_tensor *t, double *out)
{
    int64_t n = qp_tensor_numel(t);
    const unsigned char *d = t->data;
    if (t->dtype == QP_DT_F32) {
        for (int64_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, d + 4 * i, 4);
            out[i] = v;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = qp_dtype_elem_f64(d, t->dtype, (size_t)i);
}

int qp_tensor_to_f32(const qp_tensor *in, qp_tensor *out)
{
    int rc = qp_tensor_alloc(out, QP_DT_F32, in->rank, in->dims);
    if (rc)
        return rc;
    int64_t n = qp_tensor_numel(in);
    float *o = out->data;
    if (in->dtype == QP_DT_F32) {
        memcpy(o, in->data, (size_t)n * 4);
        return QP_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = qp_dtype_elem_f64(in->data, in->dtype, (size_t)i);
        if (isfinite(v) && fabs(v) > FLT_MAX) {
            qp_tensor_free(out);
            return qp_errorf(QP_EINPUT, "element %lld (%g) is beyond the float32 range",
                             (long long)i, v);
        }
        o[i] = (float)v;
    }
    return QP_OK;
}

int64_t qp_tensor_find_nonfinite(const qp_tensor *t)
{
    if (t->dtype != QP_DT_F32 && t->dtype != QP_DT_F64 && t->dtype != QP_DT_F16 &&
        t->dtype != QP_DT_BF16)
        return -1;
    int64_t n = qp_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(qp_dtype_elem_f64(t->data, t->dtype, (size_t)i)))
            return i;
    return -1;
}

char *qp_tensorio_quote(char *buf, size_t n, const char *s, size_t len)
{
    size_t o = 0;
    if (!n)
        return buf;
    for (size_t i = 0; i < len && o + 5 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 40) {
            if (o + 4 < n)
                o += (size_t)snprintf(buf + o, n - o, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\'')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
    }
    buf[o] = 0;
    return buf;
}
