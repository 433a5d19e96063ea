/* The statistics of qp/calib.h are exact: any order of samples, any split into shards merged
 * in any order, and any thread count give identical statistics and section bytes, and the
 * histograms equal a direct count at the final exponent (an independent long-double
 * reference).  Also: edge values (powers of two, -0, subnormals, NaN/Inf, float extremes),
 * store/load round trips, corrupt sections, duplicate and overlapping samples.
 * Exits non-zero on any failure; the last line is "N passed, M failed".
 * With --bench: nanoseconds per element of qp_calib_add on activation-like data. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qp/calib.h"
#include "qp/diag.h"
#include "qp/threads.h"
#include "qpipe_ir.pb-c.h"

#include "check.h"


static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static double uniform(void) { return (next_u32() + 0.5) / 4294967296.0; }

/* A graph with float inputs "x" (n elements) and "big", an int64 input and a constant. */
static qp_graph *make_graph(int64_t n, int64_t n_big)
{
    qp_graph *g = qp_graph_new();
    int x = qp_graph_add_value(g, "x", QP_DT_F32, 1, &n);
    int big = qp_graph_add_value(g, "big", QP_DT_F32, 1, &n_big);
    int64_t two = 2;
    int iv = qp_graph_add_value(g, "shape", QP_DT_I64, 1, &two);
    float cdata[2] = { 1, 2 };
    qp_graph_add_const(g, "c", QP_DT_F32, 1, &two, cdata, sizeof cdata);
    g->inputs = qp_arena_array(g->arena, 3, sizeof(int));
    g->inputs[0] = x;
    g->inputs[1] = big;
    g->inputs[2] = iv;
    g->n_inputs = 3;
    for (int i = 0; i < 3; i++)
        g->values[g->inputs[i]].key = g->values[g->inputs[i]].name;
    return g;
}

/* Sample s of "x": its own scale 2^k (ranges grow and shrink across samples), signs,
 * zeros of both signs, powers of two, subnormals, and NaN/Inf in some samples. */
static void fill_sample(float *v, int64_t n, int s)
{
    int k = (int)(next_u32() % 40) - 20;
    if (s == 3)
        k = 100;                        /* a huge range */
    if (s == 4)
        k = -140;                       /* subnormal territory */
    for (int64_t i = 0; i < n; i++) {
        double u = uniform();
        float f = (float)ldexp(u * 2 - 1, k);
        switch (next_u32() % 16) {
        case 0: f = 0.0f; break;
        case 1: f = -0.0f; break;
        case 2: f = ldexpf(1.0f, k - (int)(next_u32() % 8)); break;  /* exact powers of two */
        case 3: f = -ldexpf(1.0f, k); break;
        default: break;
        }
        v[i] = f;
    }
    if (s == 5) {
        v[0] = NAN;
        v[1] = INFINITY;
        v[2] = -INFINITY;
    }
    if (s == 6)
        v[n - 1] = FLT_MAX;
    if (s == 7)
        v[0] = -FLT_MAX;
    if (s == 8)
        v[3] = FLT_TRUE_MIN;
    if (s == 9)
        for (int64_t i = 0; i < n; i++)
            v[i] = NAN;                 /* a sample without a finite element */
}

static qp_tensor view(float *data, int64_t n)
{
    qp_tensor t = { .dtype = QP_DT_F32, .rank = 1, .dims = { n }, .data = data, .nbytes = (size_t)n * 4 };
    return t;
}

static int same_tensor(const qp_calib_tensor *a, const qp_calib_tensor *b)
{
    size_t ns = (size_t)a->n_samples;
    return a->value == b->value && a->n_samples == b->n_samples && !memcmp(&a->min, &b->min, sizeof a->min) &&
           !memcmp(&a->max, &b->max, sizeof a->max) && a->hist_exp == b->hist_exp && a->count == b->count &&
           a->n_nonfinite == b->n_nonfinite &&
           (!ns || (!memcmp(a->sample_index, b->sample_index, ns * sizeof *a->sample_index) &&
                    !memcmp(a->sample_min, b->sample_min, ns * sizeof *a->sample_min) &&
                    !memcmp(a->sample_max, b->sample_max, ns * sizeof *a->sample_max))) &&
           (a->value < 0 || (!memcmp(a->hist_pos, b->hist_pos, QP_CALIB_BINS * sizeof *a->hist_pos) &&
                             !memcmp(a->hist_neg, b->hist_neg, QP_CALIB_BINS * sizeof *a->hist_neg)));
}

