/* Elementwise binary references, generated per (op, type) from one expression each, and the
 * broadcasting driver.  Float32 arithmetic goes to vmath's qp_vbinary_f32 (the one vectorised
 * implementation of Add..Min); the rest are plain loops here, with AVX2 variants of the
 * float32 comparisons and PRelu in elt_binary_avx2.c. */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "qp/elt_binary.h"
#include "qp/elt_cast.h"
#include "qp/tensorio.h"

/* ---- type table ---------------------------------------------------------------------------- */

enum { TF32, TF64, TF16, TI8, TU8, TI16, TU16, TI32, TU32, TI64, TU64, TBOOL, NTYPES };

static int type_index(int dtype)
{
    switch (dtype) {
    case QP_DT_F32: return TF32;
    case QP_DT_F64: return TF64;
    case QP_DT_F16: return TF16;
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

/* ---- integer helpers: wrapping arithmetic and the guarded division ------------------------ */

static inline int64_t sdiv(int64_t a, int64_t b)
{
    if (b == 0)
        return 0;
    if (b == -1)
        return (int64_t)(0 - (uint64_t)a);
    return a / b;
}

static inline uint64_t udiv(uint64_t a, uint64_t b) { return b ? a / b : 0; }

static inline uint64_t upow(uint64_t a, uint64_t e)
{
    uint64_t r = 1;
    while (e) {
        if (e & 1)
            r *= a;
        a *= a;
        e >>= 1;
    }
    return r;
}

static inline int64_t spow(int64_t a, int64_t e)
{
    if (e < 0)
        return a == 1 ? 1 : a == -1 ? ((e & 1) ? -1 : 1) : 0;
    return (int64_t)upow((uint64_t)a, (uint64_t)e);
}

static inline float fmaxn(float a, float b) { return isnan(a) || isnan(b) ? a + b : a > b ? a : b; }
static inline float fminn(float a, float b) { return isnan(a) || isnan(b) ? a + b : a < b ? a : b; }
static inline double dmaxn(double a, double b) { return isnan(a) || isnan(b) ? a + b : a > b ? a : b; }
static inline double dminn(double a, double b) { return isnan(a) || isnan(b) ? a + b : a < b ? a : b; }

/* ---- generated run kernels ----------------------------------------------------------------- */

#define DEF_RUN(name, T, OT, EXPR)                                                              \
    static void name(size_t n, const void *pa, size_t ia, const void *pb, size_t ib, void *py) \
    {                                                                                          \
        const T *A = pa, *B = pb;                                                              \
        OT *Y = py;                                                                            \
        for (size_t i = 0; i < n; i++) {                                                       \
            T a = A[i * ia], b = B[i * ib];                                                    \
            (void)b;                                                                           \
            Y[i] = (OT)(EXPR);                                                                 \
        }                                                                                      \
    }

#define DEF_CMP(s, T)                             \
    DEF_RUN(eq_##s, T, uint8_t, a == b)           \
    DEF_RUN(gt_##s, T, uint8_t, a > b)            \
    DEF_RUN(lt_##s, T, uint8_t, a < b)            \
    DEF_RUN(ge_##s, T, uint8_t, a >= b)           \
    DEF_RUN(le_##s, T, uint8_t, a <= b)

#define DEF_FLOAT(s, T, POW, MAX, MIN)            \
    DEF_RUN(add_##s, T, T, a + b)                 \
    DEF_RUN(sub_##s, T, T, a - b)                 \
    DEF_RUN(mul_##s, T, T, a * b)                 \
    DEF_RUN(div_##s, T, T, a / b)                 \
    DEF_RUN(pow_##s, T, T, POW(a, b))             \
    DEF_RUN(max_##s, T, T, MAX(a, b))             \
    DEF_RUN(min_##s, T, T, MIN(a, b))             \
    DEF_RUN(prelu_##s, T, T, a < 0 ? a * b : a)   \
    DEF_CMP(s, T)

#define DEF_SINT(s, T)                                                        \
    DEF_RUN(add_##s, T, T, (uint64_t)a + (uint64_t)b)                         \
    DEF_RUN(sub_##s, T, T, (uint64_t)a - (uint64_t)b)                         \
    DEF_RUN(mul_##s, T, T, (uint64_t)a * (uint64_t)b)                         \
    DEF_RUN(div_##s, T, T, sdiv(a, b))                                        \
    DEF_RUN(pow_##s, T, T, spow(a, b))                                        \
    DEF_RUN(max_##s, T, T, a > b ? a : b)                                     \
    DEF_RUN(min_##s, T, T, a < b ? a : b)                                     \
    DEF_RUN(prelu_##s, T, T, a < 0 ? (T)((uint64_t)a * (uint64_t)b) : a)      \
    DEF_CMP(s, T)

#define DEF_UINT(s, T)                                    \
    DEF_RUN(add_##s, T, T, (uint64_t)a + (uint64_t)b)     \
    DEF_RUN(sub_##s, T, T, (uint64_t)a - (uint64_t)b)     \
    DEF_RUN(mul_##s, T, T, (uint64_t)a * (uint64_t)b)     \
    DEF_RUN(div_##s, T, T, udiv(a, b))                    \
    DEF_RUN(pow_##s, T, T, upow(a, b))                    \
    DEF_RUN(max_##s, T, T, a > b ? a : b)                 \
    DEF_RUN(min_##s, T, T, a < b ? a : b)                 \
    DEF_RUN(prelu_##s, T, T, a)                           \
    DEF_CMP(s, T)

DEF_FLOAT(f32, float, powf, fmaxn, fminn)
DEF_FLOAT(f64, double, pow, dmaxn, dminn)
DEF_SINT(i8, int8_t)
DEF_SINT(i16, int16_t)
DEF_SINT(i32, int32_t)
DEF_SINT(i64, int64_t)
DEF_UINT(u8, uint8_t)
DEF_UINT(u16, uint16_t)
DEF_UINT(u32, uint32_t)
DEF_UINT(u64, uint64_t)
/* float16: computed in float32, rounded back once */
#define DEF_RUN_H(name, OUT, EXPR)                                                              \
    static void name(size_t n, const void *pa, size_t ia, const void *pb, size_t ib, void *py) \
    {                                                                                          \
        const uint16_t *A = pa, *B = pb;                                                       \
        OUT *Y = py;                                                                           \
        for (size_t i = 0; i < n; i++) {                                                       \
            float a = qp_elt_f16_to_f32(A[i * ia]), b = qp_elt_f16_to_f32(B[i * ib]);          \
            Y[i] = (EXPR);                                                                     \
        }                                                                                      \
    }
#define H(x) qp_elt_f32_to_f16(x)
DEF_RUN_H(add_f16, uint16_t, H(a + b))
DEF_RUN_H(sub_f16, uint16_t, H(a - b))
DEF_RUN_H(mul_f16, uint16_t, H(a * b))
DEF_RUN_H(div_f16, uint16_t, H(a / b))
DEF_RUN_H(pow_f16, uint16_t, H(powf(a, b)))
DEF_RUN_H(max_f16, uint16_t, H(fmaxn(a, b)))
DEF_RUN_H(min_f16, uint16_t, H(fminn(a, b)))
DEF_RUN_H(prelu_f16, uint16_t, H(a < 0 ? a * b : a))
DEF_RUN_H(eq_f16, uint8_t, a == b)
DEF_RUN_H(gt_f16, uint8_t, a > b)
DEF_RUN_H(lt_f16, uint8_t, a < b)
DEF_RUN_H(ge_f16, uint8_t, a >= b)
DEF_RUN_H(le_f16, uint8_t, a <= b)
#undef H
DEF_RUN(eq_bool, uint8_t, uint8_t, (a != 0) == (b != 0))
DEF_RUN(and_bool, uint8_t, uint8_t, a && b)
DEF_RUN(or_bool, uint8_t, uint8_t, a || b)
DEF_RUN(xor_bool, uint8_t, uint8_t, (a != 0) != (b != 0))

/* float32 Add..Min: the vmath reference (qp_vbinary_f32__ref) and dispatcher */
#define DEF_VM(name, OP)                                                                          \
    static void name##_f32_vmref(size_t n, const void *a, size_t ia, const void *b, size_t ib,    \
                                 void *y)                                                         \
    {                                                                                             \
        qp_vbinary_f32__ref(OP, n, a, ia, b, ib, y);                                              \
    }                                                                                             \
    static void name##_f32_vm(size_t n, const void *a, size_t ia, const void *b, size_t ib, void *y) \
    {                                                                                             \
        qp_vbinary_f32(OP, n, a, ia, b, ib, y);                                                   \
    }
DEF_VM(add, QP_BIN_ADD)
DEF_VM(sub, QP_BIN_SUB)
DEF_VM(mul, QP_BIN_MUL)
DEF_VM(div, QP_BIN_DIV)
DEF_VM(pow, QP_BIN_POW)
DEF_VM(max, QP_BIN_MAX)
DEF_VM(min, QP_BIN_MIN)

#define ROW_NUM(op)                                                                                \
    {[TF32] = op##_f32, [TF64] = op##_f64, [TF16] = op##_f16, [TI8] = op##_i8,   [TU8] = op##_u8,   \
     [TI16] = op##_i16, [TU16] = op##_u16, [TI32] = op##_i32, [TU32] = op##_u32, [TI64] = op##_i64, \
     [TU64] = op##_u64}

_Static_assert(QP_ELT_BINOP_COUNT == 16, "give a new binop its row in ref_table");
static const qp_elt_binary_fn ref_table[QP_ELT_BINOP_COUNT][NTYPES] = {
    [QP_ELT_ADD] = ROW_NUM(add),
    [QP_ELT_SUB] = ROW_NUM(sub),
    [QP_ELT_MUL] = ROW_NUM(mul),
    [QP_ELT_DIV] = ROW_NUM(div),
    [QP_ELT_POW] = ROW_NUM(pow),
    [QP_ELT_MAX] = ROW_NUM(max),
    [QP_ELT_MIN] = ROW_NUM(min),
    [QP_ELT_PRELU] = ROW_NUM(prelu),
    [QP_ELT_EQ] = {[TF32] = eq_f32, [TF64] = eq_f64, [TF16] = eq_f16, [TI8] = eq_i8, [TU8] = eq_u8,
                   [TI16] = eq_i16, [TU16] = eq_u16, [TI32] = eq_i32, [TU32] = eq_u32, [TI64] = eq_i64,
                   [TU64] = eq_u64, [TBOOL] = eq_bool},
    [QP_ELT_GT] = ROW_NUM(gt),
    [QP_ELT_LT] = ROW_NUM(lt),
    [QP_ELT_GE] = ROW_NUM(ge),
    [QP_ELT_LE] = ROW_NUM(le),
    [QP_ELT_AND] = {[TBOOL] = and_bool},
    [QP_ELT_OR] = {[TBOOL] = or_bool},
    [QP_ELT_XOR] = {[TBOOL] = xor_bool},
};

/* float32 arithmetic: the references are vmath's, the fast path its dispatcher (ADD..MIN map
 * one to one onto QP_BIN_ADD..QP_BIN_MIN) */
_Static_assert(QP_ELT_PRELU == 7 && QP_BIN_COUNT == 7 && (int)QP_ELT_MIN == (int)QP_BIN_MIN,
               "Add..Min must match vmath's binops");
static const qp_elt_binary_fn f32_vm_ref[QP_ELT_PRELU] = {add_f32_vmref, sub_f32_vmref, mul_f32_vmref,
                                                         div_f32_vmref, pow_f32_vmref, max_f32_vmref,
                                                         min_f32_vmref};
static const qp_elt_binary_fn f32_vm[QP_ELT_PRELU] = {add_f32_vm, sub_f32_vm, mul_f32_vm, div_f32_vm,
                                                     pow_f32_vm, max_f32_vm, min_f32_vm};

int qp_elt_binary_supported(qp_elt_binop op, int dtype)
{
    int t = type_index(dtype);
    return (int)op >= 0 && op < QP_ELT_BINOP_COUNT && t >= 0 && ref_table[op][t] != NULL;
}

int qp_elt_binary_out_dtype(qp_elt_binop op, int dtype)
{
    return op >= QP_ELT_EQ ? QP_DT_BOOL : dtype;
}

struct variant { qp_elt_binop op; int dtype; qp_elt_binary_fn fn; qp_isa isa; };
#define VARIANT_ENTRY(op, dtype, fname, isa) {QP_ELT_##op, dtype, qp_elt_##fname, isa},
/* ends with a zeroed entry the loops skip: the list is empty under QP_NO_AVX2 */
static const struct variant variants[] = {QP_ELT_BINARY_VARIANTS(VARIANT_ENTRY) {0}};

qp_elt_binary_fn qp_elt_binary_get(qp_elt_binop op, int dtype, qp_isa isa)
{
    if (!qp_elt_binary_supported(op, dtype))
        return NULL;
    int t = type_index(dtype);
    if (t == TF32 && op < QP_ELT_PRELU)
        return isa == QP_ISA_REF ? f32_vm_ref[op] : f32_vm[op];
    qp_elt_binary_fn best = ref_table[op][t];
    qp_isa best_isa = QP_ISA_REF;
    for (size_t i = 0; i + 1 < sizeof variants / sizeof variants[0]; i++)
        if (variants[i].op == op && variants[i].dtype == dtype && variants[i].isa <= isa &&
            variants[i].isa >= best_isa) {
            best = variants[i].fn;
            best_isa = variants[i].isa;
        }
    return best;
}

/* ---- broadcasting driver ------------------------------------------------------------------- */

struct bin_ctx {
    qp_elt_binary_fn fn;
    const char *a, *b;
    char *y;
    size_t esz, osz;
};

static void bin_run(void *ctx, size_t n, const int64_t *off, const int64_t *inc, size_t yoff)
{
    const struct bin_ctx *c = ctx;
    c->fn(n, c->a + (size_t)off[0] * c->esz, (size_t)inc[0], c->b + (size_t)off[1] * c->esz,
          (size_t)inc[1], c->y + yoff * c->osz);
}

static void binary(qp_elt_binop op, int dtype, qp_isa isa, const qp_elt_bcast *p, const void *a,
                   const void *b, void *y, size_t begin, size_t end)
{
    struct bin_ctx c = {qp_elt_binary_get(op, dtype, isa), a, b, y, qp_dtype_size(dtype),
                        qp_dtype_size(qp_elt_binary_out_dtype(op, dtype))};
    assert(c.fn && p->n_ops == 2);
    qp_elt_bcast_walk(p, begin, end, bin_run, &c);
}

void qp_elt_binary(qp_elt_binop op, int dtype, const qp_elt_bcast *p, const void *a, const void *b,
                   void *y, size_t begin, size_t end)
{
    binary(op, dtype, qp_kernels_isa(), p, a, b, y, begin, end);
}

void qp_elt_binary__ref(qp_elt_binop op, int dtype, const qp_elt_bcast *p, const void *a,
                        const void *b, void *y, size_t begin, size_t end)
{
    binary(op, dtype, QP_ISA_REF, p, a, b, y, begin, end);
}

/* ---- Where --------------------------------------------------------------------------------- */

struct where_ctx {
    const unsigned char *c;
    const char *x, *z;
    char *y;
    size_t es;
};

#define WHERE_LOOP(T)                                                       \
    do {                                                                    \
        const T *X = (const T *)x, *Z = (const T *)z;                       \
        T *Y = (T *)y;                                                      \
        for (size_t i = 0; i < n; i++)                                      \
            Y[i] = c[i * ic] ? X[i * ix] : Z[i * iz];                       \
    } while (0)

static void where_run(void *ctx, size_t n, const int64_t *off, const int64_t *inc, size_t yoff)
{
    const struct where_ctx *w = ctx;
    const unsigned char *c = w->c + off[0];
    const char *x = w->x + (size_t)off[1] * w->es, *z = w->z + (size_t)off[2] * w->es;
    char *y = w->y + yoff * w->es;
    size_t ic = (size_t)inc[0], ix = (size_t)inc[1], iz = (size_t)inc[2];
    switch (w->es) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 2: WHERE_LOOP(uint16_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    default: WHERE_LOOP(uint64_t); break;
    }
}

void qp_elt_where(size_t elsize, const qp_elt_bcast *p, const unsigned char *cond, const void *x,
                  const void *z, void *y, size_t begin, size_t end)
{
    assert(p->n_ops == 3 && (elsize == 1 || elsize == 2 || elsize == 4 || elsize == 8));
    struct where_ctx w = {cond, x, z, y, elsize};
    qp_elt_bcast_walk(p, begin, end, where_run, &w);
}
