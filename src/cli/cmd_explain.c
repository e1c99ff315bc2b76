/* cmd_explain.c: tropescan explain [--model M] [--id ID | --line N] FILE: why documents get their scores. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"

static const char usage[] =
    "usage: tropescan explain [OPTIONS] FILE\n"
    "\n"
    "For each document of FILE (JSONL, plain, zstd or gzip; - is standard input;\n"
    "plain text that does not start with '{' is one document): the scores, how\n"
    "each head's margin adds up (the bias, the features that contributed most,\n"
    "weight x value, n-grams shown as the document's own words, and all the\n"
    "others), the probability after calibration, and the normalised text with\n"
    "lexicon hits marked as [[category: text]].\n"
    "\n"
    "  --id ID                only the document(s) whose id is ID (as in a manifest)\n"
    "  --line N               only the document on line N (as in a manifest)\n"
    "  --text-field PATH      the text field (default text)\n"
    "  --id-field PATH        the id field (default id)\n"
    "  --top N                features listed per head (default 12; 0: all)\n"
    "  --max-text N           print at most N bytes of marked text (default all; 0: none)\n"
    "  --json                 one JSON object per document\n"
    "  --lexicon DIR          use the lexicon in DIR instead of the embedded default\n"
    "  --lexicon-add DIR      add the categories/patterns in DIR (repeatable)\n"
    "  --model FILE           use this model instead of the embedded default\n"
    "  --force-model          accept a model trained with a different lexicon\n"
    "  -h, --help             this help\n";

enum { OPT_TEXT = 2000, OPT_TOP, OPT_MAXTEXT, OPT_JSON, OPT_ID, OPT_LINE, OPT_IDFIELD };

#define PLAIN_MAX ((size_t)64 << 20)

typedef ts_contribution contrib;

typedef struct explainer {
    const ts_model *m;
    const ts_lexicon *lex;
    ts_scanner *sc;
    ts_explainer *ex;        /* the arithmetic (src/lib/explain.c) */
    int top, json;
    long long max_text;
    const ts_occurrence *spans; /* the current explanation's n-grams */
    const char *lower;
    contrib *cs;             /* its contributions, sorted here per head */
    size_t ncs, cscap;
    char *out;
    size_t outcap;
    char *win;               /* the deciding window's text */
    size_t wincap;
} explainer;

static int head_ = 0;
static int cmp_contrib(const void *a, const void *b)
{
    double x = fabs(((const contrib *)a)->c[head_]), y = fabs(((const contrib *)b)->c[head_]);
    if (x != y)
        return (x < y) - (x > y);
    /* Stable output for equal weights: by kind, then by position. */
    const contrib *p = a, *q = b;
    if (p->lexicon != q->lexicon)
        return (p->lexicon > q->lexicon) - (p->lexicon < q->lexicon);
    return (p->start > q->start) - (p->start < q->start);
}

/* Two occurrences' n-gram texts (lowercased) compared. */
static const char *sort_text;
static int cmp_span_text(const ts_occurrence *p, const ts_occurrence *q)
{
    size_t lp = p->end - p->start, lq = q->end - q->start;
    size_t l = lp < lq ? lp : lq;
    int c = memcmp(sort_text + p->start, sort_text + q->start, l);
    if (c)
        return c;
    return (lp > lq) - (lp < lq);
}

static void json_str(const char *s, size_t len) { cli_json_print(stdout, s, len); }

