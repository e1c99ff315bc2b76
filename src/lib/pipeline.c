/*
 * pipeline.c: a run, from inputs to outputs: shards, chunks in flight,
 * worker threads, ordered delivery, atomic outputs and the summary.
 *
 * Work is cut into chunks of whole lines (chunk.c). Every thread runs the
 * same loop:
 *   1. claim a shard that nobody is reading (lowest index first), read and
 *      decompress its next chunk (so decompression of one shard is serial,
 *      but it overlaps the work on earlier chunks by other threads, and
 *      different shards decompress in parallel);
 *   2. run the per-line step over the chunk's lines (docs.h cuts them; the
 *      scan's step is scan.c) and compress the output as one zstd frame (in
 *      parallel, with a per-thread context);
 *   3. hand the frame to the shard's writer: frames are written strictly in
 *      chunk order, by whichever thread completes the next one in line.
 * Chunk boundaries depend only on the data, and a manifest is a sequence of
 * frames in chunk order, so the output is byte-identical for any thread
 * count. Memory is bounded: at most `2 * threads + 2` chunks are in flight.
 *
 * The threads are OpenMP's, inside a thread created for each
 * ts_run_execute: libgomp keeps a thread pool per thread that opens a
 * parallel region, and a pool inherited across fork() hangs the child's next
 * region. Owned by a thread that ends with the run, the pool ends with it too,
 * so a process that forks between runs (Python's multiprocessing, Dask) can
 * run again in parent and child.
 */
#include <errno.h>
#include <inttypes.h>
#include <omp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isa-l/igzip_lib.h>
#include <jansson.h>
#include <zstd.h>

#include "chunk.h"
#include "docs.h"
#include "pipeline.h"
#include "record.h"
#include "stats.h"

void ts_out_append(ts_out *o, const void *data, size_t len) { ts_buf_append(ts_out_buf(o), data, len); }

typedef struct chunk_result {
    uint64_t seq;
    ts_buf frame;               /* the chunk's output as one zstd frame */
    ts_buf frame1;              /* sharded: its part of the second output */
    ts_stats stats;
    uint64_t counts[TS_STEP_NCOUNTS]; /* sharded: the step's counts */
    int step_err;               /* sharded: a line failed the input */
    ts_diag step_diag;
    int read_err;               /* the input failed after this chunk */
    ts_diag read_diag;
    struct chunk_result *next;
} chunk_result;

typedef struct shard {
    char *path;                 /* as given */
    char *name;                 /* relative name of the output, without the suffix */
    char *out_path;
    char *tmp_path;
    uint64_t size;              /* compressed size, if known (for progress) */
    uint64_t st_size;           /* the input's size and mtime when opened (resume records) */
    int64_t st_mtime_ns;
    int stat_ok;
    int resumed;                /* skipped: complete from an earlier run (resume.c) */

    /* Guarded by the run's mutex. */
    int reading;                /* a thread is reading its next chunk */
    int input_done;             /* no more chunks will be read */
    uint64_t chunks_read;

    /* Only the reading thread touches these. */
    ts_chunker *chunker;
    int opened;
    uint64_t in_seen;           /* compressed bytes accounted for progress */

    /* Guarded by wlock. */
    pthread_mutex_t wlock;
    ts_outfile *out;            /* the temporary output, or NULL */
    uint64_t next_write;
    chunk_result *pending;      /* results waiting for an earlier chunk, by seq */
    int w_input_done;
    uint64_t w_nchunks;
    int finished;
    int manifest_done;          /* the manifest is under its final name */
    int failed;                 /* the input failed: the shard is incomplete */
    int out_failed;             /* the output could not be written: fatal */
    char fail_msg[1200];
    ts_stats stats;
    uint64_t bytes_in, bytes_out;
    ts_format format;

    /* Sharded runs (ts_run_create_sharded). */
    char *out1_path, *tmp1_path;  /* the second output, or NULL */
    ts_outfile *out1;           /* guarded by wlock */
    void *side;                 /* the step's state (reading thread) */
    int out_fmt;
    uint64_t lines_read;        /* reading thread */
    int stop_reading;           /* under mu: a chunk failed the input */
    int err;                    /* under wlock: the first failure, in line order */
    ts_diag err_diag;
    int tail_err;               /* input_over's verdict (used if nothing failed before) */
    ts_diag tail_diag;
    uint64_t counts[TS_STEP_NCOUNTS];
    uint64_t written0;          /* bytes written to output 0 */
} shard;

struct ts_run {
    ts_run_settings s;
    const ts_lexicon *lex;
    const ts_model *model;
    ts_scan_ctx scan;
    ts_step scan_step;
    const ts_step *step;
    const ts_shard_step *ss;    /* sharded runs, else NULL */
    ts_shard_step ss_copy;
    shard *shards;
    size_t nshards, cap;
    char *summary_path;
    char *summary_tmp;
    int prepared;
    int executed;               /* a run executes once */
    int resume;                 /* ts_run_set_resume */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t first_open;          /* shards before it have no more input */
    int in_flight;
    int limit;
    int fatal;                  /* stop everything (out of memory) */
    int cancelled;
    ts_progress progress;       /* under mu */
};

/* Resume records (the end of this file). */
static int resume_check(ts_run *r, shard *s, ts_diag *diag);
static void resume_record(ts_run *R, shard *s);

/* ---------------------------------------------------------------- settings */

void ts_run_settings_default(ts_run_settings *s)
{
    memset(s, 0, sizeof *s);
    s->text_field = "text";
    s->id_field = "id";
    ts_policy_default(&s->policy);
    s->max_doc_bytes = TS_DEFAULT_MAX_DOC_BYTES;
    s->chunk_size = 2u << 20;
    s->anchor_words = TS_DEFAULT_ANCHOR_WORDS;
    s->manifest_level = 3;
}

static void diag_msg(ts_diag *diag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diag_msg(ts_diag *diag, const char *fmt, ...)
{
    if (!diag)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->message, sizeof diag->message, fmt, ap);
    va_end(ap);
}

