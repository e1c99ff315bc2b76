/*
 * test_summary.c: summary.json read back (src/lib/stats.c) and merged.
 *   - two runs over halves of the inputs merge into the counts of one run
 *     over all of them, exactly; every shard listed once;
 *   - runs with other options, or a shard in two runs, are refused;
 *   - a cut summary, or one whose counts were edited, is refused;
 *   - a Latin-1 file name gives valid UTF-8 JSON that reads back.
 */
#include "scanrun.h"

static ts_summary *load(const char *dir)
{
    char p[700];
    snprintf(p, sizeof p, "%s/summary.json", dir);
    ts_summary *s = NULL;
    ts_diag d;
    int err = ts_summary_load(p, &s, &d);
    if (err)
        fprintf(stderr, "%s: %s\n", p, d.message);
    CHECK(err == TS_OK);
    return s;
}

int main(void)
{
    make_tmpdir("summary");
    ts_lexicon *lex = small_lexicon();
    char names[6][600];
    const char *paths[6];
    for (int i = 0; i < 6; i++) {
        char nm[32], buf[4096];
        size_t n = 0;
        for (int k = 0; k <= i; k++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", doc_lines);
        snprintf(nm, sizeof nm, "in%d.jsonl", i);
        snprintf(names[i], sizeof names[i], "%s", write_file(nm, buf, n));
        paths[i] = names[i];
    }
    char all[600], a[600], b[600], other[600];
    snprintf(all, sizeof all, "%s/all", tmpdir);
    snprintf(a, sizeof a, "%s/a", tmpdir);
    snprintf(b, sizeof b, "%s/b", tmpdir);
    snprintf(other, sizeof other, "%s/other", tmpdir);
    CHECK(scan_into(lex, all, paths, 6, "x", -1) == TS_OK);
    CHECK(scan_into(lex, a, paths, 3, "a", -1) == TS_OK);
    CHECK(scan_into(lex, b, paths + 3, 3, "b", -1) == TS_OK);
    CHECK(scan_into(lex, other, paths + 3, 3, "b", 0.9) == TS_OK);
    ts_summary *sall = load(all), *sa = load(a), *sb = load(b), *so = load(other);
    if (!sall || !sa || !sb || !so)
        return 1;

    const ts_summary *two[2] = {sa, sb};
    ts_summary *m = NULL;
    ts_diag d;
    CHECK(ts_summary_merge(two, 2, &m, &d) == TS_OK);
    if (m) {
        ts_summary_counts x, y;
        ts_summary_totals(m, &x);
        ts_summary_totals(sall, &y);
        CHECK(!memcmp(&x, &y, sizeof x));
        CHECK(x.stats.docs == 21 * 6 && x.stats.ok == 9 * 7);
        CHECK(ts_summary_nshards(m) == 6);
        for (size_t i = 0; i < 6; i++)
            CHECK(!strcmp(ts_summary_shard_input(m, i), paths[i]));
        /* The merge dumps as a summary that reads back to the same counts. */
        char *text;
        size_t len;
        CHECK(ts_summary_dump(m, &text, &len) == TS_OK);
        ts_summary *again = NULL;
        CHECK(ts_summary_parse(text, len, &again, &d) == TS_OK);
        if (again) {
            ts_summary_totals(again, &y);
            CHECK(!memcmp(&x, &y, sizeof x));
            ts_summary_free(again);
        }
        free(text);
        ts_summary_free(m);
    }
    /* Other options: refused, naming what differs. */
    const ts_summary *mixed[2] = {sa, so};
    CHECK(ts_summary_merge(mixed, 2, &m, &d) == TS_E_MISMATCH && strstr(d.message, "options"));
    /* A shard in two runs would count twice. */
    const ts_summary *twice[2] = {sa, sa};
    CHECK(ts_summary_merge(twice, 2, &m, &d) == TS_E_INVALID);

    /* Damaged summaries. */
    char p[700];
    snprintf(p, sizeof p, "%s/summary.json", all);
    size_t len;
    char *text = read_file(p, &len);
    ts_summary *bad = NULL;
    CHECK(ts_summary_parse(text, len / 2, &bad, &d) == TS_E_FORMAT && bad == NULL);
    char *edit = strstr(text, "\"ok\": ");
    CHECK(edit != NULL);
    if (edit) {
        edit[6] = edit[6] == '9' ? '8' : '9';
        CHECK(ts_summary_parse(text, len, &bad, &d) == TS_E_FORMAT && bad == NULL);
    }
    free(text);

    /* A Latin-1 file name: valid UTF-8 in the file, read back as U+00E9. */
    const char *lat = write_file("caf\xe9.jsonl", doc_lines, strlen(doc_lines));
    char lout[600];
    snprintf(lout, sizeof lout, "%s/latin1", tmpdir);
    CHECK(scan_into(lex, lout, &lat, 1, "l", -1) == TS_OK);
    ts_summary *sl = load(lout);
    if (sl) {
        CHECK(strstr(ts_summary_shard_input(sl, 0), "caf\xc3\xa9.jsonl") != NULL);
        ts_summary_free(sl);
    }

    ts_summary_free(sall);
    ts_summary_free(sa);
    ts_summary_free(sb);
    ts_summary_free(so);
    ts_lexicon_free(lex);
    remove_tmpdir();
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    return failures != 0;
}
