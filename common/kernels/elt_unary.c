/* Elementwise unary references (one expression per op and type family) and dispatch. */
#include <math.h>
#include <stdint.h>

#include "qp/elt_unary.h"

enum { TF32, TF64, TI8, TU8, TI16, TU16, TI32, TU32, TI64, TU64, TBOOL, NTYPES };

static int type_index(int dtype)
{
    switch (dtype) {
    case QP_DT_F32: return TF32;
    case QP_DT_F64: return TF64;
    case QP_DT_I8: return TI8;
    case QP_DT_U8: return TU8;
    case QP_DT_I16: return TI16;
    case QP_DT_U16: return TU16;
    case QP_DT_I32: return TI32;
    case QP_DT_U32: return TU32;
    case QP_DT_I64: return TI64;
    case QP_DT_U64: return TU64;
    case QP_DT_BOOL: return TBOOL;
    default: return -1;
    }
}

#define DEF_UN(name, T, EXPR)                                                          \
    __attribute__((unused)) static void name(const qp_elt_unary_params *p, size_t n, const void *px, \
                                             void *py)                                           \
    {                                                                                  \
        const T *X = px;                                                               \
        T *Y = py;                                                                     \
        (void)p;                                                                       \
        for (size_t i = 0; i < n; i++) {                                               \
            T x = X[i];                                                                \
            Y[i] = (T)(EXPR);                                                          \
        }                                                                              \
    }

