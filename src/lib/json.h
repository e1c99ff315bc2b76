/*
 * json.h: a focused, validating JSON field extractor for JSONL documents.
 *
 * One pass over a line validates it as one JSON object (RFC 8259, UTF-8) and
 * locates the values of a few wanted fields, by dotted path, without building a
 * tree (simdjson's On-Demand idea). String values are left undecoded; the
 * caller decodes the ones it needs with json_string_decode. No C JSON library
 * in Debian 12 streams at this speed, hence this file.
 *
 * Semantics, chosen to agree with Python's json module (the differential
 * test's oracle) on every line that is valid RFC 8259 JSON:
 *   - the line must be one object, with optional white space (space, tab, CR,
 *     LF) around it; anything else is an error;
 *   - duplicate keys: the last one wins;
 *   - strict RFC 8259: no NaN/Infinity, no leading zeros, no raw control
 *     characters in strings, no invalid UTF-8 anywhere in the line;
 *   - \uXXXX escapes are checked for four hex digits by json_extract; lone
 *     surrogates are reported only by json_string_decode (they are legal JSON
 *     text but cannot be UTF-8), so they fail only the fields that are decoded;
 *   - nesting deeper than JSON_MAX_DEPTH is an error (a limit, not a crash).
 */
#ifndef TS_JSON_H
#define TS_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_PATH_MAX 8     /* segments in a dotted path */
#define JSON_MAX_DEPTH 64   /* nesting of objects and arrays */
#define JSON_MAX_PATHS 64   /* paths per call; out[i] for i >= 64 stays JSON_MISSING */

typedef struct json_path {
    int depth;                         /* number of segments */
    const char *key[JSON_PATH_MAX];    /* points into the string given to json_path_parse */
    size_t len[JSON_PATH_MAX];
} json_path;

/* Splits "a.b.c" into segments. @return 0, or -1 for an empty segment or too many. */
int json_path_parse(const char *dotted, json_path *out);

typedef enum json_kind {
    JSON_MISSING = 0,   /* the path is absent (or crosses a non-object) */
    JSON_STRING,        /* raw is the body between the quotes, undecoded */
    JSON_NUMBER,        /* raw is the literal */
    JSON_OTHER,         /* true, false, null, object or array; raw is the value's text */
} json_kind;

typedef struct json_field {
    json_kind kind;
    const char *raw;
    size_t raw_len;
    int has_escapes;    /* strings only: 1 if the body holds a backslash */
} json_field;

typedef enum json_error {
    JSON_OK = 0,
    JSON_E_SYNTAX = -1,       /* unexpected character */
    JSON_E_UNTERMINATED = -2, /* the line ends inside a string or value */
    JSON_E_CONTROL = -3,      /* raw control character (< 0x20) in a string */
    JSON_E_ESCAPE = -4,       /* invalid escape sequence */
    JSON_E_UTF8 = -5,         /* invalid UTF-8 */
    JSON_E_DEPTH = -6,        /* nesting deeper than JSON_MAX_DEPTH */
    JSON_E_NOT_OBJECT = -7,   /* valid JSON, but not an object */
    JSON_E_TRAILING = -8,     /* something after the object */
    JSON_E_SURROGATE = -9,    /* lone or reversed surrogate (json_string_decode only) */
    JSON_E_NUMBER = -10,      /* malformed number */
    JSON_E_EMPTY = -11,       /* nothing but white space */
} json_error;

/* @return a short stable name for an error ("syntax", "unterminated", ...),
 * used as the manifest's error kind. */
const char *json_error_name(int err);

/*
 * Validates `line` (len bytes, no terminating newline needed; NUL bytes are
 * ordinary bytes, and thus errors) as one JSON object and fills out[i] for
 * paths[i].
 * @return JSON_OK or a negative json_error; *err_offset gets the byte offset
 * in the line where the error was found. On error every out[i] is reset to
 * JSON_MISSING.
 */
int json_extract(const char *line, size_t len, const json_path *paths, size_t npaths,
                 json_field *out, size_t *err_offset);

/*
 * Decodes a string body (as found by json_extract) into dst, which must hold
 * raw_len bytes (decoding never grows). Handles every escape, including
 * \uXXXX with surrogate pairs. dst may be raw itself (decoding in place).
 * @return the decoded length (>= 0), or JSON_E_SURROGATE / JSON_E_ESCAPE with
 * *err_offset set to the offset within raw.
 */
ptrdiff_t json_string_decode(const char *raw, size_t raw_len, char *dst, size_t *err_offset);

/* Appends `src` as a JSON string body (no quotes) to dst, escaping ", \ and
 * control characters; dst must hold 6 * len bytes. @return bytes written. */
size_t json_string_escape(const char *src, size_t len, char *dst);

#endif /* TS_JSON_H */
