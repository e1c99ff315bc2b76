/*
 * test_estimate.c: ts_wilson and ts_adjusted_count against known answers:
 * Newcombe's published Wilson intervals, and an adjusted count worked out by
 * hand (the working is in the comments).
 */
#include <math.h>
#include <stdio.h>

#include "estimate.h"

static int failures, checks;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        checks++;                                                                   \
        if (!(cond)) {                                                              \
            failures++;                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double va_ = (a), vb_ = (b);                                                       \
        checks++;                                                                          \
        if (!(fabs(va_ - vb_) <= (tol))) {                                                 \
            failures++;                                                                    \
            fprintf(stderr, "%s:%d: %s == %.7f, expected %.7f\n", __FILE__, __LINE__, #a, \
                    va_, vb_);                                                             \
        }                                                                                  \
    } while (0)

/* Newcombe (1998), "Two-sided confidence intervals for the single
 * proportion", Statistics in Medicine 17:857-872, Table I, method 3 (the
 * score interval without continuity correction), to 4 decimals. */
static void test_wilson_published(void)
{
    static const struct {
        uint64_t k, n;
        double lo, hi;
    } t[] = {
        {81, 263, 0.2553, 0.3662},
        {15, 148, 0.0624, 0.1605},
        {0, 20, 0.0000, 0.1611},
        {1, 29, 0.0061, 0.1718},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ts_interval ci;
        CHECK(ts_wilson(t[i].k, t[i].n, 1.96, &ci) == 0);
        CHECK_NEAR(ci.lo, t[i].lo, 0.00005);
        CHECK_NEAR(ci.hi, t[i].hi, 0.00005);
    }
}

static void test_wilson_by_hand(void)
{
    ts_interval ci;
    /* 0 of 10: lo = 0, hi = z^2 / (n + z^2) = 3.8416 / 13.8416 = 0.2775402. */
    CHECK(ts_wilson(0, 10, 1.96, &ci) == 0);
    CHECK(ci.lo == 0);
    CHECK_NEAR(ci.hi, 0.2775402, 1e-7);
    /* 10 of 10 mirrors it, with hi exactly 1. */
    CHECK(ts_wilson(10, 10, 1.96, &ci) == 0);
    CHECK(ci.hi == 1);
    CHECK_NEAR(ci.lo, 1 - 0.2775402, 1e-7);
    /* 5 of 10: centre 0.5, half = (1.96 / 1.38416) * sqrt(0.025 + 0.0096040)
     * = 1.4160212 * 0.1860215 = 0.2634104. */
    CHECK(ts_wilson(5, 10, 1.96, &ci) == 0);
    CHECK_NEAR(ci.lo, 0.5 - 0.2634104, 1e-7);
    CHECK_NEAR(ci.hi, 0.5 + 0.2634104, 1e-7);
    /* No interval without documents, or with more successes than trials. */
    ci.lo = ci.hi = -7;
    CHECK(ts_wilson(0, 0, 1.96, &ci) == -1);
    CHECK(ts_wilson(3, 2, 1.96, &ci) == -1);
    CHECK(ci.lo == -7 && ci.hi == -7);
    /* A billion documents: narrow, and still contains the share. */
    CHECK(ts_wilson(1000000, 1000000000, TS_Z95, &ci) == 0);
    CHECK(ci.lo < 0.001 && ci.hi > 0.001 && ci.hi - ci.lo < 0.00001);
}

static void test_adjusted_by_hand(void)
{
    /* q = 30/100 = 0.3; tpr = 80/100 = 0.8; fpr = 10/100 = 0.1.
     * p = (0.3 - 0.1) / 0.7 = 0.2857143.
     * Plus-four variances: q~ = 32/104 = 0.3076923, q~(1-q~)/100 = 0.0021302;
     *   tpr~ = 82/104 = 0.7884615, /100: 0.0016679, times p^2 = 0.0816327: 0.0001362;
     *   fpr~ = 12/104 = 0.1153846, /100: 0.0010207, times (1-p)^2 = 0.5102041: 0.0005208.
     * var = (0.0021302 + 0.0001362 + 0.0005208) / 0.49 = 0.0056880; sd 0.0754187;
     * half = 1.96 * sd = 0.1478206: [0.1378937, 0.4335349]. */
    ts_confusion c = {.tp = 80, .fn = 20, .fp = 10, .tn = 90};
    ts_adjusted a;
    CHECK(ts_adjusted_count(30, 100, &c, 1.96, &a) == 0);
    CHECK_NEAR(a.tpr, 0.8, 1e-12);
    CHECK_NEAR(a.fpr, 0.1, 1e-12);
    CHECK_NEAR(a.estimate, 0.2857143, 1e-7);
    CHECK_NEAR(a.ci.lo, 0.1378937, 2e-6);
    CHECK_NEAR(a.ci.hi, 0.4335349, 2e-6);

    /* Fewer flagged than false positives explain: raw (0.05 - 0.1) / 0.7 =
     * -0.0714286, clamped to 0; the interval starts at 0 and is not empty. */
    CHECK(ts_adjusted_count(5, 100, &c, 1.96, &a) == 0);
    CHECK_NEAR(a.raw, -0.0714286, 1e-7);
    CHECK(a.estimate == 0);
    CHECK(a.ci.lo == 0 && a.ci.hi > 0.05);
    /* All flagged: raw (1 - 0.1) / 0.7 = 1.2857143, clamped to 1. */
    CHECK(ts_adjusted_count(100, 100, &c, 1.96, &a) == 0);
    CHECK(a.estimate == 1 && a.ci.hi == 1 && a.ci.lo < 1);

    /* A perfect classifier measured on few documents is not exact: with
     * tpr = 1 and fpr = 0 from 10 + 10 documents, p = q = 0.5, and the
     * interval is wider than the one q alone would have. */
    ts_confusion perfect = {.tp = 10, .fn = 0, .fp = 0, .tn = 10};
    ts_interval w;
    CHECK(ts_adjusted_count(500, 1000, &perfect, 1.96, &a) == 0);
    CHECK(ts_wilson(500, 1000, 1.96, &w) == 0);
    CHECK_NEAR(a.estimate, 0.5, 1e-12);
    CHECK(a.ci.hi - a.ci.lo > w.hi - w.lo);

    /* No estimate: no documents, no positives or negatives, a useless
     * classifier (tpr == fpr). */
    ts_confusion nopos = {.fp = 3, .tn = 7}, noneg = {.tp = 3, .fn = 7};
    ts_confusion useless = {.tp = 10, .fn = 10, .fp = 10, .tn = 10};
    CHECK(ts_adjusted_count(0, 0, &c, 1.96, &a) == TS_ADJ_NO_DOCUMENTS);
    CHECK(ts_adjusted_count(1, 10, &nopos, 1.96, &a) == TS_ADJ_NO_POSITIVES);
    CHECK(ts_adjusted_count(1, 10, &noneg, 1.96, &a) == TS_ADJ_NO_NEGATIVES);
    CHECK(ts_adjusted_count(1, 10, &useless, 1.96, &a) == TS_ADJ_USELESS);
    CHECK(ts_adjusted_reason(TS_ADJ_USELESS)[0] != 0);
}

int main(void)
{
    test_wilson_published();
    test_wilson_by_hand();
    test_adjusted_by_hand();
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
