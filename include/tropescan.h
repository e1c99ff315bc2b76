/*
 * tropescan.h: the library behind the tropescan command.
 *
 * tropescan scores the documents of web-text shards for "evil, self-preserving
 * AI" narratives: a Hyperscan lexicon finds trope phrases, a small linear model
 * turns them (and hashed word n-grams) into calibrated probabilities, and a
 * policy turns probabilities into keep / downweight / drop actions.
 *
 * This header is the manual for the library. Its shape follows Hyperscan:
 * immutable objects (a compiled lexicon, a model) are shared read-only by all
 * threads; per-thread workers (a scanner, with its Hyperscan scratch and its
 * buffers) are created from them, one per thread.
 *
 * Conventions:
 *   - Functions return int: 0 (TS_OK) on success, a negative TS_E_* code on
 *     failure; ts_strerror() gives the code's text. Outputs come last, through
 *     `**out` parameters.
 *   - Functions that read outside data take an optional ts_diag* which, on
 *     failure, receives a message naming the file, line and byte offset.
 *   - Every *_free() accepts NULL.
 *   - The library never prints and never exits.
 */
#ifndef TROPESCAN_H
#define TROPESCAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TS_VERSION_MAJOR 0
#define TS_VERSION_MINOR 1
#define TS_VERSION_PATCH 0
#define TS_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- errors */

enum {
    TS_OK = 0,
    TS_E_NOMEM = -1,       /* an allocation failed */
    TS_E_IO = -2,          /* a read, write, open or rename failed (see errno) */
    TS_E_INVALID = -3,     /* a bad argument from the caller */
    TS_E_FORMAT = -4,      /* a file is not in the expected format */
    TS_E_LEXICON = -5,     /* a lexicon file has an error (diag names file:line) */
    TS_E_HYPERSCAN = -6,   /* Hyperscan refused to compile or scan */
    TS_E_MODEL = -7,       /* a model file is invalid */
    TS_E_CHECKSUM = -8,    /* a checksum does not match: corrupt data */
    TS_E_TRUNCATED = -9,   /* input ends in the middle of a structure */
    TS_E_MISMATCH = -10,   /* model and lexicon do not belong together */
    TS_E_DECOMPRESS = -11, /* compressed input is corrupt */
    TS_E_LIMIT = -12,      /* an explicit limit was hit (size, depth, count) */
    TS_E_CANCELLED = -13,  /* the caller's cancellation flag was set */
};

/* @return a static, human-readable text for a TS_E_* code. */
const char *ts_strerror(int err);

/* Diagnostics for errors in outside data. */
typedef struct ts_diag {
    char file[512];      /* the file at fault, or "" */
    uint64_t line;       /* 1-based line, or 0 if not applicable */
    uint64_t offset;     /* byte offset in the (decompressed) file, or UINT64_MAX */
    char message[512];   /* what is wrong, in words */
} ts_diag;

/* Clears a diag (file "", line 0, offset UINT64_MAX, message ""). */
void ts_diag_clear(ts_diag *diag);

/* ---------------------------------------------------------------- reader */
/*
 * A reader yields the decompressed bytes of one input. The format is chosen by
 * magic bytes, never by the name: zstd (28 b5 2f fd, any number of frames,
 * skippable frames allowed), gzip (1f 8b, any number of members) or plain.
 */
typedef struct ts_reader ts_reader;

typedef enum ts_format { TS_FORMAT_PLAIN = 0, TS_FORMAT_ZSTD = 1, TS_FORMAT_GZIP = 2 } ts_format;

/* Opens `path` ("-" is standard input).
 * @return TS_OK, TS_E_IO (diag says why), TS_E_NOMEM. */
int ts_reader_open(const char *path, ts_reader **out, ts_diag *diag);

/* Fills buf with up to cap decompressed bytes. It fills the whole buffer unless
 * the input ends, so chunk boundaries depend only on the data and cap.
 * *got is 0 only at the end of the input.
 * @return TS_OK; TS_E_DECOMPRESS or TS_E_TRUNCATED for a corrupt or cut
 * compressed stream (bytes before the fault are still returned in *got by the
 * calls before, and diag->offset holds the compressed offset of the fault);
 * TS_E_IO on a read error. */
int ts_reader_read(ts_reader *r, void *buf, size_t cap, size_t *got, ts_diag *diag);

ts_format ts_reader_format(const ts_reader *r);
/* @return compressed bytes consumed so far, and decompressed bytes returned so far. */
uint64_t ts_reader_bytes_in(const ts_reader *r);
uint64_t ts_reader_bytes_out(const ts_reader *r);
void ts_reader_free(ts_reader *r);

/* ---------------------------------------------------------------- lexicon */
/*
 * A lexicon is a set of categories (one per trope, plus `ai_entity` for the AI
 * itself and `aligned_ai` for the counter-trope), each a list of phrase
 * patterns. lexicons/README.md documents the file format. Build one with
 * ts_lexicon_create, add sources, then ts_lexicon_compile; after compiling it
 * is immutable and may be shared by any number of threads.
 */
typedef struct ts_lexicon ts_lexicon;

#define TS_MAX_CATEGORIES 32

typedef struct ts_pattern_info {
    uint32_t category;     /* index into the categories */
    const char *text;      /* the pattern as written */
    const char *file;      /* where it was written */
    uint32_t line;
    float weight;
} ts_pattern_info;

int ts_lexicon_create(ts_lexicon **out);
/* Adds the lexicon embedded at build time (the files in lexicons/). */
int ts_lexicon_add_default(ts_lexicon *lex, ts_diag *diag);
/* Adds every `<category>.txt` file in `dir`. */
int ts_lexicon_add_dir(ts_lexicon *lex, const char *dir, ts_diag *diag);
/* Adds the patterns in `text` to `category`; `name` is used in messages. */
int ts_lexicon_add_text(ts_lexicon *lex, const char *category, const char *name,
                        const char *text, size_t len, ts_diag *diag);
/* Compiles all patterns into one Hyperscan database.
 * @return TS_OK, TS_E_LEXICON / TS_E_HYPERSCAN with diag naming file, line, reason. */
int ts_lexicon_compile(ts_lexicon *lex, ts_diag *diag);
void ts_lexicon_free(ts_lexicon *lex);

/* The lexicon's identity: XXH64 of its normalised content (categories and
 * patterns in canonical order; comments and layout do not count). */
