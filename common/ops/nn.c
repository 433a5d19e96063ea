/* The nn op family: Conv, ConvTranspose, Gemm, MatMul, BatchNormalization,
 * InstanceNormalization, LRN, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Softmax,
 * LogSoftmax and the Reduce* ops, float32.  Attribute checking, shape inference and the mapping
 * onto the kernels (conv_f32, gemm_f32, pool_f32, nn_softmax, nn_reduce, nn_norm, nn_matrix);
 * no element loops here.
 *
 * Weights: with a constant weight input (Conv/ConvTranspose W, Gemm/MatMul B) prepare() packs
 * it once into the executor's arena; when the weight is a graph input (ONNX node tests) run()
 * packs it into scratch, whose size prepare() reports.  1-D Conv/ConvTranspose/pools run as
 * 2-D with H = 1; 3-D ones are rejected.
 *
 * Fusion (qp/nn.h), for the executor: qp_nn_match_activation(g, ni, &act, skip, &n_skip) finds
 * Relu, Clip, LeakyRelu, HardSigmoid, Sigmoid, Tanh, HardSwish or the Sigmoid+Mul pair of SiLU
 * after node ni; qp_nn_conv_set_activation(g, ni, prep, act) then puts it into the epilogue of
 * the prepared Conv, ConvTranspose, MatMul or Gemm (one without a C epilogue), and the executor
 * skips the matched node(s), whose output becomes the fused node's output.
 *
 * Opset rules: Softmax/LogSoftmax below 13 coerce the input to 2-D around axis (default 1),
 * from 13 normalise one axis (default -1).  Reduce ops take axes from the attribute or from a
 * constant input 1 (ReduceSum from 13, the others from 18), whichever the node has. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "qp/conv_f32.h"
#include "qp/diag.h"
#include "qp/gemm_f32.h"
#include "qp/nn.h"
#include "qp/nn_matrix.h"
#include "qp/nn_norm.h"
#include "qp/nn_reduce.h"
#include "qp/nn_softmax.h"
#include "qp/op.h"
#include "qp/pool_f32.h"
#include "qp/threads.h"
#include "qp/vmath.h"

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* The default-domain opset; an unknown one (0) counts as the newest. */
static int64_t opset_of(const qp_graph *g) { return g->opset > 0 ? g->opset : INT_MAX; }

/* ---- attributes (typed access from table.c; these add the checks nn needs) ------------------- */

static int attr_int(const qp_graph *g, int ni, const char *name, int64_t dflt, int64_t *v)
{
    return qp_op_attr_int(g, ni, name, dflt, v);
}

/* An int attribute that must be 0 or 1. */
static int attr_flag(const qp_graph *g, int ni, const char *name, int dflt, int *v)
{
    int64_t x;
    int rc = qp_op_attr_int(g, ni, name, dflt, &x);
    *v = dflt;
    if (rc)
        return rc;
    if (x != 0 && x != 1)
        return qp_op_error(g, ni, "attribute '%s' is %lld, expected 0 or 1", name, (long long)x);
    *v = (int)x;
    return 0;
}

static int attr_float(const qp_graph *g, int ni, const char *name, float dflt, float *v)
{
    int rc = qp_op_attr_float(g, ni, name, dflt, v);
    if (!rc && !isfinite(*v))
        return qp_op_error(g, ni, "attribute '%s' is %g, expected a finite number", name, (double)*v);
    return rc;
}

/* An INTS attribute of exactly n values into v; *present says whether it was there. */
static int attr_ints(const qp_graph *g, int ni, const char *name, int n, int64_t *v, int *present)
{
    int na;
    const int64_t *a;
    int rc = qp_op_attr_ints(g, ni, name, &na, &a);
    *present = a != NULL;
    if (rc || !a)
        return rc;
    if (na != n)
        return qp_op_error(g, ni, "attribute '%s' has %d values, expected %d", name, na, n);
    memcpy(v, a, (size_t)n * sizeof *v);
    return 0;
}

enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };

static int attr_auto_pad(const qp_graph *g, int ni, int *mode)
{
    const char *s;
    int rc = qp_op_attr_string(g, ni, "auto_pad", "NOTSET", &s);
    *mode = PAD_NOTSET;
    if (rc)
        return rc;
    static const char *const names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *mode = i;
            return 0;
        }
    char q[64];
    return qp_op_error(g, ni, "attribute 'auto_pad' is \"%s\", expected NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                       qp_tensorio_quote(q, sizeof q, s, strlen(s)));
}

/* ---- inputs ---------------------------------------------------------------------------------- */

static int need_f32(const qp_graph *g, int ni, int i)
{
    const qp_value *v = qp_op_in(g, ni, i);
    if (v && v->dtype != QP_DT_F32)
        return qp_op_error(g, ni, "input %d ('%s') is %s; only float32 is supported", i, v->name,
                           qp_dtype_name(v->dtype));
    return 0;
}

static int all_f32(const qp_graph *g, int ni)
{
    for (int i = 0; i < g->nodes[ni].n_in; i++)
        if (need_f32(g, ni, i))
            return -1;
    return 0;
}

/* A 1-D input of n elements (per-channel parameters). */
static int need_vector(const qp_graph *g, int ni, int i, int64_t n, const char *what)
{
    const qp_value *v = qp_op_in(g, ni, i);
    if (v && (v->rank != 1 || v->dims[0] != n)) {
        char s[128];
        return qp_op_error(g, ni, "%s (input %d, '%s') has shape %s, expected %lld", what, i, v->name,
                           qp_shape_format(s, sizeof s, v->rank, v->dims), (long long)n);
    }
    return 0;
}

static int fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* Multiplies dims[a..b) into *n (sizes were checked when the graph was built). */
static size_t dims_prod(const int64_t *dims, int a, int b)
{
    size_t n = 1;
    for (int i = a; i < b; i++)
        n *= (size_t)dims[i];
    return n;
}

