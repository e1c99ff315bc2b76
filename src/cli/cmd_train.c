/* cmd_train.c: tropescan train DATA... -o MODEL */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "cli.h"
#include "model.h"

static const char usage[] =
    "usage: tropescan train [OPTIONS] DATA... -o MODEL\n"
    "\n"
    "Trains the score (evil-AI) and aligned heads from JSONL documents with a text\n"
    "and a label field. Labels: \"evil\", \"aligned\", \"neither\", or 1 / 0 (evil / not).\n"
    "The result is a function of the data, the options and the seed only.\n"
    "\n"
    "  -o, --output FILE      where to write the model (atomically)\n"
    "  --text-field PATH      the text field (dotted path; default text)\n"
    "  --label-field PATH     the label field (default label)\n"
    "  --valid FILE           validation data (repeatable); default: a fraction of DATA\n"
    "  --valid-fraction F     fraction of DATA held out when no --valid (default 0.1)\n"
    "  --group-field PATH     hold out whole groups (e.g. a source or title field)\n"
    "  --buckets N            hash buckets, a power of two (default 65536)\n"
    "  --ngram N              1: unigrams, 2: unigrams and bigrams (default 1)\n"
    "  --hash-seed N          seed of the n-gram hash (default 0)\n"
    "  --epochs N             passes over the data (default 25)\n"
    "  --optimizer NAME       adagrad (default) or sgd: L2 on every weight at every\n"
    "                         step, step size 1/(l2 (t0 + t)); the default model's\n"
    "                         recipe (data/README.md), which needs hundreds of\n"
    "                         thousands of examples (on a small set, adagrad);\n"
    "                         sgd does not use --lr\n"
    "  --lr X                 AdaGrad learning rate (default 0.5)\n"
    "  --l2 X                 L2 penalty (default 1e-6)\n"
    "  --seed N               order of the examples (default 1)\n"
    "  --balance              weight the classes to equal total weight\n"
    "  --no-balance           do not (the default)\n"
    "                         (the default model's recipe is these defaults with\n"
    "                         --optimizer sgd --buckets 262144 --epochs 15 and windows,\n"
    "                         data/README.md; sgd needs its many examples)\n"
    "  --context-words FILE   AI-context features: a window that holds one of these\n"
    "                         words (one per line, # comments; each one token, e.g.\n"
    "                         data/context_words.txt) also gets a second copy of its\n"
    "                         n-gram features with weights of their own; the words\n"
    "                         are stored in the model (data/README.md)\n"
    "  --cascade              no n-gram features for documents without a lexicon hit\n"
    "                         (lets the scanner skip hashing them; exact by construction)\n"
    "  --window W             the model scores passages: windows of W words (default 0:\n"
    "                         whole documents); train it on passages (data/README.md)\n"
    "  --stride S             words between window starts (default W/2)\n"
    "  --paragraphs P         also score each paragraph of P to W words as a window\n"
    "                         (shorter ones joined to the next; default 0: none)\n"
    "  --calibrate FILE       after training, fit the calibration on these documents as\n"
    "                         the scanner scores them (windows included; repeatable)\n"
    "  --prior P              with --calibrate: the share of evil documents the score\n"
    "                         is calibrated for (default: as in the --calibrate data)\n"
    "  --calibration-from MODEL  take both heads' calibration from MODEL (a model\n"
    "                         trained on less data and calibrated on data it never saw,\n"
    "                         e.g. train only; for a final model trained on train + valid)\n"
    "  --policy D,R,U,K       thresholds chosen for this model (downweight, drop,\n"
    "                         upweight, keep-aligned; 0: none): scan and eval use\n"
    "                         them by default\n"
    "  --record FILE          record fingerprints of these documents and of their\n"
    "                         paragraphs as training data, in place of DATA's (for\n"
    "                         DATA made from them, such as windows; repeatable), so\n"
    "                         that eval can warn about overlap\n"
    "  -q, --quiet            do not print the loss per epoch\n"
    "  --lexicon DIR          use the lexicon in DIR instead of the embedded default\n"
    "  --lexicon-add DIR      add the categories/patterns in DIR (repeatable)\n"
    "  -h, --help             this help\n";

