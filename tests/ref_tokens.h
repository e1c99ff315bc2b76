/*
 * ref_tokens.h: the tokeniser of model.h written out byte by byte, the way
 * the definition reads, as the oracle for the fast one in features.c
 * (tests/unit/model/test_model.c and tests/fuzz/fuzz_tokens.c).
 */
#ifndef TS_REF_TOKENS_H
#define TS_REF_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

static int ref_is_tok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

/* Buckets, starts and ends of every n-gram of text (arrays of len + 1).
 * @return their number. */
static size_t ref_tokens(const ts_feat_config *c, const char *text, size_t len, uint32_t *bucket,
                         uint32_t *start, uint32_t *end)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t n = 0, i = 0, prev_start = 0;
    uint64_t prev = 0;
    int have = 0;
    while (i < len) {
        if (!ref_is_tok(p[i])) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < len && ref_is_tok(p[i]))
            i++;
        size_t e = i;
        while (s < e && p[s] == '\'')
            s++;
        while (e > s && p[e - 1] == '\'')
            e--;
        if (s == e)
            continue;
        unsigned char tok[TS_MAX_TOKEN];
        size_t hl = e - s < TS_MAX_TOKEN ? e - s : TS_MAX_TOKEN;
        for (size_t k = 0; k < hl; k++)
            tok[k] = p[s + k] >= 'A' && p[s + k] <= 'Z' ? (unsigned char)(p[s + k] + 32) : p[s + k];
        uint64_t u = XXH3_64bits_withSeed(tok, hl, c->seed);
        bucket[n] = (uint32_t)(u & (c->nbuckets - 1));
        start[n] = (uint32_t)s;
        end[n] = (uint32_t)e;
        n++;
        if (c->ngram >= 2 && have) {
            unsigned char pair[16];
            for (int k = 0; k < 8; k++) {
                pair[k] = (unsigned char)(prev >> (8 * k));
                pair[8 + k] = (unsigned char)(u >> (8 * k));
            }
            bucket[n] = (uint32_t)(XXH3_64bits_withSeed(pair, 16, c->seed ^ TS_BIGRAM_SALT) & (c->nbuckets - 1));
            start[n] = (uint32_t)prev_start;
            end[n] = (uint32_t)e;
            n++;
        }
        prev = u;
        prev_start = s;
        have = 1;
    }
    return n;
}

#endif
