/*
 * fuzz_policy.c: libFuzzer target for the policy file parser and the trope
 * rules (src/lib/policyfile.c: ts_policy_file_parse, ts_policy_decide_rules,
 * ts_manifest_count): a policy file is outside data, given to scan and apply.
 *
 * The input is the file's bytes. Checks, beyond "does not crash": a parsed
 * file's thresholds are unset (-1), "off" (2) or in [0, 1], at most 32 rules
 * of 1..4 conditions each; deciding with its rules gives an action that
 * exists, with a weight >= 0; the counts lookup over the input (as a counts
 * object) never reads past it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tropescan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ts_policy_file pf;
    ts_diag d;
    (void)ts_manifest_count((const char *)data, size, "power_seeking");
    if (ts_policy_file_parse((const char *)data, size, "fuzz", &pf, &d) != TS_OK)
        return 0;
    const double th[] = {pf.policy.drop_above, pf.policy.downweight_above, pf.policy.upweight_above,
                         pf.policy.keep_aligned_above};
    for (int i = 0; i < 4; i++)
        if (!(th[i] == -1 || th[i] == TS_POLICY_OFF || (th[i] >= 0 && th[i] <= 1)))
            abort();
    if (pf.nrules < 0 || pf.nrules > TS_POLICY_MAX_RULES)
        abort();
    for (int i = 0; i < pf.nrules; i++)
        if (pf.rules[i].nconds < 1 || pf.rules[i].nconds > TS_RULE_MAX_CONDS)
            abort();
    ts_policy p = pf.policy;
    if (ts_policy_resolve(&p, NULL) != TS_OK)
        return 0;
    if (p.downweight_factor < 0)
        p.downweight_factor = TS_DEFAULT_DOWNWEIGHT_FACTOR;
    if (p.upweight_factor < 0)
        p.upweight_factor = TS_DEFAULT_UPWEIGHT_FACTOR;
    static const char tropes[] = "{\"ai_entity\":2,\"power_seeking\":1}", anchored[] = "{\"power_seeking\":1}";
    const double scores[] = {-1, 0, 0.3, 0.5, 0.99, 1};
    for (int i = 0; i < 6; i++) {
        double w = -1;
        ts_action a = ts_policy_decide_rules(&p, pf.rules, pf.nrules, scores[i], scores[5 - i], tropes,
                                             strlen(tropes), anchored, strlen(anchored), &w);
        if ((unsigned)a >= TS_NACTIONS || !(w >= 0))
            abort();
    }
    return 0;
}
