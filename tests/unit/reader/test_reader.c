/*
 * test_reader.c: the decompressing reader and the line chunker.
 *
 * The same data, stored plain, as several zstd frames (with a skippable frame)
 * and as several gzip members, must give the same bytes; cut into chunks of
 * any size it must give the same lines with the same numbers and offsets; a
 * cut or corrupt stream must give the bytes before the fault and then an
 * error naming the offset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "chunk.h"
#include "tropescan.h"

static int failures;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static char tmpdir[] = "/tmp/ts-reader-XXXXXX";

static const char *write_file(const char *name, const void *data, size_t len)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        perror(p);
        exit(1);
    }
    fclose(f);
    return p;
}

/* Deterministic JSONL-ish text with lines of varied length, some empty. */
static char *make_text(size_t lines, size_t *len)
{
    size_t cap = lines * 400 + 16, n = 0;
    char *s = malloc(cap);
    unsigned x = 12345;
    for (size_t i = 0; i < lines; i++) {
        x = x * 1103515245u + 12345u;
        size_t w = (x >> 8) % 300;
        if (i % 97 == 5)
            w = 0;
        n += (size_t)sprintf(s + n, "{\"i\":%zu,\"t\":\"", i);
        for (size_t j = 0; j < w; j++)
            s[n++] = (char)('a' + (j * 7 + i) % 26);
        n += (size_t)sprintf(s + n, "\"}\n");
    }
    *len = n;
    return s;
}

static void *zstd_frames(const char *src, size_t len, int frames, size_t *out_len)
{
    size_t cap = ZSTD_compressBound(len) + (size_t)frames * 64 + 64, n = 0;
    unsigned char *out = malloc(cap);
    /* A skippable frame first: readers must pass over it. */
    static const unsigned char skip[] = {0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'n', 'o', 'p', 'e'};
    memcpy(out, skip, sizeof skip);
    n += sizeof skip;
    size_t step = len / (size_t)frames + 1;
    for (size_t off = 0; off < len; off += step) {
        size_t piece = len - off < step ? len - off : step;
        size_t k = ZSTD_compress(out + n, cap - n, src + off, piece, 3);
        if (ZSTD_isError(k))
            exit(1);
        n += k;
    }
    *out_len = n;
    return out;
}

static void *gzip_members(const char *src, size_t len, int members, size_t *out_len)
{
    size_t cap = len + (size_t)members * 128 + 1024, n = 0;
    unsigned char *out = malloc(cap);
    size_t step = len / (size_t)members + 1;
    for (size_t off = 0; off < len; off += step) {
        size_t piece = len - off < step ? len - off : step;
        z_stream z = {0};
        deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
        z.next_in = (unsigned char *)src + off;
        z.avail_in = (unsigned)piece;
        z.next_out = out + n;
        z.avail_out = (unsigned)(cap - n);
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
            exit(1);
        n += z.total_out;
        deflateEnd(&z);
    }
    *out_len = n;
    return out;
}

/* Reads a whole file through the reader with reads of `step` bytes. */
static char *read_all(const char *path, size_t step, size_t *len, int *err, ts_diag *diag, ts_format *fmt)
{
    ts_reader *r = NULL;
    *err = ts_reader_open(path, &r, diag);
    if (*err)
        return NULL;
    *fmt = ts_reader_format(r);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int short_read = 0;
    for (;;) {
        if (cap - n < step) {
            cap = cap * 2 + step;
            buf = realloc(buf, cap);
        }
        size_t got = 0;
        *err = ts_reader_read(r, buf + n, step, &got, diag);
        n += got;
        if (*err || got == 0)
            break;
        /* The reader fills the buffer unless the input ends: only the last read is short. */
        CHECK(!short_read);
        short_read = got < step;
    }
    CHECK(ts_reader_bytes_out(r) == n);
    ts_reader_free(r);
    *len = n;
    return buf;
}

