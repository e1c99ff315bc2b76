/*
 * scanner.c: one document at a time: normalise, match, featurise, predict.
 * Also the parts of the model that need a lexicon (category map, id check).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

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
    *out = s;
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
    free(s->norm);
    free(s->lower);
    free(s->buckets);
    free(s->seen);
    free(s);
}

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

/* Normalise and match; fills info's words and matches. */
static int normalise_match(ts_scanner *s, const char *text, size_t len, ts_doc_score *info)
{
    if (len >= UINT32_MAX)
        return TS_E_LIMIT;
    int err = reserve(s, len);
    if (err)
        return err;
    uint32_t words = 0;
    s->norm_len = ts_normalise(text, len, s->norm, &words);
    s->norm[s->norm_len] = '\0';
    info->words = words;
    info->fast_path = 0;
    return ts_matcher_scan(s->matcher, s->norm, s->norm_len, &info->matches);
}

int ts_scanner_score(ts_scanner *s, const char *text, size_t len, ts_doc_score *out)
{
    out->score = -1;
    out->aligned = -1;
    int err = normalise_match(s, text, len, out);
    if (err || !s->model)
        return err;
    const ts_model *m = s->model;
    int any = ts_features_lexicon(&s->cfg, s->catmap, &out->matches, out->words, s->xlex);
    double z[TS_NHEADS];
    ts_model_margin(m, s->xlex, NULL, z);
    if (!any && (m->flags & TS_MODEL_CASCADE))
        out->fast_path = 1;
    else
        ts_features_ngram_dot(&s->cfg, s->norm, s->norm_len, m->w, s->seen, &s->gen, z);
    out->score = ts_model_prob(m, TS_HEAD_SCORE, z[0]);
    if (m->flags & TS_MODEL_ALIGNED)
        out->aligned = ts_model_prob(m, TS_HEAD_ALIGNED, z[1]);
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
    size_t n = ts_features_ngrams(&s->cfg, s->norm, s->norm_len, s->lower, s->buckets, NULL);
    return ts_sparse_from_buckets(v, s->buckets, n);
}
