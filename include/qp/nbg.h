/* The network binary graph (NBG, qpipe-nbg(5)) and its runtime.  The caller owns the NBG image
 * and one arena: qp_nbg_load builds everything (graph, table, prepared weights, activation
 * buffer, scratch) inside that arena and keeps pointers into the image, so both must outlive
 * the qp_nbg; nothing is allocated after load and nothing needs freeing (drop the arena).
 * The image is untrusted: every offset, size, index, count and parameter is checked before use.
 * A load installs the process-wide allocator hook (qp/diag.h) for its duration: load one network
 * at a time, while no other thread allocates through qp_malloc; runs need no such care.
 * The writer (qp_nbg_write) is nbgexport's; it serialises a graph bound to its table. */
#ifndef QP_NBG_H
#define QP_NBG_H
#include <stddef.h>
#include <stdint.h>

#include "qp/graph.h"
#include "qp/qops.h"
#include "qp/qtable.h"

#define QP_NBG_MAGIC "QPNBG\x1a\n"      /* 8 bytes with the final NUL */
#define QP_NBG_VERSION_MAJOR 1
#define QP_NBG_VERSION_MINOR 1     /* 1.1: bias corrections (port 3); files without are 1.0 */
#define QP_NBG_PORT_BIAS_CORR 3    /* a quantization entry holding a layer's bias correction */
#define QP_NBG_ENDIAN_TAG 0x0A0B0C0Du    /* stored little-endian: 0D 0C 0B 0A */
#define QP_NBG_HEADER_SIZE 64
#define QP_NBG_SECTION_ENTRY 32
#define QP_NBG_ALIGN 64                  /* every section and constant payload */

/* Caps on counts (qpipe-nbg(5), LIMITS). */
#define QP_NBG_MAX_SECTIONS 32
#define QP_NBG_MAX_VALUES 1000000
#define QP_NBG_MAX_NODES 1000000
#define QP_NBG_MAX_ATTRS 4000000
#define QP_NBG_MAX_ATTR_ELEMS 65536
#define QP_NBG_MAX_CHANNELS 1000000
#define QP_NBG_MAX_IO 64

enum qp_nbg_section {
    QP_NBG_SEC_STRINGS = 1,     /* NUL-terminated strings, referenced by offset */
    QP_NBG_SEC_VALUES = 2,      /* value descriptors */
    QP_NBG_SEC_NODES = 3,       /* the op list */
    QP_NBG_SEC_ATTRS = 4,       /* attributes of the nodes, in node order */
    QP_NBG_SEC_INDICES = 5,     /* int32: node inputs and outputs (value ids, -1 absent) */
    QP_NBG_SEC_QENTRIES = 6,    /* quantization table entries */
    QP_NBG_SEC_QPARAMS = 7,     /* their per-channel scales (f64) and zero points (i32) */
    QP_NBG_SEC_IO = 8,          /* input and output descriptors */
    QP_NBG_SEC_PLAN = 9,        /* the memory plan figures */
    QP_NBG_SEC_DATA = 10,       /* constant payloads (weights), each 64-byte aligned */
    QP_NBG_SEC_COUNT = 10
};

/* Op codes: ONNX op names in a fixed order.  New ops are appended, never inserted. */
#define QP_NBG_OPS(X)                                                                           \
    X(Abs) X(Add) X(And) X(ArgMax) X(ArgMin) X(AveragePool) X(BatchNormalization) X(Cast)       \
    X(CastLike) X(Ceil) X(Clip) X(Concat) X(ConstantOfShape) X(Conv) X(ConvTranspose) X(Cos)    \
    X(DepthToSpace) X(Div) X(Dropout) X(Elu) X(Equal) X(Erf) X(Exp) X(Expand) X(Flatten)        \
    X(Floor) X(Gather) X(Gemm) X(GlobalAveragePool) X(GlobalMaxPool) X(Greater)                 \
    X(GreaterOrEqual) X(HardSigmoid) X(HardSwish) X(Identity) X(InstanceNormalization) X(LRN)   \
    X(LeakyRelu) X(Less) X(LessOrEqual) X(Log) X(LogSoftmax) X(MatMul) X(Max) X(MaxPool)        \
    X(Mean) X(Min) X(Mul) X(Neg) X(Not) X(Or) X(PRelu) X(Pad) X(Pow) X(Reciprocal) X(ReduceL1)  \
    X(ReduceL2) X(ReduceLogSum) X(ReduceLogSumExp) X(ReduceMax) X(ReduceMean) X(ReduceMin)      \
    X(ReduceProd) X(ReduceSum) X(ReduceSumSquare) X(Relu) X(Reshape) X(Resize) X(Round) X(Selu) \
    X(Shape) X(Sigmoid) X(Sign) X(Sin) X(Size) X(Slice) X(Softmax) X(Softplus) X(Softsign)      \
    X(SpaceToDepth) X(Split) X(Sqrt) X(Squeeze) X(Sub) X(Sum) X(Tanh) X(Tile) X(Transpose)      \
    X(Unsqueeze) X(Upsample) X(Where) X(Xor)

