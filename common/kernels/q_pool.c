/* Quantized pooling: the references and plane-parallel versions (integer sums are exact, so
 * the split by planes cannot change a result); the fast MaxPool planes take the maximum by
 * columns, then rows, which is the same maximum. */
#include <assert.h>

#include "qp/q_pool.h"
#include "qp/threads.h"
#include "qp/vmath.h"

int qp_pool2d_q_check(const qp_pool2d_q_params *p)
{
    if (p->n <= 0 || p->c <= 0 || p->h <= 0 || p->w <= 0 || p->oh <= 0 || p->ow <= 0 ||
        p->kh <= 0 || p->kw <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->dil_h <= 0 ||
        p->dil_w <= 0 || p->pad_top < 0 || p->pad_left < 0 || p->pad_bottom < 0 ||
        p->pad_right < 0)
        return -1;
    /* the last window must start inside the padded input */
    if ((long)(p->oh - 1) * p->stride_h >= (long)p->h + p->pad_top + p->pad_bottom ||
        (long)(p->ow - 1) * p->stride_w >= (long)p->w + p->pad_left + p->pad_right)
        return -1;
    return 0;
}

int qp_avgpool2d_q_check(const qp_pool2d_q_params *p, const qp_qparams *in,
                         const qp_qparams *out)
{
    qp_qmul m;
    if (qp_pool2d_q_check(p) || !(in->scale > 0) || !(out->scale > 0))
        return -1;
    return qp_requant_multiplier(in->scale / out->scale, &m);
}

/* One output of a plane; cache holds the multiplier of the last count seen. */
typedef struct mul_cache {
    double ratio;
    long count;
    qp_qmul mul;
} mul_cache;

static qp_qmul mul_for(mul_cache *c, long count)
{
    if (count != c->count) {
        c->count = count;
        qp_requant_multiplier(c->ratio / (double)count, &c->mul);
    }
    return c->mul;
}

static void pool_plane(const qp_pool2d_q_params *p, int is_max, qp_qtype t, const qp_qparams *in,
                       const qp_qparams *out, mul_cache *mc, const void *x, size_t xo, void *y,
                       size_t yo)
{
    int32_t tmin = (int32_t)qp_qtype_min(t);
    for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++) {
            int32_t mx = tmin;
            int64_t sum = 0;
            long valid = 0, padded = 0;
            for (int i = 0; i < p->kh; i++) {
                int iy = oy * p->stride_h - p->pad_top + i * p->dil_h;
                for (int j = 0; j < p->kw; j++) {
                    int ix = ox * p->stride_w - p->pad_left + j * p->dil_w;
                    if (iy >= -p->pad_top && iy < p->h + p->pad_bottom &&
                        ix >= -p->pad_left && ix < p->w + p->pad_right)
                        padded++;
                    if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
                        continue;
                    int32_t q = qp_qload(x, xo + (size_t)iy * p->w + ix, t);
                    valid++;
                    if (is_max)
                        mx = q > mx ? q : mx;
                    else
                        sum += q - in->zp;
                }
            }
            size_t yi = yo + (size_t)oy * p->ow + ox;
            if (is_max) {
                qp_qstore(y, yi, t, mx);
                continue;
            }
            long count = p->count_include_pad ? padded : valid;
            int32_t v;
            if (count == 0) /* nothing inside (ceil mode): a 0 real */
                v = (int32_t)qp_clamp64(out->zp, qp_qtype_min(out->type), qp_qtype_max(out->type));
            else
                v = qp_requant_i64(sum, mul_for(mc, count), out->zp,
                                   (int32_t)qp_qtype_min(out->type),
                                   (int32_t)qp_qtype_max(out->type));
            qp_qstore(y, yi, out->type, v);
        }
}

/* MaxPool of one plane by columns then rows (a maximum over a window is the maximum of the
 * column maxima; taps outside the input are skipped in both passes, and a window with none
 * gives the type's minimum in both): per output row, v[x] = max over its valid input rows,
 * then y[ox] = max over the valid taps of v.  Both loops vectorize.  Input rows of at most
 * MAXROW elements (the caller falls back to pool_plane above that). */
