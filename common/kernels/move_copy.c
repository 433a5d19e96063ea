/* Strided copies.  A copy is first simplified (size-1 dims dropped, neighbours merged), then
 * classified by its innermost dim: memcpy runs, fills, a tiled 2-D transposition, or a plain
 * element loop; the remaining dims are walked with an odometer. */
#include <assert.h>
#include <string.h>

#include "qp/move_copy.h"

struct plan {
    int r;
    int64_t d[QP_MOVE_MAX_RANK], xs[QP_MOVE_MAX_RANK], ys[QP_MOVE_MAX_RANK];
};

/* 0 if there is nothing to copy (a zero dim) */
static int simplify(int rank, const int64_t *dims, const int64_t *xs, const int64_t *ys, struct plan *p)
{
    assert(rank >= 0 && rank <= QP_MOVE_MAX_RANK);
    p->r = 0;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 0)
            return 0;
        if (dims[d] == 1)
            continue;
        int r = p->r;
        if (r > 0 && p->xs[r - 1] == xs[d] * dims[d] && p->ys[r - 1] == ys[d] * dims[d]) {
            p->d[r - 1] *= dims[d];
            p->xs[r - 1] = xs[d];
            p->ys[r - 1] = ys[d];
        } else {
            p->d[r] = dims[d];
            p->xs[r] = xs[d];
            p->ys[r] = ys[d];
            p->r++;
        }
    }
    return 1;
}

void qp_move_fill(size_t es, size_t n, const void *value, void *y)
{
    unsigned char *out = y;
    if (n == 0)
        return;
    switch (es) {
    case 1: memset(y, *(const unsigned char *)value, n); return;
    case 4: {
        uint32_t v;
        memcpy(&v, value, 4);
        if (v == 0) {
            memset(y, 0, n * 4);
            return;
        }
        for (size_t i = 0; i < n; i++)
            memcpy(out + 4 * i, &v, 4);
        return;
    }
    default:
        /* doubling copies: log2(n) memcpy calls */
        memcpy(out, value, es);
        for (size_t done = 1; done < n;) {
            size_t m = done < n - done ? done : n - done;
            memcpy(out + done * es, out, m * es);
            done += m;
        }
    }
}

/* ---- 2-D transposition ---------------------------------------------------------------------- */

#define TILE 32
#define DEF_T2D(es, T)                                                                             \
    void qp_move_transpose2d_##es##__ref(size_t rows, size_t cols, const void *px, size_t ldx,     \
                                         void *py, size_t ldy)                                     \
    {                                                                                              \
        const T *x = px;                                                                           \
        T *y = py;                                                                                 \
        for (size_t r0 = 0; r0 < rows; r0 += TILE)                                                 \
            for (size_t c0 = 0; c0 < cols; c0 += TILE) {                                           \
                size_t r1 = r0 + TILE < rows ? r0 + TILE : rows, c1 = c0 + TILE < cols ? c0 + TILE : cols; \
                for (size_t r = r0; r < r1; r++)                                                   \
                    for (size_t c = c0; c < c1; c++)                                               \
                        y[r * ldy + c] = x[c * ldx + r];                                           \
            }                                                                                      \
    }
DEF_T2D(1, uint8_t)
DEF_T2D(2, uint16_t)
DEF_T2D(4, uint32_t)
DEF_T2D(8, uint64_t)

struct t2d_variant { size_t es; qp_move_transpose2d_fn fn; qp_isa isa; };
#define T2D_ENTRY(es, fname, isa) {es, qp_move_##fname, isa},
/* ends with a zeroed entry the loops skip: the list is empty under QP_NO_AVX2 */
static const struct t2d_variant t2d_variants[] = {QP_MOVE_TRANSPOSE2D_VARIANTS(T2D_ENTRY) {0}};

