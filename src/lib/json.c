/*
 * json.c: the validating JSON field extractor (see json.h for the contract).
 *
 * One forward pass, no tree, no allocation, no recursion: nesting is an
 * explicit stack of at most JSON_MAX_DEPTH levels. Each level carries a bit
 * mask of the wanted paths whose keys so far lead into it, so matching a key
 * costs a compare per still-possible path and nothing once no path can match.
 *
 * Speed comes from the string scan: documents are mostly one long string, so
 * string bodies are skipped 16 bytes at a time (SSE2, or 8 with SWAR words)
 * looking only for '"', '\\', control bytes and bytes >= 0x80; UTF-8 is
 * validated strictly (no overlongs, no surrogates, nothing above U+10FFFF) only
 * where non-ASCII bytes occur.
 */
#include "json.h"

#include <string.h>

#if defined(__SSE2__) && !defined(TS_JSON_NO_SIMD)
#include <emmintrin.h>
#define JSON_SSE2 1
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !defined(TS_JSON_NO_SWAR)
#define JSON_SWAR 1
#endif

/* Paths are tracked in one 64-bit mask; paths beyond the 64th stay missing. */

int json_path_parse(const char *dotted, json_path *out)
{
    if (!dotted || !out)
        return -1;
    out->depth = 0;
    const char *s = dotted;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0 || out->depth == JSON_PATH_MAX)
            return -1;
        out->key[out->depth] = s;
        out->len[out->depth] = n;
        out->depth++;
        if (!dot)
            return 0;
        s = dot + 1;
    }
}

const char *json_error_name(int err)
{
    switch (err) {
    case JSON_OK: return "ok";
    case JSON_E_SYNTAX: return "syntax";
    case JSON_E_UNTERMINATED: return "unterminated";
    case JSON_E_CONTROL: return "control_char";
    case JSON_E_ESCAPE: return "bad_escape";
    case JSON_E_UTF8: return "invalid_utf8";
    case JSON_E_DEPTH: return "too_deep";
    case JSON_E_NOT_OBJECT: return "not_object";
    case JSON_E_TRAILING: return "trailing_garbage";
    case JSON_E_SURROGATE: return "lone_surrogate";
    case JSON_E_NUMBER: return "bad_number";
    case JSON_E_EMPTY: return "empty";
    default: return "unknown";
    }
}

/* ---------------------------------------------------------------- helpers */

