/* The quantization-table module: parameters from ranges against hand-computed values, the
 * range algorithms on synthetic histograms with known answers, a small graph built from
 * hand-made statistics for every quantizer (sharing, bias rule, per-channel), and the YAML and
 * IR round trips (write -> read -> write byte-identical, a hand edit changes one entry).
 * Exits non-zero on any failure; the last line is "N passed, M failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/calib.h"
#include "qp/diag.h"
#include "qp/keys.h"
#include "qp/op.h"
#include "qp/qtable.h"
#include "qp/qtable_algo.h"
#include "qp/qtable_build.h"
#include "qp/qtable_yaml.h"
#include "qp/requant.h"

#include "check.h"


/* ---- parameters ------------------------------------------------------------------------------ */

static void test_params(void)
{
    double s;
    int32_t zp;
    /* the worked example of qpipe-quantize(5): [-1, 3] in u8 */
    CHECK(!qp_qalgo_asymmetric(-1, 3, 0, 255, &s, &zp) && s == 4.0 / 255 && zp == 64, "u8 [-1,3]: %.17g %d", s, zp);
    /* i8: zp = rtne(-128 + 63.75) = -64 */
    CHECK(!qp_qalgo_asymmetric(-1, 3, -128, 127, &s, &zp) && s == 4.0 / 255 && zp == -64, "i8 [-1,3]: %g %d", s, zp);
    /* widened to include 0: [0.5, 2] is [0, 2] */
    CHECK(!qp_qalgo_asymmetric(0.5, 2, 0, 255, &s, &zp) && s == 2.0 / 255 && zp == 0, "u8 [0.5,2]: %g %d", s, zp);
    CHECK(!qp_qalgo_asymmetric(-6, -2, 0, 255, &s, &zp) && s == 6.0 / 255 && zp == 255, "u8 [-6,-2]: %g %d", s, zp);
    /* a tie: zp = rtne(0 + 2.5) = 2: min -2.5*s with s = 1/... */
    CHECK(!qp_qalgo_asymmetric(-2.5, 252.5, 0, 255, &s, &zp) && s == 1 && zp == 2, "tie: %g %d", s, zp);
    CHECK(!qp_qalgo_asymmetric(0, 0, 0, 255, &s, &zp) && s == QP_QALGO_TINY_SCALE && zp == 0, "zero u8");
    CHECK(!qp_qalgo_asymmetric(0, 0, -128, 127, &s, &zp) && s == QP_QALGO_TINY_SCALE && zp == -128, "zero i8");
    CHECK(qp_qalgo_asymmetric(-1.7e308, 1.7e308, 0, 255, &s, &zp) == -1, "overflowing range");
    CHECK(!qp_qalgo_symmetric(-2.54, 127, &s) && s == 2.54 / 127, "sym i8");
    CHECK(!qp_qalgo_symmetric(3, 32767, &s) && s == 3.0 / 32767, "sym i16");
    CHECK(!qp_qalgo_symmetric(0, 127, &s) && s == QP_QALGO_TINY_SCALE, "sym zero");
    /* DFP: fl = bits - 1 - ceil(log2 absmax) */
    static const struct { double a; int bits, fl; } dfp[] = {
        {1.0, 16, 15}, {1.0000001, 16, 14}, {0.99, 16, 15}, {6.0, 8, 4}, {6.0, 16, 12}, {0.5, 8, 8},
        {40.68741989135742, 16, 9}, {0.75, 8, 7}, {1e30, 8, QP_QALGO_FL_MIN}, {0, 8, 27}, {0, 16, QP_QALGO_FL_MAX},
        {1e-30, 16, QP_QALGO_FL_MAX},
    };
    for (size_t i = 0; i < sizeof dfp / sizeof *dfp; i++)
        CHECK(qp_qalgo_dfp_fl(dfp[i].a, dfp[i].bits) == dfp[i].fl, "fl(%g, %d) = %d, want %d", dfp[i].a, dfp[i].bits,
              qp_qalgo_dfp_fl(dfp[i].a, dfp[i].bits), dfp[i].fl);
}

static void test_format(void)
{
    static const struct { double x; const char *want; } t[] = {
        {1, "1.0"}, {0, "0.0"}, {-0.0, "-0.0"}, {1e-05, "1.0e-05"}, {0.1, "0.1"}, {4.0 / 255, "0.01568627450980392"},
        {2.5e20, "2.5e+20"}, {-3.25, "-3.25"}, {1e300, "1.0e+300"}, {0.0235294122248888, "0.0235294122248888"},
    };
    char b[40];
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        CHECK(!strcmp(qp_qalgo_format_double(b, sizeof b, t[i].x), t[i].want), "format %.17g: '%s', want '%s'", t[i].x,
              b, t[i].want);
    /* every double reads back exactly */
    unsigned long long seed = 12345;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        double x;
        unsigned long long bits = seed ^ (seed >> 29);
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x))
            continue;
        qp_qalgo_format_double(b, sizeof b, x);
        double y = strtod(b, NULL);
        bad += y != x || signbit(y) != signbit(x) || !strpbrk(b, ".");
    }
    CHECK(bad == 0, "%d doubles do not round-trip", bad);
}

/* ---- algorithms ------------------------------------------------------------------------------ */

static uint64_t H[QP_CALIB_BINS], Z[QP_CALIB_BINS];

