/* Input meta YAML (Acuity's inputmeta, qpipe-inputmeta(5)) and dataset lists.
 * Reading is a schema walk over qp/yamltree.h's strict tree that converts and
 * validates every field with its line:col.  Writing is hand-made so the layout and
 * header comment match Acuity's. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qp/diag.h"
#include "qp/inputmeta.h"
#include "qp/yamltree.h"

#define MAX_DEPTH 32
#define LIST_MAX_LINE 4096
#define META_MAX_FILE ((size_t)16 << 20)
#define LIST_MAX_FILE ((size_t)256 << 20)

static const char *const category_names[] = {"undefined", "image", "frequency"};
static const char *const dbtype_names[] = {"TEXT", "NPY", "H5FS", "SQLITE", "LMDB", "GENERATOR", "ZIP"};
static const char *const preproc_types[] = {
    "IMAGE_RGB", "IMAGE_RGB888_PLANAR", "IMAGE_RGB888_PLANAR_SEP", "IMAGE_I420", "IMAGE_NV12",
    "IMAGE_NV21", "IMAGE_YUV444", "IMAGE_YUYV422", "IMAGE_UYVY422", "IMAGE_GRAY", "IMAGE_BGRA",
    "TENSOR", NULL};
_Static_assert(sizeof category_names / sizeof *category_names == QP_CAT_FREQUENCY + 1, "category table");
_Static_assert(sizeof dbtype_names / sizeof *dbtype_names == QP_DB_ZIP + 1, "database type table");

const char *qp_inputmeta_category_name(int c)
{
    return c >= 0 && c <= QP_CAT_FREQUENCY ? category_names[c] : "?";
}

const char *qp_inputmeta_dbtype_name(int t) { return t >= 0 && t <= QP_DB_ZIP ? dbtype_names[t] : "?"; }

/* ---- small helpers ---- */

static const char *dir_of(qp_arena *a, const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s)
        return qp_arena_strdup(a, ".");
    if (s == path)
        return qp_arena_strdup(a, "/");
    return qp_arena_strndup(a, path, (size_t)(s - path));
}

