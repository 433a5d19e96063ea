/* Quantized nn rules: Conv, ConvTranspose, Gemm, MatMul, BatchNormalization, MaxPool,
 * AveragePool, GlobalAveragePool, GlobalMaxPool and Softmax.
 *
 * Convolutions and matrix products are 8-bit layers when their weight entry is u8/i8 (the
 * input must then be u8 or i8; anything else is converted at the boundary) and 16-bit layers
 * when it is i16 (the input i16 with zero point 0: an 8-bit input is widened without loss).
 * Weights are quantized once from the graph's floats with the weight entry (per tensor, or per
 * output channel when it has one scale per channel) and packed; the float bias becomes int32
 * (8-bit) or int64 (16-bit) at scale s_x * s_w[c]; the layer multiplier of channel c is
 * s_x * s_w[c] / s_y (qp/requant.h sections 3-5).  Asymmetric u8 weights whose q - zp leave the
 * int8 range run on the 16-bit kernel with the 8-bit accumulator rule, which gives the same
 * integers as long as the int32 saturation cannot be reached (checked at prepare).
 * BatchNormalization is a depthwise 1x1 convolution: per channel a = scale / sqrt(var + eps),
 * b = bias - mean a, with its weight entry if the table has one, else per-channel symmetric
 * weights (the largest |q| of each channel 127 or 32767). */
#include <math.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/move_copy.h"
#include "qp/nn.h"
#include "qp/op.h"
#include "qp/q_conv2d.h"
#include "qp/q_gemm.h"
#include "qp/q_pool.h"
#include "qp/q_softmax.h"
#include "qp/qops.h"
#include "qp/threads.h"

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* ---- weights ------------------------------------------------------------------------------- */

/* The integer side of a weighted layer: weights already minus their zero point, per output
 * channel scales, biases and multipliers. */
typedef struct wq {
    int bits;                   /* kernel: 8 or 16 */
    int widen;                  /* an 8-bit layer on the 16-bit kernel */
    size_t m;                   /* output channels */
    double *sw;                 /* m weight scales */
    void *w;                    /* int8 or int16, the weight's own layout */
    void *bias;                 /* m int32 (bits 8) or int64 (bits 16) */
    qp_qmul *mul;               /* m */
} wq;

/* Quantizes the float weights wf[count] with entry e; channel_of(i) gives the output channel
 * of element i.  Fills q->sw, q->w (int16 scratch first: the caller narrows). */
typedef size_t (*channel_fn)(const void *ctx, size_t i);

static int quant_weights(qp_qnode *n, qp_arena *a, const qp_qentry *e, const float *wf, size_t count, size_t m,
                         channel_fn channel_of, const void *cctx, wq *q, int16_t **wide)
{
    const qp_graph *g = n->g;
    if (!e || qp_quantizer_is_float(e->quantizer))
        return qp_qops_error(g, n->ni, "the output is quantized but the weight has no quantized table entry");
    int t = qp_qtype_of_dtype(e->qtype);
    if (t != QP_QTYPE_U8 && t != QP_QTYPE_I8 && t != QP_QTYPE_I16)
        return qp_qops_error(g, n->ni, "weights of type %s are not supported (u8, i8 or i16)", qp_dtype_name(e->qtype));
    if (e->n != 1 && (size_t)e->n != m)
        return qp_qops_error(g, n->ni, "the weight entry has %d scales for %zu output channels", e->n, m);
    q->m = m;
    q->sw = qp_arena_array(a, m + 1, sizeof *q->sw);
    int32_t *zp = qp_arena_array(a, m + 1, sizeof *zp);
    *wide = qp_arena_array(a, count + 1, sizeof **wide);
    if (!q->sw || !zp || !*wide)
        return QP_ESYS;
    for (size_t c = 0; c < m; c++) {
        size_t k = e->n == 1 ? 0 : c;
        q->sw[c] = e->scale ? e->scale[k] : 0;
        if (e->quantizer == QP_QZ_DYNAMIC_FIXED_POINT && !(q->sw[c] > 0))
            q->sw[c] = ldexp(1.0, -e->fl);
        zp[c] = e->zero_point ? e->zero_point[k] : 0;
        if (!(q->sw[c] > 0) || !isfinite(q->sw[c]))
            return qp_qops_error(g, n->ni, "weight scale %g of channel %zu is not a positive number", q->sw[c], c);
        if (zp[c] < qp_qtype_min((qp_qtype)t) || zp[c] > qp_qtype_max((qp_qtype)t))
            return qp_qops_error(g, n->ni, "weight zero point %d is outside %s", (int)zp[c], qp_qtype_name((qp_qtype)t));
    }
    int32_t lo = (int32_t)qp_qtype_min((qp_qtype)t), hi = (int32_t)qp_qtype_max((qp_qtype)t);
    int fits8 = 1;
    for (size_t i = 0; i < count; i++) {
        size_t c = channel_of(cctx, i);
        int32_t v = qp_quantize_clamp(wf[i], q->sw[c], zp[c], lo, hi) - zp[c];
        (*wide)[i] = (int16_t)v;
        fits8 &= v >= -128 && v <= 127;
    }
    q->bits = t == QP_QTYPE_I16 ? 16 : 8;
    q->widen = q->bits == 8 && !fits8;
    return 0;
}

