/* Tensor ops: shape manipulation (Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size), data
 * movement (Transpose, Concat, Split, Slice, Gather, Expand, Tile, Pad, DepthToSpace,
 * SpaceToDepth), generators (ConstantOfShape), Resize/Upsample and ArgMax/ArgMin.  Each op has
 * one "plan" function that reads its attributes and constant parameter inputs and derives the
 * output shape; infer checks and records it, run recomputes it (cheap) and hands the strides
 * to common/kernels/move_*.c. */
#include <math.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/elt_argminmax.h"
#include "qp/elt_cast.h"
#include "qp/move_copy.h"
#include "qp/move_gather.h"
#include "qp/move_pad.h"
#include "qp/move_resize.h"
#include "qp/op.h"
#include "qp/tensor.h"
#include "qp/threads.h"

static int64_t opset(const qp_graph *g) { return g->opset > 0 ? g->opset : 17; }

static const char *dt_name(int dt) { return qp_dtype_name(dt); }

static size_t numel_dims(int rank, const int64_t *dims)
{
    size_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= (size_t)dims[d];
    return n;
}

static void strides_of(int rank, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        st[d] = s;
        s *= dims[d];
    }
}

/* A constant integer parameter input (int32/int64), up to max entries.  Absent: *n = -1. */
static int param_ints(const qp_graph *g, int ni, int i, const char *what, int64_t *out, int max, int *n)
{
    const qp_value *v = qp_op_in(g, ni, i);
    *n = -1;
    if (!v)
        return 0;
    if (v->dtype != QP_DT_I64 && v->dtype != QP_DT_I32)
        return qp_op_error(g, ni, "input '%s' is %s, expected int64", what, dt_name(v->dtype));
    if (!v->is_const)
        return qp_op_error(g, ni, "input '%s' must be constant (known when the model is imported)", what);
    if (v->rank > 1)
        return qp_op_error(g, ni, "input '%s' must be 1-D, it has rank %d", what, v->rank);
    size_t cnt;
    if (qp_value_numel(v, &cnt) || cnt > (size_t)max)
        return qp_op_error(g, ni, "input '%s' has more than %d values", what, max);
    *n = qp_op_const_ints(g, ni, i, out, max);
    if (*n < 0)
        return qp_op_error(g, ni, "input '%s' cannot be read", what);
    return 0;
}

static int param_floats(const qp_graph *g, int ni, int i, const char *what, float *out, int max, int *n)
{
    const qp_value *v = qp_op_in(g, ni, i);
    *n = -1;
    if (!v)
        return 0;
    if (v->dtype != QP_DT_F32 && v->dtype != QP_DT_F64)
        return qp_op_error(g, ni, "input '%s' is %s, expected float", what, dt_name(v->dtype));
    if (!v->is_const)
        return qp_op_error(g, ni, "input '%s' must be constant (known when the model is imported)", what);
    size_t cnt;
    if (qp_value_numel(v, &cnt) || cnt > (size_t)max)
        return qp_op_error(g, ni, "input '%s' has more than %d values", what, max);
    *n = qp_op_const_floats(g, ni, i, out, max);
    if (*n < 0)
        return qp_op_error(g, ni, "input '%s' cannot be read", what);
    return 0;
}

/* Axes from an INTS attribute (opset < from) or a constant input (opset >= from). */
static int axes_param(const qp_graph *g, int ni, int input, int64_t from, int64_t *axes, int *n)
{
    if (opset(g) < from) {
        const int64_t *v;
        if (qp_op_in(g, ni, input))
            return qp_op_error(g, ni, "axes is an attribute before opset %lld, not an input", (long long)from);
        if (qp_op_attr_ints(g, ni, "axes", n, &v))
            return QP_EINPUT;
        if (*n > QP_MAX_RANK)
            return qp_op_error(g, ni, "attribute 'axes' has %d values (at most %d)", *n, QP_MAX_RANK);
        if (*n > 0)
            memcpy(axes, v, sizeof(int64_t) * (size_t)*n);
        return 0;
    }
    if (qp_node_attr(&g->nodes[ni], "axes"))
        return qp_op_error(g, ni, "axes is an input from opset %lld, not an attribute", (long long)from);
    return param_ints(g, ni, input, "axes", axes, QP_MAX_RANK, n);
}

/* Normalises axes in place for rank; duplicates are an error. */
static int norm_axes(const qp_graph *g, int ni, int64_t *axes, int n, int rank)
{
    for (int i = 0; i < n; i++) {
        int a = qp_op_axis(g, ni, axes[i], rank);
        if (a < 0)
            return QP_EINPUT;
        axes[i] = a;
        for (int j = 0; j < i; j++)
            if (axes[j] == a)
                return qp_op_error(g, ni, "axis %d appears twice", a);
    }
    return 0;
}

/* ---- parallel strided copies ---------------------------------------------------------------- */

struct cp_job {
    size_t es;
    int rank;
    const int64_t *dims, *xs, *ys;
    const void *x;
    void *y;
    int parts;
};

static void cp_task(void *c, int task, int worker)
{
    (void)worker;
    const struct cp_job *j = c;
    qp_move_strided(j->es, j->rank, j->dims, j->x, j->xs, j->y, j->ys, task, j->parts);
}

/* The split depends on the size only (8 parts from 1 MiB), never on the thread count. */
static void copy_strided(size_t es, int rank, const int64_t *dims, const void *x, const int64_t *xs, void *y,
                         const int64_t *ys)
{
    struct cp_job j = {es, rank, dims, xs, ys, x, y, 1};
    if (numel_dims(rank, dims) * es >= ((size_t)1 << 20) && qp_threads_count() > 1) {
        j.parts = 8;
        qp_parallel_for(j.parts, cp_task, &j);
    } else
        qp_move_strided(es, rank, dims, x, xs, y, ys, 0, 1);
}

