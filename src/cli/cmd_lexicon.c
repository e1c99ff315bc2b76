/*
 * cmd_lexicon.c: `tropescan lexicon check` (compile the lexicon and say what
 * is in it) and `tropescan lexicon stats` (how many documents of a corpus each
 * pattern hits: the way to find noisy patterns) and `tropescan lexicon cost`
 * (what each pattern and category costs Hyperscan: the way to find slow ones).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lexicon_internal.h"

static const char usage_text[] =
    "usage: tropescan lexicon check [OPTIONS]\n"
    "       tropescan lexicon stats [OPTIONS] FILE...\n"
    "       tropescan lexicon cost [OPTIONS] FILE...\n"
    "\n"
    "check: compile the lexicon; print its id, categories, pattern counts and\n"
    "       database sizes.\n"
    "stats: scan JSONL files (plain, zstd or gzip; - is stdin) and print, per\n"
    "       pattern, the documents it hits, and per category the documents with\n"
    "       any hit and with an anchored hit (near an ai_entity hit).\n"
    "cost:  time Hyperscan on a sample of the files' documents (normalised, held\n"
    "       in memory): the whole lexicon, each category alone and the lexicon\n"
    "       without it, each pattern alone, and the lexicon without each of the\n"
    "       patterns that cost most alone (CPU seconds of one thread, fastest\n"
    "       of 5 runs each, and MB/s of text). A saving is 1 - without / whole,\n"
    "       the whole lexicon timed again right after. A pattern alone pays the\n"
    "       fixed cost of a scan per document (the floor: the cheapest pattern).\n"
    "\n"
    "options:\n"
    "  --lexicon DIR        use the lexicon in DIR instead of the embedded default\n"
    "  --lexicon-add DIR    add the categories/patterns in DIR (repeatable)\n"
    "  --text-field F       the JSON field holding the text (default: text)\n"
    "  --where F=V          stats: only documents whose field F is V (e.g. label=1)\n"
    "  --anchor-words N     stats: anchor window in words (default: 40)\n"
    "  --top N              stats: print only the N patterns hitting most documents\n"
    "  --json               stats: one JSON object on stdout instead of a table\n"
    "  --sample-mb N        cost: MB of text to time on (default: 8)\n"
    "  --leave-out N        cost: also time the lexicon without each of the N\n"
    "                       patterns costliest alone (default: 5; each is a compile)\n"
    "  -h, --help           this help\n";

enum { OPT_TEXT_FIELD = 2000, OPT_WHERE, OPT_ANCHOR, OPT_TOP, OPT_JSON, OPT_SAMPLE_MB, OPT_LEAVE_OUT };

typedef struct pat_stat {
    uint64_t docs;      /* documents with at least one hit */
    uint64_t hits;      /* all hits */
    uint64_t last_doc;  /* the last document counted (1-based), to count each once */
} pat_stat;

typedef struct stats {
    const ts_lexicon *lex;
    pat_stat *pat;
    uint32_t *order;
    uint64_t cat_docs[TS_MAX_CATEGORIES];
    uint64_t cat_anchored[TS_MAX_CATEGORIES];
    uint64_t docs, skipped, errors, bytes;
    /* Documents with a hit (an anchored hit) of any trope: every category
     * but ai_entity (the anchor) and aligned_ai (the counter-trope). */
    uint64_t any_trope, any_anchored;
    int entity, aligned;
} stats;

static int cmp_order(const void *a, const void *b, void *ctx)
{
    const pat_stat *p = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (p[x].docs != p[y].docs)
        return p[x].docs > p[y].docs ? -1 : 1;
    if (p[x].hits != p[y].hits)
        return p[x].hits > p[y].hits ? -1 : 1;
    return x < y ? -1 : x > y;
}

static void json_string(FILE *f, const char *s) { cli_json_print(f, s, strlen(s)); }

static double share(uint64_t n, uint64_t d)
{
    return d ? (double)n / (double)d : 0.0;
}

