/* features.c: lexicon features and hashed word n-grams (the layout is in model.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "model.h"

static void diag_msg(ts_diag *diag, const char *msg)
{
    if (diag) {
        strncpy(diag->message, msg, sizeof diag->message - 1);
        diag->message[sizeof diag->message - 1] = '\0';
    }
}

int ts_feat_config_check(const ts_feat_config *cfg, ts_diag *diag)
{
    if (cfg->nbuckets < 2 || cfg->nbuckets > TS_MAX_BUCKETS || (cfg->nbuckets & (cfg->nbuckets - 1))) {
        diag_msg(diag, "number of hash buckets is not a power of two in 2..2^24");
        return TS_E_MODEL;
    }
    if (cfg->ngram != 1 && cfg->ngram != 2) {
        diag_msg(diag, "n-gram order must be 1 or 2");
        return TS_E_MODEL;
    }
    if (cfg->ncat > TS_MAX_CATEGORIES) {
        diag_msg(diag, "too many lexicon categories");
        return TS_E_MODEL;
    }
    if (cfg->nctx > TS_CTX_MAX) {
        diag_msg(diag, "too many context words");
        return TS_E_MODEL;
    }
    for (uint32_t i = 0; i < cfg->ncat; i++)
        if (!memchr(cfg->cat[i], '\0', TS_CAT_NAME_MAX) || !cfg->cat[i][0]) {
            diag_msg(diag, "bad category name");
            return TS_E_MODEL;
        }
    return TS_OK;
}

int ts_features_lexicon(const ts_feat_config *cfg, const int32_t *catmap,
                        const ts_matches *m, uint32_t words, float *x)
{
    int any = 0;
    double per = 1000.0 / (words ? words : 1);
    for (uint32_t c = 0; c < cfg->ncat; c++) {
        float *f = x + TS_LEX_PER_CAT * c;
        int32_t k = catmap[c];
        uint32_t raw = 0, anch = 0;
        if (k >= 0 && m && (uint32_t)k < m->ncategories) {
            raw = m->raw[k];
            anch = m->anchored ? m->anchored[k] : 0;
        }
        any |= raw != 0;
        /* log1p(0) is 0: most windows have no hit, and skipping the calls
         * there changes no bit. */
        f[0] = raw ? (float)log1p((double)raw) : 0.0f;
        f[1] = anch ? (float)log1p((double)anch) : 0.0f;
        f[2] = raw ? (float)log1p(raw * per) : 0.0f;
    }
    x[TS_LEX_PER_CAT * cfg->ncat] = (float)(log1p((double)words) / 8.0);
    /* Hits of a category the model does not know still count as hits for the
     * cascade: the fast path must only see documents with nothing at all. */
    if (m)
        for (uint32_t k = 0; k < m->ncategories && !any; k++)
            any = m->raw[k] != 0;
    return any;
}

/* A token byte: ASCII letter or digit, apostrophe, or any byte >= 0x80. The
 * table is over the lowercased text, but upper case is included anyway. */
static const unsigned char tok_class[256] = {
    ['\''] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
#define R16(b) [b] = 1, [b + 1] = 1, [b + 2] = 1, [b + 3] = 1, [b + 4] = 1, [b + 5] = 1, \
    [b + 6] = 1, [b + 7] = 1, [b + 8] = 1, [b + 9] = 1, [b + 10] = 1, [b + 11] = 1,        \
    [b + 12] = 1, [b + 13] = 1, [b + 14] = 1, [b + 15] = 1
    R16(0x80), R16(0x90), R16(0xa0), R16(0xb0), R16(0xc0), R16(0xd0), R16(0xe0), R16(0xf0),
#undef R16
};

