/*
 * scanner.c: one document at a time: normalise, match, featurise, predict.
 * Also the parts of the model that need a lexicon (category map, id check).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#if defined(__SSE2__) && !defined(TS_SCANNER_NO_SIMD)
#include <emmintrin.h>
#define SCAN_SSE2 1
#endif

struct ts_scanner {
    const ts_model *model;          /* may be NULL */
    ts_feat_config cfg;
    int has_cfg;
    ts_matcher *matcher;
    int32_t catmap[TS_MAX_CATEGORIES];
    char *norm;                     /* normalised text of the last document */
    size_t norm_len;
    size_t cap;                     /* bytes of norm */
    char *lower;                    /* lowercased copy (featurise only: scoring needs none) */
    size_t lower_cap;
    uint32_t *buckets;              /* n-gram list (featurise only) */
    size_t bucket_cap;
    uint32_t *seen;                 /* per bucket: the generation that last hit it */
    uint32_t gen;
    float xlex[TS_LEX_PER_CAT * TS_MAX_CATEGORIES + 1];
    /* Passage scoring (score_windows): every n-gram of the document once,
     * the start of every word, and the windows. */
    uint32_t *tok_bucket, *tok_start, *tok_end;
    size_t tok_cap[3];
    uint8_t *tok_ctx;               /* per n-gram: a context word (models with context words) */
    size_t ctx_cap;
    /* Per n-gram of the group: 1 + the index of the previous n-gram with the
     * same bucket (0: none), and its bucket's weights for both heads (and
     * both blocks, with context words: TS_NHEADS * bstride floats), so a
     * window's distinct buckets and their weights are found in its own
     * n-grams, without a lookup per bucket per window. */
    uint32_t *tok_prev;
    float *tok_w;
    size_t prev_cap, w_cap;
    uint64_t *link;                 /* link_ngrams' table: (1 + bucket) << 32 | 1 + its last n-gram */
    size_t link_cap;
    uint32_t *word_start;
    size_t word_cap;
    ts_window *win;
    size_t win_cap;
    int whole;                      /* ts_scanner_whole_documents */
    const ts_gate *gate;            /* ts_scanner_set_gate, or NULL */
    void *gate_scratch;
    uint32_t ncat;                  /* the lexicon's categories */
    uint32_t zeros[TS_MAX_CATEGORIES];
    uint32_t *brk;                  /* paragraph boundaries of the last document (ts_normalise_breaks) */
    size_t nbrk, brk_cap;
    uint32_t (*span)[2];            /* window word ranges [a, b) being scored */
    size_t span_cap;
};

int ts_feat_config_from_lexicon(ts_feat_config *cfg, const ts_lexicon *lex)
{
    uint32_t n = ts_lexicon_ncategories(lex);
    if (n > TS_MAX_CATEGORIES)
        return TS_E_LIMIT;
    memset(cfg->cat, 0, sizeof cfg->cat);
    cfg->ncat = n;
    for (uint32_t i = 0; i < n; i++) {
        const char *name = ts_lexicon_category_name(lex, i);
        size_t l = name ? strlen(name) : 0;
        if (l == 0 || l >= TS_CAT_NAME_MAX)
            return TS_E_LIMIT;
        memcpy(cfg->cat[i], name, l);
    }
    return TS_OK;
}

void ts_feat_catmap(const ts_feat_config *cfg, const ts_lexicon *lex, int32_t *catmap)
{
    for (uint32_t c = 0; c < cfg->ncat; c++)
        catmap[c] = lex ? ts_lexicon_category_index(lex, cfg->cat[c]) : -1;
}

int ts_model_check_lexicon(const ts_model *m, const ts_lexicon *lex, ts_diag *diag)
{
    uint64_t lid = ts_lexicon_id(lex);
    if (m->lexicon_id == lid)
        return TS_OK;
    if (diag)
        snprintf(diag->message, sizeof diag->message,
                 "the model was trained with lexicon %016llx, the lexicon in use is %016llx",
                 (unsigned long long)m->lexicon_id, (unsigned long long)lid);
    return TS_E_MISMATCH;
}