enum {
    OPT_TEXT = 2000, OPT_LABEL, OPT_VALID, OPT_VFRAC, OPT_GROUP, OPT_BUCKETS, OPT_NGRAM,
    OPT_HSEED, OPT_EPOCHS, OPT_LR, OPT_L2, OPT_SEED, OPT_NOBAL, OPT_CASCADE, OPT_WINDOW,
    OPT_STRIDE, OPT_CALIB, OPT_PRIOR, OPT_RECORD, OPT_POLICY, OPT_PARAS, OPT_CALFROM, OPT_OPTIM,
    OPT_BAL, OPT_CTX,
};

/* Fingerprints of training texts (model.h: ts_training_fp). */
typedef struct fp_set {
    uint64_t *v;
    size_t n, cap;
    char *norm;
    size_t norm_cap;
} fp_set;

static int fp_add(fp_set *f, const char *text, size_t len)
{
    if (len + 1 > f->norm_cap) {
        char *b = realloc(f->norm, len + 1);
        if (!b)
            return TS_E_NOMEM;
        f->norm = b;
        f->norm_cap = len + 1;
    }
    size_t nl = ts_normalise(text, len, f->norm, NULL);
    if (!nl)
        return TS_OK;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4096;
        uint64_t *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return TS_E_NOMEM;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = ts_training_fp(f->norm, nl);
    return TS_OK;
}

/* A document and each of its paragraphs (cli_paragraphs) of at least
 * CLI_PARAGRAPH_MIN bytes. */
static int fp_add_doc(fp_set *f, const char *text, size_t len)
{
    int err = fp_add(f, text, len);
    size_t start = 0, end;
    while (!err && cli_next_paragraph(text, len, &start, &end)) {
        if (end - start >= CLI_PARAGRAPH_MIN && end - start < len)
            err = fp_add(f, text + start, end - start);
        start = end;
    }
    return err;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The context words of FILE (one per line; blank lines and # comments
 * skipped) into cfg, whose seed is set. @return 0, or -1 after a message. */
static int load_context_words(const char *path, ts_feat_config *cfg)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("--context-words %s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    static char words[TS_CTX_MAX + 1][TS_CTX_WORD_MAX + 1];
    const char *ptr[TS_CTX_MAX + 1];
    size_t n = 0, lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strcspn(line, "#\r\n");
        while (l && (line[l - 1] == ' ' || line[l - 1] == '\t'))
            l--;
        size_t a = strspn(line, " \t");
        if (a >= l)
            continue;
        if (l - a > TS_CTX_WORD_MAX - 1 || n > TS_CTX_MAX) {
            cli_error("--context-words %s:%zu: %s", path, lineno,
                      n > TS_CTX_MAX ? "too many words" : "a word of more than 31 bytes");
            rc = -1;
            break;
        }
        memcpy(words[n], line + a, l - a);
        words[n][l - a] = '\0';
        ptr[n] = words[n];
        n++;
    }
    fclose(f);
    if (rc)
        return rc;
    ts_diag diag = {0};
    if (!n) {
        cli_error("--context-words %s: no words", path);
        return -1;
    }
    if (ts_feat_config_set_context(cfg, ptr, n, &diag)) {
        cli_error("--context-words %s: %s", path, diag.message);
        return -1;
    }
    return 0;
}

