/*
 * report_html.c: `tropescan report --html FILE`, one self-contained page.
 *
 * Everything is inline: the style sheet, and the charts as SVG drawn here
 * (stacked action shares, prevalence and per-trope shares with their
 * intervals, score histograms). The page references nothing outside itself:
 * no script, font, style sheet or image, so it can be mailed, archived and
 * printed as it is. The table's cells carry the JSON report's numbers
 * (data-path, data-value, data-lo, data-hi) so that a test can compare them.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "report.h"

/* Chart geometry, in pixels. */
#define LABEL_W 190     /* dataset names, right-aligned */
#define PLOT_W 460
#define CHART_W (LABEL_W + PLOT_W + 30)
#define ROW_H 22

static const char *const action_colour[REPORT_ACTIONS] = {"#c9d3df", "#e8a33d", "#b03a2e", "#2e7d4f"};

void report_html_escape(ts_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': ts_buf_puts(b, "&amp;"); break;
        case '<': ts_buf_puts(b, "&lt;"); break;
        case '>': ts_buf_puts(b, "&gt;"); break;
        case '"': ts_buf_puts(b, "&quot;"); break;
        case '\'': ts_buf_puts(b, "&#39;"); break;
        default:
            if ((unsigned char)*s < 0x20)
                ts_buf_puts(b, " ");
            else
                ts_buf_append(b, s, 1);
        }
    }
}

/* The smallest of 1, 2, 5 x 10^k at or above x (the axis' end). */
static double nice_ceiling(double x)
{
    if (!(x > 0))
        return 0.01;
    double e = pow(10, floor(log10(x)));
    for (int i = 0; i < 3; i++) {
        double m = (double[]){1, 2, 5}[i] * e;
        if (m >= x * (1 - 1e-12))
            return m;
    }
    return 10 * e;
}

static void text_at(ts_buf *b, double x, double y, const char *anchor, const char *cls, const char *s)
{
    report_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">", x, y, anchor, cls);
    report_html_escape(b, s);
    ts_buf_puts(b, "</text>\n");
}

/* An x axis from 0 to max under a plot, with ticks at 0, max/2 and max. */
static void x_axis(ts_buf *b, double y, double max)
{
    report_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"axis\"/>\n", LABEL_W, y,
                  LABEL_W + PLOT_W, y);
    for (int t = 0; t <= 2; t++) {
        char pct[32];
        double x = LABEL_W + PLOT_W * t / 2.0;
        report_pct(max * t / 2.0, pct, sizeof pct);
        report_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", x, y, x,
                      y + 4);
        text_at(b, x, y + 16, t == 0 ? "start" : t == 2 ? "end" : "middle", "tick", pct);
    }
}

static void chart_actions(const report *r, ts_buf *b)
{
    int h = 30 + (int)r->nds * ROW_H + 30;
    report_printf(b, "<svg id=\"chart-actions\" class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                     "role=\"img\" aria-label=\"Share of documents per action\">\n",
                  CHART_W, h, CHART_W, h);
    for (int a = 0; a < REPORT_ACTIONS; a++) {
        int x = LABEL_W + a * 115;
        report_printf(b, "<rect x=\"%d\" y=\"6\" width=\"12\" height=\"12\" fill=\"%s\" class=\"seg\"/>\n", x,
                      action_colour[a]);
        text_at(b, x + 16, 16, "start", "legend", report_action_names[a]);
    }
    for (size_t i = 0; i < r->nds; i++) {
        const dataset *d = &r->ds[i];
        double y = 30 + (double)i * ROW_H;
        text_at(b, LABEL_W - 8, y + 14, "end", "name", d->name);
        double at = 0;
        for (int a = 0; a < REPORT_ACTIONS; a++) {
            const share *s = &d->action[a];
            if (!s->valid || s->k == 0)
                continue;
            char pct[32];
            report_pct(s->p, pct, sizeof pct);
            report_printf(b, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"16\" fill=\"%s\" class=\"seg\">"
                             "<title>",
                          LABEL_W + at * PLOT_W, y + 2, s->p * PLOT_W, action_colour[a]);
            report_html_escape(b, d->name);
            report_printf(b, ": %s %s (%" PRIu64 " of %" PRIu64 " documents)</title></rect>\n",
                          report_action_names[a], pct, s->k, s->n);
            at += s->p;
        }
        if (!d->documents)
            text_at(b, LABEL_W + 4, y + 14, "start", "tick", "no documents");
    }
    x_axis(b, 30 + (double)r->nds * ROW_H + 4, 1);
    ts_buf_puts(b, "</svg>\n");
}

