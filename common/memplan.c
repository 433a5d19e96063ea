/* Greedy memory placement by size: every span at the lowest offset free of the spans already
 * placed whose lifetimes overlap its own. */
#include <stdlib.h>

#include "qp/diag.h"
#include "qp/memplan.h"

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

struct order { size_t size; int i; };

static int cmp_order(const void *a, const void *b)
{
    const struct order *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->i - y->i;
}

int qp_memplan_place(qp_memplan_span *s, int n, size_t *peak, size_t *naive)
{
    *peak = 0;
    *naive = 0;
    struct order *o = qp_calloc((size_t)n + 1, sizeof *o);
    if (!o)
        return QP_ESYS;
    for (int i = 0; i < n; i++) {
        s[i].size = align64(s[i].size ? s[i].size : 1);
        o[i].size = s[i].size;
        o[i].i = i;
        *naive += s[i].size;
    }
    qsort(o, (size_t)n, sizeof *o, cmp_order);
    for (int k = 0; k < n; k++) {
        qp_memplan_span *a = &s[o[k].i];
        size_t off = 0;
        /* lowest offset free of every placed, time-overlapping span; retry after each bump */
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < k; j++) {
                const qp_memplan_span *b = &s[o[j].i];
                if (b->last < a->first || a->last < b->first)
                    continue;
                if (off < b->off + b->size && b->off < off + a->size) {
                    off = b->off + b->size;
                    moved = 1;
                }
            }
        }
        a->off = off;
        if (off + a->size > *peak)
            *peak = off + a->size;
    }
    qp_free(o);
    return 0;
}
