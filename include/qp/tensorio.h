/* Tensor file I/O: a qp_tensor owns its data (malloc'd by the readers and by
 * qp_tensor_alloc) and qp_tensor_free releases it; readers fill the caller's struct
 * and leave it zeroed on error.  Formats: .npy (v1-v3), Acuity .tensor text dumps
 * (one value per line), raw little-endian binary.  Errors are recorded with
 * qp_errorf and name the file: "cannot read 'x.npy': <reason>". */
#ifndef QP_TENSORIO_H
#define QP_TENSORIO_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Element types: the numbers of ONNX TensorProto.DataType. */
enum qp_dtype {
    QP_DT_UNDEFINED = 0,
    QP_DT_F32 = 1,
    QP_DT_U8 = 2,
    QP_DT_I8 = 3,
    QP_DT_U16 = 4,
    QP_DT_I16 = 5,
    QP_DT_I32 = 6,
    QP_DT_I64 = 7,
    QP_DT_BOOL = 9,
    QP_DT_F16 = 10,
    QP_DT_F64 = 11,
    QP_DT_U32 = 12,
    QP_DT_U64 = 13,
    QP_DT_BF16 = 16
};

/* Memory layout of a 4-D (or 3-D) image-like tensor. */
enum qp_layout { QP_LAYOUT_NCHW = 1, QP_LAYOUT_NHWC = 2 };

#define QP_TENSOR_MAX_RANK 8

typedef struct qp_tensor {
    int dtype;              /* enum qp_dtype */
    int rank;               /* 0 (scalar) .. QP_TENSOR_MAX_RANK */
    int64_t dims[QP_TENSOR_MAX_RANK];
    void *data;             /* nbytes bytes, C order, native (little) endian */
    size_t nbytes;
} qp_tensor;

/* Bytes per element; 0 for an unknown code. */
size_t qp_dtype_size(int dtype);
/* ONNX-style name ("float32", "uint8", "bfloat16"...); "undefined" for an unknown code. */
const char *qp_dtype_name(int dtype);
/* Accepts the names above and the short forms f32 f64 f16 bf16 u8 i8 u16 i16 u32 i32
 * u64 i64 bool; returns QP_DT_UNDEFINED if unknown. */
int qp_dtype_parse(const char *s);

/* Element count of dims (1 for rank 0); -1 if a dim is negative or the product
 * overflows int64/size_t. */
int64_t qp_shape_numel(int rank, const int64_t *dims);
/* "1x25200x85" ("scalar" for rank 0) into buf; returns buf. */
char *qp_shape_format(char *buf, size_t n, int rank, const int64_t *dims);
/* Parses "1,25200,85" (also "1x25200x85"); dims > 0, rank 1..8.  QP_EUSAGE on error. */
int qp_shape_parse(const char *s, int *rank, int64_t *dims);

/* Allocates a zero-filled tensor; checks dims and the byte size for overflow. */
int qp_tensor_alloc(qp_tensor *t, int dtype, int rank, const int64_t *dims);
void qp_tensor_free(qp_tensor *t);
int64_t qp_tensor_numel(const qp_tensor *t);
/* New float32 tensor with the same shape: exact for (u)int8/16, f16, bf16; rounds
 * larger integers and doubles; a double beyond the float32 range is an error
 * (QP_EINPUT naming the element index). */
int qp_tensor_to_f32(const qp_tensor *in, qp_tensor *out);
/* Every element as a double into out[numel] (exact for all types but 64-bit
 * integers above 2^53). */
void qp_tensor_get_f64(const qp_tensor *t, double *out);
/* Index of the first NaN/Inf element of a floating tensor, or -1 if none. */
int64_t qp_tensor_find_nonfinite(const qp_tensor *t);

/* IEEE half and bfloat16 conversions (round to nearest even; NaN kept). */
float qp_f16_to_f32(uint16_t h);
uint16_t qp_f32_to_f16(float f);
float qp_bf16_to_f32(uint16_t h);
uint16_t qp_f32_to_bf16(float f);

/* ---- reading ---- */

