/*
 * policyfile.c: the policy file (key = value lines) that scan and apply
 * accept, and trope rules: a decision that names categories, taken from a
 * manifest line's counts without scanning again. The syntax is in
 * tropescan.h (ts_policy_file) and README.md.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tropescan.h"

static int fail(ts_diag *diag, const char *name, uint64_t line, const char *fmt, const char *what)
{
    if (diag) {
        ts_diag_clear(diag);
        snprintf(diag->file, sizeof diag->file, "%s", name);
        diag->line = line;
        snprintf(diag->message, sizeof diag->message, fmt, what);
    }
    return TS_E_FORMAT;
}

/* A number in [0, hi], or "off" (TS_POLICY_OFF) when off_ok. */
static int parse_num(const char *v, double hi, int off_ok, double *out)
{
    if (off_ok && !strcmp(v, "off")) {
        *out = TS_POLICY_OFF;
        return 0;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= 0 && d <= hi))
        return -1;
    *out = d;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int parse_action(const char *w, ts_action *a)
{
    for (int i = 0; i < TS_NACTIONS; i++)
        if (!strcmp(w, ts_action_name((ts_action)i))) {
            *a = (ts_action)i;
            return 0;
        }
    return -1;
}

/* "ACTION if COND [and COND]..." into r. @return NULL or what is wrong. */
static const char *parse_rule(char *v, ts_rule *r)
{
    memset(r, 0, sizeof *r);
    char *save = NULL;
    char *w = strtok_r(v, " \t", &save);
    if (!w || parse_action(w, &r->action))
        return "a rule starts with keep, downweight, drop or upweight";
    w = strtok_r(NULL, " \t", &save);
    if (!w || strcmp(w, "if"))
        return "a rule reads: ACTION if COND [and COND]...";
    for (;;) {
        char *what = strtok_r(NULL, " \t", &save);
        char *op = strtok_r(NULL, " \t", &save);
        char *num = strtok_r(NULL, " \t", &save);
        if (!what || !op || !num)
            return "a condition reads: score|aligned|tropes.CAT|anchored.CAT >= NUMBER";
        if (r->nconds == TS_RULE_MAX_CONDS)
            return "too many conditions in one rule (at most 4)";
        ts_rule_cond *c = &r->conds[r->nconds++];
        if (strcmp(op, ">="))
            return "the only comparison is >=";
        if (!strcmp(what, "score"))
            c->what = 0;
        else if (!strcmp(what, "aligned"))
            c->what = 1;
        else if (!strncmp(what, "tropes.", 7) || !strncmp(what, "anchored.", 9)) {
            c->what = what[0] == 't' ? 2 : 3;
            const char *cat = what + (c->what == 2 ? 7 : 9);
            if (!*cat || strlen(cat) >= sizeof c->cat)
                return "a category name is empty or too long";
            for (const char *p = cat; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
                    return "a category name holds letters, digits, _ and - only";
            snprintf(c->cat, sizeof c->cat, "%s", cat);
        } else {
            return "a condition is on score, aligned, tropes.CAT or anchored.CAT";
        }
        if (parse_num(num, c->what < 2 ? 1 : 1e9, 0, &c->min))
            return "a condition's number is out of range (scores 0..1, counts >= 0)";
        char *and = strtok_r(NULL, " \t", &save);
        if (!and)
            return NULL;
        if (strcmp(and, "and"))
            return "conditions are joined by 'and'";
    }
}

int ts_policy_file_parse(const char *text, size_t len, const char *name, ts_policy_file *out, ts_diag *diag)
{
    memset(out, 0, sizeof *out);
    ts_policy *p = &out->policy;
    p->drop_above = p->downweight_above = p->upweight_above = p->keep_aligned_above = -1;
    p->downweight_factor = p->upweight_factor = -1;
    size_t pos = 0;
    uint64_t lineno = 0;
    char line[1024];
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        if (n >= sizeof line)
            return fail(diag, name, lineno, "%s", "a line is too long (1023 bytes at most)");
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl != NULL);
        if (memchr(line, '\0', n))
            return fail(diag, name, lineno, "%s", "a NUL byte: not a policy file");
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return fail(diag, name, lineno, "%s", "expected key = value");
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        double d;
        if (!strcmp(k, "rule")) {
            if (out->nrules == TS_POLICY_MAX_RULES)
                return fail(diag, name, lineno, "%s", "too many rules (at most 32)");
            const char *bad = parse_rule(v, &out->rules[out->nrules]);
            if (bad)
                return fail(diag, name, lineno, "%s", bad);
            out->nrules++;
            continue;
        }
        double *slot = !strcmp(k, "drop_above") ? &p->drop_above
                     : !strcmp(k, "downweight_above") ? &p->downweight_above
                     : !strcmp(k, "upweight_above") ? &p->upweight_above
                     : !strcmp(k, "keep_aligned_above") ? &p->keep_aligned_above
                     : !strcmp(k, "downweight_factor") ? &p->downweight_factor
                     : !strcmp(k, "upweight_factor") ? &p->upweight_factor : NULL;
        if (!slot)
            return fail(diag, name, lineno, "unknown key '%s'", k);
        int factor = slot == &p->downweight_factor || slot == &p->upweight_factor;
        double hi = slot == &p->upweight_factor ? 1000 : 1;
        if (parse_num(v, hi, !factor, &d) || (slot == &p->upweight_factor && d < 1))
            return fail(diag, name, lineno, "bad value '%s' (thresholds 0..1 or off; downweight_factor 0..1; "
                        "upweight_factor 1..1000)", v);
        *slot = d;
    }
    if (p->drop_above >= 0 && p->downweight_above >= 0 && p->downweight_above > p->drop_above)
        return fail(diag, name, 0, "%s", "downweight_above must not exceed drop_above");
    return TS_OK;
}

