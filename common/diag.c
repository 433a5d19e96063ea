/* Diagnostics, the part every program links, the NBG runtime too (libc only): the recorded
 * error, the allocator behind qp_malloc and friends, overflow-checked sizes.  Printing,
 * exiting and the cleanups on signals are diag_exit.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"

static _Thread_local char err_buf[1024];

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

static qp_allocator allocator;     /* all NULL: libc */

void qp_set_allocator(const qp_allocator *a)
{
    if (a)
        allocator = *a;
    else
        memset(&allocator, 0, sizeof allocator);
}

void *qp_malloc(size_t n)
{
    void *p = allocator.alloc ? allocator.alloc(allocator.ctx, n ? n : 1, 16) : malloc(n ? n : 1);
    if (!p)
        qp_errorf(QP_ESYS, "out of memory (%zu bytes)", n);
    return p;
}

void *qp_calloc(size_t n, size_t size)
{
    size_t t;
    if (qp_mul_size(n ? n : 1, size ? size : 1, &t)) {
        qp_errorf(QP_ESYS, "out of memory (%zu x %zu bytes)", n, size);
        return NULL;
    }
    void *p;
    if (allocator.alloc) {
        if ((p = allocator.alloc(allocator.ctx, t, 16)))
            memset(p, 0, t);
    } else {
        p = calloc(n ? n : 1, size ? size : 1);
    }
    if (!p)
        qp_errorf(QP_ESYS, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *qp_realloc(void *p, size_t n)
{
    void *q = allocator.resize ? allocator.resize(allocator.ctx, p, n ? n : 1) : realloc(p, n ? n : 1);
    if (!q)
        qp_errorf(QP_ESYS, "out of memory (%zu bytes)", n);
    return q;
}

void *qp_aligned_alloc(size_t align, size_t n)
{
    size_t t;
    if (qp_add_size(n ? n : 1, align - 1, &t)) {
        qp_errorf(QP_ESYS, "out of memory (%zu bytes)", n);
        return NULL;
    }
    t &= ~(align - 1);          /* aligned_alloc wants a multiple of the alignment */
    void *p = allocator.alloc ? allocator.alloc(allocator.ctx, t, align) : aligned_alloc(align, t);
    if (!p)
        qp_errorf(QP_ESYS, "out of memory (%zu bytes)", n);
    return p;
}

void qp_free(void *p)
{
    if (allocator.release)
        allocator.release(allocator.ctx, p);
    else if (!allocator.alloc)
        free(p);
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
