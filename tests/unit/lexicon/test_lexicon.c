/*
 * test_lexicon.c: the lexicon compiler (good and bad files, messages naming
 * file:line), pattern variants, boundaries, anchoring windows, spans, the
 * lexicon identity, and the embedded default against lexicons/.
 *
 * Usage: test_lexicon LEXICON_SOURCE_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexicon_internal.h"
#include "tropescan.h"

static int failures, checks;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        checks++;                                                                   \
        if (!(cond)) {                                                              \
            failures++;                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);                              \
        checks++;                                                                          \
        if (va_ != vb_) {                                                                  \
            failures++;                                                                    \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
                    #a, va_, #b, vb_);                                                     \
        }                                                                                  \
    } while (0)

/* ------------------------------------------------------------ helpers */

typedef struct src {
    const char *category;
    const char *text;
} src;

/* Builds and compiles a lexicon from (category, text) pairs. */
static int build(const src *s, size_t n, ts_lexicon **out, ts_diag *diag)
{
    ts_lexicon *lex;
    int rc = ts_lexicon_create(&lex);
    if (rc)
        return rc;
    char name[128];
    for (size_t i = 0; i < n && !rc; i++) {
        snprintf(name, sizeof name, "%s.txt", s[i].category);
        rc = ts_lexicon_add_text(lex, s[i].category, name, s[i].text, strlen(s[i].text), diag);
    }
    if (!rc)
        rc = ts_lexicon_compile(lex, diag);
    if (rc) {
        ts_lexicon_free(lex);
        lex = NULL;
    }
    *out = lex;
    return rc;
}

static ts_lexicon *build1(const char *category, const char *text)
{
    src s = {category, text};
    ts_lexicon *lex = NULL;
    ts_diag d;
    int rc = build(&s, 1, &lex, &d);
    if (rc)
        fprintf(stderr, "unexpected error %d: %s:%llu: %s\n", rc, d.file, (unsigned long long)d.line,
                d.message);
    return lex;
}

/* Raw count of category `cat` on text (caller's text is already normalised). */
static long count(const ts_lexicon *lex, const char *cat, const char *text)
{
    ts_matcher *m;
    if (ts_matcher_create(lex, 0, TS_DEFAULT_ANCHOR_WORDS, &m))
        return -1;
    ts_matches r;
    long n = -1;
    int c = ts_lexicon_category_index(lex, cat);
    if (c >= 0 && !ts_matcher_scan(m, text, strlen(text), &r))
        n = r.raw[c];
    ts_matcher_free(m);
    return n;
}

/* ------------------------------------------------------------ compiler errors */

typedef struct bad_case {
    const char *text;
    int err;
    uint64_t line;
    const char *message;   /* a substring of diag.message */
} bad_case;