int ts_feat_config_set_context(ts_feat_config *cfg, const char *const *words, size_t n, ts_diag *diag)
{
    cfg->nctx = 0;
    memset(cfg->ctx, 0, sizeof cfg->ctx);
    memset(cfg->ctx_slot, 0, sizeof cfg->ctx_slot);
    char why[200];
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i];
        size_t l = strlen(w);
        char low[TS_CTX_WORD_MAX];
        if (l == 0 || l >= TS_CTX_WORD_MAX) {
            snprintf(why, sizeof why, "context word %zu: %zu bytes (1 to %d)", i + 1, l, TS_CTX_WORD_MAX - 1);
            goto bad;
        }
        for (size_t k = 0; k < l; k++) {
            unsigned char c = (unsigned char)w[k];
            /* One token, as the tokeniser cuts it: token bytes only, no
             * apostrophe at either end (those are trimmed). */
            if (!tok_class[c] || (c == '\'' && (k == 0 || k + 1 == l))) {
                snprintf(why, sizeof why, "context word \"%.40s\" is not one token (byte %zu)", w, k + 1);
                goto bad;
            }
            low[k] = (char)(c + (((unsigned char)(c - 'A') < 26) << 5));
        }
        low[l] = '\0';
        uint64_t u = XXH3_64bits_withSeed(low, l, cfg->seed);
        if (ts_feat_is_context(cfg, u))
            continue;                       /* a duplicate */
        if (u == 0) {                       /* 0 marks an empty slot: never seen, but not stored */
            snprintf(why, sizeof why, "context word \"%.40s\" hashes to 0 with this seed", w);
            goto bad;
        }
        if (cfg->nctx >= TS_CTX_MAX) {
            snprintf(why, sizeof why, "more than %d context words", TS_CTX_MAX);
            goto bad;
        }
        size_t j = (size_t)(u >> 54) & (TS_CTX_SLOTS - 1);
        while (cfg->ctx_slot[j])
            j = (j + 1) & (TS_CTX_SLOTS - 1);
        cfg->ctx_slot[j] = u;
        memcpy(cfg->ctx[cfg->nctx++], low, l + 1);
    }
    return TS_OK;
bad:
    diag_msg(diag, why);
    cfg->nctx = 0;
    memset(cfg->ctx, 0, sizeof cfg->ctx);
    memset(cfg->ctx_slot, 0, sizeof cfg->ctx_slot);
    return TS_E_INVALID;
}

static void lowercase(const char *src, size_t len, char *dst)
{
    /* Branch-free so the compiler vectorises it. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (char)(c + (((unsigned char)(c - 'A') < 26) << 5));
    }
}

static inline uint64_t bigram_hash(uint64_t prev, uint64_t cur, uint64_t seed)
{
    unsigned char pair[16];
    XXH_writeLE64(pair, prev);
    XXH_writeLE64(pair + 8, cur);
    return XXH3_64bits_withSeed(pair, 16, seed ^ TS_BIGRAM_SALT);
}

/*
 * Token boundaries, 16 bytes at a time (SSE2): a bit mask of the token bytes
 * (tok_class) of p[0..16). Finding a token is then a ctz on the mask, not a
 * loop over its bytes whose exit the branch predictor cannot guess (tokens of
 * prose have any length from 1 to 15). The scalar loops of tok_class do the
 * last bytes of a text, so nothing is read past its end.
 */
#if defined(__SSE2__) && !defined(TS_FEATURES_NO_SIMD)
#include <emmintrin.h>
#define FEAT_SSE2 1

static inline uint32_t tok_mask16(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* Letters: (c | 0x20) - 'a' < 26 (unsigned); digits: c - '0' < 10. */
    __m128i l = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
    __m128i letter = _mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(25)), l);
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    __m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    __m128i apos = _mm_cmpeq_epi8(v, _mm_set1_epi8('\''));
    __m128i m = _mm_or_si128(_mm_or_si128(letter, digit), apos);
    /* The sign bit: bytes >= 0x80. */
    return (uint32_t)_mm_movemask_epi8(_mm_or_si128(m, v)) & 0xFFFF;
}