/* Sorted and distinct, into the model. */
static void fp_store(fp_set *f, ts_model *m)
{
    qsort(f->v, f->n, sizeof *f->v, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (!k || f->v[i] != f->v[k - 1])
            f->v[k++] = f->v[i];
    free(m->seen_fp);
    m->seen_fp = f->v;
    m->nseen = (uint32_t)k;
    f->v = NULL;
    f->n = f->cap = 0;
}

typedef struct load_stats {
    uint64_t docs, bad, pos[TS_NHEADS], fast;
} load_stats;

/* @return 1 evil, 2 aligned, 0 neither, -1 unknown. */
static int parse_label(const ts_field *f)
{
    char buf[32];
    if (cli_field_string(f, buf, sizeof buf) != 0)
        return -1;
    if (!strcmp(buf, "evil") || !strcmp(buf, "1"))
        return 1;
    if (!strcmp(buf, "aligned"))
        return 2;
    if (!strcmp(buf, "neither") || !strcmp(buf, "0"))
        return 0;
    return -1;
}

typedef struct train_ctx {
    const char *text_field, *label_field, *group_field;
    fp_set *fps;
    ts_scanner *scanner;
    int cascade;
    float xlex[TS_LEX_PER_CAT * TS_MAX_CATEGORIES + 1];
    ts_sparse v;
} train_ctx;

/*
 * Reads one file into train (and, when valid_frac > 0, part of it into
 * valid, chosen by a hash of the group field or of the line number).
 * @return 0, or 1 if some documents were skipped, or < 0 on a fatal error.
 */
static int load_file(train_ctx *c, const char *path, ts_dataset *train, ts_dataset *valid,
                     double valid_frac, uint64_t seed, load_stats *st, load_stats *vst)
{
    const char *extra[2] = {c->label_field, c->group_field};
    cli_docs *docs;
    int err = cli_docs_open(path, c->text_field, extra, c->group_field ? 2 : 1, 0, &docs);
    if (err)
        return err;
    int some_bad = 0;
    cli_doc doc;
    int k;
    while ((k = cli_docs_next(docs, &doc)) == 1) {
        if (doc.status) {
            cli_error("%s:%" PRIu64 ": skipped: %s", path, doc.line, doc.error);
            st->bad++;
            some_bad = 1;
            continue;
        }
        int lab = parse_label(&doc.field[0]);
        if (lab < 0) {
            cli_error("%s:%" PRIu64 ": skipped: missing or unknown label (want evil, aligned, neither, 1 or 0)",
                      path, doc.line);
            st->bad++;
            some_bad = 1;
            continue;
        }
        int to_valid = 0;
        if (valid_frac > 0) {
            uint64_t h;
            char g[512];
            if (c->group_field && cli_field_string(&doc.field[1], g, sizeof g) == 0)
                h = XXH64(g, strlen(g), seed);
            else
                h = XXH64(&doc.line, sizeof doc.line, seed ^ XXH64(path, strlen(path), 0));
            to_valid = (double)(h >> 11) / 9007199254740992.0 < valid_frac;
        }
        if (c->fps && (err = fp_add_doc(c->fps, doc.text, doc.len))) {
            cli_docs_free(docs);
            return err;
        }
        ts_doc_score info;
        err = ts_scanner_featurise(c->scanner, doc.text, doc.len, c->cascade, c->xlex, &c->v, &info);
        if (err) {
            cli_error("%s:%" PRIu64 ": %s", path, doc.line, ts_strerror(err));
            cli_docs_free(docs);
            return err;
        }
        load_stats *s = to_valid ? vst : st;
        err = ts_dataset_add(to_valid ? valid : train, c->xlex, &c->v, lab == 1, lab == 2);
        if (err) {
            cli_docs_free(docs);
            return err;
        }
        s->docs++;
        s->pos[0] += lab == 1;
        s->pos[1] += lab == 2;
        int any = 0;
        for (uint32_t i = 0; i < info.matches.ncategories; i++)
            any |= info.matches.raw[i] != 0;
        s->fast += !any;
    }
    cli_docs_free(docs);
    if (k < 0)
        return k;
    return some_bad;
}

static void print_progress(void *ctx, uint32_t epoch, const double tl[TS_NHEADS], const double vl[TS_NHEADS])
{
    (void)ctx;
    fprintf(stderr, "epoch %3u  train loss", epoch);
    for (int h = 0; h < TS_NHEADS; h++)
        if (tl[h] >= 0)
            fprintf(stderr, " %s %.5f", h ? "aligned" : "score", tl[h]);
    if (vl[0] >= 0 || vl[1] >= 0) {
        fprintf(stderr, "  valid loss");
        for (int h = 0; h < TS_NHEADS; h++)
            if (vl[h] >= 0)
                fprintf(stderr, " %s %.5f", h ? "aligned" : "score", vl[h]);
    }
    fputc('\n', stderr);
}

/* Reads every document of path: records its fingerprints (fps not NULL),
 * or scores it with the scanner and keeps (margin, label) per head. */
static int read_extra(train_ctx *c, const char *path, fp_set *fps, ts_scanner *scorer,
                      double **z, int **y, size_t *n, size_t *cap)
{
    const char *extra[1] = {c->label_field};
    cli_docs *docs;
    int err = cli_docs_open(path, c->text_field, extra, 1, 0, &docs);
    if (err)
        return err;
    cli_doc doc;
    int k;
    while ((k = cli_docs_next(docs, &doc)) == 1 && !err) {
        if (doc.status)
            continue;
        if (fps) {
            err = fp_add_doc(fps, doc.text, doc.len);
            continue;
        }
        int lab = parse_label(&doc.field[0]);
        if (lab < 0)
            continue;
        ts_doc_score ds;
        if ((err = ts_scanner_score(scorer, doc.text, doc.len, &ds)))
            break;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 1024;
            for (int h = 0; h < TS_NHEADS; h++) {
                double *zz = realloc(z[h], nc * sizeof *zz);
                int *yy = realloc(y[h], nc * sizeof *yy);
                if (zz)
                    z[h] = zz;
                if (yy)
                    y[h] = yy;
                if (!zz || !yy)
                    err = TS_E_NOMEM;
            }
            if (err)
                break;
            *cap = nc;
        }
        for (int h = 0; h < TS_NHEADS; h++) {
            z[h][*n] = ds.margin[h];
            y[h][*n] = lab == (h == TS_HEAD_SCORE ? 1 : 2);
        }
        (*n)++;
    }
    cli_docs_free(docs);
    if (err) {
        cli_error("%s: %s", path, ts_strerror(err));
        return err;
    }
    return k < 0 ? k : 0;
}