static int run_copy(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                    qp_tensor *const *out, void *scratch)
{
    (void)g, (void)ni, (void)prep, (void)scratch;
    if (out[0]->data != in[0]->data)
        memcpy(out[0]->data, in[0]->data, numel_dims(in[0]->rank, in[0]->dims) * qp_dtype_size(in[0]->dtype));
    return 0;
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze --------------------------------------------------- */

static int infer_reshape(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t shape[QP_MAX_RANK + 1], allowzero = 0;
    int n;
    if (opset(g) < 5)
        return qp_op_error(g, ni, "opset %lld Reshape (shape attribute) is not supported", (long long)opset(g));
    if (qp_op_attr_int(g, ni, "allowzero", 0, &allowzero) ||
        param_ints(g, ni, 1, "shape", shape, QP_MAX_RANK + 1, &n))
        return QP_EINPUT;
    if (n > QP_MAX_RANK)
        return qp_op_error(g, ni, "target shape has %d dims (at most %d)", n, QP_MAX_RANK);
    int neg = -1;
    size_t known = 1, total;
    if (qp_value_numel(x, &total))
        return QP_EINPUT;
    for (int d = 0; d < n; d++) {
        if (shape[d] == -1) {
            if (neg >= 0)
                return qp_op_error(g, ni, "target shape has more than one -1");
            neg = d;
            continue;
        }
        if (shape[d] < -1)
            return qp_op_error(g, ni, "target shape has dimension %lld", (long long)shape[d]);
        if (shape[d] == 0 && !allowzero) {
            if (d >= x->rank)
                return qp_op_error(g, ni, "target dim %d is 0 (copy) but the input has rank %d", d, x->rank);
            shape[d] = x->dims[d];
        }
        if (qp_mul_size(known, (size_t)shape[d], &known) || known > ((size_t)1 << 40))
            return qp_op_error(g, ni, "target shape overflows");
    }
    if (neg >= 0) {
        if (known == 0 || total % known)
            return qp_op_error(g, ni, "cannot infer the -1 dim: %zu elements into blocks of %zu", total, known);
        shape[neg] = (int64_t)(total / known);
    } else if (known != total)
        return qp_op_error(g, ni, "target shape has %zu elements, the input %zu", known, total);
    return qp_op_set_out(g, ni, 0, x->dtype, n, shape);
}

static int infer_flatten(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t axis;
    if (qp_op_attr_int(g, ni, "axis", 1, &axis))
        return QP_EINPUT;
    if (axis < -x->rank || axis > x->rank)
        return qp_op_error(g, ni, "attribute 'axis' is %lld, allowed [%d, %d]", (long long)axis, -x->rank, x->rank);
    if (axis < 0)
        axis += x->rank;
    int64_t dims[2] = {(int64_t)numel_dims((int)axis, x->dims),
                       (int64_t)numel_dims(x->rank - (int)axis, x->dims + axis)};
    return qp_op_set_out(g, ni, 0, x->dtype, 2, dims);
}

static int infer_squeeze(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t axes[QP_MAX_RANK], dims[QP_MAX_RANK];
    int n, r = 0;
    if (axes_param(g, ni, 1, 13, axes, &n) || norm_axes(g, ni, axes, n, x->rank))
        return QP_EINPUT;
    for (int d = 0; d < x->rank; d++) {
        int sq = 0;
        for (int i = 0; i < n; i++)
            sq |= axes[i] == d;
        if (n < 0)
            sq = x->dims[d] == 1;
        else if (sq && x->dims[d] != 1)
            return qp_op_error(g, ni, "cannot squeeze axis %d of size %lld", d, (long long)x->dims[d]);
        if (!sq)
            dims[r++] = x->dims[d];
    }
    return qp_op_set_out(g, ni, 0, x->dtype, r, dims);
}

static int infer_unsqueeze(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t axes[QP_MAX_RANK], dims[QP_MAX_RANK];
    int n;
    if (axes_param(g, ni, 1, 13, axes, &n))
        return QP_EINPUT;
    if (n < 0)
        return qp_op_error(g, ni, "axes are required");
    int r = x->rank + n;
    if (r > QP_MAX_RANK)
        return qp_op_error(g, ni, "output rank %d is above %d", r, QP_MAX_RANK);
    if (norm_axes(g, ni, axes, n, r))
        return QP_EINPUT;
    for (int d = 0, k = 0; d < r; d++) {
        int un = 0;
        for (int i = 0; i < n; i++)
            un |= axes[i] == d;
        dims[d] = un ? 1 : x->dims[k++];
    }
    return qp_op_set_out(g, ni, 0, x->dtype, r, dims);
}

/* ---- Shape, Size, ConstantOfShape ----------------------------------------------------------- */

static int shape_range(const qp_graph *g, int ni, int rank, int64_t *start, int64_t *end)
{
    if (qp_op_attr_int(g, ni, "start", 0, start) || qp_op_attr_int(g, ni, "end", rank, end))
        return QP_EINPUT;
    if (opset(g) < 15 && (qp_node_attr(&g->nodes[ni], "start") || qp_node_attr(&g->nodes[ni], "end")))
        return qp_op_error(g, ni, "attributes 'start' and 'end' need opset 15");
    if (*start < 0)
        *start += rank;
    if (*end < 0)
        *end += rank;
    *start = *start < 0 ? 0 : *start > rank ? rank : *start;
    *end = *end < 0 ? 0 : *end > rank ? rank : *end;
    if (*end < *start)
        *end = *start;
    return 0;
}

static int infer_shape(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t s, e;
    if (shape_range(g, ni, x->rank, &s, &e))
        return QP_EINPUT;
    int64_t n = e - s;
    return qp_op_set_out(g, ni, 0, QP_DT_I64, 1, &n);
}

static int run_shape(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                     qp_tensor *const *out, void *scratch)
{
    (void)prep, (void)scratch;
    int64_t s, e;
    shape_range(g, ni, in[0]->rank, &s, &e);
    if (e > s)
        memcpy(out[0]->data, in[0]->dims + s, (size_t)(e - s) * sizeof(int64_t));
    return 0;
}

static int infer_size(qp_graph *g, int ni)
{
    return qp_op_set_out(g, ni, 0, QP_DT_I64, 0, NULL);
}

static int run_size(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                    qp_tensor *const *out, void *scratch)
{
    (void)g, (void)ni, (void)prep, (void)scratch;
    int64_t n = (int64_t)numel_dims(in[0]->rank, in[0]->dims);
    memcpy(out[0]->data, &n, sizeof n);
    return 0;
}

static int constant_value(const qp_graph *g, int ni, const qp_tensor **t)
{
    if (qp_op_attr_tensor(g, ni, "value", t))
        return QP_EINPUT;
    if (*t) {
        if (qp_tensor_numel(*t) != 1 || !(*t)->data)
            return qp_op_error(g, ni, "attribute 'value' must hold one element");
        if (!qp_dtype_size((*t)->dtype))
            return qp_op_error(g, ni, "attribute 'value' has an unsupported type");
    }
    return 0;
}

static int infer_constantofshape(qp_graph *g, int ni)
{
    const qp_tensor *t;
    int64_t dims[QP_MAX_RANK + 1];
    int n;
    if (constant_value(g, ni, &t) || param_ints(g, ni, 0, "input", dims, QP_MAX_RANK + 1, &n))
        return QP_EINPUT;
    if (n > QP_MAX_RANK)
        return qp_op_error(g, ni, "output rank %d is above %d", n, QP_MAX_RANK);
    for (int d = 0; d < n; d++)
        if (dims[d] < 0)
            return qp_op_error(g, ni, "output dimension %d is %lld", d, (long long)dims[d]);
    return qp_op_set_out(g, ni, 0, t ? t->dtype : QP_DT_F32, n, dims);
}

static int run_constantofshape(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                               qp_tensor *const *out, void *scratch)
{
    (void)in, (void)prep, (void)scratch;
    const qp_tensor *t;
    static const float zero = 0;
    constant_value(g, ni, &t);
    qp_move_fill(qp_dtype_size(out[0]->dtype), numel_dims(out[0]->rank, out[0]->dims), t ? t->data : &zero,
                 out[0]->data);
    return 0;
}

/* ---- Transpose ------------------------------------------------------------------------------ */

static int transpose_perm(const qp_graph *g, int ni, int rank, int64_t *perm)
{
    const int64_t *p;
    int n;
    if (qp_op_attr_ints(g, ni, "perm", &n, &p))
        return QP_EINPUT;
    if (n < 0) {
        for (int d = 0; d < rank; d++)
            perm[d] = rank - 1 - d;
        return 0;
    }
    if (n != rank)
        return qp_op_error(g, ni, "attribute 'perm' has %d entries for rank %d", n, rank);
    int seen = 0;
    for (int d = 0; d < rank; d++) {
        if (p[d] < 0 || p[d] >= rank || (seen >> p[d] & 1))
            return qp_op_error(g, ni, "attribute 'perm' is not a permutation of 0..%d", rank - 1);
        seen |= 1 << p[d];
        perm[d] = p[d];
    }
    return 0;
}

static int infer_transpose(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t perm[QP_MAX_RANK], dims[QP_MAX_RANK];
    if (transpose_perm(g, ni, x->rank, perm))
        return QP_EINPUT;
    for (int d = 0; d < x->rank; d++)
        dims[d] = x->dims[perm[d]];
    return qp_op_set_out(g, ni, 0, x->dtype, x->rank, dims);
}

static int run_transpose(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                         qp_tensor *const *out, void *scratch)
{
    (void)prep, (void)scratch;
    const qp_tensor *x = in[0];
    int64_t perm[QP_MAX_RANK], xst[QP_MAX_RANK], xs[QP_MAX_RANK], ys[QP_MAX_RANK];
    transpose_perm(g, ni, x->rank, perm);
    strides_of(x->rank, x->dims, xst);
    strides_of(out[0]->rank, out[0]->dims, ys);
    for (int d = 0; d < x->rank; d++)
        xs[d] = xst[perm[d]];
    copy_strided(qp_dtype_size(x->dtype), x->rank, out[0]->dims, x->data, xs, out[0]->data, ys);
    return 0;
}

/* ---- Concat, Split -------------------------------------------------------------------------- */

static int infer_concat(qp_graph *g, int ni)
{
    const qp_node *n = &g->nodes[ni];
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t axis, dims[QP_MAX_RANK];
    if (qp_op_attr_need(g, ni, "axis") || qp_op_attr_int(g, ni, "axis", 0, &axis))
        return QP_EINPUT;
    int a = qp_op_axis(g, ni, axis, x->rank);
    if (a < 0)
        return QP_EINPUT;
    if (x->rank == 0)
        return qp_op_error(g, ni, "cannot concatenate scalars");
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 1; i < n->n_in; i++) {
        const qp_value *v = qp_op_in(g, ni, i);
        if (!v)
            return qp_op_error(g, ni, "input %d is missing", i);
        if (v->dtype != x->dtype || v->rank != x->rank)
            return qp_op_error(g, ni, "input %d is %s of rank %d, input 0 %s of rank %d", i, dt_name(v->dtype),
                               v->rank, dt_name(x->dtype), x->rank);
        for (int d = 0; d < x->rank; d++)
            if (d != a && v->dims[d] != x->dims[d])
                return qp_op_error(g, ni, "input %d has dim %d = %lld, input 0 has %lld", i, d,
                                   (long long)v->dims[d], (long long)x->dims[d]);
        dims[a] += v->dims[a];
    }
    return qp_op_set_out(g, ni, 0, x->dtype, x->rank, dims);
}