int ts_run_create(const ts_run_settings *s, const ts_lexicon *lex, const ts_model *model, ts_run **out,
                  ts_diag *diag)
{
    *out = NULL;
    ts_diag_clear(diag);
    if (!s->outdir || !lex || !s->text_field || !s->id_field || s->chunk_size < 4096 || s->max_doc_bytes < 1 ||
        s->max_doc_bytes >= UINT32_MAX) {
        diag_msg(diag, "missing or out-of-range settings (outdir, lexicon, fields, chunk_size, max_doc_bytes)");
        return TS_E_INVALID;
    }
    ts_run *r = calloc(1, sizeof *r);
    if (!r)
        return TS_E_NOMEM;
    r->s = *s;
    if (r->s.threads <= 0)
        r->s.threads = omp_get_num_procs();
    if (ts_policy_resolve(&r->s.policy, model) != TS_OK) {
        diag_msg(diag, "the downweight threshold (%g) must not exceed the drop threshold (%g)",
                 r->s.policy.downweight_above, r->s.policy.drop_above);
        free(r);
        return TS_E_INVALID;
    }
    r->lex = lex;
    r->model = model;
    r->scan = (ts_scan_ctx){&r->s, lex, model, NULL};
    ts_scan_step(&r->scan_step, &r->scan);
    r->step = s->step ? s->step : &r->scan_step;
    r->limit = 2 * r->s.threads + 2;
    if (asprintf(&r->summary_path, "%s/summary.json", s->outdir) < 0) {
        free(r);
        return TS_E_NOMEM;
    }
    if (!(r->summary_tmp = ts_outfile_tmp_name(r->summary_path))) {
        free(r->summary_path);
        free(r);
        return TS_E_NOMEM;
    }
    /* The gate decides between a model's full scan and its empty-document
     * score: without a model there is nothing to skip. */
    if (s->gate && model) {
        ts_gate *g = NULL;
        int err = ts_gate_create(&g);
        if (err) {
            diag_msg(diag, "cannot create the gate");
            free(r->summary_tmp);
            free(r->summary_path);
            free(r);
            return err;
        }
        r->scan.gate = g;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    *out = r;
    return TS_OK;
}

int ts_run_add_input(ts_run *r, const char *path, const char *name)
{
    if (r->prepared)
        return TS_E_INVALID;
    if (r->nshards == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        shard *v = realloc(r->shards, cap * sizeof *v);
        if (!v)
            return TS_E_NOMEM;
        r->shards = v;
        r->cap = cap;
    }
    shard *s = &r->shards[r->nshards];
    memset(s, 0, sizeof *s);
    s->path = strdup(path);
    s->name = strdup(name);
    if (!s->path || !s->name) {
        free(s->path);
        free(s->name);
        return TS_E_NOMEM;
    }
    pthread_mutex_init(&s->wlock, NULL);
    r->nshards++;
    return TS_OK;
}

size_t ts_run_ninputs(const ts_run *r) { return r->nshards; }

int ts_run_create_sharded(const ts_run_settings *s, const ts_step *step, const ts_shard_step *ss, ts_run **out,
                          ts_diag *diag)
{
    *out = NULL;
    ts_diag_clear(diag);
    if (!step || !ss || s->chunk_size < 4096 || s->max_doc_bytes < 1 || s->max_doc_bytes >= UINT32_MAX) {
        diag_msg(diag, "missing or out-of-range settings (step, chunk_size, max_doc_bytes)");
        return TS_E_INVALID;
    }
    ts_run *r = calloc(1, sizeof *r);
    if (!r)
        return TS_E_NOMEM;
    r->s = *s;
    r->s.outdir = NULL;
    r->s.step = NULL;
    if (r->s.threads <= 0)
        r->s.threads = omp_get_num_procs();
    r->step = step;
    r->ss_copy = *ss;
    r->ss = &r->ss_copy;
    r->limit = 2 * r->s.threads + 2;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    *out = r;
    return TS_OK;
}

int ts_run_add_sharded(ts_run *r, const char *path, const char *out0, const char *out1)
{
    if (!r->ss || !out0)
        return TS_E_INVALID;
    int err = ts_run_add_input(r, path, path);
    if (err)
        return err;
    shard *s = &r->shards[r->nshards - 1];
    s->out_path = strdup(out0);
    s->out1_path = out1 ? strdup(out1) : NULL;
    if (!s->out_path || (out1 && !s->out1_path))
        return TS_E_NOMEM; /* freed with the run */
    return TS_OK;
}

void ts_run_sharded_result(const ts_run *r, size_t i, int *err, ts_diag *diag, uint64_t counts[TS_STEP_NCOUNTS],
                           uint64_t *bytes_in, uint64_t *bytes_out0)
{
    const shard *s = &r->shards[i];
    *err = s->err;
    *diag = s->err_diag;
    memcpy(counts, s->counts, sizeof s->counts);
    *bytes_in = s->bytes_in;
    *bytes_out0 = s->written0;
}

void ts_run_free(ts_run *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nshards; i++) {
        shard *s = &r->shards[i];
        ts_outfile_abort(s->out);
        ts_outfile_abort(s->out1);
        if (r->ss && s->side)
            r->ss->shard_close(s->side);
        ts_chunker_free(s->chunker);
        while (s->pending) {
            chunk_result *c = s->pending;
            s->pending = c->next;
            ts_buf_free(&c->frame);
            ts_buf_free(&c->frame1);
            free(c);
        }
        free(s->out1_path);
        free(s->tmp1_path);
        pthread_mutex_destroy(&s->wlock);
        free(s->path);
        free(s->name);
        free(s->out_path);
        free(s->tmp_path);
    }
    free(r->shards);
    free(r->summary_path);
    free(r->summary_tmp);
    ts_gate_free((ts_gate *)r->scan.gate);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* ---------------------------------------------------------------- outputs */

static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Is name (len bytes) the final name of one of a run's outputs? */
static int ends_with(const char *name, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && !memcmp(name + len - n, suffix, n);
}

static int is_output_name(const char *name, size_t len)
{
    /* summary.json, and a partition's summary.part-I-of-N.json */
    if (len >= 12 && !memcmp(name, "summary", 7) && ends_with(name, len, ".json"))
        return 1;
    return ends_with(name, len, TS_MANIFEST_SUFFIX) || ends_with(name, len, TS_RECORD_SUFFIX);
}

/* A sharded run's outputs are placed (and checked) by its caller. */
static int prepare_sharded(ts_run *r)
{
    for (size_t i = 0; i < r->nshards; i++) {
        shard *s = &r->shards[i];
        if (!(s->tmp_path = ts_outfile_tmp_name(s->out_path)) ||
            (s->out1_path && !(s->tmp1_path = ts_outfile_tmp_name(s->out1_path))))
            return TS_E_NOMEM;
        struct stat in_st;
        if (strcmp(s->path, "-") && stat(s->path, &in_st) == 0)
            s->size = (uint64_t)in_st.st_size;
        r->progress.bytes_in_total += s->size;
    }
    r->progress.inputs = r->nshards;
    r->prepared = 1;
    return TS_OK;
}

int ts_run_prepare(ts_run *r, int *stale_out, ts_diag *diag)
{
    ts_diag_clear(diag);
    if (r->ss) {
        if (stale_out)
            *stale_out = 0;
        return prepare_sharded(r);
    }
    const char *outdir = r->s.outdir;
    if (stale_out)
        *stale_out = 0;
    if (mkdir_p(outdir) != 0) {
        diag_msg(diag, "%s: cannot create the output directory: %s", outdir, strerror(errno));
        return TS_E_IO;
    }
    if (!r->s.force && !r->resume && access(r->summary_path, F_OK) == 0) {
        diag_msg(diag, "%s exists: pass --force to overwrite it", r->summary_path);
        return TS_E_INVALID;
    }
    int stale = ts_outfile_remove_stale(outdir, is_output_name);
    char last_dir[4096];
    snprintf(last_dir, sizeof last_dir, "%s", outdir);
    for (size_t i = 0; i < r->nshards; i++) {
        shard *s = &r->shards[i];
        free(s->out_path);
        free(s->tmp_path);
        s->tmp_path = NULL;
        if (asprintf(&s->out_path, "%s/%s" TS_MANIFEST_SUFFIX, outdir, s->name) < 0) {
            s->out_path = NULL;
            return TS_E_NOMEM;
        }
        if (!(s->tmp_path = ts_outfile_tmp_name(s->out_path)))
            return TS_E_NOMEM;
        char *slash = strrchr(s->out_path, '/');
        struct stat st, in_st;
        if (stat(s->out_path, &st) == 0) {
            if (strcmp(s->path, "-") && stat(s->path, &in_st) == 0 && st.st_dev == in_st.st_dev &&
                st.st_ino == in_st.st_ino) {
                diag_msg(diag, "%s: the output would overwrite an input", s->out_path);
                return TS_E_INVALID;
            }
            if (!r->s.force && !r->resume) {
                diag_msg(diag, "%s exists: pass --force to overwrite it", s->out_path);
                return TS_E_INVALID;
            }
        }
        if (r->resume) {
            int rc = resume_check(r, s, diag);
            if (rc < 0)
                return rc;
        }
        *slash = '\0';
        int rc = mkdir_p(s->out_path);
        int mkdir_errno = errno;
        if (rc == 0 && strcmp(s->out_path, last_dir) != 0) {
            stale += ts_outfile_remove_stale(s->out_path, is_output_name);
            snprintf(last_dir, sizeof last_dir, "%s", s->out_path);
        }
        *slash = '/';
        if (rc != 0) {
            diag_msg(diag, "%s: cannot create the directory: %s", s->out_path, strerror(mkdir_errno));
            return TS_E_IO;
        }
        if (strcmp(s->path, "-") && stat(s->path, &in_st) == 0)
            s->size = (uint64_t)in_st.st_size;
    }
    r->progress.inputs = r->nshards;
    r->progress.bytes_in_total = 0;
    r->progress.inputs_done = 0;
    for (size_t i = 0; i < r->nshards; i++) {
        r->progress.bytes_in_total += r->shards[i].size;
        r->progress.inputs_done += r->shards[i].resumed;
    }
    r->prepared = 1;
    if (stale_out)
        *stale_out = stale;
    return TS_OK;
}

const char *ts_run_tmp_path(const ts_run *r, size_t i)
{
    if (i == r->nshards)
        return r->summary_tmp;
    return i < r->nshards ? r->shards[i].tmp_path : NULL;
}

/* ---------------------------------------------------------------- shards */

static void shard_fail(shard *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void shard_fail(shard *s, const char *fmt, ...)
{
    if (s->failed)
        return; /* keep the first cause */
    s->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->fail_msg, sizeof s->fail_msg, fmt, ap);
    va_end(ap);
}

static void out_fail(shard *s, const ts_diag *d)
{
    if (s->out_failed)
        return;
    s->out_failed = 1;
    snprintf(s->fail_msg, sizeof s->fail_msg, "%s", d->message);
}

static void diag_text(const ts_diag *d, int err, char *buf, size_t cap)
{
    if (d->offset != UINT64_MAX)
        snprintf(buf, cap, "%s: at byte %" PRIu64 ": %s (%s)", d->file, d->offset,
                 d->message[0] ? d->message : ts_strerror(err), ts_strerror(err));
    else
        snprintf(buf, cap, "%s: %s (%s)", d->file, d->message[0] ? d->message : ts_strerror(err), ts_strerror(err));
}

/* A shard read to its end in which no line is a document (every line an
 * error: not JSONL, or another text field). An empty input is not one. */
static int shard_no_documents(const shard *s)
{
    return !s->failed && !s->out_failed && s->stats.docs > 0 && s->stats.ok == 0;
}

/* "3 invalid_json, 1 empty_line": the error kinds with their counts. */
static void error_kinds_text(const ts_stats *st, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 1; k < TS_DOC_NKINDS && n < cap; k++)
        if (st->errors[k])
            n += (size_t)snprintf(buf + n, cap - n, "%s%" PRIu64 " %s", n ? ", " : "", st->errors[k],
                                  ts_doc_error_name(k));
}

