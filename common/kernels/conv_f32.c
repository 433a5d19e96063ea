/* float32 convolution: the references, the packing, and the three fast paths (1x1 GEMM,
 * implicit-im2col GEMM, direct depthwise) plus ConvTranspose as GEMM + col2im. */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h> /* baseline on x86-64; other targets take the plain loops */
#endif

#include "qp/conv_f32.h"
#include "qp/gemm_f32.h"
#include "qp/threads.h"

#define PACK_MAGIC 0x43463332u  /* "CF32" */
#define DW_BLOCK_BYTES (48 * 1024) /* input rows one depthwise task keeps in L1/L2 */
#define DW_TASK_MACS 65536      /* small planes are batched into tasks of at least this */
#define CT_COLS_BYTES (1024 * 1024) /* one ConvTranspose column tile */
#define CT_TASK_OPS 32768

typedef struct pack_header {
    uint32_t magic;
    uint32_t path;
    uint32_t isa;
    uint32_t transpose;
    int32_t m, c, kh, kw, group;
    uint8_t pad[28];
} pack_header;
_Static_assert(sizeof(pack_header) == 64, "header keeps the payload 64-byte aligned");

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }
static void *align_ptr(void *p) { return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }
static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }
static int imin(int a, int b) { return a < b ? a : b; }

/* ---- shape checks -------------------------------------------------------------------------- */

static int check_common(const qp_conv2d_f32_params *p)
{
    if (p->n < 1 || p->c < 1 || p->h < 1 || p->w < 1 || p->m < 1 || p->oh < 1 || p->ow < 1 ||
        p->kh < 1 || p->kw < 1 || p->group < 1 || p->stride_h < 1 || p->stride_w < 1 ||
        p->dil_h < 1 || p->dil_w < 1 || p->pad_top < 0 || p->pad_left < 0 ||
        p->pad_bottom < 0 || p->pad_right < 0)
        return -1;
    if (p->c % p->group || p->m % p->group)
        return -1;
    return 0;
}

static int conv_out(int in, int k, int s, int d, int p0, int p1)
{
    long span = (long)in + p0 + p1 - (long)d * (k - 1) - 1;
    return span < 0 ? 0 : (int)(span / s + 1);
}

int qp_conv2d_f32_check(const qp_conv2d_f32_params *p)
{
    if (check_common(p))
        return -1;
    if (p->oh != conv_out(p->h, p->kh, p->stride_h, p->dil_h, p->pad_top, p->pad_bottom) ||
        p->ow != conv_out(p->w, p->kw, p->stride_w, p->dil_w, p->pad_left, p->pad_right))
        return -1;
    return 0;
}

int qp_convtranspose2d_f32_check(const qp_conv2d_f32_params *p)
{
    if (check_common(p))
        return -1;
    long bh = (long)p->stride_h * (p->h - 1) + (long)p->dil_h * (p->kh - 1) + 1 - p->pad_top -
              p->pad_bottom;
    long bw = (long)p->stride_w * (p->w - 1) + (long)p->dil_w * (p->kw - 1) + 1 - p->pad_left -
              p->pad_right;
    long oph = p->oh - bh, opw = p->ow - bw; /* output_padding */
    if (oph < 0 || opw < 0 || oph >= (p->stride_h > p->dil_h ? p->stride_h : p->dil_h) ||
        opw >= (p->stride_w > p->dil_w ? p->stride_w : p->dil_w))
        return -1;
    return 0;
}

/* ---- references ---------------------------------------------------------------------------- */

void qp_conv2d_f32__ref(const qp_conv2d_f32_params *p, const float *w, const float *bias,
                        qp_act act, const float *x, float *y)
{
    int cg = p->c / p->group, mg = p->m / p->group;
    for (int n = 0; n < p->n; n++)
        for (int mo = 0; mo < p->m; mo++) {
            int g = mo / mg;
            for (int oh = 0; oh < p->oh; oh++)
                for (int ow = 0; ow < p->ow; ow++) {
                    float s = 0;
                    for (int cc = 0; cc < cg; cc++) {
                        const float *xc = x + ((size_t)n * p->c + (size_t)g * cg + cc) * p->h * p->w;
                        const float *wc = w + ((size_t)mo * cg + cc) * p->kh * p->kw;
                        for (int i = 0; i < p->kh; i++) {
                            int ih = oh * p->stride_h - p->pad_top + i * p->dil_h;
                            if (ih < 0 || ih >= p->h)
                                continue;
                            for (int j = 0; j < p->kw; j++) {
                                int iw = ow * p->stride_w - p->pad_left + j * p->dil_w;
                                if (iw < 0 || iw >= p->w)
                                    continue;
                                s += xc[(size_t)ih * p->w + iw] * wc[i * p->kw + j];
                            }
                        }
                    }
                    if (bias)
                        s += bias[mo];
                    y[(((size_t)n * p->m + mo) * p->oh + oh) * p->ow + ow] = qp_act_f32__ref(act, s);
                }
        }
}

