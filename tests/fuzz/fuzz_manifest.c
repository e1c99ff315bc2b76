/*
 * fuzz_manifest.c: libFuzzer target for the manifest reader
 * (src/lib/manifest.c: ts_manifest_open_memory, ts_manifest_next), which
 * reads manifests that may be cut, corrupt or someone else's. The input is
 * the file's bytes (zstd, by magic bytes, or plain JSONL).
 *
 * Checks, beyond "does not crash or leak": the lines returned are numbered
 * 1, 2, 3, ... with their fields in range (probabilities in [0, 1] or -1, an
 * action that exists, an error text exactly on error lines); a failure comes
 * once, after them, naming the line after the last one returned; nothing
 * follows it.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tropescan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ts_manifest_reader *r;
    ts_diag d;
    if (ts_manifest_open_memory(data, size, &r, &d) != TS_OK)
        return 0;
    ts_manifest_line ml;
    uint64_t n = 0;
    int k;
    while ((k = ts_manifest_next(r, &ml, &d)) == 1) {
        n++;
        if (ml.line != n || (unsigned)ml.action >= TS_NACTIONS || (ml.score != -1 && !(ml.score >= 0 && ml.score <= 1)) ||
            (ml.aligned != -1 && !(ml.aligned >= 0 && ml.aligned <= 1)) || !ml.ok != (ml.error != NULL) ||
            !ml.tropes || !ml.spans || (ml.has_id && !ml.id))
            abort();
    }
    if (k < 0 && d.line != n + 1)
        abort();
    if (ts_manifest_next(r, &ml, &d) != 0)
        abort();
    ts_manifest_close(r);
    return 0;
}