static const char *join(qp_arena *a, const char *dir, const char *p)
{
    if (p[0] == '/' || !dir || !*dir || !strcmp(dir, "."))
        return qp_arena_strdup(a, p);
    return qp_arena_printf(a, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", p);
}

static int index_of(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

/* ---- typed access (qp/yamltree.h) ---- */

/* A list of integers, count in [min, max]. */
static int to_ints(const qp_yaml *P, const qp_ynode *n, const char *what, int min, int max, int64_t *out,
                   int *count)
{
    int rc = qp_yaml_want(P, n, QP_YN_SEQ, what);
    if (rc)
        return rc;
    if (n->n < min || n->n > max)
        return min == max ? qp_yaml_errorf(P, n->line, n->col, "'%s' must have %d values, not %d", what, min, n->n)
                          : qp_yaml_errorf(P, n->line, n->col, "'%s' must have %d to %d values, not %d", what, min,
                                           max, n->n);
    for (int i = 0; i < n->n; i++)
        if ((rc = qp_yaml_to_int(P, n->k[i], what, INT64_MIN, INT64_MAX, &out[i])))
            return rc;
    *count = n->n;
    return QP_OK;
}

/* ---- validation shared by the reader and built metas ---- */

enum { F_LID, F_SHAPE, F_MEAN, F_SCALE, F_REVERSE, F_PERM, F_IMAGE_SIZE, F_CROP, F_DC, F_OTHER };

int qp_inputmeta_channel_axis(const qp_meta_port *p)
{
    if (p->rank == 4)
        return p->layout == QP_LAYOUT_NHWC ? 3 : 1;
    if (p->rank == 3)
        return p->layout == QP_LAYOUT_NHWC ? 2 : 0;
    return -1;
}

/* Cross-field checks of one port: 0, or a reason in why and the field at fault. */
static int port_check(const qp_meta_port *p, char *why, size_t n, int *field)
{
    char sh[160];
    *field = F_OTHER;
    if (!p->lid || !*p->lid) {
        *field = F_LID;
        snprintf(why, n, "empty 'lid'");
        return -1;
    }
    if (p->rank < 1 || p->rank > QP_TENSOR_MAX_RANK) {
        *field = F_SHAPE;
        snprintf(why, n, "'shape' must have 1 to %d dims, not %d", QP_TENSOR_MAX_RANK, p->rank);
        return -1;
    }
    for (int i = 0; i < p->rank; i++)
        if (p->shape[i] <= 0) {
            *field = F_SHAPE;
            snprintf(why, n, "'shape' dim %d is %lld (must be > 0)", i, (long long)p->shape[i]);
            return -1;
        }
    if (qp_shape_numel(p->rank, p->shape) < 0 || qp_shape_numel(p->rank, p->shape) > ((int64_t)1 << 40)) {
        *field = F_SHAPE;
        snprintf(why, n, "'shape' %s is too large", qp_shape_format(sh, sizeof sh, p->rank, p->shape));
        return -1;
    }
    if (p->layout != QP_LAYOUT_NCHW && p->layout != QP_LAYOUT_NHWC) {
        snprintf(why, n, "bad layout");
        return -1;
    }
    if (p->dtype != QP_DT_F32) {
        snprintf(why, n, "'dtype' must be float32");
        return -1;
    }
    if (p->category < 0 || p->category > QP_CAT_FREQUENCY) {
        snprintf(why, n, "bad category");
        return -1;
    }
    if (p->fitting && strcmp(p->fitting, "scale")) {
        snprintf(why, n, "'fitting' must be scale");
        return -1;
    }
    int axis = qp_inputmeta_channel_axis(p);
    int64_t C = axis >= 0 ? p->shape[axis] : 1;
    if (p->n_mean < 1 || (p->n_mean != 1 && p->n_mean != C) || !p->mean) {
        *field = F_MEAN;
        if (axis < 0)
            snprintf(why, n, "'mean' has %d values; a rank-%d input has no channel axis, give 1", p->n_mean,
                     p->rank);
        else
            snprintf(why, n, "'mean' has %d values, the input has %lld channels (give 1 or %lld)", p->n_mean,
                     (long long)C, (long long)C);
        return -1;
    }
    if (p->n_scale < 1 || (p->n_scale != 1 && p->n_scale != C) || !p->scale) {
        *field = F_SCALE;
        if (axis < 0)
            snprintf(why, n, "'scale' has %d values; a rank-%d input has no channel axis, give 1",
                     p->n_scale, p->rank);
        else
            snprintf(why, n, "'scale' has %d values, the input has %lld channels (give 1 or %lld)",
                     p->n_scale, (long long)C, (long long)C);
        return -1;
    }
    for (int i = 0; i < p->n_mean; i++)
        if (!isfinite(p->mean[i])) {
            *field = F_MEAN;
            snprintf(why, n, "'mean' value %d is not finite", i);
            return -1;
        }
    for (int i = 0; i < p->n_scale; i++)
        if (!isfinite(p->scale[i]) || p->scale[i] == 0) {
            *field = F_SCALE;
            snprintf(why, n, "'scale' value %g must be finite and non-zero", p->scale[i]);
            return -1;
        }
    if (p->reverse_channel && axis < 0) {
        *field = F_REVERSE;
        snprintf(why, n, "'reverse_channel' needs a 3-D or 4-D input (this one is rank %d)", p->rank);
        return -1;
    }
    const struct qp_meta_node *nd = &p->node;
    if (nd->preproc_type && index_of(nd->preproc_type, preproc_types, 12) < 0) {
        snprintf(why, n, "bad preproc_type '%s'", nd->preproc_type);
        return -1;
    }
    if (nd->n_perm) {
        unsigned seen = 0;
        *field = F_PERM;
        if (nd->n_perm != p->rank) {
            snprintf(why, n, "'preproc_perm' has %d values, the input has rank %d", nd->n_perm, p->rank);
            return -1;
        }
        for (int i = 0; i < nd->n_perm; i++) {
            if (nd->perm[i] < 0 || nd->perm[i] >= p->rank || (seen >> nd->perm[i] & 1)) {
                snprintf(why, n, "'preproc_perm' is not a permutation of 0..%d", p->rank - 1);
                return -1;
            }
            seen |= 1u << nd->perm[i];
        }
    }
    if (nd->has_image_size && (nd->image_size[0] <= 0 || nd->image_size[1] <= 0)) {
        *field = F_IMAGE_SIZE;
        snprintf(why, n, "'preproc_image_size' values must be > 0");
        return -1;
    }
    if (nd->has_crop && (nd->crop_rect[0] < 0 || nd->crop_rect[1] < 0 || nd->crop_rect[2] <= 0 ||
                         nd->crop_rect[3] <= 0)) {
        *field = F_CROP;
        snprintf(why, n, "'crop_rect' must be [x >= 0, y >= 0, width > 0, height > 0]");
        return -1;
    }
    if (nd->has_dtype_converter &&
        (!isfinite(nd->dc_scale) || nd->dc_scale <= 0 || !nd->dc_quantizer || !nd->dc_qtype)) {
        *field = F_DC;
        snprintf(why, n, "'preproc_dtype_converter' needs quantizer, qtype and a finite scale > 0");
        return -1;
    }
    return 0;
}

int qp_inputmeta_validate(const qp_inputmeta *m)
{
    char why[300];
    int field;
    if (m->n_dbs < 1)
        return qp_errorf(QP_EUSAGE, "input meta has no database");
    for (int d = 0; d < m->n_dbs; d++) {
        const qp_meta_db *db = m->dbs[d];
        if (!db->path || !*db->path)
            return qp_errorf(QP_EUSAGE, "database %d has an empty path", d);
        if (db->type < 0 || db->type > QP_DB_ZIP)
            return qp_errorf(QP_EUSAGE, "database %d has a bad type %d", d, db->type);
        if (db->n_ports < 1)
            return qp_errorf(QP_EUSAGE, "database '%s' has no ports", db->path);
        for (int i = 0; i < db->n_ports; i++) {
            const qp_meta_port *p = db->ports[i];
            if (port_check(p, why, sizeof why, &field))
                return qp_errorf(QP_EUSAGE, "port '%s': %s", p->lid ? p->lid : "", why);
            for (int e = 0; e < qp_inputmeta_n_ports(m); e++) {
                const qp_meta_port *o = qp_inputmeta_port(m, e);
                if (o == p)
                    break;
                if (!strcmp(o->lid, p->lid))
                    return qp_errorf(QP_EUSAGE, "duplicate port lid '%s'", p->lid);
            }
        }
    }
    return QP_OK;
}

/* ---- building ---- */

qp_inputmeta *qp_inputmeta_new(void)
{
    qp_arena *a = qp_arena_new(64 << 10);
    if (!a)
        return NULL;
    qp_inputmeta *m = qp_arena_alloc(a, sizeof *m);
    if (!m) {
        qp_arena_free(a);
        return NULL;
    }
    m->arena = a;
    m->dir = ".";
    return m;
}

void qp_inputmeta_free(qp_inputmeta *m)
{
    if (m)
        qp_arena_free(m->arena);
}

/* Appends to an arena pointer array (copying it: arrays here are short). */
static int push(qp_arena *a, void ***arr, int *n, void *item)
{
    void **na = qp_arena_array(a, (size_t)*n + 1, sizeof *na);
    if (!na)
        return QP_ESYS;
    if (*n)
        memcpy(na, *arr, (size_t)*n * sizeof *na);
    na[(*n)++] = item;
    *arr = na;
    return QP_OK;
}

qp_meta_db *qp_inputmeta_add_db(qp_inputmeta *m, const char *path, int type)
{
    qp_meta_db *db = qp_arena_alloc(m->arena, sizeof *db);
    if (!db || !(db->path = qp_arena_strdup(m->arena, path)))
        return NULL;
    db->type = type;
    if (push(m->arena, (void ***)&m->dbs, &m->n_dbs, db))
        return NULL;
    return db;
}

qp_meta_port *qp_inputmeta_add_port(qp_inputmeta *m, qp_meta_db *db, const char *lid, int rank,
                                    const int64_t *shape)
{
    qp_arena *a = m->arena;
    if (!lid || !*lid) {
        qp_errorf(QP_EUSAGE, "input meta port with an empty lid");
        return NULL;
    }
    if (rank < 1 || rank > QP_TENSOR_MAX_RANK) {
        qp_errorf(QP_EUSAGE, "input '%s': rank %d is outside 1..%d", lid, rank, QP_TENSOR_MAX_RANK);
        return NULL;
    }
    for (int i = 0; i < rank; i++)
        if (shape[i] <= 0) {
            qp_errorf(QP_EUSAGE, "input '%s': dim %d is %lld (give a fixed size > 0)", lid, i,
                      (long long)shape[i]);
            return NULL;
        }
    qp_meta_port *p = qp_arena_alloc(a, sizeof *p);
    if (!p || !(p->lid = qp_arena_strdup(a, lid)))
        return NULL;
    p->dtype = QP_DT_F32;
    p->layout = QP_LAYOUT_NCHW;
    p->rank = rank;
    memcpy(p->shape, shape, (size_t)rank * sizeof *shape);
    p->fitting = "scale";
    if (rank == 4 && shape[3] == 3 && shape[1] != 3)
        p->layout = QP_LAYOUT_NHWC;
    int axis = qp_inputmeta_channel_axis(p);
    int image = rank == 4 && shape[axis] == 3;
    p->category = image ? QP_CAT_IMAGE : QP_CAT_UNDEFINED;
    p->n_mean = image ? 3 : 1;
    p->mean = qp_arena_array(a, (size_t)p->n_mean, sizeof *p->mean);
    p->n_scale = 1;
    p->scale = qp_arena_array(a, 1, sizeof *p->scale);
    if (!p->mean || !p->scale)
        return NULL;
    p->scale[0] = 1.0;
    p->node.preproc_type = image ? "IMAGE_RGB" : "TENSOR";
    p->node.n_perm = rank;
    for (int i = 0; i < rank; i++)
        p->node.perm[i] = i;
    if (image) {
        int64_t H = shape[p->layout == QP_LAYOUT_NHWC ? 1 : 2], W = shape[p->layout == QP_LAYOUT_NHWC ? 2 : 3];
        p->node.has_image_size = 1;
        p->node.image_size[0] = H;
        p->node.image_size[1] = W;
        p->node.has_crop = 1;
        p->node.crop_rect[2] = W;
        p->node.crop_rect[3] = H;
    }
    if (push(a, (void ***)&db->ports, &db->n_ports, p))
        return NULL;
    return p;
}

int qp_inputmeta_n_ports(const qp_inputmeta *m)
{
    int n = 0;
    for (int d = 0; d < m->n_dbs; d++)
        n += m->dbs[d]->n_ports;
    return n;
}

qp_meta_port *qp_inputmeta_port(const qp_inputmeta *m, int i)
{
    for (int d = 0; d < m->n_dbs && i >= 0; d++) {
        if (i < m->dbs[d]->n_ports)
            return m->dbs[d]->ports[i];
        i -= m->dbs[d]->n_ports;
    }
    return NULL;
}

qp_meta_port *qp_inputmeta_find_port(const qp_inputmeta *m, const char *lid)
{
    for (int i = 0; i < qp_inputmeta_n_ports(m); i++)
        if (!strcmp(qp_inputmeta_port(m, i)->lid, lid))
            return qp_inputmeta_port(m, i);
    return NULL;
}

/* ---- reading: schema walk ---- */

static const char *const K_ROOT[] = {"input_meta", NULL};
static const char *const K_META[] = {"databases", NULL};
static const char *const K_DB[] = {"path", "type", "ports", NULL};
static const char *const K_PORT[] = {"lid", "category", "dtype", "sparse", "tensor_name", "layout", "shape",
                                     "fitting", "preprocess", "redirect_to_output", NULL};
static const char *const K_PRE[] = {"reverse_channel", "mean", "scale", "preproc_node_params", NULL};
static const char *const K_NODE[] = {"add_preproc_node", "preproc_type", "preproc_image_size", "preproc_crop",
                                     "preproc_perm", "preproc_dtype_converter", NULL};
static const char *const K_CROP[] = {"enable_preproc_crop", "crop_rect", NULL};
static const char *const K_DC[] = {"quantizer", "qtype", "scale", "zero_point", NULL};

static int parse_node_params(const qp_yaml *P, const qp_ynode *n, qp_meta_port *p)
{
    struct qp_meta_node *nd = &p->node;
    const qp_ynode *v;
    int rc, cnt;
    if ((rc = qp_yaml_want(P, n, QP_YN_MAP, "preproc_node_params")) ||
        (rc = qp_yaml_check_keys(P, n, "preproc_node_params", K_NODE)))
        return rc;
    if ((v = qp_yaml_get(n, "add_preproc_node")) && (rc = qp_yaml_to_bool(P, v, "add_preproc_node", &nd->add_preproc_node)))
        return rc;
    if ((v = qp_yaml_get(n, "preproc_type"))) {
        int t;
        if ((rc = qp_yaml_to_enum(P, v, "preproc_type", preproc_types, 12, &t)))
            return rc;
        nd->preproc_type = preproc_types[t];
    }
    if ((v = qp_yaml_get(n, "preproc_image_size"))) {
        if ((rc = to_ints(P, v, "preproc_image_size", 2, 2, nd->image_size, &cnt)))
            return rc;
        nd->has_image_size = 1;
    }
    if ((v = qp_yaml_get(n, "preproc_crop"))) {
        const qp_ynode *w;
        if ((rc = qp_yaml_want(P, v, QP_YN_MAP, "preproc_crop")) || (rc = qp_yaml_check_keys(P, v, "preproc_crop", K_CROP)))
            return rc;
        nd->has_crop = 1;
        if ((w = qp_yaml_get(v, "enable_preproc_crop")) && (rc = qp_yaml_to_bool(P, w, "enable_preproc_crop", &nd->crop_enable)))
            return rc;
        if ((rc = qp_yaml_require(P, v, "crop_rect", "preproc_crop", &w)) ||
            (rc = to_ints(P, w, "crop_rect", 4, 4, nd->crop_rect, &cnt)))
            return rc;
    }
    if ((v = qp_yaml_get(n, "preproc_perm")) &&
        (rc = to_ints(P, v, "preproc_perm", 1, QP_TENSOR_MAX_RANK, nd->perm, &nd->n_perm)))
        return rc;
    if ((v = qp_yaml_get(n, "preproc_dtype_converter"))) {
        const qp_ynode *w;
        if ((rc = qp_yaml_want(P, v, QP_YN_MAP, "preproc_dtype_converter")) ||
            (rc = qp_yaml_check_keys(P, v, "preproc_dtype_converter", K_DC)))
            return rc;
        nd->has_dtype_converter = 1;
        nd->dc_scale = 1.0;
        if ((rc = qp_yaml_require(P, v, "quantizer", "preproc_dtype_converter", &w)) ||
            (rc = qp_yaml_to_str(P, w, "quantizer", 0, &nd->dc_quantizer)) ||
            (rc = qp_yaml_require(P, v, "qtype", "preproc_dtype_converter", &w)) ||
            (rc = qp_yaml_to_str(P, w, "qtype", 0, &nd->dc_qtype)))
            return rc;
        if ((w = qp_yaml_get(v, "scale")) && (rc = qp_yaml_to_num(P, w, "scale", &nd->dc_scale)))
            return rc;
        if ((w = qp_yaml_get(v, "zero_point")) && (rc = qp_yaml_to_int(P, w, "zero_point", INT64_MIN, INT64_MAX, &nd->dc_zero_point)))
            return rc;
    }
    return QP_OK;
}

static int parse_port(const qp_yaml *P, const qp_ynode *n, qp_meta_port *p)
{
    static const char *const layouts[] = {"nchw", "nhwc"};
    const qp_ynode *v, *shape_n, *pre = NULL, *mean_n = NULL, *scale_n = NULL, *rev_n = NULL,
                                     *lid_n, *nodep = NULL;
    int rc, t;
    if ((rc = qp_yaml_want(P, n, QP_YN_MAP, "ports item")) || (rc = qp_yaml_check_keys(P, n, "a port", K_PORT)))
        return rc;
    p->line = n->line;
    p->dtype = QP_DT_F32;
    p->layout = QP_LAYOUT_NCHW;
    p->fitting = "scale";
    if ((rc = qp_yaml_require(P, n, "lid", "a port", &lid_n)) || (rc = qp_yaml_to_str(P, lid_n, "lid", 0, &p->lid)))
        return rc;
    if ((v = qp_yaml_get(n, "category"))) {
        if ((rc = qp_yaml_to_enum(P, v, "category", category_names, 3, &p->category)))
            return rc;
    }
    if ((v = qp_yaml_get(n, "dtype"))) {
        static const char *const dt[] = {"float32"};
        if ((rc = qp_yaml_to_enum(P, v, "dtype", dt, 1, &t)))
            return rc;
    }
    if ((v = qp_yaml_get(n, "sparse")) && (rc = qp_yaml_to_bool(P, v, "sparse", &p->sparse)))
        return rc;
    if ((v = qp_yaml_get(n, "tensor_name")) && (rc = qp_yaml_to_str(P, v, "tensor_name", QP_YAML_NULL_OK, &p->tensor_name)))
        return rc;
    if ((v = qp_yaml_get(n, "layout"))) {
        if ((rc = qp_yaml_to_enum(P, v, "layout", layouts, 2, &t)))
            return rc;
        p->layout = t ? QP_LAYOUT_NHWC : QP_LAYOUT_NCHW;
    }
    if ((rc = qp_yaml_require(P, n, "shape", "a port", &shape_n)) ||
        (rc = to_ints(P, shape_n, "shape", 1, QP_TENSOR_MAX_RANK, p->shape, &p->rank)))
        return rc;
    for (int i = 0; i < p->rank; i++)
        if (p->shape[i] <= 0)
            return qp_yaml_errorf(P, shape_n->k[i]->line, shape_n->k[i]->col, "'shape' dim %d is %lld (must be > 0)", i,
                        (long long)p->shape[i]);
    if ((v = qp_yaml_get(n, "fitting"))) {
        static const char *const fit[] = {"scale"};
        if ((rc = qp_yaml_to_enum(P, v, "fitting", fit, 1, &t)))
            return rc;
    }
    if ((v = qp_yaml_get(n, "redirect_to_output")) && (rc = qp_yaml_to_bool(P, v, "redirect_to_output", &p->redirect_to_output)))
        return rc;
    if ((pre = qp_yaml_get(n, "preprocess"))) {
        if ((rc = qp_yaml_want(P, pre, QP_YN_MAP, "preprocess")) || (rc = qp_yaml_check_keys(P, pre, "preprocess", K_PRE)))
            return rc;
        if ((rev_n = qp_yaml_get(pre, "reverse_channel")) && (rc = qp_yaml_to_bool(P, rev_n, "reverse_channel", &p->reverse_channel)))
            return rc;
        int list;
        if ((mean_n = qp_yaml_get(pre, "mean")) && (rc = qp_yaml_to_nums(P, mean_n, "mean", 0, &p->mean, &p->n_mean, &list)))
            return rc;
        if ((scale_n = qp_yaml_get(pre, "scale")) &&
            (rc = qp_yaml_to_nums(P, scale_n, "scale", 0, &p->scale, &p->n_scale, &p->scale_is_list)))
            return rc;
        if ((nodep = qp_yaml_get(pre, "preproc_node_params")) && (rc = parse_node_params(P, nodep, p)))
            return rc;
    }
    if (!p->mean) {
        if (!(p->mean = qp_arena_alloc(P->a, sizeof *p->mean)))
            return QP_ESYS;
        p->n_mean = 1;
    }
    if (!p->scale) {
        if (!(p->scale = qp_arena_alloc(P->a, sizeof *p->scale)))
            return QP_ESYS;
        p->scale[0] = 1.0;
        p->n_scale = 1;
    }
    char why[300];
    int field;
    if (port_check(p, why, sizeof why, &field)) {
        const qp_ynode *at = field == F_SHAPE ? shape_n : field == F_MEAN && mean_n ? mean_n
                                                          : field == F_SCALE && scale_n ? scale_n
                                                          : field == F_REVERSE && rev_n ? rev_n
                                                          : field == F_LID ? lid_n
                                                          : nodep ? nodep : pre ? pre : n;
        if (field == F_SCALE && scale_n && scale_n->kind == QP_YN_SEQ)
            for (int i = 0; i < scale_n->n && i < p->n_scale; i++)
                if (!(isfinite(p->scale[i]) && p->scale[i] != 0))
                    at = scale_n->k[i];
        return qp_yaml_errorf(P, at->line, at->col, "port '%s': %s", p->lid, why);
    }
    return QP_OK;
}

static int parse_meta(const qp_yaml *P, const qp_ynode *root, qp_inputmeta *m)
{
    const qp_ynode *im, *dbs, *v;
    int rc;
    if (root->kind != QP_YN_MAP)
        return qp_yaml_errorf(P, root->line, root->col, "the top level must be a mapping with 'input_meta', not %s",
                    qp_yaml_kind_name(root->kind));
    if ((rc = qp_yaml_check_keys(P, root, "the top level", K_ROOT)) ||
        (rc = qp_yaml_require(P, root, "input_meta", "the top level", &im)) ||
        (rc = qp_yaml_want(P, im, QP_YN_MAP, "input_meta")) || (rc = qp_yaml_check_keys(P, im, "input_meta", K_META)) ||
        (rc = qp_yaml_require(P, im, "databases", "input_meta", &dbs)) || (rc = qp_yaml_want(P, dbs, QP_YN_SEQ, "databases")))
        return rc;
    if (dbs->n == 0)
        return qp_yaml_errorf(P, dbs->line, dbs->col, "'databases' is empty");
    for (int d = 0; d < dbs->n; d++) {
        const qp_ynode *dn = dbs->k[d], *ports;
        const char *path;
        int type;
        if ((rc = qp_yaml_want(P, dn, QP_YN_MAP, "databases item")) || (rc = qp_yaml_check_keys(P, dn, "a database", K_DB)) ||
            (rc = qp_yaml_require(P, dn, "path", "a database", &v)) || (rc = qp_yaml_to_str(P, v, "path", 0, &path)) ||
            (rc = qp_yaml_require(P, dn, "type", "a database", &v)) ||
            (rc = qp_yaml_to_enum(P, v, "type", dbtype_names, QP_DB_ZIP + 1, &type)) ||
            (rc = qp_yaml_require(P, dn, "ports", "a database", &ports)) || (rc = qp_yaml_want(P, ports, QP_YN_SEQ, "ports")))
            return rc;
        if (ports->n == 0)
            return qp_yaml_errorf(P, ports->line, ports->col, "'ports' is empty");
        qp_meta_db *db = qp_inputmeta_add_db(m, path, type);
        if (!db)
            return QP_ESYS;
        db->line = dn->line;
        for (int i = 0; i < ports->n; i++) {
            qp_meta_port *p = qp_arena_alloc(m->arena, sizeof *p);
            if (!p)
                return QP_ESYS;
            if ((rc = parse_port(P, ports->k[i], p)))
                return rc;
            qp_meta_port *dup = qp_inputmeta_find_port(m, p->lid);
            if (dup)
                return qp_yaml_errorf(P, p->line, ports->k[i]->col, "duplicate port lid '%s' (first at line %d)", p->lid,
                            dup->line);
            if (push(m->arena, (void ***)&db->ports, &db->n_ports, p))
                return QP_ESYS;
        }
    }
    return QP_OK;
}

int qp_inputmeta_parse(const char *buf, size_t n, const char *name, qp_inputmeta **out)
{
    *out = NULL;
    qp_inputmeta *m = qp_inputmeta_new();
    if (!m)
        return QP_ESYS;
    qp_yaml P = {.a = m->arena, .name = name, .first_key = "input_meta", .doc = "an input meta",
                 .tab = "TAB character (an input meta must use spaces)", .max_depth = MAX_DEPTH};
    qp_ynode *root = NULL;
    int rc = qp_yaml_parse(&P, buf, n, &root);
    if (!rc) {
        m->file = qp_arena_strdup(m->arena, name);
        m->dir = dir_of(m->arena, name);
        rc = m->file && m->dir ? parse_meta(&P, root, m) : QP_ESYS;
    }
    if (rc) {
        if (rc == QP_ESYS && !strstr(qp_error_msg(), name))
            qp_error_prefix(rc, "%s", name);
        qp_inputmeta_free(m);
        return rc;
    }
    *out = m;
    return QP_OK;
}

int qp_inputmeta_read(const char *path, qp_inputmeta **out)
{
    unsigned char *buf;
    size_t n;
    *out = NULL;
    int rc = qp_tensorio_read_file(path, META_MAX_FILE, &buf, &n);
    if (rc)
        return rc;
    rc = qp_inputmeta_parse((const char *)buf, n, path, out);
    free(buf);
    return rc;
}

/* ---- writing ---- */

static int plain_ok(const char *s)
{
    if (!*s || *s == '-' || *s == '.' || *s == '+')
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '/' || *p == '.' || *p == '-'))
            return 0;
    static const char *const special[] = {"true", "True", "TRUE", "false", "False", "FALSE", "null", "Null",
                                          "NULL", "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON",
                                          "off", "Off", "OFF", "y", "Y", "n", "N", NULL};
    for (int i = 0; special[i]; i++)
        if (!strcmp(s, special[i]))
            return 0;
    char *end;
    strtod(s, &end);
    return *end != 0; /* something that reads as a number must be quoted */
}