uint64_t ts_lexicon_id(const ts_lexicon *lex);
uint32_t ts_lexicon_ncategories(const ts_lexicon *lex);
const char *ts_lexicon_category_name(const ts_lexicon *lex, uint32_t i);
/* @return the category's index, or -1. */
int ts_lexicon_category_index(const ts_lexicon *lex, const char *name);
uint32_t ts_lexicon_npatterns(const ts_lexicon *lex);
int ts_lexicon_pattern(const ts_lexicon *lex, uint32_t i, ts_pattern_info *out);

/* A hit of one pattern in a normalised text. start is valid only when the
 * matcher was created with spans (it costs Hyperscan's start-of-match mode). */
typedef struct ts_hit {
    uint32_t start, end;   /* byte offsets in the normalised text, [start, end) */
    uint32_t pattern;
    uint32_t category;
    uint32_t anchored;     /* 1: a trope hit within the anchor window of an ai_entity hit */
} ts_hit;

/* What a matcher found in one text. Pointers stay valid until the next scan. */
typedef struct ts_matches {
    uint32_t ncategories;
    const uint32_t *raw;       /* per category: number of hits */
    const uint32_t *anchored;  /* per category: hits within the anchor window of an ai_entity hit */
    size_t nhits;
    const ts_hit *hits;        /* in order of end offset */
} ts_matches;

/* Default anchor window, in words, either side of an ai_entity hit. */
#define TS_DEFAULT_ANCHOR_WORDS 40

typedef struct ts_matcher ts_matcher;
/* A per-thread matcher (it owns a Hyperscan scratch). */
int ts_matcher_create(const ts_lexicon *lex, int want_spans, uint32_t anchor_words,
                      ts_matcher **out);
/* Scans a normalised text (see ts_normalise). len must be < 4 GiB.
 * @return TS_OK or TS_E_HYPERSCAN / TS_E_LIMIT. */
int ts_matcher_scan(ts_matcher *m, const char *text, size_t len, ts_matches *out);
void ts_matcher_free(ts_matcher *m);

/* ---------------------------------------------------------------- text */
/*
 * Normalisation applied before matching and tokenising (never to the
 * fingerprint, which is taken over the decoded text as it is):
 *   - every run of white space (ASCII space, tab, CR, LF, FF, VT, U+0085,
 *     U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000)
 *     becomes one ASCII space; leading and trailing white space is dropped;
 *   - U+2018 U+2019 U+201A U+201B U+2032 U+FF07 (single quotes) become ';
 *     U+201C U+201D U+201E U+201F U+2033 U+FF02 (double quotes) become ";
 *   - U+2010..U+2015, U+2212, U+FE58, U+FE63, U+FF0D (dashes) become -;
 *   - U+00AD (soft hyphen) and U+200B..U+200D, U+2060, U+FEFF (zero width) are removed;
 *   - NUL becomes a space (it is white space to a reader).
 * Everything else is copied unchanged (case is left alone: matching is caseless).
 * The output is never longer than the input: dst must hold len bytes and
 * must not overlap src. Normalising twice gives the same text as once, for
 * any bytes.
 * @return the normalised length; *words receives the number of words
 * (runs of non-space) when words is not NULL. */
size_t ts_normalise(const char *src, size_t len, char *dst, uint32_t *words);

/* ts_normalise, also recording paragraph boundaries: breaks (room for cap
 * entries; len / 2 + 2 is always enough) receives, ascending, the offsets in
 * dst of the spaces that stand for a run of white space holding a line feed
 * (never the text's ends), the first cap of them; *nbreaks their number. */
size_t ts_normalise_breaks(const char *src, size_t len, char *dst, uint32_t *words, uint32_t *breaks,
                           size_t cap, size_t *nbreaks);

/* Maps byte offsets of the normalised text back to the text it was made
 * from (src, len, as given to ts_normalise). offs holds n offsets in
 * ascending order and is overwritten with source offsets: with is_end 0,
 * each offset becomes the start of the source character that produced that
 * normalised byte (the end of the normalised text maps to the start of the
 * trailing white space, if any; offsets past it to len); with is_end 1, an
 * offset o > 0 becomes the end of the source character that produced byte
 * o - 1 (0 stays 0). So [start, end) of the normalised text maps to the
 * source range that produced it. */
void ts_normalise_map(const char *src, size_t len, uint64_t *offs, size_t n, int is_end);

/* ---------------------------------------------------------------- model */
/*
 * A model is two logistic-regression heads over the same features: `score`
 * (the probability of an evil-AI narrative) and `aligned` (the probability of
 * a narrative of an AI behaving well). Features: per-category lexicon counts
 * (raw and anchored) and hashed lowercase word unigrams and bigrams. The file
 * format is documented in src/lib/model.c; it carries the identity of the
 * lexicon it was trained with and a checksum.
 */
typedef struct ts_model ts_model;

int ts_model_load_file(const char *path, ts_model **out, ts_diag *diag);
int ts_model_load_memory(const void *data, size_t len, ts_model **out, ts_diag *diag);
/* Loads the model embedded at build time. */
int ts_model_load_default(ts_model **out, ts_diag *diag);
void ts_model_free(ts_model *m);
/* XXH64 of the model file's bytes. */
uint64_t ts_model_id(const ts_model *m);
/* The identity of the lexicon the model was trained with. */
uint64_t ts_model_lexicon_id(const ts_model *m);
/* @return 1 if the model has the `aligned` head. */
int ts_model_has_aligned(const ts_model *m);
/* The policy thresholds chosen with the model (`tropescan train --policy`),
 * 0 where none was set:
 *   out[TS_POLICY_DOWNWEIGHT]  downweight when score >= it;
 *   out[TS_POLICY_DROP]        drop when score >= it;
 *   out[TS_POLICY_UPWEIGHT]    upweight when aligned >= it (and not dropped or downweighted);
 *   out[TS_POLICY_KEEP_ALIGNED] never downweight (only drop) when aligned >= it:
 *                              a narrative of an AI behaving well shares the
 *                              evil one's words, and the aligned head knows it.
 * @return the model's window in words (0: it scores whole documents). */
enum { TS_POLICY_DOWNWEIGHT, TS_POLICY_DROP, TS_POLICY_UPWEIGHT, TS_POLICY_KEEP_ALIGNED, TS_POLICY_N };
uint32_t ts_model_policy(const ts_model *m, double out[TS_POLICY_N]);

/* ---------------------------------------------------------------- scanner */
/*
 * A scanner scores one document at a time: normalise, match, featurise,
 * predict. One per thread; it reuses its buffers, so scoring allocates
 * nothing once buffers have grown to the largest document seen.
 */