static void test_kl(void)
{
    double w = 1.0 / 1024;
    memset(H, 0, sizeof H);
    for (int k = 0; k < 128; k++)
        H[k] = 1000 - 7 * (uint64_t)k;
    /* everything inside the first 128 bins: no clipping */
    CHECK(qp_qalgo_kl_threshold((qp_qhist){H, QP_CALIB_BINS, w}, 128) == 128 * w, "kl inside");
    H[100] = 0;
    H[127] = 0;
    CHECK(qp_qalgo_kl_threshold((qp_qhist){H, QP_CALIB_BINS, w}, 128) == 127 * w, "kl last bin");
    H[127] = 111;
    /* one far outlier: the 128-bin reference folds it into its last bin, which the
     * quantization reproduces almost exactly; every wider threshold merges bins */
    H[2000] = 1;
    double T = qp_qalgo_kl_threshold((qp_qhist){H, QP_CALIB_BINS, w}, 128);
    CHECK(T == 128 * w, "kl outlier: %g bins, want 128", T / w);
    /* a wide bell over all bins with 8 target bins: the threshold sits inside */
    memset(H, 0, sizeof H);
    for (int k = 0; k < QP_CALIB_BINS; k++)
        H[k] = (uint64_t)(1e6 * exp(-(double)k * k / (2 * 200.0 * 200.0)));
    T = qp_qalgo_kl_threshold((qp_qhist){H, QP_CALIB_BINS, w}, 8);
    CHECK(T > 100 * w && T < 1200 * w, "kl bell: %g bins", T / w);
    CHECK(qp_qalgo_kl_threshold((qp_qhist){Z, QP_CALIB_BINS, w}, 128) == 0, "kl empty");
}

static void test_percentile(void)
{
    double w = 1.0 / 1024;
    memset(H, 0, sizeof H);
    for (int k = 0; k < 1000; k++)
        H[k] = 10;
    qp_qhist h = {H, QP_CALIB_BINS, w};
    CHECK(qp_qalgo_percentile_threshold(h, 99) == 990 * w, "p99: %g", qp_qalgo_percentile_threshold(h, 99) / w);
    CHECK(qp_qalgo_percentile_threshold(h, 100) == 1000 * w, "p100");
    CHECK(fabs(qp_qalgo_percentile_threshold(h, 99.95) - 999.5 * w) < 1e-12, "p99.95 interpolates: %.17g bins",
          qp_qalgo_percentile_threshold(h, 99.95) / w);
    CHECK(qp_qalgo_percentile_threshold(h, 50) == 500 * w, "p50");
    CHECK(qp_qalgo_percentile_threshold((qp_qhist){Z, QP_CALIB_BINS, w}, 99) == 0, "p empty");
}

static void test_mse(void)
{
    /* uniform density on [0, A): MSE(T) = T^3/(12 N^2 A) + (A-T)^3/(3A) is least at
     * T = A * 2N/(2N+1); N = 127 for symmetric int8 (step T/127), 255 for asymmetric u8 */
    double w = 1.0 / 1024, A = 1024 * w;
    memset(H, 0, sizeof H);
    for (int k = 0; k < 1024; k++)
        H[k] = 1000;
    qp_qhist pos = {H, QP_CALIB_BINS, w}, neg = {Z, QP_CALIB_BINS, w};
    double a = qp_qalgo_mse_fraction(pos, neg, -A, A, 255);
    CHECK(fabs(a - 254.0 / 255) < 1.5 / QP_QALGO_MSE_STEPS, "mse sym: %.6f, want %.6f", a, 254.0 / 255);
    a = qp_qalgo_mse_fraction(pos, neg, 0, A, 256);
    CHECK(fabs(a - 510.0 / 511) < 1.5 / QP_QALGO_MSE_STEPS, "mse asym: %.6f, want %.6f", a, 510.0 / 511);
    /* the closed form itself */
    double T = A * 0.5, step = T / 127;
    double want = (0.5 * step * step / 12) + (A - T) * (A - T) * (A - T) / (3 * A) / A;
    double got = qp_qalgo_expected_mse(pos, neg, -T, T, step);
    CHECK(fabs(got - want) < 1e-12 * fmax(1, want), "expected mse %.17g, want %.17g", got, want);
    /* a spike and a far outlier: clip the outlier */
    memset(H, 0, sizeof H);
    H[10] = 1000000;
    H[2000] = 1;
    /* noise N*T^2/(12*127^2) against clipping (2000w - T)^2: T = 2000w / (1 + N/193548) */
    a = qp_qalgo_mse_fraction(pos, neg, -2001 * w, 2001 * w, 255);
    want = 2000.0 / (1 + 1e6 / (12.0 * 127 * 127)) / 2001;
    CHECK(fabs(a - want) < 2.0 / QP_QALGO_MSE_STEPS, "mse clips a lone outlier: %g, want %g", a, want);
    CHECK(fabs(qp_qalgo_power((qp_qhist){H, 11, w}, neg) - (100 + 110 + 121) / 3.0 * w * w) < 1e-15,
          "power of one bin");
}

/* DFP under mse: the fl is searched on DFP's own grid (step 2^-fl), not rounded up from a
 * continuous clipping fraction */
