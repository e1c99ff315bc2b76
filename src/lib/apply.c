/*
 * apply.c: a manifest applied to its shard (tropescan.h, "apply").
 *
 * The shard is cut into lines by chunk.c and docs.c's line cursor and parsed
 * by docs.c, exactly as scan's pipeline does, and read in step with the
 * manifest (manifest.c's streaming reader): every line is checked against
 * its manifest line before anything is decided, so a manifest can never be
 * applied to another shard, or to a shard changed since the scan.
 *
 * One shard is one serial stream (reading, checking, writing); shards run in
 * parallel, one per thread (cmd_apply.c). Outputs go through outfile.c and
 * are committed together only when the shard is done.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define XXH_INLINE_ALL
#include <xxhash.h>

#include "buf.h"
#include "chunk.h"
#include "docs.h"
#include "json.h"
#include "pipeline.h"

void ts_apply_settings_default(ts_apply_settings *s)
{
    memset(s, 0, sizeof *s);
    s->text_field = "text";
    s->id_field = "id";
    s->max_doc_bytes = TS_DEFAULT_MAX_DOC_BYTES;
    ts_policy_default(&s->policy);
    s->error_action = -1;
    s->compress = -1;
    s->level = -1;
}


/* ---------------------------------------------------------------- helpers */

static void put_json_string(ts_buf *b, const char *s, size_t n)
{
    char *d = ts_buf_reserve(b, 6 * n + 2);
    if (!d)
        return;
    d[0] = '"';
    size_t m = json_string_escape(s, n, d + 1);
    d[1 + m] = '"';
    b->len += m + 2;
}

static void put_num(ts_buf *b, const char *fmt, double v)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, fmt, v);
    ts_buf_append(b, tmp, (size_t)n);
}

static void put_u64(ts_buf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    ts_buf_append(b, tmp, (size_t)n);
}

/* A document's field as JSON: strings quoted (still escaped, as written),
 * numbers and the rest as written, missing as null. */
static void put_field(ts_buf *b, const ts_field *f)
{
    if (f->kind == TS_FIELD_MISSING) {
        ts_buf_puts(b, "null");
    } else if (f->kind == TS_FIELD_STRING) {
        ts_buf_puts(b, "\"");
        ts_buf_append(b, f->raw, f->len);
        ts_buf_puts(b, "\"");
    } else {
        ts_buf_append(b, f->raw, f->len);
    }
}

/* The line with "<key>":<w> added as the object's last member (the line
 * parsed as one object, so its last '}' closes it). */
static void put_with_field(ts_buf *b, const char *line, size_t len, const char *key, double w)
{
    size_t close = len;
    while (close > 0 && line[close - 1] != '}')
        close--;
    if (close == 0) { /* cannot happen for a parsed object; copy it as it is */
        ts_buf_append(b, line, len);
        return;
    }
    close--;
    size_t k = close;
    while (k > 0 && (line[k - 1] == ' ' || line[k - 1] == '\t' || line[k - 1] == '\r' || line[k - 1] == '\n'))
        k--;
    int empty = k > 0 && line[k - 1] == '{';
    ts_buf_append(b, line, close);
    ts_buf_puts(b, empty ? "" : ",");
    put_json_string(b, key, strlen(key));
    ts_buf_puts(b, ":");
    put_num(b, "%.4f", w);
    ts_buf_append(b, line + close, len - close);
}

/* Copies of a line of weight w: floor(w), plus one iff u < frac(w), where
 * u = XXH64(fp, seed) / 2^64 (fp as 8 little-endian bytes). */
static uint64_t copies_of(double w, uint64_t fp, int has_fp, uint64_t seed)
{
    if (!(w > 0))
        return 0;
    double fl = floor(w);
    double frac = w - fl;
    uint64_t n = (uint64_t)fl;
    if (frac > 0) {
        if (!has_fp)
            return n + (frac >= 0.5); /* not reached: error lines weigh 0 or 1 */
        unsigned char le[8];
        for (int i = 0; i < 8; i++)
            le[i] = (unsigned char)(fp >> (8 * i));
        double u = (double)XXH64(le, 8, seed) * 0x1p-64;
        n += u < frac;
    }
    return n;
}