static int scanner_new(const ts_lexicon *lex, const ts_model *model, const ts_feat_config *cfg,
                       uint32_t anchor_words, int want_spans, ts_scanner **out)
{
    *out = NULL;
    if (!lex)
        return TS_E_INVALID;
    ts_scanner *s = calloc(1, sizeof *s);
    if (!s)
        return TS_E_NOMEM;
    s->model = model;
    if (cfg) {
        s->cfg = *cfg;
        s->has_cfg = 1;
        ts_feat_catmap(&s->cfg, lex, s->catmap);
    }
    if (cfg && !(s->seen = calloc(cfg->nbuckets, sizeof *s->seen))) {
        free(s);
        return TS_E_NOMEM;
    }
    int err = ts_matcher_create(lex, want_spans, anchor_words, &s->matcher);
    if (err) {
        free(s->seen);
        free(s);
        return err;
    }
    s->ncat = ts_lexicon_ncategories(lex);
    *out = s;
    return TS_OK;
}

int ts_scanner_set_gate(ts_scanner *s, const ts_gate *g)
{
    void *scratch = NULL;
    if (g) {
        int err = ts_gate_clone_scratch(g, &scratch);
        if (err)
            return err;
    }
    ts_gate_free_scratch(s->gate_scratch);
    s->gate_scratch = scratch;
    s->gate = g;
    return TS_OK;
}

int ts_scanner_create(const ts_lexicon *lex, const ts_model *model, uint32_t anchor_words,
                      int want_spans, ts_scanner **out)
{
    return scanner_new(lex, model, model ? &model->cfg : NULL, anchor_words, want_spans, out);
}

int ts_scanner_create_cfg(const ts_lexicon *lex, const ts_feat_config *cfg, uint32_t anchor_words,
                          int want_spans, ts_scanner **out)
{
    if (!cfg || ts_feat_config_check(cfg, NULL)) {
        *out = NULL;
        return TS_E_INVALID;
    }
    return scanner_new(lex, NULL, cfg, anchor_words, want_spans, out);
}

void ts_scanner_free(ts_scanner *s)
{
    if (!s)
        return;
    ts_matcher_free(s->matcher);
    ts_gate_free_scratch(s->gate_scratch);
    free(s->norm);
    free(s->lower);
    free(s->buckets);
    free(s->seen);
    free(s->tok_bucket);
    free(s->tok_start);
    free(s->tok_end);
    free(s->tok_ctx);
    free(s->tok_prev);
    free(s->tok_w);
    free(s->link);
    free(s->word_start);
    free(s->win);
    free(s->brk);
    free(s->span);
    free(s);
}

void ts_scanner_whole_documents(ts_scanner *s, int on) { s->whole = on != 0; }

const char *ts_scanner_normalised(const ts_scanner *s, size_t *len)
{
    if (len)
        *len = s->norm_len;
    return s->norm ? s->norm : "";
}

/* Grows the text buffers to hold len bytes (amortised: no allocation once the
 * largest document has been seen). */
static int reserve(ts_scanner *s, size_t len)
{
    if (len + 1 <= s->cap)
        return TS_OK;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < len + 1)
        cap *= 2;
    char *n = realloc(s->norm, cap);
    if (!n)
        return TS_E_NOMEM;
    s->norm = n;
    s->cap = cap;
    return TS_OK;
}

/* Grows an array of `size`-byte elements to hold n (amortised). */
static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return TS_OK;
    size_t c = *cap ? *cap : 256;
    while (c < n)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return TS_E_NOMEM;
    *p = q;
    *cap = c;
    return TS_OK;
}

/* Paragraph boundaries kept per document (4 MiB): a longer document gets
 * paragraph windows in its first MAX_BREAKS paragraphs only. */
#define MAX_BREAKS ((size_t)1 << 20)