static void put_str(FILE *f, const char *s)
{
    if (plain_ok(s)) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Shortest text that reads back to the same double, always with a '.' or exponent. */
static void put_num(FILE *f, double v)
{
    char b[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, v);
        if (strtod(b, NULL) == v)
            break;
    }
    if (!strpbrk(b, ".en"))
        strcat(b, ".0");
    fputs(b, f);
}

static const char HEADER[] =
    "%YAML 1.2\n"
    "---\n"
    "# !!!This file disallow TABs!!!\n"
    "# \"category\" allowed values: \"image, frequency, undefined\"\n"
    "# \"database\" allowed types: \"TEXT, NPY, H5FS, SQLITE, LMDB, GENERATOR, ZIP\"\n"
    "# \"tensor_name\" only support in H5FS database\n"
    "# \"preproc_type\" allowed types:\"IMAGE_RGB, IMAGE_RGB888_PLANAR, IMAGE_RGB888_PLANAR_SEP, IMAGE_I420, \n"
    "# IMAGE_NV12,IMAGE_NV21, IMAGE_YUV444, IMAGE_YUYV422, IMAGE_UYVY422, IMAGE_GRAY, IMAGE_BGRA, TENSOR\"\n"
    "# Written by qpipe; see qpipe-inputmeta(5). Preprocessing is (x - mean) * scale per channel.\n";

