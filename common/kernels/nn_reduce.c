/* Reductions.  Every output element gathers its inputs through an odometer over the reduced
 * axes; adjacent axes of the same kind are merged first so the common cases (a reduced
 * suffix, a reduced block in the middle) run as plain strided loops.  Not a hot path in the
 * models qpipe targets, so there is a single (reference) implementation. */
#include <math.h>

#include "qp/nn_reduce.h"

static double reduce_run(qp_reduce_kind kind, size_t n, size_t stride, const float *x, double acc,
                         double shift)
{
    switch (kind) {
    case QP_REDUCE_MAX:
        for (size_t i = 0; i < n; i++)
            acc = x[i * stride] > acc || isnan(x[i * stride]) ? x[i * stride] : acc;
        return acc;
    case QP_REDUCE_MIN:
        for (size_t i = 0; i < n; i++)
            acc = x[i * stride] < acc || isnan(x[i * stride]) ? x[i * stride] : acc;
        return acc;
    case QP_REDUCE_PROD:
        for (size_t i = 0; i < n; i++)
            acc *= x[i * stride];
        return acc;
    case QP_REDUCE_L1:
        for (size_t i = 0; i < n; i++)
            acc += fabs(x[i * stride]);
        return acc;
    case QP_REDUCE_L2:
    case QP_REDUCE_SUMSQUARE:
        for (size_t i = 0; i < n; i++)
            acc += (double)x[i * stride] * x[i * stride];
        return acc;
    case QP_REDUCE_LOGSUMEXP:
        for (size_t i = 0; i < n; i++)
            acc += exp(x[i * stride] - shift);
        return acc;
    default:
        for (size_t i = 0; i < n; i++)
            acc += x[i * stride];
        return acc;
    }
}

/* Folds f over the reduced sub-box at base: nr axes of lengths rn[] and strides rs[], the last
 * innermost. */
static double gather(qp_reduce_kind kind, const float *base, int nr, const size_t *rn,
                     const size_t *rs, double acc, double shift)
{
    if (nr == 0)
        return reduce_run(kind, 1, 1, base, acc, shift);
    size_t idx[QP_REDUCE_MAX_RANK] = {0};
    for (int d = 0; d < nr; d++)
        if (rn[d] == 0)
            return acc;
    for (;;) {
        size_t off = 0;
        for (int d = 0; d < nr - 1; d++)
            off += idx[d] * rs[d];
        acc = reduce_run(kind, rn[nr - 1], rs[nr - 1], base + off, acc, shift);
        int d = nr - 2;
        while (d >= 0 && ++idx[d] == rn[d])
            idx[d--] = 0;
        if (d < 0)
            return acc;
    }
}

void qp_reduce_f32__ref(qp_reduce_kind kind, int rank, const size_t *dims,
                        const unsigned char *red, const float *x, float *y)
{
    /* merge adjacent axes of the same kind, drop length-1 axes */
    size_t md[QP_REDUCE_MAX_RANK];
    unsigned char mr[QP_REDUCE_MAX_RANK];
    int m = 0;
    size_t count = 1;           /* elements per output */
    for (int d = 0; d < rank; d++) {
        if (red[d])
            count *= dims[d];
        if (dims[d] == 1)
            continue;
        if (m && mr[m - 1] == (red[d] != 0))
            md[m - 1] *= dims[d];
        else {
            md[m] = dims[d];
            mr[m++] = red[d] != 0;
        }
    }
    size_t stride[QP_REDUCE_MAX_RANK];
    size_t s = 1;
    for (int d = m - 1; d >= 0; d--) {
        stride[d] = s;
        s *= md[d];
    }
    size_t kn[QP_REDUCE_MAX_RANK], ks[QP_REDUCE_MAX_RANK], rn[QP_REDUCE_MAX_RANK],
        rs[QP_REDUCE_MAX_RANK];
    int nk = 0, nr = 0;
    size_t nout = 1;
    for (int d = 0; d < m; d++) {
        if (mr[d]) {
            rn[nr] = md[d];
            rs[nr++] = stride[d];
        } else {
            kn[nk] = md[d];
            ks[nk++] = stride[d];
            nout *= md[d];
        }
    }
    for (int d = 0; d < rank; d++)
        if (!red[d] && dims[d] == 0)
            return;             /* no outputs */
    size_t idx[QP_REDUCE_MAX_RANK] = {0};
    for (size_t o = 0; o < nout; o++) {
        size_t off = 0;
        for (int d = 0; d < nk; d++)
            off += idx[d] * ks[d];
        const float *base = x + off;
        double r;
        switch (kind) {
        case QP_REDUCE_MAX:
            r = gather(kind, base, nr, rn, rs, -INFINITY, 0);
            break;
        case QP_REDUCE_MIN:
            r = gather(kind, base, nr, rn, rs, INFINITY, 0);
            break;
        case QP_REDUCE_PROD:
            r = gather(kind, base, nr, rn, rs, 1, 0);
            break;
        case QP_REDUCE_LOGSUMEXP: {
            double mx = gather(QP_REDUCE_MAX, base, nr, rn, rs, -INFINITY, 0);
            r = isinf(mx) ? mx : mx + log(gather(kind, base, nr, rn, rs, 0, mx));
            break;
        }
        default:
            r = gather(kind, base, nr, rn, rs, 0, 0);
            break;
        }
        if (kind == QP_REDUCE_MEAN)
            r = count ? r / (double)count : NAN;
        else if (kind == QP_REDUCE_L2)
            r = sqrt(r);
        else if (kind == QP_REDUCE_LOGSUM)
            r = log(r);
        y[o] = (float)r;
        for (int d = nk - 1; d >= 0 && ++idx[d] == kn[d]; d--)
            idx[d] = 0;
    }
}

void qp_reduce_f32(qp_reduce_kind kind, int rank, const size_t *dims, const unsigned char *red,
                   const float *x, float *y)
{
    qp_reduce_f32__ref(kind, rank, dims, red, x, y);
}