/* Lowercases 16 bytes (A-Z only) from src into dst. */
static inline void lowercase16(const unsigned char *src, char *dst)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)src);
    __m128i u = _mm_sub_epi8(v, _mm_set1_epi8('A'));
    __m128i upper = _mm_cmpeq_epi8(_mm_min_epu8(u, _mm_set1_epi8(25)), u);
    _mm_storeu_si128((__m128i *)(void *)dst, _mm_add_epi8(v, _mm_and_si128(upper, _mm_set1_epi8(0x20))));
}
#endif

/* The next token run [*s, *e) at or after i in p[0..len), before apostrophes
 * are trimmed. @return 0 when there is none. */
static inline int next_run(const unsigned char *p, size_t len, size_t i, size_t *s, size_t *e)
{
#if defined(FEAT_SSE2)
    while (len - i >= 16) {
        uint32_t m = tok_mask16(p + i);
        if (!m) {
            i += 16;
            continue;
        }
        uint32_t a = (uint32_t)__builtin_ctz(m);
        *s = i + a;
        /* The first byte after a that is not a token byte. */
        uint32_t z = ~m & (0xFFFFu << a) & 0xFFFF;
        if (z) {
            *e = i + __builtin_ctz(z);
            return 1;
        }
        i += 16;
        while (len - i >= 16) {
            z = ~tok_mask16(p + i) & 0xFFFF;
            if (z) {
                *e = i + __builtin_ctz(z);
                return 1;
            }
            i += 16;
        }
        while (i < len && tok_class[p[i]])
            i++;
        *e = i;
        return 1;
    }
#endif
    while (i < len && !tok_class[p[i]])
        i++;
    if (i == len)
        return 0;
    *s = i;
    while (i < len && tok_class[p[i]])
        i++;
    *e = i;
    return 1;
}

/*
 * The tokeniser, shared by the entry points below through an inline body:
 * EMIT(bucket, start, end, context) is called for each n-gram in text order
 * (context: the n-gram is a unigram and one of cfg's context words). The text
 * is either lowercased already (FOLD 0) or not, and then each token is
 * lowercased as it is hashed (FOLD 1: no copy of the whole document, which
 * matters for a 200 MB one). Both give the same buckets: the token classes
 * hold upper and lower case alike.
 */
#if defined(FEAT_SSE2)
/* A token of up to 16 bytes with 16 readable bytes from its start is
 * lowercased 16 bytes at once (the bytes after it are not hashed). */
#define TS_FOLD_TOKEN(p, s, hl, len, tok)                                           \
    do {                                                                            \
        if ((hl) <= 16 && (len) - (s) >= 16)                                        \
            lowercase16((p) + (s), (tok));                                          \
        else                                                                        \
            lowercase((const char *)(p) + (s), (hl), (tok));                        \
    } while (0)
#else
#define TS_FOLD_TOKEN(p, s, hl, len, tok) lowercase((const char *)(p) + (s), (hl), (tok))
#endif

#define TS_TOKENISE(cfg, lower, len, FOLD, EMIT)                                    \
    do {                                                                            \
        const unsigned char *p_ = (const unsigned char *)(lower);                   \
        const size_t n_ = (len);                                                    \
        char tok_[TS_MAX_TOKEN];                                                    \
        (void)tok_;                                                                 \
        const uint32_t mask_ = (cfg)->nbuckets - 1;                                 \
        const uint64_t seed_ = (cfg)->seed;                                         \
        const int bi_ = (cfg)->ngram >= 2;                                          \
        const int ctx_on_ = (cfg)->nctx != 0;                                       \
        uint64_t prev_ = 0;                                                         \
        size_t prev_start_ = 0;                                                     \
        (void)prev_start_;                                                          \
        int have_prev_ = 0;                                                         \
        size_t i_ = 0, s_, e_;                                                      \
        while (next_run(p_, n_, i_, &s_, &e_)) {                                    \
            i_ = e_;                                                                \
            if (p_[s_] == '\'' || p_[e_ - 1] == '\'') {                             \
                while (s_ < e_ && p_[s_] == '\'')                                   \
                    s_++;                                                           \
                while (e_ > s_ && p_[e_ - 1] == '\'')                               \
                    e_--;                                                           \
                if (s_ == e_)                                                       \
                    continue;                                                       \
            }                                                                       \
            size_t hl_ = e_ - s_ > TS_MAX_TOKEN ? TS_MAX_TOKEN : e_ - s_;           \
            const void *h_ = p_ + s_;                                               \
            if (FOLD) {                                                             \
                TS_FOLD_TOKEN(p_, s_, hl_, n_, tok_);                               \
                h_ = tok_;                                                          \
            }                                                                       \
            uint64_t u_ = XXH3_64bits_withSeed(h_, hl_, seed_);                     \
            EMIT((uint32_t)(u_ & mask_), s_, e_, ctx_on_ && ts_feat_is_context((cfg), u_)); \
            if (bi_ && have_prev_)                                                  \
                EMIT((uint32_t)(bigram_hash(prev_, u_, seed_) & mask_), prev_start_, e_, 0); \
            prev_ = u_;                                                             \
            prev_start_ = s_;                                                       \
            have_prev_ = 1;                                                         \
        }                                                                           \
    } while (0)