static void put_ints(FILE *f, const char *ind, const int64_t *v, int n)
{
    for (int i = 0; i < n; i++)
        fprintf(f, "%s- %lld\n", ind, (long long)v[i]);
}

static void emit_port(FILE *f, const qp_meta_port *p)
{
    const struct qp_meta_node *nd = &p->node;
    fputs("    - lid: ", f);
    put_str(f, p->lid);
    fprintf(f, "\n      category: %s\n      dtype: float32\n      sparse: %s\n      tensor_name:",
            qp_inputmeta_category_name(p->category), p->sparse ? "true" : "false");
    if (p->tensor_name) {
        fputc(' ', f);
        put_str(f, p->tensor_name);
    }
    fprintf(f, "\n      layout: %s\n      shape:\n", p->layout == QP_LAYOUT_NHWC ? "nhwc" : "nchw");
    put_ints(f, "      ", p->shape, p->rank);
    fprintf(f, "      fitting: scale\n      preprocess:\n        reverse_channel: %s\n        mean:\n",
            p->reverse_channel ? "true" : "false");
    for (int i = 0; i < p->n_mean; i++) {
        fputs("        - ", f);
        put_num(f, p->mean[i]);
        fputc('\n', f);
    }
    if (p->n_scale == 1 && !p->scale_is_list) {
        fputs("        scale: ", f);
        put_num(f, p->scale[0]);
        fputc('\n', f);
    } else {
        fputs("        scale:\n", f);
        for (int i = 0; i < p->n_scale; i++) {
            fputs("        - ", f);
            put_num(f, p->scale[i]);
            fputc('\n', f);
        }
    }
    fprintf(f, "        preproc_node_params:\n          add_preproc_node: %s\n          preproc_type: %s\n",
            nd->add_preproc_node ? "true" : "false",
            nd->preproc_type ? nd->preproc_type : p->category == QP_CAT_IMAGE ? "IMAGE_RGB" : "TENSOR");
    if (nd->has_dtype_converter) {
        fputs("          preproc_dtype_converter:\n            quantizer: ", f);
        put_str(f, nd->dc_quantizer);
        fputs("\n            qtype: ", f);
        put_str(f, nd->dc_qtype);
        fputs("\n            scale: ", f);
        put_num(f, nd->dc_scale);
        fprintf(f, "\n            zero_point: %lld\n", (long long)nd->dc_zero_point);
    } else {
        fputs("          # preproc_dtype_converter:\n            # quantizer: asymmetric_affine\n"
              "            # qtype: uint8\n            # scale: 1.0\n            # zero_point: 0\n",
              f);
    }
    if (nd->has_image_size) {
        fputs("          preproc_image_size:\n", f);
        put_ints(f, "          ", nd->image_size, 2);
    }
    if (nd->has_crop) {
        fprintf(f, "          preproc_crop:\n            enable_preproc_crop: %s\n            crop_rect:\n",
                nd->crop_enable ? "true" : "false");
        put_ints(f, "            ", nd->crop_rect, 4);
    }
    if (nd->n_perm) {
        fputs("          preproc_perm:\n", f);
        put_ints(f, "          ", nd->perm, nd->n_perm);
    }
    fprintf(f, "      redirect_to_output: %s\n", p->redirect_to_output ? "true" : "false");
}