/* Normalise and match; fills info's words and matches. */
static int normalise_match(ts_scanner *s, const char *text, size_t len, ts_doc_score *info)
{
    if (len >= UINT32_MAX)
        return TS_E_LIMIT;
    int err = reserve(s, len);
    if (err)
        return err;
    uint32_t words = 0;
    s->nbrk = 0;
    if (s->model && s->model->window && s->model->para_min && !s->whole) {
        /* Paragraph boundaries, for the paragraph windows (score_windows). */
        size_t cap = len / 2 + 2 < MAX_BREAKS ? len / 2 + 2 : MAX_BREAKS;
        if ((err = grow((void **)&s->brk, &s->brk_cap, cap, sizeof *s->brk)))
            return err;
        s->norm_len = ts_normalise_breaks(text, len, s->norm, &words, s->brk, cap, &s->nbrk);
    } else {
        s->norm_len = ts_normalise(text, len, s->norm, &words);
    }
    s->norm[s->norm_len] = '\0';
    info->words = words;
    info->fast_path = 0;
    info->gated = 0;
    return ts_matcher_scan(s->matcher, s->norm, s->norm_len, &info->matches);
}


/* z for both heads of one window: lexicon hits [h0, h1) and n-grams [t0, t1)
 * that lie in [ws, we). An n-gram counts if it lies in the window and no
 * earlier one of the window has its bucket (the chain of tok_prev), and the
 * sums run in text order: the same sums, to the bit, as marking each bucket
 * seen in turn. */
static void window_margin(ts_scanner *s, const ts_matches *mt, size_t h0, size_t h1, size_t t0,
                          size_t t1, uint32_t ws, uint32_t we, uint32_t words, double z[TS_NHEADS])
{
    const ts_model *m = s->model;
    uint32_t raw[TS_MAX_CATEGORIES] = {0}, anch[TS_MAX_CATEGORIES] = {0};
    for (size_t i = h0; i < h1; i++) {
        const ts_hit *h = &mt->hits[i];
        if (h->category < TS_MAX_CATEGORIES) {
            raw[h->category]++;
            anch[h->category] += h->anchored;
        }
    }
    ts_matches wm = {mt->ncategories, raw, anch, 0, NULL};
    ts_features_lexicon(&s->cfg, s->catmap, &wm, words, s->xlex);
    ts_model_margin(m, s->xlex, NULL, z);
    const uint32_t *start = s->tok_start, *end = s->tok_end, *prev = s->tok_prev;
    const float *tw = s->tok_w;
    double s0 = 0, s1 = 0;
    size_t d = 0;
    if (!s->cfg.nctx) {
        for (size_t i = t0; i < t1; i++) {
            if (start[i] < ws || end[i] > we)
                continue;
            /* Earlier n-grams of the bucket inside the window: only one that
             * starts before ws (a bigram across its start) can be outside it. */
            uint32_t j = prev[i];
            while (j > t0 && (start[j - 1] < ws || end[j - 1] > we))
                j = prev[j - 1];
            if (j > t0)
                continue;
            s0 += tw[2 * i];
            s1 += tw[2 * i + 1];
            d++;
        }
    } else {
        /* The same, and the context block's sums beside, which count if a
         * context word of the window turns up (ts_features_ngram_dot). */
        const uint8_t *cx = s->tok_ctx;
        double c0 = 0, c1 = 0;
        int any = 0;
        for (size_t i = t0; i < t1; i++) {
            if (start[i] < ws || end[i] > we)
                continue;
            any |= cx[i];
            uint32_t j = prev[i];
            while (j > t0 && (start[j - 1] < ws || end[j - 1] > we))
                j = prev[j - 1];
            if (j > t0)
                continue;
            s0 += tw[4 * i];
            s1 += tw[4 * i + 1];
            c0 += tw[4 * i + 2];
            c1 += tw[4 * i + 3];
            d++;
        }
        if (d) {
            double k = 1.0 / sqrt((double)d);
            z[0] += s0 * k;
            z[1] += s1 * k;
            if (any) {
                z[0] += c0 * k;
                z[1] += c1 * k;
            }
        }
        return;
    }
    if (d) {
        double k = 1.0 / sqrt((double)d);
        z[0] += s0 * k;
        z[1] += s1 * k;
    }
}