static int run_concat(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                      qp_tensor *const *out, void *scratch)
{
    (void)prep, (void)scratch;
    const qp_tensor *y = out[0];
    int64_t axis;
    qp_op_attr_int(g, ni, "axis", 0, &axis);
    int a = (int)(axis < 0 ? axis + y->rank : axis);
    size_t es = qp_dtype_size(y->dtype);
    int64_t outer = (int64_t)numel_dims(a, y->dims), inner = (int64_t)numel_dims(y->rank - a - 1, y->dims + a + 1);
    int64_t off = 0;
    for (int i = 0; i < g->nodes[ni].n_in; i++) {
        int64_t w = in[i]->dims[a] * inner;
        int64_t dims[2] = {outer, w}, xs[2] = {w, 1}, ys[2] = {y->dims[a] * inner, 1};
        copy_strided(es, 2, dims, in[i]->data, xs, (char *)y->data + (size_t)off * es, ys);
        off += w;
    }
    return 0;
}

static int split_plan(const qp_graph *g, int ni, int *axis, int64_t *sizes)
{
    const qp_node *n = &g->nodes[ni];
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t ax;
    int cnt;
    if (qp_op_attr_int(g, ni, "axis", 0, &ax) || (*axis = qp_op_axis(g, ni, ax, x->rank)) < 0)
        return QP_EINPUT;
    if (qp_node_attr(&g->nodes[ni], "num_outputs"))
        return qp_op_error(g, ni, "attribute 'num_outputs' (opset 18) is not supported");
    if (opset(g) < 13) {
        const int64_t *v;
        if (n->n_in > 1)
            return qp_op_error(g, ni, "split is an attribute before opset 13, not an input");
        if (qp_op_attr_ints(g, ni, "split", &cnt, &v))
            return QP_EINPUT;
        if (cnt > QP_MAX_IO)
            return qp_op_error(g, ni, "attribute 'split' has %d entries", cnt);
        if (cnt > 0)
            memcpy(sizes, v, sizeof(int64_t) * (size_t)cnt);
    } else {
        if (qp_node_attr(&g->nodes[ni], "split"))
            return qp_op_error(g, ni, "split is an input from opset 13, not an attribute");
        if (param_ints(g, ni, 1, "split", sizes, QP_MAX_IO, &cnt))
            return QP_EINPUT;
    }
    int64_t dim = x->dims[*axis];
    if (cnt < 0) {
        if (dim % n->n_out)
            return qp_op_error(g, ni, "axis %d of size %lld does not split into %d equal parts", *axis,
                               (long long)dim, n->n_out);
        for (int i = 0; i < n->n_out; i++)
            sizes[i] = dim / n->n_out;
        return 0;
    }
    if (cnt != n->n_out)
        return qp_op_error(g, ni, "split has %d entries for %d outputs", cnt, n->n_out);
    int64_t sum = 0;
    for (int i = 0; i < cnt; i++) {
        if (sizes[i] < 0 || sizes[i] > dim)
            return qp_op_error(g, ni, "split entry %d is %lld", i, (long long)sizes[i]);
        sum += sizes[i];
    }
    if (sum != dim)
        return qp_op_error(g, ni, "split sums to %lld, axis %d has size %lld", (long long)sum, *axis, (long long)dim);
    return 0;
}

static int infer_split(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t sizes[QP_MAX_IO], dims[QP_MAX_RANK];
    int axis;
    if (split_plan(g, ni, &axis, sizes))
        return QP_EINPUT;
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 0; i < g->nodes[ni].n_out; i++) {
        dims[axis] = sizes[i];
        if (qp_op_set_out(g, ni, i, x->dtype, x->rank, dims))
            return QP_EINPUT;
    }
    return 0;
}

