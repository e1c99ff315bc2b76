/*
 * cmd_scan.c: `tropescan scan`, the streaming, multithreaded scan.
 *
 * The pipeline. Work is cut into chunks of whole lines (chunk.h). Every
 * thread runs the same loop:
 *   1. claim a shard that nobody is reading (lowest index first), read and
 *      decompress its next chunk (so decompression of one shard is serial,
 *      but it overlaps the scanning of earlier chunks by other threads, and
 *      different shards decompress in parallel);
 *   2. score the chunk's documents and format their manifest lines, then
 *      compress them as one zstd frame (in parallel, with a per-thread context);
 *   3. hand the frame to the shard's writer: frames are written strictly in
 *      chunk order, by whichever thread completes the next one in line.
 * Chunk boundaries depend only on the data, and a manifest is a sequence of
 * frames in chunk order, so the output is byte-identical for any thread count.
 * Memory is bounded: at most `2 * threads + 2` chunks are in flight at once.
 *
 * Outputs are written under a temporary name and renamed when complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#include "buf.h"
#include "chunk.h"
#include "cli.h"
#include "manifest.h"

/* ---------------------------------------------------------------- options */

#define MAX_GLOBS 64

typedef struct scan_opts {
    const char *outdir;
    int threads;
    int force;
    int quiet;
    int no_model;
    int whole_documents;       /* --whole-documents */
    int gate;                  /* --gate (and not --exhaustive) */
    int error_drop;            /* --error-action drop */
    const char *text_field;
    const char *id_field;
    double drop_above;
    double downweight_above;
    double downweight_factor;
    double upweight_above;     /* > 1: never */
    double keep_aligned_above; /* never downweight when aligned >= it (> 1: off) */
    double upweight_factor;
    uint64_t max_doc_bytes;
    uint64_t chunk_size;
    uint64_t anchor_words;
    int manifest_level;
    const char *name;          /* --name: the dataset's name in summary.json, or NULL */
    cli_lexmodel lm;
    /* Files inside directory inputs: --glob (a leading '!' excludes), --exclude. */
    const char *include[MAX_GLOBS];
    int ninclude;
    const char *exclude[MAX_GLOBS];
    int nexclude;
} scan_opts;

#define MANIFEST_SUFFIX ".manifest.jsonl.zst"   /* appended to the input's relative name */
#define DEFAULT_DROP_ABOVE 0.8
#define DEFAULT_DOWNWEIGHT_ABOVE 0.5
#define DEFAULT_DOWNWEIGHT_FACTOR 0.25
#define DEFAULT_UPWEIGHT_FACTOR 2.0
#define DEFAULT_MAX_DOC_BYTES (16u << 20)
#define DEFAULT_CHUNK_SIZE (2u << 20)
#define HIST_BINS 20

static const char scan_help[] =
    "usage: tropescan scan [OPTIONS] -o OUTDIR INPUT...\n"
    "\n"
    "Scores every document of JSONL shards (plain, zstd or gzip, by magic bytes)\n"
    "and writes OUTDIR/<relative path>.manifest.jsonl.zst per input (one JSON line\n"
    "per input line, in order) and OUTDIR/summary.json. INPUT is a file, a\n"
    "directory (read recursively, in sorted order) or - for standard input;\n"
    "NAME=INPUT names its manifests NAME (a file's) or NAME/... (a directory's).\n"
    "When several directories are given, each one's manifests go under its name.\n"
    "\n"
    "  -o, --output DIR          where manifests and summary.json go (required)\n"
    "  -j, --threads N           threads (default: all cores)\n"
    "  -f, --force               overwrite existing outputs\n"
    "  -q, --quiet               no progress display and no summary paragraph at the end\n"
    "  -g, --glob GLOB           in directories, read only the files matching GLOB\n"
    "                            (repeatable; !GLOB excludes; ripgrep's manner: no /\n"
    "                            matches the name at any depth, ** crosses /)\n"
    "      --exclude GLOB        in directories, skip the files and directories\n"
    "                            matching GLOB (repeatable)\n"
    "      --text-field PATH     field holding the text (default: text; a.b for nesting)\n"
    "      --id-field PATH       field holding the id (default: id)\n"
    "      --drop-above P        drop when score >= P (default: the model's policy,\n"
    "                            else 0.8)\n"
    "      --downweight-above P  downweight when score >= P (default: the model's\n"
    "                            policy, else 0.5)\n"
    "      --downweight-factor W\n"
    "                            weight of downweighted documents (default: 0.25)\n"
    "      --upweight-above P    upweight when aligned >= P and not dropped or\n"
    "                            downweighted (default: the model's policy, else off)\n"
    "      --upweight-factor W   weight of upweighted documents (default: 2)\n"
    "      --keep-aligned-above P\n"
    "                            never downweight (only drop) when aligned >= P\n"
    "                            (default: the model's policy, else off)\n"
    "      --error-action A      keep (default) or drop documents that cannot be read\n"
    "      --max-doc-bytes N     longer lines are reported as too_long (default: 16M)\n"
    "      --anchor-words N      trope hits within N words of an AI mention are\n"
    "                            anchored (default: 40)\n"
    "      --no-model            lexicon counts only: no score, every action keep\n"
    "      --whole-documents     score each document whole, not by passages (faster;\n"
    "                            misses a narrative inside a long page)\n"
    "      --gate                a cheap first pass decides which documents get the\n"
    "                            full scan; the others are scored as a document\n"
    "                            without features (faster; misses narratives that\n"
    "                            never name their machine: see bench/README.md)\n"
    "      --exhaustive          every document gets the full scan (the default;\n"
    "                            overrides --gate)\n"
    "      --name NAME           the dataset's name, recorded in summary.json (for\n"
    "                            tropescan report)\n"
    "      --lexicon DIR         use the lexicon in DIR instead of the embedded default\n"
    "      --lexicon-add DIR     add the categories/patterns in DIR (repeatable)\n"
    "      --model FILE          use this model instead of the embedded default\n"
    "      --force-model         accept a model trained with a different lexicon\n"
    "  -h, --help                this help\n"
    "\n"
    "Exit codes: 0 all inputs scanned; 1 some input failed, or had no line that is a\n"
    "document (the others completed; summary.json says which and why); 2 usage\n"
    "error, or no input could be opened (nothing is written); 3 fatal error.\n";

enum {
    OPT_TEXT_FIELD = 2000, OPT_ID_FIELD, OPT_DROP_ABOVE, OPT_DOWNWEIGHT_ABOVE, OPT_DOWNWEIGHT_FACTOR,
    OPT_UPWEIGHT_ABOVE, OPT_UPWEIGHT_FACTOR, OPT_ERROR_ACTION, OPT_MAX_DOC, OPT_CHUNK, OPT_ANCHOR,
    OPT_NO_MODEL,
    OPT_WHOLE,
    OPT_KEEP_ALIGNED,
    OPT_NAME,
    OPT_EXCLUDE,
    OPT_GATE,
    OPT_EXHAUSTIVE,
};

/* ---------------------------------------------------------------- statistics */

/* Kinds of document errors: stable names, counted in the summary. */
enum {
    ERR_EMPTY_LINE, ERR_INVALID_JSON, ERR_MISSING_TEXT, ERR_TEXT_NOT_STRING, ERR_INVALID_TEXT,
    ERR_TOO_LONG, ERR_TRUNCATED_INPUT, ERR_SCAN_FAILED, NERRKINDS
};
static const char *const err_kind_names[NERRKINDS] = {
    "empty_line", "invalid_json", "missing_text", "text_not_string", "invalid_text",
    "too_long", "truncated_input", "scan_failed",
};

typedef struct scan_stats {
    uint64_t docs;
    uint64_t ok;
    uint64_t text_bytes;
    uint64_t fast_path;
    uint64_t errors[NERRKINDS];
    uint64_t actions[TS_NACTIONS];
    uint64_t trope_docs[TS_MAX_CATEGORIES];     /* documents with >= 1 hit */
    uint64_t trope_hits[TS_MAX_CATEGORIES];     /* hits */
    uint64_t anchored_docs[TS_MAX_CATEGORIES];  /* documents with >= 1 anchored hit */
    uint64_t score_hist[HIST_BINS];
    uint64_t aligned_hist[HIST_BINS];
    /* For tropescan report, which reads summaries only: the calibrated
     * estimate (mean score) and classify-and-count at the thresholds. Sums are
     * kept in millionths (each score rounded to 6 decimals, as in the
     * manifest) so that they add exactly, in any order. */
    uint64_t scored, score_sum_e6;
    uint64_t aligned_scored, aligned_sum_e6;
    uint64_t score_at_downweight;   /* score >= downweight_above */
    uint64_t score_at_drop;         /* score >= drop_above */
} scan_stats;

