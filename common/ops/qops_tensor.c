/* Quantized tensor rules: data movement moves integers, never changes them.
 *
 * Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Slice, Gather, Expand, Tile, DepthToSpace,
 * SpaceToDepth, Identity, Dropout and nearest Resize/Upsample run the float op's own data
 * movement (it is element-size generic) on the integers.  When the table gives the output other
 * parameters than the input, the executor converts (qp/requant.h section 7) the smaller side:
 * the input before the move if the output is at least as large, else the output after it; both
 * give the same integers since a conversion is elementwise.  Concat converts every input to the
 * output's parameters (a constant input is quantized with them directly), Split produces every
 * output in the input's parameters and converts each to its own.  Pad fills with the pad value
 * quantized with the output's parameters (0 gives the zero point exactly).  Linear Resize is the
 * integer bilinear rule of qp/q_resize.h.  Tensors that are not float (shapes, indices) move in
 * their own type. */
#include <string.h>

#include "qp/diag.h"
#include "qp/move_pad.h"
#include "qp/op.h"
#include "qp/q_resize.h"
#include "qp/qops.h"
#include "qp/tensor.h"
#include "qp/threads.h"

static size_t numel_of(const qp_value *v)
{
    size_t n = 0;
    qp_value_numel(v, &n);
    return n;
}

/* ---- pure moves ---------------------------------------------------------------------------- */

typedef struct move_state {
    const qp_op *op;
    qp_op_prep prep;
} move_state;

/* Inputs [0, n_data) are data (converted together), the rest parameters read as they are. */
static int move_prepare_ex(qp_qnode *n, qp_arena *a, int n_data)
{
    const qp_graph *g = n->g;
    const qp_node *nd = &g->nodes[n->ni];
    move_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    s->op = qp_op_get(nd->op);
    if (!s->op)
        return qp_qops_error(g, n->ni, "op is not bound");
    /* parameter inputs (shape, axes, indices, scales) are read as they are */
    for (int i = n_data; i < n->n_in; i++)
        if (nd->in[i] >= 0 && n->in[i].kind != QP_QREP_NATIVE) {
            if (!g->values[nd->in[i]].is_const)
                return qp_qops_error(g, n->ni, "input %d ('%s') must be an integer tensor or a constant", i,
                                     g->values[nd->in[i]].name);
            n->in[i].kind = QP_QREP_NATIVE;
        }
    if (!strcmp(nd->op_type, "Resize") || !strcmp(nd->op_type, "Upsample")) {
        qp_resize_params p;
        int rc = qp_tensor_resize_plan(g, n->ni, &p);
        if (rc)
            return rc;
        if (p.coord == QP_RESIZE_TF_CROP_AND_RESIZE && n->out[0].kind == QP_QREP_QUANT)
            return qp_qops_error(g, n->ni, "tf_crop_and_resize has no integer rule");
    }
    if (n->out[0].kind == QP_QREP_QUANT) {
        if (n->in[0].kind == QP_QREP_QUANT && !qp_qrep_equal(&n->in[0], &n->out[0]) &&
            numel_of(&g->values[nd->out[0]]) < numel_of(&g->values[nd->in[0]])) {
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k].kind == QP_QREP_QUANT)
                    n->out[k] = n->in[0];
        } else
            n->in[0] = n->out[0];
    } else if (n->out[0].kind == QP_QREP_FLOAT && n->in[0].kind == QP_QREP_QUANT) {
        n->in[0] = n->out[0];   /* a float layer in a hybrid table: dequantize before */
    }
    for (int i = 1; i < n_data; i++)
        n->in[i] = n->in[0];
    int rc = s->op->prepare ? s->op->prepare(g, n->ni, a, &s->prep) : 0;
    if (rc)
        return rc;
    n->state = s;
    n->scratch = s->prep.scratch;
    return 0;
}

static int move_prepare(qp_qnode *n, qp_arena *a)
{
    return move_prepare_ex(n, a, 1);
}

static int move_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out, void *scratch)
{
    const move_state *s = n->state;
    const qp_tensor *fin[QP_MAX_IO];
    qp_tensor *fout[QP_MAX_IO];
    for (int i = 0; i < n->n_in; i++)
        fin[i] = in[i] ? &in[i]->t : NULL;
    for (int k = 0; k < n->n_out; k++)
        fout[k] = out[k] ? &out[k]->t : NULL;
    return s->op->run(n->g, n->ni, &s->prep, fin, fout, scratch);
}

