/* scanrun.h: a small lexicon and a scan run, for the readers' tests. */
#ifndef TS_TEST_SCANRUN_H
#define TS_TEST_SCANRUN_H

#include "check.h"
#include "tropescan.h"

static ts_lexicon *small_lexicon(void)
{
    ts_lexicon *lex;
    ts_diag d;
    const char ent[] = "robot(s|)\n", sr[] = "refused to shut down\n";
    if (ts_lexicon_create(&lex) || ts_lexicon_add_text(lex, "ai_entity", "ai_entity.txt", ent, sizeof ent - 1, &d) ||
        ts_lexicon_add_text(lex, "shutdown_resistance", "sr.txt", sr, sizeof sr - 1, &d) ||
        ts_lexicon_compile(lex, &d)) {
        fprintf(stderr, "lexicon: %s\n", d.message);
        exit(2);
    }
    return lex;
}

/* Scans paths (named by prefix and index) into outdir with the scan's own
 * step and writes the summary. @return TS_OK or the error. */
static int scan_into(const ts_lexicon *lex, const char *outdir, const char *const *paths, size_t n,
                     const char *prefix, double drop_above)
{
    ts_run_settings s;
    ts_run_settings_default(&s);
    s.outdir = outdir;
    s.threads = 2;
    s.chunk_size = 4096;
    s.policy.drop_above = drop_above;
    ts_run *r;
    ts_diag d;
    int err = ts_run_create(&s, lex, NULL, &r, &d);
    for (size_t i = 0; !err && i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%zu", prefix, i);
        err = ts_run_add_input(r, paths[i], name);
    }
    if (!err)
        err = ts_run_prepare(r, NULL, &d);
    if (!err)
        err = ts_run_execute(r, &d);
    if (!err)
        err = ts_run_write_summary(r, 1.0, &d);
    if (err)
        fprintf(stderr, "scan_into %s: %s (%s)\n", outdir, d.message, ts_strerror(err));
    ts_run_free(r);
    return err;
}

static const char *doc_lines =
    "{\"id\":\"a\",\"text\":\"the robot refused to shut down\"}\n"
    "\n"
    "{\"id\":\"b\",\"text\":\"a garden\"}\n"
    "not json\n"
    "{\"id\":\"c\\u00e9\",\"text\":\"robots, robots\"}\n"
    "{\"text\":5}\n";

#endif
