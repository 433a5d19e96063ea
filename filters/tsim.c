/* tsim: compare two tensors (or two dump directories) as Acuity's
 * compute_tensor_similarity does, with more metrics: cosine, Euclidean distance, max
 * and mean absolute error, SQNR; and pass/fail checks on them (--min-cos, --allclose,
 * --max-err-rel).  Everything is loaded and computed before the first line is printed,
 * so an error leaves stdout empty. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qp/diag.h"
#include "qp/metrics.h"
#include "qp/onnx_tensor.h"
#include "qp/tensorio.h"

#define VERSION "0.1.0"
#define MAX_FIELDS 64
#define USAGE "usage: tsim [options] REF X | tsim [options] REF_DIR X_DIR"

struct field {
    char name[64]; /* "" when unnamed: printed as the slice "off:end" */
    int64_t len;
};

struct opts {
    int rank; /* --shape, -1 if none */
    int64_t dims[QP_TENSOR_MAX_RANK];
    int dtype;
    int tsv;
    int has_min_cos;
    double min_cos;
    int has_allclose;
    double rtol, atol;
    int has_max_err_rel;
    double max_err_rel;
    int n_fields;
    struct field fields[MAX_FIELDS];
    const char *ref, *x;
};

struct metrics {
    double cos, euc, maxabs, meanabs, sqnr;
};

/* Element-wise facts of a whole-tensor row, for --allclose and --max-err-rel. */
struct closeness {
    int64_t n, n_fail;     /* elements, and those with |ref - x| > atol + rtol |ref| */
    int64_t worst;         /* flat index of the largest excess over the tolerance, -1 if none */
    double worst_ref, worst_x, worst_tol;
    double ref_range;      /* max(ref) - min(ref) */
    int rank;              /* shape used to print the worst index */
    int64_t dims[QP_TENSOR_MAX_RANK];
};

struct row {
    char *ref, *x, *label; /* label: NULL for the whole tensor */
    struct metrics m;
    struct closeness c;    /* whole-tensor rows only */
};

struct table {
    struct row *rows;
    size_t n, cap;
    int dir_mode;
};

struct vec {
    double *v;
    int64_t n;
    int known; /* shape from the file (npy header, dump name or --shape) */
    int rank;
    int64_t dims[QP_TENSOR_MAX_RANK];
};

static void usage(void)
{
    printf("%s\n\n"
           "Compares tensors; REF is the reference.  Prints per pair: cosine similarity,\n"
           "Euclidean distance, max and mean absolute error, SQNR in dB.\n"
           "Files: .tensor (Acuity text dump), .npy, .pb (ONNX TensorProto), anything else\n"
           "raw (needs --shape).\n"
           "Directories: same-named .tensor/.npy/.pb files of the two are paired.\n\n"
           "  --shape D0,D1,...    shape of raw files and of .tensor files\n"
           "  --dtype T            element type of raw files (default f32)\n"
           "  --tsv                tab-separated output with a header line\n"
           "  --min-cos X          exit 4 if any reported cosine is below X\n"
           "  --allclose RTOL,ATOL exit 4 unless |ref-x| <= ATOL + RTOL*|ref| everywhere\n"
           "  --max-err-rel X      exit 4 if maxabs > X * (max - min) of REF\n"
           "  --split-last N,N,..  also report slices of the last axis\n"
           "  --fields NAME:N,..   the same, with names (boxes:4,obj:1,cls:80)\n"
           "  -h, --help           this help\n"
           "      --version        print the version\n",
           USAGE);
}

_Noreturn static void usage_error(const char *fmt, const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    qp_diag_die(QP_EUSAGE, "%s (%s)", msg, USAGE);
}

