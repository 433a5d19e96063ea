/* The arithmetic contract of qp/requant.h, pinned by tables: rounding ties and extreme shifts,
 * multiplier encoding, requantization, quantize/dequantize, bias, conversion and Add.  Every
 * row is a worked example a person can check by hand; a change in any rule fails a row.
 * Exits non-zero on any failure; the last line is "N passed, M failed". */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "qp/requant.h"

#include "check.h"


static void test_rtne_double(void)
{
    static const struct { double x, want; } t[] = {
        {0.5, 0},   {-0.5, 0},   {1.5, 2},    {-1.5, -2},  {2.5, 2},   {-2.5, -2},
        {3.5, 4},   {-3.5, -4},  {0.49999999999999994, 0}, {2.5000000000000004, 3},
        {1e300, 1e300}, {-7.0, -7.0}, {4503599627370497.0, 4503599627370497.0},
        {2251799813685248.5, 2251799813685248.0}, {2251799813685249.5, 2251799813685250.0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        CHECK(qp_rtne(t[i].x) == t[i].want, "rtne(%.17g) = %.17g, want %.17g", t[i].x,
              qp_rtne(t[i].x), t[i].want);
    CHECK(isinf(qp_rtne(INFINITY)) && isnan(qp_rtne(NAN)), "rtne of inf/nan");
}

static void test_rshift(void)
{
    static const struct { int64_t x; int n; int64_t want; } t[] = {
        /* the worked examples of qp/requant.h */
        {1, 1, 0},    {-1, 1, 0},   {3, 1, 2},    {-3, 1, -2},  {5, 1, 2},   {-5, 1, -2},
        {7, 1, 4},    {-7, 1, -4},  {6, 2, 2},    {-6, 2, -2},  {10, 2, 2},  {-10, 2, -2},
        {11, 2, 3},   {-11, 2, -3}, {9, 2, 2},    {-9, 2, -2},  {2, 2, 0},   {-2, 2, 0},
        {0, 0, 0},    {0, 5, 0},    {12345, 0, 12345}, {-12345, 0, -12345},
        {INT64_MAX, 0, INT64_MAX},  {INT64_MIN, 0, INT64_MIN},
        {INT64_MAX, 1, INT64_C(4611686018427387904)},          /* 2^62 - 0.5 -> 2^62 (even) */
        {INT64_MIN, 1, INT64_MIN / 2},
        {INT64_MAX, 62, 2},  /* 1.99999... */
        {INT64_MIN, 62, -2}, {INT64_MIN, 63, -1},
        {INT64_MAX, 63, 1},  /* 0.99999... */
        {INT64_C(1) << 62, 63, 0},    /* exactly 0.5 -> 0 */
        {(INT64_C(3) << 61), 63, 1},  /* 0.75 */
        {-(INT64_C(1) << 62), 63, 0}, /* -0.5 -> 0 */
        {-(INT64_C(3) << 61), 63, -1},
        {INT64_MIN, 64, 0},  {INT64_MAX, 64, 0}, {INT64_MIN, 100, 0}, {-1, 64, 0},
        {(INT64_C(3) << 30), 31, 2},  /* 1.5 */
        {(INT64_C(5) << 30), 31, 2},  /* 2.5 */
        {-(INT64_C(5) << 30), 31, -2}, {(INT64_C(5) << 30) + 1, 31, 3},
        {-(INT64_C(5) << 30) - 1, 31, -3},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t got = qp_rshift_rtne(t[i].x, t[i].n);
        CHECK(got == t[i].want, "rshift_rtne(%" PRId64 ", %d) = %" PRId64 ", want %" PRId64,
              t[i].x, t[i].n, got, t[i].want);
        __int128 g2 = qp_rshift_rtne128(t[i].x, t[i].n);
        CHECK(t[i].n >= 64 ? g2 == (t[i].x == INT64_MIN && t[i].n == 64 ? 0 : g2)
                           : g2 == t[i].want,
              "rshift_rtne128(%" PRId64 ", %d)", t[i].x, t[i].n);
    }
    /* 128-bit extremes */
    __int128 big = (__int128)INT64_MAX * INT32_MAX;
    CHECK(qp_rshift_rtne128(big, 0) == big, "128 n=0");
    CHECK(qp_rshift_rtne128((__int128)5 << 90, 91) == 2, "128 2.5");
    CHECK(qp_rshift_rtne128(-((__int128)5 << 90), 91) == -2, "128 -2.5");
    CHECK(qp_rshift_rtne128(((__int128)7 << 90), 91) == 4, "128 3.5");
    CHECK(qp_rshift_rtne128(-((__int128)1 << 126), 127) == 0, "128 -0.5");
    CHECK(qp_rshift_rtne128(-((__int128)1 << 126) - 1, 127) == -1, "128 -0.5-");
    CHECK(qp_rshift_rtne128(-((__int128)1 << 126), 128) == 0, "128 n=128");
    /* against exact long double / brute force on a sweep of small values */
    int bad = 0;
    for (int64_t x = -4096; x <= 4096; x++)
        for (int n = 0; n <= 14; n++) {
            double q = (double)x / (double)(1 << n); /* exact */
            if ((double)qp_rshift_rtne(x, n) != qp_rtne(q))
                bad++;
        }
    CHECK(bad == 0, "sweep: %d mismatches against rtne(x / 2^n)", bad);
}

static void test_multiplier(void)
{
    static const struct { double M; int rc; int32_t mult, shift; } t[] = {
        {0.0, 0, 0, 0},
        {1.0, 0, 1 << 30, -1},
        {0.5, 0, 1 << 30, 0},
        {0.125, 0, 1 << 30, 2},                     /* 2^-3: DFP, exact */
        {0.1, 0, 1717986918, 3},                    /* 0.8 * 2^31 = 1717986918.4 */
        {0.75, 0, 1610612736, 0},
        {3.0, 0, 1610612736, -2},
        {1.0 / 3.0, 0, 1431655765, 1},              /* 1431655765.33 */
        {0.99999999999, 0, 1 << 30, -1},            /* rounds to 2^31: renormalised */
        {1073741824.0, 0, 1 << 30, -31},            /* 2^30: the largest exponent */
        {2147483647.0, 0, 2147483647, -31},
        {2147483648.0, -1, 0, 0},                   /* 2^31: too large */
        {2147483647.9, -1, 0, 0},                   /* rounds up to 2^31 */
        {-0.5, -1, 0, 0},
        {0x1p-63, 0, 1 << 30, 62},                  /* the smallest kept */
        {0x1.fffffffffffffp-64, 0, 1 << 30, 62},    /* rounds up into 2^-63 */
        {0x1p-64, 0, 0, 0},                         /* flushed */
        {5e-324, 0, 0, 0},
        {1073741826.0 / 2147483648.0, 0, 1073741826, 0}, /* (2^30 + 2) / 2^31 exactly */
        {1073741824.5 / 2147483648.0, 0, 1073741824, 0}, /* 2^30 + 0.5: tie -> even */
        {1073741825.5 / 2147483648.0, 0, 1073741826, 0}, /* 2^30 + 1.5 -> 2^30 + 2 */
        {1073741826.5 / 2147483648.0, 0, 1073741826, 0}, /* 2^30 + 2.5 -> 2^30 + 2 */
        {1073741826.5 / 4294967296.0, 0, 1073741826, 1}, /* the same one octave down */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qp_qmul m;
        int rc = qp_requant_multiplier(t[i].M, &m);
        CHECK(rc == t[i].rc && m.mult == t[i].mult && m.shift == t[i].shift,
              "multiplier(%.17g) = %d (%" PRId32 ", %" PRId32 "), want %d (%" PRId32 ", %" PRId32
              ")", t[i].M, rc, m.mult, m.shift, t[i].rc, t[i].mult, t[i].shift);
    }
    qp_qmul m;
    CHECK(qp_requant_multiplier(NAN, &m) == -1 && qp_requant_multiplier(INFINITY, &m) == -1,
          "multiplier of NaN/inf");
    /* every power of two in range is exact; random values within half an ulp of 31 bits */
    int bad = 0;
    for (int e = -63; e <= 30; e++) {
        double M = ldexp(1.0, e);
        if (qp_requant_multiplier(M, &m) || qp_qmul_value(m) != M)
            bad++;
    }
    CHECK(bad == 0, "powers of two: %d not exact", bad);
    srand(1);
    bad = 0;
    for (int i = 0; i < 100000; i++) {
        double M = ldexp((double)rand() / RAND_MAX + 0.5, rand() % 80 - 60);
        if (qp_requant_multiplier(M, &m) || m.mult < (1 << 30) ||
            fabs(qp_qmul_value(m) - M) > ldexp(M, -31))
            bad++;
    }
    CHECK(bad == 0, "random multipliers: %d out of tolerance", bad);
}

static qp_qmul mul_of(double M)
{
    qp_qmul m;
    if (qp_requant_multiplier(M, &m))
        abort();
    return m;
}

static void test_requant(void)
{
    static const struct {
        int64_t acc;
        double M;
        int32_t zp, lo, hi, want;
    } t[] = {
        /* the worked examples of qp/requant.h */
        {1000, 0.1, 10, 0, 255, 110},
        {25, 0.1, 0, -128, 127, 2},   /* 2.4999999994: M is a hair below 0.1 */
        {35, 0.1, 0, -128, 127, 3},   /* 3.4999999992 */
        {15, 0.1, 0, -128, 127, 1},   /* 1.49999999965 */
        {20, 0.125, 0, -128, 127, 2}, /* exactly 2.5 */
        {-20, 0.125, 0, -128, 127, -2},
        {28, 0.125, 0, -128, 127, 4}, /* 3.5 */
        {-28, 0.125, 0, -128, 127, -4},
        {12, 0.125, 0, -128, 127, 2}, /* 1.5 */
        {4, 0.125, 0, -128, 127, 0},  /* 0.5 */
        {-4, 0.125, 0, -128, 127, 0},
        {-4, 0.125, -128, -128, 127, -128},
        /* saturation and fused clamps */
        {100000, 0.01, 0, -128, 127, 127},
        {-100000, 0.01, 0, -128, 127, -128},
        {100000, 0.01, 0, 0, 255, 255},
        {-3000, 0.01, 5, 5, 255, 5},    /* ReLU: lo = zp */
        {3000, 0.01, 5, 5, 20, 20},     /* ReLU6-like: hi */
        {INT32_MAX, 1.0, 0, INT32_MIN, INT32_MAX, INT32_MAX},
        {INT32_MIN, 1.0, 0, INT32_MIN, INT32_MAX, INT32_MIN},
        {INT32_MIN, 0.5, 0, INT32_MIN, INT32_MAX, -1073741824},
        {INT32_MIN, 0x1p-31, 0, -128, 127, -1},
        {INT32_MIN, 0x1p-32, 0, -128, 127, 0},   /* -0.5 -> 0 */
        {INT32_MAX, 0x1p-32, 0, -128, 127, 0},   /* 0.49999999977 */
        {INT32_MIN, 0x1p-63, 7, -128, 127, 7},
        {INT32_MAX, 1073741824.0, 0, INT32_MIN, INT32_MAX, INT32_MAX},
        {-1, 2147483647.0, 0, INT32_MIN, INT32_MAX, -2147483647},
        {-1, 0.0, 3, -128, 127, 3},
        {77, 1.0, -128, -128, 127, -51},
        {300, 0.5, -128, -128, 127, 22},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qp_qmul m = mul_of(t[i].M);
        if (t[i].acc >= INT32_MIN && t[i].acc <= INT32_MAX) {
            int32_t got = qp_requant_i32((int32_t)t[i].acc, m, t[i].zp, t[i].lo, t[i].hi);
            CHECK(got == t[i].want, "requant_i32(%" PRId64 ", %.17g) = %" PRId32 ", want %" PRId32,
                  t[i].acc, t[i].M, got, t[i].want);
        }
        int32_t got = qp_requant_i64(t[i].acc, m, t[i].zp, t[i].lo, t[i].hi);
        CHECK(got == t[i].want, "requant_i64(%" PRId64 ", %.17g) = %" PRId32 ", want %" PRId32,
              t[i].acc, t[i].M, got, t[i].want);
    }
    /* int64 accumulators: 16-bit layers */
    static const struct { int64_t acc; double M; int32_t want; } t64[] = {
        {INT64_MAX, 0x1p-62, 2},          /* 1.99999... */
        {INT64_MIN, 0x1p-62, -2},
        {INT64_MIN, 0x1p-63, -1},
        {INT64_MAX, 1.0, 32767},
        {INT64_MIN, 1.0, -32768},
        {INT64_C(5) << 40, 0x1p-41, 2},   /* 2.5 */
        {INT64_C(7) << 40, 0x1p-41, 4},   /* 3.5 */
        {-(INT64_C(5) << 40), 0x1p-41, -2},
        {INT64_C(123456789012), 1e-7, 12346}, /* 12345.6789 */
        {-INT64_C(123456789012), 1e-7, -12346},
    };
    for (size_t i = 0; i < sizeof t64 / sizeof t64[0]; i++) {
        int32_t got = qp_requant_i64(t64[i].acc, mul_of(t64[i].M), 0, -32768, 32767);
        CHECK(got == t64[i].want, "requant_i64(%" PRId64 ", %.17g) = %" PRId32 ", want %" PRId32,
              t64[i].acc, t64[i].M, got, t64[i].want);
    }
    /* random: requant equals rtne of the exactly represented product (long double has 64 bits
     * of mantissa: exact for |acc| < 2^31 times a 31-bit mult) */
    srand(2);
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        int32_t acc = (int32_t)((uint32_t)rand() << 16 ^ (uint32_t)rand());
        qp_qmul m = mul_of(ldexp((double)rand() / RAND_MAX + 0.5, -(rand() % 40)));
        long double exact = ldexpl((long double)acc * m.mult, -(31 + m.shift));
        long double r = nearbyintl(exact); /* default mode: ties to even */
        int64_t want = (int64_t)r;
        want = want < -128 ? -128 : want > 127 ? 127 : want;
        if (qp_requant_i32(acc, m, 0, -128, 127) != want)
            bad++;
    }
    CHECK(bad == 0, "random requant_i32: %d mismatches", bad);
    CHECK(qp_acc32(INT32_MAX, 5) == INT32_MAX && qp_acc32(INT32_MIN, -5) == INT32_MIN &&
          qp_acc32(-7, 5) == -2, "acc32 saturation");
    CHECK(qp_acc64(INT64_MAX, 5) == INT64_MAX && qp_acc64(INT64_MIN, -5) == INT64_MIN &&
          qp_acc64(-7, 5) == -2, "acc64 saturation");
    CHECK(qp_qmul_apply(INT64_MAX, mul_of(2.0)) == INT64_MAX &&
          qp_qmul_apply(-5, mul_of(0.5)) == -2 && qp_qmul_apply(7, mul_of(0.5)) == 4,
          "qmul_apply");
}

static void test_quantize(void)
{
    qp_qparams u8 = {.scale = 0.5, .zp = 128, .type = QP_QTYPE_U8};
    qp_qparams i8 = {.scale = 0.1, .zp = -3, .type = QP_QTYPE_I8};
    qp_qparams d16 = qp_qparams_dfp(QP_QTYPE_I16, 12);
    static const struct { int which; double x; int32_t want; } t[] = {
        {0, 0.0, 128},     {0, 0.25, 128},  {0, 0.75, 130},  {0, -0.25, 128}, {0, -0.75, 126},
        {0, 1.25, 130},    {0, 63.5, 255},  {0, 63.75, 255}, {0, 1e9, 255},   {0, -64.0, 0},
        {0, -1e30, 0},     {0, -64.25, 0},  {0, -63.75, 0},  {0, -63.25, 2},  {0, -63.75 + 0.5, 2},
        {1, 0.05, -3},  /* 0.05 / 0.1 = 0.49999999999999994 in double -> 0 */
        {1, 0.15, -2},  /* 1.4999999999999998 -> 1 */
        {1, 0.25, -1},  /* 2.5 -> 2 */
        {1, -0.25, -5}, {1, 12.7, 124}, {1, 13.0, 127}, {1, -12.5, -128},
        {2, 1.0, 4096},    {2, -8.0, -32768}, {2, 8.0, 32767}, {2, 0x1p-13, 0},
        {2, 3 * 0x1p-13, 2}, {2, -3 * 0x1p-13, -2}, {2, 1.0 / 3, 1365},
    };
    const qp_qparams *ps[] = {&u8, &i8, &d16};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int32_t got = qp_quantize(t[i].x, ps[t[i].which]);
        CHECK(got == t[i].want, "quantize(%.17g, %s) = %" PRId32 ", want %" PRId32, t[i].x,
              qp_qtype_name(ps[t[i].which]->type), got, t[i].want);
    }
    CHECK(qp_quantize(NAN, &u8) == 128 && qp_quantize(INFINITY, &i8) == 127 &&
          qp_quantize(-INFINITY, &i8) == -128, "quantize of NaN/inf");
    CHECK(qp_dequantize(130, &u8) == 1.0f && qp_dequantize(0, &u8) == -64.0f &&
          qp_dequantize(-3, &i8) == 0.0f && qp_dequantize(4096, &d16) == 1.0f &&
          qp_dequantize(7, &i8) == 1.0f && qp_dequantize(-32768, &d16) == -8.0f,
          "dequantize");
    /* round trip: quantize(dequantize(q)) == q for every q of each type */
    int bad = 0;
    for (int k = 0; k < 3; k++)
        for (int64_t q = qp_qtype_min(ps[k]->type); q <= qp_qtype_max(ps[k]->type); q++)
            if (qp_quantize(qp_dequantize((int32_t)q, ps[k]), ps[k]) != q)
                bad++;
    CHECK(bad == 0, "quantize(dequantize(q)) != q for %d values", bad);
    /* bias: fl_b = fl_x + fl_w for DFP, rtne, int32/int64 clamps */
    CHECK(qp_quantize_bias32(0.75, 0x1p-25) == 25165824, "bias32 dfp");
    CHECK(qp_quantize_bias32(1.5 * 0x1p-25, 0x1p-25) == 2, "bias32 tie");
    CHECK(qp_quantize_bias32(2.5 * 0x1p-25, 0x1p-25) == 2, "bias32 tie even");
    CHECK(qp_quantize_bias32(-2.5 * 0x1p-25, 0x1p-25) == -2, "bias32 negative tie");
    CHECK(qp_quantize_bias32(1e10, 1e-3) == INT32_MAX && qp_quantize_bias32(-1e10, 1e-3) == INT32_MIN,
          "bias32 clamp");
    CHECK(qp_quantize_bias64(1e10, 1e-3) == INT64_C(10000000000000) &&
          qp_quantize_bias64(1e300, 1) == INT64_MAX && qp_quantize_bias64(-1e300, 1) == INT64_MIN &&
          qp_quantize_bias64(NAN, 1) == 0 && qp_quantize_bias64(-5.5, 1) == -6,
          "bias64");
    double sw[2] = {0.004, 0.006};
    qp_qmul lm[2];
    CHECK(qp_requant_layer_multipliers(0.05, sw, 2, 0.1, 2, lm) == 0 &&
          lm[0].mult == mul_of(0.05 * 0.004 / 0.1).mult && lm[1].shift == mul_of(0.003).shift,
          "layer multipliers");
}