static int set_like_input(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t dims[QP_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    return qp_op_set_out(g, ni, 0, QP_DT_F32, x->rank, dims);
}

/* Optional outputs past the first must be absent. */
static int no_extra_outputs(const qp_graph *g, int ni, int from, const char *what)
{
    const qp_node *n = &g->nodes[ni];
    for (int i = from; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return qp_op_error(g, ni, "output %d ('%s'): %s is not supported", i, g->values[n->out[i]].name,
                               what);
    return 0;
}

/* ---- sliding windows (Conv, ConvTranspose, pools) -------------------------------------------- */

typedef struct win {
    int nsp;                    /* spatial axes: 1 or 2 */
    int64_t in[2], k[2], s[2], d[2], pb[2], pe[2], out[2];
} win;

/* strides, dilations and pads; kernel sizes already in w->k. */
static int win_attrs(const qp_graph *g, int ni, win *w)
{
    int64_t v[4];
    int present, rc;
    int nsp = w->nsp;
    const char *names[2] = {"strides", "dilations"};
    int64_t *dst[2] = {w->s, w->d};
    for (int a = 0; a < 2; a++) {
        if ((rc = attr_ints(g, ni, names[a], nsp, v, &present)))
            return rc;
        for (int i = 0; i < nsp; i++) {
            dst[a][i] = present ? v[i] : 1;
            if (dst[a][i] < 1 || dst[a][i] > INT_MAX)
                return qp_op_error(g, ni, "%s value %lld on axis %d must be positive", names[a],
                                   (long long)dst[a][i], i + 2);
        }
    }
    if ((rc = attr_ints(g, ni, "pads", 2 * nsp, v, &present)))
        return rc;
    for (int i = 0; i < nsp; i++) {
        w->pb[i] = present ? v[i] : 0;
        w->pe[i] = present ? v[i + nsp] : 0;
        if (w->pb[i] < 0 || w->pe[i] < 0)
            return qp_op_error(g, ni, "pads must not be negative (%lld, %lld on axis %d)", (long long)w->pb[i],
                               (long long)w->pe[i], i + 2);
        if (w->pb[i] > INT_MAX / 4 || w->pe[i] > INT_MAX / 4)
            return qp_op_error(g, ni, "pads %lld, %lld on axis %d are too large", (long long)w->pb[i],
                               (long long)w->pe[i], i + 2);
    }
    return 0;
}

/* Output size of a forward window (Conv, pools). */
static int win_forward(const qp_graph *g, int ni, win *w, int auto_pad, int ceil_mode)
{
    for (int i = 0; i < w->nsp; i++) {
        int64_t in = w->in[i], s = w->s[i], dk = w->d[i] * (w->k[i] - 1) + 1;
        if (in < 1)
            return qp_op_error(g, ni, "input axis %d has size %lld", i + 2, (long long)in);
        if (auto_pad == PAD_SAME_UPPER || auto_pad == PAD_SAME_LOWER) {
            int64_t out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + dk - in;
            if (total < 0)
                total = 0;
            int64_t small = total / 2;
            w->pb[i] = auto_pad == PAD_SAME_UPPER ? small : total - small;
            w->pe[i] = total - w->pb[i];
            w->out[i] = out;
            continue;
        }
        if (auto_pad == PAD_VALID)
            w->pb[i] = w->pe[i] = 0;
        int64_t span = in + w->pb[i] + w->pe[i] - dk;
        if (span < 0)
            return qp_op_error(g, ni,
                               "kernel (%lld with dilation %lld) is larger than the padded input (%lld) on axis %d",
                               (long long)w->k[i], (long long)w->d[i], (long long)(in + w->pb[i] + w->pe[i]), i + 2);
        int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
        if (ceil_mode && (out - 1) * s >= in + w->pb[i])
            out--;              /* the last window must start inside the input or its begin pad */
        w->out[i] = out;
    }
    return 0;
}

/* ConvTranspose output size and pads (output_padding in opad, output_shape in oshape or NULL). */
static int win_transpose(const qp_graph *g, int ni, win *w, int auto_pad, const int64_t *opad,
                         const int64_t *oshape)
{
    for (int i = 0; i < w->nsp; i++) {
        int64_t in = w->in[i], s = w->s[i], dk = w->d[i] * (w->k[i] - 1) + 1;
        int64_t limit = s > w->d[i] ? s : w->d[i];
        if (in < 1)
            return qp_op_error(g, ni, "input axis %d has size %lld", i + 2, (long long)in);
        if (opad[i] < 0 || opad[i] >= limit)
            return qp_op_error(g, ni, "output_padding %lld on axis %d must be in [0, %lld)", (long long)opad[i], i + 2,
                               (long long)limit);
        int64_t natural = s * (in - 1) + opad[i] + dk;
        int64_t target = -1;
        if (oshape)
            target = oshape[i];
        else if (auto_pad == PAD_SAME_UPPER || auto_pad == PAD_SAME_LOWER)
            target = in * s;
        if (target >= 0) {
            if (target < 1 || target > INT_MAX)
                return qp_op_error(g, ni, "output_shape value %lld on axis %d is out of range", (long long)target,
                                   i + 2);
            int64_t total = natural - target;
            if (total < 0) {
                /* a longer output than the kernel reaches: extra output padding at the end */
                if (opad[i] - total >= limit)
                    return qp_op_error(g, ni,
                                       "output_shape value %lld on axis %d is larger than the %lld the input can give",
                                       (long long)target, i + 2, (long long)(natural + limit - 1 - opad[i]));
                w->pb[i] = w->pe[i] = 0;
            } else {
                int64_t half = total / 2;
                w->pb[i] = auto_pad == PAD_SAME_UPPER ? half : total - half;
                w->pe[i] = total - w->pb[i];
            }
            w->out[i] = target;
            continue;
        }
        if (auto_pad == PAD_VALID)
            w->pb[i] = w->pe[i] = 0;
        w->out[i] = natural - w->pb[i] - w->pe[i];
        if (w->out[i] < 1)
            return qp_op_error(g, ni, "pads %lld, %lld on axis %d leave no output (%lld)", (long long)w->pb[i],
                               (long long)w->pe[i], i + 2, (long long)w->out[i]);
    }
    return 0;
}

/* ---- Conv / ConvTranspose -------------------------------------------------------------------- */

enum { ST_CONV = 1, ST_MM };

typedef struct conv_state {
    int kind;                   /* ST_CONV */
    qp_act act;
    int transpose;
    int empty;                  /* nothing to compute (batch 0) */
    qp_conv2d_f32_params p;
    const void *packed;         /* constant weights, packed; NULL: pack at run time */
    size_t packed_size, kscratch;
} conv_state;

/* Validates node ni and fills the kernel parameters and the output dims. */
static int conv_setup(const qp_graph *g, int ni, int transpose, qp_conv2d_f32_params *p, int64_t *odims)
{
    const qp_value *x = qp_op_in(g, ni, 0), *wv = qp_op_in(g, ni, 1);
    int rc;
    if ((rc = all_f32(g, ni)))
        return rc;
    if (x->rank != 3 && x->rank != 4)
        return qp_op_error(g, ni, "input has rank %d; only 1-D and 2-D convolutions (rank 3 or 4) are supported",
                           x->rank);
    if (wv->rank != x->rank)
        return qp_op_error(g, ni, "W ('%s') has rank %d, the input rank %d", wv->name, wv->rank, x->rank);
    int64_t group;
    if ((rc = attr_int(g, ni, "group", 1, &group)))
        return rc;
    int64_t c = x->dims[1];
    if (group < 1 || group > INT_MAX)
        return qp_op_error(g, ni, "group %lld must be positive", (long long)group);
    if (c % group)
        return qp_op_error(g, ni, "group %lld does not divide the %lld input channels", (long long)group,
                           (long long)c);
    int64_t m;
    if (!transpose) {
        m = wv->dims[0];
        if (wv->dims[1] != c / group)
            return qp_op_error(g, ni, "W ('%s') has %lld channels per group, expected C/group = %lld/%lld = %lld",
                               wv->name, (long long)wv->dims[1], (long long)c, (long long)group,
                               (long long)(c / group));
        if (m % group)
            return qp_op_error(g, ni, "group %lld does not divide the %lld output channels of W", (long long)group,
                               (long long)m);
    } else {
        if (wv->dims[0] != c)
            return qp_op_error(g, ni, "W ('%s') has %lld input channels (dimension 0), expected C = %lld", wv->name,
                               (long long)wv->dims[0], (long long)c);
        m = wv->dims[1] * group;
    }
    if (m < 1 || c < 1)
        return qp_op_error(g, ni, "%lld input and %lld output channels", (long long)c, (long long)m);
    if ((rc = need_vector(g, ni, 2, m, "bias B")))
        return rc;
    win w;
    memset(&w, 0, sizeof w);
    w.nsp = x->rank - 2;
    for (int i = 0; i < w.nsp; i++) {
        w.in[i] = x->dims[2 + i];
        w.k[i] = wv->dims[2 + i];
        if (w.k[i] < 1)
            return qp_op_error(g, ni, "W ('%s') has kernel size %lld on axis %d", wv->name, (long long)w.k[i], i + 2);
    }
    int64_t ks[2];
    int present;
    if ((rc = attr_ints(g, ni, "kernel_shape", w.nsp, ks, &present)))
        return rc;
    for (int i = 0; present && i < w.nsp; i++)
        if (ks[i] != w.k[i])
            return qp_op_error(g, ni, "kernel_shape %lld on axis %d differs from W's %lld", (long long)ks[i], i + 2,
                               (long long)w.k[i]);
    int auto_pad;
    if ((rc = win_attrs(g, ni, &w)) || (rc = attr_auto_pad(g, ni, &auto_pad)))
        return rc;
    if (!transpose) {
        if ((rc = win_forward(g, ni, &w, auto_pad, 0)))
            return rc;
    } else {
        int64_t opad[2] = {0, 0}, oshape[2];
        int has_oshape;
        if ((rc = attr_ints(g, ni, "output_padding", w.nsp, opad, &present)))
            return rc;
        int nos;
        const int64_t *os;
        if ((rc = qp_op_attr_ints(g, ni, "output_shape", &nos, &os)))
            return rc;
        has_oshape = os != NULL;
        if (os) {
            /* either the spatial sizes or the full output shape */
            if (nos == w.nsp)
                memcpy(oshape, os, (size_t)w.nsp * sizeof(int64_t));
            else if (nos == w.nsp + 2)
                memcpy(oshape, os + 2, (size_t)w.nsp * sizeof(int64_t));
            else
                return qp_op_error(g, ni, "attribute 'output_shape' has %d values, expected %d", nos, w.nsp);
        }
        if ((rc = win_transpose(g, ni, &w, auto_pad, opad, has_oshape ? oshape : NULL)))
            return rc;
    }
    int64_t n = x->dims[0];
    if (!fits_int(n) || !fits_int(c) || !fits_int(m) || !fits_int(w.in[0]) || !fits_int(w.in[w.nsp - 1]) ||
        !fits_int(w.k[0]) || !fits_int(w.k[w.nsp - 1]) || !fits_int(w.out[0]) || !fits_int(w.out[w.nsp - 1]))
        return qp_op_error(g, ni, "sizes are too large");
    memset(p, 0, sizeof *p);
    int two = w.nsp == 2;
    p->n = (int)n;
    p->c = (int)c;
    p->m = (int)m;
    p->group = (int)group;
    p->h = two ? (int)w.in[0] : 1;
    p->w = (int)w.in[w.nsp - 1];
    p->kh = two ? (int)w.k[0] : 1;
    p->kw = (int)w.k[w.nsp - 1];
    p->oh = two ? (int)w.out[0] : 1;
    p->ow = (int)w.out[w.nsp - 1];
    p->stride_h = two ? (int)w.s[0] : 1;
    p->stride_w = (int)w.s[w.nsp - 1];
    p->dil_h = two ? (int)w.d[0] : 1;
    p->dil_w = (int)w.d[w.nsp - 1];
    p->pad_top = two ? (int)w.pb[0] : 0;
    p->pad_bottom = two ? (int)w.pe[0] : 0;
    p->pad_left = (int)w.pb[w.nsp - 1];
    p->pad_right = (int)w.pe[w.nsp - 1];
    if (n > 0) {
        qp_conv2d_f32_params q = *p;
        if (transpose ? qp_convtranspose2d_f32_check(&q) : qp_conv2d_f32_check(&q))
            return qp_op_error(g, ni, "the convolution kernels reject this shape");
    }
    odims[0] = n;
    odims[1] = m;
    for (int i = 0; i < w.nsp; i++)
        odims[2 + i] = w.out[i];
    return 0;
}

static int conv_infer_common(qp_graph *g, int ni, int transpose)
{
    qp_conv2d_f32_params p;
    int64_t odims[4];
    int rc = conv_setup(g, ni, transpose, &p, odims);
    return rc ? rc : qp_op_set_out(g, ni, 0, QP_DT_F32, qp_op_in(g, ni, 0)->rank, odims);
}

static int conv_infer(qp_graph *g, int ni) { return conv_infer_common(g, ni, 0); }
static int convt_infer(qp_graph *g, int ni) { return conv_infer_common(g, ni, 1); }

static int conv_prepare_common(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep, int transpose)
{
    conv_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int64_t odims[4];
    int rc = conv_setup(g, ni, transpose, &s->p, odims);
    if (rc)
        return rc;
    s->kind = ST_CONV;
    s->act.kind = QP_ACT_NONE;
    s->transpose = transpose;
    prep->state = s;
    if (s->p.n == 0) {
        s->empty = 1;
        return 0;
    }
    int nw = qp_threads_count();
    s->packed_size = transpose ? qp_convtranspose2d_f32_packed_size(&s->p) : qp_conv2d_f32_packed_size(&s->p);
    s->kscratch = transpose ? qp_convtranspose2d_f32_scratch_size(&s->p, nw) : qp_conv2d_f32_scratch_size(&s->p, nw);
    const qp_value *w = qp_op_in(g, ni, 1);
    if (w->is_const) {
        void *pk = qp_arena_alloc(a, s->packed_size);
        if (!pk)
            return QP_ESYS;
        if (transpose)
            qp_convtranspose2d_f32_pack(&s->p, w->data, pk);
        else
            qp_conv2d_f32_pack(&s->p, w->data, pk);
        s->packed = pk;
        prep->scratch = s->kscratch;
    } else {
        prep->scratch = align64(s->packed_size) + s->kscratch;
    }
    return 0;
}

static int conv_prepare(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep)
{
    return conv_prepare_common(g, ni, a, prep, 0);
}

static int convt_prepare(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep)
{
    return conv_prepare_common(g, ni, a, prep, 1);
}

static int conv_run(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                    qp_tensor *const *out, void *scratch)
{
    const conv_state *s = prep->state;
    if (!s)
        return qp_op_error(g, ni, "not prepared");
    if (s->empty)
        return 0;
    const float *bias = g->nodes[ni].n_in > 2 && in[2] ? in[2]->data : NULL;
    const void *packed = s->packed;
    void *ks = scratch;
    if (!packed) {
        if (s->transpose)
            qp_convtranspose2d_f32_pack(&s->p, in[1]->data, scratch);
        else
            qp_conv2d_f32_pack(&s->p, in[1]->data, scratch);
        packed = scratch;
        ks = (char *)scratch + align64(s->packed_size);
    }
    if (s->transpose)
        qp_convtranspose2d_f32(&s->p, packed, bias, s->act, in[0]->data, out[0]->data, ks);
    else
        qp_conv2d_f32(&s->p, packed, bias, s->act, in[0]->data, out[0]->data, ks);
    return 0;
}

/* ---- Gemm / MatMul --------------------------------------------------------------------------- */

/* Both run as C'[N x M] = W[N x K] . X[K x M] with W = B'^T the packed operand, so constant
 * weights are packed once and Gemm's per-column bias is the kernel's per-row bias; C' is the
 * output itself when M = 1, else it is transposed into the output. */
typedef struct mm_state {
    int kind;                   /* ST_MM */
    qp_act act;
    int gemm;
    size_t M, N, K;             /* per call */
    size_t nb;                  /* calls (output batches) */
    int brank;                  /* batch axes (MatMul with batched B) */
    int64_t bdims[QP_MAX_RANK];
    size_t a_st[QP_MAX_RANK], b_st[QP_MAX_RANK]; /* batch strides of A and B in elements */
    int x_trans;                /* X operand: element (k, m) at A[m*ldx + k] (1) or A[k*ldx + m] (0) */
    size_t ldx;
    size_t w_rs, w_cs;          /* W(n, k) = B[n*w_rs + k*w_cs] */
    const char *packed;         /* constant B: one packed block per B matrix */
    size_t packed_one;
    const float *bias;          /* N values for the kernel, or NULL */
    int bias_rt;                /* the bias comes from a non-constant C at run time */
    size_t c_inc;               /* bias from C: 0 scalar, 1 vector */
    float alpha, beta;
    int post;                   /* alpha != 1 or a C that is not a row: epilogue on Y */
    size_t c_row, c_col;
    size_t off_t, off_p, off_b, off_k; /* scratch layout */
} mm_state;

/* Gemm: validates, fills s (may be NULL) and the output dims. */
static int gemm_setup(const qp_graph *g, int ni, mm_state *s, int64_t *odims)
{
    const qp_value *a = qp_op_in(g, ni, 0), *b = qp_op_in(g, ni, 1), *c = qp_op_in(g, ni, 2);
    int rc, ta, tb;
    float alpha, beta;
    if ((rc = all_f32(g, ni)) || (rc = attr_flag(g, ni, "transA", 0, &ta)) ||
        (rc = attr_flag(g, ni, "transB", 0, &tb)) || (rc = attr_float(g, ni, "alpha", 1.0f, &alpha)) ||
        (rc = attr_float(g, ni, "beta", 1.0f, &beta)))
        return rc;
    if (a->rank != 2 || b->rank != 2)
        return qp_op_error(g, ni, "A and B must be matrices (ranks %d and %d)", a->rank, b->rank);
    int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
    int64_t Kb = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
    if (K != Kb)
        return qp_op_error(g, ni, "inner dimensions differ: A gives K = %lld, B gives %lld", (long long)K,
                           (long long)Kb);
    size_t c_row = 0, c_col = 0;
    int c_is_row = 1;
    if (c) {
        if (c->rank > 2)
            return qp_op_error(g, ni, "C ('%s') has rank %d, at most 2", c->name, c->rank);
        int64_t cr = c->rank == 2 ? c->dims[0] : 1, cc = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        if ((cr != 1 && cr != M) || (cc != 1 && cc != N)) {
            char sh[128];
            return qp_op_error(g, ni, "C ('%s') of shape %s does not broadcast to %lldx%lld", c->name,
                               qp_shape_format(sh, sizeof sh, c->rank, c->dims), (long long)M, (long long)N);
        }
        c_col = cc == 1 ? 0 : 1;
        c_row = cr == 1 ? 0 : (size_t)cc;
        c_is_row = cr == 1 || M == 1;
    }
    odims[0] = M;
    odims[1] = N;
    if (!s)
        return 0;
    s->gemm = 1;
    s->M = (size_t)M;
    s->N = (size_t)N;
    s->K = (size_t)K;
    s->nb = 1;
    s->x_trans = !ta;
    s->ldx = ta ? (size_t)M : (size_t)K;
    s->w_rs = tb ? (size_t)K : 1;
    s->w_cs = tb ? 1 : (size_t)N;
    s->alpha = alpha;
    s->beta = beta;
    s->c_row = c_row;
    s->c_col = c_col;
    s->post = alpha != 1.0f || (c && !c_is_row && beta != 0.0f);
    if (c && !s->post && beta != 0.0f) {
        s->bias_rt = 1;
        s->c_inc = c_col;
    }
    return 0;
}

/* MatMul: numpy semantics (1-D operands promoted and their axis dropped, batch broadcast). */
static int matmul_setup(const qp_graph *g, int ni, mm_state *s, int *orank, int64_t *odims)
{
    const qp_value *a = qp_op_in(g, ni, 0), *b = qp_op_in(g, ni, 1);
    int rc = all_f32(g, ni);
    if (rc)
        return rc;
    if (a->rank < 1 || b->rank < 1)
        return qp_op_error(g, ni, "operands must have rank 1 or more (ranks %d and %d)", a->rank, b->rank);
    int a1 = a->rank == 1, b1 = b->rank == 1;
    int64_t M = a1 ? 1 : a->dims[a->rank - 2], K = a->dims[a->rank - 1];
    int64_t Kb = b1 ? b->dims[0] : b->dims[b->rank - 2], N = b1 ? 1 : b->dims[b->rank - 1];
    if (K != Kb)
        return qp_op_error(g, ni, "inner dimensions differ: A gives K = %lld, B gives %lld", (long long)K,
                           (long long)Kb);
    int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0;
    int br;
    int64_t bd[QP_MAX_RANK];
    if ((rc = qp_op_broadcast(g, ni, ra, a->dims, rb, b->dims, &br, bd)))
        return rc;
    int r = 0;
    for (int i = 0; i < br; i++)
        odims[r++] = bd[i];
    if (!a1)
        odims[r++] = M;
    if (!b1)
        odims[r++] = N;
    *orank = r;
    if (!s)
        return 0;
    s->N = (size_t)N;
    s->K = (size_t)K;
    s->x_trans = 1;
    s->ldx = (size_t)K;
    s->w_rs = 1;
    s->w_cs = (size_t)N;
    s->alpha = s->beta = 1.0f;
    if (rb == 0) {
        /* one B: A's batch folds into M (A is contiguous) */
        s->M = (size_t)M * dims_prod(a->dims, 0, ra);
        s->nb = 1;
        s->brank = 0;
        return 0;
    }
    s->M = (size_t)M;
    s->brank = br;
    memcpy(s->bdims, bd, sizeof bd);
    size_t sa = (size_t)M * (size_t)K, sb = (size_t)K * (size_t)N;
    s->nb = 1;
    for (int i = br - 1; i >= 0; i--) {
        int ia = i - (br - ra), ib = i - (br - rb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        s->a_st[i] = da == 1 ? 0 : sa;
        s->b_st[i] = db == 1 ? 0 : sb;
        sa *= (size_t)da;
        sb *= (size_t)db;
        s->nb *= (size_t)bd[i];
    }
    return 0;
}

static int gemm_infer(qp_graph *g, int ni)
{
    int64_t odims[2];
    int rc = gemm_setup(g, ni, NULL, odims);
    return rc ? rc : qp_op_set_out(g, ni, 0, QP_DT_F32, 2, odims);
}

static int matmul_infer(qp_graph *g, int ni)
{
    int64_t odims[QP_MAX_RANK];
    int r, rc = matmul_setup(g, ni, NULL, &r, odims);
    return rc ? rc : qp_op_set_out(g, ni, 0, QP_DT_F32, r, odims);
}

/* Number of distinct B matrices. */
static size_t mm_b_count(const qp_value *b, size_t K, size_t N)
{
    size_t numel = 1;
    qp_value_numel(b, &numel);
    return K && N ? numel / (K * N) : 1;
}

static int mm_prepare(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep)
{
    mm_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int64_t odims[QP_MAX_RANK];
    int r, rc;
    int gemm = !strcmp(g->nodes[ni].op_type, "Gemm");
    rc = gemm ? gemm_setup(g, ni, s, odims) : matmul_setup(g, ni, s, &r, odims);
    if (rc)
        return rc;
    s->kind = ST_MM;
    s->act.kind = QP_ACT_NONE;
    prep->state = s;
    const qp_value *b = qp_op_in(g, ni, 1), *c = gemm ? qp_op_in(g, ni, 2) : NULL;
    s->packed_one = align64(qp_gemm_f32_packed_size(s->N, s->K));
    if (b->is_const) {
        size_t nbw = mm_b_count(b, s->K, s->N), bytes;
        if (qp_mul_size(nbw, s->packed_one, &bytes))
            return qp_op_error(g, ni, "packed weights overflow");
        char *pk = qp_arena_alloc(a, bytes ? bytes : 1);
        if (!pk)
            return QP_ESYS;
        for (size_t i = 0; i < nbw; i++)
            qp_gemm_f32_pack_a_strided(s->N, s->K, (const float *)b->data + i * s->K * s->N, s->w_rs, s->w_cs,
                                       pk + i * s->packed_one);
        s->packed = pk;
    }
    if (s->bias_rt && c->is_const) {
        float *bias = qp_arena_array(a, s->N + 1, sizeof(float));
        if (!bias)
            return QP_ESYS;
        qp_scaled_fill_f32(s->N, c->data, s->c_inc, s->beta, bias);
        s->bias = bias;
        s->bias_rt = 0;
    }
    /* scratch: [C' when M > 1][packed B when not constant][bias][gemm scratch] */
    size_t off = 0;
    s->off_t = off;
    if (s->M > 1)
        off += align64(s->M * s->N * sizeof(float));
    s->off_p = off;
    if (!s->packed)
        off += s->packed_one;
    s->off_b = off;
    if (s->bias_rt)
        off += align64(s->N * sizeof(float));
    s->off_k = off;
    off += qp_gemm_f32_scratch_size(s->N, s->M, s->K, qp_threads_count());
    prep->scratch = off;
    return 0;
}

static int mm_run(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                  qp_tensor *const *out, void *scratch)
{
    const mm_state *s = prep->state;
    if (!s)
        return qp_op_error(g, ni, "not prepared");
    char *sc = scratch;
    const float *A = in[0]->data, *B = in[1]->data;
    float *Y = out[0]->data;
    const float *bias = s->bias;
    if (s->bias_rt) {
        float *bb = (float *)(sc + s->off_b);
        qp_scaled_fill_f32(s->N, in[2]->data, s->c_inc, s->beta, bb);
        bias = bb;
    }
    size_t idx[QP_MAX_RANK] = {0};
    for (size_t bi = 0; bi < s->nb; bi++) {
        size_t ao = 0, bo = 0;
        for (int d = 0; d < s->brank; d++) {
            ao += idx[d] * s->a_st[d];
            bo += idx[d] * s->b_st[d];
        }
        const void *w;
        if (s->packed)
            w = s->packed + (s->K && s->N ? bo / (s->K * s->N) : 0) * s->packed_one;
        else {
            qp_gemm_f32_pack_a_strided(s->N, s->K, B + bo, s->w_rs, s->w_cs, sc + s->off_p);
            w = sc + s->off_p;
        }
        float *y = Y + bi * s->M * s->N;
        float *ct = s->M > 1 ? (float *)(sc + s->off_t) : y;
        qp_gemm_f32_args ga;
        memset(&ga, 0, sizeof ga);
        ga.M = s->N;
        ga.N = s->M;
        ga.K = s->K;
        ga.packed_a = w;
        ga.B = A + ao;
        ga.ldb = s->ldx;
        ga.b_trans = s->x_trans;
        ga.bias = bias;
        ga.act = s->act;
        ga.C = ct;
        ga.ldc = s->M;
        qp_gemm_f32_ex(&ga, sc + s->off_k);
        if (s->M > 1)
            qp_transpose2d_f32(s->N, s->M, ct, y);
        for (int d = s->brank - 1; d >= 0 && ++idx[d] == (size_t)s->bdims[d]; d--)
            idx[d] = 0;
    }
    if (s->post) {
        const float *c = g->nodes[ni].n_in > 2 && in[2] ? in[2]->data : NULL;
        qp_gemm_epilogue_f32(s->M, s->N, s->alpha, Y, s->beta, c, s->c_row, s->c_col);
    }
    return 0;
}

/* ---- activation fusion ----------------------------------------------------------------------- */

int qp_nn_conv_set_activation(const qp_graph *g, int conv_ni, qp_op_prep *prep, qp_act act)
{
    if (!g || conv_ni < 0 || conv_ni >= g->n_nodes || !prep || !prep->state || act.kind < 0 ||
        act.kind >= QP_ACT_COUNT)
        return -1;
    const char *t = g->nodes[conv_ni].op_type;
    if (!strcmp(t, "Conv") || !strcmp(t, "ConvTranspose")) {
        conv_state *s = prep->state;
        if (s->kind != ST_CONV)
            return -1;
        s->act = act;
        return 0;
    }
    if (!strcmp(t, "Gemm") || !strcmp(t, "MatMul")) {
        mm_state *s = prep->state;
        if (s->kind != ST_MM || s->post)
            return -1;
        s->act = act;
        return 0;
    }
    return -1;
}

/* The activation node act_ni applied to value y alone (y its input 0 and no other input). */
static int match_unary(const qp_graph *g, int act_ni, int y, qp_act *act)
{
    const qp_node *a = &g->nodes[act_ni];
    if (a->n_in < 1 || a->in[0] != y || a->n_out != 1 || a->out[0] < 0 ||
        g->values[a->out[0]].dtype != QP_DT_F32)
        return -1;
    for (int j = 1; j < a->n_in; j++)
        if (a->in[j] == y)
            return -1;
    const char *t = a->op_type;
    memset(act, 0, sizeof *act);
    if (!strcmp(t, "Relu") && a->n_in == 1)
        act->kind = QP_ACT_RELU;
    else if (!strcmp(t, "Sigmoid") && a->n_in == 1)
        act->kind = QP_ACT_SIGMOID;
    else if (!strcmp(t, "Tanh") && a->n_in == 1)
        act->kind = QP_ACT_TANH;
    else if (!strcmp(t, "HardSwish") && a->n_in == 1)
        act->kind = QP_ACT_HARDSWISH;
    else if (!strcmp(t, "LeakyRelu") && a->n_in == 1) {
        act->kind = QP_ACT_LEAKYRELU;
        act->alpha = qp_node_float(a, "alpha", 0.01f);
    } else if (!strcmp(t, "HardSigmoid") && a->n_in == 1) {
        act->kind = QP_ACT_HARDSIGMOID;
        act->alpha = qp_node_float(a, "alpha", 0.2f);
        act->beta = qp_node_float(a, "beta", 0.5f);
    } else if (!strcmp(t, "Clip")) {
        act->kind = QP_ACT_CLIP;
        if (opset_of(g) < 11) {
            act->alpha = qp_node_float(a, "min", -FLT_MAX);
            act->beta = qp_node_float(a, "max", FLT_MAX);
        } else {
            /* min/max inputs: absent, or constant float scalars */
            float v[2] = {-INFINITY, INFINITY};
            for (int j = 1; j <= 2; j++) {
                const qp_value *b = qp_op_in(g, act_ni, j);
                if (b && (b->dtype != QP_DT_F32 || qp_op_const_floats(g, act_ni, j, &v[j - 1], 1) != 1))
                    return -1;
            }
            act->alpha = v[0];
            act->beta = v[1];
        }
    } else
        return -1;
    return 0;
}

static int is_graph_output(const qp_graph *g, int vi)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == vi)
            return 1;
    return 0;
}

int qp_nn_match_activation(const qp_graph *g, int ni, qp_act *act, int skip[2], int *n_skip)
{
    *n_skip = 0;
    if (!g || ni < 0 || ni >= g->n_nodes)
        return -1;
    const qp_node *n = &g->nodes[ni];
    if (n->n_out < 1 || n->out[0] < 0)
        return -1;
    int y = n->out[0];
    if (g->values[y].dtype != QP_DT_F32 || is_graph_output(g, y))
        return -1;
    int cons[3];
    int nc = qp_graph_consumers(g, y, cons, 3);
    if (nc == 1) {
        if (match_unary(g, cons[0], y, act))
            return -1;
        skip[0] = cons[0];
        *n_skip = 1;
        return 0;
    }
    if (nc != 2)
        return -1;
    /* SiLU: Mul(y, Sigmoid(y)) with y read by exactly these two and the Sigmoid only by the Mul */
    for (int k = 0; k < 2; k++) {
        int s = cons[k], m = cons[1 - k];
        const qp_node *sn = &g->nodes[s], *mn = &g->nodes[m];
        qp_act sa;
        if (strcmp(sn->op_type, "Sigmoid") || match_unary(g, s, y, &sa) || strcmp(mn->op_type, "Mul") ||
            mn->n_in != 2 || mn->n_out != 1 || mn->out[0] < 0)
            continue;
        int so = sn->out[0];
        if (!((mn->in[0] == y && mn->in[1] == so) || (mn->in[0] == so && mn->in[1] == y)))
            continue;
        if (is_graph_output(g, so) || qp_graph_consumers(g, so, NULL, 0) != 1 ||
            g->values[mn->out[0]].dtype != QP_DT_F32 || s > m)
            continue;
        memset(act, 0, sizeof *act);
        act->kind = QP_ACT_SILU;
        skip[0] = s;
        skip[1] = m;
        *n_skip = 2;
        return 0;
    }
    return -1;
}

int qp_nn_match_clamp(const qp_graph *g, int ni, int *act_ni, double *lo, double *hi)
{
    qp_act act;
    int skip[2], n_skip;
    if (qp_nn_match_activation(g, ni, &act, skip, &n_skip) || n_skip != 1 ||
        (act.kind != QP_ACT_RELU && act.kind != QP_ACT_CLIP))
        return -1;
    *act_ni = skip[0];
    *lo = act.kind == QP_ACT_RELU ? 0 : act.alpha;
    *hi = act.kind == QP_ACT_RELU ? HUGE_VAL : act.beta;
    return 0;
}

/* ---- BatchNormalization, InstanceNormalization, LRN ------------------------------------------ */

typedef struct bn_state {
    size_t n, c, hw;
    float eps;
    const float *scale, *bias;  /* folded, when all parameters are constant */
} bn_state;

static int bn_setup(const qp_graph *g, int ni, bn_state *s)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int rc, spatial, training;
    float eps;
    if ((rc = all_f32(g, ni)) || (rc = attr_float(g, ni, "epsilon", 1e-5f, &eps)) ||
        (rc = attr_flag(g, ni, "spatial", 1, &spatial)) || (rc = attr_flag(g, ni, "training_mode", 0, &training)))
        return rc;
    float momentum;
    int64_t is_test;
    if ((rc = attr_float(g, ni, "momentum", 0.9f, &momentum)) || (rc = attr_int(g, ni, "is_test", 0, &is_test)))
        return rc;
    if (training)
        return qp_op_error(g, ni, "training_mode=1 is not supported (inference only)");
    if (!spatial)
        return qp_op_error(g, ni, "spatial=0 is not supported");
    if ((rc = no_extra_outputs(g, ni, 1, "a training output")))
        return rc;
    if (x->rank < 2)
        return qp_op_error(g, ni, "input has rank %d, expected at least 2 (N, C, ...)", x->rank);
    static const char *const what[] = {"", "scale", "bias B", "mean", "var"};
    for (int i = 1; i <= 4; i++)
        if ((rc = need_vector(g, ni, i, x->dims[1], what[i])))
            return rc;
    if (s) {
        s->n = (size_t)x->dims[0];
        s->c = (size_t)x->dims[1];
        s->hw = dims_prod(x->dims, 2, x->rank);
        s->eps = eps;
    }
    return 0;
}

