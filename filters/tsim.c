/* tsim: compare two tensors (or two dump directories) as Acuity's
 * compute_tensor_similarity does, with more metrics: cosine, Euclidean distance, max
 * and mean absolute error, SQNR.  Everything is loaded and computed before the first
 * line is printed, so an error leaves stdout empty. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qp/diag.h"
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
    int n_fields;
    struct field fields[MAX_FIELDS];
    const char *ref, *x;
};

struct metrics {
    double cos, euc, maxabs, meanabs, sqnr;
};

struct row {
    char *ref, *x, *label; /* label: NULL for the whole tensor */
    struct metrics m;
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
           "Files: .tensor (Acuity text dump), .npy, anything else raw (needs --shape).\n"
           "Directories: same-named .tensor/.npy files of the two are paired.\n\n"
           "  --shape D0,D1,...    shape of raw files and of .tensor files\n"
           "  --dtype T            element type of raw files (default f32)\n"
           "  --tsv                tab-separated output with a header line\n"
           "  --min-cos X          exit 4 if any reported cosine is below X\n"
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
    enum { O_SHAPE = 256, O_DTYPE, O_TSV, O_MINCOS, O_SPLIT, O_FIELDS, O_VERSION };
    static const struct option lo[] = {
        {"shape", required_argument, 0, O_SHAPE},   {"dtype", required_argument, 0, O_DTYPE},
        {"tsv", no_argument, 0, O_TSV},             {"min-cos", required_argument, 0, O_MINCOS},
        {"split-last", required_argument, 0, O_SPLIT}, {"fields", required_argument, 0, O_FIELDS},
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
    } else if (has_ext(path, ".tensor")) {
        int r;
        int64_t d[QP_TENSOR_MAX_RANK];
        out->known = o->rank >= 0 || !qp_tensorio_name_dims(path, &r, d);
        rc = qp_tensorio_read_tensor(path, o->rank >= 0 ? o->rank : QP_SHAPE_ANY, o->dims, &t);
    } else {
        if (o->rank < 0)
            qp_diag_die(QP_EUSAGE, "'%s' is neither .npy nor .tensor: give its shape with --shape", path);
        rc = qp_tensorio_read_raw(path, o->dtype, o->rank, o->dims, &t);
        out->known = 1;
    }
    if (rc)
        qp_diag_exit(rc);
    int64_t bad = qp_tensor_find_nonfinite(&t);
    if (bad >= 0)
        qp_diag_die(QP_EINPUT, "'%s': element %lld is not finite", path, (long long)bad);
    out->n = qp_tensor_numel(&t);
    if (out->n == 0)
        qp_diag_die(QP_EINPUT, "'%s' has no elements", path);
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

struct ksum {
    double s, c; /* Neumaier compensated sum */
};

static void kadd(struct ksum *k, double v)
{
    double t = k->s + v;
    if (fabs(k->s) >= fabs(v))
        k->c += (k->s - t) + v;
    else
        k->c += (v - t) + k->s;
    k->s = t;
}

static double kval(const struct ksum *k) { return k->s + k->c; }

/* Over the elements whose last-axis index lies in [off, off + len), rows of width L. */
static struct metrics measure(const double *a, const double *b, int64_t total, int64_t L, int64_t off, int64_t len)
{
    struct ksum dot = {0, 0}, na = {0, 0}, nb = {0, 0}, se = {0, 0}, ae = {0, 0};
    double maxabs = 0;
    int64_t count = 0;
    for (int64_t r = 0; r < total; r += L)
        for (int64_t i = r + off; i < r + off + len; i++) {
            double x = a[i], y = b[i], d = x - y;
            kadd(&dot, x * y);
            kadd(&na, x * x);
            kadd(&nb, y * y);
            kadd(&se, d * d);
            kadd(&ae, fabs(d));
            if (fabs(d) > maxabs)
                maxabs = fabs(d);
            count++;
        }
    struct metrics m;
    double sa = kval(&na), sb = kval(&nb), noise = kval(&se);
    if (sa == 0 && sb == 0)
        m.cos = 1;
    else if (sa == 0 || sb == 0)
        m.cos = 0;
    else
        m.cos = kval(&dot) / (sqrt(sa) * sqrt(sb));
    if (m.cos > 1)
        m.cos = 1;
    if (m.cos < -1)
        m.cos = -1;
    m.euc = sqrt(noise);
    m.maxabs = maxabs;
    m.meanabs = kval(&ae) / (double)count;
    if (noise == 0)
        m.sqnr = INFINITY;
    else if (sa == 0)
        m.sqnr = -INFINITY;
    else
        m.sqnr = 10 * log10(sa / noise);
    return m;
}

static char *xstrdup(const char *s)
{
    char *p = qp_malloc(strlen(s) + 1);
    if (!p)
        qp_diag_exit(QP_ESYS);
    return strcpy(p, s);
}

static void add_row(struct table *t, const char *ref, const char *x, const char *label, struct metrics m)
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
    add_row(t, ref, x, NULL, measure(a.v, b.v, a.n, a.n, 0, a.n));
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
        if (!has_ext(e->d_name, ".tensor") && !has_ext(e->d_name, ".npy"))
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
        qp_diag_die(QP_EINPUT, "no .tensor/.npy file names in common between '%s' and '%s'", o->ref, o->x);
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

static void check_min_cos(const struct opts *o, struct table *t)
{
    size_t below = 0, worst = 0;
    char msg[1024];
    if (!o->has_min_cos)
        return;
    for (size_t i = 0; i < t->n; i++)
        if (t->rows[i].m.cos < o->min_cos) {
            if (!below || t->rows[i].m.cos < t->rows[worst].m.cos)
                worst = i;
            below++;
        }
    if (!below)
        return;
    const struct row *w = &t->rows[worst];
    snprintf(msg, sizeof msg, "%zu of %zu rows below --min-cos %g (lowest: cos %.6f for '%s'%s%s%s)", below, t->n,
             o->min_cos, w->m.cos, t->dir_mode ? base(w->ref) : w->ref, w->label ? " [" : "",
             w->label ? w->label : "", w->label ? "]" : "");
    table_free(t);
    qp_diag_die(QP_ECHECK, "%s", msg);
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
    check_min_cos(&o, &t);
    table_free(&t);
    return 0;
}