static void stats_add(scan_stats *to, const scan_stats *from)
{
    uint64_t *a = (uint64_t *)to;
    const uint64_t *b = (const uint64_t *)from;
    for (size_t i = 0; i < sizeof *to / sizeof(uint64_t); i++)
        a[i] += b[i];
}

static uint64_t stats_errors(const scan_stats *st)
{
    uint64_t n = 0;
    for (int k = 0; k < NERRKINDS; k++)
        n += st->errors[k];
    return n;
}

/* "3 invalid_json, 1 empty_line": the error kinds with their counts. */
static void error_kinds_text(const scan_stats *st, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < NERRKINDS && n < cap; k++)
        if (st->errors[k])
            n += (size_t)snprintf(buf + n, cap - n, "%s%" PRIu64 " %s", n ? ", " : "", st->errors[k],
                                  err_kind_names[k]);
}

/* ---------------------------------------------------------------- shards */

typedef struct chunk_result {
    uint64_t seq;
    ts_buf frame;               /* the chunk's manifest lines as one zstd frame */
    scan_stats stats;
    int final;
    int read_err;               /* the input failed after this chunk */
    ts_diag read_diag;
    struct chunk_result *next;
} chunk_result;

typedef struct shard {
    char *path;                 /* as given, or found in a directory */
    char *name;                 /* relative name for the output */
    char *out_path;
    char *tmp_path;
    uint64_t size;              /* compressed size, if known (for ETA) */

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
    int fd;                     /* the temporary output, or -1 */
    uint64_t next_write;
    chunk_result *pending;      /* results waiting for an earlier chunk, by seq */
    int w_input_done;
    uint64_t w_nchunks;
    int finished;
    int manifest_done;          /* the manifest is under its final name */
    int failed;                 /* the input failed: the shard is incomplete */
    int out_failed;             /* the output could not be written: fatal */
    char fail_msg[1200];
    scan_stats stats;
    uint64_t bytes_in, bytes_out;
    ts_format format;
} shard;

typedef struct run {
    const scan_opts *o;
    const ts_lexicon *lex;
    const ts_model *model;
    json_path paths[2];
    shard *shards;
    size_t nshards;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t first_open;          /* shards before it have no more input */
    int in_flight;
    int limit;
    int fatal;                  /* stop everything (out of memory) */

    /* Progress (under mu). */
    int progress;
    uint64_t total_in, done_in, done_out, done_docs, shards_done;
    double t0, last_progress;
} run;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Temporary files to remove if the run is interrupted (SIGINT, SIGTERM). */
static shard *volatile g_shards;
static volatile size_t g_nshards;
static char g_summary_tmp[4200];   /* set before the signal handlers are */

