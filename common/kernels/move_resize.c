/* Resize.  Each axis gets a table of taps (input index and weight per output position, plus an
 * "outside" flag for tf_crop_and_resize); nearest then gathers over all axes at once, reusing
 * the previous output row when two rows read the same input row, and linear/cubic interpolate
 * one axis at a time through two scratch buffers. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "qp/move_copy.h"
#include "qp/move_resize.h"

static int taps_of(qp_resize_mode m) { return m == QP_RESIZE_NEAREST ? 1 : m == QP_RESIZE_LINEAR ? 2 : 4; }

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* per axis: K int32 indices + K float weights per output, one flag byte per output */
static size_t table_bytes(const qp_resize_params *p, int d)
{
    size_t n = (size_t)p->out[d], k = (size_t)taps_of(p->mode);
    return align64(n * k * 4) + align64(n * k * 4) + align64(n);
}

/* largest intermediate of the linear/cubic passes (innermost axis first), in elements */
static size_t max_intermediate(const qp_resize_params *p)
{
    int64_t cur[QP_RESIZE_MAX_RANK];
    memcpy(cur, p->in, sizeof cur);
    size_t best = 0;
    for (int d = p->rank - 1; d > 0; d--) {
        cur[d] = p->out[d];
        size_t n = 1;
        for (int e = 0; e < p->rank; e++)
            n *= (size_t)cur[e];
        best = n > best ? n : best;
    }
    return best;
}

size_t qp_move_resize_scratch_size(const qp_resize_params *p)
{
    size_t n = 0;
    for (int d = 0; d < p->rank; d++)
        n += table_bytes(p, d);
    if (p->mode != QP_RESIZE_NEAREST)
        n += 2 * align64(max_intermediate(p) * sizeof(float));
    return n;
}

/* ---- coordinates and taps ------------------------------------------------------------------- */

static double original_coord(const qp_resize_params *p, int d, int64_t xi, int *outside)
{
    double x = (double)xi, s = p->scale[d], in = (double)p->in[d], len = s * in;
    *outside = 0;
    switch (p->coord) {
    case QP_RESIZE_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case QP_RESIZE_PYTORCH_HALF_PIXEL: return len > 1 ? (x + 0.5) / s - 0.5 : 0;
    case QP_RESIZE_ALIGN_CORNERS: return len == 1 ? 0 : x * (in - 1) / (len - 1);
    case QP_RESIZE_ASYMMETRIC: return x / s;
    case QP_RESIZE_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    case QP_RESIZE_TF_CROP_AND_RESIZE: {
        double a = p->roi_start[d], b = p->roi_end[d];
        double v = len > 1 ? a * (in - 1) + x * (b - a) * (in - 1) / (len - 1) : 0.5 * (a + b) * (in - 1);
        *outside = v < 0 || v > in - 1;
        return v;
    }
    }
    return x / s;
}

static void cubic_coeffs(double r, double A, double c[4])
{
    double t = r + 1, u = 1 - r, v = 2 - r;
    c[0] = ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
    c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    c[2] = ((A + 2) * u - (A + 3)) * u * u + 1;
    c[3] = ((A * v - 5 * A) * v + 8 * A) * v - 4 * A;
}

struct table {
    int32_t *idx;   /* planar: tap k of output j at [k * out + j] */
    float *w;
    unsigned char *outside;
    int identity;   /* every output reads its own position with weight 1 */
    int64_t repeat; /* nearest: idx[j] = j / repeat for all j (0: no such factor) */
};

static int32_t clamp_index(int64_t i, int64_t n) { return (int32_t)(i < 0 ? 0 : i >= n ? n - 1 : i); }