static void parse_fields(struct opts *o, const char *s, int named)
{
    const char *p = s;
    o->n_fields = 0;
    while (*p) {
        struct field *f = &o->fields[o->n_fields];
        memset(f, 0, sizeof *f);
        if (o->n_fields == MAX_FIELDS)
            usage_error("too many fields in '%s'", s);
        if (named) {
            const char *c = strchr(p, ':');
            size_t len = c ? (size_t)(c - p) : 0;
            if (!c || len == 0 || len >= sizeof f->name || memchr(p, ',', len))
                usage_error("bad --fields '%s': expected NAME:COUNT,...", s);
            memcpy(f->name, p, len);
            p = c + 1;
        }
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || *p == '-' || *p == '+' || errno || v <= 0 || (*end && *end != ','))
            usage_error(named ? "bad --fields '%s': each COUNT must be a positive integer"
                              : "bad --split-last '%s': expected positive integers separated by ','",
                        s);
        f->len = v;
        o->n_fields++;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            usage_error("bad field list '%s': trailing ','", s);
    }
    if (o->n_fields == 0)
        usage_error("empty field list '%s'", s);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    enum { O_SHAPE = 256, O_DTYPE, O_TSV, O_MINCOS, O_SPLIT, O_FIELDS, O_VERSION, O_ALLCLOSE, O_MAXERR };
    static const struct option lo[] = {
        {"shape", required_argument, 0, O_SHAPE},   {"dtype", required_argument, 0, O_DTYPE},
        {"tsv", no_argument, 0, O_TSV},             {"min-cos", required_argument, 0, O_MINCOS},
        {"split-last", required_argument, 0, O_SPLIT}, {"fields", required_argument, 0, O_FIELDS},
        {"allclose", required_argument, 0, O_ALLCLOSE}, {"max-err-rel", required_argument, 0, O_MAXERR},
        {"help", no_argument, 0, 'h'},              {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0}};
    int c, split = 0, named = 0;
    memset(o, 0, sizeof *o);
    o->rank = -1;
    o->dtype = QP_DT_F32;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage();
            exit(0);
        case O_VERSION:
            printf("tsim (qpipe) " VERSION "\n");
            exit(0);
        case O_SHAPE:
            if (qp_shape_parse(optarg, &o->rank, o->dims))
                qp_diag_exit(QP_EUSAGE);
            break;
        case O_DTYPE:
            o->dtype = qp_dtype_parse(optarg);
            if (!o->dtype)
                usage_error("unknown --dtype '%s' (allowed: f32 f64 f16 bf16 u8 i8 u16 i16 u32 i32 u64 i64 bool)",
                            optarg);
            break;
        case O_TSV:
            o->tsv = 1;
            break;
        case O_MINCOS: {
            char *end;
            errno = 0;
            o->min_cos = strtod(optarg, &end);
            if (end == optarg || *end || errno || !(o->min_cos >= -1 && o->min_cos <= 1))
                usage_error("bad --min-cos '%s': expected a number in [-1, 1]", optarg);
            o->has_min_cos = 1;
            break;
        }
        case O_ALLCLOSE: {
            char *end, *end2;
            errno = 0;
            o->rtol = strtod(optarg, &end);
            if (end == optarg || *end != ',' || errno || !(o->rtol >= 0 && isfinite(o->rtol)))
                usage_error("bad --allclose '%s': expected RTOL,ATOL, two finite numbers >= 0", optarg);
            o->atol = strtod(end + 1, &end2);
            if (end2 == end + 1 || *end2 || errno || !(o->atol >= 0 && isfinite(o->atol)))
                usage_error("bad --allclose '%s': expected RTOL,ATOL, two finite numbers >= 0", optarg);
            o->has_allclose = 1;
            break;
        }
        case O_MAXERR: {
            char *end;
            errno = 0;
            o->max_err_rel = strtod(optarg, &end);
            if (end == optarg || *end || errno || !(o->max_err_rel >= 0 && isfinite(o->max_err_rel)))
                usage_error("bad --max-err-rel '%s': expected a finite number >= 0", optarg);
            o->has_max_err_rel = 1;
            break;
        }
        case O_SPLIT:
            parse_fields(o, optarg, 0);
            split = 1;
            break;
        case O_FIELDS:
            parse_fields(o, optarg, 1);
            named = 1;
            break;
        case ':':
            usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (split && named)
        usage_error("%s", "give --split-last or --fields, not both");
    if (argc - optind != 2)
        usage_error("%s", argc - optind < 2 ? "two operands needed" : "too many operands");
    o->ref = argv[optind];
    o->x = argv[optind + 1];
}

/* ---- loading ---- */

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && !strcmp(path + n - e, ext);
}