enum qp_nbg_op {
#define QP_NBG_OP_ENUM(name) QP_NBG_OP_##name,
    QP_NBG_OPS(QP_NBG_OP_ENUM)
#undef QP_NBG_OP_ENUM
    QP_NBG_OP_COUNT
};

/* Name of an op code (NULL if out of range); code of a name (-1 if it has none). */
const char *qp_nbg_op_name(int code);
int qp_nbg_op_code(const char *name);

/* ---- writer (nbgexport) ----------------------------------------------------------------------- */

typedef struct qp_nbg_plan {
    uint64_t arena_bytes;       /* what qp_nbg_load needs: the header's figure */
    uint64_t activation_bytes;  /* the executor's activation buffer (memory plan, with reuse) */
    uint64_t activation_naive;  /* the same without reuse */
    uint64_t state_bytes;       /* prepared weights, tables and multipliers */
} qp_nbg_plan;
typedef struct qp_nbg_io qp_nbg_io;
/* Serialises g (bound to t) with its input then output descriptors io[] into a new buffer (*out,
 * *len; the caller frees it with qp_free): same graph and table, same bytes.  plan's figures go
 * into the header and the plan section.  Errors name the layer (an op without an NBG code). */
int qp_nbg_write(const qp_graph *g, const qp_qtable *t, const qp_nbg_io *io, const qp_nbg_plan *plan,
                 uint8_t **out, size_t *len);
/* CRC-32 (zlib's) of an image of len >= 64 bytes, with the checksum field taken as zeros. */
uint32_t qp_nbg_checksum(const uint8_t *buf, size_t len);
/* Rewrites the header's arena figure and the checksum in place. */
void qp_nbg_set_arena_bytes(uint8_t *buf, size_t len, uint64_t arena_bytes);

/* ---- runtime ---------------------------------------------------------------------------------- */

typedef struct qp_nbg qp_nbg;

/* Checks the header, section table and checksum, and reports the arena size the NBG needs. */
int qp_nbg_arena_size(const void *image, size_t len, size_t *arena_bytes);
/* Validates the whole image and builds the network inside arena (64-byte aligned, at least
 * the header's size; the image must be 64-byte aligned too and stay alive).  Errors
 * (QP_EINPUT for a bad image, QP_ESYS for an arena too small) are in qp_error_msg(). */
int qp_nbg_load(const void *image, size_t len, void *arena, size_t arena_len, qp_nbg **out);
/* Bytes of the arena the load used. */
size_t qp_nbg_arena_used(const qp_nbg *n);

/* Inputs and outputs as the network holds them. */
struct qp_nbg_io {
    const char *name;           /* ONNX tensor name */
    const char *key;            /* layer key: the input's, or the output's attach_ key */
    int dtype;                  /* storage dtype (QP_DT_U8, I8, I16, F32, ...) */
    int rank;
    int64_t dims[QP_MAX_RANK];
    size_t nbytes;
    int quantizer;              /* enum qp_quantizer (QP_QZ_NONE: not quantized) */
    double scale;               /* per-tensor quantization, when quantized */
    int32_t zero_point;
    int fl;
};
int qp_nbg_n_inputs(const qp_nbg *n);
int qp_nbg_n_outputs(const qp_nbg *n);
int qp_nbg_input(const qp_nbg *n, int i, qp_nbg_io *io);
int qp_nbg_output(const qp_nbg *n, int i, qp_nbg_io *io);

/* Input i from float32 values (quantized with the input's parameters, as qinfer does), or from
 * data already in its storage type (raw); shape-checked. */
int qp_nbg_set_input_f32(qp_nbg *n, int i, const float *data, int rank, const int64_t *dims);
int qp_nbg_set_input_raw(qp_nbg *n, int i, const void *data, size_t nbytes);
int qp_nbg_run(qp_nbg *n);
/* Output i after a run (valid until the next run): its stored integers, or the executor's
 * tensor with its representation (qp_qexec_dequantize gives the floats qinfer writes). */
const void *qp_nbg_output_data(const qp_nbg *n, int i);
const qp_qtensor *qp_nbg_output_tensor(const qp_nbg *n, int i);

#endif
