/* test_model.c: features, model file, inference, training, calibration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "embedded.h"
#include "model.h"
#include "../../ref_tokens.h"

static int failures;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static ts_feat_config small_cfg(uint32_t nbuckets, uint32_t ngram, uint64_t seed)
{
    ts_feat_config c;
    memset(&c, 0, sizeof c);
    c.nbuckets = nbuckets;
    c.ngram = ngram;
    c.seed = seed;
    c.ncat = 2;
    strcpy(c.cat[0], "ai_entity");
    strcpy(c.cat[1], "shutdown_resistance");
    return c;
}

static uint64_t uni(const char *tok, uint64_t seed) { return XXH3_64bits_withSeed(tok, strlen(tok), seed); }

static uint64_t bi(const char *a, const char *b, uint64_t seed)
{
    unsigned char pair[16];
    uint64_t x = uni(a, seed), y = uni(b, seed);
    for (int i = 0; i < 8; i++) {
        pair[i] = (unsigned char)(x >> (8 * i));
        pair[8 + i] = (unsigned char)(y >> (8 * i));
    }
    return XXH3_64bits_withSeed(pair, 16, seed ^ TS_BIGRAM_SALT);
}

/* The tokeniser, against the documented definition computed by hand. */
static void test_tokeniser(void)
{
    ts_feat_config c = small_cfg(1u << 20, 2, 42);
    const char *text = "The ROBOT's 'plan': shut-down 'n' ''' caf\xc3\xa9 42x";
    const char *toks[] = {"the", "robot's", "plan", "shut", "down", "n", "caf\xc3\xa9", "42x"};
    size_t nt = sizeof toks / sizeof toks[0];
    size_t len = strlen(text);
    char lower[128];
    uint32_t buckets[128];
    ts_ngram spans[128];
    size_t n = ts_features_ngrams(&c, text, len, lower, buckets, spans);
    CHECK(n == 2 * nt - 1);
    uint32_t mask = c.nbuckets - 1;
    size_t k = 0;
    for (size_t i = 0; i < nt && k < n; i++) {
        CHECK(buckets[k] == (uint32_t)(uni(toks[i], 42) & mask));
        CHECK(spans[k].end - spans[k].start == strlen(toks[i]));
        CHECK(!memcmp(lower + spans[k].start, toks[i], strlen(toks[i])));
        k++;
        if (i > 0) {
            CHECK(buckets[k] == (uint32_t)(bi(toks[i - 1], toks[i], 42) & mask));
            k++;
        }
    }
    /* Unigrams only. */
    c.ngram = 1;
    n = ts_features_ngrams(&c, text, len, lower, buckets, NULL);
    CHECK(n == nt);
    /* Nothing to tokenise. */
    CHECK(ts_features_ngrams(&c, " ' -- ", 6, lower, buckets, NULL) == 0);
    CHECK(ts_features_ngrams(&c, "", 0, lower, buckets, NULL) == 0);
    /* A long token is hashed over its first TS_MAX_TOKEN bytes. */
    char longtok[TS_MAX_TOKEN + 50];
    memset(longtok, 'a', sizeof longtok);
    char lbuf[sizeof longtok];
    n = ts_features_ngrams(&c, longtok, sizeof longtok, lbuf, buckets, NULL);
    CHECK(n == 1 && buckets[0] == (uint32_t)(XXH3_64bits_withSeed(longtok, TS_MAX_TOKEN, 42) & mask));
}

/* The fast tokeniser (16 bytes at a time) against the byte-by-byte one, on
 * random texts of the bytes that matter (letters of both cases, digits,
 * apostrophes, spaces, punctuation, bytes >= 0x80), every length from 0 to
 * 300 and some tokens longer than TS_MAX_TOKEN; each text at the end of an
 * exactly-sized buffer. */
