/*
 * stats.c: a run's statistics and summary.json, with its writer, its reader
 * (jansson) and the merge of runs.
 *
 * The writer prints a fixed layout (keys in a fixed order, scores with 6
 * decimals, one object per shard), so the same inputs and options give the
 * same bytes; every string in it goes through jansson's encoder after
 * ts_utf8_repair, so the file is valid UTF-8 JSON whatever the file names
 * hold. The reader checks every field it reads and that the counts agree.
 */
#include <inttypes.h>
#include <jansson.h>

#include "json_get.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* ---------------------------------------------------------------- counts */

void ts_stats_add(ts_stats *to, const ts_stats *from)
{
    uint64_t *a = (uint64_t *)to;
    const uint64_t *b = (const uint64_t *)from;
    for (size_t i = 0; i < sizeof *to / sizeof(uint64_t); i++)
        a[i] += b[i];
}

uint64_t ts_stats_errors(const ts_stats *st)
{
    uint64_t n = 0;
    for (int k = 0; k < TS_DOC_NKINDS; k++)
        n += st->errors[k];
    return n;
}

static inline int hist_bin(double p)
{
    int b = (int)(p * TS_HIST_BINS);
    return b < 0 ? 0 : b >= TS_HIST_BINS ? TS_HIST_BINS - 1 : b;
}

void ts_stats_count_scores(ts_stats *st, const ts_policy *p, double score, double aligned)
{
    if (score >= 0) {
        st->score_hist[hist_bin(score)]++;
        st->scored++;
        st->score_sum_e6 += (uint64_t)llround(score * 1e6);
        st->score_at_downweight += score >= p->downweight_above;
        st->score_at_drop += score >= p->drop_above;
    }
    if (aligned >= 0) {
        st->aligned_hist[hist_bin(aligned)]++;
        st->aligned_scored++;
        st->aligned_sum_e6 += (uint64_t)llround(aligned * 1e6);
    }
}

/* ---------------------------------------------------------------- strings */

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t k;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
        k = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        k = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        k = 4, cp = c & 0x07;
    else
        return 0;
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return k;
}

char *ts_utf8_repair(const char *s, size_t len, size_t *out_len)
{
    char *out = malloc(2 * len + 1);
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len(p + i, len - i);
        if (k) {
            memcpy(out + n, p + i, k);
            n += k;
            i += k;
        } else { /* Latin-1: U+0080..U+00FF */
            out[n++] = (char)(0xC0 | p[i] >> 6);
            out[n++] = (char)(0x80 | (p[i] & 0x3F));
            i++;
        }
    }
    out[n] = '\0';
    if (out_len)
        *out_len = n;
    return out;
}

void ts_json_put_string(ts_buf *b, const char *s, size_t len)
{
    size_t n = 0;
    char *u = ts_utf8_repair(s, len, &n);
    json_t *j = u ? json_stringn(u, n) : NULL;
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    if (text)
        ts_buf_puts(b, text);
    else
        b->failed = 1;
    free(text);
    json_decref(j);
    free(u);
}

/* ---------------------------------------------------------------- writing */

