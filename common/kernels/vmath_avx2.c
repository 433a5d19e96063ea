/* AVX2+FMA vector math.  Every loop runs its tail through the same vector code with masked
 * loads and stores, so an element's result never depends on where a call's range starts. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "qp/vmath.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Lanes [0, rem) set, rem in [0, 8]. */
ALWAYS_INLINE __m256i tail_mask(size_t rem)
{
    return _mm256_loadu_si256((const __m256i *)(mask_table + 8 - rem));
}

/* exp: x = n*ln2 + r with |r| <= ln2/2 (Cody-Waite, two-part ln2), e^r by the Cephes expf
 * polynomial, then 2^n applied as two exact power-of-two factors so that results down in the
 * subnormal range are rounded once and n = 128 does not overflow the exponent field early.
 * The clamps keep n inside [-150, 128]; min/max take x as their second operand so NaN passes
 * through. */
ALWAYS_INLINE __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_set1_ps(88.8f), x);
    x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
}

/* sigmoid with t = exp(-|x|) <= 1: 1/(1+t) for x >= 0, t/(1+t) for x < 0; no overflow, and
 * full relative precision in the negative tail. */
ALWAYS_INLINE __m256 sigmoid8(__m256 x)
{
    __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 t = exp8(_mm256_sub_ps(_mm256_setzero_ps(), ax));
    __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), t);
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 num = _mm256_blendv_ps(_mm256_set1_ps(1.0f), t, neg);
    return _mm256_div_ps(num, d);
}

/* silu = x / (1 + t) for x >= 0 and x*t / (1 + t) for x < 0 (t = exp(-|x|)): one rounding
 * fewer than x * sigmoid(x).  Below -200 the true value underflows to -0; clamping keeps
 * -inf * 0 from making NaN. */
ALWAYS_INLINE __m256 silu8(__m256 x)
{
    x = _mm256_max_ps(_mm256_set1_ps(-200.0f), x);
    __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 t = exp8(_mm256_sub_ps(_mm256_setzero_ps(), ax));
    __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), t);
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 num = _mm256_blendv_ps(x, _mm256_mul_ps(x, t), neg);
    return _mm256_div_ps(num, d);
}

/* tanh: an odd polynomial (Cephes tanhf) below 0.625 where 1 - 2/(e^2x + 1) would cancel,
 * that formula above (it saturates to exactly 1 without overflow trouble). */
ALWAYS_INLINE __m256 tanh8(__m256 x)
{
    __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 ax = _mm256_andnot_ps(sign, x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    small = _mm256_or_ps(_mm256_andnot_ps(sign, small), _mm256_and_ps(sign, x)); /* tanh(-0) */
    __m256 e = exp8(_mm256_add_ps(ax, ax));
    __m256 q = _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
    __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f), q);
    big = _mm256_or_ps(big, _mm256_and_ps(sign, x));
    __m256 is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm256_blendv_ps(big, small, is_small);
}

ALWAYS_INLINE __m256 act8(qp_act_kind kind, __m256 v, __m256 alpha, __m256 beta)
{
    switch (kind) {
    case QP_ACT_NONE:
        return v;
    case QP_ACT_RELU:
        return _mm256_max_ps(v, _mm256_setzero_ps());
    case QP_ACT_CLIP:
        return _mm256_min_ps(_mm256_max_ps(v, alpha), beta);
    case QP_ACT_SIGMOID:
        return sigmoid8(v);
    case QP_ACT_SILU:
        return silu8(v);
    case QP_ACT_HARDSIGMOID: {
        __m256 h = _mm256_fmadd_ps(alpha, v, beta);
        return _mm256_min_ps(_mm256_max_ps(h, _mm256_setzero_ps()), _mm256_set1_ps(1.0f));
    }
    case QP_ACT_LEAKYRELU: {
        __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, alpha), neg);
    }
    case QP_ACT_TANH:
        return tanh8(v);
    case QP_ACT_HARDSWISH: {
        __m256 h = _mm256_fmadd_ps(v, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f));
        h = _mm256_min_ps(_mm256_max_ps(h, _mm256_setzero_ps()), _mm256_set1_ps(1.0f));
        return _mm256_mul_ps(v, h);
    }
    case QP_ACT_COUNT:
        break;
    }
    return v;
}

/* One loop per activation kind: kind is a constant in each inlined copy. */
ALWAYS_INLINE void act_loop(qp_act_kind kind, qp_act act, size_t n, const float *x, float *y)
{
    __m256 alpha = _mm256_set1_ps(act.alpha), beta = _mm256_set1_ps(act.beta);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, act8(kind, _mm256_loadu_ps(x + i), alpha, beta));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, act8(kind, _mm256_maskload_ps(x + i, m), alpha, beta));
    }
}

void qp_vact_f32__avx2(qp_act act, size_t n, const float *x, float *y)
{
    switch (act.kind) {
#define CASE(k)                       \
    case k:                           \
        act_loop(k, act, n, x, y);    \
        break;
        CASE(QP_ACT_NONE)
        CASE(QP_ACT_RELU)
        CASE(QP_ACT_CLIP)
        CASE(QP_ACT_SIGMOID)
        CASE(QP_ACT_SILU)
        CASE(QP_ACT_HARDSIGMOID)
        CASE(QP_ACT_LEAKYRELU)
        CASE(QP_ACT_TANH)
        CASE(QP_ACT_HARDSWISH)
#undef CASE
    case QP_ACT_COUNT:
        break;
    }
}