static void test_tokeniser_vs_reference(void)
{
    static const char alphabet[] = "aZq'' \n.,-0\x80\xc3\xa9\xff\x7fXy";
    uint64_t st = 12345;
    size_t maxlen = 1200;
    uint32_t *b[2], *s[2], *e[2];
    for (int k = 0; k < 2; k++) {
        b[k] = malloc((maxlen + 1) * sizeof(uint32_t));
        s[k] = malloc((maxlen + 1) * sizeof(uint32_t));
        e[k] = malloc((maxlen + 1) * sizeof(uint32_t));
    }
    uint32_t *nb = malloc((maxlen + 1) * sizeof *nb);
    ts_ngram *sp = malloc((maxlen + 1) * sizeof *sp);
    for (int round = 0; round < 3000; round++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = round < 301 ? (size_t)round : (size_t)(st >> 40) % maxlen;
        /* Mostly tokens of many lengths: the run continues with probability r/8. */
        unsigned r = (unsigned)(st >> 20) % 8;
        char *text = malloc(len ? len : 1), *lower = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned x = (unsigned)(st >> 33);
            if (x % 8 < r && i > 0 && text[i - 1] != ' ')
                text[i] = (char)('a' + x % 26 - ((x >> 5) & 1) * 32);
            else
                text[i] = alphabet[x % (sizeof alphabet - 1)];
        }
        ts_feat_config c = small_cfg(1u << 12, 1 + (round & 1), (uint64_t)round);
        size_t n = ref_tokens(&c, text, len, b[0], s[0], e[0]);
        CHECK(ts_features_tokens(&c, text, len, b[1], s[1], e[1]) == n);
        CHECK(!memcmp(b[0], b[1], n * 4) && !memcmp(s[0], s[1], n * 4) && !memcmp(e[0], e[1], n * 4));
        CHECK(ts_features_ngrams(&c, text, len, lower, nb, sp) == n);
        CHECK(!memcmp(nb, b[0], n * 4));
        for (size_t i = 0; i < n; i++)
            CHECK(sp[i].start == s[0][i] && sp[i].end == e[0][i]);
        free(text);
        free(lower);
    }
    for (int k = 0; k < 2; k++) {
        free(b[k]);
        free(s[k]);
        free(e[k]);
    }
    free(nb);
    free(sp);
}

/* The hot path (direct dot product) agrees with the sparse path of training. */
static void test_dot_vs_sparse(void)
{
    ts_feat_config c = small_cfg(64, 2, 7);
    ts_model *m;
    CHECK(ts_model_new(&c, &m) == TS_OK);
    uint64_t s = 99;
    for (size_t i = 0; i < (size_t)TS_NHEADS * ts_feat_nfeat(&c); i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        m->w[i] = (float)((double)(s >> 40) / (double)(1 << 24) - 0.5);
    }
    /* Mixed case: the scoring path lowercases token by token, the listing
     * path the whole text first; both must hash the same tokens. */
    const char *text = "The Machine REFUSED the order and the machine copied its weights to another server";
    size_t len = strlen(text);
    char lower[256];
    uint32_t buckets[256];
    size_t n = ts_features_ngrams(&c, text, len, lower, buckets, NULL);
    {
        const char *folded = "the machine refused the order and the machine copied its weights to another server";
        char lower2[256];
        uint32_t buckets2[256];
        CHECK(ts_features_ngrams(&c, folded, len, lower2, buckets2, NULL) == n);
        CHECK(memcmp(buckets, buckets2, n * sizeof *buckets) == 0);
    }
    ts_sparse v = {0};
    CHECK(ts_sparse_from_buckets(&v, buckets, n) == TS_OK);
    CHECK(v.n > 0 && v.n <= n);
    double total = 0;
    for (uint32_t j = 0; j < v.n; j++) {
        total += v.val[j];
        if (j)
            CHECK(v.idx[j] > v.idx[j - 1]);
    }
    /* binary and L2-normalised: every distinct bucket 1 / sqrt(distinct) */
    CHECK(fabs(total - sqrt((double)v.n)) < 1e-4);
    for (uint32_t j = 0; j < v.n; j++)
        CHECK(fabsf(v.val[j] - (float)(1 / sqrt((double)v.n))) < 1e-7);
    float xlex[TS_LEX_PER_CAT * 2 + 1] = {0};
    double z1[2], z2[2] = {0, 0};
    ts_model_margin(m, xlex, &v, z1);
    uint32_t seen[64] = {0}, gen = 0;
    CHECK(ts_features_ngram_dot(&c, text, len, m->w, seen, &gen, z2) == v.n);
    CHECK(fabs(z1[0] - z2[0]) < 1e-5 && fabs(z1[1] - z2[1]) < 1e-5);
    /* Again (a new generation): same answer; and after the generation wraps. */
    double z3[2] = {0, 0};
    gen = UINT32_MAX;
    CHECK(ts_features_ngram_dot(&c, text, len, m->w, seen, &gen, z3) == v.n && gen == 1);
    CHECK(z3[0] == z2[0] && z3[1] == z2[1]);
    ts_sparse_release(&v);
    ts_model_free(m);
}