static int run_check(const ts_lexicon *lex)
{
    /* Also compile the start-of-match database (spans, for explain), which
     * the other commands compile only on demand, so its errors show here. */
    ts_diag diag;
    int err = ts_lexicon_compile_spans(lex, &diag);
    if (err) {
        cli_diag_error(&diag, err);
        return EXIT_FATAL;
    }
    uint32_t per[TS_MAX_CATEGORIES] = {0};
    uint32_t n = ts_lexicon_npatterns(lex);
    for (uint32_t i = 0; i < n; i++) {
        ts_pattern_info pi;
        if (!ts_lexicon_pattern(lex, i, &pi))
            per[pi.category]++;
    }
    printf("lexicon %016" PRIx64 "\n", ts_lexicon_id(lex));
    printf("%-24s %8s\n", "category", "patterns");
    for (uint32_t c = 0; c < ts_lexicon_ncategories(lex); c++)
        printf("%-24s %8" PRIu32 "\n", ts_lexicon_category_name(lex, c), per[c]);
    printf("%-24s %8" PRIu32 "\n", "total", n);
    printf("database %zu bytes (with spans: %zu bytes)\n", ts_lexicon_db_size(lex, 0),
           ts_lexicon_db_size(lex, 1));
    if (ts_lexicon_category_index(lex, "ai_entity") < 0)
        printf("note: no ai_entity category: anchored counts will all be zero\n");
    return EXIT_OK;
}

/* Scans one file into st. @return EXIT_OK, or EXIT_INPUT_FAILED. */
static int scan_file(stats *st, ts_matcher *m, const char *path, const char *text_field,
                     const char *where_field, const char *where_value, char **norm, size_t *normcap)
{
    cli_docs *docs = NULL;
    const char *extra[1] = {where_field};
    if (cli_docs_open(path, text_field, extra, where_field ? 1 : 0, 0, &docs))
        return EXIT_INPUT_FAILED;
    int rc = EXIT_OK, k;
    cli_doc doc;
    char val[256];
    while ((k = cli_docs_next(docs, &doc)) == 1) {
        if (doc.status) {
            if (st->errors++ < 10)
                cli_error("%s:%" PRIu64 ": %s", path, doc.line, doc.error ? doc.error : "bad document");
            rc = EXIT_INPUT_FAILED;
            continue;
        }
        if (where_field && (cli_field_string(&doc.field[0], val, sizeof val) || strcmp(val, where_value))) {
            st->skipped++;
            continue;
        }
        if (doc.len + 1 > *normcap) {
            size_t cap = *normcap ? *normcap : 1 << 16;
            while (cap < doc.len + 1)
                cap *= 2;
            char *p = realloc(*norm, cap);
            if (!p) {
                cli_error("%s:%" PRIu64 ": out of memory", path, doc.line);
                rc = EXIT_INPUT_FAILED;
                break;
            }
            *norm = p;
            *normcap = cap;
        }
        size_t len = ts_normalise(doc.text, doc.len, *norm, NULL);
        ts_matches r;
        int err = ts_matcher_scan(m, *norm, len, &r);
        if (err) {
            if (st->errors++ < 10)
                cli_error("%s:%" PRIu64 ": %s", path, doc.line, ts_strerror(err));
            rc = EXIT_INPUT_FAILED;
            continue;
        }
        uint64_t d = ++st->docs;
        st->bytes += doc.len;
        for (size_t i = 0; i < r.nhits; i++) {
            pat_stat *p = &st->pat[r.hits[i].pattern];
            p->hits++;
            if (p->last_doc != d) {
                p->last_doc = d;
                p->docs++;
            }
        }
        int trope = 0, anchored = 0;
        for (uint32_t c = 0; c < r.ncategories; c++) {
            st->cat_docs[c] += r.raw[c] != 0;
            st->cat_anchored[c] += r.anchored[c] != 0;
            if ((int)c != st->entity && (int)c != st->aligned) {
                trope |= r.raw[c] != 0;
                anchored |= r.anchored[c] != 0;
            }
        }
        st->any_trope += trope;
        st->any_anchored += anchored;
    }
    if (k < 0)
        rc = EXIT_INPUT_FAILED;
    cli_docs_free(docs);
    return rc;
}