qp_move_transpose2d_fn qp_move_transpose2d_get(size_t es, qp_isa isa)
{
    qp_move_transpose2d_fn best = es == 1 ? qp_move_transpose2d_1__ref : es == 2 ? qp_move_transpose2d_2__ref
                                : es == 4 ? qp_move_transpose2d_4__ref : es == 8 ? qp_move_transpose2d_8__ref
                                : NULL;
    qp_isa best_isa = QP_ISA_REF;
    for (size_t i = 0; i + 1 < sizeof t2d_variants / sizeof t2d_variants[0]; i++)
        if (t2d_variants[i].es == es && t2d_variants[i].isa <= isa && t2d_variants[i].isa >= best_isa) {
            best = t2d_variants[i].fn;
            best_isa = t2d_variants[i].isa;
        }
    return best;
}

/* ---- the strided copy ----------------------------------------------------------------------- */

enum { M_MEMCPY, M_FILL, M_T2D, M_LOOP };
#define ROW_BLOCK 64
#define SHORT_RUN 256   /* bytes: shorter innermost runs are copied two dims at a time */

static void copy_loop(size_t es, size_t n, const char *x, int64_t xs, char *y, int64_t ys)
{
    for (size_t i = 0; i < n; i++)
        memcpy(y + (int64_t)i * ys * (int64_t)es, x + (int64_t)i * xs * (int64_t)es, es);
}

/* rows x cols elements with element strides; typed so short rows cost no calls */
#define BLOCK_LOOP(T)                                                            \
    do {                                                                         \
        const T *X = (const T *)x;                                               \
        T *Y = (T *)y;                                                           \
        for (size_t r = 0; r < rows; r++)                                        \
            for (size_t c = 0; c < cols; c++)                                    \
                Y[(int64_t)r * yr + (int64_t)c * yc] = X[(int64_t)r * xr + (int64_t)c * xc]; \
    } while (0)

static void copy_block(size_t es, size_t rows, size_t cols, const char *x, int64_t xr, int64_t xc, char *y,
                       int64_t yr, int64_t yc)
{
    switch (es) {
    case 1: BLOCK_LOOP(uint8_t); break;
    case 2: BLOCK_LOOP(uint16_t); break;
    case 4: BLOCK_LOOP(uint32_t); break;
    case 8: BLOCK_LOOP(uint64_t); break;
    default:
        for (size_t r = 0; r < rows; r++)
            copy_loop(es, cols, x + (int64_t)r * xr * (int64_t)es, xc, y + (int64_t)r * yr * (int64_t)es, yc);
    }
}