static int run_split(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                     qp_tensor *const *out, void *scratch)
{
    (void)prep, (void)scratch;
    const qp_tensor *x = in[0];
    int64_t sizes[QP_MAX_IO];
    int a;
    split_plan(g, ni, &a, sizes);
    size_t es = qp_dtype_size(x->dtype);
    int64_t outer = (int64_t)numel_dims(a, x->dims), inner = (int64_t)numel_dims(x->rank - a - 1, x->dims + a + 1);
    int64_t off = 0;
    for (int i = 0; i < g->nodes[ni].n_out; i++) {
        int64_t w = sizes[i] * inner;
        if (out[i]) {
            int64_t dims[2] = {outer, w}, xs[2] = {x->dims[a] * inner, 1}, ys[2] = {w, 1};
            copy_strided(es, 2, dims, (const char *)x->data + (size_t)off * es, xs, out[i]->data, ys);
        }
        off += w;
    }
    return 0;
}

/* ---- Slice ---------------------------------------------------------------------------------- */

struct slice_plan { int64_t start[QP_MAX_RANK], step[QP_MAX_RANK], len[QP_MAX_RANK]; };

static int slice_plan(const qp_graph *g, int ni, struct slice_plan *p)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int r = x->rank;
    int64_t starts[QP_MAX_RANK], ends[QP_MAX_RANK], axes[QP_MAX_RANK], steps[QP_MAX_RANK];
    int ns, ne, na, nt = -1;
    if (opset(g) < 10) {
        const int64_t *v;
        if (g->nodes[ni].n_in > 1)
            return qp_op_error(g, ni, "starts/ends are attributes before opset 10, not inputs");
        if (qp_op_attr_need(g, ni, "starts") || qp_op_attr_need(g, ni, "ends"))
            return QP_EINPUT;
        if (qp_op_attr_ints(g, ni, "starts", &ns, &v))
            return QP_EINPUT;
        if (ns > QP_MAX_RANK)
            return qp_op_error(g, ni, "attribute 'starts' has %d entries", ns);
        memcpy(starts, v, sizeof(int64_t) * (size_t)ns);
        if (qp_op_attr_ints(g, ni, "ends", &ne, &v))
            return QP_EINPUT;
        if (ne > QP_MAX_RANK)
            return qp_op_error(g, ni, "attribute 'ends' has %d entries", ne);
        memcpy(ends, v, sizeof(int64_t) * (size_t)ne);
        if (qp_op_attr_ints(g, ni, "axes", &na, &v))
            return QP_EINPUT;
        if (na > QP_MAX_RANK)
            return qp_op_error(g, ni, "attribute 'axes' has %d entries", na);
        if (na > 0)
            memcpy(axes, v, sizeof(int64_t) * (size_t)na);
    } else {
        const qp_node *n = &g->nodes[ni];
        for (int a = 0; a < n->n_attr; a++)
            if (!strcmp(n->attr[a].name, "starts") || !strcmp(n->attr[a].name, "ends") ||
                !strcmp(n->attr[a].name, "axes"))
                return qp_op_error(g, ni, "'%s' is an input from opset 10, not an attribute", n->attr[a].name);
        if (!qp_op_in(g, ni, 1) || !qp_op_in(g, ni, 2))
            return qp_op_error(g, ni, "inputs 'starts' and 'ends' are required");
        if (param_ints(g, ni, 1, "starts", starts, QP_MAX_RANK, &ns) ||
            param_ints(g, ni, 2, "ends", ends, QP_MAX_RANK, &ne) ||
            param_ints(g, ni, 3, "axes", axes, QP_MAX_RANK, &na) ||
            param_ints(g, ni, 4, "steps", steps, QP_MAX_RANK, &nt))
            return QP_EINPUT;
    }
    if (ns != ne)
        return qp_op_error(g, ni, "%d starts but %d ends", ns, ne);
    if (na < 0) {
        if (ns > r)
            return qp_op_error(g, ni, "%d starts for rank %d", ns, r);
        na = ns;
        for (int i = 0; i < na; i++)
            axes[i] = i;
    }
    if (na != ns || (nt >= 0 && nt != ns))
        return qp_op_error(g, ni, "starts, ends, axes and steps differ in length");
    if (norm_axes(g, ni, axes, na, r))
        return QP_EINPUT;
    for (int d = 0; d < r; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        p->len[d] = x->dims[d];
    }
    for (int i = 0; i < ns; i++) {
        int d = (int)axes[i];
        int64_t dim = x->dims[d], st = nt >= 0 ? steps[i] : 1, s = starts[i], e = ends[i];
        if (st == 0)
            return qp_op_error(g, ni, "step for axis %d is 0", d);
        if (s < 0)
            s += dim;
        if (e < 0)
            e += dim;
        int64_t len;
        if (st > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            if (st > dim)
                st = dim > 0 ? dim : 1;     /* at most one element: same result, no overflow */
            len = e > s ? (e - s - 1) / st + 1 : 0;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            if (st < -dim)
                st = dim > 0 ? -dim : -1;
            len = s > e ? (s - e - 1) / -st + 1 : 0;
        }
        p->start[d] = len > 0 ? s : 0;
        p->step[d] = st;
        p->len[d] = len;
    }
    return 0;
}

static int infer_slice(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    struct slice_plan p;
    if (slice_plan(g, ni, &p))
        return QP_EINPUT;
    return qp_op_set_out(g, ni, 0, x->dtype, x->rank, p.len);
}

static int run_slice(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                     qp_tensor *const *out, void *scratch)
{
    (void)prep, (void)scratch;
    const qp_tensor *x = in[0];
    struct slice_plan p;
    slice_plan(g, ni, &p);
    int64_t xst[QP_MAX_RANK], xs[QP_MAX_RANK], ys[QP_MAX_RANK], off = 0;
    strides_of(x->rank, x->dims, xst);
    strides_of(x->rank, p.len, ys);
    for (int d = 0; d < x->rank; d++) {
        off += p.start[d] * xst[d];
        xs[d] = p.step[d] * xst[d];
    }
    size_t es = qp_dtype_size(x->dtype);
    if (numel_dims(x->rank, p.len) == 0)
        return 0;
    copy_strided(es, x->rank, p.len, (const char *)x->data + off * (int64_t)es, xs, out[0]->data, ys);
    return 0;
}

/* ---- Gather --------------------------------------------------------------------------------- */

