/* lexicon_internal.h: what lexicon.c (the compiler) shares with matcher.c. */
#ifndef TS_LEXICON_INTERNAL_H
#define TS_LEXICON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <hs/hs.h>

#include "tropescan.h"

/* Category names: [a-z0-9_], 1..63 bytes (model files keep 64-byte names). */
#define TS_LEX_NAME_MAX 63
/* A lexicon file larger than this is refused (TS_E_LIMIT): a lexicon is a
 * hand-written list, and a huge file is a mistake (or hostile). */
#define TS_LEX_FILE_MAX (16u << 20)
/* At most this many patterns in a lexicon (Hyperscan copes with far more;
 * the limit only keeps pattern ids and memory bounded). */
#define TS_LEX_MAX_PATTERNS 100000u
/* The widest gap operator: `..12`. */
#define TS_LEX_MAX_GAP 12

enum {
    TS_PAT_CASED = 1u, /* case-sensitive */
    TS_PAT_REGEX = 2u, /* a raw Hyperscan expression */
};

typedef struct ts_lex_pattern {
    char *text;        /* the pattern as written, trimmed, white space runs made one space */
    char *expr;        /* the Hyperscan expression it compiles to */
    char *file;        /* where it was written */
    uint32_t line;
    uint32_t category;
    unsigned flags;    /* TS_PAT_* */
    float weight;
} ts_lex_pattern;

struct ts_lexicon {
    char *cat[TS_MAX_CATEGORIES];   /* kept sorted by name */
    uint32_t ncat;
    ts_lex_pattern *pat;            /* after compile: grouped by category, in category order */
    uint32_t npat, cappat;
    int compiled;
    int no_prebuilt;                /* compile even when a prebuilt database fits */
    int prebuilt;                   /* db came from the build-time database */
    uint64_t id;
    int entity;                     /* index of `ai_entity`, or -1 */
    uint32_t *pat_cat;              /* category of each pattern id (for the match callback) */
    hs_database_t *db;              /* end offsets only: the fast one */
    hs_scratch_t *scratch;          /* prototype for db, cloned per matcher */
    size_t db_size;
    /* The start-of-match database, for matchers that want spans. It takes
     * about twice as long to compile as db, and most runs never need it, so
     * it is compiled on first use; the mutex makes that safe while the
     * lexicon is otherwise shared read-only. */
    pthread_mutex_t som_lock;
    int som_state;                  /* 0 not yet, 1 compiled, < 0 the TS_E_* it failed with */
    hs_database_t *db_som;
    hs_scratch_t *scratch_som;
    size_t db_som_size;
    ts_diag som_diag;               /* why it failed */
};

/* Whether ts_lexicon_compile may use the databases compiled at build time
 * for the default lexicon (default: yes, when the lexicon's id is theirs and
 * Hyperscan accepts them on this CPU; otherwise it compiles). */
void ts_lexicon_use_prebuilt(ts_lexicon *lex, int yes);
/* 1 if the fast database came from the build. */
int ts_lexicon_is_prebuilt(const ts_lexicon *lex);

/* Serializes a compiled database (som: the start-of-match one, which must be
 * compiled first) into malloc'd bytes. @return TS_OK, TS_E_INVALID, TS_E_HYPERSCAN. */
int ts_lexicon_serialize(const ts_lexicon *lex, int som, char **bytes, size_t *len);

/* Sizes of the compiled databases in bytes (0 before compile, when empty, or
 * for the start-of-match one before ts_lexicon_compile_spans). */
size_t ts_lexicon_db_size(const ts_lexicon *lex, int som);

/* Compiles the start-of-match database (once; later calls return the first
 * result). Thread-safe on a compiled lexicon.
 * @return TS_OK, TS_E_INVALID (not compiled), TS_E_LEXICON / TS_E_HYPERSCAN
 * (diag names the pattern's file and line), TS_E_NOMEM. */
int ts_lexicon_compile_spans(const ts_lexicon *lex, ts_diag *diag);

/* Compiles the patterns ids[0..n) of a compiled lexicon alone into a new
 * database (end offsets only, match ids the lexicon's pattern ids), as
 * ts_lexicon_compile would: for measuring what patterns cost (lexicon cost).
 * The caller frees it with hs_free_database.
 * @return TS_OK, TS_E_INVALID, TS_E_NOMEM, TS_E_HYPERSCAN (diag says which). */
int ts_lexicon_compile_subset(const ts_lexicon *lex, const uint32_t *ids, uint32_t n, hs_database_t **db,
                              ts_diag *diag);

#endif
