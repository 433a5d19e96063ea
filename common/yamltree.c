/* The strict YAML tree (qp/yamltree.h): libyaml events into arena nodes, refusing what libyaml
 * accepts silently (duplicate keys, anchors, aliases, tags, several documents, deep nesting),
 * and the typed accessors every reader's schema walk goes through, so the three YAML formats
 * word their errors alike. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "qp/diag.h"
#include "qp/tensorio.h"
#include "qp/yamltree.h"

struct yp {
    const qp_yaml *y;
    const char *buf;
    size_t len;
    yaml_parser_t parser;
};

int qp_yaml_errorf(const qp_yaml *y, int line, int col, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        return qp_errorf(QP_EUSAGE, "%s:%d:%d: %s", y->name, line, col, msg);
    return qp_errorf(QP_EUSAGE, "%s: %s", y->name, msg);
}

static const char *quote(char *buf, size_t n, const char *s) { return qp_tensorio_quote(buf, n, s, strlen(s)); }

/* ---- the tree ---- */

static void offset_pos(const char *buf, size_t off, int *line, int *col)
{
    *line = *col = 1;
    for (size_t i = 0; i < off; i++)
        if (buf[i] == '\n')
            ++*line, *col = 1;
        else
            ++*col;
}

static int syntax_error(const struct yp *P)
{
    const yaml_parser_t *p = &P->parser;
    const char *problem = p->problem ? p->problem : "syntax error";
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->error == YAML_MEMORY_ERROR)
        return qp_errorf(QP_ESYS, "%s: out of memory parsing YAML", P->y->name);
    if (p->error == YAML_READER_ERROR) { /* marks are not set: count to the byte offset */
        offset_pos(P->buf, p->problem_offset < P->len ? p->problem_offset : P->len, &line, &col);
        return qp_yaml_errorf(P->y, line, col, "%s", p->problem ? p->problem : "invalid input");
    }
    if (p->context && p->context_mark.line != p->problem_mark.line)
        return qp_yaml_errorf(P->y, line, col, "%s %s (started at line %d)", problem, p->context,
                              (int)p->context_mark.line + 1);
    if (p->context)
        return qp_yaml_errorf(P->y, line, col, "%s %s", problem, p->context);
    return qp_yaml_errorf(P->y, line, col, "%s", problem);
}

static int next_event(struct yp *P, yaml_event_t *ev)
{
    return yaml_parser_parse(&P->parser, ev) ? 0 : syntax_error(P);
}

/* The keys of one map so far, hashed (open addressing, load under a half; a slot holds the
 * key's index in the item array + 1): a repeated key is refused where it stands, in document
 * order, in O(1) even in a quantize table's maps of thousands of keys. */
struct keyset {
    size_t *slot, cap;
};

static size_t *keyset_find(const struct keyset *s, qp_ynode *const *v, const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        h = (h ^ *c) * 16777619u;
    size_t j = h & (s->cap - 1);
    while (s->slot[j] && strcmp(v[s->slot[j] - 1]->v, key))
        j = (j + 1) & (s->cap - 1);
    return &s->slot[j];
}

/* Adds the key v[i] (keys at even indices). */
static int keyset_add(const struct yp *P, struct keyset *s, qp_ynode *const *v, size_t i)
{
    if (i + 2 > s->cap) { /* i / 2 + 1 keys into cap slots */
        struct keyset t = {calloc(s->cap ? 2 * s->cap : 16, sizeof *t.slot), s->cap ? 2 * s->cap : 16};
        if (!t.slot)
            return qp_errorf(QP_ESYS, "out of memory");
        for (size_t k = 0; k < i; k += 2)
            *keyset_find(&t, v, v[k]->v) = k + 1;
        free(s->slot);
        *s = t;
    }
    size_t *at = keyset_find(s, v, v[i]->v);
    if (*at) {
        char q[200];
        return qp_yaml_errorf(P->y, v[i]->line, v[i]->col, "duplicate key '%s' (first at line %d)",
                              quote(q, sizeof q, v[i]->v), v[*at - 1]->line);
    }
    *at = i + 1;
    return 0;
}

