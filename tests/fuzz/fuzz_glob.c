/*
 * fuzz_glob.c: libFuzzer target for the globs of scan's --glob / --exclude
 * (src/cli/glob.c), which parse user patterns against file names.
 *
 * The input is PATTERN NUL NAME (no NUL: the whole input is the pattern and
 * the name is "a/b.jsonl"). Checks, beyond "does not crash" and "does not
 * take exponential time" (libFuzzer's -timeout):
 *   - every character of the name escaped with '\' is a glob that matches
 *     the name's last component, and "*" matches it too;
 *   - the answer is the same when asked twice (no state leaks between calls).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t plen = nul ? (size_t)(nul - data) : size;
    char *pat = malloc(plen + 1);
    const char *name_src = nul ? (const char *)nul + 1 : "a/b.jsonl";
    size_t nlen = nul ? strnlen(name_src, size - plen - 1) : strlen(name_src);
    char *name = malloc(nlen + 1);
    char *esc = malloc(2 * nlen + 1);
    if (!pat || !name || !esc)
        abort();
    memcpy(pat, data, plen);
    pat[plen] = '\0';
    memcpy(name, name_src, nlen);
    name[nlen] = '\0';

    int hit = cli_glob_match(pat, name);
    if (cli_glob_match(pat, name) != hit)
        abort();

    /* The last component, escaped character by character. */
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t k = 0;
    for (const char *c = base; *c; c++) {
        esc[k++] = '\\';
        esc[k++] = *c;
    }
    esc[k] = '\0';
    if (!cli_glob_match(esc, name))
        abort();
    if (!cli_glob_match("*", name))
        abort();
    free(esc);
    free(name);
    free(pat);
    return 0;
}
