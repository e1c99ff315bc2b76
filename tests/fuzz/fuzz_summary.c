/*
 * fuzz_summary.c: libFuzzer target for the summary reader (src/lib/stats.c:
 * ts_summary_parse, jansson and our checks) as tropescan report uses it
 * (src/cli/report_load.c: report_check_summary), on a summary.json that may
 * be truncated, edited or someone else's.
 *
 * The input is the file's bytes. Checks, beyond "does not crash or leak":
 * a summary that is accepted has consistent counts (every document read or
 * an error, no more trope documents than read ones, the actions adding up
 * to the documents), which is what the report's shares divide by.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    report r;
    dataset d;
    memset(&r, 0, sizeof r);
    memset(&d, 0, sizeof d);
    d.dir = (char *)"fuzz";
    d.summary_path = (char *)"fuzz/summary.json";
    if (report_check_summary(&r, &d, (const char *)data, size) == 0) {
        uint64_t nact = 0;
        for (int a = 0; a < REPORT_ACTIONS; a++)
            nact += d.actions[a];
        if (nact != d.documents || d.ok + d.errors != d.documents)
            abort();
        for (size_t c = 0; c < r.ncats; c++)
            if (d.trope_docs[c] > d.ok)
                abort();
    }
    report_dataset_release(&d);   /* frees the parsed summary */
    free(d.name);
    for (size_t c = 0; c < r.ncats; c++)
        free(r.cats[c]);
    for (size_t i = 0; i < r.nwarnings; i++)
        free(r.warnings[i]);
    free(r.warnings);
    return 0;
}