static void put(ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(ts_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        ts_buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_str(ts_buf *b, const char *s) { ts_json_put_string(b, s, strlen(s)); }

static void put_str_or_null(ts_buf *b, const char *s)
{
    if (s)
        put_str(b, s);
    else
        put(b, "null");
}

static int anchor_index(const ts_summary *s)
{
    for (uint32_t c = 0; c < s->ncats; c++)
        if (!strcmp(s->cats[c], "ai_entity"))
            return (int)c;
    return -1;
}

/* skip: a category left out (-1: none). */
static void put_counts(ts_buf *b, const char *ind, const char *key, const ts_summary *s, const uint64_t *v, int skip)
{
    put(b, "%s\"%s\": {", ind, key);
    int first = 1;
    for (uint32_t c = 0; c < s->ncats; c++) {
        if ((int)c == skip)
            continue;
        put(b, "%s", first ? "" : ", ");
        put_str(b, s->cats[c]);
        put(b, ": %" PRIu64, v[c]);
        first = 0;
    }
    put(b, "}");
}

static void put_stats(ts_buf *b, const char *ind, const ts_summary *s, const ts_stats *st)
{
    put(b, "%s\"documents\": %" PRIu64 ",\n", ind, st->docs);
    put(b, "%s\"ok\": %" PRIu64 ",\n", ind, st->ok);
    put(b, "%s\"text_bytes\": %" PRIu64 ",\n", ind, st->text_bytes);
    put(b, "%s\"fast_path\": %" PRIu64 ",\n", ind, st->fast_path);
    put(b, "%s\"errors\": %" PRIu64 ",\n", ind, ts_stats_errors(st));
    put(b, "%s\"errors_by_kind\": {", ind);
    for (int k = 1, first = 1; k < TS_DOC_NKINDS; k++) {
        if (!st->errors[k])
            continue;
        put(b, "%s\"%s\": %" PRIu64, first ? "" : ", ", ts_doc_error_name(k), st->errors[k]);
        first = 0;
    }
    put(b, "},\n%s\"actions\": {", ind);
    for (int a = 0; a < TS_NACTIONS; a++)
        put(b, "%s\"%s\": %" PRIu64, a ? ", " : "", ts_action_name((ts_action)a), st->actions[a]);
    put(b, "},\n");
    put_counts(b, ind, "trope_documents", s, st->trope_docs, -1);
    put(b, ",\n");
    put_counts(b, ind, "trope_hits", s, st->trope_hits, -1);
    put(b, ",\n");
    /* ai_entity is the anchor: its own hits are never anchored. */
    put_counts(b, ind, "anchored_documents", s, st->anchored_docs, anchor_index(s));
    put(b, ",\n%s\"score_histogram\": [", ind);
    for (int i = 0; i < TS_HIST_BINS; i++)
        put(b, "%s%" PRIu64, i ? ", " : "", st->score_hist[i]);
    put(b, "],\n%s\"aligned_histogram\": [", ind);
    for (int i = 0; i < TS_HIST_BINS; i++)
        put(b, "%s%" PRIu64, i ? ", " : "", st->aligned_hist[i]);
    put(b, "],\n");
    put(b, "%s\"scored\": %" PRIu64 ", \"score_sum\": %" PRIu64 ".%06" PRIu64 ",\n", ind, st->scored,
        st->score_sum_e6 / 1000000, st->score_sum_e6 % 1000000);
    put(b, "%s\"aligned_scored\": %" PRIu64 ", \"aligned_sum\": %" PRIu64 ".%06" PRIu64 ",\n", ind,
        st->aligned_scored, st->aligned_sum_e6 / 1000000, st->aligned_sum_e6 % 1000000);
    put(b, "%s\"score_at_or_above\": {\"downweight_above\": %" PRIu64 ", \"drop_above\": %" PRIu64 "}", ind,
        st->score_at_downweight, st->score_at_drop);
}

static void put_threshold(ts_buf *b, const char *key, double v)
{
    if (v <= 1)
        put(b, ", \"%s\": %.6f", key, v);
    else
        put(b, ", \"%s\": null", key);
}

int ts_summary_dump(const ts_summary *s, char **text, size_t *len)
{
    ts_buf b = {0};
    put(&b, "{\n  \"tool\": \"tropescan\",\n  \"version\": ");
    put_str(&b, s->version);
    put(&b, ",\n  \"name\": ");
    put_str_or_null(&b, s->name);
    put(&b, ",\n  \"lexicon_id\": ");
    put_str(&b, s->lexicon_id);
    put(&b, ",\n  \"model_id\": ");
    put_str_or_null(&b, s->model_id);
    put(&b, ",\n  \"options\": {\"text_field\": ");
    put_str(&b, s->text_field);
    put(&b, ", \"id_field\": ");
    put_str(&b, s->id_field);
    put(&b, ", \"drop_above\": %.6f, \"downweight_above\": %.6f, \"downweight_factor\": %.6f", s->drop_above,
        s->downweight_above, s->downweight_factor);
    put_threshold(&b, "upweight_above", s->upweight_above);
    put_threshold(&b, "keep_aligned_above", s->keep_aligned_above);
    put(&b, ", \"upweight_factor\": %.6f, \"error_action\": ", s->upweight_factor);
    put_str(&b, s->error_action);
    put(&b, ", \"max_doc_bytes\": %" PRIu64 ", \"anchor_words\": %" PRIu64 ", \"lexicon\": ", s->max_doc_bytes,
        s->anchor_words);
    put_str_or_null(&b, s->lexicon);
    put(&b, ", \"lexicon_add\": [");
    for (size_t i = 0; i < s->nlexicon_add; i++) {
        put(&b, "%s", i ? ", " : "");
        put_str(&b, s->lexicon_add[i]);
    }
    put(&b, "], \"model\": ");
    put_str_or_null(&b, s->model);
    put(&b, ", \"whole_documents\": %s", s->whole_documents ? "true" : "false");
    put(&b, ", \"gate\": %s", s->gate ? "true" : "false");
    put(&b, "},\n  \"shards\": [\n");
    for (size_t i = 0; i < s->nshards; i++) {
        const ts_summary_shard *sh = &s->shards[i];
        put(&b, "    {\n      \"input\": ");
        put_str_or_null(&b, sh->input);
        put(&b, ",\n      \"manifest\": ");
        put_str_or_null(&b, sh->manifest);
        put(&b, ",\n      \"status\": ");
        put_str(&b, sh->status ? sh->status : "ok");
        put(&b, ",\n");
        if (sh->error) {
            put(&b, "      \"error\": ");
            put_str(&b, sh->error);
            put(&b, ",\n");
        }
        put(&b, "      \"format\": ");
        put_str(&b, sh->format ? sh->format : "plain");
        put(&b, ",\n      \"bytes_in\": %" PRIu64 ",\n      \"bytes_decompressed\": %" PRIu64 ",\n", sh->bytes_in,
            sh->bytes_decompressed);
        put_stats(&b, "      ", s, &sh->stats);
        put(&b, "\n    }%s\n", i + 1 < s->nshards ? "," : "");
    }
    const ts_summary_counts *t = &s->total;
    put(&b,
        "  ],\n  \"total\": {\n    \"shards\": %" PRIu64 ",\n    \"failed_shards\": %" PRIu64
        ",\n    \"no_documents_shards\": %" PRIu64 ",\n",
        t->shards, t->failed_shards, t->no_documents_shards);
    put(&b, "    \"bytes_in\": %" PRIu64 ",\n    \"bytes_decompressed\": %" PRIu64 ",\n", t->bytes_in,
        t->bytes_decompressed);
    put_stats(&b, "    ", s, &t->stats);
    /* The run's own facts come last, in one object: everything before it is
     * byte-identical for the same inputs and options, whatever the threads. */
    double w = s->wall_seconds;
    put(&b, "\n  },\n  \"run\": {\"threads\": %d, \"wall_seconds\": %.3f, \"mb_per_second\": %.1f}\n}\n", s->threads,
        w, w > 0 ? t->bytes_decompressed / w / 1e6 : 0.0);
    if (b.failed) {
        ts_buf_free(&b);
        return TS_E_NOMEM;
    }
    ts_buf_append(&b, "", 1);
    if (b.failed) {
        ts_buf_free(&b);
        return TS_E_NOMEM;
    }
    *text = b.data;
    *len = b.len - 1;
    return TS_OK;
}

/* ---------------------------------------------------------------- memory */

ts_summary *ts_summary_new(void)
{
    ts_summary *s = calloc(1, sizeof *s);
    if (s && !(s->version = strdup(TS_VERSION_STRING))) {
        free(s);
        return NULL;
    }
    return s;
}

static void shard_clear(ts_summary_shard *sh)
{
    free(sh->input);
    free(sh->manifest);
    free(sh->status);
    free(sh->error);
    free(sh->format);
}

void ts_summary_free(ts_summary *s)
{
    if (!s)
        return;
    free(s->version);
    free(s->name);
    free(s->lexicon_id);
    free(s->model_id);
    free(s->text_field);
    free(s->id_field);
    free(s->error_action);
    free(s->lexicon);
    for (size_t i = 0; i < s->nlexicon_add; i++)
        free(s->lexicon_add[i]);
    free(s->lexicon_add);
    free(s->model);
    for (uint32_t c = 0; c < s->ncats; c++)
        free(s->cats[c]);
    for (size_t i = 0; i < s->nshards; i++)
        shard_clear(&s->shards[i]);
    free(s->shards);
    free(s);
}

const char *ts_summary_lexicon_id(const ts_summary *s) { return s->lexicon_id; }
const char *ts_summary_model_id(const ts_summary *s) { return s->model_id; }
uint32_t ts_summary_ncategories(const ts_summary *s) { return s->ncats; }
const char *ts_summary_category(const ts_summary *s, uint32_t i) { return i < s->ncats ? s->cats[i] : NULL; }
size_t ts_summary_nshards(const ts_summary *s) { return s->nshards; }
const char *ts_summary_shard_input(const ts_summary *s, size_t i) { return i < s->nshards ? s->shards[i].input : NULL; }
const char *ts_summary_shard_manifest(const ts_summary *s, size_t i)
{
    return i < s->nshards ? s->shards[i].manifest : NULL;
}
void ts_summary_totals(const ts_summary *s, ts_summary_counts *out) { *out = s->total; }

/* ---------------------------------------------------------------- reading */

typedef struct parse_ctx {
    ts_summary *s;
    ts_diag *diag;
    char where[200];
} parse_ctx;

static int bad(parse_ctx *p, const char *what)
{
    if (p->diag)
        snprintf(p->diag->message, sizeof p->diag->message, "not a valid tropescan summary: %s%s%s missing or malformed",
                 p->where, p->where[0] ? ": " : "", what);
    return TS_E_FORMAT;
}

/* A string (copied) or, with nullable, null (NULL); nullable 2: also absent. */
static int get_str(json_t *obj, const char *key, int nullable, char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (nullable && (json_is_null(v) || (nullable == 2 && !v)))
        return 0;
    if (!json_is_string(v))
        return -1;
    return (*out = strdup(json_string_value(v))) ? 0 : -1;
}

/* Optional fields (added by later versions): absent gives the default. */
static int opt_u64(json_t *obj, const char *key, uint64_t def, uint64_t *out)
{
    if (!json_object_get(obj, key)) {
        *out = def;
        return 0;
    }
    return ts_json_get_u64(obj, key, out);
}

static int opt_num(json_t *obj, const char *key, double def, double *out)
{
    if (!json_object_get(obj, key)) {
        *out = def;
        return 0;
    }
    return ts_json_get_num(obj, key, out);
}

static int opt_str(json_t *obj, const char *key, const char *def, char **out)
{
    if (!json_object_get(obj, key))
        return def && !(*out = strdup(def)) ? -1 : 0;
    return get_str(obj, key, 1, out);
}

static int get_sum_e6(json_t *obj, const char *key, uint64_t *out)
{
    double v;
    if (ts_json_get_num(obj, key, &v) || v < 0 || !isfinite(v))
        return -1;
    *out = (uint64_t)llround(v * 1e6);
    return 0;
}

static int get_hist(json_t *obj, const char *key, uint64_t *hist)
{
    json_t *a = json_object_get(obj, key);
    if (!json_is_array(a) || json_array_size(a) != TS_HIST_BINS)
        return -1;
    for (size_t i = 0; i < TS_HIST_BINS; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return -1;
        hist[i] = (uint64_t)json_integer_value(v);
    }
    return 0;
}

/* The categories: defined by the first trope_documents read (the lexicon's
 * order); every other count object must name only these. */
static int get_cats(parse_ctx *p, json_t *obj, const char *key, uint64_t *counts, int define, uint64_t *listed)
{
    json_t *o = json_object_get(obj, key);
    if (!o && !define && !listed)
        return 0; /* optional */
    if (!json_is_object(o))
        return -1;
    const char *name;
    json_t *v;
    json_object_foreach(o, name, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return -1;
        int c = -1;
        for (uint32_t i = 0; i < p->s->ncats; i++)
            if (!strcmp(p->s->cats[i], name))
                c = (int)i;
        if (c < 0) {
            if (!define || p->s->ncats == TS_MAX_CATEGORIES || !(p->s->cats[p->s->ncats] = strdup(name)))
                return -1;
            c = (int)p->s->ncats++;
        }
        counts[c] = (uint64_t)json_integer_value(v);
        if (listed)
            *listed |= (uint64_t)1 << c;
    }
    return 0;
}

/* One count object (a shard's or the total). Fields that older versions did
 * not write are optional: fast_path, errors_by_kind, trope_hits, and the
 * sums (all or none; *has_sums says which). */
static int parse_stats(parse_ctx *p, json_t *o, ts_stats *st, int define_cats, uint64_t *listed, int *has_sums)
{
    uint64_t nerr;
    if (ts_json_get_u64(o, "documents", &st->docs) || ts_json_get_u64(o, "ok", &st->ok) || ts_json_get_u64(o, "text_bytes", &st->text_bytes) ||
        opt_u64(o, "fast_path", 0, &st->fast_path) || ts_json_get_u64(o, "errors", &nerr))
        return bad(p, "the document counts");
    json_t *ek = json_object_get(o, "errors_by_kind"), *v;
    const char *name;
    if (ek && !json_is_object(ek))
        return bad(p, "errors_by_kind");
    json_object_foreach(ek, name, v) {
        int k = 1;
        while (k < TS_DOC_NKINDS && strcmp(ts_doc_error_name(k), name))
            k++;
        if (k == TS_DOC_NKINDS || !json_is_integer(v) || json_integer_value(v) < 0)
            return bad(p, "errors_by_kind (an unknown kind or a bad count)");
        st->errors[k] = (uint64_t)json_integer_value(v);
    }
    json_t *act = json_object_get(o, "actions");
    if (!json_is_object(act))
        return bad(p, "actions");
    for (int a = 0; a < TS_NACTIONS; a++)
        if (ts_json_get_u64(act, ts_action_name((ts_action)a), &st->actions[a]))
            return bad(p, "actions");
    if (get_cats(p, o, "trope_documents", st->trope_docs, define_cats, NULL) ||
        get_cats(p, o, "anchored_documents", st->anchored_docs, define_cats, listed ? listed : &(uint64_t){0}) ||
        get_cats(p, o, "trope_hits", st->trope_hits, 0, NULL))
        return bad(p, "trope_documents, trope_hits or anchored_documents (unknown or too many categories)");
    if (get_hist(o, "score_histogram", st->score_hist) || get_hist(o, "aligned_histogram", st->aligned_hist))
        return bad(p, "score_histogram or aligned_histogram (20 counts)");
    json_t *at = json_object_get(o, "score_at_or_above");
    int sums = json_object_get(o, "scored") != NULL;
    if (sums && (ts_json_get_u64(o, "scored", &st->scored) || get_sum_e6(o, "score_sum", &st->score_sum_e6) ||
                 ts_json_get_u64(o, "aligned_scored", &st->aligned_scored) ||
                 get_sum_e6(o, "aligned_sum", &st->aligned_sum_e6) || !json_is_object(at) ||
                 ts_json_get_u64(at, "downweight_above", &st->score_at_downweight) ||
                 opt_u64(at, "drop_above", 0, &st->score_at_drop)))
        return bad(p, "scored, score_sum, aligned_scored, aligned_sum or score_at_or_above");
    if (has_sums)
        *has_sums = sums;
    if (!ek)
        st->errors[TS_DOC_OK] = nerr; /* errors of unknown kind (no errors_by_kind) */
    /* Counts that contradict each other: a damaged or edited summary. */
    uint64_t nact = 0, nh = 0, nah = 0;
    for (int a = 0; a < TS_NACTIONS; a++)
        nact += st->actions[a];
    for (int i = 0; i < TS_HIST_BINS; i++)
        nh += st->score_hist[i], nah += st->aligned_hist[i];
    int ok = (!ek || nerr == ts_stats_errors(st)) && nact == st->docs && st->ok + nerr == st->docs && nh <= st->ok &&
             nah <= st->ok && st->fast_path <= st->ok;
    if (ok && sums)
        ok = nh == st->scored && nah == st->aligned_scored && st->score_at_drop <= st->score_at_downweight &&
             st->score_at_downweight <= st->scored && st->score_sum_e6 <= st->scored * 1000000 &&
             st->aligned_sum_e6 <= st->aligned_scored * 1000000;
    for (uint32_t c = 0; c < p->s->ncats && ok; c++)
        ok = st->trope_docs[c] <= st->ok && st->anchored_docs[c] <= st->trope_docs[c] &&
             (!json_object_get(o, "trope_hits") || st->trope_docs[c] <= st->trope_hits[c]);
    if (!ok && p->diag)
        snprintf(p->diag->message, sizeof p->diag->message,
                 "its counts contradict each other (actions, ok and errors, histograms and scored, or tropes): "
                 "a damaged or edited summary");
    return ok ? TS_OK : TS_E_FORMAT;
}

static int parse_root(parse_ctx *p, json_t *root)
{
    ts_summary *s = p->s;
    json_t *tool = json_object_get(root, "tool");
    if (!json_is_object(root) || !json_is_string(tool) || strcmp(json_string_value(tool), "tropescan")) {
        if (p->diag)
            snprintf(p->diag->message, sizeof p->diag->message, "not a tropescan summary (no \"tool\": \"tropescan\")");
        return TS_E_FORMAT;
    }
    free(s->version);
    s->version = NULL;
    if (get_str(root, "version", 0, &s->version) || get_str(root, "name", 2, &s->name) ||
        get_str(root, "lexicon_id", 0, &s->lexicon_id) || get_str(root, "model_id", 1, &s->model_id))
        return bad(p, "version, lexicon_id or model_id");
    snprintf(p->where, sizeof p->where, "options");
    json_t *o = json_object_get(root, "options");
    json_t *up = json_object_get(o, "upweight_above"), *ka = json_object_get(o, "keep_aligned_above");
    json_t *wd = json_object_get(o, "whole_documents"), *la = json_object_get(o, "lexicon_add");
    json_t *gt = json_object_get(o, "gate");
    if (!json_is_object(o) || get_str(o, "text_field", 0, &s->text_field) || get_str(o, "id_field", 0, &s->id_field) ||
        ts_json_get_num(o, "drop_above", &s->drop_above) || ts_json_get_num(o, "downweight_above", &s->downweight_above) ||
        opt_num(o, "downweight_factor", TS_DEFAULT_DOWNWEIGHT_FACTOR, &s->downweight_factor) ||
        opt_num(o, "upweight_factor", TS_DEFAULT_UPWEIGHT_FACTOR, &s->upweight_factor) ||
        (up && !(json_is_null(up) || json_is_number(up))) || (ka && !(json_is_null(ka) || json_is_number(ka))) ||
        opt_str(o, "error_action", "keep", &s->error_action) ||
        opt_u64(o, "max_doc_bytes", TS_DEFAULT_MAX_DOC_BYTES, &s->max_doc_bytes) ||
        opt_u64(o, "anchor_words", TS_DEFAULT_ANCHOR_WORDS, &s->anchor_words) || opt_str(o, "lexicon", NULL, &s->lexicon) ||
        opt_str(o, "model", NULL, &s->model) || (wd && !json_is_boolean(wd)) || (la && !json_is_array(la)) ||
        !s->error_action)
        return bad(p, "a field is missing or of the wrong type");
    s->upweight_above = json_is_number(up) ? json_number_value(up) : TS_POLICY_OFF;
    s->keep_aligned_above = json_is_number(ka) ? json_number_value(ka) : TS_POLICY_OFF;
    s->whole_documents = json_is_true(wd);
    s->gate = json_is_true(gt);
    if (json_array_size(la) && !(s->lexicon_add = calloc(json_array_size(la), sizeof *s->lexicon_add)))
        return TS_E_NOMEM;
    for (size_t i = 0; i < json_array_size(la); i++) {
        json_t *v = json_array_get(la, i);
        if (!json_is_string(v) || !(s->lexicon_add[s->nlexicon_add++] = strdup(json_string_value(v))))
            return bad(p, "lexicon_add");
    }
    /* The totals first: they define the categories, in the lexicon's order. */
    snprintf(p->where, sizeof p->where, "total");
    json_t *t = json_object_get(root, "total");
    if (!json_is_object(t) || ts_json_get_u64(t, "shards", &s->total.shards) ||
        ts_json_get_u64(t, "failed_shards", &s->total.failed_shards) ||
        opt_u64(t, "no_documents_shards", 0, &s->total.no_documents_shards) ||
        ts_json_get_u64(t, "bytes_in", &s->total.bytes_in) || ts_json_get_u64(t, "bytes_decompressed", &s->total.bytes_decompressed))
        return bad(p, "the shard and byte counts");
    int err = parse_stats(p, t, &s->total.stats, 1, &s->anchored_listed, &s->has_sums);
    if (err)
        return err;
    if (s->total.failed_shards > s->total.shards)
        return bad(p, "more failed shards than shards");
    snprintf(p->where, sizeof p->where, "shards");
    json_t *shards = json_object_get(root, "shards");
    if (!json_is_array(shards))
        return bad(p, "shards");
    size_t n = json_array_size(shards);
    if (n && !(s->shards = calloc(n, sizeof *s->shards)))
        return TS_E_NOMEM;
    ts_summary_counts sum = {0};
    s->shards_counted = 1;
    for (size_t i = 0; i < n; i++) {
        json_t *o2 = json_array_get(shards, i);
        ts_summary_shard *sh = &s->shards[i];
        s->nshards++;
        snprintf(p->where, sizeof p->where, "shard %zu", i + 1);
        if (!json_is_object(o2))
            return bad(p, "not an object");
        /* input and manifest: strings, else unknown (NULL) */
        json_t *in = json_object_get(o2, "input"), *man = json_object_get(o2, "manifest");
        if ((json_is_string(in) && !(sh->input = strdup(json_string_value(in)))) ||
            (json_is_string(man) && !(sh->manifest = strdup(json_string_value(man)))))
            return TS_E_NOMEM;
        if (!json_object_get(o2, "documents")) {
            s->shards_counted = 0; /* a list of shards only */
            continue;
        }
        if (opt_str(o2, "status", "ok", &sh->status) || get_str(o2, "error", 2, &sh->error) ||
            opt_str(o2, "format", "plain", &sh->format) || ts_json_get_u64(o2, "bytes_in", &sh->bytes_in) ||
            ts_json_get_u64(o2, "bytes_decompressed", &sh->bytes_decompressed) || !sh->status || !sh->format)
            return bad(p, "status, error, format or byte counts");
        int failed = !strcmp(sh->status, "failed"), nodocs = !strcmp(sh->status, "no_documents");
        if (!failed && !nodocs && strcmp(sh->status, "ok"))
            return bad(p, "status is not ok, failed or no_documents");
        if ((err = parse_stats(p, o2, &sh->stats, 0, NULL, NULL)))
            return err;
        ts_stats_add(&sum.stats, &sh->stats);
        sum.failed_shards += failed;
        sum.no_documents_shards += nodocs;
        sum.bytes_in += sh->bytes_in;
        sum.bytes_decompressed += sh->bytes_decompressed;
    }
    p->where[0] = '\0';
    sum.shards = n;
    if (s->shards_counted && memcmp(&sum, &s->total, sizeof sum))
        return bad(p, "the totals are not the sums of the shards");
    json_t *run = json_object_get(root, "run");
    json_t *th = json_object_get(run, "threads");
    if (json_is_object(run) && json_is_integer(th))
        s->threads = (int)json_integer_value(th);
    if (json_is_object(run) && ts_json_get_num(run, "wall_seconds", &s->wall_seconds))
        s->wall_seconds = 0;
    return TS_OK;
}

int ts_summary_parse(const char *text, size_t len, ts_summary **out, ts_diag *diag)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (diag) {
            diag->line = jerr.line > 0 ? (uint64_t)jerr.line : 0;
            diag->offset = jerr.position >= 0 ? (uint64_t)jerr.position : UINT64_MAX;
            snprintf(diag->message, sizeof diag->message, "not valid JSON (%s): a truncated or damaged summary",
                     jerr.text);
        }
        return TS_E_FORMAT;
    }
    parse_ctx p = {ts_summary_new(), diag, ""};
    int err = p.s ? parse_root(&p, root) : TS_E_NOMEM;
    json_decref(root);
    if (err) {
        ts_summary_free(p.s);
        return err;
    }
    *out = p.s;
    return TS_OK;
}

