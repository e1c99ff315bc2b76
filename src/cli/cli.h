/*
 * cli.h: what the subcommands of the tropescan command share.
 *
 * The CLI alone turns error codes into messages (naming the file, line and
 * offset) and into exit codes. Exit codes, for every subcommand:
 *   0  success
 *   1  the run completed, but some input failed (a corrupt shard, unreadable file,
 *      a shard in which no line is a document, a document asked for not found)
 *   2  usage error (bad option or argument; scan: no input could be opened;
 *      train: nothing to calibrate on)
 *   3  a fatal error before or during the run (lexicon, model, output place)
 */
#ifndef TS_CLI_H
#define TS_CLI_H

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "tropescan.h"
#include "buf.h"

enum { EXIT_OK = 0, EXIT_INPUT_FAILED = 1, EXIT_USAGE = 2, EXIT_FATAL = 3 };

/* Subcommands: each parses its own options (getopt_long) and returns an exit code. */
int cmd_scan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_lexicon(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* "tropescan: <message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "tropescan: FILE:LINE: offset N: MESSAGE (strerror(err))" from a diag. */
void cli_diag_error(const ts_diag *d, int err);

/* Parses a number option; prints a usage error naming the option on failure. */
int cli_parse_double(const char *opt, const char *arg, double lo, double hi, double *out);
int cli_parse_u64(const char *opt, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out);

/* The lexicon and model options that scan, explain, eval and lexicon share:
 * --lexicon DIR (replaces the default), --lexicon-add DIR (extends it, may be
 * repeated), --model FILE (replaces the default), --force-model (accept a
 * model trained with another lexicon). */
#define CLI_MAX_LEXICON_ADD 16
typedef struct cli_lexmodel {
    const char *lexicon_dir;
    const char *lexicon_add[CLI_MAX_LEXICON_ADD];
    int nadd;
    const char *model_path;
    int force_model;
} cli_lexmodel;

/* Handles one of the options above; @return 1 if `opt` was one of them. The
 * long option names are in CLI_LEXMODEL_LONGOPTS (values 1000..1003). */
int cli_lexmodel_option(cli_lexmodel *lm, int opt, const char *arg);
#define CLI_OPT_LEXICON 1000
#define CLI_OPT_LEXICON_ADD 1001
#define CLI_OPT_MODEL 1002
#define CLI_OPT_FORCE_MODEL 1003
#define CLI_LEXMODEL_LONGOPTS                                        \
    {"lexicon", required_argument, 0, CLI_OPT_LEXICON},              \
    {"lexicon-add", required_argument, 0, CLI_OPT_LEXICON_ADD},      \
    {"model", required_argument, 0, CLI_OPT_MODEL},                  \
    {"force-model", no_argument, 0, CLI_OPT_FORCE_MODEL}
/* Each command's help lists those of them it uses, aligned with its other
 * options (train and lexicon take no model). */

/* Loads and compiles the lexicon the options name; prints errors.
 * @return TS_OK or the error (already printed). */
int cli_load_lexicon(const cli_lexmodel *lm, ts_lexicon **out);
/* Loads the model and checks it against the lexicon; prints errors. */
int cli_load_model(const cli_lexmodel *lm, const ts_lexicon *lex, ts_model **out);

/*
 * Reading the documents of one input one at a time (train, eval, explain,
 * lexicon stats): the library's iterator (ts_docs, src/lib/docs.c), the same
 * one scan's pipeline uses, so every command sees the same documents and the
 * same errors; these wrappers print its messages.
 */
typedef struct cli_docs cli_docs;

typedef struct cli_doc {
    uint64_t line;          /* 1-based */
    uint64_t offset;        /* byte offset of the line in the decompressed stream */
    int status;             /* TS_DOC_OK, or the error's TS_DOC_* kind */
    const char *error;      /* "kind" or "kind: detail" (as in a manifest) when status != 0 */
    const char *text;       /* decoded text (valid until the next call) */
    size_t len;
    ts_field id;            /* the id field, raw */
    ts_field field[TS_DOC_MAX_EXTRA]; /* the extra fields asked for, raw */
} cli_doc;

/* Opens `path` ("-" for stdin). text_field is a dotted path; extra holds up to
 * 4 more dotted paths whose raw values are returned in cli_doc.field. Lines
 * over 16 MiB are too_long, as in scan; max_plain_bytes (0: the same) bounds
 * cli_docs_slurp. @return TS_OK, or an error (already printed). */
int cli_docs_open(const char *path, const char *text_field, const char *const *extra,
                  size_t nextra, size_t max_plain_bytes, cli_docs **out);
/* @return 1 with a document (check its status), 0 at the end, < 0 on a read
 * or decompression error (already printed, naming the file and offset). */
int cli_docs_next(cli_docs *d, cli_doc *out);
void cli_docs_free(cli_docs *d);
/* The first byte that is not white space among the bytes not yet read, without
 * consuming anything (only the first chunk is looked at): '{' for JSONL.
 * @return the byte (0-255), CLI_PEEK_NONE if there is none, or < 0 on an
 * error (printed). */
int cli_docs_peek(cli_docs *d);
#define CLI_PEEK_NONE 256
/* Reads every remaining byte of the input (a plain-text document) into a new
 * buffer *buf of *len bytes (free it), at most the max_plain_bytes given to
 * cli_docs_open. @return TS_OK, or an error (printed; TS_E_LIMIT when longer). */
int cli_docs_slurp(cli_docs *d, size_t max, const char *path, char **buf, size_t *len);

/* Decodes a small string field into buf (NUL-terminated, cut to cap - 1
 * bytes); numbers are copied as written; other kinds give "".
 * @return 0, or -1 if the field is missing or cannot be decoded. */
int cli_field_string(const ts_field *f, char *buf, size_t cap);

/* Does a path below an input directory (relative to it, '/' between names)
 * match a glob, in ripgrep's manner? A glob without '/' matches the last
 * name at any depth; one with '/' matches the whole relative path (a leading
 * '/' is dropped). '*' and '?' do not match '/', '**' matches anything (and
 * '**' then '/' any number of whole directories), [abc], [a-z] and [!a] are classes and
 * '\' quotes the next character. @return 1 if it matches. */
int cli_glob_match(const char *glob, const char *rel);

/* Paragraphs: text between blank lines (a line of white space only), trimmed.
 * From *start, finds the next paragraph [*start, *end) (updating *start).
 * @return 1, or 0 when there is none. */
int cli_next_paragraph(const char *text, size_t len, size_t *start, size_t *end);
/* Paragraphs shorter than this are too common to identify a document. */
#define CLI_PARAGRAPH_MIN 200

/* @return 1 if the text, or one of its paragraphs of CLI_PARAGRAPH_MIN bytes
 * or more, is among the model's training fingerprints (buf and cap: the
 * caller's scratch, grown as needed). */
int cli_training_overlap(const ts_model *m, const char *text, size_t len, char **buf, size_t *cap);

/* scan's inputs (inputs.c). */
#define CLI_MAX_GLOBS 64
typedef struct cli_input_opts {
    const char *outdir;        /* skipped when met inside a directory input */
    /* Files inside directory inputs: --glob (a leading '!' excludes), --exclude. */
    const char *include[CLI_MAX_GLOBS];
    int ninclude;
    const char *exclude[CLI_MAX_GLOBS];
    int nexclude;
} cli_input_opts;
typedef struct cli_input {
    char *path;                /* as given, or found in a directory */
    char *name;                /* the manifest's relative name, without the suffix */
} cli_input;
typedef struct cli_inputs {
    cli_input *v;
    size_t n, cap;
} cli_inputs;
/* The inputs argv[first..argc): files, directories, -, NAME=INPUT; their
 * manifest names must not collide. @return 0, or -1 (printed). */
int cli_collect_inputs(int argc, char **argv, int first, const cli_input_opts *o, cli_inputs *L);
/* One -g/--glob (exclude 0) or --exclude (exclude 1) option of command cmd:
 * a --glob with a leading '!' excludes. @return 0, or -1 (printed). */
int cli_input_glob_option(const char *cmd, cli_input_opts *o, int exclude, const char *arg);
void cli_inputs_free(cli_inputs *L);

/* Appends s to b as a JSON string (the library's encoder, stats.c: jansson
 * after a UTF-8 repair, so the output is valid UTF-8 whatever s holds). */
void cli_json_str(ts_buf *b, const char *s);
/* The same, len bytes of s, printed to f. */
void cli_json_print(FILE *f, const char *s, size_t len);

#endif /* TS_CLI_H */
