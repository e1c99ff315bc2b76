/* cmd_train.c: tropescan train DATA... -o MODEL */
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
    "  --ngram N              1: unigrams, 2: unigrams and bigrams (default 2)\n"
    "  --hash-seed N          seed of the n-gram hash (default 0)\n"
    "  --epochs N             passes over the data (default 10)\n"
    "  --lr X                 AdaGrad learning rate (default 0.2)\n"
    "  --l2 X                 L2 penalty (default 1e-6)\n"
    "  --seed N               order of the examples (default 1)\n"
    "  --no-balance           do not weight the classes to equal total weight\n"
    "  --cascade              no n-gram features for documents without a lexicon hit\n"
    "                         (lets the scanner skip hashing them; exact by construction)\n"
    "  -q, --quiet            do not print the loss per epoch\n"
    CLI_LEXMODEL_HELP;

enum {
    OPT_TEXT = 2000, OPT_LABEL, OPT_VALID, OPT_VFRAC, OPT_GROUP, OPT_BUCKETS, OPT_NGRAM,
    OPT_HSEED, OPT_EPOCHS, OPT_LR, OPT_L2, OPT_SEED, OPT_NOBAL, OPT_CASCADE,
};

typedef struct load_stats {
    uint64_t docs, bad, pos[TS_NHEADS], fast;
} load_stats;

/* @return 1 evil, 2 aligned, 0 neither, -1 unknown. */
static int parse_label(const json_field *f)
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
        {"l2", required_argument, 0, OPT_L2},
        {"seed", required_argument, 0, OPT_SEED},
        {"no-balance", no_argument, 0, OPT_NOBAL},
        {"cascade", no_argument, 0, OPT_CASCADE},
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
    const char *valid_files[64];
    int nvalid = 0, quiet = 0;
    double valid_frac = 0.1;
    uint64_t buckets = 65536, ngram = 2, hseed = 0, u;
    ts_train_opts o;
    ts_train_opts_default(&o);
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
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
    c.cascade = o.cascade;
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
    if (!quiet)
        o.progress = print_progress;
    err = ts_train(&o, train, valid, &model);
    if (err) {
        cli_error("training failed: %s", ts_strerror(err));
        goto done;
    }
    model->lexicon_id = ts_lexicon_id(lex);
    ts_diag diag;
    err = ts_model_save(model, output, &diag);
    if (err) {
        cli_diag_error(&diag, err);
        goto done;
    }
    fprintf(stderr, "wrote %s: id %016" PRIx64 ", %u buckets, %s, calibration score a=%.4f b=%.4f",
            output, ts_model_id(model), cfg.nbuckets, cfg.ngram == 2 ? "unigrams+bigrams" : "unigrams",
            model->platt_a[0], model->platt_b[0]);
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
    return rc;
}