/* Builds the node that starts with ev (consumed). */
static int build(struct yp *P, yaml_event_t *ev, int depth, qp_ynode **out)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1, type = ev->type, rc = 0;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    const qp_yaml *y = P->y;
    *out = NULL;
    if (type == YAML_SCALAR_EVENT)
        anchor = ev->data.scalar.anchor, tag = ev->data.scalar.tag;
    else if (type == YAML_SEQUENCE_START_EVENT)
        anchor = ev->data.sequence_start.anchor, tag = ev->data.sequence_start.tag;
    else if (type == YAML_MAPPING_START_EVENT)
        anchor = ev->data.mapping_start.anchor, tag = ev->data.mapping_start.tag;
    if (type == YAML_ALIAS_EVENT)
        rc = qp_yaml_errorf(y, line, col, "aliases ('*%s') are not allowed", (const char *)ev->data.alias.anchor);
    else if (anchor)
        rc = qp_yaml_errorf(y, line, col, "anchors ('&%s') are not allowed", (const char *)anchor);
    else if (tag)
        rc = qp_yaml_errorf(y, line, col, "tags ('%s') are not allowed", (const char *)tag);
    else if (depth > y->max_depth)
        rc = qp_yaml_errorf(y, line, col, "nesting deeper than %d levels", y->max_depth);
    else if (type != YAML_SCALAR_EVENT && type != YAML_SEQUENCE_START_EVENT && type != YAML_MAPPING_START_EVENT)
        rc = qp_yaml_errorf(y, line, col, "unexpected YAML event");
    qp_ynode *n = rc ? NULL : qp_arena_alloc(y->a, sizeof *n);
    if (!rc && !n)
        rc = QP_ESYS;
    if (rc) {
        yaml_event_delete(ev);
        return rc;
    }
    n->line = line;
    n->col = col;
    *out = n;
    if (type == YAML_SCALAR_EVENT) {
        n->kind = QP_YN_SCALAR;
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        size_t len = ev->data.scalar.length;
        if (memchr(ev->data.scalar.value, 0, len))
            rc = qp_yaml_errorf(y, line, col, "NUL character in a scalar");
        else if (!(n->v = qp_arena_strndup(y->a, (const char *)ev->data.scalar.value, len)))
            rc = QP_ESYS;
        yaml_event_delete(ev);
        return rc;
    }
    n->kind = type == YAML_SEQUENCE_START_EVENT ? QP_YN_SEQ : QP_YN_MAP;
    yaml_event_delete(ev);
    int end = n->kind == QP_YN_SEQ ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT;
    size_t cap = 16, cnt = 0;
    struct keyset keys = {NULL, 0};
    qp_ynode **v = malloc(cap * sizeof *v);
    if (!v)
        return qp_errorf(QP_ESYS, "out of memory");
    for (;;) {
        yaml_event_t e;
        if ((rc = next_event(P, &e)))
            break;
        if ((int)e.type == end) {
            yaml_event_delete(&e);
            break;
        }
        if (cnt + 2 > cap) {
            qp_ynode **nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                yaml_event_delete(&e);
                rc = qp_errorf(QP_ESYS, "out of memory");
                break;
            }
            v = nv;
            cap *= 2;
        }
        qp_ynode *item;
        if ((rc = build(P, &e, depth + 1, &item)))
            break;
        if (n->kind == QP_YN_MAP && cnt % 2 == 0 && item->kind != QP_YN_SCALAR) {
            rc = qp_yaml_errorf(y, item->line, item->col, "a key must be a scalar");
            break;
        }
        v[cnt] = item;
        if (n->kind == QP_YN_MAP && cnt % 2 == 0 && (rc = keyset_add(P, &keys, v, cnt)))
            break;
        cnt++;
    }
    free(keys.slot);
    if (!rc) {
        n->n = (int)(n->kind == QP_YN_MAP ? cnt / 2 : cnt);
        if (!(n->k = qp_arena_array(y->a, cnt ? cnt : 1, sizeof *v)))
            rc = QP_ESYS;
        else
            memcpy(n->k, v, cnt * sizeof *v);
    }
    free(v);
    return rc;
}

