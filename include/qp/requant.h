/* Requantization: the integer arithmetic contract every quantized path shares (calib, qtable,
 * qmix derive parameters with it; qinfer executes with it; nbgexport emits from it).  Pure
 * functions on values: nothing here allocates, prints or keeps a pointer.
 *
 * THE CONTRACT (also qpipe(7), ARITHMETIC CONTRACT; pinned by tests/unit/test_requant.c)
 *
 * 1. A quantized tensor holds integers q with real value  r = scale * (q - zero_point).
 *    Types: u8 [0, 255], i8 [-128, 127], i16 [-32768, 32767]; i32 and i64 for biases.
 *    Per-tensor (scale, zp), or per-channel scales for weights (zp = 0).  Dynamic fixed point
 *    with fractional length fl is scale = 2^-fl, zp = 0 (qp_qparams_dfp).
 *
 * 2. One rounding rule, round half to even (rtne), for every rounding: quantizing a value,
 *    right shifts, the divisions of average pooling.  It does not depend on the FPU rounding
 *    mode.  Worked examples, x / 2^n:
 *        x    n  exact   rtne        x    n  exact   rtne
 *        1    1   0.5     0         -1    1  -0.5     0
 *        3    1   1.5     2         -3    1  -1.5    -2
 *        5    1   2.5     2         -5    1  -2.5    -2
 *        7    1   3.5     4          6    2   1.5     2
 *       10    2   2.5     2        -10    2  -2.5    -2
 *       11    2   2.75    3        INT64_MIN 63 -1    -1     INT64_MIN 64 -0.5  0
 *    Shifts of 64 bits or more give 0 (the quotient is at most 0.5 in magnitude, and the one
 *    tie, INT64_MIN >> 64 = -0.5, goes to even 0).
 *
 * 3. A real multiplier M >= 0 is the pair (mult, shift):  M ~ mult * 2^-(31 + shift),
 *    mult in [2^30, 2^31) (int32), shift in [-31, 62].  qp_requant_multiplier: frexp gives
 *    M = f * 2^e, f in [0.5, 1); mult = rtne(f * 2^31) (exact in double); if that is 2^31,
 *    mult = 2^30 and e += 1; shift = -e.  M = 0 (and any M < 2^-63, which could not change an
 *    int32 accumulator) is (0, 0); M >= 2^31, negative or not finite is an error.  Powers of
 *    two are exact:  M = 2^-3 -> (2^30, 2);  M = 1 -> (2^30, -1);  M = 0.5 -> (2^30, 0);
 *    M = 0.1 -> (1717986918, 3) (0.8 * 2^31 = 1717986918.4), representing 0.0999999999767.
 *
 * 4. Requantization of an accumulator acc to an output type:
 *        out = clamp(rtne(acc * mult / 2^(31 + shift)) + zp_out, lo, hi)
 *    with the product exact (int64 for an int32 acc; 128-bit for an int64 acc), lo/hi the
 *    output type's range or narrower (a fused ReLU is lo = zp_out; ReLU6 also hi =
 *    zp_out + rtne(6 / scale_out)).  Example: acc = 1000, M = 0.1 (mult 1717986918, shift 3):
 *    1000 * 1717986918 = 1717986918000, / 2^34 = 99.9999999767 -> 100; + zp 10 -> 110.
 *    acc = 25, M = 0.1: 2.4999999994 -> 2 (not a tie: the multiplier is a hair below 0.1);
 *    acc = 20, M = 2^-3: exactly 2.5 -> 2;  acc = -20: -2.5 -> -2;  acc = 28: 3.5 -> 4.
 *
 * 5. Accumulators.  8-bit layers (u8/i8 activations, i8 weights): acc = bias + sum of
 *    w * (x - zp_x), exact, then saturated to int32 (the sum alone always fits for K <= 65536;
 *    only an absurd bias can reach the saturation).  16-bit layers (i16 x i16, zp 0):
 *    acc = bias + sum exact in int64 (saturated to int64).  The bias has scale
 *    s_bias = s_x * s_w[c] (computed in double; for DFP fl_b = fl_x + fl_w exactly) and is
 *    int32 for 8-bit layers, int64 for 16-bit ones: b_q = clamp(rtne(b / s_bias)).
 *    The real multiplier of a layer is M[c] = s_x * s_w[c] / s_out, computed in double.
 *
 * 6. Quantize a float x: q = clamp(rtne(x / scale) + zp, type range), with x / scale
 *    computed in double (one IEEE division); NaN quantizes to zp.  Dequantize:
 *    r = (float)(scale * (double)(q - zp)), one rounding (exact before it for a float32 scale).
 *
 * 7. Convert between quantized parameters (dtype_converter, concat inputs, requantization
 *    between layers): q_out = clamp(rtne((q_in - zp_in) * M) + zp_out) with M = s_in / s_out
 *    as (mult, shift): exactly a shift (with rtne) when both sides are DFP, the identity when
 *    the parameters are equal.
 *
 * 8. Add/Sub of two quantized tensors: out = clamp(rtne(da * Ma +- db * Mb) + zp_out) with
 *    da = qa - zp_a, Ma = s_a / s_out (likewise b), rounded once.  The two multipliers share
 *    one shift: the larger is qp_requant_multiplier's (mult, shift), the smaller is
 *    rtne(M * 2^(31 + shift)) on that same scale (fewer bits, never more error than 2^-32 of
 *    an output step per unit of |db|); da * ma + db * mb is exact in int64 (< 2^49).
 *    Mul: acc = da * db, requantized by M = s_a * s_b / s_out as in 4.
 */
