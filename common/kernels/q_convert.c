/* Conversions at precision boundaries: the references (which specify the AVX2 versions bit
 * for bit) and dispatch. */
#include <string.h>

#include "qp/q_convert.h"

void qp_q_convert__ref(const qp_qconvert *c, qp_qtype in, qp_qtype out, size_t n, const void *x,
                       void *y)
{
    for (size_t i = 0; i < n; i++)
        qp_qstore(y, i, out, qp_qconvert_one(c, qp_qload(x, i, in)));
}

void qp_q_quantize_f32__ref(const qp_qparams *p, size_t n, const float *x, void *y)
{
    for (size_t i = 0; i < n; i++)
        qp_qstore(y, i, p->type, qp_quantize(x[i], p));
}

void qp_q_dequantize_f32__ref(const qp_qparams *p, size_t n, const void *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = qp_dequantize(qp_qload(x, i, p->type), p);
}

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}
static float float_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

uint16_t qp_f32_to_bf16_one(float x)
{
    uint32_t u = bits_of(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep the sign and make it quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u); /* ties to even; carries into the exponent (inf) */
    return (uint16_t)(u >> 16);
}

uint16_t qp_f32_to_fp16_one(float x)
{
    uint32_t u = bits_of(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: quiet, top mantissa bits kept (as F16C does) */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) { /* below 2^-14: an fp16 subnormal (or zero) */
        if (a < 0x33000000u) /* below 2^-25: rounds to 0 (2^-25 itself is a tie to 0) */
            return sign;
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
        int sh = 126 - (int)e; /* value = m * 2^(e - 150); units of 2^-24: shift by 126 - e */
        uint32_t q = m >> sh, rem = m & ((1u << sh) - 1), half = 1u << (sh - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return (uint16_t)(sign | q);
    }
    /* normal: rebias the exponent (127 -> 15) and round the mantissa from 23 to 10 bits */
    uint32_t r = a - 0x38000000u; /* (127 - 15) << 23 */
    r += 0xfffu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

float qp_fp16_to_f32_one(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f)
        return float_of(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        if (m == 0)
            return float_of(sign);
        int k = 0; /* normalise the subnormal */
        while (!(m & 0x400u)) {
            m <<= 1;
            k++;
        }
        return float_of(sign | ((uint32_t)(113 - k) << 23) | ((m & 0x3ffu) << 13));
    }
    return float_of(sign | ((e + 112) << 23) | (m << 13));
}

void qp_round_bf16_f32__ref(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = float_of((uint32_t)qp_f32_to_bf16_one(x[i]) << 16);
}

void qp_round_fp16_f32__ref(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = qp_fp16_to_f32_one(qp_f32_to_fp16_one(x[i]));
}

void qp_f32_to_bf16_n(size_t n, const float *x, uint16_t *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = qp_f32_to_bf16_one(x[i]);
}

void qp_bf16_to_f32_n(size_t n, const uint16_t *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = float_of((uint32_t)x[i] << 16);
}

void qp_f32_to_fp16_n(size_t n, const float *x, uint16_t *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = qp_f32_to_fp16_one(x[i]);
}

void qp_fp16_to_f32_n(size_t n, const uint16_t *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = qp_fp16_to_f32_one(x[i]);
}

#define QP_Q_CONVERT_ENTRY_(name, isa)                                                        \
    {#name, isa, qp_q_convert__##name, qp_q_quantize_f32__##name, qp_q_dequantize_f32__##name, \
     qp_round_bf16_f32__##name, qp_round_fp16_f32__##name},
const qp_q_convert_variant qp_q_convert_variants[] = {QP_Q_CONVERT_VARIANTS(QP_Q_CONVERT_ENTRY_)};
const size_t qp_q_convert_n_variants =
    sizeof qp_q_convert_variants / sizeof qp_q_convert_variants[0];

static const qp_q_convert_variant *pick(void)
{
    qp_isa isa = qp_kernels_isa();
    const qp_q_convert_variant *best = &qp_q_convert_variants[0];
    for (size_t i = 0; i < qp_q_convert_n_variants; i++)
        if (qp_q_convert_variants[i].isa <= isa && qp_q_convert_variants[i].isa >= best->isa)
            best = &qp_q_convert_variants[i];
    return best;
}

void qp_q_convert(const qp_qconvert *c, qp_qtype in, qp_qtype out, size_t n, const void *x,
                  void *y)
{
    pick()->convert(c, in, out, n, x, y);
}
void qp_q_quantize_f32(const qp_qparams *p, size_t n, const float *x, void *y)
{
    pick()->quantize(p, n, x, y);
}
void qp_q_dequantize_f32(const qp_qparams *p, size_t n, const void *x, float *y)
{
    pick()->dequantize(p, n, x, y);
}
void qp_round_bf16_f32(size_t n, const float *x, float *y)
{
    pick()->round_bf16(n, x, y);
}
void qp_round_fp16_f32(size_t n, const float *x, float *y)
{
    pick()->round_fp16(n, x, y);
}
