/*
 * manifest.h: the manifest line format (one JSON object per input line).
 *
 * The keys are a contract with users' pipelines and later commands; their
 * order and number formats are fixed so outputs are byte-identical:
 *   {"line":N,"offset":N,"id":S|null,"len":N|null,"fp":"16 hex"|null,
 *    "score":F|null,"aligned":F|null,"action":"keep|downweight|drop|upweight",
 *    "weight":F,"tropes":{cat:N,...},"anchored":{cat:N,...},
 *    "spans":[[start,end,F],...],"status":"ok|error"[,"error":"kind: detail"]}
 * F is printed with 6 decimals (weight with 4); tropes and anchored list only
 * non-zero counts, in lexicon category order.
 */
#ifndef TS_MANIFEST_H
#define TS_MANIFEST_H

#include <stdint.h>

#include "buf.h"
#include "tropescan.h"

typedef enum ts_id_kind {
    TS_ID_NULL = 0,
    TS_ID_JSON = 1,     /* id is a JSON string body, still escaped: copied as is */
    TS_ID_LITERAL = 2,  /* id is a number literal: written as a string */
} ts_id_kind;

/* A passage at or above the downweight threshold: byte offsets of the
 * decoded text, [start, end), and its score. */
typedef struct ts_manifest_span {
    uint64_t start, end;
    double score;
} ts_manifest_span;

typedef struct ts_manifest_rec {
    uint64_t line, offset;
    ts_id_kind id_kind;
    const char *id;
    size_t id_len;
    int ok;                     /* 0: an error document */
    uint64_t len;               /* decoded text bytes (ok only) */
    uint64_t fp;                /* XXH64 of the decoded text (ok only) */
    double score;               /* < 0: null */
    double aligned;             /* < 0: null */
    ts_action action;
    double weight;
    const ts_lexicon *lex;      /* names the categories of m */
    const ts_matches *m;        /* may be NULL */
    size_t nspans;
    const ts_manifest_span *spans;
    const char *error_kind;     /* error documents: a stable short name */
    const char *error_detail;   /* and a detail, or NULL */
} ts_manifest_rec;

/* Appends one manifest line (with its '\n') to out. */
void ts_manifest_append(ts_buf *out, const ts_manifest_rec *r);

#endif