/* Links each of the group's nt n-grams to the previous one with its bucket
 * and gathers its weights (one pass over the buckets for all windows). The
 * last n-gram of each bucket is kept in a hash table of the group's own size
 * (open addressing on the bucket's low bits: a bucket is a hash already), so
 * it stays in cache, where a table over all buckets would miss; the weight
 * loads are prefetched a few n-grams ahead. */
#define LINK_AHEAD 12
static int link_ngrams(ts_scanner *s, size_t nt)
{
    size_t size = 64;
    while (size < 2 * nt)
        size *= 2;
    int err = grow((void **)&s->link, &s->link_cap, size, sizeof *s->link);
    if (err)
        return err;
    uint64_t *ht = s->link;
    memset(ht, 0, size * sizeof *ht);
    const size_t mask = size - 1;
    const float *wb = s->model->w + (size_t)TS_NHEADS * ts_feat_nlex(&s->cfg);
    const size_t bs = (size_t)TS_NHEADS * ts_feat_bstride(&s->cfg);
    const uint32_t *bucket = s->tok_bucket;
    uint32_t *prev = s->tok_prev;
    float *tw = s->tok_w;
    for (size_t i = 0; i < nt; i++) {
        if (i + LINK_AHEAD < nt)
            __builtin_prefetch(&wb[bs * bucket[i + LINK_AHEAD]], 0);
        uint32_t b = bucket[i];
        uint64_t key = ((uint64_t)b + 1) << 32;
        size_t h = b & mask;
        while (ht[h] && (ht[h] & ~(uint64_t)UINT32_MAX) != key)
            h = (h + 1) & mask;
        prev[i] = (uint32_t)ht[h];   /* 0 when the slot is empty */
        ht[h] = key | ((uint64_t)i + 1);
        /* bs floats per bucket, in one cache line: both heads, both blocks */
        for (size_t k = 0; k < bs; k++)
            tw[bs * i + k] = wb[bs * b + k];
    }
    return TS_OK;
}

/* Stores the positions just after each of the next n spaces of t[pos..len)
 * in out. @return how many there were (<= n). */
static size_t after_spaces(const char *t, size_t pos, size_t len, uint32_t *out, size_t n)
{
    size_t k = 0;
#if defined(SCAN_SSE2)
    const __m128i sp = _mm_set1_epi8(' ');
    while (k < n && len - pos >= 16) {
        uint32_t m = (uint32_t)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(t + pos)), sp));
        for (; m && k < n; m &= m - 1)
            out[k++] = (uint32_t)(pos + (size_t)__builtin_ctz(m) + 1);
        pos += 16;
    }
#endif
    for (; k < n && pos < len; pos++)
        if (t[pos] == ' ')
            out[k++] = (uint32_t)pos + 1;
    return k;
}

/* @return the spaces in t[a..b). */
static size_t count_spaces(const char *t, size_t a, size_t b)
{
    size_t n = 0;
#if defined(SCAN_SSE2)
    const __m128i sp = _mm_set1_epi8(' ');
    for (; b - a >= 16; a += 16)
        n += (size_t)__builtin_popcount((unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(t + a)), sp)));
#endif
    for (; a < b; a++)
        n += t[a] == ' ';
    return n;
}

/* @return the position just after the n-th space from pos (there are at
 * least n). */
static size_t skip_spaces(const char *t, size_t pos, size_t len, size_t n)
{
    uint32_t buf[64];
    while (n) {
        size_t k = n < 64 ? n : 64;
        after_spaces(t, pos, len, buf, k);
        pos = buf[k - 1];
        n -= k;
    }
    return pos;
}

/* First index in v[0..n) whose value is > x (v non-decreasing). */
static size_t upper_bound(const uint32_t *v, size_t n, size_t stride, uint32_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid * stride] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_span(const void *x, const void *y)
{
    const uint32_t *a = x, *b = y;
    if (a[0] != b[0])
        return a[0] < b[0] ? -1 : 1;
    return (a[1] > b[1]) - (a[1] < b[1]);
}