static int build_document(struct yp *P, qp_ynode **root)
{
    yaml_event_t e;
    int rc = next_event(P, &e); /* stream start */
    if (rc)
        return rc;
    yaml_event_delete(&e);
    if ((rc = next_event(P, &e)))
        return rc;
    if (e.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&e);
        return qp_yaml_errorf(P->y, 0, 0, "empty file (expected '%s:')", P->y->first_key);
    }
    yaml_event_delete(&e); /* document start */
    if ((rc = next_event(P, &e)) || (rc = build(P, &e, 0, root)))
        return rc;
    if ((rc = next_event(P, &e))) /* document end */
        return rc;
    yaml_event_delete(&e);
    if ((rc = next_event(P, &e)))
        return rc;
    if (e.type != YAML_STREAM_END_EVENT) {
        int line = (int)e.start_mark.line + 1, col = (int)e.start_mark.column + 1;
        yaml_event_delete(&e);
        return qp_yaml_errorf(P->y, line, col, "several YAML documents (%s is one document)", P->y->doc);
    }
    yaml_event_delete(&e);
    return 0;
}

int qp_yaml_parse(const qp_yaml *y, const char *buf, size_t len, qp_ynode **root)
{
    struct yp P = {.y = y, .buf = buf, .len = len};
    const char *nul = memchr(buf, 0, len), *tab = memchr(buf, '\t', len);
    int line, col;
    *root = NULL;
    if (nul || tab) {
        offset_pos(buf, (size_t)((nul ? nul : tab) - buf), &line, &col);
        return qp_yaml_errorf(y, line, col, "%s", nul ? "NUL byte" : y->tab);
    }
    if (!yaml_parser_initialize(&P.parser))
        return qp_errorf(QP_ESYS, "%s: out of memory parsing YAML", y->name);
    yaml_parser_set_input_string(&P.parser, (const unsigned char *)buf, len);
    int rc = build_document(&P, root);
    yaml_parser_delete(&P.parser);
    return rc;
}

/* ---- lookups ---- */

const char *qp_yaml_kind_name(int k)
{
    return k == QP_YN_MAP ? "a mapping" : k == QP_YN_SEQ ? "a list" : "a scalar";
}

int qp_yaml_is_null(const qp_ynode *n)
{
    return n->kind == QP_YN_SCALAR && !n->quoted &&
           (!*n->v || !strcmp(n->v, "~") || !strcmp(n->v, "null") || !strcmp(n->v, "Null") || !strcmp(n->v, "NULL"));
}

const qp_ynode *qp_yaml_get(const qp_ynode *map, const char *key)
{
    for (int i = 0; i < map->n; i++)
        if (!strcmp(map->k[2 * i]->v, key))
            return map->k[2 * i + 1];
    return NULL;
}