static void no_documents_text(const shard *s, char *buf, size_t cap)
{
    char kinds[300];
    error_kinds_text(&s->stats, kinds, sizeof kinds);
    const uint64_t *e = s->stats.errors;
    int hint = e[TS_DOC_INVALID_JSON] || e[TS_DOC_MISSING_TEXT] || e[TS_DOC_TEXT_NOT_STRING];
    snprintf(buf, cap, "%s: no line is a document: %" PRIu64 " line%s, all errors (%s)%s", s->path, s->stats.docs,
             s->stats.docs == 1 ? "" : "s", kinds,
             hint ? "; not JSONL, or the text is in another field (--text-field)?" : "");
}

/* ---------------------------------------------------------------- compression */

/* One output's compressor in a worker: a zstd frame or a gzip member per
 * chunk (plain: the text as it is). The flush points depend only on the
 * text, so the bytes are the same for any thread count. */
typedef struct packer {
    ZSTD_CCtx *z;
    struct isal_zstream gz;
    uint8_t *gz_buf;
    uint32_t gz_buf_size;
    int gz_level;
    int gz_open;                /* a member is begun */
} packer;

static int packer_init(packer *p, int zstd_level, int gz_level)
{
    memset(p, 0, sizeof *p);
    if (!(p->z = ZSTD_createCCtx()))
        return -1;
    ZSTD_CCtx_setParameter(p->z, ZSTD_c_compressionLevel, zstd_level);
    ZSTD_CCtx_setParameter(p->z, ZSTD_c_checksumFlag, 1);
    static const uint32_t sizes[] = {0, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT};
    p->gz_level = gz_level < 0 ? 0 : gz_level > 3 ? 3 : gz_level;
    p->gz_buf_size = sizes[p->gz_level];
    if (p->gz_buf_size && !(p->gz_buf = malloc(p->gz_buf_size)))
        return -1;
    return 0;
}

static void packer_free(packer *p)
{
    ZSTD_freeCCtx(p->z);
    free(p->gz_buf);
    memset(p, 0, sizeof *p);
}

/* Starts a new frame or member. */
static void packer_reset(packer *p)
{
    ZSTD_CCtx_reset(p->z, ZSTD_reset_session_only);
    p->gz_open = 0;
}

/* Compresses n bytes (last: and ends the frame or member) onto frame.
 * @return 0, or -1 (out of memory, a compressor's error). */
static int pack(packer *p, ts_format fmt, const char *data, size_t n, int last, ts_buf *frame)
{
    if (fmt == TS_FORMAT_PLAIN) {
        if (n)
            ts_buf_append(frame, data, n);
        return frame->failed ? -1 : 0;
    }
    if (fmt == TS_FORMAT_ZSTD) {
        ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer in = {data, n, 0};
        for (;;) {
            size_t room = ZSTD_CStreamOutSize();
            if (!ts_buf_reserve(frame, room))
                return -1;
            ZSTD_outBuffer out = {frame->data + frame->len, room, 0};
            size_t left = ZSTD_compressStream2(p->z, &out, &in, mode);
            if (ZSTD_isError(left))
                return -1;
            frame->len += out.pos;
            /* e_continue: done once all input is taken; e_end: once flushed. */
            if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0)
                break;
        }
        return 0;
    }
    if (!p->gz_open) {
        isal_deflate_init(&p->gz);
        p->gz.gzip_flag = IGZIP_GZIP;
        p->gz.level = (uint32_t)p->gz_level;
        p->gz.level_buf = p->gz_buf;
        p->gz.level_buf_size = p->gz_buf_size;
        p->gz_open = 1;
    }
    p->gz.next_in = (uint8_t *)(uintptr_t)data;
    p->gz.avail_in = (uint32_t)n;
    p->gz.end_of_stream = (uint16_t)(last != 0);
    p->gz.flush = NO_FLUSH;
    for (;;) {
        size_t room = 1u << 18;
        if (!ts_buf_reserve(frame, room))
            return -1;
        p->gz.next_out = (uint8_t *)frame->data + frame->len;
        p->gz.avail_out = (uint32_t)room;
        if (isal_deflate(&p->gz) != COMP_OK)
            return -1;
        frame->len += room - p->gz.avail_out;
        if (p->gz.avail_in == 0 && (!last || p->gz.internal_state.state == ZSTATE_END))
            break;
    }
    if (last)
        p->gz_open = 0;
    return 0;
}

/* ---------------------------------------------------------------- shards */

static void set_err(shard *s, int err, const ts_diag *d)
{
    if (s->err)
        return;
    s->err = err;
    s->err_diag = *d;
    if (!s->err_diag.file[0])
        snprintf(s->err_diag.file, sizeof s->err_diag.file, "%s", s->path);
}

/* An output that cannot be written is named by its final name (the
 * temporary's is what outfile.c knows). */
static void out_diag_final(ts_diag *d, const char *tmp, const char *final)
{
    size_t n = tmp ? strlen(tmp) : 0;
    if (n && !strncmp(d->message, tmp, n)) {
        /* "<tmp>: cannot write: why" -> "cannot write: why" (file names it) */
        char msg[sizeof d->message];
        size_t skip = n;
        if (d->message[skip] == ':')
            skip += 1 + (d->message[skip + 1] == ' ');
        snprintf(msg, sizeof msg, "%s", d->message + skip);
        snprintf(d->message, sizeof d->message, "%s", msg);
    }
    snprintf(d->file, sizeof d->file, "%s", final);
}

static void sharded_out_fail(shard *s, ts_diag *d, int which)
{
    out_diag_final(d, which ? s->tmp1_path : s->tmp_path, which ? s->out1_path : s->out_path);
    out_fail(s, d);
    set_err(s, TS_E_IO, d);
}

