/*
 * text.c: ts_normalise, the text normalisation before matching and tokenising
 * (the list of what changes is in tropescan.h).
 *
 * The output is built under one invariant: it never starts or ends with a
 * space and never holds two spaces in a row. A white-space character emits a
 * space only if the last output byte is not one (the start counts as one), and
 * a trailing space is dropped at the end. Removed characters emit nothing, so
 * "a <soft hyphen> b" gives "a b", and normalising twice changes nothing
 * (for any bytes, valid UTF-8 or not: the fuzz target checks it).
 *
 * Speed: prose is mostly ASCII letters with single spaces, so 16 bytes at a
 * time are checked (SSE2) for anything else - control bytes, bytes >= 0x80, a
 * space after a space - and copied whole when clean; words are counted from
 * the same space masks. Everything else goes one character at a time.
 */
#include <string.h>

#include "tropescan.h"

#if defined(__SSE2__) && !defined(TS_TEXT_NO_SIMD)
#include <emmintrin.h>
#define TEXT_SSE2 1
#endif

/* 1 for the ASCII bytes that are white space (NUL included). */
static const uint8_t ascii_space[128] = {
    [0x00] = 1, ['\t'] = 1, ['\n'] = 1, [0x0B] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
};

enum { ACT_COPY, ACT_SPACE, ACT_DROP, ACT_MAP };

/* Classifies the character at p (p[0] >= 0x80).
 * @return the bytes it takes (1 for a byte that is not valid UTF-8), with
 * *act what to do and *ch the ASCII replacement for ACT_MAP. */
