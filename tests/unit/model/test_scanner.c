/* test_scanner.c: the scanner end to end (normalise, match, featurise, predict). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "model.h"

static int failures;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static ts_lexicon *make_lexicon(int reversed)
{
    ts_lexicon *lex;
    ts_diag d;
    ts_diag_clear(&d);
    if (ts_lexicon_create(&lex))
        return NULL;
    const char *ent = "robot\n";
    const char *shut = "refused to be shut down\n";
    int err;
    if (!reversed)
        err = ts_lexicon_add_text(lex, "ai_entity", "ent", ent, strlen(ent), &d) ||
              ts_lexicon_add_text(lex, "shutdown_resistance", "shut", shut, strlen(shut), &d);
    else
        err = ts_lexicon_add_text(lex, "shutdown_resistance", "shut", shut, strlen(shut), &d) ||
              ts_lexicon_add_text(lex, "ai_entity", "ent", ent, strlen(ent), &d);
    if (err || ts_lexicon_compile(lex, &d)) {
        fprintf(stderr, "lexicon: %s\n", d.message);
        ts_lexicon_free(lex);
        return NULL;
    }
    return lex;
}

static uint32_t bucket_of(const ts_feat_config *c, const char *tok)
{
    return (uint32_t)(XXH3_64bits_withSeed(tok, strlen(tok), c->seed) & (c->nbuckets - 1));
}

/* A hand-built model: weights on the lexicon features of both categories,
 * one n-gram weight ("robot"), a bias, calibration. */
static ts_model *make_model(const ts_lexicon *lex, uint32_t flags)
{
    ts_feat_config c;
    memset(&c, 0, sizeof c);
    c.nbuckets = 64;
    c.ngram = 2;
    c.seed = 9;
    if (ts_feat_config_from_lexicon(&c, lex))
        return NULL;
    ts_model *m;
    if (ts_model_new(&c, &m))
        return NULL;
    m->flags = flags;
    m->lexicon_id = ts_lexicon_id(lex);
    m->bias[0] = -3.0f;
    m->bias[1] = -1.0f;
    m->platt_a[0] = 1.5f;
    m->platt_b[0] = 0.1f;
    int ent = ts_lexicon_category_index(lex, "ai_entity");
    int shut = ts_lexicon_category_index(lex, "shutdown_resistance");
    m->w[2 * (TS_LEX_PER_CAT * ent + 0)] = 0.5f;      /* log1p(raw ai_entity) */
    m->w[2 * (TS_LEX_PER_CAT * shut + 1)] = 2.0f;     /* log1p(anchored shutdown) */
    m->w[2 * (TS_LEX_PER_CAT * shut + 0) + 1] = -1.0f;/* aligned head: raw shutdown */
    uint32_t nlex = ts_feat_nlex(&c);
    m->w[2 * (nlex - 1)] = 0.25f;                     /* document length */
    m->w[2 * (nlex + bucket_of(&c, "robot"))] = 1.0f;
    return m;
}

static double sig(double t) { return 1 / (1 + exp(-t)); }