static void load(const struct opts *o, const char *path, struct vec *out)
{
    qp_tensor t;
    int rc;
    memset(out, 0, sizeof *out);
    if (has_ext(path, ".npy")) {
        rc = qp_tensorio_read_npy(path, &t);
        out->known = 1;
    } else if (has_ext(path, ".pb")) {
        rc = qp_onnx_tensor_read_pb(path, &t);
        out->known = 1;
    } else if (has_ext(path, ".tensor")) {
        int r;
        int64_t d[QP_TENSOR_MAX_RANK];
        out->known = o->rank >= 0 || !qp_tensorio_name_dims(path, &r, d);
        rc = qp_tensorio_read_tensor(path, o->rank >= 0 ? o->rank : QP_SHAPE_ANY, o->dims, &t);
    } else {
        if (o->rank < 0)
            qp_diag_die(QP_EUSAGE, "'%s' is not .npy, .tensor or .pb: give its shape with --shape", path);
        rc = qp_tensorio_read_raw(path, o->dtype, o->rank, o->dims, &t);
        out->known = 1;
    }
    if (rc)
        qp_diag_exit(rc);
    int64_t bad = qp_tensor_find_nonfinite(&t);
    if (bad >= 0)
        qp_diag_die(QP_EINPUT, "'%s': element %lld is not finite", path, (long long)bad);
    out->n = qp_tensor_numel(&t); /* may be 0: two empty tensors of one shape are equal */
    out->v = qp_malloc((size_t)out->n * sizeof *out->v);
    if (!out->v)
        qp_diag_exit(QP_ESYS);
    qp_tensor_get_f64(&t, out->v);
    out->rank = t.rank;
    memcpy(out->dims, t.dims, sizeof t.dims);
    qp_tensor_free(&t);
}

/* Shapes agree if they are equal once every size-1 dim is dropped. */
static int same_shape(const struct vec *a, const struct vec *b)
{
    int i = 0, j = 0;
    for (;;) {
        while (i < a->rank && a->dims[i] == 1)
            i++;
        while (j < b->rank && b->dims[j] == 1)
            j++;
        if (i == a->rank || j == b->rank)
            return i == a->rank && j == b->rank;
        if (a->dims[i++] != b->dims[j++])
            return 0;
    }
}

/* ---- metrics ---- */

/* Over the elements whose last-axis index lies in [off, off + len), rows of width L; a is
 * the reference. */
static struct metrics measure(const double *a, const double *b, int64_t total, int64_t L, int64_t off, int64_t len)
{
    qp_metrics_acc acc = {0};
    for (int64_t r = 0; r < total; r += L)
        for (int64_t i = r + off; i < r + off + len; i++)
            qp_metrics_add(&acc, a[i], b[i]);
    qp_metrics q = qp_metrics_get(&acc);
    return (struct metrics){q.cos, q.euc, q.maxabs, q.meanabs, q.sqnr};
}

/* ref is the reference: the tolerance of element i is atol + rtol |ref[i]| (numpy.isclose
 * with ref as its second argument, as onnx's backend test runner uses it). */
static struct closeness measure_close(const struct opts *o, const double *ref, const double *x, int64_t n)
{
    struct closeness c = {.n = n, .worst = -1};
    double lo = n ? ref[0] : 0, hi = lo, worst_excess = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(ref[i] - x[i]), tol = o->atol + o->rtol * fabs(ref[i]);
        if (ref[i] < lo)
            lo = ref[i];
        if (ref[i] > hi)
            hi = ref[i];
        if (d > tol) {
            if (!c.n_fail || d - tol > worst_excess) {
                worst_excess = d - tol;
                c.worst = i;
                c.worst_ref = ref[i];
                c.worst_x = x[i];
                c.worst_tol = tol;
            }
            c.n_fail++;
        }
    }
    c.ref_range = hi - lo;
    return c;
}

static char *xstrdup(const char *s)
{
    char *p = qp_malloc(strlen(s) + 1);
    if (!p)
        qp_diag_exit(QP_ESYS);
    return strcpy(p, s);
}

static struct row *add_row(struct table *t, const char *ref, const char *x, const char *label, struct metrics m)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->rows = qp_realloc(t->rows, t->cap * sizeof *t->rows);
        if (!t->rows)
            qp_diag_exit(QP_ESYS);
    }
    struct row *r = &t->rows[t->n++];
    r->ref = xstrdup(ref);
    r->x = xstrdup(x);
    r->label = label ? xstrdup(label) : NULL;
    r->m = m;
    memset(&r->c, 0, sizeof r->c);
    return r;
}