static void print_text(const stats *st, uint64_t top)
{
    const ts_lexicon *lex = st->lex;
    printf("lexicon %016" PRIx64 "\n", ts_lexicon_id(lex));
    printf("documents %" PRIu64 " (skipped %" PRIu64 ", errors %" PRIu64 ")\n\n", st->docs, st->skipped,
           st->errors);
    printf("%-24s %10s %7s %10s %7s\n", "category", "docs_hit", "share", "anchored", "share");
    for (uint32_t c = 0; c < ts_lexicon_ncategories(lex); c++)
        printf("%-24s %10" PRIu64 " %7.4f %10" PRIu64 " %7.4f\n", ts_lexicon_category_name(lex, c),
               st->cat_docs[c], share(st->cat_docs[c], st->docs), st->cat_anchored[c],
               share(st->cat_anchored[c], st->docs));
    printf("%-24s %10" PRIu64 " %7.4f %10" PRIu64 " %7.4f\n", "any trope", st->any_trope,
           share(st->any_trope, st->docs), st->any_anchored, share(st->any_anchored, st->docs));
    printf("\n%10s %7s %10s  %-20s %s\n", "docs_hit", "share", "hits", "category", "pattern (file:line)");
    uint32_t n = ts_lexicon_npatterns(lex);
    for (uint32_t k = 0; k < n && k < top; k++) {
        uint32_t i = st->order[k];
        ts_pattern_info pi;
        if (ts_lexicon_pattern(lex, i, &pi))
            continue;
        printf("%10" PRIu64 " %7.4f %10" PRIu64 "  %-20s %s (%s:%" PRIu32 ")\n", st->pat[i].docs,
               share(st->pat[i].docs, st->docs), st->pat[i].hits, ts_lexicon_category_name(lex, pi.category),
               pi.text, pi.file, pi.line);
    }
}

static void print_json(const stats *st, uint64_t top)
{
    const ts_lexicon *lex = st->lex;
    printf("{\"lexicon_id\":\"%016" PRIx64 "\",\"documents\":%" PRIu64 ",\"skipped\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"docs_any_trope\":%" PRIu64
           ",\"docs_any_trope_anchored\":%" PRIu64 ",\"categories\":[",
           ts_lexicon_id(lex), st->docs, st->skipped, st->errors, st->bytes, st->any_trope, st->any_anchored);
    for (uint32_t c = 0; c < ts_lexicon_ncategories(lex); c++) {
        printf("%s{\"name\":", c ? "," : "");
        json_string(stdout, ts_lexicon_category_name(lex, c));
        printf(",\"docs_hit\":%" PRIu64 ",\"docs_anchored\":%" PRIu64 "}", st->cat_docs[c],
               st->cat_anchored[c]);
    }
    printf("],\"patterns\":[");
    uint32_t n = ts_lexicon_npatterns(lex);
    for (uint32_t k = 0; k < n && k < top; k++) {
        uint32_t i = st->order[k];
        ts_pattern_info pi;
        if (ts_lexicon_pattern(lex, i, &pi))
            continue;
        printf("%s{\"id\":%" PRIu32 ",\"category\":", k ? "," : "", i);
        json_string(stdout, ts_lexicon_category_name(lex, pi.category));
        printf(",\"pattern\":");
        json_string(stdout, pi.text);
        printf(",\"file\":");
        json_string(stdout, pi.file);
        printf(",\"line\":%" PRIu32 ",\"weight\":%g,\"docs_hit\":%" PRIu64 ",\"hits\":%" PRIu64 "}", pi.line,
               (double)pi.weight, st->pat[i].docs, st->pat[i].hits);
    }
    printf("]}\n");
}

