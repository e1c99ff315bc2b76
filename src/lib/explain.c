/*
 * explain.c: a text's margins feature by feature (weight x value per head),
 * from the model's weights: what `tropescan explain` prints, and what a
 * binding can show. The arithmetic is the model's (model.h: binary hashed
 * n-grams, each distinct bucket weighted 1 / sqrt(D)).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

struct ts_explainer {
    const ts_model *m;
    ts_scanner *sc;
    float xlex[TS_LEX_PER_CAT * TS_MAX_CATEGORIES + 1];
    ts_sparse v;
    char *lower;
    uint32_t *buckets;
    ts_ngram *spans;
    size_t cap;
    ts_contribution *cs;
    size_t ncs, cscap;
    ts_doc_score last;          /* the featurised text's matches */
};

int ts_explainer_create(const ts_model *model, ts_scanner *scanner, ts_explainer **out)
{
    *out = NULL;
    if (!model || !scanner)
        return TS_E_INVALID;
    ts_explainer *e = calloc(1, sizeof *e);
    if (!e)
        return TS_E_NOMEM;
    e->m = model;
    e->sc = scanner;
    *out = e;
    return TS_OK;
}

void ts_explainer_free(ts_explainer *e)
{
    if (!e)
        return;
    ts_sparse_release(&e->v);
    free(e->lower);
    free(e->buckets);
    free(e->spans);
    free(e->cs);
    free(e);
}

void ts_model_feature_name(const ts_model *m, int f, char *buf, size_t cap)
{
    static const char *const kind[TS_LEX_PER_CAT] = {"raw", "anchored", "density"};
    uint32_t nlex = ts_feat_nlex(&m->cfg);
    if (f < 0 || (uint32_t)f >= nlex)
        snprintf(buf, cap, "?");
    else if ((uint32_t)f == nlex - 1)
        snprintf(buf, cap, "lex:words");
    else
        snprintf(buf, cap, "lex:%s:%s", m->cfg.cat[f / TS_LEX_PER_CAT], kind[f % TS_LEX_PER_CAT]);
}

double ts_model_probability(const ts_model *m, int head, double margin) { return ts_model_prob(m, head, margin); }

static int push(ts_explainer *e, const ts_contribution *c)
{
    if (e->ncs == e->cscap) {
        size_t cap = e->cscap ? 2 * e->cscap : 256;
        ts_contribution *n = realloc(e->cs, cap * sizeof *n);
        if (!n)
            return -1;
        e->cs = n;
        e->cscap = cap;
    }
    e->cs[e->ncs++] = *c;
    return 0;
}

/* Occurrences sorted by bucket, then n-gram text, then position. The
 * comparison needs the text: a thread-local, since qsort has no context. */
static _Thread_local const char *sort_text;

static int cmp_text(const ts_ngram *p, const ts_ngram *q)
{
    size_t lp = p->end - p->start, lq = q->end - q->start;
    size_t l = lp < lq ? lp : lq;
    int c = memcmp(sort_text + p->start, sort_text + q->start, l);
    if (c)
        return c;
    return (lp > lq) - (lp < lq);
}

static int cmp_bucket(const void *a, const void *b)
{
    const ts_ngram *p = a, *q = b;
    if (p->bucket != q->bucket)
        return (p->bucket > q->bucket) - (p->bucket < q->bucket);
    int c = cmp_text(p, q);
    if (c)
        return c;
    return (p->start > q->start) - (p->start < q->start);
}

int ts_explain(ts_explainer *e, const char *text, size_t len, ts_explanation *out)
{
    const ts_model *m = e->m;
    ts_doc_score *fp = &e->last;
    int err = ts_scanner_featurise(e->sc, text, len, (m->flags & TS_MODEL_CASCADE) != 0, e->xlex, &e->v, fp);
    if (err)
        return err;
    size_t nlen;
    const char *norm = ts_scanner_normalised(e->sc, &nlen);
    uint32_t nlex = ts_feat_nlex(&m->cfg);
    size_t n = 0;
    e->ncs = 0;
    for (uint32_t i = 0; i < nlex; i++) {
        if (e->xlex[i] == 0)
            continue;
        ts_contribution c = {{m->w[2 * i] * e->xlex[i], m->w[2 * i + 1] * e->xlex[i]}, e->xlex[i], (int)i, 0, 0, 0, 0, 0};
        if (push(e, &c))
            return TS_E_NOMEM;
    }
    if (!fp->fast_path && nlen) {
        if (nlen + 1 > e->cap) {
            char *l = realloc(e->lower, nlen + 1);
            uint32_t *b = realloc(e->buckets, (nlen + 1) * sizeof *b);
            ts_ngram *sp = realloc(e->spans, (nlen + 1) * sizeof *sp);
            if (l)
                e->lower = l;
            if (b)
                e->buckets = b;
            if (sp)
                e->spans = sp;
            if (!l || !b || !sp)
                return TS_E_NOMEM;
            e->cap = nlen + 1;
        }
        int context = 0;
        n = ts_features_ngrams_ctx(&m->cfg, norm, nlen, e->lower, e->buckets, e->spans, &context);
        /* A bucket counts once (binary features, model.h): its contribution
         * is w / sqrt(D), D distinct buckets, named by its first n-gram. */
        sort_text = e->lower;
        qsort(e->spans, n, sizeof *e->spans, cmp_bucket);
        size_t d = 0;
        for (size_t i = 0; i < n; i++)
            d += i == 0 || e->spans[i].bucket != e->spans[i - 1].bucket;
        double k = d ? 1.0 / sqrt((double)d) : 0;
        const float *wb = m->w + (size_t)TS_NHEADS * nlex;
        const size_t bs = (size_t)TS_NHEADS * ts_feat_bstride(&m->cfg);
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && e->spans[j].bucket == e->spans[i].bucket)
                j++;
            const float *w = wb + bs * e->spans[i].bucket;
            ts_contribution c = {{w[0] * k, w[1] * k}, (double)(j - i), -1, e->spans[i].start, e->spans[i].end,
                                 e->spans[i].bucket, i, j};
            if (push(e, &c))
                return TS_E_NOMEM;
            if (context) {
                /* The bucket's copy in the context block (model.h). */
                c.c[0] = w[2] * k;
                c.c[1] = w[3] * k;
                c.lexicon = TS_CONTRIB_CONTEXT;
                if (push(e, &c))
                    return TS_E_NOMEM;
            }
            i = j;
        }
    }
    memset(out, 0, sizeof *out);
    out->contributions = e->cs;
    out->n = e->ncs;
    /* ts_ngram and ts_occurrence are the same three uint32_t. */
    _Static_assert(sizeof(ts_ngram) == sizeof(ts_occurrence), "ts_occurrence mirrors ts_ngram");
    out->ngrams = (const ts_occurrence *)(const void *)e->spans;
    out->nngrams = n;
    for (int h = 0; h < TS_NHEADS; h++) {
        double z = m->bias[h];
        for (size_t i = 0; i < e->ncs; i++)
            z += e->cs[i].c[h];
        out->bias[h] = m->bias[h];
        out->margin[h] = z;
        out->probability[h] = h == 1 && !ts_model_has_aligned(m) ? -1 : ts_model_prob(m, h, z);
    }
    out->fast_path = fp->fast_path;
    out->normalised = norm;
    out->normalised_len = nlen;
    out->lowered = e->lower;
    out->matches = &fp->matches;
    return TS_OK;
}