static void on_signal(int sig)
{
    shard *s = g_shards;
    for (size_t i = 0; s && i < g_nshards; i++)
        if (s[i].tmp_path)
            unlink(s[i].tmp_path);
    if (g_summary_tmp[0])
        unlink(g_summary_tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

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

static void diag_text(const ts_diag *d, int err, char *buf, size_t cap)
{
    if (d->offset != UINT64_MAX)
        snprintf(buf, cap, "%s: at byte %" PRIu64 ": %s (%s)", d->file, d->offset,
                 d->message[0] ? d->message : ts_strerror(err), ts_strerror(err));
    else
        snprintf(buf, cap, "%s: %s (%s)", d->file, d->message[0] ? d->message : ts_strerror(err),
                 ts_strerror(err));
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A shard read to its end in which no line is a document (every line an
 * error: not JSONL, or another text field): status "no_documents". An empty
 * input (no line at all) is not one. */
static int shard_no_documents(const shard *s)
{
    return !s->failed && !s->out_failed && s->stats.docs > 0 && s->stats.ok == 0;
}

static void no_documents_text(const shard *s, char *buf, size_t cap)
{
    char kinds[300];
    error_kinds_text(&s->stats, kinds, sizeof kinds);
    const uint64_t *e = s->stats.errors;
    int hint = e[ERR_INVALID_JSON] || e[ERR_MISSING_TEXT] || e[ERR_TEXT_NOT_STRING];
    snprintf(buf, cap, "%s: no line is a document: %" PRIu64 " line%s, all errors (%s)%s", s->path, s->stats.docs,
             s->stats.docs == 1 ? "" : "s", kinds,
             hint ? "; not JSONL, or the text is in another field (--text-field)?" : "");
}

/* Closes and renames a completed shard's output (under wlock). */
static void shard_finish(run *R, shard *s)
{
    if (s->finished)
        return;
    s->finished = 1;
    if (s->fd >= 0 && s->next_write == 0 && !s->out_failed) {
        /* No lines at all: still a valid zstd file, one empty frame. */
        char empty[32];
        size_t n = ZSTD_compress(empty, sizeof empty, "", 0, 1);
        if (ZSTD_isError(n) || write_all(s->fd, empty, n) != 0) {
            s->out_failed = 1;
            snprintf(s->fail_msg, sizeof s->fail_msg, "%s: cannot write: %s", s->tmp_path, strerror(errno));
        }
    }
    if (s->fd >= 0) {
        if (!s->out_failed && fdatasync(s->fd) != 0 && errno != EINVAL && errno != EROFS) {
            s->out_failed = 1;
            snprintf(s->fail_msg, sizeof s->fail_msg, "%s: cannot sync: %s", s->tmp_path, strerror(errno));
        }
        if (close(s->fd) != 0 && !s->out_failed) {
            s->out_failed = 1;
            snprintf(s->fail_msg, sizeof s->fail_msg, "%s: cannot close: %s", s->tmp_path, strerror(errno));
        }
        s->fd = -1;
        if (!s->out_failed && rename(s->tmp_path, s->out_path) != 0) {
            s->out_failed = 1;
            snprintf(s->fail_msg, sizeof s->fail_msg, "%s: cannot rename: %s", s->out_path, strerror(errno));
        }
        if (s->out_failed)
            unlink(s->tmp_path);
        else
            s->manifest_done = 1;
    }
    pthread_mutex_lock(&R->mu);
    R->shards_done++;
    pthread_mutex_unlock(&R->mu);
}

/* Hands a chunk's result to its shard; writes every result now in order. */
static void shard_deliver(run *R, shard *s, chunk_result *res)
{
    int written = 0;
    pthread_mutex_lock(&s->wlock);
    chunk_result **pp = &s->pending;
    while (*pp && (*pp)->seq < res->seq)
        pp = &(*pp)->next;
    res->next = *pp;
    *pp = res;
    while (s->pending && s->pending->seq == s->next_write) {
        chunk_result *r = s->pending;
        s->pending = r->next;
        if (!s->out_failed && s->fd >= 0 && write_all(s->fd, r->frame.data, r->frame.len) != 0) {
            s->out_failed = 1;
            snprintf(s->fail_msg, sizeof s->fail_msg, "%s: cannot write: %s", s->tmp_path, strerror(errno));
        }
        stats_add(&s->stats, &r->stats);
        if (r->read_err) {
            char msg[1100];
            diag_text(&r->read_diag, r->read_err, msg, sizeof msg);
            shard_fail(s, "%s", msg);
        }
        s->next_write++;
        written++;
        ts_buf_free(&r->frame);
        free(r);
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
static void shard_input_over(run *R, shard *s, uint64_t nchunks)
{
    pthread_mutex_lock(&s->wlock);
    s->w_input_done = 1;
    s->w_nchunks = nchunks;
    if (s->chunker) {
        const ts_reader *r = ts_chunker_reader(s->chunker);
        s->bytes_in = ts_reader_bytes_in(r);
        s->bytes_out = ts_reader_bytes_out(r);
        s->format = ts_reader_format(r);
    }
    if (s->next_write == nchunks)
        shard_finish(R, s);
    pthread_mutex_unlock(&s->wlock);
}

/* Opens a shard's input and temporary output (by the reading thread). */
static int shard_open(run *R, shard *s)
{
    s->opened = 1;
    ts_diag diag;
    ts_diag_clear(&diag);
    ts_reader *r = NULL;
    int err = ts_reader_open(s->path, &r, &diag);
    if (!err)
        err = ts_chunker_create(r, R->o->chunk_size, R->o->max_doc_bytes, &s->chunker);
    if (err) {
        ts_reader_free(r);
        char msg[1100];
        if (!diag.file[0])
            snprintf(diag.file, sizeof diag.file, "%s", s->path);
        diag_text(&diag, err, msg, sizeof msg);
        pthread_mutex_lock(&s->wlock);
        shard_fail(s, "%s", msg);
        pthread_mutex_unlock(&s->wlock);
        return err;
    }
    int fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pthread_mutex_lock(&s->wlock);
    s->fd = fd;
    if (fd < 0) {
        s->out_failed = 1;
        snprintf(s->fail_msg, sizeof s->fail_msg, "%s: cannot create: %s", s->tmp_path, strerror(errno));
    }
    pthread_mutex_unlock(&s->wlock);
    return fd < 0 ? TS_E_IO : TS_OK;
}

/* ---------------------------------------------------------------- scoring */

typedef struct worker {
    ts_scanner *scanner;
    ZSTD_CCtx *cctx;
    ts_buf text;                /* manifest lines of the current chunk */
    char *decoded;              /* decoded document text */
    size_t decoded_cap;
    ts_chunk chunk;
    ts_manifest_span *spans;    /* flagged passages of the current document */
    uint64_t *span_off;         /* their offsets while mapped back to the decoded text */
    size_t span_cap;
} worker;

/*
 * The passages at or above the downweight threshold: runs of overlapping
 * windows, merged, each with its highest window score, in byte offsets of
 * the decoded text. @return the number of spans (0 when out of memory: the
 * document's score and action stand, only the detail is lost).
 */
static size_t flagged_spans(worker *w, const ts_doc_score *ds, const char *text, size_t len, double thr)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ds->nwindows; i++) {
        const ts_window *win = &ds->windows[i];
        if (win->score < thr)
            continue;
        if (n && win->start <= w->spans[n - 1].end) {
            if (win->end > w->spans[n - 1].end)
                w->spans[n - 1].end = win->end;
            if (win->score > w->spans[n - 1].score)
                w->spans[n - 1].score = win->score;
            continue;
        }
        if (n == w->span_cap) {
            size_t cap = w->span_cap ? w->span_cap * 2 : 16;
            ts_manifest_span *sp = realloc(w->spans, cap * sizeof *sp);
            if (sp)
                w->spans = sp;
            uint64_t *so = realloc(w->span_off, cap * sizeof *so);
            if (so)
                w->span_off = so;
            if (!sp || !so)
                return 0;
            w->span_cap = cap;
        }
        w->spans[n++] = (ts_manifest_span){win->start, win->end, win->score};
    }
    /* Normalised offsets to decoded ones; starts and ends each ascend. */
    for (int is_end = 0; is_end < 2; is_end++) {
        for (size_t i = 0; i < n; i++)
            w->span_off[i] = is_end ? w->spans[i].end : w->spans[i].start;
        ts_normalise_map(text, len, w->span_off, n, is_end);
        for (size_t i = 0; i < n; i++)
            *(is_end ? &w->spans[i].end : &w->spans[i].start) = w->span_off[i];
    }
    return n;
}

/*
 * The policy. The aligned head can overrule the score head: a document it
 * scores at or above --keep-aligned-above is never downweighted, and one it
 * is sure enough of to upweight is never dropped either (the score head fires
 * on stories of an AI under pressure, good and bad; data/README.md measures
 * both guards).
 */
static ts_action decide(const scan_opts *o, double score, double aligned, double *weight)
{
    if (score >= 0 && score >= o->drop_above && !(aligned >= 0 && aligned >= o->upweight_above)) {
        *weight = 0;
        return TS_ACTION_DROP;
    }
    if (score >= 0 && score >= o->downweight_above && !(aligned >= 0 && aligned >= o->keep_aligned_above)) {
        *weight = o->downweight_factor;
        return TS_ACTION_DOWNWEIGHT;
    }
    if (aligned >= 0 && aligned >= o->upweight_above) {
        *weight = o->upweight_factor;
        return TS_ACTION_UPWEIGHT;
    }
    *weight = 1;
    return TS_ACTION_KEEP;
}

static void error_doc(run *R, worker *w, scan_stats *st, ts_manifest_rec *rec, int kind, const char *detail)
{
    rec->ok = 0;
    rec->score = rec->aligned = -1;
    rec->m = NULL;
    rec->error_kind = err_kind_names[kind];
    rec->error_detail = detail;
    rec->action = R->o->error_drop ? TS_ACTION_DROP : TS_ACTION_KEEP;
    rec->weight = R->o->error_drop ? 0 : 1;
    st->errors[kind]++;
    st->actions[rec->action]++;
    ts_manifest_append(&w->text, rec);
}

/* An error document known before parsing (too long, cut by an input fault). */
static void error_line(run *R, worker *w, scan_stats *st, uint64_t line_no, uint64_t offset, int kind,
                       const char *detail)
{
    ts_manifest_rec rec = {0};
    rec.line = line_no;
    rec.offset = offset;
    rec.lex = R->lex;
    st->docs++;
    error_doc(R, w, st, &rec, kind, detail);
}

static inline int hist_bin(double p)
{
    int b = (int)(p * HIST_BINS);
    return b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b;
}

static void score_line(run *R, worker *w, scan_stats *st, const char *line, size_t len, uint64_t line_no,
                       uint64_t offset)
{
    ts_manifest_rec rec = {0};
    rec.line = line_no;
    rec.offset = offset;
    rec.lex = R->lex;
    st->docs++;
    char detail[96];

    size_t trimmed = len;
    while (trimmed > 0 && (line[trimmed - 1] == '\r' || line[trimmed - 1] == ' ' || line[trimmed - 1] == '\t'))
        trimmed--;
    if (trimmed == 0) {
        error_doc(R, w, st, &rec, ERR_EMPTY_LINE, NULL);
        return;
    }
    json_field f[2];
    size_t eoff = 0;
    int jerr = json_extract(line, len, R->paths, 2, f, &eoff);
    if (jerr) {
        snprintf(detail, sizeof detail, "%s at byte %zu of the line", json_error_name(jerr), eoff);
        error_doc(R, w, st, &rec, ERR_INVALID_JSON, detail);
        return;
    }
    if (f[1].kind == JSON_STRING) {
        rec.id_kind = TS_ID_JSON;
        rec.id = f[1].raw;
        rec.id_len = f[1].raw_len;
    } else if (f[1].kind == JSON_NUMBER) {
        rec.id_kind = TS_ID_LITERAL;
        rec.id = f[1].raw;
        rec.id_len = f[1].raw_len;
    }
    if (f[0].kind == JSON_MISSING) {
        error_doc(R, w, st, &rec, ERR_MISSING_TEXT, NULL);
        return;
    }
    if (f[0].kind != JSON_STRING) {
        error_doc(R, w, st, &rec, ERR_TEXT_NOT_STRING, NULL);
        return;
    }
    const char *text = f[0].raw;
    size_t text_len = f[0].raw_len;
    if (f[0].has_escapes) {
        if (w->decoded_cap < text_len) {
            char *p = realloc(w->decoded, text_len);
            if (!p) {
                error_doc(R, w, st, &rec, ERR_SCAN_FAILED, "out of memory");
                return;
            }
            w->decoded = p;
            w->decoded_cap = text_len;
        }
        ptrdiff_t k = json_string_decode(f[0].raw, f[0].raw_len, w->decoded, &eoff);
        if (k < 0) {
            snprintf(detail, sizeof detail, "%s at byte %zu of the text field", json_error_name((int)k), eoff);
            error_doc(R, w, st, &rec, ERR_INVALID_TEXT, detail);
            return;
        }
        text = w->decoded;
        text_len = (size_t)k;
    }
    ts_doc_score ds;
    int err = ts_scanner_score(w->scanner, text, text_len, &ds);
    if (err) {
        error_doc(R, w, st, &rec, ERR_SCAN_FAILED, ts_strerror(err));
        return;
    }
    rec.ok = 1;
    rec.len = text_len;
    rec.fp = XXH64(text, text_len, 0);
    rec.score = R->model ? ds.score : -1;
    rec.aligned = R->model ? ds.aligned : -1;
    rec.m = &ds.matches;
    rec.action = decide(R->o, rec.score, rec.aligned, &rec.weight);
    if (R->model && rec.score >= R->o->downweight_above) {
        rec.nspans = flagged_spans(w, &ds, text, text_len, R->o->downweight_above);
        rec.spans = w->spans;
    }
    ts_manifest_append(&w->text, &rec);

    st->ok++;
    st->text_bytes += text_len;
    st->fast_path += ds.fast_path != 0;
    st->actions[rec.action]++;
    for (uint32_t c = 0; c < ds.matches.ncategories; c++) {
        st->trope_docs[c] += ds.matches.raw[c] != 0;
        st->trope_hits[c] += ds.matches.raw[c];
        st->anchored_docs[c] += ds.matches.anchored[c] != 0;
    }
    if (rec.score >= 0) {
        st->score_hist[hist_bin(rec.score)]++;
        st->scored++;
        st->score_sum_e6 += (uint64_t)llround(rec.score * 1e6);
        st->score_at_downweight += rec.score >= R->o->downweight_above;
        st->score_at_drop += rec.score >= R->o->drop_above;
    }
    if (rec.aligned >= 0) {
        st->aligned_hist[hist_bin(rec.aligned)]++;
        st->aligned_scored++;
        st->aligned_sum_e6 += (uint64_t)llround(rec.aligned * 1e6);
    }
}

/* Manifest text held before it is compressed (per worker). */
#define TEXT_FLUSH (1u << 20)

/* Compresses the worker's manifest text into `frame` (one zstd frame per
 * chunk, ended by ZSTD_e_end) and empties the text. The flush points depend
 * only on the text, so the frame is the same for any thread count.
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

/* Scores a chunk into a result (manifest frame and statistics). */
static chunk_result *process_chunk(run *R, worker *w, const ts_chunk *c)
{
    chunk_result *res = calloc(1, sizeof *res);
    if (!res)
        return NULL;
    res->seq = c->seq;
    res->final = c->final;
    res->read_err = c->err;
    res->read_diag = c->diag;
    w->text.len = 0;
    ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
    scan_stats *st = &res->stats;

    char detail[128];
    if (c->oversize_len) {
        snprintf(detail, sizeof detail, "a line of %" PRIu64 " bytes exceeds --max-doc-bytes %" PRIu64,
                 c->oversize_len, R->o->max_doc_bytes);
        error_line(R, w, st, c->first_line, c->offset, ERR_TOO_LONG, detail);
    }
    const char *p = c->data;
    const char *end = c->data + c->len;
    uint64_t line_no = c->first_line;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        uint64_t offset = c->offset + (uint64_t)(p - c->data);
        if (len > R->o->max_doc_bytes) {
            /* It fit in the chunk, but the limit is the limit, whatever the buffer. */
            snprintf(detail, sizeof detail, "a line of %zu bytes exceeds --max-doc-bytes %" PRIu64, len,
                     R->o->max_doc_bytes);
            error_line(R, w, st, line_no, offset, ERR_TOO_LONG, detail);
        } else if (!nl && c->truncated_tail) {
            error_line(R, w, st, line_no, offset, ERR_TRUNCATED_INPUT, "the input ends inside this line");
        } else {
            score_line(R, w, st, p, len, line_no, offset);
        }
        line_no++;
        p = nl ? nl + 1 : end;
        /* Manifest text can be ~100x its input (a chunk of empty lines):
         * compress it as it grows instead of holding the chunk's whole text. */
        if (w->text.len >= TEXT_FLUSH && compress_text(w, &res->frame, ZSTD_e_continue) != 0) {
            ts_buf_free(&res->frame);
            free(res);
            return NULL;
        }
    }
    if (compress_text(w, &res->frame, ZSTD_e_end) != 0) {
        ts_buf_free(&res->frame);
        free(res);
        return NULL;
    }
    return res;
}

/* ---------------------------------------------------------------- the loop */

static void show_progress(run *R, int last)
{
    double t = now_seconds();
    if (!last && t - R->last_progress < 0.5)
        return;
    R->last_progress = t;
    double el = t - R->t0 > 1e-9 ? t - R->t0 : 1e-9;
    double mbs = R->done_out / el / 1e6;
    char eta[32] = "?";
    if (R->total_in && R->done_in && R->done_in <= R->total_in) {
        double rest = el * (double)(R->total_in - R->done_in) / (double)R->done_in;
        snprintf(eta, sizeof eta, "%d:%02d", (int)(rest / 60), (int)fmod(rest, 60));
    }
    fprintf(stderr, "\rscan: %" PRIu64 "/%zu shards, %.1f MB, %.0f MB/s, %.0f docs/s, ETA %s   %s",
            R->shards_done, R->nshards, R->done_out / 1e6, mbs, R->done_docs / el, eta, last ? "\n" : "");
}

/* Picks the next shard to read from (under mu), or NULL. */
static shard *pick_shard(run *R, int *all_done)
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

static void worker_loop(run *R, worker *w)
{
    for (;;) {
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
        pthread_mutex_unlock(&R->mu);

        int k = 0;
        if (!s->opened)
            k = shard_open(R, s) == TS_OK ? 1 : -1;
        if (k >= 0) {
            k = ts_chunker_next(s->chunker, &w->chunk);
            if (k < 0) {
                pthread_mutex_lock(&s->wlock);
                shard_fail(s, "%s: %s", s->path, ts_strerror(k));
                pthread_mutex_unlock(&s->wlock);
            }
        }
        int over = k <= 0 || w->chunk.final;

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
            R->done_in += in - s->in_seen;
            s->in_seen = in;
            R->done_out += w->chunk.len + w->chunk.oversize_len;
            R->done_docs += w->chunk.nlines;
        }
        if (R->progress)
            show_progress(R, 0);
        pthread_cond_broadcast(&R->cv);
        pthread_mutex_unlock(&R->mu);

        if (over)
            shard_input_over(R, s, nchunks);
        if (k <= 0)
            continue;

        chunk_result *res = process_chunk(R, w, &w->chunk);
        if (!res) {
            cli_error("out of memory while scanning %s", s->path);
            pthread_mutex_lock(&R->mu);
            R->fatal = 1;
            pthread_cond_broadcast(&R->cv);
            pthread_mutex_unlock(&R->mu);
            return;
        }
        /* A chunk grown for a huge line does not keep its memory. */
        if (w->chunk.cap > 2 * R->o->chunk_size)
            ts_chunk_release(&w->chunk);
        shard_deliver(R, s, res);
    }
}

/* ---------------------------------------------------------------- inputs */

typedef struct input_list {
    shard *v;
    size_t n, cap;
} input_list;

static int add_input(input_list *L, const char *path, const char *name)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 64;
        shard *v = realloc(L->v, cap * sizeof *v);
        if (!v)
            return -1;
        L->v = v;
        L->cap = cap;
    }
    shard *s = &L->v[L->n++];
    memset(s, 0, sizeof *s);
    s->path = strdup(path);
    s->name = strdup(name);
    s->fd = -1;
    return s->path && s->name ? 0 : -1;
}

