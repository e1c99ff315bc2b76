/*
 * model.h: features, the linear model and training (internal to tropescan).
 *
 * ---------------------------------------------------------------- features
 * A document is featurised from its normalised text (ts_normalise output) and
 * the lexicon matches of that text. The feature vector has nfeat = nlex +
 * nbuckets entries:
 *
 *   Lexicon features, dense, TS_LEX_PER_CAT per model category c, at
 *   TS_LEX_PER_CAT * c + k, then one global feature:
 *     k = 0  log1p(raw[c])                       (hits of category c)
 *     k = 1  log1p(anchored[c])                  (hits near an ai_entity hit)
 *     k = 2  log1p(1000 * raw[c] / max(words,1)) (density: hits per 1000 words)
 *     last   log1p(words) / 8                    (document length)
 *   The model's categories are matched to the lexicon's by name (a category
 *   the lexicon lacks contributes zeros), so a forced model/lexicon mismatch
 *   degrades instead of misreading.
 *
 *   Hashed n-grams, sparse, at nlex + bucket:
 *     Tokens: the text is ASCII-lowercased (A-Z only; other bytes unchanged);
 *     a token is a maximal run of bytes that are ASCII letters, ASCII digits,
 *     the apostrophe ' or any byte >= 0x80 (so UTF-8 letters stay inside
 *     words); then apostrophes are trimmed from both ends of the run, and a
 *     run that is only apostrophes is no token. Tokens longer than
 *     TS_MAX_TOKEN bytes are hashed over their first TS_MAX_TOKEN bytes.
 *     Unigram hash: u = XXH3_64bits_withSeed(token, len, seed).
 *     Bigram hash (ngram order 2): XXH3_64bits_withSeed(pair, 16, seed ^
 *     TS_BIGRAM_SALT) where pair is u(previous token), u(token) as two
 *     little-endian uint64 (bigrams cross sentence punctuation: only the
 *     token sequence counts).
 *     bucket = hash & (nbuckets - 1); nbuckets is a power of two.
 *     Value of a bucket: 1 / sqrt(D) if any n-gram of the document hashes to
 *     it, else 0; D = number of distinct buckets hit (binary bag of n-grams,
 *     L2-normalised). Binary, because with counts the function words ("the"
 *     x 80) swamp the content words; normalised, so the hashed part of the
 *     score does not grow with document length.
 *
 *   AI context (a model with context words, file version 3): a window that
 *   holds one of the model's context words (a unigram whose hash u is one of
 *   theirs: "robot", "system", "assistant", ...) gets, besides its hashed
 *   n-grams, a second copy of them: the same buckets and values in a block of
 *   their own. A linear model over words alone cannot say that "copied" or
 *   "threatened" mean something else near a machine; the copy lets a word
 *   carry one weight in any window and another where a machine is present
 *   (data/README.md measures it). The two blocks are interleaved per bucket,
 *   at nlex + 2 * bucket (base) and nlex + 2 * bucket + 1 (context), so one
 *   cache line serves both; without context words the hashed part is at
 *   nlex + bucket, as before.
 *
 * Cascade (model flag TS_MODEL_CASCADE): a document with no lexicon hit in
 * any category gets no n-gram features at all (N treated as 0), in training
 * as in scoring, so the fast path is exact by construction: the scanner then
 * skips tokenising and hashing. Its cost is in what the model can learn: a
 * document without any lexicon hit always gets the same score for its length.
 *
 * ---------------------------------------------------------------- model
 * Two logistic-regression heads over the same features, head 0 `score`
 * (evil-AI narrative), head 1 `aligned`; weights are interleaved per feature
 * (w[2 * f + head]) so one cache line serves both heads. For a head h:
 *   z = bias[h] + sum_f w[2f+h] * x[f];  p = 1 / (1 + exp(-(platt_a[h] * z + platt_b[h])))
 * The file format is documented in model.c.
 */
#ifndef TS_MODEL_H
#define TS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tropescan.h"

#define TS_LEX_PER_CAT 3
#define TS_LEX_LAYOUT 1            /* the lexicon feature layout above */
#define TS_MAX_TOKEN 256
#define TS_BIGRAM_SALT 0x9e3779b97f4a7c15ULL
#define TS_CAT_NAME_MAX 64
#define TS_MAX_BUCKETS (1u << 24)
#define TS_MAX_WINDOW 65536        /* words */
#define TS_CTX_MAX 256             /* context words of a model */
#define TS_CTX_WORD_MAX 32         /* bytes of one, with its terminating NUL */
#define TS_CTX_SLOTS 1024          /* their hash set: a power of two, at most a quarter full */

