/*
 * reader.c: the decompressing front end.
 *
 * A reader turns one input (a file or standard input) into its decompressed
 * bytes. The format comes from the magic bytes: zstd frames (any number,
 * skippable frames included, as libzstd's streaming decoder handles them),
 * gzip members (any number, decoded by ISA-L's igzip) or plain bytes.
 *
 * Errors never lose what came before them: bytes decoded before a fault are
 * returned first, and the fault is reported by the next call, with the
 * compressed offset at which it was found.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include "tropescan.h"

#define READ_BLOCK (256 * 1024)
#define STAGE_SIZE (256 * 1024)
#define KEEP_BEHIND 16

struct ts_reader {
    int fd;
    int close_fd;
    char path[512];
    ts_format format;

    unsigned char *in;      /* compressed input buffer */
    size_t in_pos, in_len;  /* unconsumed input is in[in_pos, in_len) */
    int in_eof;

    uint64_t bytes_in;      /* compressed bytes consumed by the decoder */
    uint64_t bytes_out;     /* decompressed bytes returned */

    ZSTD_DCtx *zstd;
    int zstd_mid_frame;     /* the last call ended inside a frame */

    struct inflate_state *gz;
    int gz_mid_member;
    unsigned char *stage;   /* decompressed bytes not yet handed out */
    size_t stage_pos, stage_len;
    int stage_err;          /* the fault found after the staged bytes */
    ts_diag stage_diag;
    int stage_eof;

    int pending;            /* an error found after bytes were returned */
    ts_diag pending_diag;
    int done;               /* an error was reported: nothing more to read */
};

static void set_diag(ts_reader *r, ts_diag *diag, uint64_t offset, const char *fmt, const char *detail)
{
    if (!diag)
        return;
    ts_diag_clear(diag);
    snprintf(diag->file, sizeof diag->file, "%s", r->path);
    diag->offset = offset;
    snprintf(diag->message, sizeof diag->message, fmt, detail);
}

/* Refills the input buffer, keeping unconsumed bytes. @return TS_OK or TS_E_IO. */
static int refill(ts_reader *r, ts_diag *diag)
{
    if (r->in_eof)
        return TS_OK;
    /* Keep a few consumed bytes: igzip may hand back up to 8 bytes it had
     * read ahead (into its bit buffer) when a member ends. */
    size_t keep = r->in_pos < KEEP_BEHIND ? r->in_pos : KEEP_BEHIND;
    if (r->in_pos > keep) {
        memmove(r->in, r->in + r->in_pos - keep, r->in_len - r->in_pos + keep);
        r->in_len -= r->in_pos - keep;
        r->in_pos = keep;
    }
    while (r->in_len < r->in_pos + READ_BLOCK) {
        ssize_t n = read(r->fd, r->in + r->in_len, r->in_pos + READ_BLOCK - r->in_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            set_diag(r, diag, r->bytes_in, "read failed: %s", strerror(errno));
            return TS_E_IO;
        }
        if (n == 0) {
            r->in_eof = 1;
            break;
        }
        r->in_len += (size_t)n;
        /* A pipe gives short reads; one read is enough to make progress. */
        break;
    }
    return TS_OK;
}

int ts_reader_open(const char *path, ts_reader **out, ts_diag *diag)
{
    *out = NULL;
    ts_reader *r = calloc(1, sizeof *r);
    if (!r)
        return TS_E_NOMEM;
    snprintf(r->path, sizeof r->path, "%s", strcmp(path, "-") == 0 ? "<stdin>" : path);
    r->in = malloc(READ_BLOCK + KEEP_BEHIND);
    if (!r->in) {
        free(r);
        return TS_E_NOMEM;
    }
    if (strcmp(path, "-") == 0) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            set_diag(r, diag, UINT64_MAX, "cannot open: %s", strerror(errno));
            ts_reader_free(r);
            return TS_E_IO;
        }
        r->close_fd = 1;
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }

    /* Read until we have 4 bytes of magic or the input ends. */
    while (r->in_len < 4 && !r->in_eof) {
        int err = refill(r, diag);
        if (err) {
            ts_reader_free(r);
            return err;
        }
    }
    static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (r->in_len >= 4 && memcmp(r->in, zstd_magic, 4) == 0) {
        r->format = TS_FORMAT_ZSTD;
    } else if (r->in_len >= 4 && (r->in[0] & 0xf0) == 0x50 && r->in[1] == 0x2a && r->in[2] == 0x4d &&
               r->in[3] == 0x18) {
        r->format = TS_FORMAT_ZSTD; /* starts with a skippable frame */
    } else if (r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
        r->format = TS_FORMAT_GZIP;
    } else {
        r->format = TS_FORMAT_PLAIN;
    }

    if (r->format == TS_FORMAT_ZSTD) {
        r->zstd = ZSTD_createDCtx();
        r->stage = malloc(STAGE_SIZE);
        if (!r->zstd || !r->stage) {
            ts_reader_free(r);
            return TS_E_NOMEM;
        }
        /* Bound the window a frame may ask for (a decompression bomb cannot
         * make us allocate more than this): 128 MiB covers zstd --long=27. */
        ZSTD_DCtx_setParameter(r->zstd, ZSTD_d_windowLogMax, 27);
    } else if (r->format == TS_FORMAT_GZIP) {
        r->gz = calloc(1, sizeof *r->gz);
        r->stage = malloc(STAGE_SIZE);
        if (!r->gz || !r->stage) {
            ts_reader_free(r);
            return TS_E_NOMEM;
        }
        isal_inflate_init(r->gz);
        r->gz->crc_flag = ISAL_GZIP;
    }
    *out = r;
    return TS_OK;
}