size_t ts_features_ngrams_ctx(const ts_feat_config *cfg, const char *text, size_t len, char *lower,
                              uint32_t *buckets, ts_ngram *spans, int *context)
{
    size_t n = 0;
    int any = 0;
    lowercase(text, len, lower);
#define EMIT_LIST(b, s, e, c)                                                       \
    do {                                                                            \
        buckets[n] = (b);                                                           \
        if (spans) {                                                                \
            spans[n].bucket = (b);                                                  \
            spans[n].start = (uint32_t)(s);                                         \
            spans[n].end = (uint32_t)(e);                                           \
        }                                                                           \
        any |= (c);                                                                 \
        n++;                                                                        \
    } while (0)
    TS_TOKENISE(cfg, lower, len, 0, EMIT_LIST);
#undef EMIT_LIST
    if (context)
        *context = any;
    return n;
}

size_t ts_features_ngrams(const ts_feat_config *cfg, const char *text, size_t len, char *lower,
                          uint32_t *buckets, ts_ngram *spans)
{
    return ts_features_ngrams_ctx(cfg, text, len, lower, buckets, spans, NULL);
}

size_t ts_features_tokens_ctx(const ts_feat_config *cfg, const char *text, size_t len, uint32_t *buckets,
                              uint32_t *starts, uint32_t *ends, uint8_t *ctx)
{
    size_t n = 0;
#define EMIT_POS(b, s, e, c)                                                        \
    do {                                                                            \
        buckets[n] = (b);                                                           \
        starts[n] = (uint32_t)(s);                                                  \
        ends[n] = (uint32_t)(e);                                                    \
        if (ctx)                                                                    \
            ctx[n] = (uint8_t)(c);                                                  \
        n++;                                                                        \
    } while (0)
    TS_TOKENISE(cfg, text, len, 1, EMIT_POS);
#undef EMIT_POS
    return n;
}

size_t ts_features_tokens(const ts_feat_config *cfg, const char *text, size_t len, uint32_t *buckets,
                          uint32_t *starts, uint32_t *ends)
{
    return ts_features_tokens_ctx(cfg, text, len, buckets, starts, ends, NULL);
}