static void key_part(ts_buf *b, const char *s)
{
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        ts_buf_append(b, ok ? &c : "_", 1);
    }
}

/* ---------------------------------------------------------------- attributes */

typedef struct attr_off {
    uint64_t off;       /* in, then out */
    uint64_t *slot;
} attr_off;

static int cmp_off(const void *a, const void *b)
{
    uint64_t x = ((const attr_off *)a)->off, y = ((const attr_off *)b)->off;
    return x < y ? -1 : x > y;
}

typedef struct attr_span {
    uint32_t cat;
    uint64_t start, end;
    double score;
} attr_span;

typedef struct attr_ctx {
    ts_scanner *scanner;
    attr_span *spans;
    size_t nspans, cap;
    attr_off *offs;
    uint64_t *tmp;
    size_t offcap;
} attr_ctx;

static int attr_grow(attr_ctx *a, size_t n)
{
    if (n > a->cap) {
        size_t cap = a->cap ? a->cap : 64;
        while (cap < n)
            cap *= 2;
        attr_span *s = realloc(a->spans, cap * sizeof *s);
        if (!s)
            return -1;
        a->spans = s;
        a->cap = cap;
    }
    if (2 * n > a->offcap) {
        size_t cap = 2 * a->cap;
        attr_off *o = realloc(a->offs, cap * sizeof *o);
        if (o)
            a->offs = o;
        uint64_t *t = realloc(a->tmp, cap * sizeof *t);
        if (t)
            a->tmp = t;
        if (!o || !t)
            return -1;
        a->offcap = cap;
    }
    return 0;
}

/* Byte offsets of text (in the spans) to code-point offsets, in one sweep. */
static void to_code_points(attr_ctx *a, const char *text, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nspans; i++) {
        a->offs[n++] = (attr_off){a->spans[i].start, &a->spans[i].start};
        a->offs[n++] = (attr_off){a->spans[i].end, &a->spans[i].end};
    }
    qsort(a->offs, n, sizeof *a->offs, cmp_off);
    uint64_t cp = 0;
    size_t b = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t target = a->offs[i].off < len ? a->offs[i].off : len;
        for (; b < target; b++)
            cp += ((unsigned char)text[b] & 0xC0) != 0x80;
        *a->offs[i].slot = cp;
    }
}

static uint64_t code_points(const char *text, size_t len)
{
    uint64_t cp = 0;
    for (size_t b = 0; b < len; b++)
        cp += ((unsigned char)text[b] & 0xC0) != 0x80;
    return cp;
}

/* Normalised-text offsets of the hits to decoded-text byte offsets. */
static void map_hits(attr_ctx *a, size_t first, const char *text, size_t len)
{
    size_t n = a->nspans - first;
    for (int is_end = 0; is_end < 2; is_end++) {
        for (size_t i = 0; i < n; i++)
            a->offs[i] = (attr_off){is_end ? a->spans[first + i].end : a->spans[first + i].start,
                                    is_end ? &a->spans[first + i].end : &a->spans[first + i].start};
        qsort(a->offs, n, sizeof *a->offs, cmp_off);
        for (size_t i = 0; i < n; i++)
            a->tmp[i] = a->offs[i].off;
        ts_normalise_map(text, len, a->tmp, n, is_end);
        for (size_t i = 0; i < n; i++)
            *a->offs[i].slot = a->tmp[i];
    }
}

static int cmp_span(const void *x, const void *y)
{
    const attr_span *a = x, *b = y;
    if (a->cat != b->cat)
        return a->cat < b->cat ? -1 : 1;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->end < b->end ? -1 : a->end > b->end;
}

