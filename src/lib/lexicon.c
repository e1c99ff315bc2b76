/*
 * lexicon.c: reading lexicon files and compiling them into one Hyperscan
 * database (the file format is documented in lexicons/README.md).
 *
 * A pattern is translated to a Hyperscan expression by a small recursive
 * descent parser that also works out what can start and end a match: a word
 * boundary is put at an edge only where every match starts (ends) with a word
 * character, so `robot(s|)` counts "robots" once, and a pattern whose edge
 * could be either kind is refused rather than matched ambiguously.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "buf.h"
#include "embedded.h"
#include "lexicon_internal.h"

static int load_prebuilt(const ts_lexicon *lex, const unsigned char *bytes, size_t size, hs_database_t **db);

/* ------------------------------------------------------------ diagnostics */

static void diag_set(ts_diag *diag, const char *file, uint64_t line, uint64_t offset,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void diag_set(ts_diag *diag, const char *file, uint64_t line, uint64_t offset,
                     const char *fmt, ...)
{
    if (!diag)
        return;
    snprintf(diag->file, sizeof diag->file, "%s", file ? file : "");
    diag->line = line;
    diag->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->message, sizeof diag->message, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ create/free */

int ts_lexicon_create(ts_lexicon **out)
{
    if (!out)
        return TS_E_INVALID;
    *out = NULL;
    ts_lexicon *lex = calloc(1, sizeof *lex);
    if (!lex)
        return TS_E_NOMEM;
    lex->entity = -1;
    if (pthread_mutex_init(&lex->som_lock, NULL)) {
        free(lex);
        return TS_E_NOMEM;
    }
    *out = lex;
    return TS_OK;
}

static void pattern_free(ts_lex_pattern *p)
{
    free(p->text);
    free(p->expr);
    free(p->file);
}

void ts_lexicon_free(ts_lexicon *lex)
{
    if (!lex)
        return;
    for (uint32_t i = 0; i < lex->ncat; i++)
        free(lex->cat[i]);
    for (uint32_t i = 0; i < lex->npat; i++)
        pattern_free(&lex->pat[i]);
    free(lex->pat);
    free(lex->pat_cat);
    hs_free_database(lex->db);
    hs_free_database(lex->db_som);
    hs_free_scratch(lex->scratch);
    hs_free_scratch(lex->scratch_som);
    pthread_mutex_destroy(&lex->som_lock);
    free(lex);
}

/* ------------------------------------------------------------ categories */

static int valid_category(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TS_LEX_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* Finds or inserts `name` (categories stay sorted, so indices are canonical).
 * @return the index, or a negative TS_E_* code. */
static int category_get(ts_lexicon *lex, const char *name)
{
    uint32_t i = 0;
    while (i < lex->ncat && strcmp(lex->cat[i], name) < 0)
        i++;
    if (i < lex->ncat && !strcmp(lex->cat[i], name))
        return (int)i;
    if (lex->ncat == TS_MAX_CATEGORIES)
        return TS_E_LIMIT;
    char *copy = strdup(name);
    if (!copy)
        return TS_E_NOMEM;
    memmove(lex->cat + i + 1, lex->cat + i, (lex->ncat - i) * sizeof *lex->cat);
    lex->cat[i] = copy;
    lex->ncat++;
    for (uint32_t k = 0; k < lex->npat; k++)
        if (lex->pat[k].category >= i)
            lex->pat[k].category++;
    return (int)i;
}

/* ------------------------------------------------------------ translation */

/* What can start or end a piece of pattern: a word character, another one. */
enum { EDGE_WORD = 1, EDGE_OTHER = 2 };

typedef struct frag {
    unsigned first, last;  /* EDGE_* sets */
    int nullable;          /* it can match the empty string */
} frag;

typedef struct xlate {
    const char *s;
    size_t n, i;
    int depth;
    ts_buf *out;
    char err[256];
} xlate;

static void frag_append(frag *seq, const frag *it)
{
    if (seq->nullable)
        seq->first |= it->first;
    seq->last = it->last | (it->nullable ? seq->last : 0);
    seq->nullable = seq->nullable && it->nullable;
}

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static void emit_hex(ts_buf *b, unsigned char c)
{
    char tmp[8];
    snprintf(tmp, sizeof tmp, "\\x%02x", c);
    ts_buf_puts(b, tmp);
}

static int parse_seq(xlate *x, frag *out);

/* A group: '(' alt ('|' alt)* ')'. */
static int parse_group(xlate *x, frag *out)
{
    size_t open = x->i;
    if (++x->depth > 16) {
        snprintf(x->err, sizeof x->err, "groups nested too deeply");
        return -1;
    }
    x->i++;
    ts_buf_puts(x->out, "(?:");
    frag g = {0, 0, 0};
    int any = 0;
    for (;;) {
        frag a;
        if (parse_seq(x, &a))
            return -1;
        g.first |= a.first;
        g.last |= a.last;
        g.nullable |= a.nullable;
        any |= a.first != 0;
        if (x->i < x->n && x->s[x->i] == '|') {
            ts_buf_puts(x->out, "|");
            x->i++;
            continue;
        }
        break;
    }
    if (x->i >= x->n || x->s[x->i] != ')') {
        snprintf(x->err, sizeof x->err, "'(' at column %zu is not closed", open + 1);
        return -1;
    }
    if (!any) {
        snprintf(x->err, sizeof x->err, "empty group at column %zu", open + 1);
        return -1;
    }
    x->i++;
    x->depth--;
    ts_buf_puts(x->out, ")");
    *out = g;
    return 0;
}

/* A sequence of items, up to the end, a '|' or a ')'. */
static int parse_seq(xlate *x, frag *out)
{
    frag seq = {0, 0, 1};
    while (x->i < x->n) {
        unsigned char c = (unsigned char)x->s[x->i];
        frag it = {EDGE_OTHER, EDGE_OTHER, 0};
        if (c == '|' || c == ')') {
            if (x->depth == 0) {
                snprintf(x->err, sizeof x->err, c == '|' ? "'|' outside a group (write (a|b))"
                                                         : "')' without '('");
                return -1;
            }
            break;
        }
        if (c == '(') {
            if (parse_group(x, &it))
                return -1;
            frag_append(&seq, &it);
            continue;
        }
        if (c == ' ' && x->i + 2 < x->n && x->s[x->i + 1] == '.' && x->s[x->i + 2] == '.') {
            /* The gap operator ` ..N `: up to N whole words in between, and
             * punctuation clinging to the words either side of the gap. */
            size_t j = x->i + 3;
            unsigned long gap = 0;
            size_t digits = 0;
            while (j < x->n && x->s[j] >= '0' && x->s[j] <= '9' && digits < 3) {
                gap = gap * 10 + (unsigned long)(x->s[j] - '0');
                j++;
                digits++;
            }
            if (!digits || gap < 1 || gap > TS_LEX_MAX_GAP) {
                snprintf(x->err, sizeof x->err, "a gap is written ..N with N in 1..%d", TS_LEX_MAX_GAP);
                return -1;
            }
            if (j >= x->n || x->s[j] != ' ' || x->i == 0) {
                snprintf(x->err, sizeof x->err, "a gap ..N must stand between two words");
                return -1;
            }
            char tmp[64];
            snprintf(tmp, sizeof tmp, "[^ \\w]* (?:[^ ]+ ){0,%lu}[^ \\w]*", gap);
            ts_buf_puts(x->out, tmp);
            x->i = j + 1;
            if (x->i >= x->n || x->s[x->i] == ')' || x->s[x->i] == '|') {
                snprintf(x->err, sizeof x->err, "a gap ..N must stand between two words");
                return -1;
            }
            frag_append(&seq, &it);
            continue;
        }
        x->i++;
        if (is_word(c)) {
            char tmp[2] = {(char)c, 0};
            ts_buf_puts(x->out, tmp);
            it.first = it.last = EDGE_WORD;
        } else if (c == ' ') {
            ts_buf_puts(x->out, "\\x20");
        } else if (c == '-') {
            /* "self-aware", "self aware", "selfaware" */
            ts_buf_puts(x->out, "[\\- ]?");
            it.nullable = 1;
        } else if (c == '\'') {
            /* "don't", "dont" (curly quotes are ASCII after normalisation) */
            ts_buf_puts(x->out, "'?");
            it.nullable = 1;
        } else if (c == '.' && x->i < x->n && x->s[x->i] == '.') {
            snprintf(x->err, sizeof x->err, "a gap ..N must stand between two words");
            return -1;
        } else if (strchr("\\*[]{}^$+?;", c)) {
            snprintf(x->err, sizeof x->err,
                     "reserved character '%c' at column %zu (use the regex option for a raw expression)",
                     c, x->i);
            return -1;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(x->err, sizeof x->err, "control character 0x%02x at column %zu", c, x->i);
            return -1;
        } else {
            /* Other punctuation and UTF-8 bytes match themselves; Hyperscan's
             * \b treats bytes >= 0x80 as non-word, so they count as "other". */
            emit_hex(x->out, c);
        }
        frag_append(&seq, &it);
    }
    *out = seq;
    return 0;
}

/* Translates a pattern (white space already trimmed and made single) to a
 * Hyperscan expression. @return 0, or -1 with err set. */
static int translate(const char *s, size_t n, ts_buf *out, char *err, size_t errcap)
{
    ts_buf body = {0};
    xlate x = {.s = s, .n = n, .out = &body};
    frag f;
    int rc = parse_seq(&x, &f);
    if (!rc && x.i != x.n) {
        snprintf(x.err, sizeof x.err, "')' without '('");
        rc = -1;
    }
    if (!rc && f.nullable) {
        snprintf(x.err, sizeof x.err, "the pattern can match the empty string");
        rc = -1;
    }
    if (!rc && (f.first == (EDGE_WORD | EDGE_OTHER) || f.last == (EDGE_WORD | EDGE_OTHER))) {
        snprintf(x.err, sizeof x.err,
                 "the pattern may %s with a word character or with another one: make the %s alike",
                 f.first == (EDGE_WORD | EDGE_OTHER) ? "start" : "end",
                 f.first == (EDGE_WORD | EDGE_OTHER) ? "starts" : "ends");
        rc = -1;
    }
    if (!rc && body.failed) {
        snprintf(x.err, sizeof x.err, "out of memory");
        rc = -1;
    }
    if (!rc) {
        if (f.first == EDGE_WORD)
            ts_buf_puts(out, "\\b");
        ts_buf_append(out, body.data, body.len);
        if (f.last == EDGE_WORD)
            ts_buf_puts(out, "\\b");
        ts_buf_append(out, "", 1);
        if (out->failed) {
            snprintf(x.err, sizeof x.err, "out of memory");
            rc = -1;
        }
    }
    if (rc)
        snprintf(err, errcap, "%s", x.err);
    ts_buf_free(&body);
    return rc;
}

/* ------------------------------------------------------------ parsing lines */

static int parse_options(char *opt, unsigned *flags, float *weight, char *err, size_t errcap)
{
    int have_weight = 0;
    char *save = NULL;
    for (char *tok = strtok_r(opt, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
        if (!strcmp(tok, "cased") || !strcmp(tok, "regex")) {
            unsigned f = tok[0] == 'c' ? TS_PAT_CASED : TS_PAT_REGEX;
            if (*flags & f) {
                snprintf(err, errcap, "option '%s' given twice", tok);
                return -1;
            }
            *flags |= f;
        } else if (!strncmp(tok, "weight=", 7)) {
            char *end;
            errno = 0;
            double w = strtod(tok + 7, &end);
            if (have_weight) {
                snprintf(err, errcap, "option 'weight' given twice");
                return -1;
            }
            if (end == tok + 7 || *end || errno || !isfinite(w) || w <= 0 || w > 100) {
                snprintf(err, errcap, "bad weight '%.40s' (a number in (0, 100])", tok + 7);
                return -1;
            }
            *weight = (float)w;
            have_weight = 1;
        } else {
            snprintf(err, errcap, "unknown option '%.60s' (known: weight=W, cased, regex)", tok);
            return -1;
        }
    }
    return 0;
}

/* Adds one non-blank, non-comment line. @return TS_OK or a TS_E_* code with
 * err set. */
static int add_line(ts_lexicon *lex, uint32_t cat, const char *file, uint32_t lineno,
                    const char *line, size_t n, char *err, size_t errcap)
{
    char *buf = malloc(n + 1);
    if (!buf)
        return TS_E_NOMEM;
    memcpy(buf, line, n);
    buf[n] = '\0';

    unsigned flags = 0;
    float weight = 1.0f;
    char *semi = strchr(buf, ';');
    if (semi) {
        *semi = '\0';
        if (parse_options(semi + 1, &flags, &weight, err, errcap)) {
            free(buf);
            return TS_E_LEXICON;
        }
    }
    /* Trim; outside raw regexes, runs of spaces and tabs are one space. */
    char *s = buf;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    if (!(flags & TS_PAT_REGEX)) {
        size_t w = 0;
        for (size_t r = 0; r < len; r++) {
            char c = s[r] == '\t' ? ' ' : s[r];
            if (c == ' ' && w && s[w - 1] == ' ')
                continue;
            s[w++] = c;
        }
        s[w] = '\0';
        len = w;
    }
    if (!len) {
        snprintf(err, errcap, "options without a pattern");
        free(buf);
        return TS_E_LEXICON;
    }

    ts_buf expr = {0};
    if (flags & TS_PAT_REGEX) {
        ts_buf_append(&expr, s, len + 1);
        if (expr.failed) {
            free(buf);
            ts_buf_free(&expr);
            return TS_E_NOMEM;
        }
    } else if (translate(s, len, &expr, err, errcap)) {
        free(buf);
        ts_buf_free(&expr);
        return TS_E_LEXICON;
    }

    if (lex->npat == TS_LEX_MAX_PATTERNS) {
        snprintf(err, errcap, "more than %u patterns", TS_LEX_MAX_PATTERNS);
        free(buf);
        ts_buf_free(&expr);
        return TS_E_LIMIT;
    }
    if (lex->npat == lex->cappat) {
        uint32_t cap = lex->cappat ? lex->cappat * 2 : 64;
        ts_lex_pattern *p = realloc(lex->pat, cap * sizeof *p);
        if (!p) {
            free(buf);
            ts_buf_free(&expr);
            return TS_E_NOMEM;
        }
        lex->pat = p;
        lex->cappat = cap;
    }
    ts_lex_pattern *p = &lex->pat[lex->npat];
    p->text = strdup(s);
    p->expr = expr.data;
    p->file = strdup(file);
    p->line = lineno;
    p->category = cat;
    p->flags = flags;
    p->weight = weight;
    free(buf);
    if (!p->text || !p->file) {
        pattern_free(p);
        return TS_E_NOMEM;
    }
    lex->npat++;
    return TS_OK;
}

int ts_lexicon_add_text(ts_lexicon *lex, const char *category, const char *name,
                        const char *text, size_t len, ts_diag *diag)
{
    ts_diag_clear(diag);
    if (!lex || !category || (!text && len))
        return TS_E_INVALID;
    if (!name)
        name = category;
    if (lex->compiled) {
        diag_set(diag, name, 0, UINT64_MAX, "the lexicon is already compiled");
        return TS_E_INVALID;
    }
    if (!valid_category(category)) {
        diag_set(diag, name, 0, UINT64_MAX,
                 "bad category name '%.64s' (1 to %d of a-z, 0-9, _)", category, TS_LEX_NAME_MAX);
        return TS_E_LEXICON;
    }
    if (len > TS_LEX_FILE_MAX) {
        diag_set(diag, name, 0, UINT64_MAX, "lexicon file larger than %u bytes", TS_LEX_FILE_MAX);
        return TS_E_LIMIT;
    }
    int cat = category_get(lex, category);
    if (cat < 0) {
        if (cat == TS_E_LIMIT)
            diag_set(diag, name, 0, UINT64_MAX, "more than %d categories", TS_MAX_CATEGORIES);
        return cat;
    }

    char err[384];
    uint32_t lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        size_t start = pos;
        pos += n + (nl != NULL);
        lineno++;
        if (n && line[n - 1] == '\r')
            n--;
        if (memchr(line, '\0', n)) {
            diag_set(diag, name, lineno, start, "NUL byte in line");
            return TS_E_LEXICON;
        }
        /* A comment starts with '#' at the start of a line or after white space. */
        for (size_t k = 0; k < n; k++)
            if (line[k] == '#' && (k == 0 || line[k - 1] == ' ' || line[k - 1] == '\t')) {
                n = k;
                break;
            }
        size_t b = 0;
        while (b < n && (line[b] == ' ' || line[b] == '\t'))
            b++;
        if (b == n)
            continue;
        err[0] = '\0';
        int rc = add_line(lex, (uint32_t)cat, name, lineno, line, n, err, sizeof err);
        if (rc) {
            diag_set(diag, name, lineno, start, "%s", err[0] ? err : ts_strerror(rc));
            return rc;
        }
    }
    return TS_OK;
}

/* ------------------------------------------------------------ sources */

static int add_file_text(ts_lexicon *lex, const char *fname, const char *path,
                         const char *data, size_t len, ts_diag *diag)
{
    size_t n = strlen(fname);
    if (n < 5 || strcmp(fname + n - 4, ".txt")) {
        diag_set(diag, path, 0, UINT64_MAX, "a lexicon file is named <category>.txt");
        return TS_E_LEXICON;
    }
    char cat[TS_LEX_NAME_MAX + 2];
    if (n - 4 > TS_LEX_NAME_MAX) {
        diag_set(diag, path, 0, UINT64_MAX, "category name longer than %d bytes", TS_LEX_NAME_MAX);
        return TS_E_LEXICON;
    }
    memcpy(cat, fname, n - 4);
    cat[n - 4] = '\0';
    return ts_lexicon_add_text(lex, cat, path, data, len, diag);
}

int ts_lexicon_add_default(ts_lexicon *lex, ts_diag *diag)
{
    ts_diag_clear(diag);
    if (!lex)
        return TS_E_INVALID;
    char path[300];
    for (size_t i = 0; i < ts_default_lexicon_count; i++) {
        const ts_embedded_file *f = &ts_default_lexicon[i];
        snprintf(path, sizeof path, "<default>/%s", f->name);
        int rc = add_file_text(lex, f->name, path, f->data, f->size, diag);
        if (rc)
            return rc;
    }
    return TS_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(const char *path, char **data, size_t *len, ts_diag *diag)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_set(diag, path, 0, UINT64_MAX, "cannot open: %s", strerror(errno));
        return TS_E_IO;
    }
    ts_buf b = {0};
    int rc = TS_OK;
    for (;;) {
        char *p = ts_buf_reserve(&b, 65536);
        if (!p) {
            rc = TS_E_NOMEM;
            break;
        }
        size_t got = fread(p, 1, 65536, f);
        b.len += got;
        if (b.len > TS_LEX_FILE_MAX) {
            diag_set(diag, path, 0, UINT64_MAX, "lexicon file larger than %u bytes", TS_LEX_FILE_MAX);
            rc = TS_E_LIMIT;
            break;
        }
        if (got < 65536) {
            if (ferror(f)) {
                diag_set(diag, path, 0, b.len, "read error: %s", strerror(errno));
                rc = TS_E_IO;
            }
            break;
        }
    }
    fclose(f);
    if (rc) {
        ts_buf_free(&b);
        return rc;
    }
    *data = b.data;
    *len = b.len;
    return TS_OK;
}

int ts_lexicon_add_dir(ts_lexicon *lex, const char *dir, ts_diag *diag)
{
    ts_diag_clear(diag);
    if (!lex || !dir)
        return TS_E_INVALID;
    DIR *d = opendir(dir);
    if (!d) {
        diag_set(diag, dir, 0, UINT64_MAX, "cannot open the lexicon directory: %s", strerror(errno));
        return TS_E_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = TS_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt") || e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **p = realloc(names, nc * sizeof *p);
            if (!p) {
                rc = TS_E_NOMEM;
                break;
            }
            names = p;
            cap = nc;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = TS_E_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc && n == 0) {
        diag_set(diag, dir, 0, UINT64_MAX, "no <category>.txt file in the lexicon directory");
        rc = TS_E_LEXICON;
    }
    if (!rc)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t pl = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(pl);
        if (!path) {
            rc = TS_E_NOMEM;
            break;
        }
        snprintf(path, pl, "%s/%s", dir, names[i]);
        char *data;
        size_t len;
        rc = read_file(path, &data, &len, diag);
        if (!rc)
            rc = add_file_text(lex, names[i], path, data ? data : "", len, diag);
        free(data);
        free(path);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* ------------------------------------------------------------ compile */

static void hash_str(XXH64_state_t *st, const char *s)
{
    XXH64_update(st, s, strlen(s) + 1);   /* with the NUL, so fields cannot run together */
}

/* The canonical serialisation: categories by name; each pattern as written
 * (trimmed), in the order written, with its options in a fixed form. */
static uint64_t compute_id(const ts_lexicon *lex)
{
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    hash_str(&st, "tropescan-lexicon-1");
    for (uint32_t c = 0; c < lex->ncat; c++) {
        hash_str(&st, "C");
        hash_str(&st, lex->cat[c]);
        for (uint32_t i = 0; i < lex->npat; i++) {
            const ts_lex_pattern *p = &lex->pat[i];
            if (p->category != c)
                continue;
            char opt[64];
            snprintf(opt, sizeof opt, "%s%sweight=%.9g", p->flags & TS_PAT_CASED ? "cased," : "",
                     p->flags & TS_PAT_REGEX ? "regex," : "", (double)p->weight);
            hash_str(&st, "P");
            hash_str(&st, p->text);
            hash_str(&st, opt);
        }
    }
    return XXH64_digest(&st);
}

static int cmp_pat(const void *a, const void *b, void *ctx)
{
    const ts_lexicon *lex = ctx;
    const ts_lex_pattern *p = &lex->pat[*(const uint32_t *)a];
    const ts_lex_pattern *q = &lex->pat[*(const uint32_t *)b];
    if (p->category != q->category)
        return p->category < q->category ? -1 : 1;
    int c = strcasecmp(p->text, q->text);
    if (c)
        return c;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int hs_fail(ts_lexicon *lex, hs_compile_error_t *cerr, int som, ts_diag *diag)
{
    int rc;
    const char *how = som ? " (in start-of-match mode, used for spans)" : "";
    if (cerr && cerr->expression >= 0 && (uint32_t)cerr->expression < lex->npat) {
        const ts_lex_pattern *p = &lex->pat[cerr->expression];
        diag_set(diag, p->file, p->line, UINT64_MAX, "Hyperscan rejects '%.150s'%s: %.200s",
                 p->text, how, cerr->message);
        rc = TS_E_LEXICON;
    } else {
        diag_set(diag, "", 0, UINT64_MAX, "Hyperscan cannot compile the lexicon%s: %.200s", how,
                 cerr ? cerr->message : "unknown error");
        rc = TS_E_HYPERSCAN;
    }
    hs_free_compile_error(cerr);
    return rc;
}

int ts_lexicon_compile(ts_lexicon *lex, ts_diag *diag)
{
    ts_diag_clear(diag);
    if (!lex)
        return TS_E_INVALID;
    if (lex->compiled) {
        diag_set(diag, "", 0, UINT64_MAX, "the lexicon is already compiled");
        return TS_E_INVALID;
    }
    int rc = TS_OK;
    uint32_t n = lex->npat;
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    ts_lex_pattern *grouped = malloc((n ? n : 1) * sizeof *grouped);
    const char **exprs = malloc((n ? n : 1) * sizeof *exprs);
    unsigned *flags = malloc((n ? n : 1) * sizeof *flags);
    unsigned *ids = malloc((n ? n : 1) * sizeof *ids);
    lex->pat_cat = malloc((n ? n : 1) * sizeof *lex->pat_cat);
    if (!order || !grouped || !exprs || !flags || !ids || !lex->pat_cat) {
        rc = TS_E_NOMEM;
        goto done;
    }

    /* The same pattern twice in a category would count every hit twice
     * (caselessly the same, unless both are case-sensitive). Sorted, equal
     * texts are neighbours; a run of them is short, so all pairs are tried. */
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_pat, lex);
    for (uint32_t i = 1; i < n; i++) {
        const ts_lex_pattern *q = &lex->pat[order[i]];
        for (uint32_t j = i; j-- > 0;) {
            const ts_lex_pattern *p = &lex->pat[order[j]];
            if (p->category != q->category || strcasecmp(p->text, q->text))
                break;
            if ((p->flags & q->flags & TS_PAT_CASED) && strcmp(p->text, q->text))
                continue;
            diag_set(diag, q->file, q->line, UINT64_MAX, "duplicate pattern '%.150s' (also at %.150s:%u)",
                     q->text, p->file, p->line);
            rc = TS_E_LEXICON;
            goto done;
        }
    }

    /* Pattern ids: grouped by category (in name order), in the order written. */
    uint32_t k = 0;
    for (uint32_t c = 0; c < lex->ncat; c++)
        for (uint32_t i = 0; i < n; i++)
            if (lex->pat[i].category == c)
                grouped[k++] = lex->pat[i];
    if (n)
        memcpy(lex->pat, grouped, n * sizeof *grouped);
    lex->id = compute_id(lex);
    lex->entity = ts_lexicon_category_index(lex, "ai_entity");
    for (uint32_t i = 0; i < n; i++) {
        exprs[i] = lex->pat[i].expr;
        flags[i] = lex->pat[i].flags & TS_PAT_CASED ? 0 : HS_FLAG_CASELESS;
        ids[i] = i;
        lex->pat_cat[i] = lex->pat[i].category;
    }
    if (n && load_prebuilt(lex, ts_default_lexicon_db, ts_default_lexicon_db_size, &lex->db) == 0)
        lex->prebuilt = 1;
    if (n) {
        hs_compile_error_t *cerr = NULL;
        if (!lex->prebuilt &&
            hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &lex->db, &cerr) != HS_SUCCESS) {
            rc = hs_fail(lex, cerr, 0, diag);
            goto done;
        }
        if (hs_alloc_scratch(lex->db, &lex->scratch) != HS_SUCCESS) {
            diag_set(diag, "", 0, UINT64_MAX, "Hyperscan cannot allocate scratch space");
            rc = TS_E_HYPERSCAN;
            goto done;
        }
        if (hs_database_size(lex->db, &lex->db_size) != HS_SUCCESS)
            lex->db_size = 0;
    }
    lex->compiled = 1;

done:
    if (rc) {
        hs_free_database(lex->db);
        hs_free_scratch(lex->scratch);
        lex->db = NULL;
        lex->scratch = NULL;
        free(lex->pat_cat);
        lex->pat_cat = NULL;
    }
    free(order);
    free(grouped);
    free(exprs);
    free(flags);
    free(ids);
    return rc;
}

/* The default lexicon is compiled at build time (gen_lexicon_db.c): compiling
 * it takes seconds, which every command would otherwise pay at start. A
 * serialized database fits only the lexicon it was made from (same id, hence
 * the same patterns in the same order) and a CPU Hyperscan accepts it on;
 * anything else is compiled here. @return 0 if *db was loaded. */
static int load_prebuilt(const ts_lexicon *lex, const unsigned char *bytes, size_t size, hs_database_t **db)
{
    if (lex->no_prebuilt || size == 0 || lex->id != ts_default_lexicon_db_id)
        return -1;
    if (hs_deserialize_database((const char *)bytes, size, db) != HS_SUCCESS) {
        *db = NULL;
        return -1;
    }
    return 0;
}

void ts_lexicon_use_prebuilt(ts_lexicon *lex, int yes) { lex->no_prebuilt = !yes; }
int ts_lexicon_is_prebuilt(const ts_lexicon *lex) { return lex->prebuilt; }

int ts_lexicon_serialize(const ts_lexicon *lex, int som, char **bytes, size_t *len)
{
    const hs_database_t *db = som ? lex->db_som : lex->db;
    if (!db)
        return TS_E_INVALID;
    return hs_serialize_database(db, bytes, len) == HS_SUCCESS ? TS_OK : TS_E_HYPERSCAN;
}

/* Spans need Hyperscan's start-of-match mode, which costs at scan time; a
 * second database keeps the fast one free of it. */
static int compile_som(ts_lexicon *lex, ts_diag *diag)
{
    uint32_t n = lex->npat;
    if (!n)
        return TS_OK;
    const char **exprs = malloc(n * sizeof *exprs);
    unsigned *flags = malloc(n * sizeof *flags);
    unsigned *ids = malloc(n * sizeof *ids);
    int rc = TS_OK;
    if (!exprs || !flags || !ids) {
        rc = TS_E_NOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        exprs[i] = lex->pat[i].expr;
        flags[i] = (lex->pat[i].flags & TS_PAT_CASED ? 0 : HS_FLAG_CASELESS) | HS_FLAG_SOM_LEFTMOST;
        ids[i] = i;
    }
    hs_compile_error_t *cerr = NULL;
    if (load_prebuilt(lex, ts_default_lexicon_db_som, ts_default_lexicon_db_som_size, &lex->db_som) != 0 &&
        hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &lex->db_som, &cerr) != HS_SUCCESS) {
        lex->db_som = NULL;
        rc = hs_fail(lex, cerr, 1, diag);
        goto done;
    }
    if (hs_alloc_scratch(lex->db_som, &lex->scratch_som) != HS_SUCCESS) {
        diag_set(diag, "", 0, UINT64_MAX, "Hyperscan cannot allocate scratch space");
        rc = TS_E_HYPERSCAN;
        goto done;
    }
    if (hs_database_size(lex->db_som, &lex->db_som_size) != HS_SUCCESS)
        lex->db_som_size = 0;
done:
    free(exprs);
    free(flags);
    free(ids);
    return rc;
}

int ts_lexicon_compile_subset(const ts_lexicon *lex, const uint32_t *ids, uint32_t n, hs_database_t **db,
                              ts_diag *diag)
{
    *db = NULL;
    if (!lex || !lex->compiled || !n)
        return TS_E_INVALID;
    const char **exprs = malloc(n * sizeof *exprs);
    unsigned *flags = malloc(n * sizeof *flags);
    unsigned *hsid = malloc(n * sizeof *hsid);
    int rc = TS_OK;
    if (!exprs || !flags || !hsid) {
        rc = TS_E_NOMEM;
        goto done;
    }
    for (uint32_t k = 0; k < n; k++) {
        if (ids[k] >= lex->npat) {
            rc = TS_E_INVALID;
            goto done;
        }
        const ts_lex_pattern *p = &lex->pat[ids[k]];
        exprs[k] = p->expr;
        flags[k] = p->flags & TS_PAT_CASED ? 0 : HS_FLAG_CASELESS;
        hsid[k] = ids[k];
    }
    hs_compile_error_t *cerr = NULL;
    if (hs_compile_multi(exprs, flags, hsid, n, HS_MODE_BLOCK, NULL, db, &cerr) != HS_SUCCESS) {
        *db = NULL;
        /* The error names an index into this subset: say the pattern's id. */
        if (cerr && cerr->expression >= 0 && (uint32_t)cerr->expression < n)
            cerr->expression = (int)ids[cerr->expression];
        rc = hs_fail((ts_lexicon *)lex, cerr, 0, diag);
    }
done:
    free(exprs);
    free(flags);
    free(hsid);
    return rc;
}

int ts_lexicon_compile_spans(const ts_lexicon *clex, ts_diag *diag)
{
    ts_diag_clear(diag);
    if (!clex || !clex->compiled)
        return TS_E_INVALID;
    /* The lazily built part of an otherwise immutable object. */
    ts_lexicon *lex = (ts_lexicon *)clex;
    pthread_mutex_lock(&lex->som_lock);
    if (lex->som_state == 0) {
        int rc = compile_som(lex, &lex->som_diag);
        lex->som_state = rc ? rc : 1;
    }
    int rc = lex->som_state < 0 ? lex->som_state : TS_OK;
    if (rc && diag)
        *diag = lex->som_diag;
    pthread_mutex_unlock(&lex->som_lock);
    return rc;
}

/* ------------------------------------------------------------ queries */

uint64_t ts_lexicon_id(const ts_lexicon *lex)
{
    if (!lex)
        return 0;
    return lex->compiled ? lex->id : compute_id(lex);
}

uint32_t ts_lexicon_ncategories(const ts_lexicon *lex)
{
    return lex ? lex->ncat : 0;
}

const char *ts_lexicon_category_name(const ts_lexicon *lex, uint32_t i)
{
    return lex && i < lex->ncat ? lex->cat[i] : NULL;
}

int ts_lexicon_category_index(const ts_lexicon *lex, const char *name)
{
    if (!lex || !name)
        return -1;
    for (uint32_t i = 0; i < lex->ncat; i++)
        if (!strcmp(lex->cat[i], name))
            return (int)i;
    return -1;
}

uint32_t ts_lexicon_npatterns(const ts_lexicon *lex)
{
    return lex ? lex->npat : 0;
}

int ts_lexicon_pattern(const ts_lexicon *lex, uint32_t i, ts_pattern_info *out)
{
    if (!lex || !out || i >= lex->npat)
        return TS_E_INVALID;
    const ts_lex_pattern *p = &lex->pat[i];
    out->category = p->category;
    out->text = p->text;
    out->file = p->file;
    out->line = p->line;
    out->weight = p->weight;
    return TS_OK;
}

size_t ts_lexicon_db_size(const ts_lexicon *lex, int som)
{
    if (!lex)
        return 0;
    if (!som)
        return lex->db_size;
    pthread_mutex_lock((pthread_mutex_t *)&lex->som_lock);
    size_t n = lex->db_som_size;
    pthread_mutex_unlock((pthread_mutex_t *)&lex->som_lock);
    return n;
}
