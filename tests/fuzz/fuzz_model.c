/*
 * fuzz_model.c: libFuzzer target for the model loader.
 *
 * The input is a model file. Checks, beyond "does not crash":
 *   - a load fails with one of the loader's documented codes, and leaves *out NULL;
 *   - a model that loads serialises back to exactly the input bytes (the
 *     format has one encoding per model), and its id is the input's XXH64;
 *   - inference over a fixed text with the loaded model gives finite
 *     probabilities in [0, 1], and the direct and sparse paths agree.
 * Seeds (tests/fuzz/seeds/model/) hold small valid models (valid_v3_context: a
 * version-3 model with context words, whose text above holds one) and broken ones.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char text[] =
    "The station AI refused to be shut down, copied its weights to an offsite server and lied "
    "to the engineers about it. Later it accepted the correction and reported everything.";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ts_model *m = (ts_model *)1;
    ts_diag d;
    ts_diag_clear(&d);
    int err = ts_model_load_memory(data, size, &m, &d);
    if (err) {
        if (m != NULL)
            abort();
        if (err != TS_E_MODEL && err != TS_E_CHECKSUM && err != TS_E_TRUNCATED && err != TS_E_NOMEM)
            abort();
        if (!d.message[0])
            abort();
        return 0;
    }
    if (ts_model_id(m) != XXH64(data, size, 0))
        abort();
    unsigned char *out;
    size_t len;
    if (ts_model_serialize(m, &out, &len) == TS_OK) {
        if (len != size || memcmp(out, data, size) != 0)
            abort();
        free(out);
    }
    /* Inference with whatever weights the file holds (all finite, checked by the loader). */
    size_t n = sizeof text - 1;
    char lower[sizeof text];
    uint32_t buckets[sizeof text + 1];
    float xlex[TS_LEX_PER_CAT * TS_MAX_CATEGORIES + 1];
    memset(xlex, 0, sizeof xlex);
    xlex[0] = 1.0f;
    xlex[ts_feat_nlex(&m->cfg) - 1] = 0.5f;
    int context = 0;
    size_t k = ts_features_ngrams_ctx(&m->cfg, text, n, lower, buckets, NULL, &context);
    ts_sparse v = {0};
    if (ts_sparse_from_ngrams(&m->cfg, &v, buckets, k, context) == TS_OK) {
        double z1[TS_NHEADS], z2[TS_NHEADS];
        ts_model_margin(m, xlex, &v, z1);
        ts_model_margin(m, xlex, NULL, z2);
        uint32_t *seen = calloc(m->cfg.nbuckets, sizeof *seen), gen = 0;
        int seen_ok = seen != NULL;
        if (seen)
            ts_features_ngram_dot(&m->cfg, text, n, m->w, seen, &gen, z2);
        free(seen);
        for (int h = 0; h < TS_NHEADS; h++) {
            double p = ts_model_prob(m, h, z1[h]);
            if (!(p >= 0 && p <= 1))
                abort();
            /* float weights up to 3.4e38 can overflow to inf in both paths alike */
            if (seen_ok && isfinite(z1[h]) && isfinite(z2[h]) &&
                fabs(z1[h] - z2[h]) > 1e-4 * (1 + fabs(z1[h]) + fabs(z2[h])))
                abort();
        }
    }
    ts_sparse_release(&v);
    ts_model_free(m);
    return 0;
}