static int read_plain(ts_reader *r, unsigned char *buf, size_t cap, size_t *got, ts_diag *diag)
{
    size_t n = 0;
    while (n < cap) {
        if (r->in_pos < r->in_len) {
            size_t take = r->in_len - r->in_pos;
            if (take > cap - n)
                take = cap - n;
            memcpy(buf + n, r->in + r->in_pos, take);
            r->in_pos += take;
            r->bytes_in += take;
            n += take;
            continue;
        }
        if (r->in_eof)
            break;
        /* Large reads go straight into the caller's buffer. */
        if (cap - n >= READ_BLOCK) {
            ssize_t k = read(r->fd, buf + n, cap - n);
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                *got = n;
                set_diag(r, diag, r->bytes_in, "read failed: %s", strerror(errno));
                return TS_E_IO;
            }
            if (k == 0) {
                r->in_eof = 1;
                break;
            }
            n += (size_t)k;
            r->bytes_in += (uint64_t)k;
            continue;
        }
        r->in_pos = r->in_len = 0;
        int err = refill(r, diag);
        if (err) {
            *got = n;
            return err;
        }
    }
    *got = n;
    return TS_OK;
}

/* Decodes the next piece of zstd into the staging buffer (see gzip_stage for
 * why a fixed-size stage: libzstd, too, decodes a block straight into a large
 * output but through its own buffer into a small one). */
static int zstd_stage(ts_reader *r, ts_diag *diag)
{
    r->stage_pos = r->stage_len = 0;
    ZSTD_outBuffer out = {r->stage, STAGE_SIZE, 0};
    int err = TS_OK;
    while (out.pos < out.size) {
        if (r->in_pos == r->in_len && !r->in_eof) {
            err = refill(r, diag);
            if (err)
                break;
        }
        /* With empty input the call still flushes what the decoder holds. */
        ZSTD_inBuffer in = {r->in + r->in_pos, r->in_len - r->in_pos, 0};
        size_t before = out.pos;
        size_t ret = ZSTD_decompressStream(r->zstd, &out, &in);
        r->in_pos += in.pos;
        r->bytes_in += in.pos;
        if (ZSTD_isError(ret)) {
            set_diag(r, diag, r->bytes_in, "corrupt zstd data: %s", ZSTD_getErrorName(ret));
            err = TS_E_DECOMPRESS;
            break;
        }
        if (in.pos == 0 && out.pos == before) {
            if (r->in_pos == r->in_len && r->in_eof)
                break; /* the input is over and the decoder has nothing left */
            continue;
        }
        /* 0 means a frame just ended; anything else, that one is under way. */
        r->zstd_mid_frame = ret != 0;
    }
    r->stage_len = out.pos;
    if (!err && out.pos < out.size && r->zstd_mid_frame) {
        set_diag(r, diag, r->bytes_in, "%s", "truncated zstd stream: the input ends inside a frame");
        err = TS_E_TRUNCATED;
    }
    return err;
}

static const char *isal_error_text(int ret)
{
    switch (ret) {
    case ISAL_INVALID_BLOCK: return "invalid deflate block";
    case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK: return "invalid lookback distance";
    case ISAL_INVALID_WRAPPER: return "invalid gzip header or trailer";
    case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM: return "CRC mismatch";
    case ISAL_NEED_DICT: return "needs a preset dictionary";
    default: return "unknown igzip error";
    }
}

/* Inflates the next piece into the staging buffer. ISA-L decodes through an
 * internal buffer when the output space is small, so what it yields before a
 * fault depends on the output size: a fixed-size stage makes the result the
 * same for any size the caller reads with. */