/* An empty frame or member: what a compressed output of no lines holds. */
static int write_empty(shard *s, ts_outfile *f, ts_diag *d)
{
    if (s->out_fmt == TS_FORMAT_PLAIN)
        return TS_OK;
    packer p;
    ts_buf b = {0};
    int rc = packer_init(&p, 1, 1) == 0 && pack(&p, (ts_format)s->out_fmt, "", 0, 1, &b) == 0 ? TS_OK : TS_E_NOMEM;
    if (rc == TS_OK && (rc = ts_outfile_write(f, b.data, b.len, d)) == TS_OK && f == s->out)
        s->written0 += b.len;
    else
        snprintf(d->message, sizeof d->message, "out of memory");
    packer_free(&p);
    ts_buf_free(&b);
    return rc;
}

/* A sharded run's outputs at the end of an input: committed (the second
 * first, so that output 0 under its final name always has it beside it)
 * only if nothing failed; else removed. Under wlock. */
static void sharded_finish(shard *s)
{
    ts_diag d;
    ts_diag_clear(&d);
    if (!s->failed && !s->out_failed && s->tail_err) {
        s->failed = 1;
        set_err(s, s->tail_err, &s->tail_diag);
    }
    if (!s->failed && !s->out_failed && s->out && s->next_write == 0) {
        if (write_empty(s, s->out, &d) != TS_OK)
            sharded_out_fail(s, &d, 0);
        else if (s->out1 && write_empty(s, s->out1, &d) != TS_OK)
            sharded_out_fail(s, &d, 1);
    }
    if (s->failed || s->out_failed) {
        ts_outfile_abort(s->out1);
        ts_outfile_abort(s->out);
        s->out1 = s->out = NULL;
        return;
    }
    int done1 = 0;
    if (s->out1) {
        ts_outfile *f = s->out1;
        s->out1 = NULL;
        if (ts_outfile_commit(f, &d) != TS_OK) {
            sharded_out_fail(s, &d, 1);
            ts_outfile_abort(s->out);
            s->out = NULL;
            return;
        }
        done1 = 1;
    }
    if (s->out) {
        ts_outfile *f = s->out;
        s->out = NULL;
        if (ts_outfile_commit(f, &d) != TS_OK) {
            sharded_out_fail(s, &d, 0);
            if (done1)
                remove(s->out1_path);
            return;
        }
        s->manifest_done = 1;
    }
}

/* Closes and renames a completed shard's output (under wlock). */
static void shard_finish(ts_run *R, shard *s)
{
    if (s->finished)
        return;
    s->finished = 1;
    if (R->ss) {
        sharded_finish(s);
        pthread_mutex_lock(&R->mu);
        R->progress.inputs_done++;
        pthread_mutex_unlock(&R->mu);
        return;
    }
    ts_diag d;
    ts_diag_clear(&d);
    if (s->out && s->next_write == 0 && !s->out_failed) {
        /* No lines at all: still a valid zstd file, one empty frame. */
        char empty[32];
        size_t n = ZSTD_compress(empty, sizeof empty, "", 0, 1);
        if (ZSTD_isError(n))
            snprintf(d.message, sizeof d.message, "%s: cannot write: %s", s->tmp_path, ZSTD_getErrorName(n)),
                out_fail(s, &d);
        else if (ts_outfile_write(s->out, empty, n, &d) != TS_OK)
            out_fail(s, &d);
    }
    if (s->out) {
        if (s->out_failed) {
            ts_outfile_abort(s->out);
        } else if (ts_outfile_commit(s->out, &d) != TS_OK) {
            out_fail(s, &d);
        } else {
            s->manifest_done = 1;
        }
        s->out = NULL;
    }
    if (shard_no_documents(s))
        no_documents_text(s, s->fail_msg, sizeof s->fail_msg);
    if (s->manifest_done && !s->failed && !s->out_failed)
        resume_record(R, s);
    pthread_mutex_lock(&R->mu);
    R->progress.inputs_done++;
    pthread_mutex_unlock(&R->mu);
}

/* Writes one delivered chunk of a sharded run (under wlock). */
static void sharded_write(shard *s, chunk_result *c)
{
    ts_diag d;
    for (int k = 0; k < TS_STEP_NCOUNTS; k++)
        s->counts[k] += c->counts[k];
    if (c->step_err && !s->failed && !s->out_failed) {
        s->failed = 1;
        set_err(s, c->step_err, &c->step_diag);
        snprintf(s->fail_msg, sizeof s->fail_msg, "%s", c->step_diag.message);
    }
    if (s->failed || s->out_failed)
        return; /* its outputs will be removed */
    if (s->out) {
        if (ts_outfile_write(s->out, c->frame.data, c->frame.len, &d) != TS_OK)
            sharded_out_fail(s, &d, 0);
        else
            s->written0 += c->frame.len;
    }
    if (s->out1 && !s->out_failed && ts_outfile_write(s->out1, c->frame1.data, c->frame1.len, &d) != TS_OK)
        sharded_out_fail(s, &d, 1);
}

/* Hands a chunk's result to its shard; writes every result now in order. */
static void shard_deliver(ts_run *R, shard *s, chunk_result *res)
{
    int written = 0;
    pthread_mutex_lock(&s->wlock);
    chunk_result **pp = &s->pending;
    while (*pp && (*pp)->seq < res->seq)
        pp = &(*pp)->next;
    res->next = *pp;
    *pp = res;
    while (s->pending && s->pending->seq == s->next_write) {
        chunk_result *c = s->pending;
        s->pending = c->next;
        ts_diag d;
        if (R->ss)
            sharded_write(s, c);
        else if (!s->out_failed && s->out && ts_outfile_write(s->out, c->frame.data, c->frame.len, &d) != TS_OK)
            out_fail(s, &d);
        ts_stats_add(&s->stats, &c->stats);
        if (c->read_err) {
            char msg[1100];
            diag_text(&c->read_diag, c->read_err, msg, sizeof msg);
            if (R->ss && !s->failed && !s->out_failed)
                set_err(s, c->read_err, &c->read_diag);
            shard_fail(s, "%s", msg);
        }
        s->next_write++;
        written++;
        ts_buf_free(&c->frame);
        ts_buf_free(&c->frame1);
        free(c);
    }
    if (s->w_input_done && s->next_write == s->w_nchunks)
        shard_finish(R, s);
    pthread_mutex_unlock(&s->wlock);

    pthread_mutex_lock(&R->mu);
    R->in_flight -= written;
    pthread_cond_broadcast(&R->cv);
    pthread_mutex_unlock(&R->mu);
}

/* Records that a shard's input is over after nchunks chunks. */
static void shard_input_over(ts_run *R, shard *s, uint64_t nchunks)
{
    pthread_mutex_lock(&s->wlock);
    s->w_input_done = 1;
    s->w_nchunks = nchunks;
    if (s->chunker) {
        const ts_reader *rd = ts_chunker_reader(s->chunker);
        s->bytes_in = ts_reader_bytes_in(rd);
        s->bytes_out = ts_reader_bytes_out(rd);
        s->format = ts_reader_format(rd);
    }
    if (s->next_write == nchunks)
        shard_finish(R, s);
    pthread_mutex_unlock(&s->wlock);
}

/* A sharded run's input: the step's side stream first, then the input, then
 * the outputs, in the input's format unless the step says otherwise. */
static int sharded_open(ts_run *R, shard *s)
{
    ts_diag diag;
    ts_diag_clear(&diag);
    int err = R->ss->shard_open(R->ss->ctx, (size_t)(s - R->shards), &s->side, &diag);
    ts_reader *rd = NULL;
    if (!err && !(err = ts_reader_open(s->path, &rd, &diag)))
        err = ts_chunker_create(rd, R->s.chunk_size, R->s.max_doc_bytes, &s->chunker);
    if (!err && R->ss->max_lines)
        ts_chunker_set_max_lines(s->chunker, R->ss->max_lines);
    if (err) {
        if (!s->chunker)
            ts_reader_free(rd);
        pthread_mutex_lock(&s->wlock);
        s->failed = 1;
        set_err(s, err, &diag);
        snprintf(s->fail_msg, sizeof s->fail_msg, "%s", diag.message);
        pthread_mutex_unlock(&s->wlock);
        return err;
    }
    s->out_fmt = R->ss->out_format >= 0 ? R->ss->out_format : (int)ts_reader_format(rd);
    ts_outfile *f0 = NULL, *f1 = NULL;
    int which = 0;
    err = ts_outfile_open(s->out_path, &f0, &diag);
    if (!err && s->out1_path) {
        which = 1;
        err = ts_outfile_open(s->out1_path, &f1, &diag);
    }
    pthread_mutex_lock(&s->wlock);
    s->out = f0;
    s->out1 = f1;
    if (err)
        sharded_out_fail(s, &diag, which);
    pthread_mutex_unlock(&s->wlock);
    return err;
}