static inline int is_ws(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

static inline int is_digit(uint8_t c)
{
    return (unsigned)(c - '0') < 10;
}

/* Hex digit values; -1 for bytes that are not hex digits. */
static const int8_t hex_value[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* @return the four hex digits at p as a number, or -1. */
static inline long hex4(const uint8_t *p)
{
    int a = hex_value[p[0]], b = hex_value[p[1]], c = hex_value[p[2]], d = hex_value[p[3]];
    if ((a | b | c | d) < 0)
        return -1;
    return (long)((a << 12) | (b << 8) | (c << 4) | d);
}

/* 1 for the bytes that may follow a backslash, other than 'u'. */
static const uint8_t simple_escape[256] = {
    ['"'] = 1, ['\\'] = 1, ['/'] = 1, ['b'] = 1, ['f'] = 1, ['n'] = 1, ['r'] = 1, ['t'] = 1,
};

/* Length of the strictly valid UTF-8 sequence at p (p[0] >= 0x80), or 0. */
static inline size_t utf8_len(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    size_t avail = (size_t)(end - p);
    if (c < 0xC2)
        return 0; /* stray continuation byte or overlong 2-byte lead */
    if (c < 0xE0) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }
    if (c < 0xF0) {
        uint8_t lo = c == 0xE0 ? 0xA0 : 0x80; /* E0: no overlongs */
        uint8_t hi = c == 0xED ? 0x9F : 0xBF; /* ED: no surrogates */
        if (avail < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        uint8_t lo = c == 0xF0 ? 0x90 : 0x80; /* F0: no overlongs */
        uint8_t hi = c == 0xF4 ? 0x8F : 0xBF; /* F4: nothing above U+10FFFF */
        if (avail < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* 1 for the bytes that stop the string scan. */
static const uint8_t string_stop[256] = {
    [0x00] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
    [0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Skips to the next byte of interest in a string body: '"', '\\', < 0x20 or
 * >= 0x80. @return that byte's position, or end. */
static inline const uint8_t *string_skip(const uint8_t *p, const uint8_t *end)
{
#if defined(JSON_SSE2)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    /* A signed compare with 0x20 catches both 0x00..0x1F and 0x80..0xFF. */
    const __m128i ctl = _mm_set1_epi8(0x20);
    while (end - p >= 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        __m128i ma = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(a, quote), _mm_cmpeq_epi8(a, bslash)),
                                  _mm_cmplt_epi8(a, ctl));
        __m128i mb = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(b, quote), _mm_cmpeq_epi8(b, bslash)),
                                  _mm_cmplt_epi8(b, ctl));
        uint32_t bits = (uint32_t)_mm_movemask_epi8(ma) | ((uint32_t)_mm_movemask_epi8(mb) << 16);
        if (bits)
            return p + __builtin_ctz(bits);
        p += 32;
    }
    if (end - p >= 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ma = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(a, quote), _mm_cmpeq_epi8(a, bslash)),
                                  _mm_cmplt_epi8(a, ctl));
        uint32_t bits = (uint32_t)_mm_movemask_epi8(ma);
        if (bits)
            return p + __builtin_ctz(bits);
        p += 16;
    }
#elif defined(JSON_SWAR)
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        /* Zero-byte and less-than tests: the lowest flagged byte is exact,
         * which is all that is needed to find the first stop. */
        uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w;
        hit &= highs;
        if (hit)
            return p + (__builtin_ctzll(hit) >> 3);
        p += 8;
    }
#endif
    while (p < end && !string_stop[*p])
        p++;
    return p;
}

/* Scans a string body starting at p (just after the opening quote).
 * @return the closing quote, or NULL with *err and *errp set. */
static const uint8_t *string_end(const uint8_t *p, const uint8_t *end, int *has_esc, int *err,
                                 const uint8_t **errp)
{
    for (;;) {
        p = string_skip(p, end);
        if (p == end) {
            *err = JSON_E_UNTERMINATED;
            *errp = p;
            return NULL;
        }
        uint8_t c = *p;
        if (c == '"')
            return p;
        if (c == '\\') {
            *has_esc = 1;
            /* Escapes come in runs (text written with \uXXXX for every
             * non-ASCII character): stay here while they last. */
            do {
                if (end - p < 2) {
                    *err = JSON_E_UNTERMINATED;
                    *errp = p;
                    return NULL;
                }
                if (simple_escape[p[1]]) {
                    p += 2;
                    continue;
                }
                if (p[1] != 'u') {
                    *err = JSON_E_ESCAPE;
                    *errp = p;
                    return NULL;
                }
                if (end - p < 6) {
                    *err = JSON_E_UNTERMINATED;
                    *errp = p;
                    return NULL;
                }
                if (hex4(p + 2) < 0) {
                    *err = JSON_E_ESCAPE;
                    *errp = p;
                    return NULL;
                }
                p += 6;
            } while (p < end && *p == '\\');
            continue;
        }
        if (c < 0x20) {
            *err = JSON_E_CONTROL;
            *errp = p;
            return NULL;
        }
        /* Non-ASCII: validate sequences while they last (text in other
         * scripts is mostly non-ASCII), then go back to the wide scan. */
        do {
            size_t n = utf8_len(p, end);
            if (!n) {
                *err = JSON_E_UTF8;
                *errp = p;
                return NULL;
            }
            p += n;
        } while (p < end && *p >= 0x80);
    }
}

