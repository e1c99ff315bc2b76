/*
 * record.h: the resume record, ".<name>.manifest.done.json" beside each
 * manifest (pipeline.c writes one once a shard's manifest is under its final
 * name; scan --resume reads them). Line 1 says what makes the manifest
 * reusable:
 *   {"input": PATH, "size": N, "mtime_ns": N, "manifest_bytes": N, "options": KEY}
 * (KEY: the lexicon and model identities and every setting that changes a
 * manifest's bytes or counts); the rest is the shard as a one-shard
 * summary.json. A record is read from disk: outside data, checked whole.
 */
#ifndef TS_RECORD_H
#define TS_RECORD_H

#include <stdint.h>

#include "buf.h"
#include "stats.h"

#define TS_RECORD_SUFFIX ".manifest.done.json"

typedef struct ts_record {
    char *input;              /* the input's path */
    char *options;            /* KEY */
    int64_t size, mtime_ns;   /* the input's, when its manifest was written */
    int64_t manifest_bytes;
    /* The shard, or NULL when the rest is not a one-shard summary of a shard
     * read to its end (status ok or no_documents, with its counts, its
     * manifest and this input). */
    ts_summary *shard;
} ts_record;

/* Appends a record to b (b->failed says whether it all fit). summary is the
 * one-shard summary's text. */
void ts_record_format(ts_buf *b, const char *input, uint64_t size, int64_t mtime_ns, uint64_t manifest_bytes,
                      const char *options, const char *summary, size_t summary_len);

/* Parses a record's bytes into *out (cleared first).
 * @return 1 (line 1 is a record's: input, options and the numbers are set;
 * shard may still be NULL), 0 (not a record: empty, cut, not JSON, fields
 * missing or of the wrong type), TS_E_NOMEM. */
int ts_record_parse(const char *data, size_t len, ts_record *out);
void ts_record_clear(ts_record *r);

#endif
