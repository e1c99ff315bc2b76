/*
 * docs.c: the one document reader. Bytes come from reader.c and chunk.c as
 * chunks of whole lines; this file turns lines into documents (id and
 * decoded text) or errors of a stable kind, for every command alike:
 *
 *   too_long         a line over max_doc_bytes (kept as its length only)
 *   truncated_input  the last line of an input cut by a fault
 *   empty_line       spaces, tabs and a CR only
 *   invalid_json     not one JSON object (json.c says why, and where)
 *   missing_text, text_not_string, invalid_text (a lone surrogate)
 *
 * The pipeline cuts lines itself (ts_lines_next) and parses them with a
 * per-thread parser (ts_doc_parse); ts_docs is the same two halves behind one
 * iterator, for the commands that read one document at a time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docs.h"
#include "json.h"

const char *ts_doc_error_name(int kind)
{
    static const char *const names[TS_DOC_NKINDS] = {
        "ok", "empty_line", "invalid_json", "missing_text", "text_not_string", "invalid_text",
        "too_long", "truncated_input", "scan_failed",
    };
    return kind >= 0 && kind < TS_DOC_NKINDS ? names[kind] : "error";
}

/* ---------------------------------------------------------------- lines */

void ts_lines_begin(ts_line_cursor *lc, const ts_chunk *c, uint64_t max_doc_bytes)
{
    lc->c = c;
    lc->max_doc_bytes = max_doc_bytes;
    lc->pos = 0;
    lc->line_no = c->first_line;
    lc->oversize_pending = c->oversize_len > 0;
}

int ts_lines_next(ts_line_cursor *lc, ts_line *out)
{
    const ts_chunk *c = lc->c;
    if (lc->oversize_pending) {
        lc->oversize_pending = 0;
        snprintf(lc->detail, sizeof lc->detail, "a line of %" PRIu64 " bytes exceeds --max-doc-bytes %" PRIu64,
                 c->oversize_len, lc->max_doc_bytes);
        *out = (ts_line){NULL, (size_t)c->oversize_len, c->first_line, c->offset, TS_DOC_TOO_LONG, lc->detail};
        lc->line_no++;
        return 1;
    }
    if (lc->pos >= c->len)
        return 0;
    const char *p = c->data + lc->pos;
    const char *end = c->data + c->len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    *out = (ts_line){p, len, lc->line_no, c->offset + lc->pos, TS_DOC_OK, NULL};
    if (len > lc->max_doc_bytes) {
        /* It fit in the chunk, but the limit is the limit, whatever the buffer. */
        snprintf(lc->detail, sizeof lc->detail, "a line of %zu bytes exceeds --max-doc-bytes %" PRIu64, len,
                 lc->max_doc_bytes);
        out->error = TS_DOC_TOO_LONG;
        out->detail = lc->detail;
    } else if (!nl && c->truncated_tail) {
        out->error = TS_DOC_TRUNCATED_INPUT;
        out->detail = "the input ends inside this line";
    }
    lc->line_no++;
    lc->pos = nl ? (size_t)(nl + 1 - c->data) : c->len;
    return 1;
}

/* ---------------------------------------------------------------- parsing */

struct ts_doc_parser {
    json_path paths[2 + TS_DOC_MAX_EXTRA];
    size_t npaths;
    int has_id;
    char *decoded;
    size_t decoded_cap;
    char detail[96];
};

void ts_docs_settings_default(ts_docs_settings *s)
{
    memset(s, 0, sizeof *s);
    s->text_field = "text";
    s->id_field = "id";
    s->max_doc_bytes = TS_DEFAULT_MAX_DOC_BYTES;
    s->chunk_size = 1u << 20;
}

int ts_doc_parser_create(const ts_docs_settings *s, ts_doc_parser **out)
{
    *out = NULL;
    if (!s->text_field || s->nextra > TS_DOC_MAX_EXTRA)
        return TS_E_INVALID;
    ts_doc_parser *p = calloc(1, sizeof *p);
    if (!p)
        return TS_E_NOMEM;
    /* paths: text, id (without one, a key that valid JSON cannot hold: a
     * raw control character), extra. */
    int bad = json_path_parse(s->text_field, &p->paths[0]) != 0;
    p->has_id = s->id_field != NULL;
    bad |= json_path_parse(p->has_id ? s->id_field : "\x01", &p->paths[1]) != 0;
    for (size_t i = 0; i < s->nextra; i++)
        bad |= !s->extra[i] || json_path_parse(s->extra[i], &p->paths[2 + i]) != 0;
    if (bad) {
        free(p);
        return TS_E_INVALID;
    }
    p->npaths = 2 + s->nextra;
    *out = p;
    return TS_OK;
}

void ts_doc_parser_free(ts_doc_parser *p)
{
    if (!p)
        return;
    free(p->decoded);
    free(p);
}