static int run_stats(const ts_lexicon *lex, int nfiles, char **files, const char *text_field,
                     const char *where, uint64_t anchor, uint64_t top, int json)
{
    char *where_field = NULL;
    const char *where_value = NULL;
    if (where) {
        const char *eq = strchr(where, '=');
        if (!eq || eq == where) {
            cli_error("--where: expected FIELD=VALUE, got '%s'", where);
            return EXIT_USAGE;
        }
        where_field = strndup(where, (size_t)(eq - where));
        where_value = eq + 1;
        if (!where_field) {
            cli_error("out of memory");
            return EXIT_FATAL;
        }
    }
    stats st = {.lex = lex};
    st.entity = ts_lexicon_category_index(lex, "ai_entity");
    st.aligned = ts_lexicon_category_index(lex, "aligned_ai");
    uint32_t n = ts_lexicon_npatterns(lex);
    st.pat = calloc(n ? n : 1, sizeof *st.pat);
    st.order = malloc((n ? n : 1) * sizeof *st.order);
    ts_matcher *m = NULL;
    int rc = EXIT_OK;
    if (!st.pat || !st.order || ts_matcher_create(lex, 0, (uint32_t)anchor, &m)) {
        cli_error("out of memory");
        rc = EXIT_FATAL;
        goto done;
    }
    char *norm = NULL;
    size_t normcap = 0;
    for (int i = 0; i < nfiles; i++) {
        int r = scan_file(&st, m, files[i], text_field, where_field, where_value, &norm, &normcap);
        if (r > rc)
            rc = r;
    }
    free(norm);
    for (uint32_t i = 0; i < n; i++)
        st.order[i] = i;
    qsort_r(st.order, n, sizeof *st.order, cmp_order, st.pat);
    if (json)
        print_json(&st, top);
    else
        print_text(&st, top);
    if (fflush(stdout) || ferror(stdout)) {
        cli_error("cannot write to standard output");
        rc = EXIT_FATAL;
    }
done:
    ts_matcher_free(m);
    free(st.pat);
    free(st.order);
    free(where_field);
    return rc;
}


/* ---------------------------------------------------------------- cost */

/* The normalised documents timed by `lexicon cost`, back to back. */
typedef struct sample {
    char *text;
    size_t len, cap;
    size_t *off;        /* document d is text[off[d] .. off[d + 1]) */
    size_t ndocs, offcap;
} sample;

static int sample_add(sample *sm, const char *text, size_t len)
{
    if (sm->ndocs + 2 > sm->offcap) {
        size_t cap = sm->offcap ? 2 * sm->offcap : 1024;
        size_t *o = realloc(sm->off, cap * sizeof *o);
        if (!o)
            return -1;
        sm->off = o;
        sm->offcap = cap;
    }
    if (sm->len + len + 1 > sm->cap) {
        size_t cap = sm->cap ? sm->cap : 1 << 20;
        while (cap < sm->len + len + 1)
            cap *= 2;
        char *t = realloc(sm->text, cap);
        if (!t)
            return -1;
        sm->text = t;
        sm->cap = cap;
    }
    if (!sm->ndocs)
        sm->off[0] = 0;
    sm->len += ts_normalise(text, len, sm->text + sm->len, NULL);
    sm->off[++sm->ndocs] = sm->len;
    return 0;
}

/* Reads documents until the sample holds limit bytes. @return EXIT_OK or EXIT_INPUT_FAILED. */
static int sample_file(sample *sm, const char *path, const char *text_field, size_t limit)
{
    cli_docs *docs = NULL;
    if (cli_docs_open(path, text_field, NULL, 0, 0, &docs))
        return EXIT_INPUT_FAILED;
    int rc = EXIT_OK, k;
    cli_doc doc;
    while (sm->len < limit && (k = cli_docs_next(docs, &doc)) == 1) {
        if (doc.status)
            continue;
        if (sample_add(sm, doc.text, doc.len)) {
            cli_error("%s: out of memory", path);
            rc = EXIT_FATAL;
            break;
        }
    }
    if (sm->len < limit && k < 0)
        rc = EXIT_INPUT_FAILED;
    cli_docs_free(docs);
    return rc;
}

