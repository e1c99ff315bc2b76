/*
 * cmd_lexicon.c: `tropescan lexicon check` (compile the lexicon and say what
 * is in it) and `tropescan lexicon stats` (how many documents of a corpus each
 * pattern hits: the way to find noisy patterns).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lexicon_internal.h"

static const char usage_text[] =
    "usage: tropescan lexicon check [OPTIONS]\n"
    "       tropescan lexicon stats [OPTIONS] FILE...\n"
    "\n"
    "check: compile the lexicon; print its id, categories, pattern counts and\n"
    "       database sizes.\n"
    "stats: scan JSONL files (plain, zstd or gzip; - is stdin) and print, per\n"
    "       pattern, the documents it hits, and per category the documents with\n"
    "       any hit and with an anchored hit (near an ai_entity hit).\n"
    "\n"
    "options:\n"
    "  --lexicon DIR        use the lexicon in DIR instead of the embedded default\n"
    "  --lexicon-add DIR    add the categories/patterns in DIR (repeatable)\n"
    "  --text-field F       the JSON field holding the text (default: text)\n"
    "  --where F=V          stats: only documents whose field F is V (e.g. label=1)\n"
    "  --anchor-words N     stats: anchor window in words (default: 40)\n"
    "  --top N              stats: print only the N patterns hitting most documents\n"
    "  --json               stats: one JSON object on stdout instead of a table\n"
    "  -h, --help           this help\n";

enum { OPT_TEXT_FIELD = 2000, OPT_WHERE, OPT_ANCHOR, OPT_TOP, OPT_JSON };

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

int cmd_lexicon(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LEXMODEL_LONGOPTS,
        {"text-field", required_argument, 0, OPT_TEXT_FIELD},
        {"where", required_argument, 0, OPT_WHERE},
        {"anchor-words", required_argument, 0, OPT_ANCHOR},
        {"top", required_argument, 0, OPT_TOP},
        {"json", no_argument, 0, OPT_JSON},
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
    int is_check = !strcmp(sub, "check"), is_stats = !strcmp(sub, "stats");
    if (!is_check && !is_stats) {
        cli_error("lexicon: unknown subcommand '%s' (check or stats)", sub);
        return EXIT_USAGE;
    }
    cli_lexmodel lm = {0};
    const char *text_field = "text", *where = NULL;
    uint64_t anchor = TS_DEFAULT_ANCHOR_WORDS, top = UINT64_MAX;
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
    if (is_stats && !nfiles) {
        cli_error("lexicon stats: no input files");
        return EXIT_USAGE;
    }
    ts_lexicon *lex = NULL;
    if (cli_load_lexicon(&lm, &lex))
        return EXIT_FATAL;
    int rc = is_check ? run_check(lex)
                      : run_stats(lex, nfiles, files, text_field, where, anchor, top, json);
    ts_lexicon_free(lex);
    return rc;
}
