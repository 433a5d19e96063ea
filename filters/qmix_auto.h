/* qmix --auto (qmix_auto.c): chooses the layers to promote so that the model outputs reach a
 * cosine target on the samples, within a MAC budget.  The caller keeps the graph, statistics
 * and samples; the table and the report (text, malloc'd) are the caller's. */
#ifndef QMIX_AUTO_H
#define QMIX_AUTO_H

#include "qmix.h"
#include "qp/samples.h"

#define QMIX_AUTO_MAX_FIELDS 32

struct qmix_auto_opts {
    int iterations;             /* samples verified */
    int max_runs;               /* verification runs after which the prune pass stops */
    double target_cos;          /* every target (an output, or a field of one) reaches it */
    int has_cos;
    double max_share;           /* share of MACs in the promotion type, at most */
    int has_share;
    int rank_target;            /* rank by each layer's damage on the targets (leave-one-out) */
    const char *to;             /* the promotion type (normalised) */
    struct {
        const char *name;       /* or NULL */
        int a, b;               /* [a, b) of the last axis */
    } field[QMIX_AUTO_MAX_FIELDS];
    int n_field;
    const char *output[QMIX_AUTO_MAX_FIELDS];  /* --target-output: fnmatch patterns of output keys */
    int n_output;
};

/* The table of g with the chosen layers in o->to, applied (qp_qmix_apply), and the report.
 * QP_ECHECK (message: the best cosine reached) when the target cannot be met; QP_EUSAGE for
 * a field past an output's last axis. */
int qp_qmix_auto(const struct qmix_auto_opts *o, const qp_graph *g, const qp_calib *c, int algo, qp_samples *io,
                 qp_qtable **out, char **report);

#endif
