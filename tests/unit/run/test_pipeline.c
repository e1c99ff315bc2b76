/*
 * test_pipeline.c: the run (src/lib/pipeline.c) with a step of the test's
 * own: every line becomes "line offset length kind\n" and is counted.
 *   - ordered delivery: 8 threads, small chunks, several inputs: each
 *     output holds its input's lines 1..N in order, byte-identical to a
 *     one-thread run;
 *   - a failing shard among good ones (missing, cut zstd, corrupt): the good
 *     ones complete, the cut one keeps every line before the fault, each
 *     failure names its file;
 *   - cancellation: nothing is left behind;
 *   - the scan's own step: summary.json parses back and dumps to the same bytes.
 */
#include <inttypes.h>
#include <sys/stat.h>
#include <zstd.h>

#include "check.h"
#include "tropescan.h"

typedef struct counter {
    int workers;
} counter;

static int w_create(void *ctx, void **out)
{
    counter *c = ctx;
    __atomic_add_fetch(&c->workers, 1, __ATOMIC_SEQ_CST);
    *out = ctx;
    return TS_OK;
}

static void w_free(void *ctx, void *w) { (void)ctx, (void)w; }

static int w_line(void *w, const ts_line *ln, ts_out *out, ts_stats *st)
{
    char buf[96];
    int n = snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64 " %zu %d\n", ln->line, ln->offset, ln->len, ln->error);
    ts_out_append(out, buf, (size_t)n);
    st->docs++;
    if (ln->error)
        st->errors[ln->error]++;
    else
        st->ok++;
    st->actions[TS_ACTION_KEEP]++;
    return TS_OK;
}

static char *make_lines(int n, int seed, size_t *len)
{
    size_t cap = (size_t)n * 80 + 16, k = 0;
    char *b = malloc(cap);
    unsigned x = (unsigned)seed * 2654435761u + 1;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        int words = 1 + (int)(x >> 16) % 12;
        k += (size_t)sprintf(b + k, "{\"id\":\"%d-%d\",\"text\":\"", seed, i);
        for (int j = 0; j < words; j++)
            k += (size_t)sprintf(b + k, "w%d ", j);
        k += (size_t)sprintf(b + k, "\"}\n");
    }
    *len = k;
    return b;
}

static char *unzstd_file(const char *path, size_t *len)
{
    size_t clen;
    char *c = read_file(path, &clen);
    if (!c)
        return NULL;
    ZSTD_DStream *z = ZSTD_createDStream();
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    ZSTD_inBuffer in = {c, clen, 0};
    while (in.pos < in.size) {
        if (cap - n < (1 << 16))
            out = realloc(out, cap *= 2);
        ZSTD_outBuffer o = {out + n, cap - n, 0};
        size_t r = ZSTD_decompressStream(z, &o, &in);
        n += o.pos;
        if (ZSTD_isError(r))
            break;
    }
    ZSTD_freeDStream(z);
    free(c);
    out[n] = '\0';
    *len = n;
    return out;
}

/* Checks an output against its input's lines: "i offset len 0", in order. */
static void check_output(const char *path, const char *input, size_t input_len, uint64_t upto_line)
{
    size_t len;
    char *out = unzstd_file(path, &len);
    CHECK(out != NULL);
    if (!out)
        return;
    uint64_t line = 1, off = 0;
    const char *p = out;
    while (off < input_len && line <= upto_line) {
        const char *nl = memchr(input + off, '\n', input_len - off);
        size_t l = nl ? (size_t)(nl - (input + off)) : input_len - off;
        char want[96];
        snprintf(want, sizeof want, "%" PRIu64 " %" PRIu64 " %zu 0\n", line, off, l);
        if (strncmp(p, want, strlen(want))) {
            fprintf(stderr, "%s: line %" PRIu64 ": got %.40s, want %s", path, line, p, want);
            failures++;
            break;
        }
        p += strlen(want);
        off += l + 1;
        line++;
    }
    free(out);
}

static ts_lexicon *small_lexicon(void)
{
    ts_lexicon *lex;
    ts_diag d;
    const char ent[] = "robot(s|)\n", sr[] = "refused to shut down\n";
    if (ts_lexicon_create(&lex) || ts_lexicon_add_text(lex, "ai_entity", "ai_entity.txt", ent, sizeof ent - 1, &d) ||
        ts_lexicon_add_text(lex, "shutdown_resistance", "sr.txt", sr, sizeof sr - 1, &d) ||
        ts_lexicon_compile(lex, &d)) {
        fprintf(stderr, "lexicon: %s\n", d.message);
        exit(2);
    }
    return lex;
}