static size_t classify_high(const uint8_t *p, const uint8_t *end, int *act, char *ch)
{
    size_t avail = (size_t)(end - p);
    uint8_t c = p[0];
    *act = ACT_COPY;
    if (c >= 0xC2 && c < 0xE0) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80)
            return 1;
        if (c == 0xC2) {
            if (p[1] == 0x85 || p[1] == 0xA0)
                *act = ACT_SPACE;
            else if (p[1] == 0xAD)
                *act = ACT_DROP;
        }
        return 2;
    }
    if (c >= 0xE0 && c < 0xF0) {
        uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (avail < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
            return 1;
        uint8_t b1 = p[1], b2 = p[2];
        if (c == 0xE2) {
            if (b1 == 0x80) {
                if (b2 <= 0x8A || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF)
                    *act = ACT_SPACE;                       /* U+2000..200A, 2028, 2029, 202F */
                else if (b2 <= 0x8D)
                    *act = ACT_DROP;                        /* U+200B..200D */
                else if (b2 >= 0x90 && b2 <= 0x95)
                    *act = ACT_MAP, *ch = '-';              /* U+2010..2015 */
                else if ((b2 >= 0x98 && b2 <= 0x9B) || b2 == 0xB2)
                    *act = ACT_MAP, *ch = '\'';             /* U+2018..201B, 2032 */
                else if ((b2 >= 0x9C && b2 <= 0x9F) || b2 == 0xB3)
                    *act = ACT_MAP, *ch = '"';              /* U+201C..201F, 2033 */
            } else if (b1 == 0x81) {
                if (b2 == 0x9F)
                    *act = ACT_SPACE;                       /* U+205F */
                else if (b2 == 0xA0)
                    *act = ACT_DROP;                        /* U+2060 */
            } else if (b1 == 0x88 && b2 == 0x92) {
                *act = ACT_MAP, *ch = '-';                  /* U+2212 */
            }
        } else if (c == 0xE1) {
            if (b1 == 0x9A && b2 == 0x80)
                *act = ACT_SPACE;                           /* U+1680 */
        } else if (c == 0xE3) {
            if (b1 == 0x80 && b2 == 0x80)
                *act = ACT_SPACE;                           /* U+3000 */
        } else if (c == 0xEF) {
            if (b1 == 0xB9 && (b2 == 0x98 || b2 == 0xA3))
                *act = ACT_MAP, *ch = '-';                  /* U+FE58, FE63 */
            else if (b1 == 0xBC && b2 == 0x82)
                *act = ACT_MAP, *ch = '"';                  /* U+FF02 */
            else if (b1 == 0xBC && b2 == 0x87)
                *act = ACT_MAP, *ch = '\'';                 /* U+FF07 */
            else if (b1 == 0xBC && b2 == 0x8D)
                *act = ACT_MAP, *ch = '-';                  /* U+FF0D */
            else if (b1 == 0xBB && b2 == 0xBF)
                *act = ACT_DROP;                            /* U+FEFF */
        }
        return 3;
    }
    if (c >= 0xF0 && c < 0xF5) {
        uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (avail < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 1;
        return 4;
    }
    return 1;
}

typedef struct norm_state {
    uint8_t *d;
    uint8_t *d0;    /* the start of the output */
    int space;      /* the last output byte is a space, or nothing is out yet */
    uint32_t words;
    uint32_t *breaks;   /* ts_normalise_breaks: spaces that stand for a line break */
    size_t nbreaks, cap;
} norm_state;

/* Copies one character (1 to 4 bytes) without a call to memcpy. */
static inline void copy_small(uint8_t *d, const uint8_t *s, size_t n)
{
    d[0] = s[0];
    if (n > 1) {
        d[1] = s[1];
        if (n > 2) {
            d[2] = s[2];
            if (n > 3)
                d[3] = s[3];
        }
    }
}

/* Handles one character at s. @return the position after it. */
static inline const uint8_t *normalise_one(const uint8_t *s, const uint8_t *end, norm_state *st)
{
    uint8_t c = *s;
    if (c < 0x80) {
        if (ascii_space[c]) {
            if (!st->space) {
                *st->d++ = ' ';
                st->space = 1;
            }
            /* A line break inside a run of white space: its space (not the
             * start of the text) is a paragraph boundary, recorded once. */
            if (c == '\n' && st->breaks && st->d > st->d0) {
                uint32_t at = (uint32_t)(st->d - 1 - st->d0);
                if ((!st->nbreaks || st->breaks[st->nbreaks - 1] != at) && st->nbreaks < st->cap)
                    st->breaks[st->nbreaks++] = at;
            }
        } else {
            st->words += (uint32_t)st->space;
            st->space = 0;
            *st->d++ = c;
        }
        return s + 1;
    }
    int act;
    char ch = 0;
    size_t n = classify_high(s, end, &act, &ch);
    switch (act) {
    case ACT_SPACE:
        if (!st->space) {
            *st->d++ = ' ';
            st->space = 1;
        }
        break;
    case ACT_DROP:
        /* In text that is not valid UTF-8, removing a character could join
         * a cut sequence before it with stray continuation bytes after it into
         * a new character, and normalising again would change the text: keep
         * the character in that one case, so the output is a fixed point. */
        if (st->d > st->d0 && st->d[-1] >= 0x80 && (size_t)(end - s) > n && (s[n] & 0xC0) == 0x80) {
            st->words += (uint32_t)st->space;
            st->space = 0;
            copy_small(st->d, s, n);
            st->d += n;
        }
        break;
    case ACT_MAP:
        st->words += (uint32_t)st->space;
        st->space = 0;
        *st->d++ = (uint8_t)ch;
        break;
    default:
        st->words += (uint32_t)st->space;
        st->space = 0;
        copy_small(st->d, s, n);
        st->d += n;
        break;
    }
    return s + n;
}

#if defined(TEXT_SSE2)
static inline uint32_t popcount16(uint32_t x)
{
    /* Without -mpopcnt the builtin is a library call; this stays inline. */
    x = x - ((x >> 1) & 0x5555);
    x = (x & 0x3333) + ((x >> 2) & 0x3333);
    x = (x + (x >> 4)) & 0x0F0F;
    return (x + (x >> 8)) & 0x1F;
}
#endif

size_t ts_normalise(const char *src, size_t len, char *dst, uint32_t *words)
{
    return ts_normalise_breaks(src, len, dst, words, NULL, 0, NULL);
}

size_t ts_normalise_breaks(const char *src, size_t len, char *dst, uint32_t *words, uint32_t *breaks,
                           size_t cap, size_t *nbreaks)
{
    const uint8_t *s = (const uint8_t *)src;
    const uint8_t *const end = s + len;
    norm_state st = { (uint8_t *)dst, (uint8_t *)dst, 1, 0, breaks, 0, cap };

#if defined(TEXT_SSE2)
    const __m128i spc = _mm_set1_epi8(' ');
    const __m128i ctl = _mm_set1_epi8(0x20);
    while (end - s >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        uint32_t sp = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, spc));
        /* Signed compare: both control bytes and bytes >= 0x80. */
        uint32_t special = (uint32_t)_mm_movemask_epi8(_mm_cmplt_epi8(v, ctl));
        uint32_t prev = ((sp << 1) | (uint32_t)st.space) & 0xFFFF;
        uint32_t stop = special | (sp & prev);
        /* The output is never ahead of the input, so a 16-byte store at
         * st.d stays inside dst (which holds len bytes). */
        if (!stop) {
            _mm_storeu_si128((__m128i *)(void *)st.d, v);
            st.d += 16;
            s += 16;
            st.words += popcount16(~sp & prev & 0xFFFF);
            st.space = (int)(sp >> 15);
            continue;
        }
        uint32_t k = (uint32_t)__builtin_ctz(stop);
        if (k) {
            _mm_storeu_si128((__m128i *)(void *)st.d, v);
            st.d += k;
            s += k;
            st.words += popcount16(~sp & prev & ((1u << k) - 1));
            st.space = (int)((sp >> (k - 1)) & 1);
        }
        /* Text in other scripts is runs of non-ASCII characters: take the
         * whole run before going back to the wide check. */
        do
            s = normalise_one(s, end, &st);
        while (s < end && *s >= 0x80);
    }
