/*
 * docs.h: the line half of the document reader (docs.c), shared with the
 * pipeline: one chunk's lines in order, each with its number, offset and the
 * errors known before parsing (too long, cut by an input fault).
 */
#ifndef TS_DOCS_H
#define TS_DOCS_H

#include "chunk.h"
#include "tropescan.h"

typedef struct ts_line_cursor {
    const ts_chunk *c;
    uint64_t max_doc_bytes;
    size_t pos;
    uint64_t line_no;
    int oversize_pending;
    char detail[128];
} ts_line_cursor;

void ts_lines_begin(ts_line_cursor *lc, const ts_chunk *c, uint64_t max_doc_bytes);
/* @return 1 with the next line of the chunk in out, 0 when there is none. */
int ts_lines_next(ts_line_cursor *lc, ts_line *out);

#endif