/* Opens a shard's input and temporary output (by the reading thread). */
static int shard_open(ts_run *R, shard *s)
{
    s->opened = 1;
    if (R->ss)
        return sharded_open(R, s);
    struct stat in_st;
    if (strcmp(s->path, "-") && stat(s->path, &in_st) == 0) {
        s->stat_ok = 1;
        s->st_size = (uint64_t)in_st.st_size;
        s->st_mtime_ns = (int64_t)in_st.st_mtim.tv_sec * 1000000000 + in_st.st_mtim.tv_nsec;
    }
    ts_diag diag;
    ts_diag_clear(&diag);
    ts_reader *rd = NULL;
    int err = ts_reader_open(s->path, &rd, &diag);
    if (!err)
        err = ts_chunker_create(rd, R->s.chunk_size, R->s.max_doc_bytes, &s->chunker);
    if (err) {
        if (!s->chunker)
            ts_reader_free(rd);
        char msg[1100];
        if (!diag.file[0])
            snprintf(diag.file, sizeof diag.file, "%s", s->path);
        diag_text(&diag, err, msg, sizeof msg);
        pthread_mutex_lock(&s->wlock);
        shard_fail(s, "%s", msg);
        pthread_mutex_unlock(&s->wlock);
        return err;
    }
    ts_outfile *f = NULL;
    err = ts_outfile_open(s->out_path, &f, &diag);
    pthread_mutex_lock(&s->wlock);
    s->out = f;
    if (err)
        out_fail(s, &diag);
    pthread_mutex_unlock(&s->wlock);
    return err;
}

/* ---------------------------------------------------------------- workers */

typedef struct worker {
    void *step_worker;
    ZSTD_CCtx *cctx;            /* the scan's manifests */
    ts_buf text;                /* output of the current chunk, before compression */
    ts_chunk chunk;
    /* Sharded runs. */
    packer pk[2];
    ts_buf text1;               /* the second output's text */
    void *side;                 /* the current chunk's side data */
    int side_ready;             /* read already (by the long-line sink) */
    int long_copied;            /* the chunk's long line went to output 0 */
    ts_buf scratch;
} worker;

/* Output text held before it is compressed (per worker). */
#define TEXT_FLUSH (1u << 20)

/* Compresses the worker's text into `frame` (one zstd frame per chunk,
 * ended by ZSTD_e_end) and empties the text. The flush points depend only on
 * the text, so the frame is the same for any thread count.
 * @return 0, or -1 out of memory or a zstd error (the frame is unusable). */
static int compress_text(worker *w, ts_buf *frame, ZSTD_EndDirective mode)
{
    if (w->text.failed)
        return -1;
    ZSTD_inBuffer in = {w->text.data, w->text.len, 0};
    for (;;) {
        size_t room = ZSTD_CStreamOutSize();
        if (!ts_buf_reserve(frame, room))
            return -1;
        ZSTD_outBuffer out = {frame->data + frame->len, room, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);
        if (ZSTD_isError(left))
            return -1;
        frame->len += out.pos;
        /* e_continue: done once all input is taken; e_end: once flushed. */
        if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0)
            break;
    }
    w->text.len = 0;
    return 0;
}

/* A sharded run's text k (0, 1) packed onto its frame. */
static int pack_text(worker *w, const shard *s, int k, chunk_result *res, int last)
{
    ts_buf *t = k ? &w->text1 : &w->text;
    if (t->failed)
        return -1;
    int rc = pack(&w->pk[k], (ts_format)s->out_fmt, t->data, t->len, last, k ? &res->frame1 : &res->frame);
    t->len = 0;
    return rc;
}

/* A sharded run's chunk: the step's lines into one frame per output. */
static chunk_result *process_sharded(ts_run *R, worker *w, const shard *s, const ts_chunk *c, chunk_result *res)
{
    const ts_shard_step *ss = R->ss;
    w->text1.len = 0;
    packer_reset(&w->pk[0]);
    packer_reset(&w->pk[1]);
    ss->chunk_begin(w->step_worker, w->side, (ts_out *)(void *)&w->text1, w->long_copied);
    ts_line_cursor lc;
    ts_line ln;
    ts_lines_begin(&lc, c, R->s.max_doc_bytes);
    int ok = 1, err = TS_OK;
    while (ok && ts_lines_next(&lc, &ln)) {
        err = R->step->line(w->step_worker, &ln, (ts_out *)(void *)&w->text, &res->stats);
        if (err == TS_E_NOMEM)
            ok = 0;
        else if (err)
            break; /* this input fails: the rest of the chunk does not matter */
        if (ok && w->text.len >= TEXT_FLUSH)
            ok = pack_text(w, s, 0, res, 0) == 0;
        if (ok && w->text1.len >= TEXT_FLUSH)
            ok = pack_text(w, s, 1, res, 0) == 0;
    }
    ss->chunk_end(w->step_worker, res->counts, &res->step_diag);
    ss->chunk_data_free(w->side);
    w->side = NULL;
    w->side_ready = 0;
    w->long_copied = 0;
    if (ok && err) {
        res->step_err = err;
        w->text.len = w->text1.len = 0;
        return res;
    }
    if (!ok || pack_text(w, s, 0, res, 1) != 0 || (s->out1_path && pack_text(w, s, 1, res, 1) != 0)) {
        ts_buf_free(&res->frame);
        ts_buf_free(&res->frame1);
        free(res);
        return NULL;
    }
    w->text1.len = 0;
    return res;
}

/* Runs the step over a chunk's lines into a result (frame and statistics). */
static chunk_result *process_chunk(ts_run *R, worker *w, const shard *s, const ts_chunk *c)
{
    chunk_result *res = calloc(1, sizeof *res);
    if (!res)
        return NULL;
    res->seq = c->seq;
    res->read_err = c->err;
    res->read_diag = c->diag;
    w->text.len = 0;
    if (R->ss)
        return process_sharded(R, w, s, c, res);
    ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
    ts_line_cursor lc;
    ts_line ln;
    ts_lines_begin(&lc, c, R->s.max_doc_bytes);
    int ok = 1;
    while (ok && ts_lines_next(&lc, &ln)) {
        ok = R->step->line(w->step_worker, &ln, (ts_out *)(void *)&w->text, &res->stats) == TS_OK;
        /* Output can be ~100x its input (a chunk of empty lines): compress
         * it as it grows instead of holding the chunk's whole text. */
        if (ok && w->text.len >= TEXT_FLUSH)
            ok = compress_text(w, &res->frame, ZSTD_e_continue) == 0;
    }
    if (!ok || compress_text(w, &res->frame, ZSTD_e_end) != 0) {
        ts_buf_free(&res->frame);
        free(res);
        return NULL;
    }
    return res;
}

/* Picks the next shard to read from (under mu), or NULL. */
static shard *pick_shard(ts_run *R, int *all_done)
{
    *all_done = 1;
    while (R->first_open < R->nshards && R->shards[R->first_open].input_done)
        R->first_open++;
    for (size_t i = R->first_open; i < R->nshards; i++) {
        shard *s = &R->shards[i];
        if (s->input_done)
            continue;
        *all_done = 0;
        if (!s->reading && R->in_flight < R->limit)
            return s;
    }
    return NULL;
}