static int infer_gather(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0), *idx = qp_op_in(g, ni, 1);
    int64_t axis, dims[QP_MAX_RANK + QP_MAX_RANK];
    if (qp_op_attr_int(g, ni, "axis", 0, &axis))
        return QP_EINPUT;
    if (x->rank == 0)
        return qp_op_error(g, ni, "cannot gather from a scalar");
    int a = qp_op_axis(g, ni, axis, x->rank);
    if (a < 0)
        return QP_EINPUT;
    if (idx->dtype != QP_DT_I64 && idx->dtype != QP_DT_I32)
        return qp_op_error(g, ni, "indices are %s, expected int32 or int64", dt_name(idx->dtype));
    int r = x->rank - 1 + idx->rank;
    if (r > QP_MAX_RANK)
        return qp_op_error(g, ni, "output rank %d is above %d", r, QP_MAX_RANK);
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)a);
    memcpy(dims + a, idx->dims, sizeof(int64_t) * (size_t)idx->rank);
    memcpy(dims + a + idx->rank, x->dims + a + 1, sizeof(int64_t) * (size_t)(x->rank - a - 1));
    if (idx->is_const) {
        /* constant indices are checked now, so a bad model fails at import */
        int64_t probe;
        size_t n;
        qp_value_numel(idx, &n);
        for (size_t j = 0; j < n; j++) {
            if (idx->dtype == QP_DT_I64)
                memcpy(&probe, (const char *)idx->data + 8 * j, 8);
            else {
                int32_t v;
                memcpy(&v, (const char *)idx->data + 4 * j, 4);
                probe = v;
            }
            if (probe < -x->dims[a] || probe >= x->dims[a])
                return qp_op_error(g, ni, "index %lld is out of range for axis %d of size %lld", (long long)probe,
                                   a, (long long)x->dims[a]);
        }
    }
    return qp_op_set_out(g, ni, 0, x->dtype, r, dims);
}

static int run_gather(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                      qp_tensor *const *out, void *scratch)
{
    (void)prep, (void)scratch;
    const qp_tensor *x = in[0], *idx = in[1];
    int64_t axis;
    qp_op_attr_int(g, ni, "axis", 0, &axis);
    int a = (int)(axis < 0 ? axis + x->rank : axis);
    size_t outer = numel_dims(a, x->dims), inner = numel_dims(x->rank - a - 1, x->dims + a + 1);
    int64_t bad = qp_move_gather(qp_dtype_size(x->dtype), outer, (size_t)x->dims[a], inner, x->data, idx->data,
                                 idx->dtype == QP_DT_I64, numel_dims(idx->rank, idx->dims), out[0]->data);
    if (bad)
        return qp_op_error(g, ni, "index %lld is out of range for axis %d of size %lld", (long long)(-1 - bad), a,
                           (long long)x->dims[a]);
    return 0;
}

/* ---- Expand, Tile --------------------------------------------------------------------------- */

static int infer_expand(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t shape[QP_MAX_RANK + 1], dims[QP_MAX_RANK];
    int n, r;
    if (param_ints(g, ni, 1, "shape", shape, QP_MAX_RANK + 1, &n))
        return QP_EINPUT;
    if (n > QP_MAX_RANK)
        return qp_op_error(g, ni, "shape has %d dims (at most %d)", n, QP_MAX_RANK);
    for (int d = 0; d < n; d++)
        if (shape[d] < 0)
            return qp_op_error(g, ni, "shape has dimension %lld", (long long)shape[d]);
    if (qp_op_broadcast(g, ni, x->rank, x->dims, n, shape, &r, dims))
        return QP_EINPUT;
    return qp_op_set_out(g, ni, 0, x->dtype, r, dims);
}

/* x broadcast to y's shape (numpy rules, right-aligned) */
static void broadcast_copy(const qp_tensor *x, qp_tensor *y)
{
    int64_t xst[QP_MAX_RANK], xs[QP_MAX_RANK], ys[QP_MAX_RANK];
    strides_of(x->rank, x->dims, xst);
    strides_of(y->rank, y->dims, ys);
    for (int d = 0; d < y->rank; d++) {
        int k = d - (y->rank - x->rank);
        xs[d] = k >= 0 && x->dims[k] != 1 ? xst[k] : 0;
    }
    copy_strided(qp_dtype_size(x->dtype), y->rank, y->dims, x->data, xs, y->data, ys);
}

static int run_expand(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                      qp_tensor *const *out, void *scratch)
{
    (void)g, (void)ni, (void)prep, (void)scratch;
    broadcast_copy(in[0], out[0]);
    return 0;
}

static int infer_tile(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t rep[QP_MAX_RANK], dims[QP_MAX_RANK];
    int n;
    if (param_ints(g, ni, 1, "repeats", rep, QP_MAX_RANK, &n))
        return QP_EINPUT;
    if (n != x->rank)
        return qp_op_error(g, ni, "%d repeats for rank %d", n, x->rank);
    for (int d = 0; d < n; d++) {
        if (rep[d] < 0)
            return qp_op_error(g, ni, "repeat %d is %lld", d, (long long)rep[d]);
        if (rep[d] && x->dims[d] > INT64_MAX / rep[d])
            return qp_op_error(g, ni, "output size overflows");
        dims[d] = x->dims[d] * rep[d];
    }
    return qp_op_set_out(g, ni, 0, x->dtype, n, dims);
}

static int run_tile(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                    qp_tensor *const *out, void *scratch)
{
    (void)g, (void)ni, (void)prep, (void)scratch;
    const qp_tensor *x = in[0], *y = out[0];
    int r = x->rank;
    int64_t xst[QP_MAX_RANK], yst[QP_MAX_RANK], dims[2 * QP_MAX_RANK], xs[2 * QP_MAX_RANK], ys[2 * QP_MAX_RANK];
    strides_of(r, x->dims, xst);
    strides_of(r, y->dims, yst);
    for (int d = 0; d < r; d++) {
        dims[2 * d] = x->dims[d] ? y->dims[d] / x->dims[d] : 0;
        dims[2 * d + 1] = x->dims[d];
        xs[2 * d] = 0;
        xs[2 * d + 1] = xst[d];
        ys[2 * d] = x->dims[d] * yst[d];
        ys[2 * d + 1] = yst[d];
    }
    if (r == 0) {
        memcpy(y->data, x->data, qp_dtype_size(x->dtype));
        return 0;
    }
    copy_strided(qp_dtype_size(x->dtype), 2 * r, dims, x->data, xs, y->data, ys);
    return 0;
}

/* ---- Pad ------------------------------------------------------------------------------------ */

struct pad_plan { qp_pad_mode mode; int64_t begin[QP_MAX_RANK], dims[QP_MAX_RANK]; float value; };