static void test_dfp_mse(void)
{
    double w = 1.0 / 1024;
    qp_qhist pos = {H, QP_CALIB_BINS, w}, neg = {Z, QP_CALIB_BINS, w};
    /* uniform on [0, 1): fl0 = 15 holds it; any larger fl clips half the values or more */
    memset(H, 0, sizeof H);
    for (int k = 0; k < 1024; k++)
        H[k] = 1000;
    CHECK(qp_qalgo_dfp_mse_fl(pos, neg, 1.0, 16) == 15, "dfp mse uniform: fl %d, want 15",
          qp_qalgo_dfp_mse_fl(pos, neg, 1.0, 16));
    /* ten million values near 0.01 and one at 1.02, just above a power of two: fl0 = 14 wastes a
     * bit on it; fl 15 clips it by 0.02 (4e-4) and saves 1e7 * (2^-28 - 2^-30) / 12 = 2.3e-3 */
    memset(H, 0, sizeof H);
    H[10] = 10000000;
    H[1044] = 1;
    double absmax = 1045 * w;
    CHECK(qp_qalgo_dfp_fl(absmax, 16) == 14, "dfp fl0 %d", qp_qalgo_dfp_fl(absmax, 16));
    int fl = qp_qalgo_dfp_mse_fl(pos, neg, absmax, 16);
    CHECK(fl == 15, "dfp mse clips a value just above 2^0: fl %d, want 15", fl);
    /* and it is the argmin of the expected error over the candidates */
    double best = HUGE_VAL;
    int arg = -1;
    for (int f = 14; f <= 14 + QP_QALGO_DFP_MSE_FLS; f++) {
        double st = ldexp(1, -f), e = qp_qalgo_expected_mse(pos, neg, -32768 * st, 32767 * st, st);
        if (e < best) {
            best = e;
            arg = f;
        }
    }
    CHECK(arg == fl, "dfp mse argmin %d, got %d", arg, fl);
    /* with a thousand values near 0.01 the noise saving (2.3e-7) is less than the clip: fl0 */
    H[10] = 1000;
    CHECK(qp_qalgo_dfp_mse_fl(pos, neg, absmax, 16) == 14, "dfp mse keeps a needed bit: fl %d",
          qp_qalgo_dfp_mse_fl(pos, neg, absmax, 16));
    /* empty histogram: fl0 */
    memset(H, 0, sizeof H);
    CHECK(qp_qalgo_dfp_mse_fl(pos, neg, 3.0, 8) == qp_qalgo_dfp_fl(3.0, 8), "dfp mse empty");
}

static void test_moving_average(void)
{
    float mn[5] = {-1, -3, -2, NAN, -5}, mx[5] = {1, 2, 4, NAN, 3};
    double lo = 7, hi = 7;
    qp_qalgo_moving_average(mn, mx, 5, 1, 0.5, &lo, &hi);
    /* -1, then -2, -2, (skip), -3.5 ; 1, 1.5, 2.75, (skip), 2.875 */
    CHECK(lo == -3.5 && hi == 2.875, "ema batch 1: %g %g", lo, hi);
    qp_qalgo_moving_average(mn, mx, 5, 2, 0.25, &lo, &hi);
    /* batches {-3, 2}, {-2, 4}, {-5, 3}: -3 -> -2.75 -> -3.3125; 2 -> 2.5 -> 2.625 */
    CHECK(lo == -3.3125 && hi == 2.625, "ema batch 2: %g %g", lo, hi);
    lo = hi = 9;
    float nn[1] = {NAN};
    qp_qalgo_moving_average(nn, nn, 1, 1, 0.5, &lo, &hi);
    CHECK(lo == 9 && hi == 9, "no finite sample leaves the range");
}

/* ---- a small graph ----------------------------------------------------------------------------
 * x[1,2,4,4] -> Conv(W[3,2,1,1], B[3]) -> c -> Relu -> r;  Concat(r, c) -> cc;
 * Mul(cc, k: Initializer scalar 2) -> y;  Reshape(y, shape: int64 constant) -> z (output). */

struct mini {
    qp_graph *g;
    int x, W, B, c, r, cc, k, y, S, z;
    int conv, relu, cat, mul, rs;
};

static int node(qp_graph *g, const char *op, const char *name, int n_in, const int *in, int out)
{
    return qp_graph_add_node(g, op, name, n_in, in, 1, &out);
}

static void mini_new(struct mini *m)
{
    static const float w[6] = {0.5f, -1.0f, 0.25f, 0.125f, 2.0f, -0.75f}, b[3] = {0.1f, -0.2f, 0.3f}, k = 2.0f;
    static const int64_t shape[2] = {1, 96};
    int64_t dx[4] = {1, 2, 4, 4}, dw[4] = {3, 2, 1, 1}, db[1] = {3}, dc[4] = {1, 3, 4, 4}, dcc[4] = {1, 6, 4, 4},
            ds[1] = {2}, dz[2] = {1, 96};
    qp_graph *g = m->g = qp_graph_new();
    m->x = qp_graph_add_value(g, "x", QP_DT_F32, 4, dx);
    m->W = qp_graph_add_const(g, "W", QP_DT_F32, 4, dw, w, sizeof w);
    m->B = qp_graph_add_const(g, "B", QP_DT_F32, 1, db, b, sizeof b);
    m->c = qp_graph_add_value(g, "c", QP_DT_F32, 4, dc);
    m->r = qp_graph_add_value(g, "r", QP_DT_F32, 4, dc);
    m->cc = qp_graph_add_value(g, "cc", QP_DT_F32, 4, dcc);
    m->k = qp_graph_add_const(g, "k", QP_DT_F32, 0, NULL, &k, sizeof k);
    m->y = qp_graph_add_value(g, "y", QP_DT_F32, 4, dcc);
    m->S = qp_graph_add_const(g, "shape", QP_DT_I64, 1, ds, shape, sizeof shape);
    m->z = qp_graph_add_value(g, "z", QP_DT_F32, 2, dz);
    int in3[3] = {m->x, m->W, m->B};
    m->conv = node(g, "Conv", "conv0", 3, in3, m->c);
    m->relu = node(g, "Relu", "relu1", 1, &m->c, m->r);
    int in2[2] = {m->r, m->c};
    m->cat = node(g, "Concat", "cat2", 2, in2, m->cc);
    qp_node_set_int(g, m->cat, "axis", 1);
    in2[0] = m->cc, in2[1] = m->k;
    m->mul = node(g, "Mul", "mul3", 2, in2, m->y);
    in2[0] = m->y, in2[1] = m->S;
    m->rs = node(g, "Reshape", "rs4", 2, in2, m->z);
    g->inputs = qp_arena_array(g->arena, 1, sizeof(int));
    g->outputs = qp_arena_array(g->arena, 1, sizeof(int));
    g->inputs[0] = m->x;
    g->outputs[0] = m->z;
    g->n_inputs = g->n_outputs = 1;
    unsigned char init[16] = {0};
    init[m->k] = 1;
    if (qp_op_bind(g) || qp_keys_assign(g, init)) {
        printf("cannot build the graph: %s\n", qp_error_msg());
        exit(1);
    }
}