/*
 * The windows of a document of more than W words (tropescan.h), as word
 * ranges [a, b), in order of start then end: W words every S words, the last
 * ending at the end; and with paragraph windows (model para_min P > 0), each
 * paragraph of P to W words, a shorter one joined to the paragraphs after it
 * until it has P words (a heading and its paragraph). A narrative told in
 * one paragraph of a long page is then scored alone, as it was written.
 */
static int plan_windows(ts_scanner *s, uint32_t nw, size_t *count)
{
    const ts_model *m = s->model;
    uint32_t W = m->window, S = m->stride, P = m->para_min;
    size_t nslide = (nw - W + S - 1) / S + 1;
    size_t n = 0;
    int err = grow((void **)&s->span, &s->span_cap, nslide + s->nbrk + 1, sizeof *s->span);
    if (err)
        return err;
    for (size_t i = 0; i < nslide; i++) {
        uint32_t a = (uint32_t)(i * S);
        if (a + W > nw || i + 1 == nslide)
            a = nw - W;
        s->span[n][0] = a;
        s->span[n][1] = a + W;
        n++;
    }
    if (P && s->nbrk) {
        /* A break is the offset of a space: the word after it is the
         * number of spaces up to and including it. One walk over the text. */
        const char *t = s->norm;
        uint32_t a = 0, words = 0;
        size_t pos = 0;
        for (size_t b = 0; b <= s->nbrk; b++) {
            uint32_t end = nw;
            if (b < s->nbrk) {
                if (pos <= s->brk[b])
                    words += (uint32_t)count_spaces(t, pos, (size_t)s->brk[b] + 1);
                pos = s->brk[b] + 1;
                end = words;
            }
            if (end - a < P && b < s->nbrk)
                continue;                        /* too short: joined to the next */
            if (end - a >= P && end - a <= W) {
                s->span[n][0] = a;
                s->span[n][1] = end;
                n++;
            }
            a = end;
        }
        qsort(s->span, n, sizeof *s->span, cmp_span);
    }
    *count = n;
    return TS_OK;
}

/* Windows are scored in groups of those starting within WINDOW_GROUP words
 * of each other: each group's words are tokenised and hashed once, so memory
 * stays bounded by the group, whatever the document's size (a token at a
 * group's edge is hashed twice: W words in WINDOW_GROUP). */
#define WINDOW_GROUP 16384u

