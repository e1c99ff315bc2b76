/*
 * model.c: the model file, loading, saving and prediction.
 *
 * File format, version 2 or 3. All integers little-endian, floats IEEE-754
 * binary32 little-endian:
 *
 *   offset  size  field
 *   0       8     magic "TSMODEL\x1a"
 *   8       4     u32 version (1)
 *   12      4     u32 flags: 1 = the aligned head was trained, 2 = cascade
 *   16      4     u32 nbuckets (a power of two, 2 .. 2^24)
 *   20      4     u32 ngram order (1 or 2)
 *   24      8     u64 hash seed
 *   32      4     u32 lexicon feature layout (1, see model.h)
 *   36      4     u32 lexicon features per category (3)
 *   40      4     u32 ncat, number of categories (<= 32)
 *   44      ...   ncat times: u8 name length (1..63), the name's bytes
 *   version 3 only (a model with context words, model.h):
 *           4     u32 nctx, the number of context words (1..256)
 *           ...   nctx times: u8 length (1..31), the word's bytes (lowercase,
 *                 one token; the scanner hashes them with the model's seed)
 *           8     u64 lexicon id (ts_lexicon_id of the training lexicon)
 *           4     u32 nheads (2: score, aligned)
 *           4     u32 weight type (0 = float32)
 *           12*2  per head: f32 bias, f32 Platt a, f32 Platt b
 *           4     u32 nfeat = 3 * ncat + 1 + nbuckets (version 3: + 2 * nbuckets)
 *           8*nfeat  f32 weights, interleaved: w[2 * feature + head]
 *   versions 2 and 3:
 *           4     u32 window words W (0: the whole document is one window)
 *           4     u32 window stride S (1 .. W; 0 when W is 0)
 *           4     u32 paragraph windows: P > 0 adds a window per paragraph of
 *                 P to W words (shorter ones joined to the next; scanner.c)
 *           16    f32 policy thresholds chosen with the model: downweight,
 *                 drop, upweight, keep-aligned (0: none; scan's defaults)
 *           4     u32 nseen, the number of training fingerprints
 *           8*nseen  u64 fingerprints of the training texts, ascending, distinct
 *                 (ts_training_fp; eval warns on overlap)
 *           8     u64 XXH64 (seed 0) of every byte before it
 *
 * Version 1 files (no window, no fingerprints) are still read: they score
 * whole documents, as they were trained to. A model without context words is
 * written as version 2, byte for byte as before version 3 existed, so
 * older models keep their bytes, their id and their scores.
 *
 * The model's id is the XXH64 of the whole file. Readers reject another
 * magic, another version, a checksum mismatch, a size that disagrees with
 * the header, and non-finite numbers.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "embedded.h"
#include "model.h"

#define MODEL_MAGIC "TSMODEL\x1a"
#define MODEL_VERSION 2u
#define MODEL_VERSION_CTX 3u   /* version 2 with context words */
#define MODEL_MAX_SEEN (1u << 24)
#define V2_FIXED 32u   /* window, stride, paragraphs, policy, nseen */
#define MODEL_MAX_FILE ((size_t)1 << 30)

static void diag_set(ts_diag *diag, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#include <stdarg.h>
static void diag_set(ts_diag *diag, uint64_t offset, const char *fmt, ...)
{
    if (!diag)
        return;
    diag->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->message, sizeof diag->message, fmt, ap);
    va_end(ap);
}

static int policy_ok(const float *p)
{
    for (int i = 0; i < TS_POLICY_N; i++)
        if (!(p[i] >= 0 && p[i] <= 1))
            return 0;
    return 1;
}

int ts_model_new(const ts_feat_config *cfg, ts_model **out)
{
    *out = NULL;
    if (ts_feat_config_check(cfg, NULL))
        return TS_E_INVALID;
    ts_model *m = calloc(1, sizeof *m);
    if (!m)
        return TS_E_NOMEM;
    m->cfg = *cfg;
    m->w = calloc((size_t)TS_NHEADS * ts_feat_nfeat(cfg), sizeof *m->w);
    if (!m->w) {
        free(m);
        return TS_E_NOMEM;
    }
    for (int h = 0; h < TS_NHEADS; h++)
        m->platt_a[h] = 1.0f;
    m->version = MODEL_VERSION;
    *out = m;
    return TS_OK;
}

