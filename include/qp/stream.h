/* The stream layer: one zstd frame (content checksum on) of length-prefixed records,
 * with a running FNV-1a hash for the end record.  A writer owns its compression context
 * and buffers; a reader owns the decoded record buffer, valid until the next read. */
#ifndef QP_STREAM_H
#define QP_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define QP_STREAM_MAX_RECORD ((size_t)1 << 31)   /* 2 GiB: larger records are rejected */

typedef struct qp_swriter qp_swriter;
typedef struct qp_sreader qp_sreader;

/* name is used in messages ("<stdout>", a path). */
qp_swriter *qp_swriter_new(FILE *out, const char *name, int level);
int qp_swriter_record(qp_swriter *w, const void *data, size_t len);
uint64_t qp_swriter_hash(const qp_swriter *w);
uint64_t qp_swriter_count(const qp_swriter *w);
/* Ends the frame and flushes; does not close out.  Frees w in every case. */
int qp_swriter_finish(qp_swriter *w);
void qp_swriter_free(qp_swriter *w);

qp_sreader *qp_sreader_new(FILE *in, const char *name);
/* Reads the next record.  Returns 0 with data and len set, QP_STREAM_END at a clean end
 * of data (no byte left, decoder at a frame end), or an error status. */
#define QP_STREAM_END (-1)
int qp_sreader_record(qp_sreader *r, const uint8_t **data, size_t *len);
/* Hash and count of the records read before the current one. */
uint64_t qp_sreader_hash_before(const qp_sreader *r);
uint64_t qp_sreader_count_before(const qp_sreader *r);
/* After the end record: 0 if nothing at all follows (no byte, no frame), else an error. */
int qp_sreader_expect_eof(qp_sreader *r);
void qp_sreader_free(qp_sreader *r);

uint64_t qp_fnv1a64(uint64_t h, const void *data, size_t len);
#define QP_FNV1A64_INIT 0xcbf29ce484222325ULL

#endif
