/* Target profiles (qpipe-target(5)).  The op-to-unit table, the schema walk of the target
 * YAML over qp/yamltree.h's strict tree (file:line:column errors), the legality check
 * that replaces the vendor's "Fatal model generation error: 65280", and the cost report.
 * The built-in targets' bytes come from $(BUILD)/gen/qp_targets.c (Makefile). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qp/diag.h"
#include "qp/op.h"
#include "qp/profile.h"
#include "qp/tensorio.h"
#include "qp/yamltree.h"

#define MAX_DEPTH 16
#define MAX_FILE ((size_t)1 << 20)

/* ---- representations: every activation/weight type qpipe simulates ------------------------- */

static const struct rep {
    const char *name;
    int qz, qt;
} reps[] = {
    {"asymmetric_affine-u8", QP_QZ_ASYMMETRIC_AFFINE, QP_DT_U8},
    {"asymmetric_affine-i8", QP_QZ_ASYMMETRIC_AFFINE, QP_DT_I8},
    {"asymmetric_affine-i16", QP_QZ_ASYMMETRIC_AFFINE, QP_DT_I16},
    {"symmetric_affine-i8", QP_QZ_SYMMETRIC_AFFINE, QP_DT_I8},
    {"symmetric_affine-i16", QP_QZ_SYMMETRIC_AFFINE, QP_DT_I16},
    {"perchannel_symmetric_affine-i8", QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE, QP_DT_I8},
    {"perchannel_symmetric_affine-i16", QP_QZ_PERCHANNEL_SYMMETRIC_AFFINE, QP_DT_I16},
    {"dynamic_fixed_point-i8", QP_QZ_DYNAMIC_FIXED_POINT, QP_DT_I8},
    {"dynamic_fixed_point-i16", QP_QZ_DYNAMIC_FIXED_POINT, QP_DT_I16},
    {"bfloat16", QP_QZ_BFLOAT16, QP_DT_BF16},
    {"float16", QP_QZ_FLOAT16, QP_DT_F16},
    {"float32", QP_QZ_NONE, QP_DT_F32},
};
#define N_REPS ((int)(sizeof reps / sizeof reps[0]))
_Static_assert(sizeof reps / sizeof reps[0] <= 32, "representations are a 32-bit mask");

static int rep_find(const char *name)
{
    for (int i = 0; i < N_REPS; i++)
        if (!strcmp(reps[i].name, name))
            return i;
    return -1;
}

/* The representation of a table entry, -1 if absent or not one qpipe simulates. */
static int rep_of(const qp_qentry *e)
{
    if (!qp_qentry_present(e))
        return -1;
    for (int i = 0; i < N_REPS; i++)
        if (reps[i].qz == e->quantizer && reps[i].qt == e->qtype)
            return i;
    return -1;
}

static size_t rep_bytes(int r)
{
    int b = qp_qtable_qtype_bits(reps[r].qt);
    return b ? (size_t)b / 8 : reps[r].qt == QP_DT_F32 ? 4 : 2;
}

/* ---- units and the op table ----------------------------------------------------------------- */

static const char *const unit_names[] = {"nn", "tp", "ppu", NULL};
_Static_assert(sizeof unit_names / sizeof unit_names[0] == QP_UNIT_COUNT + 1, "unit names");

const char *qp_unit_name(int unit) { return unit >= 0 && unit < QP_UNIT_COUNT ? unit_names[unit] : "?"; }

/* Where each op runs on a Vivante-class core: the NN core does the multiply-accumulate layers
 * (depthwise too: a Conv with group = C), the tensor processor pooling, simple elementwise
 * arithmetic, resizing and data movement, the programmable PPU/shader everything else
 * (transcendental LUT ops, normalisations, reductions, comparisons).  tests/unit/test_profile.c
 * fails if an op of the op table (common/ops/table.c) is missing here. */