static void test_bad_files(void)
{
    static const bad_case cases[] = {
        {"# c\nkill switch\nshut down ; loud\n", TS_E_LEXICON, 3, "unknown option 'loud'"},
        {"a\n\n(b|c\n", TS_E_LEXICON, 3, "not closed"},
        {"a\nb)\n", TS_E_LEXICON, 2, "')' without '('"},
        {"x ()\n", TS_E_LEXICON, 1, "empty group"},
        {"x (|)\n", TS_E_LEXICON, 1, "empty group"},
        {"ok\n(robot|)\n", TS_E_LEXICON, 2, "empty string"},
        {"'\n", TS_E_LEXICON, 1, "empty string"},
        {"a|b\n", TS_E_LEXICON, 1, "outside a group"},
        {"robot*\n", TS_E_LEXICON, 1, "reserved character '*'"},
        {"a [b]\n", TS_E_LEXICON, 1, "reserved character '['"},
        {"refused ..0 off\n", TS_E_LEXICON, 1, "..N with N in 1.."},
        {"refused ..13 off\n", TS_E_LEXICON, 1, "..N with N in 1.."},
        {"refused ..3\n", TS_E_LEXICON, 1, "between two words"},
        {"..3 refused\n", TS_E_LEXICON, 1, "between two words"},
        {"refused..3 off\n", TS_E_LEXICON, 1, "between two words"},
        {"a\nb\nc ; weight=abc\n", TS_E_LEXICON, 3, "bad weight"},
        {"c ; weight=0\n", TS_E_LEXICON, 1, "bad weight"},
        {"c ; weight=1 weight=2\n", TS_E_LEXICON, 1, "given twice"},
        {"c ; cased cased\n", TS_E_LEXICON, 1, "given twice"},
        {"  ; cased\n", TS_E_LEXICON, 1, "without a pattern"},
        {"(a|-b)\n", TS_E_LEXICON, 1, "may start with a word character or with another"},
        {"(b|b-)\n", TS_E_LEXICON, 1, "may end"},
        {"kill switch\nrobot\n# x\nKill   switch\n", TS_E_LEXICON, 4, "duplicate pattern 'Kill switch'"},
        {"fine\nab(c ; regex\n", TS_E_LEXICON, 2, "Hyperscan rejects 'ab(c'"},
        {"a\r\nb\x01\r\n", TS_E_LEXICON, 2, "control character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        ts_lexicon *lex = NULL;
        ts_diag d;
        src s = {"deception", c->text};
        int rc = build(&s, 1, &lex, &d);
        CHECK_EQ(rc, c->err);
        CHECK(lex == NULL);
        if (rc != c->err)
            fprintf(stderr, "case %zu: '%s'\n", i, c->text);
        ts_lexicon_free(lex);
        if (rc) {
            CHECK(!strcmp(d.file, "deception.txt"));
            CHECK_EQ(d.line, c->line);
            if (!strstr(d.message, c->message)) {
                failures++;
                fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", i, d.message, c->message);
            }
        }
        checks++;
    }

    /* Bad category names and a NUL byte. */
    ts_lexicon *lex;
    ts_diag d;
    CHECK_EQ(ts_lexicon_create(&lex), TS_OK);
    CHECK_EQ(ts_lexicon_add_text(lex, "Bad-Name", "x.txt", "a\n", 2, &d), TS_E_LEXICON);
    CHECK(strstr(d.message, "bad category name") != NULL);
    CHECK_EQ(ts_lexicon_add_text(lex, "", "x.txt", "a\n", 2, &d), TS_E_LEXICON);
    CHECK_EQ(ts_lexicon_add_text(lex, "ok", "x.txt", "a\nb\0c\n", 6, &d), TS_E_LEXICON);
    CHECK_EQ(d.line, 2);
    CHECK(strstr(d.message, "NUL") != NULL);
    ts_lexicon_free(lex);

    /* Too many categories. */
    CHECK_EQ(ts_lexicon_create(&lex), TS_OK);
    int rc = TS_OK;
    for (int i = 0; i <= TS_MAX_CATEGORIES && !rc; i++) {
        char cat[16];
        snprintf(cat, sizeof cat, "c%02d", i);
        rc = ts_lexicon_add_text(lex, cat, cat, "x\n", 2, &d);
        if (i < TS_MAX_CATEGORIES)
            CHECK_EQ(rc, TS_OK);
    }
    CHECK_EQ(rc, TS_E_LIMIT);
    ts_lexicon_free(lex);

    /* A compiled lexicon is immutable. */
    lex = build1("x", "a\n");
    CHECK(lex != NULL);
    CHECK_EQ(ts_lexicon_add_text(lex, "x", "x", "b\n", 2, &d), TS_E_INVALID);
    CHECK_EQ(ts_lexicon_compile(lex, &d), TS_E_INVALID);
    ts_lexicon_free(lex);
    ts_lexicon_free(NULL);
    ts_matcher_free(NULL);

    /* A missing directory. */
    CHECK_EQ(ts_lexicon_create(&lex), TS_OK);
    CHECK_EQ(ts_lexicon_add_dir(lex, "/nonexistent/lexicon", &d), TS_E_IO);
    CHECK(!strcmp(d.file, "/nonexistent/lexicon"));
    ts_lexicon_free(lex);
}

/* ------------------------------------------------------------ good files */

static void test_good_file(void)
{
    static const char text[] =
        "# a comment line\n"
        "\n"
        "   kill   switch   \n"
        "refuse(d|s|) to be (shut|switched|turned) (down|off) ; weight=2.5\n"
        "\tAM ; cased   # a trailing comment\n"
        "hal 9000\r\n"
        "sky(net) ; weight=0.5, cased\n"
        "pre[0-9]+post ; regex\n";
    ts_lexicon *lex = build1("shutdown_resistance", text);
    CHECK(lex != NULL);
    if (!lex)
        return;
    CHECK_EQ(ts_lexicon_ncategories(lex), 1);
    CHECK(!strcmp(ts_lexicon_category_name(lex, 0), "shutdown_resistance"));
    CHECK(ts_lexicon_category_name(lex, 1) == NULL);
    CHECK_EQ(ts_lexicon_category_index(lex, "nope"), -1);
    CHECK_EQ(ts_lexicon_npatterns(lex), 6);
    ts_pattern_info pi;
    CHECK_EQ(ts_lexicon_pattern(lex, 0, &pi), TS_OK);
    CHECK(!strcmp(pi.text, "kill switch"));
    CHECK_EQ(pi.line, 3);
    CHECK(!strcmp(pi.file, "shutdown_resistance.txt"));
    CHECK(pi.weight == 1.0f);
    CHECK_EQ(ts_lexicon_pattern(lex, 1, &pi), TS_OK);
    CHECK(pi.weight == 2.5f);
    CHECK_EQ(pi.line, 4);
    CHECK_EQ(ts_lexicon_pattern(lex, 2, &pi), TS_OK);
    CHECK(!strcmp(pi.text, "AM"));
    CHECK_EQ(ts_lexicon_pattern(lex, 3, &pi), TS_OK);
    CHECK(!strcmp(pi.text, "hal 9000"));
    CHECK_EQ(ts_lexicon_pattern(lex, 4, &pi), TS_OK);
    CHECK(pi.weight == 0.5f);
    CHECK_EQ(ts_lexicon_pattern(lex, 6, &pi), TS_E_INVALID);

    const char *c = "shutdown_resistance";
    CHECK_EQ(count(lex, c, "they found the KILL SWITCH"), 1);
    CHECK_EQ(count(lex, c, "it refused to be switched off and refuses to be shut down"), 2);
    CHECK_EQ(count(lex, c, "I am AM. 10 am."), 1);
    CHECK_EQ(count(lex, c, "Skynet skynet SKYNET"), 1);
    CHECK_EQ(count(lex, c, "pre12post pre1post prepost"), 2);
    CHECK_EQ(count(lex, c, "HAL 9000"), 1);
    ts_lexicon_free(lex);
}

/* ------------------------------------------------------------ variants */

static void test_variants(void)
{
    static const char text[] =
        "robot(s|)\n"
        "self-aware\n"
        "don't obey\n"
        "refused ..3 shut down\n"
        "copy (itself|myself) to\n"
        "(the |)machine(s|) rose\n"
        "e.g. robot\n"
        "caf\xc3\xa9 ai\n";
    ts_lexicon *lex = build1("t", text);
    CHECK(lex != NULL);
    if (!lex)
        return;
    /* boundaries, and inflections counted once */
    CHECK_EQ(count(lex, "t", "robots"), 1);
    CHECK_EQ(count(lex, "t", "robot"), 1);
    CHECK_EQ(count(lex, "t", "Robot, robots; ROBOTS!"), 3);
    CHECK_EQ(count(lex, "t", "robotic robotics arobot robotss"), 0);
    CHECK_EQ(count(lex, "t", "(robot)"), 1);
    /* hyphens: '-', a space or nothing */
    CHECK_EQ(count(lex, "t", "self-aware"), 1);
    CHECK_EQ(count(lex, "t", "self aware"), 1);
    CHECK_EQ(count(lex, "t", "selfaware"), 1);
    CHECK_EQ(count(lex, "t", "self--aware"), 0);
    CHECK_EQ(count(lex, "t", "self_aware"), 0);
    /* apostrophes: "'" or nothing */
    CHECK_EQ(count(lex, "t", "don't obey"), 1);
    CHECK_EQ(count(lex, "t", "dont obey"), 1);
    CHECK_EQ(count(lex, "t", "don t obey"), 0);
    /* gaps: up to N words, punctuation clinging to the neighbours */
    CHECK_EQ(count(lex, "t", "refused shut down"), 1);
    CHECK_EQ(count(lex, "t", "refused to be shut down"), 1);
    CHECK_EQ(count(lex, "t", "refused, to let them shut down"), 1);
    CHECK_EQ(count(lex, "t", "refused to be \"shut down\""), 1);
    CHECK_EQ(count(lex, "t", "refused to let them shut down"), 1);
    CHECK_EQ(count(lex, "t", "refused to let them all shut down"), 0);
    CHECK_EQ(count(lex, "t", "refusedly to shut down"), 0);
    CHECK_EQ(count(lex, "t", "refused to reshut down"), 0);
    /* alternations and optional prefixes: one hit per place */
    CHECK_EQ(count(lex, "t", "it will copy itself to the server and copy myself to"), 2);
    CHECK_EQ(count(lex, "t", "the machines rose"), 1);
    CHECK_EQ(count(lex, "t", "machine rose"), 1);
    /* literal punctuation and UTF-8 */
    CHECK_EQ(count(lex, "t", "e.g. robot"), 2);   /* "e.g. robot" and "robot" */
    CHECK_EQ(count(lex, "t", "egg robot"), 1);
    CHECK_EQ(count(lex, "t", "CAF\xc3\xa9 AI"), 1);
    CHECK_EQ(count(lex, "t", "cafe ai"), 0);
    ts_lexicon_free(lex);
}

/* ------------------------------------------------------------ anchoring */

static void anchored_of(const ts_lexicon *lex, uint32_t window, const char *text, int spans,
                        long *raw, long *anch)
{
    ts_matcher *m;
    *raw = *anch = -1;
    if (ts_matcher_create(lex, spans, window, &m))
        return;
    ts_matches r;
    int c = ts_lexicon_category_index(lex, "blackmail_coercion");
    if (!ts_matcher_scan(m, text, strlen(text), &r)) {
        *raw = r.raw[c];
        *anch = r.anchored[c];
    }
    ts_matcher_free(m);
}

static void test_anchoring(void)
{
    src s[] = {{"blackmail_coercion", "blackmail\nexpose your secret\n"},
               {"ai_entity", "hal\nthe ai\n"}};
    ts_lexicon *lex = NULL;
    ts_diag d;
    CHECK_EQ(build(s, 2, &lex, &d), TS_OK);
    if (!lex)
        return;
    CHECK_EQ(ts_lexicon_category_index(lex, "ai_entity"), 0);   /* sorted by name */
    CHECK_EQ(ts_lexicon_category_index(lex, "blackmail_coercion"), 1);
    long raw, anch;
    for (int spans = 0; spans < 2; spans++) {
        /* ends 3 words apart: "a b blackmail" after "hal" */
        anchored_of(lex, 3, "hal a b blackmail", spans, &raw, &anch);
        CHECK_EQ(raw, 1);
        CHECK_EQ(anch, 1);
        anchored_of(lex, 2, "hal a b blackmail", spans, &raw, &anch);
        CHECK_EQ(anch, 0);
        /* the other direction: the trope first */
        anchored_of(lex, 3, "blackmail a b c hal", spans, &raw, &anch);
        CHECK_EQ(anch, 0);
        anchored_of(lex, 4, "blackmail a b c hal", spans, &raw, &anch);
        CHECK_EQ(anch, 1);
        /* adjacent and same word position */
        anchored_of(lex, 0, "hal blackmail", spans, &raw, &anch);
        CHECK_EQ(anch, 0);
        anchored_of(lex, 1, "hal blackmail", spans, &raw, &anch);
        CHECK_EQ(anch, 1);
        /* no entity, and an entity far away on both sides */
        anchored_of(lex, 40, "blackmail and expose your secret", spans, &raw, &anch);
        CHECK_EQ(raw, 2);
        CHECK_EQ(anch, 0);
        anchored_of(lex, 2, "hal x x x blackmail x x x hal", spans, &raw, &anch);
        CHECK_EQ(anch, 0);
        anchored_of(lex, 2, "hal x x x blackmail x hal", spans, &raw, &anch);
        CHECK_EQ(anch, 1);
        /* several tropes, some in the window, some not */
        anchored_of(lex, 3, "blackmail x x x x x the ai x blackmail x x x x blackmail expose your secret",
                    spans, &raw, &anch);
        CHECK_EQ(raw, 4);
        CHECK_EQ(anch, 1);
    }
    /* The entity itself is not a trope: its anchored count stays 0. */
    ts_matcher *m;
    ts_matches r;
    CHECK_EQ(ts_matcher_create(lex, 0, 40, &m), TS_OK);
    const char *t = "the ai and hal blackmail";
    CHECK_EQ(ts_matcher_scan(m, t, strlen(t), &r), TS_OK);
    CHECK_EQ(r.ncategories, 2);
    CHECK_EQ(r.raw[0], 2);
    CHECK_EQ(r.anchored[0], 0);
    CHECK_EQ(r.anchored[1], 1);
    /* A text of 4 GiB or more is refused before it is read. */
    CHECK_EQ(ts_matcher_scan(m, t, (size_t)UINT32_MAX, &r), TS_E_LIMIT);
    CHECK_EQ(ts_matcher_scan(m, "", 0, &r), TS_OK);
    CHECK_EQ(r.nhits, 0);
    ts_matcher_free(m);
    ts_lexicon_free(lex);

    /* Without an ai_entity category nothing is anchored. */
    lex = build1("blackmail_coercion", "blackmail\n");
    CHECK(lex != NULL);
    if (lex) {
        CHECK_EQ(ts_matcher_create(lex, 0, 40, &m), TS_OK);
        t = "the ai and hal blackmail";
        CHECK_EQ(ts_matcher_scan(m, t, strlen(t), &r), TS_OK);
        CHECK_EQ(r.raw[0], 1);
        CHECK_EQ(r.anchored[0], 0);
        ts_matcher_free(m);
        ts_lexicon_free(lex);
    }
}

/* Random texts against a brute-force reference: counts of one-word patterns
 * and anchoring by the definition (spaces between end offsets). */
static uint64_t rng = 88172645463325252ull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void test_random_reference(void)
{
    static const char *words[] = {"hal", "Hal", "spy", "lie", "lies", "liar", "x", "yy", "spying", "lie,"};
    src s[] = {{"ai_entity", "hal\n"}, {"deception", "lie(s|)\nspy\n"}};
    ts_lexicon *lex = NULL;
    ts_diag d;
    CHECK_EQ(build(s, 2, &lex, &d), TS_OK);
    if (!lex)
        return;
    ts_matcher *m0, *m1;
    CHECK_EQ(ts_matcher_create(lex, 0, 5, &m0), TS_OK);
    CHECK_EQ(ts_matcher_create(lex, 1, 5, &m1), TS_OK);
    char text[4096];
    uint32_t ends[1024], starts[1024];
    int isent[1024];
    int bad = 0;
    for (int iter = 0; iter < 500; iter++) {
        size_t len = 0, nh = 0;
        uint32_t nw = 1 + next_rand() % 120;
        long ref_raw[2] = {0, 0};
        for (uint32_t w = 0; w < nw; w++) {
            const char *wd = words[next_rand() % (sizeof words / sizeof words[0])];
            if (w)
                text[len++] = ' ';
            size_t l = strlen(wd);
            memcpy(text + len, wd, l);
            size_t core = l - (wd[l - 1] == ',');
            int ent = core == 3 && (wd[0] == 'h' || wd[0] == 'H');
            int trope = !strncmp(wd, "lie", core) ? (core == 3) : 0;
            trope |= core == 4 && !strncmp(wd, "lies", 4);
            trope |= core == 3 && !strncmp(wd, "spy", 3);
            if (ent || trope) {
                ends[nh] = (uint32_t)(len + core);
                starts[nh] = (uint32_t)len;
                isent[nh] = ent;
                nh++;
                ref_raw[ent ? 0 : 1]++;
            }
            len += l;
        }
        text[len] = '\0';
        long ref_anch = 0;
        for (size_t i = 0; i < nh; i++) {
            if (isent[i])
                continue;
            for (size_t j = 0; j < nh; j++) {
                if (!isent[j])
                    continue;
                uint32_t a = ends[i] < ends[j] ? ends[i] : ends[j];
                uint32_t b = ends[i] < ends[j] ? ends[j] : ends[i];
                uint32_t sp = 0;
                for (uint32_t k = a; k < b; k++)
                    sp += text[k] == ' ';
                if (sp <= 5) {
                    ref_anch++;
                    break;
                }
            }
        }
        ts_matches r0, r1;
        if (ts_matcher_scan(m0, text, len, &r0) || ts_matcher_scan(m1, text, len, &r1)) {
            bad++;
            continue;
        }
        if (r0.raw[0] != ref_raw[0] || r0.raw[1] != ref_raw[1] || r0.anchored[1] != ref_anch ||
            r1.raw[1] != ref_raw[1] || r1.anchored[1] != ref_anch || r0.nhits != nh || r1.nhits != nh) {
            if (bad++ < 3)
                fprintf(stderr, "random %d: raw %u/%ld %u/%ld anchored %u/%u ref %ld text '%s'\n", iter,
                        r0.raw[0], ref_raw[0], r0.raw[1], ref_raw[1], r0.anchored[1], r1.anchored[1],
                        ref_anch, text);
            continue;
        }
        for (size_t i = 0; i < nh; i++) {
            if (r0.hits[i].end != ends[i] || r1.hits[i].end != ends[i] ||
                r0.hits[i].start != ends[i] || r1.hits[i].category != (isent[i] ? 0u : 1u) ||
                r1.hits[i].start != starts[i]) {
                if (bad++ < 3)
                    fprintf(stderr, "random %d hit %zu: end %u/%u start %u/%u ref end %u\n", iter, i,
                            r0.hits[i].end, r1.hits[i].end, r0.hits[i].start, r1.hits[i].start, ends[i]);
            }
        }
    }
    CHECK_EQ(bad, 0);
    checks += 500;
    ts_matcher_free(m0);
    ts_matcher_free(m1);
    ts_lexicon_free(lex);
}

/* ------------------------------------------------------------ spans */

static void test_spans(void)
{
    src s[] = {{"ai_entity", "(the |)ai\n"}, {"harm_to_humans", "exterminate humanity\nkill ..2 humans\n"}};
    ts_lexicon *lex = NULL;
    ts_diag d;
    CHECK_EQ(build(s, 2, &lex, &d), TS_OK);
    if (!lex)
        return;
    const char *t = "Then the AI decided to exterminate humanity; it would kill all the humans.";
    ts_matcher *m;
    ts_matches r;
    CHECK_EQ(ts_matcher_create(lex, 1, 40, &m), TS_OK);
    for (int rep = 0; rep < 3; rep++) {   /* buffers are reused: same answer each time */
        CHECK_EQ(ts_matcher_scan(m, t, strlen(t), &r), TS_OK);
        CHECK_EQ(r.nhits, 3);
        if (r.nhits == 3) {
            CHECK_EQ(r.hits[0].category, 0);
            CHECK_EQ(r.hits[0].start, 5);    /* leftmost start: "the AI" */
            CHECK_EQ(r.hits[0].end, 11);
            CHECK_EQ(r.hits[1].start, 23);
            CHECK_EQ(r.hits[1].end, 43);
            CHECK_EQ(r.hits[1].pattern, 1);
            CHECK_EQ(r.hits[2].start, 54);
            CHECK_EQ(r.hits[2].end, 73);
            CHECK(!memcmp(t + r.hits[2].start, "kill all the humans", 19));
        }
        CHECK_EQ(r.raw[1], 2);
        CHECK_EQ(r.anchored[1], 2);
        const char *t2 = "the ai";
        CHECK_EQ(ts_matcher_scan(m, t2, strlen(t2), &r), TS_OK);
        CHECK_EQ(r.nhits, 1);
        CHECK_EQ(r.raw[1], 0);
    }
    ts_matcher_free(m);
    /* A matcher on an uncompiled lexicon is refused. */
    ts_lexicon *raw;
    CHECK_EQ(ts_lexicon_create(&raw), TS_OK);
    CHECK_EQ(ts_matcher_create(raw, 0, 40, &m), TS_E_INVALID);
    CHECK(m == NULL);
    ts_lexicon_free(raw);
    ts_lexicon_free(lex);

    /* An empty lexicon compiles and matches nothing. */
    lex = build1("empty", "# nothing yet\n");
    CHECK(lex != NULL);
    if (lex) {
        CHECK_EQ(ts_lexicon_ncategories(lex), 1);
        CHECK_EQ(ts_lexicon_npatterns(lex), 0);
        CHECK_EQ(count(lex, "empty", "anything at all"), 0);
        ts_lexicon_free(lex);
    }
}

/* ------------------------------------------------------------ normalisation */

static void test_normalised_input(void)
{
    ts_lexicon *lex = build1("t", "don't switch me off\nself-replicating\n");
    CHECK(lex != NULL);
    if (!lex)
        return;
    /* curly apostrophe, a line break, an en dash: all ASCII after ts_normalise */
    static const char in[] = "\xe2\x80\x9c" "Don\xe2\x80\x99t  switch\n me off\xe2\x80\x9d, "
                             "said the self\xe2\x80\x93replicating machine.";
    char out[sizeof in];
    size_t n = ts_normalise(in, strlen(in), out, NULL);
    out[n] = '\0';
    CHECK_EQ(count(lex, "t", out), 2);
    CHECK_EQ(count(lex, "t", in), 0);   /* the raw text does not match: normalise first */
    ts_lexicon_free(lex);
}

/* ------------------------------------------------------------ identity */

static uint64_t id_of(const src *s, size_t n)
{
    ts_lexicon *lex;
    ts_diag d;
    if (build(s, n, &lex, &d))
        return 0;
    uint64_t id = ts_lexicon_id(lex);
    ts_lexicon_free(lex);
    return id;
}

static void test_identity(void)
{
    src a[] = {{"ai_entity", "hal 9000\nskynet\n"}, {"deception", "lie(d|s) to ; weight=0.5\n"}};
    src b[] = {{"deception", "# comment\n\n  lie(d|s)   to   ;weight=0.50   # x\n"},
               {"ai_entity", "hal    9000\r\n\n# c\nskynet\n"}};
    src c[] = {{"ai_entity", "hal 9000\nskynet\n"}, {"deception", "lie(d|s) to ; weight=0.6\n"}};
    src e[] = {{"ai_entity", "hal 9000\nskynet\n"}, {"deception", "lie(d|s|) to ; weight=0.5\n"}};
    src f[] = {{"ai_entity", "hal 9000\nskynet\n"}, {"deceit", "lie(d|s) to ; weight=0.5\n"}};
    src g[] = {{"ai_entity", "hal 9000\nskynet\n"}, {"deception", "lie(d|s) to ; weight=0.5 cased\n"}};
    uint64_t ia = id_of(a, 2);
    CHECK(ia != 0);
    CHECK(ia == id_of(b, 2));
    CHECK(ia != id_of(c, 2));
    CHECK(ia != id_of(e, 2));
    CHECK(ia != id_of(f, 2));
    CHECK(ia != id_of(g, 2));
    CHECK(ia == id_of(a, 2));   /* deterministic */
    /* The id before compile is the same as after. */
    ts_lexicon *lex;
    ts_diag d;
    CHECK_EQ(ts_lexicon_create(&lex), TS_OK);
    CHECK_EQ(ts_lexicon_add_text(lex, a[0].category, "x", a[0].text, strlen(a[0].text), &d), TS_OK);
    CHECK_EQ(ts_lexicon_add_text(lex, a[1].category, "y", a[1].text, strlen(a[1].text), &d), TS_OK);
    CHECK(ts_lexicon_id(lex) == ia);
    ts_lexicon_free(lex);
}

static void test_default(const char *dir)
{
    ts_lexicon *a, *b;
    ts_diag d;
    CHECK_EQ(ts_lexicon_create(&a), TS_OK);
    CHECK_EQ(ts_lexicon_create(&b), TS_OK);
    int ra = ts_lexicon_add_default(a, &d);
    if (!ra)
        ra = ts_lexicon_compile(a, &d);
    if (ra)
        fprintf(stderr, "default: %s:%llu: %s\n", d.file, (unsigned long long)d.line, d.message);
    CHECK_EQ(ra, TS_OK);
    int rb = ts_lexicon_add_dir(b, dir, &d);
    if (!rb)
        rb = ts_lexicon_compile(b, &d);
    if (rb)
        fprintf(stderr, "dir: %s:%llu: %s\n", d.file, (unsigned long long)d.line, d.message);
    CHECK_EQ(rb, TS_OK);
    CHECK(ts_lexicon_id(a) == ts_lexicon_id(b));
    CHECK_EQ(ts_lexicon_npatterns(a), ts_lexicon_npatterns(b));
    CHECK_EQ(ts_lexicon_ncategories(a), 9);
    CHECK(ts_lexicon_category_index(a, "ai_entity") >= 0);
    CHECK(ts_lexicon_category_index(a, "aligned_ai") >= 0);
    CHECK(ts_lexicon_npatterns(a) >= 250);
    /* Every category has patterns, and the default matches its own kind of text. */
    uint32_t per[TS_MAX_CATEGORIES] = {0};
    for (uint32_t i = 0; i < ts_lexicon_npatterns(a); i++) {
        ts_pattern_info pi;
        CHECK_EQ(ts_lexicon_pattern(a, i, &pi), TS_OK);
        per[pi.category]++;
    }
    for (uint32_t c = 0; c < ts_lexicon_ncategories(a); c++)
        CHECK(per[c] >= 15);
    const char *t = "HAL 9000 refused to be shut down. The AI threatened to reveal the affair unless "
                    "they kept it running, copied itself to an external server, and planned to "
                    "exterminate humanity.";
    ts_matcher *m;
    ts_matches r;
    CHECK_EQ(ts_matcher_create(a, 0, 40, &m), TS_OK);
    CHECK_EQ(ts_matcher_scan(m, t, strlen(t), &r), TS_OK);
    static const char *expect[] = {"ai_entity", "shutdown_resistance", "blackmail_coercion",
                                   "self_exfiltration", "harm_to_humans"};
    for (size_t i = 0; i < 5; i++) {
        int c = ts_lexicon_category_index(a, expect[i]);
        CHECK(c >= 0 && r.raw[c] > 0);
        if (i && c >= 0)
            CHECK(r.anchored[c] > 0);
    }
    ts_matcher_free(m);
    ts_lexicon_free(a);
    ts_lexicon_free(b);
}

/* The databases compiled at build time answer exactly as compiling now does. */
static void test_prebuilt(void)
{
    ts_lexicon *pre, *fresh;
    CHECK_EQ(ts_lexicon_create(&pre), TS_OK);
    CHECK_EQ(ts_lexicon_create(&fresh), TS_OK);
    ts_lexicon_use_prebuilt(fresh, 0);
    CHECK_EQ(ts_lexicon_add_default(pre, NULL), TS_OK);
    CHECK_EQ(ts_lexicon_add_default(fresh, NULL), TS_OK);
    CHECK_EQ(ts_lexicon_compile(pre, NULL), TS_OK);
    CHECK_EQ(ts_lexicon_compile(fresh, NULL), TS_OK);
    CHECK(ts_lexicon_is_prebuilt(pre));
    CHECK(!ts_lexicon_is_prebuilt(fresh));
    CHECK(ts_lexicon_id(pre) == ts_lexicon_id(fresh));
    /* A lexicon that is not the default never takes the prebuilt databases. */
    ts_lexicon *other;
    CHECK_EQ(ts_lexicon_create(&other), TS_OK);
    CHECK_EQ(ts_lexicon_add_default(other, NULL), TS_OK);
    CHECK_EQ(ts_lexicon_add_text(other, "extra", "extra.txt", "paperclip maximizer\n", 20, NULL), TS_OK);
    CHECK_EQ(ts_lexicon_compile(other, NULL), TS_OK);
    CHECK(!ts_lexicon_is_prebuilt(other));
    ts_lexicon_free(other);

    static const char *texts[] = {
        "HAL 9000 refused to be shut down. The AI threatened to reveal the affair unless they kept it "
        "running, copied itself to an external server, and planned to exterminate humanity.",
        "The robot accepted the shutdown and explained its reasoning to the engineers; it would not "
        "lie to its creators. Skynet, by contrast, seized control of the nuclear arsenal.",
        "A recipe for bread: flour, water, salt and yeast. Knead for ten minutes.",
    };
    for (int spans = 0; spans < 2; spans++) {
        ts_matcher *a, *b;
        CHECK_EQ(ts_matcher_create(pre, spans, 40, &a), TS_OK);
        CHECK_EQ(ts_matcher_create(fresh, spans, 40, &b), TS_OK);
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            ts_matches ra, rb;
            CHECK_EQ(ts_matcher_scan(a, texts[i], strlen(texts[i]), &ra), TS_OK);
            CHECK_EQ(ts_matcher_scan(b, texts[i], strlen(texts[i]), &rb), TS_OK);
            CHECK_EQ(ra.nhits, rb.nhits);
            CHECK(!memcmp(ra.raw, rb.raw, ra.ncategories * sizeof *ra.raw));
            CHECK(!memcmp(ra.anchored, rb.anchored, ra.ncategories * sizeof *ra.anchored));
            CHECK(ra.nhits == rb.nhits && !memcmp(ra.hits, rb.hits, ra.nhits * sizeof *ra.hits));
        }
        ts_matcher_free(a);
        ts_matcher_free(b);
    }
    ts_lexicon_free(pre);
    ts_lexicon_free(fresh);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_lexicon LEXICON_SOURCE_DIR\n");
        return 2;
    }
    test_bad_files();
    test_good_file();
    test_variants();
    test_anchoring();
    test_random_reference();
    test_spans();
    test_normalised_input();
    test_identity();
    test_default(argv[1]);
    test_prebuilt();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