static int pad_plan(const qp_graph *g, int ni, struct pad_plan *p)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    const char *mode;
    int64_t pads[2 * QP_MAX_RANK];
    int n, r = x->rank;
    if (qp_op_attr_string(g, ni, "mode", "constant", &mode))
        return QP_EINPUT;
    if (!strcmp(mode, "constant"))
        p->mode = QP_PAD_CONSTANT;
    else if (!strcmp(mode, "reflect"))
        p->mode = QP_PAD_REFLECT;
    else if (!strcmp(mode, "edge"))
        p->mode = QP_PAD_EDGE;
    else
        return qp_op_error(g, ni, "attribute 'mode' is '%s', expected constant, reflect or edge", mode);
    p->value = 0;
    if (opset(g) < 11) {
        const int64_t *v;
        if (g->nodes[ni].n_in > 1)
            return qp_op_error(g, ni, "pads is an attribute before opset 11, not an input");
        if (qp_op_attr_need(g, ni, "pads") || qp_op_attr_ints(g, ni, "pads", &n, &v) ||
            qp_op_attr_float(g, ni, "value", 0.0f, &p->value))
            return QP_EINPUT;
        if (n > 2 * QP_MAX_RANK)
            return qp_op_error(g, ni, "attribute 'pads' has %d entries for rank %d", n, r);
        memcpy(pads, v, sizeof(int64_t) * (size_t)n);
    } else {
        if (qp_node_attr(&g->nodes[ni], "pads") || qp_node_attr(&g->nodes[ni], "value"))
            return qp_op_error(g, ni, "pads and the value are inputs from opset 11, not attributes");
        if (!qp_op_in(g, ni, 1))
            return qp_op_error(g, ni, "input 'pads' is required");
        if (param_ints(g, ni, 1, "pads", pads, 2 * QP_MAX_RANK, &n))
            return QP_EINPUT;
        const qp_value *c = qp_op_in(g, ni, 2);
        size_t cn;
        if (c && (c->dtype != x->dtype || qp_value_numel(c, &cn) || cn != 1))
            return qp_op_error(g, ni, "constant_value must be one %s", dt_name(x->dtype));
    }
    if (n != 2 * r)
        return qp_op_error(g, ni, "%d pads for rank %d (expected %d)", n, r, 2 * r);
    for (int d = 0; d < r; d++) {
        int64_t b = pads[d], e = pads[d + r];
        /* negative pads crop; the result must not be negative */
        if (b < -x->dims[d] || e < -x->dims[d] || x->dims[d] + b + e < 0 || b > ((int64_t)1 << 40) ||
            e > ((int64_t)1 << 40))
            return qp_op_error(g, ni, "pads %lld, %lld do not fit axis %d of size %lld", (long long)b, (long long)e,
                               d, (long long)x->dims[d]);
        p->begin[d] = b;
        p->dims[d] = x->dims[d] + b + e;
        if (p->mode != QP_PAD_CONSTANT && x->dims[d] == 0 && p->dims[d] > 0)
            return qp_op_error(g, ni, "cannot %s-pad the empty axis %d", mode, d);
    }
    return 0;
}

static int infer_pad(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    struct pad_plan p;
    if (pad_plan(g, ni, &p))
        return QP_EINPUT;
    if (!qp_dtype_size(x->dtype) || (opset(g) < 11 && x->dtype != QP_DT_F32 && x->dtype != QP_DT_F64))
        return qp_op_error(g, ni, "input type %s is not supported", dt_name(x->dtype));
    return qp_op_set_out(g, ni, 0, x->dtype, x->rank, p.dims);
}

static int prepare_pad(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep)
{
    (void)a;
    struct pad_plan p;
    if (pad_plan(g, ni, &p))
        return QP_EINPUT;
    prep->scratch = qp_move_pad_scratch_size(qp_op_in(g, ni, 0)->rank, p.dims);
    return 0;
}

static int run_pad(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                   qp_tensor *const *out, void *scratch)
{
    (void)prep;
    const qp_tensor *x = in[0];
    struct pad_plan p;
    pad_plan(g, ni, &p);
    unsigned char value[16] = {0};
    if (opset(g) < 11)
        qp_elt_cast(1, &p.value, QP_DT_F32, value, x->dtype);
    else if (g->nodes[ni].n_in > 2 && in[2])
        memcpy(value, in[2]->data, qp_dtype_size(x->dtype));
    qp_move_pad(qp_dtype_size(x->dtype), p.mode, x->rank, x->dims, out[0]->dims, p.begin, value, x->data,
                out[0]->data, scratch, 0, 1);
    return 0;
}

/* ---- Resize, Upsample ----------------------------------------------------------------------- */

