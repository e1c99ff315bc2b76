/* lexicon_internal.h: what lexicon.c (the compiler) shares with matcher.c. */
#ifndef TS_LEXICON_INTERNAL_H
#define TS_LEXICON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

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
    uint64_t id;
    int entity;                     /* index of `ai_entity`, or -1 */
    uint32_t *pat_cat;              /* category of each pattern id (for the match callback) */
    hs_database_t *db;              /* end offsets only: the fast one */
    hs_database_t *db_som;          /* HS_FLAG_SOM_LEFTMOST, for matchers that want spans */
    hs_scratch_t *scratch;          /* prototype for both databases, cloned per matcher */
    size_t db_size, db_som_size;
};

/* Sizes of the compiled databases in bytes (0 before compile or when empty). */
size_t ts_lexicon_db_size(const ts_lexicon *lex, int som);

#endif