/* Parses a manifest's "spans" array [[s,e,F],...] into a->spans (cat UINT32_MAX). */
static int parse_manifest_spans(attr_ctx *a, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && s[i] != '[' )
            i++;
        if (i >= len)
            break;
        i++;
        if (i < len && s[i] == '[')
            continue; /* the outer array */
        char tmp[128];
        size_t j = i;
        while (j < len && s[j] != ']')
            j++;
        size_t n = j - i < sizeof tmp - 1 ? j - i : sizeof tmp - 1;
        memcpy(tmp, s + i, n);
        tmp[n] = '\0';
        uint64_t st, en;
        double sc;
        if (sscanf(tmp, "%" SCNu64 ",%" SCNu64 ",%lf", &st, &en, &sc) == 3) {
            if (attr_grow(a, a->nspans + 1))
                return -1;
            a->spans[a->nspans++] = (attr_span){UINT32_MAX, st, en, sc};
        }
        i = j;
    }
    return 0;
}

/* One attributes line. */
static int attributes_line(attr_ctx *a, const ts_apply_settings *s, ts_buf *b, const ts_doc *doc, int ok,
                           const ts_manifest_line *ml)
{
    ts_buf_puts(b, "{\"id\":");
    put_field(b, &doc->id);
    ts_buf_puts(b, ",\"attributes\":{");
    if (ok) {
        int first = 1;
        uint64_t L = code_points(doc->text, doc->len);
#define KEY(part)                                   \
    do {                                            \
        ts_buf_puts(b, first ? "\"" : ",\"");       \
        first = 0;                                  \
        key_part(b, s->attributes_name);            \
        ts_buf_puts(b, "__tropescan__");            \
        key_part(b, part);                          \
        ts_buf_puts(b, "\":");                      \
    } while (0)
        if (ml->score >= 0) {
            KEY("evil");
            ts_buf_puts(b, "[[0,");
            put_u64(b, L);
            put_num(b, ",%.5f]]", ml->score);
        }
        if (ml->aligned >= 0) {
            KEY("aligned");
            ts_buf_puts(b, "[[0,");
            put_u64(b, L);
            put_num(b, ",%.5f]]", ml->aligned);
        }
        a->nspans = 0;
        ts_doc_score ds;
        if (ts_scanner_score(a->scanner, doc->text, doc->len, &ds) != TS_OK)
            return TS_E_NOMEM;
        const ts_matches *m = &ds.matches;
        if (attr_grow(a, m->nhits + 1))
            return TS_E_NOMEM;
        for (size_t i = 0; i < m->nhits; i++)
            a->spans[a->nspans++] = (attr_span){m->hits[i].category, m->hits[i].start, m->hits[i].end, 1.0};
        map_hits(a, 0, doc->text, doc->len);
        size_t nhits = a->nspans;
        if (parse_manifest_spans(a, ml->spans, ml->spans_len) || attr_grow(a, a->nspans))
            return TS_E_NOMEM;
        to_code_points(a, doc->text, doc->len);
        qsort(a->spans, nhits, sizeof *a->spans, cmp_span);
        for (size_t i = 0; i < nhits;) {
            size_t j = i;
            KEY(ts_lexicon_category_name(s->lex, a->spans[i].cat));
            ts_buf_puts(b, "[");
            for (; j < nhits && a->spans[j].cat == a->spans[i].cat; j++) {
                ts_buf_puts(b, j > i ? ",[" : "[");
                put_u64(b, a->spans[j].start);
                ts_buf_puts(b, ",");
                put_u64(b, a->spans[j].end);
                ts_buf_puts(b, ",1.0]");
            }
            ts_buf_puts(b, "]");
            i = j;
        }
        if (a->nspans > nhits) {
            KEY("evil_span");
            ts_buf_puts(b, "[");
            for (size_t i = nhits; i < a->nspans; i++) {
                ts_buf_puts(b, i > nhits ? ",[" : "[");
                put_u64(b, a->spans[i].start);
                ts_buf_puts(b, ",");
                put_u64(b, a->spans[i].end);
                put_num(b, ",%.5f]", a->spans[i].score);
            }
            ts_buf_puts(b, "]");
        }
#undef KEY
    }
    ts_buf_puts(b, "}");
    if (doc->extra[0].kind != TS_FIELD_MISSING) {
        ts_buf_puts(b, ",\"source\":");
        put_field(b, &doc->extra[0]);
    }
    ts_buf_puts(b, "}\n");
    return TS_OK;
}

/* ---------------------------------------------------------------- the step */

#define APPLY_MAX_CHUNK_LINES 16384