static int resize_plan(const qp_graph *g, int ni, qp_resize_params *p)
{
    const qp_node *n = &g->nodes[ni];
    const qp_value *x = qp_op_in(g, ni, 0);
    int r = x->rank, upsample = !strcmp(n->op_type, "Upsample"), old = upsample || opset(g) < 11;
    const char *mode, *coord = "asymmetric", *nearest = "simple";
    float scales[QP_MAX_RANK], roi[2 * QP_MAX_RANK];
    int64_t sizes[QP_MAX_RANK];
    int ns = -1, nz = -1, nr = -1;
    memset(p, 0, sizeof *p);
    if (r < 1 || r > QP_RESIZE_MAX_RANK)
        return qp_op_error(g, ni, "input rank %d is not supported", r);
    if (qp_op_attr_string(g, ni, "mode", "nearest", &mode))
        return QP_EINPUT;
    p->cubic_a = -0.75f;
    if (!old) {
        int64_t excl;
        if (qp_op_attr_string(g, ni, "coordinate_transformation_mode", "half_pixel", &coord) ||
            qp_op_attr_string(g, ni, "nearest_mode", "round_prefer_floor", &nearest) ||
            qp_op_attr_float(g, ni, "cubic_coeff_a", -0.75f, &p->cubic_a) ||
            qp_op_attr_int(g, ni, "exclude_outside", 0, &excl))
            return QP_EINPUT;
        p->exclude_outside = excl != 0;
        static const char *const ignored[] = {"antialias", "axes", "keep_aspect_ratio_policy"};
        for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
            if (qp_node_attr(n, ignored[i]))
                return qp_op_error(g, ni, "attribute '%s' (opset 18) is not supported", ignored[i]);
    }
    if (!strcmp(mode, "nearest"))
        p->mode = QP_RESIZE_NEAREST;
    else if (!strcmp(mode, "linear") || (upsample && (!strcmp(mode, "bilinear") || !strcmp(mode, "trilinear"))))
        p->mode = QP_RESIZE_LINEAR;
    else if (!strcmp(mode, "cubic") && !old)
        p->mode = QP_RESIZE_CUBIC;
    else
        return qp_op_error(g, ni, "attribute 'mode' is '%s', expected nearest, linear%s", mode,
                           old ? "" : " or cubic");
    static const char *const coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                         "tf_half_pixel_for_nearest", "tf_crop_and_resize"};
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"};
    int c = -1, m = -1;
    for (int i = 0; i < 6; i++)
        if (!strcmp(coord, coords[i]))
            c = i;
    if (!strcmp(coord, "tf_half_pixel_for_nn"))     /* its name in onnx <= 1.12 test models */
        c = QP_RESIZE_TF_HALF_PIXEL_FOR_NN;
    for (int i = 0; i < (old ? 5 : 4); i++)
        if (!strcmp(nearest, nearests[i]))
            m = i;
    if (c < 0)
        return qp_op_error(g, ni, "attribute 'coordinate_transformation_mode' is '%s'", coord);
    if (m < 0)
        return qp_op_error(g, ni, "attribute 'nearest_mode' is '%s'", nearest);
    p->coord = (qp_resize_coord)c;
    p->nearest = (qp_resize_nearest)m;
    if (upsample && opset(g) < 9) {
        const float *v;
        if (n->n_in > 1)
            return qp_op_error(g, ni, "scales is an attribute before opset 9, not an input");
        if (qp_op_attr_need(g, ni, "scales") || qp_op_attr_floats(g, ni, "scales", &ns, &v))
            return QP_EINPUT;
        if (ns > QP_MAX_RANK)
            return qp_op_error(g, ni, "attribute 'scales' has %d entries", ns);
        memcpy(scales, v, sizeof(float) * (size_t)ns);
    } else if (old) {
        if (!qp_op_in(g, ni, 1))
            return qp_op_error(g, ni, "input 'scales' is required");
        if (param_floats(g, ni, 1, "scales", scales, QP_MAX_RANK, &ns))
            return QP_EINPUT;
    } else {
        if ((p->coord == QP_RESIZE_TF_CROP_AND_RESIZE &&
             param_floats(g, ni, 1, "roi", roi, 2 * QP_MAX_RANK, &nr)) ||
            param_floats(g, ni, 2, "scales", scales, QP_MAX_RANK, &ns) ||
            param_ints(g, ni, 3, "sizes", sizes, QP_MAX_RANK, &nz))
            return QP_EINPUT;
        if (ns == 0)
            ns = -1;    /* an empty tensor stands for "not given" */
        if (nz == 0)
            nz = -1;
        if ((ns >= 0) == (nz >= 0))
            return qp_op_error(g, ni, "exactly one of 'scales' and 'sizes' must be given");
    }
    if ((ns >= 0 && ns != r) || (nz >= 0 && nz != r))
        return qp_op_error(g, ni, "%d %s for rank %d", ns >= 0 ? ns : nz, ns >= 0 ? "scales" : "sizes", r);
    int crop = p->coord == QP_RESIZE_TF_CROP_AND_RESIZE;
    if (crop && nr != 2 * r)
        return qp_op_error(g, ni, "tf_crop_and_resize needs %d roi values, got %d", 2 * r, nr < 0 ? 0 : nr);
    float extrap;
    if (qp_op_attr_float(g, ni, "extrapolation_value", 0.0f, &extrap))
        return QP_EINPUT;
    p->rank = r;
    for (int d = 0; d < r; d++) {
        p->in[d] = x->dims[d];
        p->roi_start[d] = crop ? roi[d] : 0;
        p->roi_end[d] = crop ? roi[d + r] : 1;
        if (ns >= 0) {
            if (!(scales[d] > 0) || !isfinite(scales[d]))
                return qp_op_error(g, ni, "scale %d is %g, must be positive", d, (double)scales[d]);
            double len = (double)x->dims[d] * (crop ? p->roi_end[d] - p->roi_start[d] : 1) * scales[d];
            if (!(len < (double)((int64_t)1 << 40)))
                return qp_op_error(g, ni, "output dimension %d is too large", d);
            p->out[d] = len > 0 ? (int64_t)floor(len) : 0;
            p->scale[d] = scales[d];
        } else {
            if (sizes[d] < 0 || sizes[d] > ((int64_t)1 << 40))
                return qp_op_error(g, ni, "size %d is %lld", d, (long long)sizes[d]);
            p->out[d] = sizes[d];
            p->scale[d] = x->dims[d] ? (double)sizes[d] / (double)x->dims[d] : 1;
            if (p->scale[d] == 0)
                p->scale[d] = 1;
        }
        if (x->dims[d] == 0 && p->out[d] > 0)
            return qp_op_error(g, ni, "cannot resize the empty axis %d to %lld", d, (long long)p->out[d]);
    }
    return 0;
}

static int infer_resize(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    qp_resize_params p;
    if (resize_plan(g, ni, &p))
        return QP_EINPUT;
    if (p.mode != QP_RESIZE_NEAREST && x->dtype != QP_DT_F32)
        return qp_op_error(g, ni, "%s resize of %s is not supported (float32 only)",
                           p.mode == QP_RESIZE_LINEAR ? "linear" : "cubic", dt_name(x->dtype));
    if (!qp_dtype_size(x->dtype) || !qp_elt_cast_supported(QP_DT_F32, x->dtype))
        return qp_op_error(g, ni, "input type %s is not supported", dt_name(x->dtype));
    return qp_op_set_out(g, ni, 0, x->dtype, x->rank, p.out);
}

static int prepare_resize(const qp_graph *g, int ni, qp_arena *a, qp_op_prep *prep)
{
    (void)a;
    qp_resize_params p;
    if (resize_plan(g, ni, &p))
        return QP_EINPUT;
    prep->scratch = qp_move_resize_scratch_size(&p);
    return 0;
}

static int run_resize(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                      qp_tensor *const *out, void *scratch)
{
    (void)prep;
    qp_resize_params p;
    float extrap;
    unsigned char ev[16] = {0};
    resize_plan(g, ni, &p);
    qp_op_attr_float(g, ni, "extrapolation_value", 0.0f, &extrap);
    qp_elt_cast(1, &extrap, QP_DT_F32, ev, in[0]->dtype);
    qp_move_resize(&p, qp_dtype_size(in[0]->dtype), ev, in[0]->data, out[0]->data, scratch);
    return 0;
}

/* ---- DepthToSpace, SpaceToDepth ------------------------------------------------------------- */

/* The rank-6 view and permutation that move the data: in dims v, output = transpose(v, perm). */
static int d2s_plan(const qp_graph *g, int ni, int64_t *v, int64_t *perm, int64_t *odims)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int d2s = !strcmp(g->nodes[ni].op_type, "DepthToSpace");
    int64_t b;
    const char *mode = "DCR";
    if (qp_op_attr_need(g, ni, "blocksize") || qp_op_attr_int(g, ni, "blocksize", 0, &b))
        return QP_EINPUT;
    if (d2s && qp_op_attr_string(g, ni, "mode", "DCR", &mode))
        return QP_EINPUT;
    if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
        return qp_op_error(g, ni, "attribute 'mode' is '%s', expected DCR or CRD", mode);
    if (b <= 0 || b > 65536)
        return qp_op_error(g, ni, "attribute 'blocksize' is %lld", (long long)b);
    if (x->rank != 4)
        return qp_op_error(g, ni, "input rank is %d, expected 4", x->rank);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (d2s) {
        if (C % (b * b))
            return qp_op_error(g, ni, "channels %lld are not a multiple of blocksize^2 = %lld", (long long)C,
                               (long long)(b * b));
        int64_t c = C / (b * b);
        if (!strcmp(mode, "DCR")) {
            int64_t vv[6] = {N, b, b, c, H, W}, pp[6] = {0, 3, 4, 1, 5, 2};
            memcpy(v, vv, sizeof vv);
            memcpy(perm, pp, sizeof pp);
        } else {
            int64_t vv[6] = {N, c, b, b, H, W}, pp[6] = {0, 1, 4, 2, 5, 3};
            memcpy(v, vv, sizeof vv);
            memcpy(perm, pp, sizeof pp);
        }
        int64_t o[4] = {N, c, H * b, W * b};
        memcpy(odims, o, sizeof o);
    } else {
        if (H % b || W % b)
            return qp_op_error(g, ni, "height %lld and width %lld are not multiples of blocksize %lld", (long long)H,
                               (long long)W, (long long)b);
        int64_t vv[6] = {N, C, H / b, b, W / b, b}, pp[6] = {0, 3, 5, 1, 2, 4};
        memcpy(v, vv, sizeof vv);
        memcpy(perm, pp, sizeof pp);
        int64_t o[4] = {N, C * b * b, H / b, W / b};
        memcpy(odims, o, sizeof o);
    }
    return 0;
}

