/*
 * cmd_scan.c: `tropescan scan`: options, messages, the progress display,
 * signals and exit codes around the library's run (src/lib/pipeline.c: the
 * shards, threads and ordered delivery; scan.c: what a line becomes;
 * outfile.c: atomic outputs; stats.c: summary.json). Its inputs come from
 * inputs.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ---------------------------------------------------------------- options */

typedef struct scan_opts {
    const char *outdir;
    int threads;
    int force;
    int quiet;
    int no_model;
    int whole_documents;       /* --whole-documents */
    int gate;                  /* --gate (and not --exhaustive) */
    int error_drop;            /* --error-action drop */
    const char *text_field;
    const char *id_field;
    double drop_above;
    double downweight_above;
    double downweight_factor;
    double upweight_above;     /* > 1: never */
    double keep_aligned_above; /* never downweight when aligned >= it (> 1: off) */
    double upweight_factor;
    int downweight_factor_set, upweight_factor_set;
    uint64_t max_doc_bytes;
    uint64_t chunk_size;
    uint64_t anchor_words;
    int manifest_level;
    const char *name;          /* --name: the dataset's name in summary.json, or NULL */
    const char *policy_file;   /* --policy-file: thresholds and factors (options override it) */
    uint32_t part_i, part_n;   /* --partition I/N (part_n 0: none) */
    int resume;                /* --resume */
    cli_lexmodel lm;
    cli_input_opts in;         /* --glob, --exclude */
} scan_opts;


static const char scan_help[] =
    "usage: tropescan scan [OPTIONS] -o OUTDIR INPUT...\n"
    "\n"
    "Scores every document of JSONL shards (plain, zstd or gzip, by magic bytes)\n"
    "and writes OUTDIR/<relative path>.manifest.jsonl.zst per input (one JSON line\n"
    "per input line, in order) and OUTDIR/summary.json. INPUT is a file, a\n"
    "directory (read recursively, in sorted order) or - for standard input;\n"
    "NAME=INPUT names its manifests NAME (a file's) or NAME/... (a directory's).\n"
    "When several directories are given, each one's manifests go under its name.\n"
    "\n"
    "  -o, --output DIR          where manifests and summary.json go (required)\n"
    "  -j, --threads N           threads (default: all cores)\n"
    "  -f, --force               overwrite existing outputs\n"
    "  -q, --quiet               no progress display and no summary paragraph at the end\n"
    "  -g, --glob GLOB           in directories, read only the files matching GLOB\n"
    "                            (repeatable; !GLOB excludes; ripgrep's manner: no /\n"
    "                            matches the name at any depth, ** crosses /)\n"
    "      --exclude GLOB        in directories, skip the files and directories\n"
    "                            matching GLOB (repeatable)\n"
    "      --text-field PATH     field holding the text (default: text; a.b for nesting)\n"
    "      --id-field PATH       field holding the id (default: id)\n"
    "      --drop-above P        drop when score >= P (default: the model's policy,\n"
    "                            else 0.8)\n"
    "      --downweight-above P  downweight when score >= P (default: the model's\n"
    "                            policy, else 0.5)\n"
    "      --downweight-factor W\n"
    "                            weight of downweighted documents (default: 0.25)\n"
    "      --upweight-above P    upweight when aligned >= P and not dropped or\n"
    "                            downweighted (default: the model's policy, else off)\n"
    "      --upweight-factor W   weight of upweighted documents (default: 2)\n"
    "      --keep-aligned-above P\n"
    "                            never downweight (only drop) when aligned >= P\n"
    "                            (default: the model's policy, else off)\n"
    "      --policy-file FILE    thresholds and factors from a policy file (README.md;\n"
    "                            the options above override it; its trope rules are\n"
    "                            applied by tropescan apply)\n"
    "      --error-action A      keep (default) or drop documents that cannot be read\n"
    "      --max-doc-bytes N     longer lines are reported as too_long (default: 16M)\n"
    "      --anchor-words N      trope hits within N words of an AI mention are\n"
    "                            anchored (default: 40)\n"
    "      --no-model            lexicon counts only: no score, every action keep\n"
    "      --whole-documents     score each document whole, not by passages (faster;\n"
    "                            misses a narrative inside a long page)\n"
    "      --gate                a cheap first pass decides which documents get the\n"
    "                            full scan; the others are scored as a document\n"
    "                            without features (faster; misses narratives that\n"
    "                            never name their machine: see bench/README.md)\n"
    "      --exhaustive          every document gets the full scan (the default;\n"
    "                            overrides --gate)\n"
    "      --name NAME           the dataset's name, recorded in summary.json (for\n"
    "                            tropescan report)\n"
    "      --lexicon DIR         use the lexicon in DIR instead of the embedded default\n"
    "      --lexicon-add DIR     add the categories/patterns in DIR (repeatable)\n"
    "      --model FILE          use this model instead of the embedded default\n"
    "      --force-model         accept a model trained with a different lexicon\n"
    "      --partition I/N       scan only partition I (0 <= I < N) of the inputs: those\n"
    "                            whose name (manifest path without the suffix) has\n"
    "                            XXH64 mod N == I; the summary is then\n"
    "                            OUTDIR/summary.part-I-of-N.json (tropescan merge\n"
    "                            combines them); partitions may share OUTDIR\n"
    "      --resume              keep the shards an earlier run of the same options\n"
    "                            completed (same input size and mtime: see\n"
    "                            .<name>.manifest.done.json) and redo the rest\n"
    "  -h, --help                this help\n"
    "\n"
    "Exit codes: 0 all inputs scanned; 1 some input failed, or had no line that is a\n"
    "document (the others completed; summary.json says which and why); 2 usage\n"
    "error, or no input could be opened (nothing is written); 3 fatal error.\n";

