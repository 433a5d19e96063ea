/* Vector math: the ISA choice shared by all kernel modules, the libm references that specify
 * every vector function, and the dispatchers. */
#include <math.h>
#ifndef QP_NO_THREADS
#include <pthread.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "qp/vmath.h"

/* ---- ISA choice ---------------------------------------------------------------------------- */

static atomic_int isa_best;    /* the best the CPU supports */
static atomic_int isa_current; /* what dispatch uses */

static void isa_init(void)
{
    int best = QP_ISA_SCALAR;
#ifndef QP_NO_AVX2 /* (x86-64 only: vmath.h) */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = QP_ISA_AVX2;
#endif
    int cur = best;
    const char *env = getenv("QP_KERNELS");
    if (env && strcmp(env, "ref") == 0)
        cur = QP_ISA_REF;
    else if (env && strcmp(env, "scalar") == 0)
        cur = QP_ISA_SCALAR;
    atomic_store(&isa_best, best);
    atomic_store(&isa_current, cur);
}

#ifdef QP_NO_THREADS
/* the single-thread runtime build (threads.c): no pthreads */
static int isa_done;
#define ISA_ONCE() ((void)(isa_done || (isa_init(), isa_done = 1)))
#else
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
#define ISA_ONCE() pthread_once(&isa_once, isa_init)
#endif

qp_isa qp_kernels_isa(void)
{
    ISA_ONCE();
    return (qp_isa)atomic_load_explicit(&isa_current, memory_order_relaxed);
}

int qp_kernels_isa_supported(qp_isa isa)
{
    ISA_ONCE();
    return (int)isa >= 0 && (int)isa <= atomic_load(&isa_best);
}

void qp_kernels_set_isa(qp_isa isa)
{
    ISA_ONCE();
    int best = atomic_load(&isa_best);
    atomic_store(&isa_current, (int)isa > best ? best : (int)isa < 0 ? 0 : (int)isa);
}

const char *qp_kernels_isa_name(qp_isa isa)
{
    static const char *const names[] = {"ref", "scalar", "avx2"};
    _Static_assert(QP_ISA_COUNT == 3, "name every ISA");
    return (int)isa >= 0 && isa < QP_ISA_COUNT ? names[isa] : "?";
}

/* ---- references ---------------------------------------------------------------------------- */

/* Both branches evaluate exp of a non-positive number, so nothing overflows and the result is
 * accurate in both tails (for x << 0, sigmoid(x) ~ exp(x) keeps its relative precision). */
