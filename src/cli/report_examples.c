/*
 * report_examples.c: `tropescan report --examples N`, the N best-scored
 * documents of each dataset with their deciding span marked.
 *
 * The only part of the report that reads more than summaries: each run's
 * manifests (to find the best scores) and then, once per shard that holds a
 * winner, the shard itself (to show the text). A document's text is shown
 * only if its fingerprint still matches the manifest's: a shard changed since
 * the scan is reported, never shown with the wrong span.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#include "cli.h"
#include "json.h"
#include "report.h"

#define CONTEXT_BYTES 160   /* of text shown on each side of the span */
#define SPAN_BYTES 600      /* of the span itself, at most */
#define HEAD_BYTES 400      /* of text shown when there is no span */

/* Better first: higher score, then earlier shard, then earlier line. */
static int better(const example *a, const example *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->shard != b->shard)
        return a->shard < b->shard;
    return a->line < b->line;
}

static char *copy_raw(const json_field *f)
{
    return f->kind == JSON_MISSING ? strdup("null") : strndup(f->raw, f->raw_len);
}

static char *decode_string(const json_field *f)
{
    if (f->kind == JSON_NUMBER)
        return strndup(f->raw, f->raw_len);
    if (f->kind != JSON_STRING)
        return NULL;
    char *s = malloc(f->raw_len + 1);
    size_t eoff;
    ptrdiff_t n = s ? json_string_decode(f->raw, f->raw_len, s, &eoff) : -1;
    if (n < 0) {
        free(s);
        return NULL;
    }
    s[n] = 0;
    return s;
}

void example_clear(example *e)
{
    free(e->id);
    free(e->input);
    free(e->fp);
    free(e->tropes_raw);
    free(e->spans_raw);
    free(e->tropes);
    free(e->before);
    free(e->span);
    free(e->after);
    memset(e, 0, sizeof *e);
}

/* Offers one manifest line to the top list. @return 0, or -1 (printed). */
static int offer(dataset *d, size_t n, size_t shard, const char *input, const char *path, uint64_t lineno,
                 const char *line, size_t len)
{
    static const char *const keys[] = {"line", "score", "status", "id", "fp", "tropes", "spans"};
    json_path paths[7];
    json_field f[7];
    for (int i = 0; i < 7; i++)
        json_path_parse(keys[i], &paths[i]);
    size_t eoff;
    if (json_extract(line, len, paths, 7, f, &eoff) != JSON_OK || f[0].kind != JSON_NUMBER) {
        cli_error("%s: line %" PRIu64 ": not a manifest line (at byte %zu): a damaged manifest", path, lineno, eoff);
        return -1;
    }
    if (f[1].kind != JSON_NUMBER || f[2].kind != JSON_STRING || f[2].raw_len != 2 || memcmp(f[2].raw, "ok", 2))
        return 0; /* an error document, or scanned without a model */
    example e = {.shard = shard, .line = strtoull(f[0].raw, NULL, 10), .score = strtod(f[1].raw, NULL)};
    if (d->nex == n && !better(&e, &d->ex[n - 1]))
        return 0;
    e.id = decode_string(&f[3]);
    e.input = strdup(input);
    e.fp = decode_string(&f[4]);
    e.tropes_raw = copy_raw(&f[5]);
    e.spans_raw = copy_raw(&f[6]);
    if (!e.input || !e.tropes_raw || !e.spans_raw) {
        example_clear(&e);
        cli_error("out of memory");
        return -1;
    }
    size_t at;
    if (d->nex == n) {
        example_clear(&d->ex[n - 1]); /* the worst makes room */
        at = n - 1;
    } else {
        at = d->nex++;
    }
    while (at > 0 && better(&e, &d->ex[at - 1])) {
        d->ex[at] = d->ex[at - 1];
        at--;
    }
    d->ex[at] = e;
    return 0;
}

/* Streams one zstd manifest and offers each line. @return 0, or -1 (printed). */
static int scan_manifest(dataset *d, size_t n, size_t shard, const char *input, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    ZSTD_DStream *z = ZSTD_createDStream();
    size_t inCap = ZSTD_DStreamInSize(), outCap = ZSTD_DStreamOutSize();
    char *in = malloc(inCap), *out = malloc(outCap);
    ts_buf line = {0};
    int rc = -1;
    uint64_t lineno = 0;
    size_t left = 1, got;
    if (!z || !in || !out) {
        cli_error("out of memory");
        goto done;
    }
    ZSTD_initDStream(z);
    while ((got = fread(in, 1, inCap, f)) > 0) {
        ZSTD_inBuffer ib = {in, got, 0};
        while (ib.pos < ib.size) {
            ZSTD_outBuffer ob = {out, outCap, 0};
            left = ZSTD_decompressStream(z, &ob, &ib);
            if (ZSTD_isError(left)) {
                cli_error("%s: not a zstd manifest, or damaged: %s", path, ZSTD_getErrorName(left));
                goto done;
            }
            for (size_t i = 0; i < ob.pos; i++) {
                if (out[i] != '\n') {
                    ts_buf_append(&line, &out[i], 1);
                    continue;
                }
                lineno++;
                if (line.failed) {
                    cli_error("out of memory");
                    goto done;
                }
                if (offer(d, n, shard, input, path, lineno, line.data ? line.data : "", line.len))
                    goto done;
                line.len = 0;
            }
        }
    }
    if (ferror(f) || left != 0 || line.len) {
        cli_error("%s: truncated manifest", path);
        goto done;
    }
    rc = 0;
done:
    fclose(f);
    ZSTD_freeDStream(z);
    free(in);
    free(out);
    ts_buf_free(&line);
    return rc;
}