/* A manifest line, copied: it travels with its chunk to a worker. Strings
 * are offsets into the chunk's arena. */
typedef struct mline {
    ts_manifest_line ml;        /* pointers unset until chunk_begin */
    size_t id, error, tropes, anchored, spans;
} mline;

typedef struct side_data {
    const ts_apply_settings *s;
    const ts_apply_job *job;    /* the chunk's shard */
    mline *v;
    size_t n, cap;              /* manifest lines read for this chunk */
    ts_buf arena;
    int err;                    /* after v[n-1]: the manifest failed (err, diag), or */
    int ended;                  /* it ended */
    ts_diag diag;
} side_data;

typedef struct apply_run apply_run;

typedef struct shard_state {
    apply_run *A;
    size_t i;
    ts_manifest_reader *mr;
    int err, ended;             /* the manifest failed or ended: nothing more is read */
    ts_diag diag;
} shard_state;

struct apply_run {
    const ts_apply_settings *s;
    ts_apply_job *jobs;
};

typedef struct apply_worker {
    apply_run *A;
    ts_doc_parser *parser;
    attr_ctx ac;
    side_data *sd;
    size_t next;                /* the next manifest line of the chunk */
    ts_buf *second;             /* the exclusion log's part of the chunk */
    int long_copied;
    uint64_t counts[TS_STEP_NCOUNTS];
    ts_diag diag;
} apply_worker;

enum { C_LINES, C_KEPT, C_DROPPED, C_COPIES, C_ERRORS, C_ACTIONS };

static int mismatch(ts_diag *diag, const char *shard, uint64_t line, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int mismatch(ts_diag *diag, const char *shard, uint64_t line, uint64_t offset, const char *fmt, ...)
{
    ts_diag_clear(diag);
    snprintf(diag->file, sizeof diag->file, "%s", shard);
    diag->line = line;
    diag->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->message, sizeof diag->message, fmt, ap);
    va_end(ap);
    return TS_E_MISMATCH;
}

static int shard_open(void *ctx, size_t i, void **out, ts_diag *diag)
{
    apply_run *A = ctx;
    *out = NULL;
    shard_state *st = calloc(1, sizeof *st);
    if (!st)
        return TS_E_NOMEM;
    st->A = A;
    st->i = i;
    int err = ts_manifest_open(A->jobs[i].manifest, &st->mr, diag);
    if (err) {
        if (!diag->message[0])
            snprintf(diag->message, sizeof diag->message, "cannot read the manifest");
        free(st);
        return err;
    }
    *out = st;
    return TS_OK;
}

static void shard_close(void *state)
{
    shard_state *st = state;
    if (!st)
        return;
    ts_manifest_close(st->mr);
    free(st);
}

static size_t arena_put(ts_buf *a, const char *p, size_t n)
{
    size_t at = a->len;
    if (p)
        ts_buf_append(a, p, n);
    ts_buf_append(a, "", 1);
    return at;
}

/* The chunk's manifest lines, read in step with the shard (reading thread). */
static int chunk_read(void *state, const ts_chunk *c, void **out)
{
    shard_state *st = state;
    *out = NULL;
    side_data *sd = calloc(1, sizeof *sd);
    if (!sd)
        return TS_E_NOMEM;
    if (c->nlines && !(sd->v = malloc(c->nlines * sizeof *sd->v))) {
        free(sd);
        return TS_E_NOMEM;
    }
    sd->cap = c->nlines;
    sd->s = st->A->s;
    sd->job = &st->A->jobs[st->i];
    for (uint64_t k = 0; k < c->nlines && !st->err && !st->ended; k++) {
        ts_manifest_line ml;
        int m = ts_manifest_next(st->mr, &ml, &st->diag);
        if (m < 0)
            st->err = m;
        else if (m == 0)
            st->ended = 1;
        if (m <= 0)
            break;
        mline *x = &sd->v[sd->n++];
        x->ml = ml;
        ts_buf *a = &sd->arena;
        x->id = ml.has_id ? arena_put(a, ml.id, strlen(ml.id)) : SIZE_MAX;
        x->error = ml.error ? arena_put(a, ml.error, strlen(ml.error)) : SIZE_MAX;
        x->tropes = ml.tropes ? arena_put(a, ml.tropes, ml.tropes_len) : SIZE_MAX;
        x->anchored = ml.anchored ? arena_put(a, ml.anchored, ml.anchored_len) : SIZE_MAX;
        x->spans = ml.spans ? arena_put(a, ml.spans, ml.spans_len) : SIZE_MAX;
    }
    sd->err = st->err;
    sd->ended = st->ended;
    sd->diag = st->diag;
    if (sd->arena.failed) {
        ts_buf_free(&sd->arena);
        free(sd->v);
        free(sd);
        return TS_E_NOMEM;
    }
    *out = sd;
    return TS_OK;
}

