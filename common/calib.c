/* Calibration statistics (calib.h).  Everything here is exact so that statistics do not
 * depend on the order of the samples, their split into shards or the thread count: extremes
 * are min/max, counts are integer sums, and a histogram bin index is floor(|x| * 2^(11-E))
 * with E = hist_exp, a multiplication by a power of two (exact in floating point), so the
 * bin of x at exponent E+k is the bin at E shifted right by k: rebinning sums groups of 2^k
 * bins and gives the bins a direct count at E+k would give.  Per-worker partial results are
 * integer counts and extremes, so how tasks fall on workers does not matter either. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qp/calib.h"
#include "qp/diag.h"
#include "qp/threads.h"
#include "qpipe_ir.pb-c.h"

#define BINS QP_CALIB_BINS
#define BINS_LOG2 11
_Static_assert(BINS == 1 << BINS_LOG2, "BINS_LOG2 must match QP_CALIB_BINS");

#define EXP_MAX 1100                /* beyond any float64: a corrupt section */
#define CHUNK ((size_t)1 << 16)     /* elements per task: by size only, so results never
                                       depend on the thread count (they are exact anyway) */
#define SECTION_VERSION 1

/* One worker's partial result of a pass: hist is zero between calls, the rest set per pass. */
struct part {
    uint32_t hist[2][BINS];         /* [0] x >= 0, [1] x < 0 */
    double mn, mx;
    uint64_t nonfinite;
    int overflow, used;
};

struct qp_calib_work {
    int n_parts;
    struct part *parts;
    float *conv;                    /* float32 copy of a non-float32 tensor */
    size_t conv_n;
};

struct pass {
    const float *x;
    size_t n;
    int e;                          /* the histogram exponent */
    struct part *parts;
};

static int is_float_dtype(int dt)
{
    return dt == QP_DT_F32 || dt == QP_DT_F16 || dt == QP_DT_BF16 || dt == QP_DT_F64;
}

/* Statistics are kept for non-constant floating values that exist at run time: node
 * outputs and graph inputs (an unproduced value that is no input never holds data). */
static int is_tracked(const qp_graph *g, int vi)
{
    const qp_value *v = &g->values[vi];
    if (v->is_const || !is_float_dtype(v->dtype))
        return 0;
    if (v->producer >= 0)
        return 1;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == vi)
            return 1;
    return 0;
}

/* Smallest E >= QP_CALIB_EXP_MIN with m < 2^E (strictly: |x| = 2^E needs E+1, so no bin
 * index is ever clamped and the bins stay aligned across exponents). */
static int exponent_of(double m)
{
    if (!(m > 0))
        return QP_CALIB_EXP_MIN;
    int p;
    frexp(m, &p);                   /* m = f * 2^p, f in [0.5, 1): m < 2^p <= 2m */
    return p < QP_CALIB_EXP_MIN ? QP_CALIB_EXP_MIN : p;
}

/* Bins at exponent e re-expressed at e + k: bin b goes to b >> k. */
static void rebin(uint64_t *h, int k)
{
    if (k <= 0)
        return;
    if (k >= BINS_LOG2) {
        uint64_t s = 0;
        for (int b = 0; b < BINS; b++)
            s += h[b];
        memset(h, 0, BINS * sizeof *h);
        h[0] = s;
        return;
    }
    for (int j = 0; j < BINS >> k; j++) {
        uint64_t s = 0;
        for (int b = j << k; b < (j + 1) << k; b++)
            s += h[b];
        h[j] = s;               /* slot j lies in group j >> k <= j, summed already */
    }
    memset(h + (BINS >> k), 0, (size_t)(BINS - (BINS >> k)) * sizeof *h);
}

