/* libFuzzer target: the IR stream reader (qp_ir_read) on arbitrary bytes.  Any input
 * must give a graph or an error status, never a crash, leak or hang. */
#include <stdint.h>
#include <stdio.h>

#include "qp/diag.h"
#include "qp/graph.h"
#include "qp/ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fmemopen((void *)data, size ? size : 1, "rb");
    if (!f)
        return 0;
    if (!size)
        fgetc(f);   /* fmemopen refuses 0 bytes: consume the one byte instead */
    qp_graph *g = NULL;
    if (qp_ir_read(f, "fuzz", &g) == 0)
        qp_graph_free(g);
    fclose(f);
    qp_error_clear();
    return 0;
}
