/* Every node and string of a tree comes from the caller's arena (qp_yaml.a) and lives until that arena
 * is freed; nothing else is allocated past a call.
 *
 * The strict YAML reader shared by the input meta, the .quantize table and the target profiles:
 * libyaml events become a small tree, where the checks libyaml leaves out are made (duplicate keys,
 * anchors and aliases, tags, several documents, a depth cap); the typed accessors then convert each
 * scalar with strtod/strtoll and report "name:line:col: ..." (QP_EUSAGE) at the node at fault. */
#ifndef QP_YAMLTREE_H
#define QP_YAMLTREE_H
#include <stddef.h>
#include <stdint.h>

#include "qp/arena.h"

enum { QP_YN_SCALAR, QP_YN_SEQ, QP_YN_MAP };

typedef struct qp_ynode {
    int kind, line, col, quoted; /* quoted: a scalar not in plain style */
    const char *v;               /* scalar text */
    int n;                       /* items, or key/value pairs */
    struct qp_ynode **k;         /* seq: n items; map: 2n (key, value) */
} qp_ynode;

/* What a reader says about its file: the messages name it and its dialect. */
typedef struct qp_yaml {
    qp_arena *a;
    const char *name;      /* file name in messages */
    const char *first_key; /* "empty file (expected 'first_key:')" */
    const char *doc;       /* "several YAML documents (doc is one document)" */
    const char *tab;       /* the message for a TAB byte (each format's tests pin its own wording) */
    int max_depth;         /* deeper collections are refused */
} qp_yaml;

/* One document from buf (len bytes, no NUL needed) into *root; NUL and TAB bytes are refused. */
int qp_yaml_parse(const qp_yaml *y, const char *buf, size_t len, qp_ynode **root);

/* "name:line:col: message" (or "name: message" for line 0) as a QP_EUSAGE error. */
int qp_yaml_errorf(const qp_yaml *y, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

const char *qp_yaml_kind_name(int kind); /* "a mapping", "a list", "a scalar" */
int qp_yaml_is_null(const qp_ynode *n);  /* plain empty, ~, null, Null, NULL */
const qp_ynode *qp_yaml_get(const qp_ynode *map, const char *key);
int qp_yaml_in_list(const char *s, const char *const *list); /* list ends with NULL */
/* The closest of known (n names, or up to a NULL when n < 0) by edit distance. */
const char *qp_yaml_nearest(const char *key, const char *const *known, int n);

/* "'what' must be <kind>, not <kind>". */
int qp_yaml_want(const qp_yaml *y, const qp_ynode *n, int kind, const char *what);
/* The first key of map not in known (NULL-terminated), or NULL. */
const qp_ynode *qp_yaml_unknown_key(const qp_ynode *map, const char *const *known);
/* "unknown key 'k' in what (did you mean 'nearest'?)" for the first key not in known. */
int qp_yaml_check_keys(const qp_yaml *y, const qp_ynode *map, const char *what, const char *const *known);
/* *out = map[key], or "what lacks 'key'". */
int qp_yaml_require(const qp_yaml *y, const qp_ynode *map, const char *key, const char *what, const qp_ynode **out);

#define QP_YAML_NULL_OK 1 /* a null value is allowed: NULL string, or no numbers */

/* A non-empty scalar; with QP_YAML_NULL_OK, null gives NULL. */
int qp_yaml_to_str(const qp_yaml *y, const qp_ynode *n, const char *what, int flags, const char **out);
int qp_yaml_to_bool(const qp_yaml *y, const qp_ynode *n, const char *what, int *out);
/* A plain decimal integer in [lo, hi]. */
int qp_yaml_to_int(const qp_yaml *y, const qp_ynode *n, const char *what, int64_t lo, int64_t hi, int64_t *out);
/* A plain finite number (overflow and underflow to 0 are out of range). */
int qp_yaml_to_num(const qp_yaml *y, const qp_ynode *n, const char *what, double *out);
/* The index of the scalar among names[0..count). */
int qp_yaml_to_enum(const qp_yaml *y, const qp_ynode *n, const char *what, const char *const *names, int count,
                    int *out);
/* A number or a non-empty list of numbers, into the arena; *count 0 for null with QP_YAML_NULL_OK. */
int qp_yaml_to_nums(const qp_yaml *y, const qp_ynode *n, const char *what, int flags, double **out, int *count,
                    int *is_list);
/* An integer or a non-empty list of integers in [lo, hi], likewise. */
int qp_yaml_to_ints(const qp_yaml *y, const qp_ynode *n, const char *what, int flags, int64_t lo, int64_t hi,
                    int64_t **out, int *count);

#endif