void qp_vexp_f32__avx2(size_t n, const float *x, float *y)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, exp8(_mm256_maskload_ps(x + i, m)));
    }
}

void qp_vsigmoid_f32__avx2(size_t n, const float *x, float *y)
{
    qp_act a = {QP_ACT_SIGMOID, 0, 0};
    act_loop(QP_ACT_SIGMOID, a, n, x, y);
}

void qp_vsilu_f32__avx2(size_t n, const float *x, float *y)
{
    qp_act a = {QP_ACT_SILU, 0, 0};
    act_loop(QP_ACT_SILU, a, n, x, y);
}

void qp_vtanh_f32__avx2(size_t n, const float *x, float *y)
{
    qp_act a = {QP_ACT_TANH, 0, 0};
    act_loop(QP_ACT_TANH, a, n, x, y);
}

void qp_vaffine_f32__avx2(size_t n, const float *x, float scale, float bias, float *y)
{
    __m256 s = _mm256_set1_ps(scale), b = _mm256_set1_ps(bias);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), s, b));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, _mm256_fmadd_ps(_mm256_maskload_ps(x + i, m), s, b));
    }
}

ALWAYS_INLINE __m256 binop8(qp_binop op, __m256 a, __m256 b)
{
    switch (op) {
    case QP_BIN_ADD:
        return _mm256_add_ps(a, b);
    case QP_BIN_SUB:
        return _mm256_sub_ps(a, b);
    case QP_BIN_MUL:
        return _mm256_mul_ps(a, b);
    case QP_BIN_DIV:
        return _mm256_div_ps(a, b);
    case QP_BIN_MAX:
    case QP_BIN_MIN: {
        /* maxps/minps return the second operand on NaN; a + b restores the NaN. */
        __m256 m = op == QP_BIN_MAX ? _mm256_max_ps(a, b) : _mm256_min_ps(a, b);
        return _mm256_blendv_ps(m, _mm256_add_ps(a, b), _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
    }
    case QP_BIN_POW: /* only the exponent-2 case reaches here (square) */
        return _mm256_mul_ps(a, a);
    case QP_BIN_COUNT:
        break;
    }
    return a;
}

/* op, inc_a and inc_b are constants in each inlined copy, so the loop body is branch-free. */
ALWAYS_INLINE void bin_loop(qp_binop op, size_t inc_a, size_t inc_b, size_t n, const float *a,
                            const float *b, float *y)
{
    __m256 sa = _mm256_set1_ps(a[0]), sb = _mm256_set1_ps(b[0]);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 va = inc_a ? _mm256_loadu_ps(a + i) : sa;
        __m256 vb = inc_b ? _mm256_loadu_ps(b + i) : sb;
        _mm256_storeu_ps(y + i, binop8(op, va, vb));
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 va = inc_a ? _mm256_maskload_ps(a + i, m) : sa;
        __m256 vb = inc_b ? _mm256_maskload_ps(b + i, m) : sb;
        _mm256_maskstore_ps(y + i, m, binop8(op, va, vb));
    }
}

ALWAYS_INLINE void bin_op(qp_binop op, size_t n, const float *a, size_t inc_a, const float *b,
                          size_t inc_b, float *y)
{
    if (inc_a && inc_b)
        bin_loop(op, 1, 1, n, a, b, y);
    else if (inc_a)
        bin_loop(op, 1, 0, n, a, b, y);
    else if (inc_b)
        bin_loop(op, 0, 1, n, a, b, y);
    else
        bin_loop(op, 0, 0, n, a, b, y);
}

void qp_vbinary_f32__avx2(qp_binop op, size_t n, const float *a, size_t inc_a, const float *b,
                          size_t inc_b, float *y)
{
    if (n == 0)
        return;
    switch (op) {
    case QP_BIN_ADD:
        bin_op(QP_BIN_ADD, n, a, inc_a, b, inc_b, y);
        break;
    case QP_BIN_SUB:
        bin_op(QP_BIN_SUB, n, a, inc_a, b, inc_b, y);
        break;
    case QP_BIN_MUL:
        bin_op(QP_BIN_MUL, n, a, inc_a, b, inc_b, y);
        break;
    case QP_BIN_DIV:
        bin_op(QP_BIN_DIV, n, a, inc_a, b, inc_b, y);
        break;
    case QP_BIN_MAX:
        bin_op(QP_BIN_MAX, n, a, inc_a, b, inc_b, y);
        break;
    case QP_BIN_MIN:
        bin_op(QP_BIN_MIN, n, a, inc_a, b, inc_b, y);
        break;
    case QP_BIN_POW:
        /* x^2 (yolov5's Pow) is exactly x*x, as powf rounds it; anything else goes to libm. */
        if (!inc_b && b[0] == 2.0f && inc_a) {
            bin_loop(QP_BIN_POW, 1, 0, n, a, b, y);
        } else {
            for (size_t i = 0; i < n; i++)
                y[i] = powf(a[i * inc_a], b[i * inc_b]);
        }
        break;
    case QP_BIN_COUNT:
        break;
    }
}