/* Hand-made statistics: value vi spans [mn, mx]; its histograms hold one count at each
 * extreme (hist_exp 4: bins of 1/128 over [0, 16)). */
static qp_calib *calib_new(const qp_graph *g)
{
    qp_calib *c = calloc(1, sizeof *c);
    c->g = g;
    c->n_samples = 2;
    c->batch_size = 1;
    c->moving_average_weight = 0.01;
    c->t = calloc((size_t)g->n_values, sizeof *c->t);
    for (int i = 0; i < g->n_values; i++)
        c->t[i].value = -1;
    return c;
}

static void calib_set(qp_calib *c, int vi, double mn, double mx)
{
    qp_calib_tensor *t = &c->t[vi];
    t->value = vi;
    t->min = mn;
    t->max = mx;
    t->count = 100;
    t->hist_exp = 4;
    t->hist_pos = calloc(2 * QP_CALIB_BINS, sizeof *t->hist_pos);
    t->hist_neg = t->hist_pos + QP_CALIB_BINS;
    double w = 16.0 / QP_CALIB_BINS;
    if (mx >= 0)
        t->hist_pos[(int)(mx / w) < QP_CALIB_BINS ? (int)(mx / w) : QP_CALIB_BINS - 1] += 50;
    else
        t->hist_neg[(int)(-mx / w)] += 50;
    if (mn < 0)
        t->hist_neg[(int)(-mn / w) < QP_CALIB_BINS ? (int)(-mn / w) : QP_CALIB_BINS - 1] += 50;
    else
        t->hist_pos[(int)(mn / w)] += 50;
    t->n_samples = 2;
    t->sample_index = calloc(2, sizeof *t->sample_index);
    t->sample_index[1] = 1;
    t->sample_min = calloc(2, sizeof(float));
    t->sample_max = calloc(2, sizeof(float));
    t->sample_min[0] = (float)mn;
    t->sample_max[0] = (float)mx;
    t->sample_min[1] = (float)(mn / 2);
    t->sample_max[1] = (float)(mx / 2);
}

static void calib_free(qp_calib *c)
{
    for (int i = 0; i < c->g->n_values; i++) {
        free(c->t[i].hist_pos);
        free(c->t[i].sample_index);
        free(c->t[i].sample_min);
        free(c->t[i].sample_max);
    }
    free(c->t);
    free(c);
}

static qp_calib *mini_calib(const struct mini *m)
{
    qp_calib *c = calib_new(m->g);
    calib_set(c, m->x, -1, 3);
    calib_set(c, m->c, -2, 5);
    calib_set(c, m->r, 0, 4);
    calib_set(c, m->cc, -2, 5);
    calib_set(c, m->y, -4, 10);
    calib_set(c, m->z, -4, 10);
    return c;
}

static qp_qtable *build(const struct mini *m, const qp_calib *c, int qz, int qt, int algo)
{
    qp_qtable_opts o;
    qp_qtable_opts_init(&o, qz, qt);
    o.algorithm = algo;
    qp_qtable *t;
    int rc = qp_qtable_build(m->g, c, &o, &t);
    if (rc) {
        printf("FAIL build %s-%s: %s\n", qp_quantizer_name(qz), qp_qtable_qtype_name(qt), qp_error_msg());
        n_fail++;
        return NULL;
    }
    n_pass++;
    return t;
}

static int same_params(const qp_qentry *a, const qp_qentry *b)
{
    if (a->quantizer != b->quantizer || a->qtype != b->qtype || a->n != b->n || a->fl != b->fl || a->min != b->min ||
        a->max != b->max || a->channel_dim != b->channel_dim)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->scale[i] != b->scale[i] || a->zero_point[i] != b->zero_point[i])
            return 0;
    return 1;
}