#ifndef QP_REQUANT_H
#define QP_REQUANT_H
#include <stddef.h>
#include <stdint.h>

typedef enum qp_qtype {
    QP_QTYPE_U8 = 0,
    QP_QTYPE_I8,
    QP_QTYPE_I16,
    QP_QTYPE_I32,
    QP_QTYPE_I64,
    QP_QTYPE_COUNT
} qp_qtype;

int64_t qp_qtype_min(qp_qtype t);
int64_t qp_qtype_max(qp_qtype t);
size_t qp_qtype_size(qp_qtype t);
const char *qp_qtype_name(qp_qtype t); /* "u8", "i8", "i16", "i32", "i64" */

/* Per-tensor parameters of an activation (weights per channel pass scales separately). */
typedef struct qp_qparams {
    double scale;
    int32_t zp;
    qp_qtype type;
} qp_qparams;

qp_qparams qp_qparams_dfp(qp_qtype type, int fl); /* scale 2^-fl, zp 0 */

/* A real multiplier as mult * 2^-(31 + shift) (section 3). */
typedef struct qp_qmul {
    int32_t mult;  /* 0 or [2^30, 2^31) */
    int32_t shift; /* [-31, 62] */
} qp_qmul;

#define QP_QMUL_SHIFT_MIN (-31)
#define QP_QMUL_SHIFT_MAX 62

/* ---- Rounding ------------------------------------------------------------------------------ */

/* x rounded to the nearest integer, ties to even, whatever the FPU mode (inf/NaN unchanged). */
double qp_rtne(double x);
/* rtne(x / 2^n) for n >= 0, exact for every int64 x (0 for n >= 64). */
int64_t qp_rshift_rtne(int64_t x, int n);
/* 128-bit integers (wide products before a shift): GCC's and Clang's __int128, on 64-bit
 * targets (x86-64, aarch64, riscv64; not 32-bit ARM), the one extension of ISO C11 the NBG
 * runtime uses; __extension__ keeps -pedantic quiet about it. */
__extension__ typedef __int128 qp_i128;
__extension__ typedef unsigned __int128 qp_u128;
/* The same for 128-bit values (0 for n >= 128). */
qp_i128 qp_rshift_rtne128(qp_i128 x, int n);

/* ---- Multipliers --------------------------------------------------------------------------- */

/* Section 3.  0 on success; -1 (out = {0, 0}) if M is negative, not finite or >= 2^31. */
int qp_requant_multiplier(double M, qp_qmul *out);
/* The real number (mult, shift) stands for (exact in double). */
double qp_qmul_value(qp_qmul m);
/* rtne(x * M), exact (128-bit product), saturated to int64. */
int64_t qp_qmul_apply(int64_t x, qp_qmul m);

/* ---- Requantization (section 4) ------------------------------------------------------------ */

static inline int64_t qp_clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}
static inline int32_t qp_sat32(int64_t v)
{
    return (int32_t)qp_clamp64(v, INT32_MIN, INT32_MAX);
}
/* acc int32 (8-bit layers). */
int32_t qp_requant_i32(int32_t acc, qp_qmul m, int32_t zp, int32_t lo, int32_t hi);
/* acc int64 (16-bit layers). */
int32_t qp_requant_i64(int64_t acc, qp_qmul m, int32_t zp, int32_t lo, int32_t hi);
/* The 8-bit accumulator rule: saturate(bias + sum) to int32 (sum exact in int64). */
static inline int32_t qp_acc32(int64_t bias, int64_t sum)
{
    return qp_sat32(bias + sum); /* |bias| < 2^31, |sum| < 2^62: no overflow */
}
/* The 16-bit rule: bias + sum saturated to int64. */
int64_t qp_acc64(int64_t bias, int64_t sum);