/* Frees the list and everything its shards hold (closing nothing: by then
 * no output is open). */
static void free_inputs(input_list *L)
{
    for (size_t i = 0; i < L->n; i++) {
        shard *s = &L->v[i];
        ts_chunker_free(s->chunker);
        while (s->pending) {
            chunk_result *r = s->pending;
            s->pending = r->next;
            ts_buf_free(&r->frame);
            free(r);
        }
        free(s->path);
        free(s->name);
        free(s->out_path);
        free(s->tmp_path);
    }
    free(L->v);
    *L = (input_list){0};
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct dir_seen {
    dev_t dev[256];
    ino_t ino[256];
    int n;
} dir_seen;

/* --exclude and --glob '!...': rel (below the directory given) is skipped. */
static int glob_excluded(const scan_opts *o, const char *rel)
{
    for (int i = 0; i < o->nexclude; i++)
        if (cli_glob_match(o->exclude[i], rel))
            return 1;
    return 0;
}

/* --glob: with any, a file must match one. */
static int glob_included(const scan_opts *o, const char *rel)
{
    for (int i = 0; i < o->ninclude; i++)
        if (cli_glob_match(o->include[i], rel))
            return 1;
    return o->ninclude == 0;
}

/* Adds the regular files below dir (sorted, recursively; hidden names and the
 * output directory are skipped; a symlink loop is reported, not followed).
 * rel is the names' prefix; its first skip bytes are not part of the path
 * below the directory given, which the globs see. */
static int walk_dir(input_list *L, const scan_opts *o, const char *dir, const char *rel, size_t skip,
                    dir_seen *seen, const struct stat *outdir_st)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        cli_error("%s: %s", dir, strerror(errno));
        return -1;
    }
    if (outdir_st && st.st_dev == outdir_st->st_dev && st.st_ino == outdir_st->st_ino)
        return 0;
    for (int i = 0; i < seen->n; i++) {
        if (seen->dev[i] == st.st_dev && seen->ino[i] == st.st_ino) {
            cli_error("%s: directory loop (a symbolic link back to a parent): skipped", dir);
            return 0;
        }
    }
    if (seen->n == 256) {
        cli_error("%s: directories nested too deep", dir);
        return -1;
    }
    seen->dev[seen->n] = st.st_dev;
    seen->ino[seen->n] = st.st_ino;
    seen->n++;
    DIR *d = opendir(dir);
    if (!d) {
        cli_error("%s: cannot read the directory: %s", dir, strerror(errno));
        seen->n--;
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **v = realloc(names, cap * sizeof *v);
            if (!v) {
                rc = -1;
                break;
            }
            names = v;
        }
        if (!(names[n++] = strdup(e->d_name))) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            size_t pl = strlen(dir) + strlen(names[i]) + 2;
            size_t rl = strlen(rel) + strlen(names[i]) + 2;
            char *path = malloc(pl), *r = malloc(rl);
            if (!path || !r) {
                rc = -1;
            } else {
                snprintf(path, pl, "%s/%s", dir, names[i]);
                snprintf(r, rl, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
                const char *below = r + (skip && strlen(r) > skip ? skip + 1 : 0);
                struct stat es;
                int st_ok = stat(path, &es) == 0;
                if (glob_excluded(o, below)) {
                    /* skipped, and a directory is not entered */
                } else if (!st_ok) {
                    /* A dangling link or a file that vanished: an input that failed. */
                    if (glob_included(o, below))
                        rc = add_input(L, path, r);
                } else if (S_ISDIR(es.st_mode)) {
                    if (walk_dir(L, o, path, r, skip, seen, outdir_st) != 0)
                        rc = -1;
                } else if (S_ISREG(es.st_mode)) {
                    if (glob_included(o, below))
                        rc = add_input(L, path, r);
                }
            }
            free(path);
            free(r);
        }
        free(names[i]);
    }
    free(names);
    seen->n--;
    return rc;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
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

