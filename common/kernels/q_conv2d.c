/* Quantized convolution: the seven-loop references, the path choice, the implicit-im2col
 * B packer for q_gemm, the depthwise direct kernel and transposed convolution. */
#include <assert.h>
#include <stdatomic.h>
#include <string.h>

#include "qp/q_conv2d.h"
#include "qp/q_gemm.h"
#include "qp/threads.h"

#define NR QP_GEMM_Q_NR

/* ---- Checks -------------------------------------------------------------------------------- */

static int shape_ok(const qp_conv2d_q_params *p)
{
    return p->n > 0 && p->c > 0 && p->h > 0 && p->w > 0 && p->m > 0 && p->oh > 0 && p->ow > 0 &&
           p->kh > 0 && p->kw > 0 && p->group > 0 && p->c % p->group == 0 &&
           p->m % p->group == 0 && p->stride_h > 0 && p->stride_w > 0 && p->dil_h > 0 &&
           p->dil_w > 0 && p->pad_top >= 0 && p->pad_left >= 0 && p->pad_bottom >= 0 &&
           p->pad_right >= 0;
}

int qp_conv2d_q_check(const qp_conv2d_q_params *p)
{
    if (!shape_ok(p))
        return -1;
    long eh = (long)p->h + p->pad_top + p->pad_bottom - (long)p->dil_h * (p->kh - 1) - 1;
    long ew = (long)p->w + p->pad_left + p->pad_right - (long)p->dil_w * (p->kw - 1) - 1;
    if (eh < 0 || ew < 0 || eh / p->stride_h + 1 != p->oh || ew / p->stride_w + 1 != p->ow)
        return -1;
    return 0;
}

int qp_convtranspose2d_q_check(const qp_conv2d_q_params *p)
{
    if (!shape_ok(p))
        return -1;
    long base_h = (long)p->stride_h * (p->h - 1) + (long)p->dil_h * (p->kh - 1) + 1 -
                  p->pad_top - p->pad_bottom;
    long base_w = (long)p->stride_w * (p->w - 1) + (long)p->dil_w * (p->kw - 1) + 1 -
                  p->pad_left - p->pad_right;
    /* output padding is in [0, stride) */
    if (p->oh < base_h || p->oh >= base_h + p->stride_h || p->ow < base_w ||
        p->ow >= base_w + p->stride_w)
        return -1;
    return 0;
}

int qp_conv2d_q_quant_check(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, int bits)
{
    long K = (long)(p->c / p->group) * p->kh * p->kw;
    if (q->y_type != QP_QTYPE_U8 && q->y_type != QP_QTYPE_I8 && q->y_type != QP_QTYPE_I16)
        return -1;
    if (q->y_lo > q->y_hi || q->y_lo < qp_qtype_min(q->y_type) ||
        q->y_hi > qp_qtype_max(q->y_type) || !q->mul)
        return -1;
    if (bits == 8)
        return (q->x_type == QP_QTYPE_U8 || q->x_type == QP_QTYPE_I8) &&
                       q->x_zp >= qp_qtype_min(q->x_type) && q->x_zp <= qp_qtype_max(q->x_type) &&
                       K <= QP_GEMM_Q8_K_MAX
                   ? 0
                   : -1;
    return q->x_type == QP_QTYPE_I16 && q->x_zp == 0 ? 0 : -1;
}

/* ---- References ---------------------------------------------------------------------------- */

static int64_t wload(const void *w, size_t i, int bits)
{
    return bits == 8 ? ((const int8_t *)w)[i] : ((const int16_t *)w)[i];
}

static int32_t finish(int bits, const qp_conv2d_q_quant *q, int o, int64_t sum)
{
    if (bits == 8) {
        const int32_t *b = q->bias;
        return qp_requant_i32(qp_acc32(b ? b[o] : 0, sum), q->mul[o], q->y_zp, q->y_lo,
                              q->y_hi);
    }
    const int64_t *b = q->bias;
    return qp_requant_i64(qp_acc64(b ? b[o] : 0, sum), q->mul[o], q->y_zp, q->y_lo, q->y_hi);
}

