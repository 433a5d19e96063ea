/* Vector conversions at precision boundaries: between quantized parameter sets (Acuity's
 * dtype_converter, concat inputs), float32 <-> quantized, and bfloat16/float16 rounding of
 * float32 arrays.  The caller owns the arrays; nothing here allocates, prints or keeps a
 * pointer; y may alias x exactly when the element sizes match.
 *
 *   convert     y = clamp(rtne((x - zp_in) * s_in / s_out) + zp_out)  (qp_qconvert, section 7)
 *   quantize    y = clamp(rtne(x / scale) + zp)  in double, NaN -> zp   (section 6)
 *   dequantize  y = (float)(scale * (double)(x - zp))                   (section 6)
 *   bf16/fp16   round to nearest even to the narrower format (NaN stays NaN, quiet; overflow
 *               goes to infinity; fp16 subnormals are kept), as float32 values or raw bits. */
#ifndef QP_Q_CONVERT_H
#define QP_Q_CONVERT_H
#include <stddef.h>
#include <stdint.h>

#include "qp/requant.h"
#include "qp/vmath.h"

/* Types u8, i8, i16 on both sides; c from qp_qconvert_init with the same parameters. */
void qp_q_convert(const qp_qconvert *c, qp_qtype in, qp_qtype out, size_t n, const void *x,
                  void *y);
void qp_q_quantize_f32(const qp_qparams *p, size_t n, const float *x, void *y);
void qp_q_dequantize_f32(const qp_qparams *p, size_t n, const void *x, float *y);
void qp_round_bf16_f32(size_t n, const float *x, float *y);
void qp_round_fp16_f32(size_t n, const float *x, float *y);
/* Raw formats (scalar; F16C where the ISA has it for fp16). */
void qp_f32_to_bf16_n(size_t n, const float *x, uint16_t *y);
void qp_bf16_to_f32_n(size_t n, const uint16_t *x, float *y);
void qp_f32_to_fp16_n(size_t n, const float *x, uint16_t *y);
void qp_fp16_to_f32_n(size_t n, const uint16_t *x, float *y);
/* One value, the specification of the vector versions. */
uint16_t qp_f32_to_bf16_one(float x);
uint16_t qp_f32_to_fp16_one(float x);
float qp_fp16_to_f32_one(uint16_t h);

/* Variants: X(name, isa) gives qp_q_convert__<name>, qp_q_quantize_f32__<name>,
 * qp_q_dequantize_f32__<name>, qp_round_bf16_f32__<name>, qp_round_fp16_f32__<name>. */
#define QP_Q_CONVERT_VARIANTS(X) \
    X(ref, QP_ISA_REF)           \
    QP_IF_AVX2(X(avx2, QP_ISA_AVX2))
#define QP_Q_CONVERT_DECLARE_(name, isa)                                                      \
    void qp_q_convert__##name(const qp_qconvert *c, qp_qtype in, qp_qtype out, size_t n,      \
                              const void *x, void *y);                                        \
    void qp_q_quantize_f32__##name(const qp_qparams *p, size_t n, const float *x, void *y);   \
    void qp_q_dequantize_f32__##name(const qp_qparams *p, size_t n, const void *x, float *y); \
    void qp_round_bf16_f32__##name(size_t n, const float *x, float *y);                       \
    void qp_round_fp16_f32__##name(size_t n, const float *x, float *y);
QP_Q_CONVERT_VARIANTS(QP_Q_CONVERT_DECLARE_)
typedef struct qp_q_convert_variant {
    const char *name;
    qp_isa isa;
    void (*convert)(const qp_qconvert *c, qp_qtype in, qp_qtype out, size_t n, const void *x,
                    void *y);
    void (*quantize)(const qp_qparams *p, size_t n, const float *x, void *y);
    void (*dequantize)(const qp_qparams *p, size_t n, const void *x, float *y);
    void (*round_bf16)(size_t n, const float *x, float *y);
    void (*round_fp16)(size_t n, const float *x, float *y);
} qp_q_convert_variant;
extern const qp_q_convert_variant qp_q_convert_variants[];
extern const size_t qp_q_convert_n_variants;

#endif
