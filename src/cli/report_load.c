/*
 * report_load.c: reading what `tropescan report` reports on: the runs'
 * summary.json files and the evaluation (--eval), with jansson. Every
 * field is checked (type, sign, counts that must agree), and a message names
 * the file and what is wrong: a report never crashes on, or silently
 * reports, a damaged summary.
 *
 * jansson is kept to this file: its JSON_STRING would clash with json.h's.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"

void report_warn(report *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char **w = realloc(r->warnings, (r->nwarnings + 1) * sizeof *w);
    char *copy = strdup(msg);
    if (!w || !copy) {
        free(copy);
        if (w)
            r->warnings = w;
        return;
    }
    r->warnings = w;
    r->warnings[r->nwarnings++] = copy;
}

/* ---------------------------------------------------------------- reading summaries */

/* The count at key of obj: a non-negative integer. @return 0, or -1. */
static int get_count(json_t *obj, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_number(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return 0;
}

static int category_index(report *r, const char *name)
{
    for (size_t i = 0; i < r->ncats; i++)
        if (!strcmp(r->cats[i], name))
            return (int)i;
    if (r->ncats == REPORT_MAX_CATS)
        return -1;
    r->cats[r->ncats] = strdup(name);
    return r->cats[r->ncats] ? (int)r->ncats++ : -1;
}

/* Reads one category-count object (trope_documents or anchored_documents). */
static int get_categories(report *r, json_t *total, const char *key, uint64_t *counts, int *has)
{
    json_t *obj = json_object_get(total, key);
    if (!json_is_object(obj))
        return -1;
    /* Categories in the order the summary lists them (the lexicon's order):
     * jansson keeps insertion order when iterating. */
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) {
        int c = category_index(r, name);
        if (c < 0 || !json_is_integer(v) || json_integer_value(v) < 0)
            return -1;
        has[c] = 1;
        counts[c] = (uint64_t)json_integer_value(v);
    }
    return 0;
}

static int get_histogram(json_t *total, const char *key, uint64_t *hist)
{
    json_t *a = json_object_get(total, key);
    if (!json_is_array(a) || json_array_size(a) != REPORT_BINS)
        return -1;
    for (size_t i = 0; i < REPORT_BINS; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return -1;
        hist[i] = (uint64_t)json_integer_value(v);
    }
    return 0;
}

/* The summary's path for a RUN_DIR argument (a directory, or the file). */
static char *summary_path_of(const char *dir)
{
    struct stat st;
    char *p = NULL;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return strdup(dir);
    if (asprintf(&p, "%s/summary.json", dir) < 0)
        return NULL;
    return p;
}

/* Loads and checks one summary. Messages name the file and what is wrong.
 * @return 0, or -1 (printed). */
int report_load_summary(report *r, dataset *d)
{
    if (!(d->summary_path = summary_path_of(d->dir))) {
        cli_error("out of memory");
        return -1;
    }
    json_error_t jerr;
    FILE *f = fopen(d->summary_path, "rb");
    if (!f) {
        cli_error("%s: cannot read: %s (is %s a tropescan scan's output directory?)", d->summary_path,
                  strerror(errno), d->dir);
        return -1;
    }
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!root) {
        cli_error("%s: line %d, column %d: not valid JSON (%s); a truncated or damaged summary: "
                  "scan again",
                  d->summary_path, jerr.line, jerr.column, jerr.text);
        return -1;
    }
    return report_check_summary(r, d, root);
}

