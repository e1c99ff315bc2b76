/*
 * distribute.c: what lets a run be split over machines and put back
 * together: the partition of an input (tropescan.h documents the hash) and
 * the order of a summary's shards (scan's and merge's). Resume lives with
 * the run, in pipeline.c, and its records in record.c.
 */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "stats.h"

uint32_t ts_partition_of(const char *name, uint32_t n)
{
    if (n == 0)
        return 0;
    return (uint32_t)(XXH64(name, strlen(name), 0) % n);
}

/* The shard's name: its manifest without the suffix, else its input. */
static void shard_key(const ts_summary_shard *sh, const char **p, size_t *len)
{
    size_t suf = sizeof TS_MANIFEST_SUFFIX - 1;
    if (sh->manifest) {
        size_t n = strlen(sh->manifest);
        *p = sh->manifest;
        *len = n >= suf && !strcmp(sh->manifest + n - suf, TS_MANIFEST_SUFFIX) ? n - suf : n;
    } else {
        *p = sh->input ? sh->input : "";
        *len = strlen(*p);
    }
}

static int cmp_shards(const void *va, const void *vb)
{
    const char *a, *b;
    size_t la, lb;
    shard_key(va, &a, &la);
    shard_key(vb, &b, &lb);
    for (size_t i = 0; i < la && i < lb; i++) {
        /* '/' sorts first: a directory's files come before "dir.x" */
        unsigned ca = a[i] == '/' ? 0 : (unsigned char)a[i] + 1u;
        unsigned cb = b[i] == '/' ? 0 : (unsigned char)b[i] + 1u;
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    if (la != lb)
        return la < lb ? -1 : 1;
    const ts_summary_shard *x = va, *y = vb;
    return strcmp(x->input ? x->input : "", y->input ? y->input : "");
}

void ts_summary_sort_shards(ts_summary *s)
{
    if (s->nshards > 1)
        qsort(s->shards, s->nshards, sizeof *s->shards, cmp_shards);
}