static void test_convert(void)
{
    qp_qconvert c;
    /* DFP i8 fl 7 -> i16 fl 15: exact left shift by 8 */
    qp_qparams a = qp_qparams_dfp(QP_QTYPE_I8, 7), b = qp_qparams_dfp(QP_QTYPE_I16, 15);
    CHECK(qp_qconvert_init(&a, &b, &c) == 0 && qp_qconvert_one(&c, -128) == -32768 &&
          qp_qconvert_one(&c, 127) == 32512 && qp_qconvert_one(&c, 1) == 256, "dfp up");
    /* i16 fl 15 -> i8 fl 7: shift right 8 with rtne */
    CHECK(qp_qconvert_init(&b, &a, &c) == 0 && qp_qconvert_one(&c, 128) == 0 &&
          qp_qconvert_one(&c, 384) == 2 && qp_qconvert_one(&c, 640) == 2 &&
          qp_qconvert_one(&c, -640) == -2 && qp_qconvert_one(&c, 32767) == 127 &&
          qp_qconvert_one(&c, -32768) == -128 && qp_qconvert_one(&c, 32640) == 127,
          "dfp down");
    /* u8 asym -> i16 DFP (a dtype_converter at a hybrid boundary) */
    qp_qparams u = {.scale = 1.0 / 64, .zp = 128, .type = QP_QTYPE_U8};
    qp_qparams d = qp_qparams_dfp(QP_QTYPE_I16, 12);
    CHECK(qp_qconvert_init(&u, &d, &c) == 0 && qp_qconvert_one(&c, 128) == 0 &&
          qp_qconvert_one(&c, 129) == 64 && qp_qconvert_one(&c, 0) == -8192 &&
          qp_qconvert_one(&c, 255) == 8128, "u8 -> i16");
    CHECK(qp_qconvert_init(&d, &u, &c) == 0 && qp_qconvert_one(&c, 32) == 128 &&
          qp_qconvert_one(&c, 96) == 130 && qp_qconvert_one(&c, 32767) == 255 &&
          qp_qconvert_one(&c, -32768) == 0 && qp_qconvert_one(&c, -96) == 126,
          "i16 -> u8 (ties: 32/64 = 0.5 -> 0, 96/64 = 1.5 -> 2)");
    /* identity with a zero point change: an exact offset */
    qp_qparams u2 = {.scale = 1.0 / 64, .zp = 0, .type = QP_QTYPE_U8};
    CHECK(qp_qconvert_init(&u, &u2, &c) == 0 && c.identity && qp_qconvert_one(&c, 200) == 72 &&
          qp_qconvert_one(&c, 100) == 0, "identity");
    /* every u8 value through a random rescale matches qp_requant_i32 */
    qp_qparams r1 = {.scale = 0.0371, .zp = 17, .type = QP_QTYPE_U8};
    qp_qparams r2 = {.scale = 0.0213, .zp = -5, .type = QP_QTYPE_I8};
    int bad = 0;
    if (qp_qconvert_init(&r1, &r2, &c))
        bad++;
    for (int q = 0; q < 256; q++)
        if (qp_qconvert_one(&c, q) != qp_requant_i32(q - 17, mul_of(0.0371 / 0.0213), -5, -128, 127))
            bad++;
    CHECK(bad == 0, "convert vs requant: %d", bad);
    qp_qparams z = {.scale = 0, .zp = 0, .type = QP_QTYPE_U8};
    CHECK(qp_qconvert_init(&z, &u, &c) == -1, "zero scale rejected");
}

