/* Arena: a bump allocator; everything allocated from an arena is freed at once by
 * qp_arena_free.  Nothing allocated from it may be freed individually. */
#ifndef QP_ARENA_H
#define QP_ARENA_H
#include <stddef.h>

typedef struct qp_arena qp_arena;

qp_arena *qp_arena_new(size_t chunk_size);
void qp_arena_free(qp_arena *a);
/* 64-byte aligned, zero-filled; NULL (and QP_ESYS recorded) on failure. */
void *qp_arena_alloc(qp_arena *a, size_t n);
/* n elements of size bytes, overflow-checked. */
void *qp_arena_array(qp_arena *a, size_t n, size_t size);
char *qp_arena_strdup(qp_arena *a, const char *s);
char *qp_arena_strndup(qp_arena *a, const char *s, size_t n);
char *qp_arena_printf(qp_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t qp_arena_used(const qp_arena *a);

#endif
