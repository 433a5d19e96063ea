/* Quantized elementwise binary operations: parameter derivation, reference, dispatch. */
#include "qp/q_eltwise.h"

static int qtype_act(qp_qtype t)
{
    return t == QP_QTYPE_U8 || t == QP_QTYPE_I8 || t == QP_QTYPE_I16;
}

int qp_q_elt_init(qp_q_elt_params *e, qp_q_eltop op, const qp_qparams *a, const qp_qparams *b,
                  const qp_qparams *y, int32_t lo, int32_t hi)
{
    *e = (qp_q_elt_params){.op = op, .a = *a, .b = *b, .y = *y, .lo = lo, .hi = hi};
    if ((int)op < 0 || op >= QP_Q_ELT_COUNT || !qtype_act(a->type) || !qtype_act(b->type) ||
        !qtype_act(y->type) || lo > hi || lo < qp_qtype_min(y->type) || hi > qp_qtype_max(y->type))
        return -1;
    switch (op) {
    case QP_Q_ELT_ADD:
    case QP_Q_ELT_SUB:
        return qp_qadd_init(a, b, y, op == QP_Q_ELT_SUB, lo, hi, &e->add);
    case QP_Q_ELT_MUL:
        if (!(y->scale > 0))
            return -1;
        return qp_requant_multiplier(a->scale * b->scale / y->scale, &e->mul);
    default:
        if (qp_qconvert_init(a, y, &e->ca) || qp_qconvert_init(b, y, &e->cb))
            return -1;
        return 0;
    }
}

static inline int32_t elt_one(const qp_q_elt_params *e, int32_t qa, int32_t qb)
{
    switch (e->op) {
    case QP_Q_ELT_ADD:
    case QP_Q_ELT_SUB:
        return qp_qadd_one(&e->add, qa, qb);
    case QP_Q_ELT_MUL:
        return qp_requant_i64(((int64_t)qa - e->a.zp) * ((int64_t)qb - e->b.zp), e->mul,
                              e->y.zp, e->lo, e->hi);
    case QP_Q_ELT_MIN:
    case QP_Q_ELT_MAX: {
        int32_t ca = qp_qconvert_one(&e->ca, qa), cb = qp_qconvert_one(&e->cb, qb);
        int32_t v = e->op == QP_Q_ELT_MIN ? (ca < cb ? ca : cb) : (ca > cb ? ca : cb);
        return (int32_t)qp_clamp64(v, e->lo, e->hi);
    }
    default:
        return 0;
    }
}

void qp_q_elt__ref(const qp_q_elt_params *e, size_t n, const void *a, size_t inc_a, const void *b,
                   size_t inc_b, void *y)
{
    for (size_t i = 0; i < n; i++)
        qp_qstore(y, i, e->y.type,
                  elt_one(e, qp_qload(a, i * inc_a, e->a.type), qp_qload(b, i * inc_b, e->b.type)));
}

#define QP_Q_ELT_ENTRY_(name, isa) {#name, isa, qp_q_elt__##name},
/* ends with a zeroed entry, not counted: the list is empty under QP_NO_AVX2 (vmath.h) */
const qp_q_elt_variant qp_q_elt_variants[] = {QP_Q_ELT_VARIANTS(QP_Q_ELT_ENTRY_) {0}};
const size_t qp_q_elt_n_variants = sizeof qp_q_elt_variants / sizeof qp_q_elt_variants[0] - 1;

void qp_q_elt(const qp_q_elt_params *e, size_t n, const void *a, size_t inc_a, const void *b,
              size_t inc_b, void *y)
{
    qp_isa isa = qp_kernels_isa();
    for (size_t i = qp_q_elt_n_variants; i-- > 0;)
        if (qp_q_elt_variants[i].isa <= isa) {
            qp_q_elt_variants[i].fn(e, n, a, inc_a, b, inc_b, y);
            return;
        }
    qp_q_elt__ref(e, n, a, inc_a, b, inc_b, y);
}