typedef struct ts_scanner ts_scanner;

/* One passage (window) of a document and its scores. */
typedef struct ts_window {
    uint32_t start, end; /* byte offsets in the normalised text, [start, end) */
    double score;        /* the window scored alone: P(evil-AI narrative) */
    double aligned;      /* P(aligned-AI narrative), or -1 */
} ts_window;

/*
 * Passage scoring. A model trained for windows (its window W > 0) scores a
 * document of more than W words as overlapping windows of W words of the
 * normalised text (words: runs of non-space), starting every S words, the
 * last one ending at the document's end. Each window is scored as a document
 * of its own would be: lexicon hits whose end lies in the window (anchored
 * as in the whole document), the window's n-grams (every token is hashed
 * once per document), W as its length. The document's score is the highest
 * window score, its aligned the highest window aligned: a narrative of one
 * paragraph inside a long page decides the page. A document of W words or
 * fewer, or any document under a model without windows, is one window.
 */
typedef struct ts_doc_score {
    double score;        /* P(evil-AI narrative) */
    double aligned;      /* P(aligned-AI narrative), or -1 if the model has no such head */
    double margin[2];    /* the raw margins behind score and aligned (before calibration) */
    int fast_path;       /* 1 if the cascade skipped n-gram hashing (no lexicon hit) */
    uint32_t words;      /* words in the normalised text */
    ts_matches matches;  /* the lexicon hits (valid until the next call) */
    uint32_t nwindows;   /* windows scored (1 for a short document; 0 without a model) */
    const ts_window *windows; /* in text order (valid until the next call) */
    uint32_t best;       /* index of the window that gave score */
    int gated;           /* 1 if the gate skipped the document (ts_scanner_set_gate) */
} ts_doc_score;   /* python/tropescan mirrors this layout (ctypes): change both */

/* `model` may be NULL: then score and aligned are -1 and only matches are filled. */
int ts_scanner_create(const ts_lexicon *lex, const ts_model *model, uint32_t anchor_words,
                      int want_spans, ts_scanner **out);
/* Scores the decoded UTF-8 text of one document.
 * @return TS_OK, TS_E_LIMIT (text >= 4 GiB), TS_E_HYPERSCAN, TS_E_NOMEM. */
int ts_scanner_score(ts_scanner *s, const char *text, size_t len, ts_doc_score *out);
/* With on = 1, a window model scores whole documents as one window each
 * (faster, and blind to a passage inside a long page: what the benchmark
 * compares passage scoring against). Default 0. */
void ts_scanner_whole_documents(ts_scanner *s, int on);
/*
 * The gate: a cheap first pass that decides which documents get the full
 * scan (the lexicon, the n-grams, the model). It is a small Hyperscan
 * database of words an evil-AI narrative can hardly do without (the AI and
 * its machinery, the people it acts on), run on the text before it is
 * normalised. A document without any of them is scored as a document without
 * features would be by the full scan (an empty one: every feature 0, so the
 * margin is the model's bias): that score and its action, no lexicon hits,
 * fast_path and gated set. It is not safe on every corpus: a narrative that
 * never names its machine can pass it by (bench/README.md has the measured
 * misses), so scan uses it only with --gate. Like a lexicon, a gate is
 * immutable once created and may be shared by all threads.
 */
typedef struct ts_gate ts_gate;
/* @return TS_OK, TS_E_NOMEM or TS_E_HYPERSCAN. */
int ts_gate_create(ts_gate **out);
void ts_gate_free(ts_gate *g);
/* Puts the scanner's documents through the gate g (NULL: every document gets
 * the full scan, the default). g must outlive the scanner's use of it. The
 * gate applies to scanners with a model only.
 * @return TS_OK or TS_E_NOMEM. */
int ts_scanner_set_gate(ts_scanner *s, const ts_gate *g);
/* The normalised text of the last scored document (what hit offsets refer to). */
const char *ts_scanner_normalised(const ts_scanner *s, size_t *len);
void ts_scanner_free(ts_scanner *s);

/* ---------------------------------------------------------------- policy */
/*
 * The policy turns a document's scores into an action and a training weight.
 * One function decides for every command (scan writes it into manifests, eval
 * measures it), so they cannot disagree.
 */
typedef enum ts_action {
    TS_ACTION_KEEP = 0,
    TS_ACTION_DOWNWEIGHT = 1,
    TS_ACTION_DROP = 2,
    TS_ACTION_UPWEIGHT = 3,
} ts_action;
#define TS_NACTIONS 4

/* @return "keep", "downweight", "drop" or "upweight". */
const char *ts_action_name(ts_action a);

#define TS_DEFAULT_DROP_ABOVE 0.8
#define TS_DEFAULT_DOWNWEIGHT_ABOVE 0.5
#define TS_DEFAULT_DOWNWEIGHT_FACTOR 0.25
#define TS_DEFAULT_UPWEIGHT_FACTOR 2.0
/* A threshold above 1 is never reached: the branch is off. */
#define TS_POLICY_OFF 2.0

typedef struct ts_policy {
    double drop_above;          /* drop when score >= it */
    double downweight_above;    /* downweight when score >= it */
    double downweight_factor;   /* the weight of a downweighted document */
    double upweight_above;      /* upweight when aligned >= it (> 1: never) */
    double upweight_factor;     /* the weight of an upweighted document */
    double keep_aligned_above;  /* never downweight when aligned >= it (> 1: off) */
} ts_policy;

/* Fills p with the defaults: the four thresholds unset (-1, see
 * ts_policy_resolve), the factors TS_DEFAULT_DOWNWEIGHT_FACTOR and
 * TS_DEFAULT_UPWEIGHT_FACTOR. */
void ts_policy_default(ts_policy *p);

/* Sets every unset (negative) threshold: the model's own policy
 * (ts_model_policy) where it has one, else drop 0.8, downweight 0.5,
 * upweight and keep-aligned off. model may be NULL.
 * @return TS_OK, or TS_E_INVALID when downweight_above > drop_above. */
int ts_policy_resolve(ts_policy *p, const ts_model *model);

/*
 * Decides. score and aligned are probabilities, or negative when absent (no
 * model, or no aligned head). The aligned head can overrule the score head:
 *   drop        score >= drop_above, unless aligned >= upweight_above;
 *   downweight  score >= downweight_above, unless aligned >= keep_aligned_above;
 *   upweight    aligned >= upweight_above (and neither of the above);
 *   keep        otherwise.
 * *weight receives 0, downweight_factor, upweight_factor or 1.
 */