enum {
    OPT_TEXT_FIELD = 2000, OPT_ID_FIELD, OPT_DROP_ABOVE, OPT_DOWNWEIGHT_ABOVE, OPT_DOWNWEIGHT_FACTOR,
    OPT_UPWEIGHT_ABOVE, OPT_UPWEIGHT_FACTOR, OPT_ERROR_ACTION, OPT_MAX_DOC, OPT_CHUNK, OPT_ANCHOR,
    OPT_NO_MODEL,
    OPT_WHOLE,
    OPT_KEEP_ALIGNED,
    OPT_NAME,
    OPT_EXCLUDE,
    OPT_GATE,
    OPT_EXHAUSTIVE,
    OPT_POLICY_FILE,
    OPT_PARTITION,
    OPT_RESUME,
};


static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- signals */

/* Temporary files to remove if the run is interrupted (SIGINT, SIGTERM):
 * the run's temporary names, set before the handlers are. */
static const char *const *volatile g_tmps;
static volatile size_t g_ntmps;

static void on_signal(int sig)
{
    const char *const *t = g_tmps;
    for (size_t i = 0; t && i < g_ntmps; i++)
        if (t[i])
            unlink(t[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---------------------------------------------------------------- progress */

typedef struct display {
    double t0, last;
} display;

static void show_progress(display *d, const ts_progress *p, int last)
{
    double t = now_seconds();
    if (!last && t - d->last < 0.5)
        return;
    d->last = t;
    double el = t - d->t0 > 1e-9 ? t - d->t0 : 1e-9;
    double mbs = p->bytes_out / el / 1e6;
    char eta[32] = "?";
    if (p->bytes_in_total && p->bytes_in && p->bytes_in <= p->bytes_in_total) {
        double rest = el * (double)(p->bytes_in_total - p->bytes_in) / (double)p->bytes_in;
        snprintf(eta, sizeof eta, "%d:%02d", (int)(rest / 60), (int)fmod(rest, 60));
    }
    fprintf(stderr, "\rscan: %" PRIu64 "/%" PRIu64 " shards, %.1f MB, %.0f MB/s, %.0f docs/s, ETA %s   %s",
            p->inputs_done, p->inputs, p->bytes_out / 1e6, mbs, p->docs / el, eta, last ? "\n" : "");
}

static ts_progress g_last_progress;   /* for the final line */

static void on_progress(void *ud, const ts_progress *p)
{
    g_last_progress = *p;
    show_progress(ud, p, 0);
}

/* "3 invalid_json, 1 empty_line": the error kinds with their counts. */
static void error_kinds_text(const ts_stats *st, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 1; k < TS_DOC_NKINDS && n < cap; k++)
        if (st->errors[k])
            n += (size_t)snprintf(buf + n, cap - n, "%s%" PRIu64 " %s", n ? ", " : "", st->errors[k],
                                  ts_doc_error_name(k));
}

/* The run in one paragraph on stderr: what a user sees at the end. */
static void print_result(const ts_run *R, const char *outdir, const char *summary, double wall)
{
    ts_stats t;
    uint64_t out = 0, failed = 0, nodocs = 0;
    ts_run_totals(R, &t, NULL, &out);
    size_t n = ts_run_ninputs(R);
    for (size_t i = 0; i < n; i++) {
        ts_input_result in;
        ts_run_input(R, i, &in);
        failed += in.status == TS_INPUT_FAILED || in.status == TS_INPUT_OUTPUT_FAILED;
        nodocs += in.status == TS_INPUT_NO_DOCUMENTS;
    }
    char errs[400] = "";
    uint64_t nerr = ts_stats_errors(&t);
    if (nerr) {
        char kinds[380];
        error_kinds_text(&t, kinds, sizeof kinds);
        snprintf(errs, sizeof errs, " (%s)", kinds);
    }
    fprintf(stderr,
            "scan: %zu shard%s (%" PRIu64 " failed, %" PRIu64 " without documents), %" PRIu64 " documents: "
            "%" PRIu64 " keep, %" PRIu64 " downweight, %" PRIu64 " drop, %" PRIu64 " upweight; %" PRIu64
            " error%s%s; %.*f MB in %.2f s, %.1f MB/s; summary: %s/%s\n",
            n, n == 1 ? "" : "s", failed, nodocs, t.docs, t.actions[TS_ACTION_KEEP],
            t.actions[TS_ACTION_DOWNWEIGHT], t.actions[TS_ACTION_DROP], t.actions[TS_ACTION_UPWEIGHT], nerr,
            nerr == 1 ? "" : "s", errs, out < 1000000 ? 3 : 1, out / 1e6, wall, wall > 0 ? out / wall / 1e6 : 0.0,
            outdir, summary);
}

/* ---------------------------------------------------------------- main */

static int parse_args(int argc, char **argv, scan_opts *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 'j'},
        {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},
        {"glob", required_argument, 0, 'g'},
        {"exclude", required_argument, 0, OPT_EXCLUDE},
        {"help", no_argument, 0, 'h'},
        {"text-field", required_argument, 0, OPT_TEXT_FIELD},
        {"id-field", required_argument, 0, OPT_ID_FIELD},
        {"drop-above", required_argument, 0, OPT_DROP_ABOVE},
        {"downweight-above", required_argument, 0, OPT_DOWNWEIGHT_ABOVE},
        {"downweight-factor", required_argument, 0, OPT_DOWNWEIGHT_FACTOR},
        {"upweight-above", required_argument, 0, OPT_UPWEIGHT_ABOVE},
        {"keep-aligned-above", required_argument, 0, OPT_KEEP_ALIGNED},
        {"upweight-factor", required_argument, 0, OPT_UPWEIGHT_FACTOR},
        {"error-action", required_argument, 0, OPT_ERROR_ACTION},
        {"max-doc-bytes", required_argument, 0, OPT_MAX_DOC},
        {"chunk-bytes", required_argument, 0, OPT_CHUNK},
        {"anchor-words", required_argument, 0, OPT_ANCHOR},
        {"no-model", no_argument, 0, OPT_NO_MODEL},
        {"whole-documents", no_argument, 0, OPT_WHOLE},
        {"gate", no_argument, 0, OPT_GATE},
        {"exhaustive", no_argument, 0, OPT_EXHAUSTIVE},
        {"name", required_argument, 0, OPT_NAME},
        {"policy-file", required_argument, 0, OPT_POLICY_FILE},
        {"partition", required_argument, 0, OPT_PARTITION},
        {"resume", no_argument, 0, OPT_RESUME},
        CLI_LEXMODEL_LONGOPTS,
        {0, 0, 0, 0},
    };
    uint64_t u;
    int c;
    optind = 1;
    int gate = 0;   /* 1 --gate, -1 --exhaustive (which wins, in any order) */
    while ((c = getopt_long(argc, argv, "o:j:fqg:h", longopts, NULL)) != -1) {
        int r = cli_lexmodel_option(&o->lm, c, optarg);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        switch (c) {
        case 'o': o->outdir = optarg; break;
        case 'j':
            if (cli_parse_u64("--threads", optarg, 1, 1024, &u))
                return -1;
            o->threads = (int)u;
            break;
        case 'f': o->force = 1; break;
        case 'q': o->quiet = 1; break;
        case 'g':
        case OPT_EXCLUDE:
            if (cli_input_glob_option("scan", &o->in, c == OPT_EXCLUDE, optarg))
                return -1;
            break;
        case 'h': fputs(scan_help, stdout); return 1;
        case OPT_TEXT_FIELD: o->text_field = optarg; break;
        case OPT_ID_FIELD: o->id_field = optarg; break;
        case OPT_DROP_ABOVE:
            if (cli_parse_double("--drop-above", optarg, 0, 1, &o->drop_above))
                return -1;
            break;
        case OPT_DOWNWEIGHT_ABOVE:
            if (cli_parse_double("--downweight-above", optarg, 0, 1, &o->downweight_above))
                return -1;
            break;
        case OPT_DOWNWEIGHT_FACTOR:
            if (cli_parse_double("--downweight-factor", optarg, 0, 1, &o->downweight_factor))
                return -1;
            o->downweight_factor_set = 1;
            break;
        case OPT_UPWEIGHT_ABOVE:
            if (cli_parse_double("--upweight-above", optarg, 0, 1, &o->upweight_above))
                return -1;
            break;
        case OPT_UPWEIGHT_FACTOR:
            if (cli_parse_double("--upweight-factor", optarg, 1, 1000, &o->upweight_factor))
                return -1;
            o->upweight_factor_set = 1;
            break;
        case OPT_ERROR_ACTION:
            if (strcmp(optarg, "keep") && strcmp(optarg, "drop")) {
                cli_error("--error-action: expected keep or drop, got '%s'", optarg);
                return -1;
            }
            o->error_drop = !strcmp(optarg, "drop");
            break;
        case OPT_MAX_DOC:
            if (cli_parse_u64("--max-doc-bytes", optarg, 1024, (uint64_t)UINT32_MAX - 1, &o->max_doc_bytes))
                return -1;
            break;
        case OPT_CHUNK:
            if (cli_parse_u64("--chunk-bytes", optarg, 4096, 1u << 30, &o->chunk_size))
                return -1;
            break;
        case OPT_ANCHOR:
            if (cli_parse_u64("--anchor-words", optarg, 0, 100000, &o->anchor_words))
                return -1;
            break;
        case OPT_NO_MODEL: o->no_model = 1; break;
        case OPT_WHOLE: o->whole_documents = 1; break;
        case OPT_GATE: gate = gate >= 0 ? 1 : gate; break;
        case OPT_EXHAUSTIVE: gate = -1; break;
        case OPT_NAME: o->name = optarg; break;
        case OPT_POLICY_FILE: o->policy_file = optarg; break;
        case OPT_RESUME: o->resume = 1; break;
        case OPT_PARTITION: {
            /* I/N: decimal, 0 <= I < N <= 1000000, nothing else */
            const char *p = optarg;
            char *end;
            uint64_t v[2];
            int ok = 1;
            for (int k = 0; k < 2 && ok; k++) {
                ok = *p >= '0' && *p <= '9';
                errno = 0;
                v[k] = ok ? strtoull(p, &end, 10) : 0;
                ok = ok && errno == 0 && *end == (k ? '\0' : '/') && v[k] <= 1000000;
                p = end + 1;
            }
            if (!ok || v[1] == 0 || v[0] >= v[1]) {
                cli_error("scan: --partition: expected I/N with 0 <= I < N <= 1000000 (e.g. 0/4), got '%s'", optarg);
                return -1;
            }
            o->part_i = (uint32_t)v[0];
            o->part_n = (uint32_t)v[1];
            break;
        }
        case OPT_KEEP_ALIGNED:
            if (cli_parse_double("--keep-aligned-above", optarg, 0, 1, &o->keep_aligned_above))
                return -1;
            break;
        default: fputs("(see tropescan scan --help)\n", stderr); return -1;
        }
    }
    if (o->policy_file) {
        ts_policy_file pf;
        ts_diag d;
        int err = ts_policy_file_load(o->policy_file, &pf, &d);
        if (err) {
            cli_diag_error(&d, err);
            return -1;
        }
        if (pf.nrules) {
            cli_error("scan: %s: trope rules are applied by tropescan apply (from the counts scan records); "
                      "scan takes the file's thresholds and factors only", o->policy_file);
            return -1;
        }
        /* The options override the file. */
        double *to[] = {&o->drop_above, &o->downweight_above, &o->upweight_above, &o->keep_aligned_above};
        const double from[] = {pf.policy.drop_above, pf.policy.downweight_above, pf.policy.upweight_above,
                               pf.policy.keep_aligned_above};
        for (int i = 0; i < 4; i++)
            if (*to[i] < 0 && from[i] >= 0)
                *to[i] = from[i];
        if (!o->downweight_factor_set && pf.policy.downweight_factor >= 0)
            o->downweight_factor = pf.policy.downweight_factor;
        if (!o->upweight_factor_set && pf.policy.upweight_factor >= 0)
            o->upweight_factor = pf.policy.upweight_factor;
    }
    if (!o->outdir) {
        cli_error("scan: -o OUTDIR is required (see tropescan scan --help)");
        return -1;
    }
    if (!strcmp(o->outdir, "-")) {
        cli_error("scan: -o - (standard output) is not supported: the output is a directory (one manifest "
                  "per input and summary.json); write -o ./- for a directory named '-'");
        return -1;
    }
    if (optind >= argc) {
        cli_error("scan: no input given (see tropescan scan --help)");
        return -1;
    }
    if (o->downweight_above >= 0 && o->drop_above >= 0 && o->downweight_above > o->drop_above) {
        cli_error("scan: --downweight-above (%g) must not exceed --drop-above (%g)", o->downweight_above,
                  o->drop_above);
        return -1;
    }
    if (o->resume && o->force) {
        cli_error("scan: --resume and --force exclude each other (--force starts over)");
        return -1;
    }
    if (o->lm.model_path && o->no_model) {
        cli_error("scan: --model and --no-model exclude each other");
        return -1;
    }
    o->gate = gate > 0 && !o->no_model;
    return 0;
}


