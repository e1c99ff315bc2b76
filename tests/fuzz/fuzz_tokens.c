/*
 * fuzz_tokens.c: libFuzzer target for the tokeniser (features.c), against
 * the byte-by-byte oracle in tests/ref_tokens.h.
 *
 * The first byte picks the n-gram order and the seed; the rest is the text,
 * at the end of an exactly-sized buffer (so ASan sees a read past it). Checks
 * that ts_features_tokens (tokens lowercased one by one), ts_features_ngrams
 * (the text lowercased first) and ts_features_ngram_dot (the sum over
 * distinct buckets) all agree with the oracle.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "model.h"
#include "../ref_tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    ts_feat_config c;
    memset(&c, 0, sizeof c);
    c.nbuckets = 1u << 10;
    c.ngram = 1 + (data[0] & 1);
    c.seed = data[0] >> 1;
    size_t len = size - 1;
    char *text = malloc(len ? len : 1);
    char *lower = malloc(len ? len : 1);
    uint32_t *b[2], *s[2], *e[2];
    for (int k = 0; k < 2; k++) {
        b[k] = malloc((len + 1) * sizeof(uint32_t));
        s[k] = malloc((len + 1) * sizeof(uint32_t));
        e[k] = malloc((len + 1) * sizeof(uint32_t));
    }
    uint32_t *nb = malloc((len + 1) * sizeof(uint32_t));
    ts_ngram *sp = malloc((len + 1) * sizeof *sp);
    if (!text || !lower || !b[0] || !b[1] || !s[0] || !s[1] || !e[0] || !e[1] || !nb || !sp)
        abort();
    memcpy(text, data + 1, len);
    size_t n = ref_tokens(&c, text, len, b[0], s[0], e[0]);
    if (ts_features_tokens(&c, text, len, b[1], s[1], e[1]) != n)
        abort();
    if (memcmp(b[0], b[1], n * 4) || memcmp(s[0], s[1], n * 4) || memcmp(e[0], e[1], n * 4))
        abort();
    if (ts_features_ngrams(&c, text, len, lower, nb, sp) != n || memcmp(nb, b[0], n * 4))
        abort();
    for (size_t i = 0; i < n; i++)
        if (sp[i].bucket != b[0][i] || sp[i].start != s[0][i] || sp[i].end != e[0][i])
            abort();
    /* The dot product: distinct buckets in text order, weight = bucket + 1. */
    float *w = calloc((size_t)TS_NHEADS * ts_feat_nfeat(&c), sizeof *w);
    uint32_t *seen = calloc(c.nbuckets, sizeof *seen), gen = 0;
    unsigned char *mark = calloc(c.nbuckets, 1);
    if (!w || !seen || !mark)
        abort();
    for (uint32_t k = 0; k < c.nbuckets; k++)
        w[TS_NHEADS * (ts_feat_nlex(&c) + k)] = (float)(k + 1);
    double want = 0, z[TS_NHEADS] = {0, 0};
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        if (!mark[b[0][i]]) {
            mark[b[0][i]] = 1;
            want += b[0][i] + 1;
            d++;
        }
    if (ts_features_ngram_dot(&c, text, len, w, seen, &gen, z) != d)
        abort();
    if (d && z[0] != want * (1.0 / sqrt((double)d)))
        abort();
    free(w);
    free(seen);
    free(mark);
    free(text);
    free(lower);
    for (int k = 0; k < 2; k++) {
        free(b[k]);
        free(s[k]);
        free(e[k]);
    }
    free(nb);
    free(sp);
    return 0;
}