int qp_inputmeta_emit(FILE *f, const qp_inputmeta *m)
{
    int rc = qp_inputmeta_validate(m);
    if (rc)
        return rc;
    fputs(HEADER, f);
    fputs("input_meta:\n  databases:\n", f);
    for (int d = 0; d < m->n_dbs; d++) {
        const qp_meta_db *db = m->dbs[d];
        fputs("  - path: ", f);
        put_str(f, db->path);
        fprintf(f, "\n    type: %s\n    ports:\n", qp_inputmeta_dbtype_name(db->type));
        for (int i = 0; i < db->n_ports; i++)
            emit_port(f, db->ports[i]);
    }
    if (ferror(f))
        return qp_errorf(QP_ESYS, "%s", strerror(errno ? errno : EIO));
    return QP_OK;
}

static int emit_cb(FILE *f, void *arg) { return qp_inputmeta_emit(f, arg); }

int qp_inputmeta_write(const char *path, const qp_inputmeta *m)
{
    int rc = qp_inputmeta_validate(m); /* a schema error is not a write error */
    if (rc)
        return rc;
    return qp_tensorio_write_file(path, emit_cb, (void *)m);
}

/* ---- dataset lists ---- */

static int list_error(const char *list, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int list_error(const char *list, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        return qp_errorf(QP_EINPUT, "%s:%d: %s", list, line, msg);
    return qp_errorf(QP_EINPUT, "%s: %s", list, msg);
}

static int check_entry(const char *list, int line, const char *written, const char *resolved)
{
    char q[200], r[200], via[260] = "";
    qp_tensorio_quote(q, sizeof q, written, strlen(written));
    if (strcmp(written, resolved))
        snprintf(via, sizeof via, " (resolved to '%s')", qp_tensorio_quote(r, sizeof r, resolved, strlen(resolved)));
    int fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return list_error(list, line, "entry '%s'%s: %s", q, via,
                          e == ENOENT ? "no such file" : e == EISDIR ? "is a directory" : strerror(e));
    }
    struct stat st;
    int bad = fstat(fd, &st) ? errno : 0;
    close(fd);
    if (bad)
        return list_error(list, line, "entry '%s'%s: %s", q, via, strerror(bad));
    if (S_ISDIR(st.st_mode))
        return list_error(list, line, "entry '%s'%s: is a directory", q, via);
    if (!S_ISREG(st.st_mode))
        return list_error(list, line, "entry '%s'%s: not a regular file", q, via);
    return QP_OK;
}

