/* Broadcast plans.  Collapsing drops the output's size-1 dims and merges neighbours that every
 * operand walks contiguously (stride[d] == stride[d+1] * dims[d+1], which also holds for two
 * repeated dims), so [1,3,80,80,2] x [1,3,80,80,2] becomes one run of 38400 elements and
 * [N,C,H,W] + [1,C,1,1] becomes N*C runs of H*W against a scalar. */
#include <assert.h>
#include <string.h>

#include "qp/elt_bcast.h"

void qp_elt_bcast_init(qp_elt_bcast *p, int rank, const int64_t *dims, int n_ops, const int *ranks,
                       const int64_t *const *shapes)
{
    assert(rank >= 0 && rank <= QP_ELT_MAX_RANK && n_ops >= 1 && n_ops <= QP_ELT_MAX_OPS);
    memset(p, 0, sizeof *p);
    p->n_ops = n_ops;
    int64_t st[QP_ELT_MAX_OPS][QP_ELT_MAX_RANK];
    for (int k = 0; k < n_ops; k++) {
        assert(ranks[k] <= rank);
        int64_t s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int kd = d - (rank - ranks[k]);
            int64_t n = kd >= 0 ? shapes[k][kd] : 1;
            assert(n == 1 || n == dims[d]);
            st[k][d] = n == 1 ? 0 : s;
            s *= n;
        }
    }
    p->numel = 1;
    int r = 0;
    for (int d = 0; d < rank; d++) {
        p->numel *= (size_t)dims[d];
        if (dims[d] == 1)
            continue;
        int merge = r > 0;
        for (int k = 0; merge && k < n_ops; k++)
            merge = p->st[k][r - 1] == st[k][d] * dims[d];
        if (merge) {
            p->dims[r - 1] *= dims[d];
            for (int k = 0; k < n_ops; k++)
                p->st[k][r - 1] = st[k][d];
        } else {
            p->dims[r] = dims[d];
            for (int k = 0; k < n_ops; k++)
                p->st[k][r] = st[k][d];
            r++;
        }
    }
    p->rank = r;
}

void qp_elt_bcast_walk(const qp_elt_bcast *p, size_t begin, size_t end, qp_elt_bcast_run_fn run,
                       void *ctx)
{
    if (end > p->numel)
        end = p->numel;
    if (begin >= end)
        return;
    int64_t off[QP_ELT_MAX_OPS] = {0}, inc[QP_ELT_MAX_OPS] = {0};
    if (p->rank == 0) {
        run(ctx, end - begin, off, inc, begin);
        return;
    }
    int r = p->rank;
    size_t inner = (size_t)p->dims[r - 1];
    for (int k = 0; k < p->n_ops; k++)
        inc[k] = p->st[k][r - 1];
    /* multi-index of begin over the outer dims, plus the position inside the first run */
    int64_t idx[QP_ELT_MAX_RANK] = {0};
    size_t outer = begin / inner, pos = begin % inner;
    for (int d = r - 2; d >= 0; d--) {
        idx[d] = (int64_t)(outer % (size_t)p->dims[d]);
        outer /= (size_t)p->dims[d];
    }
    size_t y = begin;
    while (y < end) {
        int64_t o[QP_ELT_MAX_OPS];
        for (int k = 0; k < p->n_ops; k++) {
            o[k] = (int64_t)pos * inc[k];
            for (int d = 0; d < r - 1; d++)
                o[k] += idx[d] * p->st[k][d];
        }
        size_t n = inner - pos;
        if (n > end - y)
            n = end - y;
        run(ctx, n, o, inc, y);
        y += n;
        pos = 0;
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < p->dims[d])
                break;
            idx[d] = 0;
        }
    }
}