static void test_formats(const char *text, size_t len)
{
    size_t zl, gl;
    void *z = zstd_frames(text, len, 7, &zl);
    void *g = gzip_members(text, len, 5, &gl);
    const char *paths[3] = {write_file("plain.jsonl", text, len), write_file("f.zst", z, zl),
                            write_file("f.gz", g, gl)};
    const ts_format want[3] = {TS_FORMAT_PLAIN, TS_FORMAT_ZSTD, TS_FORMAT_GZIP};
    const size_t steps[] = {1, 7, 4096, 65536, 1 << 20};
    for (int i = 0; i < 3; i++) {
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            if (steps[s] == 1 && i == 0)
                continue; /* byte-at-a-time on plain: slow and no different */
            size_t n;
            int err;
            ts_diag d;
            ts_format f;
            char *out = read_all(paths[i], steps[s], &n, &err, &d, &f);
            CHECK(err == TS_OK);
            CHECK(f == want[i]);
            CHECK(n == len && memcmp(out, text, len) == 0);
            free(out);
        }
    }
    /* Truncated and corrupt streams: the bytes before the fault, then an error with an offset. */
    for (int i = 1; i < 3; i++) {
        size_t clen = i == 1 ? zl : gl;
        const unsigned char *c = i == 1 ? z : g;
        const char *p = write_file(i == 1 ? "t.zst" : "t.gz", c, clen / 2);
        size_t n;
        int err;
        ts_diag d;
        ts_format f;
        char *out = read_all(p, 4096, &n, &err, &d, &f);
        CHECK(err == TS_E_TRUNCATED || err == TS_E_DECOMPRESS);
        CHECK(d.offset != UINT64_MAX && d.offset <= clen / 2);
        CHECK(strstr(d.file, i == 1 ? "t.zst" : "t.gz") != NULL);
        CHECK(n > 0 && n < len && memcmp(out, text, n) == 0);
        free(out);

        unsigned char *bad = malloc(clen);
        memcpy(bad, c, clen);
        memset(bad + clen / 2, 0x5a, 32);
        p = write_file(i == 1 ? "c.zst" : "c.gz", bad, clen);
        out = read_all(p, 65536, &n, &err, &d, &f);
        CHECK(err == TS_E_DECOMPRESS || err == TS_E_TRUNCATED);
        CHECK(d.message[0] != '\0');
        free(out);
        free(bad);
    }
    /* An empty file and a one-byte file are plain. */
    {
        size_t n;
        int err;
        ts_diag d;
        ts_format f;
        char *out = read_all(write_file("empty", "", 0), 100, &n, &err, &d, &f);
        CHECK(err == TS_OK && n == 0 && f == TS_FORMAT_PLAIN);
        free(out);
        out = read_all(write_file("one", "\x28", 1), 100, &n, &err, &d, &f);
        CHECK(err == TS_OK && n == 1 && f == TS_FORMAT_PLAIN);
        free(out);
    }
    /* A missing file: an error naming it. */
    {
        ts_reader *r = NULL;
        ts_diag d;
        int err = ts_reader_open("/nonexistent/x.jsonl", &r, &d);
        CHECK(err == TS_E_IO && r == NULL && strstr(d.file, "x.jsonl"));
    }
    free(z);
    free(g);
}

/* Chunks of any size, and of at most any number of lines, give the same
 * lines, numbers and offsets. */