static int count_hit(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
                     void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    ++*(uint64_t *)ctx;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    /* CPU time of this thread: on a shared machine, wall time measures the
     * neighbours too. */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds to scan every document of the sample with db (the fastest of
 * COST_RUNS runs), and the hits. @return -1 if Hyperscan fails. */
#define COST_RUNS 5
static double time_db(const hs_database_t *db, const sample *sm, uint64_t *hits)
{
    hs_scratch_t *scr = NULL;
    if (hs_alloc_scratch(db, &scr) != HS_SUCCESS)
        return -1;
    double best = -1;
    for (int r = 0; r < COST_RUNS; r++) {
        uint64_t h = 0;
        double t0 = now_s();
        for (size_t d = 0; d < sm->ndocs; d++) {
            size_t len = sm->off[d + 1] - sm->off[d];
            if (len && hs_scan(db, sm->text + sm->off[d], (unsigned int)len, 0, scr, count_hit, &h) != HS_SUCCESS) {
                hs_free_scratch(scr);
                return -1;
            }
        }
        double t = now_s() - t0;
        if (best < 0 || t < best)
            best = t;
        *hits = h;
    }
    hs_free_scratch(scr);
    return best;
}

/* Compiles the patterns ids[0..n) and times them. @return seconds, or -1 (printed). */
static double time_subset(const ts_lexicon *lex, const sample *sm, const uint32_t *ids, uint32_t n,
                          uint64_t *hits)
{
    *hits = 0;
    if (!n)
        return 0;
    hs_database_t *db = NULL;
    ts_diag diag;
    int err = ts_lexicon_compile_subset(lex, ids, n, &db, &diag);
    if (err) {
        cli_diag_error(&diag, err);
        return -1;
    }
    double t = time_db(db, sm, hits);
    hs_free_database(db);
    if (t < 0)
        cli_error("lexicon cost: Hyperscan cannot scan the sample");
    return t;
}

typedef struct pat_cost {
    uint32_t id;
    double alone;       /* seconds, the pattern alone */
    uint64_t hits;
} pat_cost;

static int cmp_cost(const void *a, const void *b)
{
    const pat_cost *x = a, *y = b;
    if (x->alone != y->alone)
        return x->alone > y->alone ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static double mbps(size_t bytes, double s)
{
    return s > 0 ? (double)bytes / 1e6 / s : 0;
}

static int run_cost(const ts_lexicon *lex, int nfiles, char **files, const char *text_field,
                    uint64_t sample_mb, uint64_t top, uint64_t leave_out)
{
    sample sm = {0};
    int rc = EXIT_OK;
    hs_database_t *full_db = NULL;
    uint32_t n = ts_lexicon_npatterns(lex), ncat = ts_lexicon_ncategories(lex);
    uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    pat_cost *pc = calloc(n ? n : 1, sizeof *pc);
    if (!ids || !pc) {
        cli_error("out of memory");
        rc = EXIT_FATAL;
        goto done;
    }
    for (int i = 0; i < nfiles && sm.len < sample_mb * 1000000; i++) {
        int r = sample_file(&sm, files[i], text_field, (size_t)sample_mb * 1000000);
        if (r > rc)
            rc = r;
        if (rc == EXIT_FATAL)
            goto done;
    }
    if (!sm.ndocs || !n) {
        cli_error("lexicon cost: %s", n ? "no documents in the input" : "the lexicon has no patterns");
        rc = EXIT_INPUT_FAILED;
        goto done;
    }
    printf("lexicon %016" PRIx64 ", %" PRIu32 " patterns\n", ts_lexicon_id(lex), n);
    printf("sample: %zu documents, %.1f MB of normalised text; CPU seconds, fastest of %d runs, one thread\n\n",
           sm.ndocs,
           (double)sm.len / 1e6, COST_RUNS);
    uint64_t hits;
    for (uint32_t i = 0; i < n; i++)
        ids[i] = i;
    ts_diag diag;
    int err = ts_lexicon_compile_subset(lex, ids, n, &full_db, &diag);
    if (err) {
        cli_diag_error(&diag, err);
        rc = EXIT_FATAL;
        goto done;
    }
    double full = time_db(full_db, &sm, &hits);
    if (full < 0) {
        cli_error("lexicon cost: Hyperscan cannot scan the sample");
        rc = EXIT_FATAL;
        goto done;
    }
    printf("%-34s %9s %9s %10s\n", "database", "seconds", "MB/s", "hits");
    printf("%-34s %9.3f %9.0f %10" PRIu64 "\n\n", "whole lexicon", full, mbps(sm.len, full), hits);

    printf("%-24s %8s %9s %9s %10s %9s\n", "category", "patterns", "alone s", "MB/s", "without s", "saves");
    for (uint32_t c = 0; c < ncat; c++) {
        uint32_t k = 0, o = n;
        /* ids[0..k): the category; ids[k..n): the rest (filled from the end). */
        uint32_t *rest = malloc((n ? n : 1) * sizeof *rest);
        if (!rest) {
            rc = EXIT_FATAL;
            goto done;
        }
        for (uint32_t i = 0; i < n; i++) {
            ts_pattern_info pi;
            ts_lexicon_pattern(lex, i, &pi);
            if (pi.category == c)
                ids[k++] = i;
            else
                rest[--o] = i;
        }
        uint64_t h1, h2, h3;
        double alone = time_subset(lex, &sm, ids, k, &h1);
        double without = time_subset(lex, &sm, rest + o, n - o, &h2);
        /* The whole lexicon again, right after: a saving is the pair's
         * ratio, not a difference with a figure taken minutes before. */
        double now = time_db(full_db, &sm, &h3);
        free(rest);
        if (alone < 0 || without < 0 || now <= 0) {
            rc = EXIT_FATAL;
            goto done;
        }
        printf("%-24s %8" PRIu32 " %9.3f %9.0f %10.3f %8.0f%%\n", ts_lexicon_category_name(lex, c), k, alone,
               mbps(sm.len, alone), without, 100 * (1 - without / now));
    }

    for (uint32_t i = 0; i < n; i++) {
        pc[i].id = i;
        pc[i].alone = time_subset(lex, &sm, &i, 1, &pc[i].hits);
        if (pc[i].alone < 0) {
            rc = EXIT_FATAL;
            goto done;
        }
    }
    qsort(pc, n, sizeof *pc, cmp_cost);
    double floor_s = pc[n - 1].alone, sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += pc[i].alone - floor_s;
    printf("\nfloor (the cheapest pattern alone): %.4f s; patterns alone, above the floor, sum to %.3f s\n",
           floor_s, sum);
    printf("\n%9s %9s %10s %10s %6s  %-20s %s\n", "alone s", "MB/s", "without s", "hits", "saves", "category",
           "pattern (file:line)");
    for (uint32_t k = 0; k < n && k < top; k++) {
        ts_pattern_info pi;
        ts_lexicon_pattern(lex, pc[k].id, &pi);
        char without[16] = "-", saves[16] = "-";
        if (k < leave_out) {
            uint32_t m = 0;
            for (uint32_t i = 0; i < n; i++)
                if (i != pc[k].id)
                    ids[m++] = i;
            uint64_t h;
            double t = time_subset(lex, &sm, ids, m, &h);
            double now = time_db(full_db, &sm, &h);
            if (t < 0 || now <= 0) {
                rc = EXIT_FATAL;
                goto done;
            }
            snprintf(without, sizeof without, "%.3f", t);
            snprintf(saves, sizeof saves, "%.0f%%", 100 * (1 - t / now));
        }
        printf("%9.4f %9.0f %10s %10" PRIu64 " %6s  %-20s %s (%s:%" PRIu32 ")\n", pc[k].alone,
               mbps(sm.len, pc[k].alone), without, pc[k].hits, saves, ts_lexicon_category_name(lex, pi.category),
               pi.text, pi.file, pi.line);
    }
    if (fflush(stdout) || ferror(stdout)) {
        cli_error("cannot write to standard output");
        rc = EXIT_FATAL;
    }
done:
    hs_free_database(full_db);
    free(ids);
    free(pc);
    free(sm.text);
    free(sm.off);
    return rc;
}

int cmd_lexicon(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LEXMODEL_LONGOPTS,
        {"text-field", required_argument, 0, OPT_TEXT_FIELD},
        {"where", required_argument, 0, OPT_WHERE},
        {"anchor-words", required_argument, 0, OPT_ANCHOR},
        {"top", required_argument, 0, OPT_TOP},
        {"json", no_argument, 0, OPT_JSON},
        {"sample-mb", required_argument, 0, OPT_SAMPLE_MB},
        {"leave-out", required_argument, 0, OPT_LEAVE_OUT},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    int is_check = !strcmp(sub, "check"), is_stats = !strcmp(sub, "stats"), is_cost = !strcmp(sub, "cost");
    if (!is_check && !is_stats && !is_cost) {
        cli_error("lexicon: unknown subcommand '%s' (check, stats or cost)", sub);
        return EXIT_USAGE;
    }
    cli_lexmodel lm = {0};
    const char *text_field = "text", *where = NULL;
    uint64_t anchor = TS_DEFAULT_ANCHOR_WORDS, top = UINT64_MAX, sample_mb = 8, leave_out = 5;
    int json = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        if (opt == CLI_OPT_LEXICON || opt == CLI_OPT_LEXICON_ADD) {
            if (!cli_lexmodel_option(&lm, opt, optarg))
                return EXIT_USAGE;
            continue;
        }
        switch (opt) {
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        case OPT_TEXT_FIELD: text_field = optarg; break;
        case OPT_WHERE: where = optarg; break;
        case OPT_ANCHOR:
            if (cli_parse_u64("--anchor-words", optarg, 0, 1000000, &anchor))
                return EXIT_USAGE;
            break;
        case OPT_TOP:
            if (cli_parse_u64("--top", optarg, 1, UINT32_MAX, &top))
                return EXIT_USAGE;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_SAMPLE_MB:
            if (cli_parse_u64("--sample-mb", optarg, 1, 4000, &sample_mb))
                return EXIT_USAGE;
            break;
        case OPT_LEAVE_OUT:
            if (cli_parse_u64("--leave-out", optarg, 0, 100000, &leave_out))
                return EXIT_USAGE;
            break;
        case CLI_OPT_MODEL:
        case CLI_OPT_FORCE_MODEL:
            cli_error("lexicon: --model and --force-model do not apply here");
            return EXIT_USAGE;
        default: fputs(usage_text, stderr); return EXIT_USAGE;
        }
    }
    int nfiles = argc - 1 - optind;
    char **files = argv + 1 + optind;
    if (is_check && nfiles) {
        cli_error("lexicon check: takes no files");
        return EXIT_USAGE;
    }
    if ((is_stats || is_cost) && !nfiles) {
        cli_error("lexicon %s: no input files", sub);
        return EXIT_USAGE;
    }
    ts_lexicon *lex = NULL;
    if (cli_load_lexicon(&lm, &lex))
        return EXIT_FATAL;
    if (is_cost && (where || json)) {
        cli_error("lexicon cost: --where and --json apply to stats only");
        ts_lexicon_free(lex);
        return EXIT_USAGE;
    }
    int rc = is_check  ? run_check(lex)
             : is_cost ? run_cost(lex, nfiles, files, text_field, sample_mb, top == UINT64_MAX ? 20 : top, leave_out)
                       : run_stats(lex, nfiles, files, text_field, where, anchor, top, json);
    ts_lexicon_free(lex);
    return rc;
}