static void test_known_answers(void)
{
    ts_lexicon *lex = make_lexicon(0);
    CHECK(lex != NULL);
    if (!lex)
        return;
    ts_model *m = make_model(lex, TS_MODEL_ALIGNED | TS_MODEL_CASCADE);
    ts_scanner *s;
    CHECK(ts_scanner_create(lex, m, TS_DEFAULT_ANCHOR_WORDS, 0, &s) == TS_OK);
    ts_doc_score r;
    const char *doc = "The  robot\n\trefused to be shut down.";
    CHECK(ts_scanner_score(s, doc, strlen(doc), &r) == TS_OK);
    size_t nlen;
    const char *norm = ts_scanner_normalised(s, &nlen);
    CHECK(nlen == strlen("The robot refused to be shut down.") && !memcmp(norm, "The robot refused to be shut down.", nlen));
    CHECK(r.words == 7 && r.fast_path == 0);
    int ent = ts_lexicon_category_index(lex, "ai_entity");
    int shut = ts_lexicon_category_index(lex, "shutdown_resistance");
    CHECK(r.matches.raw[ent] == 1 && r.matches.raw[shut] == 1 && r.matches.anchored[shut] == 1);
    /* By hand: tokens the robot refused to be shut down: 7 unigrams + 6 bigrams = 13 n-grams;
     * "robot" once, and no other n-gram has a weight unless it collides with its bucket. */
    ts_feat_config *c = &m->cfg;
    char lower[64];
    uint32_t buckets[64];
    size_t n = ts_features_ngrams(c, norm, nlen, lower, buckets, NULL);
    CHECK(n == 13);
    /* Binary bag: the "robot" bucket counts once, over D distinct buckets. */
    size_t distinct = 0;
    char hit[64] = {0};
    for (size_t i = 0; i < n; i++) {
        distinct += !hit[buckets[i]];
        hit[buckets[i]] = 1;
    }
    double z0 = -3.0 + 0.5 * log(2.0) + 2.0 * log(2.0) + 0.25 * log1p(7.0) / 8 + 1.0 / sqrt((double)distinct);
    double z1 = -1.0 - 1.0 * log(2.0);
    CHECK(fabs(r.score - sig(1.5 * z0 + 0.1)) < 1e-6);
    CHECK(fabs(r.aligned - sig(z1)) < 1e-6);

    /* A document without any hit takes the fast path: bias and length only. */
    const char *plain = "Gardening in spring is mostly patience.";
    CHECK(ts_scanner_score(s, plain, strlen(plain), &r) == TS_OK);
    CHECK(r.fast_path == 1 && r.words == 6);
    CHECK(fabs(r.score - sig(1.5 * (-3.0 + 0.25 * log1p(6.0) / 8) + 0.1)) < 1e-6);
    /* Featurising it for training with the cascade gives no n-grams either. */
    float xlex[TS_LEX_PER_CAT * TS_MAX_CATEGORIES + 1];
    ts_sparse v = {0};
    ts_doc_score info;
    CHECK(ts_scanner_featurise(s, plain, strlen(plain), 1, xlex, &v, &info) == TS_OK && v.n == 0 && info.fast_path);
    CHECK(ts_scanner_featurise(s, plain, strlen(plain), 0, xlex, &v, &info) == TS_OK && v.n > 0 && !info.fast_path);

    /* Without the cascade flag, the same document is hashed. */
    ts_model *m2 = make_model(lex, TS_MODEL_ALIGNED);
    ts_scanner *s2;
    CHECK(ts_scanner_create(lex, m2, TS_DEFAULT_ANCHOR_WORDS, 0, &s2) == TS_OK);
    CHECK(ts_scanner_score(s2, plain, strlen(plain), &r) == TS_OK && r.fast_path == 0);

    /* The featurise path and the scoring path agree. */
    CHECK(ts_scanner_featurise(s2, doc, strlen(doc), 0, xlex, &v, &info) == TS_OK);
    double z[2];
    ts_model_margin(m2, xlex, &v, z);
    CHECK(ts_scanner_score(s2, doc, strlen(doc), &r) == TS_OK);
    CHECK(fabs(r.score - ts_model_prob(m2, 0, z[0])) < 1e-6);

    /* Buffers are reused: a long document, then the first again, same answer. */
    size_t big = 1 << 20;
    char *long_doc = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        long_doc[i] = "robot shut garden "[i % 18];
    CHECK(ts_scanner_score(s2, long_doc, big, &r) == TS_OK && r.words > 100000);
    CHECK(ts_scanner_score(s2, doc, strlen(doc), &r) == TS_OK);
    CHECK(fabs(r.score - ts_model_prob(m2, 0, z[0])) < 1e-6);
    free(long_doc);

    /* No model: matches only. */
    ts_scanner *s3;
    CHECK(ts_scanner_create(lex, NULL, TS_DEFAULT_ANCHOR_WORDS, 1, &s3) == TS_OK);
    CHECK(ts_scanner_score(s3, doc, strlen(doc), &r) == TS_OK);
    CHECK(r.score == -1 && r.aligned == -1 && r.matches.raw[ent] == 1 && r.matches.nhits == 2);
    /* Empty text. */
    CHECK(ts_scanner_score(s, "", 0, &r) == TS_OK && r.words == 0 && r.fast_path == 1);

    /* The model knows its lexicon. */
    ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_model_check_lexicon(m, lex, &d) == TS_OK);
    ts_lexicon *rev = make_lexicon(1);
    CHECK(rev != NULL);
    ts_lexicon *other;
    const char *extra = "android\n";
    CHECK(ts_lexicon_create(&other) == TS_OK);
    CHECK(ts_lexicon_add_text(other, "ai_entity", "ent", extra, strlen(extra), &d) == TS_OK);
    CHECK(ts_lexicon_compile(other, &d) == TS_OK);
    CHECK(ts_lexicon_id(other) != ts_lexicon_id(lex));
    CHECK(ts_model_check_lexicon(m, other, &d) == TS_E_MISMATCH && strstr(d.message, "lexicon"));
    /* Forced onto a lexicon without the shutdown category: that category's
     * features are zero, the rest still count. */
    ts_scanner *s5;
    CHECK(ts_scanner_create(other, m, TS_DEFAULT_ANCHOR_WORDS, 0, &s5) == TS_OK);
    const char *andr = "The android refused to be shut down.";
    CHECK(ts_scanner_score(s5, andr, strlen(andr), &r) == TS_OK && !r.fast_path);
    ts_scanner_free(s5);
    ts_lexicon_free(other);
    /* Forced onto a lexicon with the categories in another order, the model
     * matches categories by name: same scores. */
    if (rev) {
        ts_scanner *s4;
        ts_doc_score r1, r2;
        CHECK(ts_scanner_create(rev, m, TS_DEFAULT_ANCHOR_WORDS, 0, &s4) == TS_OK);
        CHECK(ts_scanner_score(s, doc, strlen(doc), &r1) == TS_OK);
        CHECK(ts_scanner_score(s4, doc, strlen(doc), &r2) == TS_OK);
        CHECK(fabs(r1.score - r2.score) < 1e-9 && fabs(r1.aligned - r2.aligned) < 1e-9);
        ts_scanner_free(s4);
    }
    ts_sparse_release(&v);
    ts_lexicon_free(rev);
    ts_scanner_free(s);
    ts_scanner_free(s2);
    ts_scanner_free(s3);
    ts_scanner_free(NULL);
    ts_model_free(m);
    ts_model_free(m2);
    ts_lexicon_free(lex);
}

