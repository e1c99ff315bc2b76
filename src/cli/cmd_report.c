/*
 * cmd_report.c: `tropescan report RUN_DIR...`, how common the narratives are
 * across datasets, from the runs' summary.json files alone.
 *
 * Steps: read and check every summary (jansson), refuse runs that are not
 * comparable (different lexicons or models) unless --force, read the
 * evaluation (--eval), compute every share and estimate once, build one table
 * of rows, and print it as text, JSON, Markdown or a page. The same inputs
 * give byte-identical output: nothing depends on time, locale or order of
 * reading other than the order of the arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"

const char *const report_action_names[REPORT_ACTIONS] = {"keep", "downweight", "drop", "upweight"};

static const char usage[] =
    "usage: tropescan report [OPTIONS] RUN_DIR... [--name NAME=RUN_DIR ...]\n"
    "\n"
    "Compares scan runs (one per dataset) side by side, from their summary.json\n"
    "files alone: documents and bytes, the share of documents per action, per\n"
    "trope the share of documents with a hit and with an anchored hit, score and\n"
    "aligned histograms, and the prevalence of evil-AI narratives three ways:\n"
    "classify-and-count with a Wilson 95% interval, the mean probability (the\n"
    "calibrated estimate) and, with --eval, the adjusted count with its interval.\n"
    "RUN_DIR is a scan's output directory (or its summary.json).\n"
    "\n"
    "  --name NAME=RUN_DIR  call the dataset of RUN_DIR NAME (default: the name\n"
    "                       given to scan --name, else RUN_DIR); RUN_DIR need not\n"
    "                       be listed again\n"
    "  --eval FILE          the classifier's error rates: what `tropescan eval\n"
    "                       --json` wrote, measured at the runs' downweight threshold\n"
    "  --examples N         also show the N best-scored documents of each dataset\n"
    "                       (reads the manifests and shards)\n"
    "  --json               print the report as JSON\n"
    "  --markdown           print the report as Markdown (for a data card)\n"
    "  --html FILE          write the report as one self-contained HTML page\n"
    "  -f, --force          compare runs made with different lexicons or models,\n"
    "                       or an evaluation of another model (the report says so)\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit codes: 0 done; 1 --examples could not read some manifest or shard (the\n"
    "rest is reported); 2 usage error, or runs that are not comparable without\n"
    "--force; 3 a summary or the evaluation cannot be read or is not one, or the\n"
    "output cannot be written.\n";

enum { OPT_NAME = 2000, OPT_EVAL, OPT_EXAMPLES, OPT_JSON, OPT_MARKDOWN, OPT_HTML };

/* ---------------------------------------------------------------- output helpers */