/* One row of a dot-and-interval plot: the point at p, a bar from lo to hi. */
static void interval_row(ts_buf *b, double y, double max, const share *s, int hollow, const char *title)
{
    if (!s->valid)
        return;
    double x = LABEL_W + s->p / max * PLOT_W;
    double x0 = LABEL_W + s->lo / max * PLOT_W, x1 = LABEL_W + s->hi / max * PLOT_W;
    report_printf(b, "<g class=\"est\"><title>");
    report_html_escape(b, title);
    report_printf(b, "</title><line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" class=\"ci\"/>"
                     "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" class=\"ci\"/>"
                     "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" class=\"ci\"/>"
                     "<circle cx=\"%.2f\" cy=\"%.1f\" r=\"4\" class=\"%s\"/></g>\n",
                  x0, y, x1, y, x0, y - 4, x0, y + 4, x1, y - 4, x1, y + 4, x, y, hollow ? "dot hollow" : "dot");
}

static void share_title(char *buf, size_t cap, const char *name, const char *what, const share *s)
{
    char p[32], lo[32], hi[32];
    report_pct(s->p, p, sizeof p);
    report_pct(s->lo, lo, sizeof lo);
    report_pct(s->hi, hi, sizeof hi);
    snprintf(buf, cap, "%s, %s: %s (95%% interval %s to %s)", name, what, p, lo, hi);
}

static void chart_prevalence(const report *r, ts_buf *b)
{
    /* Three estimates, one panel each, on one scale so they compare. */
    const char *title[3] = {"classify-and-count (share flagged at the downweight threshold)",
                            "mean probability (calibrated; no interval)",
                            "adjusted count (from --eval's error rates)"};
    int npanels = r->eval_path ? 3 : 2;
    double max = 0;
    for (size_t i = 0; i < r->nds; i++) {
        const dataset *d = &r->ds[i];
        if (d->flagged.valid && d->flagged.hi > max)
            max = d->flagged.hi;
        if (d->has_mean && d->mean_score > max)
            max = d->mean_score;
        if (d->adj_status == 0 && d->adj.ci.hi > max)
            max = d->adj.ci.hi;
    }
    max = nice_ceiling(max);
    int panel_h = 26 + (int)r->nds * ROW_H + 26;
    int h = npanels * panel_h;
    report_printf(b, "<svg id=\"chart-prevalence\" class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d "
                     "%d\" role=\"img\" aria-label=\"Prevalence estimates with 95%% intervals\">\n",
                  CHART_W, h, CHART_W, h);
    for (int p = 0; p < npanels; p++) {
        double top = p * panel_h;
        text_at(b, LABEL_W, top + 16, "start", "panel", title[p]);
        for (size_t i = 0; i < r->nds; i++) {
            const dataset *d = &r->ds[i];
            double y = top + 26 + (double)i * ROW_H + 11;
            text_at(b, LABEL_W - 8, y + 4, "end", "name", d->name);
            share s = {0};
            if (p == 0)
                s = d->flagged;
            else if (p == 1 && d->has_mean)
                s = (share){.valid = 1, .p = d->mean_score, .lo = d->mean_score, .hi = d->mean_score};
            else if (p == 2 && d->adj_status == 0)
                s = (share){.valid = 1, .p = d->adj.estimate, .lo = d->adj.ci.lo, .hi = d->adj.ci.hi};
            char t[512];
            share_title(t, sizeof t, d->name, p == 0 ? "flagged" : p == 1 ? "mean probability" : "adjusted count",
                        &s);
            if (s.valid)
                interval_row(b, y, max, &s, 0, t);
            else
                text_at(b, LABEL_W + 4, y + 4, "start", "tick",
                        p == 2 && d->adj_reason[0] ? "no estimate (see the warnings)" : "no estimate");
        }
        x_axis(b, top + 26 + (double)r->nds * ROW_H + 2, max);
    }
    ts_buf_puts(b, "</svg>\n");
}