/* ---- Quantize, dequantize, bias (sections 5, 6) -------------------------------------------- */

/* clamp(rtne(x / scale) + zp, lo, hi); NaN gives clamp(zp). */
int32_t qp_quantize_clamp(double x, double scale, int32_t zp, int32_t lo, int32_t hi);
/* The same with the type's full range. */
int32_t qp_quantize(double x, const qp_qparams *p);
float qp_dequantize(int32_t q, const qp_qparams *p);
/* clamp(rtne(b / s_bias)) to int32 or int64 (NaN gives 0). */
int32_t qp_quantize_bias32(double b, double s_bias);
int64_t qp_quantize_bias64(double b, double s_bias);
/* Per-channel layer multipliers M[c] = s_x * s_w[c] / s_out (n_w 1 for a per-tensor weight
 * scale, else c): 0, or -1 if one is not representable. */
int qp_requant_layer_multipliers(double s_x, const double *s_w, size_t n_w, double s_out,
                                 size_t c, qp_qmul *out);

/* ---- Conversion between quantized parameters (section 7) ----------------------------------- */

typedef struct qp_qconvert {
    qp_qmul mul;       /* s_in / s_out */
    int32_t zp_in, zp_out;
    int32_t lo, hi;    /* the output type's range */
    int identity;      /* same scale and zero point: only a clamp */
} qp_qconvert;

/* 0, or -1 if s_in / s_out is not representable (bad scales). */
int qp_qconvert_init(const qp_qparams *in, const qp_qparams *out, qp_qconvert *c);
static inline int32_t qp_qconvert_one(const qp_qconvert *c, int32_t q)
{
    int64_t d = (int64_t)q - c->zp_in;
    int64_t v = c->identity ? d : qp_rshift_rtne(d * c->mul.mult, 31 + c->mul.shift);
    return (int32_t)qp_clamp64(v + c->zp_out, c->lo, c->hi);
}

/* ---- Add/Sub (section 8) ------------------------------------------------------------------- */

typedef struct qp_qadd {
    int32_t ma, mb; /* multipliers of a and b on the common scale 2^-(31 + shift), >= 0 */
    int32_t shift;  /* [-31, 62] */
    int32_t zp_a, zp_b, zp_out, lo, hi;
    int sub;        /* a - b */
} qp_qadd;

/* Ma = s_a / s_out, Mb = s_b / s_out; lo/hi the output clamp.  0, or -1 if not representable. */
int qp_qadd_init(const qp_qparams *a, const qp_qparams *b, const qp_qparams *out, int sub,
                 int32_t lo, int32_t hi, qp_qadd *p);
static inline int32_t qp_qadd_one(const qp_qadd *p, int32_t qa, int32_t qb)
{
    int64_t ta = ((int64_t)qa - p->zp_a) * p->ma, tb = ((int64_t)qb - p->zp_b) * p->mb;
    int64_t v = qp_rshift_rtne(p->sub ? ta - tb : ta + tb, 31 + p->shift);
    return (int32_t)qp_clamp64(v + p->zp_out, p->lo, p->hi);
}

/* ---- Element access ------------------------------------------------------------------------ */

/* Element i of a u8/i8/i16 (i32) array, as int32: store v (already clamped), load. */
static inline void qp_qstore(void *c, size_t i, qp_qtype t, int32_t v)
{
    if (t == QP_QTYPE_I16)
        ((int16_t *)c)[i] = (int16_t)v;
    else if (t == QP_QTYPE_I32)
        ((int32_t *)c)[i] = v;
    else if (t == QP_QTYPE_I8)
        ((int8_t *)c)[i] = (int8_t)v;
    else
        ((uint8_t *)c)[i] = (uint8_t)v;
}
static inline int32_t qp_qload(const void *x, size_t i, qp_qtype t)
{
    switch (t) {
    case QP_QTYPE_U8: return ((const uint8_t *)x)[i];
    case QP_QTYPE_I8: return ((const int8_t *)x)[i];
    case QP_QTYPE_I16: return ((const int16_t *)x)[i];
    case QP_QTYPE_I32: return ((const int32_t *)x)[i];
    default: return 0;
    }
}

#endif
