/* Quantized Softmax: the exponent table, the row rule and its threaded driver.  Rows are
 * independent and every sum is exact, so the split into tasks cannot change a result. */
#include <math.h>

#include "qp/q_lut.h"
#include "qp/q_softmax.h"
#include "qp/threads.h"

size_t qp_softmax_q_table_entries(qp_qtype x_type)
{
    return qp_lut_entries(x_type);
}

static int act_type(qp_qtype t)
{
    return t == QP_QTYPE_U8 || t == QP_QTYPE_I8 || t == QP_QTYPE_I16;
}

int qp_softmax_q_init(qp_softmax_q_params *p, const qp_qparams *x, const qp_qparams *y,
                      int32_t *table)
{
    size_t n = qp_softmax_q_table_entries(x->type);
    if (!n || !act_type(y->type) || !(x->scale > 0) || !isfinite(x->scale) || !(y->scale > 0))
        return -1;
    p->x_type = x->type;
    p->y_type = y->type;
    p->y_zp = y->zp;
    p->y_lo = (int32_t)qp_qtype_min(y->type);
    p->y_hi = (int32_t)qp_qtype_max(y->type);
    if (qp_requant_multiplier(1.0 / y->scale, &p->inv_sy) || p->inv_sy.mult == 0)
        return -1;
    for (size_t k = 0; k < n; k++)
        table[k] = (int32_t)qp_rtne(ldexp(exp(-x->scale * (double)k), QP_SOFTMAX_Q_ONE_BITS));
    p->exp_table = table;
    return 0;
}

/* rtne(num / (den * 2^sh)) for num >= 0, den > 0. */
static int64_t div_rtne(int64_t num, int64_t den, int sh)
{
    if (sh > 40)
        return 0; /* num < 2^61 and den >= 2^30: the quotient is below 2^(31 - sh) <= 1/4 */
    qp_i128 d = (qp_i128)den << sh;
    qp_i128 q = (qp_i128)num / d, r = (qp_i128)num % d;
    if (2 * r > d || (2 * r == d && (q & 1)))
        q++;
    return (int64_t)q;
}

static void row(const qp_softmax_q_params *p, size_t n, size_t inner, const void *x, size_t x0,
                void *y)
{
    int32_t m = qp_qload(x, x0, p->x_type);
    for (size_t i = 1; i < n; i++) {
        int32_t v = qp_qload(x, x0 + i * inner, p->x_type);
        m = v > m ? v : m;
    }
    int64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p->exp_table[m - qp_qload(x, x0 + i * inner, p->x_type)];
    int sh = 31 + p->inv_sy.shift;
    for (size_t i = 0; i < n; i++) {
        int64_t e = p->exp_table[m - qp_qload(x, x0 + i * inner, p->x_type)];
        int64_t v = sh >= 0 ? div_rtne(e * p->inv_sy.mult, s, sh) : 0;
        qp_qstore(y, x0 + i * inner, p->y_type, (int32_t)qp_clamp64(v + p->y_zp, p->y_lo, p->y_hi));
    }
}

void qp_softmax_q__ref(const qp_softmax_q_params *p, size_t outer, size_t n, size_t inner,
                       const void *x, void *y)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < inner; k++)
            row(p, n, inner, x, o * n * inner + k, y);
}

typedef struct sm_ctx {
    const qp_softmax_q_params *p;
    size_t n, inner, rows, per_task;
    const void *x;
    void *y;
} sm_ctx;

static void sm_task(void *vctx, int task, int worker)
{
    (void)worker;
    const sm_ctx *c = vctx;
    size_t r0 = (size_t)task * c->per_task, r1 = r0 + c->per_task < c->rows ? r0 + c->per_task : c->rows;
    for (size_t r = r0; r < r1; r++) {
        size_t o = r / c->inner, k = r % c->inner;
        row(c->p, c->n, c->inner, c->x, o * c->n * c->inner + k, c->y);
    }
}

void qp_softmax_q(const qp_softmax_q_params *p, size_t outer, size_t n, size_t inner,
                  const void *x, void *y)
{
    sm_ctx c = {p, n, inner, outer * inner, 0, x, y};
    if (!c.rows || !n)
        return;
    /* about 16384 elements per task, decided by the shape alone */
    c.per_task = 16384 / n + 1;
    size_t tasks = (c.rows + c.per_task - 1) / c.per_task;
    if (tasks > 1 << 20) {
        c.per_task = (c.rows + (1 << 20) - 1) >> 20;
        tasks = (c.rows + c.per_task - 1) / c.per_task;
    }
    qp_parallel_for((int)tasks, sm_task, &c);
}
