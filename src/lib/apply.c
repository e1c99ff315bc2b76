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

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "buf.h"
#include "chunk.h"
#include "docs.h"
#include "json.h"

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

/* Lines longer than this cannot be copied to the output (they are not held
 * in memory); a shard that must keep one fails with a message saying so. */
#define APPLY_MAX_COPY_LINE ((uint64_t)64 << 20)
#define APPLY_CHUNK (1u << 20)
#define FLUSH_AT (1u << 20)

/* ---------------------------------------------------------------- output */

/* One output file in one format: text is buffered, compressed and written
 * through an outfile. */
typedef struct ostream {
    ts_outfile *f;
    ts_format fmt;
    ZSTD_CCtx *z;
    struct isal_zstream gz;
    uint8_t *gz_level_buf;
    ts_buf text;
    ts_buf packed;
    uint64_t bytes;
    int failed;
} ostream;

static int os_open(ostream *o, const char *path, ts_format fmt, int level, int worker, ts_diag *diag)
{
    memset(o, 0, sizeof *o);
    o->fmt = fmt;
    if (fmt == TS_FORMAT_ZSTD) {
        if (!(o->z = ZSTD_createCCtx()))
            return TS_E_NOMEM;
        ZSTD_CCtx_setParameter(o->z, ZSTD_c_compressionLevel, level < 0 ? 3 : level);
        ZSTD_CCtx_setParameter(o->z, ZSTD_c_checksumFlag, 1);
        /* One compression worker beside the reading thread, as in `zstd -dc |
         * zstd -3`: compression (most of apply's work) overlaps reading and
         * checking. zstd's output is the same for any nbWorkers >= 1, so it
         * does not depend on the threads either. The exclusion log, small,
         * goes without (a worker costs tens of MB of buffers). */
        if (worker)
            ZSTD_CCtx_setParameter(o->z, ZSTD_c_nbWorkers, 1);
    } else if (fmt == TS_FORMAT_GZIP) {
        static const uint32_t sizes[] = {0, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT};
        int lv = level < 0 ? 1 : level > 3 ? 3 : level;
        isal_deflate_init(&o->gz);
        o->gz.gzip_flag = IGZIP_GZIP;
        o->gz.level = (uint32_t)lv;
        if (sizes[lv]) {
            if (!(o->gz_level_buf = malloc(sizes[lv])))
                return TS_E_NOMEM;
            o->gz.level_buf = o->gz_level_buf;
            o->gz.level_buf_size = sizes[lv];
        }
    }
    return ts_outfile_open(path, &o->f, diag);
}

static int os_write(ostream *o, const void *p, size_t n, ts_diag *diag)
{
    if (ts_outfile_write(o->f, p, n, diag) != TS_OK) {
        o->failed = 1;
        return TS_E_IO;
    }
    o->bytes += n;
    return TS_OK;
}

/* Compresses and writes the buffered text; last ends the stream. */
static int os_flush(ostream *o, int last, ts_diag *diag)
{
    if (o->text.failed || o->packed.failed)
        return TS_E_NOMEM;
    int err = TS_OK;
    if (o->fmt == TS_FORMAT_PLAIN) {
        err = o->text.len ? os_write(o, o->text.data, o->text.len, diag) : TS_OK;
    } else if (o->fmt == TS_FORMAT_ZSTD) {
        ZSTD_inBuffer in = {o->text.data, o->text.len, 0};
        for (;;) {
            size_t room = ZSTD_CStreamOutSize();
            if (!ts_buf_reserve(&o->packed, room))
                return TS_E_NOMEM;
            ZSTD_outBuffer out = {o->packed.data, room, 0};
            size_t left = ZSTD_compressStream2(o->z, &out, &in, last ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(left))
                return TS_E_NOMEM;
            if (out.pos && (err = os_write(o, o->packed.data, out.pos, diag)))
                return err;
            if (last ? left == 0 : in.pos == in.size)
                break;
        }
    } else {
        o->gz.next_in = (uint8_t *)o->text.data;
        o->gz.avail_in = (uint32_t)o->text.len;
        o->gz.end_of_stream = (uint16_t)last;
        o->gz.flush = NO_FLUSH;
        for (;;) {
            size_t room = 1u << 18;
            if (!ts_buf_reserve(&o->packed, room))
                return TS_E_NOMEM;
            o->gz.next_out = (uint8_t *)o->packed.data;
            o->gz.avail_out = (uint32_t)room;
            if (isal_deflate(&o->gz) != COMP_OK)
                return TS_E_NOMEM;
            size_t got = room - o->gz.avail_out;
            if (got && (err = os_write(o, o->packed.data, got, diag)))
                return err;
            if (o->gz.avail_in == 0 && (!last || o->gz.internal_state.state == ZSTATE_END))
                break;
        }
    }
    o->text.len = 0;
    return err;
}