static void conv_ref(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, const void *w,
                     int bits, const void *x, void *y)
{
    int cg = p->c / p->group, mg = p->m / p->group;
    for (int b = 0; b < p->n; b++)
        for (int o = 0; o < p->m; o++)
            for (int oy = 0; oy < p->oh; oy++)
                for (int ox = 0; ox < p->ow; ox++) {
                    int64_t sum = 0;
                    for (int ci = 0; ci < cg; ci++)
                        for (int i = 0; i < p->kh; i++)
                            for (int j = 0; j < p->kw; j++) {
                                int iy = oy * p->stride_h - p->pad_top + i * p->dil_h;
                                int ix = ox * p->stride_w - p->pad_left + j * p->dil_w;
                                if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
                                    continue; /* padding: x = zp_x, contributes 0 */
                                int c = (o / mg) * cg + ci;
                                size_t xi = (((size_t)b * p->c + c) * p->h + iy) * p->w + ix;
                                size_t wi = (((size_t)o * cg + ci) * p->kh + i) * p->kw + j;
                                sum += wload(w, wi, bits) *
                                       (qp_qload(x, xi, q->x_type) - q->x_zp);
                            }
                    size_t yi = (((size_t)b * p->m + o) * p->oh + oy) * p->ow + ox;
                    qp_qstore(y, yi, q->y_type, finish(bits, q, o, sum));
                }
}

void qp_conv2d_q8__ref(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                       const int8_t *w, const void *x, void *y)
{
    conv_ref(p, q, w, 8, x, y);
}

void qp_conv2d_q16__ref(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                        const int16_t *w, const void *x, void *y)
{
    conv_ref(p, q, w, 16, x, y);
}

/* One output element of ConvTranspose (shared by the reference and the pooled version). */
static int64_t convt_sum(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, const void *w,
                         int bits, const void *x, int b, int o, int oy, int ox)
{
    int cg = p->c / p->group, mg = p->m / p->group, g = o / mg;
    int64_t sum = 0;
    for (int ci = 0; ci < cg; ci++)
        for (int i = 0; i < p->kh; i++) {
            int ty = oy + p->pad_top - i * p->dil_h;
            if (ty < 0 || ty % p->stride_h || ty / p->stride_h >= p->h)
                continue;
            for (int j = 0; j < p->kw; j++) {
                int tx = ox + p->pad_left - j * p->dil_w;
                if (tx < 0 || tx % p->stride_w || tx / p->stride_w >= p->w)
                    continue;
                int c = g * cg + ci;
                size_t xi = (((size_t)b * p->c + c) * p->h + ty / p->stride_h) * p->w +
                            tx / p->stride_w;
                size_t wi = (((size_t)c * mg + o % mg) * p->kh + i) * p->kw + j;
                sum += wload(w, wi, bits) * (qp_qload(x, xi, q->x_type) - q->x_zp);
            }
        }
    return sum;
}

static void convt_ref(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, const void *w,
                      int bits, const void *x, void *y)
{
    for (int b = 0; b < p->n; b++)
        for (int o = 0; o < p->m; o++)
            for (int oy = 0; oy < p->oh; oy++)
                for (int ox = 0; ox < p->ow; ox++) {
                    size_t yi = (((size_t)b * p->m + o) * p->oh + oy) * p->ow + ox;
                    qp_qstore(y, yi, q->y_type,
                              finish(bits, q, o, convt_sum(p, q, w, bits, x, b, o, oy, ox)));
                }
}

void qp_convtranspose2d_q8__ref(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                                const int8_t *w, const void *x, void *y)
{
    convt_ref(p, q, w, 8, x, y);
}

void qp_convtranspose2d_q16__ref(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                                 const int16_t *w, const void *x, void *y)
{
    convt_ref(p, q, w, 16, x, y);
}

/* ---- ConvTranspose on the pool: one task per (batch, output channel) plane --------------- */

