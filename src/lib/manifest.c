/* manifest.c: the manifest format (manifest.h): its writer, on the scan's
 * hot path (hand-written, no allocation per line), and its reader. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "chunk.h"
#include "json.h"
#include "manifest.h"

static void put_fixed(ts_buf *b, double v, int decimals)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    ts_buf_append(b, tmp, (size_t)n);
}

static void put_u64(ts_buf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    ts_buf_append(b, tmp, (size_t)n);
}

static void put_counts(ts_buf *b, const char *key, const ts_lexicon *lex, const uint32_t *counts, uint32_t n)
{
    ts_buf_puts(b, key);
    ts_buf_puts(b, "{");
    int first = 1;
    for (uint32_t i = 0; counts && i < n; i++) {
        if (!counts[i])
            continue;
        if (!first)
            ts_buf_puts(b, ",");
        first = 0;
        ts_buf_puts(b, "\"");
        ts_buf_puts(b, ts_lexicon_category_name(lex, i));
        ts_buf_puts(b, "\":");
        put_u64(b, counts[i]);
    }
    ts_buf_puts(b, "}");
}

void ts_manifest_append(ts_buf *b, const ts_manifest_rec *r)
{
    ts_buf_puts(b, "{\"line\":");
    put_u64(b, r->line);
    ts_buf_puts(b, ",\"offset\":");
    put_u64(b, r->offset);
    ts_buf_puts(b, ",\"id\":");
    if (r->id_kind == TS_ID_NULL) {
        ts_buf_puts(b, "null");
    } else {
        ts_buf_puts(b, "\"");
        ts_buf_append(b, r->id, r->id_len);
        ts_buf_puts(b, "\"");
    }
    if (r->ok) {
        ts_buf_puts(b, ",\"len\":");
        put_u64(b, r->len);
        char fp[24];
        snprintf(fp, sizeof fp, "%016" PRIx64, r->fp);
        ts_buf_puts(b, ",\"fp\":\"");
        ts_buf_puts(b, fp);
        ts_buf_puts(b, "\"");
    } else {
        ts_buf_puts(b, ",\"len\":null,\"fp\":null");
    }
    ts_buf_puts(b, ",\"score\":");
    if (r->score >= 0)
        put_fixed(b, r->score, 6);
    else
        ts_buf_puts(b, "null");
    ts_buf_puts(b, ",\"aligned\":");
    if (r->aligned >= 0)
        put_fixed(b, r->aligned, 6);
    else
        ts_buf_puts(b, "null");
    ts_buf_puts(b, ",\"action\":\"");
    ts_buf_puts(b, ts_action_name(r->action));
    ts_buf_puts(b, "\",\"weight\":");
    put_fixed(b, r->weight, 4);
    const uint32_t n = r->m ? r->m->ncategories : 0;
    put_counts(b, ",\"tropes\":", r->lex, r->m ? r->m->raw : NULL, n);
    put_counts(b, ",\"anchored\":", r->lex, r->m ? r->m->anchored : NULL, n);
    ts_buf_puts(b, ",\"spans\":[");
    for (size_t i = 0; i < r->nspans; i++) {
        ts_buf_puts(b, i ? ",[" : "[");
        put_u64(b, r->spans[i].start);
        ts_buf_puts(b, ",");
        put_u64(b, r->spans[i].end);
        ts_buf_puts(b, ",");
        put_fixed(b, r->spans[i].score, 6);
        ts_buf_puts(b, "]");
    }
    ts_buf_puts(b, "]");
    if (r->ok) {
        ts_buf_puts(b, ",\"status\":\"ok\"}\n");
        return;
    }
    ts_buf_puts(b, ",\"status\":\"error\",\"error\":\"");
    ts_buf_puts(b, r->error_kind ? r->error_kind : "error");
    if (r->error_detail) {
        /* Details are ours (no quotes or control characters), but escape anyway. */
        char esc[6 * 200 + 1];
        size_t dl = strlen(r->error_detail);
        if (dl > 200)
            dl = 200;
        ts_buf_puts(b, ": ");
        ts_buf_append(b, esc, json_string_escape(r->error_detail, dl, esc));
    }
    ts_buf_puts(b, "\"}\n");
}

