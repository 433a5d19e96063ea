/* Quantized unary functions as lookup tables: the caller owns the tables and arrays; nothing
 * here allocates, prints or keeps a pointer, and y may alias x exactly when the input and
 * output types have the same size.
 *
 * A table has one entry per input value (256 for u8/i8, 65536 for i16), indexed by
 * q - type_min, holding the output integer (u8, i8 or i16):
 *     table[q - min] = quantize(f(dequantize(q)))  computed in double:
 *     x = s_in * (q - zp_in);  y = f(x);  out = clamp(rtne(y / s_out) + zp_out)
 * (qp/requant.h section 6).  So a table is the exact rounding of f for every input, by
 * construction; it depends on the libm that evaluated f only where f(x) / s_out lies within
 * an ulp of a half-integer, which is why exported runtimes carry the table itself and the
 * golden tests pin it. */
#ifndef QP_Q_LUT_H
#define QP_Q_LUT_H
#include <stddef.h>

#include "qp/requant.h"

/* Entries for an input type (256 or 65536; 0 for others); bytes = entries * size(out). */
size_t qp_lut_entries(qp_qtype in);

/* 0, or -1 for unsupported types or bad scales. */
int qp_lut_build(double (*f)(double), const qp_qparams *in, const qp_qparams *out, void *table);
int qp_lut_build_ex(double (*f)(double x, const void *ctx), const void *ctx, const qp_qparams *in,
                    const qp_qparams *out, void *table);

/* The standard functions, in double (alpha/beta as ONNX). */
typedef enum qp_lut_fn {
    QP_LUT_SIGMOID = 0,  /* 1 / (1 + exp(-x)) */
    QP_LUT_SILU,         /* x * sigmoid(x) */
    QP_LUT_TANH,
    QP_LUT_EXP,
    QP_LUT_HARDSIGMOID,  /* max(0, min(1, alpha x + beta)) */
    QP_LUT_HARDSWISH,    /* x * max(0, min(1, x / 6 + 1 / 2)) */
    QP_LUT_RELU,
    QP_LUT_RELU6,        /* min(max(x, 0), 6) */
    QP_LUT_CLIP,         /* min(max(x, alpha), beta) */
    QP_LUT_LEAKYRELU,    /* x >= 0 ? x : alpha x */
    QP_LUT_IDENTITY,
    QP_LUT_FN_COUNT
} qp_lut_fn;
typedef struct qp_lut_fn_args {
    qp_lut_fn fn;
    double alpha, beta;
} qp_lut_fn_args;
/* f(x) for qp_lut_build_ex (ctx is a const qp_lut_fn_args *). */
double qp_lut_eval(double x, const void *ctx);

/* y[i] = table[x[i] - min(in)]. */
void qp_lut_apply(qp_qtype in, qp_qtype out, const void *table, size_t n, const void *x, void *y);
void qp_lut_apply__ref(qp_qtype in, qp_qtype out, const void *table, size_t n, const void *x,
                       void *y);

#endif