/* A copy of text[a, b) with control characters as spaces, cut at UTF-8
 * character boundaries (a moved forward, b back). */
static char *excerpt(const char *text, size_t len, size_t a, size_t b, int ellipsis)
{
    if (b > len)
        b = len;
    if (a > b)
        a = b;
    while (a < b && ((unsigned char)text[a] & 0xC0) == 0x80)
        a++;
    while (b > a && b < len && ((unsigned char)text[b] & 0xC0) == 0x80)
        b--;
    char *s = malloc(b - a + 4);
    if (!s)
        return NULL;
    size_t k = 0;
    for (size_t i = a; i < b; i++)
        s[k++] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
    if (ellipsis)
        memcpy(s + k, "\xe2\x80\xa6", 3), k += 3;   /* U+2026 */
    s[k] = 0;
    return s;
}

/* The tropes as text, and the deciding span as an excerpt. */
static int describe(example *e, const char *text, size_t len)
{
    if (report_describe_matches(e, len))
        return -1;
    if (e->has_span) {
        size_t a = e->span_start, b = e->span_end, cut = b - a > SPAN_BYTES;
        e->before = excerpt(text, len, a > CONTEXT_BYTES ? a - CONTEXT_BYTES : 0, a, 0);
        e->span = excerpt(text, len, a, cut ? a + SPAN_BYTES : b, (int)cut);
        e->after = excerpt(text, len, b, b + CONTEXT_BYTES, b + CONTEXT_BYTES < len);
    } else {
        e->before = strdup("");
        e->after = excerpt(text, len, 0, HEAD_BYTES, HEAD_BYTES < len);
    }
    return e->before && e->after && (!e->has_span || e->span) ? 0 : -1;
}

/* Reads one shard and fills in every example of it. @return 0, or -1. */
static int read_shard(dataset *d, size_t shard)
{
    const char *input = NULL;
    for (size_t k = 0; k < d->nex; k++)
        if (d->ex[k].shard == shard)
            input = d->ex[k].input;
    if (!input)
        return 0;
    const char *extra[1] = {d->id_field};
    cli_docs *docs;
    if (cli_docs_open(input, d->text_field, extra, 1, 0, &docs)) {
        cli_error("%s: the shard of %s as the scan recorded it (relative to where the scan ran): run the "
                  "report from there",
                  input, d->name);
        return -1;
    }
    size_t found = 0, wanted = 0;
    for (size_t k = 0; k < d->nex; k++)
        wanted += d->ex[k].shard == shard;
    cli_doc doc;
    int r, rc = 0;
    while (found < wanted && (r = cli_docs_next(docs, &doc)) == 1) {
        for (size_t k = 0; k < d->nex; k++) {
            example *e = &d->ex[k];
            if (e->shard != shard || e->line != doc.line)
                continue;
            found++;
            char fp[17];
            snprintf(fp, sizeof fp, "%016" PRIx64, (uint64_t)XXH64(doc.text, doc.len, 0));
            if (doc.status || !e->fp || strcmp(fp, e->fp)) {
                cli_error("%s: line %" PRIu64 " is not the document the scan saw (fingerprint %s, manifest %s): "
                          "the shard changed since the scan",
                          input, doc.line, doc.status ? "none" : fp, e->fp ? e->fp : "none");
                rc = -1;
            } else if (describe(e, doc.text, doc.len)) {
                cli_error("out of memory");
                rc = -1;
            }
        }
    }
    cli_docs_free(docs);
    if (found < wanted) {
        cli_error("%s: ends before the lines the manifest names: the shard changed since the scan", input);
        rc = -1;
    }
    return rc;
}

int report_examples(report *r, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < r->nds; i++) {
        dataset *d = &r->ds[i];
        if (!(d->ex = calloc(n, sizeof *d->ex))) {
            cli_error("out of memory");
            return -1;
        }
        char *sp = strdup(d->summary_path);
        if (!sp) {
            cli_error("out of memory");
            return -1;
        }
        const char *base = dirname(sp);
        for (size_t k = 0; k < d->nshard_list; k++) {
            const report_shard *sh = &d->shard_list[k];
            if (!sh->manifest || !sh->input) {
                cli_error("%s: shard %zu has no manifest (it failed): its documents are not among the examples",
                          d->summary_path, k);
                rc = -1;
                continue;
            }
            char *path = NULL;
            if (asprintf(&path, "%s/%s", base, sh->manifest) < 0) {
                free(sp);
                cli_error("out of memory");
                return -1;
            }
            if (scan_manifest(d, n, k, sh->input, path))
                rc = -1;
            free(path);
        }
        free(sp);
        for (size_t k = 0; k < d->nshard_list; k++)
            if (read_shard(d, k))
                rc = -1;
        /* Examples whose text could not be read are not shown. */
        size_t kept = 0;
        for (size_t e = 0; e < d->nex; e++) {
            if (d->ex[e].before)
                d->ex[kept++] = d->ex[e];
            else
                example_clear(&d->ex[e]);
        }
        d->nex = kept;
    }
    return rc;
}
