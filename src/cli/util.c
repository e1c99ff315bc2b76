/* util.c: what the subcommands share (see cli.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "cli.h"
#include "model.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tropescan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_diag_error(const ts_diag *d, int err)
{
    fputs("tropescan: ", stderr);
    if (d && d->file[0]) {
        fputs(d->file, stderr);
        if (d->line)
            fprintf(stderr, ":%" PRIu64, d->line);
        fputs(": ", stderr);
        if (d->offset != UINT64_MAX)
            fprintf(stderr, "at byte %" PRIu64 ": ", d->offset);
    }
    if (d && d->message[0])
        fprintf(stderr, "%s (%s)\n", d->message, ts_strerror(err));
    else
        fprintf(stderr, "%s\n", ts_strerror(err));
}

int cli_parse_double(const char *opt, const char *arg, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v) || v < lo || v > hi) {
        cli_error("%s: expected a number from %g to %g, got '%s'", opt, lo, hi, arg);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *opt, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    /* Accept K/M/G suffixes (powers of 1024) for sizes. */
    if (!errno && end != arg && *end && !end[1]) {
        unsigned shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20
                       : *end == 'G' || *end == 'g' ? 30 : 0;
        if (shift && v <= (ULLONG_MAX >> shift)) {
            v <<= shift;
            end++;
        }
    }
    if (errno || end == arg || *end || arg[0] == '-' || v < lo || v > hi) {
        cli_error("%s: expected a whole number from %" PRIu64 " to %" PRIu64 ", got '%s'", opt, lo, hi, arg);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_lexmodel_option(cli_lexmodel *lm, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_LEXICON: lm->lexicon_dir = arg; return 1;
    case CLI_OPT_LEXICON_ADD:
        if (lm->nadd == CLI_MAX_LEXICON_ADD) {
            cli_error("--lexicon-add: at most %d directories", CLI_MAX_LEXICON_ADD);
            return -1;
        }
        lm->lexicon_add[lm->nadd++] = arg;
        return 1;
    case CLI_OPT_MODEL: lm->model_path = arg; return 1;
    case CLI_OPT_FORCE_MODEL: lm->force_model = 1; return 1;
    default: return 0;
    }
}

int cli_load_lexicon(const cli_lexmodel *lm, ts_lexicon **out)
{
    ts_diag diag;
    ts_diag_clear(&diag);
    ts_lexicon *lex = NULL;
    int err = ts_lexicon_create(&lex);
    if (!err)
        err = lm->lexicon_dir ? ts_lexicon_add_dir(lex, lm->lexicon_dir, &diag)
                              : ts_lexicon_add_default(lex, &diag);
    for (int i = 0; !err && i < lm->nadd; i++)
        err = ts_lexicon_add_dir(lex, lm->lexicon_add[i], &diag);
    if (!err)
        err = ts_lexicon_compile(lex, &diag);
    if (err) {
        cli_diag_error(&diag, err);
        ts_lexicon_free(lex);
        *out = NULL;
        return err;
    }
    *out = lex;
    return TS_OK;
}

int cli_load_model(const cli_lexmodel *lm, const ts_lexicon *lex, ts_model **out)
{
    ts_diag diag;
    ts_diag_clear(&diag);
    ts_model *model = NULL;
    int err = lm->model_path ? ts_model_load_file(lm->model_path, &model, &diag)
                             : ts_model_load_default(&model, &diag);
    if (!err && !lm->force_model)
        err = ts_model_check_lexicon(model, lex, &diag);
    if (err) {
        cli_diag_error(&diag, err);
        if (err == TS_E_MISMATCH)
            cli_error("the model was trained with another lexicon: retrain it, or pass --force-model");
        ts_model_free(model);
        *out = NULL;
        return err;
    }
    *out = model;
    return TS_OK;
}

/* ---------------------------------------------------------------- documents */

struct cli_docs {
    ts_chunker *chunker;
    ts_chunk chunk;
    size_t pos;             /* next line within chunk */
    uint64_t line_no;       /* of the next line in chunk */
    uint64_t line_off;
    int have_chunk;
    int pending_err;        /* chunk error to report after its lines */
    ts_diag pending_diag;
    json_path paths[5];
    size_t npaths;
    char *decoded;
    size_t decoded_cap;
    char errbuf[160];
};