static const struct {
    const char *op;
    int unit;
} op_units[] = {
    {"Conv", QP_UNIT_NN}, {"ConvTranspose", QP_UNIT_NN}, {"Gemm", QP_UNIT_NN}, {"MatMul", QP_UNIT_NN},

    {"AveragePool", QP_UNIT_TP}, {"MaxPool", QP_UNIT_TP}, {"GlobalAveragePool", QP_UNIT_TP},
    {"GlobalMaxPool", QP_UNIT_TP}, {"Add", QP_UNIT_TP}, {"Sub", QP_UNIT_TP}, {"Mul", QP_UNIT_TP},
    {"Max", QP_UNIT_TP}, {"Min", QP_UNIT_TP}, {"Sum", QP_UNIT_TP}, {"Mean", QP_UNIT_TP},
    {"Relu", QP_UNIT_TP}, {"LeakyRelu", QP_UNIT_TP}, {"PRelu", QP_UNIT_TP}, {"Clip", QP_UNIT_TP},
    {"Abs", QP_UNIT_TP}, {"Neg", QP_UNIT_TP}, {"Resize", QP_UNIT_TP}, {"Upsample", QP_UNIT_TP},
    {"Concat", QP_UNIT_TP}, {"Reshape", QP_UNIT_TP}, {"Transpose", QP_UNIT_TP}, {"Slice", QP_UNIT_TP},
    {"Split", QP_UNIT_TP}, {"Squeeze", QP_UNIT_TP}, {"Unsqueeze", QP_UNIT_TP}, {"Flatten", QP_UNIT_TP},
    {"Identity", QP_UNIT_TP}, {"Dropout", QP_UNIT_TP}, {"Pad", QP_UNIT_TP}, {"DepthToSpace", QP_UNIT_TP},
    {"SpaceToDepth", QP_UNIT_TP}, {"Tile", QP_UNIT_TP}, {"Expand", QP_UNIT_TP}, {"Gather", QP_UNIT_TP},

    {"Sigmoid", QP_UNIT_PPU}, {"Tanh", QP_UNIT_PPU}, {"Exp", QP_UNIT_PPU}, {"Log", QP_UNIT_PPU},
    {"Erf", QP_UNIT_PPU}, {"Elu", QP_UNIT_PPU}, {"Selu", QP_UNIT_PPU}, {"HardSigmoid", QP_UNIT_PPU},
    {"HardSwish", QP_UNIT_PPU}, {"Softplus", QP_UNIT_PPU}, {"Softsign", QP_UNIT_PPU}, {"Sqrt", QP_UNIT_PPU},
    {"Reciprocal", QP_UNIT_PPU}, {"Pow", QP_UNIT_PPU}, {"Div", QP_UNIT_PPU}, {"Sin", QP_UNIT_PPU},
    {"Cos", QP_UNIT_PPU}, {"Ceil", QP_UNIT_PPU}, {"Floor", QP_UNIT_PPU}, {"Round", QP_UNIT_PPU},
    {"Sign", QP_UNIT_PPU}, {"Softmax", QP_UNIT_PPU}, {"LogSoftmax", QP_UNIT_PPU}, {"ReduceL1", QP_UNIT_PPU},
    {"ReduceL2", QP_UNIT_PPU}, {"ReduceLogSum", QP_UNIT_PPU}, {"ReduceLogSumExp", QP_UNIT_PPU},
    {"ReduceMax", QP_UNIT_PPU}, {"ReduceMean", QP_UNIT_PPU}, {"ReduceMin", QP_UNIT_PPU},
    {"ReduceProd", QP_UNIT_PPU}, {"ReduceSum", QP_UNIT_PPU}, {"ReduceSumSquare", QP_UNIT_PPU},
    {"ArgMax", QP_UNIT_PPU}, {"ArgMin", QP_UNIT_PPU}, {"BatchNormalization", QP_UNIT_PPU},
    {"InstanceNormalization", QP_UNIT_PPU}, {"LRN", QP_UNIT_PPU}, {"Cast", QP_UNIT_PPU},
    {"CastLike", QP_UNIT_PPU}, {"Equal", QP_UNIT_PPU}, {"Greater", QP_UNIT_PPU},
    {"GreaterOrEqual", QP_UNIT_PPU}, {"Less", QP_UNIT_PPU}, {"LessOrEqual", QP_UNIT_PPU}, {"And", QP_UNIT_PPU},
    {"Or", QP_UNIT_PPU}, {"Xor", QP_UNIT_PPU}, {"Not", QP_UNIT_PPU}, {"Where", QP_UNIT_PPU},
    {"Constant", QP_UNIT_PPU}, {"ConstantOfShape", QP_UNIT_PPU}, {"Shape", QP_UNIT_PPU},
    {"Size", QP_UNIT_PPU},
};

int qp_profile_op_unit(const char *op_type)
{
    for (size_t i = 0; i < sizeof op_units / sizeof op_units[0]; i++)
        if (!strcmp(op_units[i].op, op_type))
            return op_units[i].unit;
    return -1;
}

/* ---- the profile ---------------------------------------------------------------------------- */

struct unit_spec {
    uint32_t allowed;               /* mask over reps */
    double rate[N_REPS];            /* MACs (nn) or elements (tp, ppu) per cycle */
};

