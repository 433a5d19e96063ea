/* The runtime sources nbgexport writes into an exported project, embedded at build time by
 * filters/nbgexport_prj/embed.sh (static data; nothing to free). */
#ifndef QP_NBGEXPORT_SRC_H
#define QP_NBGEXPORT_SRC_H
#include <stddef.h>

typedef struct qp_nbgexport_file {
    const char *path;           /* in the project: main.c, Makefile, runtime/common/... */
    const unsigned char *data;
    size_t len;
} qp_nbgexport_file;

extern const qp_nbgexport_file qp_nbgexport_files[];
extern const int qp_nbgexport_n_files;

#endif