static void build_table(const qp_resize_params *p, int d, struct table *t)
{
    int K = taps_of(p->mode);
    int64_t in = p->in[d], out = p->out[d];
    t->identity = in == out;
    t->repeat = in > 0 && out % in == 0 ? out / in : 0;
    for (int64_t j = 0; j < out; j++) {
        int outside;
        double xo = original_coord(p, d, j, &outside);
        /* keep the float-to-integer conversions below defined, whatever the roi says */
        if (!(xo > -1e12))
            xo = -1e12;
        else if (xo > 1e12)
            xo = 1e12;
        int32_t ix[4];
        float w[4];
        t->outside[j] = (unsigned char)outside;
        if (p->mode == QP_RESIZE_NEAREST) {
            double f = floor(xo), r = xo - f;
            int64_t i;
            switch (p->nearest) {
            case QP_RESIZE_ROUND_PREFER_FLOOR: i = (int64_t)f + (r > 0.5); break;
            case QP_RESIZE_ROUND_PREFER_CEIL: i = (int64_t)f + (r >= 0.5); break;
            case QP_RESIZE_FLOOR: i = (int64_t)f; break;
            case QP_RESIZE_CEIL: i = (int64_t)ceil(xo); break;
            default: i = p->scale[d] < 1 ? (int64_t)ceil(xo) : (int64_t)f; break;
            }
            ix[0] = clamp_index(i, in);
            w[0] = 1;
        } else {
            double f = floor(xo), r = xo - f, c[4];
            int64_t base = (int64_t)f - (K == 4 ? 1 : 0);
            if (K == 2) {
                c[0] = 1 - r;
                c[1] = r;
            } else
                cubic_coeffs(r, p->cubic_a, c);
            if (p->exclude_outside) {
                double sum = 0;
                for (int k = 0; k < K; k++) {
                    if (base + k < 0 || base + k >= in)
                        c[k] = 0;
                    sum += c[k];
                }
                for (int k = 0; k < K; k++)
                    c[k] = sum != 0 ? c[k] / sum : 0;
            }
            for (int k = 0; k < K; k++) {
                ix[k] = clamp_index(base + k, in);
                w[k] = (float)c[k];
            }
        }
        if (outside)
            t->identity = 0;
        if (t->identity) {
            /* identity if the weights on index j sum to exactly 1 and all others are 0 */
            float on = 0;
            int off = 0;
            for (int k = 0; k < K; k++) {
                if (ix[k] == j)
                    on += w[k];
                else
                    off |= w[k] != 0;
            }
            t->identity = on == 1 && !off;
        }
        if (t->repeat && (outside || ix[0] != j / t->repeat))
            t->repeat = 0;
        for (int k = 0; k < K; k++) {
            t->idx[k * out + j] = ix[k];
            t->w[k * out + j] = w[k];
        }
    }
}

/* ---- nearest -------------------------------------------------------------------------------- */

void qp_move_repeat_4__ref(size_t n, size_t k, const void *px, void *py)
{
    const uint32_t *x = px;
    uint32_t *y = py;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            y[i * k + j] = x[i];
}

struct rep_variant { size_t es; qp_move_repeat_fn fn; qp_isa isa; };
#define REP_ENTRY(es, fname, isa) {es, qp_move_##fname, isa},
/* ends with a zeroed entry the loops skip: the list is empty under QP_NO_AVX2 */
static const struct rep_variant rep_variants[] = {QP_MOVE_REPEAT_VARIANTS(REP_ENTRY) {0}};

qp_move_repeat_fn qp_move_repeat_get(size_t es, qp_isa isa)
{
    qp_move_repeat_fn best = es == 4 ? qp_move_repeat_4__ref : NULL;
    qp_isa best_isa = QP_ISA_REF;
    for (size_t i = 0; i + 1 < sizeof rep_variants / sizeof rep_variants[0]; i++)
        if (rep_variants[i].es == es && rep_variants[i].isa <= isa && rep_variants[i].isa >= best_isa) {
            best = rep_variants[i].fn;
            best_isa = rep_variants[i].isa;
        }
    return best;
}