typedef struct convt_ctx {
    const qp_conv2d_q_params *p;
    const qp_conv2d_q_quant *q;
    const void *w, *x;
    void *y;
    int bits;
} convt_ctx;

static void convt_task(void *vctx, int task, int worker)
{
    (void)worker;
    const convt_ctx *c = vctx;
    const qp_conv2d_q_params *p = c->p;
    int b = task / p->m, o = task % p->m;
    size_t base = ((size_t)b * p->m + o) * p->oh * p->ow;
    for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++)
            qp_qstore(c->y, base + (size_t)oy * p->ow + ox, c->q->y_type,
                      finish(c->bits, c->q, o,
                             convt_sum(p, c->q, c->w, c->bits, c->x, b, o, oy, ox)));
}

static void convt_run(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, const void *w,
                      int bits, const void *x, void *y)
{
    assert(qp_convtranspose2d_q_check(p) == 0 && qp_conv2d_q_quant_check(p, q, bits) == 0);
    if (qp_kernels_isa() == QP_ISA_REF) {
        convt_ref(p, q, w, bits, x, y);
        return;
    }
    convt_ctx c = {p, q, w, x, y, bits};
    qp_parallel_for(p->n * p->m, convt_task, &c);
}

void qp_convtranspose2d_q8(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                           const int8_t *w, const void *x, void *y)
{
    convt_run(p, q, w, 8, x, y);
}

void qp_convtranspose2d_q16(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q,
                            const int16_t *w, const void *x, void *y)
{
    convt_run(p, q, w, 16, x, y);
}

/* ---- Paths and packing --------------------------------------------------------------------- */

qp_conv2d_q_path qp_conv2d_q_path_of(const qp_conv2d_q_params *p)
{
    if (p->c / p->group == 1 && p->group > 1)
        return QP_CONV_Q_PATH_DEPTHWISE;
    if (p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
        p->pad_left == 0 && p->pad_bottom == 0 && p->pad_right == 0)
        return QP_CONV_Q_PATH_GEMM_1X1;
    return QP_CONV_Q_PATH_IM2COL;
}

/* header | copy of W | per group, a q_gemm packed block of the group's m/group x K rows */
#define CONV_MAGIC 0x71706371u
typedef struct conv_hdr {
    uint32_t magic, bits, path, pad0;
    uint64_t w_bytes, group_bytes;
    uint8_t pad[32];
} conv_hdr;
_Static_assert(sizeof(conv_hdr) == 64, "64-byte header");

static size_t r64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}
static size_t kdim(const qp_conv2d_q_params *p)
{
    return (size_t)(p->c / p->group) * p->kh * p->kw;
}
static size_t conv_packed_size(const qp_conv2d_q_params *p, int bits)
{
    size_t wn = (size_t)p->m * kdim(p), mg = (size_t)(p->m / p->group);
    size_t s = sizeof(conv_hdr) + r64(wn * (size_t)(bits / 8));
    if (qp_conv2d_q_path_of(p) != QP_CONV_Q_PATH_DEPTHWISE)
        s += (size_t)p->group * r64(bits == 8 ? qp_gemm_q8_packed_size(mg, kdim(p))
                                              : qp_gemm_q16_packed_size(mg, kdim(p)));
    return s;
}
size_t qp_conv2d_q8_packed_size(const qp_conv2d_q_params *p)
{
    return conv_packed_size(p, 8);
}
size_t qp_conv2d_q16_packed_size(const qp_conv2d_q_params *p)
{
    return conv_packed_size(p, 16);
}