/* The hot loops: extremes, non-finite count and bins of x[0..n) at the scale 2^(11-E).
 * fabsf(v) * scale is exact whenever the product is normal; a subnormal product is below
 * 1 and lands in bin 0 whatever its rounding, so float arithmetic suffices while the scale
 * itself is a normal float (double otherwise: E beyond float's range of exponents).
 * A first loop finds the extremes and any NaN/Inf; when everything is finite and in range
 * (the usual case once a tensor's range is known), the bin indices are computed four at a
 * time into a small buffer and counted from there.  Four-wide GNU C vectors compile to
 * SSE2 on x86-64 and to plain code elsewhere; the arithmetic is the scalar one (IEEE
 * multiply, truncating conversion), so every path gives the same bins. */
typedef float qp_v4f __attribute__((vector_size(16)));
typedef int32_t qp_v4i __attribute__((vector_size(16)));
typedef uint32_t qp_v4u __attribute__((vector_size(16)));

#define IDX_BUF 256

static void extremes(const float *x, size_t n, float *omn, float *omx, uint64_t *onf)
{
    const qp_v4u expo = { 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u };
    qp_v4f mn0 = { INFINITY, INFINITY, INFINITY, INFINITY }, mx0 = -mn0, mn1 = mn0, mx1 = mx0;
    qp_v4i nf = { 0, 0, 0, 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        qp_v4f v, w;
        memcpy(&v, x + i, sizeof v);
        memcpy(&w, x + i + 4, sizeof w);
        nf -= (qp_v4i)(((qp_v4u)v & expo) == expo);     /* -1 per NaN/Inf lane */
        nf -= (qp_v4i)(((qp_v4u)w & expo) == expo);
        /* NaN never compares: left out; +-Inf taken (the caller then goes careful) */
        qp_v4i lt = v < mn0, gt = v > mx0;
        mn0 = (qp_v4f)(((qp_v4i)v & lt) | ((qp_v4i)mn0 & ~lt));
        mx0 = (qp_v4f)(((qp_v4i)v & gt) | ((qp_v4i)mx0 & ~gt));
        lt = w < mn1;
        gt = w > mx1;
        mn1 = (qp_v4f)(((qp_v4i)w & lt) | ((qp_v4i)mn1 & ~lt));
        mx1 = (qp_v4f)(((qp_v4i)w & gt) | ((qp_v4i)mx1 & ~gt));
    }
    float mn = INFINITY, mx = -INFINITY;
    uint64_t k = 0;
    for (int j = 0; j < 4; j++) {
        mn = mn0[j] < mn ? mn0[j] : mn;
        mn = mn1[j] < mn ? mn1[j] : mn;
        mx = mx0[j] > mx ? mx0[j] : mx;
        mx = mx1[j] > mx ? mx1[j] : mx;
        k += (uint32_t)nf[j];
    }
    for (; i < n; i++) {
        float v = x[i];
        k += !isfinite(v);
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    }
    *omn = mn;
    *omx = mx;
    *onf = k;
}

/* Every element finite and below 2^E: no test per element. */
static void bin_fast(const float *x, size_t n, float sc, uint32_t *hist)
{
    const qp_v4u absmask = { 0x7fffffffu, 0x7fffffffu, 0x7fffffffu, 0x7fffffffu };
    const qp_v4u neg = { BINS, BINS, BINS, BINS };
    const qp_v4f s = { sc, sc, sc, sc }, zero = { 0, 0, 0, 0 };
    uint32_t idx[IDX_BUF];
    size_t i = 0;
    for (; i + IDX_BUF <= n; i += IDX_BUF) {
        for (int j = 0; j < IDX_BUF; j += 4) {
            qp_v4f v;
            memcpy(&v, x + i + (size_t)j, sizeof v);
            qp_v4f a = (qp_v4f)((qp_v4u)v & absmask) * s;
            qp_v4u b = (qp_v4u)__builtin_convertvector(a, qp_v4i) + ((qp_v4u)(v < zero) & neg);
            memcpy(idx + j, &b, sizeof b);
        }
        for (int j = 0; j < IDX_BUF; j++)
            hist[idx[j]]++;
    }
    for (; i < n; i++) {
        float v = x[i];
        hist[(uint32_t)(fabsf(v) * sc) + (v < 0 ? BINS : 0)]++;
    }
}

