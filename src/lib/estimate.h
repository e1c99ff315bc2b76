/*
 * estimate.h: prevalence estimates with their uncertainty (tropescan report).
 *
 * Two estimates of the share of documents that tell an evil-AI narrative
 * come from counts alone:
 *   - classify-and-count: k of n documents scored at or above a threshold,
 *     with a Wilson score interval (which, unlike the normal approximation,
 *     stays inside [0, 1] and is not empty when k is 0 or n);
 *   - the adjusted count (Rogan and Gladen, 1978): classify-and-count
 *     corrected with the classifier's measured true- and false-positive rates,
 *     (q - fpr) / (tpr - fpr), clamped to [0, 1]; its interval is the delta
 *     method's, counting the uncertainty of q AND of the two rates (from the
 *     sizes of the labelled sets they were measured on). The variance uses
 *     Agresti and Coull's "plus four" proportions, (x + 2) / (n + 4), so that a
 *     rate measured as exactly 0 or 1 does not claim to be known exactly.
 * All functions are pure; z is the normal quantile (TS_Z95 for 95%).
 */
#ifndef TS_ESTIMATE_H
#define TS_ESTIMATE_H

#include <stdint.h>

#define TS_Z95 1.959963984540054

typedef struct ts_interval {
    double lo, hi;
} ts_interval;

/* Wilson score interval for k successes in n trials.
 * @return 0, or -1 (out untouched) when n is 0 or k > n. */
int ts_wilson(uint64_t k, uint64_t n, double z, ts_interval *out);

/* A confusion matrix measured on labelled data at one threshold. */
typedef struct ts_confusion {
    uint64_t tp, fn, fp, tn;
} ts_confusion;

typedef struct ts_adjusted {
    double tpr, fpr;        /* the rates used: tp / (tp + fn), fp / (fp + tn) */
    double raw;             /* (q - fpr) / (tpr - fpr) before clamping */
    double estimate;        /* raw clamped to [0, 1] */
    ts_interval ci;         /* estimate +- z * sd, clamped to [0, 1] */
} ts_adjusted;

/* Why an adjusted count cannot be made (the return values below). */
enum {
    TS_ADJ_NO_DOCUMENTS = -1,   /* n is 0 or k > n */
    TS_ADJ_NO_POSITIVES = -2,   /* tp + fn is 0: no true-positive rate */
    TS_ADJ_NO_NEGATIVES = -3,   /* fp + tn is 0: no false-positive rate */
    TS_ADJ_USELESS = -4,        /* tpr <= fpr: the classifier does not separate */
};

/* The adjusted count of k flagged documents out of n, with the classifier's
 * confusion matrix c measured at the same threshold.
 * @return 0, or one of TS_ADJ_* (out untouched). */
int ts_adjusted_count(uint64_t k, uint64_t n, const ts_confusion *c, double z, ts_adjusted *out);

/* @return a short reason for a TS_ADJ_* value. */
const char *ts_adjusted_reason(int err);

#endif /* TS_ESTIMATE_H */