#define MAXROW 4096
#define MAX_PLANE(T)                                                                            \
    static void max_plane_##T(const qp_pool2d_q_params *p, const T *x, T *y, T tmin)            \
    {                                                                                           \
        T v[MAXROW];                                                                            \
        for (int oy = 0; oy < p->oh; oy++) {                                                    \
            for (int ix = 0; ix < p->w; ix++)                                                   \
                v[ix] = tmin;                                                                   \
            for (int i = 0; i < p->kh; i++) {                                                   \
                int iy = oy * p->stride_h - p->pad_top + i * p->dil_h;                          \
                if (iy < 0 || iy >= p->h)                                                       \
                    continue;                                                                   \
                const T *row = x + (size_t)iy * p->w;                                           \
                for (int ix = 0; ix < p->w; ix++)                                               \
                    v[ix] = row[ix] > v[ix] ? row[ix] : v[ix];                                  \
            }                                                                                   \
            T *yr = y + (size_t)oy * p->ow;                                                     \
            for (int ox = 0; ox < p->ow; ox++)                                                  \
                yr[ox] = tmin;                                                                  \
            for (int j = 0; j < p->kw; j++) {                                                   \
                int off = j * p->dil_w - p->pad_left; /* ix = ox * stride_w + off */            \
                int lo = off >= 0 ? 0 : (-off + p->stride_w - 1) / p->stride_w;                 \
                int hi = p->w - 1 - off < 0 ? -1 : (p->w - 1 - off) / p->stride_w;              \
                hi = hi < p->ow - 1 ? hi : p->ow - 1;                                           \
                for (int ox = lo; ox <= hi; ox++) {                                             \
                    T c = v[ox * p->stride_w + off];                                            \
                    yr[ox] = c > yr[ox] ? c : yr[ox];                                           \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }
MAX_PLANE(uint8_t)
MAX_PLANE(int8_t)
MAX_PLANE(int16_t)

typedef struct pool_ctx {
    const qp_pool2d_q_params *p;
    int is_max;
    qp_qtype t;
    const qp_qparams *in, *out;
    const void *x;
    void *y;
    int fast;                   /* max: the separable planes */
} pool_ctx;

static void pool_task(void *vctx, int task, int worker)
{
    (void)worker;
    const pool_ctx *c = vctx;
    const qp_pool2d_q_params *p = c->p;
    mul_cache mc = {c->in ? c->in->scale / c->out->scale : 1.0, -1, {0, 0}};
    if (c->is_max && c->fast && p->w <= MAXROW) {
        size_t xo = (size_t)task * p->h * p->w, yo = (size_t)task * p->oh * p->ow;
        if (c->t == QP_QTYPE_U8)
            max_plane_uint8_t(p, (const uint8_t *)c->x + xo, (uint8_t *)c->y + yo, 0);
        else if (c->t == QP_QTYPE_I8)
            max_plane_int8_t(p, (const int8_t *)c->x + xo, (int8_t *)c->y + yo, INT8_MIN);
        else
            max_plane_int16_t(p, (const int16_t *)c->x + xo, (int16_t *)c->y + yo, INT16_MIN);
        return;
    }
    pool_plane(p, c->is_max, c->t, c->in, c->out, &mc, c->x, (size_t)task * p->h * p->w, c->y,
               (size_t)task * p->oh * p->ow);
}

static void pool_run(const qp_pool2d_q_params *p, int is_max, qp_qtype t, const qp_qparams *in,
                     const qp_qparams *out, const void *x, void *y, int threaded)
{
    pool_ctx c = {p, is_max, t, in, out, x, y, threaded};
    int planes = p->n * p->c;
    if (!threaded) {
        for (int i = 0; i < planes; i++)
            pool_task(&c, i, 0);
        return;
    }
    qp_parallel_for(planes, pool_task, &c);
}

void qp_maxpool2d_q__ref(const qp_pool2d_q_params *p, qp_qtype t, const void *x, void *y)
{
    pool_run(p, 1, t, NULL, NULL, x, y, 0);
}

void qp_maxpool2d_q(const qp_pool2d_q_params *p, qp_qtype t, const void *x, void *y)
{
    assert(qp_pool2d_q_check(p) == 0);
    pool_run(p, 1, t, NULL, NULL, x, y, qp_kernels_isa() != QP_ISA_REF);
}

void qp_avgpool2d_q__ref(const qp_pool2d_q_params *p, const qp_qparams *in,
                         const qp_qparams *out, const void *x, void *y)
{
    pool_run(p, 0, in->type, in, out, x, y, 0);
}

void qp_avgpool2d_q(const qp_pool2d_q_params *p, const qp_qparams *in, const qp_qparams *out,
                    const void *x, void *y)
{
    assert(qp_avgpool2d_q_check(p, in, out) == 0);
    pool_run(p, 0, in->type, in, out, x, y, qp_kernels_isa() != QP_ISA_REF);
}

typedef struct gap_ctx {
    size_t hw, per_task, nc;
    const qp_qparams *in, *out;
    qp_qmul mul;
    const void *x;
    void *y;
} gap_ctx;

static void gap_task(void *vctx, int task, int worker)
{
    (void)worker;
    const gap_ctx *c = vctx;
    size_t i0 = (size_t)task * c->per_task, i1 = i0 + c->per_task;
    i1 = i1 < c->nc ? i1 : c->nc;
    for (size_t i = i0; i < i1; i++) {
        int64_t sum = 0;
        for (size_t k = 0; k < c->hw; k++)
            sum += qp_qload(c->x, i * c->hw + k, c->in->type) - c->in->zp;
        qp_qstore(c->y, i, c->out->type,
                  qp_requant_i64(sum, c->mul, c->out->zp, (int32_t)qp_qtype_min(c->out->type),
                                 (int32_t)qp_qtype_max(c->out->type)));
    }
}

static void gap_run(size_t nc, size_t hw, const qp_qparams *in, const qp_qparams *out,
                    const void *x, void *y, int threaded)
{
    gap_ctx c = {hw, nc, nc, in, out, {0, 0}, x, y};
    qp_requant_multiplier(in->scale / out->scale / (double)hw, &c.mul);
    if (!threaded || nc < 2) {
        gap_task(&c, 0, 0);
        return;
    }
    c.per_task = (nc + 63) / 64;
    qp_parallel_for((int)((nc + c.per_task - 1) / c.per_task), gap_task, &c);
}

void qp_global_avgpool_q__ref(size_t nc, size_t hw, const qp_qparams *in,
                              const qp_qparams *out, const void *x, void *y)
{
    gap_run(nc, hw, in, out, x, y, 0);
}

void qp_global_avgpool_q(size_t nc, size_t hw, const qp_qparams *in, const qp_qparams *out,
                         const void *x, void *y)
{
    gap_run(nc, hw, in, out, x, y, qp_kernels_isa() != QP_ISA_REF);
}
