/* check.h: the unit tests' CHECK and a scratch directory. */
#ifndef TS_TEST_CHECK_H
#define TS_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static char tmpdir[64];

static void make_tmpdir(const char *tag)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ts-%s-XXXXXX", tag);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(2);
    }
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* Writes data to tmpdir/name; @return the path (static, 8 in rotation). */
static inline const char *write_file(const char *name, const void *data, size_t len)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(p);
        exit(2);
    }
    return p;
}

/* Reads a whole file (NUL-terminated); NULL if it cannot. */
static inline char *read_file(const char *path, size_t *len)
{
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n + 65536 + 1 > cap) {
            cap = (n + 65536 + 1) * 2;
            b = realloc(b, cap);
        }
        got = fread(b + n, 1, 65536, f);
        n += got;
    } while (got > 0);
    fclose(f);
    b[n] = '\0';
    if (len)
        *len = n;
    return b;
}

#endif