static int run_with(const ts_lexicon *lex, const ts_step *step, int threads, const char *outdir,
                    const char *const *paths, size_t n, ts_run **out, const volatile int *cancel)
{
    ts_run_settings s;
    ts_run_settings_default(&s);
    s.outdir = outdir;
    s.threads = threads;
    s.chunk_size = 4096;
    s.step = step;
    s.cancel = cancel;
    ts_run *r;
    ts_diag d;
    int err = ts_run_create(&s, lex, NULL, &r, &d);
    CHECK(err == TS_OK);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "in%zu", i);
        CHECK(ts_run_add_input(r, paths[i], name) == TS_OK);
    }
    CHECK(ts_run_prepare(r, NULL, &d) == TS_OK);
    err = ts_run_execute(r, &d);
    *out = r;
    return err;
}

int main(void)
{
    make_tmpdir("pipeline");
    ts_lexicon *lex = small_lexicon();
    counter ctr = {0};
    ts_step step = {&ctr, w_create, w_free, w_line};

    enum { NIN = 6 };
    char *data[NIN];
    size_t len[NIN];
    const char *paths[NIN + 3];
    char names[NIN + 3][600];
    for (int i = 0; i < NIN; i++) {
        data[i] = make_lines(500 + 700 * i, i, &len[i]);
        char nm[32];
        snprintf(nm, sizeof nm, "good%d.jsonl", i);
        snprintf(names[i], sizeof names[i], "%s", write_file(nm, data[i], len[i]));
        paths[i] = names[i];
    }

    /* Ordered delivery under many threads, byte-identical to one thread. */
    char out1[600], out8[600];
    snprintf(out1, sizeof out1, "%s/out1", tmpdir);
    snprintf(out8, sizeof out8, "%s/out8", tmpdir);
    ts_run *r1, *r8;
    CHECK(run_with(lex, &step, 1, out1, paths, NIN, &r1, NULL) == TS_OK);
    CHECK(run_with(lex, &step, 8, out8, paths, NIN, &r8, NULL) == TS_OK);
    CHECK(ctr.workers == 9);
    CHECK(ts_run_execute(r1, NULL) == TS_E_INVALID); /* once */
    for (int i = 0; i < NIN; i++) {
        char p1[700], p8[700];
        snprintf(p1, sizeof p1, "%s/in%d.manifest.jsonl.zst", out1, i);
        snprintf(p8, sizeof p8, "%s/in%d.manifest.jsonl.zst", out8, i);
        check_output(p8, data[i], len[i], UINT64_MAX);
        size_t a, b;
        char *x = read_file(p1, &a), *y = read_file(p8, &b);
        CHECK(x && y && a == b && !memcmp(x, y, a));
        free(x);
        free(y);
        ts_input_result in;
        CHECK(ts_run_input(r8, (size_t)i, &in) == TS_OK);
        CHECK(in.status == TS_INPUT_OK && in.manifest_done && in.stats->docs == (uint64_t)(500 + 700 * i));
    }
    ts_run_free(r1);
    ts_run_free(r8);

    /* A failing shard among good ones: missing, cut zstd, corrupt zstd. */
    /* Two frames, cut inside the second: the first frame's lines survive. */
    const char *half = memchr(data[3] + len[3] / 2, '\n', len[3] / 2) + 1;
    size_t h = (size_t)(half - data[3]);
    size_t zcap = ZSTD_compressBound(len[3]) + 64;
    char *z = malloc(zcap);
    size_t z1 = ZSTD_compress(z, zcap, data[3], h, 3);
    size_t z2 = ZSTD_compress(z + z1, zcap - z1, data[3] + h, len[3] - h, 3);
    size_t zlen = z1 + z2;
    snprintf(names[NIN], sizeof names[NIN], "%s", write_file("cut.jsonl.zst", z, z1 + z2 / 2));
    z[z1 + z2 / 2] ^= 0x55;
    z[z1 + z2 / 2 + 1] ^= 0x55;
    snprintf(names[NIN + 1], sizeof names[NIN + 1], "%s", write_file("corrupt.jsonl.zst", z, zlen));
    snprintf(names[NIN + 2], sizeof names[NIN + 2], "%s/missing.jsonl", tmpdir);
    const char *mixed[5] = {paths[0], names[NIN], paths[1], names[NIN + 2], names[NIN + 1]};
    char outm[600];
    snprintf(outm, sizeof outm, "%s/outm", tmpdir);
    ts_run *rm;
    CHECK(run_with(lex, &step, 4, outm, mixed, 5, &rm, NULL) == TS_OK);
    int want_status[5] = {TS_INPUT_OK, TS_INPUT_FAILED, TS_INPUT_OK, TS_INPUT_FAILED, TS_INPUT_FAILED};
    for (size_t i = 0; i < 5; i++) {
        ts_input_result in;
        CHECK(ts_run_input(rm, i, &in) == TS_OK);
        CHECK(in.status == want_status[i]);
        if (in.status)
            CHECK(in.message && strstr(in.message, strrchr(mixed[i], '/') + 1));
    }
    char p[700];
    snprintf(p, sizeof p, "%s/in0.manifest.jsonl.zst", outm);
    check_output(p, data[0], len[0], UINT64_MAX);
    snprintf(p, sizeof p, "%s/in2.manifest.jsonl.zst", outm);
    check_output(p, data[1], len[1], UINT64_MAX);
    /* The cut shard: its manifest holds the lines before the fault, in order. */
    ts_input_result cut;
    ts_run_input(rm, 1, &cut);
    if (!(cut.stats->docs > 0 && cut.stats->docs < 500 + 700 * 3))
        fprintf(stderr, "cut: %llu lines: %s\n", (unsigned long long)cut.stats->docs, cut.message);
    CHECK(cut.stats->docs > 0 && cut.stats->docs < 500 + 700 * 3);
    snprintf(p, sizeof p, "%s/in1.manifest.jsonl.zst", outm);
    check_output(p, data[3], len[3], cut.stats->docs - cut.stats->errors[TS_DOC_TRUNCATED_INPUT]);
    snprintf(p, sizeof p, "%s/in3.manifest.jsonl.zst", outm);
    struct stat st;
    CHECK(stat(p, &st) != 0); /* the missing input has no manifest */
    ts_run_free(rm);

    /* Cancelled: an error, and no output or temporary left. */
    volatile int cancel = 1;
    char outc[600];
    snprintf(outc, sizeof outc, "%s/outc", tmpdir);
    ts_run *rc;
    CHECK(run_with(lex, &step, 2, outc, paths, NIN, &rc, &cancel) == TS_E_CANCELLED);
    ts_run_free(rc);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", outc);
    CHECK(system(cmd) == 0);

    /* The scan's own step: its summary parses back to the same bytes. */
    char outs[600];
    snprintf(outs, sizeof outs, "%s/outs", tmpdir);
    ts_run *rs;
    CHECK(run_with(lex, NULL, 3, outs, mixed, 5, &rs, NULL) == TS_OK);
    CHECK(ts_run_write_summary(rs, 1.5, NULL) == TS_OK);
    ts_run_free(rs);
    snprintf(p, sizeof p, "%s/summary.json", outs);
    size_t slen;
    char *text = read_file(p, &slen);
    ts_summary *sm;
    ts_diag d;
    CHECK(ts_summary_load(p, &sm, &d) == TS_OK);
    if (sm) {
        char *again;
        size_t alen;
        CHECK(ts_summary_dump(sm, &again, &alen) == TS_OK);
        CHECK(text && alen == slen && !memcmp(again, text, slen));
        free(again);
        ts_summary_counts t;
        ts_summary_totals(sm, &t);
        CHECK(t.shards == 5 && t.failed_shards == 3);
        /* listed by name, not in the order given: the shard of mixed[3] (it
         * cannot be read) is found by its input, without a manifest */
        CHECK(ts_summary_nshards(sm) == 5);
        int found = 0;
        for (size_t k = 0; k < ts_summary_nshards(sm); k++)
            if (!strcmp(ts_summary_shard_input(sm, k), mixed[3])) {
                found++;
                CHECK(ts_summary_shard_manifest(sm, k) == NULL);
            }
        CHECK(found == 1);
        ts_summary_free(sm);
    }
    free(text);

    free(z);
    for (int i = 0; i < NIN; i++)
        free(data[i]);
    ts_lexicon_free(lex);
    remove_tmpdir();
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    return failures != 0;
}