struct nn_ctx {
    const qp_resize_params *p;
    size_t es;
    const void *extrap;
    struct table *t;
    int64_t xst[QP_RESIZE_MAX_RANK], yst[QP_RESIZE_MAX_RANK];
    qp_move_repeat_fn repeat;
};

static void nn_rec(const struct nn_ctx *c, int d, const char *x, char *y)
{
    const struct table *t = &c->t[d];
    size_t es = c->es;
    int64_t out = c->p->out[d];
    if (d == c->p->rank - 1) {
        if (t->identity)
            memcpy(y, x, (size_t)out * es);
        else if (t->repeat && c->repeat)
            c->repeat((size_t)c->p->in[d], (size_t)t->repeat, x, y);
        else
            for (int64_t j = 0; j < out; j++)
                memcpy(y + j * (int64_t)es, t->outside[j] ? c->extrap : x + (int64_t)t->idx[j] * (int64_t)es, es);
        return;
    }
    size_t block = (size_t)c->yst[d] * es;
    for (int64_t j = 0; j < out; j++) {
        char *yj = y + (size_t)j * block;
        if (t->outside[j])
            qp_move_fill(es, (size_t)c->yst[d], c->extrap, yj);
        else if (j > 0 && !t->outside[j - 1] && t->idx[j] == t->idx[j - 1])
            memcpy(yj, yj - block, block);
        else
            nn_rec(c, d + 1, x + (int64_t)t->idx[j] * c->xst[d] * (int64_t)es, yj);
    }
}

/* ---- linear / cubic: one axis ---------------------------------------------------------------- */

void qp_move_lerp_rows_f32__ref(size_t n, int K, const float *const *rows, const float *w, float *y)
{
    for (size_t i = 0; i < n; i++) {
        float acc = w[0] * rows[0][i];
        for (int k = 1; k < K; k++)
            acc += w[k] * rows[k][i];
        y[i] = acc;
    }
}

void qp_move_lerp_gather_f32__ref(size_t outer, size_t n_in, size_t n_out, int K, const int32_t *idx,
                                  const float *w, const float *x, float *y)
{
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x + o * n_in;
        float *yo = y + o * n_out;
        for (size_t j = 0; j < n_out; j++) {
            float acc = w[j] * xo[idx[j]];
            for (int k = 1; k < K; k++)
                acc += w[k * n_out + j] * xo[idx[k * n_out + j]];
            yo[j] = acc;
        }
    }
}

struct lerp_variant { qp_move_lerp_rows_fn rows; qp_move_lerp_gather_fn gather; qp_isa isa; };
#define LERP_ENTRY(r, g, isa) {qp_move_##r, qp_move_##g, isa},
/* ends with a zeroed entry the loops skip: the list is empty under QP_NO_AVX2 */
static const struct lerp_variant lerp_variants[] = {QP_MOVE_LERP_VARIANTS(LERP_ENTRY) {0}};

qp_move_lerp_rows_fn qp_move_lerp_rows_get(qp_isa isa)
{
    qp_move_lerp_rows_fn best = qp_move_lerp_rows_f32__ref;
    for (size_t i = 0; i + 1 < sizeof lerp_variants / sizeof lerp_variants[0]; i++)
        if (lerp_variants[i].isa <= isa)
            best = lerp_variants[i].rows;
    return best;
}

qp_move_lerp_gather_fn qp_move_lerp_gather_get(qp_isa isa)
{
    qp_move_lerp_gather_fn best = qp_move_lerp_gather_f32__ref;
    for (size_t i = 0; i + 1 < sizeof lerp_variants / sizeof lerp_variants[0]; i++)
        if (lerp_variants[i].isa <= isa)
            best = lerp_variants[i].gather;
    return best;
}

