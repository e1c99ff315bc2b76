/* estimate.c: prevalence estimates with their uncertainty (see estimate.h). */
#include <math.h>

#include "estimate.h"

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

int ts_wilson(uint64_t k, uint64_t n, double z, ts_interval *out)
{
    if (n == 0 || k > n)
        return -1;
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double denom = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / denom;
    double half = z / denom * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    /* At k = 0 (or n) the bound is 0 (or 1) exactly; rounding must not
     * move it below (or above). */
    out->lo = k == 0 ? 0 : clamp01(centre - half);
    out->hi = k == n ? 1 : clamp01(centre + half);
    return 0;
}

/* The variance of a proportion x / n with Agresti and Coull's plus four. */
static double plus_four_var(uint64_t x, uint64_t n)
{
    double p = ((double)x + 2) / ((double)n + 4);
    return p * (1 - p) / (double)n;
}

int ts_adjusted_count(uint64_t k, uint64_t n, const ts_confusion *c, double z, ts_adjusted *out)
{
    if (n == 0 || k > n)
        return TS_ADJ_NO_DOCUMENTS;
    uint64_t npos = c->tp + c->fn, nneg = c->fp + c->tn;
    if (npos == 0)
        return TS_ADJ_NO_POSITIVES;
    if (nneg == 0)
        return TS_ADJ_NO_NEGATIVES;
    double tpr = (double)c->tp / (double)npos, fpr = (double)c->fp / (double)nneg;
    double gap = tpr - fpr;
    if (!(gap > 0))
        return TS_ADJ_USELESS;
    double q = (double)k / (double)n;
    double raw = (q - fpr) / gap, p = clamp01(raw);
    /* Delta method for p = (q - fpr) / (tpr - fpr) with q, tpr and fpr
     * independent: dp/dq = 1/gap, dp/dtpr = -p/gap, dp/dfpr = -(1 - p)/gap. */
    double var = (plus_four_var(k, n) + p * p * plus_four_var(c->tp, npos) +
                  (1 - p) * (1 - p) * plus_four_var(c->fp, nneg)) / (gap * gap);
    double half = z * sqrt(var);
    out->tpr = tpr;
    out->fpr = fpr;
    out->raw = raw;
    out->estimate = p;
    out->ci.lo = clamp01(p - half);
    out->ci.hi = clamp01(p + half);
    return 0;
}

const char *ts_adjusted_reason(int err)
{
    switch (err) {
    case TS_ADJ_NO_DOCUMENTS: return "no scored documents";
    case TS_ADJ_NO_POSITIVES: return "the evaluation had no positive documents";
    case TS_ADJ_NO_NEGATIVES: return "the evaluation had no negative documents";
    case TS_ADJ_USELESS: return "the classifier's true-positive rate is not above its false-positive rate";
    default: return "no estimate";
    }
}