int report_check_summary(report *r, dataset *d, void *parsed)
{
    json_t *root = parsed;
    d->root = root;
    json_t *tool = json_object_get(root, "tool");
    if (!json_is_object(root) || !json_is_string(tool) || strcmp(json_string_value(tool), "tropescan")) {
        cli_error("%s: not a tropescan summary (no \"tool\": \"tropescan\")", d->summary_path);
        return -1;
    }
    const char *bad = NULL;
    json_t *total = json_object_get(root, "total");
    json_t *opts = json_object_get(root, "options");
    json_t *actions = json_object_get(total, "actions");
    json_t *version = json_object_get(root, "version"), *lex = json_object_get(root, "lexicon_id");
    json_t *model = json_object_get(root, "model_id"), *name = json_object_get(root, "name");
    json_t *text_field = json_object_get(opts, "text_field"), *id_field = json_object_get(opts, "id_field");
    if (!json_is_object(total))
        bad = "total";
    else if (!json_is_object(opts) || get_number(opts, "downweight_above", &d->downweight_above) ||
             get_number(opts, "drop_above", &d->drop_above) || !json_is_string(text_field) ||
             !json_is_string(id_field))
        bad = "options";
    else if (!json_is_string(version) || !json_is_string(lex) || !(json_is_string(model) || json_is_null(model)))
        bad = "version, lexicon_id or model_id";
    else if (get_count(total, "shards", &d->shards) || get_count(total, "failed_shards", &d->failed_shards) ||
             get_count(total, "documents", &d->documents) || get_count(total, "ok", &d->ok) ||
             get_count(total, "errors", &d->errors) || get_count(total, "bytes_in", &d->bytes_in) ||
             get_count(total, "bytes_decompressed", &d->bytes_decompressed) ||
             get_count(total, "text_bytes", &d->text_bytes))
        bad = "total: the document and byte counts";
    else if (!json_is_object(actions))
        bad = "total.actions";
    if (!bad)
        for (int a = 0; a < REPORT_ACTIONS && !bad; a++)
            if (get_count(actions, report_action_names[a], &d->actions[a]))
                bad = "total.actions";
    if (!bad && (get_categories(r, total, "trope_documents", d->trope_docs, d->has_cat) ||
                 get_categories(r, total, "anchored_documents", d->anchored_docs, d->has_anch)))
        bad = "total.trope_documents or total.anchored_documents (or more than 256 categories)";
    if (!bad && (get_histogram(total, "score_histogram", d->score_hist) ||
                 get_histogram(total, "aligned_histogram", d->aligned_hist)))
        bad = "total.score_histogram or total.aligned_histogram (20 counts)";
    if (bad) {
        cli_error("%s: not a valid tropescan summary: %s missing or malformed", d->summary_path, bad);
        return -1;
    }
    d->version = json_string_value(version);
    d->lexicon_id = json_string_value(lex);
    d->model_id = json_is_string(model) ? json_string_value(model) : NULL;
    d->text_field = json_string_value(text_field);
    d->id_field = json_string_value(id_field);
    if (!d->name && json_is_string(name) && json_string_value(name)[0])
        d->name = strdup(json_string_value(name));

    /* The report's own fields, written since tropescan report exists. */
    json_t *at = json_object_get(total, "score_at_or_above");
    d->has_sums = !get_count(total, "scored", &d->scored) && !get_number(total, "score_sum", &d->score_sum) &&
                  !get_count(total, "aligned_scored", &d->aligned_scored) &&
                  !get_number(total, "aligned_sum", &d->aligned_sum) && json_is_object(at) &&
                  !get_count(at, "downweight_above", &d->at_downweight);
    if (!d->has_sums)
        report_warn(r, "%s: its summary predates the prevalence fields (scored, score_sum, score_at_or_above): "
                "scan it again with this version for the estimates", d->summary_path);

    /* Counts that contradict each other mean a damaged or edited summary. */
    uint64_t nact = 0, nhist = 0, nahist = 0;
    for (int a = 0; a < REPORT_ACTIONS; a++)
        nact += d->actions[a];
    for (int i = 0; i < REPORT_BINS; i++) {
        nhist += d->score_hist[i];
        nahist += d->aligned_hist[i];
    }
    int consistent = nact == d->documents && d->ok + d->errors == d->documents && d->ok >= nhist &&
                     d->ok >= nahist && d->failed_shards <= d->shards;
    for (size_t c = 0; c < r->ncats && consistent; c++)
        consistent = d->trope_docs[c] <= d->ok && d->anchored_docs[c] <= d->trope_docs[c];
    if (consistent && d->has_sums)
        consistent = d->scored == nhist && d->aligned_scored == nahist && d->at_downweight <= d->scored &&
                     d->score_sum <= (double)d->scored + 1e-3 && d->score_sum >= 0 &&
                     d->aligned_sum <= (double)d->aligned_scored + 1e-3 && d->aligned_sum >= 0;
    if (!consistent) {
        cli_error("%s: its counts contradict each other (actions, ok and errors, histograms and "
                  "scored, or tropes): a damaged or edited summary",
                  d->summary_path);
        return -1;
    }
    /* The shards' inputs and manifests, for --examples. */
    json_t *shards = json_object_get(root, "shards");
    if (!json_is_array(shards)) {
        cli_error("%s: not a valid tropescan summary: shards missing or malformed", d->summary_path);
        return -1;
    }
    d->nshard_list = json_array_size(shards);
    if (d->nshard_list && !(d->shard_list = calloc(d->nshard_list, sizeof *d->shard_list))) {
        cli_error("out of memory");
        return -1;
    }
    for (size_t i = 0; i < d->nshard_list; i++) {
        json_t *in = json_object_get(json_array_get(shards, i), "input");
        json_t *m = json_object_get(json_array_get(shards, i), "manifest");
        d->shard_list[i].input = json_is_string(in) ? json_string_value(in) : NULL;
        d->shard_list[i].manifest = json_is_string(m) ? json_string_value(m) : NULL;
    }
    d->hist_total = nhist;
    d->aligned_hist_total = nahist;
    if (d->failed_shards)
        report_warn(r, "%s: %" PRIu64 " of %" PRIu64 " shards failed; its figures cover the documents that were read",
             d->name ? d->name : d->dir, d->failed_shards, d->shards);
    return 0;
}