/* The int8 or int16 weights of q (from the int16 values). */
static int narrow_weights(qp_arena *a, wq *q, const int16_t *wide, size_t count)
{
    if (q->bits == 8 && !q->widen) {
        int8_t *w8 = qp_arena_alloc(a, count + 1);
        if (!w8)
            return QP_ESYS;
        for (size_t i = 0; i < count; i++)
            w8[i] = (int8_t)wide[i];
        q->w = w8;
    } else {
        q->w = (void *)wide;
    }
    return 0;
}

/* Biases (bf[m] floats, or NULL) and multipliers; K the products per output (for the widened
 * path's saturation check) and wmax the largest |w|. */
static int quant_bias_mul(qp_qnode *n, qp_arena *a, wq *q, const float *bf, double alpha, double beta, double s_x,
                          double s_y, size_t K, const int16_t *wide, size_t count)
{
    size_t m = q->m;
    int b64 = q->bits == 16 || q->widen;
    q->bias = qp_arena_array(a, m + 1, b64 ? sizeof(int64_t) : sizeof(int32_t));
    q->mul = qp_arena_array(a, m + 1, sizeof *q->mul);
    if (!q->bias || !q->mul)
        return QP_ESYS;
    /* qtable --bias-correction: one real value per output channel, added to the bias */
    const double *corr = n->table && n->table->bias_corr ? n->table->bias_corr[n->ni] : NULL;
    if (corr && (size_t)qp_qtable_bias_corr_channels(n->g, n->ni) != m)
        return qp_qops_error(n->g, n->ni, "the bias correction has %d values for %zu output channels",
                             qp_qtable_bias_corr_channels(n->g, n->ni), m);
    int64_t wmax = 0;
    for (size_t i = 0; q->widen && i < count; i++)
        wmax = wide[i] < 0 ? (-wide[i] > wmax ? -wide[i] : wmax) : (wide[i] > wmax ? wide[i] : wmax);
    for (size_t c = 0; c < m; c++) {
        double sb = s_x * q->sw[c], b = (bf ? beta * (double)bf[c] : 0) + (corr ? corr[c] : 0);
        if (q->bits == 8) {
            int32_t v = qp_quantize_bias32(b, sb);
            if (q->widen) {
                /* the 8-bit rule saturates bias + sum to int32: prove it cannot happen */
                if ((double)(v < 0 ? -(int64_t)v : v) + (double)K * (double)wmax * 255.0 > 2147483647.0)
                    return qp_qops_error(n->g, n->ni, "u8 weights with zero point leave int8 and the int32 "
                                                      "accumulator could saturate");
                ((int64_t *)q->bias)[c] = v;
            } else
                ((int32_t *)q->bias)[c] = v;
        } else
            ((int64_t *)q->bias)[c] = qp_quantize_bias64(b, sb);
        if (qp_requant_multiplier(alpha * s_x * q->sw[c] / s_y, &q->mul[c]))
            return qp_qops_error(n->g, n->ni, "multiplier %g of channel %zu cannot be represented",
                                 alpha * s_x * q->sw[c] / s_y, c);
    }
    return 0;
}