static int bn_infer(qp_graph *g, int ni)
{
    int rc = bn_setup(g, ni, NULL);
    return rc ? rc : set_like_input(g, ni);
}

static int bn_prepare(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep)
{
    bn_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int rc = bn_setup(g, ni, s);
    if (rc)
        return rc;
    prep->state = s;
    const qp_value *v[5];
    int all_const = 1;
    for (int i = 1; i <= 4; i++) {
        v[i] = qp_op_in(g, ni, i);
        all_const &= v[i]->is_const;
    }
    if (all_const) {
        float *sc = qp_arena_array(a, 2 * s->c + 1, sizeof(float));
        if (!sc)
            return QP_ESYS;
        qp_batchnorm_fold_f32(s->c, v[1]->data, v[2]->data, v[3]->data, v[4]->data, s->eps, sc, sc + s->c);
        s->scale = sc;
        s->bias = sc + s->c;
    } else {
        prep->scratch = 2 * s->c * sizeof(float);
    }
    return 0;
}

static int bn_run(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                  qp_tensor *const *out, void *scratch)
{
    const bn_state *s = prep->state;
    if (!s)
        return qp_op_error(g, ni, "not prepared");
    const float *scale = s->scale, *bias = s->bias;
    if (!scale) {
        float *sc = scratch;
        qp_batchnorm_fold_f32(s->c, in[1]->data, in[2]->data, in[3]->data, in[4]->data, s->eps, sc, sc + s->c);
        scale = sc;
        bias = sc + s->c;
    }
    qp_channel_affine_f32(s->n, s->c, s->hw, in[0]->data, scale, bias, out[0]->data);
    return 0;
}

