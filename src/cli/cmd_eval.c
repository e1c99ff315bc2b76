/* cmd_eval.c: tropescan eval --model M DATA... */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "model.h"

static const char usage[] =
    "usage: tropescan eval [OPTIONS] DATA...\n"
    "\n"
    "Measures a model on labelled JSONL (labels as for train). For each head:\n"
    "precision, recall, F1 and the confusion matrix at the policy thresholds,\n"
    "ROC-AUC, PR-AUC (average precision), and a calibration table with the\n"
    "expected calibration error. Also counts the cascade's fast path and how many\n"
    "decisions it changes against full featurisation.\n"
    "\n"
    "  --text-field PATH      the text field (default text)\n"
    "  --label-field PATH     the label field (default label)\n"
    "  --drop-above P         the drop threshold (default 0.8)\n"
    "  --downweight-above P   the downweight threshold (default 0.5)\n"
    "  --bins N               calibration bins (default 10)\n"
    "  --scores FILE          also write label, score, aligned, fast_path per document (TSV)\n"
    "  --json                 print the report as JSON\n"
    "  --lexicon DIR          use the lexicon in DIR instead of the embedded default\n"
    "  --lexicon-add DIR      add the categories/patterns in DIR (repeatable)\n"
    "  --model FILE           use this model instead of the embedded default\n"
    "  --force-model          accept a model trained with a different lexicon\n"
    "  -h, --help             this help\n";

enum { OPT_TEXT = 2000, OPT_LABEL, OPT_DROP, OPT_DOWN, OPT_BINS, OPT_SCORES, OPT_JSON };

typedef struct pred {
    float p;
    signed char y;
} pred;

typedef struct predset {
    pred *v;
    size_t n, cap;
} predset;

static int push(predset *s, double p, int y)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        pred *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n].p = (float)p;
    s->v[s->n].y = (signed char)y;
    s->n++;
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = ((const pred *)a)->p, y = ((const pred *)b)->p;
    return (x < y) - (x > y);
}

typedef struct conf {
    double thr;
    uint64_t tp, fp, fn, tn;
} conf;

typedef struct head_report {
    size_t n, npos;
    double roc_auc, pr_auc, ece, brier;
    conf at[2];
    uint32_t nbins;
    uint64_t bin_n[100];
    double bin_p[100], bin_y[100];
} head_report;

static double safe_div(double a, double b) { return b > 0 ? a / b : 0; }