/* The input representation a layer of q's kernel needs. */
static int want_layer_input(qp_qnode *n, int i, const wq *q)
{
    if (q->bits == 16 || q->widen)
        return qp_qops_want_q16(n, i);
    qp_qtype t = n->out[0].q.type == QP_QTYPE_I16 ? QP_QTYPE_U8 : n->out[0].q.type;
    return qp_qops_want_quant(n, i, t, 0);
}

static int need_quant_out(qp_qnode *n)
{
    if (n->out[0].kind != QP_QREP_QUANT)
        return qp_qops_error(n->g, n->ni, "the output is not quantized");
    return 0;
}

static const float *const_floats(qp_qnode *n, int i, size_t want, const char *what)
{
    const qp_value *v = qp_op_in(n->g, n->ni, i);
    size_t cnt;
    if (!v)
        return NULL;
    if (!v->is_const || v->dtype != QP_DT_F32 || qp_value_numel(v, &cnt) || (want && cnt != want)) {
        qp_qops_error(n->g, n->ni, "%s ('%s') must be a constant float32 tensor%s", what, v->name,
                      want ? " of one value per output channel" : "");
        return NULL;
    }
    n->in[i].kind = QP_QREP_NONE;
    return v->data;
}

/* ---- Conv, ConvTranspose ------------------------------------------------------------------- */

typedef struct conv_state {
    qp_conv2d_q_params p;
    qp_conv2d_q_quant q;
    wq w;
    int transpose;
    const void *packed;
} conv_state;

struct conv_ch { size_t per; };
static size_t ch_dim0(const void *ctx, size_t i) { return i / ((const struct conv_ch *)ctx)->per; }

struct convt_ch { size_t khw, mg, cg; };
static size_t ch_convt(const void *ctx, size_t i)
{
    const struct convt_ch *c = ctx;
    size_t j = (i / c->khw) % c->mg, ci = i / (c->khw * c->mg);
    return (ci / c->cg) * c->mg + j;
}

/* The common end of the convolution-shaped layers (Conv, ConvTranspose, BatchNormalization as a
 * depthwise 1x1): the kernel's quantization parameters, the kernels' own checks, the packed
 * weights and the scratch size (ConvTranspose runs unpacked). */
static int conv_finish(qp_qnode *n, qp_arena *a, conv_state *s)
{
    int bits = s->w.bits == 16 || s->w.widen ? 16 : 8;
    const qp_qparams *y = &n->out[0].q;
    s->q = (qp_conv2d_q_quant){n->in[0].q.type, n->in[0].q.zp, y->type, y->zp,
                               (int32_t)qp_qtype_min(y->type), (int32_t)qp_qtype_max(y->type), s->w.mul, s->w.bias};
    if ((s->transpose ? qp_convtranspose2d_q_check(&s->p) : qp_conv2d_q_check(&s->p)) ||
        qp_conv2d_q_quant_check(&s->p, &s->q, bits))
        return qp_qops_error(n->g, n->ni, "the integer convolution kernels reject this layer");
    if (!s->transpose) {
        size_t ps = bits == 8 ? qp_conv2d_q8_packed_size(&s->p) : qp_conv2d_q16_packed_size(&s->p);
        void *pk = qp_arena_alloc(a, ps);
        if (!pk)
            return QP_ESYS;
        if (bits == 8)
            qp_conv2d_q8_pack(&s->p, s->w.w, pk);
        else
            qp_conv2d_q16_pack(&s->p, s->w.w, pk);
        s->packed = pk;
        n->scratch = qp_conv2d_q_scratch_size(&s->p, qp_threads_count());
    }
    n->state = s;
    return 0;
}