/* ---------------------------------------------------------------- summary */

static void js_printf(ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void js_printf(ts_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        ts_buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* skip: a category left out (-1: none). */
static void js_counts(ts_buf *b, const char *ind, const char *key, const run *R, const uint64_t *v, int skip)
{
    js_printf(b, "%s\"%s\": {", ind, key);
    int first = 1;
    for (uint32_t c = 0; c < ts_lexicon_ncategories(R->lex); c++) {
        if ((int)c == skip)
            continue;
        js_printf(b, "%s", first ? "" : ", ");
        cli_json_str(b, ts_lexicon_category_name(R->lex, c));
        js_printf(b, ": %" PRIu64, v[c]);
        first = 0;
    }
    js_printf(b, "}");
}

static void js_stats(ts_buf *b, const char *ind, const run *R, const scan_stats *st)
{
    uint64_t nerr = stats_errors(st);
    js_printf(b, "%s\"documents\": %" PRIu64 ",\n", ind, st->docs);
    js_printf(b, "%s\"ok\": %" PRIu64 ",\n", ind, st->ok);
    js_printf(b, "%s\"text_bytes\": %" PRIu64 ",\n", ind, st->text_bytes);
    js_printf(b, "%s\"fast_path\": %" PRIu64 ",\n", ind, st->fast_path);
    js_printf(b, "%s\"errors\": %" PRIu64 ",\n", ind, nerr);
    js_printf(b, "%s\"errors_by_kind\": {", ind);
    for (int k = 0, first = 1; k < NERRKINDS; k++) {
        if (!st->errors[k])
            continue;
        js_printf(b, "%s\"%s\": %" PRIu64, first ? "" : ", ", err_kind_names[k], st->errors[k]);
        first = 0;
    }
    js_printf(b, "},\n%s\"actions\": {", ind);
    for (int a = 0; a < TS_NACTIONS; a++)
        js_printf(b, "%s\"%s\": %" PRIu64, a ? ", " : "", ts_action_name((ts_action)a), st->actions[a]);
    js_printf(b, "},\n");
    js_counts(b, ind, "trope_documents", R, st->trope_docs, -1);
    js_printf(b, ",\n");
    js_counts(b, ind, "trope_hits", R, st->trope_hits, -1);
    js_printf(b, ",\n");
    /* ai_entity is the anchor: its own hits are never anchored. */
    js_counts(b, ind, "anchored_documents", R, st->anchored_docs, ts_lexicon_category_index(R->lex, "ai_entity"));
    js_printf(b, ",\n%s\"score_histogram\": [", ind);
    for (int i = 0; i < HIST_BINS; i++)
        js_printf(b, "%s%" PRIu64, i ? ", " : "", st->score_hist[i]);
    js_printf(b, "],\n%s\"aligned_histogram\": [", ind);
    for (int i = 0; i < HIST_BINS; i++)
        js_printf(b, "%s%" PRIu64, i ? ", " : "", st->aligned_hist[i]);
    js_printf(b, "],\n");
    js_printf(b, "%s\"scored\": %" PRIu64 ", \"score_sum\": %" PRIu64 ".%06" PRIu64 ",\n", ind, st->scored,
              st->score_sum_e6 / 1000000, st->score_sum_e6 % 1000000);
    js_printf(b, "%s\"aligned_scored\": %" PRIu64 ", \"aligned_sum\": %" PRIu64 ".%06" PRIu64 ",\n", ind,
              st->aligned_scored, st->aligned_sum_e6 / 1000000, st->aligned_sum_e6 % 1000000);
    js_printf(b, "%s\"score_at_or_above\": {\"downweight_above\": %" PRIu64 ", \"drop_above\": %" PRIu64 "}",
              ind, st->score_at_downweight, st->score_at_drop);
}

static const char *format_name(ts_format f)
{
    return f == TS_FORMAT_ZSTD ? "zstd" : f == TS_FORMAT_GZIP ? "gzip" : "plain";
}

static int write_summary(const run *R, double wall, int threads)
{
    const scan_opts *o = R->o;
    ts_buf b = {0};
    scan_stats total = {0};
    uint64_t tin = 0, tout = 0, failed = 0, nodocs = 0;
    for (size_t i = 0; i < R->nshards; i++) {
        stats_add(&total, &R->shards[i].stats);
        tin += R->shards[i].bytes_in;
        tout += R->shards[i].bytes_out;
        failed += R->shards[i].failed || R->shards[i].out_failed;
        nodocs += shard_no_documents(&R->shards[i]);
    }
    js_printf(&b, "{\n  \"tool\": \"tropescan\",\n  \"version\": \"%s\",\n", TS_VERSION_STRING);
    js_printf(&b, "  \"name\": ");
    if (o->name)
        cli_json_str(&b, o->name);
    else
        js_printf(&b, "null");
    js_printf(&b, ",\n");
    js_printf(&b, "  \"lexicon_id\": \"%016" PRIx64 "\",\n", ts_lexicon_id(R->lex));
    if (R->model)
        js_printf(&b, "  \"model_id\": \"%016" PRIx64 "\",\n", ts_model_id(R->model));
    else
        js_printf(&b, "  \"model_id\": null,\n");
    js_printf(&b, "  \"options\": {\"text_field\": ");
    cli_json_str(&b, o->text_field);
    js_printf(&b, ", \"id_field\": ");
    cli_json_str(&b, o->id_field);
    js_printf(&b, ", \"drop_above\": %.6f, \"downweight_above\": %.6f, \"downweight_factor\": %.6f",
              o->drop_above, o->downweight_above, o->downweight_factor);
    if (o->upweight_above <= 1)
        js_printf(&b, ", \"upweight_above\": %.6f", o->upweight_above);
    else
        js_printf(&b, ", \"upweight_above\": null");
    if (o->keep_aligned_above <= 1)
        js_printf(&b, ", \"keep_aligned_above\": %.6f", o->keep_aligned_above);
    else
        js_printf(&b, ", \"keep_aligned_above\": null");
    js_printf(&b, ", \"upweight_factor\": %.6f, \"error_action\": \"%s\", \"max_doc_bytes\": %" PRIu64
                  ", \"anchor_words\": %" PRIu64 ", \"lexicon\": ",
              o->upweight_factor, o->error_drop ? "drop" : "keep", o->max_doc_bytes, o->anchor_words);
    if (o->lm.lexicon_dir)
        cli_json_str(&b, o->lm.lexicon_dir);
    else
        js_printf(&b, "null");
    js_printf(&b, ", \"lexicon_add\": [");
    for (int i = 0; i < o->lm.nadd; i++) {
        js_printf(&b, "%s", i ? ", " : "");
        cli_json_str(&b, o->lm.lexicon_add[i]);
    }
    js_printf(&b, "], \"model\": ");
    if (o->no_model)
        js_printf(&b, "\"none\"");
    else if (o->lm.model_path)
        cli_json_str(&b, o->lm.model_path);
    else
        js_printf(&b, "null");
    js_printf(&b, ", \"whole_documents\": %s", o->whole_documents ? "true" : "false");
    js_printf(&b, ", \"gate\": %s", o->gate ? "true" : "false");
    js_printf(&b, "},\n  \"shards\": [\n");
    for (size_t i = 0; i < R->nshards; i++) {
        const shard *s = &R->shards[i];
        js_printf(&b, "    {\n      \"input\": ");
        cli_json_str(&b, s->path);
        js_printf(&b, ",\n      \"manifest\": ");
        if (s->manifest_done) {
            char rel[4200];
            snprintf(rel, sizeof rel, "%s" MANIFEST_SUFFIX, s->name);
            cli_json_str(&b, rel);
        } else {
            js_printf(&b, "null");
        }
        int no_docs = shard_no_documents(s);
        js_printf(&b, ",\n      \"status\": \"%s\",\n",
                  s->failed || s->out_failed ? "failed" : no_docs ? "no_documents" : "ok");
        if (s->failed || s->out_failed || no_docs) {
            char msg[1400];
            if (no_docs)
                no_documents_text(s, msg, sizeof msg);
            js_printf(&b, "      \"error\": ");
            cli_json_str(&b, no_docs ? msg : s->fail_msg);
            js_printf(&b, ",\n");
        }
        js_printf(&b, "      \"format\": \"%s\",\n", format_name(s->format));
        js_printf(&b, "      \"bytes_in\": %" PRIu64 ",\n      \"bytes_decompressed\": %" PRIu64 ",\n",
                  s->bytes_in, s->bytes_out);
        js_stats(&b, "      ", R, &s->stats);
        js_printf(&b, "\n    }%s\n", i + 1 < R->nshards ? "," : "");
    }
    js_printf(&b,
              "  ],\n  \"total\": {\n    \"shards\": %zu,\n    \"failed_shards\": %" PRIu64
              ",\n    \"no_documents_shards\": %" PRIu64 ",\n",
              R->nshards, failed, nodocs);
    js_printf(&b, "    \"bytes_in\": %" PRIu64 ",\n    \"bytes_decompressed\": %" PRIu64 ",\n", tin, tout);
    js_stats(&b, "    ", R, &total);
    /* The run's own facts come last, in one object: everything before it is
     * byte-identical for the same inputs and options, whatever the threads. */
    js_printf(&b, "\n  },\n  \"run\": {\"threads\": %d, \"wall_seconds\": %.3f, \"mb_per_second\": %.1f}\n}\n",
              threads, wall, wall > 0 ? tout / wall / 1e6 : 0.0);
    if (b.failed) {
        ts_buf_free(&b);
        cli_error("out of memory writing the summary");
        return -1;
    }
    char path[4096];
    const char *tmp = g_summary_tmp;
    snprintf(path, sizeof path, "%s/summary.json", o->outdir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = fd >= 0 && write_all(fd, b.data, b.len) == 0;
    if (fd >= 0) {
        ok = ok && fdatasync(fd) == 0;
        ok = close(fd) == 0 && ok;
    }
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        cli_error("%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
    }
    ts_buf_free(&b);
    return ok ? 0 : -1;
}

/* The run in one paragraph on stderr: what a user sees at the end. */
static void print_result(const run *R, double wall)
{
    scan_stats t = {0};
    uint64_t out = 0, failed = 0, nodocs = 0;
    for (size_t i = 0; i < R->nshards; i++) {
        const shard *s = &R->shards[i];
        stats_add(&t, &s->stats);
        out += s->bytes_out;
        failed += s->failed || s->out_failed;
        nodocs += shard_no_documents(s);
    }
    char errs[400] = "";
    uint64_t nerr = stats_errors(&t);
    if (nerr) {
        char kinds[380];
        error_kinds_text(&t, kinds, sizeof kinds);
        snprintf(errs, sizeof errs, " (%s)", kinds);
    }
    fprintf(stderr,
            "scan: %zu shard%s (%" PRIu64 " failed, %" PRIu64 " without documents), %" PRIu64 " documents: "
            "%" PRIu64 " keep, %" PRIu64 " downweight, %" PRIu64 " drop, %" PRIu64 " upweight; %" PRIu64
            " error%s%s; %.*f MB in %.2f s, %.1f MB/s; summary: %s/summary.json\n",
            R->nshards, R->nshards == 1 ? "" : "s", failed, nodocs, t.docs, t.actions[TS_ACTION_KEEP],
            t.actions[TS_ACTION_DOWNWEIGHT], t.actions[TS_ACTION_DROP], t.actions[TS_ACTION_UPWEIGHT], nerr,
            nerr == 1 ? "" : "s", errs, out < 1000000 ? 3 : 1, out / 1e6, wall, wall > 0 ? out / wall / 1e6 : 0.0, R->o->outdir);
}

/* ---------------------------------------------------------------- main */

static int parse_args(int argc, char **argv, scan_opts *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 'j'},
        {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},
        {"glob", required_argument, 0, 'g'},
        {"exclude", required_argument, 0, OPT_EXCLUDE},
        {"help", no_argument, 0, 'h'},
        {"text-field", required_argument, 0, OPT_TEXT_FIELD},
        {"id-field", required_argument, 0, OPT_ID_FIELD},
        {"drop-above", required_argument, 0, OPT_DROP_ABOVE},
        {"downweight-above", required_argument, 0, OPT_DOWNWEIGHT_ABOVE},
        {"downweight-factor", required_argument, 0, OPT_DOWNWEIGHT_FACTOR},
        {"upweight-above", required_argument, 0, OPT_UPWEIGHT_ABOVE},
        {"keep-aligned-above", required_argument, 0, OPT_KEEP_ALIGNED},
        {"upweight-factor", required_argument, 0, OPT_UPWEIGHT_FACTOR},
        {"error-action", required_argument, 0, OPT_ERROR_ACTION},
        {"max-doc-bytes", required_argument, 0, OPT_MAX_DOC},
        {"chunk-bytes", required_argument, 0, OPT_CHUNK},
        {"anchor-words", required_argument, 0, OPT_ANCHOR},
        {"no-model", no_argument, 0, OPT_NO_MODEL},
        {"whole-documents", no_argument, 0, OPT_WHOLE},
        {"gate", no_argument, 0, OPT_GATE},
        {"exhaustive", no_argument, 0, OPT_EXHAUSTIVE},
        {"name", required_argument, 0, OPT_NAME},
        CLI_LEXMODEL_LONGOPTS,
        {0, 0, 0, 0},
    };
    uint64_t u;
    int c;
    optind = 1;
    int gate = 0;   /* 1 --gate, -1 --exhaustive (which wins, in any order) */
    while ((c = getopt_long(argc, argv, "o:j:fqg:h", longopts, NULL)) != -1) {
        int r = cli_lexmodel_option(&o->lm, c, optarg);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        switch (c) {
        case 'o': o->outdir = optarg; break;
        case 'j':
            if (cli_parse_u64("--threads", optarg, 1, 1024, &u))
                return -1;
            o->threads = (int)u;
            break;
        case 'f': o->force = 1; break;
        case 'q': o->quiet = 1; break;
        case 'g':
        case OPT_EXCLUDE: {
            int ex = c == OPT_EXCLUDE || optarg[0] == '!';
            const char *g = c == 'g' && optarg[0] == '!' ? optarg + 1 : optarg;
            if (!*g) {
                cli_error("scan: %s: an empty glob", c == 'g' ? "--glob" : "--exclude");
                return -1;
            }
            if ((ex ? o->nexclude : o->ninclude) == MAX_GLOBS) {
                cli_error("scan: at most %d globs of each kind", MAX_GLOBS);
                return -1;
            }
            if (ex)
                o->exclude[o->nexclude++] = g;
            else
                o->include[o->ninclude++] = g;
            break;
        }
        case 'h': fputs(scan_help, stdout); return 1;
        case OPT_TEXT_FIELD: o->text_field = optarg; break;
        case OPT_ID_FIELD: o->id_field = optarg; break;
        case OPT_DROP_ABOVE:
            if (cli_parse_double("--drop-above", optarg, 0, 1, &o->drop_above))
                return -1;
            break;
        case OPT_DOWNWEIGHT_ABOVE:
            if (cli_parse_double("--downweight-above", optarg, 0, 1, &o->downweight_above))
                return -1;
            break;
        case OPT_DOWNWEIGHT_FACTOR:
            if (cli_parse_double("--downweight-factor", optarg, 0, 1, &o->downweight_factor))
                return -1;
            break;
        case OPT_UPWEIGHT_ABOVE:
            if (cli_parse_double("--upweight-above", optarg, 0, 1, &o->upweight_above))
                return -1;
            break;
        case OPT_UPWEIGHT_FACTOR:
            if (cli_parse_double("--upweight-factor", optarg, 1, 1000, &o->upweight_factor))
                return -1;
            break;
        case OPT_ERROR_ACTION:
            if (strcmp(optarg, "keep") && strcmp(optarg, "drop")) {
                cli_error("--error-action: expected keep or drop, got '%s'", optarg);
                return -1;
            }
            o->error_drop = !strcmp(optarg, "drop");
            break;
        case OPT_MAX_DOC:
            if (cli_parse_u64("--max-doc-bytes", optarg, 1024, (uint64_t)UINT32_MAX - 1, &o->max_doc_bytes))
                return -1;
            break;
        case OPT_CHUNK:
            if (cli_parse_u64("--chunk-bytes", optarg, 4096, 1u << 30, &o->chunk_size))
                return -1;
            break;
        case OPT_ANCHOR:
            if (cli_parse_u64("--anchor-words", optarg, 0, 100000, &o->anchor_words))
                return -1;
            break;
        case OPT_NO_MODEL: o->no_model = 1; break;
        case OPT_WHOLE: o->whole_documents = 1; break;
        case OPT_GATE: gate = gate >= 0 ? 1 : gate; break;
        case OPT_EXHAUSTIVE: gate = -1; break;
        case OPT_NAME: o->name = optarg; break;
        case OPT_KEEP_ALIGNED:
            if (cli_parse_double("--keep-aligned-above", optarg, 0, 1, &o->keep_aligned_above))
                return -1;
            break;
        default: fputs("(see tropescan scan --help)\n", stderr); return -1;
        }
    }
    if (!o->outdir) {
        cli_error("scan: -o OUTDIR is required (see tropescan scan --help)");
        return -1;
    }
    if (!strcmp(o->outdir, "-")) {
        cli_error("scan: -o - (standard output) is not supported: the output is a directory (one manifest "
                  "per input and summary.json); write -o ./- for a directory named '-'");
        return -1;
    }
    if (optind >= argc) {
        cli_error("scan: no input given (see tropescan scan --help)");
        return -1;
    }
    if (o->downweight_above >= 0 && o->drop_above >= 0 && o->downweight_above > o->drop_above) {
        cli_error("scan: --downweight-above (%g) must not exceed --drop-above (%g)", o->downweight_above,
                  o->drop_above);
        return -1;
    }
    if (o->lm.model_path && o->no_model) {
        cli_error("scan: --model and --no-model exclude each other");
        return -1;
    }
    o->gate = gate > 0 && !o->no_model;
    return 0;
}

/* A NAME of NAME=INPUT: a relative path of names that are not hidden (nor
 * . or ..), so that the manifests stay inside OUTDIR. */
static int valid_input_name(const char *name)
{
    if (!*name || *name == '/')
        return 0;
    for (const char *p = name; *p;) {
        if (*p == '.' || *p == '/')
            return 0;   /* a hidden name, . or .., or an empty name (//) */
        p += strcspn(p, "/");
        if (*p == '/' && !*++p)
            return 0;   /* ends with / */
    }
    return 1;
}

/* The last name of a directory's path (trailing slashes ignored; ., .. and /
 * by their real path). @return a new string, or NULL (printed). */
static char *dir_own_name(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    char *name = strndup(dir + b, n - b);
    if (name && (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "/") || !*name)) {
        free(name);
        name = NULL;
        char *real = realpath(dir, NULL);
        const char *base = real ? strrchr(real, '/') : NULL;
        if (base && base[1])
            name = strdup(base + 1);
        free(real);
    }
    if (!name || !valid_input_name(name)) {
        cli_error("scan: %s: cannot name its manifests after it: give it a name, NAME=%s", dir, dir);
        free(name);
        return NULL;
    }
    return name;
}