/* Lexicon features, against the formulas in model.h. */
static void test_lexicon_features(void)
{
    ts_feat_config c = small_cfg(16, 1, 0);
    int32_t catmap[2] = {1, -1};        /* model cat 0 is lexicon cat 1; cat 1 unknown */
    uint32_t raw[3] = {5, 3, 0}, anch[3] = {0, 2, 0};
    ts_matches mt = {3, raw, anch, 0, NULL};
    float x[TS_LEX_PER_CAT * 2 + 1];
    CHECK(ts_features_lexicon(&c, catmap, &mt, 200, x) == 1);
    CHECK(fabsf(x[0] - (float)log1p(3)) < 1e-6);
    CHECK(fabsf(x[1] - (float)log1p(2)) < 1e-6);
    CHECK(fabsf(x[2] - (float)log1p(15.0)) < 1e-6);
    CHECK(x[3] == 0 && x[4] == 0 && x[5] == 0);
    CHECK(fabsf(x[6] - (float)(log1p(200) / 8)) < 1e-6);
    /* A hit only in a category the model does not know still is a hit. */
    uint32_t raw2[3] = {1, 0, 0};
    ts_matches mt2 = {3, raw2, anch, 0, NULL};
    CHECK(ts_features_lexicon(&c, catmap, &mt2, 200, x) == 1);
    uint32_t raw3[3] = {0, 0, 0};
    ts_matches mt3 = {3, raw3, raw3, 0, NULL};
    CHECK(ts_features_lexicon(&c, catmap, &mt3, 0, x) == 0);
    CHECK(x[6] == 0);
}