static int cancel_requested(const ts_run *R) { return R->s.cancel && *R->s.cancel; }

static void stop_all(ts_run *R, int cancelled)
{
    pthread_mutex_lock(&R->mu);
    R->fatal = 1;
    R->cancelled |= cancelled;
    pthread_cond_broadcast(&R->cv);
    pthread_mutex_unlock(&R->mu);
}

/*
 * A line longer than the line limit, in a sharded run: its chunk holds no
 * bytes, so a copy the step keeps goes from the reader straight to output 0
 * (one frame or member of its own) as the line is read, once every earlier
 * chunk of the input is written. Memory stays bounded whatever its length.
 */
typedef struct long_sink {
    ts_run *R;
    shard *s;
    worker *w;
    int writing;
    int failed;
} long_sink;

static void long_write(long_sink *ls, int last)
{
    shard *s = ls->s;
    worker *w = ls->w;
    if (ls->failed)
        return;
    if (pack(&w->pk[0], (ts_format)s->out_fmt, w->text.data, w->text.len, last, &w->scratch) != 0 ||
        w->text.failed) {
        ls->failed = 1;
        stop_all(ls->R, 0);
        return;
    }
    w->text.len = 0;
    pthread_mutex_lock(&s->wlock);
    ts_diag d;
    if (!s->failed && !s->out_failed && s->out) {
        if (ts_outfile_write(s->out, w->scratch.data, w->scratch.len, &d) != TS_OK)
            sharded_out_fail(s, &d, 0);
        else
            s->written0 += w->scratch.len;
    }
    pthread_mutex_unlock(&s->wlock);
    w->scratch.len = 0;
}

static int long_begin(void *ud, const ts_chunk *c)
{
    long_sink *ls = ud;
    ts_run *R = ls->R;
    shard *s = ls->s;
    worker *w = ls->w;
    ts_chunk one = *c;
    one.len = 0;
    one.nlines = 1;
    one.oversize_len = 1;
    if (R->ss->chunk_read(s->side, &one, &w->side) != TS_OK) {
        stop_all(R, 0);
        return 0;
    }
    w->side_ready = 1;
    if (R->ss->long_line_copies(w->side) < 1)
        return 0;
    /* In order: wait until every earlier chunk of this input is written (the
     * threads holding them are processing them: nothing waits on us). */
    pthread_mutex_lock(&R->mu);
    for (;;) {
        pthread_mutex_lock(&s->wlock);
        uint64_t nw = s->next_write;
        pthread_mutex_unlock(&s->wlock);
        if (nw >= c->seq || R->fatal)
            break;
        pthread_cond_wait(&R->cv, &R->mu);
    }
    int fatal = R->fatal;
    pthread_mutex_unlock(&R->mu);
    if (fatal)
        return 0;
    packer_reset(&w->pk[0]);
    w->text.len = 0;
    w->scratch.len = 0;
    ls->writing = 1;
    w->long_copied = 1;
    return 1;
}

static void long_bytes(void *ud, const char *p, size_t n)
{
    long_sink *ls = ud;
    worker *w = ls->w;
    ts_buf_append(&w->text, p, n);
    if (w->text.len >= TEXT_FLUSH)
        long_write(ls, 0);
}

static void long_end(void *ud)
{
    long_sink *ls = ud;
    ts_buf_append(&ls->w->text, "\n", 1);
    long_write(ls, 1);
    ls->writing = 0;
}

static void worker_loop(ts_run *R, worker *w)
{
    for (;;) {
        if (cancel_requested(R))
            stop_all(R, 1);
        pthread_mutex_lock(&R->mu);
        shard *s;
        int all_done;
        while (!(s = pick_shard(R, &all_done)) && !all_done && !R->fatal)
            pthread_cond_wait(&R->cv, &R->mu);
        if (!s || R->fatal) {
            pthread_cond_broadcast(&R->cv);
            pthread_mutex_unlock(&R->mu);
            return;
        }
        s->reading = 1;
        R->in_flight++;
        int stopped = s->stop_reading;
        pthread_mutex_unlock(&R->mu);

        int k = 0;
        if (!s->opened)
            k = shard_open(R, s) == TS_OK ? 1 : -1;
        if (k >= 0 && stopped)
            k = -1; /* a chunk failed this input: read no more of it */
        if (k >= 0) {
            long_sink ls = {R, s, w, 0, 0};
            if (R->ss) {
                ts_long_line_sink sink = {&ls, long_begin, long_bytes, long_end};
                ts_chunker_set_long_line_sink(s->chunker, &sink);
            }
            k = ts_chunker_next(s->chunker, &w->chunk);
            if (k < 0) {
                pthread_mutex_lock(&s->wlock);
                shard_fail(s, "%s: %s", s->path, ts_strerror(k));
                if (R->ss) {
                    ts_diag d;
                    ts_diag_clear(&d);
                    snprintf(d.message, sizeof d.message, "%s", ts_strerror(k));
                    set_err(s, k, &d);
                }
                pthread_mutex_unlock(&s->wlock);
            }
            if (R->ss && k > 0 && !w->side_ready && R->ss->chunk_read(s->side, &w->chunk, &w->side) != TS_OK) {
                stop_all(R, 0);
                k = -1;
            }
            if (R->ss && k > 0)
                s->lines_read += w->chunk.nlines;
        }
        int over = k <= 0 || w->chunk.final;
        if (R->ss && over && s->side) {
            /* The input ended (not failed before): the step's last checks. */
            if (k == 0 || (k > 0 && !w->chunk.err)) {
                ts_diag d;
                ts_diag_clear(&d);
                int e = R->ss->input_over(s->side, s->lines_read, &d);
                if (e) {
                    pthread_mutex_lock(&s->wlock);
                    s->tail_err = e;
                    s->tail_diag = d;
                    pthread_mutex_unlock(&s->wlock);
                }
            }
            R->ss->shard_close(s->side);
            s->side = NULL;
        }

        pthread_mutex_lock(&R->mu);
        s->reading = 0;
        if (k > 0)
            s->chunks_read++;
        uint64_t nchunks = s->chunks_read;
        if (over)
            s->input_done = 1;
        if (k <= 0)
            R->in_flight--;
        if (k > 0 && s->chunker) {
            uint64_t in = ts_reader_bytes_in(ts_chunker_reader(s->chunker));
            R->progress.bytes_in += in - s->in_seen;
            s->in_seen = in;
            R->progress.bytes_out += w->chunk.len + w->chunk.oversize_len;
            R->progress.docs += w->chunk.nlines;
        }
        if (R->s.progress)
            R->s.progress(R->s.progress_ud, &R->progress);
        pthread_cond_broadcast(&R->cv);
        pthread_mutex_unlock(&R->mu);

        if (over)
            shard_input_over(R, s, nchunks);
        if (k <= 0) {
            if (R->ss && w->side) {
                R->ss->chunk_data_free(w->side);
                w->side = NULL;
                w->side_ready = 0;
                w->long_copied = 0;
            }
            continue;
        }

        chunk_result *res = process_chunk(R, w, s, &w->chunk);
        if (!res) {
            stop_all(R, 0);
            return;
        }
        if (res->step_err) {
            pthread_mutex_lock(&R->mu);
            s->stop_reading = 1;
            pthread_mutex_unlock(&R->mu);
        }
        /* A chunk grown for a huge line does not keep its memory. */
        if (w->chunk.cap > 2 * R->s.chunk_size)
            ts_chunk_release(&w->chunk);
        shard_deliver(R, s, res);
    }
}

static void worker_free_all(ts_run *R, worker *w)
{
    if (R->step->worker_free && w->step_worker)
        R->step->worker_free(R->step->ctx, w->step_worker);
    if (R->ss && w->side)
        R->ss->chunk_data_free(w->side);
    ZSTD_freeCCtx(w->cctx);
    packer_free(&w->pk[0]);
    packer_free(&w->pk[1]);
    ts_buf_free(&w->text);
    ts_buf_free(&w->text1);
    ts_buf_free(&w->scratch);
    ts_chunk_release(&w->chunk);
}