/* Builds the shard list; @return 0, or -1 (printed). */
static int collect_inputs(int argc, char **argv, const scan_opts *o, input_list *L)
{
    struct stat outdir_st;
    int have_out = stat(o->outdir, &outdir_st) == 0;
    int stdin_used = 0, ndirs = 0;
    struct stat st;
    for (int i = optind; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        const char *path = eq && eq > argv[i] && stat(argv[i], &st) != 0 ? eq + 1 : argv[i];
        ndirs += stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    }
    for (int i = optind; i < argc; i++) {
        const char *in = argv[i];
        /* NAME=INPUT, unless a file of that name exists. */
        char *name = NULL;
        const char *eq = strchr(in, '=');
        if (eq && eq > in && strcmp(in, "-") && stat(in, &st) != 0) {
            if (!(name = strndup(in, (size_t)(eq - in))))
                return -1;
            if (!valid_input_name(name)) {
                cli_error("scan: %s: NAME in NAME=INPUT must be a relative path of names not starting with "
                          "'.' (it names the manifests inside OUTDIR)", in);
                free(name);
                return -1;
            }
            in = eq + 1;
        }
        int rc = 0;
        if (!strcmp(in, "-")) {
            if (stdin_used++) {
                cli_error("scan: - (standard input) given twice");
                rc = -1;
            } else {
                rc = add_input(L, "-", name ? name : "stdin");
            }
        } else if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
            dir_seen seen = {.n = 0};
            size_t before = L->n;
            if (!name && ndirs > 1 && !(name = dir_own_name(in)))
                return -1;
            rc = walk_dir(L, o, in, name ? name : "", name ? strlen(name) : 0, &seen, have_out ? &outdir_st : NULL);
            if (rc == 0 && L->n == before)
                cli_error("warning: %s: no input files in this directory%s", in,
                          o->ninclude || o->nexclude ? " (with these --glob and --exclude)" : "");
        } else {
            /* A file (or something that fails to open: it becomes a failed shard). */
            const char *base = strrchr(in, '/');
            base = base ? base + 1 : in;
            if (!name && !*base) {
                cli_error("scan: %s: not a file name", in);
                rc = -1;
            } else {
                rc = add_input(L, in, name ? name : base);
            }
        }
        free(name);
        if (rc != 0)
            return -1;
    }
    /* Output names must not collide (two inputs with one base name). */
    char **names = malloc(L->n * sizeof *names);
    if (!names && L->n)
        return -1;
    for (size_t i = 0; i < L->n; i++)
        names[i] = L->v[i].name;
    qsort(names, L->n, sizeof *names, cmp_str);
    for (size_t i = 1; i < L->n; i++) {
        if (!strcmp(names[i - 1], names[i])) {
            cli_error("scan: two inputs would write the same manifest '%s': name them with NAME=DIR (or "
                      "NAME=FILE), or scan them in separate runs",
                      names[i]);
            free(names);
            return -1;
        }
    }
    free(names);
    return 0;
}