static int infer_d2s(qp_graph *g, int ni)
{
    int64_t v[6], perm[6], odims[4];
    if (d2s_plan(g, ni, v, perm, odims))
        return QP_EINPUT;
    return qp_op_set_out(g, ni, 0, qp_op_in(g, ni, 0)->dtype, 4, odims);
}

static int run_d2s(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                   qp_tensor *const *out, void *scratch)
{
    (void)prep, (void)scratch;
    int64_t v[6], perm[6], odims[4], vst[6], dims[6], xs[6], ys[6];
    d2s_plan(g, ni, v, perm, odims);
    strides_of(6, v, vst);
    for (int d = 0; d < 6; d++) {
        dims[d] = v[perm[d]];
        xs[d] = vst[perm[d]];
    }
    strides_of(6, dims, ys);
    copy_strided(qp_dtype_size(in[0]->dtype), 6, dims, in[0]->data, xs, out[0]->data, ys);
    return 0;
}

/* ---- ArgMax, ArgMin ------------------------------------------------------------------------- */

static int arg_plan(const qp_graph *g, int ni, int *axis, int64_t *keep, int64_t *last)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int64_t a;
    if (qp_op_attr_int(g, ni, "axis", 0, &a) || qp_op_attr_int(g, ni, "keepdims", 1, keep) ||
        qp_op_attr_int(g, ni, "select_last_index", 0, last))
        return QP_EINPUT;
    if (x->rank == 0)
        return qp_op_error(g, ni, "input is a scalar");
    if ((*axis = qp_op_axis(g, ni, a, x->rank)) < 0)
        return QP_EINPUT;
    if (x->dims[*axis] == 0)
        return qp_op_error(g, ni, "axis %d is empty", *axis);
    return 0;
}

static int infer_arg(qp_graph *g, int ni)
{
    const qp_value *x = qp_op_in(g, ni, 0);
    int axis;
    int64_t keep, last, dims[QP_MAX_RANK];
    if (arg_plan(g, ni, &axis, &keep, &last))
        return QP_EINPUT;
    if (!qp_elt_argminmax_supported(x->dtype))
        return qp_op_error(g, ni, "input type %s is not supported", dt_name(x->dtype));
    int r = 0;
    for (int d = 0; d < x->rank; d++)
        if (d != axis)
            dims[r++] = x->dims[d];
        else if (keep)
            dims[r++] = 1;
    return qp_op_set_out(g, ni, 0, QP_DT_I64, r, dims);
}

static int run_arg(const qp_graph *g, int ni, const qp_op_prep *prep, const qp_tensor *const *in,
                   qp_tensor *const *out, void *scratch)
{
    (void)prep, (void)scratch;
    const qp_tensor *x = in[0];
    int axis;
    int64_t keep, last;
    arg_plan(g, ni, &axis, &keep, &last);
    qp_elt_argminmax__ref(x->dtype, !strcmp(g->nodes[ni].op_type, "ArgMin"), last != 0, numel_dims(axis, x->dims),
                          (size_t)x->dims[axis], numel_dims(x->rank - axis - 1, x->dims + axis + 1), x->data,
                          out[0]->data);
    return 0;
}

/* ---- plans for the quantized rules (qp/tensor.h) ------------------------------------------- */

int qp_tensor_pad_plan(const qp_graph *g, int ni, qp_tensor_pad *out)
{
    struct pad_plan p;
    memset(&p, 0, sizeof p);
    int rc = pad_plan(g, ni, &p);
    memset(out, 0, sizeof *out);
    out->mode = p.mode;
    memcpy(out->begin, p.begin, sizeof out->begin);
    memcpy(out->dims, p.dims, sizeof out->dims);
    out->value = p.value;
    return rc;
}

int qp_tensor_resize_plan(const qp_graph *g, int ni, qp_resize_params *p)
{
    return resize_plan(g, ni, p);
}

/* ---- the table ------------------------------------------------------------------------------ */

const qp_op qp_ops_tensor[] = {
    {"Reshape", 2, 2, 1, 1, 1u << 1, 0, infer_reshape, NULL, run_copy},
    {"Flatten", 1, 1, 1, 1, 0, 0, infer_flatten, NULL, run_copy},
    {"Squeeze", 1, 2, 1, 1, 1u << 1, 0, infer_squeeze, NULL, run_copy},
    {"Unsqueeze", 1, 2, 1, 1, 1u << 1, 0, infer_unsqueeze, NULL, run_copy},
    {"Transpose", 1, 1, 1, 1, 0, 0, infer_transpose, NULL, run_transpose},
    {"Concat", 1, QP_MAX_IO, 1, 1, 0, 0, infer_concat, NULL, run_concat},
    {"Split", 1, 2, 1, QP_MAX_IO, 1u << 1, 0, infer_split, NULL, run_split},
    {"Slice", 1, 5, 1, 1, 0x1eu, 0, infer_slice, NULL, run_slice},
    {"Gather", 2, 2, 1, 1, 0, 0, infer_gather, NULL, run_gather},
    {"Shape", 1, 1, 1, 1, 0, 0, infer_shape, NULL, run_shape},
    {"Size", 1, 1, 1, 1, 0, 0, infer_size, NULL, run_size},
    {"ConstantOfShape", 1, 1, 1, 1, 1u << 0, 0, infer_constantofshape, NULL, run_constantofshape},
    {"Expand", 2, 2, 1, 1, 1u << 1, 0, infer_expand, NULL, run_expand},
    {"Tile", 2, 2, 1, 1, 1u << 1, 0, infer_tile, NULL, run_tile},
    {"Pad", 1, 3, 1, 1, (1u << 1) | (1u << 2), 0, infer_pad, prepare_pad, run_pad},
    {"Resize", 1, 4, 1, 1, (1u << 1) | (1u << 2) | (1u << 3), 0, infer_resize, prepare_resize, run_resize},
    {"Upsample", 1, 2, 1, 1, 1u << 1, 0, infer_resize, prepare_resize, run_resize},
    {"DepthToSpace", 1, 1, 1, 1, 0, 0, infer_d2s, NULL, run_d2s},
    {"SpaceToDepth", 1, 1, 1, 1, 0, 0, infer_d2s, NULL, run_d2s},
    {"ArgMax", 1, 1, 1, 1, 0, 0, infer_arg, NULL, run_arg},
    {"ArgMin", 1, 1, 1, 1, 0, 0, infer_arg, NULL, run_arg},
};
const int qp_ops_tensor_count = (int)(sizeof qp_ops_tensor / sizeof qp_ops_tensor[0]);
