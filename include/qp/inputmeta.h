/* Input meta (Acuity's inputmeta YAML, qpipe-inputmeta(5)) and dataset lists.  A
 * qp_inputmeta or qp_dataset owns an arena holding everything reachable from it;
 * its _free releases all at once, so nothing in it is freed or realloc'd alone. */
#ifndef QP_INPUTMETA_H
#define QP_INPUTMETA_H
#include <stdint.h>
#include <stdio.h>

#include "qp/arena.h"
#include "qp/image.h"
#include "qp/tensorio.h"

enum qp_meta_category { QP_CAT_UNDEFINED = 0, QP_CAT_IMAGE, QP_CAT_FREQUENCY };
enum qp_meta_dbtype {
    QP_DB_TEXT = 0, QP_DB_NPY, QP_DB_H5FS, QP_DB_SQLITE, QP_DB_LMDB, QP_DB_GENERATOR, QP_DB_ZIP
};

typedef struct qp_meta_port {
    const char *lid;          /* input layer key, e.g. "images_208" */
    int category;             /* enum qp_meta_category */
    int dtype;                /* QP_DT_F32: the only dtype accepted */
    int sparse;
    const char *tensor_name;  /* NULL when empty (H5FS only) */
    int layout;               /* QP_LAYOUT_NCHW or QP_LAYOUT_NHWC */
    int rank;                 /* 1..QP_TENSOR_MAX_RANK */
    int64_t shape[QP_TENSOR_MAX_RANK];
    const char *fitting;      /* "scale": resize (stretch) images to the port's size */
    /* preprocess */
    int reverse_channel;      /* RGB -> BGR (reverses the channel axis) */
    int n_mean;               /* 1 or C values */
    double *mean;
    int n_scale;              /* 1 or C values, finite and non-zero */
    double *scale;
    int scale_is_list;        /* written as a list (else a scalar when n_scale == 1) */
    struct qp_meta_node {     /* preprocess.preproc_node_params, kept for export */
        int add_preproc_node;
        const char *preproc_type;  /* IMAGE_RGB ... TENSOR */
        int has_image_size;
        int64_t image_size[2];
        int has_crop;
        int crop_enable;
        int64_t crop_rect[4];
        int n_perm;                /* 0: absent, else the port's rank */
        int64_t perm[QP_TENSOR_MAX_RANK];
        int has_dtype_converter;
        const char *dc_quantizer, *dc_qtype;
        double dc_scale;
        int64_t dc_zero_point;
    } node;
    int redirect_to_output;
    int line;                 /* where the port starts in its file; 0 if built in memory */
} qp_meta_port;

typedef struct qp_meta_db {
    const char *path;         /* the dataset list as written */
    int type;                 /* enum qp_meta_dbtype */
    int n_ports;
    qp_meta_port **ports;
    int line;
} qp_meta_db;

typedef struct qp_inputmeta {
    qp_arena *arena;
    const char *file;         /* the file it was read from, or NULL */
    const char *dir;          /* its directory: the base of relative database paths */
    int n_dbs;
    qp_meta_db **dbs;
} qp_inputmeta;

typedef struct qp_dataset {
    qp_arena *arena;
    const char *list;         /* the list file */
    int n_inputs;             /* entries per sample (line) */
    int64_t n_samples;
    const char **paths;       /* n_samples * n_inputs, resolved against the list's directory */
    const char **written;     /* the same entries as written in the list */
    int *lines;               /* line number of each sample */
} qp_dataset;

/* ---- building (onnx2ir --inputmeta) ---- */

/* NULL (QP_ESYS recorded) if out of memory. */
qp_inputmeta *qp_inputmeta_new(void);
void qp_inputmeta_free(qp_inputmeta *m);
/* A database of the given type and list path (QP_DB_TEXT, "dataset.txt"). */
qp_meta_db *qp_inputmeta_add_db(qp_inputmeta *m, const char *path, int type);
/* A port with Acuity's generated defaults: dtype float32, fitting scale,
 * reverse_channel false, scale 1.0, redirect_to_output false; 4-D shapes get layout
 * nchw (nhwc when only the last dim is 3), category image and preproc_type IMAGE_RGB
 * when that channel dim is 3 (else undefined/TENSOR), preproc_perm 0..rank-1; image
 * ports get mean [0, 0, 0] and preproc_image_size/preproc_crop of the port, others
 * mean [0].  lid and shape are copied.  NULL with QP_EUSAGE for an empty lid or a dim
 * <= 0 (resolve dynamic dims first). */