void qp_convtranspose2d_f32__ref(const qp_conv2d_f32_params *p, const float *w,
                                 const float *bias, qp_act act, const float *x, float *y)
{
    int cg = p->c / p->group, mg = p->m / p->group;
    size_t ohw = (size_t)p->oh * p->ow;
    for (int n = 0; n < p->n; n++)
        for (int mo = 0; mo < p->m; mo++)
            for (size_t i = 0; i < ohw; i++)
                y[((size_t)n * p->m + mo) * ohw + i] = bias ? bias[mo] : 0.0f;
    for (int n = 0; n < p->n; n++)
        for (int ci = 0; ci < p->c; ci++) {
            int g = ci / cg;
            const float *xc = x + ((size_t)n * p->c + ci) * p->h * p->w;
            for (int ih = 0; ih < p->h; ih++)
                for (int iw = 0; iw < p->w; iw++) {
                    float v = xc[(size_t)ih * p->w + iw];
                    for (int ml = 0; ml < mg; ml++) {
                        int mo = g * mg + ml;
                        const float *wk = w + ((size_t)ci * mg + ml) * p->kh * p->kw;
                        float *ym = y + ((size_t)n * p->m + mo) * ohw;
                        for (int i = 0; i < p->kh; i++) {
                            int oh = ih * p->stride_h - p->pad_top + i * p->dil_h;
                            if (oh < 0 || oh >= p->oh)
                                continue;
                            for (int j = 0; j < p->kw; j++) {
                                int ow = iw * p->stride_w - p->pad_left + j * p->dil_w;
                                if (ow < 0 || ow >= p->ow)
                                    continue;
                                ym[(size_t)oh * p->ow + ow] += v * wk[i * p->kw + j];
                            }
                        }
                    }
                }
        }
    size_t total = (size_t)p->n * p->m * ohw;
    for (size_t i = 0; i < total; i++)
        y[i] = qp_act_f32__ref(act, y[i]);
}

/* ---- path and packing ---------------------------------------------------------------------- */

qp_conv2d_f32_path qp_conv2d_f32_path_of(const qp_conv2d_f32_params *p)
{
    if (qp_kernels_isa() == QP_ISA_REF)
        return QP_CONV_PATH_REF;
    if (p->c == p->group && p->kw <= QP_DWCONV2D_KW_MAX)
        return QP_CONV_PATH_DEPTHWISE;
    if (p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
        p->pad_left == 0 && p->pad_bottom == 0 && p->pad_right == 0)
        return QP_CONV_PATH_GEMM_1X1;
    return QP_CONV_PATH_IM2COL;
}

static size_t weights_count(const qp_conv2d_f32_params *p)
{
    return (size_t)p->m * (p->c / p->group) * p->kh * p->kw;
}

/* GEMM shape of one group: conv A is [m/g x c/g*kh*kw]; ConvTranspose A is W_g^T,
 * [m/g*kh*kw x c/g]. */
static void group_gemm_shape(const qp_conv2d_f32_params *p, int transpose, size_t *M, size_t *K)
{
    size_t cg = (size_t)(p->c / p->group), mg = (size_t)(p->m / p->group);
    size_t khw = (size_t)p->kh * p->kw;
    *M = transpose ? mg * khw : mg;
    *K = transpose ? cg : cg * khw;
}

static size_t packed_size(const qp_conv2d_f32_params *p, int transpose)
{
    qp_conv2d_f32_path path = transpose ? (qp_kernels_isa() == QP_ISA_REF ? QP_CONV_PATH_REF
                                                                          : QP_CONV_PATH_IM2COL)
                                        : qp_conv2d_f32_path_of(p);
    if (path == QP_CONV_PATH_REF || path == QP_CONV_PATH_DEPTHWISE)
        return sizeof(pack_header) + align64(weights_count(p) * sizeof(float));
    size_t M, K;
    group_gemm_shape(p, transpose, &M, &K);
    return sizeof(pack_header) + (size_t)p->group * qp_gemm_f32_packed_size(M, K);
}