/* Scores the windows of a document of more than W words (tropescan.h). */
static int score_windows(ts_scanner *s, ts_doc_score *out)
{
    const ts_model *m = s->model;
    const char *t = s->norm;
    size_t len = s->norm_len;
    uint32_t nw = out->words;
    size_t nwin;
    int err = plan_windows(s, nw, &nwin);
    if (err)
        return err;
    if ((err = grow((void **)&s->win, &s->win_cap, nwin, sizeof *s->win)))
        return err;
    const ts_matches *mt = &out->matches;
    double best[TS_NHEADS] = {-HUGE_VAL, -HUGE_VAL};
    uint32_t best_i = 0;
    uint32_t cur_word = 0;   /* a cursor: the byte offset of word cur_word */
    size_t cur_pos = 0;
    for (size_t i = 0; i < nwin;) {
        uint32_t g0 = s->span[i][0], gmax = 0;
        size_t j = i;
        for (; j < nwin && s->span[j][0] < g0 + WINDOW_GROUP; j++)
            if (s->span[j][1] > gmax)
                gmax = s->span[j][1];
        if (cur_word < g0) {
            cur_pos = skip_spaces(t, cur_pos, len, g0 - cur_word);
            cur_word = g0;
        }
        /* The group's word starts, from g0 to gmax (gmax: one past a
         * virtual space after the last word when it is the text's end). */
        if ((err = grow((void **)&s->word_start, &s->word_cap, (size_t)(gmax - g0) + 1, sizeof *s->word_start)))
            return err;
        /* Word g0 + k (k >= 1) starts after the k-th space from word g0. */
        s->word_start[0] = (uint32_t)cur_pos;
        uint32_t inner = (gmax < nw ? gmax : nw - 1) - g0;
        after_spaces(t, cur_pos, len, s->word_start + 1, inner);
        if (gmax == nw)
            s->word_start[nw - g0] = (uint32_t)len + 1;
        size_t b0 = s->word_start[0], b1 = s->word_start[gmax - g0] - 1;
        size_t need = b1 - b0 + 1;   /* n-grams of the group: at most one per byte, plus one */
        if ((err = grow((void **)&s->tok_bucket, &s->tok_cap[0], need, sizeof *s->tok_bucket)) ||
            (err = grow((void **)&s->tok_start, &s->tok_cap[1], need, sizeof *s->tok_start)) ||
            (err = grow((void **)&s->tok_end, &s->tok_cap[2], need, sizeof *s->tok_end)) ||
            (err = grow((void **)&s->tok_prev, &s->prev_cap, need, sizeof *s->tok_prev)) ||
            (err = grow((void **)&s->tok_w, &s->w_cap, (size_t)TS_NHEADS * ts_feat_bstride(&s->cfg) * need,
                        sizeof *s->tok_w)) ||
            (s->cfg.nctx && (err = grow((void **)&s->tok_ctx, &s->ctx_cap, need, sizeof *s->tok_ctx))))
            return err;
        /* Offsets of the group's n-grams are relative to b0. */
        size_t nt = ts_features_tokens_ctx(&s->cfg, t + b0, b1 - b0, s->tok_bucket, s->tok_start, s->tok_end,
                                           s->cfg.nctx ? s->tok_ctx : NULL);
        if ((err = link_ngrams(s, nt)))
            return err;
        for (; i < j; i++) {
            uint32_t a = s->span[i][0], b = s->span[i][1];
            uint32_t ws = s->word_start[a - g0], we = s->word_start[b - g0] - 1;
            /* Hits by their end, n-grams by their end: both never decrease (a
             * bigram ends with the token before it); window_margin checks starts. */
            size_t h0 = 0, h1 = 0;
            if (mt->nhits) {
                h0 = upper_bound(&mt->hits[0].end, mt->nhits, sizeof *mt->hits / sizeof(uint32_t), ws);
                h1 = upper_bound(&mt->hits[0].end, mt->nhits, sizeof *mt->hits / sizeof(uint32_t), we);
            }
            uint32_t rs = (uint32_t)(ws - b0), re = (uint32_t)(we - b0);
            size_t t0 = upper_bound(s->tok_end, nt, 1, rs);
            size_t t1 = upper_bound(s->tok_end, nt, 1, re);
            double z[TS_NHEADS];
            window_margin(s, mt, h0, h1, t0, t1, rs, re, b - a, z);
            ts_window *w = &s->win[i];
            w->start = ws;
            w->end = we;
            w->score = ts_model_prob(m, TS_HEAD_SCORE, z[0]);
            w->aligned = (m->flags & TS_MODEL_ALIGNED) ? ts_model_prob(m, TS_HEAD_ALIGNED, z[1]) : -1;
            if (z[0] > best[0]) {
                best[0] = z[0];
                best_i = (uint32_t)i;
            }
            if (z[1] > best[1])
                best[1] = z[1];
        }
    }
    out->nwindows = (uint32_t)nwin;
    out->windows = s->win;
    out->best = best_i;
    out->margin[0] = best[0];
    out->margin[1] = best[1];
    return TS_OK;
}

/* A document the gate stopped: scored as the full scan scores a document
 * without features (an empty one: no hits, no n-grams, no words). */
static int score_gated(ts_scanner *s, ts_doc_score *out)
{
    const ts_model *m = s->model;
    int err = reserve(s, 0);
    if (err)
        return err;
    s->norm_len = 0;
    s->norm[0] = '\0';
    s->nbrk = 0;
    memset(&out->matches, 0, sizeof out->matches);
    out->matches.ncategories = s->ncat;
    out->matches.raw = s->zeros;
    out->matches.anchored = s->zeros;
    out->words = 0;
    out->fast_path = 1;
    out->gated = 1;
    ts_features_lexicon(&s->cfg, s->catmap, NULL, 0, s->xlex);
    double z[TS_NHEADS];
    ts_model_margin(m, s->xlex, NULL, z);
    out->margin[0] = z[0];
    out->margin[1] = z[1];
    out->score = ts_model_prob(m, TS_HEAD_SCORE, z[0]);
    if (m->flags & TS_MODEL_ALIGNED)
        out->aligned = ts_model_prob(m, TS_HEAD_ALIGNED, z[1]);
    if ((err = grow((void **)&s->win, &s->win_cap, 1, sizeof *s->win)))
        return err;
    s->win[0] = (ts_window){0, 0, out->score, out->aligned};
    out->nwindows = 1;
    out->windows = s->win;
    return TS_OK;
}