size_t ts_features_ngram_dot(const ts_feat_config *cfg, const char *text, size_t len,
                             const float *w, uint32_t *seen, uint32_t *gen, double z[TS_NHEADS])
{
    size_t d = 0;
    /* Double sums: the result must equal (to rounding) the sparse path of
     * training, whatever the number of distinct buckets. The context block's
     * weights sit beside the base block's (model.h) and are summed in the
     * same pass; they count only if a context word turns up, maybe last. */
    double s0 = 0, s1 = 0, c0 = 0, c1 = 0;
    int any = 0;
    const float *wb = w + (size_t)TS_NHEADS * ts_feat_nlex(cfg);
    const size_t bs = (size_t)TS_NHEADS * ts_feat_bstride(cfg);
    const int ctx = cfg->nctx != 0;
    /* A bucket counts once per document: seen[b] == g marks it. A new
     * generation per document avoids clearing the array. */
    uint32_t g = ++*gen;
    if (g == 0) {
        memset(seen, 0, (size_t)cfg->nbuckets * sizeof *seen);
        g = *gen = 1;
    }
#define EMIT_DOT(b, s, e, c)                                                        \
    do {                                                                            \
        uint32_t b_ = (b);                                                          \
        any |= (c);                                                                 \
        if (seen[b_] != g) {                                                        \
            const float *w_ = wb + bs * b_;                                         \
            seen[b_] = g;                                                           \
            s0 += w_[0];                                                            \
            s1 += w_[1];                                                            \
            if (ctx) {                                                              \
                c0 += w_[2];                                                        \
                c1 += w_[3];                                                        \
            }                                                                       \
            d++;                                                                    \
        }                                                                           \
        (void)(s);                                                                  \
        (void)(e);                                                                  \
    } while (0)
    TS_TOKENISE(cfg, text, len, 1, EMIT_DOT);
#undef EMIT_DOT
    if (d) {
        double k = 1.0 / sqrt((double)d);
        z[0] += s0 * k;
        z[1] += s1 * k;
        if (any) {
            z[0] += c0 * k;
            z[1] += c1 * k;
        }
    }
    return d;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int ts_sparse_from_buckets(ts_sparse *v, uint32_t *buckets, size_t n)
{
    v->n = 0;
    if (!n)
        return TS_OK;
    qsort(buckets, n, sizeof *buckets, cmp_u32);
    size_t distinct = 1;
    for (size_t i = 1; i < n; i++)
        distinct += buckets[i] != buckets[i - 1];
    if (distinct > v->cap) {
        uint32_t *idx = realloc(v->idx, distinct * sizeof *idx);
        if (!idx)
            return TS_E_NOMEM;
        v->idx = idx;
        float *val = realloc(v->val, distinct * sizeof *val);
        if (!val)
            return TS_E_NOMEM;
        v->val = val;
        v->cap = (uint32_t)distinct;
    }
    float k = (float)(1.0 / sqrt((double)distinct));
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        size_t r = i + 1;
        while (r < n && buckets[r] == buckets[i])
            r++;
        v->idx[j] = buckets[i];
        v->val[j] = k;
        j++;
        i = r;
    }
    v->n = (uint32_t)j;
    return TS_OK;
}

int ts_sparse_from_ngrams(const ts_feat_config *cfg, ts_sparse *v, uint32_t *buckets, size_t n, int context)
{
    int err = ts_sparse_from_buckets(v, buckets, n);
    if (err || !cfg->nctx)
        return err;
    /* Interleave: bucket b at 2 b, its context copy at 2 b + 1 (still
     * ascending). Filled from the end, in place. */
    uint32_t d = v->n, m = context ? 2 * d : d;
    if (m > v->cap) {
        uint32_t *idx = realloc(v->idx, m * sizeof *idx);
        if (!idx)
            return TS_E_NOMEM;
        v->idx = idx;
        float *val = realloc(v->val, m * sizeof *val);
        if (!val)
            return TS_E_NOMEM;
        v->val = val;
        v->cap = m;
    }
    for (uint32_t i = d; i-- > 0;) {
        uint32_t b = v->idx[i];
        float x = v->val[i];
        if (context) {
            v->idx[2 * i] = 2 * b;
            v->idx[2 * i + 1] = 2 * b + 1;
            v->val[2 * i] = v->val[2 * i + 1] = x;
        } else {
            v->idx[i] = 2 * b;
        }
    }
    v->n = m;
    return TS_OK;
}

void ts_sparse_release(ts_sparse *v)
{
    free(v->idx);
    free(v->val);
    v->idx = NULL;
    v->val = NULL;
    v->n = v->cap = 0;
}