static void chunk_data_free(void *data)
{
    side_data *sd = data;
    if (!sd)
        return;
    ts_buf_free(&sd->arena);
    free(sd->v);
    free(sd);
}

/* What is done with a line (manifest line ml; ok: a document on both sides). */
static ts_action decide(const ts_apply_settings *s, const ts_manifest_line *ml, int ok, double *w)
{
    ts_action action;
    if (!ok) {
        action = s->error_action < 0 ? ml->action : s->error_action ? TS_ACTION_DROP : TS_ACTION_KEEP;
        *w = action == TS_ACTION_DROP ? 0 : 1;
    } else if (s->redecide) {
        action = ts_policy_decide_rules(&s->policy, s->rules, s->nrules, ml->score, ml->aligned, ml->tropes,
                                        ml->tropes_len, ml->anchored, ml->anchored_len, w);
    } else {
        action = ml->action;
        *w = ml->weight;
    }
    return action;
}

static uint64_t line_copies(const ts_apply_settings *s, const ts_manifest_line *ml, int ok, double w)
{
    return s->weights == TS_WEIGHTS_FIELD ? w > 0 : copies_of(w, ml->fp, ok, s->seed);
}

/* A line too long to buffer (reading thread): one copy if it is an error
 * line that is kept, as its manifest line says (a line that does not match
 * is a mismatch the worker reports: no copy). */
static int long_line_copies(void *data)
{
    side_data *sd = data;
    if (!sd || sd->n < 1 || sd->v[0].ml.ok || sd->s->attributes_name || !sd->v[0].ml.error ||
        strncmp(sd->v[0].ml.error, "too_long", 8))
        return 0;
    double w;
    ts_manifest_line ml = sd->v[0].ml;
    return line_copies(sd->s, &ml, 0, decide(sd->s, &ml, 0, &w) == TS_ACTION_DROP ? 0 : w) > 0;
}

static void chunk_begin(void *worker, void *data, ts_out *second, int long_copied)
{
    apply_worker *w = worker;
    side_data *sd = data;
    w->sd = sd;
    w->next = 0;
    w->second = second ? ts_out_buf(second) : NULL;
    w->long_copied = long_copied;
    memset(w->counts, 0, sizeof w->counts);
    ts_diag_clear(&w->diag);
    const char *a = sd->arena.data;
    for (size_t k = 0; k < sd->n; k++) {
        mline *x = &sd->v[k];
        x->ml.id = x->id == SIZE_MAX ? NULL : a + x->id;
        x->ml.error = x->error == SIZE_MAX ? NULL : a + x->error;
        x->ml.tropes = x->tropes == SIZE_MAX ? NULL : a + x->tropes;
        x->ml.anchored = x->anchored == SIZE_MAX ? NULL : a + x->anchored;
        x->ml.spans = x->spans == SIZE_MAX ? NULL : a + x->spans;
    }
}

static void chunk_end(void *worker, uint64_t counts[TS_STEP_NCOUNTS], ts_diag *diag)
{
    apply_worker *w = worker;
    memcpy(counts, w->counts, sizeof w->counts);
    *diag = w->diag;
    w->sd = NULL;
}

