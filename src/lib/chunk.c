/*
 * chunk.c: cutting a decompressed stream into chunks of whole lines.
 *
 * Like ripgrep's line buffer: fill a buffer, cut after its last newline, and
 * carry the partial line over to the next chunk. Since the reader always fills
 * the buffer unless the input ends, the cuts depend only on the data.
 */
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

struct ts_chunker {
    ts_reader *reader;
    size_t chunk_size;
    size_t max_line;
    char *carry;            /* the partial line after the last cut */
    size_t carry_len, carry_cap;
    uint64_t line;          /* number of the next line */
    uint64_t offset;        /* decompressed offset of the next line */
    uint64_t seq;
    int eof;                /* the reader returned its last byte */
    int err;                /* the reader failed (after eof-like stop) */
    ts_diag diag;
    int finished;
    ts_long_line_sink sink;
    int sinking;            /* the sink wants the current long line's bytes */
    uint64_t max_lines;     /* lines per chunk, or 0 */
};

void ts_chunker_set_max_lines(ts_chunker *ch, uint64_t max_lines) { ch->max_lines = max_lines; }

/* The end of the max_lines-th line of p[0, n) (after its '\n'), or n when it
 * holds fewer. */
static size_t cut_at_lines(const char *p, size_t n, uint64_t max_lines)
{
    const char *q = p, *end = p + n;
    for (uint64_t k = 0; k < max_lines; k++) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl)
            return n;
        q = nl + 1;
    }
    return (size_t)(q - p);
}

void ts_chunker_set_long_line_sink(ts_chunker *ch, const ts_long_line_sink *sink)
{
    if (sink)
        ch->sink = *sink;
    else
        memset(&ch->sink, 0, sizeof ch->sink);
}

int ts_chunker_create(ts_reader *reader, size_t chunk_size, size_t max_line, ts_chunker **out)
{
    *out = NULL;
    if (chunk_size < 64 || max_line == 0)
        return TS_E_INVALID;
    ts_chunker *ch = calloc(1, sizeof *ch);
    if (!ch)
        return TS_E_NOMEM;
    ch->reader = reader;
    ch->chunk_size = chunk_size;
    ch->max_line = max_line;
    ch->line = 1;
    *out = ch;
    return TS_OK;
}

void ts_chunker_free(ts_chunker *ch)
{
    if (!ch)
        return;
    ts_reader_free(ch->reader);
    free(ch->carry);
    free(ch);
}

const ts_reader *ts_chunker_reader(const ts_chunker *ch) { return ch->reader; }

void ts_chunk_release(ts_chunk *c)
{
    free(c->data);
    c->data = NULL;
    c->len = c->cap = 0;
}

static int grow(char **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return TS_OK;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (!p)
        return TS_E_NOMEM;
    *buf = p;
    *cap = n;
    return TS_OK;
}

/* Reads into c->data until it holds `limit` bytes or the input stops. The
 * limit comes from the data alone (never from c->cap, which depends on what
 * the buffer held before), so the cuts are the same for any thread count. */
static void fill(ts_chunker *ch, ts_chunk *c, size_t limit)
{
    while (c->len < limit && !ch->eof && !ch->err) {
        size_t got = 0;
        int err = ts_reader_read(ch->reader, c->data + c->len, limit - c->len, &got, &ch->diag);
        c->len += got;
        if (err)
            ch->err = err;
        else if (got == 0)
            ch->eof = 1;
    }
}

static uint64_t count_newlines(const char *p, size_t n)
{
    uint64_t k = 0;
    const char *end = p + n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        k++;
        p++;
    }
    return k;
}

/* Skips the rest of a line too long to keep; @return its total length. */
static uint64_t skip_long_line(ts_chunker *ch, ts_chunk *c)
{
    uint64_t total = c->len;
    for (;;) {
        c->len = 0;
        fill(ch, c, ch->chunk_size);
        if (c->len == 0)
            return total; /* the line ends with the input */
        char *nl = memchr(c->data, '\n', c->len);
        if (ch->sinking)
            ch->sink.bytes(ch->sink.ud, c->data, nl ? (size_t)(nl - c->data) : c->len);
        if (nl) {
            size_t head = (size_t)(nl - c->data);
            total += head;
            size_t rest = c->len - head - 1;
            /* The rest becomes the carry (it fits: carry grows as needed). */
            if (grow(&ch->carry, &ch->carry_cap, rest + 1) == TS_OK) {
                memcpy(ch->carry, nl + 1, rest);
                ch->carry_len = rest;
            }
            ch->offset += 1; /* the newline */
            return total;
        }
        total += c->len;
    }
}