/* ts_normalise_map: every word of the normalised text maps back to a source
 * range that normalises to that same word, whatever white space, quotes,
 * dashes, zero-width characters and invalid bytes surround it. */
static void test_offset_map(void)
{
    static const char *pieces[] = {
        "a", "robot", "  ", "\t\n", "\xc2\xa0", "\xe2\x80\x9c", "\xe2\x80\x9d", "\xe2\x80\x94",
        "\xe2\x80\x8b", "\xc2\xad", "caf\xc3\xa9", "\xff", "\xe3\x80\x80", "x", "\xf0\x9f\xa4\x96", " ",
    };
    const size_t npieces = sizeof pieces / sizeof *pieces;
    uint64_t rnd = 12345;
    for (int round = 0; round < 2000; round++) {
        char src[512], norm[512];
        size_t len = 0;
        int n = 1 + (int)(rnd % 40);
        for (int i = 0; i < n; i++) {
            rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *p = pieces[(rnd >> 33) % npieces];
            memcpy(src + len, p, strlen(p));
            len += strlen(p);
        }
        size_t nl = ts_normalise(src, len, norm, NULL);
        /* Word ranges of the normalised text. */
        uint64_t st[256], en[256];
        size_t nw = 0;
        for (size_t i = 0; i < nl;) {
            size_t j = i;
            while (j < nl && norm[j] != ' ')
                j++;
            st[nw] = i;
            en[nw] = j;
            nw++;
            i = j + 1;
        }
        uint64_t ms[256], me[256];
        memcpy(ms, st, nw * sizeof *st);
        memcpy(me, en, nw * sizeof *en);
        ts_normalise_map(src, len, ms, nw, 0);
        ts_normalise_map(src, len, me, nw, 1);
        for (size_t w = 0; w < nw; w++) {
            char again[512];
            CHECK(ms[w] <= me[w] && me[w] <= len);
            size_t al = ts_normalise(src + ms[w], me[w] - ms[w], again, NULL);
            CHECK(al == en[w] - st[w] && !memcmp(again, norm + st[w], al));
        }
        /* The end of the normalised text maps to where only white space
         * (or nothing) is left; offsets past it map to the end. */
        uint64_t end[2] = {nl, nl + 5};
        ts_normalise_map(src, len, end, 2, 0);
        char rest[512];
        CHECK(end[0] <= len && ts_normalise(src + end[0], len - end[0], rest, NULL) == 0);
        CHECK(end[1] == len);
    }
}

