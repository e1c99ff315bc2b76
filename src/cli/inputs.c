/*
 * inputs.c: scan's inputs from its command line: files, directories (read
 * recursively, in sorted order, filtered by --glob and --exclude), standard
 * input, and NAME=INPUT, each with the relative name of its manifest.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

typedef cli_inputs input_list;
typedef cli_input_opts scan_opts;

static int add_input(input_list *L, const char *path, const char *name)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 64;
        cli_input *v = realloc(L->v, cap * sizeof *v);
        if (!v)
            return -1;
        L->v = v;
        L->cap = cap;
    }
    cli_input *s = &L->v[L->n++];
    s->path = strdup(path);
    s->name = strdup(name);
    return s->path && s->name ? 0 : -1;
}

void cli_inputs_free(cli_inputs *L)
{
    for (size_t i = 0; i < L->n; i++) {
        free(L->v[i].path);
        free(L->v[i].name);
    }
    free(L->v);
    *L = (cli_inputs){0};
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct dir_seen {
    dev_t dev[256];
    ino_t ino[256];
    int n;
} dir_seen;

/* --exclude and --glob '!...': rel (below the directory given) is skipped. */
static int glob_excluded(const scan_opts *o, const char *rel)
{
    for (int i = 0; i < o->nexclude; i++)
        if (cli_glob_match(o->exclude[i], rel))
            return 1;
    return 0;
}

/* --glob: with any, a file must match one. */
static int glob_included(const scan_opts *o, const char *rel)
{
    for (int i = 0; i < o->ninclude; i++)
        if (cli_glob_match(o->include[i], rel))
            return 1;
    return o->ninclude == 0;
}

/* Adds the regular files below dir (sorted, recursively; hidden names and the
 * output directory are skipped; a symlink loop is reported, not followed).
 * rel is the names' prefix; its first skip bytes are not part of the path
 * below the directory given, which the globs see. */
static int walk_dir(input_list *L, const scan_opts *o, const char *dir, const char *rel, size_t skip,
                    dir_seen *seen, const struct stat *outdir_st)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        cli_error("%s: %s", dir, strerror(errno));
        return -1;
    }
    if (outdir_st && st.st_dev == outdir_st->st_dev && st.st_ino == outdir_st->st_ino)
        return 0;
    for (int i = 0; i < seen->n; i++) {
        if (seen->dev[i] == st.st_dev && seen->ino[i] == st.st_ino) {
            cli_error("%s: directory loop (a symbolic link back to a parent): skipped", dir);
            return 0;
        }
    }
    if (seen->n == 256) {
        cli_error("%s: directories nested too deep", dir);
        return -1;
    }
    seen->dev[seen->n] = st.st_dev;
    seen->ino[seen->n] = st.st_ino;
    seen->n++;
    DIR *d = opendir(dir);
    if (!d) {
        cli_error("%s: cannot read the directory: %s", dir, strerror(errno));
        seen->n--;
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **v = realloc(names, cap * sizeof *v);
            if (!v) {
                rc = -1;
                break;
            }
            names = v;
        }
        if (!(names[n++] = strdup(e->d_name))) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            size_t pl = strlen(dir) + strlen(names[i]) + 2;
            size_t rl = strlen(rel) + strlen(names[i]) + 2;
            char *path = malloc(pl), *r = malloc(rl);
            if (!path || !r) {
                rc = -1;
            } else {
                snprintf(path, pl, "%s/%s", dir, names[i]);
                snprintf(r, rl, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
                const char *below = r + (skip && strlen(r) > skip ? skip + 1 : 0);
                struct stat es;
                int st_ok = stat(path, &es) == 0;
                if (glob_excluded(o, below)) {
                    /* skipped, and a directory is not entered */
                } else if (!st_ok) {
                    /* A dangling link or a file that vanished: an input that failed. */
                    if (glob_included(o, below))
                        rc = add_input(L, path, r);
                } else if (S_ISDIR(es.st_mode)) {
                    if (walk_dir(L, o, path, r, skip, seen, outdir_st) != 0)
                        rc = -1;
                } else if (S_ISREG(es.st_mode)) {
                    if (glob_included(o, below))
                        rc = add_input(L, path, r);
                }
            }
            free(path);
            free(r);
        }
        free(names[i]);
    }
    free(names);
    seen->n--;
    return rc;
}


/* A NAME of NAME=INPUT: a relative path of names that are not hidden (nor
 * . or ..), so that the manifests stay inside OUTDIR. */
