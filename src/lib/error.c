/* error.c: texts for the TS_E_* codes and diagnostics. */
#include <stdint.h>
#include <string.h>

#include "tropescan.h"

const char *ts_strerror(int err)
{
    switch (err) {
    case TS_OK: return "success";
    case TS_E_NOMEM: return "out of memory";
    case TS_E_IO: return "input/output error";
    case TS_E_INVALID: return "invalid argument";
    case TS_E_FORMAT: return "unrecognised file format";
    case TS_E_LEXICON: return "lexicon error";
    case TS_E_HYPERSCAN: return "Hyperscan error";
    case TS_E_MODEL: return "invalid model";
    case TS_E_CHECKSUM: return "checksum mismatch (corrupt data)";
    case TS_E_TRUNCATED: return "truncated input";
    case TS_E_MISMATCH: return "model and lexicon do not match";
    case TS_E_DECOMPRESS: return "corrupt compressed data";
    case TS_E_LIMIT: return "limit exceeded";
    default: return "unknown error";
    }
}

void ts_diag_clear(ts_diag *diag)
{
    if (!diag)
        return;
    diag->file[0] = '\0';
    diag->line = 0;
    diag->offset = UINT64_MAX;
    diag->message[0] = '\0';
}