static void chart_tropes(const report *r, ts_buf *b)
{
    /* A panel per trope, each on its own scale (labelled): a trope in half the
     * documents and one in a thousandth are both readable. Filled: documents
     * with a hit; hollow: with an anchored hit (near an AI mention). */
    int panel_h = 24 + (int)r->nds * 2 * 12 + 28;
    int h = 24 + (int)r->ncats * panel_h;
    report_printf(b, "<svg id=\"chart-tropes\" class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                     "role=\"img\" aria-label=\"Share of documents per trope with 95%% intervals\">\n",
                  CHART_W, h, CHART_W, h);
    report_printf(b, "<circle cx=\"%d\" cy=\"10\" r=\"4\" class=\"dot\"/>", LABEL_W + 6);
    text_at(b, LABEL_W + 14, 14, "start", "legend", "with a hit");
    report_printf(b, "<circle cx=\"%d\" cy=\"10\" r=\"4\" class=\"dot hollow\"/>", LABEL_W + 126);
    text_at(b, LABEL_W + 134, 14, "start", "legend", "with an anchored hit");
    for (size_t c = 0; c < r->ncats; c++) {
        double top = 24 + (double)c * panel_h, max = 0;
        for (size_t i = 0; i < r->nds; i++)
            if (r->ds[i].has_cat[c] && r->ds[i].trope[c].valid && r->ds[i].trope[c].hi > max)
                max = r->ds[i].trope[c].hi;
        max = nice_ceiling(max);
        text_at(b, LABEL_W, top + 16, "start", "panel", r->cats[c]);
        for (size_t i = 0; i < r->nds; i++) {
            const dataset *d = &r->ds[i];
            double y = top + 24 + (double)i * 24 + 8;
            text_at(b, LABEL_W - 8, y + 8, "end", "name", d->name);
            if (!d->has_cat[c]) {
                text_at(b, LABEL_W + 4, y + 8, "start", "tick", "not in this run's lexicon");
                continue;
            }
            char t[512];
            share_title(t, sizeof t, d->name, r->cats[c], &d->trope[c]);
            interval_row(b, y, max, &d->trope[c], 0, t);
            share_title(t, sizeof t, d->name, "anchored", &d->anchored[c]);
            interval_row(b, y + 11, max, &d->anchored[c], 1, t);
        }
        x_axis(b, top + 24 + (double)r->nds * 24 + 2, max);
    }
    ts_buf_puts(b, "</svg>\n");
}

static void chart_histograms(const report *r, ts_buf *b)
{
    /* Small multiples, three a row. Most documents score near 0, so bar
     * heights are on a square-root scale of the share (said on the page). */
    const int pw = 210, ph = 90, per_row = 3, cell_h = ph + 48;
    int rows = (int)((r->nds + per_row - 1) / per_row);
    int w = per_row * (pw + 20), h = rows * cell_h;
    report_printf(b, "<svg id=\"chart-scores\" class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                     "role=\"img\" aria-label=\"Score histograms\">\n",
                  w, h, w, h);
    for (size_t i = 0; i < r->nds; i++) {
        const dataset *d = &r->ds[i];
        double x0 = (double)(i % per_row) * (pw + 20) + 10, y0 = (double)(i / per_row) * cell_h + 18;
        text_at(b, x0, y0 - 4, "start", "panel", d->name);
        report_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", x0,
                      y0 + ph, x0 + pw, y0 + ph);
        text_at(b, x0, y0 + ph + 14, "start", "tick", "0");
        text_at(b, x0 + pw, y0 + ph + 14, "end", "tick", "score 1");
        if (!d->hist_total) {
            text_at(b, x0 + 4, y0 + ph / 2.0, "start", "tick", "no scored documents");
            continue;
        }
        double bw = (double)pw / REPORT_BINS;
        for (int k = 0; k < REPORT_BINS; k++) {
            double s = (double)d->score_hist[k] / (double)d->hist_total;
            if (d->score_hist[k] == 0)
                continue;
            double bh = sqrt(s) * ph;
            char pct[32];
            report_pct(s, pct, sizeof pct);
            report_printf(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" class=\"bar\"><title>",
                          x0 + k * bw + 0.5, y0 + ph - bh, bw - 1, bh);
            report_html_escape(b, d->name);
            report_printf(b, ": score %.2f-%.2f: %s (%" PRIu64 " documents)</title></rect>\n", k * 0.05,
                          (k + 1) * 0.05, pct, d->score_hist[k]);
        }
        char n[64];
        snprintf(n, sizeof n, "%" PRIu64 " scored", d->hist_total);
        text_at(b, x0 + pw / 2.0, y0 + ph + 28, "middle", "tick", n);
    }
    ts_buf_puts(b, "</svg>\n");
}