int cli_docs_open(const char *path, const char *text_field, const char *const *extra, size_t nextra,
                  size_t max_doc_bytes, cli_docs **out)
{
    *out = NULL;
    if (nextra > 4) {
        cli_error("internal: too many extra fields");
        return TS_E_INVALID;
    }
    cli_docs *d = calloc(1, sizeof *d);
    if (!d)
        return TS_E_NOMEM;
    if (json_path_parse(text_field, &d->paths[0]) != 0) {
        cli_error("bad field path '%s'", text_field);
        free(d);
        return TS_E_INVALID;
    }
    for (size_t i = 0; i < nextra; i++) {
        if (json_path_parse(extra[i], &d->paths[i + 1]) != 0) {
            cli_error("bad field path '%s'", extra[i]);
            free(d);
            return TS_E_INVALID;
        }
    }
    d->npaths = 1 + nextra;
    ts_diag diag;
    ts_diag_clear(&diag);
    ts_reader *r = NULL;
    int err = ts_reader_open(path, &r, &diag);
    if (!err)
        err = ts_chunker_create(r, 1 << 20, max_doc_bytes ? max_doc_bytes : (64u << 20), &d->chunker);
    if (err) {
        cli_diag_error(&diag, err);
        if (!d->chunker)
            ts_reader_free(r);
        free(d);
        return err;
    }
    *out = d;
    return TS_OK;
}

void cli_docs_free(cli_docs *d)
{
    if (!d)
        return;
    ts_chunker_free(d->chunker);
    ts_chunk_release(&d->chunk);
    free(d->decoded);
    free(d);
}