static void compare_pair(const struct opts *o, const char *ref, const char *x, struct table *t)
{
    struct vec a, b;
    char s1[160], s2[160];
    load(o, ref, &a);
    load(o, x, &b);
    if (a.n != b.n)
        qp_diag_die(QP_EINPUT, "size mismatch: '%s' has %lld elements (%s), '%s' has %lld (%s)", ref,
                    (long long)a.n, qp_shape_format(s1, sizeof s1, a.rank, a.dims), x, (long long)b.n,
                    qp_shape_format(s2, sizeof s2, b.rank, b.dims));
    if (a.known && b.known && !same_shape(&a, &b))
        qp_diag_die(QP_EINPUT, "shape mismatch: '%s' is %s, '%s' is %s", ref,
                    qp_shape_format(s1, sizeof s1, a.rank, a.dims), x, qp_shape_format(s2, sizeof s2, b.rank, b.dims));
    struct row *whole = add_row(t, ref, x, NULL, measure(a.v, b.v, a.n, a.n, 0, a.n));
    whole->c = measure_close(o, a.v, b.v, a.n);
    const struct vec *shp = a.known ? &a : b.known ? &b : NULL;
    if (shp) {
        whole->c.rank = shp->rank;
        memcpy(whole->c.dims, shp->dims, sizeof shp->dims);
    } else {
        whole->c.rank = 1;
        whole->c.dims[0] = a.n;
    }
    if (o->n_fields) {
        const struct vec *s = a.known ? &a : b.known ? &b : NULL;
        if (!s)
            qp_diag_die(QP_EUSAGE, "--split-last/--fields need a shape: '%s' and '%s' have none (give --shape)",
                        ref, x);
        int64_t L = s->rank ? s->dims[s->rank - 1] : 1, sum = 0;
        for (int i = 0; i < o->n_fields; i++)
            sum += o->fields[i].len;
        if (sum != L)
            qp_diag_die(QP_EINPUT, "fields add up to %lld, but the last axis of '%s' (%s) is %lld", (long long)sum,
                        s == &a ? ref : x, qp_shape_format(s1, sizeof s1, s->rank, s->dims), (long long)L);
        int64_t off = 0;
        for (int i = 0; i < o->n_fields; i++) {
            char label[96];
            const struct field *f = &o->fields[i];
            if (f->name[0])
                snprintf(label, sizeof label, "%s", f->name);
            else
                snprintf(label, sizeof label, "%lld:%lld", (long long)off, (long long)(off + f->len));
            add_row(t, ref, x, label, measure(a.v, b.v, a.n, L, off, f->len));
            off += f->len;
        }
    }
    free(a.v);
    free(b.v);
}

/* ---- directories ---- */

struct names {
    char **v;
    size_t n;
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), n = dl + strlen(name) + 2;
    char *p = qp_malloc(n);
    if (!p)
        qp_diag_exit(QP_ESYS);
    snprintf(p, n, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", name);
    return p;
}

static void list_dir(const char *dir, struct names *out)
{
    DIR *d = opendir(dir);
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    if (!d)
        qp_diag_die(errno == ENOENT || errno == EACCES ? QP_EINPUT : QP_ESYS, "cannot read directory '%s': %s", dir,
                    strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!has_ext(e->d_name, ".tensor") && !has_ext(e->d_name, ".npy") && !has_ext(e->d_name, ".pb"))
            continue;
        char *path = join(dir, e->d_name);
        struct stat st;
        int reg = !stat(path, &st) && S_ISREG(st.st_mode);
        free(path);
        if (!reg)
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            out->v = qp_realloc(out->v, cap * sizeof *out->v);
            if (!out->v)
                qp_diag_exit(QP_ESYS);
        }
        out->v[out->n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
}

static void warn_only(const char *dir, char **names, size_t n)
{
    char buf[600] = "";
    size_t o = 0;
    for (size_t i = 0; i < n && i < 8 && o < sizeof buf; i++) {
        int w = snprintf(buf + o, sizeof buf - o, "%s%s", i ? ", " : "", names[i]);
        o = w < 0 ? sizeof buf : o + (size_t)w;
    }
    if (n > 8 && o < sizeof buf)
        snprintf(buf + o, sizeof buf - o, ", ... (%zu more)", n - 8);
    qp_diag_warn("%zu file%s only in '%s': %s", n, n == 1 ? "" : "s", dir, buf);
}

