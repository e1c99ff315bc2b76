/*
 * stats.h: summary.json as data (stats.c writes it, parses it and merges
 * runs). The layout is documented in README.md; its key order and number
 * formats are fixed so that the same run gives the same bytes.
 */
#ifndef TS_STATS_H
#define TS_STATS_H

#include "buf.h"
#include "tropescan.h"

#define TS_MANIFEST_SUFFIX ".manifest.jsonl.zst"

typedef struct ts_summary_shard {
    char *input;
    char *manifest;         /* relative to the run directory, or NULL */
    char *status;           /* "ok", "failed", "no_documents" */
    char *error;            /* or NULL */
    char *format;           /* "zstd", "gzip", "plain" */
    uint64_t bytes_in, bytes_decompressed;
    ts_stats stats;
} ts_summary_shard;

struct ts_summary {
    char *version;
    char *name;             /* or NULL */
    char *lexicon_id;
    char *model_id;         /* or NULL */
    /* options */
    char *text_field, *id_field;
    double drop_above, downweight_above, downweight_factor;
    double upweight_above, keep_aligned_above; /* > 1: null */
    double upweight_factor;
    char *error_action;
    uint64_t max_doc_bytes, anchor_words;
    char *lexicon;          /* or NULL */
    char **lexicon_add;
    size_t nlexicon_add;
    char *model;            /* or NULL */
    int whole_documents;
    int gate;
    /* the lexicon's categories, in order; anchored_documents leaves out ai_entity */
    uint32_t ncats;
    char *cats[TS_MAX_CATEGORIES];
    uint64_t anchored_listed;  /* bit c: category c is in total.anchored_documents */
    int has_sums;           /* scored, score_sum, ... present (summaries since tropescan report) */
    int shards_counted;     /* every shard carries its counts (not only input and manifest) */
    ts_summary_shard *shards;
    size_t nshards;
    ts_summary_counts total;
    /* the run's own facts */
    int threads;
    double wall_seconds;
};

/* A new, empty summary (version set). @return NULL when out of memory. */
ts_summary *ts_summary_new(void);
/* Appends s to b as a JSON string, valid UTF-8 whatever s holds: a byte that
 * is not part of valid UTF-8 is taken as Latin-1 (so a Latin-1 file name
 * reads as itself). */
void ts_json_put_string(ts_buf *b, const char *s, size_t len);
/* A copy of s as valid UTF-8 (as above), NUL-terminated; *out_len its length. */
char *ts_utf8_repair(const char *s, size_t len, size_t *out_len);

#endif
