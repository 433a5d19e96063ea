/* Checker for the elementwise and movement kernels: every fast variant against its reference
 * on random data and edge cases (lengths around the vector width and the tiles, scalar
 * operands, +-0, infinities, NaN), bit for bit since every variant does the reference's IEEE
 * operations; the drivers (broadcast walks, strided copies, pad, resize, split into parts)
 * against naive per-element loops; and the cast rules against a table of worked cases.
 * Closing line: "N passed, M failed"; non-zero exit on any failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/elt_bcast.h"
#include "qp/elt_binary.h"
#include "qp/elt_cast.h"
#include "qp/elt_unary.h"
#include "qp/move_copy.h"
#include "qp/move_pad.h"
#include "qp/move_resize.h"
#include "qp/tensorio.h"
#include "qp/vmath.h"

static int n_pass, n_fail;

static void check(int ok, const char *what)
{
    if (ok)
        n_pass++;
    else {
        n_fail++;
        printf("FAIL %s\n", what);
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Mostly ordinary values in [-8, 8), with specials sprinkled in. */
static float rnd_f32(void)
{
    static const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -0.5f, 2.5f, -2.5f, 1e-40f, 3e38f,
                                     -3e38f, INFINITY, -INFINITY, NAN};
    if (rnd() % 8 == 0)
        return specials[rnd() % (sizeof specials / sizeof specials[0])];
    return ((float)(rnd() % 65536) - 32768.0f) / 4096.0f;
}

static int same_f32(float a, float b)
{
    return (isnan(a) && isnan(b)) || !memcmp(&a, &b, 4);
}

static const size_t lengths[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1023};
#define N_LEN (sizeof lengths / sizeof lengths[0])

/* ---- binary variants ------------------------------------------------------------------------ */

