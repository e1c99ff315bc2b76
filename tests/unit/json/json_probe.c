/*
 * json_probe.c: the C side of the differential test (json_diff.py).
 *
 * Usage: json_probe TEXT_PATH [OTHER_PATH...] < lines
 * For each line of standard input (split at '\n' only; the line is given to
 * json_extract without it) prints one line:
 *   err <error name>                      the line, or the decoding of the
 *                                         first field, failed
 *   ok <first> <other>...                 otherwise
 * where <first> is "s:<hex of the decoded string>" when the first field is a
 * string, and every other field (and a non-string first field) is its kind:
 * missing, string, number or other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const char *kind_name(json_kind k)
{
    switch (k) {
    case JSON_MISSING: return "missing";
    case JSON_STRING: return "string";
    case JSON_NUMBER: return "number";
    default: return "other";
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc - 1 > 16) {
        fprintf(stderr, "usage: json_probe TEXT_PATH [OTHER_PATH...] < lines\n");
        return 2;
    }
    size_t npaths = (size_t)(argc - 1);
    json_path paths[16];
    for (size_t i = 0; i < npaths; i++) {
        if (json_path_parse(argv[i + 1], &paths[i]) != 0) {
            fprintf(stderr, "json_probe: bad path '%s'\n", argv[i + 1]);
            return 2;
        }
    }
    char *line = NULL;
    size_t cap = 0;
    char *dec = NULL;
    size_t dec_cap = 0;
    ssize_t n;
    static const char hex[] = "0123456789abcdef";
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        json_field f[16];
        size_t off;
        int rc = json_extract(line, len, paths, npaths, f, &off);
        if (rc) {
            printf("err %s\n", json_error_name(rc));
            continue;
        }
        if (f[0].kind == JSON_STRING) {
            if (dec_cap < f[0].raw_len + 1) {
                dec_cap = f[0].raw_len + 1;
                dec = realloc(dec, dec_cap);
                if (!dec)
                    return 3;
            }
            ptrdiff_t d = json_string_decode(f[0].raw, f[0].raw_len, dec, &off);
            if (d < 0) {
                printf("err %s\n", json_error_name((int)d));
                continue;
            }
            fputs("ok s:", stdout);
            for (ptrdiff_t i = 0; i < d; i++) {
                unsigned char c = (unsigned char)dec[i];
                putchar(hex[c >> 4]);
                putchar(hex[c & 15]);
            }
        } else {
            printf("ok %s", kind_name(f[0].kind));
        }
        for (size_t i = 1; i < npaths; i++)
            printf(" %s", kind_name(f[i].kind));
        putchar('\n');
    }
    free(line);
    free(dec);
    return 0;
}
