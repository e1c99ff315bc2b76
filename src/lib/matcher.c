/*
 * matcher.c: scanning a normalised text with a compiled lexicon.
 *
 * One matcher per thread: it owns a clone of the lexicon's prototype scratch
 * and buffers that only grow, so a scan allocates nothing once the buffers
 * have reached the largest number of hits seen.
 *
 * Anchoring: a trope hit (any category but ai_entity) is anchored when an
 * ai_entity hit ends within anchor_words words of its end, before or after.
 * The word distance between two end offsets is the number of spaces between
 * them: normalised text has exactly one space between words. End offsets (not
 * starts) are used so the counts do not depend on whether spans were asked for.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lexicon_internal.h"

struct ts_matcher {
    const ts_lexicon *lex;
    const hs_database_t *db;     /* NULL for a lexicon without patterns */
    hs_scratch_t *scratch;
    int spans;
    uint32_t anchor_words;
    uint32_t ncat;
    uint32_t raw[TS_MAX_CATEGORIES];
    uint32_t anchored[TS_MAX_CATEGORIES];
    ts_hit *hits;
    size_t nhits, cap;
    uint64_t *words;             /* per hit: spaces before its end; top bit: anchored from before */
    size_t wcap;
    int unordered;               /* hits did not arrive in (end, pattern) order */
    int nomem;
};

int ts_matcher_create(const ts_lexicon *lex, int want_spans, uint32_t anchor_words,
                      ts_matcher **out)
{
    if (!out)
        return TS_E_INVALID;
    *out = NULL;
    if (!lex || !lex->compiled)
        return TS_E_INVALID;
    ts_matcher *m = calloc(1, sizeof *m);
    if (!m)
        return TS_E_NOMEM;
    m->lex = lex;
    m->spans = want_spans != 0;
    m->anchor_words = anchor_words;
    m->ncat = lex->ncat;
    hs_scratch_t *proto = lex->scratch;
    if (want_spans) {
        int rc = ts_lexicon_compile_spans(lex, NULL);
        if (rc) {
            free(m);
            return rc;
        }
        proto = lex->scratch_som;
    }
    /* After ts_lexicon_compile_spans these never change again. */
    m->db = want_spans ? lex->db_som : lex->db;
    if (proto && hs_clone_scratch(proto, &m->scratch) != HS_SUCCESS) {
        free(m);
        return TS_E_NOMEM;
    }
    *out = m;
    return TS_OK;
}

void ts_matcher_free(ts_matcher *m)
{
    if (!m)
        return;
    hs_free_scratch(m->scratch);
    free(m->hits);
    free(m->words);
    free(m);
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
    ts_matcher *m = ctx;
    if (m->nhits == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        ts_hit *h = realloc(m->hits, cap * sizeof *h);
        if (!h) {
            m->nomem = 1;
            return 1;   /* stop the scan */
        }
        m->hits = h;
        m->cap = cap;
    }
    ts_hit *h = &m->hits[m->nhits];
    h->end = (uint32_t)to;
    /* Without start-of-match mode Hyperscan reports from = 0: say "unknown"
     * with an empty span rather than a wrong one. */
    h->start = m->spans ? (uint32_t)from : (uint32_t)to;
    h->pattern = id;
    h->category = m->lex->pat_cat[id];
    h->anchored = 0;
    if (m->nhits) {
        const ts_hit *p = h - 1;
        if (p->end > h->end || (p->end == h->end && p->pattern > h->pattern))
            m->unordered = 1;
    }
    m->nhits++;
    m->raw[h->category]++;
    return 0;
}

static int cmp_hit(const void *a, const void *b)
{
    const ts_hit *x = a, *y = b;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    if (x->pattern != y->pattern)
        return x->pattern < y->pattern ? -1 : 1;
    return (x->start > y->start) - (x->start < y->start);
}

static uint64_t count_spaces(const char *p, const char *end)
{
    uint64_t n = 0;
    while ((p = memchr(p, ' ', (size_t)(end - p)))) {
        n++;
        p++;
    }
    return n;
}

/* anchored[c] for every trope hit within the window of an ai_entity hit. */
static int anchor(ts_matcher *m, const char *text)
{
    int ent = m->lex->entity;
    size_t n = m->nhits;
    if (m->wcap < n) {
        size_t cap = m->wcap ? m->wcap : 256;
        while (cap < n)
            cap *= 2;
        uint64_t *w = realloc(m->words, cap * sizeof *w);
        if (!w)
            return TS_E_NOMEM;
        m->words = w;
        m->wcap = cap;
    }
    /* One walk over the text, up to the last hit. */
    uint64_t spaces = 0;
    uint32_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t e = m->hits[i].end;
        if (e > pos) {
            spaces += count_spaces(text + pos, text + e);
            pos = e;
        }
        m->words[i] = spaces;
    }
    /* Nearest ai_entity hit before (forward pass) and after (backward pass);
     * word positions never decrease along the hits. */
    const uint64_t flag = 1ull << 63, none = UINT64_MAX;
    uint64_t last = none;
    for (size_t i = 0; i < n; i++) {
        if ((int)m->hits[i].category == ent)
            last = m->words[i];
        else if (last != none && m->words[i] - last <= m->anchor_words)
            m->words[i] |= flag;
    }
    last = none;
    for (size_t i = n; i-- > 0;) {
        ts_hit *h = &m->hits[i];
        uint64_t w = m->words[i] & ~flag;
        if ((int)h->category == ent)
            last = w;
        else if ((m->words[i] & flag) || (last != none && last - w <= m->anchor_words)) {
            m->anchored[h->category]++;
            m->hits[i].anchored = 1;
        }
    }
    return TS_OK;
}

int ts_matcher_scan(ts_matcher *m, const char *text, size_t len, ts_matches *out)
{
    if (!m || !out || (!text && len))
        return TS_E_INVALID;
    memset(out, 0, sizeof *out);
    if (len >= UINT32_MAX || len > UINT_MAX)
        return TS_E_LIMIT;
    memset(m->raw, 0, sizeof m->raw);
    memset(m->anchored, 0, sizeof m->anchored);
    m->nhits = 0;
    m->unordered = 0;
    m->nomem = 0;
    int rc = TS_OK;
    if (m->db && len) {
        hs_error_t e = hs_scan(m->db, text, (unsigned int)len, 0, m->scratch, on_match, m);
        if (m->nomem) {
            rc = TS_E_NOMEM;
        } else if (e != HS_SUCCESS) {
            rc = TS_E_HYPERSCAN;
        }
    }
    if (!rc && m->unordered)
        qsort(m->hits, m->nhits, sizeof *m->hits, cmp_hit);
    int ent = m->lex->entity;
    if (!rc && ent >= 0 && m->raw[ent] && m->raw[ent] < m->nhits)
        rc = anchor(m, text);
    if (rc) {
        memset(m->raw, 0, sizeof m->raw);
        memset(m->anchored, 0, sizeof m->anchored);
        m->nhits = 0;
        return rc;
    }
    out->ncategories = m->ncat;
    out->raw = m->raw;
    out->anchored = m->anchored;
    out->nhits = m->nhits;
    out->hits = m->hits;
    return TS_OK;
}
