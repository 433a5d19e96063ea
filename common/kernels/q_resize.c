/* Quantized bilinear Resize: axis tables, the direct reference and the separable threaded
 * version (exact integer sums, so both give the same bits). */
#include <math.h>

#include "qp/q_resize.h"
#include "qp/threads.h"

#define ONE (1 << QP_RESIZE_Q_FRAC_BITS)

/* The ONNX coordinate transformations, the formulas of move_resize.c's float kernel. */
static double coord_of(const qp_resize_params *p, int d, int64_t j)
{
    double x = (double)j, s = p->scale[d], in = (double)p->in[d], len = s * in;
    switch (p->coord) {
    case QP_RESIZE_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case QP_RESIZE_PYTORCH_HALF_PIXEL: return len > 1 ? (x + 0.5) / s - 0.5 : 0;
    case QP_RESIZE_ALIGN_CORNERS: return len == 1 ? 0 : x * (in - 1) / (len - 1);
    case QP_RESIZE_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    default: return x / s;
    }
}

static int32_t clamp_index(int64_t i, int64_t n)
{
    return (int32_t)(i < 0 ? 0 : i >= n ? n - 1 : i);
}

int qp_resize_q_axis_init(const qp_resize_params *p, int d, qp_resize_q_axis *a)
{
    if (p->coord == QP_RESIZE_TF_CROP_AND_RESIZE || p->in[d] < 1 || p->in[d] > INT32_MAX)
        return -1;
    a->in = p->in[d];
    a->out = p->out[d];
    for (int64_t j = 0; j < a->out; j++) {
        double c = coord_of(p, d, j);
        if (!(c > -1e9))
            c = -1e9;
        else if (c > 1e9)
            c = 1e9;
        double f = floor(c);
        a->i0[j] = clamp_index((int64_t)f, a->in);
        a->i1[j] = clamp_index((int64_t)f + 1, a->in);
        a->lam[j] = (int32_t)qp_rtne(ldexp(c - f, QP_RESIZE_Q_FRAC_BITS));
    }
    return 0;
}

static int act_type(qp_qtype t)
{
    return t == QP_QTYPE_U8 || t == QP_QTYPE_I8 || t == QP_QTYPE_I16;
}

int qp_resize_q_init(qp_resize_q_args *a, const qp_qparams *in, const qp_qparams *out)
{
    if (!act_type(in->type) || !act_type(out->type) || !(in->scale > 0) || !(out->scale > 0))
        return -1;
    a->x_type = in->type;
    a->y_type = out->type;
    a->x_zp = in->zp;
    a->y_zp = out->zp;
    a->y_lo = (int32_t)qp_qtype_min(out->type);
    a->y_hi = (int32_t)qp_qtype_max(out->type);
    return qp_requant_multiplier(ldexp(in->scale / out->scale, -2 * QP_RESIZE_Q_FRAC_BITS), &a->mul);
}

void qp_resize_q_linear__ref(const qp_resize_q_args *a)
{
    const qp_resize_q_axis *ay = a->ay, *ax = a->ax;
    size_t ihw = (size_t)(ay->in * ax->in), ohw = (size_t)(ay->out * ax->out);
    for (size_t pl = 0; pl < a->planes; pl++)
        for (int64_t oy = 0; oy < ay->out; oy++)
            for (int64_t ox = 0; ox < ax->out; ox++) {
                int32_t ry[2] = {ay->i0[oy], ay->i1[oy]}, rx[2] = {ax->i0[ox], ax->i1[ox]};
                int64_t wy[2] = {ONE - ay->lam[oy], ay->lam[oy]};
                int64_t wx[2] = {ONE - ax->lam[ox], ax->lam[ox]};
                int64_t acc = 0;
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++) {
                        size_t xi = pl * ihw + (size_t)ry[i] * (size_t)ax->in + (size_t)rx[j];
                        acc += wy[i] * wx[j] * ((int64_t)qp_qload(a->x, xi, a->x_type) - a->x_zp);
                    }
                size_t yi = pl * ohw + (size_t)oy * (size_t)ax->out + (size_t)ox;
                qp_qstore(a->y, yi, a->y_type, qp_requant_i64(acc, a->mul, a->y_zp, a->y_lo, a->y_hi));
            }
}

