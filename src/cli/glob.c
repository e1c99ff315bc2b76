/* glob.c: the globs of scan's --glob and --exclude, in ripgrep's manner
 * (cli.h: cli_glob_match). glibc's fnmatch has no "**", hence our own. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct glob_ctx {
    const char *pat, *name;
    size_t nlen1;              /* strlen(name) + 1: positions in the name */
    unsigned char *failed;     /* a bit per (pattern, name) position that failed */
} glob_ctx;

static int glob_step(glob_ctx *c, const char *p, const char *s);

static int glob_at(glob_ctx *c, const char *p, const char *s)
{
    /* A (pattern, name) position that failed once fails again: with it
     * remembered, every star costs at most one pass over the name instead
     * of one per combination of the stars before it. */
    size_t key = (size_t)(p - c->pat) * c->nlen1 + (size_t)(s - c->name);
    if (c->failed && (c->failed[key >> 3] >> (key & 7) & 1))
        return 0;
    if (glob_step(c, p, s))
        return 1;
    if (c->failed)
        c->failed[key >> 3] |= (unsigned char)(1u << (key & 7));
    return 0;
}

static int glob_step(glob_ctx *c, const char *p, const char *s)
{
    for (;;) {
        switch (*p) {
        case '\0': return *s == '\0';
        case '*':
            if (p[1] == '*') {
                const char *q = p + 2;
                if (*q == '/') {    /* "**" "/": zero or more whole directories */
                    if (glob_at(c, q + 1, s))
                        return 1;
                    for (const char *t = s; *t; t++)
                        if (*t == '/' && glob_at(c, q + 1, t + 1))
                            return 1;
                    return 0;
                }
                for (const char *t = s;; t++) {    /* anything, '/' included */
                    if (glob_at(c, q, t))
                        return 1;
                    if (!*t)
                        return 0;
                }
            }
            for (const char *t = s;; t++) {
                if (glob_at(c, p + 1, t))
                    return 1;
                if (!*t || *t == '/')
                    return 0;
            }
        case '?':
            if (!*s || *s == '/')
                return 0;
            p++;
            s++;
            break;
        case '[': {
            const char *q = p + 1;
            int neg = *q == '!' || *q == '^', hit = 0;
            q += neg;
            const char *first = q;
            while (*q && (*q != ']' || q == first)) {
                unsigned char lo = (unsigned char)*q, hi = lo;
                if (q[1] == '-' && q[2] && q[2] != ']') {
                    hi = (unsigned char)q[2];
                    q += 3;
                } else {
                    q++;
                }
                hit |= (unsigned char)*s >= lo && (unsigned char)*s <= hi;
            }
            if (*q != ']') {    /* no closing bracket: a plain '[' */
                if (*s != '[')
                    return 0;
                p++;
                s++;
                break;
            }
            if (!*s || *s == '/' || hit == neg)
                return 0;
            p = q + 1;
            s++;
            break;
        }
        case '\\':
            if (p[1])
                p++;
            /* fall through */
        default:
            if (*p != *s)
                return 0;
            p++;
            s++;
        }
    }
}

static int glob_run(const char *pat, const char *name)
{
    glob_ctx c = {pat, name, strlen(name) + 1, NULL};
    size_t bits = (strlen(pat) + 1) * c.nlen1;
    /* Without the memory (out of it, or a table over 64 MiB) the match is the
     * same, only slower on patterns with many stars. */
    if (bits / c.nlen1 == strlen(pat) + 1 && bits / 8 < ((size_t)64 << 20))
        c.failed = calloc(bits / 8 + 1, 1);
    int hit = glob_at(&c, pat, name);
    free(c.failed);
    return hit;
}

int cli_glob_match(const char *glob, const char *rel)
{
    if (glob[0] == '/')
        return glob_run(glob + 1, rel);
    if (!strchr(glob, '/')) {
        const char *base = strrchr(rel, '/');
        return glob_run(glob, base ? base + 1 : rel);
    }
    return glob_run(glob, rel);
}