static int valid_input_name(const char *name)
{
    if (!*name || *name == '/')
        return 0;
    for (const char *p = name; *p;) {
        if (*p == '.' || *p == '/')
            return 0;   /* a hidden name, . or .., or an empty name (//) */
        p += strcspn(p, "/");
        if (*p == '/' && !*++p)
            return 0;   /* ends with / */
    }
    return 1;
}

/* The last name of a directory's path (trailing slashes ignored; ., .. and /
 * by their real path). @return a new string, or NULL (printed). */
static char *dir_own_name(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    char *name = strndup(dir + b, n - b);
    if (name && (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "/") || !*name)) {
        free(name);
        name = NULL;
        char *real = realpath(dir, NULL);
        const char *base = real ? strrchr(real, '/') : NULL;
        if (base && base[1])
            name = strdup(base + 1);
        free(real);
    }
    if (!name || !valid_input_name(name)) {
        cli_error("scan: %s: cannot name its manifests after it: give it a name, NAME=%s", dir, dir);
        free(name);
        return NULL;
    }
    return name;
}

/* Builds the shard list; @return 0, or -1 (printed). */
int cli_input_glob_option(const char *cmd, cli_input_opts *o, int exclude, const char *arg)
{
    int ex = exclude || arg[0] == '!';
    const char *g = !exclude && arg[0] == '!' ? arg + 1 : arg;
    if (!*g) {
        cli_error("%s: %s: an empty glob", cmd, exclude ? "--exclude" : "--glob");
        return -1;
    }
    if ((ex ? o->nexclude : o->ninclude) == CLI_MAX_GLOBS) {
        cli_error("%s: at most %d globs of each kind", cmd, CLI_MAX_GLOBS);
        return -1;
    }
    if (ex)
        o->exclude[o->nexclude++] = g;
    else
        o->include[o->ninclude++] = g;
    return 0;
}

int cli_collect_inputs(int argc, char **argv, int first, const cli_input_opts *o, cli_inputs *L)
{
    struct stat outdir_st;
    int have_out = stat(o->outdir, &outdir_st) == 0;
    int stdin_used = 0, ndirs = 0;
    struct stat st;
    for (int i = first; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        const char *path = eq && eq > argv[i] && stat(argv[i], &st) != 0 ? eq + 1 : argv[i];
        ndirs += stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    }
    for (int i = first; i < argc; i++) {
        const char *in = argv[i];
        /* NAME=INPUT, unless a file of that name exists. */
        char *name = NULL;
        const char *eq = strchr(in, '=');
        if (eq && eq > in && strcmp(in, "-") && stat(in, &st) != 0) {
            if (!(name = strndup(in, (size_t)(eq - in))))
                return -1;
            if (!valid_input_name(name)) {
                cli_error("scan: %s: NAME in NAME=INPUT must be a relative path of names not starting with "
                          "'.' (it names the manifests inside OUTDIR)", in);
                free(name);
                return -1;
            }
            in = eq + 1;
        }
        int rc = 0;
        if (!strcmp(in, "-")) {
            if (stdin_used++) {
                cli_error("scan: - (standard input) given twice");
                rc = -1;
            } else {
                rc = add_input(L, "-", name ? name : "stdin");
            }
        } else if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
            dir_seen seen = {.n = 0};
            size_t before = L->n;
            if (!name && ndirs > 1 && !(name = dir_own_name(in)))
                return -1;
            rc = walk_dir(L, o, in, name ? name : "", name ? strlen(name) : 0, &seen, have_out ? &outdir_st : NULL);
            if (rc == 0 && L->n == before)
                cli_error("warning: %s: no input files in this directory%s", in,
                          o->ninclude || o->nexclude ? " (with these --glob and --exclude)" : "");
        } else {
            /* A file (or something that fails to open: it becomes a failed shard). */
            const char *base = strrchr(in, '/');
            base = base ? base + 1 : in;
            if (!name && !*base) {
                cli_error("scan: %s: not a file name", in);
                rc = -1;
            } else {
                rc = add_input(L, in, name ? name : base);
            }
        }
        free(name);
        if (rc != 0)
            return -1;
    }
    /* Output names must not collide (two inputs with one base name). */
    char **names = malloc(L->n * sizeof *names);
    if (!names && L->n)
        return -1;
    for (size_t i = 0; i < L->n; i++)
        names[i] = L->v[i].name;
    qsort(names, L->n, sizeof *names, cmp_str);
    for (size_t i = 1; i < L->n; i++) {
        if (!strcmp(names[i - 1], names[i])) {
            cli_error("scan: two inputs would write the same manifest '%s': name them with NAME=DIR (or "
                      "NAME=FILE), or scan them in separate runs",
                      names[i]);
            free(names);
            return -1;
        }
    }
    free(names);
    return 0;
}