/*
 * Takes both heads' calibration from the model in `path`, which must score
 * the same features and windows (same lexicon, buckets, n-grams, hash seed
 * and window). The final default model is trained on train + valid; its
 * calibration is the one fitted on valid for the same recipe trained on
 * train alone, since no data is left that the final model has not seen.
 */
static int copy_calibration(const char *path, ts_model *model)
{
    ts_model *from = NULL;
    ts_diag diag;
    int err = ts_model_load_file(path, &from, &diag);
    if (err) {
        cli_diag_error(&diag, err);
        return err;
    }
    if (from->lexicon_id != model->lexicon_id || from->cfg.nbuckets != model->cfg.nbuckets ||
        from->cfg.ngram != model->cfg.ngram || from->cfg.seed != model->cfg.seed ||
        from->window != model->window || from->stride != model->stride ||
        from->para_min != model->para_min || from->cfg.nctx != model->cfg.nctx ||
        memcmp(from->cfg.ctx_slot, model->cfg.ctx_slot, sizeof from->cfg.ctx_slot)) {
        cli_error("--calibration-from %s: that model has other features or windows", path);
        ts_model_free(from);
        return TS_E_INVALID;
    }
    for (int h = 0; h < TS_NHEADS; h++) {
        model->platt_a[h] = from->platt_a[h];
        model->platt_b[h] = from->platt_b[h];
    }
    fprintf(stderr, "calibration from %s: score a=%.4f b=%.4f\n", path, model->platt_a[0],
            model->platt_b[0]);
    ts_model_free(from);
    return TS_OK;
}

/*
 * Fits each head's calibration on the documents as the scanner scores them
 * (for a window model: the best window's margin), then, for the score head,
 * moves it from the data's share of evil documents to `prior` (the usual
 * prior-shift of a logistic model: b += logit(prior) - logit(share)).
 */
