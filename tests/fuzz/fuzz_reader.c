/*
 * fuzz_reader.c: libFuzzer target for the decompressing front end (reader.c).
 *
 * Input: byte 0 seeds the schedule of read sizes; the rest is the file, which
 * the reader sees through a memfd (opened by its /proc/self/fd path, so the
 * library is used exactly as the scan uses it, with no memory source needed).
 * The reader picks zstd, gzip or plain by the magic bytes of that file.
 *
 * Checks, beyond "does not crash":
 *   - the decompressed bytes and the final error are the same whatever the
 *     read sizes (one-byte reads, odd sizes, large reads): chunk boundaries
 *     depend only on the data, as reader.c promises;
 *   - every byte counted as returned was written (each run fills its buffer
 *     with a different byte first);
 *   - a read never returns more than asked, and fills the buffer unless the
 *     input ends: after a short read the next read returns nothing (or the
 *     error found after the bytes that came before it);
 *   - after an error or the end, reads keep returning nothing;
 *   - bytes_out equals the bytes returned, bytes_in never exceeds the file;
 *   - plain input comes back byte for byte, with no error;
 *   - an error carries a diag naming the file, with an offset inside it;
 *   - gzip: the result agrees with zlib (multi-member inflate) on every input
 *     zlib decodes completely (igzip is laxer about header flags: see below).
 * Output is capped at OUT_LIMIT per run so a decompression bomb costs time
 * bounded by the cap, not by the bomb.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zlib.h>

#include "tropescan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_LIMIT (1u << 20)

static int g_fd = -1;
static char g_path[64];

/* Puts the bytes in the memfd; @return its path. */
static const char *as_file(const uint8_t *data, size_t size)
{
    if (g_fd < 0) {
        g_fd = memfd_create("fuzz_reader", MFD_CLOEXEC);
        if (g_fd < 0)
            abort();
        snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
    }
    if (ftruncate(g_fd, 0) != 0)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(g_fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
    return g_path;
}

typedef struct result {
    uint8_t *out;
    size_t len;
    int err;          /* the error that ended the read, or TS_OK */
    int capped;       /* stopped at OUT_LIMIT */
    ts_format format;
} result;

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Read sizes: seed 0 reads in one large block; others mix tiny and large. */
static size_t next_cap(uint32_t *s, int seed)
{
    if (seed == 0)
        return OUT_LIMIT;
    uint32_t r = next_rand(s);
    switch (r & 7) {
    case 0: return 1;
    case 1: return 1 + (r >> 8) % 16;
    case 2: return 4096;
    case 3: return 65536 + 1;
    default: return 1 + (r >> 8) % (1u << 17);
    }
}

static void read_all(const char *path, size_t file_size, int seed, result *res)
{
    /* Allocated once: a fresh 1 MiB block per run costs more than the run. */
    static uint8_t *bufs[2];
    int which = seed != 0;
    memset(res, 0, sizeof *res);
    if (!bufs[which] && !(bufs[which] = malloc(OUT_LIMIT + (1u << 17))))
        abort();
    res->out = bufs[which];
    /* Different filler for each run: a byte counted in `got` but never
     * written would differ between the runs and be caught. */
    memset(res->out, seed == 0 ? 0xA5 : 0x5A, OUT_LIMIT + (1u << 17));
    ts_reader *r = NULL;
    ts_diag diag;
    if (ts_reader_open(path, &r, &diag) != TS_OK)
        abort(); /* a memfd always opens */
    res->format = ts_reader_format(r);
    uint32_t s = 0x9e3779b9u ^ (uint32_t)seed * 2654435761u;
    if (!s)
        s = 1;
    int short_read = 0;
    for (;;) {
        size_t cap = next_cap(&s, seed);
        size_t got = 12345;
        ts_diag_clear(&diag);
        int err = ts_reader_read(r, res->out + res->len, cap, &got, &diag);
        if (got > cap)
            abort();
        if (err) {
            if (got != 0)
                abort(); /* bytes before a fault come first, alone */
            if (!diag.file[0] || strcmp(diag.file, path) != 0)
                abort();
            if (diag.offset != UINT64_MAX && diag.offset > file_size)
                abort();
            if (err != TS_E_DECOMPRESS && err != TS_E_TRUNCATED && err != TS_E_IO)
                abort();
            res->err = err;
            break;
        }
        if (short_read && got != 0)
            abort(); /* a short read promised the end */
        res->len += got;
        if (got == 0)
            break;
        short_read = got < cap;
        if (res->len >= OUT_LIMIT) {
            res->capped = 1;
            break;
        }
    }
    if (!res->capped) {
        /* Over is over: no more bytes and no new error. */
        size_t got = 1;
        uint8_t tmp[16];
        if (ts_reader_read(r, tmp, sizeof tmp, &got, NULL) != TS_OK || got != 0)
            abort();
    }
    if (ts_reader_bytes_out(r) != res->len)
        abort();
    if (ts_reader_bytes_in(r) > file_size)
        abort();
    ts_reader_free(r);
}

/* zlib's answer for a gzip file: 1 if every member decoded, with the output
 * (up to cap) in out/len; 0 if zlib found the stream bad or cut; -1 if the
 * output passed cap (no verdict). */
static int zlib_gunzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    *len = 0;
    size_t pos = 0;
    int verdict = 1;
    while (pos < n) {
        if (n - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b)
            return 0; /* trailing garbage */
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
            abort();
        z.next_in = (Bytef *)(in + pos);
        z.avail_in = (uInt)(n - pos);
        int ret;
        do {
            z.next_out = out + *len;
            z.avail_out = (uInt)(cap - *len);
            ret = inflate(&z, Z_NO_FLUSH);
            *len = cap - z.avail_out;
            if (*len == cap && ret == Z_OK) {
                inflateEnd(&z);
                return -1;
            }
        } while (ret == Z_OK && z.avail_in > 0);
        size_t used = (n - pos) - z.avail_in;
        inflateEnd(&z);
        if (ret != Z_STREAM_END)
            return 0;
        pos += used;
    }
    return verdict;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int seed = data[0];
    const uint8_t *file = data + 1;
    size_t n = size - 1;
    const char *path = as_file(file, n);

    result a, b;
    read_all(path, n, 0, &a);
    read_all(path, n, seed ? seed : 1, &b);
    if (a.format != b.format)
        abort();
    size_t common = a.len < b.len ? a.len : b.len;
    if (memcmp(a.out, b.out, common) != 0)
        abort();
    if (!a.capped && !b.capped && (a.len != b.len || a.err != b.err))
        abort();

    if (a.format == TS_FORMAT_PLAIN && !a.capped) {
        if (a.err || a.len != n || memcmp(a.out, file, n) != 0)
            abort();
    }
    if (a.format == TS_FORMAT_GZIP && !a.capped) {
        static uint8_t *z;
        size_t zlen = 0;
        if (!z && !(z = malloc(OUT_LIMIT)))
            abort();
        int v = zlib_gunzip(file, n, z, OUT_LIMIT, &zlen);
        if (v == 1 && (a.err || a.len != zlen || memcmp(a.out, z, zlen) != 0))
            abort(); /* zlib decodes it all: so must we, to the same bytes */
        /* The converse does not hold: igzip ignores the reserved FLG bits of
         * a gzip header, which zlib (and RFC 1952) reject; the data and its
         * CRC are still checked, so nothing wrong is returned. */
    }
    return 0;
}
