/* libFuzzer target: the ONNX importer (load, wire-format scan, build, shape inference,
 * folding, layer keys) on arbitrary bytes, as onnx2ir runs it. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../filters/onnx2ir.h"
#include "qp/diag.h"
#include "qp/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.onnx", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    qp_o2i_model mod;
    if (qp_o2i_load(path, &mod) == 0) {
        qp_graph *g = NULL;
        qp_o2i_flags fl = { 0 };
        qp_o2i_stats st = { 0 };
        if (qp_o2i_build(&mod, NULL, 0, &g, &fl, &st) == 0 && qp_o2i_simplify(g, &fl, &st) == 0)
            qp_keys_assign(g, fl.is_init);
        qp_graph_free(g);
        free(fl.is_init);
        qp_o2i_model_free(&mod);
    }
    close(fd);
    qp_error_clear();
    return 0;
}