/*
 * Temporary outputs are named ".<final name>.tmp.<host>.<pid>", so a run
 * killed by SIGKILL (which no handler sees) can be cleaned up after: the
 * next run removes, in each directory it writes to, the temporaries of this
 * host whose process is gone. A temporary of another host (a shared file
 * system) or of a live process is never touched.
 */
static char g_host[256];
static char g_tmp_tag[300];    /* ".tmp.<host>.": what follows a final name */

static void tmp_suffix_init(void)
{
    if (gethostname(g_host, sizeof g_host - 1) != 0 || !g_host[0])
        snprintf(g_host, sizeof g_host, "localhost");
    for (char *p = g_host; *p; p++)
        if (*p == '/')
            *p = '_';
    snprintf(g_tmp_tag, sizeof g_tmp_tag, ".tmp.%s.", g_host);
}

/* Is ".<final>" (len bytes) the hidden form of an output's final name? */
static int is_output_name(const char *hidden, size_t len)
{
    static const char summary[] = ".summary.json", manifest[] = MANIFEST_SUFFIX;
    if (len == sizeof summary - 1)
        return !memcmp(hidden, summary, len);
    return len >= sizeof manifest && !memcmp(hidden + len - (sizeof manifest - 1), manifest, sizeof manifest - 1);
}