ts_action ts_policy_decide(const ts_policy *p, double score, double aligned, double *weight);

/* ---------------------------------------------------------------- documents */
/*
 * The one document reader. A JSONL line becomes a document (its id and
 * decoded text) or an error of one of these kinds, the same in every
 * command. The kinds' names are stable: they appear in manifests and
 * summaries.
 */
enum {
    TS_DOC_OK = 0,
    TS_DOC_EMPTY_LINE = 1,      /* nothing but spaces, tabs and a CR */
    TS_DOC_INVALID_JSON = 2,    /* not one valid JSON object (detail: why and where) */
    TS_DOC_MISSING_TEXT = 3,    /* no text field */
    TS_DOC_TEXT_NOT_STRING = 4, /* the text field is not a string */
    TS_DOC_INVALID_TEXT = 5,    /* the text does not decode (a lone surrogate) */
    TS_DOC_TOO_LONG = 6,        /* the line exceeds max_doc_bytes */
    TS_DOC_TRUNCATED_INPUT = 7, /* the input was cut (corrupt, truncated) inside this line */
    TS_DOC_SCAN_FAILED = 8,     /* scoring failed (out of memory, Hyperscan) */
    TS_DOC_NKINDS = 9
};
/* @return "empty_line", "invalid_json", ..., or "ok" for TS_DOC_OK. */
const char *ts_doc_error_name(int kind);

typedef enum ts_field_kind {
    TS_FIELD_MISSING = 0,   /* absent */
    TS_FIELD_STRING = 1,    /* raw is the body between the quotes, still escaped */
    TS_FIELD_NUMBER = 2,    /* raw is the literal */
    TS_FIELD_OTHER = 3,     /* true, false, null, an object or an array, as written */
} ts_field_kind;

typedef struct ts_field {
    ts_field_kind kind;
    const char *raw;
    size_t len;
    int has_escapes;        /* strings: the body holds a backslash */
} ts_field;

#define TS_DOC_MAX_EXTRA 4
#define TS_DEFAULT_MAX_DOC_BYTES (16u << 20)

typedef struct ts_doc {
    uint64_t line;          /* 1-based line number */
    uint64_t offset;        /* byte offset of the line in the decompressed input */
    int error;              /* TS_DOC_OK, or a TS_DOC_* kind */
    const char *detail;     /* for some errors: what and where, else NULL */
    const char *text;       /* TS_DOC_OK: the decoded text (valid until the next call) */
    size_t len;
    ts_field id;            /* the id field, raw */
    ts_field extra[TS_DOC_MAX_EXTRA]; /* the extra fields asked for, raw */
} ts_doc;

/* Decodes a string or number field into buf (NUL-terminated, cut to cap - 1
 * bytes); other kinds give "". @return 0, or -1 if the field is missing or
 * does not decode. */
int ts_field_string(const ts_field *f, char *buf, size_t cap);

typedef struct ts_docs_settings {
    const char *text_field;     /* dotted path (default "text") */
    const char *id_field;       /* dotted path (default "id"), or NULL */
    const char *extra[TS_DOC_MAX_EXTRA]; /* more dotted paths, returned raw */
    size_t nextra;
    uint64_t max_doc_bytes;     /* longer lines are TS_DOC_TOO_LONG (default 16 MiB) */
    uint64_t max_plain_bytes;   /* ts_docs_slurp's limit (default: max_doc_bytes) */
    size_t chunk_size;          /* bytes read at a time (default 1 MiB); never changes the answers */
} ts_docs_settings;

void ts_docs_settings_default(ts_docs_settings *s);

/* A line parser: the per-line half of the reader, for callers that cut
 * lines themselves (the pipeline). One per thread. */
typedef struct ts_doc_parser ts_doc_parser;
/* @return TS_OK, TS_E_INVALID (a bad field path), TS_E_NOMEM. */
int ts_doc_parser_create(const ts_docs_settings *s, ts_doc_parser **out);
/* Parses one line (without its '\n'; a trailing CR is allowed) into out.
 * @return TS_OK (out->error says whether it is a document), TS_E_NOMEM. */
int ts_doc_parse(ts_doc_parser *p, const char *line, size_t len, ts_doc *out);
void ts_doc_parser_free(ts_doc_parser *p);

/* The iterator over one input's documents. */
typedef struct ts_docs ts_docs;
/* Opens path ("-": standard input). @return TS_OK, TS_E_IO (diag), TS_E_INVALID, TS_E_NOMEM. */
int ts_docs_open(const char *path, const ts_docs_settings *s, ts_docs **out, ts_diag *diag);
/* @return 1 with a document (check out->error), 0 at the end of the input,
 * or a negative TS_E_* when the input fails (diag names the file and the
 * byte offset); every line before the fault has been returned, the line it
 * cut as TS_DOC_TRUNCATED_INPUT. */
int ts_docs_next(ts_docs *d, ts_doc *out, ts_diag *diag);
/* The first byte that is not white space among those not yet read (only the
 * next chunk is looked at), consuming nothing.
 * @return the byte (0-255), TS_DOCS_PEEK_NONE, or a negative TS_E_*. */
int ts_docs_peek(ts_docs *d, ts_diag *diag);
#define TS_DOCS_PEEK_NONE 256
/* Reads every remaining byte (a plain-text document) into a new buffer
 * (free it), at most max_plain_bytes. @return TS_OK, TS_E_LIMIT, or an error. */
int ts_docs_slurp(ts_docs *d, char **buf, size_t *len, ts_diag *diag);
void ts_docs_free(ts_docs *d);

/* ---------------------------------------------------------------- statistics */

#define TS_HIST_BINS 20

/* A run's counts (of one input, or added over several). Every field is a
 * uint64_t count, so that counts add exactly in any order. */
typedef struct ts_stats {
    uint64_t docs;                              /* lines */
    uint64_t ok;                                /* lines that are documents */
    uint64_t text_bytes;                        /* decoded text of the documents */
    uint64_t fast_path;                         /* documents without a lexicon hit */
    uint64_t errors[TS_DOC_NKINDS];             /* by kind; errors[TS_DOC_OK]: of unknown kind (read
                                                 * from a summary without errors_by_kind) */
    uint64_t actions[TS_NACTIONS];
    uint64_t trope_docs[TS_MAX_CATEGORIES];     /* documents with >= 1 hit */
    uint64_t trope_hits[TS_MAX_CATEGORIES];     /* hits */
    uint64_t anchored_docs[TS_MAX_CATEGORIES];  /* documents with >= 1 anchored hit */
    uint64_t score_hist[TS_HIST_BINS];          /* bins of 0.05 */
    uint64_t aligned_hist[TS_HIST_BINS];
    /* Scores summed in millionths (each rounded to 6 decimals, as in the manifest). */
    uint64_t scored, score_sum_e6;
    uint64_t aligned_scored, aligned_sum_e6;
    uint64_t score_at_downweight;               /* score >= downweight_above */
    uint64_t score_at_drop;                     /* score >= drop_above */
} ts_stats;