void ts_model_free(ts_model *m)
{
    if (!m)
        return;
    free(m->w);
    free(m->seen_fp);
    free(m);
}

uint64_t ts_model_id(const ts_model *m) { return m->id; }
uint64_t ts_model_lexicon_id(const ts_model *m) { return m->lexicon_id; }
int ts_model_has_aligned(const ts_model *m) { return (m->flags & TS_MODEL_ALIGNED) != 0; }

const char *ts_model_context_word(const ts_model *m, uint32_t i) { return i < m->cfg.nctx ? m->cfg.ctx[i] : NULL; }

int ts_model_is_context_word(const ts_model *m, const char *token, size_t len)
{
    char low[TS_CTX_WORD_MAX];
    if (!m->cfg.nctx || len == 0 || len >= TS_CTX_WORD_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)token[i];
        low[i] = (char)(c + (((unsigned char)(c - 'A') < 26) << 5));
    }
    return ts_feat_is_context(&m->cfg, XXH3_64bits_withSeed(low, len, m->cfg.seed));
}

uint32_t ts_model_policy(const ts_model *m, double out[TS_POLICY_N])
{
    for (int i = 0; i < TS_POLICY_N; i++)
        out[i] = m->policy[i];
    return m->window;
}


/* ------------------------------------------------------------ writing */

typedef struct wbuf {
    unsigned char *p;
    size_t n;
} wbuf;

static void put32(wbuf *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->p[b->n++] = (unsigned char)(v >> (8 * i));
}

static void put64(wbuf *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b->p[b->n++] = (unsigned char)(v >> (8 * i));
}

static void putf(wbuf *b, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put32(b, v);
}

int ts_model_serialize(ts_model *m, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (ts_feat_config_check(&m->cfg, NULL))
        return TS_E_INVALID;
    uint32_t nfeat = ts_feat_nfeat(&m->cfg);
    /* A model read from a version-1 file, unchanged since, is written as it
     * was read (one encoding per model); anything else as version 2. */
    int v1 = m->version == 1 && !m->window && !m->nseen && !m->para_min && !m->policy[0] && !m->policy[1] &&
             !m->policy[2] && !m->policy[3];
    v1 = v1 && !m->cfg.nctx;
    size_t size = 44 + 8 + 4 + 4 + 12 * TS_NHEADS + 4 + (size_t)8 * nfeat + (v1 ? 0 : V2_FIXED + (size_t)8 * m->nseen) + 8;
    for (uint32_t c = 0; c < m->cfg.ncat; c++)
        size += 1 + strlen(m->cfg.cat[c]);
    if (m->cfg.nctx)
        size += 4;
    for (uint32_t c = 0; c < m->cfg.nctx; c++)
        size += 1 + strlen(m->cfg.ctx[c]);
    wbuf b = {malloc(size), 0};
    if (!b.p)
        return TS_E_NOMEM;
    memcpy(b.p, MODEL_MAGIC, 8);
    b.n = 8;
    put32(&b, v1 ? 1u : m->cfg.nctx ? MODEL_VERSION_CTX : MODEL_VERSION);
    put32(&b, m->flags);
    put32(&b, m->cfg.nbuckets);
    put32(&b, m->cfg.ngram);
    put64(&b, m->cfg.seed);
    put32(&b, TS_LEX_LAYOUT);
    put32(&b, TS_LEX_PER_CAT);
    put32(&b, m->cfg.ncat);
    for (uint32_t c = 0; c < m->cfg.ncat; c++) {
        size_t l = strlen(m->cfg.cat[c]);
        b.p[b.n++] = (unsigned char)l;
        memcpy(b.p + b.n, m->cfg.cat[c], l);
        b.n += l;
    }
    if (m->cfg.nctx) {
        put32(&b, m->cfg.nctx);
        for (uint32_t c = 0; c < m->cfg.nctx; c++) {
            size_t l = strlen(m->cfg.ctx[c]);
            b.p[b.n++] = (unsigned char)l;
            memcpy(b.p + b.n, m->cfg.ctx[c], l);
            b.n += l;
        }
    }
    put64(&b, m->lexicon_id);
    put32(&b, TS_NHEADS);
    put32(&b, 0);
    for (int h = 0; h < TS_NHEADS; h++) {
        putf(&b, m->bias[h]);
        putf(&b, m->platt_a[h]);
        putf(&b, m->platt_b[h]);
    }
    put32(&b, nfeat);
    for (size_t i = 0; i < (size_t)TS_NHEADS * nfeat; i++)
        putf(&b, m->w[i]);
    if (!v1) {
        put32(&b, m->window);
        put32(&b, m->window ? m->stride : 0);
        put32(&b, m->window ? m->para_min : 0);
        for (int i = 0; i < TS_POLICY_N; i++)
            putf(&b, m->policy[i]);
        put32(&b, m->nseen);
        for (uint32_t i = 0; i < m->nseen; i++)
            put64(&b, m->seen_fp[i]);
    }
    put64(&b, XXH64(b.p, b.n, 0));
    m->id = XXH64(b.p, b.n, 0);
    *out = b.p;
    *len = b.n;
    return TS_OK;
}

