/* A conformance-runner tool: the ONNX node tests pass every operand as a graph input,
 * shapes and axes included, but qpipe needs those known at import.  This binds named graph
 * inputs to the values of TensorProto files by adding them as initializers (the input
 * stays listed, which ONNX allows), so onnx2ir imports them as constants:
 *   onnx_bind --inputs MODEL.onnx            runtime inputs' names, in order, one a line
 *   onnx_bind --feeds MODEL.onnx NODE        "slot<TAB>name" of each runtime input that node
 *                                            NODE reads (NODE named as onnx2ir names it)
 *   onnx_bind MODEL.onnx NAME=FILE.pb... >OUT.onnx
 * Exit status: 0 ok, 1 bad model or tensor, 2 usage, 3 system. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "qp/diag.h"
#include "qp/onnx_tensor.h"

static int is_init(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && !strcmp(g->initializer[i]->name, name))
            return 1;
    return 0;
}

static Onnx__ModelProto *load(const char *path, size_t *n_out)
{
    unsigned char *buf;
    size_t n;
    if (qp_tensorio_read_file(path, QP_ONNX_MAX_FILE, &buf, &n))
        qp_diag_exit(QP_EINPUT);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, buf);
    free(buf);
    if (!m || !m->graph)
        qp_diag_die(QP_EINPUT, "'%s': not an ONNX model", path);
    *n_out = n;
    return m;
}

int main(int argc, char **argv)
{
    qp_diag_init(argv[0]);
    if (argc == 3 && !strcmp(argv[1], "--inputs")) {
        size_t n;
        Onnx__ModelProto *m = load(argv[2], &n);
        for (size_t i = 0; i < m->graph->n_input; i++)
            if (!is_init(m->graph, m->graph->input[i]->name))
                printf("%s\n", m->graph->input[i]->name);
        onnx__model_proto__free_unpacked(m, NULL);
        return fflush(stdout) ? QP_ESYS : 0;
    }
    if (argc == 4 && !strcmp(argv[1], "--feeds")) {
        size_t n;
        Onnx__ModelProto *m = load(argv[2], &n);
        const Onnx__GraphProto *g = m->graph;
        for (size_t i = 0; i < g->n_node; i++) {
            const Onnx__NodeProto *np = g->node[i];
            char label[512];
            if (np->name && np->name[0])
                snprintf(label, sizeof label, "%s", np->name);
            else
                snprintf(label, sizeof label, "%s_%zu", np->op_type ? np->op_type : "", i);
            if (strcmp(label, argv[3]))
                continue;
            for (size_t s = 0; s < np->n_input; s++)
                for (size_t k = 0; k < g->n_input; k++)
                    if (np->input[s][0] && !strcmp(np->input[s], g->input[k]->name) &&
                        !is_init(g, np->input[s]))
                        printf("%zu\t%s\n", s, np->input[s]);
            break;
        }
        onnx__model_proto__free_unpacked(m, NULL);
        return fflush(stdout) ? QP_ESYS : 0;
    }
    if (argc < 3)
        qp_diag_die(QP_EUSAGE, "usage: onnx_bind --inputs MODEL.onnx | --feeds MODEL.onnx NODE | MODEL.onnx NAME=FILE.pb...");
    size_t n;
    Onnx__ModelProto *m = load(argv[1], &n);
    Onnx__GraphProto *g = m->graph;
    int nb = argc - 2;
    Onnx__TensorProto **inits = calloc(g->n_initializer + (size_t)nb, sizeof *inits);
    if (!inits)
        qp_diag_die(QP_ESYS, "out of memory");
    if (g->n_initializer)
        memcpy(inits, g->initializer, g->n_initializer * sizeof *inits);
    for (int a = 0; a < nb; a++) {
        char *arg = argv[2 + a], *eq = strchr(arg, '=');
        if (!eq || eq == arg || !eq[1])
            qp_diag_die(QP_EUSAGE, "bad binding '%s': expected NAME=FILE.pb", arg);
        *eq = 0;
        int found = 0;
        for (size_t i = 0; i < g->n_input; i++)
            found |= !strcmp(g->input[i]->name, arg);
        if (!found || is_init(g, arg))
            qp_diag_die(QP_EINPUT, "'%s' is not a runtime input of '%s'", arg, argv[1]);
        unsigned char *buf;
        size_t len;
        if (qp_tensorio_read_file(eq + 1, QP_ONNX_MAX_FILE, &buf, &len))
            qp_diag_exit(QP_EINPUT);
        Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, buf);
        free(buf);
        if (!t)
            qp_diag_die(QP_EINPUT, "'%s': not a serialized ONNX TensorProto", eq + 1);
        free(t->name); /* the TensorProto's own name may differ from the input's */
        if (!(t->name = strdup(arg)))
            qp_diag_die(QP_ESYS, "out of memory");
        inits[g->n_initializer + (size_t)a] = t;
    }
    free(g->initializer); /* the messages are now the model's, freed with it */
    g->initializer = inits;
    g->n_initializer += (size_t)nb;
    size_t size = onnx__model_proto__get_packed_size(m);
    unsigned char *out = malloc(size ? size : 1);
    if (!out)
        qp_diag_die(QP_ESYS, "out of memory");
    onnx__model_proto__pack(m, out);
    if (fwrite(out, 1, size, stdout) != size || fflush(stdout))
        qp_diag_die(QP_ESYS, "cannot write the model");
    free(out);
    onnx__model_proto__free_unpacked(m, NULL);
    return 0;
}
