/* Samples: the model inputs of each iteration, from files given on the command line or
 * from the dataset list(s) of an input meta, preprocessed as the meta says.  A qp_samples
 * owns the meta and lists; tensors it returns belong to the caller (qp_tensor_free). */
#ifndef QP_SAMPLES_H
#define QP_SAMPLES_H

#include "qp/graph.h"
#include "qp/tensorio.h"

typedef struct qp_samples qp_samples;

/* meta_path may be NULL; with n_files > 0 the files are one sample (one per graph input,
 * in input order), else the samples come from the meta's dataset lists.  Ports are matched
 * to graph inputs by lid = input layer key, else by position when the counts agree. */
int qp_samples_open(const qp_graph *g, const char *meta_path, int n_files, const char *const *files,
                    qp_samples **out);
int qp_samples_count(const qp_samples *s);
/* Sample i for graph input j: float32 of the input's shape (or the file's own dtype for
 * .npy/.pb inputs given without a meta, which qp_exec_set_input then checks). */
int qp_samples_get(qp_samples *s, int i, int j, qp_tensor *out);
/* The same as float32 (a sample of another numeric type converted). */
int qp_samples_get_f32(qp_samples *s, int i, int j, qp_tensor *out);
/* The path that sample i of input j comes from (for messages). */
const char *qp_samples_path(const qp_samples *s, int i, int j);
void qp_samples_close(qp_samples *s);

#endif