static int same_calib(const qp_calib *a, const qp_calib *b)
{
    if (a->n_samples != b->n_samples)
        return 0;
    for (int vi = 0; vi < a->g->n_values; vi++)
        if (!same_tensor(&a->t[vi], &b->t[vi]))
            return 0;
    return 1;
}

/* The section bytes c would store. */
static uint8_t *section_bytes(qp_graph *g, const qp_calib *c, size_t *len)
{
    if (qp_calib_store(g, c))
        return NULL;
    const qp_section *s = qp_graph_section(g, "calib");
    uint8_t *b = malloc(s->len + 1);
    memcpy(b, s->data, s->len);
    *len = s->len;
    return b;
}

#define N_SAMPLES 12
#define N_X 5000

static float data[N_SAMPLES][N_X];

static qp_calib *run_order(qp_graph *g, const int *order, int n)
{
    qp_calib *c = qp_calib_new(g);
    for (int i = 0; i < n; i++) {
        qp_tensor t = view(data[order[i]], N_X);
        int rc = qp_calib_add(c, 0, (uint64_t)order[i], &t);
        CHECK(rc == 0, "add sample %d: %s", order[i], qp_error_msg());
    }
    return c;
}

/* The reference: exponent and bins counted directly, in long double. */
static void test_reference(const qp_calib *c)
{
    const qp_calib_tensor *t = &c->t[0];
    double m = 0, mn = INFINITY, mx = -INFINITY;
    uint64_t count = 0, nf = 0;
    for (int s = 0; s < N_SAMPLES; s++)
        for (int i = 0; i < N_X; i++) {
            float v = data[s][i];
            if (!isfinite(v)) {
                nf++;
                continue;
            }
            count++;
            m = fmax(m, fabs((double)v));
            mn = fmin(mn, v);
            mx = fmax(mx, v);
        }
    int e = QP_CALIB_EXP_MIN;
    while (ldexp(1.0, e) <= m)
        e++;
    CHECK(t->hist_exp == e, "exponent %d, want %d", t->hist_exp, e);
    CHECK(t->min == mn && t->max == mx && t->count == count && t->n_nonfinite == nf,
          "extremes/counts [%g %g] %llu %llu", t->min, t->max, (unsigned long long)t->count,
          (unsigned long long)t->n_nonfinite);
    static uint64_t pos[QP_CALIB_BINS], neg[QP_CALIB_BINS];
    memset(pos, 0, sizeof pos);
    memset(neg, 0, sizeof neg);
    for (int s = 0; s < N_SAMPLES; s++)
        for (int i = 0; i < N_X; i++) {
            float v = data[s][i];
            if (!isfinite(v))
                continue;
            long double a = ldexpl(fabsl((long double)v), 11 - e);
            size_t b = (size_t)floorl(a);
            CHECK(b < QP_CALIB_BINS, "reference bin %zu out of range", b);
            if (v < 0)
                neg[b]++;
            else
                pos[b]++;
        }
    CHECK(!memcmp(pos, t->hist_pos, sizeof pos) && !memcmp(neg, t->hist_neg, sizeof neg),
          "histograms differ from the direct count at exponent %d", e);
    /* per-sample extremes */
    for (int s = 0; s < N_SAMPLES; s++) {
        float smn = INFINITY, smx = -INFINITY;
        for (int i = 0; i < N_X; i++)
            if (isfinite(data[s][i])) {
                smn = fminf(smn, data[s][i]);
                smx = fmaxf(smx, data[s][i]);
            }
        if (s == 9)
            CHECK(isnan(t->sample_min[s]) && isnan(t->sample_max[s]), "sample without finite values");
        else
            CHECK(t->sample_min[s] == smn && t->sample_max[s] == smx, "sample %d extremes", s);
    }
}