static void conv_pack(const qp_conv2d_q_params *p, const void *w, int bits, void *packed)
{
    conv_hdr *h = packed;
    memset(h, 0, sizeof *h);
    size_t K = kdim(p), mg = (size_t)(p->m / p->group), esz = (size_t)(bits / 8);
    h->magic = CONV_MAGIC;
    h->bits = (uint32_t)bits;
    h->path = (uint32_t)qp_conv2d_q_path_of(p);
    h->w_bytes = (size_t)p->m * K * esz;
    memcpy(h + 1, w, h->w_bytes);
    if (h->path == QP_CONV_Q_PATH_DEPTHWISE)
        return;
    h->group_bytes = r64(bits == 8 ? qp_gemm_q8_packed_size(mg, K) : qp_gemm_q16_packed_size(mg, K));
    char *g0 = (char *)(h + 1) + r64(h->w_bytes);
    for (int g = 0; g < p->group; g++) {
        const char *wg = (const char *)w + (size_t)g * mg * K * esz;
        if (bits == 8)
            qp_gemm_q8_pack(mg, K, (const int8_t *)wg, K, g0 + (size_t)g * h->group_bytes);
        else
            qp_gemm_q16_pack(mg, K, (const int16_t *)wg, K, g0 + (size_t)g * h->group_bytes);
    }
}
void qp_conv2d_q8_pack(const qp_conv2d_q_params *p, const int8_t *w, void *packed)
{
    conv_pack(p, w, 8, packed);
}
void qp_conv2d_q16_pack(const qp_conv2d_q_params *p, const int16_t *w, void *packed)
{
    conv_pack(p, w, 16, packed);
}

/* Depthwise per worker: the widened weights, then the plane kernel's scratch. */
size_t qp_dwconv2d_q_plane_scratch(const qp_conv2d_q_params *p)
{
    return r64((size_t)p->ow * sizeof(int64_t)) +
           r64(qp_dwconv2d_q_pad_rows(p->oh, p->stride_h, p->kh, p->dil_h) *
               qp_dwconv2d_q_pad_cols(p->ow, p->stride_w, p->kw, p->dil_w) * 2);
}
static size_t dw_per_worker(const qp_conv2d_q_params *p)
{
    return r64((size_t)p->kh * p->kw * sizeof(int32_t)) + qp_dwconv2d_q_plane_scratch(p);
}

size_t qp_conv2d_q_scratch_size(const qp_conv2d_q_params *p, int n_workers)
{
    int nw = n_workers < 1 ? 1 : n_workers;
    if (qp_conv2d_q_path_of(p) == QP_CONV_Q_PATH_DEPTHWISE)
        return (size_t)nw * dw_per_worker(p) + 64;
    return qp_gemm_q_scratch_size(kdim(p), nw);
}

/* ---- Implicit im2col: a B panel straight from X -------------------------------------------- */

typedef qp_im2col_q_ctx im2col_ctx;

/* Row k of the im2col matrix for columns [n0, n0 + nc): (x - zp) or 0 for a padded tap. */
#define IM2COL_ROW(T)                                                                         \
    static void im2col_row_##T(const im2col_ctx *c, size_t k, size_t n0, size_t nc,          \
                               int16_t *row)                                                  \
    {                                                                                         \
        const qp_conv2d_q_params *p = c->p;                                                   \
        int khw = p->kh * p->kw;                                                              \
        int ci = (int)(k / (size_t)khw), i = (int)(k % (size_t)khw) / p->kw, j = (int)(k % (size_t)p->kw); \
        const T *plane = (const T *)c->x + (size_t)ci * p->h * p->w;                          \
        int32_t zp = c->zp;                                                                   \
        size_t t = 0;                                                                         \
        while (t < nc) {                                                                      \
            size_t n = n0 + t;                                                                \
            int oy = (int)(n / (size_t)p->ow), ox = (int)(n % (size_t)p->ow);                 \
            size_t len = (size_t)(p->ow - ox) < nc - t ? (size_t)(p->ow - ox) : nc - t;       \
            int iy = oy * p->stride_h - p->pad_top + i * p->dil_h;                            \
            if (iy < 0 || iy >= p->h) {                                                       \
                memset(row + t, 0, len * sizeof(int16_t));                                    \
                t += len;                                                                     \
                continue;                                                                     \
            }                                                                                 \
            const T *src = plane + (size_t)iy * p->w;                                         \
            int ix0 = ox * p->stride_w - p->pad_left + j * p->dil_w, sw = p->stride_w;        \
            if (ix0 >= 0 && ix0 + (int)(len - 1) * sw < p->w) {                               \
                const T *s = src + ix0;                                                       \
                if (sw == 1)                                                                  \
                    for (size_t u = 0; u < len; u++)                                          \
                        row[t + u] = (int16_t)(s[u] - zp);                                    \
                else                                                                          \
                    for (size_t u = 0; u < len; u++)                                          \
                        row[t + u] = (int16_t)(s[u * (size_t)sw] - zp);                       \
            } else {                                                                          \
                for (size_t u = 0; u < len; u++) {                                            \
                    int ix = ix0 + (int)u * sw;                                               \
                    row[t + u] = ix >= 0 && ix < p->w ? (int16_t)(src[ix] - zp) : 0;          \
                }                                                                             \
            }                                                                                 \
            t += len;                                                                         \
        }                                                                                     \
    }