static int instnorm_infer(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    float eps;
    int rc;
    if ((rc = all_f32(g, ni)) || (rc = attr_float(g, ni, "epsilon", 1e-5f, &eps)))
        return rc;
    if (x->rank < 3)
        return qp_op_error(g, ni, "input has rank %d, expected at least 3 (N, C, D1, ...)", x->rank);
    if ((rc = need_vector(g, ni, 1, x->dims[1], "scale")) || (rc = need_vector(g, ni, 2, x->dims[1], "bias B")))
        return rc;
    return set_like_input(g, ni);
}

static int instnorm_run(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                        qp_tensor *const *out, void *scratch)
{
    (void)prep;
    (void)scratch;
    float eps = qp_node_float(&g->nodes[ni], "epsilon", 1e-5f);
    const qp_tensor *x = in[0];
    qp_instancenorm_f32((size_t)x->dims[0], (size_t)x->dims[1], dims_prod(x->dims, 2, x->rank), x->data,
                        in[1]->data, in[2]->data, eps, out[0]->data);
    return 0;
}

static int lrn_infer(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t size;
    float f;
    int rc;
    if ((rc = all_f32(g, ni)) || (rc = qp_op_attr_need(g, ni, "size")) || (rc = attr_int(g, ni, "size", 0, &size)) ||
        (rc = attr_float(g, ni, "alpha", 1e-4f, &f)) || (rc = attr_float(g, ni, "beta", 0.75f, &f)) ||
        (rc = attr_float(g, ni, "bias", 1.0f, &f)))
        return rc;
    if (size < 1 || size > INT_MAX)
        return qp_op_error(g, ni, "attribute 'size' is %lld, expected a positive number", (long long)size);
    if (x->rank < 2)
        return qp_op_error(g, ni, "input has rank %d, expected at least 2 (N, C, ...)", x->rank);
    return set_like_input(g, ni);
}

