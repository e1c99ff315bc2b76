/*
 * test_docs.c: the document iterator (src/lib/docs.c). A table of lines with
 * their known kinds, read whole, in chunks of many sizes, gzip-compressed and
 * gzip-cut: the same documents, kinds, line numbers and offsets every time;
 * the last line of a cut input is truncated_input and the fault follows it.
 */
#include <zlib.h>

#include "check.h"
#include "tropescan.h"

typedef struct row {
    const char *line;
    int kind;
    const char *text;   /* decoded, for ok lines */
    const char *id;
} row;

static const row rows[] = {
    {"{\"id\":\"a\",\"text\":\"hello\"}", TS_DOC_OK, "hello", "a"},
    {"", TS_DOC_EMPTY_LINE, NULL, NULL},
    {"   \t\r", TS_DOC_EMPTY_LINE, NULL, NULL},
    {"{\"id\":7,\"text\":\"caf\\u00e9 \\\"q\\\"\"}", TS_DOC_OK, "caf\xc3\xa9 \"q\"", "7"},
    {"not json", TS_DOC_INVALID_JSON, NULL, NULL},
    {"{\"id\":\"m\"}", TS_DOC_MISSING_TEXT, NULL, "m"},
    {"{\"text\":5}", TS_DOC_TEXT_NOT_STRING, NULL, NULL},
    {"{\"text\":\"a\\ud800\"}", TS_DOC_INVALID_TEXT, NULL, NULL},
    {"@LONG", TS_DOC_TOO_LONG, NULL, NULL},
    {"{\"text\":\"crlf\"}\r", TS_DOC_OK, "crlf", NULL},
    {"{\"text\":\"last\",\"id\":\"z\"}", TS_DOC_OK, "last", "z"},
};
#define NROWS (sizeof rows / sizeof rows[0])
#define MAX_DOC 1024

static char *build(size_t *len, int final_newline)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t i = 0; i < NROWS; i++) {
        if (!strcmp(rows[i].line, "@LONG")) {
            n += (size_t)sprintf(b + n, "{\"text\":\"");
            memset(b + n, 'x', 3000);
            n += 3000;
            n += (size_t)sprintf(b + n, "\"}");
        } else {
            n += (size_t)sprintf(b + n, "%s", rows[i].line);
        }
        if (i + 1 < NROWS || final_newline)
            b[n++] = '\n';
    }
    b[n] = '\0';
    *len = n;
    return b;
}

static void *gz(const char *data, size_t len, size_t *out_len)
{
    uLongf cap = compressBound(len) + 64;
    unsigned char *out = malloc(cap);
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

/* Reads path with chunk_size; checks every row; @return the final code. */
static int read_all(const char *path, size_t chunk_size, int cut, const char *data)
{
    ts_docs_settings s;
    ts_docs_settings_default(&s);
    s.max_doc_bytes = MAX_DOC;
    s.chunk_size = chunk_size;
    ts_docs *d;
    ts_diag diag;
    int err = ts_docs_open(path, &s, &d, &diag);
    CHECK(err == TS_OK);
    if (err)
        return err;
    ts_doc doc;
    int k;
    size_t i = 0;
    uint64_t offset = 0;
    while ((k = ts_docs_next(d, &doc, &diag)) == 1) {
        CHECK(i < NROWS);
        if (i >= NROWS)
            break;
        int want = cut && i == NROWS - 1 ? TS_DOC_TRUNCATED_INPUT : rows[i].kind;
        if (doc.error != want)
            fprintf(stderr, "chunk %zu row %zu: kind %s, want %s\n", chunk_size, i, ts_doc_error_name(doc.error),
                    ts_doc_error_name(want));
        CHECK(doc.error == want);
        CHECK(doc.line == i + 1);
        CHECK(doc.offset == offset);
        if (want == TS_DOC_OK) {
            CHECK(doc.len == strlen(rows[i].text) && !memcmp(doc.text, rows[i].text, doc.len));
            char id[64];
            if (rows[i].id)
                CHECK(ts_field_string(&doc.id, id, sizeof id) == 0 && !strcmp(id, rows[i].id));
            else
                CHECK(doc.id.kind == TS_FIELD_MISSING);
        }
        if (want == TS_DOC_INVALID_JSON || want == TS_DOC_TOO_LONG || want == TS_DOC_INVALID_TEXT)
            CHECK(doc.detail && doc.detail[0]);
        const char *nl = strchr(data + offset, '\n');
        offset = nl ? (uint64_t)(nl - data) + 1 : offset;
        i++;
    }
    CHECK(i == NROWS);
    if (cut) {
        CHECK(k < 0);
        CHECK(diag.file[0] != '\0');
        CHECK(ts_docs_next(d, &doc, &diag) == 0); /* the fault is reported once */
    } else {
        CHECK(k == 0);
    }
    ts_docs_free(d);
    return k;
}

int main(void)
{
    make_tmpdir("docs");
    size_t len;
    char *data = build(&len, 0);
    const char *plain = write_file("plain.jsonl", data, len);
    size_t glen;
    unsigned char *g = gz(data, len, &glen);
    const char *gzp = write_file("data.jsonl.gz", g, glen);
    /* Cut inside the trailer: every byte decodes, the check is missing. */
    const char *cutp = write_file("cut.jsonl.gz", g, glen - 4);
    static const size_t chunks[] = {64, 65, 100, 257, 1000, 4096, 1 << 20};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        CHECK(read_all(plain, chunks[c], 0, data) == 0);
        CHECK(read_all(gzp, chunks[c], 0, data) == 0);
        CHECK(read_all(cutp, chunks[c], 1, data) < 0);
    }

    /* peek and slurp: the first byte that is not white space; the rest whole. */
    ts_docs_settings s;
    ts_docs_settings_default(&s);
    ts_docs *d;
    const char *txt = write_file("plain.txt", "  \n Hello, plain text.\nSecond line.", 35);
    CHECK(ts_docs_open(txt, &s, &d, NULL) == TS_OK);
    CHECK(ts_docs_peek(d, NULL) == 'H');
    char *buf;
    size_t blen;
    CHECK(ts_docs_slurp(d, &buf, &blen, NULL) == TS_OK);
    CHECK(blen == 35 && !memcmp(buf, "  \n Hello, plain text.\nSecond line.", 35));
    free(buf);
    ts_docs_free(d);
    s.max_plain_bytes = 10;
    CHECK(ts_docs_open(txt, &s, &d, NULL) == TS_OK);
    CHECK(ts_docs_slurp(d, &buf, &blen, NULL) == TS_E_LIMIT);
    ts_docs_free(d);

    /* A bad field path is refused; a missing file names itself. */
    s.text_field = "a..b";
    CHECK(ts_docs_open(plain, &s, &d, NULL) == TS_E_INVALID);
    ts_docs_settings_default(&s);
    ts_diag diag;
    CHECK(ts_docs_open("/nonexistent/x.jsonl", &s, &d, &diag) == TS_E_IO);
    CHECK(strstr(diag.file, "x.jsonl") != NULL);

    free(g);
    free(data);
    remove_tmpdir();
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    return failures != 0;
}