IM2COL_ROW(uint8_t)
IM2COL_ROW(int8_t)
IM2COL_ROW(int16_t)

void qp_im2col_q_pack__scalar(const void *vctx, size_t n0, size_t nc, size_t K, int16_t *dst)
{
    const im2col_ctx *c = vctx;
    int16_t r0[NR], r1[NR];
    for (size_t k = 0; k < K; k += 2, dst += 2 * NR) {
        memset(r0, 0, sizeof r0);
        memset(r1, 0, sizeof r1);
        for (size_t t = 0; t < 2 && k + t < K; t++) {
            int16_t *r = t ? r1 : r0;
            if (c->type == QP_QTYPE_U8)
                im2col_row_uint8_t(c, k + t, n0, nc, r);
            else if (c->type == QP_QTYPE_I8)
                im2col_row_int8_t(c, k + t, n0, nc, r);
            else
                im2col_row_int16_t(c, k + t, n0, nc, r);
        }
        for (size_t j = 0; j < NR; j++) {
            dst[2 * j] = r0[j];
            dst[2 * j + 1] = r1[j];
        }
    }
}

/* ---- Depthwise direct ---------------------------------------------------------------------- */

#define DW_ACCUM(T)                                                                           \
    static void dw_accum_##T(const qp_dwconv2d_q_plane_args *a, int oy, int64_t *acc)         \
    {                                                                                         \
        const T *x = a->x;                                                                    \
        for (int i = 0; i < a->kh; i++) {                                                     \
            int iy = oy * a->sh - a->pad_top + i * a->dh;                                     \
            if (iy < 0 || iy >= a->h)                                                         \
                continue;                                                                     \
            const T *row = x + (size_t)iy * a->w;                                             \
            for (int j = 0; j < a->kw; j++) {                                                 \
                int64_t wv = a->wgt[i * a->kw + j];                                           \
                int off = j * a->dw - a->pad_left; /* ix = ox * sw + off */                   \
                int lo = off >= 0 ? 0 : (-off + a->sw - 1) / a->sw;                           \
                int hi = a->w - 1 - off < 0 ? -1 : (a->w - 1 - off) / a->sw;                  \
                hi = hi < a->ow - 1 ? hi : a->ow - 1;                                         \
                for (int ox = lo; ox <= hi; ox++)                                             \
                    acc[ox] += wv * (row[ox * a->sw + off] - a->x_zp);                        \
            }                                                                                 \
        }                                                                                     \
    }
DW_ACCUM(uint8_t)
DW_ACCUM(int8_t)
DW_ACCUM(int16_t)