void ts_stats_add(ts_stats *to, const ts_stats *from);
/* @return the number of error lines (all kinds). */
uint64_t ts_stats_errors(const ts_stats *st);
/* Counts one scored document (score, aligned: < 0 when absent) in st. */
void ts_stats_count_scores(ts_stats *st, const ts_policy *p, double score, double aligned);

/* ---------------------------------------------------------------- the run */
/*
 * A run scans inputs into one output directory: per input a manifest
 * (<name>.manifest.jsonl.zst: one line per input line, in order) and, for
 * the whole run, summary.json. Work is cut into chunks of whole lines;
 * worker threads (OpenMP) read, score and compress chunks, and each input's
 * frames are written strictly in chunk order, so the outputs are
 * byte-identical for any number of threads. Every output is written under a
 * temporary name and renamed once complete (see ts_outfile).
 *
 * Fork safety: a run's threads live only while ts_run_execute runs (their
 * OpenMP pool belongs to a thread created for the run and ends with it), so a
 * process may fork between runs and run again in parent and child. Forking
 * while a run executes (from another thread) is not supported.
 */
typedef struct ts_run ts_run;

/* What one line becomes: the per-line step. The pipeline calls it for every
 * line, in order within a chunk, from worker threads (one worker object per
 * thread). The default step (NULL in the settings) is the scan's: parse,
 * score, decide, append a manifest line. */
typedef struct ts_out ts_out;
/* Appends bytes to the current chunk's output. */
void ts_out_append(ts_out *o, const void *data, size_t len);

typedef struct ts_line {
    const char *data;       /* the line, without '\n' (NULL for a too long line) */
    size_t len;             /* its length (also for a too long line) */
    uint64_t line;          /* 1-based */
    uint64_t offset;        /* in the decompressed input */
    int error;              /* TS_DOC_OK, TS_DOC_TOO_LONG or TS_DOC_TRUNCATED_INPUT */
    const char *detail;     /* the error's detail, else NULL */
} ts_line;

typedef struct ts_step {
    void *ctx;
    int (*worker_create)(void *ctx, void **worker);
    void (*worker_free)(void *ctx, void *worker);
    /* @return TS_OK, or a negative TS_E_* that stops the run (out of memory). */
    int (*line)(void *worker, const ts_line *line, ts_out *out, ts_stats *stats);
} ts_step;

typedef struct ts_progress {
    uint64_t inputs, inputs_done;
    uint64_t bytes_in_total;    /* compressed sizes of the inputs, where known */
    uint64_t bytes_in;          /* compressed bytes read */
    uint64_t bytes_out;         /* decompressed bytes read */
    uint64_t docs;              /* lines read */
} ts_progress;

typedef struct ts_run_settings {
    const char *outdir;         /* required */
    int threads;                /* default 0: all cores */
    int force;                  /* overwrite existing outputs */
    const char *text_field;     /* default "text" */
    const char *id_field;       /* default "id" */
    ts_policy policy;           /* default ts_policy_default(); resolved against the model by ts_run_create */
    int error_drop;             /* error lines: 1 drop, 0 keep (default) */
    int whole_documents;        /* score documents whole, not by passages */
    int gate;                   /* a first pass (ts_gate) decides which documents get the full scan;
                                 * default 0: every document gets it (bench/README.md says why) */
    uint64_t max_doc_bytes;     /* default 16 MiB */
    uint64_t chunk_size;        /* default 2 MiB */
    uint32_t anchor_words;      /* default TS_DEFAULT_ANCHOR_WORDS */
    int manifest_level;         /* zstd level, default 3 */
    /* Recorded in summary.json only. */
    const char *name;           /* the dataset's name, or NULL */
    const char *lexicon_dir;    /* or NULL: the default */
    const char *const *lexicon_add;
    int nlexicon_add;
    const char *model_path;     /* or NULL: the default (or "none" without a model) */
    /* Called from worker threads, one call at a time, after each chunk read. */
    void (*progress)(void *ud, const ts_progress *p);
    void *progress_ud;
    /* Polled between chunks: when *cancel becomes non-zero, workers stop and
     * ts_run_execute returns TS_E_CANCELLED. */
    const volatile int *cancel;
    /* The per-line step (NULL: the scan's). */
    const ts_step *step;
} ts_run_settings;

void ts_run_settings_default(ts_run_settings *s);

/* The settings are copied (strings are not: they must outlive the run).
 * lex must be compiled; model may be NULL (lexicon counts only).
 * @return TS_OK, TS_E_INVALID (diag says which setting), TS_E_NOMEM. */
int ts_run_create(const ts_run_settings *s, const ts_lexicon *lex, const ts_model *model, ts_run **out,
                  ts_diag *diag);
/* Adds an input: path ("-": standard input), name its manifest's path
 * relative to outdir without the suffix. @return TS_OK, TS_E_NOMEM. */
int ts_run_add_input(ts_run *r, const char *path, const char *name);
size_t ts_run_ninputs(const ts_run *r);
/* Creates the output directories, refuses to overwrite outputs without
 * force (or an input, ever), and removes stale temporaries (of this host's
 * processes that are gone; *stale receives their number).
 * @return TS_OK, TS_E_IO or TS_E_INVALID with diag->message saying why. */
int ts_run_prepare(ts_run *r, int *stale, ts_diag *diag);
/* The temporary name of input i's manifest, or (i == ninputs) of the
 * summary: what a signal handler removes. Valid after ts_run_prepare. */
const char *ts_run_tmp_path(const ts_run *r, size_t i);
/* Runs (once per run). @return TS_OK when every input was processed (some
 * may have failed: see ts_run_input), TS_E_NOMEM (no temporary kept),
 * TS_E_CANCELLED (manifests already complete stay), TS_E_INVALID (not
 * prepared, or executed before). */
int ts_run_execute(ts_run *r, ts_diag *diag);