static void measure(predset *s, const double thr[2], uint32_t nbins, head_report *r)
{
    memset(r, 0, sizeof *r);
    r->n = s->n;
    r->nbins = nbins;
    for (size_t i = 0; i < s->n; i++)
        r->npos += s->v[i].y;
    for (int t = 0; t < 2; t++) {
        conf *c = &r->at[t];
        c->thr = thr[t];
        for (size_t i = 0; i < s->n; i++) {
            int pp = s->v[i].p >= thr[t];
            if (pp && s->v[i].y)
                c->tp++;
            else if (pp)
                c->fp++;
            else if (s->v[i].y)
                c->fn++;
            else
                c->tn++;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        uint32_t b = (uint32_t)(s->v[i].p * nbins);
        if (b >= nbins)
            b = nbins - 1;
        r->bin_n[b]++;
        r->bin_p[b] += s->v[i].p;
        r->bin_y[b] += s->v[i].y;
        double d = s->v[i].p - s->v[i].y;
        r->brier += d * d;
    }
    r->brier = safe_div(r->brier, (double)s->n);
    for (uint32_t b = 0; b < nbins; b++)
        if (r->bin_n[b])
            r->ece += (double)r->bin_n[b] / (double)s->n *
                      fabs(r->bin_p[b] / (double)r->bin_n[b] - r->bin_y[b] / (double)r->bin_n[b]);
    size_t npos = r->npos, nneg = s->n - npos;
    if (npos == 0 || nneg == 0) {
        r->roc_auc = r->pr_auc = NAN;
        return;
    }
    /* Sorted by score, ties as one group: ROC-AUC by the Mann-Whitney count
     * (a tie counts half), average precision with the precision at the end of
     * each tied group (as scikit-learn does). */
    qsort(s->v, s->n, sizeof *s->v, cmp_desc);
    double tp = 0, fp = 0, auc = 0, ap = 0, prev_recall = 0;
    for (size_t i = 0; i < s->n;) {
        size_t j = i;
        double gp = 0, gn = 0;
        while (j < s->n && s->v[j].p == s->v[i].p) {
            gp += s->v[j].y;
            gn += !s->v[j].y;
            j++;
        }
        auc += gn * (tp + gp / 2);
        tp += gp;
        fp += gn;
        double recall = tp / (double)npos;
        ap += (recall - prev_recall) * (tp / (tp + fp));
        prev_recall = recall;
        i = j;
    }
    r->roc_auc = auc / ((double)npos * (double)nneg);
    r->pr_auc = ap;
}

static void print_text(const char *name, const head_report *r)
{
    printf("== %s head: %zu documents, %zu positive\n", name, r->n, r->npos);
    printf("ROC-AUC %.4f  PR-AUC %.4f  ECE %.4f  Brier %.4f\n", r->roc_auc, r->pr_auc, r->ece, r->brier);
    for (int t = 0; t < 2; t++) {
        const conf *c = &r->at[t];
        double p = safe_div((double)c->tp, (double)(c->tp + c->fp));
        double rc = safe_div((double)c->tp, (double)(c->tp + c->fn));
        printf("at p >= %.2f: precision %.4f recall %.4f F1 %.4f\n", c->thr, p, rc, safe_div(2 * p * rc, p + rc));
        printf("  confusion: TP %" PRIu64 "  FP %" PRIu64 "  FN %" PRIu64 "  TN %" PRIu64 "\n", c->tp, c->fp,
               c->fn, c->tn);
    }
    printf("calibration:  bin          n   mean p   observed\n");
    for (uint32_t b = 0; b < r->nbins; b++)
        if (r->bin_n[b])
            printf("              %.2f-%.2f %6" PRIu64 "   %.4f   %.4f\n", (double)b / r->nbins,
                   (double)(b + 1) / r->nbins, r->bin_n[b], r->bin_p[b] / (double)r->bin_n[b],
                   r->bin_y[b] / (double)r->bin_n[b]);
}

/* A number of the report, to 6 decimals (null when not finite: an AUC with
 * one class only). */
static json_t *num(double x)
{
    return isfinite(x) ? json_real(round(x * 1e6) / 1e6) : json_null();
}

static json_t *head_json(const head_report *r)
{
    json_t *th = json_array(), *cal = json_array();
    for (int t = 0; t < 2; t++) {
        const conf *c = &r->at[t];
        double p = safe_div((double)c->tp, (double)(c->tp + c->fp));
        double rc = safe_div((double)c->tp, (double)(c->tp + c->fn));
        /* tpr and fpr: the error rates tropescan report --eval corrects a
         * classify-and-count share with (the counts give their precision). */
        json_array_append_new(th, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:I}", "threshold", num(c->thr),
                                            "precision", num(p), "recall", num(rc), "f1",
                                            num(safe_div(2 * p * rc, p + rc)), "tpr", num(rc), "fpr",
                                            num(safe_div((double)c->fp, (double)(c->fp + c->tn))), "tp",
                                            (json_int_t)c->tp, "fp", (json_int_t)c->fp, "fn", (json_int_t)c->fn,
                                            "tn", (json_int_t)c->tn));
    }
    for (uint32_t b = 0; b < r->nbins; b++)
        if (r->bin_n[b])
            json_array_append_new(cal, json_pack("{s:o,s:o,s:I,s:o,s:o}", "lo", num((double)b / r->nbins), "hi",
                                                 num((double)(b + 1) / r->nbins), "n", (json_int_t)r->bin_n[b],
                                                 "mean_p", num(r->bin_p[b] / (double)r->bin_n[b]), "observed",
                                                 num(r->bin_y[b] / (double)r->bin_n[b])));
    return json_pack("{s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "documents", (json_int_t)r->n, "positives",
                     (json_int_t)r->npos, "roc_auc", num(r->roc_auc), "pr_auc", num(r->pr_auc), "ece", num(r->ece),
                     "brier", num(r->brier), "thresholds", th, "calibration", cal);
}