static void *run_threads(void *arg)
{
    ts_run *R = arg;
    int setup_failed = 0;
#pragma omp parallel num_threads(R->s.threads) shared(setup_failed)
    {
        worker w = {0};
        int err = R->step->worker_create ? R->step->worker_create(R->step->ctx, &w.step_worker) : TS_OK;
        if (R->ss) {
            int zl = R->ss->level < 0 ? 3 : R->ss->level, gl = R->ss->level < 0 ? 1 : R->ss->level;
            if (packer_init(&w.pk[0], zl, gl) || packer_init(&w.pk[1], zl, gl))
                err = TS_E_NOMEM;
        } else if ((w.cctx = ZSTD_createCCtx()) != NULL) {
            ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_compressionLevel, R->s.manifest_level);
            ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_checksumFlag, 1);
        } else {
            err = TS_E_NOMEM;
        }
        if (err) {
#pragma omp atomic write
            setup_failed = 1;
        }
#pragma omp barrier
        int failed;
#pragma omp atomic read
        failed = setup_failed;
        if (!failed)
            worker_loop(R, &w);
        worker_free_all(R, &w);
    }
    if (setup_failed)
        R->fatal = 1;
    return setup_failed ? R : NULL;
}

int ts_run_execute(ts_run *R, ts_diag *diag)
{
    ts_diag_clear(diag);
    if (!R->prepared || R->executed) {
        diag_msg(diag, R->executed ? "a run executes once" : "ts_run_prepare first");
        return TS_E_INVALID;
    }
    R->executed = 1;
    pthread_t t;
    void *setup_failed = NULL;
    if (pthread_create(&t, NULL, run_threads, R) != 0) {
        diag_msg(diag, "cannot create a thread: %s", strerror(errno));
        return TS_E_NOMEM;
    }
    pthread_join(t, &setup_failed);
    if (!R->fatal)
        return TS_OK;
    /* Nothing of a run that stopped is kept. */
    for (size_t i = 0; i < R->nshards; i++) {
        shard *s = &R->shards[i];
        ts_outfile_abort(s->out);
        s->out = NULL;
    }
    if (R->cancelled) {
        diag_msg(diag, "cancelled");
        return TS_E_CANCELLED;
    }
    diag_msg(diag, setup_failed ? "cannot set up the worker threads (out of memory?)" : "out of memory");
    return TS_E_NOMEM;
}

/* ---------------------------------------------------------------- results */

int ts_run_input(const ts_run *r, size_t i, ts_input_result *out)
{
    if (i >= r->nshards)
        return TS_E_INVALID;
    const shard *s = &r->shards[i];
    memset(out, 0, sizeof *out);
    out->path = s->path;
    out->name = s->name;
    out->status = s->out_failed ? TS_INPUT_OUTPUT_FAILED : s->failed ? TS_INPUT_FAILED
                : shard_no_documents(s) ? TS_INPUT_NO_DOCUMENTS : TS_INPUT_OK;
    out->message = out->status ? s->fail_msg : NULL;
    out->manifest_done = s->manifest_done;
    out->format = s->format;
    out->bytes_in = s->bytes_in;
    out->bytes_out = s->bytes_out;
    out->stats = &s->stats;
    return TS_OK;
}

void ts_run_totals(const ts_run *r, ts_stats *out, uint64_t *bytes_in, uint64_t *bytes_out)
{
    memset(out, 0, sizeof *out);
    uint64_t in = 0, o = 0;
    for (size_t i = 0; i < r->nshards; i++) {
        ts_stats_add(out, &r->shards[i].stats);
        in += r->shards[i].bytes_in;
        o += r->shards[i].bytes_out;
    }
    if (bytes_in)
        *bytes_in = in;
    if (bytes_out)
        *bytes_out = o;
}

static const char *format_name(ts_format f)
{
    return f == TS_FORMAT_ZSTD ? "zstd" : f == TS_FORMAT_GZIP ? "gzip" : "plain";
}

static char *xstrdup(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    *oom |= !d;
    return d;
}

/* The run as a summary (stats.h). */
static ts_summary *run_summary_range(ts_run *R, double wall, size_t first, size_t count)
{
    ts_summary *sm = ts_summary_new();
    if (!sm)
        return NULL;
    const ts_run_settings *o = &R->s;
    int oom = 0;
    char hex[24];
    sm->name = xstrdup(o->name, &oom);
    snprintf(hex, sizeof hex, "%016" PRIx64, ts_lexicon_id(R->lex));
    sm->lexicon_id = xstrdup(hex, &oom);
    if (R->model) {
        snprintf(hex, sizeof hex, "%016" PRIx64, ts_model_id(R->model));
        sm->model_id = xstrdup(hex, &oom);
    }
    sm->text_field = xstrdup(o->text_field, &oom);
    sm->id_field = xstrdup(o->id_field, &oom);
    sm->drop_above = o->policy.drop_above;
    sm->downweight_above = o->policy.downweight_above;
    sm->downweight_factor = o->policy.downweight_factor;
    sm->upweight_above = o->policy.upweight_above;
    sm->keep_aligned_above = o->policy.keep_aligned_above;
    sm->upweight_factor = o->policy.upweight_factor;
    sm->error_action = xstrdup(o->error_drop ? "drop" : "keep", &oom);
    sm->max_doc_bytes = o->max_doc_bytes;
    sm->anchor_words = o->anchor_words;
    sm->lexicon = xstrdup(o->lexicon_dir, &oom);
    if (o->nlexicon_add > 0 && !(sm->lexicon_add = calloc((size_t)o->nlexicon_add, sizeof *sm->lexicon_add)))
        oom = 1;
    for (int i = 0; !oom && i < o->nlexicon_add; i++)
        sm->lexicon_add[sm->nlexicon_add++] = xstrdup(o->lexicon_add[i], &oom);
    sm->model = R->model ? xstrdup(o->model_path, &oom) : xstrdup("none", &oom);
    sm->whole_documents = o->whole_documents;
    sm->gate = R->scan.gate != NULL;
    uint32_t ncat = ts_lexicon_ncategories(R->lex);
    for (uint32_t c = 0; c < ncat && c < TS_MAX_CATEGORIES; c++)
        sm->cats[sm->ncats++] = xstrdup(ts_lexicon_category_name(R->lex, c), &oom);
    if (count && !(sm->shards = calloc(count, sizeof *sm->shards)))
        oom = 1;
    for (size_t i = first; !oom && i < first + count; i++) {
        ts_input_result in;
        ts_run_input(R, i, &in);
        ts_summary_shard *sh = &sm->shards[sm->nshards++];
        sh->input = xstrdup(in.path, &oom);
        if (in.manifest_done) {
            if (asprintf(&sh->manifest, "%s" TS_MANIFEST_SUFFIX, in.name) < 0)
                sh->manifest = NULL, oom = 1;
        }
        sh->status = xstrdup(in.status == TS_INPUT_OK ? "ok" : in.status == TS_INPUT_NO_DOCUMENTS ? "no_documents"
                                                                                                  : "failed", &oom);
        sh->error = xstrdup(in.message, &oom);
        sh->format = xstrdup(format_name(in.format), &oom);
        sh->bytes_in = in.bytes_in;
        sh->bytes_decompressed = in.bytes_out;
        sh->stats = *in.stats;
        sm->total.shards++;
        sm->total.failed_shards += in.status == TS_INPUT_FAILED || in.status == TS_INPUT_OUTPUT_FAILED;
        sm->total.no_documents_shards += in.status == TS_INPUT_NO_DOCUMENTS;
        sm->total.bytes_in += in.bytes_in;
        sm->total.bytes_decompressed += in.bytes_out;
        ts_stats_add(&sm->total.stats, in.stats);
    }
    sm->threads = o->threads;
    sm->wall_seconds = wall;
    if (oom) {
        ts_summary_free(sm);
        return NULL;
    }
    return sm;
}

static ts_summary *run_summary(ts_run *R, double wall) { return run_summary_range(R, wall, 0, R->nshards); }