static void interp_axis(const struct table *t, int K, size_t outer, size_t n_in, size_t n_out, size_t inner,
                        float extrap, const float *x, float *y, qp_isa isa)
{
    if (inner == 1) {
        qp_move_lerp_gather_get(isa)(outer, n_in, n_out, K, t->idx, t->w, x, y);
        for (size_t j = 0; j < n_out; j++)
            if (t->outside[j])
                for (size_t o = 0; o < outer; o++)
                    y[o * n_out + j] = extrap;
        return;
    }
    qp_move_lerp_rows_fn rows_fn = qp_move_lerp_rows_get(isa);
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x + o * n_in * inner;
        float *yo = y + o * n_out * inner;
        for (size_t j = 0; j < n_out; j++) {
            float *yr = yo + j * inner;
            if (t->outside[j]) {
                for (size_t i = 0; i < inner; i++)
                    yr[i] = extrap;
                continue;
            }
            const float *rows[4];
            float w[4];
            for (int k = 0; k < K; k++) {
                rows[k] = xo + (size_t)t->idx[k * n_out + j] * inner;
                w[k] = t->w[k * n_out + j];
            }
            rows_fn(inner, K, rows, w, yr);
        }
    }
}

void qp_move_resize(const qp_resize_params *p, size_t es, const void *extrap, const void *x, void *y,
                    void *scratch)
{
    int r = p->rank, K = taps_of(p->mode);
    assert(r >= 1 && r <= QP_RESIZE_MAX_RANK);
    assert(p->mode == QP_RESIZE_NEAREST || es == 4);
    size_t ytotal = 1, xtotal = 1;
    for (int d = 0; d < r; d++) {
        ytotal *= (size_t)p->out[d];
        xtotal *= (size_t)p->in[d];
    }
    if (ytotal == 0)
        return;
    assert(xtotal > 0 || p->coord == QP_RESIZE_TF_CROP_AND_RESIZE);
    struct table t[QP_RESIZE_MAX_RANK];
    char *s = scratch;
    for (int d = 0; d < r; d++) {
        size_t n = (size_t)p->out[d];
        t[d].idx = (int32_t *)s;
        s += align64(n * (size_t)K * 4);
        t[d].w = (float *)s;
        s += align64(n * (size_t)K * 4);
        t[d].outside = (unsigned char *)s;
        s += align64(n);
        build_table(p, d, &t[d]);
    }
    if (p->mode == QP_RESIZE_NEAREST) {
        struct nn_ctx c = {p, es, extrap, t, {0}, {0}, qp_move_repeat_get(es, qp_kernels_isa())};
        int64_t xs = 1, ys = 1;
        for (int d = r - 1; d >= 0; d--) {
            c.xst[d] = xs;
            c.yst[d] = ys;
            xs *= p->in[d];
            ys *= p->out[d];
        }
        nn_rec(&c, 0, x, y);
        return;
    }
    float ex;
    memcpy(&ex, extrap, 4);
    size_t inter = max_intermediate(p);
    float *buf[2] = {(float *)s, (float *)(s + align64(inter * sizeof(float)))};
    int64_t cur[QP_RESIZE_MAX_RANK];
    memcpy(cur, p->in, sizeof cur);
    int last = -1;
    for (int d = r - 1; d >= 0; d--)
        if (!t[d].identity)
            last = d;       /* the outermost changed axis runs last, into y */
    if (last < 0) {
        memcpy(y, x, ytotal * 4);
        return;
    }
    const float *src = x;
    int nb = 0;
    for (int d = r - 1; d >= 0; d--) {
        if (t[d].identity)
            continue;
        size_t outer = 1, inner = 1;
        for (int e = 0; e < d; e++)
            outer *= (size_t)cur[e];
        for (int e = d + 1; e < r; e++)
            inner *= (size_t)cur[e];
        float *dst = d == last ? (float *)y : buf[nb];
        interp_axis(&t[d], K, outer, (size_t)cur[d], (size_t)p->out[d], inner, ex, src, dst, qp_kernels_isa());
        cur[d] = p->out[d];
        src = dst;
        nb ^= 1;
    }
}
