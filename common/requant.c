/* Requantization: the one place that turns scales into (mult, shift), rounds, shifts, clamps
 * and converts between quantized types.  The contract is written out in qp/requant.h. */
#include <math.h>

#include "qp/requant.h"

static const struct {
    const char *name;
    int64_t min, max;
    size_t size;
} qtypes[] = {
    [QP_QTYPE_U8] = {"u8", 0, 255, 1},
    [QP_QTYPE_I8] = {"i8", -128, 127, 1},
    [QP_QTYPE_I16] = {"i16", -32768, 32767, 2},
    [QP_QTYPE_I32] = {"i32", INT32_MIN, INT32_MAX, 4},
    [QP_QTYPE_I64] = {"i64", INT64_MIN, INT64_MAX, 8},
};
_Static_assert(QP_QTYPE_COUNT == sizeof qtypes / sizeof qtypes[0], "describe every qtype");

static int qtype_ok(qp_qtype t)
{
    return (int)t >= 0 && t < QP_QTYPE_COUNT;
}
int64_t qp_qtype_min(qp_qtype t)
{
    return qtype_ok(t) ? qtypes[t].min : 0;
}
int64_t qp_qtype_max(qp_qtype t)
{
    return qtype_ok(t) ? qtypes[t].max : 0;
}
size_t qp_qtype_size(qp_qtype t)
{
    return qtype_ok(t) ? qtypes[t].size : 0;
}
const char *qp_qtype_name(qp_qtype t)
{
    return qtype_ok(t) ? qtypes[t].name : "?";
}

qp_qparams qp_qparams_dfp(qp_qtype type, int fl)
{
    return (qp_qparams){.scale = ldexp(1.0, -fl), .zp = 0, .type = type};
}

/* ---- Rounding ------------------------------------------------------------------------------ */

double qp_rtne(double x)
{
    if (!(fabs(x) < 4503599627370496.0)) /* 2^52: already an integer (or inf, NaN) */
        return x;
    double f = floor(x), d = x - f; /* both exact */
    if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0.0))
        f += 1.0;
    return f;
}