/* ---------------------------------------------------------------- reading */
/*
 * The reader streams: a file goes through reader.c and chunk.c (zstd, gzip
 * or plain by magic bytes, faults reported after the good bytes), so memory
 * holds one chunk, whatever the manifest's size. Every line is checked
 * against the contract above: each key present with its type, the line
 * numbers 1, 2, 3, ..., ok lines with len and fp, error lines with an error.
 */
#define MANIFEST_MAX_LINE ((size_t)256 << 20)

enum { K_LINE, K_OFFSET, K_ID, K_LEN, K_FP, K_SCORE, K_ALIGNED, K_ACTION, K_WEIGHT, K_TROPES, K_ANCHORED,
       K_SPANS, K_STATUS, K_ERROR, NKEYS };
static const char *const key_names[NKEYS] = {"line", "offset", "id", "len", "fp", "score", "aligned", "action",
                                            "weight", "tropes", "anchored", "spans", "status", "error"};

struct ts_manifest_reader {
    char name[512];
    /* a file: chunks of lines */
    ts_chunker *chunker;
    ts_chunk chunk;
    int have_chunk;
    /* memory: the decompressed bytes */
    char *mem;
    size_t mem_len;
    int mem_err;                /* a fault after mem's bytes */
    ts_diag mem_diag;
    /* the current buffer of lines */
    const char *buf;
    size_t len, pos;
    uint64_t buf_offset;        /* decompressed offset of buf[0] */
    int tail_cut;               /* buf's last line was cut by a fault */
    int pending_err;
    ts_diag pending_diag;
    int done;
    uint64_t lines;             /* lines returned */
    json_path paths[NKEYS];
    char *text;                 /* decoded id and error */
    size_t text_cap;
};

static int reader_init(ts_manifest_reader *r, const char *name)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    for (int k = 0; k < NKEYS; k++)
        if (json_path_parse(key_names[k], &r->paths[k]) != 0)
            return TS_E_INVALID;
    return TS_OK;
}

int ts_manifest_open(const char *path, ts_manifest_reader **out, ts_diag *diag)
{
    *out = NULL;
    ts_diag_clear(diag);
    ts_manifest_reader *r = calloc(1, sizeof *r);
    if (!r)
        return TS_E_NOMEM;
    ts_reader *rd = NULL;
    int err = reader_init(r, path);
    if (!err)
        err = ts_reader_open(path, &rd, diag);
    if (!err && (err = ts_chunker_create(rd, 1u << 20, MANIFEST_MAX_LINE, &r->chunker)) != TS_OK)
        ts_reader_free(rd);
    if (err) {
        free(r);
        return err;
    }
    *out = r;
    return TS_OK;
}