static int conv_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    conv_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    s->transpose = !strcmp(g->nodes[n->ni].op_type, "ConvTranspose");
    qp_conv2d_f32_params pf;
    int rc = need_quant_out(n);
    if (rc || (rc = qp_nn_conv_geometry(g, n->ni, &pf)))
        return rc;
    memcpy(&s->p, &pf, sizeof s->p);
    _Static_assert(sizeof(qp_conv2d_q_params) == sizeof(qp_conv2d_f32_params), "the geometries must agree");
    if (s->p.n == 0)
        return qp_qops_error(g, n->ni, "an empty batch is not supported");
    const qp_value *wv = qp_op_in(g, n->ni, 1);
    const float *wf = const_floats(n, 1, 0, "the weight W");
    if (!wf)
        return QP_EINPUT;
    const float *bf = const_floats(n, 2, (size_t)s->p.m, "the bias B");
    if (!bf && qp_op_in(g, n->ni, 2))
        return QP_EINPUT;
    size_t count;
    qp_value_numel(wv, &count);
    int16_t *wide;
    size_t khw = (size_t)s->p.kh * (size_t)s->p.kw;
    struct conv_ch cc = {count / (size_t)s->p.m};
    struct convt_ch ct = {khw, (size_t)(s->p.m / s->p.group), (size_t)(s->p.c / s->p.group)};
    if ((rc = quant_weights(n, a, n->table->weight ? &n->table->weight[n->ni] : NULL, wf, count, (size_t)s->p.m,
                            s->transpose ? ch_convt : ch_dim0, s->transpose ? (const void *)&ct : &cc, &s->w, &wide)))
        return rc;
    if ((rc = want_layer_input(n, 0, &s->w)) || (rc = narrow_weights(a, &s->w, wide, count)))
        return rc;
    size_t K = (size_t)(s->p.c / s->p.group) * khw;
    if ((rc = quant_bias_mul(n, a, &s->w, bf, 1.0, 1.0, n->in[0].q.scale, n->out[0].q.scale, K, wide, count)))
        return rc;
    return conv_finish(n, a, s);
}

static int conv_set_clamp(qp_qnode *n, int32_t lo, int32_t hi)
{
    conv_state *s = n->state;
    s->q.y_lo = lo;
    s->q.y_hi = hi;
    return 0;
}

static int conv_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out, void *scratch)
{
    const conv_state *s = n->state;
    int bits = s->w.bits == 16 || s->w.widen ? 16 : 8;
    const void *x = in[0]->t.data;
    void *y = out[0]->t.data;
    if (s->transpose) {
        if (bits == 8)
            qp_convtranspose2d_q8(&s->p, &s->q, s->w.w, x, y);
        else
            qp_convtranspose2d_q16(&s->p, &s->q, s->w.w, x, y);
    } else if (bits == 8)
        qp_conv2d_q8(&s->p, &s->q, s->packed, x, y, scratch);
    else
        qp_conv2d_q16(&s->p, &s->q, s->packed, x, y, scratch);
    return 0;
}

/* ---- BatchNormalization: a depthwise 1x1 convolution ------------------------------------- */

static size_t ch_identity(const void *ctx, size_t i) { (void)ctx; return i; }