int ts_run_write_summary(ts_run *R, double wall_seconds, ts_diag *diag)
{
    ts_diag_clear(diag);
    ts_summary *sm = run_summary(R, wall_seconds);
    /* Listed by name, not in the order the inputs were given: a merge of
     * partitions (which cannot know that order) then lists them alike. */
    if (sm)
        ts_summary_sort_shards(sm);
    char *text = NULL;
    size_t len = 0;
    int err = sm ? ts_summary_dump(sm, &text, &len) : TS_E_NOMEM;
    ts_summary_free(sm);
    if (err) {
        diag_msg(diag, "out of memory writing the summary");
        return err;
    }
    err = ts_outfile_write_all(R->summary_path, text, len, diag);
    free(text);
    return err;
}

/* ---------------------------------------------------------------- partitions, summary name, resume */

int ts_run_set_summary_name(ts_run *r, const char *name)
{
    if (r->prepared || !name || !*name || strchr(name, '/') || !is_output_name(name, strlen(name)))
        return TS_E_INVALID;
    char *path = NULL, *tmp = NULL;
    if (asprintf(&path, "%s/%s", r->s.outdir, name) < 0)
        return TS_E_NOMEM;
    if (!(tmp = ts_outfile_tmp_name(path))) {
        free(path);
        return TS_E_NOMEM;
    }
    free(r->summary_path);
    free(r->summary_tmp);
    r->summary_path = path;
    r->summary_tmp = tmp;
    return TS_OK;
}

int ts_run_set_resume(ts_run *r, int on)
{
    if (r->prepared || (on && r->s.step))
        return TS_E_INVALID;
    r->resume = on != 0;
    return TS_OK;
}

int ts_run_input_resumed(const ts_run *r, size_t i) { return i < r->nshards && r->shards[i].resumed; }

/*
 * A resume record (record.h), ".<name>.manifest.done.json" beside each
 * manifest (<name> its file name there: a hidden file), written atomically
 * once the manifest is under its final name, for a shard read to its end: the
 * input's identity, KEY below and the shard's counts, so a resumed run's
 * summary is the uninterrupted run's. A manifest without its record (killed
 * between the two renames) is redone.
 */
static void run_key(const ts_run *R, char *buf, size_t cap)
{
    const ts_run_settings *o = &R->s;
    snprintf(buf, cap,
             "lexicon %016" PRIx64 " model %016" PRIx64 " text_field %s id_field %s drop %.17g downweight %.17g "
             "downweight_factor %.17g upweight %.17g keep_aligned %.17g upweight_factor %.17g error_drop %d "
             "whole_documents %d gate %d max_doc_bytes %" PRIu64 " chunk_size %" PRIu64 " anchor_words %u level %d",
             ts_lexicon_id(R->lex), R->model ? ts_model_id(R->model) : 0, o->text_field, o->id_field,
             o->policy.drop_above, o->policy.downweight_above, o->policy.downweight_factor, o->policy.upweight_above,
             o->policy.keep_aligned_above, o->policy.upweight_factor, o->error_drop, o->whole_documents,
             R->scan.gate != NULL, o->max_doc_bytes, o->chunk_size, o->anchor_words, o->manifest_level);
}

/* "<dir>/.<base>.manifest.done.json": hidden, as temporaries are, so a
 * listing of the directory shows the outputs a reader uses. */
static char *record_path(const shard *s) { return ts_resume_record_path(s->out_path); }

static void resume_record(ts_run *R, shard *s)
{
    struct stat st;
    if (!s->stat_ok || stat(s->out_path, &st) != 0)
        return;
    char *path = record_path(s);
    ts_summary *sm = run_summary_range(R, 0, (size_t)(s - R->shards), 1);
    char *text = NULL;
    size_t len = 0;
    char key[1024];
    run_key(R, key, sizeof key);
    ts_buf b = {0};
    if (path && sm && ts_summary_dump(sm, &text, &len) == TS_OK) {
        ts_record_format(&b, s->path, s->st_size, s->st_mtime_ns, (uint64_t)st.st_size, key, text, len);
        /* A record that cannot be written only costs the shard's redo. */
        if (!b.failed)
            ts_outfile_write_all(path, b.data, b.len, NULL);
    }
    ts_buf_free(&b);
    free(text);
    ts_summary_free(sm);
    free(path);
}

/* @return 1 (the shard is complete: skipped), 0 (redo it), or TS_E_INVALID
 * (the directory was made with other options; diag says so). */
static int resume_check(ts_run *r, shard *s, ts_diag *diag)
{
    if (!strcmp(s->path, "-"))
        return 0;
    char *path = record_path(s);
    if (!path)
        return TS_E_NOMEM;
    FILE *f = fopen(path, "rb");
    int result = 0;
    ts_buf b = {0};
    ts_record rec = {0};
    if (!f)
        goto out;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        ts_buf_append(&b, tmp, n);
    int rerr = ferror(f);
    fclose(f);
    if (rerr || b.failed)
        goto out;   /* unreadable: redo */
    int ok = ts_record_parse(b.data, b.len, &rec);
    if (ok < 0) {
        result = ok;
        goto out;
    }
    if (ok == 0)
        goto out;   /* not a record: redo */
    const char *key = rec.options;
    char mine[1024];
    run_key(r, mine, sizeof mine);
    if (strcmp(key, mine)) {
        /* Name the first setting that differs ("name value" pairs). */
        const char *x = key, *y = mine;
        char what[200] = "options";
        while (*x && *y) {
            size_t nx = strcspn(x, " "), ny = strcspn(y, " ");
            const char *vx = x + nx + (x[nx] == ' '), *vy = y + ny + (y[ny] == ' ');
            size_t lx = strcspn(vx, " "), ly = strcspn(vy, " ");
            if (nx != ny || memcmp(x, y, nx) || lx != ly || memcmp(vx, vy, lx)) {
                snprintf(what, sizeof what, "%.*s: %.*s there, %.*s here", (int)(nx < 40 ? nx : 40), x,
                         (int)(lx < 60 ? lx : 60), vx, (int)(ly < 60 ? ly : 60), vy);
                break;
            }
            x = vx + lx + (vx[lx] == ' ');
            y = vy + ly + (vy[ly] == ' ');
        }
        diag_msg(diag,
                 "%.300s: this output directory was made with other options (%s); --resume needs the same "
                 "lexicon, model and options: use them, or scan into another directory",
                 path, what);
        result = TS_E_INVALID;
        goto out;
    }
    struct stat in_st, out_st;
    if (strcmp(rec.input, s->path) || stat(s->path, &in_st) != 0 || stat(s->out_path, &out_st) != 0)
        goto out;
    int64_t mtime = (int64_t)in_st.st_mtim.tv_sec * 1000000000 + in_st.st_mtim.tv_nsec;
    if ((int64_t)in_st.st_size != rec.size || mtime != rec.mtime_ns || (int64_t)out_st.st_size != rec.manifest_bytes)
        goto out;   /* the input changed, or the manifest is not the one recorded: redo */
    if (!rec.shard || rec.shard->ncats != ts_lexicon_ncategories(r->lex))
        goto out;   /* the shard's part is broken: redo */
    const ts_summary_shard *sh = &rec.shard->shards[0];
    s->resumed = 1;
    s->opened = 1;
    s->input_done = 1;
    s->w_input_done = 1;
    s->finished = 1;
    s->manifest_done = 1;
    s->stats = sh->stats;
    s->bytes_in = sh->bytes_in;
    s->bytes_out = sh->bytes_decompressed;
    s->format = !strcmp(sh->format, "zstd") ? TS_FORMAT_ZSTD : !strcmp(sh->format, "gzip") ? TS_FORMAT_GZIP
                                                                                          : TS_FORMAT_PLAIN;
    if (shard_no_documents(s))
        no_documents_text(s, s->fail_msg, sizeof s->fail_msg);
    result = 1;
out:
    ts_record_clear(&rec);
    ts_buf_free(&b);
    free(path);
    return result;
}
