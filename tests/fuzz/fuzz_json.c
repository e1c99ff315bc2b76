/*
 * fuzz_json.c: libFuzzer target for the JSON field extractor.
 *
 * The input is one JSONL line. Checks, beyond "does not crash":
 *   - fields found by json_extract lie inside the line;
 *   - a decoded string field is valid UTF-8 (extract validated the raw bytes
 *     and escapes can only make valid UTF-8), and escaping it and extracting
 *     it again from {"text":"..."} gives back the same bytes;
 *   - escape->decode gives back any input bytes, and {"text":"<escaped>"} is
 *     accepted exactly when the input is valid UTF-8 (checked against a
 *     separate, slow validator written here from the definition).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Valid UTF-8 by the definition: decode each code point, then reject
 * overlongs, surrogates and anything above U+10FFFF. */
static int slow_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Wraps `body` (n bytes) as {"text":"<escaped body>"} and extracts it.
 * @return json_extract's result; the decoded field in dec, its length in dec_len. */
static int wrap_and_extract(const uint8_t *body, size_t n, char *line, char *dec, size_t *dec_len)
{
    static const char head[] = "{\"text\":\"";
    memcpy(line, head, 9);
    size_t e = json_string_escape((const char *)body, n, line + 9);
    if (e > 6 * n)
        abort();
    memcpy(line + 9 + e, "\"}", 2);
    json_path p;
    json_path_parse("text", &p);
    json_field f;
    size_t off;
    int rc = json_extract(line, 11 + e, &p, 1, &f, &off);
    if (rc)
        return rc;
    if (f.kind != JSON_STRING || f.raw != line + 9 || f.raw_len != e)
        abort();
    ptrdiff_t d = json_string_decode(f.raw, f.raw_len, dec, &off);
    if (d < 0)
        abort(); /* escape never writes a surrogate or a bad escape */
    *dec_len = (size_t)d;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    json_path paths[3];
    json_path_parse("text", &paths[0]);
    json_path_parse("id", &paths[1]);
    json_path_parse("meta.lang", &paths[2]);
    json_field f[3];
    size_t off = 0;
    int rc = json_extract(line, size, paths, 3, f, &off);
    if (rc > 0 || rc < JSON_E_EMPTY || (rc && off > size))
        abort();
    if (rc == 0 && size == 0)
        abort();

    char *wrapped = malloc(6 * size + 16);
    char *dec = malloc(size + 1);
    char *dec2 = malloc(size + 1);
    if (!wrapped || !dec || !dec2)
        abort();

    for (int i = 0; rc == 0 && i < 3; i++) {
        if (f[i].kind == JSON_MISSING)
            continue;
        if (f[i].raw < line || f[i].raw + f[i].raw_len > line + size)
            abort();
        if (f[i].kind != JSON_STRING)
            continue;
        if (!f[i].has_escapes != !memchr(f[i].raw, '\\', f[i].raw_len))
            abort();
        ptrdiff_t d = json_string_decode(f[i].raw, f[i].raw_len, dec, &off);
        if (d < 0) {
            if (d != JSON_E_SURROGATE || off >= f[i].raw_len)
                abort();
            continue;
        }
        if ((size_t)d > f[i].raw_len || !slow_utf8_valid((const uint8_t *)dec, (size_t)d))
            abort();
        size_t n2 = 0;
        if (wrap_and_extract((const uint8_t *)dec, (size_t)d, wrapped, dec2, &n2) != 0)
            abort();
        if (n2 != (size_t)d || memcmp(dec, dec2, n2) != 0)
            abort();
    }

    /* Any bytes: escape -> decode is the identity, and the wrapped line is
     * valid exactly when the bytes are valid UTF-8. */
    size_t n2 = 0;
    int wrc = wrap_and_extract(data, size, wrapped, dec2, &n2);
    int valid = slow_utf8_valid(data, size);
    if (valid != (wrc == 0) || (!valid && wrc != JSON_E_UTF8))
        abort();
    if (wrc == 0 && (n2 != size || memcmp(dec2, data, size) != 0))
        abort();

    /* Decode is robust on any bytes, and never grows. */
    ptrdiff_t d = json_string_decode(line, size, dec, &off);
    if (d > (ptrdiff_t)size || (d < 0 && d != JSON_E_ESCAPE && d != JSON_E_SURROGATE))
        abort();

    free(wrapped);
    free(dec);
    free(dec2);
    return 0;
}