#define TS_HEAD_SCORE 0
#define TS_HEAD_ALIGNED 1
#define TS_NHEADS 2

/* Model flags (stored in the file). */
#define TS_MODEL_ALIGNED 1u        /* head 1 was trained */
#define TS_MODEL_CASCADE 2u        /* no lexicon hit: no n-gram features */

typedef struct ts_feat_config {
    uint32_t nbuckets;             /* power of two, 2 .. TS_MAX_BUCKETS */
    uint32_t ngram;                /* 1 (unigrams) or 2 (unigrams + bigrams) */
    uint64_t seed;                 /* hash seed */
    uint32_t ncat;                 /* model categories, <= TS_MAX_CATEGORIES */
    char cat[TS_MAX_CATEGORIES][TS_CAT_NAME_MAX];
    uint32_t nctx;                 /* context words (0: no context block) */
    char ctx[TS_CTX_MAX][TS_CTX_WORD_MAX];   /* lowercase, one token each, in file order */
    uint64_t ctx_slot[TS_CTX_SLOTS];         /* their unigram hashes; 0: an empty slot */
} ts_feat_config;

/* Number of lexicon features. */
static inline uint32_t ts_feat_nlex(const ts_feat_config *c) { return TS_LEX_PER_CAT * c->ncat + 1; }
/* Hashed features per bucket: 1, or 2 with the context block. */
static inline uint32_t ts_feat_bstride(const ts_feat_config *c) { return c->nctx ? 2u : 1u; }
static inline uint32_t ts_feat_nfeat(const ts_feat_config *c)
{
    return ts_feat_nlex(c) + ts_feat_bstride(c) * c->nbuckets;
}

/*
 * Sets the context words (words[0 .. n), each one token as the tokeniser
 * finds it; upper case is folded) and their hash set, with cfg->seed, which
 * must be set first. Duplicates are stored once; n = 0 clears them.
 * @return TS_OK, or TS_E_INVALID (diag says which word and why).
 */
int ts_feat_config_set_context(ts_feat_config *cfg, const char *const *words, size_t n, ts_diag *diag);

/* @return 1 if u is the unigram hash of one of cfg's context words. */
static inline int ts_feat_is_context(const ts_feat_config *c, uint64_t u)
{
    /* The hash's top bits pick the slot (its low bits pick the bucket). */
    size_t i = (size_t)(u >> 54) & (TS_CTX_SLOTS - 1);
    for (uint64_t v; (v = c->ctx_slot[i]) != 0; i = (i + 1) & (TS_CTX_SLOTS - 1))
        if (v == u)
            return 1;
    return 0;
}

/* Fills cfg->cat from the lexicon's categories. @return TS_OK or TS_E_LIMIT. */
int ts_feat_config_from_lexicon(ts_feat_config *cfg, const ts_lexicon *lex);
/* Checks a config read from outside. @return TS_OK or TS_E_MODEL (diag says why). */
int ts_feat_config_check(const ts_feat_config *cfg, ts_diag *diag);

/* catmap[c] = the lexicon's index of model category c, or -1. */
void ts_feat_catmap(const ts_feat_config *cfg, const ts_lexicon *lex, int32_t *catmap);

/* Fills x[0 .. nlex) from the matches. @return 1 if any category had a hit. */
int ts_features_lexicon(const ts_feat_config *cfg, const int32_t *catmap,
                        const ts_matches *m, uint32_t words, float *x);

/* One token or n-gram as found by the tokeniser (for explain). */
typedef struct ts_ngram {
    uint32_t bucket;
    uint32_t start, end;           /* byte range in the text: one token, or two and what lies between */
} ts_ngram;

/*
 * Lowercases text into lower (len bytes) and writes the bucket of every
 * n-gram, in text order (unigram of token i, then bigram (i-1, i)), to
 * buckets, which must hold len + 1 entries (there are at most len + 1).
 * spans, if not NULL, must hold as many and receives each n-gram's range.
 * @return the number of n-grams N.
 */
size_t ts_features_ngrams(const ts_feat_config *cfg, const char *text, size_t len, char *lower,
                          uint32_t *buckets, ts_ngram *spans);