static inline float softplusf(float x) { return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
static inline double softplusd(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static inline float signf(float x) { return x > 0 ? 1.0f : x < 0 ? -1.0f : x; }
static inline double signd(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }
/* min(max(x, lo), hi), as numpy.clip: hi wins when lo > hi */
static inline int64_t clip_s(int64_t x, const qp_elt_unary_params *p)
{
    x = x < p->ilo ? p->ilo : x;
    return x > p->ihi ? p->ihi : x;
}
static inline uint64_t clip_u(uint64_t x, const qp_elt_unary_params *p)
{
    uint64_t lo = p->ilo < 0 ? 0 : (uint64_t)p->ilo, hi = p->ihi < 0 ? 0 : (uint64_t)p->ihi;
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}
static inline double clip_d(double x, const qp_elt_unary_params *p)
{
    x = x > p->lo ? x : p->lo;
    return x < p->hi ? x : p->hi;
}

/* float: suffix s, type T, libm function suffix M ("f" or empty) */
#define DEF_FLOAT(s, T, M, SOFTPLUS, SIGN)                                                      \
    DEF_UN(relu_##s, T, x > 0 ? x : 0)                                                          \
    DEF_UN(leakyrelu_##s, T, x >= 0 ? x : (T)p->alpha * x)                                      \
    DEF_UN(elu_##s, T, x >= 0 ? x : (T)p->alpha * expm1##M(x))                                  \
    DEF_UN(selu_##s, T, (T)p->gamma * (x > 0 ? x : (T)p->alpha * expm1##M(x)))                  \
    DEF_UN(clip_##s, T, clip_d(x, p))                                                           \
    DEF_UN(sigmoid_##s, T, x >= 0 ? 1 / (1 + exp##M(-x)) : exp##M(x) / (1 + exp##M(x)))        \
    DEF_UN(hardsigmoid_##s, T, fmax##M(0, fmin##M(1, (T)p->alpha * x + (T)p->beta)))           \
    DEF_UN(hardswish_##s, T, x * fmax##M(0, fmin##M(1, x * (T)(1.0 / 6) + (T)0.5)))             \
    DEF_UN(tanh_##s, T, tanh##M(x))                                                             \
    DEF_UN(exp_##s, T, exp##M(x))                                                               \
    DEF_UN(log_##s, T, log##M(x))                                                               \
    DEF_UN(sqrt_##s, T, sqrt##M(x))                                                             \
    DEF_UN(neg_##s, T, -x)                                                                      \
    DEF_UN(abs_##s, T, fabs##M(x))                                                              \
    DEF_UN(reciprocal_##s, T, 1 / x)                                                            \
    DEF_UN(floor_##s, T, floor##M(x))                                                           \
    DEF_UN(ceil_##s, T, ceil##M(x))                                                             \
    DEF_UN(round_##s, T, nearbyint##M(x))                                                       \
    DEF_UN(sign_##s, T, SIGN(x))                                                                \
    DEF_UN(erf_##s, T, erf##M(x))                                                               \
    DEF_UN(softplus_##s, T, SOFTPLUS(x))                                                        \
    DEF_UN(softsign_##s, T, x / (1 + fabs##M(x)))                                               \
    DEF_UN(sin_##s, T, sin##M(x))                                                               \
    DEF_UN(cos_##s, T, cos##M(x))

DEF_FLOAT(f32, float, f, softplusf, signf)
DEF_FLOAT(f64, double, , softplusd, signd)

#define DEF_SINT(s, T)                                                                       \
    DEF_UN(relu_##s, T, x > 0 ? x : 0)                                                       \
    DEF_UN(neg_##s, T, 0 - (uint64_t)x)                                                      \
    DEF_UN(abs_##s, T, x < 0 ? 0 - (uint64_t)x : (uint64_t)x)                                \
    DEF_UN(sign_##s, T, x > 0 ? 1 : x < 0 ? -1 : 0)                                          \
    DEF_UN(clip_##s, T, clip_s(x, p))
#define DEF_UINT(s, T)                                                                       \
    DEF_UN(relu_##s, T, x)                                                                   \
    DEF_UN(neg_##s, T, 0 - (uint64_t)x)                                                      \
    DEF_UN(abs_##s, T, x)                                                                    \
    DEF_UN(sign_##s, T, x > 0)                                                               \
    DEF_UN(clip_##s, T, clip_u(x, p))
DEF_SINT(i8, int8_t)
DEF_SINT(i16, int16_t)
DEF_SINT(i32, int32_t)
DEF_SINT(i64, int64_t)
DEF_UINT(u8, uint8_t)
DEF_UINT(u16, uint16_t)
DEF_UINT(u32, uint32_t)
DEF_UINT(u64, uint64_t)
DEF_UN(not_bool, uint8_t, !x)

/* float32 activations in vmath: its references, and its dispatchers */
static qp_act act_of(qp_elt_unop op, const qp_elt_unary_params *p)
{
    qp_act a = {QP_ACT_NONE, p->alpha, p->beta};
    switch (op) {
    case QP_ELT_RELU: a.kind = QP_ACT_RELU; break;
    case QP_ELT_LEAKYRELU: a.kind = QP_ACT_LEAKYRELU; break;
    case QP_ELT_CLIP: a.kind = QP_ACT_CLIP; a.alpha = (float)p->lo; a.beta = (float)p->hi; break;
    case QP_ELT_SIGMOID: a.kind = QP_ACT_SIGMOID; break;
    case QP_ELT_HARDSIGMOID: a.kind = QP_ACT_HARDSIGMOID; break;
    case QP_ELT_HARDSWISH: a.kind = QP_ACT_HARDSWISH; break;
    case QP_ELT_TANH: a.kind = QP_ACT_TANH; break;
    default: break;
    }
    return a;
}
#define DEF_VM(name, OP)                                                                          \
    static void name##_vmref(const qp_elt_unary_params *p, size_t n, const void *x, void *y)     \
    {                                                                                             \
        qp_vact_f32__ref(act_of(OP, p), n, x, y);                                                 \
    }                                                                                             \
    static void name##_vm(const qp_elt_unary_params *p, size_t n, const void *x, void *y)        \
    {                                                                                             \
        qp_vact_f32(act_of(OP, p), n, x, y);                                                      \
    }
DEF_VM(relu, QP_ELT_RELU)
DEF_VM(leakyrelu, QP_ELT_LEAKYRELU)
DEF_VM(clip, QP_ELT_CLIP)
DEF_VM(sigmoid, QP_ELT_SIGMOID)
DEF_VM(hardsigmoid, QP_ELT_HARDSIGMOID)
DEF_VM(hardswish, QP_ELT_HARDSWISH)
DEF_VM(tanh, QP_ELT_TANH)
static void exp_vmref(const qp_elt_unary_params *p, size_t n, const void *x, void *y)
{
    (void)p;
    qp_vexp_f32__ref(n, x, y);
}
static void exp_vm(const qp_elt_unary_params *p, size_t n, const void *x, void *y)
{
    (void)p;
    qp_vexp_f32(n, x, y);
}

#define FLOAT_ROW(op) [TF32] = op##_f32, [TF64] = op##_f64
#define INT_ROW(op)                                                                             \
    [TI8] = op##_i8, [TU8] = op##_u8, [TI16] = op##_i16, [TU16] = op##_u16, [TI32] = op##_i32, \
    [TU32] = op##_u32, [TI64] = op##_i64, [TU64] = op##_u64

_Static_assert(QP_ELT_UNOP_COUNT == 25, "give a new unop its row in ref_table");
static const qp_elt_unary_fn ref_table[QP_ELT_UNOP_COUNT][NTYPES] = {
    [QP_ELT_RELU] = {[TF32] = relu_vmref, [TF64] = relu_f64, INT_ROW(relu)},
    [QP_ELT_LEAKYRELU] = {[TF32] = leakyrelu_vmref, [TF64] = leakyrelu_f64},
    [QP_ELT_ELU] = {FLOAT_ROW(elu)},
    [QP_ELT_SELU] = {FLOAT_ROW(selu)},
    [QP_ELT_CLIP] = {[TF32] = clip_vmref, [TF64] = clip_f64, INT_ROW(clip)},
    [QP_ELT_SIGMOID] = {[TF32] = sigmoid_vmref, [TF64] = sigmoid_f64},
    [QP_ELT_HARDSIGMOID] = {[TF32] = hardsigmoid_vmref, [TF64] = hardsigmoid_f64},
    [QP_ELT_HARDSWISH] = {[TF32] = hardswish_vmref, [TF64] = hardswish_f64},
    [QP_ELT_TANH] = {[TF32] = tanh_vmref, [TF64] = tanh_f64},
    [QP_ELT_EXP] = {[TF32] = exp_vmref, [TF64] = exp_f64},
    [QP_ELT_LOG] = {FLOAT_ROW(log)},
    [QP_ELT_SQRT] = {FLOAT_ROW(sqrt)},
    [QP_ELT_NEG] = {FLOAT_ROW(neg), INT_ROW(neg)},
    [QP_ELT_ABS] = {FLOAT_ROW(abs), INT_ROW(abs)},
    [QP_ELT_RECIPROCAL] = {FLOAT_ROW(reciprocal)},
    [QP_ELT_FLOOR] = {FLOAT_ROW(floor)},
    [QP_ELT_CEIL] = {FLOAT_ROW(ceil)},
    [QP_ELT_ROUND] = {FLOAT_ROW(round)},
    [QP_ELT_SIGN] = {FLOAT_ROW(sign), INT_ROW(sign)},
    [QP_ELT_ERF] = {FLOAT_ROW(erf)},
    [QP_ELT_SOFTPLUS] = {FLOAT_ROW(softplus)},
    [QP_ELT_SOFTSIGN] = {FLOAT_ROW(softsign)},
    [QP_ELT_SIN] = {FLOAT_ROW(sin)},
    [QP_ELT_COS] = {FLOAT_ROW(cos)},
    [QP_ELT_NOT] = {[TBOOL] = not_bool},
};

static const qp_elt_unary_fn vm_table[QP_ELT_UNOP_COUNT] = {
    [QP_ELT_RELU] = relu_vm,           [QP_ELT_LEAKYRELU] = leakyrelu_vm, [QP_ELT_CLIP] = clip_vm,
    [QP_ELT_SIGMOID] = sigmoid_vm,     [QP_ELT_HARDSIGMOID] = hardsigmoid_vm,
    [QP_ELT_HARDSWISH] = hardswish_vm, [QP_ELT_TANH] = tanh_vm,          [QP_ELT_EXP] = exp_vm,
};

struct variant { qp_elt_unop op; int dtype; qp_elt_unary_fn fn; qp_isa isa; };
#define VARIANT_ENTRY(op, dtype, fname, isa) {QP_ELT_##op, dtype, qp_elt_##fname, isa},
/* ends with a zeroed entry the loops skip: the list is empty under QP_NO_AVX2 */
static const struct variant variants[] = {QP_ELT_UNARY_VARIANTS(VARIANT_ENTRY) {0}};

int qp_elt_unary_supported(qp_elt_unop op, int dtype)
{
    int t = type_index(dtype);
    return (int)op >= 0 && op < QP_ELT_UNOP_COUNT && t >= 0 && ref_table[op][t] != NULL;
}

qp_elt_unary_fn qp_elt_unary_get(qp_elt_unop op, int dtype, qp_isa isa)
{
    if (!qp_elt_unary_supported(op, dtype))
        return NULL;
    if (dtype == QP_DT_F32 && vm_table[op] && isa != QP_ISA_REF)
        return vm_table[op];
    qp_elt_unary_fn best = ref_table[op][type_index(dtype)];
    qp_isa best_isa = QP_ISA_REF;
    for (size_t i = 0; i + 1 < sizeof variants / sizeof variants[0]; i++)
        if (variants[i].op == op && variants[i].dtype == dtype && variants[i].isa <= isa &&
            variants[i].isa >= best_isa) {
            best = variants[i].fn;
            best_isa = variants[i].isa;
        }
    return best;
}

void qp_elt_unary(qp_elt_unop op, int dtype, const qp_elt_unary_params *p, size_t n, const void *x,
                  void *y)
{
    qp_elt_unary_get(op, dtype, qp_kernels_isa())(p, n, x, y);
}
