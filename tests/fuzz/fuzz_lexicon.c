/*
 * fuzz_lexicon.c: arbitrary bytes as a lexicon file. Adding and compiling
 * must never crash (errors are fine); a lexicon that compiles is then used to
 * scan the same bytes, with and without spans, so the matcher sees every
 * pattern the compiler accepts.
 *
 * The first byte picks the category name and options, so one corpus covers
 * ai_entity, a trope category and both of them together (anchoring).
 *
 * Build with libFuzzer:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Isrc/lib \
 *       tests/fuzz/fuzz_lexicon.c src/lib/lexicon.c src/lib/matcher.c src/lib/error.c \
 *       BUILD/src/lib/libtropescan.a.p/meson-generated_.._default_lexicon.c.o -lhs -lm
 * Without libFuzzer, define FUZZ_MAIN to get a replay driver that runs the
 * files named on the command line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tropescan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Hyperscan compile time grows with pattern size; long inputs only slow
     * the fuzzer down without reaching new code. */
    if (size > 4096)
        return 0;
    unsigned mode = size ? data[0] : 0;
    const char *text = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;

    ts_lexicon *lex = NULL;
    ts_diag diag;
    if (ts_lexicon_create(&lex))
        return 0;
    int rc = ts_lexicon_add_text(lex, mode & 1 ? "ai_entity" : "deception", "fuzz.txt", text, len, &diag);
    if (!rc && (mode & 2))
        rc = ts_lexicon_add_text(lex, "harm_to_humans", "fuzz2.txt", "kill all humans\n", 16, &diag);
    if (!rc && (mode & 4))
        rc = ts_lexicon_add_text(lex, "ai_entity", "fuzz3.txt", "robot(s|)\n", 10, &diag);
    if (rc) {
        /* A diag must always be a terminated string naming the file. */
        if (!memchr(diag.message, '\0', sizeof diag.message) || !memchr(diag.file, '\0', sizeof diag.file))
            abort();
        ts_lexicon_free(lex);
        return 0;
    }
    (void)ts_lexicon_id(lex);
    rc = ts_lexicon_compile(lex, &diag);
    if (!rc) {
        for (int spans = 0; spans < 2; spans++) {
            if (spans && !(mode & 8))
                break;   /* the start-of-match database is slow to build: not every time */
            ts_matcher *m = NULL;
            if (ts_matcher_create(lex, spans, mode >> 4, &m))
                continue;
            ts_matches r;
            if (!ts_matcher_scan(m, text, len, &r)) {
                uint64_t sum = 0;
                for (uint32_t c = 0; c < r.ncategories; c++) {
                    if (r.anchored[c] > r.raw[c])
                        abort();
                    sum += r.raw[c];
                }
                if (sum != r.nhits)
                    abort();
                for (size_t i = 0; i < r.nhits; i++)
                    if (r.hits[i].end > len || r.hits[i].start > r.hits[i].end ||
                        (i && r.hits[i - 1].end > r.hits[i].end))
                        abort();
            }
            ts_matcher_free(m);
        }
        for (uint32_t i = 0; i < ts_lexicon_npatterns(lex); i++) {
            ts_pattern_info pi;
            if (ts_lexicon_pattern(lex, i, &pi) || pi.category >= ts_lexicon_ncategories(lex))
                abort();
        }
    }
    ts_lexicon_free(lex);
    return 0;
}

#ifdef FUZZ_MAIN
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        static uint8_t buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    return 0;
}
#endif
