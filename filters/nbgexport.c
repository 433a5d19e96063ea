/* nbgexport: turns a quantized IR stream into a network binary graph (qpipe-nbg(5)) and, with
 * --output-path, a C project that runs it (Acuity's `export ovxlib --pack-nbg-unify`).  main:
 * options, read the stream and its table, (target check), describe the inputs and outputs with
 * a dry run of the executor, write the NBG, measure the arena it needs by loading it, write. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/graph.h"
#include "qp/nbg.h"
#include "qp/nbgexport_src.h"
#include "qp/profile.h"
#include "qp/qexec.h"
#include "qp/qtable.h"
#include "qp/threads.h"
#include "qp/vmath.h"

static const char usage[] =
    "usage: nbgexport --output-path DIR [options] < q.ir\n"
    "       nbgexport --nbg FILE [options] < q.ir\n"
    "Writes the network binary graph of a quantized stream and, with --output-path, a C\n"
    "project that builds with make and runs it (main.c, Makefile, the runtime, NAME.nbg).\n"
    "\n"
    "  --output-path DIR           the project directory (new, or empty)\n"
    "  --nbg FILE                  also (or only) write the NBG to FILE\n"
    "  --name NAME                 the network's name: program and NBG file (default: the\n"
    "                              model's name, else network)\n"
    "  --target-ide-project P      the project kind: linux64 (the default and only one)\n"
    "  --target NAME               check every layer against a built-in target profile\n"
    "  --target-file FILE          the same with a target profile YAML\n"
    "  --report                    print the target's per-layer cost table (needs a target)\n"
    "  -v, --verbose               print the NBG's figures on stderr\n"
    "  -h, --help                  this help\n"
    "      --version               print the version\n"
    "Exit status: 0 ok, 1 bad input, 2 usage, 3 system error.\n";

struct opts {
    const char *outdir, *nbg, *name, *target, *target_file;
    int report, verbose;
};

static int name_ok(const char *s)
{
    if (!*s || *s == '.' || *s == '-' || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || *s == '.' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

static void parse(int argc, char **argv, struct opts *o)
{
    enum { O_OUT = 256, O_NBG, O_NAME, O_IDE, O_TARGET, O_TFILE, O_REPORT };
    static const struct option lo[] = {
        {"output-path", required_argument, 0, O_OUT},  {"nbg", required_argument, 0, O_NBG},
        {"name", required_argument, 0, O_NAME},         {"target-ide-project", required_argument, 0, O_IDE},
        {"target", required_argument, 0, O_TARGET},     {"target-file", required_argument, 0, O_TFILE},
        {"report", no_argument, 0, O_REPORT},           {"verbose", no_argument, 0, 'v'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":v", lo, NULL)) != -1) {
        switch (c) {
        case O_OUT: o->outdir = optarg; break;
        case O_NBG: o->nbg = optarg; break;
        case O_NAME:
            if (!name_ok(optarg))
                qp_cli_usage_error("--name '%s': expected 1 to 64 of A-Z a-z 0-9 _ - . (not first . or -)",
                                   optarg);
            o->name = optarg;
            break;
        case O_IDE:
            if (strcmp(optarg, "linux64"))
                qp_cli_usage_error("--target-ide-project '%s': expected linux64", optarg);
            break;
        case O_TARGET: o->target = optarg; break;
        case O_TFILE: o->target_file = optarg; break;
        case O_REPORT: o->report = 1; break;
        case 'v': o->verbose = 1; break;
        case ':': qp_cli_usage_error("option '%s' needs a value", argv[optind - 1]);
        default: qp_cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        qp_cli_usage_error("unexpected argument '%s' (the stream comes on standard input)", argv[optind]);
    if (!o->outdir && !o->nbg)
        qp_cli_usage_error("give --output-path DIR or --nbg FILE");
    if (o->target && o->target_file)
        qp_cli_usage_error("give --target or --target-file, not both");
    if (o->report && !o->target && !o->target_file)
        qp_cli_usage_error("--report needs --target NAME or --target-file FILE");
}

/* The inputs' and outputs' descriptors as the executor holds them, and its plan figures. */
static int describe(const qp_graph *g, const qp_qtable *t, qp_nbg_io *io, qp_nbg_plan *plan)
{
    qp_qexec *x;
    int rc = qp_qexec_new(g, t, 0, &x);
    if (rc)
        return rc;
    for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
        int out = i >= g->n_inputs, vi = out ? g->outputs[i - g->n_inputs] : g->inputs[i];
        const qp_value *v = &g->values[vi];
        const qp_qtensor *q = qp_qexec_value(x, vi);
        const qp_qrep *r = qp_qexec_rep(x, vi);
        qp_nbg_io *d = &io[i];
        memset(d, 0, sizeof *d);
        d->name = v->name;
        d->key = out ? g->output_keys[i - g->n_inputs] : v->key;
        d->dtype = q->t.dtype;
        d->rank = v->rank;
        memcpy(d->dims, v->dims, sizeof d->dims);
        d->nbytes = q->t.nbytes;
        const qp_qentry *e = t->value ? &t->value[vi] : NULL;
        d->quantizer = e ? e->quantizer : QP_QZ_NONE;
        if (r->kind == QP_QREP_QUANT) {
            d->scale = r->q.scale;
            d->zero_point = r->q.zp;
            d->fl = e && e->quantizer == QP_QZ_DYNAMIC_FIXED_POINT ? e->fl : 0;
        }
    }
    plan->activation_bytes = qp_qexec_peak_bytes(x);
    plan->activation_naive = qp_qexec_naive_bytes(x);
    plan->state_bytes = qp_qexec_state_bytes(x);
    qp_qexec_free(x);
    return 0;
}

