/* Plumbing shared by every filter: --help/--version, reading the IR stream from stdin,
 * writing it to stdout (never to a terminal) or to a file through a temporary file that
 * is renamed on success and removed on failure or signal. */
#ifndef QP_CLI_H
#define QP_CLI_H
#include <stdio.h>

#include "qp/graph.h"

/* Handles -h/--help (prints usage to stdout, exit 0) and --version anywhere in argv. */
void qp_cli_common(int argc, char **argv, const char *usage);
/* Prints "prog: msg" and the usage hint, exits 2. */
_Noreturn void qp_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads the IR stream from path ("-" or NULL = stdin) or exits with the error. */
qp_graph *qp_cli_read_ir(const char *path);
/* Appends this filter's history entry and writes g to stdout (refusing a terminal), or
 * exits.  Nothing is written if validation fails. */
void qp_cli_write_ir(qp_graph *g, int argc, char **argv);

/* An output file written atomically: open gives a FILE* on a temporary file next to path;
 * commit flushes, closes and renames; abort removes the temporary. */
typedef struct qp_outfile {
    char *path, *tmp;
    FILE *f;
} qp_outfile;
int qp_outfile_open(qp_outfile *o, const char *path, const char *mode);
int qp_outfile_commit(qp_outfile *o);
void qp_outfile_abort(qp_outfile *o);

/* Parses a comma-separated list of positive integers ("1,3,640,640"); returns count or -1. */
int qp_cli_parse_dims(const char *s, long long *dims, int max);

#endif
