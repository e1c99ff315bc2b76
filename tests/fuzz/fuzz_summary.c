/*
 * fuzz_summary.c: libFuzzer target for the summary checks of tropescan
 * report (src/cli/report_load.c: report_check_summary), which read a
 * summary.json that may be truncated, edited or someone else's. jansson
 * parses; the checks after it are ours.
 *
 * The input is the file's bytes. Checks, beyond "does not crash or leak":
 * a summary that is accepted has consistent counts (every document read or
 * an error, no more trope documents than read ones, the actions adding up
 * to the documents), which is what the report's shares divide by.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!root)
        return 0;
    report r;
    dataset d;
    memset(&r, 0, sizeof r);
    memset(&d, 0, sizeof d);
    d.dir = (char *)"fuzz";
    d.summary_path = (char *)"fuzz/summary.json";
    if (report_check_summary(&r, &d, root) == 0) {
        uint64_t nact = 0;
        for (int a = 0; a < REPORT_ACTIONS; a++)
            nact += d.actions[a];
        if (nact != d.documents || d.ok + d.errors != d.documents)
            abort();
        for (size_t c = 0; c < r.ncats; c++)
            if (d.trope_docs[c] > d.ok)
                abort();
    }
    report_dataset_release(&d);   /* frees root */
    free(d.name);
    for (size_t c = 0; c < r.ncats; c++)
        free(r.cats[c]);
    for (size_t i = 0; i < r.nwarnings; i++)
        free(r.warnings[i]);
    free(r.warnings);
    return 0;
}