static int input_over(void *state, uint64_t lines, ts_diag *diag)
{
    shard_state *st = state;
    const ts_apply_job *j = &st->A->jobs[st->i];
    if (st->err) {
        *diag = st->diag;
        return st->err;
    }
    if (st->ended)
        return TS_OK;
    ts_manifest_line ml;
    int m = ts_manifest_next(st->mr, &ml, diag);
    if (m < 0)
        return m;
    if (m > 0)
        return mismatch(diag, j->shard, lines + 1, UINT64_MAX,
                        "the shard ends after %" PRIu64 " lines but the manifest %s goes on (line %" PRIu64
                        "): not this shard's manifest, or the shard changed since the scan",
                        lines, j->manifest, ml.line);
    return TS_OK;
}

static void apply_worker_free(void *ctx, void *worker)
{
    (void)ctx;
    apply_worker *w = worker;
    if (!w)
        return;
    ts_doc_parser_free(w->parser);
    ts_scanner_free(w->ac.scanner);
    free(w->ac.spans);
    free(w->ac.offs);
    free(w->ac.tmp);
    free(w);
}

static int apply_worker_create(void *ctx, void **out)
{
    apply_run *A = ctx;
    const ts_apply_settings *s = A->s;
    apply_worker *w = calloc(1, sizeof *w);
    if (!w)
        return TS_E_NOMEM;
    w->A = A;
    ts_docs_settings ds;
    ts_docs_settings_default(&ds);
    ds.text_field = s->text_field;
    ds.id_field = s->id_field;
    ds.max_doc_bytes = s->max_doc_bytes;
    ds.extra[0] = "source";
    ds.nextra = 1;
    if (s->weights == TS_WEIGHTS_FIELD && !s->attributes_name) {
        ds.extra[1] = s->weight_field;
        ds.nextra = 2;
    }
    int err = ts_doc_parser_create(&ds, &w->parser);
    if (!err && s->attributes_name)
        err = ts_scanner_create(s->lex, NULL, TS_DEFAULT_ANCHOR_WORDS, 1, &w->ac.scanner);
    if (err) {
        apply_worker_free(ctx, w);
        return err;
    }
    *out = w;
    return TS_OK;
}

static void removed_line(ts_buf *b, const ts_line *ln, const ts_manifest_line *ml, ts_action action, double w,
                         int ok, int kind)
{
    ts_buf_puts(b, "{\"line\":");
    put_u64(b, ln->line);
    ts_buf_puts(b, ",\"offset\":");
    put_u64(b, ln->offset);
    ts_buf_puts(b, ",\"id\":");
    if (ml->has_id)
        put_json_string(b, ml->id, strlen(ml->id));
    else
        ts_buf_puts(b, "null");
    ts_buf_puts(b, ",\"action\":\"");
    ts_buf_puts(b, ts_action_name(action));
    ts_buf_puts(b, "\",\"weight\":");
    put_num(b, "%.4f", w);
    ts_buf_puts(b, ",\"reason\":");
    const char *why = !ok ? ml->error : action == TS_ACTION_DROP ? "dropped" : "sampled out";
    put_json_string(b, why, strlen(why));
    ts_buf_puts(b, ",\"score\":");
    if (ml->score >= 0)
        put_num(b, "%.6f", ml->score);
    else
        ts_buf_puts(b, "null");
    ts_buf_puts(b, ",\"aligned\":");
    if (ml->aligned >= 0)
        put_num(b, "%.6f", ml->aligned);
    else
        ts_buf_puts(b, "null");
    ts_buf_puts(b, ",\"tropes\":");
    ts_buf_append(b, ml->tropes ? ml->tropes : "{}", ml->tropes ? ml->tropes_len : 2);
    ts_buf_puts(b, ",\"anchored\":");
    ts_buf_append(b, ml->anchored ? ml->anchored : "{}", ml->anchored ? ml->anchored_len : 2);
    ts_buf_puts(b, ",\"document\":");
    if (kind == TS_DOC_OK)
        ts_buf_append(b, ln->data, ln->len);
    else if (ln->data)
        put_json_string(b, ln->data, ln->len);
    else
        ts_buf_puts(b, "null");
    ts_buf_puts(b, "}\n");
}