struct qp_profile {
    qp_arena *a;
    const char *name, *source;      /* target name; file or "built-in" */
    double clock_mhz, sram_kib;
    struct unit_spec unit[QP_UNIT_COUNT];
    int conv_default_allow;
    int n_listed;
    struct { int from, to, allow; } *listed; /* converters.allow and .deny pairs */
};

const char *qp_profile_name(const qp_profile *p) { return p->name; }

void qp_profile_free(qp_profile *p)
{
    if (p)
        qp_arena_free(p->a);
}

/* ---- typed access --------------------------------------------------------------------------- */

/* A finite number >= 0 (> 0 when positive is set). */
static int to_num(const qp_yaml *P, const qp_ynode *n, const char *what, int positive, double *out)
{
    char q[64];
    int rc = qp_yaml_want(P, n, QP_YN_SCALAR, what);
    if (rc || (rc = qp_yaml_to_num(P, n, what, out)))
        return rc;
    if (*out < 0 || (positive && *out == 0))
        return qp_yaml_errorf(P, n->line, n->col, "'%s' value '%s' must be %s", what,
                              qp_tensorio_quote(q, sizeof q, n->v, strlen(n->v)), positive ? "positive" : "0 or more");
    return 0;
}

/* Keys of units: the vendors' word for the PPU gets its own hint. */
static int check_unit_keys(const qp_yaml *P, const qp_ynode *map)
{
    const qp_ynode *k = qp_yaml_unknown_key(map, unit_names);
    if (k && !strcasecmp(k->v, "shader"))
        return qp_yaml_errorf(P, k->line, k->col, "unknown key '%s' in units (did you mean 'ppu'?)", k->v);
    return qp_yaml_check_keys(P, map, "units", unit_names);
}

static int to_rep(const qp_yaml *P, const qp_ynode *n, const char *what, int *out)
{
    const char *s = NULL;
    int rc = qp_yaml_to_str(P, n, what, 0, &s);
    if (rc)
        return rc;
    if ((*out = rep_find(s)) < 0) {
        const char *names[N_REPS];
        char q[64];
        for (int i = 0; i < N_REPS; i++)
            names[i] = reps[i].name;
        return qp_yaml_errorf(P, n->line, n->col, "unknown representation '%s' (did you mean '%s'?)",
                    qp_tensorio_quote(q, sizeof q, s, strlen(s)), qp_yaml_nearest(s, names, N_REPS));
    }
    return 0;
}

/* ---- schema --------------------------------------------------------------------------------- */

static const char *const top_keys[] = {"name", "clock_mhz", "sram_kib", "units", "converters", NULL};
static const char *const unit_keys[] = {"types", NULL};
static const char *const conv_keys[] = {"default", "allow", "deny", NULL};

static int parse_unit(const qp_yaml *P, const qp_ynode *n, int u, qp_profile *p)
{
    char what[64];
    snprintf(what, sizeof what, "units.%s", unit_names[u]);
    const qp_ynode *types;
    int rc;
    if ((rc = qp_yaml_want(P, n, QP_YN_MAP, what)) || (rc = qp_yaml_check_keys(P, n, what, unit_keys)) ||
        (rc = qp_yaml_require(P, n, "types", what, &types)))
        return rc;
    snprintf(what, sizeof what, "units.%s.types", unit_names[u]);
    if (types->kind == QP_YN_SCALAR && !types->quoted && !*types->v)
        return 0; /* "types:" left empty: the unit runs nothing */
    if ((rc = qp_yaml_want(P, types, QP_YN_MAP, what)))
        return rc;
    for (int i = 0; i < types->n; i++) {
        int r;
        double rate;
        char field[160];
        if ((rc = to_rep(P, types->k[2 * i], what, &r)))
            return rc;
        snprintf(field, sizeof field, "%s.%s", what, reps[r].name);
        if ((rc = to_num(P, types->k[2 * i + 1], field, 1, &rate)))
            return rc;
        p->unit[u].allowed |= 1u << r;
        p->unit[u].rate[r] = rate;
    }
    return 0;
}

