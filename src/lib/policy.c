/*
 * policy.c: scores -> action and weight, for every command (scan writes the
 * decision into manifests, eval measures it).
 *
 * The aligned head can overrule the score head: a document it scores at or
 * above keep_aligned_above is never downweighted, and one it is sure enough
 * of to upweight is never dropped either (the score head fires on stories
 * of an AI under pressure, good and bad; data/README.md measures both guards).
 */
#include "tropescan.h"

const char *ts_action_name(ts_action a)
{
    static const char *const names[] = {"keep", "downweight", "drop", "upweight"};
    return (unsigned)a < TS_NACTIONS ? names[a] : "keep";
}

void ts_policy_default(ts_policy *p)
{
    p->drop_above = -1;
    p->downweight_above = -1;
    p->downweight_factor = TS_DEFAULT_DOWNWEIGHT_FACTOR;
    p->upweight_above = -1;
    p->upweight_factor = TS_DEFAULT_UPWEIGHT_FACTOR;
    p->keep_aligned_above = -1;
}

int ts_policy_resolve(ts_policy *p, const ts_model *model)
{
    double m[TS_POLICY_N] = {0, 0, 0, 0};
    if (model)
        ts_model_policy(model, m);
    if (p->downweight_above < 0)
        p->downweight_above = m[TS_POLICY_DOWNWEIGHT] > 0 ? m[TS_POLICY_DOWNWEIGHT] : TS_DEFAULT_DOWNWEIGHT_ABOVE;
    if (p->drop_above < 0)
        p->drop_above = m[TS_POLICY_DROP] > 0 ? m[TS_POLICY_DROP] : TS_DEFAULT_DROP_ABOVE;
    if (p->upweight_above < 0)
        p->upweight_above = m[TS_POLICY_UPWEIGHT] > 0 ? m[TS_POLICY_UPWEIGHT] : TS_POLICY_OFF;
    if (p->keep_aligned_above < 0)
        p->keep_aligned_above = m[TS_POLICY_KEEP_ALIGNED] > 0 ? m[TS_POLICY_KEEP_ALIGNED] : TS_POLICY_OFF;
    return p->downweight_above > p->drop_above ? TS_E_INVALID : TS_OK;
}

ts_action ts_policy_decide(const ts_policy *p, double score, double aligned, double *weight)
{
    if (score >= 0 && score >= p->drop_above && !(aligned >= 0 && aligned >= p->upweight_above)) {
        *weight = 0;
        return TS_ACTION_DROP;
    }
    if (score >= 0 && score >= p->downweight_above && !(aligned >= 0 && aligned >= p->keep_aligned_above)) {
        *weight = p->downweight_factor;
        return TS_ACTION_DOWNWEIGHT;
    }
    if (aligned >= 0 && aligned >= p->upweight_above) {
        *weight = p->upweight_factor;
        return TS_ACTION_UPWEIGHT;
    }
    *weight = 1;
    return TS_ACTION_KEEP;
}
