/* The program of an exported project (nbgexport): loads the network binary graph into one
 * arena, runs it on the given inputs and writes its outputs as `qinfer --dtype quantized
 * --format npy --raw` does (same names, same bytes), then the time per run.
 * usage: NAME [--nbg FILE] [--output-dir DIR] [--raw] [--repeat N] INPUT... */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "qp/diag.h"
#include "qp/nbg.h"
#include "qp/qexec.h"
#include "qp/tensorio.h"

#ifndef QP_NBG_NAME
#define QP_NBG_NAME "network"
#endif

static const char usage[] =
    "usage: " QP_NBG_NAME " [options] INPUT...\n"
    "Runs the network of " QP_NBG_NAME ".nbg on one input file per network input and writes\n"
    "its outputs (dequantized .npy, and the stored integers as .npy under DIR/raw/).\n"
    "\n"
    "  --nbg FILE         the network binary graph (default: " QP_NBG_NAME ".nbg next to\n"
    "                     this program)\n"
    "  --output-dir DIR   where to write the outputs (default .)\n"
    "  --raw              inputs hold the input's storage type (.npy of that type or raw\n"
    "                     bytes) instead of float32 (.npy, .tensor or raw float32)\n"
    "  --repeat N         run N times and report the median and minimum time (default 1)\n"
    "  --info             print the inputs and outputs and exit\n"
    "Exit status: 0 ok, 1 bad input or NBG, 2 usage, 3 system error.\n";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* During runs: any allocation is a bug of the runtime; refuse it and count it. */
static unsigned long run_allocs;
static void *refuse_alloc(void *ctx, size_t n, size_t align)
{
    (void)ctx, (void)n, (void)align;
    run_allocs++;
    return NULL;
}
static void *refuse_resize(void *ctx, void *p, size_t n)
{
    (void)ctx, (void)p, (void)n;
    run_allocs++;
    return NULL;
}

/* qinfer's dump name: iter_<i>_<key, '/' -> '_'>_out0_<dims>.npy, long keys shortened around
 * the FNV-1a hash of the whole key. */
static int out_name(char *buf, size_t n, const char *key, const qp_tensor *t)
{
    char tail[256];
    int tl = snprintf(tail, sizeof tail, "_out0");
    for (int d = 0; d < t->rank && (size_t)tl < sizeof tail; d++)
        tl += snprintf(tail + tl, sizeof tail - (size_t)tl, "_%lld", (long long)t->dims[d]);
    tl += snprintf(tail + tl, sizeof tail - (size_t)tl, ".npy");
    char k[1024];
    size_t kl = strlen(key);
    if (kl >= sizeof k)
        kl = sizeof k - 1;
    for (size_t i = 0; i < kl; i++)
        k[i] = key[i] == '/' ? '_' : key[i];
    k[kl] = 0;
    const char *pre = "iter_0_";
    if (strlen(pre) + kl + (size_t)tl > 255 && kl > 218) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const char *p = key; *p; p++) {
            h ^= (unsigned char)*p;
            h *= 0x100000001b3ULL;
        }
        char shortk[256];
        snprintf(shortk, sizeof shortk, "%.160s~%016llx~%s", k, (unsigned long long)h, k + kl - 40);
        snprintf(k, sizeof k, "%s", shortk);
    }
    int len = snprintf(buf, n, "%s%s%s", pre, k, tail);
    return len > 0 && (size_t)len < n ? 0 : qp_errorf(QP_EUSAGE, "layer key '%s' makes a file name too long", key);
}

static void *read_image(const char *path, size_t *len)
{
    unsigned char *b;
    int rc = qp_tensorio_read_file(path, (size_t)1 << 34, &b, len);
    if (rc)
        qp_diag_exit(rc);
    /* the runtime wants the image 64-byte aligned */
    void *img = aligned_alloc(64, (*len + 63) & ~(size_t)63);
    if (!img)
        qp_diag_die(QP_ESYS, "out of memory (%zu bytes for '%s')", *len, path);
    memcpy(img, b, *len);
    free(b);
    return img;
}