/* The same; *context (if not NULL) = 1 if the text holds a context word. */
size_t ts_features_ngrams_ctx(const ts_feat_config *cfg, const char *text, size_t len, char *lower,
                              uint32_t *buckets, ts_ngram *spans, int *context);

/* Like ts_features_ngrams, without a lowercased copy of the text: each
 * n-gram's bucket and byte range [start, end) (arrays of len + 1 entries).
 * Passage scoring hashes a document once with it and reuses the buckets for
 * every window. @return the number of n-grams. */
size_t ts_features_tokens(const ts_feat_config *cfg, const char *text, size_t len, uint32_t *buckets,
                          uint32_t *starts, uint32_t *ends);
/* The same; ctx (if not NULL, len + 1 entries) gets 1 for each n-gram that
 * is a context word (a unigram), else 0. */
size_t ts_features_tokens_ctx(const ts_feat_config *cfg, const char *text, size_t len, uint32_t *buckets,
                              uint32_t *starts, uint32_t *ends, uint8_t *ctx);

/*
 * The hot path: adds the n-gram part of z for both heads, the sum of
 * w[2 * (nlex + bucket) + h] / sqrt(D) over the distinct buckets hit (with
 * context words: of both blocks' weights when the text holds one), without
 * storing the n-grams or copying the text (tokens are lowercased one at a
 * time as they are hashed). seen (nbuckets entries, zeroed once) and *gen
 * are the caller's per-thread state for counting each bucket once.
 * @return D.
 */
size_t ts_features_ngram_dot(const ts_feat_config *cfg, const char *text, size_t len,
                             const float *w, uint32_t *seen, uint32_t *gen, double z[TS_NHEADS]);

/* A sparse feature vector (hashed part), sorted and distinct. */
typedef struct ts_sparse {
    uint32_t n, cap;
    uint32_t *idx;                 /* feature - nlex: the bucket, or bstride * bucket + block */
    float *val;
} ts_sparse;

/* Turns a bucket list (from ts_features_ngrams) into a sparse vector (each
 * distinct bucket 1 / sqrt(distinct buckets)), sorting buckets in place. @return TS_OK or TS_E_NOMEM. */
int ts_sparse_from_buckets(ts_sparse *v, uint32_t *buckets, size_t n);
/* The same for cfg's layout: with context words, each bucket b at 2 b, and
 * when context is set its copy at 2 b + 1 with the same value. */
int ts_sparse_from_ngrams(const ts_feat_config *cfg, ts_sparse *v, uint32_t *buckets, size_t n, int context);
void ts_sparse_release(ts_sparse *v);

/* ---------------------------------------------------------------- model */
struct ts_model {
    ts_feat_config cfg;
    uint32_t flags;                /* TS_MODEL_* */
    uint64_t lexicon_id;
    float bias[TS_NHEADS];
    float platt_a[TS_NHEADS], platt_b[TS_NHEADS];
    float *w;                      /* TS_NHEADS * nfeat, interleaved */
    uint32_t window, stride;       /* passage scoring (scanner.c): words per window, step; 0: whole document */
    uint32_t para_min;             /* > 0: also a window per paragraph of para_min..window words */
    float policy[TS_POLICY_N];     /* thresholds chosen with the model (ts_model_policy; 0: none) */
    uint32_t nseen;                /* training fingerprints (ts_training_fp), ascending */
    uint64_t *seen_fp;
    uint64_t id;                   /* XXH64 of the file bytes (0 until saved or loaded) */
    uint32_t version;              /* file format: 2 (3 with context words), or 1 for a model read from a version-1 file */
};

/* The fingerprint of a training text, over its normalised form (ASCII
 * lowercased): what a model records of its training documents and
 * paragraphs, and what eval looks up. */
uint64_t ts_training_fp(const char *norm, size_t len);
/* @return 1 if fp is among the model's training fingerprints. */
int ts_model_seen(const ts_model *m, uint64_t fp);

/* A zeroed model for cfg (platt a = 1, b = 0). @return TS_OK, TS_E_NOMEM, TS_E_INVALID. */
int ts_model_new(const ts_feat_config *cfg, ts_model **out);

/* The file bytes of a model (malloc'd; the caller frees). Also sets m->id. */
int ts_model_serialize(ts_model *m, unsigned char **out, size_t *len);
/* Writes the model to path atomically (path.tmp.PID, then rename). */
int ts_model_save(ts_model *m, const char *path, ts_diag *diag);

/* TS_OK if the model was trained with this lexicon, else TS_E_MISMATCH (diag says both ids). */
int ts_model_check_lexicon(const ts_model *m, const ts_lexicon *lex, ts_diag *diag);