#define BIN_SCALAR(T, CHECK)                                                                \
    for (size_t i = 0; i < n; i++) {                                                        \
        float v = x[i];                                                                     \
        if (CHECK && !isfinite(v))                                                          \
            continue;                                                                       \
        T a = (T)fabsf(v) * sc;             /* below BINS: the extremes were checked */     \
        hist[(uint32_t)a + (v < 0 ? BINS : 0)]++;   /* truncation = floor for a >= 0 */     \
    }

static void bin_range(const float *x, size_t n, int e, struct part *p)
{
    float mn, mx;
    uint64_t nf;
    extremes(x, n, &mn, &mx, &nf);
    int careful = nf != 0;
    if (careful) {                      /* the extremes of the finite elements only */
        mn = INFINITY;
        mx = -INFINITY;
        for (size_t i = 0; i < n; i++)
            if (isfinite(x[i])) {
                mn = x[i] < mn ? x[i] : mn;
                mx = x[i] > mx ? x[i] : mx;
            }
    }
    int sh = BINS_LOG2 - e;
    double top = mn <= mx ? ldexp(fmax(fabs((double)mn), fabs((double)mx)), sh) : 0;
    if (mn < p->mn)
        p->mn = mn;
    if (mx > p->mx)
        p->mx = mx;
    p->nonfinite += nf;
    p->used = 1;
    if (top >= BINS) {                  /* the range grew: the caller starts again */
        p->overflow = 1;
        return;
    }
    uint32_t *hist = &p->hist[0][0];
    if (sh >= -126 && sh <= 127) {
        float sc = ldexpf(1.0f, sh);
        if (careful) {
            BIN_SCALAR(float, 1)
        } else {
            bin_fast(x, n, sc, hist);
        }
    } else {
        double sc = ldexp(1.0, sh);
        BIN_SCALAR(double, careful)
    }
}

static void pass_task(void *ctx, int task, int worker)
{
    const struct pass *ps = ctx;
    size_t lo = (size_t)task * CHUNK, hi = lo + CHUNK < ps->n ? lo + CHUNK : ps->n;
    bin_range(ps->x + lo, hi - lo, ps->e, &ps->parts[worker]);
}

/* One pass over x at exponent e; combined extremes and counts in *all (its hist unused). */
static void run_pass(struct qp_calib_work *w, const float *x, size_t n, int e, struct part *all)
{
    struct pass ps = { x, n, e, w->parts };
    for (int k = 0; k < w->n_parts; k++) {
        w->parts[k].mn = INFINITY;
        w->parts[k].mx = -INFINITY;
        w->parts[k].nonfinite = 0;
        w->parts[k].overflow = w->parts[k].used = 0;
    }
    size_t tasks = (n + CHUNK - 1) / CHUNK;
    if (tasks <= 1 || w->n_parts == 1)
        for (size_t lo = 0; lo < n; lo += CHUNK)
            bin_range(x + lo, n - lo < CHUNK ? n - lo : CHUNK, e, &w->parts[0]);
    else
        qp_parallel_for((int)tasks, pass_task, &ps);
    all->mn = INFINITY;
    all->mx = -INFINITY;
    all->nonfinite = 0;
    all->overflow = 0;
    for (int k = 0; k < w->n_parts; k++) {
        const struct part *p = &w->parts[k];
        if (!p->used)
            continue;
        if (p->mn < all->mn)
            all->mn = p->mn;
        if (p->mx > all->mx)
            all->mx = p->mx;
        all->nonfinite += p->nonfinite;
        all->overflow |= p->overflow;
    }
}

/* Adds the used parts' bins to hist (when given) and zeroes them. */
static void drain_parts(struct qp_calib_work *w, uint64_t *pos, uint64_t *neg)
{
    for (int k = 0; k < w->n_parts; k++) {
        struct part *p = &w->parts[k];
        if (!p->used)
            continue;
        if (pos)
            for (int b = 0; b < BINS; b++) {
                pos[b] += p->hist[0][b];
                neg[b] += p->hist[1][b];
            }
        memset(p->hist, 0, sizeof p->hist);
        p->used = 0;
    }
}

