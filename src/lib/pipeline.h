/* pipeline.h: what pipeline.c shares with the scan's per-line step (scan.c). */
#ifndef TS_PIPELINE_H
#define TS_PIPELINE_H

#include "buf.h"
#include "chunk.h"
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

/*
 * A run whose step reads a second stream beside each input and writes its
 * own outputs (apply.c): up to two outputs per input at paths the caller
 * gives, in the input's compression or another (one zstd frame or gzip
 * member per chunk: byte-identical for any thread count), committed only when
 * the whole input is done and nothing failed. A step's error on a line
 * (TS_E_MISMATCH, ...) fails that input alone: its outputs are removed, the
 * other inputs go on. Failures are reported in line order.
 */
#define TS_STEP_NCOUNTS 12

typedef struct ts_shard_step {
    void *ctx;
    int out_format;             /* -1: each input's own format, else a ts_format */
    int level;                  /* -1: zstd 3, gzip 1 */
    uint64_t max_lines;         /* lines per chunk at most (0: no limit): bounds the side data */
    /* Opens input i's side stream (by the thread that reads the input, before
     * its first chunk). @return TS_OK, or an error that fails the input (diag). */
    int (*shard_open)(void *ctx, size_t i, void **state, ts_diag *diag);
    void (*shard_close)(void *state);
    /* After each chunk is read, in order (by the reading thread): the chunk's
     * side data. @return TS_OK or TS_E_NOMEM (fatal). */
    int (*chunk_read)(void *state, const ts_chunk *c, void **data);
    void (*chunk_data_free)(void *data);
    /* A line longer than the line limit: copies of it the step wants in
     * output 0 (read now from the chunk data, `data`: 0 or 1). */
    int (*long_line_copies)(void *data);
    /* Before and after a worker runs the line step over a chunk. second: the
     * chunk's part of output 1; long_copied: the pipeline wrote the chunk's
     * long line into output 0 already. chunk_end gives the chunk's counts
     * and, when a line failed the input, its diag. */
    void (*chunk_begin)(void *worker, void *data, ts_out *second, int long_copied);
    void (*chunk_end)(void *worker, uint64_t counts[TS_STEP_NCOUNTS], ts_diag *diag);
    /* The input is over after `lines` lines (reading thread): last checks.
     * @return TS_OK, or an error failing the input (diag) if nothing before did. */
    int (*input_over)(void *state, uint64_t lines, ts_diag *diag);
} ts_shard_step;

/* Like ts_run_create, for a shard step (no lexicon or model needed). */
int ts_run_create_sharded(const ts_run_settings *s, const ts_step *step, const ts_shard_step *ss, ts_run **out,
                          ts_diag *diag);
/* Adds an input with its outputs (out1 may be NULL). Before ts_run_prepare. */
int ts_run_add_sharded(ts_run *r, const char *path, const char *out0, const char *out1);
/* Input i's result: err TS_OK or the first failure (diag: file, line, what),
 * its counts summed over chunks, and the bytes written to output 0. */
void ts_run_sharded_result(const ts_run *r, size_t i, int *err, ts_diag *diag, uint64_t counts[TS_STEP_NCOUNTS],
                           uint64_t *bytes_in, uint64_t *bytes_out0);

#endif
