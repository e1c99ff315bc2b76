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
} ts_doc_score;

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

#ifdef __cplusplus
}
#endif

#endif /* TROPESCAN_H */