/* The normalised text with hits marked; overlapping hits merge into one mark. */
static void print_marked(explainer *e, const char *text, size_t len, const ts_matches *mt)
{
    size_t limit = e->max_text < 0 ? len : (size_t)e->max_text < len ? (size_t)e->max_text : len;
    /* hits come in order of end; marks need order of start */
    size_t nh = mt->nhits;
    ts_hit *h = nh ? malloc(nh * sizeof *h) : NULL;
    if (nh && !h)
        nh = 0;
    if (nh)
        memcpy(h, mt->hits, nh * sizeof *h);
    for (size_t i = 1; i < nh; i++) {   /* insertion sort: hits are few and nearly sorted */
        ts_hit t = h[i];
        size_t j = i;
        while (j > 0 && (h[j - 1].start > t.start || (h[j - 1].start == t.start && h[j - 1].end < t.end))) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = t;
    }
    /* Build into a buffer so JSON and text share one routine. */
    size_t need = limit * 2 + nh * 80 + 64;
    if (need > e->outcap) {
        char *o = realloc(e->out, need);
        if (!o) {
            free(h);
            return;
        }
        e->out = o;
        e->outcap = need;
    }
    char *o = e->out;
    size_t n = 0, pos = 0, i = 0;
    while (pos < limit) {
        if (i < nh && h[i].start <= pos) {
            size_t s = h[i].start < pos ? pos : h[i].start, end = h[i].end;
            char cats[TS_MAX_CATEGORIES] = {0};
            size_t j = i;
            while (j < nh && h[j].start < end) {    /* merge the overlapping group */
                if (h[j].end > end)
                    end = h[j].end;
                if (h[j].category < TS_MAX_CATEGORIES)
                    cats[h[j].category] = 1;
                j++;
            }
            if (end > len)
                end = len;
            n += (size_t)sprintf(o + n, "[[");
            int first = 1;
            for (uint32_t c = 0; c < TS_MAX_CATEGORIES; c++)
                if (cats[c]) {
                    n += (size_t)sprintf(o + n, "%s%.40s", first ? "" : ",", ts_lexicon_category_name(e->lex, c));
                    first = 0;
                }
            n += (size_t)sprintf(o + n, ": ");
            size_t stop = end < limit ? end : limit;
            if (stop < s)
                stop = s;
            memcpy(o + n, text + s, stop - s);
            n += stop - s;
            n += (size_t)sprintf(o + n, "]]");
            pos = stop;
            i = j;
            continue;
        }
        size_t next = i < nh && h[i].start < limit ? h[i].start : limit;
        memcpy(o + n, text + pos, next - pos);
        n += next - pos;
        pos = next;
        while (i < nh && h[i].end <= pos && h[i].start < pos)
            i++;   /* a hit that ended before pos (only when cut by an earlier merge) */
    }
    if (limit < len)
        n += (size_t)sprintf(o + n, " [... %zu more bytes]", len - limit);
    if (e->json)
        json_str(o, n);
    else {
        fwrite(o, 1, n, stdout);
        putchar('\n');
    }
    free(h);
}

/* The distinct n-grams of a contribution (they share one hashed feature), as
 * the document's own words (its normalised text; the features are of its
 * lowercased form): as JSON strings, or quoted and separated by " / ".
 * @return how many. */
static int print_ngrams(const explainer *e, const contrib *c, const char *norm, int json)
{
    int n = 0;
    sort_text = e->lower;
    for (size_t i = c->first; i < c->last; i++) {
        const ts_occurrence *g = &e->spans[i];
        if (i > c->first && cmp_span_text(g, g - 1) == 0)
            continue;
        size_t l = g->end - g->start;
        if (json) {
            if (n)
                putchar(',');
            json_str(norm + g->start, l);
        } else {
            printf("%s\"%.*s\"", n ? " / " : "", (int)(l > 100 ? 100 : l), norm + g->start);
        }
        n++;
    }
    return n;
}

/* The context words the explained text holds (models with context words),
 * each once: as JSON strings, or quoted and separated by ", ". @return how
 * many. */
static int print_context_words(const explainer *e, const ts_explanation *x, int json)
{
    int n = 0;
    sort_text = x->lowered;
    for (size_t i = 0; i < x->nngrams; i++) {
        const ts_occurrence *g = &x->ngrams[i];
        size_t l = g->end - g->start;
        if (!ts_model_is_context_word(e->m, x->lowered + g->start, l))
            continue;
        /* Occurrences are sorted by bucket, then text: repeats are adjacent. */
        if (i > 0 && g[-1].bucket == g->bucket && cmp_span_text(g, g - 1) == 0)
            continue;
        if (json) {
            if (n)
                putchar(',');
            json_str(x->lowered + g->start, l);
        } else {
            printf("%s\"%.*s\"", n ? ", " : "", (int)l, x->lowered + g->start);
        }
        n++;
    }
    return n;
}

