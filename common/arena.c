/* Arena allocator: chunks of at least chunk_size, each allocation 64-byte aligned
 * (so SIMD kernels may use aligned loads on arena tensors). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp/arena.h"
#include "qp/diag.h"

struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(64) unsigned char data[];
};

struct qp_arena {
    struct chunk *head;
    size_t chunk_size, total;
};

qp_arena *qp_arena_new(size_t chunk_size)
{
    qp_arena *a = qp_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->chunk_size = chunk_size ? chunk_size : (1u << 20);
    return a;
}

void qp_arena_free(qp_arena *a)
{
    if (!a)
        return;
    for (struct chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        qp_free(c);
    }
    qp_free(a);
}

void *qp_arena_alloc(qp_arena *a, size_t n)
{
    size_t need;
    if (qp_add_size(n, 63, &need)) {
        qp_errorf(QP_ESYS, "allocation size overflow");
        return NULL;
    }
    need &= ~(size_t)63;
    struct chunk *c = a->head;
    if (!c || c->size - c->used < need) {
        size_t sz = need > a->chunk_size ? need : a->chunk_size, tot;
        if (qp_add_size(sz, sizeof(struct chunk), &tot)) {
            qp_errorf(QP_ESYS, "allocation size overflow");
            return NULL;
        }
        struct chunk *nc = qp_aligned_alloc(64, (tot + 63) & ~(size_t)63);
        if (!nc) {
            qp_errorf(QP_ESYS, "out of memory (%zu bytes)", n);
            return NULL;
        }
        nc->size = sz;
        nc->used = 0;
        if (c && need > a->chunk_size) {
            /* keep the current partly-used chunk at the head */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->total += need;
    memset(p, 0, n);
    return p;
}

void *qp_arena_array(qp_arena *a, size_t n, size_t size)
{
    size_t t;
    if (qp_mul_size(n, size, &t)) {
        qp_errorf(QP_ESYS, "allocation size overflow (%zu x %zu)", n, size);
        return NULL;
    }
    return qp_arena_alloc(a, t);
}

char *qp_arena_strndup(qp_arena *a, const char *s, size_t n)
{
    char *p = qp_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *qp_arena_strdup(qp_arena *a, const char *s)
{
    return qp_arena_strndup(a, s ? s : "", s ? strlen(s) : 0);
}

char *qp_arena_printf(qp_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = qp_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t qp_arena_used(const qp_arena *a) { return a->total; }