#endif
    while (s < end)
        s = normalise_one(s, end, &st);
    if (st.d > (uint8_t *)dst && st.d[-1] == ' ') {
        st.d--;
        /* The trailing space is gone, and with it a break there. */
        if (st.nbreaks && st.breaks[st.nbreaks - 1] == (uint32_t)(st.d - (uint8_t *)dst))
            st.nbreaks--;
    }
    if (words)
        *words = st.words;
    if (nbreaks)
        *nbreaks = st.nbreaks;
    return (size_t)(st.d - (uint8_t *)dst);
}

void ts_normalise_map(const char *src, size_t len, uint64_t *offs, size_t n, int is_end)
{
    const uint8_t *const s0 = (const uint8_t *)src, *const end = s0 + len;
    /* The character-at-a-time path of ts_normalise, counting output bytes
     * into a scratch that keeps the last byte out (normalise_one looks at
     * it). The result is the same text, so the same offsets. */
    uint8_t scratch[8] = {0};
    norm_state st = {scratch + 1, scratch + 1, 1, 0, NULL, 0, 0};
    uint64_t out = 0;
    size_t q = 0;
    if (is_end)
        while (q < n && offs[q] == 0)
            offs[q++] = 0;
    const uint8_t *s = s0;
    while (q < n && s < end) {
        st.d = scratch + 1;
        st.d0 = out ? scratch : scratch + 1;
        const uint8_t *next = normalise_one(s, end, &st);
        uint64_t k = (uint64_t)(st.d - (scratch + 1));
        if (k) {
            scratch[0] = st.d[-1];
            /* Bytes out..out+k-1 come from this character. */
            while (q < n && offs[q] - (uint64_t)is_end < out + k) {
                offs[q] = (uint64_t)((is_end ? next : s) - s0);
                q++;
            }
            out += k;
        }
        s = next;
    }
    while (q < n)
        offs[q++] = len;
}