static int explain_doc(explainer *e, const char *label, const char *text, size_t len)
{
    ts_doc_score s;
    int err = ts_scanner_score(e->sc, text, len, &s);
    if (err)
        return err;
    /* A document scored as passages is explained by its deciding window:
     * its text is featurised alone below (so anchoring and the hits at its
     * edges can differ slightly from the scan's window). */
    ts_window best = {0, 0, s.score, s.aligned};
    uint32_t nwin = s.nwindows, best_i = s.best;
    if (nwin > 1) {
        best = s.windows[s.best];
        size_t nl;
        const char *nt = ts_scanner_normalised(e->sc, &nl);
        size_t wl = best.end - best.start;
        if (wl + 1 > e->wincap) {
            char *b = realloc(e->win, wl + 1);
            if (!b)
                return TS_E_NOMEM;
            e->win = b;
            e->wincap = wl + 1;
        }
        memcpy(e->win, nt + best.start, wl);
        text = e->win;
        len = wl;
    }
    /* The scan result (matches, normalised text) stays valid: featurise
     * re-runs the same normalisation and matching on the same input. */
    ts_explanation x;
    if ((err = ts_explain(e->ex, text, len, &x)))
        return err;
    const char *norm = x.normalised;
    size_t nlen = x.normalised_len;
    const ts_model *m = e->m;
    if (x.n > e->cscap) {
        contrib *c = realloc(e->cs, x.n * sizeof *c);
        if (!c)
            return TS_E_NOMEM;
        e->cs = c;
        e->cscap = x.n;
    }
    if (x.n)
        memcpy(e->cs, x.contributions, x.n * sizeof *e->cs);
    e->ncs = x.n;
    e->spans = x.ngrams;
    e->lower = x.lowered;
    int nheads = ts_model_has_aligned(m) ? 2 : 1;
    if (e->json) {
        printf("{\"document\":");
        json_str(label, strlen(label));
        printf(",\"score\":%.6f,\"aligned\":%.6f,\"words\":%u,\"fast_path\":%s", s.score,
               s.aligned, s.words, s.fast_path ? "true" : "false");
        if (nwin > 1)
            printf(",\"window\":{\"index\":%u,\"of\":%u,\"start\":%u,\"end\":%u,\"score\":%.6f}", best_i, nwin,
                   best.start, best.end, best.score);
        if (ts_model_context_word(m, 0)) {
            printf(",\"context_words\":[");
            print_context_words(e, &x, 1);
            putchar(']');
        }
        printf(",\"features\":{");
    } else {
        printf("== %s\nscore %.4f", label, s.score);
        if (nheads == 2)
            printf("  aligned %.4f", s.aligned);
        printf("  words %u%s\n", s.words, s.fast_path ? "  (fast path: no lexicon hit, no n-gram features)" : "");
        if (nwin > 1)
            printf("deciding window %u of %u: bytes %u-%u of the normalised text, score %.4f; "
                   "the features and text below are that window's\n",
                   best_i + 1, nwin, best.start, best.end, best.score);
        if (ts_model_context_word(m, 0)) {
            /* The second block of weights applies only where a machine is named. */
            printf("AI context: ");
            if (!print_context_words(e, &x, 0))
                printf("none (no context word: the ctx features are off)");
            putchar('\n');
        }
    }
    for (int h = 0; h < nheads; h++) {
        head_ = h;
        qsort(e->cs, e->ncs, sizeof *e->cs, cmp_contrib);
        double z = x.margin[h];
        const char *hn = h ? "aligned" : "score";
        double p = x.probability[h];
        if (e->json)
            printf("%s\"%s\":{\"bias\":%.6f,\"margin\":%.6f,\"probability\":%.6f,\"top\":[", h ? "," : "", hn,
                   x.bias[h], z, p);
        else
            printf("%s head: margin %.4f = the bias and the contributions below; calibrated p = %.4f\n", hn, z, p);
        /* The listed features, then all the others as one sum, then the
         * bias: together they are the margin. */
        size_t shown = 0, nrest = 0;
        double rest = 0;
        for (size_t i = 0; i < e->ncs; i++) {
            const contrib *c = &e->cs[i];
            if (c->c[h] == 0)
                continue;
            if (e->top && shown >= (size_t)e->top) {
                rest += c->c[h];
                nrest++;
                continue;
            }
            char name[128];
            if (c->lexicon >= 0)
                ts_model_feature_name(m, c->lexicon, name, sizeof name);
            if (e->json) {
                printf("%s{\"feature\":", shown ? "," : "");
                if (c->lexicon >= 0)
                    json_str(name, strlen(name));
                else
                    json_str(norm + c->start, c->end - c->start);
                printf(",\"kind\":\"%s\",\"value\":%.6f,\"contribution\":%.6f",
                       c->lexicon >= 0 ? "lexicon" : c->lexicon == TS_CONTRIB_CONTEXT ? "context" : "ngram", c->value,
                       c->c[h]);
                if (c->lexicon < 0) {
                    printf(",\"ngrams\":[");
                    print_ngrams(e, c, norm, 1);
                    printf("],\"bucket\":%u", c->bucket);
                }
                putchar('}');
            } else if (c->lexicon >= 0) {
                printf("  %+8.4f  %s  (value %.3f)\n", c->c[h], name, c->value);
            } else {
                printf("  %+8.4f  %s", c->c[h], c->lexicon == TS_CONTRIB_CONTEXT ? "ctx: " : "");
                int distinct = print_ngrams(e, c, norm, 0);
                printf("  (x%.0f%s)\n", c->value, distinct > 1 ? "; these n-grams share one hashed feature" : "");
            }
            shown++;
        }
        if (e->json) {
            printf("],\"others\":{\"count\":%zu,\"contribution\":%.6f}}", nrest, rest);
        } else {
            if (nrest)
                printf("  %+8.4f  all %zu other features\n", rest, nrest);
            printf("  %+8.4f  bias\n", x.bias[h]);
        }
    }
    if (e->json) {
        printf("},\"marked\":");
        if (e->max_text != 0)
            print_marked(e, norm, nlen, x.matches);
        else
            printf("\"\"");
        printf("}\n");
    } else if (e->max_text != 0) {
        printf("text:\n");
        print_marked(e, norm, nlen, x.matches);
    }
    return TS_OK;
}