enum {
    TS_INPUT_OK = 0,
    TS_INPUT_FAILED = 1,        /* the input could not be read to its end */
    TS_INPUT_NO_DOCUMENTS = 2,  /* read, but no line is a document */
    TS_INPUT_OUTPUT_FAILED = 3, /* its manifest could not be written */
};

typedef struct ts_input_result {
    const char *path, *name;
    int status;                 /* TS_INPUT_* */
    const char *message;        /* why, when status != TS_INPUT_OK */
    int manifest_done;          /* the manifest is under its final name */
    ts_format format;
    uint64_t bytes_in, bytes_out;
    const ts_stats *stats;
} ts_input_result;

int ts_run_input(const ts_run *r, size_t i, ts_input_result *out);
/* The totals over every input. */
void ts_run_totals(const ts_run *r, ts_stats *out, uint64_t *bytes_in, uint64_t *bytes_out);
/* Writes outdir/summary.json (atomically); wall_seconds and threads are
 * the run's own facts, written last. @return TS_OK, TS_E_IO, TS_E_NOMEM. */
int ts_run_write_summary(ts_run *r, double wall_seconds, ts_diag *diag);
/* Frees the run, removing any temporary it still holds. */
void ts_run_free(ts_run *r);

/* ---------------------------------------------------------------- many machines */
/*
 * Partitions: n machines given the same input list each take the inputs
 * whose partition is theirs, and together cover every input exactly once.
 * An input's partition is XXH64 (seed 0) of its name (its manifest's path
 * relative to the output directory, without the suffix: what
 * ts_run_add_input takes) modulo n. It depends on nothing else, so a
 * partition's manifests are byte-identical to a whole run's.
 * @return the partition, in [0, n) (0 when n is 0). */
uint32_t ts_partition_of(const char *name, uint32_t n);
/* The resume record's path for a manifest's path ("d/x.manifest.jsonl.zst"
 * gives "d/.x.manifest.done.json": hidden, beside it), as scan writes it
 * once the manifest is complete and scan --resume reads it. @return a new
 * string, or NULL (out of memory, or not a manifest's path). */
char *ts_resume_record_path(const char *manifest_path);

/* Names the run's summary "name" in outdir instead of "summary.json"
 * (partitions sharing a directory: scan writes summary.part-I-of-N.json).
 * It must be "summary*.json", without '/'. Before ts_run_prepare.
 * @return TS_OK, TS_E_INVALID, TS_E_NOMEM. */
int ts_run_set_summary_name(ts_run *r, const char *name);

/* Resume (before ts_run_prepare; the scan's own step only). Every shard read
 * to its end leaves a record beside its manifest,
 * ".<name>.manifest.done.json": the input's size and modification time, the
 * manifest's size, the options that shape a manifest (lexicon and model
 * identities, fields, policy, limits, chunk size, compression level) and the
 * shard's counts. With resume on, ts_run_prepare skips every shard whose
 * record matches (same input path, size and mtime; manifest of the recorded
 * size) and lets the others be redone, overwriting what is there; a record
 * made with other options makes it fail with TS_E_INVALID (diag says what
 * differs). A skipped shard's counts come from its record, so the summary is
 * the uninterrupted run's. @return TS_OK, TS_E_INVALID. */
int ts_run_set_resume(ts_run *r, int on);
/* @return 1 if input i was skipped as complete by resume. */
int ts_run_input_resumed(const ts_run *r, size_t i);

/* ---------------------------------------------------------------- outputs */
/*
 * Every output is written as "<dir>/.<name>.tmp.<host>.<pid>" and renamed to
 * "<dir>/<name>" when complete (after fsync), so a reader never sees half a
 * file. A run killed by SIGKILL leaves its temporaries; ts_outfile_remove_stale
 * removes those of this host whose process is gone.
 */
typedef struct ts_outfile ts_outfile;
int ts_outfile_open(const char *path, ts_outfile **out, ts_diag *diag);
/* @return TS_OK or TS_E_IO (diag; the file stays open for ts_outfile_abort). */
int ts_outfile_write(ts_outfile *f, const void *data, size_t len, ts_diag *diag);
/* Syncs, closes and renames; frees f in every case.
 * @return TS_OK, or TS_E_IO (the temporary is removed). */
int ts_outfile_commit(ts_outfile *f, ts_diag *diag);
/* Closes, removes the temporary and frees f (NULL is fine). */
void ts_outfile_abort(ts_outfile *f);
const char *ts_outfile_tmp_path(const ts_outfile *f);
/* Writes a whole file at once through an outfile. */
int ts_outfile_write_all(const char *path, const void *data, size_t len, ts_diag *diag);
/* The temporary name ts_outfile_open uses for path (a new string, or NULL). */
char *ts_outfile_tmp_name(const char *path);
/* Removes, in dir, the temporaries of outputs whose final name `is_output`
 * accepts (NULL: any), left by processes of this host that are gone.
 * @return how many were removed. */
int ts_outfile_remove_stale(const char *dir, int (*is_output)(const char *name, size_t len));

/* ---------------------------------------------------------------- readers */
/*
 * Reading a run's outputs back. A manifest is read line by line (streaming:
 * memory does not grow with the file); every line is checked against the
 * manifest contract (keys, in order, and their types). A summary is parsed
 * whole (it is small) and checked.
 */
typedef struct ts_manifest_reader ts_manifest_reader;

typedef struct ts_manifest_line {
    uint64_t line, offset;
    int has_id;
    const char *id;             /* decoded (valid until the next call) */
    int ok;                     /* status "ok" (else "error") */
    uint64_t len;               /* ok only */
    uint64_t fp;                /* ok only */
    double score, aligned;      /* -1 when null */
    ts_action action;
    double weight;
    const char *error;          /* error lines: "kind" or "kind: detail" */
    const char *tropes;         /* the raw JSON object */
    size_t tropes_len;
    const char *spans;          /* the raw JSON array */
    size_t spans_len;
    const char *anchored;       /* the raw JSON object */
    size_t anchored_len;
} ts_manifest_line;   /* python/tropescan mirrors this layout (ctypes): change both */

/* Opens a manifest file (zstd, as scan writes it). */
int ts_manifest_open(const char *path, ts_manifest_reader **out, ts_diag *diag);
/* Reads a manifest from memory (zstd or plain JSONL). */
int ts_manifest_open_memory(const void *data, size_t len, ts_manifest_reader **out, ts_diag *diag);
/* @return 1 with a line, 0 at the end, or TS_E_FORMAT (a line breaks the
 * contract), TS_E_TRUNCATED (the file is cut), TS_E_DECOMPRESS, TS_E_IO,
 * TS_E_LIMIT; diag names the file, the line and the byte offset. */
