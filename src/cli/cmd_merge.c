/*
 * cmd_merge.c: `tropescan merge`: many runs' summaries into one (the
 * library's ts_summary_merge: exact sums, histograms added, each shard
 * once; runs with another lexicon, model or options refused), with the
 * runs' manifests (and their resume records) beside it, so the output
 * directory reads like one run's, and scan --resume there keeps them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char merge_help[] =
    "usage: tropescan merge [OPTIONS] -o DIR RUN...\n"
    "\n"
    "Combines the summaries of runs over different shards (partitions, or runs\n"
    "on different machines) into DIR/summary.json: counts summed exactly,\n"
    "histograms added, every shard listed once, in the order scan lists\n"
    "them (by name). RUN is a scan's output directory or a summary file. In a\n"
    "directory holding partition summaries (summary.part-I-of-N.json, from scan\n"
    "--partition I/N) those are merged, and all N of them must be there;\n"
    "otherwise its summary.json. Runs made with another lexicon, model or\n"
    "options, or listing one shard twice, are refused. The manifests of a RUN\n"
    "other than DIR are linked (or copied) into DIR under their names, with\n"
    "their resume records: scan --resume in DIR keeps them.\n"
    "\n"
    "  -o, --output DIR   where summary.json goes (required; may be a RUN)\n"
    "  -f, --force        overwrite DIR/summary.json\n"
    "  -q, --quiet        no closing line\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit codes: 0 merged; 2 usage error, or runs that cannot be merged; 3 a\n"
    "summary that cannot be read, or an output that cannot be written.\n";

typedef struct run_list {
    char **summary;     /* summary files */
    char **dir;         /* the run directory of each */
    size_t n, cap;
} run_list;

static int list_add(run_list *L, const char *summary, const char *dir)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? 2 * L->cap : 16;
        char **a = realloc(L->summary, cap * sizeof *a);
        if (!a)
            return -1;
        L->summary = a;
        char **b = realloc(L->dir, cap * sizeof *b);
        if (!b)
            return -1;
        L->dir = b;
        L->cap = cap;
    }
    L->summary[L->n] = strdup(summary);
    L->dir[L->n] = strdup(dir);
    if (!L->summary[L->n] || !L->dir[L->n]) {
        free(L->summary[L->n]);
        free(L->dir[L->n]);
        return -1;
    }
    L->n++;
    return 0;
}

static void list_free(run_list *L)
{
    for (size_t i = 0; i < L->n; i++) {
        free(L->summary[i]);
        free(L->dir[i]);
    }
    free(L->summary);
    free(L->dir);
}

/* "summary.part-I-of-N.json": @return 1 with i and n. */
static int part_name(const char *name, unsigned long *i, unsigned long *n)
{
    int used = 0;
    if (sscanf(name, "summary.part-%lu-of-%lu.json%n", i, n, &used) != 2 || name[used] || *n == 0 || *i >= *n)
        return 0;
    char canon[96];
    snprintf(canon, sizeof canon, "summary.part-%lu-of-%lu.json", *i, *n);
    return !strcmp(canon, name);
}

/* Partition summaries met in directories: every one of the N must be there
 * (one directory each, or all in one). */
typedef struct parts {
    unsigned long n;
    unsigned char *seen;
    const char *where;
} parts;