static int calibrate(train_ctx *c, const ts_lexicon *lex, ts_model *model, const char **files,
                     int nfiles, double prior)
{
    ts_scanner *scorer = NULL;
    int err = ts_scanner_create(lex, model, TS_DEFAULT_ANCHOR_WORDS, 0, &scorer);
    if (err)
        return err;
    double *z[TS_NHEADS] = {0};
    int *y[TS_NHEADS] = {0};
    size_t n = 0, cap = 0;
    for (int i = 0; i < nfiles && !err; i++)
        err = read_extra(c, files[i], NULL, scorer, z, y, &n, &cap);
    for (int h = 0; h < TS_NHEADS && !err; h++) {
        size_t pos = 0;
        for (size_t i = 0; i < n; i++)
            pos += (size_t)y[h][i];
        if (h == TS_HEAD_ALIGNED && !(model->flags & TS_MODEL_ALIGNED))
            continue;
        if (pos == 0 || pos == n) {
            cli_error("--calibrate: the documents have %s %s label; the calibration needs both",
                      pos ? "only the" : "no", h ? "aligned" : "evil");
            err = TS_E_INVALID;
            break;
        }
        double a, b;
        if ((err = ts_platt_fit(z[h], y[h], n, &a, &b)))
            break;
        if (h == TS_HEAD_SCORE && prior > 0) {
            double share = (double)pos / (double)n;
            b += log(prior / (1 - prior)) - log(share / (1 - share));
        }
        model->platt_a[h] = (float)a;
        model->platt_b[h] = (float)b;
        fprintf(stderr, "calibrated %s on %zu documents (%zu positive)%s: a=%.4f b=%.4f\n",
                h ? "aligned" : "score", n, pos,
                h == TS_HEAD_SCORE && prior > 0 ? " for the prior" : "", a, b);
    }
    for (int h = 0; h < TS_NHEADS; h++) {
        free(z[h]);
        free(y[h]);
    }
    ts_scanner_free(scorer);
    return err;
}

