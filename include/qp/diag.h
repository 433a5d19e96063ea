/* Diagnostics: common/ code records one error message and returns a status; only
 * filters print it (qp_diag_exit).  The message buffer is thread-local and owned here. */
#ifndef QP_DIAG_H
#define QP_DIAG_H
#include <stdarg.h>
#include <stddef.h>

#define QP_VERSION_STRING "0.1.0"

/* Exit statuses shared by every filter (qpipe(7), EXIT STATUS). */
enum {
    QP_OK = 0,
    QP_EINPUT = 1,  /* bad input: malformed stream/model/tensor, unsupported op */
    QP_EUSAGE = 2,  /* bad options or YAML schema */
    QP_ESYS = 3,    /* I/O, memory */
    QP_ECHECK = 4   /* a requested check failed (tsim --min-cos) */
};

/* Records "fmt" as the current error and returns code (so: return qp_errorf(...)). */
int qp_errorf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the current error with "prefix: " (e.g. a file or layer name). */
int qp_error_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *qp_error_msg(void);
void qp_error_clear(void);

/* Filter side: set the program name once, then report and exit. */
void qp_diag_init(const char *prog);
const char *qp_diag_prog(void);
void qp_diag_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void qp_diag_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "prog: <current error>" and exits with code (runs registered cleanups first). */
_Noreturn void qp_diag_exit(int code);
/* Prints "prog: fmt..." and exits with code. */
_Noreturn void qp_diag_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A cleanup to run before any qp_diag_exit/qp_diag_die and on SIGINT/SIGTERM
 * (removing temporary output files).  At most 16. */
void qp_diag_atexit(void (*fn)(void *), void *arg);
void qp_diag_cancel(void (*fn)(void *), void *arg);

/* Checked allocation for filters and common code: on failure records QP_ESYS.  Memory from
 * these is released with qp_free (never free), so an allocator hook sees every call. */
void *qp_malloc(size_t n);
void *qp_calloc(size_t n, size_t size);
void *qp_realloc(void *p, size_t n);
void *qp_aligned_alloc(size_t align, size_t n);     /* align: a power of two, at most 64 */
void qp_free(void *p);

/* The allocator behind them: libc's by default.  The NBG runtime (qp/nbg.h) sets one that
 * serves a caller-given arena; nbgexport sets a counting one to measure it.  alloc returns
 * uninitialised memory aligned to align, resize has realloc's contract (p may be NULL),
 * release may be NULL (a bump allocator frees nothing).  Process-wide; set it while no
 * other thread allocates through it.  NULL restores libc's. */
typedef struct qp_allocator {
    void *(*alloc)(void *ctx, size_t n, size_t align);
    void *(*resize)(void *ctx, void *p, size_t n);
    void (*release)(void *ctx, void *p);
    void *ctx;
} qp_allocator;
void qp_set_allocator(const qp_allocator *a);

/* Overflow-checked size arithmetic: return 0 on success, -1 on overflow. */
int qp_mul_size(size_t a, size_t b, size_t *out);
int qp_add_size(size_t a, size_t b, size_t *out);

#endif
