/* pipeline.h: what pipeline.c shares with the scan's per-line step (scan.c). */
#ifndef TS_PIPELINE_H
#define TS_PIPELINE_H

#include "buf.h"
#include "tropescan.h"

/* A chunk's output is a ts_buf: ts_out is its public name. */
static inline ts_buf *ts_out_buf(ts_out *o) { return (ts_buf *)(void *)o; }

typedef struct ts_scan_ctx {
    const ts_run_settings *settings;   /* policy resolved */
    const ts_lexicon *lex;
    const ts_model *model;
    const ts_gate *gate;               /* or NULL: every document gets the full scan */
} ts_scan_ctx;

/* Fills step with the scan's per-line step over ctx (which must outlive it). */
void ts_scan_step(ts_step *step, ts_scan_ctx *ctx);

#endif