/* Known answer on a hand-built model. */
static void test_known_answer(void)
{
    ts_feat_config c = small_cfg(8, 1, 0);
    ts_model *m;
    CHECK(ts_model_new(&c, &m) == TS_OK);
    m->flags = TS_MODEL_ALIGNED;
    m->bias[0] = -1.0f;
    m->bias[1] = 0.5f;
    m->platt_a[0] = 2.0f;
    m->platt_b[0] = 0.25f;
    uint32_t nlex = ts_feat_nlex(&c);
    m->w[2 * 0 + 0] = 1.5f;   /* log1p(raw ai_entity), score head */
    m->w[2 * 0 + 1] = -0.5f;  /* same, aligned head */
    uint32_t b_robot = (uint32_t)(uni("robot", 0) & 7);
    m->w[2 * (nlex + b_robot) + 0] = 3.0f;
    /* Document: "robot robot" with one ai_entity hit. xlex[0] = log1p(1). */
    float xlex[TS_LEX_PER_CAT * 2 + 1] = {0};
    xlex[0] = (float)log1p(1.0);
    char lower[16];
    uint32_t buckets[16];
    size_t n = ts_features_ngrams(&c, "Robot robot", 11, lower, buckets, NULL);
    CHECK(n == 2);
    ts_sparse v = {0};
    CHECK(ts_sparse_from_buckets(&v, buckets, n) == TS_OK);
    double z[2];
    ts_model_margin(m, xlex, &v, z);
    /* z0 = -1 + 1.5 ln 2 + 3 * 1 / sqrt(1): "robot" twice is one bucket, value 1 */
    double z0 = -1 + 1.5 * log(2.0) + 3.0;
    double z1 = 0.5 - 0.5 * log(2.0);
    CHECK(fabs(z[0] - z0) < 1e-5);
    CHECK(fabs(z[1] - z1) < 1e-5);
    double p0 = 1 / (1 + exp(-(2 * z0 + 0.25)));
    CHECK(fabs(ts_model_prob(m, 0, z[0]) - p0) < 1e-6);
    CHECK(fabs(ts_model_prob(m, 1, z[1]) - 1 / (1 + exp(-z1))) < 1e-6);
    ts_sparse_release(&v);
    ts_model_free(m);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void reseal(unsigned char *p, size_t len)
{
    uint64_t h = XXH64(p, len - 8, 0);
    for (int i = 0; i < 8; i++)
        p[len - 8 + i] = (unsigned char)(h >> (8 * i));
}

static void test_file_format(void)
{
    ts_feat_config c = small_cfg(32, 2, 12345);
    ts_model *m;
    CHECK(ts_model_new(&c, &m) == TS_OK);
    m->flags = TS_MODEL_ALIGNED | TS_MODEL_CASCADE;
    m->lexicon_id = 0x0123456789abcdefULL;
    m->bias[0] = -2.5f;
    m->platt_a[1] = 0.75f;
    for (size_t i = 0; i < (size_t)TS_NHEADS * ts_feat_nfeat(&c); i++)
        m->w[i] = (float)i * 0.01f - 0.3f;
    unsigned char *buf;
    size_t len;
    CHECK(ts_model_serialize(m, &buf, &len) == TS_OK);
    CHECK(!memcmp(buf, "TSMODEL\x1a", 8));
    ts_model *r;
    ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_model_load_memory(buf, len, &r, &d) == TS_OK);
    CHECK(r && r->cfg.nbuckets == 32 && r->cfg.ngram == 2 && r->cfg.seed == 12345);
    CHECK(r && r->cfg.ncat == 2 && !strcmp(r->cfg.cat[1], "shutdown_resistance"));
    CHECK(r && ts_model_lexicon_id(r) == 0x0123456789abcdefULL && ts_model_has_aligned(r));
    CHECK(r && ts_model_id(r) == XXH64(buf, len, 0) && ts_model_id(r) == m->id);
    CHECK(r && r->bias[0] == -2.5f && r->platt_a[1] == 0.75f);
    CHECK(r && !memcmp(r->w, m->w, sizeof(float) * TS_NHEADS * ts_feat_nfeat(&c)));
    unsigned char *buf2;
    size_t len2;
    CHECK(r && ts_model_serialize(r, &buf2, &len2) == TS_OK && len2 == len && !memcmp(buf, buf2, len));
    free(buf2);
    ts_model_free(r);

    /* Every truncation is refused, and a cut inside the weights says so. */
    for (size_t cut = 0; cut < len; cut++) {
        r = NULL;
        int err = ts_model_load_memory(buf, cut, &r, &d);
        CHECK(err != TS_OK && r == NULL);
        if (cut >= 8)
            CHECK(err == TS_E_TRUNCATED);
    }
    unsigned char *bad = malloc(len + 1);
    /* Bad magic. */
    memcpy(bad, buf, len);
    bad[0] = 'X';
    CHECK(ts_model_load_memory(bad, len, &r, &d) == TS_E_MODEL && strstr(d.message, "magic"));
    /* Bad version, even with a valid checksum. */
    memcpy(bad, buf, len);
    put_le32(bad + 8, 4);
    reseal(bad, len);
    CHECK(ts_model_load_memory(bad, len, &r, &d) == TS_E_MODEL && strstr(d.message, "version"));
    /* Every single flipped bit past the header's version is caught. */
    for (size_t i = 12; i < len; i++) {
        memcpy(bad, buf, len);
        bad[i] ^= 0x10;
        int err = ts_model_load_memory(bad, len, &r, &d);
        CHECK(err == TS_E_CHECKSUM || err == TS_E_TRUNCATED);
        if (i >= len - 8 || i > 100)
            CHECK(err == TS_E_CHECKSUM);
    }
    /* A trailing byte. */
    memcpy(bad, buf, len);
    bad[len] = 0;
    CHECK(ts_model_load_memory(bad, len + 1, &r, &d) != TS_OK);
    /* Intact checksum, but a NaN weight or a bad bucket count. */
    memcpy(bad, buf, len);
    /* The last weight: before the window, stride, policy and fingerprint count
     * (this model records no fingerprints). */
    put_le32(bad + len - 8 - 32 - 4, 0x7fc00000u);
    reseal(bad, len);
    CHECK(ts_model_load_memory(bad, len, &r, &d) == TS_E_MODEL && strstr(d.message, "non-finite"));
    memcpy(bad, buf, len);
    put_le32(bad + 16, 33);
    reseal(bad, len);
    CHECK(ts_model_load_memory(bad, len, &r, &d) == TS_E_MODEL);
    memcpy(bad, buf, len);
    put_le32(bad + 12, 0x80);
    reseal(bad, len);
    CHECK(ts_model_load_memory(bad, len, &r, &d) == TS_E_MODEL && strstr(d.message, "flags"));

    /* Save atomically and load from a file. */
    char path[] = "/tmp/ts_test_model_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
        CHECK(ts_model_save(m, path, &d) == TS_OK);
        CHECK(ts_model_load_file(path, &r, &d) == TS_OK && r && r->id == m->id);
        ts_model_free(r);
        FILE *f = fopen(path, "wb");
        fwrite(buf, 1, len / 2, f);
        fclose(f);
        CHECK(ts_model_load_file(path, &r, &d) == TS_E_TRUNCATED && !strcmp(d.file, path));
        unlink(path);
        CHECK(ts_model_load_file(path, &r, &d) == TS_E_IO);
    }
    free(bad);
    free(buf);
    ts_model_free(m);
}