static int parse_pairs(const qp_yaml *P, const qp_ynode *n, const char *what, int allow, qp_profile *p)
{
    int rc = qp_yaml_want(P, n, QP_YN_SEQ, what);
    if (rc)
        return rc;
    for (int i = 0; i < n->n; i++) {
        const qp_ynode *e = n->k[i];
        int from, to;
        if ((rc = qp_yaml_want(P, e, QP_YN_SEQ, what)))
            return rc;
        if (e->n != 2)
            return qp_yaml_errorf(P, e->line, e->col, "'%s' entries are [FROM, TO] pairs, not %d values", what, e->n);
        if ((rc = to_rep(P, e->k[0], what, &from)) || (rc = to_rep(P, e->k[1], what, &to)))
            return rc;
        if (from == to)
            return qp_yaml_errorf(P, e->line, e->col, "'%s' pair [%s, %s] is no conversion", what, reps[from].name,
                        reps[to].name);
        for (int k = 0; k < p->n_listed; k++)
            if (p->listed[k].from == from && p->listed[k].to == to)
                return qp_yaml_errorf(P, e->line, e->col, "pair [%s, %s] is listed twice in 'converters'%s", reps[from].name,
                            reps[to].name, p->listed[k].allow != allow ? " (in allow and in deny)" : "");
        p->listed[p->n_listed].from = from;
        p->listed[p->n_listed].to = to;
        p->listed[p->n_listed++].allow = allow;
    }
    return 0;
}