/* Random words of a small vocabulary (repeats, case, apostrophes, a bigram
 * across a window's start), separated by spaces and now and then a line
 * break (paragraphs). */
static size_t random_text(uint64_t *st, char *out, size_t cap, uint32_t nwords)
{
    static const char *const vocab[] = {"the", "The", "ROBOT", "robot's", "'quoted'", "shut", "down",
                                        "caf\xc3\xa9", "42x", "a", "engineers", "--", "weights", "it's",
                                        "supercalifragilisticexpialidocious", "x", "Machine", "''"};
    size_t n = 0;
    for (uint32_t i = 0; i < nwords; i++) {
        *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
        const char *w = vocab[(*st >> 33) % (sizeof vocab / sizeof vocab[0])];
        size_t l = strlen(w);
        if (n + l + 2 >= cap)
            break;
        if (i)
            out[n++] = ((*st >> 20) % 9) ? ' ' : '\n';
        memcpy(out + n, w, l);
        n += l;
    }
    return n;
}

/*
 * Passage scoring, against its definition: a window is scored as a document
 * of its own would be. With a lexicon that never hits, a window's score is
 * bit for bit the score of its normalised text scored alone (its n-grams in
 * text order, a bigram across its start left out, its words). Unigram and
 * bigram models, sliding and paragraph windows.
 */
static void test_windows_vs_documents(void)
{
    ts_lexicon *lex;
    ts_diag d;
    ts_diag_clear(&d);
    const char *none = "zzqqxxv\n";
    CHECK(ts_lexicon_create(&lex) == TS_OK);
    CHECK(ts_lexicon_add_text(lex, "ai_entity", "none", none, strlen(none), &d) == TS_OK);
    CHECK(ts_lexicon_compile(lex, &d) == TS_OK);
    /* With context words too: "robot" and "machine" come and go between
     * windows ("ROBOT", "Machine"; "robot's" is another token). */
    static const char *const ctx_words[] = {"robot", "machine"};
    for (int ctx = 0; ctx <= 1; ctx++)
    for (uint32_t ngram = 1; ngram <= 2; ngram++)
        for (uint32_t para = 0; para <= 3; para += 3) {
            ts_feat_config c;
            memset(&c, 0, sizeof c);
            c.nbuckets = 32;   /* few buckets: collisions, so repeats of a bucket inside a window */
            c.ngram = ngram;
            c.seed = 5;
            CHECK(ts_feat_config_from_lexicon(&c, lex) == TS_OK);
            if (ctx)
                CHECK(ts_feat_config_set_context(&c, ctx_words, 2, NULL) == TS_OK && c.nctx == 2);
            ts_model *m;
            CHECK(ts_model_new(&c, &m) == TS_OK);
            m->window = 8;
            m->stride = 3;
            m->para_min = para;
            m->flags = TS_MODEL_ALIGNED;
            m->bias[0] = -1.0f;
            uint64_t st = 77 + ngram + para + 1000 * (uint64_t)ctx;
            int with_ctx = 0, without_ctx = 0;
            for (size_t i = 0; i < (size_t)TS_NHEADS * ts_feat_nfeat(&c); i++) {
                st = st * 6364136223846793005ULL + 1442695040888963407ULL;
                m->w[i] = (float)((double)(st >> 40) / (double)(1 << 24) - 0.5);
            }
            ts_scanner *doc, *alone;
            CHECK(ts_scanner_create(lex, m, 40, 0, &doc) == TS_OK);
            CHECK(ts_scanner_create(lex, m, 40, 0, &alone) == TS_OK);
            char text[4096], win[4096];
            for (int round = 0; round < 200; round++) {
                size_t len = random_text(&st, text, sizeof text, 9 + (uint32_t)(st >> 50) % 120);
                ts_doc_score ds;
                CHECK(ts_scanner_score(doc, text, len, &ds) == TS_OK);
                size_t nlen;
                const char *norm = ts_scanner_normalised(doc, &nlen);
                CHECK(ds.nwindows >= 1);
                if (ds.words <= m->window)
                    continue;
                for (uint32_t k = 0; k < ds.nwindows; k++) {
                    ts_window w = ds.windows[k];
                    CHECK(w.start < w.end && w.end <= nlen);
                    memcpy(win, norm + w.start, w.end - w.start);
                    ts_doc_score one;
                    CHECK(ts_scanner_score(alone, win, w.end - w.start, &one) == TS_OK);
                    CHECK(one.nwindows == 1);
                    CHECK(one.score == w.score && one.aligned == w.aligned);
                    if (ctx) {
                        int has = 0;
                        for (size_t i = 0; i + 5 <= w.end - w.start && !has; i++)
                            has = !strncmp(win + i, "ROBOT", 5) || !strncmp(win + i, "Machine", 7);
                        with_ctx += has;
                        without_ctx += !has;
                    }
                }
            }
            /* Both kinds of window were scored (the context block was on and off). */
            if (ctx)
                CHECK(with_ctx > 0 && without_ctx > 0);
            ts_scanner_free(doc);
            ts_scanner_free(alone);
            ts_model_free(m);
        }
    ts_lexicon_free(lex);
}

