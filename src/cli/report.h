/*
 * report.h: what the parts of `tropescan report` share (cmd_report.c reads
 * the summaries and writes the table, JSON and Markdown; report_html.c the
 * page; report_examples.c the top-scored documents).
 *
 * A report is computed once, into `report` and its table of rows, and every
 * output format prints the same numbers from it: the JSON's shares are
 * printed with 6 decimals, and the page's table cells carry those very
 * strings (data-value), so a test can check one against the other.
 */
#ifndef TS_REPORT_H
#define TS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "estimate.h"

#define REPORT_BINS 20          /* the summary's histograms: 20 bins of 0.05 */
#define REPORT_MAX_CATS 256     /* trope categories over all runs */
#define REPORT_ACTIONS 4
extern const char *const report_action_names[REPORT_ACTIONS];

/* A share of k in n with its Wilson 95% interval; valid is 0 when n is 0. */
typedef struct share {
    int valid;
    uint64_t k, n;
    double p, lo, hi;
} share;

typedef struct example {
    size_t shard;               /* index in the summary's shards */
    uint64_t line;
    double score;
    char *id;                   /* as a string, or NULL */
    char *input;                /* the shard's path as the scan recorded it */
    char *fp;                   /* the manifest's fingerprint (16 hex digits) */
    char *tropes_raw;           /* the manifest's "tropes" object, raw JSON */
    char *spans_raw;            /* the manifest's "spans" array, raw JSON */
    char *tropes;               /* "deception 2, power_seeking 1", or "" */
    /* The excerpt: the deciding span (the best-scored flagged passage) with
     * some context; without a span, the start of the text. */
    int has_span;
    uint64_t span_start, span_end;
    double span_score;
    char *before, *span, *after;
} example;

/* A shard of a run: its input as the scan recorded it, and its manifest
 * (relative to the run directory; NULL when the shard failed). */
typedef struct report_shard {
    const char *input, *manifest;
} report_shard;

typedef struct dataset {
    char *name;
    char *dir;                  /* the run directory as given */
    char *summary_path;
    void *root;                 /* the parsed summary (ts_summary *): the strings below point into it */
    report_shard *shard_list;
    size_t nshard_list;
    const char *version, *lexicon_id, *model_id;   /* model_id NULL: --no-model */
    const char *text_field, *id_field;
    double downweight_above, drop_above;
    uint64_t shards, failed_shards;
    uint64_t documents, ok, errors, bytes_in, bytes_decompressed, text_bytes;
    uint64_t actions[REPORT_ACTIONS];
    int has_cat[REPORT_MAX_CATS];
    int has_anch[REPORT_MAX_CATS];   /* in anchored_documents (ai_entity, the anchor, is not) */
    uint64_t trope_docs[REPORT_MAX_CATS], anchored_docs[REPORT_MAX_CATS];
    uint64_t score_hist[REPORT_BINS], aligned_hist[REPORT_BINS];
    /* Fields added to summary.json for the report (absent in older runs). */
    int has_sums;
    uint64_t scored, aligned_scored, at_downweight;
    double score_sum, aligned_sum;

    /* Computed. */
    share action[REPORT_ACTIONS];
    share trope[REPORT_MAX_CATS], anchored[REPORT_MAX_CATS];
    share flagged;              /* classify-and-count: score >= downweight_above */
    int has_mean, has_aligned_mean;
    double mean_score, mean_aligned;
    int adj_status;             /* 0 ok; > 0 no --eval; < 0 TS_ADJ_* or ADJ_NO_THRESHOLD */
    char adj_reason[256];
    ts_confusion conf;
    ts_adjusted adj;
    uint64_t hist_total, aligned_hist_total;

    example *ex;
    size_t nex;
} dataset;

#define ADJ_NOT_ASKED 1
#define ADJ_NO_THRESHOLD (-100)     /* the eval did not measure the run's threshold */

/* One row of the table: a label and one cell per dataset. A cell may carry
 * the JSON path of its number (and of its interval's bounds) and the exact
 * strings the JSON report prints for them. */
typedef struct cell {
    char text[64];
    char path[96];
    char value[24];
    char lo[24], hi[24];        /* "" when the cell has no interval */
} cell;

typedef struct row {
    char label[96];
    int heading;                /* a section heading, without cells */
    cell *cells;
} row;

typedef struct report {
    dataset *ds;
    size_t nds;
    char *cats[REPORT_MAX_CATS];
    size_t ncats;
    char **warnings;
    size_t nwarnings;
    const char *eval_path;
    size_t examples;            /* --examples N (0: none) */
    row *rows;
    size_t nrows, rows_cap;
} report;

/* report_load.c. Loads RUN_DIR's summary (d->dir) into d, checking every
 * field. @return 0, or -1 (printed). */
int report_load_summary(report *r, dataset *d);
/* Parses a summary's text with the library (ts_summary_parse: every field
 * and count checked) into d, which keeps it (report_dataset_release frees
 * it); messages name d->summary_path. @return 0, or -1 (printed). */
int report_check_summary(report *r, dataset *d, const char *text, size_t len);
/* Reads `tropescan eval --json` output and, for each dataset, the confusion
 * matrix at its downweight threshold. @return 0, -1 (cannot read, printed) or
 * -2 (another model, without force; printed). */
int report_load_eval(report *r, const char *path, int force);
/* Frees what report_load_summary keeps. */
void report_dataset_release(dataset *d);
/* Fills e->tropes and the deciding span from e->tropes_raw and e->spans_raw
 * (len: the document's length, which bounds a span). @return 0, or -1 out of memory. */
int report_describe_matches(example *e, size_t len);
/* Adds a warning to the report (shown by every output). */
void report_warn(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Formats a share as a percentage with enough digits for small values. */
void report_pct(double p, char *buf, size_t cap);

/* The page (report_html.c). @return 0, or -1 out of memory. */
int report_html(const report *r, ts_buf *out);

/* Reads the manifests and shards of each dataset and fills ds->ex with the
 * n best-scored documents (report_examples.c). Errors are printed.
 * @return 0, or -1 when some manifest or shard could not be read. */
int report_examples(report *r, size_t n);
/* Frees what an example holds and zeroes it. */
void example_clear(example *e);

/* Escaping for each output. */
void report_html_escape(ts_buf *b, const char *s);
void report_printf(ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* TS_REPORT_H */