static int lrn_run(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                   qp_tensor *const *out, void *scratch)
{
    (void)prep;
    (void)scratch;
    const qp_node *n = &g->nodes[ni];
    const qp_tensor *x = in[0];
    qp_lrn_f32((size_t)x->dims[0], (size_t)x->dims[1], dims_prod(x->dims, 2, x->rank),
               (size_t)qp_node_int(n, "size", 1), qp_node_float(n, "alpha", 1e-4f), qp_node_float(n, "beta", 0.75f),
               qp_node_float(n, "bias", 1.0f), x->data, out[0]->data);
    return 0;
}

/* ---- pools ----------------------------------------------------------------------------------- */

static int pool_setup(const qp_graph *g, int ni, int is_max, qp_pool2d_f32_params *p, int64_t *odims)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int rc;
    if ((rc = all_f32(g, ni)))
        return rc;
    if (x->rank != 3 && x->rank != 4)
        return qp_op_error(g, ni, "input has rank %d; only 1-D and 2-D pooling (rank 3 or 4) is supported",
                           x->rank);
    win w;
    memset(&w, 0, sizeof w);
    w.nsp = x->rank - 2;
    int present, ceil_mode, cip = 0, auto_pad;
    if ((rc = qp_op_attr_need(g, ni, "kernel_shape")) || (rc = attr_ints(g, ni, "kernel_shape", w.nsp, w.k, &present)))
        return rc;
    for (int i = 0; i < w.nsp; i++) {
        w.in[i] = x->dims[2 + i];
        if (w.k[i] < 1 || w.k[i] > INT_MAX)
            return qp_op_error(g, ni, "kernel_shape value %lld on axis %d must be positive", (long long)w.k[i],
                               i + 2);
    }
    if ((rc = win_attrs(g, ni, &w)) || (rc = attr_auto_pad(g, ni, &auto_pad)) ||
        (rc = attr_flag(g, ni, "ceil_mode", 0, &ceil_mode)))
        return rc;
    if (is_max) {
        int order;
        if ((rc = attr_flag(g, ni, "storage_order", 0, &order)) ||
            (rc = no_extra_outputs(g, ni, 1, "the Indices output")))
            return rc;
    } else if ((rc = attr_flag(g, ni, "count_include_pad", 0, &cip))) {
        return rc;
    }
    /* as onnxruntime: a pad as large as the kernel would allow windows with no input at all */
    for (int i = 0; i < w.nsp && auto_pad == PAD_NOTSET; i++)
        if (w.pb[i] >= w.k[i] || w.pe[i] >= w.k[i])
            return qp_op_error(g, ni, "pads %lld, %lld on axis %d are not smaller than the kernel (%lld)",
                               (long long)w.pb[i], (long long)w.pe[i], i + 2, (long long)w.k[i]);
    if ((rc = win_forward(g, ni, &w, auto_pad, ceil_mode)))
        return rc;
    int64_t n = x->dims[0], c = x->dims[1];
    if (!fits_int(n) || !fits_int(c) || !fits_int(w.in[0]) || !fits_int(w.in[w.nsp - 1]) ||
        !fits_int(w.out[0]) || !fits_int(w.out[w.nsp - 1]))
        return qp_op_error(g, ni, "sizes are too large");
    int two = w.nsp == 2;
    memset(p, 0, sizeof *p);
    p->n = (int)n;
    p->c = (int)c;
    p->h = two ? (int)w.in[0] : 1;
    p->w = (int)w.in[w.nsp - 1];
    p->oh = two ? (int)w.out[0] : 1;
    p->ow = (int)w.out[w.nsp - 1];
    p->kh = two ? (int)w.k[0] : 1;
    p->kw = (int)w.k[w.nsp - 1];
    p->stride_h = two ? (int)w.s[0] : 1;
    p->stride_w = (int)w.s[w.nsp - 1];
    p->dil_h = two ? (int)w.d[0] : 1;
    p->dil_w = (int)w.d[w.nsp - 1];
    p->pad_top = two ? (int)w.pb[0] : 0;
    p->pad_bottom = two ? (int)w.pe[0] : 0;
    p->pad_left = (int)w.pb[w.nsp - 1];
    p->pad_right = (int)w.pe[w.nsp - 1];
    p->count_include_pad = cip;
    if (n > 0 && c > 0 && qp_pool2d_f32_check(p))
        return qp_op_error(g, ni, "the pooling kernels reject this shape");
    odims[0] = n;
    odims[1] = c;
    for (int i = 0; i < w.nsp; i++)
        odims[2 + i] = w.out[i];
    return 0;
}