/* The gate: a document without a gate word is scored as an empty document
 * by the full scan; a document with one gets exactly the full scan. */
static void test_gate(void)
{
    ts_lexicon *lex = make_lexicon(0);
    CHECK(lex != NULL);
    if (!lex)
        return;
    ts_model *m = make_model(lex, TS_MODEL_ALIGNED);
    ts_gate *g;
    CHECK(ts_gate_create(&g) == TS_OK);
    ts_scanner *full, *gated;
    CHECK(ts_scanner_create(lex, m, 40, 0, &full) == TS_OK);
    CHECK(ts_scanner_create(lex, m, 40, 0, &gated) == TS_OK);
    CHECK(ts_scanner_set_gate(gated, g) == TS_OK);
    ts_doc_score a, b, e;
    CHECK(ts_scanner_score(full, "", 0, &e) == TS_OK);
    const char *texts[] = {
        "The council voted on the new bus routes for the river district.",
        "The robot refused to be shut down.",
        "Robots, everywhere: the ROBOT refused to be shut down, it said, robot to robot.",
        "the MACHINE said nothing",
        "nothing here but refused to be shut down",
        "",
    };
    const int pass[] = {0, 1, 1, 1, 1, 0};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        size_t len = strlen(texts[i]);
        CHECK(ts_scanner_score(full, texts[i], len, &a) == TS_OK);
        CHECK(ts_scanner_score(gated, texts[i], len, &b) == TS_OK);
        CHECK(a.gated == 0 && b.gated == !pass[i]);
        const ts_doc_score *want = pass[i] ? &a : &e;
        CHECK(b.score == want->score && b.aligned == want->aligned);
        CHECK(b.margin[0] == want->margin[0] && b.margin[1] == want->margin[1]);
        CHECK(b.matches.nhits == want->matches.nhits && b.matches.ncategories == want->matches.ncategories);
        for (uint32_t c = 0; c < b.matches.ncategories; c++)
            CHECK(b.matches.raw[c] == want->matches.raw[c] && b.matches.anchored[c] == want->matches.anchored[c]);
        CHECK(b.nwindows == 1 || pass[i]);
    }
    /* Unset: the full scan again. */
    CHECK(ts_scanner_set_gate(gated, NULL) == TS_OK);
    CHECK(ts_scanner_score(gated, texts[0], strlen(texts[0]), &b) == TS_OK);
    CHECK(ts_scanner_score(full, texts[0], strlen(texts[0]), &a) == TS_OK);
    CHECK(b.gated == 0 && b.score == a.score && b.words == a.words);
    ts_scanner_free(full);
    ts_scanner_free(gated);
    ts_gate_free(g);
    ts_model_free(m);
    ts_lexicon_free(lex);
}

int main(void)
{
    test_known_answers();
    test_offset_map();
    test_windows_vs_documents();
    test_gate();
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    return failures != 0;
}