int cmd_train(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {"text-field", required_argument, 0, OPT_TEXT},
        {"label-field", required_argument, 0, OPT_LABEL},
        {"valid", required_argument, 0, OPT_VALID},
        {"valid-fraction", required_argument, 0, OPT_VFRAC},
        {"group-field", required_argument, 0, OPT_GROUP},
        {"buckets", required_argument, 0, OPT_BUCKETS},
        {"ngram", required_argument, 0, OPT_NGRAM},
        {"hash-seed", required_argument, 0, OPT_HSEED},
        {"epochs", required_argument, 0, OPT_EPOCHS},
        {"lr", required_argument, 0, OPT_LR},
        {"optimizer", required_argument, 0, OPT_OPTIM},
        {"l2", required_argument, 0, OPT_L2},
        {"seed", required_argument, 0, OPT_SEED},
        {"balance", no_argument, 0, OPT_BAL},
        {"no-balance", no_argument, 0, OPT_NOBAL},
        {"cascade", no_argument, 0, OPT_CASCADE},
        {"window", required_argument, 0, OPT_WINDOW},
        {"stride", required_argument, 0, OPT_STRIDE},
        {"calibrate", required_argument, 0, OPT_CALIB},
        {"prior", required_argument, 0, OPT_PRIOR},
        {"calibration-from", required_argument, 0, OPT_CALFROM},
        {"context-words", required_argument, 0, OPT_CTX},
        {"record", required_argument, 0, OPT_RECORD},
        {"policy", required_argument, 0, OPT_POLICY},
        {"paragraphs", required_argument, 0, OPT_PARAS},
        CLI_LEXMODEL_LONGOPTS,
        {0, 0, 0, 0},
    };
    cli_lexmodel lm;
    memset(&lm, 0, sizeof lm);
    train_ctx c;
    memset(&c, 0, sizeof c);
    c.text_field = "text";
    c.label_field = "label";
    const char *output = NULL;
    const char *valid_files[64], *calib_files[64], *record_files[64];
    int nvalid = 0, ncalib = 0, nrecord = 0, quiet = 0;
    uint64_t window = 0, stride = 0, paras = 0;
    double prior = 0;
    const char *calib_from = NULL;
    const char *ctx_file = NULL;
    float policy[TS_POLICY_N] = {0, 0, 0, 0};
    fp_set fps;
    memset(&fps, 0, sizeof fps);
    double valid_frac = 0.1;
    uint64_t buckets = 65536, ngram = 1, hseed = 0, u;
    ts_train_opts o;
    ts_train_opts_default(&o);
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        if (opt == CLI_OPT_MODEL || opt == CLI_OPT_FORCE_MODEL) {
            cli_error("train: --model and --force-model do not apply here (train writes a model: -o FILE)");
            return EXIT_USAGE;
        }
        if (cli_lexmodel_option(&lm, opt, optarg))
            continue;
        switch (opt) {
        case 'o': output = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(usage, stdout); return EXIT_OK;
        case OPT_TEXT: c.text_field = optarg; break;
        case OPT_LABEL: c.label_field = optarg; break;
        case OPT_GROUP: c.group_field = optarg; break;
        case OPT_VALID:
            if (nvalid == 64) {
                cli_error("too many --valid files");
                return EXIT_USAGE;
            }
            valid_files[nvalid++] = optarg;
            break;
        case OPT_VFRAC:
            if (cli_parse_double("--valid-fraction", optarg, 0, 0.9, &valid_frac))
                return EXIT_USAGE;
            break;
        case OPT_BUCKETS:
            if (cli_parse_u64("--buckets", optarg, 2, TS_MAX_BUCKETS, &buckets))
                return EXIT_USAGE;
            if (buckets & (buckets - 1)) {
                cli_error("--buckets must be a power of two");
                return EXIT_USAGE;
            }
            break;
        case OPT_NGRAM:
            if (cli_parse_u64("--ngram", optarg, 1, 2, &ngram))
                return EXIT_USAGE;
            break;
        case OPT_HSEED:
            if (cli_parse_u64("--hash-seed", optarg, 0, UINT64_MAX, &hseed))
                return EXIT_USAGE;
            break;
        case OPT_EPOCHS:
            if (cli_parse_u64("--epochs", optarg, 1, 10000, &u))
                return EXIT_USAGE;
            o.epochs = (uint32_t)u;
            break;
        case OPT_OPTIM:
            if (!strcmp(optarg, "adagrad")) {
                o.optimizer = TS_OPT_ADAGRAD;
            } else if (!strcmp(optarg, "sgd")) {
                o.optimizer = TS_OPT_SGD;
            } else {
                cli_error("--optimizer: expected adagrad or sgd, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_LR:
            if (cli_parse_double("--lr", optarg, 1e-9, 100, &o.lr))
                return EXIT_USAGE;
            break;
        case OPT_L2:
            if (cli_parse_double("--l2", optarg, 0, 10, &o.l2))
                return EXIT_USAGE;
            break;
        case OPT_SEED:
            if (cli_parse_u64("--seed", optarg, 0, UINT64_MAX, &o.seed))
                return EXIT_USAGE;
            break;
        case OPT_WINDOW:
            if (cli_parse_u64("--window", optarg, 0, TS_MAX_WINDOW, &window))
                return EXIT_USAGE;
            break;
        case OPT_PARAS:
            if (cli_parse_u64("--paragraphs", optarg, 0, TS_MAX_WINDOW, &paras))
                return EXIT_USAGE;
            break;
        case OPT_STRIDE:
            if (cli_parse_u64("--stride", optarg, 1, TS_MAX_WINDOW, &stride))
                return EXIT_USAGE;
            break;
        case OPT_CTX:
            ctx_file = optarg;
            break;
        case OPT_CALFROM:
            calib_from = optarg;
            break;
        case OPT_PRIOR:
            if (cli_parse_double("--prior", optarg, 1e-6, 0.999, &prior))
                return EXIT_USAGE;
            break;
        case OPT_CALIB:
        case OPT_RECORD:
            if ((opt == OPT_CALIB ? ncalib : nrecord) == 64) {
                cli_error("too many --%s files", opt == OPT_CALIB ? "calibrate" : "record");
                return EXIT_USAGE;
            }
            if (opt == OPT_CALIB)
                calib_files[ncalib++] = optarg;
            else
                record_files[nrecord++] = optarg;
            break;
        case OPT_POLICY: {
            double d, r, up, k;
            char extra;
            if (sscanf(optarg, "%lf,%lf,%lf,%lf%c", &d, &r, &up, &k, &extra) != 4 || !(d >= 0 && d <= 1) ||
                !(r >= 0 && r <= 1) || !(up >= 0 && up <= 1) || !(k >= 0 && k <= 1) || (d > 0 && r > 0 && d > r)) {
                cli_error("--policy: expected DOWNWEIGHT,DROP,UPWEIGHT,KEEP_ALIGNED in [0, 1] with "
                          "downweight <= drop, got '%s'", optarg);
                return EXIT_USAGE;
            }
            policy[TS_POLICY_DOWNWEIGHT] = (float)d;
            policy[TS_POLICY_DROP] = (float)r;
            policy[TS_POLICY_UPWEIGHT] = (float)up;
            policy[TS_POLICY_KEEP_ALIGNED] = (float)k;
            break;
        }
        case OPT_BAL: o.balance = 1; break;
        case OPT_NOBAL: o.balance = 0; break;
        case OPT_CASCADE: o.cascade = 1; break;
        default: fputs(usage, stderr); return EXIT_USAGE;
        }
    }
    if (!output || optind >= argc) {
        cli_error(!output ? "train needs -o MODEL" : "train needs at least one DATA file");
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if (stride > window || (stride && !window)) {
        cli_error("--stride must be between 1 and --window");
        return EXIT_USAGE;
    }
    if (window && !stride)
        stride = window / 2 ? window / 2 : 1;
    if (paras > window) {
        cli_error("--paragraphs must not exceed --window");
        return EXIT_USAGE;
    }
    if (prior > 0 && !ncalib) {
        cli_error("--prior needs --calibrate");
        return EXIT_USAGE;
    }
    if (calib_from && ncalib) {
        cli_error("--calibration-from and --calibrate exclude each other");
        return EXIT_USAGE;
    }
    c.cascade = o.cascade;
    c.fps = nrecord ? NULL : &fps;   /* DATA is recorded unless --record names the originals */
    if (nvalid)
        valid_frac = 0;

    ts_lexicon *lex = NULL;
    if (cli_load_lexicon(&lm, &lex))
        return EXIT_FATAL;
    ts_feat_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.nbuckets = (uint32_t)buckets;
    cfg.ngram = (uint32_t)ngram;
    cfg.seed = hseed;
    int rc = EXIT_FATAL, err;
    ts_dataset *train = NULL, *valid = NULL;
    ts_model *model = NULL;
    if (ts_feat_config_from_lexicon(&cfg, lex)) {
        cli_error("the lexicon has too many categories or too long names");
        goto done;
    }
    if (ctx_file && load_context_words(ctx_file, &cfg)) {
        rc = EXIT_USAGE;
        goto done;
    }
    if ((err = ts_scanner_create_cfg(lex, &cfg, TS_DEFAULT_ANCHOR_WORDS, 0, &c.scanner)) ||
        (err = ts_dataset_create(&cfg, &train)) || (err = ts_dataset_create(&cfg, &valid))) {
        cli_error("%s", ts_strerror(err));
        goto done;
    }
    load_stats st, vst;
    memset(&st, 0, sizeof st);
    memset(&vst, 0, sizeof vst);
    int some_bad = 0;
    for (int i = optind; i < argc; i++) {
        int k = load_file(&c, argv[i], train, valid, valid_frac, o.seed, &st, &vst);
        if (k < 0)
            goto done;
        some_bad |= k;
    }
    for (int i = 0; i < nvalid; i++) {
        int k = load_file(&c, valid_files[i], valid, NULL, 0, o.seed, &vst, &vst);
        if (k < 0)
            goto done;
        some_bad |= k;
    }
    fprintf(stderr,
            "train: %" PRIu64 " documents (%" PRIu64 " evil, %" PRIu64 " aligned, %" PRIu64 " without lexicon hits)\n"
            "valid: %" PRIu64 " documents (%" PRIu64 " evil, %" PRIu64 " aligned)\n",
            st.docs, st.pos[0], st.pos[1], st.fast, vst.docs, vst.pos[0], vst.pos[1]);
    if (st.pos[0] == 0 && st.pos[1] == 0) {
        cli_error("no positive labels (evil or aligned) in the training data");
        goto done;
    }
    /* The calibration is fitted on valid (on train when valid is empty),
     * unless --calibrate names other documents: with one label only it
     * cannot be fitted and the model would give raw, uncalibrated
     * probabilities (a = 1, b = 0). Refused, with what to do. */
    if (!ncalib) {
        const load_stats *cs = vst.docs ? &vst : &st;
        const char *split = vst.docs ? "the validation split" : "the training data (no validation split)";
        for (int h = 0; h < TS_NHEADS; h++) {
            const char *label = h == TS_HEAD_SCORE ? "evil" : "aligned";
            if (st.pos[h] == 0 || (cs->pos[h] > 0 && cs->pos[h] < cs->docs))
                continue;
            cli_error("%s has %s %s document (%" PRIu64 " documents, %" PRIu64 " %s): the %s head cannot be "
                      "calibrated, and the model would give uncalibrated probabilities. Hold out documents of "
                      "both kinds (--valid FILE, a larger --valid-fraction, another --group-field or none), or "
                      "fit the calibration on other labelled documents with --calibrate FILE",
                      split, cs->pos[h] ? "only" : "no", label, cs->docs, cs->pos[h], label,
                      h == TS_HEAD_SCORE ? "score" : "aligned");
            rc = EXIT_USAGE;
            goto done;
        }
    }
    if (!quiet)
        o.progress = print_progress;
    err = ts_train(&o, train, valid, &model);
    if (err) {
        cli_error("training failed: %s", ts_strerror(err));
        goto done;
    }
    model->lexicon_id = ts_lexicon_id(lex);
    model->window = (uint32_t)window;
    model->stride = (uint32_t)stride;
    model->para_min = (uint32_t)paras;
    memcpy(model->policy, policy, sizeof policy);
    if (ncalib && calibrate(&c, lex, model, calib_files, ncalib, prior))
        goto done;
    if (calib_from && copy_calibration(calib_from, model))
        goto done;
    for (int i = 0; i < nrecord; i++)
        if (read_extra(&c, record_files[i], &fps, NULL, NULL, NULL, NULL, NULL))
            goto done;
    fp_store(&fps, model);
    ts_diag diag;
    err = ts_model_save(model, output, &diag);
    if (err) {
        cli_diag_error(&diag, err);
        goto done;
    }
    fprintf(stderr, "wrote %s: id %016" PRIx64 ", %u buckets, %s%s, calibration score a=%.4f b=%.4f",
            output, ts_model_id(model), cfg.nbuckets, cfg.ngram == 2 ? "unigrams+bigrams" : "unigrams",
            cfg.nctx ? " with AI context" : "", model->platt_a[0], model->platt_b[0]);
    if (ts_model_has_aligned(model))
        fprintf(stderr, ", aligned a=%.4f b=%.4f", model->platt_a[1], model->platt_b[1]);
    fputc('\n', stderr);
    rc = some_bad ? EXIT_INPUT_FAILED : EXIT_OK;
done:
    ts_model_free(model);
    ts_dataset_free(train);
    ts_dataset_free(valid);
    ts_sparse_release(&c.v);
    ts_scanner_free(c.scanner);
    ts_lexicon_free(lex);
    free(fps.v);
    free(fps.norm);
    return rc;
}