int ts_manifest_open_memory(const void *data, size_t len, ts_manifest_reader **out, ts_diag *diag)
{
    *out = NULL;
    ts_diag_clear(diag);
    ts_manifest_reader *r = calloc(1, sizeof *r);
    if (!r)
        return TS_E_NOMEM;
    reader_init(r, "(memory)");
    static const unsigned char zmagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (len >= 4 && !memcmp(data, zmagic, 4)) {
        ZSTD_DStream *z = ZSTD_createDStream();
        ts_buf b = {0};
        size_t left = 1;
        ZSTD_inBuffer in = {data, len, 0};
        if (!z) {
            free(r);
            return TS_E_NOMEM;
        }
        while (in.pos < in.size || left) {
            if (!ts_buf_reserve(&b, 1 << 16))
                break;
            ZSTD_outBuffer o = {b.data + b.len, b.cap - b.len, 0};
            size_t before = in.pos;
            left = ZSTD_decompressStream(z, &o, &in);
            b.len += o.pos;
            if (ZSTD_isError(left)) {
                r->mem_err = TS_E_DECOMPRESS;
                snprintf(r->mem_diag.message, sizeof r->mem_diag.message, "%s", ZSTD_getErrorName(left));
                r->mem_diag.offset = in.pos;
                break;
            }
            if (b.len > MANIFEST_MAX_LINE) {
                r->mem_err = TS_E_LIMIT;
                snprintf(r->mem_diag.message, sizeof r->mem_diag.message, "more than %zu bytes", MANIFEST_MAX_LINE);
                break;
            }
            if (in.pos == in.size && o.pos == 0 && before == in.pos) {
                if (left) {
                    r->mem_err = TS_E_TRUNCATED;
                    snprintf(r->mem_diag.message, sizeof r->mem_diag.message, "the zstd stream is cut");
                    r->mem_diag.offset = in.pos;
                }
                break;
            }
        }
        ZSTD_freeDStream(z);
        if (b.failed) {
            ts_buf_free(&b);
            free(r);
            return TS_E_NOMEM;
        }
        r->mem = b.data;
        r->mem_len = b.len;
    } else {
        if (len && !(r->mem = malloc(len))) {
            free(r);
            return TS_E_NOMEM;
        }
        if (len)
            memcpy(r->mem, data, len);
        r->mem_len = len;
    }
    r->buf = r->mem;
    r->len = r->mem_len;
    r->tail_cut = r->mem_err && r->len && r->buf[r->len - 1] != '\n';
    r->pending_err = r->mem_err;
    r->pending_diag = r->mem_diag;
    r->have_chunk = 1;
    r->chunk.final = 1;
    *out = r;
    return TS_OK;
}

void ts_manifest_close(ts_manifest_reader *r)
{
    if (!r)
        return;
    ts_chunker_free(r->chunker);
    ts_chunk_release(&r->chunk);
    free(r->mem);
    free(r->text);
    free(r);
}

static int fail(ts_manifest_reader *r, ts_diag *diag, int err, uint64_t offset, const char *fmt, const char *what)
{
    r->done = 1;
    if (diag) {
        ts_diag_clear(diag);
        snprintf(diag->file, sizeof diag->file, "%s", r->name);
        diag->line = r->lines + 1;
        diag->offset = offset;
        snprintf(diag->message, sizeof diag->message, fmt, what);
    }
    return err;
}