/* The arena the runtime needs: a real load (a bump allocator over a buffer) with every kernel
 * set this machine has, since packed weight layouts may differ between them; the largest. */
static int measure_arena(uint8_t *nbg, size_t len, uint64_t *arena)
{
    size_t best = 0, cap = (len * 2 + ((size_t)64 << 20) + 63) & ~(size_t)63;    /* aligned_alloc: a multiple */
    qp_isa saved = qp_kernels_isa();
    int rc = 0;
    for (int isa = QP_ISA_REF; isa < QP_ISA_COUNT && !rc; isa++) {
        if (!qp_kernels_isa_supported((qp_isa)isa))
            continue;
        qp_kernels_set_isa((qp_isa)isa);
        for (;;) {
            void *buf = aligned_alloc(64, cap);
            if (!buf) {
                rc = qp_errorf(QP_ESYS, "out of memory (%zu bytes to measure the arena)", cap);
                break;
            }
            qp_nbg *n;
            rc = qp_nbg_load(nbg, len, buf, cap, &n);
            size_t used = rc ? 0 : qp_nbg_arena_used(n);
            free(buf);
            if (rc == QP_ESYS && cap < ((size_t)1 << 40)) {     /* too small: grow and retry */
                cap *= 2;
                rc = 0;
                continue;
            }
            if (!rc && used > best)
                best = used;
            break;
        }
    }
    qp_kernels_set_isa(saved);
    *arena = ((uint64_t)best + 63) & ~(uint64_t)63;
    return rc;
}

/* ---- the project directory ---------------------------------------------------------------- */