size_t qp_resize_q_scratch_size(const qp_resize_q_args *a)
{
    return ((2 * (size_t)a->ax->out * sizeof(int32_t)) + 63) & ~(size_t)63;
}

#define ROWS_PER_TASK 8

typedef struct rs_ctx {
    const qp_resize_q_args *a;
    size_t blocks;            /* row blocks per plane */
    char *scratch;
    size_t per_worker;
} rs_ctx;

/* One input row interpolated along x: h[ox] = wx0 (x[i0] - zp) + wx1 (x[i1] - zp). */
#define HROW(T)                                                                                 \
    static void hrow_##T(const qp_resize_q_axis *ax, const T *x, int32_t zp, int32_t *h)       \
    {                                                                                           \
        for (int64_t ox = 0; ox < ax->out; ox++) {                                              \
            int32_t l = ax->lam[ox];                                                            \
            h[ox] = (ONE - l) * ((int32_t)x[ax->i0[ox]] - zp) + l * ((int32_t)x[ax->i1[ox]] - zp); \
        }                                                                                       \
    }
HROW(uint8_t)
HROW(int8_t)
HROW(int16_t)

static void hrow(const qp_resize_q_args *a, size_t xi, int32_t *h)
{
    if (a->x_type == QP_QTYPE_U8)
        hrow_uint8_t(a->ax, (const uint8_t *)a->x + xi, a->x_zp, h);
    else if (a->x_type == QP_QTYPE_I8)
        hrow_int8_t(a->ax, (const int8_t *)a->x + xi, a->x_zp, h);
    else
        hrow_int16_t(a->ax, (const int16_t *)a->x + xi, a->x_zp, h);
}

static void rs_task(void *vctx, int task, int worker)
{
    const rs_ctx *c = vctx;
    const qp_resize_q_args *a = c->a;
    const qp_resize_q_axis *ay = a->ay, *ax = a->ax;
    size_t pl = (size_t)task / c->blocks, b = (size_t)task % c->blocks;
    size_t ihw = (size_t)(ay->in * ax->in), ohw = (size_t)(ay->out * ax->out), ow = (size_t)ax->out;
    int32_t *h0 = (int32_t *)(c->scratch + (size_t)worker * c->per_worker), *h1 = h0 + ow;
    int64_t y0 = (int64_t)b * ROWS_PER_TASK, y1 = y0 + ROWS_PER_TASK < ay->out ? y0 + ROWS_PER_TASK : ay->out;
    int32_t last0 = -1, last1 = -1;
    for (int64_t oy = y0; oy < y1; oy++) {
        int32_t r0 = ay->i0[oy], r1 = ay->i1[oy];
        if (r0 != last0) {
            if (r0 == last1) { /* the old second row is the new first: swap the buffers */
                int32_t *t = h0;
                h0 = h1;
                h1 = t;
            } else
                hrow(a, pl * ihw + (size_t)r0 * (size_t)ax->in, h0);
            last0 = r0;
            last1 = -1;
        }
        if (r1 != last1) {
            hrow(a, pl * ihw + (size_t)r1 * (size_t)ax->in, h1);
            last1 = r1;
        }
        int64_t wy0 = ONE - ay->lam[oy], wy1 = ay->lam[oy];
        size_t yi = pl * ohw + (size_t)oy * ow;
        for (size_t ox = 0; ox < ow; ox++)
            qp_qstore(a->y, yi + ox, a->y_type,
                      qp_requant_i64(wy0 * h0[ox] + wy1 * h1[ox], a->mul, a->y_zp, a->y_lo, a->y_hi));
    }
}

void qp_resize_q_linear(const qp_resize_q_args *a, void *scratch)
{
    if (qp_kernels_isa() == QP_ISA_REF) {
        qp_resize_q_linear__ref(a);
        return;
    }
    rs_ctx c = {a, (size_t)(a->ay->out + ROWS_PER_TASK - 1) / ROWS_PER_TASK,
                (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63), qp_resize_q_scratch_size(a)};
    size_t tasks = a->planes * c.blocks;
    if (tasks)
        qp_parallel_for((int)tasks, rs_task, &c);
}
