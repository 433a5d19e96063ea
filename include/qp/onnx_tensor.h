/* Decoding ONNX TensorProto messages (initializers, Constant values, tensor attributes and
 * the conformance tests' input_0.pb files) into qp_tensor: decoded data belongs to the arena
 * passed in, or with a NULL arena to the caller (qp_tensor_free). */
#ifndef QP_ONNX_TENSOR_H
#define QP_ONNX_TENSOR_H
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "qp/arena.h"
#include "qp/tensorio.h"

typedef struct Onnx__TensorProto Onnx__TensorProto;

#define QP_ONNX_MAX_DIM INT64_C(0x7fffffff)        /* largest single dimension */
#define QP_ONNX_MAX_BYTES ((size_t)1 << 34)         /* largest decoded tensor */
#define QP_ONNX_MAX_FILE ((size_t)2 << 30)          /* largest model or .pb file read */

/* True for the element types qpipe imports: float, double, float16, int8, uint8, int16,
 * int32, int64, bool. */
int qp_onnx_dtype_supported(int data_type);
/* The ONNX enum name of a data type ("FLOAT", "STRING", "COMPLEX64"...), "UNDEFINED" else. */
const char *qp_onnx_dtype_name(int data_type);

/* Decodes t: exactly one value field (raw_data, the typed field of its type, or external
 * data), a supported type, dims >= 0 and below QP_ONNX_MAX_DIM, rank <= 8, sizes checked for
 * overflow before any product, and a payload of exactly the size the shape needs.  External
 * data is read only from a regular file under base_dir (a relative location without '..'
 * components, no symbolic link on the way) within its bounds; base_dir NULL refuses it.
 * Errors are QP_EINPUT "tensor 'name': <reason>" (QP_ESYS for memory and I/O). */
int qp_onnx_tensor_decode(const Onnx__TensorProto *t, const char *base_dir, qp_arena *arena,
                          qp_tensor *out);

/* Reads a file holding one serialized TensorProto (the ONNX backend tests' input_0.pb);
 * external data resolves against the file's directory.  Errors name the file. */
int qp_onnx_tensor_read_pb(const char *path, qp_tensor *out);

/* A protobuf-c allocator over an arena with a byte budget, for unpacking untrusted
 * messages: once the budget is spent every allocation fails (and exhausted is set), so
 * unpack returns NULL instead of exhausting memory.  Freeing is a no-op; free the arena. */
typedef struct qp_onnx_alloc {
    ProtobufCAllocator pc;
    qp_arena *arena;
    size_t budget, used;
    int exhausted;
} qp_onnx_alloc;
void qp_onnx_alloc_init(qp_onnx_alloc *al, qp_arena *arena, size_t budget);

#endif