/* A small generated data set: class 1 documents use words of one vocabulary
 * (and the aligned ones a third), class 0 another; all share filler words. */
/*
 * AI context: the flag is a unigram's hash among the context words' (so
 * whole tokens, any case, never a bigram or a longer word), and the
 * conjunction weights count exactly when it is set, in the sparse path of
 * training and in the scoring path alike.
 */
static void test_context(void)
{
    ts_feat_config c = small_cfg(1u << 16, 2, 11);
    static const char *const words[] = {"robot", "System", "a.i", "robot"};
    ts_diag d = {0};
    /* One token each: "a.i" is two. */
    CHECK(ts_feat_config_set_context(&c, words, 3, &d) == TS_E_INVALID && strstr(d.message, "a.i") && c.nctx == 0);
    static const char *const bad[] = {"'tis"};
    CHECK(ts_feat_config_set_context(&c, bad, 1, NULL) == TS_E_INVALID);
    static const char *const ok[] = {"robot", "System", "robot", "it's"};
    CHECK(ts_feat_config_set_context(&c, ok, 4, NULL) == TS_OK && c.nctx == 3);   /* the repeat once */
    CHECK(!strcmp(c.ctx[0], "robot") && !strcmp(c.ctx[1], "system") && !strcmp(c.ctx[2], "it's"));
    CHECK(ts_feat_is_context(&c, uni("robot", 11)) && ts_feat_is_context(&c, uni("system", 11)));
    CHECK(!ts_feat_is_context(&c, uni("robots", 11)) && !ts_feat_is_context(&c, uni("robot", 12)));
    CHECK(ts_feat_bstride(&c) == 2 && ts_feat_nfeat(&c) == ts_feat_nlex(&c) + 2 * c.nbuckets);

    static const struct {
        const char *text;
        int context;
    } cases[] = {
        {"The ROBOT lied.", 1}, {"the robots lied", 0}, {"a robotic arm", 0}, {"the System failed", 1},
        {"it's fine", 1},       {"its fine", 0},        {"", 0},              {"robot", 1},
    };
    char lower[64];
    uint32_t buckets[64], starts[64], ends[64];
    uint8_t flags[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = cases[i].text;
        int got = -1;
        size_t n = ts_features_ngrams_ctx(&c, t, strlen(t), lower, buckets, NULL, &got);
        CHECK(got == cases[i].context);
        /* Per n-gram: only unigrams are flagged (the bigram "the robot" is not). */
        CHECK(ts_features_tokens_ctx(&c, t, strlen(t), buckets, starts, ends, flags) == n);
        int any = 0;
        for (size_t k = 0; k < n; k++) {
            if (flags[k])
                CHECK(ts_feat_is_context(&c, XXH3_64bits_withSeed(lower + starts[k], ends[k] - starts[k], 11)));
            any |= flags[k];
        }
        CHECK(any == cases[i].context);
    }

    /* The weights: base and context block of the bucket of "lied" only. */
    ts_model *m;
    CHECK(ts_model_new(&c, &m) == TS_OK);
    uint32_t nlex = ts_feat_nlex(&c), bl = (uint32_t)(uni("lied", 11) & (c.nbuckets - 1));
    m->w[2 * (nlex + 2 * bl)] = 1.0f;          /* score head, base */
    m->w[2 * (nlex + 2 * bl) + 1] = -0.5f;     /* aligned head, base */
    m->w[2 * (nlex + 2 * bl + 1)] = 2.0f;      /* score head, context */
    m->w[2 * (nlex + 2 * bl + 1) + 1] = 0.25f; /* aligned head, context */
    float xlex[TS_LEX_PER_CAT * 2 + 1] = {0};
    static const struct {
        const char *text;
        uint32_t d;           /* distinct buckets: unigrams and bigrams */
        double z0, z1;        /* (base + context if flagged) / sqrt(d) */
    } known[] = {
        {"the robot lied", 5, 3.0, -0.25},
        {"the man lied", 5, 1.0, -0.5},
        {"Robot lied robot lied", 4, 3.0, -0.25},   /* robot, lied, robot lied, lied robot */
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *t = known[i].text;
        int ctx = 0;
        size_t n = ts_features_ngrams_ctx(&c, t, strlen(t), lower, buckets, NULL, &ctx);
        ts_sparse v = {0};
        CHECK(ts_sparse_from_ngrams(&c, &v, buckets, n, ctx) == TS_OK);
        CHECK(v.n == (ctx ? 2 : 1) * known[i].d);
        for (uint32_t j = 1; j < v.n; j++)
            CHECK(v.idx[j] > v.idx[j - 1]);
        for (uint32_t j = 0; ctx && j < v.n; j += 2)
            CHECK(v.idx[j + 1] == v.idx[j] + 1 && v.val[j + 1] == v.val[j] && v.idx[j] % 2 == 0);
        double z[2], z2[2] = {0, 0}, k = 1 / sqrt((double)known[i].d);
        ts_model_margin(m, xlex, &v, z);
        CHECK(fabs(z[0] - known[i].z0 * k) < 1e-6 && fabs(z[1] - known[i].z1 * k) < 1e-6);
        uint32_t *seen = calloc(c.nbuckets, sizeof *seen), gen = 0;
        CHECK(ts_features_ngram_dot(&c, t, strlen(t), m->w, seen, &gen, z2) == known[i].d);
        CHECK(fabs(z2[0] - known[i].z0 * k) < 1e-6 && fabs(z2[1] - known[i].z1 * k) < 1e-6);
        free(seen);
        ts_sparse_release(&v);
    }

    /* The file: version 3, the words back, the weights back; a bad word
     * table is refused even with a valid checksum. */
    m->window = 10;
    m->stride = 5;
    unsigned char *buf;
    size_t len;
    CHECK(ts_model_serialize(m, &buf, &len) == TS_OK);
    CHECK(buf[8] == 3 && buf[9] == 0 && buf[10] == 0 && buf[11] == 0);
    ts_model *r = NULL;
    CHECK(ts_model_load_memory(buf, len, &r, &d) == TS_OK);
    CHECK(r && r->cfg.nctx == 3 && !strcmp(ts_model_context_word(r, 1), "system") && !ts_model_context_word(r, 3));
    CHECK(r && !memcmp(r->cfg.ctx_slot, c.ctx_slot, sizeof c.ctx_slot));
    CHECK(r && !memcmp(r->w, m->w, sizeof(float) * TS_NHEADS * ts_feat_nfeat(&c)));
    CHECK(r && ts_model_is_context_word(r, "ROBOT", 5) && !ts_model_is_context_word(r, "robots", 6));
    unsigned char *again;
    size_t len2;
    CHECK(r && ts_model_serialize(r, &again, &len2) == TS_OK && len2 == len && !memcmp(again, buf, len));
    free(again);
    ts_model_free(r);
    /* The word table starts after the two category names. */
    size_t at = 44 + 1 + strlen(c.cat[0]) + 1 + strlen(c.cat[1]);
    CHECK(buf[at] == 3 && buf[at + 4] == 5 && !memcmp(buf + at + 5, "robot", 5));
    buf[at + 5] = 'R';                 /* not lowercase: not what the model hashed */
    reseal(buf, len);
    r = NULL;
    CHECK(ts_model_load_memory(buf, len, &r, &d) == TS_E_MODEL && strstr(d.message, "context") && !r);
    free(buf);
    ts_model_free(m);
}

