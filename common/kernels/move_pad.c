/* Pad: every output dim gets a table from output position to input position (-1: the constant),
 * then a walk over the output copies contiguous stretches, fills constant ones, and gathers
 * element by element only where reflect/edge reorder the innermost dim. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "qp/move_copy.h"
#include "qp/move_pad.h"

/* Scratch: the per-dim maps, then the innermost dim's runs (at most one per output element). */
struct run { int64_t y0, n, src; int kind; };
enum { RUN_CONST, RUN_COPY, RUN_REPEAT };

size_t qp_move_pad_scratch_size(int rank, const int64_t *ydims)
{
    size_t n = 0;
    for (int d = 0; d < rank; d++)
        n += (size_t)ydims[d];
    return n * sizeof(int64_t) + (rank ? (size_t)ydims[rank - 1] : 0) * sizeof(struct run) + 64;
}

static int64_t map_pos(qp_pad_mode mode, int64_t i, int64_t n)
{
    if (i >= 0 && i < n)
        return i;
    if (mode == QP_PAD_CONSTANT)
        return -1;
    if (mode == QP_PAD_EDGE || n == 1)
        return i < 0 ? 0 : n - 1;
    int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

struct pad_ctx {
    size_t es;
    int rank;
    const int64_t *ydims;
    int64_t xst[QP_PAD_MAX_RANK], yst[QP_PAD_MAX_RANK];
    const int64_t *map[QP_PAD_MAX_RANK];
    const struct run *runs;     /* the innermost dim as runs: constant, copied, one element repeated */
    int64_t n_runs;
    const void *value;
};

static void pad_rec(const struct pad_ctx *c, int d, int64_t o0, int64_t o1, const char *x, char *y)
{
    size_t es = c->es;
    if (d == c->rank - 1) {
        for (int64_t r = 0; r < c->n_runs; r++) {
            const struct run *u = &c->runs[r];
            char *yo = y + u->y0 * (int64_t)es;
            if (u->kind == RUN_CONST)
                qp_move_fill(es, (size_t)u->n, c->value, yo);
            else if (u->kind == RUN_COPY)
                memcpy(yo, x + u->src * (int64_t)es, (size_t)u->n * es);
            else
                qp_move_fill(es, (size_t)u->n, x + u->src * (int64_t)es, yo);
        }
        return;
    }
    const int64_t *map = c->map[d];
    size_t block = (size_t)c->yst[d];
    for (int64_t o = o0; o < o1; o++) {
        char *yo = y + o * c->yst[d] * (int64_t)es;
        if (map[o] < 0)
            qp_move_fill(es, block, c->value, yo);
        else if (o > o0 && map[o] == map[o - 1])
            memcpy(yo, yo - block * es, block * es);  /* edge rows repeat the previous row */
        else
            pad_rec(c, d + 1, 0, c->ydims[d + 1], x + map[o] * c->xst[d] * (int64_t)es, yo);
    }
}

void qp_move_pad(size_t es, qp_pad_mode mode, int rank, const int64_t *xdims, const int64_t *ydims,
                 const int64_t *begin, const void *value, const void *x, void *y, void *scratch, int part,
                 int n_parts)
{
    assert(rank >= 0 && rank <= QP_PAD_MAX_RANK && part >= 0 && part < n_parts);
    for (int d = 0; d < rank; d++)
        if (ydims[d] == 0)
            return;
    if (rank == 0) {
        if (part == 0)
            memcpy(y, x, es);
        return;
    }
    struct pad_ctx c = {es, rank, ydims, {0}, {0}, {0}, NULL, 0, value};
    int64_t *tab = scratch;
    int64_t xs = 1, ys = 1;
    for (int d = rank - 1; d >= 0; d--) {
        c.xst[d] = xs;
        c.yst[d] = ys;
        xs *= xdims[d];
        ys *= ydims[d];
    }
    for (int d = 0; d < rank; d++) {
        assert(mode == QP_PAD_CONSTANT || xdims[d] > 0);
        for (int64_t o = 0; o < ydims[d]; o++)
            tab[o] = map_pos(mode, o - begin[d], xdims[d]);
        c.map[d] = tab;
        tab += ydims[d];
    }
    /* runs of the innermost map */
    const int64_t *m = c.map[rank - 1];
    struct run *runs = (struct run *)(((uintptr_t)tab + 63) & ~(uintptr_t)63);
    int64_t nr = 0, n = ydims[rank - 1];
    for (int64_t o = 0; o < n;) {
        int64_t e = o + 1;
        int kind = m[o] < 0 ? RUN_CONST : RUN_COPY;
        if (kind == RUN_CONST)
            while (e < n && m[e] < 0)
                e++;
        else if (e < n && m[e] == m[o])
            for (kind = RUN_REPEAT; e < n && m[e] == m[o];)
                e++;
        else
            while (e < n && m[e] >= 0 && m[e] == m[e - 1] + 1)
                e++;
        runs[nr++] = (struct run){o, e - o, m[o], kind};
        o = e;
    }
    c.runs = runs;
    c.n_runs = nr;
    int64_t o0 = ydims[0] * part / n_parts, o1 = ydims[0] * (part + 1) / n_parts;
    if (o0 >= o1)
        return;
    if (rank == 1) {
        /* one row: keep only the part's share of the runs' outputs */
        for (int64_t r = 0; r < nr; r++) {
            struct run u = runs[r];
            int64_t a = u.y0 > o0 ? u.y0 : o0, b = u.y0 + u.n < o1 ? u.y0 + u.n : o1;
            if (a >= b)
                continue;
            char *yo = (char *)y + a * (int64_t)es;
            if (u.kind == RUN_CONST)
                qp_move_fill(es, (size_t)(b - a), value, yo);
            else if (u.kind == RUN_COPY)
                memcpy(yo, (const char *)x + (u.src + a - u.y0) * (int64_t)es, (size_t)(b - a) * es);
            else
                qp_move_fill(es, (size_t)(b - a), (const char *)x + u.src * (int64_t)es, yo);
        }
        return;
    }
    pad_rec(&c, 0, o0, o1, x, y);
}