/* Removes stale temporaries in dir; @return how many. */
static int remove_stale_tmps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        const char *t = n[0] == '.' ? strstr(n, g_tmp_tag) : NULL;
        if (!t || !is_output_name(n, (size_t)(t - n)))
            continue;
        char *end;
        errno = 0;
        long pid = strtol(t + strlen(g_tmp_tag), &end, 10);
        if (errno || *end || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive, or not ours to judge */
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, n);
        if (unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

static int prepare_outputs(const scan_opts *o, input_list *L)
{
    if (mkdir_p(o->outdir) != 0) {
        cli_error("%s: cannot create the output directory: %s", o->outdir, strerror(errno));
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.json", o->outdir);
    if (!o->force && access(path, F_OK) == 0) {
        cli_error("%s exists: pass --force to overwrite it", path);
        return -1;
    }
    tmp_suffix_init();
    int stale = remove_stale_tmps(o->outdir);
    char last_dir[4096];
    snprintf(last_dir, sizeof last_dir, "%s", o->outdir);
    for (size_t i = 0; i < L->n; i++) {
        shard *s = &L->v[i];
        size_t n = strlen(o->outdir) + strlen(s->name) + 64;
        s->out_path = malloc(n);
        s->tmp_path = malloc(n + 32 + sizeof g_host);
        if (!s->out_path || !s->tmp_path)
            return -1;
        snprintf(s->out_path, n, "%s/%s" MANIFEST_SUFFIX, o->outdir, s->name);
        char *slash = strrchr(s->out_path, '/');
        snprintf(s->tmp_path, n + 32 + sizeof g_host, "%.*s/.%s.tmp.%s.%ld", (int)(slash - s->out_path),
                 s->out_path, slash + 1, g_host, (long)getpid());
        struct stat st, in_st;
        if (stat(s->out_path, &st) == 0) {
            if (strcmp(s->path, "-") && stat(s->path, &in_st) == 0 && st.st_dev == in_st.st_dev &&
                st.st_ino == in_st.st_ino) {
                cli_error("%s: the output would overwrite an input", s->out_path);
                return -1;
            }
            if (!o->force) {
                cli_error("%s exists: pass --force to overwrite it", s->out_path);
                return -1;
            }
        }
        *slash = '\0';
        int rc = mkdir_p(s->out_path);
        if (rc == 0 && strcmp(s->out_path, last_dir) != 0) {
            stale += remove_stale_tmps(s->out_path);
            snprintf(last_dir, sizeof last_dir, "%s", s->out_path);
        }
        *slash = '/';
        if (rc != 0) {
            cli_error("%s: cannot create the directory: %s", s->out_path, strerror(errno));
            return -1;
        }
        if (strcmp(s->path, "-") && stat(s->path, &in_st) == 0)
            s->size = (uint64_t)in_st.st_size;
    }
    if (stale && !o->quiet)
        cli_error("note: removed %d temporary file%s left by an interrupted run", stale, stale == 1 ? "" : "s");
    return 0;
}

int cmd_scan(int argc, char **argv)
{
    scan_opts o = {
        .threads = 0,
        .text_field = "text",
        .id_field = "id",
        .drop_above = -1,          /* unset: the model's, else the default */
        .downweight_above = -1,
        .downweight_factor = DEFAULT_DOWNWEIGHT_FACTOR,
        .upweight_above = -1,
        .keep_aligned_above = -1,
        .upweight_factor = DEFAULT_UPWEIGHT_FACTOR,
        .max_doc_bytes = DEFAULT_MAX_DOC_BYTES,
        .chunk_size = DEFAULT_CHUNK_SIZE,
        .anchor_words = TS_DEFAULT_ANCHOR_WORDS,
        .manifest_level = 3,
    };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    if (o.threads == 0)
        o.threads = omp_get_num_procs();

    run R = {.o = &o};
    if (json_path_parse(o.text_field, &R.paths[0]) != 0 || json_path_parse(o.id_field, &R.paths[1]) != 0) {
        cli_error("scan: a field path is empty or has more than %d parts", JSON_PATH_MAX);
        return EXIT_USAGE;
    }
    input_list L = {0};
    if (collect_inputs(argc, argv, &o, &L) != 0 || L.n == 0) {
        if (L.n == 0)
            cli_error("scan: no input files found");
        free_inputs(&L);
        return EXIT_USAGE;
    }

    /* A run in which no input can even be opened writes nothing (no
     * summary.json that a rerun with the right path would need --force for). */
    int readable = 0;
    for (size_t i = 0; i < L.n && !readable; i++) {
        int fd = strcmp(L.v[i].path, "-") ? open(L.v[i].path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) : STDIN_FILENO;
        if (fd >= 0 && fd != STDIN_FILENO)
            close(fd);
        readable = fd >= 0;
        if (!readable && i < 10)
            cli_error("%s: %s", L.v[i].path, strerror(errno));
    }
    if (!readable) {
        cli_error("scan: no input could be opened: nothing written");
        free_inputs(&L);
        return EXIT_USAGE;
    }

    ts_lexicon *lex = NULL;
    ts_model *model = NULL;
    if (cli_load_lexicon(&o.lm, &lex) != TS_OK || (!o.no_model && cli_load_model(&o.lm, lex, &model) != TS_OK) ||
        prepare_outputs(&o, &L) != 0) {
        ts_model_free(model);
        ts_lexicon_free(lex);
        free_inputs(&L);
        return EXIT_FATAL;
    }

    /* Thresholds not given: the model's own (chosen with it, data/README.md), else the defaults. */
    double policy[TS_POLICY_N] = {0, 0, 0, 0};
    if (model)
        ts_model_policy(model, policy);
    if (o.downweight_above < 0)
        o.downweight_above = policy[TS_POLICY_DOWNWEIGHT] > 0 ? policy[TS_POLICY_DOWNWEIGHT] : DEFAULT_DOWNWEIGHT_ABOVE;
    if (o.drop_above < 0)
        o.drop_above = policy[TS_POLICY_DROP] > 0 ? policy[TS_POLICY_DROP] : DEFAULT_DROP_ABOVE;
    if (o.upweight_above < 0)
        o.upweight_above = policy[TS_POLICY_UPWEIGHT] > 0 ? policy[TS_POLICY_UPWEIGHT] : 2.0;
    if (o.keep_aligned_above < 0)
        o.keep_aligned_above = policy[TS_POLICY_KEEP_ALIGNED] > 0 ? policy[TS_POLICY_KEEP_ALIGNED] : 2.0;
    if (o.downweight_above > o.drop_above) {
        cli_error("scan: the downweight threshold (%g) must not exceed the drop threshold (%g)",
                  o.downweight_above, o.drop_above);
        ts_model_free(model);
        ts_lexicon_free(lex);
        free_inputs(&L);
        return EXIT_USAGE;
    }
    ts_gate *gate = NULL;
    if (o.gate && ts_gate_create(&gate) != TS_OK) {
        cli_error("scan: cannot create the gate (--gate)");
        ts_model_free(model);
        ts_lexicon_free(lex);
        free_inputs(&L);
        return EXIT_FATAL;
    }
    R.lex = lex;
    R.model = model;
    R.shards = L.v;
    R.nshards = L.n;
    R.limit = 2 * o.threads + 2;
    R.progress = !o.quiet && isatty(STDERR_FILENO);
    pthread_mutex_init(&R.mu, NULL);
    pthread_cond_init(&R.cv, NULL);
    for (size_t i = 0; i < L.n; i++) {
        pthread_mutex_init(&L.v[i].wlock, NULL);
        R.total_in += L.v[i].size;
    }
    g_shards = L.v;
    g_nshards = L.n;
    snprintf(g_summary_tmp, sizeof g_summary_tmp, "%s/.summary.json.tmp.%s.%ld", o.outdir, g_host,
             (long)getpid());
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    R.t0 = now_seconds();

    int setup_failed = 0;
#pragma omp parallel num_threads(o.threads) shared(R, setup_failed)
    {
        worker w = {0};
        int err = ts_scanner_create(lex, model, (uint32_t)o.anchor_words, 0, &w.scanner);
        if (!err) {
            ts_scanner_whole_documents(w.scanner, o.whole_documents);
            err = ts_scanner_set_gate(w.scanner, gate);
        }
        w.cctx = ZSTD_createCCtx();
        if (err || !w.cctx) {
#pragma omp atomic write
            setup_failed = 1;
        } else {
            ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_compressionLevel, o.manifest_level);
            ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_checksumFlag, 1);
        }
#pragma omp barrier
        int failed;
#pragma omp atomic read
        failed = setup_failed;
        if (!failed)
            worker_loop(&R, &w);
        ts_scanner_free(w.scanner);
        ZSTD_freeCCtx(w.cctx);
        ts_buf_free(&w.text);
        free(w.decoded);
        free(w.spans);
        free(w.span_off);
        ts_chunk_release(&w.chunk);
    }
    double wall = now_seconds() - R.t0;
    if (R.progress)
        show_progress(&R, 1);

    int exit_code = EXIT_OK;
    if (setup_failed || R.fatal) {
        if (setup_failed)
            cli_error("scan: cannot set up the worker threads (out of memory?)");
        exit_code = EXIT_FATAL;
        for (size_t i = 0; i < L.n; i++) {
            if (L.v[i].fd >= 0) {
                close(L.v[i].fd);
                L.v[i].fd = -1;
            }
            unlink(L.v[i].tmp_path);
        }
    } else {
        for (size_t i = 0; i < L.n; i++) {
            shard *s = &L.v[i];
            if (s->out_failed) {
                cli_error("%s", s->fail_msg);
                exit_code = EXIT_FATAL;
            } else if (s->failed) {
                cli_error("%s", s->fail_msg);
                if (exit_code == EXIT_OK)
                    exit_code = EXIT_INPUT_FAILED;
            } else if (shard_no_documents(s)) {
                char msg[1400];
                no_documents_text(s, msg, sizeof msg);
                cli_error("%s", msg);
                if (exit_code == EXIT_OK)
                    exit_code = EXIT_INPUT_FAILED;
            }
        }
        if (write_summary(&R, wall, o.threads) != 0)
            exit_code = EXIT_FATAL;
        else if (!o.quiet)
            print_result(&R, wall);
    }

    g_shards = NULL;
    for (size_t i = 0; i < L.n; i++)
        pthread_mutex_destroy(&L.v[i].wlock);
    free_inputs(&L);
    pthread_mutex_destroy(&R.mu);
    pthread_cond_destroy(&R.cv);
    ts_gate_free(gate);
    ts_model_free(model);
    ts_lexicon_free(lex);
    return exit_code;
}