/* The unsigned integer literal of f. @return 0, or -1. */
static int field_u64(const json_field *f, uint64_t *out)
{
    if (f->kind != JSON_NUMBER || f->raw_len == 0 || f->raw_len > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < f->raw_len; i++) {
        unsigned d = (unsigned char)f->raw[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int is_null(const json_field *f) { return f->kind == JSON_OTHER && f->raw_len == 4 && !memcmp(f->raw, "null", 4); }

/* A probability or null (-1). @return 0, or -1. */
static int field_prob(const json_field *f, double *out)
{
    if (is_null(f)) {
        *out = -1;
        return 0;
    }
    if (f->kind != JSON_NUMBER || f->raw_len > 40)
        return -1;
    char tmp[48];
    memcpy(tmp, f->raw, f->raw_len);
    tmp[f->raw_len] = '\0';
    char *end;
    *out = strtod(tmp, &end);
    return *end || !(*out >= 0) ? -1 : 0;
}

static int parse_line(ts_manifest_reader *r, const char *line, size_t len, uint64_t offset, ts_manifest_line *out,
                      ts_diag *diag)
{
    json_field f[NKEYS];
    size_t eoff = 0;
    int jerr = json_extract(line, len, r->paths, NKEYS, f, &eoff);
    if (jerr) {
        char what[64];
        snprintf(what, sizeof what, "%s at byte %zu of the line", json_error_name(jerr), eoff);
        return fail(r, diag, TS_E_FORMAT, offset, "not a manifest line: invalid JSON (%s)", what);
    }
    for (int k = 0; k < NKEYS; k++)
        if (k != K_ERROR && f[k].kind == JSON_MISSING)
            return fail(r, diag, TS_E_FORMAT, offset, "not a manifest line: no \"%s\"", key_names[k]);
    /* The keys in the contract's order (a writer of ours never reorders them). */
    for (int k = 1, prev = 0; k < NKEYS; k++) {
        if (f[k].kind == JSON_MISSING)
            continue;
        if (f[k].raw <= f[prev].raw)
            return fail(r, diag, TS_E_FORMAT, offset, "not a manifest line: \"%s\" out of order", key_names[k]);
        prev = k;
    }
    memset(out, 0, sizeof *out);
    const char *bad = NULL;
    uint64_t fp = 0;
    if (field_u64(&f[K_LINE], &out->line))
        bad = "line";
    else if (out->line != r->lines + 1)
        return fail(r, diag, TS_E_FORMAT, offset, "\"line\" is not the next line number (%s)",
                    "a manifest numbers its lines 1, 2, 3, ...");
    else if (field_u64(&f[K_OFFSET], &out->offset))
        bad = "offset";
    else if (!(f[K_ID].kind == JSON_STRING || is_null(&f[K_ID])))
        bad = "id";
    else if (f[K_STATUS].kind != JSON_STRING ||
             !((f[K_STATUS].raw_len == 2 && !memcmp(f[K_STATUS].raw, "ok", 2)) ||
               (f[K_STATUS].raw_len == 5 && !memcmp(f[K_STATUS].raw, "error", 5))))
        bad = "status";
    if (bad)
        return fail(r, diag, TS_E_FORMAT, offset, "\"%s\" is missing or of the wrong type", bad);
    out->ok = f[K_STATUS].raw_len == 2;
    if (out->ok) {
        if (field_u64(&f[K_LEN], &out->len))
            bad = "len";
        else if (f[K_FP].kind != JSON_STRING || f[K_FP].raw_len != 16)
            bad = "fp";
        else if (f[K_ERROR].kind != JSON_MISSING)
            bad = "error";
        for (size_t i = 0; !bad && i < 16; i++) {
            char c = f[K_FP].raw[i];
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
            if (d > 15)
                bad = "fp";
            fp = fp << 4 | d;
        }
        out->fp = fp;
    } else if (!is_null(&f[K_LEN]) || !is_null(&f[K_FP]) || f[K_ERROR].kind != JSON_STRING) {
        bad = "len, fp or error (of an error line)";
    }
    double weight = 0;
    if (!bad && (field_prob(&f[K_SCORE], &out->score) || out->score > 1))
        bad = "score";
    if (!bad && (field_prob(&f[K_ALIGNED], &out->aligned) || out->aligned > 1))
        bad = "aligned";
    if (!bad && (field_prob(&f[K_WEIGHT], &weight) || weight < 0))
        bad = "weight";
    out->weight = weight;
    if (!bad) {
        int a = 0;
        while (a < TS_NACTIONS && !(f[K_ACTION].kind == JSON_STRING &&
                                    f[K_ACTION].raw_len == strlen(ts_action_name((ts_action)a)) &&
                                    !memcmp(f[K_ACTION].raw, ts_action_name((ts_action)a), f[K_ACTION].raw_len)))
            a++;
        if (a == TS_NACTIONS)
            bad = "action";
        out->action = (ts_action)a;
    }
    if (!bad && (f[K_TROPES].kind != JSON_OTHER || f[K_TROPES].raw[0] != '{'))
        bad = "tropes";
    if (!bad && (f[K_ANCHORED].kind != JSON_OTHER || f[K_ANCHORED].raw[0] != '{'))
        bad = "anchored";
    if (!bad && (f[K_SPANS].kind != JSON_OTHER || f[K_SPANS].raw[0] != '['))
        bad = "spans";
    if (bad)
        return fail(r, diag, TS_E_FORMAT, offset, "\"%s\" is missing or of the wrong type", bad);
    /* The id and the error, decoded into one buffer. */
    size_t need = f[K_ID].raw_len + 1 + (out->ok ? 0 : f[K_ERROR].raw_len) + 1;
    if (need > r->text_cap) {
        char *t = realloc(r->text, need);
        if (!t)
            return fail(r, diag, TS_E_NOMEM, offset, "%s", "out of memory");
        r->text = t;
        r->text_cap = need;
    }
    size_t at = 0;
    if (f[K_ID].kind == JSON_STRING) {
        ptrdiff_t k = json_string_decode(f[K_ID].raw, f[K_ID].raw_len, r->text, &eoff);
        if (k < 0)
            return fail(r, diag, TS_E_FORMAT, offset, "\"%s\" does not decode", "id");
        r->text[k] = '\0';
        out->has_id = 1;
        at = (size_t)k + 1;
    }
    if (!out->ok) {
        ptrdiff_t k = json_string_decode(f[K_ERROR].raw, f[K_ERROR].raw_len, r->text + at, &eoff);
        if (k < 0)
            return fail(r, diag, TS_E_FORMAT, offset, "\"%s\" does not decode", "error");
        r->text[at + (size_t)k] = '\0';
        out->error = r->text + at;
    }
    if (out->has_id)
        out->id = r->text;
    out->tropes = f[K_TROPES].raw;
    out->tropes_len = f[K_TROPES].raw_len;
    out->spans = f[K_SPANS].raw;
    out->spans_len = f[K_SPANS].raw_len;
    out->anchored = f[K_ANCHORED].raw;
    out->anchored_len = f[K_ANCHORED].raw_len;
    r->lines++;
    return 1;
}

int ts_manifest_next(ts_manifest_reader *r, ts_manifest_line *out, ts_diag *diag)
{
    for (;;) {
        if (r->done)
            return 0;
        if (r->have_chunk && r->pos < r->len) {
            const char *p = r->buf + r->pos;
            const char *nl = memchr(p, '\n', r->len - r->pos);
            size_t len = nl ? (size_t)(nl - p) : r->len - r->pos;
            uint64_t offset = r->buf_offset + r->pos;
            r->pos += nl ? len + 1 : len;
            if (!nl && r->tail_cut)
                return fail(r, diag, r->pending_err ? r->pending_err : TS_E_TRUNCATED, offset,
                            "the manifest is cut inside this line (%s)", "a truncated or damaged file");
            return parse_line(r, p, len, offset, out, diag);
        }
        if (r->pending_err) {
            int err = r->pending_err;
            char msg[sizeof r->pending_diag.message];
            snprintf(msg, sizeof msg, "%s", r->pending_diag.message[0] ? r->pending_diag.message : ts_strerror(err));
            return fail(r, diag, err, r->buf_offset + r->len, "the manifest is cut or damaged after its last whole line: %.400s",
                        msg);
        }
        if (!r->chunker || (r->have_chunk && r->chunk.final)) {
            r->done = 1;
            return 0;
        }
        int k = ts_chunker_next(r->chunker, &r->chunk);
        if (k < 0)
            return fail(r, diag, k, UINT64_MAX, "%s", ts_strerror(k));
        if (k == 0) {
            r->done = 1;
            return 0;
        }
        r->have_chunk = 1;
        if (r->chunk.oversize_len)
            return fail(r, diag, TS_E_LIMIT, r->chunk.offset, "a line longer than %s", "256 MiB");
        r->buf = r->chunk.data;
        r->len = r->chunk.len;
        r->pos = 0;
        r->buf_offset = r->chunk.offset;
        r->tail_cut = r->chunk.truncated_tail;
        r->pending_err = r->chunk.err;
        r->pending_diag = r->chunk.diag;
    }
}