/* .npy: versions 1.0, 2.0, 3.0; descr <f4 <f8 <f2 |u1 |i1 <i2 <u2 <i4 <u4 <i8 <u8 |b1
 * and their '>' forms (byte-swapped on load); C order only; the data must be exactly
 * numel x itemsize bytes.  QP_EINPUT for a bad file, QP_ESYS for I/O. */
int qp_tensorio_read_npy(const char *path, qp_tensor *out);
/* The same from memory; name is used in messages. */
int qp_tensorio_parse_npy(const void *buf, size_t n, const char *name, qp_tensor *out);

/* Shape sources for .tensor text (the rank argument of the readers below). */
#define QP_SHAPE_FROM_NAME (-1) /* from the file name's "_out<N>_<d0>_<d1>..." suffix */
#define QP_SHAPE_ANY (-2)       /* from the name if it has one, else 1-D of the count */

/* Acuity .tensor text: one decimal number per line (leading/trailing blanks and CRLF
 * allowed; a final line without newline allowed), stored as float32.  Rejects
 * non-numbers, NaN/Inf and values beyond float32 with the line number, and a count
 * that differs from the shape.  rank >= 0 gives the shape in dims. */
int qp_tensorio_read_tensor(const char *path, int rank, const int64_t *dims, qp_tensor *out);
int qp_tensorio_parse_tensor(const void *buf, size_t n, const char *name, int rank,
                             const int64_t *dims, qp_tensor *out);

/* Raw little-endian binary of the given dtype and shape; the file size must be exact. */
int qp_tensorio_read_raw(const char *path, int dtype, int rank, const int64_t *dims,
                         qp_tensor *out);

/* By extension: .npy, .tensor (shape: rank/dims if rank >= 0, else QP_SHAPE_ANY), and
 * anything else as raw (needs rank >= 0 and dtype). */
int qp_tensorio_read(const char *path, int dtype, int rank, const int64_t *dims,
                     qp_tensor *out);

/* Dims from an Acuity dump name: "iter_0_<key>_out0_1_25200_85.tensor" gives 1x25200x85
 * (the digits after the last "_out<N>_"); "..._out0.tensor" gives rank 0.
 * Returns 0, or -1 if the name has no such suffix (nothing is recorded). */
int qp_tensorio_name_dims(const char *path, int *rank, int64_t *dims);

/* Acuity dump name "iter_<iter>_<key, '/' -> '_'>_out0_<d0>_<d1>...tensor" into buf.
 * QP_EUSAGE if it does not fit or the key is empty. */
int qp_tensorio_acuity_name(char *buf, size_t n, int iter, const char *layer_key,
                            const int64_t *dims, int rank);

/* ---- writing: to a temporary file in the target's directory, renamed over it on
 * success and removed on any error (or SIGINT, through qp_diag_atexit).  A target that
 * exists and is not a regular file (/dev/stdout, a FIFO) is written in place. ---- */

/* .npy version 1.0, C order, little endian; bfloat16 has no .npy type (QP_EUSAGE). */
int qp_tensorio_write_npy(const char *path, const qp_tensor *t);
/* .tensor text: each element converted to float32 and printed "%.9g\n", which reads
 * back to the identical float32.  NaN/Inf cannot be written (QP_EINPUT). */
int qp_tensorio_write_tensor(const char *path, const qp_tensor *t);
/* Raw little-endian bytes. */
int qp_tensorio_write_raw(const char *path, const qp_tensor *t);

/* ---- helpers shared by image.c and inputmeta.c ---- */

/* Whole file into a malloc'd buffer with a NUL after the last byte (*n excludes it);
 * at most max bytes (0: 4 GiB).  Errors "cannot read 'path': <strerror>": QP_EINPUT for
 * a missing file, a directory or no permission, QP_ESYS otherwise. */
int qp_tensorio_read_file(const char *path, size_t max, unsigned char **buf, size_t *n);
/* Atomic write: fn(f, arg) writes the content and returns QP_OK or a status with the
 * reason recorded (without the file name); the flush and close are checked too, and
 * any error is prefixed "cannot write 'path'". */
int qp_tensorio_write_file(const char *path, int (*fn)(FILE *f, void *arg), void *arg);
/* s quoted for a message: at most 40 bytes, non-printable bytes as \xNN. */
char *qp_tensorio_quote(char *buf, size_t n, const char *s, size_t len);

#endif
