/* Prints the size and field offsets of the public structs that the Python
 * binding (python/tropescan, ctypes) mirrors, so that test_abi.py can check
 * the mirrors against the header: a field added in C and not in Python makes
 * the library write past Python's buffer. (The fields listed are the
 * mirrors'; a mirror's field missing from C fails to compile here.) */
#include <stddef.h>
#include <stdio.h>

#include "tropescan.h"

int main(void)
{
    printf("ts_diag %zu\n", sizeof(ts_diag));
    printf("ts_diag.file %zu\n", offsetof(ts_diag, file));
    printf("ts_diag.line %zu\n", offsetof(ts_diag, line));
    printf("ts_diag.offset %zu\n", offsetof(ts_diag, offset));
    printf("ts_diag.message %zu\n", offsetof(ts_diag, message));
    printf("ts_hit %zu\n", sizeof(ts_hit));
    printf("ts_hit.start %zu\n", offsetof(ts_hit, start));
    printf("ts_hit.end %zu\n", offsetof(ts_hit, end));
    printf("ts_hit.pattern %zu\n", offsetof(ts_hit, pattern));
    printf("ts_hit.category %zu\n", offsetof(ts_hit, category));
    printf("ts_hit.anchored %zu\n", offsetof(ts_hit, anchored));
    printf("ts_matches %zu\n", sizeof(ts_matches));
    printf("ts_matches.ncategories %zu\n", offsetof(ts_matches, ncategories));
    printf("ts_matches.raw %zu\n", offsetof(ts_matches, raw));
    printf("ts_matches.anchored %zu\n", offsetof(ts_matches, anchored));
    printf("ts_matches.nhits %zu\n", offsetof(ts_matches, nhits));
    printf("ts_matches.hits %zu\n", offsetof(ts_matches, hits));
    printf("ts_window %zu\n", sizeof(ts_window));
    printf("ts_window.start %zu\n", offsetof(ts_window, start));
    printf("ts_window.end %zu\n", offsetof(ts_window, end));
    printf("ts_window.score %zu\n", offsetof(ts_window, score));
    printf("ts_window.aligned %zu\n", offsetof(ts_window, aligned));
    printf("ts_doc_score %zu\n", sizeof(ts_doc_score));
    printf("ts_doc_score.score %zu\n", offsetof(ts_doc_score, score));
    printf("ts_doc_score.aligned %zu\n", offsetof(ts_doc_score, aligned));
    printf("ts_doc_score.margin %zu\n", offsetof(ts_doc_score, margin));
    printf("ts_doc_score.fast_path %zu\n", offsetof(ts_doc_score, fast_path));
    printf("ts_doc_score.words %zu\n", offsetof(ts_doc_score, words));
    printf("ts_doc_score.matches %zu\n", offsetof(ts_doc_score, matches));
    printf("ts_doc_score.nwindows %zu\n", offsetof(ts_doc_score, nwindows));
    printf("ts_doc_score.windows %zu\n", offsetof(ts_doc_score, windows));
    printf("ts_doc_score.best %zu\n", offsetof(ts_doc_score, best));
    printf("ts_doc_score.gated %zu\n", offsetof(ts_doc_score, gated));
    printf("ts_pattern_info %zu\n", sizeof(ts_pattern_info));
    printf("ts_pattern_info.category %zu\n", offsetof(ts_pattern_info, category));
    printf("ts_pattern_info.text %zu\n", offsetof(ts_pattern_info, text));
    printf("ts_pattern_info.file %zu\n", offsetof(ts_pattern_info, file));
    printf("ts_pattern_info.line %zu\n", offsetof(ts_pattern_info, line));
    printf("ts_pattern_info.weight %zu\n", offsetof(ts_pattern_info, weight));
    printf("ts_manifest_line %zu\n", sizeof(ts_manifest_line));
    printf("ts_manifest_line.line %zu\n", offsetof(ts_manifest_line, line));
    printf("ts_manifest_line.offset %zu\n", offsetof(ts_manifest_line, offset));
    printf("ts_manifest_line.has_id %zu\n", offsetof(ts_manifest_line, has_id));
    printf("ts_manifest_line.id %zu\n", offsetof(ts_manifest_line, id));
    printf("ts_manifest_line.ok %zu\n", offsetof(ts_manifest_line, ok));
    printf("ts_manifest_line.len %zu\n", offsetof(ts_manifest_line, len));
    printf("ts_manifest_line.fp %zu\n", offsetof(ts_manifest_line, fp));
    printf("ts_manifest_line.score %zu\n", offsetof(ts_manifest_line, score));
    printf("ts_manifest_line.aligned %zu\n", offsetof(ts_manifest_line, aligned));
    printf("ts_manifest_line.action %zu\n", offsetof(ts_manifest_line, action));
    printf("ts_manifest_line.weight %zu\n", offsetof(ts_manifest_line, weight));
    printf("ts_manifest_line.error %zu\n", offsetof(ts_manifest_line, error));
    printf("ts_manifest_line.tropes %zu\n", offsetof(ts_manifest_line, tropes));
    printf("ts_manifest_line.tropes_len %zu\n", offsetof(ts_manifest_line, tropes_len));
    printf("ts_manifest_line.spans %zu\n", offsetof(ts_manifest_line, spans));
    printf("ts_manifest_line.spans_len %zu\n", offsetof(ts_manifest_line, spans_len));
    printf("ts_manifest_line.anchored %zu\n", offsetof(ts_manifest_line, anchored));
    printf("ts_manifest_line.anchored_len %zu\n", offsetof(ts_manifest_line, anchored_len));
    return 0;
}