int ts_scanner_score(ts_scanner *s, const char *text, size_t len, ts_doc_score *out)
{
    out->score = -1;
    out->aligned = -1;
    out->margin[0] = out->margin[1] = 0;
    out->nwindows = 0;
    out->windows = NULL;
    out->best = 0;
    out->gated = 0;
    int err;
    if (s->gate && s->model) {
        int pass;
        if ((err = ts_gate_pass(s->gate, s->gate_scratch, text, len, &pass)))
            return err;
        if (!pass)
            return score_gated(s, out);
    }
    err = normalise_match(s, text, len, out);
    if (err || !s->model)
        return err;
    const ts_model *m = s->model;
    if (m->window && out->words > m->window && !s->whole) {
        if ((err = score_windows(s, out)))
            return err;
        out->score = ts_model_prob(m, TS_HEAD_SCORE, out->margin[0]);
        if (m->flags & TS_MODEL_ALIGNED)
            out->aligned = ts_model_prob(m, TS_HEAD_ALIGNED, out->margin[1]);
        return TS_OK;
    }
    int any = ts_features_lexicon(&s->cfg, s->catmap, &out->matches, out->words, s->xlex);
    double z[TS_NHEADS];
    ts_model_margin(m, s->xlex, NULL, z);
    if (!any && (m->flags & TS_MODEL_CASCADE))
        out->fast_path = 1;
    else
        ts_features_ngram_dot(&s->cfg, s->norm, s->norm_len, m->w, s->seen, &s->gen, z);
    out->margin[0] = z[0];
    out->margin[1] = z[1];
    out->score = ts_model_prob(m, TS_HEAD_SCORE, z[0]);
    if (m->flags & TS_MODEL_ALIGNED)
        out->aligned = ts_model_prob(m, TS_HEAD_ALIGNED, z[1]);
    if ((err = grow((void **)&s->win, &s->win_cap, 1, sizeof *s->win)))
        return err;
    s->win[0] = (ts_window){0, (uint32_t)s->norm_len, out->score, out->aligned};
    out->nwindows = 1;
    out->windows = s->win;
    return TS_OK;
}

int ts_scanner_featurise(ts_scanner *s, const char *text, size_t len, int cascade, float *xlex,
                         ts_sparse *v, ts_doc_score *info)
{
    info->score = -1;
    info->aligned = -1;
    v->n = 0;
    if (!s->has_cfg)
        return TS_E_INVALID;
    int err = normalise_match(s, text, len, info);
    if (err)
        return err;
    int any = ts_features_lexicon(&s->cfg, s->catmap, &info->matches, info->words, xlex);
    if (!any && cascade) {
        info->fast_path = 1;
        return TS_OK;
    }
    if (s->norm_len + 1 > s->bucket_cap) {
        uint32_t *b = realloc(s->buckets, (s->cap + 1) * sizeof *b);
        if (!b)
            return TS_E_NOMEM;
        s->buckets = b;
        s->bucket_cap = s->cap + 1;
    }
    if (s->norm_len + 1 > s->lower_cap) {
        char *l = realloc(s->lower, s->cap);
        if (!l)
            return TS_E_NOMEM;
        s->lower = l;
        s->lower_cap = s->cap;
    }
    int context = 0;
    size_t n = ts_features_ngrams_ctx(&s->cfg, s->norm, s->norm_len, s->lower, s->buckets, NULL, &context);
    return ts_sparse_from_ngrams(&s->cfg, v, s->buckets, n, context);
}