static void pack(const qp_conv2d_f32_params *p, const float *w, void *packed, int transpose)
{
    pack_header *h = packed;
    memset(h, 0, sizeof *h);
    h->magic = PACK_MAGIC;
    h->path = transpose ? (qp_kernels_isa() == QP_ISA_REF ? QP_CONV_PATH_REF : QP_CONV_PATH_IM2COL)
                        : qp_conv2d_f32_path_of(p);
    h->isa = (uint32_t)qp_kernels_isa();
    h->transpose = (uint32_t)transpose;
    h->m = p->m;
    h->c = p->c;
    h->kh = p->kh;
    h->kw = p->kw;
    h->group = p->group;
    char *dst = (char *)(h + 1);
    if (h->path == QP_CONV_PATH_REF || h->path == QP_CONV_PATH_DEPTHWISE) {
        memcpy(dst, w, weights_count(p) * sizeof(float));
        return;
    }
    size_t M, K;
    group_gemm_shape(p, transpose, &M, &K);
    size_t gsize = qp_gemm_f32_packed_size(M, K);
    size_t per_group = (size_t)(p->m / p->group) * (p->c / p->group) * p->kh * p->kw;
    for (int g = 0; g < p->group; g++, dst += gsize) {
        const float *wg = w + (size_t)g * per_group;
        if (transpose) /* W [c, m/g, kh, kw]: A_g[r][cc] = W[g*cg + cc][r] */
            qp_gemm_f32_pack_a_strided(M, K, wg, 1, M, dst);
        else
            qp_gemm_f32_pack_a(M, K, wg, K, dst);
    }
}

size_t qp_conv2d_f32_packed_size(const qp_conv2d_f32_params *p) { return packed_size(p, 0); }
void qp_conv2d_f32_pack(const qp_conv2d_f32_params *p, const float *w, void *packed)
{
    pack(p, w, packed, 0);
}
size_t qp_convtranspose2d_f32_packed_size(const qp_conv2d_f32_params *p)
{
    return packed_size(p, 1);
}
void qp_convtranspose2d_f32_pack(const qp_conv2d_f32_params *p, const float *w, void *packed)
{
    pack(p, w, packed, 1);
}

static const pack_header *check_packed(const qp_conv2d_f32_params *p, const void *packed,
                                       int transpose)
{
    const pack_header *h = packed;
    assert(h->magic == PACK_MAGIC && (int)h->transpose == transpose && h->m == p->m &&
           h->c == p->c && h->kh == p->kh && h->kw == p->kw && h->group == p->group);
    (void)p;
    (void)transpose;
    return h;
}

/* ---- depthwise ----------------------------------------------------------------------------- */

/* The input block of one task: enough rows for out_rows output rows, each row split into
 * stride_w phases of pw floats (so every tap of every stride reads contiguous floats). */
typedef struct dw_geom {
    size_t pw, row;          /* floats per phase, per input row */
    int rows_per_block, nblocks;
    int planes_per_task, ntasks;
    size_t worker_bytes;
} dw_geom;