int cmd_eval(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, 0, 'h'},
        {"text-field", required_argument, 0, OPT_TEXT},
        {"label-field", required_argument, 0, OPT_LABEL},
        {"drop-above", required_argument, 0, OPT_DROP},
        {"downweight-above", required_argument, 0, OPT_DOWN},
        {"bins", required_argument, 0, OPT_BINS},
        {"scores", required_argument, 0, OPT_SCORES},
        {"json", no_argument, 0, OPT_JSON},
        CLI_LEXMODEL_LONGOPTS,
        {0, 0, 0, 0},
    };
    cli_lexmodel lm;
    memset(&lm, 0, sizeof lm);
    const char *text_field = "text", *label_field = "label", *scores_path = NULL;
    double thr[2] = {-1, -1};   /* unset: the model's policy, else 0.8 and 0.5 */
    uint64_t nbins = 10;
    int json = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (cli_lexmodel_option(&lm, opt, optarg))
            continue;
        switch (opt) {
        case 'h': fputs(usage, stdout); return EXIT_OK;
        case OPT_TEXT: text_field = optarg; break;
        case OPT_LABEL: label_field = optarg; break;
        case OPT_DROP:
            if (cli_parse_double("--drop-above", optarg, 0, 1, &thr[0]))
                return EXIT_USAGE;
            break;
        case OPT_DOWN:
            if (cli_parse_double("--downweight-above", optarg, 0, 1, &thr[1]))
                return EXIT_USAGE;
            break;
        case OPT_BINS:
            if (cli_parse_u64("--bins", optarg, 1, 100, &nbins))
                return EXIT_USAGE;
            break;
        case OPT_SCORES: scores_path = optarg; break;
        case OPT_JSON: json = 1; break;
        default: fputs(usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("eval needs at least one DATA file");
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    ts_lexicon *lex = NULL;
    ts_model *model = NULL;
    ts_scanner *sc = NULL;
    FILE *scores = NULL;
    predset ps[TS_NHEADS];
    memset(ps, 0, sizeof ps);
    ts_sparse v = {0};
    int rc = EXIT_FATAL, some_bad = 0, err;
    uint64_t ndocs = 0, nfast = 0, changed[TS_NHEADS] = {0, 0}, fast_pos[TS_NHEADS] = {0, 0};
    uint64_t noverlap = 0;
    char *fpbuf = NULL;
    size_t fpcap = 0;
    if (cli_load_lexicon(&lm, &lex) || cli_load_model(&lm, lex, &model))
        goto done;
    /* The policy scan applies (src/lib/policy.c), with the model's own
     * thresholds where not given here. */
    ts_policy pol;
    ts_policy_default(&pol);
    pol.drop_above = thr[0];
    pol.downweight_above = thr[1];
    if (ts_policy_resolve(&pol, model) != TS_OK) {
        cli_error("eval: the downweight threshold (%g) must not exceed the drop threshold (%g)",
                  pol.downweight_above, pol.drop_above);
        rc = EXIT_USAGE;
        goto done;
    }
    thr[0] = pol.drop_above;
    thr[1] = pol.downweight_above;
    if ((err = ts_scanner_create(lex, model, TS_DEFAULT_ANCHOR_WORDS, 0, &sc))) {
        cli_error("%s", ts_strerror(err));
        goto done;
    }
    if (scores_path && !(scores = fopen(scores_path, "w"))) {
        cli_error("cannot write %s", scores_path);
        goto done;
    }
    float xlex[TS_LEX_PER_CAT * TS_MAX_CATEGORIES + 1];
    for (int i = optind; i < argc; i++) {
        const char *extra[1] = {label_field};
        cli_docs *docs;
        if (cli_docs_open(argv[i], text_field, extra, 1, 0, &docs))
            goto done;
        cli_doc doc;
        int k;
        while ((k = cli_docs_next(docs, &doc)) == 1) {
            char lab[32];
            int y = -1;
            if (!doc.status && cli_field_string(&doc.field[0], lab, sizeof lab) == 0)
                y = !strcmp(lab, "evil") || !strcmp(lab, "1") ? 1
                    : !strcmp(lab, "aligned")                 ? 2
                    : !strcmp(lab, "neither") || !strcmp(lab, "0") ? 0 : -1;
            if (doc.status || y < 0) {
                cli_error("%s:%" PRIu64 ": skipped: %s", argv[i], doc.line,
                          doc.status ? doc.error : "missing or unknown label");
                some_bad = 1;
                continue;
            }
            ts_doc_score s;
            if ((err = ts_scanner_score(sc, doc.text, doc.len, &s))) {
                cli_error("%s:%" PRIu64 ": %s", argv[i], doc.line, ts_strerror(err));
                cli_docs_free(docs);
                goto done;
            }
            ndocs++;
            noverlap += (uint64_t)cli_training_overlap(model, doc.text, doc.len, &fpbuf, &fpcap);
            int any = 0;
            for (uint32_t c = 0; c < s.matches.ncategories; c++)
                any |= s.matches.raw[c] != 0;
            if (!any && !model->window) {
                /* The cascade's price: for a document without lexicon hits,
                 * the lexicon-only score against full featurisation. */
                ts_doc_score f;
                double zf[TS_NHEADS], zl[TS_NHEADS];
                if ((err = ts_scanner_featurise(sc, doc.text, doc.len, 0, xlex, &v, &f))) {
                    cli_docs_free(docs);
                    goto done;
                }
                ts_model_margin(model, xlex, &v, zf);
                ts_model_margin(model, xlex, NULL, zl);
                nfast++;
                /* The decision (both heads, as scan decides) with one head's
                 * fast-path probability in place of its full one. */
                int has_al = ts_model_has_aligned(model);
                double pf[TS_NHEADS], pl[TS_NHEADS], wt;
                for (int h = 0; h < TS_NHEADS; h++) {
                    pf[h] = h == 1 && !has_al ? -1 : ts_model_prob(model, h, zf[h]);
                    pl[h] = h == 1 && !has_al ? -1 : ts_model_prob(model, h, zl[h]);
                }
                for (int h = 0; h < TS_NHEADS; h++) {
                    if (h == 1 && !has_al)
                        continue;
                    ts_action full = ts_policy_decide(&pol, pf[0], pf[1], &wt);
                    ts_action fast = ts_policy_decide(&pol, h == 0 ? pl[0] : pf[0], h == 1 ? pl[1] : pf[1], &wt);
                    changed[h] += full != fast;
                    fast_pos[h] += y == h + 1;
                }
            }
            if (push(&ps[0], s.score, y == 1) ||
                (ts_model_has_aligned(model) && push(&ps[1], s.aligned, y == 2))) {
                cli_docs_free(docs);
                goto done;
            }
            if (scores)
                fprintf(scores, "%s\t%.6f\t%.6f\t%d\n", y == 1 ? "evil" : y == 2 ? "aligned" : "neither",
                        s.score, s.aligned, s.fast_path);
        }
        cli_docs_free(docs);
        if (k < 0)
            some_bad = 1;
    }
    if (noverlap)
        cli_error("warning: %" PRIu64 " of %" PRIu64 " documents (or a paragraph of them) were in the model's "
                  "training data: these figures are not held-out figures", noverlap, ndocs);
    head_report r[TS_NHEADS];
    int nheads = ts_model_has_aligned(model) ? 2 : 1;
    for (int h = 0; h < nheads; h++)
        measure(&ps[h], thr, (uint32_t)nbins, &r[h]);
    if (json) {
        /* Built with jansson: valid JSON (and UTF-8) whatever it holds. */
        char mid[24];
        snprintf(mid, sizeof mid, "%016" PRIx64, ts_model_id(model));
        json_t *heads = json_object();
        for (int h = 0; h < nheads; h++)
            json_object_set_new(heads, h ? "aligned" : "score", head_json(&r[h]));
        json_t *root = json_pack("{s:I,s:s,s:o,s:I,s:{s:I,s:I,s:I,s:I,s:I}}", "documents", (json_int_t)ndocs,
                                 "model_id", mid, "heads", heads, "training_overlap", (json_int_t)noverlap,
                                 "fast_path", "documents", (json_int_t)nfast, "positives_score",
                                 (json_int_t)fast_pos[0], "positives_aligned", (json_int_t)fast_pos[1],
                                 "changed_decisions_score", (json_int_t)changed[0], "changed_decisions_aligned",
                                 (json_int_t)changed[1]);
        if (!root || json_dumpf(root, stdout, JSON_COMPACT | JSON_REAL_PRECISION(15)) != 0) {
            json_decref(root);
            cli_error("out of memory");
            goto done;
        }
        putchar('\n');
        json_decref(root);
    } else {
        printf("model %016" PRIx64 ", %" PRIu64 " documents, thresholds: drop >= %.2f, downweight >= %.2f\n",
               ts_model_id(model), ndocs, thr[0], thr[1]);
        for (int h = 0; h < nheads; h++)
            print_text(h ? "aligned" : "score", &r[h]);
        printf("no lexicon hit (the cascade's fast path%s): %" PRIu64 " documents (%" PRIu64 " evil, %" PRIu64
               " aligned); decisions that differ between the fast path and full featurisation: score %" PRIu64
               ", aligned %" PRIu64 "\n",
               (model->flags & TS_MODEL_CASCADE) ? ", taken by this model" : ", not taken by this model", nfast, fast_pos[0], fast_pos[1], changed[0], changed[1]);
    }
    rc = some_bad ? EXIT_INPUT_FAILED : EXIT_OK;
done:
    if (scores && fclose(scores) != 0) {
        cli_error("cannot write %s", scores_path);
        rc = EXIT_FATAL;
    }
    free(ps[0].v);
    free(ps[1].v);
    free(fpbuf);
    ts_sparse_release(&v);
    ts_scanner_free(sc);
    ts_model_free(model);
    ts_lexicon_free(lex);
    return rc;
}
