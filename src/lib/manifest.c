/* manifest.c: writing manifest lines (format in manifest.h). */
#include <inttypes.h>
#include <stdio.h>

#include "json.h"
#include "manifest.h"

const char *ts_action_name(ts_action a)
{
    static const char *const names[] = {"keep", "downweight", "drop", "upweight"};
    return (unsigned)a < TS_NACTIONS ? names[a] : "keep";
}

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