static void test_slots(const struct mini *m)
{
    qp_qslot *s;
    int n;
    char key[200], all[2000] = "";
    CHECK(!qp_qtable_slots(m->g, &s, &n), "slots");
    for (int i = 0; i < n; i++) {
        qp_qtable_key(m->g, s[i], key, sizeof key);
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s%s", i ? " " : "", key, s[i].required ? "" : "?");
    }
    /* graph order; the int64 shape constant has no slot */
    CHECK(!strcmp(all, "@x_7:out0 @Conv_conv0_6:weight @Conv_conv0_6:bias @Conv_conv0_6:out0 @Relu_relu1_5:out0 "
                       "@Concat_cat2_3:out0 @Initializer_k_4:out0 @Mul_mul3_2:out0 @Reshape_rs4_1:out0"),
          "slots: %s", all);
    free(s);
    qp_qslot sl;
    int ign;
    CHECK(!qp_qtable_resolve(m->g, "@Conv_conv0_6:weight", &sl, &ign) && !ign && sl.port == QP_QPORT_WEIGHT &&
              sl.index == m->conv,
          "resolve weight");
    CHECK(!qp_qtable_resolve(m->g, "@attach_Reshape_rs4/out0_0:out0", &sl, &ign) && ign, "attach is ignored");
    CHECK(!qp_qtable_resolve(m->g, "@Conv_conv0_6_pre_asymmetric_affineu8_to_dynamic_fixed_pointi16_9:out0", &sl,
                             &ign) && ign,
          "hybrid converter is ignored");
    CHECK(qp_qtable_resolve(m->g, "@Conv_conv0_7:out0", &sl, &ign) == QP_EUSAGE &&
              strstr(qp_error_msg(), "did you mean 'Conv_conv0_6'"),
          "unknown key: %s", qp_error_msg());
    CHECK(qp_qtable_resolve(m->g, "@Relu_relu1_5:weight", &sl, &ign) == QP_EUSAGE, "no weight port");
    CHECK(qp_qtable_resolve(m->g, "@Conv_conv0_6:out1", &sl, &ign) == QP_EUSAGE, "no out1");
    CHECK(qp_qtable_resolve(m->g, "Conv_conv0_6:out0", &sl, &ign) == QP_EUSAGE, "no @");
}

static void test_build_u8(const struct mini *m, const qp_calib *c)
{
    qp_qtable *t = build(m, c, QP_QZ_ASYMMETRIC_AFFINE, QP_DT_U8, QP_QALGO_NORMAL);
    if (!t)
        return;
    const qp_qentry *x = &t->value[m->x], *r = &t->value[m->r], *cv = &t->value[m->c], *cc = &t->value[m->cc];
    CHECK(x->quantizer == QP_QZ_ASYMMETRIC_AFFINE && x->qtype == QP_DT_U8 && x->n == 1 && x->scale[0] == 4.0 / 255 &&
              x->zero_point[0] == 64 && x->min == -1 && x->max == 3,
          "x: %.17g %d", x->scale[0], x->zero_point[0]);
    /* Concat(r, c) -> cc: one parameter set, the union [-2, 5] */
    CHECK(cc->scale[0] == 7.0 / 255 && cc->zero_point[0] == 73 && cc->min == -2 && cc->max == 5, "cc: %.17g %d",
          cc->scale[0], cc->zero_point[0]);
    CHECK(same_params(r, cc) && same_params(cv, cc), "concat shares its parameters with its inputs");
    CHECK(same_params(&t->value[m->z], &t->value[m->y]) && t->value[m->y].scale[0] == 14.0 / 255 &&
              t->value[m->y].zero_point[0] == 73,
          "reshape shares: %.17g %d", t->value[m->y].scale[0], t->value[m->y].zero_point[0]);
    const qp_qentry *k = &t->value[m->k];
    CHECK(k->scale[0] == 2.0 / 255 && k->zero_point[0] == 0 && k->min == 2 && k->max == 2, "initializer k");
    const qp_qentry *w = &t->weight[m->conv], *b = &t->bias[m->conv];
    CHECK(w->quantizer == QP_QZ_ASYMMETRIC_AFFINE && w->qtype == QP_DT_I8 && w->n == 1 && w->scale[0] == 2.0 / 127 &&
              w->zero_point[0] == 0 && w->min == -1 && w->max == 2,
          "weight: %.17g", w->scale[0]);
    CHECK(b->qtype == QP_DT_I32 && b->n == 1 && b->scale[0] == (4.0 / 255) * (2.0 / 127) && b->zero_point[0] == 0 &&
              fabs(b->min + 0.2) < 1e-7 && fabs(b->max - 0.3) < 1e-7,
          "bias: %.17g", b->scale[0]);
    CHECK(!qp_qentry_present(&t->value[m->S]), "no entry for the int64 shape");
    CHECK(!qp_qtable_check_complete(t), "complete: %s", qp_error_msg());
    qp_qtable_free(t);
}

static void test_build_dfp(const struct mini *m, const qp_calib *c)
{
    qp_qtable *t = build(m, c, QP_QZ_DYNAMIC_FIXED_POINT, QP_DT_I16, QP_QALGO_NORMAL);
    if (!t)
        return;
    const qp_qentry *x = &t->value[m->x], *w = &t->weight[m->conv], *b = &t->bias[m->conv];
    CHECK(x->fl == 13 && x->scale[0] == ldexp(1, -13) && x->qtype == QP_DT_I16, "x fl %d", x->fl);
    CHECK(w->fl == 14 && w->qtype == QP_DT_I16, "w fl %d", w->fl);
    CHECK(b->fl == 27 && b->qtype == QP_DT_I64 && b->scale[0] == ldexp(1, -27), "bias fl %d = fl_in + fl_w", b->fl);
    CHECK(t->value[m->cc].fl == 12, "cc fl %d (|x| <= 5)", t->value[m->cc].fl);
    qp_qtable_free(t);
    t = build(m, c, QP_QZ_DYNAMIC_FIXED_POINT, QP_DT_I8, QP_QALGO_NORMAL);
    if (t) {
        CHECK(t->value[m->x].fl == 5 && t->bias[m->conv].fl == 11 && t->bias[m->conv].qtype == QP_DT_I32, "dfp i8");
        qp_qtable_free(t);
    }
}