/* Capacity of a per-sample array of n entries: the next power of two (0 for 0). */
static size_t cap_of(size_t n)
{
    size_t c = 1;
    while (c < n)
        c <<= 1;
    return n ? c : 0;
}

static int reserve_samples(qp_calib_tensor *t, size_t n)
{
    size_t c = cap_of(n);
    uint64_t *si = qp_realloc(t->sample_index, c * sizeof *si);
    if (!si)
        return QP_ESYS;
    t->sample_index = si;
    float *mn = qp_realloc(t->sample_min, c * sizeof *mn);
    if (!mn)
        return QP_ESYS;
    t->sample_min = mn;
    float *mx = qp_realloc(t->sample_max, c * sizeof *mx);
    if (!mx)
        return QP_ESYS;
    t->sample_max = mx;
    return 0;
}

static void tensor_clear(qp_calib_tensor *t)
{
    free(t->sample_index);
    free(t->sample_min);
    free(t->sample_max);
    free(t->hist_pos);              /* hist_neg lives in the same block */
    t->sample_index = NULL;
    t->sample_min = t->sample_max = NULL;
    t->hist_pos = t->hist_neg = NULL;
}

qp_calib *qp_calib_new(const qp_graph *g)
{
    qp_calib *c = qp_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->g = g;
    c->batch_size = 1;
    c->moving_average_weight = 0.01;
    c->t = qp_calloc((size_t)g->n_values + 1, sizeof *c->t);
    c->work = qp_calloc(1, sizeof *c->work);
    if (!c->t || !c->work) {
        qp_calib_free(c);
        return NULL;
    }
    for (int vi = 0; vi < g->n_values; vi++) {
        qp_calib_tensor *t = &c->t[vi];
        t->value = -1;
        t->hist_exp = QP_CALIB_EXP_MIN;
        t->min = INFINITY;
        t->max = -INFINITY;
        if (!is_tracked(g, vi))
            continue;
        t->value = vi;
        t->hist_pos = qp_calloc(2 * BINS, sizeof *t->hist_pos);
        if (!t->hist_pos) {
            qp_calib_free(c);
            return NULL;
        }
        t->hist_neg = t->hist_pos + BINS;
    }
    return c;
}

void qp_calib_free(qp_calib *c)
{
    if (!c)
        return;
    if (c->t)
        for (int vi = 0; vi < c->g->n_values; vi++)
            tensor_clear(&c->t[vi]);
    free(c->t);
    if (c->work) {
        free(c->work->parts);
        free(c->work->conv);
        free(c->work);
    }
    free(c);
}

static int work_ready(struct qp_calib_work *w)
{
    if (w->parts)
        return 0;
    w->n_parts = qp_threads_count();
    w->parts = qp_calloc((size_t)w->n_parts, sizeof *w->parts);
    return w->parts ? 0 : QP_ESYS;
}

/* x as float32 data: the tensor itself, or a converted copy in w->conv. */
static int as_f32(struct qp_calib_work *w, const qp_tensor *x, size_t n, const float **out)
{
    if (x->dtype == QP_DT_F32) {
        *out = x->data;
        return 0;
    }
    if (w->conv_n < n) {
        float *p = qp_realloc(w->conv, n * sizeof *p);
        if (!p)
            return QP_ESYS;
        w->conv = p;
        w->conv_n = n;
    }
    const uint16_t *h = x->data;
    const double *d = x->data;
    for (size_t i = 0; i < n; i++)
        w->conv[i] = x->dtype == QP_DT_F16 ? qp_f16_to_f32(h[i])
                   : x->dtype == QP_DT_BF16 ? qp_bf16_to_f32(h[i]) : (float)d[i];
    *out = w->conv;
    return 0;
}