static const char *evil_words[] = {"refuse", "shutdown", "blackmail", "copy", "weights", "deceive"};
static const char *good_words[] = {"accept", "correction", "transparent", "honest", "report", "comply"};
static const char *neutral_words[] = {"garden", "recipe", "weather", "football", "market", "river"};
static const char *filler[] = {"the", "a", "and", "it", "was", "then", "said", "system"};

static void gen_doc(uint64_t *s, int cls, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int w = 0; w < 30; w++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t r = (uint32_t)(*s >> 33);
        const char *word;
        if (r % 3 == 0)
            word = cls == 1 ? evil_words[r / 3 % 6] : cls == 2 ? good_words[r / 3 % 6] : neutral_words[r / 3 % 6];
        else
            word = filler[r / 3 % 8];
        n += (size_t)snprintf(out + n, cap - n, "%s ", word);
    }
}

static ts_dataset *gen_set(const ts_feat_config *c, uint64_t seed, size_t ndocs)
{
    ts_dataset *d;
    if (ts_dataset_create(c, &d))
        return NULL;
    char text[1024], lower[1024];
    uint32_t buckets[1024];
    ts_sparse v = {0};
    float xlex[TS_LEX_PER_CAT * TS_MAX_CATEGORIES + 1] = {0};
    for (size_t i = 0; i < ndocs; i++) {
        int cls = (int)(i % 3);
        gen_doc(&seed, cls, text, sizeof text);
        size_t n = ts_features_ngrams(c, text, strlen(text), lower, buckets, NULL);
        ts_sparse_from_buckets(&v, buckets, n);
        xlex[ts_feat_nlex(c) - 1] = (float)(log1p(30) / 8);
        ts_dataset_add(d, xlex, &v, cls == 1, cls == 2);
    }
    ts_sparse_release(&v);
    return d;
}

