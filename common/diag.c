/* Diagnostics: the one place that prints.  Errors are recorded by common/ code and
 * printed by filters as "prog: message", one line, then the process exits. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qp/diag.h"

static _Thread_local char err_buf[1024];
static const char *prog_name = "qpipe";

struct cleanup { void (*fn)(void *); void *arg; };
static struct cleanup cleanups[16];
static volatile sig_atomic_t n_cleanups;

int qp_errorf(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return code;
}

int qp_error_prefix(int code, const char *fmt, ...)
{
    char old[sizeof err_buf];
    memcpy(old, err_buf, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err_buf - 3)
        snprintf(err_buf + n, sizeof err_buf - (size_t)n, ": %.*s", (int)(sizeof err_buf - (size_t)n - 3),
                 old[0] ? old : "error");
    return code;
}

const char *qp_error_msg(void) { return err_buf[0] ? err_buf : "unknown error"; }
void qp_error_clear(void) { err_buf[0] = 0; }

static void run_cleanups(void)
{
    while (n_cleanups > 0) {
        struct cleanup c = cleanups[--n_cleanups];
        c.fn(c.arg);
    }
}

static void on_signal(int sig)
{
    run_cleanups();
    signal(sig, SIG_DFL);
    raise(sig);
}

void qp_diag_init(const char *prog)
{
    const char *slash = strrchr(prog, '/');
    prog_name = slash ? slash + 1 : prog;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
}

const char *qp_diag_prog(void) { return prog_name; }

void qp_diag_atexit(void (*fn)(void *), void *arg)
{
    if (n_cleanups < 16) {
        cleanups[n_cleanups].fn = fn;
        cleanups[n_cleanups].arg = arg;
        n_cleanups++;
    }
}

void qp_diag_cancel(void (*fn)(void *), void *arg)
{
    for (int i = 0; i < n_cleanups; i++)
        if (cleanups[i].fn == fn && cleanups[i].arg == arg) {
            for (int j = i + 1; j < n_cleanups; j++)
                cleanups[j - 1] = cleanups[j];
            n_cleanups--;
            return;
        }
}

static void vline(const char *fmt, va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    /* one line: fold any embedded newline */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "%s: %s\n", prog_name, line);
}

void qp_diag_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[1600];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: warning: %s\n", prog_name, buf);
}

void qp_diag_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

_Noreturn static void vdie(int code, const char *fmt, va_list ap)
{
    run_cleanups();
    vline(fmt, ap);
    fflush(stdout);
    exit(code);
}

_Noreturn void qp_diag_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdie(code, fmt, ap);
}

_Noreturn void qp_diag_exit(int code)
{
    qp_diag_die(code, "%s", qp_error_msg());
}

void *qp_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        qp_errorf(QP_ESYS, "out of memory (%zu bytes)", n);
    return p;
}

void *qp_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        qp_errorf(QP_ESYS, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *qp_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        qp_errorf(QP_ESYS, "out of memory (%zu bytes)", n);
    return q;
}

int qp_mul_size(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

int qp_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return -1;
    *out = a + b;
    return 0;
}
