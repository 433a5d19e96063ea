/* libFuzzer target: the NBG runtime's loader (qp_nbg_load) on arbitrary bytes, and one run of
 * whatever loads.  Any input must give a network or an error status, never a crash, leak or
 * hang; the image and the arena are 64-byte aligned copies, as the runtime requires.  The file
 * size and checksum fields are set to match the mutated bytes (unless the input's last byte is
 * odd), or nearly every mutation would stop at the checksum and nothing behind it be fuzzed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qp/diag.h"
#include "qp/nbg.h"

#define ARENA_MAX ((size_t)64 << 20)    /* larger claims are skipped (the loader checks them) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void *img = aligned_alloc(64, (size + 64) & ~(size_t)63);
    if (!img)
        return 0;
    memcpy(img, data, size);
    if (size >= 64 && !(data[size - 1] & 1)) {
        uint8_t *b = img;
        for (int i = 0; i < 8; i++)
            b[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
        uint32_t c = qp_nbg_checksum(b, size);
        for (int i = 0; i < 4; i++)
            b[48 + i] = (uint8_t)(c >> (8 * i));
    }
    size_t need;
    if (qp_nbg_arena_size(img, size, &need) == 0 && need <= ARENA_MAX) {
        void *arena = aligned_alloc(64, (need + 64) & ~(size_t)63);
        qp_nbg *n;
        if (arena && qp_nbg_load(img, size, arena, need, &n) == 0)
            qp_nbg_run(n);
        free(arena);
    }
    free(img);
    qp_error_clear();
    return 0;
}