static int bn_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    conv_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int rc = need_quant_out(n);
    if (rc)
        return rc;
    const qp_value *x = qp_op_in(g, n->ni, 0);
    if (x->rank < 2)
        return qp_qops_error(g, n->ni, "input rank %d: expected N, C, ...", x->rank);
    size_t C = (size_t)x->dims[1], hw = 1;
    for (int d = 2; d < x->rank; d++)
        hw *= (size_t)x->dims[d];
    const float *v[5];
    for (int i = 1; i <= 4; i++)
        if (!(v[i] = const_floats(n, i, C, "a BatchNormalization parameter")))
            return QP_EINPUT;
    float eps;
    if (qp_op_attr_float(g, n->ni, "epsilon", 1e-5f, &eps))
        return QP_EINPUT;
    float *wf = qp_arena_array(a, C + 1, sizeof *wf), *bf = qp_arena_array(a, C + 1, sizeof *bf);
    if (!wf || !bf)
        return QP_ESYS;
    for (size_t c = 0; c < C; c++) {
        double k = (double)v[1][c] / sqrt((double)v[4][c] + (double)eps);
        wf[c] = (float)k;
        bf[c] = (float)((double)v[2][c] - (double)v[3][c] * k);
    }
    /* without a weight entry: per-channel symmetric, the largest |q| 127 (8-bit input) or 32767 */
    qp_qentry own;
    const qp_qentry *e = n->table->weight ? &n->table->weight[n->ni] : NULL;
    if (!e || e->quantizer == QP_QZ_NONE) {
        int wide16 = n->in[0].kind == QP_QREP_QUANT && n->in[0].q.type == QP_QTYPE_I16;
        double *sc = qp_arena_array(a, C + 1, sizeof *sc);
        int32_t *zp = qp_arena_array(a, C + 1, sizeof *zp);
        if (!sc || !zp)
            return QP_ESYS;
        for (size_t c = 0; c < C; c++)
            sc[c] = wf[c] != 0 ? fabs((double)wf[c]) / (wide16 ? 32767.0 : 127.0) : 1.0;
        own = (qp_qentry){QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE, wide16 ? QP_DT_I16 : QP_DT_I8, 0, 0, (int)C, sc, zp, 0, 1};
        e = &own;
    }
    int16_t *wide;
    if ((rc = quant_weights(n, a, e, wf, C, C, ch_identity, NULL, &s->w, &wide)) ||
        (rc = want_layer_input(n, 0, &s->w)) || (rc = narrow_weights(a, &s->w, wide, C)) ||
        (rc = quant_bias_mul(n, a, &s->w, bf, 1.0, 1.0, n->in[0].q.scale, n->out[0].q.scale, 1, wide, C)))
        return rc;
    s->p = (qp_conv2d_q_params){(int)x->dims[0], (int)C, (int)hw, 1, (int)C, (int)hw, 1, 1, 1, (int)C, 1, 1, 1, 1,
                                0, 0, 0, 0};
    return conv_finish(n, a, s);
}

/* ---- Gemm, MatMul -------------------------------------------------------------------------- */

typedef struct mm_state {
    wq w;
    size_t M, N, K;             /* Y [M x N] = X [M x K] . W [K x N] (+ bias) */
    int x_trans;                /* X is stored [K x M] (Gemm transA) */
    const void *packed;
    qp_qtype c_type;
    int32_t c_zp, c_lo, c_hi;
    size_t off_xt, off_ct, off_k; /* scratch */
} mm_state;

struct mm_ch { size_t n; int trans_b; size_t K; };
static size_t ch_mm(const void *ctx, size_t i)
{
    const struct mm_ch *c = ctx;
    return c->trans_b ? i / c->K : i % c->n;
}