static void test_build_pcq(const struct mini *m, const qp_calib *c)
{
    qp_qtable *t = build(m, c, QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE, QP_DT_I8, QP_QALGO_NORMAL);
    if (!t)
        return;
    const qp_qentry *x = &t->value[m->x], *w = &t->weight[m->conv], *b = &t->bias[m->conv];
    CHECK(x->quantizer == QP_QZ_ASYMMETRIC_AFFINE && x->qtype == QP_DT_I8 && x->zero_point[0] == -64,
          "pcq activations are asymmetric i8");
    CHECK(w->quantizer == QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE && w->n == 3 && w->channel_dim == 0 &&
              w->scale[0] == 1.0 / 127 && w->scale[1] == 0.25 / 127 && w->scale[2] == 2.0 / 127,
          "pcq weight scales");
    CHECK(b->n == 3 && b->channel_dim == 0 && b->qtype == QP_DT_I32 && b->scale[1] == (4.0 / 255) * (0.25 / 127),
          "pcq bias scales");
    qp_qtable_free(t);
    t = build(m, c, QP_QZ_SYMMETRIC_AFFINE, QP_DT_I16, QP_QALGO_NORMAL);
    if (t) {
        CHECK(t->value[m->x].scale[0] == 3.0 / 32767 && t->value[m->x].zero_point[0] == 0 &&
                  t->weight[m->conv].scale[0] == 2.0 / 32767 && t->bias[m->conv].qtype == QP_DT_I64,
              "symmetric i16");
        qp_qtable_free(t);
    }
    t = build(m, c, QP_QZ_BFLOAT16, QP_DT_BF16, QP_QALGO_NORMAL);
    if (t) {
        CHECK(t->value[m->x].quantizer == QP_QZ_BFLOAT16 && t->value[m->x].n == 0 && t->value[m->x].max == 3 &&
                  t->bias[m->conv].qtype == QP_DT_BF16,
              "bfloat16");
        qp_qtable_free(t);
    }
    qp_qtable_opts o;
    qp_qtable_opts_init(&o, QP_QZ_ASYMMETRIC_AFFINE, QP_DT_I16);
    CHECK(qp_qtable_opts_check(&o) == QP_EUSAGE && strstr(qp_error_msg(), "uint8 or int8"), "asym i16 refused: %s",
          qp_error_msg());
}

static void test_build_algorithms(const struct mini *m)
{
    qp_calib *c = mini_calib(m);
    /* x: uniform over bins 0..999 of width 1/128 (ten each), nothing negative */
    qp_calib_tensor *t = &c->t[m->x];
    memset(t->hist_pos, 0, 2 * QP_CALIB_BINS * sizeof *t->hist_pos);
    for (int k = 0; k < 1000; k++)
        t->hist_pos[k] = 10;
    t->min = 0;
    t->max = 1000.0 / 128;
    qp_qtable_opts o;
    qp_qtable_opts_init(&o, QP_QZ_SYMMETRIC_AFFINE, QP_DT_I8);
    o.algorithm = QP_QALGO_PERCENTILE;
    o.percentile = 99;
    qp_qtable *q;
    CHECK(!qp_qtable_build(m->g, c, &o, &q), "percentile build: %s", qp_error_msg());
    CHECK(q->value[m->x].max == 990.0 / 128 && q->value[m->x].scale[0] == 990.0 / 128 / 127, "percentile x: %.17g",
          q->value[m->x].max);
    qp_qtable_free(q);
    o.algorithm = QP_QALGO_MSE;
    CHECK(!qp_qtable_build(m->g, c, &o, &q), "mse build");
    double want = 1000.0 / 128 * 254 / 255;
    CHECK(fabs(q->value[m->x].max - want) < 2.0 / QP_QALGO_MSE_STEPS * want, "mse x: %.6f want %.6f",
          q->value[m->x].max, want);
    qp_qtable_free(q);
    o.algorithm = QP_QALGO_KL_DIVERGENCE;
    CHECK(!qp_qtable_build(m->g, c, &o, &q), "kl build");
    CHECK(q->value[m->x].max > 0 && q->value[m->x].max <= 1000.0 / 128, "kl x: %g", q->value[m->x].max);
    qp_qtable_free(q);
    /* asymmetric u8 and one-sided data: the search gets all 256 levels, so 128 bins and no
     * clipping of a uniform block exactly 256 bins wide */
    memset(t->hist_pos, 0, QP_CALIB_BINS * sizeof *t->hist_pos);
    for (int k = 0; k < 256; k++)
        t->hist_pos[k] = 10;
    t->max = 256.0 / 128;
    qp_qtable_opts_init(&o, QP_QZ_ASYMMETRIC_AFFINE, QP_DT_U8);
    o.algorithm = QP_QALGO_KL_DIVERGENCE;
    CHECK(!qp_qtable_build(m->g, c, &o, &q), "kl u8 build");
    CHECK(q->value[m->x].max == 2 && q->value[m->x].min == 0, "kl u8 one-sided: [%g, %g]", q->value[m->x].min,
          q->value[m->x].max);
    qp_qtable_free(q);
    /* moving average over the two samples (batch 1, weight 0.5): x samples [-1,3] then [-0.5,1.5] */
    c->t[m->x].min = -1;
    c->t[m->x].max = 3;
    qp_qtable_opts_init(&o, QP_QZ_ASYMMETRIC_AFFINE, QP_DT_U8);
    o.algorithm = QP_QALGO_MOVING_AVERAGE;
    o.ma_weight = 0.5;
    CHECK(!qp_qtable_build(m->g, c, &o, &q), "ma build");
    CHECK(q->value[m->x].min == -0.75 && q->value[m->x].max == 2.25, "ma x: [%g, %g]", q->value[m->x].min,
          q->value[m->x].max);
    qp_qtable_free(q);
    /* a tensor without statistics */
    c->t[m->r].value = -1;
    CHECK(qp_qtable_build(m->g, c, &o, &q) == QP_EINPUT && strstr(qp_error_msg(), "@Relu_relu1_5:out0"),
          "missing statistics: %s", qp_error_msg());
    calib_free(c);
}