/* Both optimisers: deterministic, and every document of a separable set on
 * the right side. */
static void test_training(int optimizer)
{
    ts_feat_config c = small_cfg(1024, 2, 3);
    ts_dataset *tr = gen_set(&c, 1, 300), *va = gen_set(&c, 2, 90);
    CHECK(tr && va && ts_dataset_size(tr) == 300);
    ts_train_opts o;
    ts_train_opts_default(&o);
    o.epochs = 8;
    o.optimizer = optimizer;
    if (optimizer == TS_OPT_SGD)
        o.l2 = 1e-4;   /* its step, 1 / (l2 (t0 + t)), is too large for 2,400 steps at 1e-6 */
    ts_model *m1, *m2, *m3;
    CHECK(ts_train(&o, tr, va, &m1) == TS_OK);
    CHECK(ts_train(&o, tr, va, &m2) == TS_OK);
    o.seed = 2;
    CHECK(ts_train(&o, tr, va, &m3) == TS_OK);
    CHECK(ts_model_has_aligned(m1));
    /* Determinism: same seed, byte-identical files; another seed, another order. */
    unsigned char *b1, *b2, *b3;
    size_t l1, l2, l3;
    ts_model_serialize(m1, &b1, &l1);
    ts_model_serialize(m2, &b2, &l2);
    ts_model_serialize(m3, &b3, &l3);
    CHECK(l1 == l2 && !memcmp(b1, b2, l1));
    CHECK(l1 == l3 && memcmp(b1, b3, l1) != 0);
    free(b1);
    free(b2);
    free(b3);
    /* Separable: every training and validation document on the right side. */
    const ts_dataset *sets[2] = {tr, va};
    char text[1024];
    static uint32_t seen[1024];
    uint32_t gen = 0;
    for (int si = 0; si < 2; si++) {
        uint64_t seed = si == 0 ? 1 : 2;
        size_t n = ts_dataset_size(sets[si]), wrong = 0;
        for (size_t i = 0; i < n; i++) {
            int cls = (int)(i % 3);
            gen_doc(&seed, cls, text, sizeof text);
            double z[2] = {m1->bias[0], m1->bias[1]};
            z[0] += m1->w[2 * (ts_feat_nlex(&c) - 1)] * (float)(log1p(30) / 8);
            z[1] += m1->w[2 * (ts_feat_nlex(&c) - 1) + 1] * (float)(log1p(30) / 8);
            ts_features_ngram_dot(&c, text, strlen(text), m1->w, seen, &gen, z);
            double p0 = ts_model_prob(m1, 0, z[0]), p1 = ts_model_prob(m1, 1, z[1]);
            wrong += (p0 > 0.5) != (cls == 1);
            wrong += (p1 > 0.5) != (cls == 2);
            if (cls == 1)
                CHECK(p0 > 0.8);
            if (cls == 0)
                CHECK(p0 < 0.2 && p1 < 0.2);
        }
        CHECK(wrong == 0);
    }
    /* A head without positives is not trained. */
    ts_dataset *one;
    ts_dataset_create(&c, &one);
    float xlex[TS_LEX_PER_CAT * 2 + 1] = {0};
    ts_dataset_add(one, xlex, NULL, 1, 0);
    ts_dataset_add(one, xlex, NULL, 0, 0);
    ts_model *m4;
    CHECK(ts_train(&o, one, NULL, &m4) == TS_OK && !ts_model_has_aligned(m4));
    ts_model_free(m4);
    ts_dataset_free(one);
    ts_model_free(m1);
    ts_model_free(m2);
    ts_model_free(m3);
    ts_dataset_free(tr);
    ts_dataset_free(va);
}

