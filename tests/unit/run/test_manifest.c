/*
 * test_manifest.c: the manifest reader (src/lib/manifest.c) on what scan
 * writes, and on cut and corrupt manifests: every line of a good one, with
 * its fields; a clear error, with the line and offset, on a bad one.
 */
#include <zstd.h>

#include "scanrun.h"

static int read_count(ts_manifest_reader *r, ts_diag *d, int *last)
{
    ts_manifest_line ml;
    int n = 0, k;
    while ((k = ts_manifest_next(r, &ml, d)) == 1)
        n++;
    *last = k;
    return n;
}

int main(void)
{
    make_tmpdir("manifest");
    ts_lexicon *lex = small_lexicon();
    const char *in = write_file("in.jsonl", doc_lines, strlen(doc_lines));
    char out[600], p[700];
    snprintf(out, sizeof out, "%s/out", tmpdir);
    CHECK(scan_into(lex, out, &in, 1, "m", -1) == TS_OK);
    snprintf(p, sizeof p, "%s/m0.manifest.jsonl.zst", out);

    /* A good manifest, line by line. */
    ts_manifest_reader *r;
    ts_diag d;
    CHECK(ts_manifest_open(p, &r, &d) == TS_OK);
    ts_manifest_line ml;
    static const int ok[6] = {1, 0, 1, 0, 1, 0};
    static const char *const err[6] = {NULL, "empty_line", NULL, "invalid_json", NULL, "text_not_string"};
    for (int i = 0; i < 6; i++) {
        CHECK(ts_manifest_next(r, &ml, &d) == 1);
        CHECK(ml.line == (uint64_t)i + 1 && ml.ok == ok[i]);
        CHECK(ml.action == TS_ACTION_KEEP && ml.weight == 1 && ml.score == -1);
        if (err[i])
            CHECK(ml.error && !strncmp(ml.error, err[i], strlen(err[i])));
        if (i == 0)
            CHECK(ml.has_id && !strcmp(ml.id, "a") && ml.len == 30 && ml.offset == 0 &&
                  !strncmp(ml.tropes, "{\"ai_entity\":1,\"shutdown_resistance\":1}", ml.tropes_len));
        if (i == 4)
            CHECK(ml.has_id && !strcmp(ml.id, "c\xc3\xa9"));
    }
    CHECK(ts_manifest_next(r, &ml, &d) == 0);
    ts_manifest_close(r);

    /* The same from memory, and cut: the lines before the cut, then an error. */
    size_t zlen;
    char *z = read_file(p, &zlen);
    CHECK(ts_manifest_open_memory(z, zlen, &r, &d) == TS_OK);
    int last, n = read_count(r, &d, &last);
    CHECK(n == 6 && last == 0);
    ts_manifest_close(r);
    CHECK(ts_manifest_open_memory(z, zlen - 3, &r, &d) == TS_OK);
    n = read_count(r, &d, &last);
    CHECK(last < 0 && d.line == (uint64_t)n + 1);
    ts_manifest_close(r);
    const char *cutp = write_file("cut.manifest.jsonl.zst", z, zlen - 3);
    CHECK(ts_manifest_open(cutp, &r, &d) == TS_OK);
    n = read_count(r, &d, &last);
    CHECK(last < 0 && d.line == (uint64_t)n + 1 && strstr(d.file, "cut.manifest"));
    ts_manifest_close(r);

    /* Plain JSONL that breaks the contract, each with the line at fault. */
    size_t plen;
    char *plain = malloc(zlen * 64 + 4096);
    {
        ZSTD_DCtx *dc = ZSTD_createDCtx();
        plen = ZSTD_decompressDCtx(dc, plain, zlen * 64 + 4096, z, zlen);
        ZSTD_freeDCtx(dc);
        CHECK(!ZSTD_isError(plen));
    }
    struct { const char *from, *to; } edits[] = {
        {"\"line\":2", "\"line\":3"},          /* a gap in the numbering */
        {"\"action\":\"keep\"", "\"action\":\"kept\""},
        {"\"fp\":\"", "\"fp\":\"x"},
        {"\"status\":\"error\"", "\"status\":\"bad\""},
        {",\"spans\":[]", ""},
        {"\"score\":null", "\"score\":2"},
        {"{\"line\":1,\"offset\":0,", "{\"offset\":0,\"line\":1,"}, /* keys out of order */
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        char *at = strstr(plain, edits[e].from);
        CHECK(at != NULL);
        if (!at)
            continue;
        size_t fl = strlen(edits[e].from), tl = strlen(edits[e].to);
        char *b = malloc(plen + tl + 1);
        size_t pre = (size_t)(at - plain);
        memcpy(b, plain, pre);
        memcpy(b + pre, edits[e].to, tl);
        memcpy(b + pre + tl, at + fl, plen - pre - fl);
        size_t blen = plen - fl + tl;
        uint64_t bad_line = 1;
        for (size_t i = 0; i < pre; i++)
            bad_line += plain[i] == '\n';
        CHECK(ts_manifest_open_memory(b, blen, &r, &d) == TS_OK);
        n = read_count(r, &d, &last);
        if (!(last == TS_E_FORMAT && d.line == bad_line && (uint64_t)n == bad_line - 1))
            fprintf(stderr, "edit %zu: last %d line %llu n %d (%s)\n", e, last, (unsigned long long)d.line, n,
                    d.message);
        CHECK(last == TS_E_FORMAT && d.line == bad_line && (uint64_t)n == bad_line - 1);
        CHECK(d.offset != UINT64_MAX && d.message[0]);
        ts_manifest_close(r);
        free(b);
    }
    free(plain);
    free(z);
    ts_lexicon_free(lex);
    remove_tmpdir();
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    return failures != 0;
}