static char *tmp_dir;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tmp_dir(void *arg)
{
    (void)arg;
    if (tmp_dir)
        nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_file(const char *dir, const char *rel, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        if (mkdir(path, 0777) && errno != EEXIST)
            return qp_errorf(QP_ESYS, "cannot create '%s': %s", path, strerror(errno));
        *p = '/';
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return qp_errorf(QP_ESYS, "cannot create '%s': %s", path, strerror(errno));
    int bad = len && fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    return bad ? qp_errorf(QP_ESYS, "cannot write '%s': %s", path, strerror(errno ? errno : EIO)) : 0;
}

/* The Makefile template with its @NAME@ replaced. */
static int write_makefile(const char *dir, const qp_nbgexport_file *f, const char *name)
{
    size_t cap = f->len * 2 + 1024, n = 0;
    char *out = qp_malloc(cap);
    if (!out)
        return QP_ESYS;
    for (size_t i = 0; i < f->len; i++) {
        if (i + 6 <= f->len && !memcmp(f->data + i, "@NAME@", 6)) {
            size_t l = strlen(name);
            if (n + l >= cap)
                break;
            memcpy(out + n, name, l);
            n += l;
            i += 5;
        } else if (n < cap) {
            out[n++] = (char)f->data[i];
        }
    }
    int rc = write_file(dir, f->path, out, n);
    free(out);
    return rc;
}

static int write_project(const char *outdir, const char *name, const uint8_t *nbg, size_t len)
{
    struct stat st;
    int exists = stat(outdir, &st) == 0;
    if (exists) {
        if (!S_ISDIR(st.st_mode))
            return qp_errorf(QP_EUSAGE, "--output-path '%s' exists and is not a directory", outdir);
        DIR *d = opendir(outdir);
        int empty = d != NULL;
        for (struct dirent *e; d && (e = readdir(d));)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                empty = 0;
        if (d)
            closedir(d);
        if (!empty)
            return qp_errorf(QP_EUSAGE, "--output-path '%s' exists and is not empty", outdir);
    }
    size_t l = strlen(outdir);
    while (l > 1 && outdir[l - 1] == '/')
        l--;
    tmp_dir = qp_malloc(l + 16);
    if (!tmp_dir)
        return QP_ESYS;
    snprintf(tmp_dir, l + 16, "%.*s.tmp.XXXXXX", (int)l, outdir);
    if (!mkdtemp(tmp_dir)) {
        int e = errno;
        free(tmp_dir);
        tmp_dir = NULL;
        return qp_errorf(QP_ESYS, "cannot create a directory next to '%s': %s", outdir, strerror(e));
    }
    qp_diag_atexit(remove_tmp_dir, NULL);
    mode_t um = umask(0);
    umask(um);
    chmod(tmp_dir, 0777 & ~um);        /* mkdtemp makes it 0700: let the umask decide */
    int rc = 0;
    for (int i = 0; i < qp_nbgexport_n_files && !rc; i++) {
        const qp_nbgexport_file *f = &qp_nbgexport_files[i];
        rc = !strcmp(f->path, "Makefile") ? write_makefile(tmp_dir, f, name)
                                          : write_file(tmp_dir, f->path, f->data, f->len);
    }
    char nbg_name[128];
    snprintf(nbg_name, sizeof nbg_name, "%s.nbg", name);
    if (!rc)
        rc = write_file(tmp_dir, nbg_name, nbg, len);
    if (!rc && exists && rmdir(outdir))     /* the empty directory gives way at the last moment */
        rc = qp_errorf(QP_ESYS, "cannot replace '%s': %s", outdir, strerror(errno));
    if (!rc && rename(tmp_dir, outdir))
        rc = qp_errorf(QP_ESYS, "cannot rename '%s' to '%s': %s", tmp_dir, outdir, strerror(errno));
    if (rc)
        return rc;      /* the cleanup removes the temporary directory */
    qp_diag_cancel(remove_tmp_dir, NULL);
    free(tmp_dir);
    tmp_dir = NULL;
    return 0;
}

static const char *default_name(const qp_graph *g)
{
    static char buf[65];
    const char *m = g->model_name ? g->model_name : "";
    size_t n = 0;
    for (; *m && n < 64; m++)
        buf[n++] = (*m >= '0' && *m <= '9') || (*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z') ? *m : '_';
    buf[n] = 0;
    return n && name_ok(buf) ? buf : "network";
}

int main(int argc, char **argv)
{
    struct opts o;
    qp_cli_common(argc, argv, usage);
    parse(argc, argv, &o);
    qp_graph *g = qp_cli_read_ir(NULL);
    if (!qp_graph_section(g, "qtable"))
        qp_diag_die(QP_EINPUT, "no quantization table in the stream: run qtable first");
    qp_qtable *t;
    int rc = qp_qtable_load(g, &t);
    if (rc)
        qp_diag_exit(rc);
    const char *name = o.name ? o.name : default_name(g);

    /* the target first: an illegal layer is refused before anything is computed or written */
    qp_profile *prof = NULL;
    if (o.target || o.target_file) {
        rc = o.target ? qp_profile_load_name(o.target, &prof) : qp_profile_load_file(o.target_file, &prof);
        if (rc || (rc = qp_profile_check(prof, g, t)))
            qp_diag_exit(rc);
    }

    /* The runtime runs on one thread: scratch sized for it. */
    qp_threads_set_count(1);
    qp_nbg_io *io = qp_calloc((size_t)g->n_inputs + (size_t)g->n_outputs + 1, sizeof *io);
    if (!io)
        qp_diag_exit(QP_ESYS);
    if (g->n_inputs > QP_NBG_MAX_IO || g->n_outputs > QP_NBG_MAX_IO)
        qp_diag_die(QP_EINPUT, "the network has %d inputs and %d outputs (at most %d each)", g->n_inputs,
                    g->n_outputs, QP_NBG_MAX_IO);
    qp_nbg_plan plan = {0};
    if ((rc = describe(g, t, io, &plan)))
        qp_diag_exit(rc);
    uint8_t *nbg;
    size_t len;
    if ((rc = qp_nbg_write(g, t, io, &plan, &nbg, &len)) || (rc = measure_arena(nbg, len, &plan.arena_bytes)))
        qp_diag_exit(rc);
    qp_nbg_set_arena_bytes(nbg, len, plan.arena_bytes);
    if (o.verbose)
        qp_diag_info("nbgexport: %s: %zu bytes, %d layers, %d values; arena %llu bytes (activations %llu, "
                     "prepared state %llu)\n",
                     name, len, g->n_nodes, g->n_values, (unsigned long long)plan.arena_bytes,
                     (unsigned long long)plan.activation_bytes, (unsigned long long)plan.state_bytes);

    qp_outfile of = {0};
    if (o.nbg) {
        if ((rc = qp_outfile_open(&of, o.nbg, "wb")))
            qp_diag_exit(rc);
        if (fwrite(nbg, 1, len, of.f) != len) {
            qp_outfile_abort(&of);
            qp_diag_die(QP_ESYS, "cannot write '%s': %s", o.nbg, strerror(errno ? errno : EIO));
        }
    }
    if (o.outdir && (rc = write_project(o.outdir, name, nbg, len))) {
        if (o.nbg)
            qp_outfile_abort(&of);
        qp_diag_exit(rc);
    }
    if (o.nbg && (rc = qp_outfile_commit(&of)))
        qp_diag_exit(rc);

    if (o.report && (rc = qp_profile_report(prof, g, t, (size_t)plan.arena_bytes, stdout)))
        qp_diag_exit(rc);
    qp_profile_free(prof);
    qp_free(nbg);
    free(io);
    qp_qtable_free(t);
    qp_graph_free(g);
    return fflush(stdout) ? QP_ESYS : 0;
}