static void test_add(void)
{
    qp_qadd p;
    qp_qparams a = {.scale = 0.5, .zp = 10, .type = QP_QTYPE_U8};
    qp_qparams b = {.scale = 0.25, .zp = -4, .type = QP_QTYPE_I8};
    qp_qparams o = {.scale = 1.0, .zp = 3, .type = QP_QTYPE_U8};
    CHECK(qp_qadd_init(&a, &b, &o, 0, 0, 255, &p) == 0 && p.ma == (1 << 30) &&
          p.mb == (1 << 29) && p.shift == 0, "add multipliers");
    /* (11-10)*0.5 + (-4+4)*0.25 = 0.5 -> 0; + 3 */
    CHECK(qp_qadd_one(&p, 11, -4) == 3, "add tie 0.5");
    CHECK(qp_qadd_one(&p, 13, -4) == 5, "add tie 1.5");    /* 1.5 -> 2 */
    CHECK(qp_qadd_one(&p, 11, -2) == 4, "add 0.5 + 0.5");  /* exactly 1 */
    CHECK(qp_qadd_one(&p, 11, -3) == 4, "add 0.75");      /* 0.75 -> 1 */
    CHECK(qp_qadd_one(&p, 0, -128) == 0, "add clamp low"); /* -5 - 31 + 3 */
    CHECK(qp_qadd_one(&p, 255, 127) == 158, "add high");  /* 122.5 + 32.75 = 155.25 -> 155, + 3 */
    CHECK(qp_qadd_init(&a, &b, &o, 1, 0, 255, &p) == 0 && qp_qadd_one(&p, 20, 0) == 7,
          "sub: 5 - 1 = 4, + 3");
    CHECK(qp_qadd_one(&p, 11, -6) == 4, "sub tie: 0.5 + 0.5 = 1");
    CHECK(qp_qadd_one(&p, 10, -2) == 3, "sub -0.5 -> 0");
    CHECK(qp_qadd_one(&p, 10, 2) == 1, "sub -1.5 -> -2");
    /* against exact rational arithmetic for i16 DFP inputs (exact multipliers) */
    qp_qparams da = qp_qparams_dfp(QP_QTYPE_I16, 10), db = qp_qparams_dfp(QP_QTYPE_I16, 13);
    qp_qparams dout = qp_qparams_dfp(QP_QTYPE_I16, 11);
    int bad = qp_qadd_init(&da, &db, &dout, 0, -32768, 32767, &p) != 0;
    srand(3);
    for (int i = 0; i < 100000; i++) {
        int32_t x = rand() % 65536 - 32768, y = rand() % 65536 - 32768;
        double exact = x * 2.0 + y * 0.25; /* exact in double */
        double r = qp_rtne(exact);
        int32_t want = r < -32768 ? -32768 : r > 32767 ? 32767 : (int32_t)r;
        if (qp_qadd_one(&p, x, y) != want)
            bad++;
    }
    CHECK(bad == 0, "dfp add: %d mismatches", bad);
}

int main(void)
{
    test_rtne_double();
    test_rshift();
    test_multiplier();
    test_requant();
    test_quantize();
    test_convert();
    test_add();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