static int pool_infer_common(qp_graph *g, int ni, int is_max)
{
    qp_pool2d_f32_params p;
    int64_t odims[4];
    int rc = pool_setup(g, ni, is_max, &p, odims);
    return rc ? rc : qp_op_set_out(g, ni, 0, QP_DT_F32, qp_op_in(g, ni, 0)->rank, odims);
}

static int maxpool_infer(qp_graph *g, int ni) { return pool_infer_common(g, ni, 1); }
static int avgpool_infer(qp_graph *g, int ni) { return pool_infer_common(g, ni, 0); }

static int pool_prepare(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep)
{
    qp_pool2d_f32_params *p = qp_arena_alloc(a, sizeof *p);
    if (!p)
        return QP_ESYS;
    int64_t odims[4];
    int rc = pool_setup(g, ni, !strcmp(g->nodes[ni].op_type, "MaxPool"), p, odims);
    prep->state = p;
    return rc;
}

static int pool_run(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                    qp_tensor *const *out, void *scratch)
{
    (void)scratch;
    const qp_pool2d_f32_params *p = prep->state;
    if (!p)
        return qp_op_error(g, ni, "not prepared");
    if (p->n == 0 || p->c == 0)
        return 0;
    if (!strcmp(g->nodes[ni].op_type, "MaxPool"))
        qp_maxpool2d_f32(p, in[0]->data, out[0]->data);
    else
        qp_avgpool2d_f32(p, in[0]->data, out[0]->data);
    return 0;
}