/* Decodes the escape at p (p[0] == '\\') into out (up to 4 bytes, always
 * fewer than it consumes; out is written only after the escape is read).
 * @return bytes produced and *used the bytes consumed, or a negative error. */
static inline int decode_escape(const uint8_t *p, const uint8_t *end, uint8_t *out, size_t *used)
{
    if (end - p < 2)
        return JSON_E_ESCAPE;
    *used = 2;
    switch (p[1]) {
    case '"': out[0] = '"'; return 1;
    case '\\': out[0] = '\\'; return 1;
    case '/': out[0] = '/'; return 1;
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: return JSON_E_ESCAPE;
    }
    if (end - p < 6)
        return JSON_E_ESCAPE;
    long cp = hex4(p + 2);
    if (cp < 0)
        return JSON_E_ESCAPE;
    *used = 6;
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        /* Only a high surrogate followed by an escaped low one is a
         * character; anything else cannot be written as UTF-8. */
        if (cp >= 0xDC00 || end - p < 12 || p[6] != '\\' || p[7] != 'u')
            return JSON_E_SURROGATE;
        long lo = hex4(p + 8);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return JSON_E_SURROGATE;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        *used = 12;
    }
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Compares a key body holding escapes with a path segment, decoding as it
 * goes: keys are compared as Python would, after decoding. */
static int key_eq_escaped(const uint8_t *s, const uint8_t *end, const uint8_t *seg, size_t seglen)
{
    size_t j = 0;
    while (s < end) {
        if (*s != '\\') {
            if (j == seglen || seg[j] != *s)
                return 0;
            j++;
            s++;
            continue;
        }
        uint8_t buf[4];
        size_t used;
        int n = decode_escape(s, end, buf, &used);
        if (n < 0 || seglen - j < (size_t)n || memcmp(seg + j, buf, (size_t)n) != 0)
            return 0;
        j += (size_t)n;
        s += used;
    }
    return j == seglen;
}

/* Scans a number at p under the RFC 8259 grammar.
 * @return the end of the number, or NULL. */
static const uint8_t *number_end(const uint8_t *p, const uint8_t *end)
{
    if (*p == '-')
        p++;
    if (p == end)
        return NULL;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return NULL; /* leading zero */
    } else if (is_digit(*p)) {
        p++;
        while (p < end && is_digit(*p))
            p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
    }
    return p;
}

static inline void set_field(json_field *f, json_kind kind, const uint8_t *raw, size_t len, int esc)
{
    f->kind = kind;
    f->raw = (const char *)raw;
    f->raw_len = len;
    f->has_escapes = esc;
}

static inline void record(json_field *out, uint64_t mask, json_kind kind, const uint8_t *raw,
                          size_t len, int esc)
{
    while (mask) {
        int i = __builtin_ctzll(mask);
        mask &= mask - 1;
        set_field(&out[i], kind, raw, len, esc);
    }
}

/* ---------------------------------------------------------------- extract */