static void test_orders_and_shards(qp_graph *g)
{
    int fwd[N_SAMPLES], rev[N_SAMPLES], shuf[N_SAMPLES];
    for (int i = 0; i < N_SAMPLES; i++)
        fwd[i] = shuf[i] = i, rev[i] = N_SAMPLES - 1 - i;
    for (int i = N_SAMPLES - 1; i > 0; i--) {
        int j = (int)(next_u32() % (unsigned)(i + 1)), t = shuf[i];
        shuf[i] = shuf[j];
        shuf[j] = t;
    }
    qp_calib *a = run_order(g, fwd, N_SAMPLES);
    qp_calib *b = run_order(g, rev, N_SAMPLES);
    qp_calib *c = run_order(g, shuf, N_SAMPLES);
    CHECK(same_calib(a, b), "forward and reverse orders differ");
    CHECK(same_calib(a, c), "forward and shuffled orders differ");
    test_reference(a);

    /* round-robin shards of 3 merged as 2, 0, 1; contiguous halves merged backwards */
    qp_calib *sh[3];
    for (int k = 0; k < 3; k++) {
        int ord[N_SAMPLES], n = 0;
        for (int i = k; i < N_SAMPLES; i += 3)
            ord[n++] = i;
        sh[k] = run_order(g, ord, n);
    }
    CHECK(qp_calib_merge(sh[2], sh[0]) == 0 && qp_calib_merge(sh[2], sh[1]) == 0, "merge: %s", qp_error_msg());
    CHECK(same_calib(a, sh[2]), "3 shards merged differ from the single run");
    qp_calib *lo = run_order(g, fwd, N_SAMPLES / 2), *hi = run_order(g, fwd + N_SAMPLES / 2, N_SAMPLES / 2);
    CHECK(qp_calib_merge(hi, lo) == 0, "merge halves");
    CHECK(same_calib(a, hi), "halves merged differ");
    /* an empty shard merges as nothing */
    qp_calib *empty = qp_calib_new(g);
    CHECK(qp_calib_merge(empty, a) == 0 && same_calib(a, empty), "empty + all");

    size_t la, lb;
    uint8_t *ba = section_bytes(g, a, &la), *bb = section_bytes(g, sh[2], &lb);
    CHECK(ba && bb && la == lb && !memcmp(ba, bb, la), "section bytes differ");

    /* store -> load -> store */
    qp_calib *back;
    CHECK(qp_calib_load(g, &back) == 0, "load: %s", qp_error_msg());
    CHECK(back && same_calib(a, back), "load gives other statistics");
    size_t lc;
    uint8_t *bc = back ? section_bytes(g, back, &lc) : NULL;
    CHECK(bc && lc == la && !memcmp(ba, bc, la), "store(load(x)) != x");

    /* overlap: an error, dst untouched */
    CHECK(qp_calib_merge(lo, a) == QP_EINPUT && strstr(qp_error_msg(), "overlapping"), "overlap: %s",
          qp_error_msg());
    qp_calib *lo2 = run_order(g, fwd, N_SAMPLES / 2);
    CHECK(same_calib(lo, lo2), "a failed merge changed its destination");
    qp_tensor t = view(data[0], N_X);
    CHECK(qp_calib_add(lo2, 0, 0, &t) == QP_EINPUT, "adding a sample twice");
    /* parameters must agree */
    lo2->batch_size = 4;
    CHECK(qp_calib_merge(lo2, hi) == QP_EINPUT && strstr(qp_error_msg(), "--batch-size"), "batch size");

    free(ba);
    free(bb);
    free(bc);
    qp_calib_free(a);
    qp_calib_free(b);
    qp_calib_free(c);
    for (int k = 0; k < 3; k++)
        qp_calib_free(sh[k]);
    qp_calib_free(lo);
    qp_calib_free(lo2);
    qp_calib_free(hi);
    qp_calib_free(empty);
    qp_calib_free(back);
}

