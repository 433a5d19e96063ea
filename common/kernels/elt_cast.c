/* Casts go through a small block of doubles (from floating types, exactly) or 64-bit integers
 * (from integer types and bool), so each of the 14 x 14 pairs costs one loader and one storer. */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "qp/elt_cast.h"
#include "qp/tensorio.h"

#define BLOCK 256

static int is_float(int dt)
{
    return dt == QP_DT_F32 || dt == QP_DT_F64 || dt == QP_DT_F16 || dt == QP_DT_BF16;
}

int qp_elt_cast_supported(int from, int to)
{
    static const int ok[] = {QP_DT_F32, QP_DT_F64, QP_DT_F16, QP_DT_BF16, QP_DT_I8,  QP_DT_U8,  QP_DT_I16,
                             QP_DT_U16, QP_DT_I32, QP_DT_U32, QP_DT_I64,  QP_DT_U64, QP_DT_BOOL};
    int a = 0, b = 0;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        a |= ok[i] == from;
        b |= ok[i] == to;
    }
    return a && b;
}

/* ---- half and bfloat16 ---------------------------------------------------------------------- */

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m | 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

/* One rounding, to nearest even, straight from double. */
static uint16_t double_to_half(double d)
{
    uint16_t s = signbit(d) ? 0x8000 : 0;
    double a = fabs(d);
    if (isnan(d))
        return s | 0x7e00;
    if (a >= 65520.0)                   /* rounds to infinity (65504 is the largest half) */
        return s | 0x7c00;
    if (a < ldexp(1, -14)) {            /* subnormal: units of 2^-24 */
        double q = nearbyint(a * ldexp(1, 24));
        return s | (uint16_t)q;         /* q = 1024 becomes the smallest normal, as it should */
    }
    int e;
    double f = frexp(a, &e);            /* a = f * 2^e, f in [0.5, 1) */
    double q = nearbyint(f * 2048);     /* 11 significant bits, in [1024, 2048] */
    if (q == 2048) {
        q = 1024;
        e++;
    }
    if (e + 14 > 30)
        return s | 0x7c00;
    return s | (uint16_t)((e + 14) << 10) | (uint16_t)((uint32_t)q & 1023);
}

float qp_elt_f16_to_f32(uint16_t h) { return (float)half_to_double(h); }
uint16_t qp_elt_f32_to_f16(float f) { return double_to_half(f); }