int json_extract(const char *line, size_t len, const json_path *paths, size_t npaths,
                 json_field *out, size_t *err_offset)
{
    const uint8_t *const base = (const uint8_t *)line;
    const uint8_t *const end = base + len;
    const uint8_t *p = base;
    const uint8_t *errp = NULL;
    int err = JSON_OK;

    /* Level d (1-based) is the d-th open container. path_mask[d]: paths whose
     * first d-1 segments led into this object (0 for arrays); rec_mask[d]:
     * paths whose value is this container. is_array bit d-1: an array. */
    uint64_t path_mask[JSON_MAX_DEPTH + 1];
    uint64_t rec_mask[JSON_MAX_DEPTH + 1];
    uint64_t is_array = 0;
    int depth = 0;

    uint64_t all = 0;
    for (size_t i = 0; i < npaths; i++) {
        set_field(&out[i], JSON_MISSING, NULL, 0, 0);
        if (i < JSON_MAX_PATHS && paths[i].depth > 0 && paths[i].depth <= JSON_PATH_MAX)
            all |= 1ull << i;
    }
    /* What the value about to be parsed is to the wanted paths: their value
     * (vrec) or an object on their way (vdesc). */
    uint64_t vrec = 0, vdesc = all;

    p = skip_ws(p, end);
    if (p == end) {
        err = JSON_E_EMPTY;
        errp = p;
        goto fail;
    }
    const uint8_t root = *p;

value:
    if (p == end) {
        err = JSON_E_UNTERMINATED;
        errp = p;
        goto fail;
    }
    switch (*p) {
    case '"': {
        int esc = 0;
        const uint8_t *q = string_end(p + 1, end, &esc, &err, &errp);
        if (!q)
            goto fail;
        if (vrec)
            record(out, vrec, JSON_STRING, p + 1, (size_t)(q - p - 1), esc);
        p = q + 1;
        goto after;
    }
    case '{':
    case '[': {
        if (depth == JSON_MAX_DEPTH) {
            err = JSON_E_DEPTH;
            errp = p;
            goto fail;
        }
        int arr = *p == '[';
        depth++;
        if (arr)
            is_array |= 1ull << (depth - 1);
        else
            is_array &= ~(1ull << (depth - 1));
        path_mask[depth] = arr ? 0 : vdesc;
        rec_mask[depth] = vrec;
        if (vrec)
            record(out, vrec, JSON_OTHER, p, 0, 0);
        p = skip_ws(p + 1, end);
        if (p == end) {
            err = JSON_E_UNTERMINATED;
            errp = p;
            goto fail;
        }
        if (*p == (arr ? ']' : '}'))
            goto close;
        if (arr) {
            vrec = vdesc = 0;
            goto value;
        }
        goto key;
    }
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': {
        const uint8_t *q = number_end(p, end);
        if (!q) {
            err = JSON_E_NUMBER;
            errp = p;
            goto fail;
        }
        if (vrec)
            record(out, vrec, JSON_NUMBER, p, (size_t)(q - p), 0);
        p = q;
        goto after;
    }
    case 't': case 'f': case 'n': {
        const char *lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
        size_t n = strlen(lit), avail = (size_t)(end - p);
        if (avail < n || memcmp(p, lit, n) != 0) {
            err = avail < n && memcmp(p, lit, avail) == 0 ? JSON_E_UNTERMINATED : JSON_E_SYNTAX;
            errp = p;
            goto fail;
        }
        if (vrec)
            record(out, vrec, JSON_OTHER, p, n, 0);
        p += n;
        goto after;
    }
    default:
        err = JSON_E_SYNTAX;
        errp = p;
        goto fail;
    }

key:
    /* p < end, at the first byte of a key. */
    if (*p != '"') {
        err = JSON_E_SYNTAX;
        errp = p;
        goto fail;
    }
    {
        int esc = 0;
        const uint8_t *s = p + 1;
        const uint8_t *q = string_end(s, end, &esc, &err, &errp);
        if (!q)
            goto fail;
        uint64_t m = path_mask[depth];
        int seg = depth - 1;
        vrec = vdesc = 0;
        while (m) {
            int i = __builtin_ctzll(m);
            m &= m - 1;
            const uint8_t *want = (const uint8_t *)paths[i].key[seg];
            size_t wlen = paths[i].len[seg];
            int eq = esc ? key_eq_escaped(s, q, want, wlen)
                         : (size_t)(q - s) == wlen && memcmp(s, want, wlen) == 0;
            if (!eq)
                continue;
            /* Last one wins: a repeated key replaces what an earlier
             * value (or its members) gave this path. */
            set_field(&out[i], JSON_MISSING, NULL, 0, 0);
            if (paths[i].depth == seg + 1)
                vrec |= 1ull << i;
            else
                vdesc |= 1ull << i;
        }
        p = skip_ws(q + 1, end);
        if (p == end) {
            err = JSON_E_UNTERMINATED;
            errp = p;
            goto fail;
        }
        if (*p != ':') {
            err = JSON_E_SYNTAX;
            errp = p;
            goto fail;
        }
        p = skip_ws(p + 1, end);
        goto value;
    }