static float sigmoid_ref(float x)
{
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

float qp_act_f32__ref(qp_act act, float x)
{
    switch (act.kind) {
    case QP_ACT_NONE:
        return x;
    case QP_ACT_RELU:
        return x > 0 ? x : 0.0f;
    case QP_ACT_CLIP: {
        float v = x > act.alpha ? x : act.alpha;
        return v < act.beta ? v : act.beta;
    }
    case QP_ACT_SIGMOID:
        return sigmoid_ref(x);
    case QP_ACT_SILU: {
        /* as sigmoid, but x multiplies the numerator: one rounding fewer */
        if (x < -200.0f)
            return -0.0f;
        if (x >= 0)
            return x / (1.0f + expf(-x));
        float e = expf(x);
        return x * e / (1.0f + e);
    }
    case QP_ACT_HARDSIGMOID: {
        float v = act.alpha * x + act.beta;
        v = v > 0 ? v : 0.0f;
        return v < 1 ? v : 1.0f;
    }
    case QP_ACT_LEAKYRELU:
        return x >= 0 ? x : act.alpha * x;
    case QP_ACT_TANH:
        return tanhf(x);
    case QP_ACT_HARDSWISH: {
        float v = x * (1.0f / 6.0f) + 0.5f;
        v = v > 0 ? v : 0.0f;
        v = v < 1 ? v : 1.0f;
        return x * v;
    }
    case QP_ACT_COUNT:
        break;
    }
    return x;
}

float qp_binop_f32__ref(qp_binop op, float a, float b)
{
    switch (op) {
    case QP_BIN_ADD:
        return a + b;
    case QP_BIN_SUB:
        return a - b;
    case QP_BIN_MUL:
        return a * b;
    case QP_BIN_DIV:
        return a / b;
    case QP_BIN_POW:
        return powf(a, b);
    case QP_BIN_MAX:
        return isnan(a) || isnan(b) ? a + b : a > b ? a : b;
    case QP_BIN_MIN:
        return isnan(a) || isnan(b) ? a + b : a < b ? a : b;
    case QP_BIN_COUNT:
        break;
    }
    return a;
}

void qp_vexp_f32__ref(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

void qp_vsigmoid_f32__ref(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = sigmoid_ref(x[i]);
}

void qp_vsilu_f32__ref(size_t n, const float *x, float *y)
{
    qp_act a = {QP_ACT_SILU, 0, 0};
    for (size_t i = 0; i < n; i++)
        y[i] = qp_act_f32__ref(a, x[i]);
}

void qp_vtanh_f32__ref(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

void qp_vact_f32__ref(qp_act act, size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = qp_act_f32__ref(act, x[i]);
}

void qp_vaffine_f32__ref(size_t n, const float *x, float scale, float bias, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * scale + bias;
}

void qp_vbinary_f32__ref(qp_binop op, size_t n, const float *a, size_t inc_a, const float *b,
                         size_t inc_b, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = qp_binop_f32__ref(op, a[i * inc_a], b[i * inc_b]);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

#define QP_VMATH_ENTRY_(name, variant, isa) \
    {#name "__" #variant, isa, qp_##name##_f32__##variant, qp_##name##_f32__ref},
const qp_vunary_f32_variant qp_vunary_f32_variants[] = {QP_VUNARY_F32_VARIANTS(QP_VMATH_ENTRY_)};
const size_t qp_vunary_f32_n_variants =
    sizeof qp_vunary_f32_variants / sizeof qp_vunary_f32_variants[0];

/* The best variant of the function whose reference is ref; the list is short, so a scan per
 * call costs nothing next to the work, and a test that changes the ISA needs no cache reset. */
static qp_vunary_f32_fn unary_pick(qp_vunary_f32_fn ref)
{
    qp_isa isa = qp_kernels_isa();
    qp_vunary_f32_fn best = ref;
    qp_isa best_isa = QP_ISA_REF;
    for (size_t i = 0; i < qp_vunary_f32_n_variants; i++) {
        const qp_vunary_f32_variant *v = &qp_vunary_f32_variants[i];
        if (v->ref == ref && v->isa <= isa && v->isa >= best_isa) {
            best = v->fn;
            best_isa = v->isa;
        }
    }
    return best;
}

void qp_vexp_f32(size_t n, const float *x, float *y) { unary_pick(qp_vexp_f32__ref)(n, x, y); }
void qp_vsigmoid_f32(size_t n, const float *x, float *y)
{
    unary_pick(qp_vsigmoid_f32__ref)(n, x, y);
}
void qp_vsilu_f32(size_t n, const float *x, float *y) { unary_pick(qp_vsilu_f32__ref)(n, x, y); }
void qp_vtanh_f32(size_t n, const float *x, float *y) { unary_pick(qp_vtanh_f32__ref)(n, x, y); }

/* The misc list has one variant per ISA level; the highest not above the current ISA wins. */
typedef struct misc_variant {
    qp_isa isa;
    void (*act)(qp_act, size_t, const float *, float *);
    void (*affine)(size_t, const float *, float, float, float *);
    void (*binary)(qp_binop, size_t, const float *, size_t, const float *, size_t, float *);
} misc_variant;
#define QP_VMATH_MISC_ENTRY_(variant, isa) \
    {isa, qp_vact_f32__##variant, qp_vaffine_f32__##variant, qp_vbinary_f32__##variant},
static const misc_variant misc_variants[] = {QP_VMISC_F32_VARIANTS(QP_VMATH_MISC_ENTRY_)};

static const misc_variant *misc_pick(void)
{
    qp_isa isa = qp_kernels_isa();
    const misc_variant *best = &misc_variants[0];
    for (size_t i = 1; i < sizeof misc_variants / sizeof misc_variants[0]; i++)
        if (misc_variants[i].isa <= isa)
            best = &misc_variants[i];
    return best;
}

void qp_vact_f32(qp_act act, size_t n, const float *x, float *y)
{
    if (act.kind == QP_ACT_NONE) {
        if (x != y)
            memmove(y, x, n * sizeof *y);
        return;
    }
    misc_pick()->act(act, n, x, y);
}

void qp_vaffine_f32(size_t n, const float *x, float scale, float bias, float *y)
{
    misc_pick()->affine(n, x, scale, bias, y);
}

void qp_vbinary_f32(qp_binop op, size_t n, const float *a, size_t inc_a, const float *b,
                    size_t inc_b, float *y)
{
    misc_pick()->binary(op, n, a, inc_a, b, inc_b, y);
}
