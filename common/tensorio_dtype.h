/* Private to tensor_data.c and tensorio.c: the dtype table and element access (static data;
 * nothing to free). */
#ifndef QP_TENSORIO_DTYPE_H
#define QP_TENSORIO_DTYPE_H
#include <stddef.h>

struct qp_dtype_info {
    int code;
    unsigned size;
    const char *name, *abbrev, *npy;    /* npy: kind+size, NULL if numpy has no such type */
};

/* Entry i of the table (NULL past the end), or the entry of a dtype code (NULL if unknown). */
const struct qp_dtype_info *qp_dtype_info_at(size_t i);
const struct qp_dtype_info *qp_dtype_info_find(int code);
/* Element i of data as a double; data may be unaligned. */
double qp_dtype_elem_f64(const unsigned char *d, int dtype, size_t i);

#endif