static int parse_list(qp_dataset *d, const char *buf, size_t n)
{
    const char *end = buf + n, *p = buf;
    const char *dir = dir_of(d->arena, d->list);
    if (!dir)
        return QP_ESYS;
    if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
        p += 3;
    int64_t cap = 64, cnt = 0;
    int line = 0;
    const char **paths = malloc((size_t)cap * d->n_inputs * sizeof *paths);
    const char **written = malloc((size_t)cap * d->n_inputs * sizeof *written);
    int *lines = malloc((size_t)cap * sizeof *lines);
    int rc = QP_OK;
    if (!paths || !written || !lines) {
        rc = qp_errorf(QP_ESYS, "out of memory");
        goto done;
    }
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        if ((size_t)(le - p) > LIST_MAX_LINE) {
            rc = list_error(d->list, line, "line longer than %d bytes", LIST_MAX_LINE);
            break;
        }
        if (memchr(p, 0, (size_t)(le - p))) {
            rc = list_error(d->list, line, "NUL byte");
            break;
        }
        const char *s = p, *e = le;
        p = nl ? nl + 1 : end;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (s == e)
            continue;
        if (cnt == cap) {
            cap *= 2;
            const char **np = realloc(paths, (size_t)cap * d->n_inputs * sizeof *np);
            if (np)
                paths = np;
            const char **nw = realloc(written, (size_t)cap * d->n_inputs * sizeof *nw);
            if (nw)
                written = nw;
            int *nli = realloc(lines, (size_t)cap * sizeof *nli);
            if (nli)
                lines = nli;
            if (!np || !nw || !nli) {
                rc = qp_errorf(QP_ESYS, "out of memory");
                break;
            }
        }
        int k = 0;
        for (const char *t = s; t < e;) {
            const char *te = t;
            while (te < e && *te != ' ' && *te != '\t' && *te != '\r')
                te++;
            if (k < d->n_inputs) {
                const char *w = qp_arena_strndup(d->arena, t, (size_t)(te - t));
                const char *r = w ? join(d->arena, dir, w) : NULL;
                if (!r) {
                    rc = QP_ESYS;
                    break;
                }
                written[cnt * d->n_inputs + k] = w;
                paths[cnt * d->n_inputs + k] = r;
            }
            k++;
            t = te;
            while (t < e && (*t == ' ' || *t == '\t' || *t == '\r'))
                t++;
        }
        if (rc)
            break;
        if (k != d->n_inputs) {
            rc = list_error(d->list, line, "%d entr%s, the model has %d input%s (separate them by spaces; paths cannot hold blanks)",
                            k, k == 1 ? "y" : "ies", d->n_inputs, d->n_inputs == 1 ? "" : "s");
            break;
        }
        for (int i = 0; i < d->n_inputs && !rc; i++)
            rc = check_entry(d->list, line, written[cnt * d->n_inputs + i], paths[cnt * d->n_inputs + i]);
        lines[cnt++] = line;
    }
    if (!rc && cnt == 0)
        rc = list_error(d->list, 0, "no samples (empty list)");
    if (!rc) {
        d->n_samples = cnt;
        d->paths = qp_arena_array(d->arena, (size_t)cnt * d->n_inputs, sizeof *paths);
        d->written = qp_arena_array(d->arena, (size_t)cnt * d->n_inputs, sizeof *written);
        d->lines = qp_arena_array(d->arena, (size_t)cnt, sizeof *lines);
        if (!d->paths || !d->written || !d->lines)
            rc = QP_ESYS;
        else {
            memcpy(d->paths, paths, (size_t)cnt * d->n_inputs * sizeof *paths);
            memcpy(d->written, written, (size_t)cnt * d->n_inputs * sizeof *written);
            memcpy(d->lines, lines, (size_t)cnt * sizeof *lines);
        }
    }