int cmd_explain(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, 0, 'h'},
        {"text-field", required_argument, 0, OPT_TEXT},
        {"top", required_argument, 0, OPT_TOP},
        {"max-text", required_argument, 0, OPT_MAXTEXT},
        {"json", no_argument, 0, OPT_JSON},
        {"id", required_argument, 0, OPT_ID},
        {"line", required_argument, 0, OPT_LINE},
        {"id-field", required_argument, 0, OPT_IDFIELD},
        CLI_LEXMODEL_LONGOPTS,
        {0, 0, 0, 0},
    };
    cli_lexmodel lm;
    memset(&lm, 0, sizeof lm);
    explainer e;
    memset(&e, 0, sizeof e);
    e.top = 12;
    e.max_text = -1;
    const char *text_field = "text", *id_field = "id", *sel_id = NULL;
    uint64_t u, sel_line = 0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (cli_lexmodel_option(&lm, opt, optarg))
            continue;
        switch (opt) {
        case 'h': fputs(usage, stdout); return EXIT_OK;
        case OPT_TEXT: text_field = optarg; break;
        case OPT_TOP:
            if (cli_parse_u64("--top", optarg, 0, 10000, &u))
                return EXIT_USAGE;
            e.top = (int)u;
            break;
        case OPT_MAXTEXT:
            if (cli_parse_u64("--max-text", optarg, 0, UINT32_MAX, &u))
                return EXIT_USAGE;
            e.max_text = (long long)u;
            break;
        case OPT_JSON: e.json = 1; break;
        case OPT_ID: sel_id = optarg; break;
        case OPT_IDFIELD: id_field = optarg; break;
        case OPT_LINE:
            if (cli_parse_u64("--line", optarg, 1, UINT64_MAX, &sel_line))
                return EXIT_USAGE;
            break;
        default: fputs(usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_error("explain needs exactly one FILE");
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if (sel_id && sel_line) {
        cli_error("explain: --id and --line exclude each other");
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    const char *name = strcmp(path, "-") ? path : "stdin";
    ts_lexicon *lex = NULL;
    ts_model *model = NULL;
    char *whole = NULL;
    int rc = EXIT_FATAL, err, some_bad = 0;
    if (cli_load_lexicon(&lm, &lex) || cli_load_model(&lm, lex, &model))
        goto done;
    e.m = model;
    e.lex = lex;
    if ((err = ts_scanner_create(lex, model, TS_DEFAULT_ANCHOR_WORDS, 1, &e.sc)) ||
        (err = ts_explainer_create(model, e.sc, &e.ex))) {
        cli_error("%s", ts_strerror(err));
        goto done;
    }
    /* One reader for the whole input (standard input cannot be read twice):
     * the first byte decides between JSONL and one plain-text document. */
    cli_docs *docs;
    const char *extra[1] = {id_field};
    if (cli_docs_open(path, text_field, extra, 1, PLAIN_MAX, &docs))
        goto done;
    int first = cli_docs_peek(docs);
    if (first < 0) {
        cli_docs_free(docs);
        goto done;
    }
    if (first != '{') {
        if (sel_id || sel_line) {
            cli_error("%s: not JSONL (it does not start with '{'): --id and --line select documents of JSONL",
                      name);
            cli_docs_free(docs);
            rc = EXIT_USAGE;
            goto done;
        }
        size_t wlen = 0;
        err = cli_docs_slurp(docs, PLAIN_MAX, name, &whole, &wlen);
        cli_docs_free(docs);
        if (err)
            goto done;
        if ((err = explain_doc(&e, name, whole ? whole : "", wlen))) {
            cli_error("%s: %s", name, ts_strerror(err));
            goto done;
        }
    } else {
        cli_doc doc;
        int k;
        uint64_t found = 0, lines = 0;
        while ((k = cli_docs_next(docs, &doc)) == 1) {
            lines = doc.line;
            if (sel_line && doc.line != sel_line)
                continue;
            char label[700], id[512];
            int has_id = (doc.field[0].kind == TS_FIELD_STRING || doc.field[0].kind == TS_FIELD_NUMBER) &&
                         cli_field_string(&doc.field[0], id, sizeof id) == 0;
            if (sel_id && (!has_id || strcmp(id, sel_id)))
                continue;
            found++;
            if (has_id)
                snprintf(label, sizeof label, "%s:%" PRIu64 " (id %s)", name, doc.line, id);
            else
                snprintf(label, sizeof label, "%s:%" PRIu64, name, doc.line);
            if (doc.status) {
                cli_error("%s: skipped: %s", label, doc.error);
                some_bad = 1;
            } else if ((err = explain_doc(&e, label, doc.text, doc.len))) {
                cli_error("%s: %s", label, ts_strerror(err));
                cli_docs_free(docs);
                goto done;
            }
            if (sel_line)
                break;   /* the one asked for */
        }
        cli_docs_free(docs);
        if (k < 0)
            some_bad = 1;
        if (sel_id && !found) {
            cli_error("%s: no document with id '%s' (field %s)", name, sel_id, id_field);
            some_bad = 1;
        } else if (sel_line && !found && k >= 0) {
            cli_error("%s: no line %" PRIu64 " (the input has %" PRIu64 " lines)", name, sel_line, lines);
            some_bad = 1;
        }
    }
    rc = some_bad ? EXIT_INPUT_FAILED : EXIT_OK;
done:
    free(whole);
    ts_explainer_free(e.ex);
    free(e.cs);
    free(e.out);
    free(e.win);
    ts_scanner_free(e.sc);
    ts_model_free(model);
    ts_lexicon_free(lex);
    return rc;
}
