/*
 * fuzz_normalise.c: libFuzzer target for ts_normalise, ts_normalise_breaks
 * and ts_normalise_map.
 *
 * Checks, for any bytes: the output is no longer than the input, has no
 * leading, trailing or doubled space, the word count matches the output, and
 * normalising the output again changes nothing (idempotence). With breaks:
 * the same text, breaks ascending, each on a space of the output and within
 * len / 2 + 2 entries. The offset map: every word of the output maps back to
 * a source range that normalises to that word.
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

    char *out2 = malloc(size ? size : 1);
    uint32_t *breaks = malloc((size / 2 + 2) * sizeof *breaks);
    if (!out2 || !breaks)
        abort();
    size_t nbreaks = 0;
    size_t n3 = ts_normalise_breaks((const char *)data, size, out2, NULL, breaks, size / 2 + 2, &nbreaks);
    if (n3 != n || memcmp(out2, out, n) != 0 || nbreaks > size / 2 + 2)
        abort();
    for (size_t i = 0; i < nbreaks; i++)
        if (breaks[i] >= n || out[breaks[i]] != ' ' || (i && breaks[i] <= breaks[i - 1]))
            abort();
    free(breaks);

    /* Word ranges of the output, mapped back (starts and ends each ascend). */
    uint64_t *st = malloc((words + 1) * sizeof *st), *en = malloc((words + 1) * sizeof *en);
    if (!st || !en)
        abort();
    size_t nw = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && out[j] != ' ')
            j++;
        st[nw] = i;
        en[nw] = j;
        nw++;
        i = j + 1;
    }
    uint64_t *ms = malloc((nw + 1) * sizeof *ms), *me = malloc((nw + 1) * sizeof *me);
    if (!ms || !me)
        abort();
    memcpy(ms, st, nw * sizeof *st);
    memcpy(me, en, nw * sizeof *en);
    ts_normalise_map((const char *)data, size, ms, nw, 0);
    ts_normalise_map((const char *)data, size, me, nw, 1);
    for (size_t w = 0; w < nw; w++) {
        if (ms[w] > me[w] || me[w] > size)
            abort();
        size_t wl = ts_normalise((const char *)data + ms[w], me[w] - ms[w], out2, NULL);
        if (wl != en[w] - st[w] || memcmp(out2, out + st[w], wl) != 0)
            abort();
    }
    free(st);
    free(en);
    free(ms);
    free(me);
    free(out2);
    free(out);
    return 0;
}