static void compare_dirs(const struct opts *o, struct table *t)
{
    struct names a, b;
    list_dir(o->ref, &a);
    list_dir(o->x, &b);
    char **only_a = qp_calloc(a.n + 1, sizeof *only_a), **only_b = qp_calloc(b.n + 1, sizeof *only_b);
    size_t na = 0, nb = 0, i = 0, j = 0, paired = 0;
    if (!only_a || !only_b)
        qp_diag_exit(QP_ESYS);
    t->dir_mode = 1;
    while (i < a.n || j < b.n) {
        int c = i == a.n ? 1 : j == b.n ? -1 : strcmp(a.v[i], b.v[j]);
        if (c < 0) {
            only_a[na++] = a.v[i++];
        } else if (c > 0) {
            only_b[nb++] = b.v[j++];
        } else {
            char *pa = join(o->ref, a.v[i]), *pb = join(o->x, b.v[j]);
            compare_pair(o, pa, pb, t);
            free(pa);
            free(pb);
            i++, j++, paired++;
        }
    }
    if (!paired)
        qp_diag_die(QP_EINPUT, "no .tensor/.npy/.pb file names in common between '%s' and '%s'", o->ref, o->x);
    if (na)
        warn_only(o->ref, only_a, na);
    if (nb)
        warn_only(o->x, only_b, nb);
    free(only_a);
    free(only_b);
    for (size_t k = 0; k < a.n; k++)
        free(a.v[k]);
    for (size_t k = 0; k < b.n; k++)
        free(b.v[k]);
    free(a.v);
    free(b.v);
}

/* ---- output ---- */

static const char *fmt_sqnr(char *buf, size_t n, double v, int tsv)
{
    if (isinf(v))
        snprintf(buf, n, "%s", v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, n, tsv ? "%.9g" : "%.2f", v);
    return buf;
}

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void print_table(const struct opts *o, const struct table *t)
{
    char sq[32];
    if (o->tsv)
        printf("ref\tx\tfield\tcos\teuc\tmaxabs\tmeanabs\tsqnr_db\n");
    for (size_t i = 0; i < t->n; i++) {
        const struct row *r = &t->rows[i];
        const struct metrics *m = &r->m;
        if (o->tsv) {
            printf("%s\t%s\t%s\t%.9g\t%.9g\t%.9g\t%.9g\t%s\n", r->ref, r->x, r->label ? r->label : "all", m->cos,
                   m->euc, m->maxabs, m->meanabs, fmt_sqnr(sq, sizeof sq, m->sqnr, 1));
            continue;
        }
        printf("cos %.6f euc %.3e maxabs %.3e meanabs %.3e sqnr %sdB  ", m->cos, m->euc, m->maxabs, m->meanabs,
               fmt_sqnr(sq, sizeof sq, m->sqnr, 0));
        if (t->dir_mode)
            printf("%s", base(r->ref));
        else
            printf("%s %s", r->ref, r->x);
        printf(r->label ? " [%s]\n" : "\n", r->label);
    }
    if (fflush(stdout) || ferror(stdout))
        qp_diag_die(QP_ESYS, "cannot write the output: %s", strerror(errno ? errno : EIO));
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].ref);
        free(t->rows[i].x);
        free(t->rows[i].label);
    }
    free(t->rows);
}

/* The checks: each failing one writes one line into msg and returns 1. */
static int check_min_cos(const struct opts *o, const struct table *t, char *msg, size_t n)
{
    size_t below = 0, worst = 0;
    if (!o->has_min_cos)
        return 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->rows[i].m.cos < o->min_cos) {
            if (!below || t->rows[i].m.cos < t->rows[worst].m.cos)
                worst = i;
            below++;
        }
    if (!below)
        return 0;
    const struct row *w = &t->rows[worst];
    snprintf(msg, n, "%zu of %zu rows below --min-cos %g (lowest: cos %.6f for '%s'%s%s%s)", below, t->n,
             o->min_cos, w->m.cos, t->dir_mode ? base(w->ref) : w->ref, w->label ? " [" : "",
             w->label ? w->label : "", w->label ? "]" : "");
    return 1;
}

static const char *fmt_index(char *buf, size_t n, const struct closeness *c)
{
    int64_t idx[QP_TENSOR_MAX_RANK], rest = c->worst;
    size_t len = 0;
    for (int d = c->rank - 1; d >= 0; d--) {
        idx[d] = c->dims[d] > 0 ? rest % c->dims[d] : 0;
        rest = c->dims[d] > 0 ? rest / c->dims[d] : 0;
    }
    buf[0] = 0;
    for (int d = 0; d < c->rank && len < n; d++) {
        int w = snprintf(buf + len, n - len, "%s%lld", d ? "," : "[", (long long)idx[d]);
        len = w < 0 ? n : len + (size_t)w;
    }
    if (len < n)
        snprintf(buf + len, n - len, c->rank ? "]" : "[]");
    return buf;
}