int qp_calib_add(qp_calib *c, int vi, uint64_t sample, const qp_tensor *x)
{
    if (vi < 0 || vi >= c->g->n_values || c->t[vi].value < 0 || !x)
        return 0;
    qp_calib_tensor *t = &c->t[vi];
    const char *name = c->g->values[vi].name;
    if (!is_float_dtype(x->dtype))
        return qp_errorf(QP_EINPUT, "tensor '%s' holds %s, not a floating type", name, qp_dtype_name(x->dtype));
    int64_t numel = qp_tensor_numel(x);
    if (numel < 0 || (uint64_t)numel > UINT32_MAX || (size_t)numel * qp_dtype_size(x->dtype) > x->nbytes)
        return qp_errorf(QP_EINPUT, "tensor '%s' has a bad size for statistics", name);
    /* where the sample goes (ascending; appending is the usual case) */
    size_t ns = (size_t)t->n_samples, at = ns;
    if (ns && t->sample_index[ns - 1] >= sample) {
        size_t lo = 0, hi = ns;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (t->sample_index[mid] < sample)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (t->sample_index[lo] == sample)
            return qp_errorf(QP_EINPUT, "sample %llu of tensor '%s' is already in the statistics",
                             (unsigned long long)sample, name);
        at = lo;
    }
    struct qp_calib_work *w = c->work;
    int rc = work_ready(w);
    const float *data = NULL;
    if (!rc)
        rc = as_f32(w, x, (size_t)numel, &data);
    if (!rc && cap_of(ns + 1) != cap_of(ns))
        rc = reserve_samples(t, ns + 1);
    if (rc)
        return rc;

    struct part all;
    run_pass(w, data, (size_t)numel, t->hist_exp, &all);
    if (all.overflow) {
        /* the range grew: move the bins to the new exponent, count this sample there */
        double m = fmax(fabs(all.mn), fabs(all.mx));
        int e = exponent_of(m);
        drain_parts(w, NULL, NULL);
        rebin(t->hist_pos, e - t->hist_exp);
        rebin(t->hist_neg, e - t->hist_exp);
        t->hist_exp = e;
        run_pass(w, data, (size_t)numel, e, &all);
        if (all.overflow) {     /* cannot happen: m < 2^e for every element */
            drain_parts(w, NULL, NULL);
            return qp_errorf(QP_EINPUT, "tensor '%s': histogram range error", name);
        }
    }
    drain_parts(w, t->hist_pos, t->hist_neg);

    uint64_t finite = (uint64_t)numel - all.nonfinite;
    if (all.mn == 0)
        all.mn = 0;             /* -0.0 -> +0.0: the stored bytes must not depend on order */
    if (all.mx == 0)
        all.mx = 0;
    if (finite) {
        if (all.mn < t->min)
            t->min = all.mn;
        if (all.mx > t->max)
            t->max = all.mx;
    }
    t->count += finite;
    t->n_nonfinite += all.nonfinite;
    memmove(t->sample_index + at + 1, t->sample_index + at, (ns - at) * sizeof *t->sample_index);
    memmove(t->sample_min + at + 1, t->sample_min + at, (ns - at) * sizeof *t->sample_min);
    memmove(t->sample_max + at + 1, t->sample_max + at, (ns - at) * sizeof *t->sample_max);
    t->sample_index[at] = sample;
    t->sample_min[at] = finite ? (float)all.mn : NAN;
    t->sample_max[at] = finite ? (float)all.mx : NAN;
    t->n_samples++;
    if (t->n_samples > c->n_samples)
        c->n_samples = t->n_samples;
    return 0;
}

/* ---- merging ---- */

static int same_params(const qp_calib *a, const qp_calib *b)
{
    if (a->g->n_values != b->g->n_values)
        return qp_errorf(QP_EINPUT, "statistics of different graphs (%d and %d values)", a->g->n_values,
                         b->g->n_values);
    for (int vi = 0; vi < a->g->n_values; vi++)
        if (a->t[vi].value != b->t[vi].value || strcmp(a->g->values[vi].name, b->g->values[vi].name))
            return qp_errorf(QP_EINPUT, "statistics of different graphs (value %d is '%s' and '%s')", vi,
                             a->g->values[vi].name, b->g->values[vi].name);
    if (a->batch_size != b->batch_size)
        return qp_errorf(QP_EINPUT, "calibrated with --batch-size %d and %d", a->batch_size, b->batch_size);
    if (a->moving_average_weight != b->moving_average_weight)
        return qp_errorf(QP_EINPUT, "calibrated with --moving-average-weight %.17g and %.17g",
                         a->moving_average_weight, b->moving_average_weight);
    if (a->n_selected != b->n_selected)
        return qp_errorf(QP_EINPUT, "runs over %lld and %lld samples (different --iterations or datasets)",
                         (long long)a->n_selected, (long long)b->n_selected);
    return 0;
}