static int gzip_stage(ts_reader *r, ts_diag *diag)
{
    struct inflate_state *st = r->gz;
    r->stage_pos = r->stage_len = 0;
    for (;;) {
        if (r->in_pos == r->in_len) {
            if (r->in_eof)
                break;
            int err = refill(r, diag);
            if (err)
                return err;
            continue;
        }
        if (!r->gz_mid_member) {
            /* A new member must start with the gzip magic. */
            if (r->in_len - r->in_pos < 2 && !r->in_eof) {
                int err = refill(r, diag);
                if (err)
                    return err;
                continue;
            }
            if (r->in_len - r->in_pos < 2 || r->in[r->in_pos] != 0x1f || r->in[r->in_pos + 1] != 0x8b) {
                set_diag(r, diag, r->bytes_in, "%s", "trailing data after the last gzip member");
                return TS_E_DECOMPRESS;
            }
            isal_inflate_reset(st);
            st->crc_flag = ISAL_GZIP;
            r->gz_mid_member = 1;
        }
        size_t avail = r->in_len - r->in_pos;
        size_t room = STAGE_SIZE - r->stage_len;
        st->next_in = r->in + r->in_pos;
        st->avail_in = (uint32_t)avail;
        st->next_out = r->stage + r->stage_len;
        st->avail_out = (uint32_t)room;
        int ret = isal_inflate(st);
        /* Measured by the pointer: at the end of a member igzip may step
         * next_in back over bytes it had read ahead, even from earlier calls. */
        ptrdiff_t used = st->next_in - (r->in + r->in_pos);
        size_t made = room - st->avail_out;
        if (used < -(ptrdiff_t)r->in_pos) {
            set_diag(r, diag, r->bytes_in, "%s", "corrupt gzip data: the decoder stepped back too far");
            return TS_E_DECOMPRESS;
        }
        r->in_pos = (size_t)((ptrdiff_t)r->in_pos + used);
        r->bytes_in = (uint64_t)((int64_t)r->bytes_in + used);
        r->stage_len += made;
        if (ret < 0) {
            set_diag(r, diag, r->bytes_in, "corrupt gzip data: %s", isal_error_text(ret));
            return TS_E_DECOMPRESS;
        }
        if (st->block_state == ISAL_BLOCK_FINISH)
            r->gz_mid_member = 0;
        if (r->stage_len == STAGE_SIZE)
            return TS_OK;
        if (used <= 0 && made == 0 && r->in_eof && r->in_pos == r->in_len)
            break;
    }
    if (r->gz_mid_member) {
        set_diag(r, diag, r->bytes_in, "%s", "truncated gzip stream: the input ends inside a member");
        return TS_E_TRUNCATED;
    }
    return TS_OK;
}

/* Hands out staged bytes, staging more as needed; a fault is reported only
 * after every byte decoded before it. */
static int read_staged(ts_reader *r, unsigned char *buf, size_t cap, size_t *got, ts_diag *diag)
{
    size_t n = 0;
    while (n < cap) {
        if (r->stage_pos < r->stage_len) {
            size_t take = r->stage_len - r->stage_pos;
            if (take > cap - n)
                take = cap - n;
            memcpy(buf + n, r->stage + r->stage_pos, take);
            r->stage_pos += take;
            n += take;
            continue;
        }
        if (r->stage_err) {
            /* Everything before the fault has been handed out. */
            *got = n;
            if (diag)
                *diag = r->stage_diag;
            return r->stage_err;
        }
        if (r->stage_eof)
            break;
        ts_diag_clear(&r->stage_diag);
        r->stage_err = r->format == TS_FORMAT_ZSTD ? zstd_stage(r, &r->stage_diag) : gzip_stage(r, &r->stage_diag);
        if (!r->stage_err && r->stage_len == 0)
            r->stage_eof = 1;
    }
    *got = n;
    return TS_OK;
}

int ts_reader_read(ts_reader *r, void *buf, size_t cap, size_t *got, ts_diag *diag)
{
    *got = 0;
    if (r->pending) {
        int err = r->pending;
        r->pending = 0;
        r->done = 1;
        if (diag)
            *diag = r->pending_diag;
        return err;
    }
    if (r->done || cap == 0)
        return TS_OK;
    ts_diag local;
    int err;
    switch (r->format) {
    case TS_FORMAT_ZSTD:
    case TS_FORMAT_GZIP: err = read_staged(r, buf, cap, got, &local); break;
    default: err = read_plain(r, buf, cap, got, &local); break;
    }
    r->bytes_out += *got;
    if (err) {
        if (*got > 0) {
            /* Hand out what came before the fault; report it next time. */
            r->pending = err;
            r->pending_diag = local;
            return TS_OK;
        }
        r->done = 1;
        if (diag)
            *diag = local;
    }
    return err;
}

ts_format ts_reader_format(const ts_reader *r) { return r->format; }
uint64_t ts_reader_bytes_in(const ts_reader *r) { return r->bytes_in; }
uint64_t ts_reader_bytes_out(const ts_reader *r) { return r->bytes_out; }

void ts_reader_free(ts_reader *r)
{
    if (!r)
        return;
    if (r->close_fd)
        close(r->fd);
    ZSTD_freeDCtx(r->zstd);
    free(r->gz);
    free(r->stage);
    free(r->in);
    free(r);
}