done:
    free(paths);
    free(written);
    free(lines);
    return rc;
}

int qp_inputmeta_read_list(const char *list_path, int n_inputs, qp_dataset **out)
{
    *out = NULL;
    if (n_inputs < 1)
        return qp_errorf(QP_EUSAGE, "%s: a dataset list needs at least one input", list_path);
    unsigned char *buf;
    size_t n;
    int rc = qp_tensorio_read_file(list_path, LIST_MAX_FILE, &buf, &n);
    if (rc)
        return rc;
    qp_arena *a = qp_arena_new(64 << 10);
    qp_dataset *d = a ? qp_arena_alloc(a, sizeof *d) : NULL;
    if (!d) {
        qp_arena_free(a);
        free(buf);
        return QP_ESYS;
    }
    d->arena = a;
    d->n_inputs = n_inputs;
    d->list = qp_arena_strdup(a, list_path);
    rc = d->list ? parse_list(d, (const char *)buf, n) : QP_ESYS;
    free(buf);
    if (rc) {
        qp_arena_free(a);
        return rc;
    }
    *out = d;
    return QP_OK;
}

void qp_inputmeta_free_list(qp_dataset *d)
{
    if (d)
        qp_arena_free(d->arena);
}

const char *qp_inputmeta_db_path(const qp_inputmeta *m, int db)
{
    if (db < 0 || db >= m->n_dbs)
        return NULL;
    return join(m->arena, m->dir, m->dbs[db]->path);
}