static int find_overlap(const qp_calib_tensor *a, const qp_calib_tensor *b, uint64_t *dup)
{
    int64_t i = 0, j = 0;
    while (i < a->n_samples && j < b->n_samples) {
        if (a->sample_index[i] == b->sample_index[j]) {
            *dup = a->sample_index[i];
            return 1;
        }
        if (a->sample_index[i] < b->sample_index[j])
            i++;
        else
            j++;
    }
    return 0;
}

static int merge_tensor(qp_calib_tensor *d, const qp_calib_tensor *s)
{
    size_t na = (size_t)d->n_samples, nb = (size_t)s->n_samples, n = na + nb, c = cap_of(n);
    uint64_t *si = qp_malloc((c ? c : 1) * sizeof *si);
    float *mn = qp_malloc((c ? c : 1) * sizeof *mn), *mx = qp_malloc((c ? c : 1) * sizeof *mx);
    if (!si || !mn || !mx) {
        free(si);
        free(mn);
        free(mx);
        return QP_ESYS;
    }
    size_t i = 0, j = 0, k = 0;
    while (i < na || j < nb) {
        int from_a = j == nb || (i < na && d->sample_index[i] < s->sample_index[j]);
        const qp_calib_tensor *src = from_a ? d : s;
        size_t at = from_a ? i++ : j++;
        si[k] = src->sample_index[at];
        mn[k] = src->sample_min[at];
        mx[k] = src->sample_max[at];
        k++;
    }
    free(d->sample_index);
    free(d->sample_min);
    free(d->sample_max);
    d->sample_index = si;
    d->sample_min = mn;
    d->sample_max = mx;
    d->n_samples = (int64_t)n;

    int e = d->hist_exp > s->hist_exp ? d->hist_exp : s->hist_exp;
    rebin(d->hist_pos, e - d->hist_exp);
    rebin(d->hist_neg, e - d->hist_exp);
    d->hist_exp = e;
    int sh = e - s->hist_exp;
    for (int b = 0; b < BINS; b++) {
        int to = sh >= BINS_LOG2 ? 0 : b >> sh;
        d->hist_pos[to] += s->hist_pos[b];
        d->hist_neg[to] += s->hist_neg[b];
    }
    if (s->count) {
        if (s->min < d->min)
            d->min = s->min;
        if (s->max > d->max)
            d->max = s->max;
    }
    d->count += s->count;
    d->n_nonfinite += s->n_nonfinite;
    return 0;
}

int qp_calib_merge(qp_calib *dst, const qp_calib *src)
{
    int rc = same_params(dst, src);
    if (rc)
        return rc;
    /* check everything before changing dst */
    for (int vi = 0; vi < dst->g->n_values; vi++) {
        uint64_t dup;
        if (dst->t[vi].value >= 0 && find_overlap(&dst->t[vi], &src->t[vi], &dup))
            return qp_errorf(QP_EINPUT, "sample %llu is in both (overlapping shards)", (unsigned long long)dup);
    }
    for (int vi = 0; vi < dst->g->n_values; vi++)
        if (dst->t[vi].value >= 0 && (rc = merge_tensor(&dst->t[vi], &src->t[vi])))
            return rc;
    dst->n_samples += src->n_samples;
    return 0;
}

/* ---- the IR section ---- */

static size_t trimmed(const uint64_t *h)
{
    size_t n = BINS;
    while (n && !h[n - 1])
        n--;
    return n;
}

