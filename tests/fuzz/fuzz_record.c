/*
 * fuzz_record.c: libFuzzer target for the resume record reader
 * (src/lib/record.c: ts_record_parse), which scan --resume runs on
 * ".<name>.manifest.done.json" files found in an output directory: cut by a
 * crash, edited, or someone else's.
 *
 * The input is the file's bytes. Checks, beyond "does not crash or leak": a
 * record whose shard is accepted has what resume then reads without checking
 * (status, format, manifest, counts that are the summary's totals, the same
 * input as line 1), and formatting the parsed record and parsing it again
 * gives the same record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ts_record r;
    int ok = ts_record_parse((const char *)data, size, &r);
    if (ok < 0)
        return 0;
    if (ok == 0) {
        if (r.input || r.options || r.shard)
            abort();
        return 0;
    }
    if (!r.input || !r.options)
        abort();
    if (r.shard) {
        const ts_summary *s = r.shard;
        const ts_summary_shard *sh = &s->shards[0];
        if (s->nshards != 1 || !s->shards_counted || !sh->status || !sh->format || !sh->manifest || !sh->input ||
            strcmp(sh->input, r.input) || (strcmp(sh->status, "ok") && strcmp(sh->status, "no_documents")) ||
            sh->stats.docs != s->total.stats.docs || sh->bytes_in != s->total.bytes_in)
            abort();
    }
    /* write it back (as pipeline.c does) and read that */
    char *text = NULL;
    size_t len = 0;
    ts_buf b = {0};
    if (r.shard && ts_summary_dump(r.shard, &text, &len) != TS_OK)
        goto done;
    ts_record_format(&b, r.input, (uint64_t)r.size, r.mtime_ns, (uint64_t)r.manifest_bytes, r.options,
                     text ? text : "", len);
    if (!b.failed) {
        ts_record again;
        int ok2 = ts_record_parse(b.data, b.len, &again);
        /* (a negative size is written as the unsigned number it is stored as) */
        if (r.size >= 0 && r.manifest_bytes >= 0 &&
            (ok2 != 1 || again.size != r.size || again.mtime_ns != r.mtime_ns ||
             again.manifest_bytes != r.manifest_bytes || strcmp(again.input, r.input) ||
             strcmp(again.options, r.options) || !again.shard != !r.shard))
            abort();
        if (ok2 >= 0)
            ts_record_clear(&again);
    }
done:
    ts_buf_free(&b);
    free(text);
    ts_record_clear(&r);
    return 0;
}