int ts_summary_load(const char *path, ts_summary **out, ts_diag *diag)
{
    *out = NULL;
    ts_diag_clear(diag);
    if (diag)
        snprintf(diag->file, sizeof diag->file, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (diag)
            snprintf(diag->message, sizeof diag->message, "cannot read it");
        return TS_E_IO;
    }
    ts_buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        ts_buf_append(&b, tmp, n);
    int rerr = ferror(f);
    fclose(f);
    if (rerr || b.failed) {
        ts_buf_free(&b);
        return rerr ? TS_E_IO : TS_E_NOMEM;
    }
    int err = ts_summary_parse(b.data ? b.data : "", b.len, out, diag);
    ts_buf_free(&b);
    return err;
}

/* ---------------------------------------------------------------- merging */

static int str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

/* What differs between two summaries that a merge must not mix, or NULL. */
static const char *differs(const ts_summary *a, const ts_summary *b)
{
    if (!str_eq(a->lexicon_id, b->lexicon_id))
        return "lexicon_id";
    if (!str_eq(a->model_id, b->model_id))
        return "model_id";
    if (a->ncats != b->ncats)
        return "the lexicon's categories";
    for (uint32_t c = 0; c < a->ncats; c++)
        if (strcmp(a->cats[c], b->cats[c]))
            return "the lexicon's categories";
    if (!str_eq(a->text_field, b->text_field) || !str_eq(a->id_field, b->id_field) ||
        a->drop_above != b->drop_above || a->downweight_above != b->downweight_above ||
        a->downweight_factor != b->downweight_factor || a->upweight_above != b->upweight_above ||
        a->keep_aligned_above != b->keep_aligned_above || a->upweight_factor != b->upweight_factor ||
        !str_eq(a->error_action, b->error_action) || a->max_doc_bytes != b->max_doc_bytes ||
        a->anchor_words != b->anchor_words || !str_eq(a->lexicon, b->lexicon) || !str_eq(a->model, b->model) ||
        a->whole_documents != b->whole_documents || a->gate != b->gate || a->nlexicon_add != b->nlexicon_add)
        return "options";
    for (size_t i = 0; i < a->nlexicon_add; i++)
        if (strcmp(a->lexicon_add[i], b->lexicon_add[i]))
            return "options";
    return NULL;
}