static int mm_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    const qp_node *nd = &g->nodes[n->ni];
    int gemm = !strcmp(nd->op_type, "Gemm");
    mm_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int rc = need_quant_out(n);
    if (rc)
        return rc;
    const qp_value *x = qp_op_in(g, n->ni, 0), *b = qp_op_in(g, n->ni, 1);
    int64_t ta = 0, tb = 0;
    float alpha = 1, beta = 1;
    if (gemm && (qp_op_attr_int(g, n->ni, "transA", 0, &ta) || qp_op_attr_int(g, n->ni, "transB", 0, &tb) ||
                 qp_op_attr_float(g, n->ni, "alpha", 1, &alpha) || qp_op_attr_float(g, n->ni, "beta", 1, &beta)))
        return QP_EINPUT;
    if (x->is_const || !b->is_const || b->rank != 2)
        return qp_qops_error(g, n->ni, "only a product of an activation and a constant 2-D weight has an integer rule");
    if (!(alpha > 0))
        return qp_qops_error(g, n->ni, "alpha %g: only a positive alpha has an integer rule", (double)alpha);
    s->K = (size_t)(tb ? b->dims[1] : b->dims[0]);
    s->N = (size_t)(tb ? b->dims[0] : b->dims[1]);
    size_t xn;
    qp_value_numel(x, &xn);
    s->M = s->K ? xn / s->K : 0;
    s->x_trans = ta != 0;
    if (s->M == 0 || s->N == 0 || s->K == 0)
        return qp_qops_error(g, n->ni, "an empty product is not supported");
    const float *wf = const_floats(n, 1, 0, "the weight B");
    if (!wf)
        return QP_EINPUT;
    const float *bias = NULL;
    float *cb = NULL;
    const qp_value *c = gemm ? qp_op_in(g, n->ni, 2) : NULL;
    if (c) {
        size_t cn;
        qp_value_numel(c, &cn);
        if (!c->is_const || c->dtype != QP_DT_F32 || (cn != 1 && cn != s->N) ||
            (c->rank == 2 && c->dims[0] != 1))
            return qp_qops_error(g, n->ni, "C ('%s') must be a constant row of %zu values or a scalar", c->name, s->N);
        cb = qp_arena_array(a, s->N + 1, sizeof *cb);
        if (!cb)
            return QP_ESYS;
        for (size_t i = 0; i < s->N; i++)
            cb[i] = ((const float *)c->data)[cn == 1 ? 0 : i];
        bias = cb;
        n->in[2].kind = QP_QREP_NONE;
    }
    int16_t *wide;
    struct mm_ch ch = {s->N, tb != 0, s->K};
    if ((rc = quant_weights(n, a, n->table->weight ? &n->table->weight[n->ni] : NULL, wf, s->K * s->N, s->N, ch_mm,
                            &ch, &s->w, &wide)) ||
        (rc = want_layer_input(n, 0, &s->w)))
        return rc;
    /* the kernel's A is W^T [N x K] */
    int16_t *wt = qp_arena_array(a, s->K * s->N + 1, sizeof *wt);
    if (!wt)
        return QP_ESYS;
    for (size_t k = 0; k < s->K; k++)
        for (size_t j = 0; j < s->N; j++)
            wt[j * s->K + k] = tb ? wide[j * s->K + k] : wide[k * s->N + j];
    if ((rc = narrow_weights(a, &s->w, wt, s->K * s->N)) ||
        (rc = quant_bias_mul(n, a, &s->w, bias, alpha, beta, n->in[0].q.scale, n->out[0].q.scale, s->K, wt,
                             s->K * s->N)))
        return rc;
    int bits = s->w.bits == 16 || s->w.widen ? 16 : 8;
    size_t ps = bits == 8 ? qp_gemm_q8_packed_size(s->N, s->K) : qp_gemm_q16_packed_size(s->N, s->K);
    void *pk = qp_arena_alloc(a, ps);
    if (!pk)
        return QP_ESYS;
    if (bits == 8)
        qp_gemm_q8_pack(s->N, s->K, s->w.w, s->K, pk);
    else
        qp_gemm_q16_pack(s->N, s->K, s->w.w, s->K, pk);
    s->packed = pk;
    const qp_qparams *y = &n->out[0].q;
    s->c_type = y->type;
    s->c_zp = y->zp;
    s->c_lo = (int32_t)qp_qtype_min(y->type);
    s->c_hi = (int32_t)qp_qtype_max(y->type);
    qp_gemm_q_args ga = {s->N, s->M, s->K, pk, NULL, s->M, n->in[0].q.type, n->in[0].q.zp, NULL, NULL, s->w.bias,
                         s->w.mul, y->type, y->zp, s->c_lo, s->c_hi, NULL, s->M};
    if (bits == 8 ? qp_gemm_q8_check(&ga) : qp_gemm_q16_check(&ga))
        return qp_qops_error(g, n->ni, "the integer matrix kernels reject this layer");
    size_t xs = qp_qtype_size(n->in[0].q.type), ys = qp_qtype_size(y->type);
    s->off_xt = 0;
    s->off_ct = align64(!s->x_trans && s->M > 1 ? s->M * s->K * xs : 0);
    s->off_k = s->off_ct + align64(s->M > 1 ? s->M * s->N * ys : 0);
    n->scratch = s->off_k + qp_gemm_q_scratch_size(s->K, qp_threads_count()) + 64;
    n->state = s;
    return 0;
}

