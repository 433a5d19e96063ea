/* float32 pooling: references, the portable plane kernels and the drivers, which spread whole
 * planes over the pool (a plane is never split, so nothing depends on the thread count). */
#include <assert.h>
#include <float.h>

#include "qp/pool_f32.h"
#include "qp/threads.h"

#define TASK_ELEMS 8192 /* input elements per task, at least (~10 us of work) */

int qp_pool2d_f32_check(const qp_pool2d_f32_params *p)
{
    if (p->n < 1 || p->c < 1 || p->h < 1 || p->w < 1 || p->oh < 1 || p->ow < 1 || p->kh < 1 ||
        p->kw < 1 || p->stride_h < 1 || p->stride_w < 1 || p->dil_h < 1 || p->dil_w < 1 ||
        p->pad_top < 0 || p->pad_left < 0 || p->pad_bottom < 0 || p->pad_right < 0)
        return -1;
    /* the last window must start inside the padded input */
    if ((long)(p->oh - 1) * p->stride_h - p->pad_top > (long)p->h - 1 + p->pad_bottom ||
        (long)(p->ow - 1) * p->stride_w - p->pad_left > (long)p->w - 1 + p->pad_right)
        return -1;
    return 0;
}

/* ---- references ---------------------------------------------------------------------------- */

void qp_maxpool2d_f32_plane__ref(const qp_pool2d_f32_params *p, const float *x, float *y)
{
    for (int oh = 0; oh < p->oh; oh++)
        for (int ow = 0; ow < p->ow; ow++) {
            float m = -FLT_MAX;
            for (int i = 0; i < p->kh; i++) {
                int ih = oh * p->stride_h - p->pad_top + i * p->dil_h;
                if (ih < 0 || ih >= p->h)
                    continue;
                for (int j = 0; j < p->kw; j++) {
                    int iw = ow * p->stride_w - p->pad_left + j * p->dil_w;
                    if (iw < 0 || iw >= p->w)
                        continue;
                    float v = x[(size_t)ih * p->w + iw];
                    m = v > m ? v : m;
                }
            }
            y[(size_t)oh * p->ow + ow] = m;
        }
}

static void avgpool_plane_ref(const qp_pool2d_f32_params *p, const float *x, float *y)
{
    for (int oh = 0; oh < p->oh; oh++)
        for (int ow = 0; ow < p->ow; ow++) {
            float s = 0;
            int inside = 0, padded_h = 0, padded_w = 0;
            for (int i = 0; i < p->kh; i++) {
                int ih = oh * p->stride_h - p->pad_top + i * p->dil_h;
                padded_h += ih < p->h + p->pad_bottom;
            }
            for (int j = 0; j < p->kw; j++) {
                int iw = ow * p->stride_w - p->pad_left + j * p->dil_w;
                padded_w += iw < p->w + p->pad_right;
            }
            for (int i = 0; i < p->kh; i++) {
                int ih = oh * p->stride_h - p->pad_top + i * p->dil_h;
                if (ih < 0 || ih >= p->h)
                    continue;
                for (int j = 0; j < p->kw; j++) {
                    int iw = ow * p->stride_w - p->pad_left + j * p->dil_w;
                    if (iw < 0 || iw >= p->w)
                        continue;
                    s += x[(size_t)ih * p->w + iw];
                    inside++;
                }
            }
            int count = p->count_include_pad ? padded_h * padded_w : inside;
            y[(size_t)oh * p->ow + ow] = count ? s / (float)count : 0.0f;
        }
}

void qp_maxpool2d_f32__ref(const qp_pool2d_f32_params *p, const float *x, float *y)
{
    size_t in = (size_t)p->h * p->w, out = (size_t)p->oh * p->ow;
    for (size_t pl = 0; pl < (size_t)p->n * p->c; pl++)
        qp_maxpool2d_f32_plane__ref(p, x + pl * in, y + pl * out);
}

void qp_avgpool2d_f32__ref(const qp_pool2d_f32_params *p, const float *x, float *y)
{
    size_t in = (size_t)p->h * p->w, out = (size_t)p->oh * p->ow;
    for (size_t pl = 0; pl < (size_t)p->n * p->c; pl++)
        avgpool_plane_ref(p, x + pl * in, y + pl * out);
}

float qp_global_avgpool_f32_plane__ref(size_t hw, const float *x)
{
    float s = 0;
    for (size_t i = 0; i < hw; i++)
        s += x[i];
    return s / (float)hw;
}

