/* util.c: what the subcommands share (see cli.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "stats.h"

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

/* The library's document iterator (src/lib/docs.c) with the CLI's messages. */
struct cli_docs {
    ts_docs *d;
    char errbuf[200];
};

int cli_docs_open(const char *path, const char *text_field, const char *const *extra, size_t nextra,
                  size_t max_plain_bytes, cli_docs **out)
{
    *out = NULL;
    if (nextra > TS_DOC_MAX_EXTRA) {
        cli_error("internal: too many extra fields");
        return TS_E_INVALID;
    }
    cli_docs *d = calloc(1, sizeof *d);
    if (!d)
        return TS_E_NOMEM;
    ts_docs_settings s;
    ts_docs_settings_default(&s);
    s.text_field = text_field;
    for (size_t i = 0; i < nextra; i++)
        s.extra[i] = extra[i];
    s.nextra = nextra;
    s.max_plain_bytes = max_plain_bytes;
    ts_diag diag;
    int err = ts_docs_open(path, &s, &d->d, &diag);
    if (err) {
        if (err == TS_E_INVALID)
            cli_error("bad field path '%s'", text_field);
        else
            cli_diag_error(&diag, err);
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
    ts_docs_free(d->d);
    free(d);
}

int cli_field_string(const ts_field *f, char *buf, size_t cap) { return ts_field_string(f, buf, cap); }

int cli_docs_peek(cli_docs *d)
{
    ts_diag diag;
    int k = ts_docs_peek(d->d, &diag);
    if (k < 0)
        cli_diag_error(&diag, k);
    return k == TS_DOCS_PEEK_NONE ? CLI_PEEK_NONE : k;
}

int cli_docs_slurp(cli_docs *d, size_t max, const char *path, char **buf, size_t *len)
{
    (void)max;
    ts_diag diag;
    int err = ts_docs_slurp(d->d, buf, len, &diag);
    if (err == TS_E_LIMIT)
        cli_error("%s: %s", path, diag.message);
    else if (err)
        cli_diag_error(&diag, err);
    return err;
}

int cli_docs_next(cli_docs *d, cli_doc *out)
{
    ts_doc doc;
    ts_diag diag;
    int k = ts_docs_next(d->d, &doc, &diag);
    memset(out, 0, sizeof *out);
    if (k < 0) {
        if (k == TS_E_NOMEM)
            cli_error("out of memory");
        else
            cli_diag_error(&diag, k);
        return k;
    }
    if (k == 0)
        return 0;
    out->line = doc.line;
    out->offset = doc.offset;
    out->status = doc.error;
    out->text = doc.text;
    out->len = doc.len;
    memcpy(out->field, doc.extra, sizeof out->field);
    out->id = doc.id;
    if (doc.error) {
        /* As the manifest writes it: the kind, and its detail. */
        snprintf(d->errbuf, sizeof d->errbuf, "%s%s%s", ts_doc_error_name(doc.error), doc.detail ? ": " : "",
                 doc.detail ? doc.detail : "");
        out->error = d->errbuf;
    }
    return 1;
}

static int blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

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

void cli_json_str(ts_buf *b, const char *s) { ts_json_put_string(b, s, strlen(s)); }

void cli_json_print(FILE *f, const char *s, size_t len)
{
    ts_buf b = {0};
    ts_json_put_string(&b, s, len);
    if (b.len)
        fwrite(b.data, 1, b.len, f);
    ts_buf_free(&b);
}
