/*
 * cmd_apply.c: `tropescan apply`: a scan's manifests applied to its shards
 * (src/lib/apply.c: the per-line step of the library's pipeline, which runs
 * the shards; this file: options, the policy, output places, messages,
 * apply-summary.json, exit codes).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>

#include "cli.h"
#include "stats.h"

static const char apply_help[] =
    "usage: tropescan apply -m SCAN_OUTDIR -o OUTDIR [OPTIONS] SHARD...\n"
    "\n"
    "Applies a scan's manifests to its shards: each SHARD (given as to scan: files,\n"
    "directories, NAME=INPUT) is read beside SCAN_OUTDIR/<name>.manifest.jsonl.zst\n"
    "and written to OUTDIR/<name>, in the input's compression, with dropped lines\n"
    "removed and weights realised. Every line is checked against its manifest line\n"
    "(line, offset, length and XXH64 fingerprint of the text): a mismatch, or a\n"
    "missing or corrupt manifest, fails that shard (nothing is left under its\n"
    "name); the others complete. OUTDIR/apply-summary.json counts every shard.\n"
    "\n"
    "  -m, --manifests DIR       the scan's output directory (required)\n"
    "  -o, --output DIR          where the shards go (required)\n"
    "  -j, --threads N           worker threads (default: all cores)\n"
    "  -f, --force               overwrite existing outputs\n"
    "  -q, --quiet               no summary paragraph at the end\n"
    "  -g, --glob GLOB, --exclude GLOB   as scan's\n"
    "      --weights sample      (default) a line of weight w is written floor(w)\n"
    "                            times, plus once more iff XXH64(fp, seed) / 2^64 <\n"
    "                            frac(w): deterministic sampling\n"
    "      --weights field NAME  every kept line once, with \"NAME\":w added to its\n"
    "                            object (the line otherwise byte for byte)\n"
    "      --seed N              the sampling seed (default 0)\n"
    "      --removed DIR         write removed lines to DIR/<name> with the reason\n"
    "                            (action, weight, score, tropes)\n"
    "      --error-action A      keep or drop lines that are not documents (default:\n"
    "                            as the manifest says, i.e. scan's --error-action)\n"
    "      --compress F          zstd, gzip or none (default: as each input; the\n"
    "                            name's .zst/.gz suffix follows)\n"
    "      --level N             zstd 1..19 (default 3), gzip 0..3 (default 1)\n"
    "      --attributes NAME     write Dolma attributes instead of shards:\n"
    "                            OUTDIR/attributes/NAME/<name>, one line per input line\n"
    "  Re-deciding from the manifest's scores (no re-scan), starting from the scan's\n"
    "  policy (its summary.json):\n"
    "      --policy-file FILE    thresholds, factors and trope rules (README.md)\n"
    "      --drop-above P, --downweight-above P, --downweight-factor W,\n"
    "      --upweight-above P, --upweight-factor W, --keep-aligned-above P   as scan's\n"
    "      --text-field PATH, --id-field PATH   (default: the scan's)\n"
    "      --lexicon DIR, --lexicon-add DIR     the scan's lexicon (for --attributes)\n"
    "  -h, --help                this help\n"
    "\n"
    "Exit codes: 0 every shard applied; 1 some shard failed (a mismatch, a missing or\n"
    "corrupt manifest or shard; the others completed); 2 usage error; 3 fatal (the\n"
    "output place cannot be written, the lexicon).\n";

enum {
    OPT_WEIGHTS = 3000, OPT_SEED, OPT_REMOVED, OPT_ERROR_ACTION, OPT_COMPRESS, OPT_LEVEL, OPT_ATTRIBUTES,
    OPT_POLICY_FILE, OPT_DROP_ABOVE, OPT_DOWNWEIGHT_ABOVE, OPT_DOWNWEIGHT_FACTOR, OPT_UPWEIGHT_ABOVE,
    OPT_UPWEIGHT_FACTOR, OPT_KEEP_ALIGNED, OPT_TEXT_FIELD, OPT_ID_FIELD, OPT_EXCLUDE,
};

typedef struct apply_opts {
    const char *manifests, *outdir, *removed, *attributes, *policy_file;
    const char *text_field, *id_field;
    int threads, force, quiet;
    int weights_field;
    const char *weight_name;
    uint64_t seed;
    int error_action;
    int compress;
    int level;
    ts_policy cli_policy;       /* -1: not given */
    cli_lexmodel lm;
    cli_input_opts in;
} apply_opts;