/* The per-line step: checked against its manifest line, decided, written. */
static int apply_line(void *worker, const ts_line *ln, ts_out *o, ts_stats *stats)
{
    (void)stats;
    apply_worker *w = worker;
    const ts_apply_settings *s = w->A->s;
    side_data *sd = w->sd;
    const char *shard_path = sd->job->shard, *manifest_path = sd->job->manifest;
    ts_diag *diag = &w->diag;
    ts_buf *out = ts_out_buf(o);
    int attrs = s->attributes_name != NULL;
    w->counts[C_LINES]++;
    if (w->next >= sd->n) {
        if (sd->err) {
            *diag = sd->diag;
            return sd->err;
        }
        return mismatch(diag, shard_path, ln->line, ln->offset,
                        "the manifest %s ends at line %" PRIu64 " but the shard goes on: not this shard's "
                        "manifest, or the shard changed since the scan", manifest_path, ln->line - 1);
    }
    const ts_manifest_line *ml = &sd->v[w->next++].ml;
    if (ml->line != ln->line || ml->offset != ln->offset)
        return mismatch(diag, shard_path, ln->line, ln->offset,
                        "the manifest %s expects line %" PRIu64 " at byte %" PRIu64 ", found line %" PRIu64
                        " at byte %" PRIu64 ": the shard changed since the scan",
                        manifest_path, ml->line, ml->offset, ln->line, ln->offset);
    ts_doc doc;
    memset(&doc, 0, sizeof doc);
    int kind = ln->error;
    if (!kind) {
        int err = ts_doc_parse(w->parser, ln->data, ln->len, &doc);
        if (err)
            return err;
        kind = doc.error;
    }
    int ok = kind == TS_DOC_OK && ml->ok;
    if (kind == TS_DOC_OK) {
        uint64_t fp = XXH64(doc.text, doc.len, 0);
        if (!ml->ok && strncmp(ml->error, "scan_failed", 11))
            return mismatch(diag, shard_path, ln->line, ln->offset,
                            "the manifest %s expects an error line (%s), found a document of %zu bytes "
                            "(fp %016" PRIx64 ")", manifest_path, ml->error, doc.len, fp);
        if (ml->ok && (ml->fp != fp || ml->len != doc.len))
            return mismatch(diag, shard_path, ln->line, ln->offset,
                            "fingerprint mismatch: the manifest %s expects fp %016" PRIx64 " (%" PRIu64
                            " bytes), found fp %016" PRIx64 " (%zu bytes): not this shard's manifest, or "
                            "the shard changed since the scan", manifest_path, ml->fp, ml->len, fp, doc.len);
    } else {
        const char *name = ts_doc_error_name(kind);
        size_t nl = strlen(name);
        if (ml->ok || strncmp(ml->error, name, nl) || (ml->error[nl] && ml->error[nl] != ':'))
            return mismatch(diag, shard_path, ln->line, ln->offset,
                            "the manifest %s expects %s%s%s, found an error line (%s)", manifest_path,
                            ml->ok ? "a document" : "an error line (", ml->ok ? "" : ml->error, ml->ok ? "" : ")",
                            name);
    }
    if (s->weights == TS_WEIGHTS_FIELD && !attrs && kind == TS_DOC_OK && doc.extra[1].kind != TS_FIELD_MISSING) {
        mismatch(diag, shard_path, ln->line, ln->offset,
                 "the document already has a field '%s' (--weights field): choose another name", s->weight_field);
        return TS_E_INVALID;
    }

    double wt;
    ts_action action = decide(s, ml, ok, &wt);
    w->counts[C_ERRORS] += !ok;
    w->counts[C_ACTIONS + action]++;
    uint64_t copies = line_copies(s, ml, ok, wt);
    w->counts[C_KEPT] += copies > 0;
    w->counts[C_DROPPED] += copies == 0;
    w->counts[C_COPIES] += copies;

    if (attrs)
        return attributes_line(&w->ac, s, out, &doc, ok, ml);
    if (copies && !ln->data) {
        /* Too long to buffer: the pipeline copied it as it read it (one copy:
         * an error line weighs 0 or 1). */
        if (!w->long_copied || copies != 1)
            return mismatch(diag, shard_path, ln->line, ln->offset, "a line of %zu bytes could not be copied",
                            ln->len);
    } else {
        for (uint64_t c = 0; c < copies; c++) {
            if (s->weights == TS_WEIGHTS_FIELD && ok)
                put_with_field(out, ln->data, ln->len, s->weight_field, wt);
            else
                ts_buf_append(out, ln->data, ln->len);
            ts_buf_append(out, "\n", 1);
        }
    }
    if (!copies && w->second)
        removed_line(w->second, ln, ml, action, wt, ok, kind);
    return out->failed || (w->second && w->second->failed) ? TS_E_NOMEM : TS_OK;
}