void qp_dwconv2d_q_plane__scalar(const qp_dwconv2d_q_plane_args *a)
{
    int64_t *acc = a->scratch;
    for (int oy = 0; oy < a->oh; oy++) {
        memset(acc, 0, (size_t)a->ow * sizeof *acc);
        if (a->x_type == QP_QTYPE_U8)
            dw_accum_uint8_t(a, oy, acc);
        else if (a->x_type == QP_QTYPE_I8)
            dw_accum_int8_t(a, oy, acc);
        else
            dw_accum_int16_t(a, oy, acc);
        size_t y0 = (size_t)oy * a->ow;
        for (int ox = 0; ox < a->ow; ox++) {
            int32_t v = a->bits == 8 ? qp_requant_i32(qp_acc32(a->bias, acc[ox]), a->mul, a->y_zp,
                                                      a->y_lo, a->y_hi)
                                     : qp_requant_i64(qp_acc64(a->bias, acc[ox]), a->mul, a->y_zp,
                                                      a->y_lo, a->y_hi);
            qp_qstore(a->y, y0 + (size_t)ox, a->y_type, v);
        }
    }
}

#define QP_DWCONV2D_Q_ENTRY_(name, isa) {#name, isa, qp_dwconv2d_q_plane__##name},
const qp_dwconv2d_q_variant qp_dwconv2d_q_variants[] = {
    QP_DWCONV2D_Q_VARIANTS(QP_DWCONV2D_Q_ENTRY_)};
const size_t qp_dwconv2d_q_n_variants =
    sizeof qp_dwconv2d_q_variants / sizeof qp_dwconv2d_q_variants[0];
static _Atomic(const qp_dwconv2d_q_variant *) dw_forced;

void qp_dwconv2d_q_force(const qp_dwconv2d_q_variant *v)
{
    atomic_store(&dw_forced, v);
}

static qp_dwconv2d_q_plane_fn dw_pick(void)
{
    const qp_dwconv2d_q_variant *f = atomic_load(&dw_forced);
    if (f)
        return f->fn;
    qp_isa isa = qp_kernels_isa();
    qp_dwconv2d_q_plane_fn best = qp_dwconv2d_q_plane__scalar;
    qp_isa best_isa = QP_ISA_SCALAR;
    for (size_t i = 0; i < qp_dwconv2d_q_n_variants; i++)
        if (qp_dwconv2d_q_variants[i].isa <= isa && qp_dwconv2d_q_variants[i].isa > best_isa) {
            best = qp_dwconv2d_q_variants[i].fn;
            best_isa = qp_dwconv2d_q_variants[i].isa;
        }
    return best;
}

typedef struct dw_ctx {
    const qp_conv2d_q_params *p;
    const qp_conv2d_q_quant *q;
    const void *w, *x;
    void *y;
    int bits;
    char *scratch;
    size_t per_worker;
    qp_dwconv2d_q_plane_fn fn;
} dw_ctx;

static void dw_task(void *vctx, int task, int worker)
{
    const dw_ctx *c = vctx;
    const qp_conv2d_q_params *p = c->p;
    const qp_conv2d_q_quant *q = c->q;
    int b = task / p->m, o = task % p->m, mg = p->m / p->group;
    int ci = o / mg; /* c/group == 1: the group index is the input channel */
    int khw = p->kh * p->kw;
    int32_t *wp = (int32_t *)(c->scratch + (size_t)worker * c->per_worker);
    for (int t = 0; t < khw; t++)
        wp[t] = (int32_t)wload(c->w, (size_t)o * khw + t, c->bits);
    size_t xsz = qp_qtype_size(q->x_type), ysz = qp_qtype_size(q->y_type);
    qp_dwconv2d_q_plane_args a = {
        .x = (const char *)c->x + ((size_t)b * p->c + ci) * p->h * p->w * xsz,
        .x_type = q->x_type,
        .x_zp = q->x_zp,
        .h = p->h, .w = p->w, .oh = p->oh, .ow = p->ow,
        .kh = p->kh, .kw = p->kw, .sh = p->stride_h, .sw = p->stride_w,
        .dh = p->dil_h, .dw = p->dil_w, .pad_top = p->pad_top, .pad_left = p->pad_left,
        .wgt = wp,
        .bias = q->bias ? (c->bits == 8 ? ((const int32_t *)q->bias)[o]
                                        : ((const int64_t *)q->bias)[o])
                        : 0,
        .bits = c->bits,
        .mul = q->mul[o],
        .y_type = q->y_type,
        .y_zp = q->y_zp, .y_lo = q->y_lo, .y_hi = q->y_hi,
        .y = (char *)c->y + ((size_t)b * p->m + o) * p->oh * p->ow * ysz,
        .scratch = (char *)wp + r64((size_t)khw * sizeof(int32_t)),
    };
    c->fn(&a);
}

