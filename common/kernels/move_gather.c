/* Gather: indices are checked first (no partial output), then each (outer, index) pair is
 * one contiguous block copy of inner elements. */
#include <string.h>

#include "qp/move_gather.h"

static int64_t get_index(const void *idx, int is64, size_t j)
{
    if (is64) {
        int64_t v;
        memcpy(&v, (const char *)idx + 8 * j, 8);
        return v;
    }
    int32_t v;
    memcpy(&v, (const char *)idx + 4 * j, 4);
    return v;
}

int64_t qp_move_gather(size_t es, size_t outer, size_t axis_n, size_t inner, const void *x, const void *idx,
                       int is64, size_t n_idx, void *y)
{
    int64_t n = (int64_t)axis_n;
    for (size_t j = 0; j < n_idx; j++) {
        int64_t v = get_index(idx, is64, j);
        if (v < -n || v >= n)
            return -1 - (int64_t)j;
    }
    size_t block = inner * es;
    const char *xb = x;
    char *yb = y;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < n_idx; j++) {
            int64_t v = get_index(idx, is64, j);
            if (v < 0)
                v += n;
            memcpy(yb + (o * n_idx + j) * block, xb + (o * axis_n + (size_t)v) * block, block);
        }
    return 0;
}