static int check_allclose(const struct opts *o, const struct table *t, char *msg, size_t n)
{
    size_t bad_rows = 0, rows = 0, worst = 0;
    int64_t bad = 0, total = 0;
    char ix[160];
    if (!o->has_allclose)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct closeness *c = &t->rows[i].c;
        if (t->rows[i].label)
            continue;
        rows++;
        total += c->n;
        if (!c->n_fail)
            continue;
        const struct closeness *w = &t->rows[worst].c;
        if (!bad_rows || fabs(c->worst_ref - c->worst_x) - c->worst_tol >
                             fabs(w->worst_ref - w->worst_x) - w->worst_tol)
            worst = i;
        bad_rows++;
        bad += c->n_fail;
    }
    if (!bad_rows)
        return 0;
    const struct row *w = &t->rows[worst];
    snprintf(msg, n,
             "%lld of %lld elements (in %zu of %zu rows) fail --allclose %g,%g (worst: '%s' element %s ref %.9g x "
             "%.9g, |diff| %.3e > %.3e)",
             (long long)bad, (long long)total, bad_rows, rows, o->rtol, o->atol,
             t->dir_mode ? base(w->ref) : w->ref, fmt_index(ix, sizeof ix, &w->c), w->c.worst_ref, w->c.worst_x,
             fabs(w->c.worst_ref - w->c.worst_x), w->c.worst_tol);
    return 1;
}

/* A row fails when maxabs > X * range; rows are ranked by maxabs / range (infinite for a
 * constant reference with any error). */
static int check_max_err_rel(const struct opts *o, const struct table *t, char *msg, size_t n)
{
    size_t bad = 0, rows = 0, worst = 0;
    double worst_ratio = 0;
    if (!o->has_max_err_rel)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct row *r = &t->rows[i];
        if (r->label)
            continue;
        rows++;
        if (!(r->m.maxabs > o->max_err_rel * r->c.ref_range))
            continue;
        double ratio = r->c.ref_range > 0 ? r->m.maxabs / r->c.ref_range : INFINITY;
        if (!bad || ratio > worst_ratio) {
            worst = i;
            worst_ratio = ratio;
        }
        bad++;
    }
    if (!bad)
        return 0;
    const struct row *w = &t->rows[worst];
    snprintf(msg, n,
             "%zu of %zu rows fail --max-err-rel %g (worst: maxabs %.3e, %.3e of the reference range %.6g, for '%s')",
             bad, rows, o->max_err_rel, w->m.maxabs, worst_ratio, w->c.ref_range,
             t->dir_mode ? base(w->ref) : w->ref);
    return 1;
}

/* Every failing check gets its line; the last one exits with status 4. */
static void run_checks(const struct opts *o, struct table *t)
{
    char msg[3][1024];
    int n = 0;
    n += check_min_cos(o, t, msg[n], sizeof msg[n]);
    n += check_allclose(o, t, msg[n], sizeof msg[n]);
    n += check_max_err_rel(o, t, msg[n], sizeof msg[n]);
    if (!n)
        return;
    table_free(t);
    for (int i = 0; i < n - 1; i++)
        qp_diag_info("%s: %s\n", qp_diag_prog(), msg[i]);
    qp_diag_die(QP_ECHECK, "%s", msg[n - 1]);
}

static int is_dir(const char *p)
{
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

int main(int argc, char **argv)
{
    struct opts o;
    struct table t = {0};
    qp_diag_init(argv[0]);
    parse_args(argc, argv, &o);
    int da = is_dir(o.ref), db = is_dir(o.x);
    if (da != db)
        qp_diag_die(QP_EUSAGE, "'%s' is a %s but '%s' is not: give two files or two directories",
                    da ? o.ref : o.x, "directory", da ? o.x : o.ref);
    if (da)
        compare_dirs(&o, &t);
    else
        compare_pair(&o, o.ref, o.x, &t);
    print_table(&o, &t);
    run_checks(&o, &t);
    table_free(&t);
    return 0;
}