/* ---- Driver -------------------------------------------------------------------------------- */

static qp_gemm_q_pack_b_fn im2col_pick(void)
{
    static const struct { qp_isa isa; qp_gemm_q_pack_b_fn fn; } v[] = {
#define QP_IM2COL_Q_ENTRY_(name, isa) {isa, qp_im2col_q_pack__##name},
        QP_IM2COL_Q_VARIANTS(QP_IM2COL_Q_ENTRY_)};
    qp_isa isa = qp_kernels_isa();
    qp_gemm_q_pack_b_fn best = qp_im2col_q_pack__scalar;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i].isa <= isa && qp_kernels_isa_supported(v[i].isa))
            best = v[i].fn;
    return best;
}

static void conv_run(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, const void *packed,
                     int bits, const void *x, void *y, void *scratch)
{
    const conv_hdr *h = packed;
    assert(h->magic == CONV_MAGIC && h->bits == (uint32_t)bits);
    assert(qp_conv2d_q_check(p) == 0 && qp_conv2d_q_quant_check(p, q, bits) == 0);
    const void *w = h + 1;
    if (qp_kernels_isa() == QP_ISA_REF) {
        conv_ref(p, q, w, bits, x, y);
        return;
    }
    char *s = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    if (h->path == QP_CONV_Q_PATH_DEPTHWISE) {
        dw_ctx c = {p, q, w, x, y, bits, s, dw_per_worker(p), dw_pick()};
        qp_parallel_for(p->n * p->m, dw_task, &c);
        return;
    }
    size_t K = kdim(p), mg = (size_t)(p->m / p->group), cg = (size_t)(p->c / p->group);
    size_t hw = (size_t)p->h * p->w, ohw = (size_t)p->oh * p->ow;
    size_t xsz = qp_qtype_size(q->x_type), ysz = qp_qtype_size(q->y_type);
    size_t bsz = bits == 8 ? sizeof(int32_t) : sizeof(int64_t);
    const char *g0 = (const char *)w + r64(h->w_bytes);
    for (int b = 0; b < p->n; b++)
        for (int g = 0; g < p->group; g++) {
            const char *xg = (const char *)x + ((size_t)b * p->c + g * cg) * hw * xsz;
            im2col_ctx ic = {p, xg, q->x_type, q->x_zp};
            qp_gemm_q_args a = {
                .M = mg, .N = ohw, .K = K,
                .packed_a = g0 + (size_t)g * h->group_bytes,
                .B = xg, .ldb = hw, .b_type = q->x_type, .b_zp = q->x_zp,
                .pack_b = h->path == QP_CONV_Q_PATH_IM2COL ? im2col_pick() : NULL,
                .pack_b_ctx = &ic,
                .bias = q->bias ? (const char *)q->bias + (size_t)g * mg * bsz : NULL,
                .mul = q->mul + (size_t)g * mg,
                .c_type = q->y_type, .c_zp = q->y_zp, .c_lo = q->y_lo, .c_hi = q->y_hi,
                .C = (char *)y + ((size_t)b * p->m + (size_t)g * mg) * ohw * ysz,
                .ldc = ohw,
            };
            if (bits == 8)
                qp_gemm_q8(&a, s);
            else
                qp_gemm_q16(&a, s);
        }
}

void qp_conv2d_q8(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, const void *packed,
                  const void *x, void *y, void *scratch)
{
    conv_run(p, q, packed, 8, x, y, scratch);
}

void qp_conv2d_q16(const qp_conv2d_q_params *p, const qp_conv2d_q_quant *q, const void *packed,
                   const void *x, void *y, void *scratch)
{
    conv_run(p, q, packed, 16, x, y, scratch);
}