void report_printf(ts_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        ts_buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void report_pct(double p, char *buf, size_t cap)
{
    double x = p * 100;
    int decimals = x == 0 ? 0 : x >= 10 ? 1 : x >= 1 ? 2 : x >= 0.1 ? 3 : x >= 0.01 ? 4 : 6;
    snprintf(buf, cap, "%.*f%%", decimals, x);
}

/* ---------------------------------------------------------------- computing */

static share make_share(uint64_t k, uint64_t n)
{
    share s = {.k = k, .n = n};
    ts_interval ci;
    if (ts_wilson(k, n, TS_Z95, &ci) == 0) {
        s.valid = 1;
        s.p = (double)k / (double)n;
        s.lo = ci.lo;
        s.hi = ci.hi;
    }
    return s;
}

static void compute(report *r)
{
    for (size_t i = 0; i < r->nds; i++) {
        dataset *d = &r->ds[i];
        for (int a = 0; a < REPORT_ACTIONS; a++)
            d->action[a] = make_share(d->actions[a], d->documents);
        for (size_t c = 0; c < r->ncats; c++)
            if (d->has_cat[c]) {
                d->trope[c] = make_share(d->trope_docs[c], d->ok);
                if (d->has_anch[c])
                    d->anchored[c] = make_share(d->anchored_docs[c], d->ok);
            }
        if (d->has_sums) {
            d->flagged = make_share(d->at_downweight, d->scored);
            d->has_mean = d->scored > 0;
            d->mean_score = d->has_mean ? d->score_sum / (double)d->scored : 0;
            d->has_aligned_mean = d->aligned_scored > 0;
            d->mean_aligned = d->has_aligned_mean ? d->aligned_sum / (double)d->aligned_scored : 0;
        }
        if (d->adj_status == 0) {
            int e = d->has_sums ? ts_adjusted_count(d->at_downweight, d->scored, &d->conf, TS_Z95, &d->adj)
                                : TS_ADJ_NO_DOCUMENTS;
            if (e) {
                d->adj_status = e;
                snprintf(d->adj_reason, sizeof d->adj_reason, "%s",
                         d->has_sums ? ts_adjusted_reason(e) : "the summary predates the prevalence fields");
            }
        }
    }
}

/* ---------------------------------------------------------------- the table */

static row *add_row(report *r, const char *label, int heading)
{
    if (r->nrows == r->rows_cap) {
        size_t cap = r->rows_cap ? 2 * r->rows_cap : 64;
        row *v = realloc(r->rows, cap * sizeof *v);
        if (!v)
            return NULL;
        r->rows = v;
        r->rows_cap = cap;
    }
    row *w = &r->rows[r->nrows];
    memset(w, 0, sizeof *w);
    snprintf(w->label, sizeof w->label, "%s", label);
    w->heading = heading;
    if (!heading && !(w->cells = calloc(r->nds ? r->nds : 1, sizeof *w->cells)))
        return NULL;
    r->nrows++;
    return w;
}

static void cell_count(cell *c, uint64_t v) { snprintf(c->text, sizeof c->text, "%" PRIu64, v); }

static void cell_na(cell *c, const char *why) { snprintf(c->text, sizeof c->text, "%s", why); }

/* A share, optionally with its interval; path is the JSON path of the share. */
static void cell_share(cell *c, const share *s, int with_ci, const char *path)
{
    if (!s->valid) {
        cell_na(c, "-");
        return;
    }
    char p[20], lo[20], hi[20];   /* "12.34%" */
    report_pct(s->p, p, sizeof p);
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(c->value, sizeof c->value, "%.6f", s->p);
    if (with_ci) {
        report_pct(s->lo, lo, sizeof lo);
        report_pct(s->hi, hi, sizeof hi);
        snprintf(c->text, sizeof c->text, "%s [%s, %s]", p, lo, hi);
        snprintf(c->lo, sizeof c->lo, "%.6f", s->lo);
        snprintf(c->hi, sizeof c->hi, "%.6f", s->hi);
    } else {
        snprintf(c->text, sizeof c->text, "%s", p);
    }
}

static int build_table(report *r)
{
    row *w;
    char path[96], label[96];
#define ROW(lbl) do { if (!(w = add_row(r, (lbl), 0))) return -1; } while (0)
#define HEAD(lbl) do { if (!add_row(r, (lbl), 1)) return -1; } while (0)
    HEAD("Size");
    ROW("documents");
    for (size_t i = 0; i < r->nds; i++)
        cell_count(&w->cells[i], r->ds[i].documents);
    ROW("read (ok)");
    for (size_t i = 0; i < r->nds; i++)
        cell_count(&w->cells[i], r->ds[i].ok);
    ROW("unreadable lines");
    for (size_t i = 0; i < r->nds; i++)
        cell_count(&w->cells[i], r->ds[i].errors);
    ROW("bytes (decompressed)");
    for (size_t i = 0; i < r->nds; i++)
        cell_count(&w->cells[i], r->ds[i].bytes_decompressed);
    ROW("bytes of text");
    for (size_t i = 0; i < r->nds; i++)
        cell_count(&w->cells[i], r->ds[i].text_bytes);
    ROW("shards (failed)");
    for (size_t i = 0; i < r->nds; i++)
        snprintf(w->cells[i].text, sizeof w->cells[i].text, "%" PRIu64 " (%" PRIu64 ")", r->ds[i].shards,
                 r->ds[i].failed_shards);

    HEAD("Actions (share of documents)");
    for (int a = 0; a < REPORT_ACTIONS; a++) {
        ROW(report_action_names[a]);
        for (size_t i = 0; i < r->nds; i++) {
            snprintf(path, sizeof path, "datasets.%zu.actions.%s.share", i, report_action_names[a]);
            cell_share(&w->cells[i], &r->ds[i].action[a], 0, path);
        }
    }

    HEAD("Prevalence of evil-AI narratives (share of scored documents, 95% intervals)");
    ROW("flagged (score >= downweight threshold)");
    for (size_t i = 0; i < r->nds; i++) {
        snprintf(path, sizeof path, "datasets.%zu.prevalence.classify_and_count.share", i);
        if (r->ds[i].has_sums)
            cell_share(&w->cells[i], &r->ds[i].flagged, 1, path);
        else
            cell_na(&w->cells[i], "n/a (old summary)");
    }
    ROW("downweight threshold");
    for (size_t i = 0; i < r->nds; i++)
        snprintf(w->cells[i].text, sizeof w->cells[i].text, "%.6f", r->ds[i].downweight_above);
    ROW("mean probability (calibrated)");
    for (size_t i = 0; i < r->nds; i++) {
        dataset *d = &r->ds[i];
        if (!d->has_mean) {
            cell_na(&w->cells[i], d->has_sums ? "-" : "n/a (old summary)");
            continue;
        }
        report_pct(d->mean_score, w->cells[i].text, sizeof w->cells[i].text);
        snprintf(w->cells[i].path, sizeof w->cells[i].path, "datasets.%zu.prevalence.mean_probability", i);
        snprintf(w->cells[i].value, sizeof w->cells[i].value, "%.6f", d->mean_score);
    }
    if (r->eval_path) {
        ROW("adjusted count (--eval)");
        for (size_t i = 0; i < r->nds; i++) {
            dataset *d = &r->ds[i];
            if (d->adj_status) {
                cell_na(&w->cells[i], "n/a");
                continue;
            }
            share s = {.valid = 1, .p = d->adj.estimate, .lo = d->adj.ci.lo, .hi = d->adj.ci.hi};
            snprintf(path, sizeof path, "datasets.%zu.prevalence.adjusted_count.estimate", i);
            cell_share(&w->cells[i], &s, 1, path);
        }
    }
    ROW("mean aligned probability");
    for (size_t i = 0; i < r->nds; i++) {
        dataset *d = &r->ds[i];
        if (!d->has_aligned_mean) {
            cell_na(&w->cells[i], "-");
            continue;
        }
        report_pct(d->mean_aligned, w->cells[i].text, sizeof w->cells[i].text);
        snprintf(w->cells[i].path, sizeof w->cells[i].path, "datasets.%zu.prevalence.aligned_mean_probability",
                 i);
        snprintf(w->cells[i].value, sizeof w->cells[i].value, "%.6f", d->mean_aligned);
    }

    HEAD("Tropes (share of read documents: with a hit / with an anchored hit, 95% intervals)");
    for (size_t c = 0; c < r->ncats; c++) {
        for (int anch = 0; anch < 2; anch++) {
            snprintf(label, sizeof label, "%s%s", r->cats[c], anch ? " (anchored)" : "");
            ROW(label);
            for (size_t i = 0; i < r->nds; i++) {
                if (!r->ds[i].has_cat[c]) {
                    cell_na(&w->cells[i], "not in lexicon");
                    continue;
                }
                if (anch && !r->ds[i].has_anch[c]) {
                    cell_na(&w->cells[i], "the anchor itself");
                    continue;
                }
                snprintf(path, sizeof path, "datasets.%zu.tropes.%s.%s", i, r->cats[c],
                         anch ? "anchored_share" : "share");
                cell_share(&w->cells[i], anch ? &r->ds[i].anchored[c] : &r->ds[i].trope[c], 1, path);
            }
        }
    }

    for (int h = 0; h < 2; h++) {
        HEAD(h ? "Aligned histogram (share of documents with an aligned score)"
               : "Score histogram (share of scored documents)");
        for (int b = 0; b < REPORT_BINS; b++) {
            snprintf(label, sizeof label, "%.2f-%.2f", b * 0.05, (b + 1) * 0.05);
            ROW(label);
            for (size_t i = 0; i < r->nds; i++) {
                dataset *d = &r->ds[i];
                share s = make_share(h ? d->aligned_hist[b] : d->score_hist[b],
                                     h ? d->aligned_hist_total : d->hist_total);
                snprintf(path, sizeof path, "datasets.%zu.%s.shares.%d", i,
                         h ? "aligned_histogram" : "score_histogram", b);
                cell_share(&w->cells[i], &s, 0, path);
            }
        }
    }
#undef ROW
#undef HEAD
    return 0;
}

/* ---------------------------------------------------------------- text and Markdown */

/* Names for the terminal: control characters become '?'. */
static void plain_name(const char *s, char *buf, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = 0;
}

/* Display width of UTF-8 text: one column per character. */
static size_t width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void pad(ts_buf *b, const char *s, size_t w, int right)
{
    size_t n = width(s);
    if (right)
        for (size_t i = n; i < w; i++)
            ts_buf_puts(b, " ");
    ts_buf_puts(b, s);
    if (!right)
        for (size_t i = n; i < w; i++)
            ts_buf_puts(b, " ");
}

static void print_warnings_text(const report *r, ts_buf *b, const char *prefix)
{
    for (size_t i = 0; i < r->nwarnings; i++) {
        char w[1100];
        plain_name(r->warnings[i], w, sizeof w);
        report_printf(b, "%s%s\n", prefix, w);
    }
}

static void print_examples_text(const report *r, ts_buf *b, int markdown)
{
    for (size_t i = 0; i < r->nds; i++) {
        const dataset *d = &r->ds[i];
        char name[512];
        plain_name(d->name, name, sizeof name);
        report_printf(b, markdown ? "\n### Top %zu documents: %s\n\n" : "\ntop %zu documents of %s:\n",
                      r->examples, name);
        if (!d->nex)
            ts_buf_puts(b, markdown ? "(none)\n" : "  (none)\n");
        for (size_t k = 0; k < d->nex; k++) {
            const example *e = &d->ex[k];
            char id[256], input[1024];
            plain_name(e->id ? e->id : "(no id)", id, sizeof id);
            plain_name(e->input, input, sizeof input);
            if (markdown)
                report_printf(b, "%zu. `%s`, %s line %" PRIu64 ", score %.6f, tropes: %s\n\n   > ", k + 1, id,
                              input, e->line, e->score, e->tropes[0] ? e->tropes : "none");
            else
                report_printf(b, "  %zu. %s  %s:%" PRIu64 "  score %.6f  tropes: %s\n     ", k + 1, id, input,
                              e->line, e->score, e->tropes[0] ? e->tropes : "none");
            if (markdown) {
                /* Markdown's special characters in the text are escaped. */
                const char *parts[3] = {e->before, e->span, e->after};
                for (int p = 0; p < 3; p++) {
                    if (!parts[p])
                        continue;
                    if (p == 1)
                        ts_buf_puts(b, "**");
                    for (const char *s = parts[p]; *s; s++) {
                        if (strchr("\\`*_{}[]<>()#+-.!|~", *s))
                            ts_buf_puts(b, "\\");
                        ts_buf_append(b, s, 1);
                    }
                    if (p == 1)
                        ts_buf_puts(b, "**");
                }
                ts_buf_puts(b, "\n\n");
            } else {
                report_printf(b, "%s", e->before);
                if (e->span)
                    report_printf(b, ">>>%s<<<", e->span);
                report_printf(b, "%s\n", e->after);
            }
            if (e->has_span && !markdown)
                report_printf(b, "     (>>> <<< the deciding span, bytes %" PRIu64 "-%" PRIu64 ", score %.6f)\n",
                              e->span_start, e->span_end, e->span_score);
            else if (e->has_span)
                report_printf(b, "   (**bold**: the deciding span, bytes %" PRIu64 "-%" PRIu64
                                 ", score %.6f)\n\n",
                              e->span_start, e->span_end, e->span_score);
        }
    }
}

static void print_text(const report *r, ts_buf *b)
{
    size_t lw = 0;
    for (size_t k = 0; k < r->nrows; k++)
        if (!r->rows[k].heading && width(r->rows[k].label) > lw)
            lw = width(r->rows[k].label);
    size_t *cw = calloc(r->nds, sizeof *cw);
    char (*names)[256] = calloc(r->nds, sizeof *names);
    if (!cw || !names) {
        b->failed = 1;
        free(cw);
        free(names);
        return;
    }
    for (size_t i = 0; i < r->nds; i++) {
        plain_name(r->ds[i].name, names[i], sizeof names[i]);
        cw[i] = width(names[i]);
        for (size_t k = 0; k < r->nrows; k++)
            if (!r->rows[k].heading && width(r->rows[k].cells[i].text) > cw[i])
                cw[i] = width(r->rows[k].cells[i].text);
    }
    report_printf(b, "tropescan report: %zu dataset%s\n", r->nds, r->nds == 1 ? "" : "s");
    print_warnings_text(r, b, "warning: ");
    ts_buf_puts(b, "\n");
    pad(b, "", lw + 2, 0);
    for (size_t i = 0; i < r->nds; i++) {
        ts_buf_puts(b, "  ");
        pad(b, names[i], cw[i], 1);
    }
    ts_buf_puts(b, "\n");
    for (size_t k = 0; k < r->nrows; k++) {
        const row *w = &r->rows[k];
        if (w->heading) {
            report_printf(b, "\n%s\n", w->label);
            continue;
        }
        ts_buf_puts(b, "  ");
        pad(b, w->label, lw, 0);
        for (size_t i = 0; i < r->nds; i++) {
            ts_buf_puts(b, "  ");
            pad(b, w->cells[i].text, cw[i], 1);
        }
        ts_buf_puts(b, "\n");
    }
    if (r->examples)
        print_examples_text(r, b, 0);
    free(cw);
    free(names);
}

static void md_cell(ts_buf *b, const char *s)
{
    ts_buf_puts(b, " ");
    for (; *s; s++) {
        if (*s == '|' || *s == '\\' || *s == '*' || *s == '_' || *s == '`' || *s == '<')
            ts_buf_puts(b, "\\");
        if ((unsigned char)*s < 0x20)
            ts_buf_puts(b, " ");
        else
            ts_buf_append(b, s, 1);
    }
    ts_buf_puts(b, " |");
}

static void print_markdown(const report *r, ts_buf *b)
{
    ts_buf_puts(b, "## Evil-AI narratives: prevalence by dataset\n\n");
    report_printf(b, "Made by `tropescan report` (tropescan %s) from %zu scan summar%s.\n", TS_VERSION_STRING,
                  r->nds, r->nds == 1 ? "y" : "ies");
    for (size_t i = 0; i < r->nwarnings; i++) {
        ts_buf_puts(b, i ? "" : "\n");
        ts_buf_puts(b, "> **Warning:**");
        md_cell(b, r->warnings[i]);
        b->len--; /* md_cell's closing '|' */
        ts_buf_puts(b, "\n>\n");
    }
    for (size_t k = 0; k < r->nrows;) {
        /* One table per section, the datasets side by side. */
        report_printf(b, "\n### %s\n\n|", r->rows[k].label);
        md_cell(b, "");
        for (size_t i = 0; i < r->nds; i++)
            md_cell(b, r->ds[i].name);
        ts_buf_puts(b, "\n|---|");
        for (size_t i = 0; i < r->nds; i++)
            ts_buf_puts(b, "---:|");
        ts_buf_puts(b, "\n");
        for (k++; k < r->nrows && !r->rows[k].heading; k++) {
            ts_buf_puts(b, "|");
            md_cell(b, r->rows[k].label);
            for (size_t i = 0; i < r->nds; i++)
                md_cell(b, r->rows[k].cells[i].text);
            ts_buf_puts(b, "\n");
        }
    }
    ts_buf_puts(b, "\nIntervals are 95% (Wilson; for the adjusted count, the delta method over the "
                   "sample and the evaluation's sizes).\n");
    if (r->examples)
        print_examples_text(r, b, 1);
}

/* ---------------------------------------------------------------- JSON */

static void json_share(ts_buf *b, const share *s, int with_ci)
{
    if (!s->valid) {
        ts_buf_puts(b, with_ci ? "\"share\":null,\"ci\":null" : "\"share\":null");
        return;
    }
    report_printf(b, "\"share\":%.6f", s->p);
    if (with_ci)
        report_printf(b, ",\"ci\":[%.6f,%.6f]", s->lo, s->hi);
}

static void print_json(const report *r, ts_buf *b)
{
    report_printf(b, "{\"tool\":\"tropescan\",\"version\":\"%s\",\"report\":1,\"warnings\":[", TS_VERSION_STRING);
    for (size_t i = 0; i < r->nwarnings; i++) {
        ts_buf_puts(b, i ? "," : "");
        cli_json_str(b, r->warnings[i]);
    }
    ts_buf_puts(b, "],\"eval\":");
    if (r->eval_path)
        cli_json_str(b, r->eval_path);
    else
        ts_buf_puts(b, "null");
    ts_buf_puts(b, ",\"datasets\":[");
    for (size_t i = 0; i < r->nds; i++) {
        const dataset *d = &r->ds[i];
        ts_buf_puts(b, i ? ",\n{\"name\":" : "\n{\"name\":");
        cli_json_str(b, d->name);
        ts_buf_puts(b, ",\"run\":");
        cli_json_str(b, d->dir);
        ts_buf_puts(b, ",\"tropescan_version\":");
        cli_json_str(b, d->version);
        ts_buf_puts(b, ",\"lexicon_id\":");
        cli_json_str(b, d->lexicon_id);
        ts_buf_puts(b, ",\"model_id\":");
        if (d->model_id)
            cli_json_str(b, d->model_id);
        else
            ts_buf_puts(b, "null");
        report_printf(b, ",\"thresholds\":{\"downweight_above\":%.6f,\"drop_above\":%.6f}", d->downweight_above,
                      d->drop_above);
        report_printf(b, ",\"shards\":%" PRIu64 ",\"failed_shards\":%" PRIu64 ",\"documents\":%" PRIu64
                         ",\"ok\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"bytes_in\":%" PRIu64
                         ",\"bytes_decompressed\":%" PRIu64 ",\"text_bytes\":%" PRIu64,
                      d->shards, d->failed_shards, d->documents, d->ok, d->errors, d->bytes_in,
                      d->bytes_decompressed, d->text_bytes);
        ts_buf_puts(b, ",\"actions\":{");
        for (int a = 0; a < REPORT_ACTIONS; a++) {
            report_printf(b, "%s\"%s\":{\"documents\":%" PRIu64 ",", a ? "," : "", report_action_names[a],
                          d->actions[a]);
            json_share(b, &d->action[a], 0);
            ts_buf_puts(b, "}");
        }
        ts_buf_puts(b, "},\"prevalence\":{\"classify_and_count\":");
        if (d->has_sums) {
            report_printf(b, "{\"threshold\":%.6f,\"flagged\":%" PRIu64 ",\"scored\":%" PRIu64 ",",
                          d->downweight_above, d->at_downweight, d->scored);
            json_share(b, &d->flagged, 1);
            ts_buf_puts(b, "}");
        } else {
            ts_buf_puts(b, "null");
        }
        if (d->has_mean)
            report_printf(b, ",\"mean_probability\":%.6f", d->mean_score);
        else
            ts_buf_puts(b, ",\"mean_probability\":null");
        ts_buf_puts(b, ",\"adjusted_count\":");
        if (d->adj_status == 0) {
            report_printf(b, "{\"estimate\":%.6f,\"ci\":[%.6f,%.6f],\"raw\":%.6f,\"tpr\":%.6f,\"fpr\":%.6f,"
                             "\"eval_positives\":%" PRIu64 ",\"eval_negatives\":%" PRIu64 "}",
                          d->adj.estimate, d->adj.ci.lo, d->adj.ci.hi, d->adj.raw, d->adj.tpr, d->adj.fpr,
                          d->conf.tp + d->conf.fn, d->conf.fp + d->conf.tn);
        } else if (d->adj_status == ADJ_NOT_ASKED) {
            ts_buf_puts(b, "null");
        } else {
            ts_buf_puts(b, "{\"estimate\":null,\"reason\":");
            cli_json_str(b, d->adj_reason);
            ts_buf_puts(b, "}");
        }
        if (d->has_aligned_mean)
            report_printf(b, ",\"aligned_mean_probability\":%.6f}", d->mean_aligned);
        else
            ts_buf_puts(b, ",\"aligned_mean_probability\":null}");
        ts_buf_puts(b, ",\"tropes\":{");
        int first = 1;
        for (size_t c = 0; c < r->ncats; c++) {
            if (!d->has_cat[c])
                continue;
            ts_buf_puts(b, first ? "" : ",");
            first = 0;
            cli_json_str(b, r->cats[c]);
            report_printf(b, ":{\"documents\":%" PRIu64 ",", d->trope_docs[c]);
            json_share(b, &d->trope[c], 1);
            if (d->has_anch[c])
                report_printf(b, ",\"anchored_documents\":%" PRIu64 ",", d->anchored_docs[c]);
            else
                ts_buf_puts(b, ",\"anchored_documents\":null,");
            if (d->anchored[c].valid)
                report_printf(b, "\"anchored_share\":%.6f,\"anchored_ci\":[%.6f,%.6f]}", d->anchored[c].p,
                              d->anchored[c].lo, d->anchored[c].hi);
            else
                ts_buf_puts(b, "\"anchored_share\":null,\"anchored_ci\":null}");
        }
        ts_buf_puts(b, "}");
        for (int h = 0; h < 2; h++) {
            const uint64_t *hist = h ? d->aligned_hist : d->score_hist;
            uint64_t tot = h ? d->aligned_hist_total : d->hist_total;
            report_printf(b, ",\"%s\":{\"bin_width\":0.05,\"documents\":[", h ? "aligned_histogram" : "score_histogram");
            for (int k = 0; k < REPORT_BINS; k++)
                report_printf(b, "%s%" PRIu64, k ? "," : "", hist[k]);
            ts_buf_puts(b, "],\"shares\":");
            if (!tot) {
                ts_buf_puts(b, "null}");
                continue;
            }
            for (int k = 0; k < REPORT_BINS; k++)
                report_printf(b, "%s%.6f", k ? "," : "[", (double)hist[k] / (double)tot);
            ts_buf_puts(b, "]}");
        }
        if (r->examples) {
            ts_buf_puts(b, ",\"examples\":[");
            for (size_t k = 0; k < d->nex; k++) {
                const example *e = &d->ex[k];
                ts_buf_puts(b, k ? ",{\"id\":" : "{\"id\":");
                if (e->id)
                    cli_json_str(b, e->id);
                else
                    ts_buf_puts(b, "null");
                ts_buf_puts(b, ",\"shard\":");
                cli_json_str(b, e->input);
                report_printf(b, ",\"line\":%" PRIu64 ",\"score\":%.6f,\"tropes\":%s,\"span\":", e->line, e->score,
                              e->tropes_raw);
                if (e->has_span)
                    report_printf(b, "[%" PRIu64 ",%" PRIu64 ",%.6f]", e->span_start, e->span_end, e->span_score);
                else
                    ts_buf_puts(b, "null");
                ts_buf_puts(b, ",\"before\":");
                cli_json_str(b, e->before);
                ts_buf_puts(b, ",\"marked\":");
                cli_json_str(b, e->span ? e->span : "");
                ts_buf_puts(b, ",\"after\":");
                cli_json_str(b, e->after);
                ts_buf_puts(b, "}");
            }
            ts_buf_puts(b, "]");
        }
        ts_buf_puts(b, "}");
    }
    ts_buf_puts(b, "\n]}\n");
}

/* ---------------------------------------------------------------- writing */

static int write_file(const char *path, const ts_buf *b)
{
    /* Like every output: through the library's temporary file (outfile.c). */
    ts_diag diag;
    int err = ts_outfile_write_all(path, b->data, b->len, &diag);
    if (err)
        cli_error("%s", diag.message[0] ? diag.message : ts_strerror(err));
    return err ? -1 : 0;
}

static void report_free(report *r)
{
    for (size_t i = 0; i < r->nds; i++) {
        dataset *d = &r->ds[i];
        free(d->name);
        free(d->dir);
        free(d->summary_path);
        report_dataset_release(d);
        for (size_t k = 0; k < d->nex; k++)
            example_clear(&d->ex[k]);
        free(d->ex);
    }
    free(r->ds);
    for (size_t c = 0; c < r->ncats; c++)
        free(r->cats[c]);
    for (size_t i = 0; i < r->nwarnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    for (size_t k = 0; k < r->nrows; k++)
        free(r->rows[k].cells);
    free(r->rows);
}

/* Adds a run (or names one already given). @return 0, or -1 out of memory. */
static int add_run(report *r, size_t *cap, const char *dir, const char *name)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    for (size_t i = 0; i < r->nds; i++)
        if (strlen(r->ds[i].dir) == len && !memcmp(r->ds[i].dir, dir, len)) {
            if (name) {
                free(r->ds[i].name);
                r->ds[i].name = strdup(name);
                return r->ds[i].name ? 0 : -1;
            }
            return 0;
        }
    if (r->nds == *cap) {
        size_t ncap = *cap ? 2 * *cap : 8;
        dataset *v = realloc(r->ds, ncap * sizeof *v);
        if (!v)
            return -1;
        r->ds = v;
        *cap = ncap;
    }
    dataset *d = &r->ds[r->nds++];
    memset(d, 0, sizeof *d);
    d->adj_status = ADJ_NOT_ASKED;
    d->dir = strndup(dir, len);
    d->name = name ? strdup(name) : NULL;
    return d->dir && (!name || d->name) ? 0 : -1;
}

int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, 0, 'h'},
        {"force", no_argument, 0, 'f'},
        {"name", required_argument, 0, OPT_NAME},
        {"eval", required_argument, 0, OPT_EVAL},
        {"examples", required_argument, 0, OPT_EXAMPLES},
        {"json", no_argument, 0, OPT_JSON},
        {"markdown", no_argument, 0, OPT_MARKDOWN},
        {"html", required_argument, 0, OPT_HTML},
        {0, 0, 0, 0},
    };
    report r;
    memset(&r, 0, sizeof r);
    size_t cap = 0;
    int force = 0, json = 0, markdown = 0, opt, rc = EXIT_FATAL;
    const char *html = NULL;
    uint64_t nex = 0;
    ts_buf out = {0};
    const char **named = calloc((size_t)argc + 1, sizeof *named);   /* the --name arguments */
    size_t nnamed = 0;
    if (!named) {
        cli_error("out of memory");
        return EXIT_FATAL;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hf", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': fputs(usage, stdout); free(named); return EXIT_OK;
        case 'f': force = 1; break;
        case OPT_NAME:
            if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1]) {
                cli_error("--name wants NAME=RUN_DIR, not '%s'", optarg);
                free(named);
                return EXIT_USAGE;
            }
            if (nnamed < (size_t)argc)
                named[nnamed++] = optarg;
            break;
        case OPT_EVAL: r.eval_path = optarg; break;
        case OPT_EXAMPLES:
            if (cli_parse_u64("--examples", optarg, 1, 1000, &nex)) {
                free(named);
                return EXIT_USAGE;
            }
            break;
        case OPT_JSON: json = 1; break;
        case OPT_MARKDOWN: markdown = 1; break;
        case OPT_HTML: html = optarg; break;
        default: fputs(usage, stderr); free(named); return EXIT_USAGE;
        }
    }
    /* Positional runs first, in the order given, then those only --name gives. */
    for (int i = optind; i < argc; i++)
        if (add_run(&r, &cap, argv[i], NULL))
            goto oom;
    for (size_t k = 0; k < nnamed; k++) {
        const char *eq = strchr(named[k], '=');
        char *name = strndup(named[k], (size_t)(eq - named[k]));
        int e = !name || add_run(&r, &cap, eq + 1, name);
        free(name);
        if (e)
            goto oom;
    }
    if (r.nds == 0) {
        cli_error("report needs at least one RUN_DIR (a scan's output directory)");
        fputs(usage, stderr);
        rc = EXIT_USAGE;
        goto done;
    }
    if (json + markdown > 1) {
        cli_error("--json and --markdown: choose one");
        rc = EXIT_USAGE;
        goto done;
    }
    r.examples = (size_t)nex;

    for (size_t i = 0; i < r.nds; i++) {
        dataset *d = &r.ds[i];
        if (report_load_summary(&r, d)) {
            rc = EXIT_FATAL;
            goto done;
        }
        if (!d->name && !(d->name = strdup(d->dir)))
            goto oom;
    }
    for (size_t i = 0; i < r.nds; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r.ds[i].name, r.ds[j].name)) {
                cli_error("two datasets are named '%s' (%s and %s): tell them apart with --name NAME=RUN_DIR",
                          r.ds[i].name, r.ds[j].dir, r.ds[i].dir);
                rc = EXIT_USAGE;
                goto done;
            }
    /* Runs are comparable only with the same lexicon and model. */
    for (size_t i = 1; i < r.nds; i++) {
        const dataset *a = &r.ds[0], *d = &r.ds[i];
        int same_lex = !strcmp(a->lexicon_id, d->lexicon_id);
        int same_model = (!a->model_id && !d->model_id) ||
                         (a->model_id && d->model_id && !strcmp(a->model_id, d->model_id));
        if (same_lex && same_model)
            continue;
        const char *what = !same_lex && !same_model ? "lexicons and models" : !same_lex ? "lexicons" : "models";
        if (!force) {
            cli_error("%s and %s were scanned with different %s (lexicon %s / %s, model %s / %s): their "
                      "numbers are not comparable; --force to report them anyway",
                      a->name, d->name, what, a->lexicon_id, d->lexicon_id, a->model_id ? a->model_id : "none",
                      d->model_id ? d->model_id : "none");
            rc = EXIT_USAGE;
            goto done;
        }
        report_warn(&r, "NOT COMPARABLE: %s and %s were scanned with different %s (lexicon %s / %s, model %s / %s); "
                 "their numbers measure different things",
             a->name, d->name, what, a->lexicon_id, d->lexicon_id, a->model_id ? a->model_id : "none",
             d->model_id ? d->model_id : "none");
    }
    for (size_t i = 0; i < r.nds; i++)
        if (r.ds[i].documents == 0)
            report_warn(&r, "%s has no documents: its shares are undefined", r.ds[i].name);
    if (r.eval_path && (rc = report_load_eval(&r, r.eval_path, force)) != 0) {
        rc = rc == -2 ? EXIT_USAGE : EXIT_FATAL;
        goto done;
    }
    compute(&r);
    int examples_failed = 0;
    if (r.examples && report_examples(&r, r.examples) != 0)
        examples_failed = 1;
    if (build_table(&r) != 0)
        goto oom;

    if (html) {
        ts_buf page = {0};
        if (report_html(&r, &page) != 0 || page.failed) {
            ts_buf_free(&page);
            goto oom;
        }
        int e = write_file(html, &page);
        ts_buf_free(&page);
        if (e) {
            rc = EXIT_FATAL;
            goto done;
        }
    }
    if (json)
        print_json(&r, &out);
    else if (markdown)
        print_markdown(&r, &out);
    else if (!html)
        print_text(&r, &out);
    else
        report_printf(&out, "tropescan report: wrote %s (%zu datasets)\n", html, r.nds);
    if (out.failed)
        goto oom;
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        cli_error("cannot write the report: %s", strerror(errno));
        rc = EXIT_FATAL;
        goto done;
    }
    rc = examples_failed ? EXIT_INPUT_FAILED : EXIT_OK;
    goto done;
oom:
    cli_error("out of memory");
    rc = EXIT_FATAL;
done:
    free(named);
    ts_buf_free(&out);
    report_free(&r);
    return rc;
}