static void set_input(qp_nbg *nb, int i, const char *path, int raw)
{
    qp_nbg_io io;
    qp_nbg_input(nb, i, &io);
    qp_tensor t;
    int rc = qp_tensorio_read(path, raw ? io.dtype : QP_DT_F32, io.rank, io.dims, &t);
    if (rc)
        qp_diag_exit(rc);
    if (raw) {
        if (t.dtype != io.dtype)
            qp_diag_die(QP_EINPUT, "%s: input '%s' is held as %s, the file has %s", path, io.name,
                        qp_dtype_name(io.dtype), qp_dtype_name(t.dtype));
        rc = qp_nbg_set_input_raw(nb, i, t.data, t.nbytes);
    } else {
        qp_tensor f = {0};
        if (t.dtype != QP_DT_F32 && (rc = qp_tensor_to_f32(&t, &f)) == 0) {
            qp_tensor_free(&t);
            t = f;
        }
        if (!rc)
            rc = qp_nbg_set_input_f32(nb, i, t.data, t.rank, t.dims);
    }
    qp_tensor_free(&t);
    if (rc)
        qp_diag_die(rc, "%s: %s", path, qp_error_msg());
}

/* path = DIR/NAME; a path that does not fit is a usage error (the output directory's name). */
static void join_path(char *path, size_t n, const char *dir, const char *name)
{
    int len = snprintf(path, n, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= n)
        qp_diag_die(QP_EUSAGE, "output path '%s/%s' is longer than %zu bytes", dir, name, n - 1);
}

static void write_outputs(const qp_nbg *nb, const char *dir)
{
    char raw_dir[4096];
    join_path(raw_dir, sizeof raw_dir, dir, "raw");
    if ((mkdir(dir, 0777) && errno != EEXIST) || (mkdir(raw_dir, 0777) && errno != EEXIST))
        qp_diag_die(QP_ESYS, "cannot create '%s': %s", raw_dir, strerror(errno));
    for (int i = 0; i < qp_nbg_n_outputs(nb); i++) {
        qp_nbg_io io;
        qp_nbg_output(nb, i, &io);
        const qp_qtensor *q = qp_nbg_output_tensor(nb, i);
        qp_tensor f;
        char name[1024], path[4096];
        int rc = qp_qexec_dequantize(q, &f);
        if (!rc)
            rc = out_name(name, sizeof name, io.key, &f);
        if (!rc) {
            join_path(path, sizeof path, dir, name);
            rc = qp_tensorio_write_npy(path, &f);
        }
        if (!rc) {
            join_path(path, sizeof path, raw_dir, name);
            rc = qp_tensorio_write_npy(path, &q->t);
        }
        qp_tensor_free(&f);
        if (rc)
            qp_diag_exit(rc);
    }
}

static void info(const qp_nbg *nb)
{
    for (int i = 0; i < qp_nbg_n_inputs(nb) + qp_nbg_n_outputs(nb); i++) {
        int out = i >= qp_nbg_n_inputs(nb);
        qp_nbg_io io;
        if (out)
            qp_nbg_output(nb, i - qp_nbg_n_inputs(nb), &io);
        else
            qp_nbg_input(nb, i, &io);
        char shape[128];
        printf("%s\t%s\t%s\t%s\tscale=%.9g\tzero_point=%d\n", out ? "output" : "input", io.name,
               qp_dtype_name(io.dtype), qp_shape_format(shape, sizeof shape, io.rank, io.dims), io.scale,
               (int)io.zero_point);
    }
}