static void test_chunker(const char *text, size_t len)
{
    const char *path = write_file("chunk.jsonl", text, len);
    const size_t sizes[] = {64, 100, 333, 4096, 1 << 20};
    const uint64_t caps[] = {0, 1, 7, 1000};
    for (size_t t = 0; t < 4 * sizeof sizes / sizeof sizes[0]; t++) {
        size_t s = t % (sizeof sizes / sizeof sizes[0]);
        uint64_t cap = caps[t / (sizeof sizes / sizeof sizes[0])];
        ts_reader *r = NULL;
        ts_chunker *ch = NULL;
        CHECK(ts_reader_open(path, &r, NULL) == TS_OK);
        CHECK(ts_chunker_create(r, sizes[s], 1 << 20, &ch) == TS_OK);
        ts_chunker_set_max_lines(ch, cap);
        ts_chunk c = {0};
        uint64_t line = 1, offset = 0, seq = 0;
        int k;
        while ((k = ts_chunker_next(ch, &c)) == 1) {
            CHECK(c.seq == seq++);
            CHECK(c.first_line == line);
            CHECK(c.offset == offset);
            CHECK(c.oversize_len == 0 && c.err == TS_OK);
            CHECK(offset + c.len <= len && memcmp(text + offset, c.data, c.len) == 0);
            CHECK(c.len == 0 || c.data[c.len - 1] == '\n' || c.final);
            CHECK(cap == 0 || c.nlines <= cap);
            line += c.nlines;
            offset += c.len;
            if (c.final)
                break;
        }
        CHECK(k >= 0);
        CHECK(offset == len);
        ts_chunk_release(&c);
        ts_chunker_free(ch);
    }
}

typedef struct sink_log {
    int begins, ends;
    uint64_t first_line, offset;
    size_t bytes, bad;
} sink_log;

static int sink_begin(void *ud, const ts_chunk *c)
{
    sink_log *l = ud;
    l->begins++;
    l->first_line = c->first_line;
    l->offset = c->offset;
    return 1;
}

static void sink_bytes(void *ud, const char *p, size_t n)
{
    sink_log *l = ud;
    for (size_t i = 0; i < n; i++)
        l->bad += p[i] != 'x';
    l->bytes += n;
}

static void sink_end(void *ud) { ((sink_log *)ud)->ends++; }

/* A line over the limit becomes one oversize chunk and memory stays bounded;
 * a sink sees exactly its bytes go by. */
static void test_oversize(void)
{
    size_t big = 300000;
    size_t len = big + 200;
    char *s = malloc(len);
    size_t n = (size_t)sprintf(s, "{\"a\":1}\n");
    memset(s + n, 'x', big);
    n += big;
    s[n++] = '\n';
    n += (size_t)sprintf(s + n, "{\"b\":2}\n{\"c\":3}"); /* no final newline */
    const char *path = write_file("big.jsonl", s, n);
    ts_reader *r = NULL;
    ts_chunker *ch = NULL;
    CHECK(ts_reader_open(path, &r, NULL) == TS_OK);
    CHECK(ts_chunker_create(r, 4096, 10000, &ch) == TS_OK);
    sink_log log = {0};
    ts_long_line_sink sink = {&log, sink_begin, sink_bytes, sink_end};
    ts_chunker_set_long_line_sink(ch, &sink);
    ts_chunk c = {0};
    int saw_oversize = 0;
    uint64_t lines = 0;
    size_t maxcap = 0;
    while (ts_chunker_next(ch, &c) == 1) {
        if (c.cap > maxcap)
            maxcap = c.cap;
        if (c.oversize_len) {
            saw_oversize = 1;
            CHECK(c.oversize_len == big);
            CHECK(c.first_line == 2);
            CHECK(c.offset == 8);
        }
        lines += c.nlines;
        if (c.final)
            break;
    }
    CHECK(saw_oversize);
    CHECK(lines == 4);
    CHECK(maxcap <= 16384); /* never grew to hold the big line */
    CHECK(log.begins == 1 && log.ends == 1 && log.bytes == big && log.bad == 0);
    CHECK(log.first_line == 2 && log.offset == 8);
    ts_chunk_release(&c);
    ts_chunker_free(ch);
    free(s);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    size_t len;
    char *text = make_text(20000, &len);
    test_formats(text, len);
    test_chunker(text, len);
    test_oversize();
    free(text);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("reader and chunker: all checks passed\n");
    return 0;
}