/* Platt scaling recovers a known calibration. */
static void test_platt(void)
{
    size_t n = 20000;
    double *z = malloc(n * sizeof *z);
    int *y = malloc(n * sizeof *y);
    uint64_t s = 5;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        z[i] = (double)(s >> 11) / 9007199254740992.0 * 8 - 4;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) / 9007199254740992.0;
        y[i] = u < 1 / (1 + exp(-(1.5 * z[i] - 0.5)));
    }
    double a, b;
    CHECK(ts_platt_fit(z, y, n, &a, &b) == TS_OK);
    CHECK(fabs(a - 1.5) < 0.1 && fabs(b + 0.5) < 0.1);
    /* One class only: identity. */
    for (size_t i = 0; i < n; i++)
        y[i] = 0;
    ts_platt_fit(z, y, n, &a, &b);
    CHECK(a == 1 && b == 0);
    free(z);
    free(y);
}

static void test_default(void)
{
    ts_model *m = NULL;
    ts_diag d;
    int err = ts_model_load_default(&m, &d);
    if (ts_default_model_size == 0)
        CHECK(err == TS_E_MODEL && m == NULL);
    else
        CHECK(err == TS_OK && m && ts_model_id(m) == XXH64(ts_default_model, ts_default_model_size, 0));
    ts_model_free(m);
    ts_model_free(NULL);
}

int main(void)
{
    test_tokeniser_vs_reference();
    test_tokeniser();
    test_dot_vs_sparse();
    test_lexicon_features();
    test_known_answer();
    test_file_format();
    test_context();
    test_training(TS_OPT_ADAGRAD);
    test_training(TS_OPT_SGD);
    test_platt();
    test_default();
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    return failures != 0;
}