static void to_field(const json_field *f, ts_field *out)
{
    *out = (ts_field){(ts_field_kind)f->kind, f->raw, f->raw_len, f->has_escapes};
}

int ts_doc_parse(ts_doc_parser *p, const char *line, size_t len, ts_doc *out)
{
    out->error = TS_DOC_OK;
    out->detail = NULL;
    out->text = NULL;
    out->len = 0;
    memset(&out->id, 0, sizeof out->id);
    memset(out->extra, 0, sizeof out->extra);

    size_t trimmed = len;
    while (trimmed > 0 && (line[trimmed - 1] == '\r' || line[trimmed - 1] == ' ' || line[trimmed - 1] == '\t'))
        trimmed--;
    if (trimmed == 0) {
        out->error = TS_DOC_EMPTY_LINE;
        return TS_OK;
    }
    json_field f[2 + TS_DOC_MAX_EXTRA];
    size_t eoff = 0;
    int jerr = json_extract(line, len, p->paths, p->npaths, f, &eoff);
    if (jerr) {
        snprintf(p->detail, sizeof p->detail, "%s at byte %zu of the line", json_error_name(jerr), eoff);
        out->error = TS_DOC_INVALID_JSON;
        out->detail = p->detail;
        return TS_OK;
    }
    if (p->has_id)
        to_field(&f[1], &out->id);
    for (size_t i = 2; i < p->npaths; i++)
        to_field(&f[i], &out->extra[i - 2]);
    if (f[0].kind == JSON_MISSING) {
        out->error = TS_DOC_MISSING_TEXT;
        return TS_OK;
    }
    if (f[0].kind != JSON_STRING) {
        out->error = TS_DOC_TEXT_NOT_STRING;
        return TS_OK;
    }
    out->text = f[0].raw;
    out->len = f[0].raw_len;
    if (f[0].has_escapes) {
        if (p->decoded_cap < f[0].raw_len + 1) {
            char *d = realloc(p->decoded, f[0].raw_len + 1);
            if (!d) {
                out->text = NULL;
                out->len = 0;
                out->error = TS_DOC_SCAN_FAILED;
                out->detail = "out of memory";
                return TS_E_NOMEM;
            }
            p->decoded = d;
            p->decoded_cap = f[0].raw_len + 1;
        }
        ptrdiff_t k = json_string_decode(f[0].raw, f[0].raw_len, p->decoded, &eoff);
        if (k < 0) {
            snprintf(p->detail, sizeof p->detail, "%s at byte %zu of the text field", json_error_name((int)k), eoff);
            out->text = NULL;
            out->len = 0;
            out->error = TS_DOC_INVALID_TEXT;
            out->detail = p->detail;
            return TS_OK;
        }
        out->text = p->decoded;
        out->len = (size_t)k;
    }
    return TS_OK;
}

int ts_field_string(const ts_field *f, char *buf, size_t cap)
{
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    if (f->kind == TS_FIELD_MISSING)
        return -1;
    if (f->kind != TS_FIELD_NUMBER && f->kind != TS_FIELD_STRING)
        return 0;
    size_t n = f->len < cap - 1 ? f->len : cap - 1;
    if (f->kind == TS_FIELD_STRING && f->has_escapes) {
        char *tmp = malloc(f->len + 1);
        if (!tmp)
            return -1;
        size_t eo;
        ptrdiff_t k = json_string_decode(f->raw, f->len, tmp, &eo);
        if (k < 0) {
            free(tmp);
            return -1;
        }
        n = (size_t)k < cap - 1 ? (size_t)k : cap - 1;
        memcpy(buf, tmp, n);
        free(tmp);
    } else {
        memcpy(buf, f->raw, n);
    }
    buf[n] = '\0';
    return 0;
}

/* ---------------------------------------------------------------- the iterator */

struct ts_docs {
    ts_chunker *chunker;
    ts_chunk chunk;
    ts_line_cursor lines;
    int have_chunk;
    int done;
    int pending_err;        /* the chunk's input fault, reported after its lines */
    ts_diag pending_diag;
    ts_doc_parser *parser;
    uint64_t max_plain;
    char path[512];
};