qp_meta_port *qp_inputmeta_add_port(qp_inputmeta *m, qp_meta_db *db, const char *lid, int rank,
                                    const int64_t *shape);

/* ---- reading and writing ---- */

/* Parses and validates (qpipe-inputmeta(5)).  Errors are QP_EUSAGE "file:line:col:
 * reason" (syntax, TABs, duplicate keys, anchors/aliases/tags, several documents,
 * unknown keys with the nearest known one, wrong types, bad numbers, mean/scale
 * lengths, shapes), QP_EINPUT/QP_ESYS if the file cannot be read. */
int qp_inputmeta_read(const char *path, qp_inputmeta **out);
int qp_inputmeta_parse(const char *buf, size_t n, const char *name, qp_inputmeta **out);
/* Validates m, then writes "%YAML 1.2", the header comment and Acuity's layout, to a
 * temporary file renamed over path.  QP_EUSAGE if m would not read back. */
int qp_inputmeta_write(const char *path, const qp_inputmeta *m);
int qp_inputmeta_emit(FILE *f, const qp_inputmeta *m);
/* The checks the reader applies, for a meta built in memory. */
int qp_inputmeta_validate(const qp_inputmeta *m);

/* Ports of all databases in file order; NULL if i is out of range. */
int qp_inputmeta_n_ports(const qp_inputmeta *m);
qp_meta_port *qp_inputmeta_port(const qp_inputmeta *m, int i);
qp_meta_port *qp_inputmeta_find_port(const qp_inputmeta *m, const char *lid);
/* The channel axis: rank 4 -> 1 (nchw) or 3 (nhwc); rank 3 -> 0 or 2; else -1. */
int qp_inputmeta_channel_axis(const qp_meta_port *p);
const char *qp_inputmeta_category_name(int category);
const char *qp_inputmeta_dbtype_name(int type);

/* ---- dataset lists (ANCHORS 1.2) ---- */

/* One sample per line, its n_inputs entries separated by spaces or TABs (so paths
 * cannot hold blanks); relative entries are resolved against the list file's
 * directory.  A UTF-8 BOM, CR before LF, leading and trailing blanks are stripped and
 * blank lines skipped.  QP_EINPUT "list:line: reason" for an empty list, a NUL byte,
 * a line above 4096 bytes, a wrong entry count, or an entry that is missing, a
 * directory or unreadable. */
int qp_inputmeta_read_list(const char *list_path, int n_inputs, qp_dataset **out);
void qp_inputmeta_free_list(qp_dataset *d);
/* The list of database db: its path is resolved against the input meta's directory,
 * its type must be TEXT, and each line holds one entry per port. */
int qp_inputmeta_open_db(const qp_inputmeta *m, int db, qp_dataset **out);
/* The database path resolved as above, into the meta's arena. */
const char *qp_inputmeta_db_path(const qp_inputmeta *m, int db);

/* One sample file to the float32 input of a port (shape exactly the port's):
 *   .npy           any numeric dtype, converted; its shape must equal the port's up to
 *                  leading 1s (224x224x3 fits 1x224x224x3)
 *   .tensor        text, the port's shape
 *   .bin, .raw     raw little-endian float32 of the port's shape
 *   anything else  a PNG or JPEG image (by content), resized and channel-converted
 *                  (qp_image_preprocess); needs a 4-D port with batch 1, or a 3-D one,
 *                  with 1 or 3 channels
 * then preprocess (reverse_channel, mean, scale) applies, whatever the kind.  NaN/Inf
 * in .npy/raw data pass through (qp_tensor_find_nonfinite).  Errors name the file. */
int qp_inputmeta_load_sample(const qp_meta_port *p, const char *path, qp_tensor *out);

#endif
