/* The nn op family's entry points beyond the op table (qp/op.h): activation fusion.  The state
 * they touch is the executor's prepared per-node state, which the executor owns. */
#ifndef QP_NN_H
#define QP_NN_H

#include "qp/conv_f32.h"
#include "qp/graph.h"
#include "qp/op.h"
#include "qp/pool_f32.h"
#include "qp/vmath.h"

/* Finds an activation that can be fused into node ni (Conv, ConvTranspose, Gemm, MatMul):
 * ni's output 0 is float32, is not a graph output, and is read only by
 *   Relu                      -> {QP_ACT_RELU}
 *   Clip                      -> {QP_ACT_CLIP, min, max}: before opset 11 the min/max
 *                                attributes (default -/+FLT_MAX); from 11 constant float32
 *                                scalar inputs only (absent: -/+INFINITY)
 *   LeakyRelu(alpha)          -> {QP_ACT_LEAKYRELU, alpha} (default 0.01)
 *   HardSigmoid(alpha, beta)  -> {QP_ACT_HARDSIGMOID, alpha, beta} (defaults 0.2, 0.5)
 *   Sigmoid                   -> {QP_ACT_SIGMOID}
 *   Tanh, HardSwish           -> {QP_ACT_TANH}, {QP_ACT_HARDSWISH}
 * or only by a Sigmoid s and a Mul(y, s(y)) (either operand order) with s read only by that
 * Mul and not a graph output -> {QP_ACT_SILU}.
 * On success fills *act and skip[0..*n_skip) with the node(s) the fusion replaces, in graph
 * order (1, or 2 for SiLU: the Sigmoid, then the Mul), and returns 0; the last of them is the
 * node whose output 0 the fused node then produces.  Returns -1 (nothing recorded) if there
 * is no such pattern.  It does not ask whether ni can take the activation: see below. */
int qp_nn_match_activation(const qp_graph *g, int ni, qp_act *act, int skip[2], int *n_skip);

/* The same pattern when the activation is a clamp, a Relu or a Clip: *act_ni is that node,
 * [*lo, *hi] what it keeps (0 and +HUGE_VAL for Relu).  Returns 0, or -1 when there is none.
 * The quantization table shares the activation's parameters with node ni's output then
 * (qpipe-quantize(5), "A fused activation"), and the bias correction compares after it. */
int qp_nn_match_clamp(const qp_graph *g, int ni, int *act_ni, double *lo, double *hi);

/* Puts act into the epilogue of node conv_ni, whose prepare() has already filled *prep (call
 * it after prepare, before the first run): from then on the node's output 0 holds
 * act(op(...)).  The executor must then not run the skipped node(s) and must make the last
 * one's output the same tensor as the fused node's output (alias it, or rewire its readers).
 * Accepted: Conv and ConvTranspose (any act), MatMul, and Gemm when it has no epilogue after
 * the product (alpha = 1 and C absent, a row [N]/[1,N], or a scalar).  QP_ACT_NONE undoes a
 * fusion.  Returns 0 when fused; -1, with nothing changed and no error recorded, when this node
 * cannot take it (run the activation separately then).  Never fuse when outputs are dumped or
 * hooked per node (QP_EXEC_NO_FUSE): the intermediate tensors no longer exist. */
int qp_nn_conv_set_activation(const qp_graph *g, int conv_ni, qp_op_prep *prep, qp_act act);

/* The geometry of node ni exactly as its float implementation derives it from the attributes
 * and shapes (validated the same way; errors name the node), for the quantized rules
 * (qp/qops.h): Conv and ConvTranspose by op type (1-D as H = 1), MaxPool and AveragePool, and
 * Softmax/LogSoftmax as outer x n x inner around the normalised axis (the pre-13 coercion to
 * 2-D included). */
int qp_nn_conv_geometry(const qp_graph *g, int ni, qp_conv2d_f32_params *p);
int qp_nn_pool_geometry(const qp_graph *g, int ni, qp_pool2d_f32_params *p);
int qp_nn_softmax_geometry(const qp_graph *g, int ni, size_t *outer, size_t *n, size_t *inner);

#endif