/* ---------------------------------------------------------------- runs */

int ts_apply_run(const ts_apply_settings *s, ts_apply_job *jobs, size_t n, ts_diag *diag)
{
    ts_diag local;
    if (!diag)
        diag = &local;
    ts_diag_clear(diag);
    for (size_t i = 0; i < n; i++) {
        jobs[i].err = TS_OK;
        ts_diag_clear(&jobs[i].diag);
        memset(&jobs[i].counts, 0, sizeof jobs[i].counts);
    }
    if ((s->attributes_name && !s->lex) || (s->weights == TS_WEIGHTS_FIELD && !s->weight_field)) {
        snprintf(diag->message, sizeof diag->message, "attributes without a lexicon, or a weight field without a name");
        return TS_E_INVALID;
    }
    apply_run A = {s, jobs};
    ts_run_settings rs;
    ts_run_settings_default(&rs);
    rs.threads = s->threads;
    rs.max_doc_bytes = s->max_doc_bytes;
    rs.cancel = s->cancel;
    ts_step step = {&A, apply_worker_create, apply_worker_free, apply_line};
    ts_shard_step ss = {
        .ctx = &A,
        .out_format = s->compress,
        .level = s->level,
        /* A chunk's manifest lines are held until its lines are done: a
         * chunk of 2 MiB of empty lines would hold 2 million of them. */
        .max_lines = APPLY_MAX_CHUNK_LINES,
        .shard_open = shard_open,
        .shard_close = shard_close,
        .chunk_read = chunk_read,
        .chunk_data_free = chunk_data_free,
        .long_line_copies = long_line_copies,
        .chunk_begin = chunk_begin,
        .chunk_end = chunk_end,
        .input_over = input_over,
    };
    ts_run *r = NULL;
    int err = ts_run_create_sharded(&rs, &step, &ss, &r, diag);
    for (size_t i = 0; !err && i < n; i++)
        err = ts_run_add_sharded(r, jobs[i].shard, jobs[i].out, s->attributes_name ? NULL : jobs[i].removed);
    if (!err)
        err = ts_run_prepare(r, NULL, diag);
    if (!err)
        err = ts_run_execute(r, diag);
    for (size_t i = 0; !err && i < n; i++) {
        uint64_t c[TS_STEP_NCOUNTS];
        ts_apply_job *j = &jobs[i];
        ts_run_sharded_result(r, i, &j->err, &j->diag, c, &j->counts.bytes_in, &j->counts.bytes_out);
        j->counts.lines_in = c[C_LINES];
        j->counts.kept = c[C_KEPT];
        j->counts.dropped = c[C_DROPPED];
        j->counts.copies = c[C_COPIES];
        j->counts.errors = c[C_ERRORS];
        for (int a = 0; a < TS_NACTIONS; a++)
            j->counts.actions[a] = c[C_ACTIONS + a];
        if (j->err == TS_E_NOMEM && !j->diag.message[0])
            snprintf(j->diag.message, sizeof j->diag.message, "out of memory");
    }
    ts_run_free(r);
    return err;
}

int ts_apply_shard(const ts_apply_settings *s, const char *shard_path, const char *manifest_path,
                   const char *out_path, const char *removed_path, ts_apply_counts *counts, ts_diag *diag)
{
    ts_apply_job j = {.shard = shard_path, .manifest = manifest_path, .out = out_path, .removed = removed_path};
    int err = ts_apply_run(s, &j, 1, diag);
    memset(counts, 0, sizeof *counts);
    if (err)
        return err;
    *counts = j.counts;
    if (diag)
        *diag = j.diag;
    return j.err;
}
