/* Lookup tables for quantized unary functions: built in double, applied by indexing.  A table
 * lookup has no arithmetic to vectorize (AVX2 gathers are not faster than scalar loads here),
 * so the fast path is the reference with the type switch hoisted out of the loop. */
#include <math.h>
#include <string.h>

#include "qp/q_lut.h"

size_t qp_lut_entries(qp_qtype in)
{
    return in == QP_QTYPE_U8 || in == QP_QTYPE_I8 ? 256 : in == QP_QTYPE_I16 ? 65536 : 0;
}

static int out_ok(qp_qtype t)
{
    return t == QP_QTYPE_U8 || t == QP_QTYPE_I8 || t == QP_QTYPE_I16;
}

int qp_lut_build_ex(double (*f)(double x, const void *ctx), const void *ctx, const qp_qparams *in,
                    const qp_qparams *out, void *table)
{
    size_t n = qp_lut_entries(in->type);
    if (!n || !out_ok(out->type) || !(in->scale > 0) || !(out->scale > 0))
        return -1;
    int64_t qmin = qp_qtype_min(in->type);
    for (size_t i = 0; i < n; i++) {
        double x = in->scale * (double)(qmin + (int64_t)i - in->zp);
        qp_qstore(table, i, out->type, qp_quantize(f(x, ctx), out));
    }
    return 0;
}

static double call_plain(double x, const void *ctx)
{
    double (*f)(double);
    memcpy(&f, ctx, sizeof f);
    return f(x);
}

int qp_lut_build(double (*f)(double), const qp_qparams *in, const qp_qparams *out, void *table)
{
    return qp_lut_build_ex(call_plain, &f, in, out, table);
}

double qp_lut_eval(double x, const void *ctx)
{
    const qp_lut_fn_args *a = ctx;
    switch (a->fn) {
    case QP_LUT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case QP_LUT_SILU: return x / (1.0 + exp(-x));
    case QP_LUT_TANH: return tanh(x);
    case QP_LUT_EXP: return exp(x);
    case QP_LUT_HARDSIGMOID: return fmax(0.0, fmin(1.0, a->alpha * x + a->beta));
    case QP_LUT_HARDSWISH: return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
    case QP_LUT_RELU: return x > 0 ? x : 0.0;
    case QP_LUT_RELU6: return fmin(fmax(x, 0.0), 6.0);
    case QP_LUT_CLIP: return fmin(fmax(x, a->alpha), a->beta);
    case QP_LUT_LEAKYRELU: return x >= 0 ? x : a->alpha * x;
    case QP_LUT_IDENTITY: return x;
    default: return NAN;
    }
}

void qp_lut_apply__ref(qp_qtype in, qp_qtype out, const void *table, size_t n, const void *x,
                       void *y)
{
    int32_t qmin = (int32_t)qp_qtype_min(in);
    for (size_t i = 0; i < n; i++)
        qp_qstore(y, i, out, qp_qload(table, (size_t)(qp_qload(x, i, in) - qmin), out));
}

#define LUT_LOOP(TI, TO, OFF)                                                                 \
    do {                                                                                      \
        const TI *xs = x;                                                                     \
        const TO *t = table;                                                                  \
        TO *ys = y;                                                                           \
        for (size_t i = 0; i < n; i++)                                                        \
            ys[i] = t[xs[i] + (OFF)];                                                         \
    } while (0)
#define LUT_OUT(TI, OFF)                                                                      \
    do {                                                                                      \
        if (out == QP_QTYPE_U8)                                                               \
            LUT_LOOP(TI, uint8_t, OFF);                                                       \
        else if (out == QP_QTYPE_I8)                                                          \
            LUT_LOOP(TI, int8_t, OFF);                                                        \
        else                                                                                  \
            LUT_LOOP(TI, int16_t, OFF);                                                       \
    } while (0)

void qp_lut_apply(qp_qtype in, qp_qtype out, const void *table, size_t n, const void *x, void *y)
{
    if (in == QP_QTYPE_U8)
        LUT_OUT(uint8_t, 0);
    else if (in == QP_QTYPE_I8)
        LUT_OUT(int8_t, 128);
    else
        LUT_OUT(int16_t, 32768);
}