/* ---------------------------------------------------------------- the evaluation */

/* Reads `tropescan eval --json` output and, for each dataset, the confusion
 * matrix at its downweight threshold. @return 0, -2 (not comparable without
 * --force, printed) or -1 (cannot read, printed). */
int report_load_eval(report *r, const char *path, int force)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        cli_error("%s: %s (line %d, column %d): expected what `tropescan eval --json` writes", path, jerr.text,
                  jerr.line, jerr.column);
        return -1;
    }
    json_t *model = json_object_get(root, "model_id");
    json_t *thr = json_object_get(json_object_get(json_object_get(root, "heads"), "score"), "thresholds");
    if (!json_is_string(model) || !json_is_array(thr) || json_array_size(thr) == 0) {
        cli_error("%s: not a tropescan eval report (model_id and heads.score.thresholds expected)", path);
        json_decref(root);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < r->nds && !rc; i++) {
        dataset *d = &r->ds[i];
        if (!d->model_id || strcmp(d->model_id, json_string_value(model))) {
            if (!force) {
                cli_error("%s measured model %s, but %s was scanned with %s: use --force to apply it anyway",
                          path, json_string_value(model), d->name, d->model_id ? d->model_id : "no model");
                rc = -2;
                break;
            }
            report_warn(r, "%s: the evaluation (%s) measured model %s, but this run used %s: its adjusted count "
                    "is forced",
                 d->name, path, json_string_value(model), d->model_id ? d->model_id : "no model");
        }
        d->adj_status = ADJ_NO_THRESHOLD;
        size_t k;
        json_t *t;
        json_array_foreach(thr, k, t) {
            double at;
            uint64_t tp, fp, fn, tn;
            if (get_number(t, "threshold", &at) || get_count(t, "tp", &tp) || get_count(t, "fp", &fp) ||
                get_count(t, "fn", &fn) || get_count(t, "tn", &tn)) {
                cli_error("%s: heads.score.thresholds[%zu]: threshold, tp, fp, fn and tn expected", path, k);
                rc = -1;
                break;
            }
            /* eval printed 4 decimals before it printed 6. */
            if (fabs(at - d->downweight_above) <= 5e-5 + 1e-12) {
                d->conf = (ts_confusion){.tp = tp, .fn = fn, .fp = fp, .tn = tn};
                d->adj_status = 0;
                break;
            }
        }
        if (d->adj_status == ADJ_NO_THRESHOLD) {
            snprintf(d->adj_reason, sizeof d->adj_reason,
                     "the evaluation has no threshold %.6f (this run's downweight_above): run tropescan eval "
                     "--downweight-above %.6f --json",
                     d->downweight_above, d->downweight_above);
            report_warn(r, "%s: no adjusted count: %s", d->name, d->adj_reason);
        }
    }
    json_decref(root);
    return rc;
}


/* ---------------------------------------------------------------- examples */

void report_dataset_release(dataset *d)
{
    json_decref((json_t *)d->root);
    d->root = NULL;
    free(d->shard_list);
    d->shard_list = NULL;
}

int report_describe_matches(example *e, size_t len)
{
    json_t *tropes = json_loads(e->tropes_raw, 0, NULL), *spans = json_loads(e->spans_raw, 0, NULL);
    ts_buf t = {0};
    const char *name;
    json_t *v;
    if (json_is_object(tropes))
        json_object_foreach(tropes, name, v) {
            report_printf(&t, "%s%s %" JSON_INTEGER_FORMAT, t.len ? ", " : "", name, json_integer_value(v));
        }
    ts_buf_append(&t, "", 1);
    if (t.failed)
        ts_buf_free(&t);
    e->tropes = t.data;
    /* The best-scored span (the first on a tie) is the one that decided. */
    size_t k;
    json_t *sp;
    json_array_foreach(spans, k, sp) {
        json_t *s = json_array_get(sp, 0), *en = json_array_get(sp, 1), *sc = json_array_get(sp, 2);
        if (!json_is_integer(s) || !json_is_integer(en) || !json_is_number(sc) || json_integer_value(s) < 0 ||
            json_integer_value(en) < json_integer_value(s) || (uint64_t)json_integer_value(en) > len)
            continue;
        if (!e->has_span || json_number_value(sc) > e->span_score) {
            e->has_span = 1;
            e->span_start = (uint64_t)json_integer_value(s);
            e->span_end = (uint64_t)json_integer_value(en);
            e->span_score = json_number_value(sc);
        }
    }
    json_decref(tropes);
    json_decref(spans);
    return e->tropes ? 0 : -1;
}