int ts_model_save(ts_model *m, const char *path, ts_diag *diag)
{
    ts_diag_clear(diag);
    if (diag)
        snprintf(diag->file, sizeof diag->file, "%s", path);
    unsigned char *data;
    size_t len;
    int err = ts_model_serialize(m, &data, &len);
    if (err)
        return err;
    /* Like every output: a temporary beside it, synced and renamed (outfile.c). */
    ts_diag d;
    err = ts_outfile_write_all(path, data, len, &d);
    free(data);
    if (err)
        diag_set(diag, UINT64_MAX, "cannot write %s: %s", path, d.message);
    return err;
}

/* ------------------------------------------------------------ reading */

typedef struct rbuf {
    const unsigned char *p;
    size_t n, pos;
    int short_read;
} rbuf;

static uint32_t get32(rbuf *b)
{
    if (b->n - b->pos < 4) {
        b->short_read = 1;
        b->pos = b->n;
        return 0;
    }
    const unsigned char *q = b->p + b->pos;
    b->pos += 4;
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

static uint64_t get64(rbuf *b)
{
    uint64_t lo = get32(b);
    return lo | (uint64_t)get32(b) << 32;
}

static float getf(rbuf *b)
{
    uint32_t v = get32(b);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

int ts_model_load_memory(const void *data, size_t len, ts_model **out, ts_diag *diag)
{
    *out = NULL;
    rbuf b = {data, len, 0, 0};
    if (!data && len)
        return TS_E_INVALID;
    if (len < 8 ? memcmp(data, MODEL_MAGIC, len) != 0 : memcmp(data, MODEL_MAGIC, 8) != 0) {
        diag_set(diag, 0, "not a tropescan model (bad magic)");
        return TS_E_MODEL;
    }
    if (len < 12) {
        diag_set(diag, len, "model file ends in its header (%zu bytes)", len);
        return TS_E_TRUNCATED;
    }
    b.pos = 8;
    uint32_t version = get32(&b);
    if (version != 1 && version != MODEL_VERSION && version != MODEL_VERSION_CTX) {
        diag_set(diag, 8, "model format version %u is not supported (this build reads versions 1 to %u)",
                 version, MODEL_VERSION_CTX);
        return TS_E_MODEL;
    }
    ts_feat_config cfg;
    memset(&cfg, 0, sizeof cfg);
    uint32_t flags = get32(&b);
    cfg.nbuckets = get32(&b);
    cfg.ngram = get32(&b);
    cfg.seed = get64(&b);
    uint32_t layout = get32(&b);
    uint32_t per_cat = get32(&b);
    cfg.ncat = get32(&b);
    int names_ok = cfg.ncat <= TS_MAX_CATEGORIES;
    for (uint32_t c = 0; names_ok && c < cfg.ncat && !b.short_read; c++) {
        if (b.pos >= len) {
            b.short_read = 1;
            break;
        }
        size_t l = b.p[b.pos++];
        if (l == 0 || l >= TS_CAT_NAME_MAX) {
            names_ok = 0;
            break;
        }
        if (len - b.pos < l) {
            b.short_read = 1;
            break;
        }
        memcpy(cfg.cat[c], b.p + b.pos, l);
        b.pos += l;
    }
    /* Version 3: the context words, hashed with the seed below. */
    const char *ctx_words[TS_CTX_MAX];
    char ctx_buf[TS_CTX_MAX][TS_CTX_WORD_MAX];
    uint32_t nctx = 0;
    int ctx_ok = 1;
    if (version >= MODEL_VERSION_CTX && names_ok && !b.short_read) {
        nctx = get32(&b);
        ctx_ok = nctx >= 1 && nctx <= TS_CTX_MAX;
        for (uint32_t c = 0; ctx_ok && c < nctx && !b.short_read; c++) {
            if (b.pos >= len) {
                b.short_read = 1;
                break;
            }
            size_t l = b.p[b.pos++];
            if (l == 0 || l >= TS_CTX_WORD_MAX) {
                ctx_ok = 0;
                break;
            }
            if (len - b.pos < l) {
                b.short_read = 1;
                break;
            }
            memcpy(ctx_buf[c], b.p + b.pos, l);
            ctx_buf[c][l] = '\0';
            b.pos += l;
        }
    }
    uint64_t lexicon_id = get64(&b);
    uint32_t nheads = get32(&b);
    uint32_t wtype = get32(&b);
    float hp[TS_NHEADS][3];
    for (int h = 0; h < TS_NHEADS; h++)
        for (int k = 0; k < 3; k++)
            hp[h][k] = getf(&b);
    uint32_t nfeat = get32(&b);
    size_t header_end = b.pos;
    ts_diag ctx_diag = {0};
    if (names_ok && ctx_ok && !b.short_read && nctx) {
        /* Words that are not one token, or repeat, are a bad header: a
         * model whose features its own words do not describe. */
        for (uint32_t c = 0; c < nctx; c++)
            ctx_words[c] = ctx_buf[c];
        ctx_ok = ts_feat_config_set_context(&cfg, ctx_words, nctx, &ctx_diag) == TS_OK && cfg.nctx == nctx;
        for (uint32_t c = 0; ctx_ok && c < nctx; c++)
            ctx_ok = strcmp(cfg.ctx[c], ctx_buf[c]) == 0;
        if (!ctx_ok)
            cfg.nctx = 0;
    }
    int header_ok = names_ok && ctx_ok && !b.short_read;

    /* The size the header promises, if the header can be believed. */
    int size_known = header_ok && !ts_feat_config_check(&cfg, NULL) && nheads == TS_NHEADS &&
                     nfeat == ts_feat_nfeat(&cfg);
    size_t weights_end = header_end + (size_t)4 * TS_NHEADS * nfeat;
    uint32_t window = 0, stride = 0, para_min = 0, nseen = 0;
    float policy[TS_POLICY_N] = {0, 0, 0, 0};
    if (size_known && version >= 2 && len >= weights_end + V2_FIXED + 8) {
        rbuf t = {data, len, weights_end, 0};
        window = get32(&t);
        stride = get32(&t);
        para_min = get32(&t);
        for (int i = 0; i < TS_POLICY_N; i++)
            policy[i] = getf(&t);
        nseen = get32(&t);
    }
    size_t expected = !size_known ? 0
                      : version >= 2 ? weights_end + V2_FIXED + (size_t)8 * nseen + 8
                                     : weights_end + 8;
    int sum_ok = 0;
    if (len >= 20) {
        uint64_t stored = 0;
        for (int i = 0; i < 8; i++)
            stored |= (uint64_t)((const unsigned char *)data)[len - 8 + i] << (8 * i);
        sum_ok = XXH64(data, len - 8, 0) == stored;
    }
    if (!sum_ok) {
        /* The fingerprint count sits in the checksummed tail: a file
         * shorter than the fixed part only is a truncated one. */
        size_t fixed = !size_known ? 0 : version >= 2 ? weights_end + V2_FIXED + 8 : weights_end + 8;
        if (b.short_read || (size_known && len < fixed)) {
            if (b.short_read)
                diag_set(diag, len, "model file is truncated: it ends inside its header, at %zu bytes", len);
            else
                diag_set(diag, len, "model file is truncated: %zu bytes, its header needs %zu", len, fixed);
            return TS_E_TRUNCATED;
        }
        diag_set(diag, len >= 8 ? len - 8 : 0, "model checksum mismatch: the file is corrupt");
        return TS_E_CHECKSUM;
    }
    /* Intact bytes, but are they a model this build understands? */
    ts_diag tmp;
    if (!names_ok || b.short_read) {
        diag_set(diag, 40, "bad category table in model header");
        return TS_E_MODEL;
    }
    if (!header_ok) {
        diag_set(diag, 44, "bad context word table in model header%s%s", ctx_diag.message[0] ? ": " : "",
                 ctx_diag.message);
        return TS_E_MODEL;
    }
    if (ts_feat_config_check(&cfg, &tmp)) {
        diag_set(diag, 16, "%s", tmp.message);
        return TS_E_MODEL;
    }
    if (layout != TS_LEX_LAYOUT || per_cat != TS_LEX_PER_CAT) {
        diag_set(diag, 32, "lexicon feature layout %u/%u is not supported", layout, per_cat);
        return TS_E_MODEL;
    }
    if (nheads != TS_NHEADS || wtype != 0) {
        diag_set(diag, header_end, "unsupported heads (%u) or weight type (%u)", nheads, wtype);
        return TS_E_MODEL;
    }
    if (flags & ~(TS_MODEL_ALIGNED | TS_MODEL_CASCADE)) {
        diag_set(diag, 12, "unknown model flags 0x%x", flags);
        return TS_E_MODEL;
    }
    if (!size_known || len != expected) {
        diag_set(diag, header_end, "model size %zu does not match its header (%zu)", len, expected);
        return TS_E_MODEL;
    }
    if (window > TS_MAX_WINDOW || (window && (stride == 0 || stride > window)) || (!window && (stride || para_min)) ||
        para_min > window ||
        nseen > MODEL_MAX_SEEN || !policy_ok(policy)) {
        diag_set(diag, weights_end, "bad window (%u words, stride %u), policy or fingerprint count %u",
                 window, stride, nseen);
        return TS_E_MODEL;
    }
    ts_model *m;
    int err = ts_model_new(&cfg, &m);
    if (err)
        return err;
    m->flags = flags;
    m->lexicon_id = lexicon_id;
    for (int h = 0; h < TS_NHEADS; h++) {
        m->bias[h] = hp[h][0];
        m->platt_a[h] = hp[h][1];
        m->platt_b[h] = hp[h][2];
        if (!isfinite(hp[h][0]) || !isfinite(hp[h][1]) || !isfinite(hp[h][2])) {
            diag_set(diag, header_end - 4, "non-finite bias or calibration");
            ts_model_free(m);
            return TS_E_MODEL;
        }
    }
    for (size_t i = 0; i < (size_t)TS_NHEADS * nfeat; i++) {
        m->w[i] = getf(&b);
        if (!isfinite(m->w[i])) {
            diag_set(diag, b.pos - 4, "non-finite weight");
            ts_model_free(m);
            return TS_E_MODEL;
        }
    }
    m->version = version;
    m->window = window;
    m->stride = stride;
    m->para_min = para_min;
    memcpy(m->policy, policy, sizeof policy);
    if (nseen) {
        b.pos = weights_end + V2_FIXED;
        m->seen_fp = malloc((size_t)nseen * sizeof *m->seen_fp);
        if (!m->seen_fp) {
            ts_model_free(m);
            return TS_E_NOMEM;
        }
        for (uint32_t i = 0; i < nseen; i++) {
            m->seen_fp[i] = get64(&b);
            if (i && m->seen_fp[i] <= m->seen_fp[i - 1]) {
                diag_set(diag, b.pos - 8, "training fingerprints are not ascending");
                ts_model_free(m);
                return TS_E_MODEL;
            }
        }
        m->nseen = nseen;
    }
    m->id = XXH64(data, len, 0);
    *out = m;
    return TS_OK;
}

int ts_model_load_file(const char *path, ts_model **out, ts_diag *diag)
{
    *out = NULL;
    ts_diag_clear(diag);
    if (diag)
        snprintf(diag->file, sizeof diag->file, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_set(diag, UINT64_MAX, "cannot open: %s", strerror(errno));
        return TS_E_IO;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    int err = buf ? TS_OK : TS_E_NOMEM;
    while (!err) {
        if (n == cap) {
            if (cap >= MODEL_MAX_FILE) {
                diag_set(diag, n, "model file larger than %zu bytes", MODEL_MAX_FILE);
                err = TS_E_LIMIT;
                break;
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                err = TS_E_NOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                diag_set(diag, n, "read error: %s", strerror(errno));
                err = TS_E_IO;
            }
            break;
        }
    }
    fclose(f);
    if (!err)
        err = ts_model_load_memory(buf, n, out, diag);
    free(buf);
    return err;
}

int ts_model_load_default(ts_model **out, ts_diag *diag)
{
    ts_diag_clear(diag);
    if (diag)
        snprintf(diag->file, sizeof diag->file, "%s", "<embedded default model>");
    if (ts_default_model_size == 0) {
        *out = NULL;
        diag_set(diag, 0, "no default model was embedded at build time (data/model/default.tsmodel is empty)");
        return TS_E_MODEL;
    }
    return ts_model_load_memory(ts_default_model, ts_default_model_size, out, diag);
}

int ts_model_seen(const ts_model *m, uint64_t fp)
{
    size_t lo = 0, hi = m->nseen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->seen_fp[mid] < fp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->nseen && m->seen_fp[lo] == fp;
}

uint64_t ts_training_fp(const char *norm, size_t len)
{
    /* Lowercased, so that a change of case alone does not hide a document. */
    XXH64_state_t st;
    XXH64_reset(&st, 0x7472616931ULL);
    char buf[1024];
    for (size_t i = 0; i < len;) {
        size_t n = len - i < sizeof buf ? len - i : sizeof buf;
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)norm[i + k];
            buf[k] = (char)(c + (((unsigned char)(c - 'A') < 26) << 5));
        }
        XXH64_update(&st, buf, n);
        i += n;
    }
    return XXH64_digest(&st);
}

double ts_model_prob(const ts_model *m, int head, double z)
{
    double t = (double)m->platt_a[head] * z + (double)m->platt_b[head];
    return 1.0 / (1.0 + exp(-t));
}

void ts_model_margin(const ts_model *m, const float *xlex, const ts_sparse *v, double z[TS_NHEADS])
{
    uint32_t nlex = ts_feat_nlex(&m->cfg);
    double z0 = m->bias[0], z1 = m->bias[1];
    for (uint32_t i = 0; i < nlex; i++) {
        z0 += (double)m->w[2 * i] * xlex[i];
        z1 += (double)m->w[2 * i + 1] * xlex[i];
    }
    if (v) {
        const float *wb = m->w + (size_t)TS_NHEADS * nlex;
        double s0 = 0, s1 = 0;
        for (uint32_t j = 0; j < v->n; j++) {
            const float *w = wb + (size_t)TS_NHEADS * v->idx[j];
            s0 += (double)w[0] * v->val[j];
            s1 += (double)w[1] * v->val[j];
        }
        z0 += s0;
        z1 += s1;
    }
    z[0] = z0;
    z[1] = z1;
}
