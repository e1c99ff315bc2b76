/*
 * chunk.h: cutting a decompressed stream into chunks of whole lines.
 *
 * The scan pipeline's unit of work is a chunk: a buffer of whole JSONL lines
 * with the line number and byte offset of its first line. Chunk boundaries
 * depend only on the data and the chunk size, never on timing or threads,
 * so the output is the same for any thread count. A line longer than the
 * line limit is not buffered: it becomes a chunk of its own that records only
 * its position and length (memory stays bounded whatever the input).
 */
#ifndef TS_CHUNK_H
#define TS_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "tropescan.h"

typedef struct ts_chunk {
    char *data;             /* whole lines; the last one may lack its '\n' at the end of input */
    size_t len, cap;
    uint64_t first_line;    /* 1-based number of the first line */
    uint64_t offset;        /* decompressed offset of data[0] */
    uint64_t nlines;        /* lines in data (or 1 for an oversized line) */
    uint64_t seq;           /* 0, 1, 2, ... within the input */
    uint64_t oversize_len;  /* > 0: this chunk is one line of this many bytes, not kept */
    int truncated_tail;     /* the last line was cut by an input error (see err) */
    int final;              /* no chunk follows */
    int err;                /* a read error after this chunk's data, or TS_OK */
    ts_diag diag;           /* where and what, when err */
} ts_chunk;

typedef struct ts_chunker ts_chunker;

/* chunk_size: bytes of lines per chunk (the buffer grows past it only to
 * hold one line longer than it, up to max_line). Takes ownership of reader. */
int ts_chunker_create(ts_reader *reader, size_t chunk_size, size_t max_line, ts_chunker **out);
/* Fills `c` (reusing c->data) with the next chunk.
 * @return 1 with a chunk, 0 when the input is over (no chunk), or TS_E_NOMEM. */
int ts_chunker_next(ts_chunker *ch, ts_chunk *c);
const ts_reader *ts_chunker_reader(const ts_chunker *ch);

/* A line longer than the line limit is not buffered, but a sink may see its
 * bytes as they go by: begin (c holds the chunk's first_line, offset and seq;
 * the sink says whether it wants the bytes), then the line's bytes in order
 * (without its '\n'), then end. Called from ts_chunker_next. */
typedef struct ts_long_line_sink {
    void *ud;
    int (*begin)(void *ud, const ts_chunk *c);   /* @return 1 to get the bytes */
    void (*bytes)(void *ud, const char *p, size_t n);
    void (*end)(void *ud);
} ts_long_line_sink;
void ts_chunker_set_long_line_sink(ts_chunker *ch, const ts_long_line_sink *sink);

/* At most max_lines lines per chunk (0: no limit, the default), for steps
 * that hold something per line of a chunk (apply: its manifest lines). The
 * cuts still depend only on the data. */
void ts_chunker_set_max_lines(ts_chunker *ch, uint64_t max_lines);
void ts_chunker_free(ts_chunker *ch);

/* Frees a chunk's buffer. */
void ts_chunk_release(ts_chunk *c);

#endif