int ts_chunker_next(ts_chunker *ch, ts_chunk *c)
{
    if (ch->finished)
        return 0;
    size_t limit = ch->chunk_size > ch->carry_len * 2 ? ch->chunk_size : ch->carry_len * 2;
    /* A carry of whole lines left by max_lines needs no more room. */
    if (ch->max_lines && ch->carry_len <= ch->chunk_size)
        limit = ch->chunk_size;
    if (limit > ch->max_line + 1 && limit > ch->chunk_size)
        limit = ch->max_line + 1 > ch->chunk_size ? ch->max_line + 1 : ch->chunk_size;
    if (grow(&c->data, &c->cap, limit) != TS_OK)
        return TS_E_NOMEM;
    if (ch->carry_len)
        memcpy(c->data, ch->carry, ch->carry_len);
    c->len = ch->carry_len;
    ch->carry_len = 0;
    c->first_line = ch->line;
    c->offset = ch->offset;
    c->seq = ch->seq++;
    c->nlines = 0;
    c->oversize_len = 0;
    c->truncated_tail = 0;
    c->final = 0;
    c->err = TS_OK;
    ts_diag_clear(&c->diag);

    for (;;) {
        fill(ch, c, limit);
        int stopped = ch->eof || ch->err;
        char *nl = c->len ? memrchr(c->data, '\n', c->len) : NULL;
        if (nl && ch->max_lines) {
            size_t cut = cut_at_lines(c->data, (size_t)(nl - c->data) + 1, ch->max_lines);
            if (cut < (size_t)(nl - c->data) + 1) {
                /* More than max_lines whole lines: the rest is the next chunk's. */
                size_t rest = c->len - cut;
                if (grow(&ch->carry, &ch->carry_cap, rest + 1) != TS_OK)
                    return TS_E_NOMEM;
                memcpy(ch->carry, c->data + cut, rest);
                ch->carry_len = rest;
                c->len = cut;
                break;
            }
        }
        if (nl && !stopped) {
            size_t keep = (size_t)(nl - c->data) + 1;
            size_t rest = c->len - keep;
            if (grow(&ch->carry, &ch->carry_cap, rest + 1) != TS_OK)
                return TS_E_NOMEM;
            memcpy(ch->carry, c->data + keep, rest);
            ch->carry_len = rest;
            c->len = keep;
            break;
        }
        if (stopped) {
            /* Everything left is this chunk's; a last line without '\n' counts. */
            c->final = 1;
            ch->finished = 1;
            if (ch->err) {
                c->err = ch->err;
                c->diag = ch->diag;
                c->truncated_tail = c->len > 0 && c->data[c->len - 1] != '\n';
            }
            break;
        }
        /* A full buffer without a newline: one line longer than the buffer. */
        if (limit < ch->max_line + 1) {
            limit *= 2;
            if (limit > ch->max_line + 1)
                limit = ch->max_line + 1;
            if (grow(&c->data, &c->cap, limit) != TS_OK)
                return TS_E_NOMEM;
            continue;
        }
        ch->sinking = ch->sink.begin && ch->sink.begin(ch->sink.ud, c);
        if (ch->sinking)
            ch->sink.bytes(ch->sink.ud, c->data, c->len);
        c->oversize_len = skip_long_line(ch, c);
        if (ch->sinking)
            ch->sink.end(ch->sink.ud);
        ch->sinking = 0;
        c->len = 0;
        c->nlines = 1;
        ch->line += 1;
        ch->offset += c->oversize_len;
        if (ch->carry_len == 0 && (ch->eof || ch->err)) {
            c->final = 1;
            ch->finished = 1;
            c->err = ch->err;
            c->diag = ch->diag;
        }
        return 1;
    }

    c->nlines = count_newlines(c->data, c->len);
    if (c->len > 0 && c->data[c->len - 1] != '\n')
        c->nlines++;
    ch->line += c->nlines;
    ch->offset += c->len;
    if (c->len == 0 && c->final && !c->err) {
        ch->seq--; /* nothing at all after the last cut: no chunk */
        return 0;
    }
    return 1;
}