static void check_binary_variants(void)
{
#define BIN_CHECK(op, dtype, fname, isa)                                                          \
    do {                                                                                          \
        if (!qp_kernels_isa_supported(isa))                                                       \
            break;                                                                                \
        qp_elt_binary_fn ref = qp_elt_binary_get(QP_ELT_##op, dtype, QP_ISA_REF);                 \
        int bool_out = qp_elt_binary_out_dtype(QP_ELT_##op, dtype) == QP_DT_BOOL;                 \
        for (size_t li = 0; li < N_LEN; li++)                                                     \
            for (int mode = 0; mode < 3; mode++) {                                                \
                size_t n = lengths[li], ia = mode != 2, ib = mode != 1;                           \
                float *a = malloc((n + 1) * 4), *b = malloc((n + 1) * 4);                         \
                float *y0 = malloc((n + 1) * 4), *y1 = malloc((n + 1) * 4);                       \
                for (size_t i = 0; i <= n; i++) {                                                 \
                    a[i] = rnd_f32();                                                             \
                    b[i] = rnd() % 4 ? rnd_f32() : a[i];                                          \
                }                                                                                 \
                memset(y0, 0x55, (n + 1) * 4);                                                    \
                memset(y1, 0x55, (n + 1) * 4);                                                    \
                ref(n, a, ia, b, ib, y0);                                                         \
                qp_elt_##fname(n, a, ia, b, ib, y1);                                              \
                int ok = 1;                                                                       \
                if (bool_out)                                                                     \
                    ok = !memcmp(y0, y1, n + 1);                                                  \
                else                                                                              \
                    for (size_t i = 0; i <= n; i++)                                               \
                        ok &= same_f32(y0[i], y1[i]);                                             \
                char what[128];                                                                   \
                snprintf(what, sizeof what, "%s n=%zu inc=%zu,%zu", #fname, n, ia, ib);           \
                check(ok, what);                                                                  \
                free(a), free(b), free(y0), free(y1);                                             \
            }                                                                                     \
    } while (0);
    QP_ELT_BINARY_VARIANTS(BIN_CHECK)
#undef BIN_CHECK
}

/* ---- unary variants ------------------------------------------------------------------------- */

static void check_unary_variants(void)
{
    qp_elt_unary_params p = {0.1f, 0.6f, 1.05f, -1.0, 6.0, -3, 3};
#define UN_CHECK(op, dtype, fname, isa)                                                            \
    do {                                                                                           \
        if (!qp_kernels_isa_supported(isa))                                                        \
            break;                                                                                 \
        qp_elt_unary_fn ref = qp_elt_unary_get(QP_ELT_##op, dtype, QP_ISA_REF);                    \
        for (size_t li = 0; li < N_LEN; li++) {                                                    \
            size_t n = lengths[li];                                                                \
            float *x = malloc((n + 1) * 4), *y0 = malloc((n + 1) * 4), *y1 = malloc((n + 1) * 4);  \
            for (size_t i = 0; i <= n; i++)                                                        \
                x[i] = rnd_f32();                                                                  \
            memset(y0, 0x55, (n + 1) * 4);                                                         \
            memset(y1, 0x55, (n + 1) * 4);                                                         \
            ref(&p, n, x, y0);                                                                     \
            qp_elt_##fname(&p, n, x, y1);                                                          \
            int ok = 1;                                                                            \
            for (size_t i = 0; i <= n; i++)                                                        \
                ok &= same_f32(y0[i], y1[i]);                                                      \
            char what[128];                                                                        \
            snprintf(what, sizeof what, "%s n=%zu", #fname, n);                                    \
            check(ok, what);                                                                       \
            /* in place (y aliasing x) */                                                          \
            memcpy(y1, x, (n + 1) * 4);                                                            \
            qp_elt_##fname(&p, n, y1, y1);                                                         \
            ok = 1;                                                                                \
            for (size_t i = 0; i < n; i++)                                                         \
                ok &= same_f32(y0[i], y1[i]);                                                      \
            snprintf(what, sizeof what, "%s in place n=%zu", #fname, n);                           \
            check(ok, what);                                                                       \
            free(x), free(y0), free(y1);                                                           \
        }                                                                                          \
    } while (0);
    QP_ELT_UNARY_VARIANTS(UN_CHECK)
#undef UN_CHECK
}

/* ---- transposition and repeat variants ------------------------------------------------------ */

static void check_transpose_variants(void)
{
    static const size_t sz[] = {1, 3, 7, 8, 9, 16, 31, 32, 33, 40, 65};
#define T2D_CHECK(es, fname, isa)                                                                 \
    do {                                                                                          \
        if (!qp_kernels_isa_supported(isa))                                                       \
            break;                                                                                \
        qp_move_transpose2d_fn ref = qp_move_transpose2d_get(es, QP_ISA_REF);                     \
        for (size_t ri = 0; ri < sizeof sz / sizeof sz[0]; ri++)                                  \
            for (size_t ci = 0; ci < sizeof sz / sizeof sz[0]; ci++) {                            \
                size_t rows = sz[ri], cols = sz[ci], ldx = rows + 3, ldy = cols + 5;              \
                size_t nx = cols * ldx, ny = rows * ldy;                                          \
                uint8_t *x = malloc(nx * es), *y0 = malloc(ny * es), *y1 = malloc(ny * es);       \
                for (size_t i = 0; i < nx * es; i++)                                              \
                    x[i] = (uint8_t)rnd();                                                        \
                memset(y0, 0xa5, ny * es);                                                        \
                memset(y1, 0xa5, ny * es);                                                        \
                ref(rows, cols, x, ldx, y0, ldy);                                                 \
                qp_move_##fname(rows, cols, x, ldx, y1, ldy);                                     \
                char what[128];                                                                   \
                snprintf(what, sizeof what, "%s %zux%zu", #fname, rows, cols);                    \
                check(!memcmp(y0, y1, ny * es), what);                                            \
                free(x), free(y0), free(y1);                                                      \
            }                                                                                     \
    } while (0);
    QP_MOVE_TRANSPOSE2D_VARIANTS(T2D_CHECK)
#undef T2D_CHECK
    static const size_t ks[] = {1, 2, 3, 4, 7, 8, 9, 16};
#define REP_CHECK(es, fname, isa)                                                                 \
    do {                                                                                          \
        if (!qp_kernels_isa_supported(isa))                                                       \
            break;                                                                                \
        qp_move_repeat_fn ref = qp_move_repeat_get(es, QP_ISA_REF);                               \
        for (size_t li = 0; li < N_LEN; li++)                                                     \
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {                            \
                size_t n = lengths[li], k = ks[ki];                                               \
                uint8_t *x = malloc(n * es + 1), *y0 = malloc(n * k * es + 1), *y1 = malloc(n * k * es + 1); \
                for (size_t i = 0; i < n * es; i++)                                               \
                    x[i] = (uint8_t)rnd();                                                        \
                memset(y0, 0xa5, n * k * es + 1);                                                 \
                memset(y1, 0xa5, n * k * es + 1);                                                 \
                ref(n, k, x, y0);                                                                 \
                qp_move_##fname(n, k, x, y1);                                                     \
                char what[128];                                                                   \
                snprintf(what, sizeof what, "%s n=%zu k=%zu", #fname, n, k);                      \
                check(!memcmp(y0, y1, n * k * es + 1), what);                                     \
                free(x), free(y0), free(y1);                                                      \
            }                                                                                     \
    } while (0);
    QP_MOVE_REPEAT_VARIANTS(REP_CHECK)
#undef REP_CHECK
}

static void check_lerp_variants(void)
{
#define LERP_CHECK(rname, gname, isa)                                                            \
    do {                                                                                         \
        if (!qp_kernels_isa_supported(isa))                                                      \
            break;                                                                               \
        for (size_t li = 0; li < N_LEN; li++)                                                    \
            for (int K = 2; K <= 4; K += 2) {                                                    \
                size_t n = lengths[li], n_in = 1 + rnd() % 40, outer = 1 + rnd() % 3;            \
                float *x = malloc(outer * n_in * 4 + 4 * n * 4 + 4), w[4];                       \
                float *wt = malloc(K * n * 4 + 4), *y0 = malloc(outer * n * 4 + 4), *y1 = malloc(outer * n * 4 + 4); \
                int32_t *idx = malloc(K * n * 4 + 4);                                            \
                for (size_t i = 0; i < outer * n_in + 4 * n; i++)                                \
                    x[i] = rnd_f32();                                                            \
                for (size_t i = 0; i < (size_t)K * n; i++) {                                     \
                    idx[i] = (int32_t)(rnd() % n_in);                                            \
                    wt[i] = rnd_f32();                                                           \
                }                                                                                \
                for (int k = 0; k < K; k++)                                                      \
                    w[k] = rnd_f32();                                                            \
                const float *rows[4] = {x, x + n, x + 2 * n, x + 3 * n};                         \
                qp_move_lerp_rows_f32__ref(n, K, rows, w, y0);                                   \
                qp_move_##rname(n, K, rows, w, y1);                                              \
                int ok = 1;                                                                      \
                for (size_t i = 0; i < n; i++)                                                   \
                    ok &= same_f32(y0[i], y1[i]);                                                \
                char what[128];                                                                  \
                snprintf(what, sizeof what, "%s n=%zu K=%d", #rname, n, K);                      \
                check(ok, what);                                                                 \
                qp_move_lerp_gather_f32__ref(outer, n_in, n, K, idx, wt, x, y0);                 \
                qp_move_##gname(outer, n_in, n, K, idx, wt, x, y1);                              \
                ok = 1;                                                                          \
                for (size_t i = 0; i < outer * n; i++)                                           \
                    ok &= same_f32(y0[i], y1[i]);                                                \
                snprintf(what, sizeof what, "%s n=%zu K=%d", #gname, n, K);                      \
                check(ok, what);                                                                 \
                free(x), free(wt), free(y0), free(y1), free(idx);                                \
            }                                                                                    \
    } while (0);
    QP_MOVE_LERP_VARIANTS(LERP_CHECK)
#undef LERP_CHECK
}

/* ---- drivers against naive loops ------------------------------------------------------------ */

static void random_shape(int rank, int64_t *dims, int64_t maxd)
{
    for (int d = 0; d < rank; d++)
        dims[d] = 1 + (int64_t)(rnd() % (uint32_t)maxd);
}

/* Random broadcasting of two operands against the naive index computation, for whole and
 * split ranges and both ISAs. */
static void check_broadcast(void)
{
    for (int iter = 0; iter < 300; iter++) {
        int rank = (int)(rnd() % 6);
        int64_t dims[8], da[8], db[8];
        random_shape(rank, dims, 5);
        int ra = rank - (int)(rnd() % (unsigned)(rank + 1)), rb = rank - (int)(rnd() % (unsigned)(rank + 1));
        for (int d = 0; d < ra; d++)
            da[d] = rnd() % 3 ? dims[d + rank - ra] : 1;
        for (int d = 0; d < rb; d++)
            db[d] = rnd() % 3 ? dims[d + rank - rb] : 1;
        /* the output is the broadcast of the two, so trim dims no operand has */
        for (int d = 0; d < rank; d++) {
            int ka = d - (rank - ra), kb = d - (rank - rb);
            int64_t a = ka >= 0 ? da[ka] : 1, b = kb >= 0 ? db[kb] : 1;
            dims[d] = a > b ? a : b;
        }
        size_t n = 1, na = 1, nb = 1;
        for (int d = 0; d < rank; d++)
            n *= (size_t)dims[d];
        for (int d = 0; d < ra; d++)
            na *= (size_t)da[d];
        for (int d = 0; d < rb; d++)
            nb *= (size_t)db[d];
        float *a = malloc(na * 4), *b = malloc(nb * 4), *y = malloc(n * 4 + 4), *w = malloc(n * 4 + 4);
        for (size_t i = 0; i < na; i++)
            a[i] = rnd_f32();
        for (size_t i = 0; i < nb; i++)
            b[i] = rnd_f32();
        /* naive: per output element, the operands' indices */
        for (size_t i = 0; i < n; i++) {
            size_t rem = i, oa = 0, ob = 0, sa = 1, sb = 1;
            for (int d = rank - 1; d >= 0; d--) {
                size_t id = rem % (size_t)dims[d];
                rem /= (size_t)dims[d];
                int ka = d - (rank - ra), kb = d - (rank - rb);
                if (ka >= 0) {
                    oa += (da[ka] == 1 ? 0 : id) * sa;
                    sa *= (size_t)da[ka];
                }
                if (kb >= 0) {
                    ob += (db[kb] == 1 ? 0 : id) * sb;
                    sb *= (size_t)db[kb];
                }
            }
            w[i] = qp_binop_f32__ref(QP_BIN_SUB, a[oa], b[ob]);
        }
        qp_elt_bcast plan;
        int ranks[2] = {ra, rb};
        const int64_t *shapes[2] = {da, db};
        qp_elt_bcast_init(&plan, rank, dims, 2, ranks, shapes);
        for (int isa = 0; isa < 2; isa++) {
            qp_kernels_set_isa(isa ? QP_ISA_AVX2 : QP_ISA_REF);
            memset(y, 0x55, n * 4 + 4);
            size_t cut = n ? rnd() % n : 0;
            qp_elt_binary(QP_ELT_SUB, QP_DT_F32, &plan, a, b, y, 0, cut);
            qp_elt_binary(QP_ELT_SUB, QP_DT_F32, &plan, a, b, y, cut, n);
            int ok = 1;
            for (size_t i = 0; i < n; i++)
                ok &= same_f32(y[i], w[i]);
            char what[160];
            snprintf(what, sizeof what, "broadcast Sub rank %d (%d, %d) split at %zu, %s", rank, ra, rb, cut,
                     isa ? "avx2" : "ref");
            check(ok, what);
        }
        free(a), free(b), free(y), free(w);
    }
    qp_kernels_set_isa(QP_ISA_AVX2);
}

/* Random permutations, slices with negative steps, repeats (stride 0) in parts, against the
 * element-at-a-time reference. */
static void check_strided(void)
{
    static const size_t es_list[] = {1, 2, 4, 8};
    for (int iter = 0; iter < 400; iter++) {
        int rank = 1 + (int)(rnd() % 6);
        size_t es = es_list[rnd() % 4];
        int64_t xd[8], dims[8], xst[8], xs[8], ys[8], perm[8];
        random_shape(rank, xd, iter % 3 ? 6 : 40);
        int64_t s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            xst[d] = s;
            s *= xd[d];
        }
        for (int d = 0; d < rank; d++)
            perm[d] = d;
        for (int d = rank - 1; d > 0; d--) {
            int k = (int)(rnd() % (unsigned)(d + 1));
            int64_t t = perm[d];
            perm[d] = perm[k];
            perm[k] = t;
        }
        int64_t off = 0;
        for (int d = 0; d < rank; d++) {
            int64_t n = xd[perm[d]], st = xst[perm[d]];
            switch (rnd() % 4) {
            case 0: /* reversed */
                dims[d] = n;
                xs[d] = -st;
                off += (n - 1) * st;
                break;
            case 1: /* repeated */
                dims[d] = 1 + rnd() % 3;
                xs[d] = 0;
                break;
            default:
                dims[d] = n;
                xs[d] = st;
            }
        }
        s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            ys[d] = s;
            s *= dims[d];
        }
        size_t nx = (size_t)xst[0] * (size_t)xd[0], ny = (size_t)s;
        uint8_t *x = malloc(nx * es), *y0 = malloc(ny * es + 1), *y1 = malloc(ny * es + 1);
        for (size_t i = 0; i < nx * es; i++)
            x[i] = (uint8_t)rnd();
        memset(y0, 0xa5, ny * es + 1);
        memset(y1, 0xa5, ny * es + 1);
        qp_move_strided__ref(es, rank, dims, x + off * (int64_t)es, xs, y0, ys);
        int parts = 1 + (int)(rnd() % 5);
        qp_kernels_set_isa(iter % 2 ? QP_ISA_AVX2 : QP_ISA_REF);
        for (int p = parts - 1; p >= 0; p--)
            qp_move_strided(es, rank, dims, x + off * (int64_t)es, xs, y1, ys, p, parts);
        char what[128];
        snprintf(what, sizeof what, "strided copy rank %d es %zu in %d parts", rank, es, parts);
        check(!memcmp(y0, y1, ny * es + 1), what);
        free(x), free(y0), free(y1);
    }
    qp_kernels_set_isa(QP_ISA_AVX2);
}

/* Pad against a naive per-element mapping, split into parts. */
static void check_pad(void)
{
    for (int iter = 0; iter < 200; iter++) {
        int rank = 1 + (int)(rnd() % 4);
        qp_pad_mode mode = (qp_pad_mode)(rnd() % 3);
        int64_t xd[8], yd[8], b[8], xst[8];
        random_shape(rank, xd, 5);
        for (int d = 0; d < rank; d++) {
            b[d] = (int64_t)(rnd() % 7) - 2;
            int64_t e = (int64_t)(rnd() % 7) - 2;
            if (b[d] < -xd[d])
                b[d] = -xd[d];
            if (xd[d] + b[d] + e < 0)
                e = -(xd[d] + b[d]);
            yd[d] = xd[d] + b[d] + e;
        }
        int64_t s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            xst[d] = s;
            s *= xd[d];
        }
        size_t nx = (size_t)s, ny = 1;
        for (int d = 0; d < rank; d++)
            ny *= (size_t)yd[d];
        float *x = malloc(nx * 4), *y = malloc(ny * 4 + 4), *w = malloc(ny * 4 + 4), v = -7.5f;
        for (size_t i = 0; i < nx; i++)
            x[i] = (float)i;
        for (size_t i = 0; i < ny; i++) {
            size_t rem = i;
            int64_t xo = 0;
            int outside = 0;
            for (int d = rank - 1; d >= 0; d--) {
                int64_t o = (int64_t)(rem % (size_t)yd[d]), n = xd[d], k = o - b[d];
                rem /= (size_t)yd[d];
                if (k < 0 || k >= n) {
                    if (mode == QP_PAD_CONSTANT)
                        outside = 1;
                    else if (mode == QP_PAD_EDGE || n == 1)
                        k = k < 0 ? 0 : n - 1;
                    else
                        while (k < 0 || k >= n)
                            k = k < 0 ? -k : 2 * (n - 1) - k;
                }
                xo += k * xst[d];
            }
            w[i] = outside ? v : x[xo];
        }
        size_t scr = qp_move_pad_scratch_size(rank, yd);
        void *scratch = malloc(scr + 1);
        int parts = 1 + (int)(rnd() % 3);
        memset(y, 0x55, ny * 4 + 4);
        for (int p = 0; p < parts; p++)
            qp_move_pad(4, mode, rank, xd, yd, b, &v, x, y, scratch, p, parts);
        char what[128];
        snprintf(what, sizeof what, "pad mode %d rank %d in %d parts", (int)mode, rank, parts);
        check(!memcmp(y, w, ny * 4), what);
        free(x), free(y), free(w), free(scratch);
    }
}

/* Nearest resize: the fast paths (row reuse, integer-factor repeat) against per-element
 * coordinates; linear with the AVX2 and reference kernels must agree exactly. */
static void check_resize(void)
{
    for (int iter = 0; iter < 120; iter++) {
        qp_resize_params p;
        memset(&p, 0, sizeof p);
        p.rank = 1 + (int)(rnd() % 4);
        p.mode = QP_RESIZE_NEAREST;
        p.coord = (qp_resize_coord)(rnd() % 5);
        p.nearest = (qp_resize_nearest)(rnd() % 5);
        size_t nx = 1, ny = 1;
        for (int d = 0; d < p.rank; d++) {
            p.in[d] = 1 + rnd() % 9;
            static const double sc[] = {1, 2, 3, 4, 0.5, 1.5, 8};
            p.scale[d] = sc[rnd() % 7];
            p.out[d] = (int64_t)floor((double)p.in[d] * p.scale[d]);
            if (p.out[d] == 0)
                p.out[d] = 1;
            nx *= (size_t)p.in[d];
            ny *= (size_t)p.out[d];
        }
        float *x = malloc(nx * 4), *y0 = malloc(ny * 4), *y1 = malloc(ny * 4), ex = 0;
        for (size_t i = 0; i < nx; i++)
            x[i] = (float)i;
        void *scratch = malloc(qp_move_resize_scratch_size(&p) + 1);
        qp_kernels_set_isa(QP_ISA_REF);
        qp_move_resize(&p, 4, &ex, x, y0, scratch);
        qp_kernels_set_isa(QP_ISA_AVX2);
        qp_move_resize(&p, 4, &ex, x, y1, scratch);
        check(!memcmp(y0, y1, ny * 4), "resize nearest avx2 vs ref");
        /* per element: the product of per-axis nearest indices (one-axis resizes) */
        int ok = 1;
        for (size_t i = 0; i < ny && ok; i++) {
            size_t rem = i, xo = 0, st = 1;
            for (int d = p.rank - 1; d >= 0; d--) {
                int64_t j = (int64_t)(rem % (size_t)p.out[d]);
                rem /= (size_t)p.out[d];
                qp_resize_params q = p;
                q.rank = 1;
                q.in[0] = p.in[d];
                q.out[0] = p.out[d];
                q.scale[0] = p.scale[d];
                float col[16], res[128];
                for (int64_t k = 0; k < p.in[d]; k++)
                    col[k] = (float)k;
                void *s2 = malloc(qp_move_resize_scratch_size(&q) + 1);
                qp_move_resize(&q, 4, &ex, col, res, s2);
                free(s2);
                xo += (size_t)res[j] * st;
                st *= (size_t)p.in[d];
            }
            ok = y0[i] == x[xo];
        }
        check(ok, "resize nearest separable");
        p.mode = QP_RESIZE_LINEAR;
        free(scratch);
        scratch = malloc(qp_move_resize_scratch_size(&p) + 1);
        qp_kernels_set_isa(QP_ISA_REF);
        qp_move_resize(&p, 4, &ex, x, y0, scratch);
        qp_kernels_set_isa(QP_ISA_AVX2);
        qp_move_resize(&p, 4, &ex, x, y1, scratch);
        check(!memcmp(y0, y1, ny * 4), "resize linear avx2 vs ref");
        free(x), free(y0), free(y1), free(scratch);
    }
}

/* ---- cast rules ----------------------------------------------------------------------------- */

static void check_cast(void)
{
    static const struct { float in; uint16_t half; } h[] = {
        {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff}, {65519.0f, 0x7bff}, {65520.0f, 0x7c00},
        {1e10f, 0x7c00}, {0x1p-24f, 0x0001}, {0x1p-25f, 0x0000}, {0x3p-25f, 0x0002}, {0x1.8p-24f, 0x0002},
        {0x1.002p0f, 0x3c00}, {0x1.006p0f, 0x3c02}, {0x1.ffcp-15f, 0x0400}, {-0.0f, 0x8000}, {INFINITY, 0x7c00},
    };
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        uint16_t got;
        float back;
        qp_elt_cast(1, &h[i].in, QP_DT_F32, &got, QP_DT_F16);
        char what[96];
        snprintf(what, sizeof what, "cast %a to float16 = 0x%04x (got 0x%04x)", (double)h[i].in, h[i].half, got);
        check(got == h[i].half, what);
        /* float16 -> float32 is exact, so the way back gives the same half */
        uint16_t again;
        qp_elt_cast(1, &h[i].half, QP_DT_F16, &back, QP_DT_F32);
        qp_elt_cast(1, &back, QP_DT_F32, &again, QP_DT_F16);
        check(again == h[i].half, "cast float16 round trip");
    }
    static const struct { float in; int8_t i8; uint8_t u8; int32_t i32; } f2i[] = {
        {300.0f, 127, 255, 300}, {-300.0f, -128, 0, -300}, {-0.9f, 0, 0, 0}, {2.9f, 2, 2, 2},
        {NAN, 0, 0, 0}, {3e9f, 127, 255, INT32_MAX}, {-3e9f, -128, 0, INT32_MIN}, {-INFINITY, -128, 0, INT32_MIN},
    };
    for (size_t i = 0; i < sizeof f2i / sizeof f2i[0]; i++) {
        int8_t a;
        uint8_t b;
        int32_t c;
        qp_elt_cast(1, &f2i[i].in, QP_DT_F32, &a, QP_DT_I8);
        qp_elt_cast(1, &f2i[i].in, QP_DT_F32, &b, QP_DT_U8);
        qp_elt_cast(1, &f2i[i].in, QP_DT_F32, &c, QP_DT_I32);
        char what[96];
        snprintf(what, sizeof what, "cast %g to int8/uint8/int32", (double)f2i[i].in);
        check(a == f2i[i].i8 && b == f2i[i].u8 && c == f2i[i].i32, what);
    }
    int64_t big[4] = {300, -1, INT64_MAX, INT64_MIN};
    int8_t w[4];
    uint8_t bo[4];
    double d[4];
    qp_elt_cast(4, big, QP_DT_I64, w, QP_DT_I8);
    check(w[0] == 44 && w[1] == -1 && w[2] == -1 && w[3] == 0, "cast int64 to int8 wraps");
    qp_elt_cast(4, big, QP_DT_I64, bo, QP_DT_BOOL);
    check(bo[0] == 1 && bo[1] == 1 && bo[2] == 1 && bo[3] == 1, "cast int64 to bool");
    float fb[3] = {0.0f, -0.0f, NAN};
    qp_elt_cast(3, fb, QP_DT_F32, bo, QP_DT_BOOL);
    check(bo[0] == 0 && bo[1] == 0 && bo[2] == 1, "cast float to bool");
    uint8_t bb[2] = {1, 0};
    qp_elt_cast(2, bb, QP_DT_BOOL, d, QP_DT_F64);
    check(d[0] == 1.0 && d[1] == 0.0, "cast bool to double");
    double dd[2] = {1e300, 0x1p63};
    int64_t r[2];
    qp_elt_cast(2, dd, QP_DT_F64, r, QP_DT_I64);
    check(r[0] == INT64_MAX && r[1] == INT64_MAX, "cast double to int64 saturates");
}

/* integer semantics the header promises */
static void check_int_binary(void)
{
    int64_t a[4] = {INT64_MIN, 7, -7, 5}, b[4] = {-1, 0, 2, -2}, y[4];
    qp_elt_bcast plan;
    int64_t dims[1] = {4};
    int ranks[2] = {1, 1};
    const int64_t *shapes[2] = {dims, dims};
    qp_elt_bcast_init(&plan, 1, dims, 2, ranks, shapes);
    qp_elt_binary(QP_ELT_DIV, QP_DT_I64, &plan, a, b, y, 0, 4);
    check(y[0] == INT64_MIN && y[1] == 0 && y[2] == -3 && y[3] == -2, "int64 Div truncates, x/0 = 0, MIN/-1 = MIN");
    int32_t pa[3] = {3, 2, -1}, pb[3] = {4, -1, -3}, py[3];
    int64_t d3[1] = {3};
    const int64_t *sh3[2] = {d3, d3};
    qp_elt_bcast_init(&plan, 1, d3, 2, ranks, sh3);
    qp_elt_binary(QP_ELT_POW, QP_DT_I32, &plan, pa, pb, py, 0, 3);
    check(py[0] == 81 && py[1] == 0 && py[2] == -1, "int32 Pow");
    int8_t ma[2] = {127, -128}, mb[2] = {1, -1}, my[2];
    int64_t d2[1] = {2};
    const int64_t *sh2[2] = {d2, d2};
    qp_elt_bcast_init(&plan, 1, d2, 2, ranks, sh2);
    qp_elt_binary(QP_ELT_ADD, QP_DT_I8, &plan, ma, mb, my, 0, 2);
    check(my[0] == -128 && my[1] == 127, "int8 Add wraps");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    qp_kernels_set_isa(QP_ISA_AVX2);
    if (qp_kernels_isa() != QP_ISA_AVX2)
        printf("note: no AVX2 here, only the references run\n");
    check_binary_variants();
    check_unary_variants();
    check_transpose_variants();
    check_lerp_variants();
    check_broadcast();
    check_strided();
    check_pad();
    check_resize();
    check_cast();
    check_int_binary();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
