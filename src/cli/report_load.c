/*
 * report_load.c: reading what `tropescan report` reports on: the runs'
 * summary.json files (through the library's parser, src/lib/stats.c) and
 * the evaluation (--eval), with jansson. Every field is checked (type, sign,
 * counts that must agree), and a message names the file and what is wrong:
 * a report never crashes on, or silently reports, a damaged summary.
 *
 * jansson is kept to this file: its JSON_STRING would clash with json.h's.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>

#include "json_get.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"
#include "stats.h"

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
/* The library reads and checks summaries (src/lib/stats.c: the same parser
 * the merge uses); this maps one onto the report's dataset. */

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
    FILE *f = fopen(d->summary_path, "rb");
    if (!f) {
        cli_error("%s: cannot read: %s (is %s a tropescan scan's output directory?)", d->summary_path,
                  strerror(errno), d->dir);
        return -1;
    }
    ts_buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        ts_buf_append(&b, tmp, n);
    fclose(f);
    if (b.failed) {
        ts_buf_free(&b);
        cli_error("out of memory");
        return -1;
    }
    int rc = report_check_summary(r, d, b.data ? b.data : "", b.len);
    ts_buf_free(&b);
    return rc;
}

int report_check_summary(report *r, dataset *d, const char *text, size_t len)
{
    ts_summary *s = NULL;
    ts_diag diag;
    ts_diag_clear(&diag);
    int err = ts_summary_parse(text, len, &s, &diag);
    if (err == TS_E_NOMEM) {
        cli_error("out of memory");
        return -1;
    }
    if (err) {
        if (diag.line)
            cli_error("%s: line %" PRIu64 ": %s; scan again", d->summary_path, diag.line, diag.message);
        else
            cli_error("%s: %s", d->summary_path, diag.message);
        return -1;
    }
    d->root = s;
    const ts_stats *t = &s->total.stats;
    d->version = s->version;
    d->lexicon_id = s->lexicon_id;
    d->model_id = s->model_id;
    d->text_field = s->text_field;
    d->id_field = s->id_field;
    d->downweight_above = s->downweight_above;
    d->drop_above = s->drop_above;
    if (!d->name && s->name && s->name[0])
        d->name = strdup(s->name);
    d->shards = s->total.shards;
    d->failed_shards = s->total.failed_shards;
    d->documents = t->docs;
    d->ok = t->ok;
    d->errors = ts_stats_errors(t);
    d->bytes_in = s->total.bytes_in;
    d->bytes_decompressed = s->total.bytes_decompressed;
    d->text_bytes = t->text_bytes;
    for (int a = 0; a < REPORT_ACTIONS; a++)
        d->actions[a] = t->actions[a];
    for (uint32_t c = 0; c < s->ncats; c++) {
        int k = category_index(r, s->cats[c]);
        if (k < 0) {
            cli_error("%s: not a valid tropescan summary: more than %d categories over all runs", d->summary_path,
                      REPORT_MAX_CATS);
            return -1;
        }
        d->has_cat[k] = 1;
        d->trope_docs[k] = t->trope_docs[c];
        d->has_anch[k] = (s->anchored_listed >> c) & 1;
        d->anchored_docs[k] = t->anchored_docs[c];
    }
    uint64_t nhist = 0, nahist = 0;
    for (int i = 0; i < REPORT_BINS; i++) {
        d->score_hist[i] = t->score_hist[i];
        d->aligned_hist[i] = t->aligned_hist[i];
        nhist += t->score_hist[i];
        nahist += t->aligned_hist[i];
    }
    /* The report's own fields, written since tropescan report exists. */
    d->has_sums = s->has_sums;
    d->scored = t->scored;
    d->aligned_scored = t->aligned_scored;
    d->at_downweight = t->score_at_downweight;
    d->score_sum = (double)t->score_sum_e6 / 1e6;
    d->aligned_sum = (double)t->aligned_sum_e6 / 1e6;
    if (!d->has_sums)
        report_warn(r, "%s: its summary predates the prevalence fields (scored, score_sum, score_at_or_above): "
                "scan it again with this version for the estimates", d->summary_path);
    /* The shards' inputs and manifests, for --examples. */
    d->nshard_list = s->nshards;
    if (d->nshard_list && !(d->shard_list = calloc(d->nshard_list, sizeof *d->shard_list))) {
        cli_error("out of memory");
        return -1;
    }
    for (size_t i = 0; i < d->nshard_list; i++) {
        d->shard_list[i].input = s->shards[i].input;
        d->shard_list[i].manifest = s->shards[i].manifest;
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
            if (ts_json_get_num(t, "threshold", &at) || ts_json_get_u64(t, "tp", &tp) || ts_json_get_u64(t, "fp", &fp) ||
                ts_json_get_u64(t, "fn", &fn) || ts_json_get_u64(t, "tn", &tn)) {
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
    ts_summary_free((ts_summary *)d->root);
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