close:
    /* p is at the closing bracket of level depth. */
    if (rec_mask[depth]) {
        uint64_t m = rec_mask[depth];
        while (m) {
            int i = __builtin_ctzll(m);
            m &= m - 1;
            out[i].raw_len = (size_t)(p + 1 - (const uint8_t *)out[i].raw);
        }
    }
    depth--;
    p++;
    /* fall through */

after:
    p = skip_ws(p, end);
    if (depth == 0) {
        if (p != end) {
            err = JSON_E_TRAILING;
            errp = p;
            goto fail;
        }
        if (root != '{') {
            err = JSON_E_NOT_OBJECT;
            errp = base;
            goto fail;
        }
        if (err_offset)
            *err_offset = 0;
        return JSON_OK;
    }
    if (p == end) {
        err = JSON_E_UNTERMINATED;
        errp = p;
        goto fail;
    }
    {
        int arr = (int)((is_array >> (depth - 1)) & 1);
        if (*p == ',') {
            p = skip_ws(p + 1, end);
            if (p == end) {
                err = JSON_E_UNTERMINATED;
                errp = p;
                goto fail;
            }
            if (arr) {
                vrec = vdesc = 0;
                goto value;
            }
            goto key;
        }
        if (*p == (arr ? ']' : '}'))
            goto close;
        err = JSON_E_SYNTAX;
        errp = p;
        goto fail;
    }

fail:
    for (size_t i = 0; i < npaths; i++)
        set_field(&out[i], JSON_MISSING, NULL, 0, 0);
    if (err_offset)
        *err_offset = (size_t)(errp - base);
    return err;
}

/* ---------------------------------------------------------------- strings */

ptrdiff_t json_string_decode(const char *raw, size_t raw_len, char *dst, size_t *err_offset)
{
    const uint8_t *s = (const uint8_t *)raw;
    const uint8_t *const end = s + raw_len;
    uint8_t *d = (uint8_t *)dst;
    /* memmove, not memcpy: decoding never gets ahead of the input, so
     * dst == raw (in place) works. */
    while (s < end) {
        const uint8_t *bs = memchr(s, '\\', (size_t)(end - s));
        if (!bs) {
            memmove(d, s, (size_t)(end - s));
            d += end - s;
            break;
        }
        memmove(d, s, (size_t)(bs - s));
        d += bs - s;
        s = bs;
        do {
            size_t used;
            /* Straight into dst: decode_escape reads the whole escape before
             * it writes, and writes fewer bytes than it reads, so even in
             * place (d == s) nothing unread is overwritten. */
            int n = decode_escape(s, end, d, &used);
            if (n < 0) {
                if (err_offset)
                    *err_offset = (size_t)(s - (const uint8_t *)raw);
                return n;
            }
            d += n;
            s += used;
        } while (s < end && *s == '\\');
    }
    return (ptrdiff_t)(d - (uint8_t *)dst);
}

size_t json_string_escape(const char *src, size_t len, char *dst)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)src;
    char *d = dst;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *d++ = (char)c;
            continue;
        }
        *d++ = '\\';
        switch (c) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '\b': *d++ = 'b'; break;
        case '\f': *d++ = 'f'; break;
        case '\n': *d++ = 'n'; break;
        case '\r': *d++ = 'r'; break;
        case '\t': *d++ = 't'; break;
        default:
            *d++ = 'u';
            *d++ = '0';
            *d++ = '0';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 15];
        }
    }
    return (size_t)(d - dst);
}