/* Raw margin -> calibrated probability for a head. */
double ts_model_prob(const ts_model *m, int head, double z);

/* z for both heads from a lexicon part x (nlex floats) and a sparse hashed part. */
void ts_model_margin(const ts_model *m, const float *xlex, const ts_sparse *v, double z[TS_NHEADS]);

/* ---------------------------------------------------------------- scanner internals */
/*
 * Featurises one document without a model (training, explain). The scanner
 * must have been created with ts_scanner_create_cfg or with a model. xlex
 * must hold nlex floats. v receives the hashed part (empty on the cascade's
 * fast path when cascade is set). info gets words, matches, fast_path.
 */
int ts_scanner_create_cfg(const ts_lexicon *lex, const ts_feat_config *cfg, uint32_t anchor_words,
                          int want_spans, ts_scanner **out);
int ts_scanner_featurise(ts_scanner *s, const char *text, size_t len, int cascade, float *xlex,
                         ts_sparse *v, ts_doc_score *info);

/* ---------------------------------------------------------------- gate internals */
/* A Hyperscan scratch for g (one per scanner). @return TS_OK or TS_E_NOMEM. */
int ts_gate_clone_scratch(const ts_gate *g, void **scratch);
void ts_gate_free_scratch(void *scratch);
/* *pass = 1 if text holds a gate word. @return TS_OK, TS_E_LIMIT, TS_E_HYPERSCAN. */
int ts_gate_pass(const ts_gate *g, void *scratch, const char *text, size_t len, int *pass);

/* ---------------------------------------------------------------- training */
typedef struct ts_dataset ts_dataset;

/* Labels: y_score / y_aligned are 1 or 0. */
int ts_dataset_create(const ts_feat_config *cfg, ts_dataset **out);
int ts_dataset_add(ts_dataset *d, const float *xlex, const ts_sparse *v, int y_score, int y_aligned);
size_t ts_dataset_size(const ts_dataset *d);
void ts_dataset_free(ts_dataset *d);

/* The optimisers of ts_train. AdaGrad applies the L2 penalty only to the
 * weights an example touches, so a rare n-gram keeps whatever weight its few
 * examples gave it. SGD decays every weight at every step (Bottou, "Stochastic
 * gradient descent tricks", 2012: the weights are a scale times a vector, so
 * the decay costs one multiplication), with the step 1 / (l2 (t0 + t)) and t0
 * chosen as scikit-learn's SGDClassifier does for learning_rate="optimal". */
enum { TS_OPT_ADAGRAD = 0, TS_OPT_SGD = 1 };

typedef struct ts_train_opts {
    uint32_t epochs;               /* passes over the data */
    int optimizer;                 /* TS_OPT_ADAGRAD or TS_OPT_SGD */
    double lr;                     /* AdaGrad base learning rate (SGD: unused) */
    double l2;                     /* L2 penalty per example (applied to touched weights) */
    uint64_t seed;                 /* shuffling order */
    int cascade;                   /* set TS_MODEL_CASCADE (the datasets must be featurised so) */
    int balance;                   /* weight classes to equal total weight, per head */
    int heads;                     /* bit 0: train score, bit 1: train aligned */
    /* Called after every epoch (the library never prints). valid_loss < 0 when no validation set. */
    void (*progress)(void *ctx, uint32_t epoch, const double train_loss[TS_NHEADS],
                     const double valid_loss[TS_NHEADS]);
    void *ctx;
} ts_train_opts;

/* The default model's recipe (data/README.md): 25 epochs, lr 0.5, L2 1e-6,
 * seed 1, no class weights, both heads. */
void ts_train_opts_default(ts_train_opts *o);

/* Trains both heads by SGD (AdaGrad) in a fixed order given by the seed, so
 * the result is a function of the data and options only, then fits Platt
 * calibration on valid (or on train when valid is NULL or empty).
 * The model's lexicon_id is left 0: the caller sets it. */
int ts_train(const ts_train_opts *o, const ts_dataset *train, const ts_dataset *valid,
             ts_model **out);

/* Fits p = sigmoid(a z + b) to (z, y) by Newton's method with Platt's target
 * smoothing. @return TS_OK; with one class only, a = 1 and b = 0 (uncalibrated). */
int ts_platt_fit(const double *z, const int *y, size_t n, double *a, double *b);

#endif /* TS_MODEL_H */