int cmd_scan(int argc, char **argv)
{
    scan_opts o = {
        .threads = 0,
        .text_field = "text",
        .id_field = "id",
        .drop_above = -1,          /* unset: the model's, else the default */
        .downweight_above = -1,
        .downweight_factor = TS_DEFAULT_DOWNWEIGHT_FACTOR,
        .upweight_above = -1,
        .keep_aligned_above = -1,
        .upweight_factor = TS_DEFAULT_UPWEIGHT_FACTOR,
        .max_doc_bytes = TS_DEFAULT_MAX_DOC_BYTES,
        .chunk_size = 2u << 20,
        .anchor_words = TS_DEFAULT_ANCHOR_WORDS,
        .manifest_level = 3,
    };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    {
        ts_docs_settings ds;
        ts_docs_settings_default(&ds);
        ds.text_field = o.text_field;
        ds.id_field = o.id_field;
        ts_doc_parser *p = NULL;
        if (ts_doc_parser_create(&ds, &p) != TS_OK) {
            cli_error("scan: a field path is empty or has more than 8 parts");
            return EXIT_USAGE;
        }
        ts_doc_parser_free(p);
    }
    o.in.outdir = o.outdir;
    cli_inputs L = {0};
    if (cli_collect_inputs(argc, argv, optind, &o.in, &L) != 0 || L.n == 0) {
        if (L.n == 0)
            cli_error("scan: no input files found");
        cli_inputs_free(&L);
        return EXIT_USAGE;
    }
    if (o.part_n) {
        /* This partition's share; it may be empty (its summary then says so). */
        size_t k = 0;
        for (size_t i = 0; i < L.n; i++) {
            if (ts_partition_of(L.v[i].name, o.part_n) == o.part_i) {
                L.v[k++] = L.v[i];
            } else {
                free(L.v[i].path);
                free(L.v[i].name);
            }
        }
        L.n = k;
    }

    /* A run in which no input can even be opened writes nothing (no
     * summary.json that a rerun with the right path would need --force for). */
    int readable = L.n == 0;
    for (size_t i = 0; i < L.n && !readable; i++) {
        int fd = strcmp(L.v[i].path, "-") ? open(L.v[i].path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) : STDIN_FILENO;
        if (fd >= 0 && fd != STDIN_FILENO)
            close(fd);
        readable = fd >= 0;
        if (!readable && i < 10)
            cli_error("%s: %s", L.v[i].path, strerror(errno));
    }
    if (!readable) {
        cli_error("scan: no input could be opened: nothing written");
        cli_inputs_free(&L);
        return EXIT_USAGE;
    }

    ts_lexicon *lex = NULL;
    ts_model *model = NULL;
    ts_run *R = NULL;
    char sname[64] = "summary.json";
    const char **tmps = NULL;
    int exit_code = EXIT_FATAL;
    if (cli_load_lexicon(&o.lm, &lex) != TS_OK || (!o.no_model && cli_load_model(&o.lm, lex, &model) != TS_OK))
        goto done;

    ts_run_settings s;
    ts_run_settings_default(&s);
    s.outdir = o.outdir;
    s.threads = o.threads;
    s.force = o.force;
    s.text_field = o.text_field;
    s.id_field = o.id_field;
    s.policy.drop_above = o.drop_above;
    s.policy.downweight_above = o.downweight_above;
    s.policy.downweight_factor = o.downweight_factor;
    s.policy.upweight_above = o.upweight_above;
    s.policy.upweight_factor = o.upweight_factor;
    s.policy.keep_aligned_above = o.keep_aligned_above;
    s.error_drop = o.error_drop;
    s.whole_documents = o.whole_documents;
    s.gate = o.gate;
    s.max_doc_bytes = o.max_doc_bytes;
    s.chunk_size = o.chunk_size;
    s.anchor_words = (uint32_t)o.anchor_words;
    s.manifest_level = o.manifest_level;
    s.name = o.name;
    s.lexicon_dir = o.lm.lexicon_dir;
    s.lexicon_add = o.lm.lexicon_add;
    s.nlexicon_add = o.lm.nadd;
    s.model_path = o.lm.model_path;
    display disp = {0, 0};
    int progress = !o.quiet && isatty(STDERR_FILENO);
    if (progress) {
        s.progress = on_progress;
        s.progress_ud = &disp;
    }
    ts_diag diag;
    int err = ts_run_create(&s, lex, model, &R, &diag);
    if (err) {
        cli_error("scan: %s", diag.message);
        exit_code = err == TS_E_INVALID ? EXIT_USAGE : EXIT_FATAL;
        goto done;
    }
    for (size_t i = 0; i < L.n; i++)
        if (ts_run_add_input(R, L.v[i].path, L.v[i].name) != TS_OK) {
            cli_error("out of memory");
            goto done;
        }
    if (o.part_n) {
        snprintf(sname, sizeof sname, "summary.part-%" PRIu32 "-of-%" PRIu32 ".json", o.part_i, o.part_n);
        if (ts_run_set_summary_name(R, sname) != TS_OK) {
            cli_error("out of memory");
            goto done;
        }
    }
    if (o.resume && ts_run_set_resume(R, 1) != TS_OK) {
        cli_error("scan: --resume cannot be used here");
        exit_code = EXIT_USAGE;
        goto done;
    }
    int stale = 0;
    if ((err = ts_run_prepare(R, &stale, &diag)) != TS_OK) {
        cli_error("%s", diag.message[0] ? diag.message : ts_strerror(err));
        if (o.resume && err == TS_E_INVALID)
            exit_code = EXIT_USAGE;
        goto done;
    }
    if (o.resume && !o.quiet) {
        size_t kept = 0;
        for (size_t i = 0; i < ts_run_ninputs(R); i++)
            kept += (size_t)ts_run_input_resumed(R, i);
        cli_error("resume: %zu of %zu shard%s already complete, %zu to scan", kept, ts_run_ninputs(R),
                  ts_run_ninputs(R) == 1 ? "" : "s", ts_run_ninputs(R) - kept);
    }
    if (stale && !o.quiet)
        cli_error("note: removed %d temporary file%s left by an interrupted run", stale, stale == 1 ? "" : "s");

    size_t n = ts_run_ninputs(R);
    if (!(tmps = calloc(n + 1, sizeof *tmps))) {
        cli_error("out of memory");
        goto done;
    }
    for (size_t i = 0; i <= n; i++)
        tmps[i] = ts_run_tmp_path(R, i);
    g_tmps = tmps;
    g_ntmps = n + 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double t0 = now_seconds();
    disp.t0 = t0;
    err = ts_run_execute(R, &diag);
    double wall = now_seconds() - t0;
    if (progress) {
        g_last_progress.inputs = n;
        g_last_progress.inputs_done = n;
        show_progress(&disp, &g_last_progress, 1);
    }
    if (err) {
        cli_error("scan: %s", diag.message[0] ? diag.message : ts_strerror(err));
        exit_code = EXIT_FATAL;
        goto done;
    }
    exit_code = EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        ts_input_result in;
        ts_run_input(R, i, &in);
        if (in.status == TS_INPUT_OK)
            continue;
        cli_error("%s", in.message);
        if (in.status == TS_INPUT_OUTPUT_FAILED)
            exit_code = EXIT_FATAL;
        else if (exit_code == EXIT_OK)
            exit_code = EXIT_INPUT_FAILED;
    }
    if (ts_run_write_summary(R, wall, &diag) != TS_OK) {
        cli_error("%s", diag.message);
        exit_code = EXIT_FATAL;
    } else if (!o.quiet) {
        print_result(R, o.outdir, sname, wall);
    }
done:
    g_tmps = NULL;
    ts_run_free(R);
    free(tmps);
    cli_inputs_free(&L);
    ts_model_free(model);
    ts_lexicon_free(lex);
    return exit_code;
}