int ts_manifest_next(ts_manifest_reader *r, ts_manifest_line *out, ts_diag *diag);
void ts_manifest_close(ts_manifest_reader *r);

typedef struct ts_summary_counts {
    uint64_t shards, failed_shards, no_documents_shards;
    uint64_t bytes_in, bytes_decompressed;
    ts_stats stats;   /* the category arrays are indexed by the summary's categories */
} ts_summary_counts;

typedef struct ts_summary ts_summary;
/* Parses and checks a summary.json (jansson). @return TS_OK, TS_E_IO,
 * TS_E_FORMAT (diag says which field). */
int ts_summary_load(const char *path, ts_summary **out, ts_diag *diag);
int ts_summary_parse(const char *text, size_t len, ts_summary **out, ts_diag *diag);
void ts_summary_free(ts_summary *s);
const char *ts_summary_lexicon_id(const ts_summary *s);
const char *ts_summary_model_id(const ts_summary *s);   /* NULL: no model */
uint32_t ts_summary_ncategories(const ts_summary *s);
const char *ts_summary_category(const ts_summary *s, uint32_t i);
size_t ts_summary_nshards(const ts_summary *s);
const char *ts_summary_shard_input(const ts_summary *s, size_t i);
const char *ts_summary_shard_manifest(const ts_summary *s, size_t i);  /* NULL: failed */
void ts_summary_totals(const ts_summary *s, ts_summary_counts *out);
/* Merges summaries of runs over different shards with the same lexicon,
 * model and options: counts summed exactly, histograms added, each shard
 * listed once. @return TS_OK, TS_E_MISMATCH (diag: what differs),
 * TS_E_INVALID (a shard in two runs), TS_E_NOMEM. */
int ts_summary_merge(const ts_summary *const *in, size_t n, ts_summary **out, ts_diag *diag);
/* The summary as JSON text (the layout scan writes; a new string). */
int ts_summary_dump(const ts_summary *s, char **text, size_t *len);

/* Orders a summary's shards by name: the manifest's path without its
 * suffix (a failed shard, which has no manifest: its input's path), byte by
 * byte with '/' before every other byte (so a directory's files come as scan
 * reads it), then by input path. scan writes its summary in this order, and
 * merge too, so the merge of a run's partitions lists its shards as the whole
 * run does, whatever order the run's inputs were given in. */
void ts_summary_sort_shards(ts_summary *s);

/* ---------------------------------------------------------------- explain */
/*
 * Why a text gets its margins: every feature's contribution, weight x value,
 * for each head. The bias plus the sum of the contributions is the head's
 * margin; ts_model_prob-style calibration turns it into the probability.
 */
typedef struct ts_contribution {
    double c[2];             /* to the score and aligned margins */
    double value;            /* the feature's value (lexicon) or occurrences (n-gram) */
    int lexicon;             /* the lexicon feature's index, -1 for an n-gram bucket, or
                              * TS_CONTRIB_CONTEXT for that bucket's copy in the AI-context
                              * block (models with context words: the text holds one) */
    uint32_t start, end;     /* n-gram: its first occurrence in the normalised text */
    uint32_t bucket;         /* n-gram: its hashed bucket */
    size_t first, last;      /* n-gram: its occurrences, ngrams[first, last) */
} ts_contribution;

#define TS_CONTRIB_CONTEXT (-2)

/* One n-gram occurrence: [start, end) of the normalised text. */
typedef struct ts_occurrence {
    uint32_t bucket;
    uint32_t start, end;
} ts_occurrence;

typedef struct ts_explanation {
    const ts_contribution *contributions; /* lexicon features (by index), then n-gram buckets (ascending) */
    size_t n;
    const ts_occurrence *ngrams;  /* by bucket, then text (lowercased), then position */
    size_t nngrams;
    double bias[2];
    double margin[2];             /* bias + the contributions, per head */
    double probability[2];        /* calibrated; aligned -1 without that head */
    int fast_path;                /* the cascade skipped the n-grams (no lexicon hit) */
    const char *normalised;       /* the text as featurised (what offsets refer to) */
    size_t normalised_len;
    const char *lowered;          /* its lowercased form (the n-grams' text) */
    const ts_matches *matches;
} ts_explanation;

typedef struct ts_explainer ts_explainer;
/* scanner must be made with model (and may be shared with other scoring, not
 * with other threads). @return TS_OK, TS_E_NOMEM. */
int ts_explainer_create(const ts_model *model, ts_scanner *scanner, ts_explainer **out);
/* Featurises text and explains the margins. The result is valid until the
 * next call. @return TS_OK, TS_E_NOMEM, or the scanner's error. */
int ts_explain(ts_explainer *e, const char *text, size_t len, ts_explanation *out);
void ts_explainer_free(ts_explainer *e);
/* The name of lexicon feature i ("lex:<category>:raw|anchored|density", or
 * "lex:words") into buf. */
void ts_model_feature_name(const ts_model *m, int i, char *buf, size_t cap);
/* The calibrated probability of a head's margin (head 0 score, 1 aligned). */
double ts_model_probability(const ts_model *m, int head, double margin);
/* The model's i-th context word (tropescan train --context-words), or NULL
 * when i is past the last (a model without them has none). */
const char *ts_model_context_word(const ts_model *m, uint32_t i);
/* @return 1 if the token (len bytes, any case) is one of the model's context
 * words: a window holding one gets the AI-context features. */
int ts_model_is_context_word(const ts_model *m, const char *token, size_t len);

/* ---------------------------------------------------------------- apply */
/*
 * Applying a scan: each shard is read again, line by line, beside the
 * manifest scan wrote for it, and written as the shard a data team trains
 * on: dropped lines removed, weights realised (sampled copies, or a field),
 * or, instead, as Dolma attributes. Every line is checked against its
 * manifest line (line number, offset, status, and for documents the decoded
 * text's length and XXH64 `fp`); any mismatch stops the shard and nothing is
 * left under its final names. A run of apply is a run of the scan's pipeline
 * with apply's per-line step, so its lines, offsets and fingerprints are
 * scan's by construction. A line longer than the scan's max_doc_bytes (an
 * error line there) is copied, when kept, as it is read: memory stays
 * bounded whatever its length.
 */