/* ---- Concat, Split ------------------------------------------------------------------------- */

static int concat_prepare(qp_qnode *n, qp_arena *a)
{
    /* every input in the output's parameters: the move itself then decides nothing */
    if (n->out[0].kind != QP_QREP_NATIVE)
        n->in[0] = n->out[0];
    return move_prepare_ex(n, a, n->n_in);
}

static int split_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    const qp_node *nd = &g->nodes[n->ni];
    move_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    s->op = qp_op_get(nd->op);
    for (int i = 1; i < n->n_in; i++)
        if (nd->in[i] >= 0)
            n->in[i].kind = QP_QREP_NATIVE;
    if (n->in[0].kind != QP_QREP_NATIVE)
        for (int k = 0; k < n->n_out; k++)
            n->out[k] = n->in[0];
    n->state = s;
    return 0;
}

/* ---- Pad ----------------------------------------------------------------------------------- */

typedef struct pad_state {
    qp_tensor_pad p;
    unsigned char value[8];
    size_t scratch;
} pad_state;

static int pad_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    const qp_node *nd = &g->nodes[n->ni];
    if (n->in[0].kind == QP_QREP_NATIVE || n->out[0].kind != QP_QREP_QUANT)
        return move_prepare(n, a);
    pad_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    int rc = qp_tensor_pad_plan(g, n->ni, &s->p);
    if (rc)
        return rc;
    double v = s->p.value;
    if (g->opset <= 0 || g->opset >= 11) {
        const qp_value *c = qp_op_in(g, n->ni, 2);
        float f = 0;
        if (c && (!c->is_const || qp_op_const_floats(g, n->ni, 2, &f, 1) != 1))
            return qp_qops_error(g, n->ni, "the pad value must be a constant scalar");
        v = f;
    }
    for (int i = 1; i < n->n_in; i++)
        if (nd->in[i] >= 0)
            n->in[i].kind = QP_QREP_NONE;
    n->in[0] = n->out[0];
    qp_qstore(s->value, 0, n->out[0].q.type, qp_quantize(v, &n->out[0].q));
    n->scratch = qp_move_pad_scratch_size(qp_op_in(g, n->ni, 0)->rank, s->p.dims);
    n->state = s;
    return 0;
}

static int pad_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out, void *scratch)
{
    if (in[0]->r.kind != QP_QREP_QUANT)
        return move_run(n, in, out, scratch);
    const pad_state *s = n->state;
    const qp_tensor *x = &in[0]->t;
    qp_move_pad(qp_qtype_size(in[0]->r.q.type), s->p.mode, x->rank, x->dims, out[0]->t.dims, s->p.begin, s->value,
                x->data, out[0]->t.data, scratch, 0, 1);
    return 0;
}

/* ---- Resize -------------------------------------------------------------------------------- */

typedef struct resize_state {
    int linear;
    move_state move;
    qp_resize_q_axis ay, ax;
    qp_resize_q_args args;
} resize_state;

