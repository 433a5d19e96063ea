/* The dtype converters a hybrid table implies, named as the vendor names them: at each
 * precision boundary (a node whose output type differs from the type of one of its
 * non-constant inputs) a converter <layer>_pre_<qz><qt>_to_<qz><qt>_<uid>, uids following the
 * graph's largest, in graph order.  The list and its keys are the caller's
 * (qp_qtable_converters_free). */
#ifndef QP_QTABLE_CONV_H
#define QP_QTABLE_CONV_H

#include "qp/qtable.h"

typedef struct qp_qconv {
    int node, input, value;     /* before node `node`, its input `input` (value `value`) */
    char *key;
} qp_qconv;

int qp_qtable_converters(const qp_qtable *t, qp_qconv **out, int *n);
void qp_qtable_converters_free(qp_qconv *cv, int n);

#endif