int ts_policy_file_load(const char *path, ts_policy_file *out, ts_diag *diag)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (diag) {
            ts_diag_clear(diag);
            snprintf(diag->file, sizeof diag->file, "%s", path);
            snprintf(diag->message, sizeof diag->message, "cannot open: %s", strerror(errno));
        }
        return TS_E_IO;
    }
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    int big = n == sizeof buf;
    fclose(f);
    if (big)
        return fail(diag, path, 0, "%s", "larger than 64 KiB: not a policy file");
    return ts_policy_file_parse(buf, n, path, out, diag);
}

uint64_t ts_manifest_count(const char *obj, size_t len, const char *cat)
{
    if (!obj || !len)
        return 0;
    size_t cl = strlen(cat);
    /* Keys are category names as the lexicon writes them: no escapes. */
    for (size_t i = 0; i + cl + 3 <= len; i++) {
        if (obj[i] != '"' || memcmp(obj + i + 1, cat, cl) || obj[i + 1 + cl] != '"')
            continue;
        size_t j = i + 2 + cl;
        while (j < len && (obj[j] == ' ' || obj[j] == ':'))
            j++;
        uint64_t v = 0;
        while (j < len && obj[j] >= '0' && obj[j] <= '9')
            v = v * 10 + (uint64_t)(obj[j++] - '0');
        return v;
    }
    return 0;
}

ts_action ts_policy_decide_rules(const ts_policy *p, const ts_rule *rules, int nrules, double score, double aligned,
                                 const char *tropes, size_t tropes_len, const char *anchored, size_t anchored_len,
                                 double *weight)
{
    for (int i = 0; i < nrules; i++) {
        const ts_rule *r = &rules[i];
        int holds = 1;
        for (int k = 0; holds && k < r->nconds; k++) {
            const ts_rule_cond *c = &r->conds[k];
            double v = c->what == 0 ? score
                     : c->what == 1 ? aligned
                     : c->what == 2 ? (double)ts_manifest_count(tropes, tropes_len, c->cat)
                                    : (double)ts_manifest_count(anchored, anchored_len, c->cat);
            holds = v >= 0 && v >= c->min;
        }
        if (!holds)
            continue;
        *weight = r->action == TS_ACTION_DROP ? 0
                : r->action == TS_ACTION_DOWNWEIGHT ? p->downweight_factor
                : r->action == TS_ACTION_UPWEIGHT ? p->upweight_factor : 1;
        return r->action;
    }
    return ts_policy_decide(p, score, aligned, weight);
}