int qp_calib_store(qp_graph *g, const qp_calib *c)
{
    int n = 0;
    for (int vi = 0; vi < c->g->n_values; vi++)
        n += c->t[vi].value >= 0;
    Qpipe__CalibTensor *ts = qp_calloc((size_t)n + 1, sizeof *ts);
    Qpipe__CalibTensor **tp = qp_calloc((size_t)n + 1, sizeof *tp);
    if (!ts || !tp) {
        free(ts);
        free(tp);
        return QP_ESYS;
    }
    Qpipe__CalibStats st = QPIPE__CALIB_STATS__INIT;
    st.bins = BINS;
    st.n_samples = (uint64_t)c->n_samples;
    st.batch_size = (uint32_t)c->batch_size;
    st.moving_average_weight = c->moving_average_weight;
    st.n_selected = (uint64_t)c->n_selected;
    st.n_tensors = (size_t)n;
    st.tensors = tp;
    int k = 0;
    for (int vi = 0; vi < c->g->n_values; vi++) {
        const qp_calib_tensor *t = &c->t[vi];
        if (t->value < 0)
            continue;
        Qpipe__CalibTensor *m = &ts[k];
        qpipe__calib_tensor__init(m);
        m->name = (char *)c->g->values[vi].name;
        m->min = t->count ? t->min : 0;         /* +-inf of an empty tensor: stored as 0 */
        m->max = t->count ? t->max : 0;
        m->n_sample_index = m->n_sample_min = m->n_sample_max = (size_t)t->n_samples;
        m->sample_index = t->sample_index;
        m->sample_min = t->sample_min;
        m->sample_max = t->sample_max;
        m->hist_exp = t->hist_exp;
        m->n_hist_pos = trimmed(t->hist_pos);
        m->hist_pos = t->hist_pos;
        m->n_hist_neg = trimmed(t->hist_neg);
        m->hist_neg = t->hist_neg;
        m->n_nonfinite = t->n_nonfinite;
        m->count = t->count;
        tp[k++] = m;
    }
    size_t len = qpipe__calib_stats__get_packed_size(&st);
    uint8_t *buf = qp_malloc(len ? len : 1);
    int rc = buf ? 0 : QP_ESYS;
    if (!rc) {
        qpipe__calib_stats__pack(&st, buf);
        rc = qp_graph_set_section(g, "calib", SECTION_VERSION, buf, len);
    }
    free(buf);
    free(ts);
    free(tp);
    return rc;
}