static int dw_rows_in(const qp_conv2d_f32_params *p, int out_rows)
{
    return (out_rows - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
}

static dw_geom dw_plan(const qp_conv2d_f32_params *p)
{
    dw_geom d;
    size_t owv = ceil_div((size_t)p->ow, 8) * 8;
    /* + 8: the 3x3 row kernel runs two vectors past the last full one */
    d.pw = owv + 8 + (size_t)((p->kw - 1) * p->dil_w / p->stride_w);
    d.row = d.pw * (size_t)p->stride_w;
    size_t fit = DW_BLOCK_BYTES / (d.row * sizeof(float));
    int min_in = dw_rows_in(p, 1);
    int rows = fit <= (size_t)min_in ? 1 : (int)((fit - (size_t)min_in) / (size_t)p->stride_h) + 1;
    d.rows_per_block = imin(rows, p->oh);
    d.nblocks = (p->oh + d.rows_per_block - 1) / d.rows_per_block;
    size_t plane_macs = (size_t)p->oh * p->ow * p->kh * p->kw;
    size_t planes = (size_t)p->n * p->m;
    d.planes_per_task = 1;
    if (d.nblocks == 1 && plane_macs < DW_TASK_MACS) {
        size_t k = DW_TASK_MACS / (plane_macs ? plane_macs : 1);
        d.planes_per_task = (int)(k < planes ? k : planes);
    }
    d.ntasks = (int)(ceil_div(planes, (size_t)d.planes_per_task) * (size_t)d.nblocks);
    d.worker_bytes = align64((size_t)dw_rows_in(p, d.rows_per_block) * d.row * sizeof(float)) + 64;
    return d;
}

/* Short zero-fills and copies (a depthwise input row is often 20-80 floats): inline, since
 * a libc call per run costs as much as the run. */
static inline void zero_floats(float *d, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(d + i, _mm_setzero_ps());
#endif
    for (; i < n; i++)
        d[i] = 0.0f;
}

static inline void copy_floats(float *d, const float *s, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(d + i, _mm_loadu_ps(s + i));
#endif
    for (; i < n; i++)
        d[i] = s[i];
}

/* The padding sits at the same places for every plane of a task, so with data_only (every
 * plane after the task's first) only the input values are written. */
static void dw_fill_block(const qp_conv2d_f32_params *p, const dw_geom *d, const float *xc,
                          int ih0, int nrows, float *buf, int data_only)
{
    int sw = p->stride_w;
    for (int r = 0; r < nrows; r++) {
        float *dst = buf + (size_t)r * d->row;
        int ih = ih0 + r;
        if (ih < 0 || ih >= p->h) {
            if (!data_only)
                zero_floats(dst, d->row);
            continue;
        }
        const float *src = xc + (size_t)ih * p->w;
        if (sw == 2 && (size_t)(p->pad_left + p->w + 1) / 2 <= d->pw) {
            /* the stride-2 layers: one de-interleaving pass over the input row */
            float *ph[2] = {dst, dst + d->pw};
            int q0 = p->pad_left & 1; /* phase of column 0 */
            size_t ea = (size_t)p->pad_left / 2, eb = (size_t)(p->pad_left + 1) / 2;
            size_t na = (size_t)(p->w + 1) / 2, nb = (size_t)p->w / 2;
            float *a = ph[q0], *b = ph[q0 ^ 1];
            /* zero only what the input does not cover */
            if (!data_only) {
                zero_floats(a, ea);
                zero_floats(a + ea + na, d->pw - ea - na);
                zero_floats(b, eb);
                zero_floats(b + eb + nb, d->pw - eb - nb);
            }
            a += ea;
            b += eb;
            size_t i = 0;
#ifdef __SSE2__
            for (; i + 4 <= nb && 2 * i + 8 <= (size_t)p->w; i += 4) {
                __m128 lo = _mm_loadu_ps(src + 2 * i), hi = _mm_loadu_ps(src + 2 * i + 4);
                _mm_storeu_ps(a + i, _mm_shuffle_ps(lo, hi, 0x88));
                _mm_storeu_ps(b + i, _mm_shuffle_ps(lo, hi, 0xDD));
            }
#endif
            for (; i < nb; i++) {
                a[i] = src[2 * i];
                b[i] = src[2 * i + 1];
            }
            if (na > nb)
                a[nb] = src[2 * nb];
            continue;
        }
        if (sw == 1) {
            /* the common case: one row, pad_left zeros, the input row, zeros to pw */
            size_t e0 = (size_t)p->pad_left < d->pw ? (size_t)p->pad_left : d->pw;
            size_t e1 = e0 + (size_t)p->w < d->pw ? e0 + (size_t)p->w : d->pw;
            if (!data_only) {
                zero_floats(dst, e0);
                zero_floats(dst + e1, d->pw - e1);
            }
            if (e1 - e0 >= 32)
                memcpy(dst + e0, src, (e1 - e0) * sizeof(float));
            else
                copy_floats(dst + e0, src, e1 - e0);
            continue;
        }
        for (int q = 0; q < sw; q++, dst += d->pw) {
            /* element e holds column e*sw + q - pad_left */
            long first = (long)p->pad_left - q; /* e*sw >= first */
            size_t e0 = first <= 0 ? 0 : (size_t)((first + sw - 1) / sw);
            long last = (long)p->w - 1 + p->pad_left - q; /* e*sw <= last */
            size_t e1 = last < 0 ? 0 : (size_t)(last / sw) + 1;
            if (e0 > d->pw)
                e0 = d->pw;
            if (e1 > d->pw)
                e1 = d->pw;
            if (e1 < e0)
                e1 = e0;
            if (!data_only)
                zero_floats(dst, e0);
            if (e1 == e0) {
                /* the whole phase row is padding */
            } else if (sw == 1) {
                copy_floats(dst + e0, src + (e0 - (size_t)p->pad_left), e1 - e0);
            } else {
                const float *s = src + ((long)e0 * sw + q - p->pad_left);
                for (size_t e = e0; e < e1; e++, s += sw)
                    dst[e] = *s;
            }
            if (!data_only)
                zero_floats(dst + e1, d->pw - e1);
        }
    }
}

void qp_dwconv2d_f32_rows__scalar(const qp_dwconv2d_f32_rows_args *a)
{
    for (int r = 0; r < a->out_rows; r++) {
        const float *base = a->in + (size_t)r * a->sh * a->in_row;
        float *out = a->out + (size_t)r * a->ldy;
        for (int o = 0; o < a->ow; o++) {
            float s = a->bias;
            for (int i = 0; i < a->kh; i++) {
                const float *row = base + (size_t)i * a->dh * a->in_row;
                for (int j = 0; j < a->kw; j++) {
                    int t = j * a->dw;
                    s += a->wgt[i * a->kw + j] * row[(size_t)(t % a->sw) * a->pw + t / a->sw + o];
                }
            }
            if (a->clamp) {
                s = s > a->lo ? s : a->lo;
                s = s < a->hi ? s : a->hi;
            }
            out[o] = s;
        }
    }
}

typedef struct dw_ctx {
    const qp_conv2d_f32_params *p;
    dw_geom d;
    const float *w, *bias, *x;
    float *y;
    qp_act act;
    unsigned clamp;
    float lo, hi;
    qp_dwconv2d_f32_rows_fn rows;
    char *scratch;
} dw_ctx;

static void dw_task(void *vctx, int task, int worker)
{
    const dw_ctx *x = vctx;
    const qp_conv2d_f32_params *p = x->p;
    const dw_geom *d = &x->d;
    float *buf = align_ptr(x->scratch + (size_t)worker * d->worker_bytes);
    int block = task % d->nblocks;
    size_t planes = (size_t)p->n * p->m;
    size_t pl0 = (size_t)(task / d->nblocks) * (size_t)d->planes_per_task;
    size_t pl1 = pl0 + (size_t)d->planes_per_task < planes ? pl0 + (size_t)d->planes_per_task : planes;
    int oh0 = block * d->rows_per_block;
    int rows = imin(d->rows_per_block, p->oh - oh0);
    int mult = p->m / p->group;
    for (size_t pl = pl0; pl < pl1; pl++) {
        int n = (int)(pl / (size_t)p->m), mo = (int)(pl % (size_t)p->m);
        int ci = mo / mult;
        const float *xc = x->x + ((size_t)n * p->c + ci) * p->h * p->w;
        dw_fill_block(p, d, xc, oh0 * p->stride_h - p->pad_top, dw_rows_in(p, rows), buf,
                      pl != pl0);
        qp_dwconv2d_f32_rows_args a;
        a.in = buf;
        a.in_row = d->row;
        a.pw = d->pw;
        a.out_rows = rows;
        a.ow = p->ow;
        a.kh = p->kh;
        a.kw = p->kw;
        a.sh = p->stride_h;
        a.sw = p->stride_w;
        a.dh = p->dil_h;
        a.dw = p->dil_w;
        a.wgt = x->w + (size_t)mo * p->kh * p->kw;
        a.bias = x->bias ? x->bias[mo] : 0.0f;
        a.clamp = x->clamp;
        a.lo = x->lo;
        a.hi = x->hi;
        a.out = x->y + (((size_t)n * p->m + mo) * p->oh + oh0) * p->ow;
        a.ldy = (size_t)p->ow;
        x->rows(&a);
        if (!x->clamp && x->act.kind != QP_ACT_NONE)
            qp_vact_f32(x->act, (size_t)rows * p->ow, a.out, a.out);
    }
}

static qp_dwconv2d_f32_rows_fn dw_pick(void)
{
    static const struct {
        qp_isa isa;
        qp_dwconv2d_f32_rows_fn fn;
    } variants[] = {
#define QP_DW_ENTRY_(name, isa) {isa, qp_dwconv2d_f32_rows__##name},
        QP_DWCONV2D_F32_VARIANTS(QP_DW_ENTRY_)
#undef QP_DW_ENTRY_
    };
    qp_isa isa = qp_kernels_isa();
    qp_dwconv2d_f32_rows_fn best = qp_dwconv2d_f32_rows__scalar;
    qp_isa best_isa = QP_ISA_REF;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        if (variants[i].isa <= isa && variants[i].isa >= best_isa &&
            qp_kernels_isa_supported(variants[i].isa)) {
            best = variants[i].fn;
            best_isa = variants[i].isa;
        }
    return best;
}

/* ReLU and Clip run inside the row and GEMM kernels; other activations in a pass after. */
static unsigned act_clamp(qp_act act, float *lo, float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (act.kind == QP_ACT_RELU) {
        *lo = 0;
        return 1;
    }
    if (act.kind == QP_ACT_CLIP) {
        *lo = act.alpha;
        *hi = act.beta;
        return 1;
    }
    return 0;
}

static void conv_depthwise(const qp_conv2d_f32_params *p, const float *w, const float *bias,
                           qp_act act, const float *x, float *y, void *scratch)
{
    dw_ctx c;
    c.p = p;
    c.d = dw_plan(p);
    c.w = w;
    c.bias = bias;
    c.x = x;
    c.y = y;
    c.act = act;
    c.clamp = act_clamp(act, &c.lo, &c.hi);
    c.rows = dw_pick();
    c.scratch = scratch;
    qp_parallel_for(c.d.ntasks, dw_task, &c);
}

/* ---- implicit im2col ----------------------------------------------------------------------- */

typedef struct im2col_ctx {
    const qp_conv2d_f32_params *p;
    const float *x; /* first input channel of the group */
} im2col_ctx;

/* Writes consecutive B columns of one row k into the nr-wide panels (a panel row every jump
 * floats).  Whole aligned 16-column pieces take the unrolled paths; the rest goes one float
 * at a time. */
typedef struct panel_cursor {
    float *d;     /* the current panel row */
    size_t r;     /* column inside it */
    size_t nr, jump;
} panel_cursor;

static inline void cursor_step(panel_cursor *cu, size_t t)
{
    cu->r += t;
    if (cu->r == cu->nr) {
        cu->r = 0;
        cu->d += cu->jump;
    }
}

static void emit_zero(panel_cursor *cu, size_t len)
{
    while (len) {
        size_t t = cu->nr - cu->r < len ? cu->nr - cu->r : len;
        float *d = cu->d + cu->r;
        if (t == 16) {
            static const float z[16];
            memcpy(d, z, sizeof z); /* constant size: inlined */
        } else {
            for (size_t u = 0; u < t; u++)
                d[u] = 0.0f;
        }
        cursor_step(cu, t);
        len -= t;
    }
}

/* len floats from src[0], src[sw], ...; reads nothing past src[(len-1)*sw]. */
static void emit_copy(panel_cursor *cu, const float *src, int sw, size_t len)
{
    while (len) {
        size_t t = cu->nr - cu->r < len ? cu->nr - cu->r : len;
        float *d = cu->d + cu->r;
        size_t u = 0;
        if (sw == 1) {
            if (t == 16)
                memcpy(d, src, 16 * sizeof(float)); /* constant size: inlined */
            else
                for (; u < t; u++)
                    d[u] = src[u];
        } else if (sw == 2) {
#ifdef __SSE2__
            /* a group of 4 reads src[2u .. 2u+7]: stop where that would pass the last read */
            for (; u + 4 <= t && 2 * u + 7 <= 2 * (len - 1); u += 4) {
                __m128 l0 = _mm_loadu_ps(src + 2 * u), l1 = _mm_loadu_ps(src + 2 * u + 4);
                _mm_storeu_ps(d + u, _mm_shuffle_ps(l0, l1, 0x88));
            }
#endif
            for (; u < t; u++)
                d[u] = src[2 * u];
        } else {
            for (; u < t; u++)
                d[u] = src[u * (size_t)sw];
        }
        src += t * (size_t)sw;
        cursor_step(cu, t);
        len -= t;
    }
}

static void im2col_pack(const void *vctx, size_t k0, size_t kc, size_t n0, size_t nc, size_t nr,
                        float *dst)
{
    const im2col_ctx *x = vctx;
    const qp_conv2d_f32_params *p = x->p;
    size_t khw = (size_t)p->kh * p->kw;
    int sw = p->stride_w;
    for (size_t kk = 0; kk < kc; kk++) {
        size_t k = k0 + kk;
        int c = (int)(k / khw), i = (int)(k % khw) / p->kw, j = (int)(k % khw) % p->kw;
        const float *xc = x->x + (size_t)c * p->h * p->w;
        panel_cursor cu = {dst + kk * nr, 0, nr, kc * nr};
        int off = j * p->dil_w - p->pad_left;
        /* output columns whose tap lies inside the image: ow in [lo, hi) */
        int lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        int hi = p->w - 1 - off < 0 ? 0 : (p->w - 1 - off) / sw + 1;
        if (hi > p->ow)
            hi = p->ow;
        if (lo > hi)
            lo = hi;
        int oh = (int)(n0 / (size_t)p->ow), ow0 = (int)(n0 % (size_t)p->ow);
        size_t left = nc;
        while (left) {
            int len = (int)(left < (size_t)(p->ow - ow0) ? left : (size_t)(p->ow - ow0));
            int ih = oh * p->stride_h - p->pad_top + i * p->dil_h;
            if (ih < 0 || ih >= p->h) {
                emit_zero(&cu, (size_t)len);
            } else {
                int a = ow0, b = ow0 + len;
                int za = a < lo ? (lo < b ? lo : b) : a;   /* [a, za): left padding */
                int zb = b > hi ? (hi > za ? hi : za) : b; /* [za, zb): inside */
                emit_zero(&cu, (size_t)(za - a));
                if (zb > za) /* output column ow reads input column ow*sw + off >= 0 */
                    emit_copy(&cu, xc + (size_t)ih * p->w + (za * sw + off), sw,
                              (size_t)(zb - za));
                emit_zero(&cu, (size_t)(b - zb));
            }
            left -= (size_t)len;
            oh++;
            ow0 = 0;
        }
        if (cu.r) /* the last panel's columns past nc */
            for (size_t u = cu.r; u < nr; u++)
                cu.d[u] = 0.0f;
    }
}

/* ---- conv entry points --------------------------------------------------------------------- */

size_t qp_conv2d_f32_scratch_size(const qp_conv2d_f32_params *p, int n_workers)
{
    size_t nw = (size_t)(n_workers < 1 ? 1 : n_workers);
    switch (qp_conv2d_f32_path_of(p)) {
    case QP_CONV_PATH_REF:
        return 0;
    case QP_CONV_PATH_DEPTHWISE:
        return dw_plan(p).worker_bytes * nw;
    case QP_CONV_PATH_GEMM_1X1:
        return qp_gemm_f32_scratch_size((size_t)(p->m / p->group), (size_t)p->h * p->w,
                                        (size_t)(p->c / p->group), n_workers);
    case QP_CONV_PATH_IM2COL:
    case QP_CONV_PATH_COUNT:
        break;
    }
    return qp_gemm_f32_scratch_size((size_t)(p->m / p->group), (size_t)p->oh * p->ow,
                                    (size_t)(p->c / p->group) * p->kh * p->kw, n_workers);
}

void qp_conv2d_f32(const qp_conv2d_f32_params *p, const void *packed, const float *bias,
                   qp_act act, const float *x, float *y, void *scratch)
{
    assert(qp_conv2d_f32_check(p) == 0);
    const pack_header *h = check_packed(p, packed, 0);
    const float *w = (const float *)(h + 1);
    if (h->path == QP_CONV_PATH_REF) {
        qp_conv2d_f32__ref(p, w, bias, act, x, y);
        return;
    }
    if (h->path == QP_CONV_PATH_DEPTHWISE) {
        conv_depthwise(p, w, bias, act, x, y, scratch);
        return;
    }
    size_t M, K;
    group_gemm_shape(p, 0, &M, &K);
    size_t gsize = qp_gemm_f32_packed_size(M, K);
    size_t cg = (size_t)(p->c / p->group);
    size_t hw = (size_t)p->h * p->w, ohw = (size_t)p->oh * p->ow;
    for (int n = 0; n < p->n; n++)
        for (int g = 0; g < p->group; g++) {
            const float *xg = x + ((size_t)n * p->c + (size_t)g * cg) * hw;
            qp_gemm_f32_args a = {0};
            a.M = M;
            a.N = ohw;
            a.K = K;
            a.packed_a = (const char *)w + (size_t)g * gsize;
            a.bias = bias ? bias + (size_t)g * M : NULL;
            a.act = act;
            a.C = y + ((size_t)n * p->m + (size_t)g * M) * ohw;
            a.ldc = ohw;
            im2col_ctx ic = {p, xg};
            if (h->path == QP_CONV_PATH_GEMM_1X1) {
                a.B = xg;
                a.ldb = hw;
            } else {
                a.pack_b = im2col_pack;
                a.pack_b_ctx = &ic;
            }
            qp_gemm_f32_ex(&a, scratch);
        }
}

/* ---- ConvTranspose ------------------------------------------------------------------------- */

typedef struct ct_geom {
    size_t M, K;       /* per-group GEMM: M = m/g*kh*kw rows, K = c/g */
    size_t tile;       /* input pixels per column tile */
    size_t cols_bytes;
} ct_geom;

static ct_geom ct_plan(const qp_conv2d_f32_params *p)
{
    ct_geom t;
    group_gemm_shape(p, 1, &t.M, &t.K);
    size_t hw = (size_t)p->h * p->w;
    size_t tile = CT_COLS_BYTES / (t.M * sizeof(float));
    tile = tile < 16 ? 16 : tile / 16 * 16;
    t.tile = tile < hw ? tile : hw;
    t.cols_bytes = align64(t.M * t.tile * sizeof(float)) + 64;
    return t;
}

size_t qp_convtranspose2d_f32_scratch_size(const qp_conv2d_f32_params *p, int n_workers)
{
    if (qp_kernels_isa() == QP_ISA_REF)
        return 0;
    ct_geom t = ct_plan(p);
    return t.cols_bytes + qp_gemm_f32_scratch_size(t.M, t.tile, t.K, n_workers);
}

typedef struct ct_ctx {
    const qp_conv2d_f32_params *p;
    const float *cols;
    size_t ldc, pix0, pix1;
    float *y;   /* first output channel of the group, this image */
    int chunk;  /* output channels per task */
    int mg;
} ct_ctx;

/* Scatter-adds the column tile into the output channels of one task, taps in (i, j) order and
 * pixels in order, so every output element sees the same sequence of additions. */
static void col2im_task(void *vctx, int task, int worker)
{
    const ct_ctx *x = vctx;
    const qp_conv2d_f32_params *p = x->p;
    (void)worker;
    int m0 = task * x->chunk, m1 = imin(m0 + x->chunk, x->mg);
    size_t ohw = (size_t)p->oh * p->ow;
    for (int ml = m0; ml < m1; ml++) {
        float *ym = x->y + (size_t)ml * ohw;
        for (int i = 0; i < p->kh; i++)
            for (int j = 0; j < p->kw; j++) {
                const float *col = x->cols + (((size_t)ml * p->kh + i) * p->kw + j) * x->ldc;
                int off = j * p->dil_w - p->pad_left;
                /* input columns whose output lands inside: iw in [lo, hi) */
                int sw = p->stride_w;
                int lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int hi = p->ow - 1 - off < 0 ? 0 : (p->ow - 1 - off) / sw + 1;
                if (hi > p->w)
                    hi = p->w;
                size_t pix = x->pix0;
                while (pix < x->pix1) {
                    int ih = (int)(pix / (size_t)p->w), iw0 = (int)(pix % (size_t)p->w);
                    int iw1 = imin(p->w, iw0 + (int)(x->pix1 - pix));
                    int oh = ih * p->stride_h - p->pad_top + i * p->dil_h;
                    int a = iw0 > lo ? iw0 : lo, b = iw1 < hi ? iw1 : hi;
                    if (oh >= 0 && oh < p->oh && a < b) {
                        float *yr = ym + (size_t)oh * p->ow; /* column iw lands on iw*sw + off */
                        const float *cr = col + (pix - x->pix0) + (size_t)(a - iw0);
                        if (sw == 1) {
                            float *yo = yr + (a + off);
                            for (int t = 0; t < b - a; t++)
                                yo[t] += cr[t];
                        } else {
                            for (int t = 0; t < b - a; t++)
                                yr[(a + t) * sw + off] += cr[t];
                        }
                    }
                    pix += (size_t)(iw1 - iw0);
                }
            }
    }
}

typedef struct plane_ctx {
    float *y;
    const float *bias;
    size_t hw;
    int m;
    qp_act act;
    int fill; /* 1: set to bias, 0: apply act */
} plane_ctx;

static void plane_task(void *vctx, int task, int worker)
{
    const plane_ctx *x = vctx;
    (void)worker;
    float *y = x->y + (size_t)task * x->hw;
    if (x->fill) {
        float b = x->bias ? x->bias[task % x->m] : 0.0f;
        for (size_t i = 0; i < x->hw; i++)
            y[i] = b;
    } else {
        qp_vact_f32(x->act, x->hw, y, y);
    }
}

void qp_convtranspose2d_f32(const qp_conv2d_f32_params *p, const void *packed, const float *bias,
                            qp_act act, const float *x, float *y, void *scratch)
{
    assert(qp_convtranspose2d_f32_check(p) == 0);
    const pack_header *h = check_packed(p, packed, 1);
    const float *w = (const float *)(h + 1);
    if (h->path == QP_CONV_PATH_REF) {
        qp_convtranspose2d_f32__ref(p, w, bias, act, x, y);
        return;
    }
    ct_geom t = ct_plan(p);
    float *cols = align_ptr(scratch);
    void *gscratch = (char *)scratch + t.cols_bytes;
    size_t gsize = qp_gemm_f32_packed_size(t.M, t.K);
    size_t hw = (size_t)p->h * p->w, ohw = (size_t)p->oh * p->ow;
    int mg = p->m / p->group;
    size_t cg = t.K;
    int planes = p->n * p->m;

    plane_ctx pc = {y, bias, ohw, p->m, act, 1};
    qp_parallel_for(planes, plane_task, &pc);
    size_t ch_ops = ohw * (size_t)p->kh * p->kw;
    int chunk = ch_ops >= CT_TASK_OPS ? 1 : (int)(CT_TASK_OPS / (ch_ops ? ch_ops : 1));
    chunk = imin(chunk, mg);
    qp_act none = {QP_ACT_NONE, 0, 0};
    for (int n = 0; n < p->n; n++)
        for (int g = 0; g < p->group; g++) {
            const float *xg = x + ((size_t)n * p->c + (size_t)g * cg) * hw;
            for (size_t pix0 = 0; pix0 < hw; pix0 += t.tile) {
                size_t npix = hw - pix0 < t.tile ? hw - pix0 : t.tile;
                qp_gemm_f32(t.M, npix, t.K, (const char *)w + (size_t)g * gsize, xg + pix0, hw,
                            NULL, none, cols, t.tile, gscratch);
                ct_ctx c = {p, cols, t.tile, pix0, pix0 + npix,
                            y + ((size_t)n * p->m + (size_t)g * mg) * ohw, chunk, mg};
                qp_parallel_for((mg + chunk - 1) / chunk, col2im_task, &c);
            }
        }
    if (act.kind != QP_ACT_NONE) {
        pc.fill = 0;
        qp_parallel_for(planes, plane_task, &pc);
    }
}
