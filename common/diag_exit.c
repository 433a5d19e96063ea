/* Diagnostics, the filters' side: the program name, one-line messages on stderr, exiting
 * with a status, and the cleanups (temporary output files) run before exiting or on a
 * signal.  Only programs link this; the NBG runtime reports through qp_error_msg. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"

static const char *prog_name = "qpipe";

struct cleanup { void (*fn)(void *); void *arg; };
static struct cleanup cleanups[16];
static volatile sig_atomic_t n_cleanups;

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