static void table(const report *r, ts_buf *b)
{
    ts_buf_puts(b, "<table id=\"numbers\">\n<thead><tr><th></th>");
    for (size_t i = 0; i < r->nds; i++) {
        ts_buf_puts(b, "<th scope=\"col\">");
        report_html_escape(b, r->ds[i].name);
        ts_buf_puts(b, "</th>");
    }
    ts_buf_puts(b, "</tr></thead>\n<tbody>\n");
    for (size_t k = 0; k < r->nrows; k++) {
        const row *w = &r->rows[k];
        if (w->heading) {
            report_printf(b, "<tr class=\"section\"><th colspan=\"%zu\">", r->nds + 1);
            report_html_escape(b, w->label);
            ts_buf_puts(b, "</th></tr>\n");
            continue;
        }
        ts_buf_puts(b, "<tr><th scope=\"row\">");
        report_html_escape(b, w->label);
        ts_buf_puts(b, "</th>");
        for (size_t i = 0; i < r->nds; i++) {
            const cell *c = &w->cells[i];
            ts_buf_puts(b, "<td");
            if (c->path[0]) {
                ts_buf_puts(b, " data-path=\"");
                report_html_escape(b, c->path);
                report_printf(b, "\" data-value=\"%s\"", c->value);
            }
            if (c->lo[0])
                report_printf(b, " data-lo=\"%s\" data-hi=\"%s\"", c->lo, c->hi);
            ts_buf_puts(b, ">");
            report_html_escape(b, c->text);
            ts_buf_puts(b, "</td>");
        }
        ts_buf_puts(b, "</tr>\n");
    }
    ts_buf_puts(b, "</tbody>\n</table>\n");
}

static void examples(const report *r, ts_buf *b)
{
    report_printf(b, "<h2>The %zu best-scored documents of each dataset</h2>\n"
                     "<p>Marked: the deciding span (the best-scored flagged passage).</p>\n",
                  r->examples);
    for (size_t i = 0; i < r->nds; i++) {
        const dataset *d = &r->ds[i];
        ts_buf_puts(b, "<h3>");
        report_html_escape(b, d->name);
        ts_buf_puts(b, "</h3>\n<ol class=\"examples\">\n");
        for (size_t k = 0; k < d->nex; k++) {
            const example *e = &d->ex[k];
            ts_buf_puts(b, "<li><p class=\"exmeta\"><code>");
            report_html_escape(b, e->id ? e->id : "(no id)");
            ts_buf_puts(b, "</code> ");
            report_html_escape(b, e->input);
            report_printf(b, " line %" PRIu64 ", score %.6f, tropes: ", e->line, e->score);
            report_html_escape(b, e->tropes[0] ? e->tropes : "none");
            ts_buf_puts(b, "</p><blockquote>");
            report_html_escape(b, e->before);
            if (e->span) {
                ts_buf_puts(b, "<mark>");
                report_html_escape(b, e->span);
                ts_buf_puts(b, "</mark>");
            }
            report_html_escape(b, e->after);
            ts_buf_puts(b, "</blockquote></li>\n");
        }
        ts_buf_puts(b, d->nex ? "</ol>\n" : "<li>(none)</li></ol>\n");
    }
}