/* A trope rule of a policy: when every condition holds, the action. */
#define TS_RULE_MAX_CONDS 4
typedef struct ts_rule_cond {
    int what;                   /* 0 score, 1 aligned, 2 tropes.<cat> (raw hits), 3 anchored.<cat> */
    char cat[64];               /* the category, for 2 and 3 */
    double min;                 /* holds when the value >= min */
} ts_rule_cond;

typedef struct ts_rule {
    ts_action action;
    int nconds;
    ts_rule_cond conds[TS_RULE_MAX_CONDS];
} ts_rule;

#define TS_POLICY_MAX_RULES 32
/* A policy file (docs in README.md, "The policy file"): key = value lines,
 * '#' comments. Keys: drop_above, downweight_above, downweight_factor,
 * upweight_above, upweight_factor, keep_aligned_above (as scan's options;
 * "off" for a threshold that is never reached), and rule (repeatable):
 *   rule = ACTION if COND [and COND]...
 * ACTION is keep, downweight, drop or upweight; COND is `score >= X`,
 * `aligned >= X`, `tropes.CAT >= N` or `anchored.CAT >= N`. Rules are tried
 * in order before the thresholds; the first that holds decides. */
typedef struct ts_policy_file {
    ts_policy policy;           /* thresholds the file sets; the others -1 (factors: -1 too) */
    int nrules;
    ts_rule rules[TS_POLICY_MAX_RULES];
} ts_policy_file;

/* Parses a policy file's text. @return TS_OK, or TS_E_FORMAT (diag: file, line, what). */
int ts_policy_file_parse(const char *text, size_t len, const char *name, ts_policy_file *out, ts_diag *diag);
int ts_policy_file_load(const char *path, ts_policy_file *out, ts_diag *diag);
/* Decides with rules first (counts: the manifest's "tropes" and "anchored"
 * objects, raw JSON; NULL or "" for none), then ts_policy_decide. */
ts_action ts_policy_decide_rules(const ts_policy *p, const ts_rule *rules, int nrules, double score, double aligned,
                                 const char *tropes, size_t tropes_len, const char *anchored, size_t anchored_len,
                                 double *weight);
/* @return the count of `cat` in a manifest counts object (raw JSON), 0 if absent. */
uint64_t ts_manifest_count(const char *obj, size_t len, const char *cat);

typedef enum ts_weights_mode {
    TS_WEIGHTS_SAMPLE = 0,      /* copies: floor(w), one more iff XXH64(fp, seed) / 2^64 < frac(w) */
    TS_WEIGHTS_FIELD = 1,       /* every kept line once, with "<field>":w added to its object */
} ts_weights_mode;

typedef struct ts_apply_settings {
    const char *text_field;     /* as the scan's (default "text") */
    const char *id_field;       /* as the scan's (default "id") */
    uint64_t max_doc_bytes;     /* as the scan's (default 16 MiB) */
    int redecide;               /* 1: decide again from the manifest's scores with policy and rules */
    ts_policy policy;           /* resolved (no unset threshold) when redecide */
    const ts_rule *rules;
    int nrules;
    int error_action;           /* error lines: -1 as the manifest says, 0 keep, 1 drop */
    ts_weights_mode weights;
    const char *weight_field;   /* TS_WEIGHTS_FIELD: the key */
    uint64_t seed;              /* TS_WEIGHTS_SAMPLE */
    int compress;               /* -1: as the input, else a ts_format */
    int level;                  /* -1: the default (zstd 3, gzip 1); zstd 1..19, gzip 0..3 */
    /* Attributes mode (attributes_name set): no filtered shard; one Dolma
     * attributes line per input line, keys "<name>__tropescan__<part>". lex
     * (compiled, the scan's) gives the trope spans. */
    const char *attributes_name;
    const ts_lexicon *lex;
    int threads;                /* ts_apply_run's worker threads (default 0: all cores) */
    const volatile int *cancel; /* polled between chunks: non-zero stops the run (TS_E_CANCELLED) */
} ts_apply_settings;

void ts_apply_settings_default(ts_apply_settings *s);

typedef struct ts_apply_counts {
    uint64_t lines_in;          /* input lines */
    uint64_t kept;              /* lines written at least once */
    uint64_t dropped;           /* lines written no copy (dropped, or sampled out) */
    uint64_t copies;            /* lines written, repeats counted */
    uint64_t errors;            /* error lines (of the lines in) */
    uint64_t actions[TS_NACTIONS]; /* the decided actions */
    uint64_t bytes_in;          /* the input shard, as stored */
    uint64_t bytes_out;         /* the output, as stored */
} ts_apply_counts;

/* Applies one manifest to one shard. out_path: the filtered shard (or, in
 * attributes mode, the attributes file); removed_path: where removed lines
 * go with their reason, or NULL. Outputs are committed only when the whole
 * shard is done; on failure none is left under its final name.
 * Thread-safe for different shards.
 * @return TS_OK; TS_E_MISMATCH (a line is not the manifest's: diag names the
 * shard, the line, expected and found), TS_E_FORMAT / TS_E_TRUNCATED /
 * TS_E_DECOMPRESS (the manifest or the shard is corrupt), TS_E_IO, TS_E_NOMEM. */
int ts_apply_shard(const ts_apply_settings *s, const char *shard_path, const char *manifest_path,
                   const char *out_path, const char *removed_path, ts_apply_counts *out, ts_diag *diag);

/* One shard of ts_apply_run: the caller fills the paths; the run, the rest. */
typedef struct ts_apply_job {
    const char *shard, *manifest;
    const char *out;            /* the filtered shard or attributes file */
    const char *removed;        /* the exclusion log, or NULL */
    int err;                    /* TS_OK, or why the shard failed (as ts_apply_shard's) */
    ts_diag diag;               /* when err: file, line, what */
    ts_apply_counts counts;     /* when !err */
} ts_apply_job;

/* Applies many shards through the run's pipeline (the scan's: chunks of
 * lines cut and parsed as the scan cut and parsed them, workers on all of
 * s->threads, ordered delivery, atomic outputs): one shard's chunks are
 * spread over the threads too. The outputs are byte-identical for any
 * thread count: one zstd frame or gzip member per chunk. A failed shard
 * leaves nothing under its final names; the others go on.
 * @return TS_OK when every shard was processed (see each job's err),
 * TS_E_INVALID, TS_E_NOMEM (nothing kept), TS_E_CANCELLED. */
int ts_apply_run(const ts_apply_settings *s, ts_apply_job *jobs, size_t n, ts_diag *diag);

#ifdef __cplusplus
}
#endif

#endif /* TROPESCAN_H */
