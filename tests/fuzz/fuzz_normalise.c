/*
 * fuzz_normalise.c: libFuzzer target for ts_normalise.
 *
 * Checks, for any bytes: the output is no longer than the input, has no
 * leading, trailing or doubled space, the word count matches the output, and
 * normalising the output again changes nothing (idempotence).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tropescan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly-sized buffers so ASan sees any write past the end. */
    char *out = malloc(size ? size : 1);
    if (!out)
        abort();
    uint32_t words = 0;
    size_t n = ts_normalise((const char *)data, size, out, &words);
    if (n > size)
        abort();
    if (n && (out[0] == ' ' || out[n - 1] == ' '))
        abort();
    uint32_t counted = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == ' ' && i && out[i - 1] == ' ')
            abort();
        if (out[i] != ' ' && (i == 0 || out[i - 1] == ' '))
            counted++;
    }
    if (counted != words)
        abort();

    char *again = malloc(n ? n : 1);
    if (!again)
        abort();
    uint32_t words2 = 0;
    size_t n2 = ts_normalise(out, n, again, &words2);
    if (n2 != n || memcmp(again, out, n) != 0 || words2 != words)
        abort();
    free(again);
    free(out);
    return 0;
}
