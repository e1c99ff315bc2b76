/*
 * scan.c: the scan's per-line step, what one input line becomes in a run:
 * parsed (docs.c), scored (scanner.c), decided (policy.c), written as one
 * manifest line (manifest.c) and counted (stats.c). pipeline.c calls it from
 * its worker threads; one worker object per thread, buffers reused, so a
 * document costs no allocation once the buffers have grown.
 */
#include <stdlib.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "manifest.h"
#include "pipeline.h"

typedef struct scan_worker {
    const ts_scan_ctx *ctx;
    ts_scanner *scanner;
    ts_doc_parser *parser;
    ts_manifest_span *spans;    /* flagged passages of the current document */
    uint64_t *span_off;         /* their offsets while mapped back to the decoded text */
    size_t span_cap;
} scan_worker;

static void worker_free(void *ctx, void *worker);

static int worker_create(void *ctx, void **out)
{
    const ts_scan_ctx *c = ctx;
    const ts_run_settings *s = c->settings;
    scan_worker *w = calloc(1, sizeof *w);
    if (!w)
        return TS_E_NOMEM;
    w->ctx = c;
    ts_docs_settings ds;
    ts_docs_settings_default(&ds);
    ds.text_field = s->text_field;
    ds.id_field = s->id_field;
    ds.max_doc_bytes = s->max_doc_bytes;
    int err = ts_scanner_create(c->lex, c->model, s->anchor_words, 0, &w->scanner);
    if (!err)
        err = ts_doc_parser_create(&ds, &w->parser);
    if (err) {
        ts_scanner_free(w->scanner);
        free(w);
        return err;
    }
    ts_scanner_whole_documents(w->scanner, s->whole_documents);
    if ((err = ts_scanner_set_gate(w->scanner, c->gate))) {
        worker_free(ctx, w);
        return err;
    }
    *out = w;
    return TS_OK;
}

static void worker_free(void *ctx, void *worker)
{
    scan_worker *w = worker;
    if (!w)
        return;
    ts_scanner_free(w->scanner);
    ts_doc_parser_free(w->parser);
    free(w->spans);
    free(w->span_off);
    free(w);
}

/*
 * The passages at or above the downweight threshold: runs of overlapping
 * windows, merged, each with its highest window score, in byte offsets of
 * the decoded text. @return the number of spans (0 when out of memory: the
 * document's score and action stand, only the detail is lost).
 */
static size_t flagged_spans(scan_worker *w, const ts_doc_score *ds, const char *text, size_t len, double thr)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ds->nwindows; i++) {
        const ts_window *win = &ds->windows[i];
        if (win->score < thr)
            continue;
        if (n && win->start <= w->spans[n - 1].end) {
            if (win->end > w->spans[n - 1].end)
                w->spans[n - 1].end = win->end;
            if (win->score > w->spans[n - 1].score)
                w->spans[n - 1].score = win->score;
            continue;
        }
        if (n == w->span_cap) {
            size_t cap = w->span_cap ? w->span_cap * 2 : 16;
            ts_manifest_span *sp = realloc(w->spans, cap * sizeof *sp);
            if (sp)
                w->spans = sp;
            uint64_t *so = realloc(w->span_off, cap * sizeof *so);
            if (so)
                w->span_off = so;
            if (!sp || !so)
                return 0;
            w->span_cap = cap;
        }
        w->spans[n++] = (ts_manifest_span){win->start, win->end, win->score};
    }
    /* Normalised offsets to decoded ones; starts and ends each ascend. */
    for (int is_end = 0; is_end < 2; is_end++) {
        for (size_t i = 0; i < n; i++)
            w->span_off[i] = is_end ? w->spans[i].end : w->spans[i].start;
        ts_normalise_map(text, len, w->span_off, n, is_end);
        for (size_t i = 0; i < n; i++)
            *(is_end ? &w->spans[i].end : &w->spans[i].start) = w->span_off[i];
    }
    return n;
}

static void error_doc(const ts_run_settings *s, ts_buf *out, ts_stats *st, ts_manifest_rec *rec, int kind,
                      const char *detail)
{
    rec->ok = 0;
    rec->score = rec->aligned = -1;
    rec->m = NULL;
    rec->error_kind = ts_doc_error_name(kind);
    rec->error_detail = detail;
    rec->action = s->error_drop ? TS_ACTION_DROP : TS_ACTION_KEEP;
    rec->weight = s->error_drop ? 0 : 1;
    st->errors[kind]++;
    st->actions[rec->action]++;
    ts_manifest_append(out, rec);
}

static int scan_line(void *worker, const ts_line *ln, ts_out *o, ts_stats *st)
{
    scan_worker *w = worker;
    const ts_scan_ctx *c = w->ctx;
    const ts_run_settings *s = c->settings;
    ts_buf *out = ts_out_buf(o);
    ts_manifest_rec rec = {0};
    rec.line = ln->line;
    rec.offset = ln->offset;
    rec.lex = c->lex;
    st->docs++;
    if (ln->error) {
        error_doc(s, out, st, &rec, ln->error, ln->detail);
        return TS_OK;
    }
    ts_doc doc;
    ts_doc_parse(w->parser, ln->data, ln->len, &doc);
    if (doc.id.kind == TS_FIELD_STRING || doc.id.kind == TS_FIELD_NUMBER) {
        rec.id_kind = doc.id.kind == TS_FIELD_STRING ? TS_ID_JSON : TS_ID_LITERAL;
        rec.id = doc.id.raw;
        rec.id_len = doc.id.len;
    }
    if (doc.error) {
        error_doc(s, out, st, &rec, doc.error, doc.detail);
        return TS_OK;
    }
    ts_doc_score ds;
    int err = ts_scanner_score(w->scanner, doc.text, doc.len, &ds);
    if (err) {
        error_doc(s, out, st, &rec, TS_DOC_SCAN_FAILED, ts_strerror(err));
        return TS_OK;
    }
    rec.ok = 1;
    rec.len = doc.len;
    rec.fp = XXH64(doc.text, doc.len, 0);
    rec.score = c->model ? ds.score : -1;
    rec.aligned = c->model ? ds.aligned : -1;
    rec.m = &ds.matches;
    rec.action = ts_policy_decide(&s->policy, rec.score, rec.aligned, &rec.weight);
    if (c->model && rec.score >= s->policy.downweight_above) {
        rec.nspans = flagged_spans(w, &ds, doc.text, doc.len, s->policy.downweight_above);
        rec.spans = w->spans;
    }
    ts_manifest_append(out, &rec);

    st->ok++;
    st->text_bytes += doc.len;
    st->fast_path += ds.fast_path != 0;
    st->actions[rec.action]++;
    for (uint32_t k = 0; k < ds.matches.ncategories; k++) {
        st->trope_docs[k] += ds.matches.raw[k] != 0;
        st->trope_hits[k] += ds.matches.raw[k];
        st->anchored_docs[k] += ds.matches.anchored[k] != 0;
    }
    ts_stats_count_scores(st, &s->policy, rec.score, rec.aligned);
    return TS_OK;
}

void ts_scan_step(ts_step *step, ts_scan_ctx *ctx)
{
    *step = (ts_step){ctx, worker_create, worker_free, scan_line};
}