/* ---- YAML and IR round trips ----------------------------------------------------------------- */

static char *emit(const qp_qtable *t, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    int rc = qp_qtable_emit_yaml(f, t);
    fclose(f);
    if (rc) {
        printf("emit: %s\n", qp_error_msg());
        free(buf);
        return NULL;
    }
    return buf;
}

static void test_roundtrip(const struct mini *m, const qp_calib *c, int qz, int qt)
{
    qp_qtable *t = build(m, c, qz, qt, QP_QALGO_NORMAL), *t2 = NULL, *t3 = NULL;
    if (!t)
        return;
    qp_qtable_set_custom(t, "Mul_mul3_2", "dynamic_fixed_point-int16");
    qp_qtable_set_custom(t, "Initializer_k_4", "dynamic_fixed_point-i16");
    size_t n1, n2, n3;
    char *y1 = emit(t, &n1);
    int rc = qp_qtable_parse_yaml(y1, n1, "t.quantize", m->g, &t2);
    CHECK(!rc, "%s: parse back: %s", qp_quantizer_name(qz), qp_error_msg());
    char *y2 = t2 ? emit(t2, &n2) : NULL;
    CHECK(y2 && n1 == n2 && !memcmp(y1, y2, n1), "%s: write -> read -> write differs", qp_quantizer_name(qz));
    /* through the IR section */
    CHECK(!qp_qtable_store(m->g, t2) && !qp_qtable_load(m->g, &t3), "%s: store/load: %s", qp_quantizer_name(qz),
          qp_error_msg());
    char *y3 = t3 ? emit(t3, &n3) : NULL;
    CHECK(y3 && n1 == n3 && !memcmp(y1, y3, n1), "%s: YAML -> IR -> YAML differs", qp_quantizer_name(qz));
    CHECK(y1 && strstr(y1, "  Mul_mul3_2: dynamic_fixed_point-i16\n"), "custom normalised");
    if (qz == QP_QZ_ASYMMETRIC_AFFINE && y1) {
        /* a hand edit of one scale changes exactly that entry */
        const char *at = strstr(y1, "'@x_7:out0':");
        const char *sc = at ? strstr(at, "    scale: ") : NULL;
        if (sc) {
            const char *eol = strchr(sc, '\n');
            size_t pre = (size_t)(sc - y1);
            char *ed = malloc(n1 + 64);
            int len = sprintf(ed, "%.*s    scale: 0.02%s", (int)pre, y1, eol);
            qp_qtable *te = NULL;
            CHECK(!qp_qtable_parse_yaml(ed, (size_t)len, "edited.quantize", m->g, &te), "edited: %s", qp_error_msg());
            if (te) {
                int diff = 0;
                for (int v = 0; v < m->g->n_values; v++)
                    diff += !same_params(&te->value[v], &t->value[v]) != (v == m->x);
                CHECK(diff == 0 && te->value[m->x].scale[0] == 0.02 && te->value[m->x].zero_point[0] == 64 &&
                          same_params(&te->bias[m->conv], &t->bias[m->conv]),
                      "the edit changed %d other entries", diff);
                qp_qtable_free(te);
            }
            free(ed);
        }
    }
    free(y1);
    free(y2);
    free(y3);
    qp_qtable_free(t);
    qp_qtable_free(t2);
    qp_qtable_free(t3);
}

/* Bad tables: each must fail with QP_EUSAGE and the text (the YAML classes of the bats suite
 * are there too; these cover the cases that need no fixture file). */
