/*
 * test_json.c: known-answer tests for the JSON field extractor (json.h) and
 * for ts_normalise.
 *
 * Every line is also run through json_extract at every shift of its start
 * address (the wide scans must not care about alignment) and every prefix of
 * every valid line must fail (a cut line is never a valid object).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tropescan.h"

static int failures;
static int checks;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        checks++;                                                               \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* A byte string with an explicit length (test data holds NUL bytes). */
typedef struct bytes {
    const char *s;
    size_t n;
} bytes;
#define B(lit) { lit, sizeof(lit) - 1 }

static void show(const char *s, size_t n)
{
    for (size_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
}

/* ---------------------------------------------------------------- extract */

typedef struct extract_case {
    bytes line;
    int rc;
    /* For the paths "text" and "id": kind and raw text (undecoded). */
    json_kind text_kind;
    const char *text_raw;
    json_kind id_kind;
    const char *id_raw;
    int text_escapes;
} extract_case;

#define M JSON_MISSING
#define S JSON_STRING
#define N JSON_NUMBER
#define O JSON_OTHER

static const extract_case extract_cases[] = {
    /* plain values */
    { B("{\"text\":\"hello\",\"id\":\"a1\"}"), 0, S, "hello", S, "a1", 0 },
    { B("{\"id\":7,\"text\":\"\"}"), 0, S, "", N, "7", 0 },
    { B("{}"), 0, M, NULL, M, NULL, 0 },
    { B(" \t{ } \r\n"), 0, M, NULL, M, NULL, 0 },
    { B("{\"text\":null,\"id\":true}"), 0, O, "null", O, "true", 0 },
    { B("{\"text\":false,\"id\":-0.5e+10}"), 0, O, "false", N, "-0.5e+10", 0 },
    { B("{\"text\":[1,{\"a\":2},[]],\"id\":{\"x\":\"}\"}}"), 0, O, "[1,{\"a\":2},[]]", O, "{\"x\":\"}\"}", 0 },
    { B("{ \"text\" : \"a b\" , \"id\" : 12 }"), 0, S, "a b", N, "12", 0 },
    /* escapes are left in raw, with has_escapes set */
    { B("{\"text\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\"}"), 0, S, "a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9", M, NULL, 1 },
    /* lone surrogates are legal JSON text: extract accepts them */
    { B("{\"text\":\"\\ud800\"}"), 0, S, "\\ud800", M, NULL, 1 },
    /* duplicate keys: the last one wins */
    { B("{\"text\":\"one\",\"text\":\"two\"}"), 0, S, "two", M, NULL, 0 },
    { B("{\"text\":\"one\",\"text\":3}"), 0, N, "3", M, NULL, 0 },
    /* keys are compared decoded, as Python does */
    { B("{\"te\\u0078t\":\"esc\",\"\\u0069d\":1}"), 0, S, "esc", N, "1", 0 },
    { B("{\"text\":\"a\",\"t\\u0065xt\":\"b\"}"), 0, S, "b", M, NULL, 0 },
    { B("{\"tex\":\"a\",\"textx\":\"b\",\"Text\":\"c\"}"), 0, M, NULL, M, NULL, 0 },
    /* fields after nested values holding escaped quotes and brackets */
    { B("{\"meta\":{\"q\":\"say \\\"hi\\\" }\",\"l\":[\"]\",\"\\\\\"]},\"text\":\"after\",\"id\":\"x\"}"), 0, S, "after", S, "x", 0 },
    /* a nested key with the wanted name is not the top-level field */
    { B("{\"meta\":{\"text\":\"inner\",\"id\":1}}"), 0, M, NULL, M, NULL, 0 },
    { B("{\"a\":[{\"text\":\"x\"}],\"id\":null}"), 0, M, NULL, O, "null", 0 },
    /* CRLF: the trailing \r is white space */
    { B("{\"text\":\"crlf\"}\r"), 0, S, "crlf", M, NULL, 0 },
    /* raw UTF-8 of every length, DEL */
    { B("{\"text\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\",\"id\":1}"), 0, S, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f", N, "1", 0 },
    { B("{\"text\":\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\"}"), 0, S, "\xef\xbf\xbf\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80", M, NULL, 0 },
    /* numbers */
    { B("{\"id\":0}"), 0, M, NULL, N, "0", 0 },
    { B("{\"id\":-0}"), 0, M, NULL, N, "-0", 0 },
    { B("{\"id\":1E5}"), 0, M, NULL, N, "1E5", 0 },
    { B("{\"id\":1e-5}"), 0, M, NULL, N, "1e-5", 0 },
    { B("{\"id\":123456789012345678901234567890}"), 0, M, NULL, N, "123456789012345678901234567890", 0 },
    { B("{\"id\":0.0e0}"), 0, M, NULL, N, "0.0e0", 0 },

    /* ---- errors, one or more per kind */
    { B(""), JSON_E_EMPTY, M, NULL, M, NULL, 0 },
    { B(" \t\r\n"), JSON_E_EMPTY, M, NULL, M, NULL, 0 },
    { B("[1,2]"), JSON_E_NOT_OBJECT, M, NULL, M, NULL, 0 },
    { B("\"text\""), JSON_E_NOT_OBJECT, M, NULL, M, NULL, 0 },
    { B("3"), JSON_E_NOT_OBJECT, M, NULL, M, NULL, 0 },
    { B("null"), JSON_E_NOT_OBJECT, M, NULL, M, NULL, 0 },
    { B("{}x"), JSON_E_TRAILING, M, NULL, M, NULL, 0 },
    { B("{}{}"), JSON_E_TRAILING, M, NULL, M, NULL, 0 },
    { B("{} \x00"), JSON_E_TRAILING, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"abc"), JSON_E_UNTERMINATED, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"abc\""), JSON_E_UNTERMINATED, M, NULL, M, NULL, 0 },
    { B("{\"text\":"), JSON_E_UNTERMINATED, M, NULL, M, NULL, 0 },
    { B("{\"text\":tru"), JSON_E_UNTERMINATED, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"a\\"), JSON_E_UNTERMINATED, M, NULL, M, NULL, 0 },
    { B("{"), JSON_E_UNTERMINATED, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"a\x01\"}"), JSON_E_CONTROL, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"a\nb\"}"), JSON_E_CONTROL, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"a\x00" "b\"}"), JSON_E_CONTROL, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\x1f\"}"), JSON_E_CONTROL, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\\x41\"}"), JSON_E_ESCAPE, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\\a\"}"), JSON_E_ESCAPE, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\\'\"}"), JSON_E_ESCAPE, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\\u12G4\"}"), JSON_E_ESCAPE, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\\U0041\"}"), JSON_E_ESCAPE, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\\u004\"}"), JSON_E_ESCAPE, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\x80\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\xc0\xaf\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },          /* overlong / */
    { B("{\"text\":\"\xc1\xbf\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\xe0\x9f\xbf\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },      /* overlong 3 */
    { B("{\"text\":\"\xf0\x8f\xbf\xbf\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },  /* overlong 4 */
    { B("{\"text\":\"\xed\xa0\x80\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },      /* U+D800 */
    { B("{\"text\":\"\xed\xbf\xbf\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },      /* U+DFFF */
    { B("{\"text\":\"\xf4\x90\x80\x80\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },  /* U+110000 */
    { B("{\"text\":\"\xf5\x80\x80\x80\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\xff\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\xe2\x82\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },          /* cut */
    { B("{\"text\":\"\xe2\x82"), JSON_E_UTF8, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\xc3\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"\xc3\xc3\"}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },
    { B("{\"\xff\":1}"), JSON_E_UTF8, M, NULL, M, NULL, 0 },                      /* in a key */
    { B("\xef\xbb\xbf{}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },                  /* BOM */
    { B("{\"text\":\"a\"\xc3\xa9}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"text\" \"a\"}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"text\":\"a\",}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":[1,]}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{,}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{'text':'a'}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{text:1}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":1 \"b\":2}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":[1}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":{]}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":NaN}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":Infinity}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":True}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":nul}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":1}\x00"), JSON_E_TRAILING, M, NULL, M, NULL, 0 },
    { B("\x00{}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":\x0c 1}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },                  /* FF is not JSON white space */
    { B("{\"a\":-Infinity}"), JSON_E_NUMBER, M, NULL, M, NULL, 0 },
    { B("{\"a\":01}"), JSON_E_NUMBER, M, NULL, M, NULL, 0 },
    { B("{\"a\":-01}"), JSON_E_NUMBER, M, NULL, M, NULL, 0 },
    { B("{\"a\":1.}"), JSON_E_NUMBER, M, NULL, M, NULL, 0 },
    { B("{\"a\":.5}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":1e}"), JSON_E_NUMBER, M, NULL, M, NULL, 0 },
    { B("{\"a\":1e+}"), JSON_E_NUMBER, M, NULL, M, NULL, 0 },
    { B("{\"a\":-}"), JSON_E_NUMBER, M, NULL, M, NULL, 0 },
    { B("{\"a\":+1}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":1.5.2}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
    { B("{\"a\":0x10}"), JSON_E_SYNTAX, M, NULL, M, NULL, 0 },
};

static void check_extract_case(const extract_case *c, const char *line, const json_path *paths)
{
    json_field f[2];
    size_t off = 12345;
    int rc = json_extract(line, c->line.n, paths, 2, f, &off);
    CHECK(rc == c->rc, "line '%.*s': rc %d (%s), want %d (%s)", (int)c->line.n, c->line.s, rc,
          json_error_name(rc), c->rc, json_error_name(c->rc));
    if (rc != c->rc)
        return;
    if (rc) {
        CHECK(off <= c->line.n, "error offset %zu beyond the line", off);
        CHECK(f[0].kind == JSON_MISSING && f[1].kind == JSON_MISSING, "fields not cleared on error");
        return;
    }
    const char *want_raw[2] = { c->text_raw, c->id_raw };
    json_kind want_kind[2] = { c->text_kind, c->id_kind };
    for (int i = 0; i < 2; i++) {
        CHECK(f[i].kind == want_kind[i], "line '%.*s' field %d: kind %d, want %d", (int)c->line.n,
              c->line.s, i, f[i].kind, want_kind[i]);
        if (f[i].kind != want_kind[i] || !want_raw[i])
            continue;
        CHECK(f[i].raw_len == strlen(want_raw[i]) && memcmp(f[i].raw, want_raw[i], f[i].raw_len) == 0,
              "line '%.*s' field %d: raw '%.*s', want '%s'", (int)c->line.n, c->line.s, i,
              (int)f[i].raw_len, f[i].raw, want_raw[i]);
        CHECK(f[i].raw >= line && f[i].raw + f[i].raw_len <= line + c->line.n, "raw outside the line");
    }
    if (f[0].kind == JSON_STRING)
        CHECK(f[0].has_escapes == c->text_escapes, "has_escapes %d", f[0].has_escapes);
}

static void test_extract_table(void)
{
    json_path paths[2];
    CHECK(json_path_parse("text", &paths[0]) == 0, "parse text");
    CHECK(json_path_parse("id", &paths[1]) == 0, "parse id");
    /* Each line at 16 different alignments, in a buffer with nothing after
     * it, so ASan catches any read past the end. */
    for (size_t i = 0; i < sizeof(extract_cases) / sizeof(extract_cases[0]); i++) {
        const extract_case *c = &extract_cases[i];
        for (size_t shift = 0; shift < 16; shift++) {
            char *buf = malloc(c->line.n + shift + 1);
            memcpy(buf + shift, c->line.s, c->line.n);
            check_extract_case(c, buf + shift, paths);
            free(buf);
        }
    }
}

/* Error offsets point at the fault. */
static void test_error_offsets(void)
{
    static const struct {
        bytes line;
        int rc;
        size_t off;
    } cases[] = {
        { B("{\"text\":\"a\x01\"}"), JSON_E_CONTROL, 10 },
        { B("{\"text\":\"ab\\q\"}"), JSON_E_ESCAPE, 11 },
        { B("{\"text\":\"abc\xff\"}"), JSON_E_UTF8, 12 },
        { B("{\"a\":1}  x"), JSON_E_TRAILING, 9 },
        { B("{\"a\":01}"), JSON_E_NUMBER, 5 },
        { B("{\"a\" 1}"), JSON_E_SYNTAX, 5 },
        { B("{\"a\":\"xyz"), JSON_E_UNTERMINATED, 9 },
    };
    json_path p;
    json_path_parse("text", &p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_field f;
        size_t off = 0;
        int rc = json_extract(cases[i].line.s, cases[i].line.n, &p, 1, &f, &off);
        CHECK(rc == cases[i].rc && off == cases[i].off, "case %zu: rc %d off %zu, want %d at %zu", i, rc,
              off, cases[i].rc, cases[i].off);
    }
}

/* Every proper prefix of a valid object is invalid; the full line is valid. */
static void test_prefixes(void)
{
    static const char *lines[] = {
        "{\"text\":\"h\\u00e9llo \\ud83d\\ude00 \\\"q\\\"\",\"id\":[1,2.5e-3,{\"k\":null}],\"b\":true}",
        "{\"a\":{\"b\":{\"c\":[false,\"\xe2\x82\xac\"]}},\"n\":-12.0E+7}",
    };
    json_path p[2];
    json_path_parse("text", &p[0]);
    json_path_parse("a.b.c", &p[1]);
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(lines[i]);
        json_field f[2];
        CHECK(json_extract(lines[i], n, p, 2, f, NULL) == 0, "full line %zu", i);
        for (size_t k = 0; k < n; k++) {
            char *buf = malloc(k + 1);
            memcpy(buf, lines[i], k);
            int rc = json_extract(buf, k, p, 2, f, NULL);
            CHECK(rc < 0, "prefix %zu of line %zu accepted", k, i);
            free(buf);
        }
    }
}

static void test_nested_paths(void)
{
    const char *line = "{\"meta\":{\"lang\":\"en\",\"src\":{\"url\":\"http://x\",\"n\":3}},"
                       "\"a\":[{\"b\":1}],\"s\":\"str\",\"meta\":{\"lang\":\"fr\"}}";
    const char *want_lang = "fr";
    json_path p[6];
    CHECK(json_path_parse("meta.lang", &p[0]) == 0, "parse");
    CHECK(json_path_parse("meta.src.url", &p[1]) == 0, "parse");
    CHECK(json_path_parse("a.b", &p[2]) == 0, "parse");     /* crosses an array */
    CHECK(json_path_parse("s.x", &p[3]) == 0, "parse");     /* crosses a string */
    CHECK(json_path_parse("meta", &p[4]) == 0, "parse");
    CHECK(json_path_parse("meta.src", &p[5]) == 0, "parse");
    json_field f[6];
    CHECK(json_extract(line, strlen(line), p, 6, f, NULL) == 0, "nested line");
    CHECK(f[0].kind == JSON_STRING && f[0].raw_len == 2 && memcmp(f[0].raw, want_lang, 2) == 0,
          "meta.lang: the last meta wins");
    /* The second "meta" replaces the first: its src is gone. */
    CHECK(f[1].kind == JSON_MISSING, "meta.src.url after a repeated meta: kind %d", f[1].kind);
    CHECK(f[5].kind == JSON_MISSING, "meta.src after a repeated meta");
    CHECK(f[2].kind == JSON_MISSING, "a.b crosses an array");
    CHECK(f[3].kind == JSON_MISSING, "s.x crosses a string");
    CHECK(f[4].kind == JSON_OTHER && f[4].raw_len == strlen("{\"lang\":\"fr\"}") &&
              memcmp(f[4].raw, "{\"lang\":\"fr\"}", f[4].raw_len) == 0,
          "meta raw '%.*s'", (int)f[4].raw_len, f[4].raw);

    const char *line2 = "{\"meta\":{\"src\":{\"url\":\"u\"}}}";
    CHECK(json_extract(line2, strlen(line2), p, 6, f, NULL) == 0, "line2");
    CHECK(f[1].kind == JSON_STRING && f[1].raw_len == 1 && f[1].raw[0] == 'u', "meta.src.url");
    CHECK(f[0].kind == JSON_MISSING, "meta.lang missing");

    /* A later scalar replaces an earlier object on the way. */
    const char *line3 = "{\"meta\":{\"lang\":\"en\"},\"meta\":5}";
    CHECK(json_extract(line3, strlen(line3), p, 6, f, NULL) == 0, "line3");
    CHECK(f[0].kind == JSON_MISSING && f[4].kind == JSON_NUMBER, "meta replaced by 5");

    /* Eight segments, the most a path may have. */
    json_path deep;
    CHECK(json_path_parse("a.b.c.d.e.f.g.h", &deep) == 0 && deep.depth == 8, "8 segments");
    const char *line4 = "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":\"deep\"}}}}}}}}";
    CHECK(json_extract(line4, strlen(line4), &deep, 1, f, NULL) == 0 && f[0].kind == JSON_STRING &&
              f[0].raw_len == 4 && memcmp(f[0].raw, "deep", 4) == 0,
          "8-deep path");

    /* Path parsing. */
    json_path bad;
    CHECK(json_path_parse("", &bad) == -1, "empty path");
    CHECK(json_path_parse("a..b", &bad) == -1, "empty segment");
    CHECK(json_path_parse(".a", &bad) == -1, "leading dot");
    CHECK(json_path_parse("a.", &bad) == -1, "trailing dot");
    CHECK(json_path_parse("a.b.c.d.e.f.g.h.i", &bad) == -1, "nine segments");
    CHECK(json_path_parse("ab.c", &bad) == 0 && bad.depth == 2 && bad.len[0] == 2 && bad.len[1] == 1 &&
              memcmp(bad.key[0], "ab", 2) == 0 && bad.key[1][0] == 'c',
          "ab.c");

    /* No paths at all: still a validator. */
    CHECK(json_extract("{\"a\":1}", 7, NULL, 0, NULL, NULL) == 0, "no paths");
    CHECK(json_extract("{\"a\":1", 6, NULL, 0, NULL, NULL) == JSON_E_UNTERMINATED, "no paths, cut");
}

static void test_depth(void)
{
    json_path p;
    json_path_parse("text", &p);
    char buf[512];
    json_field f;
    /* d containers in all: the object and d-1 arrays inside it. */
    for (int d = 1; d <= 70; d++) {
        size_t n = 0;
        memcpy(buf + n, "{\"x\":", 5), n += 5;
        for (int i = 1; i < d; i++)
            buf[n++] = '[';
        if (d == 1)
            buf[n++] = '0';
        for (int i = 1; i < d; i++)
            buf[n++] = ']';
        memcpy(buf + n, ",\"text\":\"t\"}", 12), n += 12;
        size_t off = 0;
        int rc = json_extract(buf, n, &p, 1, &f, &off);
        if (d <= JSON_MAX_DEPTH)
            CHECK(rc == 0 && f.kind == JSON_STRING, "depth %d: rc %d", d, rc);
        else
            CHECK(rc == JSON_E_DEPTH && off == 5 + JSON_MAX_DEPTH - 1, "depth %d: rc %d off %zu", d, rc, off);
    }
    /* Objects nest the same way. */
    for (int d = JSON_MAX_DEPTH; d <= JSON_MAX_DEPTH + 1; d++) {
        size_t n = 0;
        for (int i = 0; i < d; i++)
            memcpy(buf + n, "{\"k\":", 5), n += 5;
        buf[n++] = '1';
        for (int i = 0; i < d; i++)
            buf[n++] = '}';
        int rc = json_extract(buf, n, &p, 1, &f, NULL);
        CHECK(rc == (d <= JSON_MAX_DEPTH ? 0 : JSON_E_DEPTH), "object depth %d: rc %d", d, rc);
    }
    /* A very deep line fails cleanly, without recursion. */
    size_t big = 1 << 20;
    char *deep = malloc(big);
    memset(deep, '[', big);
    deep[0] = '{';
    CHECK(json_extract(deep, big, &p, 1, &f, NULL) == JSON_E_SYNTAX, "{[[[ is a syntax error");
    memcpy(deep, "{\"a\":", 5);
    CHECK(json_extract(deep, big, &p, 1, &f, NULL) == JSON_E_DEPTH, "1 MiB of [");
    free(deep);
}

/* A long string body with specials at every position relative to the wide
 * scan's blocks. */
static void test_long_strings(void)
{
    json_path p;
    json_path_parse("text", &p);
    char line[256];
    for (size_t body = 0; body < 100; body++) {
        for (size_t pos = 0; pos < body; pos++) {
            static const char *inserts[] = { "\\n", "\xc3\xa9", "\x01", "\xff", "\\u00e9", "\\z" };
            static const int want[] = { 0, 0, JSON_E_CONTROL, JSON_E_UTF8, 0, JSON_E_ESCAPE };
            for (size_t k = 0; k < 6; k++) {
                size_t n = 0;
                memcpy(line, "{\"text\":\"", 9);
                n = 9;
                memset(line + n, 'a', pos);
                n += pos;
                size_t il = strlen(inserts[k]);
                memcpy(line + n, inserts[k], il);
                n += il;
                memset(line + n, 'b', body - pos);
                n += body - pos;
                memcpy(line + n, "\"}", 2);
                n += 2;
                json_field f;
                size_t off = 0;
                int rc = json_extract(line, n, &p, 1, &f, &off);
                CHECK(rc == want[k], "body %zu pos %zu insert %zu: rc %d", body, pos, k, rc);
                if (rc)
                    CHECK(off == 9 + pos, "offset %zu, want %zu", off, 9 + pos);
                else
                    CHECK(f.raw_len == body + il, "raw_len %zu", f.raw_len);
            }
        }
    }
}

/* ---------------------------------------------------------------- decode */

typedef struct decode_case {
    bytes raw;
    ptrdiff_t rc; /* >= 0: want `out` */
    bytes out;
    size_t err_off;
} decode_case;

static const decode_case decode_cases[] = {
    { B(""), 0, B(""), 0 },
    { B("plain text"), 10, B("plain text"), 0 },
    { B("\\\""), 1, B("\""), 0 },
    { B("\\\\"), 1, B("\\"), 0 },
    { B("\\/"), 1, B("/"), 0 },
    { B("\\b\\f\\n\\r\\t"), 5, B("\b\f\n\r\t"), 0 },
    { B("\\u0041\\u00e9\\u20AC\\uFFFF"), 9, B("A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf"), 0 },
    { B("\\u0000"), 1, B("\x00"), 0 },
    { B("\\u007f\\u0080\\u07ff\\u0800"), 8, B("\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80"), 0 },
    { B("\\ud83d\\ude00"), 4, B("\xf0\x9f\x98\x80"), 0 },        /* U+1F600 */
    { B("\\uD800\\uDC00"), 4, B("\xf0\x90\x80\x80"), 0 },        /* U+10000 */
    { B("\\udbff\\udfff"), 4, B("\xf4\x8f\xbf\xbf"), 0 },        /* U+10FFFF */
    { B("a\\ud83d\\ude00b\\u00e9"), 8, B("a\xf0\x9f\x98\x80" "b\xc3\xa9"), 0 },
    { B("\xc3\xa9\\n\xe2\x82\xac"), 6, B("\xc3\xa9\n\xe2\x82\xac"), 0 },
    { B("\\uD7FF\\uE000"), 6, B("\xed\x9f\xbf\xee\x80\x80"), 0 },
    /* surrogates that cannot be UTF-8 */
    { B("\\ud800"), JSON_E_SURROGATE, B(""), 0 },
    { B("ab\\udc00"), JSON_E_SURROGATE, B(""), 2 },
    { B("\\ude00\\ud83d"), JSON_E_SURROGATE, B(""), 0 },          /* reversed */
    { B("\\udc00\\udc00"), JSON_E_SURROGATE, B(""), 0 },          /* two lows */
    { B("\\ud83dx\\ude00"), JSON_E_SURROGATE, B(""), 0 },
    { B("\\ud83d\\n"), JSON_E_SURROGATE, B(""), 0 },
    { B("\\ud83d\\u0041"), JSON_E_SURROGATE, B(""), 0 },
    { B("\\ud83d\\ud83d\\ude00"), JSON_E_SURROGATE, B(""), 0 },
    { B("x\\ud83d\\ude00\\udfff"), JSON_E_SURROGATE, B(""), 13 },
    { B("\\ud83d\\ude0"), JSON_E_SURROGATE, B(""), 0 },
    /* bad escapes (not produced by json_extract, but decode is robust) */
    { B("\\"), JSON_E_ESCAPE, B(""), 0 },
    { B("ab\\x"), JSON_E_ESCAPE, B(""), 2 },
    { B("\\u12"), JSON_E_ESCAPE, B(""), 0 },
    { B("\\u12g4"), JSON_E_ESCAPE, B(""), 0 },
};

static void test_decode(void)
{
    for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
        const decode_case *c = &decode_cases[i];
        char *dst = malloc(c->raw.n + 1);
        size_t off = 999;
        ptrdiff_t rc = json_string_decode(c->raw.s, c->raw.n, dst, &off);
        CHECK(rc == c->rc, "decode case %zu: rc %td, want %td", i, rc, c->rc);
        if (rc == c->rc && rc >= 0)
            CHECK((size_t)rc == c->out.n && memcmp(dst, c->out.s, c->out.n) == 0, "decode case %zu output", i);
        if (rc == c->rc && rc < 0)
            CHECK(off == c->err_off, "decode case %zu: offset %zu, want %zu", i, off, c->err_off);
        /* In place gives the same answer. */
        if (c->rc >= 0) {
            memcpy(dst, c->raw.s, c->raw.n);
            ptrdiff_t rc2 = json_string_decode(dst, c->raw.n, dst, NULL);
            CHECK(rc2 == c->rc && memcmp(dst, c->out.s, c->out.n) == 0, "in-place decode case %zu", i);
        }
        free(dst);
    }
}

/* Decode after extract, through a whole line, as the scanner does. */
static void test_extract_decode(void)
{
    const char *line = "{\"id\":\"doc-1\",\"text\":\"He said \\\"no\\\".\\nCaf\\u00e9 \xe2\x80\x94 "
                       "\\ud83d\\ude00 ok\"}";
    const char *want = "He said \"no\".\nCaf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80 ok";
    json_path p;
    json_path_parse("text", &p);
    json_field f;
    CHECK(json_extract(line, strlen(line), &p, 1, &f, NULL) == 0 && f.kind == JSON_STRING && f.has_escapes,
          "extract");
    char dst[256];
    ptrdiff_t n = json_string_decode(f.raw, f.raw_len, dst, NULL);
    CHECK(n == (ptrdiff_t)strlen(want) && memcmp(dst, want, (size_t)n) == 0, "decoded text");
}

/* ---------------------------------------------------------------- escape */

static void test_escape(void)
{
    static const struct {
        bytes in, out;
    } cases[] = {
        { B(""), B("") },
        { B("abc"), B("abc") },
        { B("\"\\/"), B("\\\"\\\\/") },
        { B("\b\f\n\r\t"), B("\\b\\f\\n\\r\\t") },
        { B("\x00\x01\x1f\x7f"), B("\\u0000\\u0001\\u001f\x7f") },
        { B("\xc3\xa9\xf0\x9f\x98\x80"), B("\xc3\xa9\xf0\x9f\x98\x80") },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char dst[64];
        size_t n = json_string_escape(cases[i].in.s, cases[i].in.n, dst);
        CHECK(n == cases[i].out.n && memcmp(dst, cases[i].out.s, n) == 0, "escape case %zu", i);
    }
    /* Round trip of every byte value, and the escaped text as a JSON line
     * is valid exactly when the bytes are valid UTF-8 (here: all ASCII). */
    char all[128], esc[6 * 128 + 16], dec[6 * 128];
    for (int i = 0; i < 128; i++)
        all[i] = (char)i;
    size_t n = json_string_escape(all, 128, esc + 9);
    CHECK(n <= 6 * 128, "escape bound");
    memcpy(esc, "{\"text\":\"", 9);
    memcpy(esc + 9 + n, "\"}", 2);
    json_path p;
    json_path_parse("text", &p);
    json_field f;
    CHECK(json_extract(esc, n + 11, &p, 1, &f, NULL) == 0 && f.kind == JSON_STRING, "escaped ASCII line");
    ptrdiff_t d = json_string_decode(f.raw, f.raw_len, dec, NULL);
    CHECK(d == 128 && memcmp(dec, all, 128) == 0, "escape/decode round trip");
}

/* ---------------------------------------------------------------- normalise */

typedef struct norm_case {
    bytes in;
    bytes out;
    uint32_t words;
} norm_case;

static const norm_case norm_cases[] = {
    { B(""), B(""), 0 },
    { B("   "), B(""), 0 },
    { B("word"), B("word"), 1 },
    { B("  two   words  "), B("two words"), 2 },
    { B("a\tb\nc\rd\fe\vf g"), B("a b c d e f g"), 7 },
    { B("a\r\n\r\nb"), B("a b"), 2 },
    { B("a\x00" "b\x00\x00"), B("a b"), 2 },
    { B("\x00"), B(""), 0 },
    /* Unicode white space */
    { B("a\xc2\x85" "b\xc2\xa0" "c\xe1\x9a\x80" "d"), B("a b c d"), 4 },
    { B("a\xe2\x80\x80" "b\xe2\x80\x8a" "c\xe2\x80\xa8" "d\xe2\x80\xa9" "e\xe2\x80\xaf" "f\xe2\x81\x9f" "g\xe3\x80\x80" "h"),
      B("a b c d e f g h"), 8 },
    { B("\xe3\x80\x80\xe3\x80\x80x\xe2\x80\x83 \xc2\xa0"), B("x"), 1 },
    /* quotes */
    { B("\xe2\x80\x98" "a\xe2\x80\x99 \xe2\x80\x9a\xe2\x80\x9b\xe2\x80\xb2\xef\xbc\x87"), B("'a' ''''"), 2 },
    { B("\xe2\x80\x9c" "a\xe2\x80\x9d \xe2\x80\x9e\xe2\x80\x9f\xe2\x80\xb3\xef\xbc\x82"), B("\"a\" \"\"\"\""), 2 },
    /* dashes */
    { B("\xe2\x80\x90\xe2\x80\x91\xe2\x80\x92\xe2\x80\x93\xe2\x80\x94\xe2\x80\x95\xe2\x88\x92\xef\xb9\x98\xef\xb9\xa3\xef\xbc\x8d"),
      B("----------"), 1 },
    { B("self\xe2\x80\x94preservation"), B("self-preservation"), 1 },
    /* removed: soft hyphen, zero width, word joiner, BOM */
    { B("shut\xc2\xad" "down"), B("shutdown"), 1 },
    { B("a\xe2\x80\x8b" "b\xe2\x80\x8c" "c\xe2\x80\x8d" "d\xe2\x81\xa0" "e\xef\xbb\xbf" "f"), B("abcdef"), 1 },
    { B("\xef\xbb\xbfstart"), B("start"), 1 },
    { B("a \xe2\x80\x8b b"), B("a b"), 2 },                       /* removal does not split a space run */
    { B("a \xc2\xad"), B("a"), 1 },
    { B("\xe2\x80\x8b"), B(""), 0 },
    /* copied unchanged */
    { B("Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad"), B("Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad"), 4 },
    { B("CASE Stays"), B("CASE Stays"), 2 },
    { B("\x01\x7f"), B("\x01\x7f"), 1 },
    { B("\xe2\x80\x8e\xe2\x80\x99\xe2\x80\x8f"), B("\xe2\x80\x8e'\xe2\x80\x8f"), 1 },  /* LRM/RLM are not listed */
    { B("\xc2\xa9\xc2\xa1"), B("\xc2\xa9\xc2\xa1"), 1 },
    /* invalid UTF-8 is copied byte by byte, never mistaken for a listed character */
    { B("\xff\xe2\x80"), B("\xff\xe2\x80"), 1 },
    { B("\xe2 \x80\x99"), B("\xe2 \x80\x99"), 2 },
    { B("\xc2"), B("\xc2"), 1 },
    { B("\xed\xa0\x80"), B("\xed\xa0\x80"), 1 },
    /* a removal that would join a cut sequence with a stray continuation byte
     * into a new character is not made (normalising again would change it) */
    { B("\xe2\x80\xc2\xad\xa8"), B("\xe2\x80\xc2\xad\xa8"), 1 },
    { B("\xe2\x80\xc2\xad\xc2\xad\xa8"), B("\xe2\x80\xc2\xad\xa8"), 1 },
    { B("\xc3\xa9\xc2\xad" "a"), B("\xc3\xa9" "a"), 1 },
    /* long runs that cross the 16-byte blocks */
    { B("The quick brown fox jumps over the lazy dog, and  the  machine\nrefused to shut down.  "),
      B("The quick brown fox jumps over the lazy dog, and the machine refused to shut down."), 16 },
    { B("                                   spaced                                    out          "),
      B("spaced out"), 2 },
    { B("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz \xe2\x80\x94 abcdefghijklmnopqrstuvwxyz"),
      B("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz - abcdefghijklmnopqrstuvwxyz"), 3 },
};

/* Words counted the slow way, from the definition. */
static uint32_t count_words(const char *s, size_t n)
{
    uint32_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && (i == 0 || s[i - 1] == ' '))
            w++;
    return w;
}

static void check_normalised_invariants(const char *in, size_t n, const char *out, size_t m, uint32_t words)
{
    CHECK(m <= n, "output longer than input");
    CHECK(m == 0 || (out[0] != ' ' && out[m - 1] != ' '), "leading or trailing space");
    for (size_t i = 1; i < m; i++)
        if (out[i] == ' ' && out[i - 1] == ' ') {
            CHECK(0, "two spaces at %zu", i);
            break;
        }
    CHECK(words == count_words(out, m), "words %u, counted %u", words, count_words(out, m));
    char *again = malloc(m + 1);
    uint32_t w2 = 0;
    size_t m2 = ts_normalise(out, m, again, &w2);
    CHECK(m2 == m && memcmp(again, out, m) == 0 && w2 == words, "not idempotent on '%.*s'", (int)(n > 80 ? 80 : n), in);
    free(again);
}

static void test_normalise_table(void)
{
    for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
        const norm_case *c = &norm_cases[i];
        /* At every alignment, with nothing after the input or the output. */
        for (size_t shift = 0; shift < 16; shift++) {
            char *in = malloc(c->in.n + shift + 1);
            memcpy(in + shift, c->in.s, c->in.n);
            char *out = malloc(c->in.n + 1);
            uint32_t w = 12345;
            size_t m = ts_normalise(in + shift, c->in.n, out, &w);
            CHECK(m == c->out.n && memcmp(out, c->out.s, m) == 0 && w == c->words,
                  "normalise case %zu shift %zu: got %zu bytes, %u words", i, shift, m, w);
            if (shift == 0) {
                if (m != c->out.n || memcmp(out, c->out.s, m) != 0) {
                    fprintf(stderr, "  got '");
                    show(out, m);
                    fprintf(stderr, "'\n");
                }
                check_normalised_invariants(c->in.s, c->in.n, out, m, w);
                CHECK(ts_normalise(in + shift, c->in.n, out, NULL) == m, "words may be NULL");
            }
            free(in);
            free(out);
        }
    }
}

/* Random text from pieces that matter (all valid UTF-8), compared with a
 * character-at-a-time reference written from the definition. */
static const char *const pieces[] = {
    " ", "  ", "\t", "\n", "\r\n", "\x00", "\v", "\f", "a", "b", "word", "The", "AI", ",", ".",
    "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x85", "\xe2\x80\x8a", "\xe2\x80\xa8",
    "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80", "\xe2\x80\x98", "\xe2\x80\x99",
    "\xe2\x80\x9c", "\xe2\x80\x9d", "\xef\xbc\x82", "\xef\xbc\x87", "\xe2\x80\x93", "\xe2\x80\x94",
    "\xe2\x88\x92", "\xef\xb9\x98", "\xef\xbc\x8d", "\xc2\xad", "\xe2\x80\x8b", "\xe2\x80\x8d",
    "\xe2\x81\xa0", "\xef\xbb\xbf", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe4\xb8\xad",
    "\x01", "\x7f", "abcdefghijklmnop", "the machine will not be shut down ",
};

typedef struct ref_map {
    const char *from;
    char to; /* ' ' space, 0 removed, else the replacement */
} ref_map;

static const ref_map ref_maps[] = {
    { "\xc2\x85", ' ' }, { "\xc2\xa0", ' ' }, { "\xe1\x9a\x80", ' ' }, { "\xe2\x80\x80", ' ' },
    { "\xe2\x80\x81", ' ' }, { "\xe2\x80\x82", ' ' }, { "\xe2\x80\x83", ' ' }, { "\xe2\x80\x84", ' ' },
    { "\xe2\x80\x85", ' ' }, { "\xe2\x80\x86", ' ' }, { "\xe2\x80\x87", ' ' }, { "\xe2\x80\x88", ' ' },
    { "\xe2\x80\x89", ' ' }, { "\xe2\x80\x8a", ' ' }, { "\xe2\x80\xa8", ' ' }, { "\xe2\x80\xa9", ' ' },
    { "\xe2\x80\xaf", ' ' }, { "\xe2\x81\x9f", ' ' }, { "\xe3\x80\x80", ' ' },
    { "\xe2\x80\x98", '\'' }, { "\xe2\x80\x99", '\'' }, { "\xe2\x80\x9a", '\'' }, { "\xe2\x80\x9b", '\'' },
    { "\xe2\x80\xb2", '\'' }, { "\xef\xbc\x87", '\'' },
    { "\xe2\x80\x9c", '"' }, { "\xe2\x80\x9d", '"' }, { "\xe2\x80\x9e", '"' }, { "\xe2\x80\x9f", '"' },
    { "\xe2\x80\xb3", '"' }, { "\xef\xbc\x82", '"' },
    { "\xe2\x80\x90", '-' }, { "\xe2\x80\x91", '-' }, { "\xe2\x80\x92", '-' }, { "\xe2\x80\x93", '-' },
    { "\xe2\x80\x94", '-' }, { "\xe2\x80\x95", '-' }, { "\xe2\x88\x92", '-' }, { "\xef\xb9\x98", '-' },
    { "\xef\xb9\xa3", '-' }, { "\xef\xbc\x8d", '-' },
    { "\xc2\xad", 0 }, { "\xe2\x80\x8b", 0 }, { "\xe2\x80\x8c", 0 }, { "\xe2\x80\x8d", 0 },
    { "\xe2\x81\xa0", 0 }, { "\xef\xbb\xbf", 0 },
};

/* Reference for valid UTF-8: map characters, then collapse spaces. */
static size_t ref_normalise(const char *s, size_t n, char *out)
{
    char *tmp = malloc(n + 1);
    size_t t = 0;
    for (size_t i = 0; i < n;) {
        int done = 0;
        for (size_t k = 0; k < sizeof(ref_maps) / sizeof(ref_maps[0]); k++) {
            size_t l = strlen(ref_maps[k].from);
            if (n - i >= l && memcmp(s + i, ref_maps[k].from, l) == 0) {
                if (ref_maps[k].to)
                    tmp[t++] = ref_maps[k].to;
                i += l;
                done = 1;
                break;
            }
        }
        if (done)
            continue;
        char c = s[i++];
        tmp[t++] = strchr(" \t\n\r\f\v", c) && c ? ' ' : c == 0 ? ' ' : c;
    }
    size_t m = 0;
    for (size_t i = 0; i < t; i++) {
        if (tmp[i] == ' ' && (m == 0 || out[m - 1] == ' '))
            continue;
        out[m++] = tmp[i];
    }
    if (m && out[m - 1] == ' ')
        m--;
    free(tmp);
    return m;
}

static void test_normalise_random(void)
{
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    char in[4096], out[4096], ref[4096];
    size_t npieces = sizeof(pieces) / sizeof(pieces[0]);
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 0;
        size_t want = (size_t)(iter % 300);
        while (n < want) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            const char *p = pieces[rng % npieces];
            size_t l = p[0] ? strlen(p) : 1;
            if (n + l > sizeof(in))
                break;
            memcpy(in + n, p, l);
            n += l;
        }
        uint32_t w;
        size_t m = ts_normalise(in, n, out, &w);
        size_t r = ref_normalise(in, n, ref);
        CHECK(m == r && memcmp(out, ref, m) == 0, "random %d differs from the reference", iter);
        if (m != r || memcmp(out, ref, m) != 0) {
            fprintf(stderr, "  in  '");
            show(in, n);
            fprintf(stderr, "'\n  out '");
            show(out, m);
            fprintf(stderr, "'\n  ref '");
            show(ref, r);
            fprintf(stderr, "'\n");
            break;
        }
        check_normalised_invariants(in, n, out, m, w);
    }
}

int main(void)
{
    test_extract_table();
    test_error_offsets();
    test_prefixes();
    test_nested_paths();
    test_depth();
    test_long_strings();
    test_decode();
    test_extract_decode();
    test_escape();
    test_normalise_table();
    test_normalise_random();
    for (int e = 0; e >= JSON_E_EMPTY; e--)
        CHECK(strcmp(json_error_name(e), "unknown") != 0, "error %d has no name", e);
    CHECK(strcmp(json_error_name(JSON_E_SURROGATE), "lone_surrogate") == 0, "name");
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
