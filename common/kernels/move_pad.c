/* Pad: every output dim gets a table from output position to input position (-1: the constant),
 * then a walk over the output copies contiguous stretches, fills constant ones, and gathers
 * element by element only where reflect/edge reorder the innermost dim. */
#include <assert.h>
#include <string.h>

#include "qp/move_copy.h"
#include "qp/move_pad.h"

size_t qp_move_pad_scratch_size(int rank, const int64_t *ydims)
{
    size_t n = 0;
    for (int d = 0; d < rank; d++)
        n += (size_t)ydims[d];
    return n * sizeof(int64_t);
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
    qp_pad_mode mode;
    int rank;
    const int64_t *ydims;
    int64_t xst[QP_PAD_MAX_RANK], yst[QP_PAD_MAX_RANK];
    const int64_t *map[QP_PAD_MAX_RANK];
    const void *value;
    const char *x;
    char *y;
};

static void pad_rec(const struct pad_ctx *c, int d, int64_t o0, int64_t o1, const char *x, char *y)
{
    size_t es = c->es;
    const int64_t *map = c->map[d];
    if (d == c->rank - 1) {
        int64_t o = o0;
        while (o < o1) {
            if (map[o] < 0) {
                int64_t e = o;
                while (e < o1 && map[e] < 0)
                    e++;
                qp_move_fill(es, (size_t)(e - o), c->value, y + o * (int64_t)es);
                o = e;
            } else {
                int64_t e = o + 1;
                while (e < o1 && map[e] == map[e - 1] + 1)
                    e++;
                memcpy(y + o * (int64_t)es, x + map[o] * (int64_t)es, (size_t)(e - o) * es);
                o = e;
            }
        }
        return;
    }
    size_t block = (size_t)c->yst[d];
    for (int64_t o = o0; o < o1; o++) {
        char *yo = y + o * c->yst[d] * (int64_t)es;
        if (map[o] < 0)
            qp_move_fill(es, block, c->value, yo);
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
    struct pad_ctx c = {es, mode, rank, ydims, {0}, {0}, {0}, value, x, y};
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
    int64_t o0 = ydims[0] * part / n_parts, o1 = ydims[0] * (part + 1) / n_parts;
    if (o0 < o1)
        pad_rec(&c, 0, o0, o1, x, y);
}