static int mm_set_clamp(qp_qnode *n, int32_t lo, int32_t hi)
{
    mm_state *s = n->state;
    s->c_lo = lo;
    s->c_hi = hi;
    return 0;
}

/* y [cols x rows] = x [rows x cols] transposed, elements of es bytes. */
static void transpose(size_t es, size_t rows, size_t cols, const void *x, void *y)
{
    int64_t dims[2] = {(int64_t)cols, (int64_t)rows}, xs[2] = {1, (int64_t)cols}, ys[2] = {(int64_t)rows, 1};
    qp_move_strided(es, 2, dims, x, xs, y, ys, 0, 1);
}

static int mm_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out, void *scratch)
{
    const mm_state *s = n->state;
    char *sc = scratch;
    qp_qtype xt = in[0]->r.q.type;
    size_t xs = qp_qtype_size(xt), ys = qp_qtype_size(s->c_type);
    const void *B = in[0]->t.data;  /* the kernel's B: X^T [K x M] */
    if (!s->x_trans && s->M > 1) {
        transpose(xs, s->M, s->K, in[0]->t.data, sc + s->off_xt);
        B = sc + s->off_xt;
    }
    void *C = s->M > 1 ? sc + s->off_ct : out[0]->t.data;
    qp_gemm_q_args ga = {s->N, s->M, s->K, s->packed, B, s->M, xt, in[0]->r.q.zp, NULL, NULL, s->w.bias, s->w.mul,
                         s->c_type, s->c_zp, s->c_lo, s->c_hi, C, s->M};
    void *ks = (void *)(((uintptr_t)(sc + s->off_k) + 63) & ~(uintptr_t)63);
    if (s->w.bits == 16 || s->w.widen)
        qp_gemm_q16(&ga, ks);
    else
        qp_gemm_q8(&ga, ks);
    if (s->M > 1)
        transpose(ys, s->N, s->M, C, out[0]->t.data);
    return 0;
}

/* ---- pools --------------------------------------------------------------------------------- */

typedef struct pool_state {
    qp_pool2d_q_params p;
    int kind;                   /* 0 max, 1 average, 2 global average */
    size_t nc, hw;
} pool_state;

static int pool_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    const char *op = g->nodes[n->ni].op_type;
    pool_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int rc = need_quant_out(n);
    if (rc || (rc = qp_qops_want_quant(n, 0, n->out[0].q.type, 1)))
        return rc;
    const qp_value *x = qp_op_in(g, n->ni, 0);
    if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool")) {
        if (x->rank < 3)
            return qp_qops_error(g, n->ni, "input rank %d: expected N, C, D1, ...", x->rank);
        s->nc = (size_t)(x->dims[0] * x->dims[1]);
        s->hw = 1;
        for (int d = 2; d < x->rank; d++)
            s->hw *= (size_t)x->dims[d];
        if (s->hw > 0x7fffffff || s->nc > 0x7fffffff)
            return qp_qops_error(g, n->ni, "sizes are too large");
        s->kind = op[6] == 'A' ? 2 : 0;
        s->p = (qp_pool2d_q_params){(int)x->dims[0], (int)x->dims[1], 1, (int)s->hw, 1, 1, 1, (int)s->hw, 1, 1, 1, 1,
                                    0, 0, 0, 0, 0};
    } else {
        qp_pool2d_f32_params pf;
        if ((rc = qp_nn_pool_geometry(g, n->ni, &pf)))
            return rc;
        _Static_assert(sizeof(qp_pool2d_q_params) == sizeof(qp_pool2d_f32_params), "the geometries must agree");
        memcpy(&s->p, &pf, sizeof s->p);
        s->kind = !strcmp(op, "MaxPool") ? 0 : 1;
        if (s->p.n == 0 || s->p.c == 0)
            return qp_qops_error(g, n->ni, "an empty input is not supported");
    }
    if (s->kind == 0)
        n->out[0] = n->in[0];   /* a maximum keeps the input's parameters */
    if (qp_pool2d_q_check(&s->p) || (s->kind == 1 && qp_avgpool2d_q_check(&s->p, &n->in[0].q, &n->out[0].q)))
        return qp_qops_error(g, n->ni, "the integer pooling kernels reject this layer");
    if (s->kind == 2) {
        qp_qmul m;
        if (qp_requant_multiplier(n->in[0].q.scale / n->out[0].q.scale / (double)s->hw, &m))
            return qp_qops_error(g, n->ni, "scales %g -> %g cannot be requantized", n->in[0].q.scale,
                                 n->out[0].q.scale);
    }
    n->state = s;
    return 0;
}

