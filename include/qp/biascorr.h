/* Empirical bias correction (qtable --bias-correction; qpipe(7), BIAS CORRECTION).  Rounding
 * weights and activations shifts the mean of a layer's output channels: on a page whose
 * background is one uniform value, every pixel of a channel rounds the same way, and a
 * GlobalAveragePool (squeeze-and-excitation) passes that shift on as a wrong channel weight.
 * For every integer Conv and ConvTranspose of the table, in graph order, the mean of each
 * output channel over the samples is measured in the quantized run (which already carries
 * the corrections of the layers before it) and in the float run; the difference becomes the
 * layer's bias correction (qp/qtable.h), a real value per channel that the integer rule adds
 * to the bias before quantizing it.  The output is quantized again after the shift, so the
 * new mean is not exactly the float one; a second pass over the layers, measured with all
 * the corrections of the first, takes most of the rest (PP-OCRv4 det int8 on 16 pages: one
 * pass 0.9751, two 0.9819, three 0.9815).  Deterministic: sums in double, in sample order. */
#ifndef QP_BIASCORR_H
#define QP_BIASCORR_H

#include "qp/graph.h"
#include "qp/qtable.h"
#include "qp/samples.h"

/* Called after each corrected layer. */
typedef void (*qp_biascorr_progress)(void *ctx, int done, int total);

typedef struct qp_biascorr_result {
    int layers;                 /* layers corrected */
    double cos_before, cos_after;   /* mean output cosine against float over the samples */
} qp_biascorr_result;

/* Corrects table t (bound to g) on the first n samples of io (n >= 1), passes times over
 * the layers; a correction the table already has is measured with and added to (a table
 * read back from a .quantize continues where it was).  The mean cosine of the model's float
 * outputs against the float run over the same samples, before and after, goes to *res (a
 * correction can lower it: the mean shifts of earlier layers may have been compensating).
 * Errors name the sample or the layer. */
int qp_biascorr_run(const qp_graph *g, qp_qtable *t, qp_samples *io, int n, int passes,
                    qp_biascorr_progress progress, void *ctx, qp_biascorr_result *res);

#endif