static int os_maybe_flush(ostream *o, ts_diag *diag)
{
    return o->text.len >= FLUSH_AT ? os_flush(o, 0, diag) : (o->text.failed ? TS_E_NOMEM : TS_OK);
}

static void os_free(ostream *o)
{
    ZSTD_freeCCtx(o->z);
    free(o->gz_level_buf);
    ts_buf_free(&o->text);
    ts_buf_free(&o->packed);
    ts_outfile_abort(o->f);
    memset(o, 0, sizeof *o);
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

/* ---------------------------------------------------------------- the shard */

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

int ts_apply_shard(const ts_apply_settings *s, const char *shard_path, const char *manifest_path,
                   const char *out_path, const char *removed_path, ts_apply_counts *counts, ts_diag *diag)
{
    ts_diag local;
    if (!diag)
        diag = &local;
    ts_diag_clear(diag);
    memset(counts, 0, sizeof *counts);
    int attrs = s->attributes_name != NULL;
    if ((attrs && !s->lex) || (s->weights == TS_WEIGHTS_FIELD && !s->weight_field))
        return TS_E_INVALID;
    ts_reader *rd = NULL;
    ts_chunker *ch = NULL;
    ts_chunk chunk = {0};
    ts_doc_parser *parser = NULL;
    ts_manifest_reader *mr = NULL;
    ostream out = {0}, rem = {0};
    attr_ctx ac = {0};
    ts_buf rec = {0};
    int have_rem = 0, rem_committed = 0;
    int err = ts_manifest_open(manifest_path, &mr, diag);
    if (err) {
        if (!diag->message[0])
            snprintf(diag->message, sizeof diag->message, "cannot read the manifest");
        goto done;
    }
    if ((err = ts_reader_open(shard_path, &rd, diag)))
        goto done;
    uint64_t max_line = s->max_doc_bytes > APPLY_MAX_COPY_LINE ? s->max_doc_bytes : APPLY_MAX_COPY_LINE;
    if ((err = ts_chunker_create(rd, APPLY_CHUNK, (size_t)max_line, &ch))) {
        ts_reader_free(rd);
        goto done;
    }
    ts_docs_settings ds;
    ts_docs_settings_default(&ds);
    ds.text_field = s->text_field;
    ds.id_field = s->id_field;
    ds.max_doc_bytes = s->max_doc_bytes;
    ds.extra[0] = "source";
    ds.nextra = 1;
    if (s->weights == TS_WEIGHTS_FIELD && !attrs) {
        ds.extra[1] = s->weight_field;
        ds.nextra = 2;
    }
    if ((err = ts_doc_parser_create(&ds, &parser)))
        goto done;
    if (attrs && (err = ts_scanner_create(s->lex, NULL, TS_DEFAULT_ANCHOR_WORDS, 1, &ac.scanner)))
        goto done;

    int fmt = s->compress;
    /* The input's format is known after its first bytes: read the first chunk now. */
    int k = ts_chunker_next(ch, &chunk);
    if (k < 0) {
        err = k;
        goto done;
    }
    if (fmt < 0)
        fmt = (int)ts_reader_format(ts_chunker_reader(ch));
    if ((err = os_open(&out, out_path, (ts_format)fmt, s->level, 1, diag)))
        goto done;
    if (removed_path && !attrs) {
        if ((err = os_open(&rem, removed_path, (ts_format)fmt, s->level, 0, diag)))
            goto done;
        have_rem = 1;
    }

    for (; k > 0; k = chunk.final ? 0 : ts_chunker_next(ch, &chunk)) {
        ts_line_cursor lc;
        ts_line ln;
        ts_lines_begin(&lc, &chunk, s->max_doc_bytes);
        while (ts_lines_next(&lc, &ln)) {
            counts->lines_in++;
            ts_manifest_line ml;
            int m = ts_manifest_next(mr, &ml, diag);
            if (m < 0) {
                err = m;
                goto done;
            }
            if (m == 0) {
                err = mismatch(diag, shard_path, ln.line, ln.offset,
                               "the manifest %s ends at line %" PRIu64 " but the shard goes on: not this shard's "
                               "manifest, or the shard changed since the scan", manifest_path, ln.line - 1);
                goto done;
            }
            if (ml.line != ln.line || ml.offset != ln.offset) {
                err = mismatch(diag, shard_path, ln.line, ln.offset,
                               "the manifest %s expects line %" PRIu64 " at byte %" PRIu64 ", found line %" PRIu64
                               " at byte %" PRIu64 ": the shard changed since the scan",
                               manifest_path, ml.line, ml.offset, ln.line, ln.offset);
                goto done;
            }
            ts_doc doc;
            memset(&doc, 0, sizeof doc);
            int kind = ln.error;
            if (!kind) {
                if ((err = ts_doc_parse(parser, ln.data, ln.len, &doc)))
                    goto done;
                kind = doc.error;
            }
            int ok = kind == TS_DOC_OK && ml.ok;
            if (kind == TS_DOC_OK) {
                uint64_t fp = XXH64(doc.text, doc.len, 0);
                if (!ml.ok && strncmp(ml.error, "scan_failed", 11)) {
                    err = mismatch(diag, shard_path, ln.line, ln.offset,
                                   "the manifest %s expects an error line (%s), found a document of %zu bytes "
                                   "(fp %016" PRIx64 ")", manifest_path, ml.error, doc.len, fp);
                    goto done;
                }
                if (ml.ok && (ml.fp != fp || ml.len != doc.len)) {
                    err = mismatch(diag, shard_path, ln.line, ln.offset,
                                   "fingerprint mismatch: the manifest %s expects fp %016" PRIx64 " (%" PRIu64
                                   " bytes), found fp %016" PRIx64 " (%zu bytes): not this shard's manifest, or "
                                   "the shard changed since the scan", manifest_path, ml.fp, ml.len, fp, doc.len);
                    goto done;
                }
            } else {
                const char *name = ts_doc_error_name(kind);
                size_t nl = strlen(name);
                if (ml.ok || strncmp(ml.error, name, nl) || (ml.error[nl] && ml.error[nl] != ':')) {
                    err = mismatch(diag, shard_path, ln.line, ln.offset,
                                   "the manifest %s expects %s%s%s, found an error line (%s)", manifest_path,
                                   ml.ok ? "a document" : "an error line (", ml.ok ? "" : ml.error,
                                   ml.ok ? "" : ")", name);
                    goto done;
                }
            }
            if (s->weights == TS_WEIGHTS_FIELD && !attrs && kind == TS_DOC_OK &&
                doc.extra[1].kind != TS_FIELD_MISSING) {
                err = mismatch(diag, shard_path, ln.line, ln.offset,
                               "the document already has a field '%s' (--weights field): choose another name",
                               s->weight_field);
                err = TS_E_INVALID;
                goto done;
            }

            /* Decide. */
            ts_action action;
            double w;
            if (!ok) {
                counts->errors++;
                action = s->error_action < 0 ? ml.action : s->error_action ? TS_ACTION_DROP : TS_ACTION_KEEP;
                w = action == TS_ACTION_DROP ? 0 : 1;
            } else if (s->redecide) {
                action = ts_policy_decide_rules(&s->policy, s->rules, s->nrules, ml.score, ml.aligned, ml.tropes,
                                                ml.tropes_len, ml.anchored, ml.anchored_len, &w);
            } else {
                action = ml.action;
                w = ml.weight;
            }
            counts->actions[action]++;
            uint64_t copies = s->weights == TS_WEIGHTS_FIELD ? w > 0 : copies_of(w, ml.fp, ok, s->seed);
            counts->kept += copies > 0;
            counts->dropped += copies == 0;
            counts->copies += copies;

            if (attrs) {
                if ((err = attributes_line(&ac, s, &out.text, &doc, ok, &ml)) || (err = os_maybe_flush(&out, diag)))
                    goto done;
                continue;
            }
            if (copies && !ln.data) {
                err = mismatch(diag, shard_path, ln.line, ln.offset,
                               "a line of %zu bytes is to be kept but is longer than apply copies (%" PRIu64
                               " bytes)", ln.len, max_line);
                err = TS_E_LIMIT;
                goto done;
            }
            for (uint64_t c = 0; c < copies; c++) {
                if (s->weights == TS_WEIGHTS_FIELD && ok)
                    put_with_field(&out.text, ln.data, ln.len, s->weight_field, w);
                else
                    ts_buf_append(&out.text, ln.data, ln.len);
                ts_buf_append(&out.text, "\n", 1);
                if ((err = os_maybe_flush(&out, diag)))
                    goto done;
            }
            if (!copies && have_rem) {
                ts_buf *b = &rem.text;
                ts_buf_puts(b, "{\"line\":");
                put_u64(b, ln.line);
                ts_buf_puts(b, ",\"offset\":");
                put_u64(b, ln.offset);
                ts_buf_puts(b, ",\"id\":");
                if (ml.has_id)
                    put_json_string(b, ml.id, strlen(ml.id));
                else
                    ts_buf_puts(b, "null");
                ts_buf_puts(b, ",\"action\":\"");
                ts_buf_puts(b, ts_action_name(action));
                ts_buf_puts(b, "\",\"weight\":");
                put_num(b, "%.4f", w);
                ts_buf_puts(b, ",\"reason\":");
                const char *why = !ok ? ml.error : action == TS_ACTION_DROP ? "dropped" : "sampled out";
                put_json_string(b, why, strlen(why));
                ts_buf_puts(b, ",\"score\":");
                if (ml.score >= 0)
                    put_num(b, "%.6f", ml.score);
                else
                    ts_buf_puts(b, "null");
                ts_buf_puts(b, ",\"aligned\":");
                if (ml.aligned >= 0)
                    put_num(b, "%.6f", ml.aligned);
                else
                    ts_buf_puts(b, "null");
                ts_buf_puts(b, ",\"tropes\":");
                ts_buf_append(b, ml.tropes ? ml.tropes : "{}", ml.tropes ? ml.tropes_len : 2);
                ts_buf_puts(b, ",\"anchored\":");
                ts_buf_append(b, ml.anchored ? ml.anchored : "{}", ml.anchored ? ml.anchored_len : 2);
                ts_buf_puts(b, ",\"document\":");
                if (kind == TS_DOC_OK)
                    ts_buf_append(b, ln.data, ln.len);
                else if (ln.data)
                    put_json_string(b, ln.data, ln.len);
                else
                    ts_buf_puts(b, "null");
                ts_buf_puts(b, "}\n");
                if ((err = os_maybe_flush(&rem, diag)))
                    goto done;
            }
        }
        if (chunk.err) {
            err = chunk.err;
            *diag = chunk.diag;
            if (!diag->file[0])
                snprintf(diag->file, sizeof diag->file, "%s", shard_path);
            goto done;
        }
    }
    if (k < 0) {
        err = k;
        goto done;
    }
    {
        ts_manifest_line ml;
        int m = ts_manifest_next(mr, &ml, diag);
        if (m < 0) {
            err = m;
            goto done;
        }
        if (m > 0) {
            err = mismatch(diag, shard_path, counts->lines_in + 1, UINT64_MAX,
                           "the shard ends after %" PRIu64 " lines but the manifest %s goes on (line %" PRIu64
                           "): not this shard's manifest, or the shard changed since the scan",
                           counts->lines_in, manifest_path, ml.line);
            goto done;
        }
    }
    if ((err = os_flush(&out, 1, diag)) || (have_rem && (err = os_flush(&rem, 1, diag))))
        goto done;
    counts->bytes_in = ts_reader_bytes_in(ts_chunker_reader(ch));
    counts->bytes_out = out.bytes;
    /* Commit: the removed lines first, so that a shard under its final name
     * always has its exclusion log beside it. */
    if (have_rem) {
        have_rem = 0;
        ts_outfile *f = rem.f;
        rem.f = NULL;
        if ((err = ts_outfile_commit(f, diag)))
            goto done;
        rem_committed = 1;
    }
    {
        ts_outfile *f = out.f;
        out.f = NULL;
        err = ts_outfile_commit(f, diag);
    }
done:
    if (err == TS_E_NOMEM && !diag->message[0])
        snprintf(diag->message, sizeof diag->message, "out of memory");
    if (err && !diag->file[0])
        snprintf(diag->file, sizeof diag->file, "%s", shard_path);
    if (err && rem_committed) {
        /* The exclusion log was committed but the shard failed: not left alone. */
        remove(removed_path);
    }
    os_free(&out);
    os_free(&rem);
    ts_chunker_free(ch);
    ts_chunk_release(&chunk);
    ts_doc_parser_free(parser);
    ts_manifest_close(mr);
    ts_scanner_free(ac.scanner);
    free(ac.spans);
    free(ac.offs);
    free(ac.tmp);
    ts_buf_free(&rec);
    return err;
}