static double bf16_to_double(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint16_t float_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if (isnan(f))
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* ---- loaders -------------------------------------------------------------------------------- */

#define LOAD(T, EXPR)                     \
    do {                                  \
        const T *s = (const T *)x;        \
        for (size_t i = 0; i < n; i++)    \
            buf[i] = (EXPR);              \
    } while (0)

static void load_double(const void *x, int dt, size_t n, double *buf)
{
    switch (dt) {
    case QP_DT_F32: LOAD(float, s[i]); break;
    case QP_DT_F64: LOAD(double, s[i]); break;
    case QP_DT_F16: LOAD(uint16_t, half_to_double(s[i])); break;
    case QP_DT_BF16: LOAD(uint16_t, bf16_to_double(s[i])); break;
    default: assert(0);
    }
}

/* integers as their 64-bit two's complement bits (uint64 keeps its value as unsigned) */
static void load_int(const void *x, int dt, size_t n, uint64_t *buf)
{
    switch (dt) {
    case QP_DT_I8: LOAD(int8_t, (uint64_t)(int64_t)s[i]); break;
    case QP_DT_U8: LOAD(uint8_t, s[i]); break;
    case QP_DT_I16: LOAD(int16_t, (uint64_t)(int64_t)s[i]); break;
    case QP_DT_U16: LOAD(uint16_t, s[i]); break;
    case QP_DT_I32: LOAD(int32_t, (uint64_t)(int64_t)s[i]); break;
    case QP_DT_U32: LOAD(uint32_t, s[i]); break;
    case QP_DT_I64: LOAD(int64_t, (uint64_t)s[i]); break;
    case QP_DT_U64: LOAD(uint64_t, s[i]); break;
    case QP_DT_BOOL: LOAD(uint8_t, s[i] != 0); break;
    default: assert(0);
    }
}

/* ---- storers -------------------------------------------------------------------------------- */

#define STORE(T, EXPR)                    \
    do {                                  \
        T *d = (T *)y;                    \
        for (size_t i = 0; i < n; i++)    \
            d[i] = (EXPR);                \
    } while (0)

/* truncate toward zero, saturate at [lo, hi], NaN -> 0 */
static inline int64_t sat_s(double v, double lo, double hi)
{
    if (isnan(v))
        return 0;
    v = trunc(v);
    return v <= lo ? (int64_t)lo : v >= hi ? (int64_t)hi : (int64_t)v;
}
static inline uint64_t sat_u(double v, double hi)
{
    if (isnan(v) || v <= 0)
        return 0;
    v = trunc(v);
    return v >= hi ? (uint64_t)hi : (uint64_t)v;
}

static void store_from_double(const double *buf, size_t n, void *y, int dt)
{
    switch (dt) {
    case QP_DT_F32: STORE(float, (float)buf[i]); break;
    case QP_DT_F64: STORE(double, buf[i]); break;
    case QP_DT_F16: STORE(uint16_t, double_to_half(buf[i])); break;
    case QP_DT_BF16: STORE(uint16_t, float_to_bf16((float)buf[i])); break;
    case QP_DT_I8: STORE(int8_t, (int8_t)sat_s(buf[i], INT8_MIN, INT8_MAX)); break;
    case QP_DT_U8: STORE(uint8_t, (uint8_t)sat_u(buf[i], UINT8_MAX)); break;
    case QP_DT_I16: STORE(int16_t, (int16_t)sat_s(buf[i], INT16_MIN, INT16_MAX)); break;
    case QP_DT_U16: STORE(uint16_t, (uint16_t)sat_u(buf[i], UINT16_MAX)); break;
    case QP_DT_I32: STORE(int32_t, (int32_t)sat_s(buf[i], INT32_MIN, INT32_MAX)); break;
    case QP_DT_U32: STORE(uint32_t, (uint32_t)sat_u(buf[i], UINT32_MAX)); break;
    /* 2^63 and 2^64 are exact doubles; the largest integers below them are not, so compare
     * against the powers and saturate explicitly */
    case QP_DT_I64:
        STORE(int64_t, isnan(buf[i]) ? 0 : buf[i] >= 0x1p63 ? INT64_MAX : buf[i] <= -0x1p63 ? INT64_MIN
                                                                       : (int64_t)buf[i]);
        break;
    case QP_DT_U64:
        STORE(uint64_t, isnan(buf[i]) || buf[i] <= 0 ? 0 : buf[i] >= 0x1p64 ? UINT64_MAX : (uint64_t)buf[i]);
        break;
    case QP_DT_BOOL: STORE(uint8_t, buf[i] != 0); break;
    default: assert(0);
    }
}

static void store_from_int(const uint64_t *buf, int is_u64, size_t n, void *y, int dt)
{
#define TOF(T) (is_u64 ? (T)buf[i] : (T)(int64_t)buf[i])
    switch (dt) {
    case QP_DT_F32: STORE(float, TOF(float)); break;
    case QP_DT_F64: STORE(double, TOF(double)); break;
    case QP_DT_F16: STORE(uint16_t, double_to_half(TOF(double))); break;
    case QP_DT_BF16: STORE(uint16_t, float_to_bf16(TOF(float))); break;
    case QP_DT_I8: STORE(int8_t, (int8_t)buf[i]); break;
    case QP_DT_U8: STORE(uint8_t, (uint8_t)buf[i]); break;
    case QP_DT_I16: STORE(int16_t, (int16_t)buf[i]); break;
    case QP_DT_U16: STORE(uint16_t, (uint16_t)buf[i]); break;
    case QP_DT_I32: STORE(int32_t, (int32_t)buf[i]); break;
    case QP_DT_U32: STORE(uint32_t, (uint32_t)buf[i]); break;
    case QP_DT_I64: STORE(int64_t, (int64_t)buf[i]); break;
    case QP_DT_U64: STORE(uint64_t, buf[i]); break;
    case QP_DT_BOOL: STORE(uint8_t, buf[i] != 0); break;
    default: assert(0);
    }
#undef TOF
}

void qp_elt_cast__ref(size_t n, const void *x, int from, void *y, int to)
{
    assert(qp_elt_cast_supported(from, to));
    size_t es = qp_dtype_size(from), os = qp_dtype_size(to);
    if (from == to) {
        memcpy(y, x, n * es);
        return;
    }
    union { double d[BLOCK]; uint64_t u[BLOCK]; } buf;
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t m = n - i < BLOCK ? n - i : BLOCK;
        const char *xs = (const char *)x + i * es;
        char *ys = (char *)y + i * os;
        if (is_float(from)) {
            load_double(xs, from, m, buf.d);
            store_from_double(buf.d, m, ys, to);
        } else {
            load_int(xs, from, m, buf.u);
            store_from_int(buf.u, from == QP_DT_U64, m, ys, to);
        }
    }
}

void qp_elt_cast(size_t n, const void *x, int from, void *y, int to)
{
    qp_elt_cast__ref(n, x, from, y, to);
}