int ts_summary_merge(const ts_summary *const *in, size_t n, ts_summary **out, ts_diag *diag)
{
    *out = NULL;
    ts_diag_clear(diag);
    if (n == 0)
        return TS_E_INVALID;
    for (size_t i = 0; i < n; i++) {
        const char *what = i ? differs(in[0], in[i]) : NULL;
        if (!what && !in[i]->shards_counted)
            what = "its shards' counts (a summary that lists its shards only)";
        if (what) {
            if (diag)
                snprintf(diag->message, sizeof diag->message,
                         "summary %zu differs from the first in %s: runs made with another lexicon, model or "
                         "options cannot be merged", i + 1, what);
            return TS_E_MISMATCH;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += in[i]->nshards;
    /* A shard in two runs would count twice. */
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < in[i]->nshards; a++)
            for (size_t j = i; j < n; j++)
                for (size_t b = j == i ? a + 1 : 0; b < in[j]->nshards; b++)
                    if (str_eq(in[i]->shards[a].input, in[j]->shards[b].input) &&
                        str_eq(in[i]->shards[a].manifest, in[j]->shards[b].manifest)) {
                        if (diag)
                            snprintf(diag->message, sizeof diag->message,
                                     "the shard %.300s is in summaries %zu and %zu: it would count twice", in[i]->shards[a].input,
                                     i + 1, j + 1);
                        return TS_E_INVALID;
                    }
    const ts_summary *f = in[0];
    ts_summary *s = calloc(1, sizeof *s);
    if (!s)
        return TS_E_NOMEM;
    int oom = 0;
    s->version = dup_or_null(f->version, &oom);
    s->name = dup_or_null(f->name, &oom);
    s->lexicon_id = dup_or_null(f->lexicon_id, &oom);
    s->model_id = dup_or_null(f->model_id, &oom);
    s->text_field = dup_or_null(f->text_field, &oom);
    s->id_field = dup_or_null(f->id_field, &oom);
    s->error_action = dup_or_null(f->error_action, &oom);
    s->lexicon = dup_or_null(f->lexicon, &oom);
    s->model = dup_or_null(f->model, &oom);
    s->drop_above = f->drop_above;
    s->downweight_above = f->downweight_above;
    s->downweight_factor = f->downweight_factor;
    s->upweight_above = f->upweight_above;
    s->keep_aligned_above = f->keep_aligned_above;
    s->upweight_factor = f->upweight_factor;
    s->max_doc_bytes = f->max_doc_bytes;
    s->anchor_words = f->anchor_words;
    s->whole_documents = f->whole_documents;
    s->gate = f->gate;
    if (f->nlexicon_add && !(s->lexicon_add = calloc(f->nlexicon_add, sizeof *s->lexicon_add)))
        oom = 1;
    for (size_t i = 0; !oom && i < f->nlexicon_add; i++)
        s->lexicon_add[s->nlexicon_add++] = dup_or_null(f->lexicon_add[i], &oom);
    for (uint32_t c = 0; c < f->ncats; c++)
        s->cats[s->ncats++] = dup_or_null(f->cats[c], &oom);
    if (total && !(s->shards = calloc(total, sizeof *s->shards)))
        oom = 1;
    for (size_t i = 0; !oom && i < n; i++) {
        for (size_t a = 0; a < in[i]->nshards; a++) {
            const ts_summary_shard *x = &in[i]->shards[a];
            ts_summary_shard *y = &s->shards[s->nshards++];
            *y = *x;
            y->input = dup_or_null(x->input, &oom);
            y->manifest = dup_or_null(x->manifest, &oom);
            y->status = dup_or_null(x->status, &oom);
            y->error = dup_or_null(x->error, &oom);
            y->format = dup_or_null(x->format, &oom);
        }
        const ts_summary_counts *t = &in[i]->total;
        s->total.shards += t->shards;
        s->total.failed_shards += t->failed_shards;
        s->total.no_documents_shards += t->no_documents_shards;
        s->total.bytes_in += t->bytes_in;
        s->total.bytes_decompressed += t->bytes_decompressed;
        ts_stats_add(&s->total.stats, &t->stats);
        s->wall_seconds += in[i]->wall_seconds;
        if (in[i]->threads > s->threads)
            s->threads = in[i]->threads;
    }
    if (oom) {
        ts_summary_free(s);
        return TS_E_NOMEM;
    }
    *out = s;
    return TS_OK;
}