/* Boundaries: |x| = 2^E needs the next exponent; bins stay aligned across rebinning. */
static void test_edges(qp_graph *g)
{
    static const struct { float v[4]; int want_e; } t[] = {
        { { 1.0f, 0, 0, 0 }, 1 },              /* 1 = 2^0 is not < 2^0 */
        { { 0.99999994f, 0, 0, 0 }, 0 },
        { { 0, 0, 0, 0 }, QP_CALIB_EXP_MIN },
        { { -0.0f, 0, -0.0f, 0 }, QP_CALIB_EXP_MIN },
        { { FLT_TRUE_MIN, 0, 0, 0 }, -148 },
        { { FLT_MAX, -FLT_MAX, 0, 0 }, 128 },
        { { -4.0f, 3.9f, 0, 0 }, 3 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qp_calib *c = qp_calib_new(g);
        float v[N_X] = { 0 };
        memcpy(v, t[i].v, sizeof t[i].v);
        qp_tensor x = view(v, N_X);
        CHECK(qp_calib_add(c, 0, 0, &x) == 0, "add");
        CHECK(c->t[0].hist_exp == t[i].want_e, "case %zu: exponent %d, want %d", i, c->t[0].hist_exp, t[i].want_e);
        CHECK(!signbit(c->t[0].min) || c->t[0].min != 0, "case %zu: min is -0", i);
        uint64_t sum = 0;
        for (int b = 0; b < QP_CALIB_BINS; b++)
            sum += c->t[0].hist_pos[b] + c->t[0].hist_neg[b];
        CHECK(sum == N_X, "case %zu: %llu binned", i, (unsigned long long)sum);
        qp_calib_free(c);
    }
    /* 1.0 at exponent 1 is bin 1024; seen first at 1 then with 3.0 (exponent 2): bin 512 */
    qp_calib *c = qp_calib_new(g);
    float v[N_X] = { 1.0f };
    qp_tensor x = view(v, N_X);
    qp_calib_add(c, 0, 0, &x);
    CHECK(c->t[0].hist_pos[1024] == 1, "1.0 at exponent 1");
    v[0] = 3.0f;
    qp_calib_add(c, 0, 1, &x);
    CHECK(c->t[0].hist_exp == 2 && c->t[0].hist_pos[512] == 1 && c->t[0].hist_pos[1536] == 1,
          "rebinned 1.0 and 3.0 at exponent 2");
    CHECK(c->t[0].value == 0 && c->t[2].value == -1 && c->t[3].value == -1, "int64 and constants untracked");
    qp_calib_free(c);
}

static void test_f16(qp_graph *g)
{
    uint16_t h[N_X];
    float f[N_X];
    for (int i = 0; i < N_X; i++) {
        h[i] = (uint16_t)next_u32();
        f[i] = qp_f16_to_f32(h[i]);
    }
    qp_calib *a = qp_calib_new(g), *b = qp_calib_new(g);
    qp_tensor th = { .dtype = QP_DT_F16, .rank = 1, .dims = { N_X }, .data = h, .nbytes = sizeof h };
    qp_tensor tf = view(f, N_X);
    CHECK(qp_calib_add(a, 0, 0, &th) == 0 && qp_calib_add(b, 0, 0, &tf) == 0, "add f16/f32");
    CHECK(same_calib(a, b), "float16 statistics differ from its float32 values");
    qp_calib_free(a);
    qp_calib_free(b);
}

static void test_threads(qp_graph *g, int64_t n_big)
{
    float *v = malloc((size_t)n_big * sizeof *v);
    qp_calib *c[2];
    for (int th = 1; th <= 2; th++) {
        qp_threads_set_count(th);
        c[th - 1] = qp_calib_new(g);
        uint64_t save = rng;
        for (int s = 0; s < 3; s++) {
            for (int64_t i = 0; i < n_big; i++)
                v[i] = (float)ldexp(uniform() - 0.3, s * 3 - 2) * (i % 7 == 0 ? 0 : 1);
            qp_tensor t = view(v, n_big);
            CHECK(qp_calib_add(c[th - 1], 1, (uint64_t)s, &t) == 0, "add big");
        }
        rng = save;
    }
    CHECK(same_calib(c[0], c[1]), "1 and 2 threads differ");
    qp_calib_free(c[0]);
    qp_calib_free(c[1]);
    free(v);
    qp_threads_set_count(2);
}

/* Sections from elsewhere are untrusted: every inconsistency is QP_EINPUT. */
static void test_corrupt(qp_graph *g)
{
    qp_calib *c = qp_calib_new(g);
    qp_tensor t = view(data[0], N_X);
    qp_calib_add(c, 0, 7, &t);
    qp_calib_store(g, c);
    const qp_section *s = qp_graph_section(g, "calib");
    for (int k = 0; k < 5; k++) {
        Qpipe__CalibStats *st = qpipe__calib_stats__unpack(NULL, s->len, s->data);
        Qpipe__CalibTensor *m = st->tensors[0];
        char *name = m->name;
        const char *what = "";
        switch (k) {
        case 0: m->count++; what = "count"; break;
        case 1: m->hist_exp = 5000; what = "exponent"; break;
        case 2: m->n_sample_min = 0; what = "sample arrays"; break;
        case 3: m->name = (char *)"nope"; what = "name"; break;
        case 4: st->bins = 1024; what = "bins"; break;
        }
        qp_graph *g2 = make_graph(N_X, 10);
        size_t len = qpipe__calib_stats__get_packed_size(st);
        uint8_t *buf = malloc(len);
        qpipe__calib_stats__pack(st, buf);
        qp_graph_set_section(g2, "calib", 1, buf, len);
        qp_calib *out = NULL;
        CHECK(qp_calib_load(g2, &out) == QP_EINPUT && !out, "corrupt %s accepted", what);
        m->name = name;                     /* the literal is not the unpacker's to free */
        qpipe__calib_stats__free_unpacked(st, NULL);
        free(buf);
        qp_graph_free(g2);
    }
    qp_graph *g3 = make_graph(N_X, 10);
    qp_calib *out = NULL;
    CHECK(qp_calib_load(g3, &out) == QP_EINPUT && strstr(qp_error_msg(), "no calib section"), "no section");
    qp_graph_free(g3);
    qp_calib_free(c);
}

static void bench(void)
{
    int64_t n = 2500000;
    qp_graph *g = make_graph(10, n);
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) {   /* smooth, ReLU-like: runs of equal bins */
        double s = sin((double)i * 0.001) * 3 + (uniform() - 0.5) * 0.2;
        v[i] = s > 0 ? (float)s : 0.0f;
    }
    qp_tensor t = view(v, n);
    for (int th = 1; th <= 2; th++) {
        qp_threads_set_count(th);
        qp_calib *c = qp_calib_new(g);
        double best = 1e30;
        for (int r = 0; r < 10; r++) {
            struct timespec a, b;       /* one thread: its CPU time (robust on a busy host) */
            clockid_t clk = th == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
            clock_gettime(clk, &a);
            qp_calib_add(c, 1, (uint64_t)r, &t);
            clock_gettime(clk, &b);
            double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
            if (r && ns < best)
                best = ns;
        }
        printf("bench: %d thread(s): %.2f ns/element (%s)\n", th, best / (double)n, th == 1 ? "cpu" : "wall");
        qp_calib_free(c);
    }
    free(v);
    qp_graph_free(g);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench();
        return 0;
    }
    for (int s = 0; s < N_SAMPLES; s++)
        fill_sample(data[s], N_X, s);
    int64_t n_big = 300000;
    qp_graph *g = make_graph(N_X, n_big);
    test_orders_and_shards(g);
    test_edges(g);
    test_f16(g);
    test_threads(g, n_big);
    test_corrupt(g);
    qp_graph_free(g);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