int qp_inputmeta_open_db(const qp_inputmeta *m, int db, qp_dataset **out)
{
    *out = NULL;
    if (db < 0 || db >= m->n_dbs)
        return qp_errorf(QP_EUSAGE, "no database %d in the input meta", db);
    const qp_meta_db *d = m->dbs[db];
    const char *where = m->file ? m->file : "input meta";
    if (d->type != QP_DB_TEXT)
        return qp_errorf(QP_EUSAGE, "%s:%d: database type %s is not supported (only TEXT)", where, d->line,
                         qp_inputmeta_dbtype_name(d->type));
    const char *path = qp_inputmeta_db_path(m, db);
    if (!path)
        return QP_ESYS;
    return qp_inputmeta_read_list(path, d->n_ports, out);
}

/* ---- samples ---- */

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && !strcasecmp(path + n - e, ext);
}

/* Equal after dropping leading 1s on either side. */
static int shape_fits(int ra, const int64_t *a, int rb, const int64_t *b)
{
    while (ra > 0 && a[0] == 1 && ra > rb)
        a++, ra--;
    while (rb > 0 && b[0] == 1 && rb > ra)
        b++, rb--;
    if (ra != rb)
        return 0;
    for (int i = 0; i < ra; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int load_image(const qp_meta_port *p, const char *path, qp_tensor *out)
{
    int axis = qp_inputmeta_channel_axis(p);
    if (axis < 0 || (p->rank == 4 && p->shape[0] != 1))
        return qp_errorf(QP_EINPUT, "cannot use image '%s' for port '%s': it needs a 4-D input with batch 1 "
                         "or a 3-D input", path, p->lid);
    int nhwc = p->layout == QP_LAYOUT_NHWC, b = p->rank == 4;
    int64_t C = p->shape[axis], H = p->shape[b + (nhwc ? 0 : 1)], W = p->shape[b + (nhwc ? 1 : 2)];
    if (C != 1 && C != 3)
        return qp_errorf(QP_EINPUT, "cannot use image '%s' for port '%s': it has %lld channels (images give "
                         "1 or 3)", path, p->lid, (long long)C);
    if (H > QP_IMAGE_MAX_SIDE || W > QP_IMAGE_MAX_SIDE || H * W > QP_IMAGE_MAX_PIXELS)
        return qp_errorf(QP_EINPUT, "cannot use image '%s' for port '%s': %lldx%lld is above the image limits",
                         path, p->lid, (long long)W, (long long)H);
    qp_image img;
    int rc = qp_image_read(path, &img);
    if (rc)
        return rc;
    rc = qp_tensor_alloc(out, QP_DT_F32, p->rank, p->shape);
    if (!rc) {
        qp_norm nm = {p->reverse_channel, p->n_mean, p->mean, p->n_scale, p->scale};
        rc = qp_image_preprocess(&img, nhwc ? QP_LAYOUT_NHWC : QP_LAYOUT_NCHW, (int)H, (int)W, (int)C, &nm,
                                 out->data);
        if (rc) {
            qp_tensor_free(out);
            qp_error_prefix(rc, "'%s' for port '%s'", path, p->lid);
        }
    }
    qp_image_free(&img);
    return rc;
}

int qp_inputmeta_load_sample(const qp_meta_port *p, const char *path, qp_tensor *out)
{
    char s1[160], s2[160];
    int rc;
    memset(out, 0, sizeof *out);
    if (!(has_ext(path, ".npy") || has_ext(path, ".tensor") || has_ext(path, ".bin") || has_ext(path, ".raw")))
        return load_image(p, path, out);
    if (has_ext(path, ".npy")) {
        qp_tensor t;
        if ((rc = qp_tensorio_read_npy(path, &t)))
            return rc;
        if (!shape_fits(t.rank, t.dims, p->rank, p->shape)) {
            rc = qp_errorf(QP_EINPUT, "'%s' has shape %s, port '%s' expects %s", path,
                           qp_shape_format(s1, sizeof s1, t.rank, t.dims), p->lid,
                           qp_shape_format(s2, sizeof s2, p->rank, p->shape));
            qp_tensor_free(&t);
            return rc;
        }
        rc = qp_tensor_to_f32(&t, out);
        qp_tensor_free(&t);
        if (rc)
            return qp_error_prefix(rc, "cannot read '%s'", path);
        out->rank = p->rank;
        memcpy(out->dims, p->shape, (size_t)p->rank * sizeof *p->shape);
    } else if (has_ext(path, ".tensor")) {
        if ((rc = qp_tensorio_read_tensor(path, p->rank, p->shape, out)))
            return rc;
    } else if ((rc = qp_tensorio_read_raw(path, QP_DT_F32, p->rank, p->shape, out))) {
        return rc;
    }
    qp_norm nm = {p->reverse_channel, p->n_mean, p->mean, p->n_scale, p->scale};
    rc = qp_image_normalize(out->data, p->rank, p->shape, qp_inputmeta_channel_axis(p), &nm);
    if (rc) {
        qp_tensor_free(out);
        return qp_error_prefix(rc, "'%s' for port '%s'", path, p->lid);
    }
    return QP_OK;
}