static int global_pool_infer(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int rc = all_f32(g, ni);
    if (rc)
        return rc;
    if (x->rank < 3)
        return qp_op_error(g, ni, "input has rank %d, expected at least 3 (N, C, D1, ...)", x->rank);
    int64_t dims[QP_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = i < 2 ? x->dims[i] : 1;
    for (int i = 2; i < x->rank; i++)
        if (x->dims[i] < 1)
            return qp_op_error(g, ni, "input axis %d has size %lld", i, (long long)x->dims[i]);
    return qp_op_set_out(g, ni, 0, QP_DT_F32, x->rank, dims);
}

static int global_pool_run(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                           qp_tensor *const *out, void *scratch)
{
    (void)prep;
    (void)scratch;
    const qp_tensor *x = in[0];
    size_t nc = dims_prod(x->dims, 0, 2), hw = dims_prod(x->dims, 2, x->rank);
    if (!strcmp(g->nodes[ni].op_type, "GlobalMaxPool"))
        qp_global_maxpool_f32(nc, hw, x->data, out[0]->data);
    else
        qp_global_avgpool_f32(nc, hw, x->data, out[0]->data);
    return 0;
}

/* ---- Softmax, LogSoftmax --------------------------------------------------------------------- */

typedef struct softmax_state {
    size_t outer, n, inner;
    int log;
} softmax_state;

static int softmax_setup(const qp_graph *g, int ni, softmax_state *s)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int rc = all_f32(g, ni);
    if (rc)
        return rc;
    int old = opset_of(g) < 13;
    int64_t ax;
    if ((rc = attr_int(g, ni, "axis", old ? 1 : -1, &ax)))
        return rc;
    if (x->rank < 1)
        return qp_op_error(g, ni, "input is a scalar, expected rank 1 or more");
    int axis;
    if (old && !qp_node_attr(&g->nodes[ni], "axis") && x->rank == 1)
        axis = 1;               /* the 2-D coercion of the default axis: one element per row */
    else if ((axis = qp_op_axis(g, ni, ax, x->rank)) < 0)
        return QP_EINPUT;
    if (s) {
        s->outer = dims_prod(x->dims, 0, axis);
        s->n = old ? dims_prod(x->dims, axis, x->rank) : (size_t)x->dims[axis];
        s->inner = old ? 1 : dims_prod(x->dims, axis + 1, x->rank);
        s->log = !strcmp(g->nodes[ni].op_type, "LogSoftmax");
    }
    return 0;
}

static int softmax_infer(qp_graph *g, int ni)
{
    int rc = softmax_setup(g, ni, NULL);
    return rc ? rc : set_like_input(g, ni);
}

static int softmax_prepare(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep)
{
    softmax_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int rc = softmax_setup(g, ni, s);
    prep->state = s;
    prep->scratch = qp_softmax_f32_scratch_size(s->n, s->inner);
    return rc;
}

static int softmax_run(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                       qp_tensor *const *out, void *scratch)
{
    const softmax_state *s = prep->state;
    if (!s)
        return qp_op_error(g, ni, "not prepared");
    qp_softmax_f32(s->outer, s->n, s->inner, s->log, in[0]->data, out[0]->data, scratch);
    return 0;
}

/* ---- Reduce* --------------------------------------------------------------------------------- */

static const struct { const char *name; qp_reduce_kind kind; } reduce_ops[] = {
    {"ReduceSum", QP_REDUCE_SUM},         {"ReduceMean", QP_REDUCE_MEAN},
    {"ReduceMax", QP_REDUCE_MAX},         {"ReduceMin", QP_REDUCE_MIN},
    {"ReduceProd", QP_REDUCE_PROD},       {"ReduceL1", QP_REDUCE_L1},
    {"ReduceL2", QP_REDUCE_L2},           {"ReduceSumSquare", QP_REDUCE_SUMSQUARE},
    {"ReduceLogSum", QP_REDUCE_LOGSUM},   {"ReduceLogSumExp", QP_REDUCE_LOGSUMEXP},
};