int64_t qp_rshift_rtne(int64_t x, int n)
{
    if (n <= 0)
        return x;
    if (n >= 64)
        return 0;
    uint64_t ux = (uint64_t)x;
    /* floor(x / 2^n) without relying on the sign behaviour of >> on negative values */
    int64_t q = x >= 0 ? (int64_t)(ux >> n) : -(int64_t)(~ux >> n) - 1;
    uint64_t rem = ux & ((UINT64_C(1) << n) - 1), half = UINT64_C(1) << (n - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++; /* q <= (2^63 - 1) / 2 here, no overflow */
    return q;
}

qp_i128 qp_rshift_rtne128(qp_i128 x, int n)
{
    if (n <= 0)
        return x;
    if (n >= 128)
        return 0;
    qp_u128 ux = (qp_u128)x;
    qp_i128 q = x >= 0 ? (qp_i128)(ux >> n) : -(qp_i128)(~ux >> n) - 1;
    qp_u128 rem = ux & (((qp_u128)1 << n) - 1), half = (qp_u128)1 << (n - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return q;
}

/* ---- Multipliers --------------------------------------------------------------------------- */

int qp_requant_multiplier(double M, qp_qmul *out)
{
    out->mult = 0;
    out->shift = 0;
    if (!(M >= 0.0) || isinf(M))
        return -1;
    if (M == 0.0)
        return 0;
    int e;
    double f = frexp(M, &e);            /* M = f * 2^e, f in [0.5, 1) */
    int64_t m = (int64_t)qp_rtne(ldexp(f, 31)); /* exact scaling, one rounding */
    if (m == (INT64_C(1) << 31)) {
        m = INT64_C(1) << 30;
        e++;
    }
    if (e > -QP_QMUL_SHIFT_MIN)
        return -1; /* M >= 2^31 */
    if (e < -QP_QMUL_SHIFT_MAX)
        return 0; /* M < 2^-63: flushed to zero */
    out->mult = (int32_t)m;
    out->shift = -e;
    return 0;
}

double qp_qmul_value(qp_qmul m)
{
    return ldexp((double)m.mult, -(31 + m.shift));
}

static int64_t sat64(qp_i128 v)
{
    return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

int64_t qp_qmul_apply(int64_t x, qp_qmul m)
{
    return sat64(qp_rshift_rtne128((qp_i128)x * m.mult, 31 + m.shift));
}

/* ---- Requantization ------------------------------------------------------------------------ */

int32_t qp_requant_i32(int32_t acc, qp_qmul m, int32_t zp, int32_t lo, int32_t hi)
{
    /* |acc * mult| < 2^62 and the shifted value plus zp cannot overflow int64 */
    int64_t v = qp_rshift_rtne((int64_t)acc * m.mult, 31 + m.shift);
    return (int32_t)qp_clamp64(v + zp, lo, hi);
}

int32_t qp_requant_i64(int64_t acc, qp_qmul m, int32_t zp, int32_t lo, int32_t hi)
{
    qp_i128 v = qp_rshift_rtne128((qp_i128)acc * m.mult, 31 + m.shift) + zp; /* < 2^95 */
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

int64_t qp_acc64(int64_t bias, int64_t sum)
{
    int64_t r;
    if (__builtin_add_overflow(bias, sum, &r))
        return bias > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* ---- Quantize, dequantize, bias ------------------------------------------------------------ */

int32_t qp_quantize_clamp(double x, double scale, int32_t zp, int32_t lo, int32_t hi)
{
    if (isnan(x))
        return (int32_t)qp_clamp64(zp, lo, hi);
    double r = qp_rtne(x / scale) + (double)zp; /* exact while it matters (|r| < 2^52) */
    if (!(r > (double)lo)) /* also NaN from 0/0 */
        return r != r ? (int32_t)qp_clamp64(zp, lo, hi) : lo;
    if (r >= (double)hi)
        return hi;
    return (int32_t)r;
}

int32_t qp_quantize(double x, const qp_qparams *p)
{
    return qp_quantize_clamp(x, p->scale, p->zp, (int32_t)qp_qtype_min(p->type),
                             (int32_t)qp_qtype_max(p->type));
}

float qp_dequantize(int32_t q, const qp_qparams *p)
{
    return (float)(p->scale * (double)((int64_t)q - p->zp));
}

int32_t qp_quantize_bias32(double b, double s_bias)
{
    return qp_quantize_clamp(b, s_bias, 0, INT32_MIN, INT32_MAX);
}

int64_t qp_quantize_bias64(double b, double s_bias)
{
    double r = qp_rtne(b / s_bias);
    if (r != r)
        return 0;
    if (r >= 9223372036854775808.0) /* 2^63 */
        return INT64_MAX;
    if (r <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)r;
}

int qp_requant_layer_multipliers(double s_x, const double *s_w, size_t n_w, double s_out,
                                 size_t c, qp_qmul *out)
{
    int rc = 0;
    for (size_t i = 0; i < c; i++)
        rc |= qp_requant_multiplier(s_x * s_w[n_w == 1 ? 0 : i] / s_out, &out[i]);
    return rc ? -1 : 0;
}

/* ---- Conversion ---------------------------------------------------------------------------- */

int qp_qconvert_init(const qp_qparams *in, const qp_qparams *out, qp_qconvert *c)
{
    c->zp_in = in->zp;
    c->zp_out = out->zp;
    c->lo = (int32_t)qp_qtype_min(out->type);
    c->hi = (int32_t)qp_qtype_max(out->type);
    c->identity = in->scale == out->scale;
    if (!(in->scale > 0) || !(out->scale > 0))
        return -1;
    /* the identity is also what (2^30, -1) computes; the flag only skips the multiply */
    return qp_requant_multiplier(in->scale / out->scale, &c->mul);
}

/* ---- Add/Sub ------------------------------------------------------------------------------- */

int qp_qadd_init(const qp_qparams *a, const qp_qparams *b, const qp_qparams *out, int sub,
                 int32_t lo, int32_t hi, qp_qadd *p)
{
    *p = (qp_qadd){.zp_a = a->zp, .zp_b = b->zp, .zp_out = out->zp, .lo = lo, .hi = hi,
                   .sub = sub != 0};
    if (!(a->scale >= 0) || !(b->scale >= 0) || !(out->scale > 0))
        return -1;
    double Ma = a->scale / out->scale, Mb = b->scale / out->scale;
    double big = Ma >= Mb ? Ma : Mb, small = Ma >= Mb ? Mb : Ma;
    qp_qmul m;
    if (qp_requant_multiplier(big, &m))
        return -1;
    /* the smaller on the same scale: monotonic rounding keeps it <= the larger's mult */
    int32_t ms = m.mult ? (int32_t)qp_rtne(ldexp(small, 31 + m.shift)) : 0;
    p->shift = m.shift;
    p->ma = Ma >= Mb ? m.mult : ms;
    p->mb = Ma >= Mb ? ms : m.mult;
    return 0;
}