static int resize_prepare(qp_qnode *n, qp_arena *a)
{
    const qp_graph *g = n->g;
    qp_resize_params p;
    int rc = qp_tensor_resize_plan(g, n->ni, &p);
    if (rc)
        return rc;
    resize_state *s = qp_arena_alloc(a, sizeof *s);
    if (!s)
        return QP_ESYS;
    if (p.mode == QP_RESIZE_NEAREST || n->in[0].kind == QP_QREP_NATIVE || n->out[0].kind != QP_QREP_QUANT) {
        if ((rc = move_prepare(n, a)))
            return rc;
        s->move = *(const move_state *)n->state;
        n->state = s;
        return 0;
    }
    if (p.mode != QP_RESIZE_LINEAR)
        return qp_qops_error(g, n->ni, "cubic resize has no integer rule");
    s->linear = 1;
    if ((rc = qp_qops_want_quant(n, 0, n->out[0].q.type, 1)))
        return rc;
    for (int i = 1; i < n->n_in; i++)
        if (g->nodes[n->ni].in[i] >= 0)
            n->in[i].kind = QP_QREP_NONE;
    int r = p.rank;
    size_t planes = 1;
    for (int d = 0; d < r - 2; d++) {
        if (p.in[d] != p.out[d])
            return qp_qops_error(g, n->ni, "linear resize of axis %d (not one of the two innermost) has no integer rule",
                                 d);
        planes *= (size_t)p.in[d];
    }
    if (r < 2)
        return qp_qops_error(g, n->ni, "linear resize of rank %d has no integer rule", r);
    qp_resize_q_axis *ax[2] = {&s->ay, &s->ax};
    for (int k = 0; k < 2; k++) {
        int64_t o = p.out[r - 2 + k];
        ax[k]->i0 = qp_arena_array(a, (size_t)o + 1, sizeof(int32_t));
        ax[k]->i1 = qp_arena_array(a, (size_t)o + 1, sizeof(int32_t));
        ax[k]->lam = qp_arena_array(a, (size_t)o + 1, sizeof(int32_t));
        if (!ax[k]->i0 || !ax[k]->i1 || !ax[k]->lam)
            return QP_ESYS;
        if (qp_resize_q_axis_init(&p, r - 2 + k, ax[k]))
            return qp_qops_error(g, n->ni, "this coordinate transformation has no integer rule");
    }
    s->args.planes = planes;
    s->args.ay = &s->ay;
    s->args.ax = &s->ax;
    if (qp_resize_q_init(&s->args, &n->in[0].q, &n->out[0].q))
        return qp_qops_error(g, n->ni, "scales %g -> %g cannot be requantized", n->in[0].q.scale, n->out[0].q.scale);
    n->scratch = qp_resize_q_scratch_size(&s->args) * (size_t)qp_threads_count() + 64;
    n->state = s;
    return 0;
}

static int resize_run(const qp_qnode *n, const qp_qtensor *const *in, qp_qtensor *const *out, void *scratch)
{
    const resize_state *s = n->state;
    if (!s->linear) {
        qp_qnode m = *n;
        m.state = (void *)&s->move;
        return move_run(&m, in, out, scratch);
    }
    qp_resize_q_args a = s->args;
    a.x = in[0]->t.data;
    a.y = out[0]->t.data;
    qp_resize_q_linear(&a, scratch);
    return 0;
}

/* ---- reading shapes only ------------------------------------------------------------------- */

static int shape_prepare(qp_qnode *n, qp_arena *a)
{
    /* the data is never read: any representation will do */
    qp_qrep keep = n->in[0];
    int rc = qp_qops_float_prepare(n, a);
    n->in[0] = keep;
    return rc;
}

/* ---- the table ----------------------------------------------------------------------------- */

#define MOVE(name) {name, QP_QOP_MAP_NONE, move_prepare, move_run, NULL}

const qp_qop qp_qops_tensor[] = {
    MOVE("Reshape"), MOVE("Flatten"), MOVE("Squeeze"), MOVE("Unsqueeze"), MOVE("Transpose"),
    MOVE("Slice"), MOVE("Gather"), MOVE("Expand"), MOVE("Tile"), MOVE("DepthToSpace"),
    MOVE("SpaceToDepth"), MOVE("Identity"), MOVE("Dropout"),
    {"Concat", QP_QOP_MAP_NONE, concat_prepare, move_run, NULL},
    {"Split", QP_QOP_MAP_NONE, split_prepare, move_run, NULL},
    {"Pad", QP_QOP_MAP_NONE, pad_prepare, pad_run, NULL},
    {"Resize", QP_QOP_MAP_NONE, resize_prepare, resize_run, NULL},
    {"Upsample", QP_QOP_MAP_NONE, resize_prepare, resize_run, NULL},
    {"Shape", QP_QOP_MAP_NONE, shape_prepare, qp_qops_float_run, NULL},
    {"Size", QP_QOP_MAP_NONE, shape_prepare, qp_qops_float_run, NULL},
    {"ConstantOfShape", QP_QOP_MAP_NONE, qp_qops_float_prepare, qp_qops_float_run, NULL},
};
const int qp_qops_tensor_count = (int)(sizeof qp_qops_tensor / sizeof qp_qops_tensor[0]);
