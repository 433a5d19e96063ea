/* Quantized linear (bilinear) Resize of the two innermost axes, integer only at run time: the
 * caller owns the axis tables, the arrays and the scratch; nothing here allocates, prints or
 * keeps a pointer.
 *
 * The rule (qpipe(7), ARITHMETIC CONTRACT).  Along each axis, output position j maps to the
 * input coordinate c = coord(j) of the ONNX coordinate transformation (as the float kernel,
 * qp/move_resize.h, computes it in double); with f = floor(c), the taps are i0 = clamp(f) and
 * i1 = clamp(f + 1) into [0, in - 1] and the fixed-point weight of i1 is
 *     lambda = rtne((c - f) 2^11)  in [0, 2048],  i0 gets 2048 - lambda.
 * An output is then
 *     acc = sum over the 2 x 2 taps of wy wx (q - zp_in)       exact in int64
 *     y   = clamp(rtne(acc M) + zp_out)    M = (s_in / s_out) / 2^22 as (mult, shift),
 * one rounding (qp/requant.h section 4).  Integer sums are exact, so the separable fast path
 * (rows first, in int32: |2048 (q - zp)| 2 < 2^29) gives the same bits as the direct sum. */
#ifndef QP_Q_RESIZE_H
#define QP_Q_RESIZE_H
#include <stddef.h>
#include <stdint.h>

#include "qp/move_resize.h"
#include "qp/requant.h"

#define QP_RESIZE_Q_FRAC_BITS 11

/* One axis: for output j, taps i0[j], i1[j] and weight lam[j] of i1. */
typedef struct qp_resize_q_axis {
    int64_t in, out;
    int32_t *i0, *i1, *lam;   /* out entries each, caller-owned */
} qp_resize_q_axis;

/* Fills axis d of the float parameters p (mode linear; not tf_crop_and_resize) into a, whose
 * arrays hold p->out[d] entries.  0, or -1 if the coordinate mode is not supported. */
int qp_resize_q_axis_init(const qp_resize_params *p, int d, qp_resize_q_axis *a);

typedef struct qp_resize_q_args {
    size_t planes;            /* product of the outer (unchanged) axes */
    const qp_resize_q_axis *ay, *ax;  /* the two innermost axes */
    qp_qtype x_type, y_type;
    int32_t x_zp, y_zp, y_lo, y_hi;
    qp_qmul mul;              /* (s_in / s_out) / 2^22 */
    const void *x;            /* planes x in_h x in_w */
    void *y;                  /* planes x out_h x out_w */
} qp_resize_q_args;

/* 0, or -1 if the multiplier cannot be represented or a type is not u8/i8/i16. */
int qp_resize_q_init(qp_resize_q_args *a, const qp_qparams *in, const qp_qparams *out);

/* The specification: the direct 4-tap sum per output. */
void qp_resize_q_linear__ref(const qp_resize_q_args *a);
/* Separable, on the thread pool (planes x row blocks by size only); scratch per worker:
 * qp_resize_q_scratch_size bytes times qp_threads_count(). */
size_t qp_resize_q_scratch_size(const qp_resize_q_args *a);
void qp_resize_q_linear(const qp_resize_q_args *a, void *scratch);

#endif