int ts_docs_open(const char *path, const ts_docs_settings *s, ts_docs **out, ts_diag *diag)
{
    *out = NULL;
    ts_diag_clear(diag);
    ts_docs *d = calloc(1, sizeof *d);
    if (!d)
        return TS_E_NOMEM;
    snprintf(d->path, sizeof d->path, "%s", path);
    int err = ts_doc_parser_create(s, &d->parser);
    if (err) {
        if (diag && err == TS_E_INVALID)
            snprintf(diag->message, sizeof diag->message, "a field path is empty or has more than %d parts",
                     JSON_PATH_MAX);
        free(d);
        return err;
    }
    uint64_t max_doc = s->max_doc_bytes ? s->max_doc_bytes : TS_DEFAULT_MAX_DOC_BYTES;
    d->max_plain = s->max_plain_bytes ? s->max_plain_bytes : max_doc;
    d->lines.max_doc_bytes = max_doc;
    ts_reader *r = NULL;
    err = ts_reader_open(path, &r, diag);
    if (!err) {
        uint64_t buf_max = d->max_plain > max_doc ? d->max_plain : max_doc;
        err = ts_chunker_create(r, s->chunk_size >= 64 ? s->chunk_size : 1u << 20, (size_t)buf_max, &d->chunker);
        if (err)
            ts_reader_free(r);
    }
    if (err) {
        if (diag && !diag->file[0])
            snprintf(diag->file, sizeof diag->file, "%s", path);
        ts_doc_parser_free(d->parser);
        free(d);
        return err;
    }
    *out = d;
    return TS_OK;
}

void ts_docs_free(ts_docs *d)
{
    if (!d)
        return;
    ts_chunker_free(d->chunker);
    ts_chunk_release(&d->chunk);
    ts_doc_parser_free(d->parser);
    free(d);
}

/* Makes the current chunk hold unread lines.
 * @return 1, 0 at the end, or < 0 (the input's fault, after its lines). */
static int docs_fill(ts_docs *d, ts_diag *diag)
{
    for (;;) {
        if (d->have_chunk && (d->lines.oversize_pending || d->lines.pos < d->chunk.len))
            return 1;
        if (d->pending_err) {
            int err = d->pending_err;
            d->pending_err = 0;
            if (diag)
                *diag = d->pending_diag;
            if (diag && !diag->file[0])
                snprintf(diag->file, sizeof diag->file, "%s", d->path);
            d->done = 1;
            return err;
        }
        if (d->done || (d->have_chunk && d->chunk.final))
            return 0;
        int k = ts_chunker_next(d->chunker, &d->chunk);
        if (k < 0) {
            ts_diag_clear(diag);
            if (diag)
                snprintf(diag->file, sizeof diag->file, "%s", d->path);
            d->done = 1;
            return k;
        }
        if (k == 0) {
            d->done = 1;
            return 0;
        }
        d->have_chunk = 1;
        uint64_t max = d->lines.max_doc_bytes;
        ts_lines_begin(&d->lines, &d->chunk, max);
        if (d->chunk.err) {
            d->pending_err = d->chunk.err;
            d->pending_diag = d->chunk.diag;
        }
    }
}

int ts_docs_next(ts_docs *d, ts_doc *out, ts_diag *diag)
{
    memset(out, 0, sizeof *out);
    int k = docs_fill(d, diag);
    if (k <= 0)
        return k;
    ts_line ln;
    ts_lines_next(&d->lines, &ln);
    out->line = ln.line;
    out->offset = ln.offset;
    if (ln.error) {
        out->error = ln.error;
        out->detail = ln.detail;
        return 1;
    }
    int err = ts_doc_parse(d->parser, ln.data, ln.len, out);
    out->line = ln.line;
    out->offset = ln.offset;
    return err ? err : 1;
}

static int blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int ts_docs_peek(ts_docs *d, ts_diag *diag)
{
    if (!d->have_chunk) {
        int k = docs_fill(d, diag);
        if (k <= 0)
            return k == 0 ? TS_DOCS_PEEK_NONE : k;
    }
    for (size_t i = d->lines.pos; i < d->chunk.len; i++)
        if (!blank((unsigned char)d->chunk.data[i]))
            return (unsigned char)d->chunk.data[i];
    return TS_DOCS_PEEK_NONE;
}

int ts_docs_slurp(ts_docs *d, char **buf, size_t *len, ts_diag *diag)
{
    *buf = NULL;
    *len = 0;
    char *b = NULL;
    size_t n = 0;
    int k;
    while ((k = docs_fill(d, diag)) == 1) {
        size_t add = d->lines.oversize_pending ? (size_t)d->chunk.oversize_len : d->chunk.len - d->lines.pos;
        if (d->lines.oversize_pending || add > d->max_plain - n) {
            ts_diag_clear(diag);
            if (diag) {
                snprintf(diag->file, sizeof diag->file, "%s", d->path);
                snprintf(diag->message, sizeof diag->message, "a plain-text document larger than %" PRIu64 " bytes",
                         d->max_plain);
            }
            free(b);
            return TS_E_LIMIT;
        }
        char *nb = realloc(b, n + add + 1);
        if (!nb) {
            free(b);
            return TS_E_NOMEM;
        }
        b = nb;
        memcpy(b + n, d->chunk.data + d->lines.pos, add);
        n += add;
        d->lines.pos = d->chunk.len;
    }
    if (k < 0) {
        free(b);
        return k;
    }
    *buf = b;
    *len = n;
    return TS_OK;
}