static const char style[] =
    "body{font-family:sans-serif;color:#1b1b1b;margin:2em auto;max-width:60em;padding:0 1em;line-height:1.4}\n"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #999}\n"
    "h3{font-size:1em}.meta{color:#444}\n"
    ".warning{border:2px solid #b03a2e;background:#fbeeee;padding:.5em 1em;margin:1em 0}\n"
    ".warning p{margin:.3em 0}\n"
    "svg.chart{display:block;max-width:100%;height:auto;margin:.5em 0}\n"
    "svg text{font-family:sans-serif;font-size:12px;fill:#1b1b1b}\n"
    "svg text.tick,svg text.legend{font-size:11px;fill:#333}svg text.panel{font-weight:bold}\n"
    "svg .axis{stroke:#555;stroke-width:1}svg .seg{stroke:#fff;stroke-width:.5}\n"
    "svg .ci{stroke:#1b1b1b;stroke-width:1.5}svg .dot{fill:#1b1b1b;stroke:#1b1b1b}\n"
    "svg .dot.hollow{fill:#fff;stroke-width:1.5}svg .bar{fill:#4a6a8a}\n"
    "table{border-collapse:collapse;font-size:.9em;margin:1em 0}\n"
    "th,td{padding:.2em .6em;border-bottom:1px solid #ddd}td{text-align:right;white-space:nowrap}\n"
    "tbody th{text-align:left;font-weight:normal}tr.section th{font-weight:bold;text-align:left;"
    "padding-top:1em;border-bottom:1px solid #999}\n"
    "blockquote{margin:.3em 0 1em 1em;padding-left:.8em;border-left:3px solid #999}\n"
    "mark{background:#f6d58e;font-weight:bold}\n"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
    "@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}"
    "svg.chart,tr,li{break-inside:avoid}}\n";

int report_html(const report *r, ts_buf *b)
{
    ts_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<title>tropescan report: evil-AI narratives by dataset</title>\n<style>\n");
    ts_buf_puts(b, style);
    ts_buf_puts(b, "</style>\n</head>\n<body>\n<h1>Evil-AI narratives: prevalence by dataset</h1>\n");
    report_printf(b, "<p class=\"meta\">Made by <code>tropescan report</code> (tropescan %s) from %zu scan "
                     "summar%s: ",
                  TS_VERSION_STRING, r->nds, r->nds == 1 ? "y" : "ies");
    for (size_t i = 0; i < r->nds; i++) {
        ts_buf_puts(b, i ? ", " : "");
        ts_buf_puts(b, "<b>");
        report_html_escape(b, r->ds[i].name);
        ts_buf_puts(b, "</b> (");
        report_html_escape(b, r->ds[i].dir);
        ts_buf_puts(b, ")");
    }
    ts_buf_puts(b, ".</p>\n");
    if (r->nwarnings) {
        ts_buf_puts(b, "<div class=\"warning\" id=\"warnings\">\n");
        for (size_t i = 0; i < r->nwarnings; i++) {
            ts_buf_puts(b, "<p><b>Warning:</b> ");
            report_html_escape(b, r->warnings[i]);
            ts_buf_puts(b, "</p>\n");
        }
        ts_buf_puts(b, "</div>\n");
    }
    ts_buf_puts(b, "<h2>What the documents became</h2>\n<p>Share of documents per action of the policy.</p>\n");
    chart_actions(r, b);
    ts_buf_puts(b, "<h2>How common the narratives are</h2>\n"
                   "<p>Share of scored documents, with 95% intervals (Wilson for classify-and-count; for the "
                   "adjusted count, the delta method over both the sample and the evaluation's sizes). "
                   "Classify-and-count is what the filter acts on, not the prevalence: it counts false "
                   "positives and misses false negatives. The mean probability is right when the data "
                   "resemble the data the model was calibrated on. The adjusted count corrects "
                   "classify-and-count with the measured error rates.</p>\n");
    chart_prevalence(r, b);
    ts_buf_puts(b, "<h2>Tropes</h2>\n<p>Share of read documents with a lexicon hit per trope, and with a hit "
                   "anchored near a mention of an AI; 95% Wilson intervals. Each trope has its own scale.</p>\n");
    chart_tropes(r, b);
    ts_buf_puts(b, "<h2>Score histograms</h2>\n<p>Share of scored documents per score bin of 0.05; bar "
                   "heights on a square-root scale, so that the few high scores show.</p>\n");
    chart_histograms(r, b);
    ts_buf_puts(b, "<h2>The numbers</h2>\n");
    table(r, b);
    if (r->examples)
        examples(r, b);
    ts_buf_puts(b, "</body>\n</html>\n");
    return b->failed ? -1 : 0;
}