int qp_yaml_in_list(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

static int levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[65];
    if (la > 64)
        la = 64;
    if (lb > 64)
        lb = 64;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = row[j], sub = prev + (a[i - 1] != b[j - 1]), del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

const char *qp_yaml_nearest(const char *key, const char *const *known, int n)
{
    const char *best = known[0];
    int bd = 1 << 30;
    for (int i = 0; n < 0 ? known[i] != NULL : i < n; i++) {
        int d = levenshtein(key, known[i]);
        if (d < bd)
            bd = d, best = known[i];
    }
    return best;
}

/* ---- shape checks ---- */

int qp_yaml_want(const qp_yaml *y, const qp_ynode *n, int kind, const char *what)
{
    if (n->kind != kind)
        return qp_yaml_errorf(y, n->line, n->col, "'%s' must be %s, not %s", what, qp_yaml_kind_name(kind),
                              qp_yaml_kind_name(n->kind));
    return 0;
}

const qp_ynode *qp_yaml_unknown_key(const qp_ynode *map, const char *const *known)
{
    for (int i = 0; i < map->n; i++)
        if (!qp_yaml_in_list(map->k[2 * i]->v, known))
            return map->k[2 * i];
    return NULL;
}

int qp_yaml_check_keys(const qp_yaml *y, const qp_ynode *map, const char *what, const char *const *known)
{
    const qp_ynode *k = qp_yaml_unknown_key(map, known);
    char q[200];
    if (k)
        return qp_yaml_errorf(y, k->line, k->col, "unknown key '%s' in %s (did you mean '%s'?)",
                              quote(q, sizeof q, k->v), what, qp_yaml_nearest(k->v, known, -1));
    return 0;
}

int qp_yaml_require(const qp_yaml *y, const qp_ynode *map, const char *key, const char *what, const qp_ynode **out)
{
    if (!(*out = qp_yaml_get(map, key)))
        return qp_yaml_errorf(y, map->line, map->col, "%s lacks '%s'", what, key);
    return 0;
}

/* ---- scalars ---- */

int qp_yaml_to_str(const qp_yaml *y, const qp_ynode *n, const char *what, int flags, const char **out)
{
    int rc = qp_yaml_want(y, n, QP_YN_SCALAR, what);
    if (rc)
        return rc;
    *out = NULL;
    if (qp_yaml_is_null(n) && (flags & QP_YAML_NULL_OK))
        return 0;
    if (!*n->v || qp_yaml_is_null(n))
        return qp_yaml_errorf(y, n->line, n->col, "'%s' must not be empty", what);
    *out = n->v;
    return 0;
}

int qp_yaml_to_bool(const qp_yaml *y, const qp_ynode *n, const char *what, int *out)
{
    const char *s = n->v;
    char q[200];
    if (n->kind != QP_YN_SCALAR)
        return qp_yaml_errorf(y, n->line, n->col, "'%s' must be true or false, not %s", what,
                              qp_yaml_kind_name(n->kind));
    if (!n->quoted && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")))
        *out = 1;
    else if (!n->quoted && (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")))
        *out = 0;
    else
        return qp_yaml_errorf(y, n->line, n->col, "'%s' must be true or false, not '%s'", what, quote(q, sizeof q, s));
    return 0;
}

int qp_yaml_to_int(const qp_yaml *y, const qp_ynode *n, const char *what, int64_t lo, int64_t hi, int64_t *out)
{
    char q[200], range[64] = "";
    if (n->kind != QP_YN_SCALAR)
        return qp_yaml_errorf(y, n->line, n->col, "'%s' must be an integer, not %s", what, qp_yaml_kind_name(n->kind));
    const char *s = n->v;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (n->quoted || !*s || *end || end == s || (s[0] != '-' && s[0] != '+' && (s[0] < '0' || s[0] > '9')))
        return qp_yaml_errorf(y, n->line, n->col, "'%s' must be an integer, not '%s'%s", what, quote(q, sizeof q, s),
                              n->quoted ? " (quoted)" : "");
    if (errno == ERANGE || v < lo || v > hi) {
        if (lo != INT64_MIN || hi != INT64_MAX)
            snprintf(range, sizeof range, " [%" PRId64 ", %" PRId64 "]", lo, hi);
        return qp_yaml_errorf(y, n->line, n->col, "'%s' value '%s' is out of range%s", what, quote(q, sizeof q, s),
                              range);
    }
    *out = v;
    return 0;
}

int qp_yaml_to_num(const qp_yaml *y, const qp_ynode *n, const char *what, double *out)
{
    char q[200];
    if (n->kind != QP_YN_SCALAR)
        return qp_yaml_errorf(y, n->line, n->col, "'%s' must be a number, not %s", what, qp_yaml_kind_name(n->kind));
    const char *s = n->v, *t = s + (*s == '+' || *s == '-');
    quote(q, sizeof q, s);
    if (!n->quoted && (!strcasecmp(t, ".inf") || !strcasecmp(t, ".nan")))
        return qp_yaml_errorf(y, n->line, n->col, "'%s' value '%s' is not finite", what, q);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (n->quoted || !*s || *end || end == s || strchr(s, 'x') || strchr(s, 'X') ||
        ((*t < '0' || *t > '9') && *t != '.' && !isinf(v) && !isnan(v)))
        return qp_yaml_errorf(y, n->line, n->col, "'%s' must be a number, not '%s'%s", what, q,
                              n->quoted ? " (quoted)" : "");
    if (errno == ERANGE && (isinf(v) || v == 0)) /* a subnormal is a value: written tables read back */
        return qp_yaml_errorf(y, n->line, n->col, "'%s' value '%s' is out of range", what, q);
    if (!isfinite(v))
        return qp_yaml_errorf(y, n->line, n->col, "'%s' value '%s' is not finite", what, q);
    *out = v;
    return 0;
}

int qp_yaml_to_enum(const qp_yaml *y, const qp_ynode *n, const char *what, const char *const *names, int count,
                    int *out)
{
    const char *s;
    int rc = qp_yaml_to_str(y, n, what, 0, &s);
    if (rc)
        return rc;
    for (int i = 0; i < count; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    char allowed[256] = "", q[200];
    for (int j = 0; j < count; j++)
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", j ? ", " : "", names[j]);
    return qp_yaml_errorf(y, n->line, n->col, "'%s' value '%s' is not allowed (allowed: %s)", what,
                          quote(q, sizeof q, s), allowed);
}

/* ---- a value or a list of values ---- */

/* The count of a value-or-list node: 0 for null, -1 (with the error) if it cannot be one. */
static int list_count(const qp_yaml *y, const qp_ynode *n, const char *what, int flags, const char *of)
{
    if ((flags & QP_YAML_NULL_OK) && qp_yaml_is_null(n))
        return 0;
    if (n->kind == QP_YN_MAP)
        return qp_yaml_errorf(y, n->line, n->col, "'%s' must be %s, not a mapping", what, of), -1;
    if (n->kind == QP_YN_SEQ && n->n == 0)
        return qp_yaml_errorf(y, n->line, n->col, "'%s' must not be an empty list", what), -1;
    return n->kind == QP_YN_SEQ ? n->n : 1;
}

int qp_yaml_to_nums(const qp_yaml *y, const qp_ynode *n, const char *what, int flags, double **out, int *count,
                    int *is_list)
{
    int cnt = list_count(y, n, what, flags, "a number or a list of numbers");
    *count = 0;
    *is_list = n->kind == QP_YN_SEQ;
    if (cnt <= 0)
        return cnt < 0 ? QP_EUSAGE : 0;
    double *v = qp_arena_array(y->a, (size_t)cnt, sizeof *v);
    if (!v)
        return QP_ESYS;
    for (int i = 0; i < cnt; i++) {
        int rc = qp_yaml_to_num(y, n->kind == QP_YN_SEQ ? n->k[i] : n, what, &v[i]);
        if (rc)
            return rc;
    }
    *out = v;
    *count = cnt;
    return 0;
}

int qp_yaml_to_ints(const qp_yaml *y, const qp_ynode *n, const char *what, int flags, int64_t lo, int64_t hi,
                    int64_t **out, int *count)
{
    int cnt = list_count(y, n, what, flags, "an integer or a list of integers");
    *count = 0;
    if (cnt <= 0)
        return cnt < 0 ? QP_EUSAGE : 0;
    int64_t *v = qp_arena_array(y->a, (size_t)cnt, sizeof *v);
    if (!v)
        return QP_ESYS;
    for (int i = 0; i < cnt; i++) {
        int rc = qp_yaml_to_int(y, n->kind == QP_YN_SEQ ? n->k[i] : n, what, lo, hi, &v[i]);
        if (rc)
            return rc;
    }
    *out = v;
    *count = cnt;
    return 0;
}
