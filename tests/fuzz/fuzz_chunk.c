/*
 * fuzz_chunk.c: libFuzzer target for the line chunker (chunk.c) over the reader.
 *
 * Input: bytes 0-1 choose the chunk size (64..4159), bytes 2-3 the line limit
 * (1..4096); the rest is the file (plain, or zstd/gzip by its magic, as in a
 * scan). Small sizes put buffer boundaries everywhere: inside lines, right
 * before and after a newline, inside CRLF, in the middle of a long line.
 *
 * The reference is the reader's own output read in one go. Checks:
 *   - chunks come in sequence (seq 0, 1, ...); each starts at the line number
 *     and byte offset where the previous one ended;
 *   - a normal chunk's bytes are exactly the reference's at its offset, its
 *     nlines is its newlines plus one for a last line without one, and only
 *     the final chunk may end without a newline: so the concatenation of the
 *     chunks, with oversize lines put back, is the input, and every line is
 *     in exactly one chunk;
 *   - an oversize chunk holds no data, one line, longer than the limit, whose
 *     bytes in the reference contain no newline and end at a newline or at
 *     the end;
 *   - the reader's error (if any) arrives on the final chunk, with
 *     truncated_tail set exactly when that chunk's last line is cut;
 *   - after the last chunk, next() keeps returning 0;
 *   - the buffer stays bounded by the chunk size and the line limit, never by
 *     the input (memory is bounded whatever the input).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chunk.h"
#include "tropescan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REF_LIMIT (4u << 20)

static int g_fd = -1;
static char g_path[64];

static const char *as_file(const uint8_t *data, size_t size)
{
    if (g_fd < 0) {
        g_fd = memfd_create("fuzz_chunk", MFD_CLOEXEC);
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

/* The reader's whole output; @return 0, or -1 past REF_LIMIT (no verdict). */
static int reference(const char *path, uint8_t **out, size_t *len, int *err)
{
    ts_reader *r = NULL;
    if (ts_reader_open(path, &r, NULL) != TS_OK)
        abort();
    static uint8_t *buf; /* allocated once: a fresh 4 MiB block per run costs more than the run */
    if (!buf && !(buf = malloc(REF_LIMIT)))
        abort();
    *len = 0;
    *err = TS_OK;
    for (;;) {
        size_t got = 0;
        if (*len == REF_LIMIT) {
            ts_reader_free(r);
            return -1;
        }
        int e = ts_reader_read(r, buf + *len, REF_LIMIT - *len, &got, NULL);
        *len += got;
        if (e) {
            *err = e;
            break;
        }
        if (got == 0)
            break;
    }
    ts_reader_free(r);
    *out = buf;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t chunk_size = 64 + ((size_t)data[0] << 8 | data[1]) % 4096;
    size_t max_line = 1 + ((size_t)data[2] << 8 | data[3]) % 4096;
    const char *path = as_file(data + 4, size - 4);

    uint8_t *ref = NULL;
    size_t ref_len = 0;
    int ref_err = 0;
    if (reference(path, &ref, &ref_len, &ref_err) != 0)
        return 0; /* a bomb: the reader fuzzer covers it; the checks here need the whole output */

    ts_reader *r = NULL;
    if (ts_reader_open(path, &r, NULL) != TS_OK)
        abort();
    ts_chunker *ch = NULL;
    if (ts_chunker_create(r, chunk_size, max_line, &ch) != TS_OK)
        abort();
    /* The largest buffer the design allows: a chunk, or one line up to the
     * limit with the carry that precedes it, each at most doubled by growth. */
    size_t bound = 4 * ((chunk_size > max_line + 1 ? chunk_size : max_line + 1) + 4096);

    ts_chunk c;
    memset(&c, 0, sizeof c);
    uint64_t seq = 0, line = 1, offset = 0;
    int seen_final = 0, seen_err = 0;
    for (;;) {
        int k = ts_chunker_next(ch, &c);
        if (k < 0)
            abort(); /* out of memory on inputs this small is a bug */
        if (k == 0)
            break;
        if (seen_final)
            abort(); /* nothing after the final chunk */
        if (c.seq != seq || c.first_line != line || c.offset != offset)
            abort();
        if (c.cap > bound)
            abort();
        if (c.oversize_len) {
            if (c.len != 0 || c.nlines != 1 || c.oversize_len <= max_line)
                abort();
            if (offset + c.oversize_len > ref_len)
                abort();
            if (memchr(ref + offset, '\n', c.oversize_len))
                abort();
            offset += c.oversize_len;
            if (offset < ref_len) {
                if (ref[offset] != '\n')
                    abort();
                offset++;
            }
            line++;
        } else {
            if (offset + c.len > ref_len || memcmp(c.data, ref + offset, c.len) != 0)
                abort();
            uint64_t nl = 0;
            for (size_t i = 0; i < c.len; i++)
                nl += c.data[i] == '\n';
            int open_tail = c.len > 0 && c.data[c.len - 1] != '\n';
            if (c.nlines != nl + (uint64_t)open_tail)
                abort();
            if (open_tail && !c.final)
                abort(); /* a line cut between chunks */
            if (c.truncated_tail != (c.err != TS_OK && open_tail))
                abort();
            if (!c.final && c.len == 0)
                abort(); /* an empty chunk that is not the last: no progress */
            offset += c.len;
            line += c.nlines;
        }
        if (c.err) {
            if (!c.final || c.err != ref_err || !c.diag.file[0])
                abort();
            seen_err = 1;
        }
        seen_final = c.final;
        seq++;
    }
    /* Every byte and line is accounted for, and the error was passed on. */
    if (offset != ref_len)
        abort();
    if (ref_err && !seen_err)
        abort();
    if (ts_chunker_next(ch, &c) != 0 || ts_chunker_next(ch, &c) != 0)
        abort();
    ts_chunk_release(&c);
    ts_chunker_free(ch);
    return 0;
}
