/* Filter plumbing.  Output files go through a temporary in the same directory so a
 * failed or interrupted filter never leaves a partial file behind. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qp/cli.h"
#include "qp/diag.h"
#include "qp/ir.h"

void qp_cli_common(int argc, char **argv, const char *usage)
{
    qp_diag_init(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!strcmp(argv[i], "--version")) {
            printf("%s (qpipe) %s\n", qp_diag_prog(), QP_VERSION_STRING);
            exit(0);
        }
    }
}

_Noreturn void qp_cli_usage_error(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    qp_diag_die(QP_EUSAGE, "%s (see '%s --help')", buf, qp_diag_prog());
}

qp_graph *qp_cli_read_ir(const char *path)
{
    FILE *f = stdin;
    const char *name = "<stdin>";
    if (path && strcmp(path, "-")) {
        f = fopen(path, "rb");
        if (!f)
            qp_diag_die(QP_ESYS, "cannot open '%s': %s", path, strerror(errno));
        name = path;
    } else if (isatty(STDIN_FILENO)) {
        qp_diag_die(QP_EUSAGE, "expects an IR stream on standard input, not a terminal (see '%s --help')",
                    qp_diag_prog());
    }
    qp_graph *g;
    int rc = qp_ir_read(f, name, &g);
    if (f != stdin)
        fclose(f);
    if (rc)
        qp_diag_exit(rc);
    return g;
}

void qp_cli_write_ir(qp_graph *g, int argc, char **argv)
{
    if (isatty(STDOUT_FILENO))
        qp_diag_die(QP_EUSAGE, "refusing to write a binary IR stream to a terminal (redirect or pipe it)");
    if (qp_graph_add_history(g, qp_diag_prog(), argc - 1, argv + 1))
        qp_diag_exit(QP_ESYS);
    int rc = qp_ir_write(stdout, "<stdout>", g);
    if (rc)
        qp_diag_exit(rc);
}

static void outfile_cleanup(void *arg)
{
    qp_outfile *o = arg;
    if (o->tmp)
        unlink(o->tmp);
}

int qp_outfile_open(qp_outfile *o, const char *path, const char *mode)
{
    memset(o, 0, sizeof *o);
    size_t n = strlen(path);
    o->path = qp_malloc(n + 1);
    o->tmp = qp_malloc(n + 16);
    if (!o->path || !o->tmp) {
        free(o->path);
        free(o->tmp);
        return QP_ESYS;
    }
    memcpy(o->path, path, n + 1);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device, FIFO or terminal (/dev/null, /dev/stdout): write it in place, never
         * rename a temporary file over it */
        free(o->tmp);
        o->tmp = NULL;
        int e = S_ISDIR(st.st_mode) ? EISDIR : 0;
        if (!e && !(o->f = fopen(path, mode)))
            e = errno;
        if (e) {
            free(o->path);
            memset(o, 0, sizeof *o);
            return qp_errorf(e == EISDIR ? QP_EUSAGE : QP_ESYS, "cannot write '%s': %s", path,
                             strerror(e));
        }
        return 0;
    }
    snprintf(o->tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        int e = errno;
        free(o->path);
        free(o->tmp);
        memset(o, 0, sizeof *o);
        return qp_errorf(QP_ESYS, "cannot create '%s': %s", path, strerror(e));
    }
    /* mkstemp makes the file 0600; give it the mode an ordinary creat would */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    o->f = fdopen(fd, mode);
    if (!o->f) {
        close(fd);
        unlink(o->tmp);
        free(o->path);
        free(o->tmp);
        memset(o, 0, sizeof *o);
        return qp_errorf(QP_ESYS, "cannot open '%s'", path);
    }
    qp_diag_atexit(outfile_cleanup, o);
    return 0;
}

int qp_outfile_commit(qp_outfile *o)
{
    int rc = 0;
    if (fflush(o->f) || ferror(o->f))
        rc = qp_errorf(QP_ESYS, "cannot write '%s': %s", o->path, strerror(errno));
    if (fclose(o->f) && !rc)
        rc = qp_errorf(QP_ESYS, "cannot write '%s': %s", o->path, strerror(errno));
    o->f = NULL;
    if (!rc && o->tmp && rename(o->tmp, o->path))
        rc = qp_errorf(QP_ESYS, "cannot rename to '%s': %s", o->path, strerror(errno));
    if (rc && o->tmp)
        unlink(o->tmp);
    qp_diag_cancel(outfile_cleanup, o);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return rc;
}

void qp_outfile_abort(qp_outfile *o)
{
    if (o->f)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    qp_diag_cancel(outfile_cleanup, o);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
}

int qp_cli_parse_dims(const char *s, long long *dims, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v <= 0 || n >= max)
            return -1;
        dims[n++] = v;
        if (*end == ',' || *end == 'x')
            end++;
        else if (*end)
            return -1;
        p = end;
    }
    return n ? n : -1;
}