/* Adds a RUN argument's summaries. @return 0, or -1 (printed). */
static int add_run(run_list *L, parts *P, const char *arg)
{
    struct stat st;
    if (stat(arg, &st) != 0) {
        cli_error("merge: %s: %s", arg, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        char *d = strdup(arg), *slash = d ? strrchr(d, '/') : NULL;
        if (!d)
            return -1;
        if (slash)
            *slash = '\0';
        int rc = list_add(L, arg, slash ? (*d ? d : "/") : ".");
        free(d);
        return rc;
    }
    DIR *dp = opendir(arg);
    if (!dp) {
        cli_error("merge: %s: %s", arg, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0, found = 0;
    char **names = NULL;
    size_t nnames = 0;
    while (rc == 0 && (e = readdir(dp))) {
        unsigned long i, n;
        if (!part_name(e->d_name, &i, &n))
            continue;
        if (P->n && n != P->n) {
            cli_error("merge: partitions of %lu (in %s) and of %lu (in %s): merge the summaries of one split",
                      P->n, P->where, n, arg);
            rc = -1;
            break;
        }
        if (!P->n) {
            if (n > 1000000 || !(P->seen = calloc(n, 1))) {
                rc = -1;
                break;
            }
            P->n = n;
            P->where = arg;
        }
        if (P->seen[i]) {
            cli_error("merge: summary.part-%lu-of-%lu.json is given twice (%s)", i, n, arg);
            rc = -1;
            break;
        }
        P->seen[i] = 1;
        char **v = realloc(names, (nnames + 1) * sizeof *v);
        if (!v || !(v[nnames] = strdup(e->d_name))) {
            names = v ? v : names;
            rc = -1;
            break;
        }
        names = v;
        nnames++;
        found = 1;
    }
    closedir(dp);
    /* readdir's order is the file system's: sort for a stable order of messages */
    for (size_t a = 1; a < nnames; a++)
        for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
            char *t = names[b];
            names[b] = names[b - 1];
            names[b - 1] = t;
        }
    for (size_t k = 0; rc == 0 && k < nnames; k++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", arg, names[k]);
        rc = list_add(L, path, arg);
    }
    for (size_t k = 0; k < nnames; k++)
        free(names[k]);
    free(names);
    if (rc == 0 && !found) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/summary.json", arg);
        if (access(path, F_OK) != 0) {
            cli_error("merge: %s: no summary.json and no partition summaries: not a scan's output directory", arg);
            rc = -1;
        } else {
            rc = list_add(L, path, arg);
        }
    }
    return rc;
}

static int parts_complete(const parts *P)
{
    for (unsigned long i = 0; i < P->n; i++)
        if (!P->seen[i]) {
            cli_error("merge: summary.part-%lu-of-%lu.json is missing: partition %lu has not finished (or "
                      "failed); rerun it (scan --partition %lu/%lu --resume) before merging",
                      i, P->n, i, i, P->n);
            return -1;
        }
    return 0;
}

static int same_dir(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static int mkdirs_for(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return 0;
}

/* Puts src at dst: a hard link (atomically, by a temporary name), else a copy
 * through the library's atomic outfile. @return 0 or -1 (printed). */
static int place_manifest(const char *src, const char *dst)
{
    struct stat a, b;
    if (stat(src, &a) != 0) {
        cli_error("merge: %s: %s", src, strerror(errno));
        return -1;
    }
    if (stat(dst, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return 0;
    if (mkdirs_for(dst) != 0) {
        cli_error("merge: %s: cannot create its directory: %s", dst, strerror(errno));
        return -1;
    }
    char *tmp = ts_outfile_tmp_name(dst);
    if (!tmp)
        return -1;
    unlink(tmp);
    if (link(src, tmp) == 0) {
        int rc = rename(tmp, dst);
        if (rc != 0) {
            cli_error("merge: %s: %s", dst, strerror(errno));
            unlink(tmp);
        }
        free(tmp);
        return rc;
    }
    free(tmp);
    ts_diag d;
    ts_outfile *f = NULL;
    FILE *in = fopen(src, "rb");
    if (!in) {
        cli_error("merge: %s: %s", src, strerror(errno));
        return -1;
    }
    int err = ts_outfile_open(dst, &f, &d);
    char buf[1 << 16];
    size_t n;
    while (!err && (n = fread(buf, 1, sizeof buf, in)) > 0)
        err = ts_outfile_write(f, buf, n, &d);
    if (!err && ferror(in)) {
        snprintf(d.message, sizeof d.message, "%.400s: %s", src, strerror(errno));
        err = TS_E_IO;
    }
    fclose(in);
    if (!err)
        err = ts_outfile_commit(f, &d);
    else
        ts_outfile_abort(f);
    if (err) {
        cli_error("merge: %s", d.message);
        return -1;
    }
    return 0;
}

int cmd_merge(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *outdir = NULL;
    int force = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:fqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': outdir = optarg; break;
        case 'f': force = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(merge_help, stdout); return EXIT_OK;
        default: fputs("(see tropescan merge --help)\n", stderr); return EXIT_USAGE;
        }
    }
    if (!outdir) {
        cli_error("merge: -o DIR is required (see tropescan merge --help)");
        return EXIT_USAGE;
    }
    if (optind >= argc) {
        cli_error("merge: no run given (see tropescan merge --help)");
        return EXIT_USAGE;
    }
    run_list L = {0};
    ts_summary **sums = NULL;
    ts_summary *merged = NULL;
    char *text = NULL, *out_path = NULL;
    int exit_code = EXIT_USAGE;
    parts P = {0};
    for (int i = optind; i < argc; i++)
        if (add_run(&L, &P, argv[i]) != 0) {
            free(P.seen);
            goto done;
        }
    int complete = parts_complete(&P);
    free(P.seen);
    if (complete != 0)
        goto done;
    exit_code = EXIT_FATAL;
    if (!(sums = calloc(L.n, sizeof *sums)))
        goto done;
    for (size_t i = 0; i < L.n; i++) {
        ts_diag d;
        int err = ts_summary_load(L.summary[i], &sums[i], &d);
        if (err) {
            if (!d.file[0])
                snprintf(d.file, sizeof d.file, "%s", L.summary[i]);
            cli_diag_error(&d, err);
            goto done;
        }
    }
    ts_diag d;
    int err = ts_summary_merge((const ts_summary *const *)sums, L.n, &merged, &d);
    if (err) {
        cli_error("merge: %s", err == TS_E_NOMEM ? ts_strerror(err) : d.message);
        exit_code = err == TS_E_NOMEM ? EXIT_FATAL : EXIT_USAGE;
        goto done;
    }
    ts_summary_sort_shards(merged);
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        cli_error("merge: %s: cannot create the output directory: %s", outdir, strerror(errno));
        goto done;
    }
    if (asprintf(&out_path, "%s/summary.json", outdir) < 0) {
        out_path = NULL;
        goto done;
    }
    if (!force && access(out_path, F_OK) == 0) {
        cli_error("merge: %s exists: pass --force to overwrite it", out_path);
        exit_code = EXIT_USAGE;
        goto done;
    }
    /* The manifests of runs elsewhere join DIR under their names, each with
     * its resume record (after it, as scan writes them), so that scan
     * --resume in DIR keeps them as it would in a run's own directory. */
    for (size_t i = 0; i < L.n; i++) {
        if (same_dir(L.dir[i], outdir))
            continue;
        for (size_t k = 0; k < ts_summary_nshards(sums[i]); k++) {
            const char *m = ts_summary_shard_manifest(sums[i], k);
            if (!m)
                continue;
            char src[PATH_MAX], dst[PATH_MAX];
            snprintf(src, sizeof src, "%s/%s", L.dir[i], m);
            snprintf(dst, sizeof dst, "%s/%s", outdir, m);
            char *src_rec = ts_resume_record_path(src), *dst_rec = ts_resume_record_path(dst);
            int rc = src_rec && dst_rec ? 0 : -1;
            /* a record of DIR's own would not describe the manifest put there */
            if (rc == 0 && unlink(dst_rec) != 0 && errno != ENOENT) {
                cli_error("merge: %s: %s", dst_rec, strerror(errno));
                rc = -1;
            }
            if (rc == 0)
                rc = place_manifest(src, dst);
            if (rc == 0 && access(src_rec, F_OK) == 0)
                rc = place_manifest(src_rec, dst_rec);
            free(src_rec);
            free(dst_rec);
            if (rc != 0)
                goto done;
        }
    }
    size_t len = 0;
    if (ts_summary_dump(merged, &text, &len) != TS_OK) {
        cli_error("out of memory");
        goto done;
    }
    if (ts_outfile_write_all(out_path, text, len, &d) != TS_OK) {
        cli_error("merge: %s", d.message);
        goto done;
    }
    if (!quiet) {
        ts_summary_counts t;
        ts_summary_totals(merged, &t);
        fprintf(stderr, "merge: %zu summar%s, %" PRIu64 " shards (%" PRIu64 " failed), %" PRIu64 " documents: %s\n",
                L.n, L.n == 1 ? "y" : "ies", t.shards, t.failed_shards, t.stats.docs, out_path);
    }
    exit_code = EXIT_OK;
done:
    for (size_t i = 0; sums && i < L.n; i++)
        ts_summary_free(sums[i]);
    free(sums);
    ts_summary_free(merged);
    free(text);
    free(out_path);
    list_free(&L);
    return exit_code;
}