typedef struct shard_job {
    const char *path, *name;
    char *manifest, *out, *removed;
    int err;
    ts_diag diag;
    ts_apply_counts c;
} shard_job;

/* Temporary names to remove on SIGINT or SIGTERM (ts_outfile_tmp_name gives
 * the names ts_outfile_open uses); SIGKILL's are removed by the next run. */
static char **volatile g_tmps;
static volatile size_t g_ntmps;

static void on_signal(int sig)
{
    char **t = g_tmps;
    for (size_t i = 0; t && i < g_ntmps; i++)
        if (t[i])
            unlink(t[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* The output's name: the input's, with its compression suffix following --compress. */
static char *out_name(const char *name, int compress)
{
    size_t n = strlen(name);
    if (compress >= 0) {
        static const char *const sfx[] = {".zst", ".zstd", ".gz"};
        for (int i = 0; i < 3; i++) {
            size_t l = strlen(sfx[i]);
            if (n > l && !strcmp(name + n - l, sfx[i])) {
                n -= l;
                break;
            }
        }
    }
    const char *add = compress == TS_FORMAT_ZSTD ? ".zst" : compress == TS_FORMAT_GZIP ? ".gz" : "";
    char *s = NULL;
    if (asprintf(&s, "%.*s%s", (int)n, name, add) < 0)
        return NULL;
    return s;
}

static int parse_args(int argc, char **argv, apply_opts *o)
{
    static const struct option longopts[] = {
        {"manifests", required_argument, 0, 'm'},
        {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 'j'},
        {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},
        {"glob", required_argument, 0, 'g'},
        {"exclude", required_argument, 0, OPT_EXCLUDE},
        {"help", no_argument, 0, 'h'},
        {"weights", required_argument, 0, OPT_WEIGHTS},
        {"seed", required_argument, 0, OPT_SEED},
        {"removed", required_argument, 0, OPT_REMOVED},
        {"error-action", required_argument, 0, OPT_ERROR_ACTION},
        {"compress", required_argument, 0, OPT_COMPRESS},
        {"level", required_argument, 0, OPT_LEVEL},
        {"attributes", required_argument, 0, OPT_ATTRIBUTES},
        {"policy-file", required_argument, 0, OPT_POLICY_FILE},
        {"drop-above", required_argument, 0, OPT_DROP_ABOVE},
        {"downweight-above", required_argument, 0, OPT_DOWNWEIGHT_ABOVE},
        {"downweight-factor", required_argument, 0, OPT_DOWNWEIGHT_FACTOR},
        {"upweight-above", required_argument, 0, OPT_UPWEIGHT_ABOVE},
        {"upweight-factor", required_argument, 0, OPT_UPWEIGHT_FACTOR},
        {"keep-aligned-above", required_argument, 0, OPT_KEEP_ALIGNED},
        {"text-field", required_argument, 0, OPT_TEXT_FIELD},
        {"id-field", required_argument, 0, OPT_ID_FIELD},
        CLI_LEXMODEL_LONGOPTS,
        {0, 0, 0, 0},
    };
    uint64_t u;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:o:j:fqg:h", longopts, NULL)) != -1) {
        if (c == CLI_OPT_MODEL || c == CLI_OPT_FORCE_MODEL) {
            cli_error("apply: the model is not needed: apply reads the manifest's scores");
            return -1;
        }
        int r = cli_lexmodel_option(&o->lm, c, optarg);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        switch (c) {
        case 'm': o->manifests = optarg; break;
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
            if (cli_input_glob_option("apply", &o->in, c == OPT_EXCLUDE, optarg))
                return -1;
            break;
        case 'h': fputs(apply_help, stdout); return 1;
        case OPT_WEIGHTS:
            if (!strcmp(optarg, "sample")) {
                o->weights_field = 0;
            } else if (!strcmp(optarg, "field")) {
                if (optind >= argc || !argv[optind][0]) {
                    cli_error("apply: --weights field NAME: the field's name is missing");
                    return -1;
                }
                o->weights_field = 1;
                o->weight_name = argv[optind++];
            } else {
                cli_error("apply: --weights: expected sample or field NAME, got '%s'", optarg);
                return -1;
            }
            break;
        case OPT_SEED:
            if (cli_parse_u64("--seed", optarg, 0, UINT64_MAX, &o->seed))
                return -1;
            break;
        case OPT_REMOVED: o->removed = optarg; break;
        case OPT_ERROR_ACTION:
            if (strcmp(optarg, "keep") && strcmp(optarg, "drop")) {
                cli_error("--error-action: expected keep or drop, got '%s'", optarg);
                return -1;
            }
            o->error_action = !strcmp(optarg, "drop");
            break;
        case OPT_COMPRESS:
            if (!strcmp(optarg, "zstd"))
                o->compress = TS_FORMAT_ZSTD;
            else if (!strcmp(optarg, "gzip"))
                o->compress = TS_FORMAT_GZIP;
            else if (!strcmp(optarg, "none"))
                o->compress = TS_FORMAT_PLAIN;
            else {
                cli_error("--compress: expected zstd, gzip or none, got '%s'", optarg);
                return -1;
            }
            break;
        case OPT_LEVEL:
            if (cli_parse_u64("--level", optarg, 0, 19, &u))
                return -1;
            o->level = (int)u;
            break;
        case OPT_ATTRIBUTES:
            if (!optarg[0]) {
                cli_error("--attributes: the name is empty");
                return -1;
            }
            o->attributes = optarg;
            break;
        case OPT_POLICY_FILE: o->policy_file = optarg; break;
        case OPT_DROP_ABOVE:
            if (cli_parse_double("--drop-above", optarg, 0, 1, &o->cli_policy.drop_above))
                return -1;
            break;
        case OPT_DOWNWEIGHT_ABOVE:
            if (cli_parse_double("--downweight-above", optarg, 0, 1, &o->cli_policy.downweight_above))
                return -1;
            break;
        case OPT_DOWNWEIGHT_FACTOR:
            if (cli_parse_double("--downweight-factor", optarg, 0, 1, &o->cli_policy.downweight_factor))
                return -1;
            break;
        case OPT_UPWEIGHT_ABOVE:
            if (cli_parse_double("--upweight-above", optarg, 0, 1, &o->cli_policy.upweight_above))
                return -1;
            break;
        case OPT_UPWEIGHT_FACTOR:
            if (cli_parse_double("--upweight-factor", optarg, 1, 1000, &o->cli_policy.upweight_factor))
                return -1;
            break;
        case OPT_KEEP_ALIGNED:
            if (cli_parse_double("--keep-aligned-above", optarg, 0, 1, &o->cli_policy.keep_aligned_above))
                return -1;
            break;
        case OPT_TEXT_FIELD: o->text_field = optarg; break;
        case OPT_ID_FIELD: o->id_field = optarg; break;
        default: fputs("(see tropescan apply --help)\n", stderr); return -1;
        }
    }
    if (!o->manifests || !o->outdir) {
        cli_error("apply: -m SCAN_OUTDIR and -o OUTDIR are required (see tropescan apply --help)");
        return -1;
    }
    if (optind >= argc) {
        cli_error("apply: no shard given (see tropescan apply --help)");
        return -1;
    }
    if (o->compress == TS_FORMAT_GZIP && o->level > 3) {
        cli_error("apply: --level: gzip levels are 0..3 (ISA-L)");
        return -1;
    }
    if (o->compress == TS_FORMAT_ZSTD && o->level == 0) {
        cli_error("apply: --level: zstd levels are 1..19");
        return -1;
    }
    return 0;
}

/* Overlays the thresholds and factors set in `from` (>= 0) on `to`. */
static int overlay(ts_policy *to, const ts_policy *from)
{
    int any = 0;
    double *t[] = {&to->drop_above, &to->downweight_above, &to->downweight_factor, &to->upweight_above,
                   &to->upweight_factor, &to->keep_aligned_above};
    const double f[] = {from->drop_above, from->downweight_above, from->downweight_factor, from->upweight_above,
                        from->upweight_factor, from->keep_aligned_above};
    for (int i = 0; i < 6; i++)
        if (f[i] >= 0) {
            *t[i] = f[i];
            any = 1;
        }
    return any;
}

static void put_counts(ts_buf *b, const ts_apply_counts *c)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp,
             "\"lines_in\":%" PRIu64 ",\"kept\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"copies\":%" PRIu64
             ",\"errors\":%" PRIu64 ",\"actions\":{\"keep\":%" PRIu64 ",\"downweight\":%" PRIu64 ",\"drop\":%" PRIu64
             ",\"upweight\":%" PRIu64 "},\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64,
             c->lines_in, c->kept, c->dropped, c->copies, c->errors, c->actions[TS_ACTION_KEEP],
             c->actions[TS_ACTION_DOWNWEIGHT], c->actions[TS_ACTION_DROP], c->actions[TS_ACTION_UPWEIGHT],
             c->bytes_in, c->bytes_out);
    ts_buf_puts(b, tmp);
}