static int parse_profile(const qp_yaml *P, const qp_ynode *root, qp_profile *p)
{
    const qp_ynode *n, *units;
    int rc;
    if ((rc = qp_yaml_want(P, root, QP_YN_MAP, "the target profile")) || (rc = qp_yaml_check_keys(P, root, "the target profile", top_keys)))
        return rc;
    if ((rc = qp_yaml_require(P, root, "name", "the target profile", &n)) || (rc = qp_yaml_to_str(P, n, "name", 0, &p->name)))
        return rc;
    for (const char *c = p->name; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-' || *c == '.'))
            return qp_yaml_errorf(P, n->line, n->col, "'name' may hold only letters, digits, '_', '-' and '.'");
    if ((rc = qp_yaml_require(P, root, "clock_mhz", "the target profile", &n)) || (rc = to_num(P, n, "clock_mhz", 1, &p->clock_mhz)))
        return rc;
    if ((rc = qp_yaml_require(P, root, "sram_kib", "the target profile", &n)) || (rc = to_num(P, n, "sram_kib", 0, &p->sram_kib)))
        return rc;
    if ((rc = qp_yaml_require(P, root, "units", "the target profile", &units)) || (rc = qp_yaml_want(P, units, QP_YN_MAP, "units")) ||
        (rc = check_unit_keys(P, units)))
        return rc;
    for (int u = 0; u < QP_UNIT_COUNT; u++)
        if ((rc = qp_yaml_require(P, units, unit_names[u], "units", &n)) || (rc = parse_unit(P, n, u, p)))
            return rc;
    p->conv_default_allow = 1;
    const qp_ynode *cv = qp_yaml_get(root, "converters");
    if (!cv)
        return 0;
    if ((rc = qp_yaml_want(P, cv, QP_YN_MAP, "converters")) || (rc = qp_yaml_check_keys(P, cv, "converters", conv_keys)))
        return rc;
    if ((n = qp_yaml_get(cv, "default"))) {
        const char *s = NULL;
        if ((rc = qp_yaml_to_str(P, n, "converters.default", 0, &s)))
            return rc;
        if (n->quoted || (strcmp(s, "allow") && strcmp(s, "deny")))
            return qp_yaml_errorf(P, n->line, n->col, "'converters.default' must be allow or deny, not '%s'", s);
        p->conv_default_allow = !strcmp(s, "allow");
    }
    const qp_ynode *al = qp_yaml_get(cv, "allow"), *de = qp_yaml_get(cv, "deny");
    int cap = (al && al->kind == QP_YN_SEQ ? al->n : 0) + (de && de->kind == QP_YN_SEQ ? de->n : 0);
    if (!(p->listed = qp_arena_array(p->a, (size_t)(cap ? cap : 1), sizeof *p->listed)))
        return QP_ESYS;
    if (al && (rc = parse_pairs(P, al, "converters.allow", 1, p)))
        return rc;
    if (de && (rc = parse_pairs(P, de, "converters.deny", 0, p)))
        return rc;
    return 0;
}

int qp_profile_parse(const char *buf, size_t len, const char *name, qp_profile **out)
{
    *out = NULL;
    qp_profile *p;
    qp_arena *a = qp_arena_new(0);
    if (!a || !(p = qp_arena_alloc(a, sizeof *p))) {
        qp_arena_free(a);
        return qp_errorf(QP_ESYS, "out of memory");
    }
    memset(p, 0, sizeof *p);
    p->a = a;
    qp_yaml P = {.a = a, .name = name, .first_key = "name", .doc = "a target profile",
                 .tab = "TAB character (YAML indents with spaces)", .max_depth = MAX_DEPTH};
    qp_ynode *root;
    int rc = qp_yaml_parse(&P, buf, len, &root);
    if (!rc)
        rc = parse_profile(&P, root, p);
    if (!rc && !(p->source = qp_arena_strdup(a, name)))
        rc = QP_ESYS;
    if (rc) {
        qp_arena_free(a);
        return rc;
    }
    *out = p;
    return 0;
}

int qp_profile_load_file(const char *path, qp_profile **out)
{
    unsigned char *buf;
    size_t n;
    *out = NULL;
    int rc = qp_tensorio_read_file(path, MAX_FILE, &buf, &n);
    if (rc)
        return rc;
    rc = qp_profile_parse((const char *)buf, n, path, out);
    free(buf);
    return rc;
}

/* ---- built-in targets ----------------------------------------------------------------------- */

struct qp_target_blob {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct qp_target_blob qp_targets[]; /* $(BUILD)/gen/qp_targets.c, NULL-terminated */

const char *const *qp_profile_builtin_names(void)
{
    static const char *names[16];
    int k = 0;
    for (int i = 0; qp_targets[i].name && k < 15; i++)
        names[k++] = qp_targets[i].name;
    names[k] = NULL;
    return names;
}

int qp_profile_load_name(const char *name, qp_profile **out)
{
    *out = NULL;
    for (int i = 0; qp_targets[i].name; i++)
        if (!strcmp(qp_targets[i].name, name)) {
            char src[96];
            snprintf(src, sizeof src, "<built-in %s>", qp_targets[i].name);
            int rc = qp_profile_parse((const char *)qp_targets[i].data, qp_targets[i].len, src, out);
            if (!rc && strcmp((*out)->name, name)) { /* the file's name: must be its own */
                rc = qp_errorf(QP_EINPUT, "built-in target '%s' calls itself '%s'", name, (*out)->name);
                qp_profile_free(*out);
                *out = NULL;
            }
            return rc;
        }
    char list[512] = "", q[64];
    const char *const *names = qp_profile_builtin_names();
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return qp_errorf(QP_EUSAGE, "unknown target '%s' (known: %s; or a target YAML file)",
                     qp_tensorio_quote(q, sizeof q, name, strlen(name)), list);
}

/* ---- the check ------------------------------------------------------------------------------ */

static int conv_allowed(const qp_profile *p, int from, int to)
{
    for (int i = 0; i < p->n_listed; i++)
        if (p->listed[i].from == from && p->listed[i].to == to)
            return p->listed[i].allow;
    return p->conv_default_allow;
}

static void allowed_list(const qp_profile *p, int u, char *buf, size_t n)
{
    buf[0] = 0;
    for (int r = 0; r < N_REPS; r++)
        if (p->unit[u].allowed >> r & 1)
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "", reps[r].name);
    if (!buf[0])
        snprintf(buf, n, "nothing");
}

/* The representation a weight is checked and priced as.  qpipe's asymmetric_affine u8 tables
 * keep weights as asymmetric_affine i8 (qpipe-quantize(5), Weights); per tensor, q + 128 with
 * zero point z + 128 is the same tensor in u8, the form the vendor's u8 flow exports, so such
 * a weight counts as asymmetric_affine-u8. */
static int weight_rep(const qp_qtable *t, int ni)
{
    const qp_qentry *w = &t->weight[ni];
    if (!qp_qentry_present(w))
        return -1;
    int r = rep_of(w);
    if (r == rep_find("asymmetric_affine-i8") && w->n == 1)
        return rep_find("asymmetric_affine-u8");
    return r;
}

/* Whether a node's inputs/outputs are layers the table quantizes: its first output has an
 * entry (integer side branches and unquantized paths have none). */
static int node_out_rep(const qp_qtable *t, const qp_node *nd)
{
    return nd->n_out > 0 && nd->out[0] >= 0 ? rep_of(&t->value[nd->out[0]]) : -1;
}

/* Whether input j of node ni is a precision boundary (a dtype converter before the layer):
 * an activation input whose representation differs from the layer's output. */
static int boundary(const qp_graph *g, const qp_qtable *t, int ni, int j, int *from, int *to)
{
    const qp_node *nd = &g->nodes[ni];
    int vi = nd->in[j];
    if (vi < 0 || g->values[vi].is_const || (j == 1 && qp_qentry_present(&t->weight[ni])) ||
        (j == 2 && qp_qentry_present(&t->bias[ni])))
        return 0;
    *from = rep_of(&t->value[vi]);
    *to = node_out_rep(t, nd);
    return *from >= 0 && *to >= 0 && *from != *to;
}

/* qmix's name of that converter, without its uid: <layer>_pre_<from>_to_<to>, types glued. */
static void converter_key(const char *layer, int from, int to, char *buf, size_t n)
{
    char a[64], b[64];
    size_t k = 0;
    for (const char *c = reps[from].name; *c && k < sizeof a - 1; c++)
        if (*c != '-')
            a[k++] = *c;
    a[k] = 0;
    k = 0;
    for (const char *c = reps[to].name; *c && k < sizeof b - 1; c++)
        if (*c != '-')
            b[k++] = *c;
    b[k] = 0;
    snprintf(buf, n, "%s_pre_%s_to_%s", layer, a, b);
}

/* The first problem of node ni into msg (0 if none). */
static int node_problem(const qp_profile *p, const qp_graph *g, const qp_qtable *t, int ni, char *msg, size_t n)
{
    const qp_node *nd = &g->nodes[ni];
    if (nd->n_out < 1 || nd->out[0] < 0 || !qp_qentry_present(&t->value[nd->out[0]]))
        return 0;
    int u = qp_profile_op_unit(nd->op_type), out = node_out_rep(t, nd);
    char allowed[600];
    if (u < 0) {
        snprintf(msg, n, "layer '%s' (%s): op not mapped to a unit of %s", nd->key, nd->op_type, p->name);
        return 1;
    }
    if (out < 0) {
        snprintf(msg, n, "layer '%s' (%s): its output type is none qpipe simulates", nd->key, nd->op_type);
        return 1;
    }
    int wr = weight_rep(t, ni);
    allowed_list(p, u, allowed, sizeof allowed);
    if (wr >= 0 && !(p->unit[u].allowed >> wr & 1)) {
        snprintf(msg, n, "layer '%s' (%s) has %s weights, not supported on the %s unit of %s (it allows %s)",
                 nd->key, nd->op_type, reps[wr].name, unit_names[u], p->name, allowed);
        return 1;
    }
    if (!(p->unit[u].allowed >> out & 1)) {
        snprintf(msg, n, "layer '%s' (%s) is %s, not supported on the %s unit of %s (it allows %s)", nd->key,
                 nd->op_type, reps[out].name, unit_names[u], p->name, allowed);
        return 1;
    }
    for (int j = 0; j < nd->n_in; j++) {
        int in, to;
        if (!boundary(g, t, ni, j, &in, &to) || conv_allowed(p, in, out))
            continue;
        const qp_value *v = &g->values[nd->in[j]];
        const char *from = v->producer >= 0 ? g->nodes[v->producer].key : v->key ? v->key : v->name;
        snprintf(msg, n, "layer '%s' (%s): the converter %s -> %s from '%s' is not supported on %s", nd->key,
                 nd->op_type, reps[in].name, reps[out].name, from, p->name);
        return 1;
    }
    return 0;
}

int qp_profile_check(const qp_profile *p, const qp_graph *g, const qp_qtable *t)
{
    char first[1200], msg[1200];
    int bad = 0;
    for (int ni = 0; ni < g->n_nodes; ni++)
        if (node_problem(p, g, t, ni, bad ? msg : first, sizeof msg))
            bad++;
    if (!bad)
        return 0;
    if (bad == 1)
        return qp_errorf(QP_EINPUT, "%s", first);
    return qp_errorf(QP_EINPUT, "%s (and %d more illegal layer%s)", first, bad - 1, bad == 2 ? "" : "s");
}

/* ---- the report ----------------------------------------------------------------------------- */

static double numel(const qp_value *v)
{
    double n = 1;
    for (int i = 0; i < v->rank; i++)
        n *= (double)v->dims[i];
    return n;
}

double qp_profile_node_work(const qp_graph *g, int ni)
{
    const qp_node *nd = &g->nodes[ni];
    if (nd->n_out < 1 || nd->out[0] < 0)
        return 0;
    const qp_value *y = &g->values[nd->out[0]];
    const qp_value *x = nd->n_in > 0 && nd->in[0] >= 0 ? &g->values[nd->in[0]] : NULL;
    const qp_value *w = nd->n_in > 1 && nd->in[1] >= 0 ? &g->values[nd->in[1]] : NULL;
    if (!strcmp(nd->op_type, "Conv") && w && w->rank >= 3) {
        double k = 1; /* W is [M, C/group, k...]: one output element costs C/group * prod(k) */
        for (int i = 1; i < w->rank; i++)
            k *= (double)w->dims[i];
        return numel(y) * k;
    }
    if (!strcmp(nd->op_type, "ConvTranspose") && w && x && w->rank >= 3) {
        double k = 1; /* W is [C, M/group, k...]: each input element feeds M/group * prod(k) */
        for (int i = 1; i < w->rank; i++)
            k *= (double)w->dims[i];
        return numel(x) * k;
    }
    if (!strcmp(nd->op_type, "Gemm") && x && x->rank == 2)
        return numel(y) * (double)x->dims[qp_node_int(nd, "transA", 0) ? 0 : 1];
    if (!strcmp(nd->op_type, "MatMul") && x && x->rank >= 1)
        return numel(y) * (double)x->dims[x->rank - 1];
    return numel(y);
}

static size_t value_bytes(const qp_qtable *t, const qp_value *v, int vi)
{
    int r = rep_of(&t->value[vi]);
    size_t es = r >= 0 ? rep_bytes(r) : qp_dtype_size(v->dtype);
    return (size_t)numel(v) * (es ? es : 4);
}

static size_t entry_bytes(const qp_qentry *e, const qp_value *v)
{
    int bits = qp_qtable_qtype_bits(e->qtype);
    size_t es = bits ? (size_t)bits / 8 : e->qtype == QP_DT_F32 ? 4 : e->qtype ? 2 : qp_dtype_size(v->dtype);
    return (size_t)numel(v) * es;
}

static void human(char *buf, size_t n, double v)
{
    if (v >= 1e9)
        snprintf(buf, n, "%.3fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, n, "%.3fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, n, "%.3fk", v / 1e3);
    else
        snprintf(buf, n, "%.0f", v);
}

/* "type" or "type/w:weight type" of node ni. */
static void type_label(const qp_qtable *t, int ni, char *buf, size_t n)
{
    int out = node_out_rep(t, &t->g->nodes[ni]), wr = weight_rep(t, ni);
    if (wr >= 0 && wr != out)
        snprintf(buf, n, "%s/w:%s", out >= 0 ? reps[out].name : "-", reps[wr].name);
    else
        snprintf(buf, n, "%s", out >= 0 ? reps[out].name : "-");
}

int qp_profile_report(const qp_profile *p, const qp_graph *g, const qp_qtable *t, size_t arena_bytes, FILE *f)
{
    int kw = 5, tw = 4;
    char type[96];
    for (int ni = 0; ni < g->n_nodes; ni++) {
        int l = (int)strlen(g->nodes[ni].key ? g->nodes[ni].key : "");
        if (l > kw)
            kw = l;
        type_label(t, ni, type, sizeof type);
        if ((int)strlen(type) > tw)
            tw = (int)strlen(type);
        for (int j = 0, from, to; j < g->nodes[ni].n_in; j++)
            if (boundary(g, t, ni, j, &from, &to)) {
                char ck[256];
                converter_key(g->nodes[ni].key ? g->nodes[ni].key : "?", from, to, ck, sizeof ck);
                if ((int)strlen(ck) > kw)
                    kw = (int)strlen(ck);
            }
    }
    if (kw > 72)
        kw = 72;
    double tot_macs = 0, tot_elts = 0, tot_cycles = 0, tot_w = 0, tot_a = 0, unit_cycles[QP_UNIT_COUNT] = {0};
    int unpriced = 0, n_conv = 0;
    fprintf(f, "target %s: clock %g MHz, on-chip SRAM %g KiB (%s)\n", p->name, p->clock_mhz, p->sram_kib,
            p->source);
    fprintf(f, "%-*s  %-18s %-4s %-*s %16s %14s %12s %12s\n", kw, "layer", "op", "unit", tw, "type", "MACs/elements",
            "cycles", "weight B", "activation B");
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const qp_node *nd = &g->nodes[ni];
        int u = qp_profile_op_unit(nd->op_type), out = node_out_rep(t, nd);
        const qp_qentry *we = &t->weight[ni];
        int wr = weight_rep(t, ni);
        double work = qp_profile_node_work(g, ni), wbytes = 0, abytes = 0, cycles = -1;
        for (int j = 0; j < nd->n_in; j++) {
            int vi = nd->in[j];
            if (vi < 0)
                continue;
            const qp_value *v = &g->values[vi];
            if (j == 1 && qp_qentry_present(we))
                wbytes += (double)entry_bytes(we, v);
            else if (j == 2 && qp_qentry_present(&t->bias[ni]))
                wbytes += (double)entry_bytes(&t->bias[ni], v);
            else if (v->is_const) /* constant layers (Initializer_); parameter ports are attributes */
                wbytes += qp_qentry_present(&t->value[vi]) ? (double)value_bytes(t, v, vi) : 0;
            else
                abytes += (double)value_bytes(t, v, vi);
        }
        for (int k = 0; k < nd->n_out; k++)
            if (nd->out[k] >= 0)
                abytes += (double)value_bytes(t, &g->values[nd->out[k]], nd->out[k]);
        if (u >= 0 && out >= 0 && (p->unit[u].allowed >> out & 1) && (wr < 0 || (p->unit[u].allowed >> wr & 1))) {
            double rate = p->unit[u].rate[out];
            if (wr >= 0 && p->unit[u].rate[wr] < rate)
                rate = p->unit[u].rate[wr];
            cycles = ceil(work / rate);
            tot_cycles += cycles;
            unit_cycles[u] += cycles;
        } else {
            unpriced++;
        }
        if (u == QP_UNIT_NN)
            tot_macs += work;
        else
            tot_elts += work;
        tot_w += wbytes;
        tot_a += abytes;
        char cyc[32];
        type_label(t, ni, type, sizeof type);
        if (cycles >= 0)
            snprintf(cyc, sizeof cyc, "%.0f", cycles);
        else
            snprintf(cyc, sizeof cyc, "-");
        fprintf(f, "%-*.*s  %-18.18s %-4s %-*s %16.0f %14s %12.0f %12.0f\n", kw, kw, nd->key ? nd->key : "?",
                nd->op_type, u >= 0 ? unit_names[u] : "?", tw, type, work, cyc, wbytes, abytes);
        /* the dtype converters before the layer: on the tp, at the slower of the two types */
        for (int j = 0, from, to; j < nd->n_in; j++) {
            if (!boundary(g, t, ni, j, &from, &to))
                continue;
            const struct unit_spec *tp = &p->unit[QP_UNIT_TP];
            const qp_value *v = &g->values[nd->in[j]];
            double n = numel(v), cb = n * (double)(rep_bytes(from) + rep_bytes(to)), cc = -1;
            char ck[256], ct[96];
            if (conv_allowed(p, from, to) && (tp->allowed >> from & 1) && (tp->allowed >> to & 1)) {
                cc = ceil(n / (tp->rate[from] < tp->rate[to] ? tp->rate[from] : tp->rate[to]));
                tot_cycles += cc;
                unit_cycles[QP_UNIT_TP] += cc;
                snprintf(cyc, sizeof cyc, "%.0f", cc);
            } else {
                unpriced++;
                snprintf(cyc, sizeof cyc, "-");
            }
            n_conv++;
            tot_elts += n;
            tot_a += cb;
            converter_key(nd->key ? nd->key : "?", from, to, ck, sizeof ck);
            snprintf(ct, sizeof ct, "%s", reps[to].name);
            fprintf(f, "%-*.*s  %-18.18s %-4s %-*s %16.0f %14s %12.0f %12.0f\n", kw, kw, ck, "dtype_converter", "tp",
                    tw, ct, n, cyc, 0.0, cb);
        }
    }
    char a[32], b[32], c[32], d[32], e[32];
    human(a, sizeof a, tot_macs);
    human(b, sizeof b, tot_elts);
    human(c, sizeof c, tot_cycles);
    human(d, sizeof d, tot_w);
    human(e, sizeof e, tot_a);
    if (n_conv)
        fprintf(f, "total: %d layers and %d converters, %.0f MACs (%s) on nn, %.0f elements (%s) on tp/ppu\n",
                g->n_nodes, n_conv, tot_macs, a, tot_elts, b);
    else
        fprintf(f, "total: %d layers, %.0f MACs (%s) on nn, %.0f elements (%s) on tp/ppu\n", g->n_nodes, tot_macs,
                a, tot_elts, b);
    fprintf(f, "total: %.0f cycles (%s; nn %.0f, tp %.0f, ppu %.0f) = %.3f ms at %g MHz, compute only\n",
            tot_cycles, c, unit_cycles[0], unit_cycles[1], unit_cycles[2], tot_cycles / (p->clock_mhz * 1e3),
            p->clock_mhz);
    if (unpriced)
        fprintf(f, "total: %d layers or converters not priced (not legal on %s: see the check)\n", unpriced, p->name);
    fprintf(f, "total: weight traffic %.0f B (%s), activation traffic %.0f B (%s)\n", tot_w, d, tot_a, e);
    fprintf(f, "total: arena %zu B (%.1f KiB), on-chip SRAM %g KiB: %s\n", arena_bytes, (double)arena_bytes / 1024,
            p->sram_kib, (double)arena_bytes <= p->sram_kib * 1024 ? "fits" : "does not fit");
    if (fflush(f) || ferror(f))
        return qp_errorf(QP_ESYS, "writing the report: %s", strerror(errno));
    return 0;
}