int main(int argc, char **argv)
{
    qp_diag_init(argv[0]);
    const char *nbg_path = NULL, *dir = ".";
    int raw = 0, repeat = 1, show = 0, a = 1;
    for (; a < argc && argv[a][0] == '-' && argv[a][1]; a++) {
        const char *o = argv[a];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(o, "--raw")) {
            raw = 1;
        } else if (!strcmp(o, "--info")) {
            show = 1;
        } else if (a + 1 < argc && !strcmp(o, "--nbg")) {
            nbg_path = argv[++a];
        } else if (a + 1 < argc && !strcmp(o, "--output-dir")) {
            dir = argv[++a];
        } else if (a + 1 < argc && !strcmp(o, "--repeat")) {
            char *end;
            long v = strtol(argv[++a], &end, 10);
            if (*end || v < 1 || v > 100000)
                qp_diag_die(QP_EUSAGE, "--repeat '%s' is not an integer from 1 to 100000", argv[a]);
            repeat = (int)v;
        } else if (!strcmp(o, "--")) {
            a++;
            break;
        } else {
            qp_diag_die(QP_EUSAGE, "unknown or incomplete option '%s' (try --help)", o);
        }
    }
    char def[4096];
    if (!nbg_path) {
        const char *slash = strrchr(argv[0], '/');
        snprintf(def, sizeof def, "%.*s%s.nbg", slash ? (int)(slash - argv[0] + 1) : 0, argv[0], QP_NBG_NAME);
        nbg_path = def;
    }

    size_t len, arena_len;
    void *image = read_image(nbg_path, &len);
    int rc = qp_nbg_arena_size(image, len, &arena_len);
    if (rc)
        qp_diag_die(rc, "%s: %s", nbg_path, qp_error_msg());
    void *arena = aligned_alloc(64, (arena_len + 63) & ~(size_t)63);
    if (!arena)
        qp_diag_die(QP_ESYS, "out of memory (%zu bytes for the arena)", arena_len);
    qp_nbg *nb;
    double t0 = now_ms();
    if ((rc = qp_nbg_load(image, len, arena, arena_len, &nb)))
        qp_diag_die(rc, "%s: %s", nbg_path, qp_error_msg());
    double load_ms = now_ms() - t0;
    if (show) {
        info(nb);
        printf("arena\t%zu bytes (%zu used)\n", arena_len, qp_nbg_arena_used(nb));
        return fflush(stdout) ? QP_ESYS : 0;
    }
    if (argc - a != qp_nbg_n_inputs(nb))
        qp_diag_die(QP_EUSAGE, "the network has %d input%s, %d file%s given (try --help)", qp_nbg_n_inputs(nb),
                    qp_nbg_n_inputs(nb) == 1 ? "" : "s", argc - a, argc - a == 1 ? "" : "s");
    for (int i = 0; i < qp_nbg_n_inputs(nb); i++)
        set_input(nb, i, argv[a + i], raw);

    double *ms = calloc((size_t)repeat, sizeof *ms);
    if (!ms)
        qp_diag_die(QP_ESYS, "out of memory");
    qp_allocator refuse = {refuse_alloc, refuse_resize, NULL, NULL};
    for (int r = 0; r < repeat; r++) {
        qp_set_allocator(&refuse);
        double t1 = now_ms();
        rc = qp_nbg_run(nb);
        ms[r] = now_ms() - t1;
        qp_set_allocator(NULL);
        if (run_allocs)
            qp_diag_die(QP_ESYS, "the runtime tried to allocate memory during a run (%lu times)", run_allocs);
        if (rc)
            qp_diag_exit(rc);
    }
    write_outputs(nb, dir);
    qsort(ms, (size_t)repeat, sizeof *ms, cmp_double);
    fprintf(stderr, "%s: load_ms=%.3f median_ms=%.3f min_ms=%.3f runs=%d arena_bytes=%zu\n", qp_diag_prog(),
            load_ms, ms[repeat / 2], ms[0], repeat, arena_len);
    free(ms);
    free(arena);
    free(image);
    return fflush(stdout) ? QP_ESYS : 0;
}