typedef struct reduce_state {
    qp_reduce_kind kind;
    int rank;
    size_t dims[QP_MAX_RANK];
    unsigned char red[QP_MAX_RANK];
} reduce_state;

static int reduce_setup(const qp_graph *g, int ni, reduce_state *s, int *orank, int64_t *odims)
{
    const qp_value *x = qp_op_in(g, ni, 0), *av = qp_op_in(g, ni, 1);
    int rc, keepdims, noop;
    if ((rc = need_f32(g, ni, 0)) || (rc = attr_flag(g, ni, "keepdims", 1, &keepdims)) ||
        (rc = attr_flag(g, ni, "noop_with_empty_axes", 0, &noop)))
        return rc;
    int naa;
    const int64_t *aa;
    if ((rc = qp_op_attr_ints(g, ni, "axes", &naa, &aa)))
        return rc;
    int64_t axes[QP_MAX_RANK];
    int na = 0;
    if (av) {
        if (aa)
            return qp_op_error(g, ni, "axes given both as an attribute and as input 1");
        size_t numel = 0;
        qp_value_numel(av, &numel);
        if (av->dtype != QP_DT_I64 && av->dtype != QP_DT_I32)
            return qp_op_error(g, ni, "axes (input 1) is %s, expected int64", qp_dtype_name(av->dtype));
        if (av->rank > 1)
            return qp_op_error(g, ni, "axes (input 1) has rank %d, expected 1", av->rank);
        if (numel > QP_MAX_RANK)
            return qp_op_error(g, ni, "axes (input 1) has %zu values, the input rank is %d", numel, x->rank);
        if (!av->is_const)
            return qp_op_error(g, ni, "axes (input 1, '%s') must be a constant", av->name);
        na = qp_op_const_ints(g, ni, 1, axes, QP_MAX_RANK);
    } else if (aa) {
        if (naa > QP_MAX_RANK)
            return qp_op_error(g, ni, "attribute 'axes' has %d values, the input rank is %d", naa, x->rank);
        na = naa;
        memcpy(axes, aa, (size_t)na * sizeof *axes);
    }
    unsigned char red[QP_MAX_RANK] = {0};
    for (int i = 0; i < na; i++) {
        int a = qp_op_axis(g, ni, axes[i], x->rank);
        if (a < 0)
            return QP_EINPUT;
        if (red[a])
            return qp_op_error(g, ni, "axis %lld appears twice in axes", (long long)axes[i]);
        red[a] = 1;
    }
    if (na == 0 && !noop)
        memset(red, 1, sizeof red);
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!red[i])
            odims[r++] = x->dims[i];
        else if (keepdims)
            odims[r++] = 1;
    }
    *orank = r;
    if (s) {
        s->kind = QP_REDUCE_SUM;
        for (size_t k = 0; k < sizeof reduce_ops / sizeof reduce_ops[0]; k++)
            if (!strcmp(reduce_ops[k].name, g->nodes[ni].op_type))
                s->kind = reduce_ops[k].kind;
        s->rank = x->rank;
        for (int i = 0; i < x->rank; i++) {
            s->dims[i] = (size_t)x->dims[i];
            s->red[i] = red[i];
        }
    }
    return 0;
}

static int reduce_infer(qp_graph *g, int ni)
{
    int64_t odims[QP_MAX_RANK];
    int r, rc = reduce_setup(g, ni, NULL, &r, odims);
    return rc ? rc : qp_op_set_out(g, ni, 0, QP_DT_F32, r, odims);
}

static int reduce_prepare(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep)
{
    reduce_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int64_t odims[QP_MAX_RANK];
    int r;
    prep->state = s;
    return reduce_setup(g, ni, s, &r, odims);
}

static int reduce_run(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                      qp_tensor *const *out, void *scratch)
{
    (void)scratch;
    const reduce_state *s = prep->state;
    if (!s)
        return qp_op_error(g, ni, "not prepared");
    qp_reduce_f32(s->kind, s->rank, s->dims, s->red, in[0]->data, out[0]->data);
    return 0;
}

/* ---- geometry for the quantized rules (qp/nn.h) ---------------------------------------------- */

int qp_nn_conv_geometry(const qp_graph *g, int ni, qp_conv2d_f32_params *p)
{
    int64_t odims[4];
    return conv_setup(g, ni, !strcmp(g->nodes[ni].op_type, "ConvTranspose"), p, odims);
}

int qp_nn_pool_geometry(const qp_graph *g, int ni, qp_pool2d_f32_params *p)
{
    int64_t odims[4];
    return pool_setup(g, ni, !strcmp(g->nodes[ni].op_type, "MaxPool"), p, odims);
}

int qp_nn_softmax_geometry(const qp_graph *g, int ni, size_t *outer, size_t *n, size_t *inner)
{
    softmax_state s;
    memset(&s, 0, sizeof s);
    int rc = softmax_setup(g, ni, &s);
    *outer = s.outer;
    *n = s.n;
    *inner = s.inner;
    return rc;
}

/* ---- the table ------------------------------------------------------------------------------- */

#define PORT(i) (1u << (i))
#define REDUCE(name) {name, 1, 2, 1, 1, PORT(1), 0, reduce_infer, reduce_prepare, reduce_run}

const qp_op qp_ops_nn[] = {
    /* name, in, out, param_mask, weight_mask, infer, prepare, run */
    {"Conv", 2, 3, 1, 1, 0, PORT(1) | PORT(2), conv_infer, conv_prepare, conv_run},
    {"ConvTranspose", 2, 3, 1, 1, 0, PORT(1) | PORT(2), convt_infer, convt_prepare, conv_run},
    {"Gemm", 2, 3, 1, 1, 0, PORT(1) | PORT(2), gemm_infer, mm_prepare, mm_run},
    {"MatMul", 2, 2, 1, 1, 0, PORT(1), matmul_infer, mm_prepare, mm_run},
    {"BatchNormalization", 5, 5, 1, 5, 0, PORT(1) | PORT(2) | PORT(3) | PORT(4), bn_infer, bn_prepare, bn_run},
    {"InstanceNormalization", 3, 3, 1, 1, 0, PORT(1) | PORT(2), instnorm_infer, NULL, instnorm_run},
    {"LRN", 1, 1, 1, 1, 0, 0, lrn_infer, NULL, lrn_run},
    {"MaxPool", 1, 1, 1, 2, 0, 0, maxpool_infer, pool_prepare, pool_run},
    {"AveragePool", 1, 1, 1, 1, 0, 0, avgpool_infer, pool_prepare, pool_run},
    {"GlobalAveragePool", 1, 1, 1, 1, 0, 0, global_pool_infer, NULL, global_pool_run},
    {"GlobalMaxPool", 1, 1, 1, 1, 0, 0, global_pool_infer, NULL, global_pool_run},
    {"Softmax", 1, 1, 1, 1, 0, 0, softmax_infer, softmax_prepare, softmax_run},
    {"LogSoftmax", 1, 1, 1, 1, 0, 0, softmax_infer, softmax_prepare, softmax_run},
    REDUCE("ReduceSum"),
    REDUCE("ReduceMean"),
    REDUCE("ReduceMax"),
    REDUCE("ReduceMin"),
    REDUCE("ReduceProd"),
    REDUCE("ReduceL1"),
    REDUCE("ReduceL2"),
    REDUCE("ReduceSumSquare"),
    REDUCE("ReduceLogSum"),
    REDUCE("ReduceLogSumExp"),
};
const int qp_ops_nn_count = (int)(sizeof qp_ops_nn / sizeof qp_ops_nn[0]);