static void add_counts(ts_apply_counts *t, const ts_apply_counts *c)
{
    t->lines_in += c->lines_in;
    t->kept += c->kept;
    t->dropped += c->dropped;
    t->copies += c->copies;
    t->errors += c->errors;
    for (int a = 0; a < TS_NACTIONS; a++)
        t->actions[a] += c->actions[a];
    t->bytes_in += c->bytes_in;
    t->bytes_out += c->bytes_out;
}

static void diag_message(const ts_diag *d, int err, char *buf, size_t cap)
{
    char where[64] = "";
    if (d->line)
        snprintf(where, sizeof where, ":%" PRIu64, d->line);
    /* A mismatch's message says it all (TS_E_MISMATCH's own text is about models). */
    if (err == TS_E_MISMATCH)
        snprintf(buf, cap, "%s%s: %s", d->file, where, d->message);
    else
        snprintf(buf, cap, "%s%s: %s (%s)", d->file, where, d->message[0] ? d->message : ts_strerror(err),
                 ts_strerror(err));
}

int cmd_apply(int argc, char **argv)
{
    apply_opts o = {.error_action = -1, .compress = -1, .level = -1};
    o.cli_policy = (ts_policy){-1, -1, -1, -1, -1, -1};
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;

    ts_apply_settings s;
    ts_apply_settings_default(&s);
    /* The scan's options, from its summary: the same fields, the same line
     * limit, its policy as the starting point. */
    char sumpath[4096];
    snprintf(sumpath, sizeof sumpath, "%s/summary.json", o.manifests);
    ts_summary *sum = NULL;
    ts_diag diag;
    ts_policy pol;
    ts_policy_default(&pol);
    if (access(sumpath, F_OK) == 0) {
        int err = ts_summary_load(sumpath, &sum, &diag);
        if (err) {
            cli_diag_error(&diag, err);
            return EXIT_USAGE;
        }
        s.text_field = sum->text_field ? sum->text_field : "text";
        s.id_field = sum->id_field ? sum->id_field : "id";
        if (sum->max_doc_bytes)
            s.max_doc_bytes = sum->max_doc_bytes;
        pol.drop_above = sum->drop_above;
        pol.downweight_above = sum->downweight_above;
        pol.downweight_factor = sum->downweight_factor;
        pol.upweight_above = sum->upweight_above > 1 ? TS_POLICY_OFF : sum->upweight_above;
        pol.upweight_factor = sum->upweight_factor;
        pol.keep_aligned_above = sum->keep_aligned_above > 1 ? TS_POLICY_OFF : sum->keep_aligned_above;
    }
    if (o.text_field)
        s.text_field = o.text_field;
    if (o.id_field)
        s.id_field = o.id_field;
    ts_policy_file pf = {0};
    int redecide = 0;
    if (o.policy_file) {
        int err = ts_policy_file_load(o.policy_file, &pf, &diag);
        if (err) {
            cli_diag_error(&diag, err);
            ts_summary_free(sum);
            return EXIT_USAGE;
        }
        overlay(&pol, &pf.policy);
        redecide = 1;
    }
    redecide |= overlay(&pol, &o.cli_policy);
    if (ts_policy_resolve(&pol, NULL) != TS_OK) {
        cli_error("apply: the downweight threshold (%g) must not exceed the drop threshold (%g)",
                  pol.downweight_above, pol.drop_above);
        ts_summary_free(sum);
        return EXIT_USAGE;
    }
    s.redecide = redecide;
    s.policy = pol;
    s.rules = pf.rules;
    s.nrules = pf.nrules;
    s.error_action = o.error_action;
    s.weights = o.weights_field ? TS_WEIGHTS_FIELD : TS_WEIGHTS_SAMPLE;
    s.weight_field = o.weight_name;
    s.seed = o.seed;
    s.compress = o.compress;
    s.level = o.level;
    s.attributes_name = o.attributes;

    o.in.outdir = o.outdir;
    cli_inputs L = {0};
    shard_job *jobs = NULL;
    char **tmps = NULL;
    size_t ntmps_free = 0;
    ts_lexicon *lex = NULL;
    int exit_code = EXIT_USAGE;
    if (cli_collect_inputs(argc, argv, optind, &o.in, &L) != 0 || L.n == 0) {
        if (L.n == 0)
            cli_error("apply: no shard found");
        goto done;
    }
    if (o.attributes) {
        exit_code = EXIT_FATAL;
        if (cli_load_lexicon(&o.lm, &lex) != TS_OK)
            goto done;
        s.lex = lex;
        if (sum && sum->lexicon_id) {
            char hex[24];
            snprintf(hex, sizeof hex, "%016" PRIx64, ts_lexicon_id(lex));
            if (strcmp(hex, sum->lexicon_id)) {
                cli_error("apply: the lexicon (%s) is not the scan's (%s): pass the scan's --lexicon options",
                          hex, sum->lexicon_id);
                goto done;
            }
        }
    }
    if (!(jobs = calloc(L.n, sizeof *jobs))) {
        cli_error("out of memory");
        exit_code = EXIT_FATAL;
        goto done;
    }
    /* Output places: each checked before anything runs. */
    char base[4096];
    if (o.attributes)
        snprintf(base, sizeof base, "%s/attributes/%s", o.outdir, o.attributes);
    else
        snprintf(base, sizeof base, "%s", o.outdir);
    for (size_t i = 0; i < L.n; i++) {
        shard_job *j = &jobs[i];
        j->path = L.v[i].path;
        j->name = L.v[i].name;
        char *on = out_name(j->name, o.compress);
        if (!on || asprintf(&j->manifest, "%s/%s" TS_MANIFEST_SUFFIX, o.manifests, j->name) < 0 ||
            asprintf(&j->out, "%s/%s", base, on) < 0 ||
            (o.removed && !o.attributes && asprintf(&j->removed, "%s/%s", o.removed, on) < 0)) {
            free(on);
            cli_error("out of memory");
            exit_code = EXIT_FATAL;
            goto done;
        }
        free(on);
        const char *outs[2] = {j->out, j->removed};
        for (int k = 0; k < 2; k++) {
            if (!outs[k])
                continue;
            struct stat st, in_st;
            if (stat(outs[k], &st) == 0) {
                if (stat(j->path, &in_st) == 0 && st.st_dev == in_st.st_dev && st.st_ino == in_st.st_ino) {
                    cli_error("apply: %s: the output would overwrite an input", outs[k]);
                    goto done;
                }
                if (!o.force) {
                    cli_error("apply: %s exists: pass --force to overwrite it", outs[k]);
                    goto done;
                }
            }
            char dir[4096];
            snprintf(dir, sizeof dir, "%s", outs[k]);
            *strrchr(dir, '/') = '\0';
            if (mkdir_p(dir) != 0 || access(dir, W_OK) != 0) {
                cli_error("apply: %s: cannot write there: %s", dir, strerror(errno));
                exit_code = EXIT_FATAL;
                goto done;
            }
            int stale = ts_outfile_remove_stale(dir, NULL);
            if (stale && !o.quiet)
                cli_error("note: removed %d temporary file%s left by an interrupted run in %s", stale,
                          stale == 1 ? "" : "s", dir);
        }
    }
    if (mkdir_p(o.outdir) != 0 || access(o.outdir, W_OK) != 0) {
        cli_error("apply: %s: cannot write there: %s", o.outdir, strerror(errno));
        exit_code = EXIT_FATAL;
        goto done;
    }

    char sp[4096];
    snprintf(sp, sizeof sp, "%s/apply-summary.json", o.outdir);
    size_t ntmps = 2 * L.n + 1;
    if (!(tmps = calloc(ntmps, sizeof *tmps))) {
        cli_error("out of memory");
        exit_code = EXIT_FATAL;
        goto done;
    }
    ntmps_free = ntmps;
    for (size_t i = 0; i < L.n; i++) {
        tmps[2 * i] = ts_outfile_tmp_name(jobs[i].out);
        tmps[2 * i + 1] = jobs[i].removed ? ts_outfile_tmp_name(jobs[i].removed) : NULL;
    }
    tmps[2 * L.n] = ts_outfile_tmp_name(sp);
    g_tmps = tmps;
    g_ntmps = ntmps;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int threads = o.threads > 0 ? o.threads : omp_get_num_procs();
    s.threads = threads;
    ts_apply_job *aj = calloc(L.n, sizeof *aj);
    if (!aj) {
        cli_error("out of memory");
        exit_code = EXIT_FATAL;
        goto done;
    }
    for (size_t i = 0; i < L.n; i++)
        aj[i] = (ts_apply_job){.shard = jobs[i].path, .manifest = jobs[i].manifest, .out = jobs[i].out,
                               .removed = jobs[i].removed};
    int run_err = ts_apply_run(&s, aj, L.n, &diag);
    for (size_t i = 0; i < L.n; i++) {
        jobs[i].err = aj[i].err;
        jobs[i].diag = aj[i].diag;
        jobs[i].c = aj[i].counts;
    }
    free(aj);
    if (run_err) {
        cli_diag_error(&diag, run_err);
        exit_code = EXIT_FATAL;
        goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;

    exit_code = EXIT_OK;
    ts_apply_counts total = {0};
    size_t failed = 0;
    ts_buf b = {0};
    ts_buf_puts(&b, "{\n  \"version\": \"" TS_VERSION_STRING "\",\n  \"manifests\": ");
    ts_json_put_string(&b, o.manifests, strlen(o.manifests));
    ts_buf_puts(&b, ",\n  \"mode\": ");
    ts_buf_puts(&b, o.attributes ? "\"attributes\"" : o.weights_field ? "\"field\"" : "\"sample\"");
    char tmp[256];
    snprintf(tmp, sizeof tmp, ",\n  \"seed\": %" PRIu64 ",\n  \"redecided\": %s", o.seed, redecide ? "true" : "false");
    ts_buf_puts(&b, tmp);
    if (redecide) {
        snprintf(tmp, sizeof tmp,
                 ",\n  \"policy\": {\"drop_above\": %g, \"downweight_above\": %g, \"downweight_factor\": %g, "
                 "\"upweight_above\": %g, \"upweight_factor\": %g, \"keep_aligned_above\": %g, \"rules\": %d}",
                 pol.drop_above, pol.downweight_above, pol.downweight_factor, pol.upweight_above,
                 pol.upweight_factor, pol.keep_aligned_above, pf.nrules);
        ts_buf_puts(&b, tmp);
    }
    ts_buf_puts(&b, ",\n  \"shards\": [");
    for (size_t i = 0; i < L.n; i++) {
        shard_job *j = &jobs[i];
        char msg[1400] = "";
        if (j->err) {
            diag_message(&j->diag, j->err, msg, sizeof msg);
            cli_error("%s", msg);
            failed++;
            exit_code = EXIT_INPUT_FAILED;
        } else {
            add_counts(&total, &j->c);
        }
        ts_buf_puts(&b, i ? ",\n    {\"input\": " : "\n    {\"input\": ");
        ts_json_put_string(&b, j->path, strlen(j->path));
        ts_buf_puts(&b, ", \"output\": ");
        if (j->err)
            ts_buf_puts(&b, "null");
        else
            ts_json_put_string(&b, j->out, strlen(j->out));
        ts_buf_puts(&b, j->err ? ", \"status\": \"failed\", \"error\": " : ", \"status\": \"ok\", ");
        if (j->err) {
            ts_json_put_string(&b, msg, strlen(msg));
            ts_buf_puts(&b, "}");
            continue;
        }
        put_counts(&b, &j->c);
        ts_buf_puts(&b, "}");
    }
    snprintf(tmp, sizeof tmp, "\n  ],\n  \"total\": {\"shards\": %zu, \"failed_shards\": %zu, ", L.n, failed);
    ts_buf_puts(&b, tmp);
    put_counts(&b, &total);
    snprintf(tmp, sizeof tmp, "},\n  \"threads\": %d,\n  \"wall_seconds\": %.3f\n}\n", threads, wall);
    ts_buf_puts(&b, tmp);
    if (b.failed || ts_outfile_write_all(sp, b.data, b.len, &diag) != TS_OK) {
        cli_error("%s: cannot write: %s", sp, b.failed ? "out of memory" : diag.message);
        exit_code = EXIT_FATAL;
    }
    ts_buf_free(&b);
    if (!o.quiet)
        fprintf(stderr,
                "apply: %zu shard%s (%zu failed), %" PRIu64 " lines in: %" PRIu64 " kept (%" PRIu64
                " copies written), %" PRIu64 " removed; %.3f MB in, %.3f MB out in %.2f s; summary: %s\n",
                L.n, L.n == 1 ? "" : "s", failed, total.lines_in, total.kept, total.copies, total.dropped,
                total.bytes_in / 1e6, total.bytes_out / 1e6, wall, sp);
done:
    g_tmps = NULL;
    for (size_t i = 0; tmps && i < ntmps_free; i++)
        free(tmps[i]);
    free(tmps);
    for (size_t i = 0; jobs && i < L.n; i++) {
        free(jobs[i].manifest);
        free(jobs[i].out);
        free(jobs[i].removed);
    }
    free(jobs);
    cli_inputs_free(&L);
    ts_lexicon_free(lex);
    ts_summary_free(sum);
    return exit_code;
}