static int load_tensor(qp_calib *c, const Qpipe__CalibTensor *m, int64_t n_samples, unsigned char *seen)
{
    const qp_graph *g = c->g;
    if (!m->name)
        return qp_errorf(QP_EINPUT, "calib section: a tensor without a name");
    int vi = qp_graph_find_value(g, m->name);
    if (vi < 0 || c->t[vi].value < 0)
        return qp_errorf(QP_EINPUT, "calib section: tensor '%s' is not an activation of the graph", m->name);
    qp_calib_tensor *t = &c->t[vi];
    if (seen[vi]++)
        return qp_errorf(QP_EINPUT, "calib section: tensor '%s' appears twice", m->name);
    size_t ns = m->n_sample_index;
    if (m->n_sample_min != ns || m->n_sample_max != ns || (int64_t)ns > n_samples)
        return qp_errorf(QP_EINPUT, "calib section: tensor '%s' has %zu sample indices, %zu minima, %zu maxima "
                         "for %lld samples", m->name, ns, m->n_sample_min, m->n_sample_max, (long long)n_samples);
    for (size_t i = 1; i < ns; i++)
        if (m->sample_index[i] <= m->sample_index[i - 1])
            return qp_errorf(QP_EINPUT, "calib section: tensor '%s': sample indices not ascending", m->name);
    if (m->hist_exp < QP_CALIB_EXP_MIN || m->hist_exp > EXP_MAX || m->n_hist_pos > BINS || m->n_hist_neg > BINS)
        return qp_errorf(QP_EINPUT, "calib section: tensor '%s': bad histogram (exponent %d, %zu and %zu bins)",
                         m->name, (int)m->hist_exp, m->n_hist_pos, m->n_hist_neg);
    uint64_t sum = 0;
    int wrapped = 0;
    for (size_t b = 0; b < m->n_hist_pos; b++)
        wrapped |= (sum += m->hist_pos[b]) < m->hist_pos[b];
    for (size_t b = 0; b < m->n_hist_neg; b++)
        wrapped |= (sum += m->hist_neg[b]) < m->hist_neg[b];
    if (wrapped || sum != m->count)
        return qp_errorf(QP_EINPUT, "calib section: tensor '%s': histograms hold %llu values, count says %llu",
                         m->name, (unsigned long long)sum, (unsigned long long)m->count);
    if (m->count && !(m->min <= m->max && isfinite(m->min) && isfinite(m->max)))
        return qp_errorf(QP_EINPUT, "calib section: tensor '%s': bad range [%g, %g]", m->name, m->min, m->max);
    if (ns && reserve_samples(t, ns))
        return QP_ESYS;
    if (ns) {
        memcpy(t->sample_index, m->sample_index, ns * sizeof *t->sample_index);
        memcpy(t->sample_min, m->sample_min, ns * sizeof *t->sample_min);
        memcpy(t->sample_max, m->sample_max, ns * sizeof *t->sample_max);
    }
    t->n_samples = (int64_t)ns;
    t->min = m->count ? m->min : INFINITY;
    t->max = m->count ? m->max : -INFINITY;
    t->hist_exp = m->hist_exp;
    if (m->n_hist_pos)
        memcpy(t->hist_pos, m->hist_pos, m->n_hist_pos * sizeof *t->hist_pos);
    if (m->n_hist_neg)
        memcpy(t->hist_neg, m->hist_neg, m->n_hist_neg * sizeof *t->hist_neg);
    t->count = m->count;
    t->n_nonfinite = m->n_nonfinite;
    return 0;
}

int qp_calib_load(const qp_graph *g, qp_calib **out)
{
    *out = NULL;
    const qp_section *s = qp_graph_section(g, "calib");
    if (!s)
        return qp_errorf(QP_EINPUT, "the stream has no calib section (run calib first)");
    if (s->version != SECTION_VERSION)
        return qp_errorf(QP_EINPUT, "calib section version %u, expected %u", s->version, SECTION_VERSION);
    Qpipe__CalibStats *st = qpipe__calib_stats__unpack(NULL, s->len, s->data);
    if (!st)
        return qp_errorf(QP_EINPUT, "calib section does not decode");
    int rc = 0;
    if (st->bins != BINS)
        rc = qp_errorf(QP_EINPUT, "calib section has %u bins, expected %d", st->bins, BINS);
    else if (st->batch_size < 1 || st->batch_size > 1000000 || !(st->moving_average_weight > 0) ||
             !(st->moving_average_weight <= 1) || st->n_samples > INT64_MAX || st->n_selected > INT64_MAX)
        rc = qp_errorf(QP_EINPUT, "calib section: bad parameters (batch size %u, moving-average weight %g)",
                       st->batch_size, st->moving_average_weight);
    qp_calib *c = rc ? NULL : qp_calib_new(g);
    if (!rc && !c)
        rc = QP_ESYS;
    if (!rc) {
        c->n_samples = (int64_t)st->n_samples;
        c->batch_size = (int)st->batch_size;
        c->moving_average_weight = st->moving_average_weight;
        c->n_selected = (int64_t)st->n_selected;
    }
    unsigned char *seen = rc ? NULL : qp_calloc((size_t)g->n_values + 1, 1);
    if (!rc && !seen)
        rc = QP_ESYS;
    for (size_t i = 0; !rc && i < st->n_tensors; i++)
        rc = load_tensor(c, st->tensors[i], c->n_samples, seen);
    free(seen);
    qpipe__calib_stats__free_unpacked(st, NULL);
    if (rc) {
        qp_calib_free(c);
        return rc;
    }
    *out = c;
    return 0;
}