static void test_yaml_errors(const struct mini *m)
{
    static const char head[] = "version: 2\nquantize_parameters:\n";
    static const char rest[] =
        "  '@Conv_conv0_6:weight': {qtype: i8, quantizer: asymmetric_affine, scale: 0.01, zero_point: 0}\n"
        "  '@Conv_conv0_6:bias': {qtype: i32, quantizer: asymmetric_affine}\n"
        "  '@Conv_conv0_6:out0': {qtype: u8, quantizer: asymmetric_affine, min_value: -2, max_value: 5}\n"
        "  '@Relu_relu1_5:out0': {qtype: u8, quantizer: asymmetric_affine, min_value: -2, max_value: 5}\n"
        "  '@Concat_cat2_3:out0': {qtype: u8, quantizer: asymmetric_affine, min_value: -2, max_value: 5}\n"
        "  '@Initializer_k_4:out0': {qtype: u8, quantizer: asymmetric_affine, min_value: 0, max_value: 2}\n"
        "  '@Mul_mul3_2:out0': {qtype: u8, quantizer: asymmetric_affine, min_value: -4, max_value: 10}\n"
        "  '@Reshape_rs4_1:out0': {qtype: u8, quantizer: asymmetric_affine, min_value: -4, max_value: 10}\n";
    static const struct { const char *x, *want; } t[] = {
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scale: 0.1, zero_point: 3}\n", NULL},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scale: 0.1, zero_point: 256}\n",
         "zero_point 256 is outside the u8 range [0, 255]"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scale: -0.1, zero_point: 3}\n", "must be positive"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scale: 0, zero_point: 3}\n", "must be positive"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scale: 1e999, zero_point: 3}\n", "out of range"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scale: .nan, zero_point: 3}\n", "not finite"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scale: 0.1x, zero_point: 3}\n",
         "must be a number, not '0.1x'"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scale: '0.1', zero_point: 3}\n", "(quoted)"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scale: 0.1, zero_point: 3.5}\n",
         "must be an integer, not '3.5'"},
        {"  '@x_7:out0': {qtype: i32, quantizer: asymmetric_affine, scale: 0.1, zero_point: 3}\n", "8 or 16 bits"},
        {"  '@x_7:out0': {qtype: u4, quantizer: asymmetric_affine, scale: 0.1, zero_point: 3}\n", "unknown qtype 'u4'"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, min_value: 3, max_value: -1}\n",
         "min_value 3.0 is greater than max_value -1.0"},
        {"  '@x_7:out0': {qtype: i16, quantizer: dynamic_fixed_point, fl: 99}\n", "out of range [-64, 64]"},
        {"  '@x_7:out0': {qtype: i16, quantizer: dynamic_fixed_point, fl: 40}\n", "fl 40 is outside [-32, 32]"},
        {"  '@x_7:out0': {qtype: i8, quantizer: symmetric_affine, scale: 0.1, zero_point: 3}\n", "zero point 0"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scael: 0.1, zero_point: 3}\n",
         "unknown field 'scael' in '@x_7:out0' (did you mean 'scale'?)"},
        {"  '@x_7:out0': {qtype: u8, dtype: asymmetric_affine, scale: 0.1, zero_point: 3}\n", "belongs to dialect 1"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, rounding: rtz, scale: 0.1, zero_point: 3}\n",
         "only rtne"},
        {"  '@x_7:out0': {qtype: u8, quantizer: asymmetric_affine, scale: [0.1, 0.2], zero_point: [3, 3]}\n",
         "only for weights"},
        {"  '@x_9:out0': {qtype: u8, quantizer: asymmetric_affine, scale: 0.1, zero_point: 3}\n",
         "layer 'x_9' of '@x_9:out0' not found in the graph (did you mean 'x_7'?)"},
        {"  '@Initializer_shape_8:out0': {qtype: u8, quantizer: asymmetric_affine, scale: 0.1, zero_point: 3}\n",
         "not found"},
        {"", "no entry for '@x_7:out0', which the graph needs"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char buf[4096];
        int len = snprintf(buf, sizeof buf, "%s%s%s", head, t[i].x, rest);
        qp_qtable *q = NULL;
        int rc = qp_qtable_parse_yaml(buf, (size_t)len, "t.quantize", m->g, &q);
        if (!t[i].want)
            CHECK(!rc && q, "case %zu should parse: %s", i, qp_error_msg());
        else
            CHECK(rc == QP_EUSAGE && !q && strstr(qp_error_msg(), t[i].want), "case %zu: got '%s', want '%s'", i,
                  rc ? qp_error_msg() : "success", t[i].want);
        if (!t[i].want && q) {
            /* the bias was derived: s_in * s_w */
            CHECK(q->bias[m->conv].scale[0] == 0.1 * 0.01 && q->bias[m->conv].qtype == QP_DT_I32,
                  "derived bias scale %.17g", q->bias[m->conv].scale[0]);
        }
        qp_qtable_free(q);
    }
}

static void test_entropy(const struct mini *m, const qp_calib *c)
{
    qp_qtable *t = build(m, c, QP_QZ_ASYMMETRIC_AFFINE, QP_DT_U8, QP_QALGO_NORMAL);
    if (!t)
        return;
    qp_qscore *s;
    int n;
    CHECK(!qp_qtable_entropy(t, c, &s, &n), "entropy: %s", qp_error_msg());
    int ok = n == 8, acts = 1;
    for (int i = 0; i < n; i++) {
        ok &= s[i].score >= 0 && s[i].score < 1;
        if (i && s[i].slot.port == s[i - 1].slot.port)
            ok &= s[i].score >= s[i - 1].score;
        if (s[i].slot.port != QP_QPORT_VALUE)
            acts = 0;
        else
            ok &= acts;
    }
    CHECK(ok, "entropy: %d scores, activations then weights, each ascending", n);
    qp_qtable_free(t);
    free(s);
}

int main(void)
{
    qp_diag_init("test_qtable");
    test_params();
    test_format();
    test_kl();
    test_percentile();
    test_mse();
    test_dfp_mse();
    test_moving_average();
    struct mini m;
    mini_new(&m);
    qp_calib *c = mini_calib(&m);
    test_slots(&m);
    test_build_u8(&m, c);
    test_build_dfp(&m, c);
    test_build_pcq(&m, c);
    test_build_algorithms(&m);
    test_roundtrip(&m, c, QP_QZ_ASYMMETRIC_AFFINE, QP_DT_U8);
    test_roundtrip(&m, c, QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE, QP_DT_I8);
    test_roundtrip(&m, c, QP_QZ_DYNAMIC_FIXED_POINT, QP_DT_I16);
    test_roundtrip(&m, c, QP_QZ_SYMMETRIC_AFFINE, QP_DT_I8);
    test_roundtrip(&m, c, QP_QZ_FLOAT16, QP_DT_F16);
    test_yaml_errors(&m);
    test_entropy(&m, c);
    calib_free(c);
    qp_graph_free(m.g);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