float qp_global_maxpool_f32_plane__ref(size_t hw, const float *x)
{
    float m = -FLT_MAX;
    for (size_t i = 0; i < hw; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

/* ---- portable plane kernels ---------------------------------------------------------------- */

/* Rows are clipped once per output row and columns whose window lies inside the input skip
 * the bounds checks. */
void qp_maxpool2d_f32_plane__scalar(const qp_pool2d_f32_params *p, const float *x, float *y)
{
    int span_w = (p->kw - 1) * p->dil_w;
    for (int oh = 0; oh < p->oh; oh++) {
        int ih0 = oh * p->stride_h - p->pad_top;
        int i0 = 0, i1 = p->kh;
        while (i0 < i1 && ih0 + i0 * p->dil_h < 0)
            i0++;
        while (i1 > i0 && ih0 + (i1 - 1) * p->dil_h >= p->h)
            i1--;
        for (int ow = 0; ow < p->ow; ow++) {
            int iw0 = ow * p->stride_w - p->pad_left;
            float m = -FLT_MAX;
            int inside = iw0 >= 0 && iw0 + span_w < p->w;
            for (int i = i0; i < i1; i++) {
                const float *row = x + (size_t)(ih0 + i * p->dil_h) * p->w;
                for (int j = 0; j < p->kw; j++) {
                    int iw = iw0 + j * p->dil_w;
                    if (!inside && (iw < 0 || iw >= p->w))
                        continue;
                    m = row[iw] > m ? row[iw] : m;
                }
            }
            y[(size_t)oh * p->ow + ow] = m;
        }
    }
}

float qp_global_avgpool_f32_plane__scalar(size_t hw, const float *x)
{
    float s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= hw; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += x[i + k];
    for (; i < hw; i++)
        s[0] += x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) / (float)hw;
}

float qp_global_maxpool_f32_plane__scalar(size_t hw, const float *x)
{
    return qp_global_maxpool_f32_plane__ref(hw, x);
}

/* ---- drivers ------------------------------------------------------------------------------- */

typedef struct variant {
    qp_isa isa;
    qp_pool2d_f32_plane_fn maxpool;
    qp_global_pool_f32_plane_fn gavg, gmax;
} variant;

static const variant *pick(void)
{
    static const variant variants[] = {
#define QP_POOL_ENTRY_(name, isa)                                                             \
    {isa, qp_maxpool2d_f32_plane__##name, qp_global_avgpool_f32_plane__##name,              \
     qp_global_maxpool_f32_plane__##name},
        QP_POOL_F32_VARIANTS(QP_POOL_ENTRY_)
#undef QP_POOL_ENTRY_
    };
    qp_isa isa = qp_kernels_isa();
    const variant *best = &variants[0];
    for (size_t i = 1; i < sizeof variants / sizeof variants[0]; i++)
        if (variants[i].isa <= isa && qp_kernels_isa_supported(variants[i].isa))
            best = &variants[i];
    return best;
}

typedef struct pool_ctx {
    const qp_pool2d_f32_params *p;
    const float *x;
    float *y;
    size_t planes, per_task, in, out;
    qp_pool2d_f32_plane_fn plane;
    qp_global_pool_f32_plane_fn global;
} pool_ctx;

static size_t planes_per_task(size_t plane_elems, size_t planes)
{
    size_t k = TASK_ELEMS / (plane_elems ? plane_elems : 1);
    return k < 1 ? 1 : k > planes ? planes : k;
}

static void pool_task(void *vctx, int task, int worker)
{
    const pool_ctx *c = vctx;
    (void)worker;
    size_t a = (size_t)task * c->per_task;
    size_t b = a + c->per_task < c->planes ? a + c->per_task : c->planes;
    for (size_t pl = a; pl < b; pl++) {
        if (c->plane)
            c->plane(c->p, c->x + pl * c->in, c->y + pl * c->out);
        else
            c->y[pl] = c->global(c->in, c->x + pl * c->in);
    }
}

static void run(pool_ctx *c)
{
    c->per_task = planes_per_task(c->in, c->planes);
    qp_parallel_for((int)((c->planes + c->per_task - 1) / c->per_task), pool_task, c);
}

void qp_maxpool2d_f32(const qp_pool2d_f32_params *p, const float *x, float *y)
{
    assert(qp_pool2d_f32_check(p) == 0);
    pool_ctx c = {p, x, y, (size_t)p->n * p->c, 0, (size_t)p->h * p->w, (size_t)p->oh * p->ow,
                  pick()->maxpool, NULL};
    run(&c);
}

void qp_avgpool2d_f32(const qp_pool2d_f32_params *p, const float *x, float *y)
{
    assert(qp_pool2d_f32_check(p) == 0);
    pool_ctx c = {p, x, y, (size_t)p->n * p->c, 0, (size_t)p->h * p->w, (size_t)p->oh * p->ow,
                  avgpool_plane_ref, NULL};
    run(&c);
}

void qp_global_avgpool_f32(size_t nc, size_t hw, const float *x, float *y)
{
    pool_ctx c = {NULL, x, y, nc, 0, hw, 1, NULL, pick()->gavg};
    run(&c);
}

void qp_global_maxpool_f32(size_t nc, size_t hw, const float *x, float *y)
{
    pool_ctx c = {NULL, x, y, nc, 0, hw, 1, NULL, pick()->gmax};
    run(&c);
}