static int pool_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out, void *scratch)
{
    (void)scratch;
    const pool_state *s = n->state;
    const void *x = in[0]->t.data;
    void *y = out[0]->t.data;
    if (s->kind == 0)
        qp_maxpool2d_q(&s->p, in[0]->r.q.type, x, y);
    else if (s->kind == 1)
        qp_avgpool2d_q(&s->p, &in[0]->r.q, &out[0]->r.q, x, y);
    else
        qp_global_avgpool_q(s->nc, s->hw, &in[0]->r.q, &out[0]->r.q, x, y);
    return 0;
}

/* ---- Softmax ------------------------------------------------------------------------------- */

typedef struct softmax_state {
    qp_softmax_q_params p;
    size_t outer, n, inner;
} softmax_state;

static int softmax_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    softmax_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int rc = need_quant_out(n);
    if (rc || (rc = qp_qops_want_quant(n, 0, n->out[0].q.type, 1)) ||
        (rc = qp_nn_softmax_geometry(g, n->ni, &s->outer, &s->n, &s->inner)))
        return rc;
    int32_t *table = qp_arena_array(a, qp_softmax_q_table_entries(n->in[0].q.type) + 1, sizeof *table);
    if (!table)
        return QP_ESYS;
    if (qp_softmax_q_init(&s->p, &n->in[0].q, &n->out[0].q, table))
        return qp_qops_error(g, n->ni, "output scale %g: 1/scale must be below 2^31", n->out[0].q.scale);
    n->state = s;
    return 0;
}

static int softmax_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out, void *scratch)
{
    (void)scratch;
    const softmax_state *s = n->state;
    qp_softmax_q(&s->p, s->outer, s->n, s->inner, in[0]->t.data, out[0]->t.data);
    return 0;
}

/* ---- the table ----------------------------------------------------------------------------- */

const qp_qop qp_qops_nn[] = {
    {"Conv", QP_QOP_MAP_NONE, conv_prepare, conv_run, conv_set_clamp},
    {"ConvTranspose", QP_QOP_MAP_NONE, conv_prepare, conv_run, conv_set_clamp},
    {"Gemm", QP_QOP_MAP_NONE, mm_prepare, mm_run, mm_set_clamp},
    {"MatMul", QP_QOP_MAP_NONE, mm_prepare, mm_run, mm_set_clamp},
    {"BatchNormalization", QP_QOP_MAP_NONE, bn_prepare, conv_run, conv_set_clamp},
    {"MaxPool", QP_QOP_MAP_NONE, pool_prepare, pool_run, NULL},
    {"AveragePool", QP_QOP_MAP_NONE, pool_prepare, pool_run, NULL},
    {"GlobalAveragePool", QP_QOP_MAP_NONE, pool_prepare, pool_run, NULL},
    {"GlobalMaxPool", QP_QOP_MAP_NONE, pool_prepare, pool_run, NULL},
    {"Softmax", QP_QOP_MAP_NONE, softmax_prepare, softmax_run, NULL},
};
const int qp_qops_nn_count = (int)(sizeof qp_qops_nn / sizeof qp_qops_nn[0]);