static void strided(size_t es, int rank, const int64_t *dims, const void *x, const int64_t *xs,
                    void *y, const int64_t *ys, int part, int n_parts, qp_isa isa)
{
    struct plan p;
    if (!simplify(rank, dims, xs, ys, &p))
        return;
    if (p.r == 0) {
        if (part == 0)
            memcpy(y, x, es);
        return;
    }
    int in = p.r - 1, rd = -1, mode;
    qp_move_transpose2d_fn t2d = NULL;
    if (p.xs[in] == 1 && p.ys[in] == 1)
        mode = M_MEMCPY;
    else if (p.xs[in] == 0 && p.ys[in] == 1)
        mode = M_FILL;
    else {
        mode = M_LOOP;
        if (p.ys[in] == 1 && (t2d = qp_move_transpose2d_get(es, isa)) != NULL)
            for (int d = in - 1; d >= 0 && rd < 0; d--)
                if (p.xs[d] == 1 && p.xs[in] > 0 && p.ys[d] > 0)
                    rd = d;
        if (rd >= 0)
            mode = M_T2D;
    }
    size_t run = (size_t)p.d[in];
    /* short runs: the dim outside the innermost becomes the rows of a typed 2-D loop */
    int block = mode != M_T2D && in >= 1 && run * es < SHORT_RUN && (es == 1 || es == 2 || es == 4 || es == 8);
    if (block)
        rd = in - 1;
    /* the outer dims: all but the inner one and the row dim */
    int od[QP_MOVE_MAX_RANK], no = 0;
    size_t outer = 1;
    for (int d = 0; d < in; d++)
        if (d != rd) {
            od[no++] = d;
            outer *= (size_t)p.d[d];
        }
    /* work items: outer iterations times segments (of the rows, or of a long run) */
    size_t span = rd >= 0 ? (size_t)p.d[rd] : run, seg_len, nseg;
    if (mode == M_T2D) {
        seg_len = ROW_BLOCK;
        nseg = (span + ROW_BLOCK - 1) / ROW_BLOCK;
    } else {
        nseg = outer >= (size_t)n_parts ? 1 : (size_t)n_parts;
        seg_len = (span + nseg - 1) / nseg;
    }
    size_t items = outer * nseg;
    size_t i0 = items * (size_t)part / (size_t)n_parts, i1 = items * (size_t)(part + 1) / (size_t)n_parts;
    if (i0 >= i1)
        return;
    int64_t idx[QP_MOVE_MAX_RANK] = {0};
    size_t o = i0 / nseg;
    for (int k = no - 1; k >= 0; k--) {
        idx[k] = (int64_t)(o % (size_t)p.d[od[k]]);
        o /= (size_t)p.d[od[k]];
    }
    size_t seg = i0 % nseg;
    const char *xb = (const char *)x;
    char *yb = (char *)y;
    for (size_t it = i0; it < i1; it++) {
        int64_t xo = 0, yo = 0;
        for (int k = 0; k < no; k++) {
            xo += idx[k] * p.xs[od[k]];
            yo += idx[k] * p.ys[od[k]];
        }
        size_t a = seg * seg_len, nn = a < span ? (span - a < seg_len ? span - a : seg_len) : 0;
        if (nn) {
            if (rd >= 0) {
                xo += (int64_t)a * p.xs[rd];
                yo += (int64_t)a * p.ys[rd];
            } else {
                xo += (int64_t)a * p.xs[in];
                yo += (int64_t)a * p.ys[in];
            }
            const char *xp = xb + xo * (int64_t)es;
            char *yp = yb + yo * (int64_t)es;
            if (mode == M_T2D)
                t2d(nn, run, xp, (size_t)p.xs[in], yp, (size_t)p.ys[rd]);
            else if (block)
                copy_block(es, nn, run, xp, p.xs[rd], p.xs[in], yp, p.ys[rd], p.ys[in]);
            else if (mode == M_MEMCPY)
                memcpy(yp, xp, nn * es);
            else if (mode == M_FILL)
                qp_move_fill(es, nn, xp, yp);
            else
                copy_loop(es, nn, xp, p.xs[in], yp, p.ys[in]);
        }
        if (++seg == nseg) {
            seg = 0;
            for (int k = no - 1; k >= 0; k--) {
                if (++idx[k] < p.d[od[k]])
                    break;
                idx[k] = 0;
            }
        }
    }
}

void qp_move_strided(size_t es, int rank, const int64_t *dims, const void *x, const int64_t *xs, void *y,
                     const int64_t *ys, int part, int n_parts)
{
    assert(n_parts >= 1 && part >= 0 && part < n_parts);
    strided(es, rank, dims, x, xs, y, ys, part, n_parts, qp_kernels_isa());
}

/* The specification: one element at a time over the full index space. */
void qp_move_strided__ref(size_t es, int rank, const int64_t *dims, const void *x, const int64_t *xs,
                          void *y, const int64_t *ys)
{
    assert(rank >= 0 && rank <= QP_MOVE_MAX_RANK);
    for (int d = 0; d < rank; d++)
        if (dims[d] == 0)
            return;
    int64_t idx[QP_MOVE_MAX_RANK] = {0};
    for (;;) {
        int64_t xo = 0, yo = 0;
        for (int d = 0; d < rank; d++) {
            xo += idx[d] * xs[d];
            yo += idx[d] * ys[d];
        }
        memcpy((char *)y + yo * (int64_t)es, (const char *)x + xo * (int64_t)es, es);
        int d = rank - 1;
        for (; d >= 0; d--) {
            if (++idx[d] < dims[d])
                break;
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}