int cli_field_string(const json_field *f, char *buf, size_t cap)
{
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    if (f->kind == JSON_MISSING)
        return -1;
    if (f->kind == JSON_NUMBER || f->kind == JSON_STRING) {
        size_t n = f->raw_len < cap - 1 ? f->raw_len : cap - 1;
        if (f->kind == JSON_STRING && f->has_escapes) {
            char *tmp = malloc(f->raw_len + 1);
            if (!tmp)
                return -1;
            size_t eo;
            ptrdiff_t k = json_string_decode(f->raw, f->raw_len, tmp, &eo);
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
    }
    return 0;
}

static void doc_error(cli_docs *d, cli_doc *out, int status, const char *fmt, const char *a, size_t b)
{
    out->status = status;
    snprintf(d->errbuf, sizeof d->errbuf, fmt, a, b);
    out->error = d->errbuf;
}

static int blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Makes the current chunk hold unread bytes (or an unread oversized line).
 * @return 1, 0 at the end of the input, or < 0 on an error (printed). */
static int docs_fill(cli_docs *d)
{
    for (;;) {
        if (d->have_chunk && (d->pos < d->chunk.len || (d->chunk.oversize_len && d->pos == 0)))
            return 1;
        if (d->pending_err) {
            cli_diag_error(&d->pending_diag, d->pending_err);
            int err = d->pending_err;
            d->pending_err = 0;
            return err;
        }
        if (d->have_chunk && d->chunk.final)
            return 0;
        int k = ts_chunker_next(d->chunker, &d->chunk);
        if (k < 0) {
            cli_error("%s", ts_strerror(k));
            return k;
        }
        if (k == 0)
            return 0;
        d->have_chunk = 1;
        d->pos = 0;
        d->line_no = d->chunk.first_line;
        d->line_off = d->chunk.offset;
        if (d->chunk.err) {
            d->pending_err = d->chunk.err;
            d->pending_diag = d->chunk.diag;
        }
    }
}

int cli_docs_peek(cli_docs *d)
{
    if (!d->have_chunk) {
        int k = docs_fill(d);
        if (k <= 0)
            return k == 0 ? CLI_PEEK_NONE : k;
    }
    for (size_t i = d->pos; i < d->chunk.len; i++)
        if (!blank((unsigned char)d->chunk.data[i]))
            return (unsigned char)d->chunk.data[i];
    return CLI_PEEK_NONE;
}

int cli_docs_slurp(cli_docs *d, size_t max, const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    char *b = NULL;
    size_t n = 0;
    int k;
    while ((k = docs_fill(d)) == 1) {
        size_t add = d->chunk.oversize_len ? (size_t)d->chunk.oversize_len : d->chunk.len - d->pos;
        if (d->chunk.oversize_len || add > max - n) {
            cli_error("%s: a plain-text document larger than %zu bytes", path, max);
            free(b);
            return TS_E_LIMIT;
        }
        char *nb = realloc(b, n + add + 1);
        if (!nb) {
            free(b);
            return TS_E_NOMEM;
        }
        b = nb;
        memcpy(b + n, d->chunk.data + d->pos, add);
        n += add;
        d->pos = d->chunk.len;
    }
    if (k < 0) {
        free(b);
        return k;
    }
    *buf = b;
    *len = n;
    return TS_OK;
}

int cli_docs_next(cli_docs *d, cli_doc *out)
{
    memset(out, 0, sizeof *out);
    int filled = docs_fill(d);
    if (filled <= 0)
        return filled;
    out->line = d->line_no;
    out->offset = d->line_off;
    if (d->chunk.oversize_len) {
        d->pos = 1; /* consumed */
        d->line_no++;
        d->line_off += d->chunk.oversize_len + 1;
        doc_error(d, out, CLI_DOC_E_TOO_LONG, "too_long: a line of %s%zu bytes exceeds the size limit", "",
                  (size_t)d->chunk.oversize_len);
        d->chunk.oversize_len = 0;
        return 1;
    }
    const char *line = d->chunk.data + d->pos;
    size_t avail = d->chunk.len - d->pos;
    const char *nl = memchr(line, '\n', avail);
    size_t len = nl ? (size_t)(nl - line) : avail;
    d->pos += nl ? len + 1 : len;
    d->line_no++;
    d->line_off += nl ? len + 1 : len;
    if (len == 0 || (len == 1 && line[0] == '\r')) {
        doc_error(d, out, CLI_DOC_E_EMPTY, "empty_line%s", "", 0);
        return 1;
    }
    json_field fields[5];
    size_t eoff = 0;
    int jerr = json_extract(line, len, d->paths, d->npaths, fields, &eoff);
    if (jerr) {
        doc_error(d, out, jerr, "invalid_json: %s at byte %zu", json_error_name(jerr), eoff);
        return 1;
    }
    for (size_t i = 1; i < d->npaths; i++)
        out->field[i - 1] = fields[i];
    if (fields[0].kind == JSON_MISSING) {
        doc_error(d, out, CLI_DOC_E_NO_TEXT, "missing_text%s", "", 0);
        return 1;
    }
    if (fields[0].kind != JSON_STRING) {
        doc_error(d, out, CLI_DOC_E_TEXT_TYPE, "text_not_string%s", "", 0);
        return 1;
    }
    if (!fields[0].has_escapes) {
        out->text = fields[0].raw;
        out->len = fields[0].raw_len;
        return 1;
    }
    if (d->decoded_cap < fields[0].raw_len + 1) {
        char *p = realloc(d->decoded, fields[0].raw_len + 1);
        if (!p)
            return TS_E_NOMEM;
        d->decoded = p;
        d->decoded_cap = fields[0].raw_len + 1;
    }
    ptrdiff_t k = json_string_decode(fields[0].raw, fields[0].raw_len, d->decoded, &eoff);
    if (k < 0) {
        doc_error(d, out, (int)k, "invalid_text: %s at byte %zu", json_error_name((int)k), eoff);
        return 1;
    }
    out->text = d->decoded;
    out->len = (size_t)k;
    return 1;
}

int cli_next_paragraph(const char *text, size_t len, size_t *start, size_t *end)
{
    size_t i = *start;
    while (i < len && blank((unsigned char)text[i]))
        i++;
    if (i >= len)
        return 0;
    *start = i;
    /* The paragraph ends at a newline followed by a line of blanks and another newline. */
    size_t e = i;
    while (e < len) {
        if (text[e] == '\n') {
            size_t k = e + 1;
            while (k < len && text[k] != '\n' && blank((unsigned char)text[k]))
                k++;
            if (k >= len || text[k] == '\n')
                break;
        }
        e++;
    }
    while (e > i && blank((unsigned char)text[e - 1]))
        e--;
    *end = e;
    return 1;
}

int cli_training_overlap(const ts_model *m, const char *text, size_t len, char **buf, size_t *cap)
{
    if (!m->nseen)
        return 0;
    if (len + 1 > *cap) {
        char *b = realloc(*buf, len + 1);
        if (!b)
            return 0;
        *buf = b;
        *cap = len + 1;
    }
    size_t nl = ts_normalise(text, len, *buf, NULL);
    if (nl && ts_model_seen(m, ts_training_fp(*buf, nl)))
        return 1;
    size_t start = 0, end;
    while (cli_next_paragraph(text, len, &start, &end)) {
        if (end - start >= CLI_PARAGRAPH_MIN) {
            nl = ts_normalise(text + start, end - start, *buf, NULL);
            if (ts_model_seen(m, ts_training_fp(*buf, nl)))
                return 1;
        }
        start = end;
    }
    return 0;
}

void cli_json_str(ts_buf *b, const char *s)
{
    size_t n = strlen(s);
    char *p = ts_buf_reserve(b, 6 * n + 2);
    if (!p)
        return;
    *p++ = '"';
    size_t k = json_string_escape(s, n, p);
    p[k] = '"';
    b->len += k + 2;
}
