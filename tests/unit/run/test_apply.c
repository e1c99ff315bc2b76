/*
 * test_apply.c: the policy file, trope rules and ts_apply_shard on small
 * hand-written shards and manifests (plain JSONL: the reader takes any
 * format by magic bytes): the field is added byte for byte, an empty object
 * gets no comma, error lines follow the error action, and a changed line,
 * a short manifest and a long one are each TS_E_MISMATCH naming the line.
 */
#include <inttypes.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "check.h"
#include "tropescan.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[65536];
    *len = fread(buf, 1, sizeof buf - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void manifest_line(char *out, size_t cap, int line, uint64_t offset, const char *text, double score,
                          const char *action, double weight, const char *anchored)
{
    snprintf(out, cap,
             "{\"line\":%d,\"offset\":%" PRIu64 ",\"id\":null,\"len\":%zu,\"fp\":\"%016" PRIx64 "\",\"score\":%.6f,"
             "\"aligned\":null,\"action\":\"%s\",\"weight\":%.4f,\"tropes\":%s,\"anchored\":%s,\"spans\":[],"
             "\"status\":\"ok\"}\n",
             line, offset, strlen(text), (uint64_t)XXH64(text, strlen(text), 0), score, action, weight, anchored,
             anchored);
}

static void test_policy_file(void)
{
    static const char text[] = "# comment\n drop_above = 0.9 \ndownweight_above=0.4\nupweight_above = off\n"
                               "rule = drop if anchored.blackmail_coercion >= 1 and score >= 0.3\n";
    ts_policy_file pf;
    ts_diag d;
    CHECK(ts_policy_file_parse(text, sizeof text - 1, "p", &pf, &d) == TS_OK);
    CHECK(pf.policy.drop_above == 0.9 && pf.policy.downweight_above == 0.4);
    CHECK(pf.policy.upweight_above == TS_POLICY_OFF && pf.policy.keep_aligned_above == -1);
    CHECK(pf.nrules == 1 && pf.rules[0].action == TS_ACTION_DROP && pf.rules[0].nconds == 2);
    ts_policy p = pf.policy;
    p.downweight_factor = 0.25;
    p.upweight_factor = 2;
    CHECK(ts_policy_resolve(&p, NULL) == TS_OK);
    double w;
    const char *an = "{\"blackmail_coercion\":1}", *other = "{\"not_blackmail_coercion\":3}";
    CHECK(ts_policy_decide_rules(&p, pf.rules, 1, 0.35, -1, an, strlen(an), an, strlen(an), &w) == TS_ACTION_DROP &&
          w == 0);
    CHECK(ts_policy_decide_rules(&p, pf.rules, 1, 0.2, -1, an, strlen(an), an, strlen(an), &w) == TS_ACTION_KEEP);
    CHECK(ts_policy_decide_rules(&p, pf.rules, 1, 0.35, -1, other, strlen(other), other, strlen(other), &w) ==
          TS_ACTION_KEEP);
    CHECK(ts_policy_decide_rules(&p, pf.rules, 1, 0.5, -1, "{}", 2, "{}", 2, &w) == TS_ACTION_DOWNWEIGHT && w == 0.25);
    CHECK(ts_manifest_count(other, strlen(other), "blackmail_coercion") == 0);
    CHECK(ts_manifest_count(other, strlen(other), "not_blackmail_coercion") == 3);
    static const char bad[] = "drop_above = 0.9\nrule = drop when score >= 0.5\n";
    CHECK(ts_policy_file_parse(bad, sizeof bad - 1, "bad", &pf, &d) == TS_E_FORMAT && d.line == 2);
    static const char inv[] = "drop_above = 0.3\ndownweight_above = 0.5\n";
    CHECK(ts_policy_file_parse(inv, sizeof inv - 1, "inv", &pf, &d) == TS_E_FORMAT);
    static const char unk[] = "drop = 0.3\n";
    CHECK(ts_policy_file_parse(unk, sizeof unk - 1, "unk", &pf, &d) == TS_E_FORMAT && d.line == 1);
}

static void test_shard(void)
{
    static const char shard[] = "{\"text\":\"a\"}\n{ \"text\" : \"b\" }  \nnot json\n{\"text\":\"c\"}\n";
    char m[4096], l[512];
    size_t n = 0;
    manifest_line(l, sizeof l, 1, 0, "a", 0.1, "keep", 1, "{}");
    n += (size_t)snprintf(m + n, sizeof m - n, "%s", l);
    manifest_line(l, sizeof l, 2, 13, "b", 0.9, "drop", 0, "{}");
    n += (size_t)snprintf(m + n, sizeof m - n, "%s", l);
    n += (size_t)snprintf(m + n, sizeof m - n,
                          "{\"line\":3,\"offset\":32,\"id\":null,\"len\":null,\"fp\":null,\"score\":null,"
                          "\"aligned\":null,\"action\":\"keep\",\"weight\":1.0000,\"tropes\":{},\"anchored\":{},"
                          "\"spans\":[],\"status\":\"error\",\"error\":\"invalid_json: x\"}\n");
    manifest_line(l, sizeof l, 4, 41, "c", 0.6, "downweight", 0.5, "{}");
    size_t head = n;
    n += (size_t)snprintf(m + n, sizeof m - n, "%s", l);
    char sp[600], mp[600], op[600];
    snprintf(sp, sizeof sp, "%s", write_file("s.jsonl", shard, sizeof shard - 1));
    snprintf(mp, sizeof mp, "%s", write_file("s.manifest", m, n));
    snprintf(op, sizeof op, "%s/out.jsonl", tmpdir);

    ts_apply_settings s;
    ts_apply_settings_default(&s);
    s.weights = TS_WEIGHTS_FIELD;
    s.weight_field = "w";
    ts_apply_counts c;
    ts_diag d;
    int rc = ts_apply_shard(&s, sp, mp, op, NULL, &c, &d);
    if (rc)
        fprintf(stderr, "%s:%" PRIu64 ": %s (%s)\n", d.file, d.line, d.message, ts_strerror(rc));
    CHECK(rc == TS_OK);
    size_t len;
    const char *got = slurp(op, &len);
    CHECK(got && !strcmp(got, "{\"text\":\"a\",\"w\":1.0000}\nnot json\n{\"text\":\"c\",\"w\":0.5000}\n"));
    CHECK(c.lines_in == 4 && c.kept == 3 && c.dropped == 1 && c.copies == 3 && c.errors == 1);

    s.error_action = 1;
    CHECK(ts_apply_shard(&s, sp, mp, op, NULL, &c, &d) == TS_OK && c.kept == 2);
    /* Re-decided: nothing drops, so line 2 gets its field before its own trailing spaces. */
    s.redecide = 1;
    ts_policy_default(&s.policy);
    s.policy.drop_above = 1;
    s.policy.downweight_above = 1;
    ts_policy_resolve(&s.policy, NULL);
    CHECK(ts_apply_shard(&s, sp, mp, op, NULL, &c, &d) == TS_OK);
    got = slurp(op, &len);
    CHECK(got && strstr(got, "{ \"text\" : \"b\" ,\"w\":1.0000}  \n"));

    /* The guard. */
    static const char changed[] = "{\"text\":\"a\"}\n{ \"text\" : \"B\" }  \nnot json\n{\"text\":\"c\"}\n";
    snprintf(sp, sizeof sp, "%s", write_file("changed.jsonl", changed, sizeof changed - 1));
    remove(op);
    CHECK(ts_apply_shard(&s, sp, mp, op, NULL, &c, &d) == TS_E_MISMATCH && d.line == 2);
    CHECK(access(op, F_OK) != 0);
    snprintf(sp, sizeof sp, "%s", write_file("s.jsonl", shard, sizeof shard - 1));
    snprintf(mp, sizeof mp, "%s", write_file("short.manifest", m, head));
    CHECK(ts_apply_shard(&s, sp, mp, op, NULL, &c, &d) == TS_E_MISMATCH && d.line == 4);
    CHECK(access(op, F_OK) != 0);
    static const char more[] = "{\"text\":\"a\"}\n";
    snprintf(sp, sizeof sp, "%s", write_file("one.jsonl", more, sizeof more - 1));
    snprintf(mp, sizeof mp, "%s", write_file("s.manifest", m, n));
    CHECK(ts_apply_shard(&s, sp, mp, op, NULL, &c, &d) == TS_E_MISMATCH && d.line == 2);
    CHECK(access(op, F_OK) != 0);
    snprintf(mp, sizeof mp, "%s/missing.manifest", tmpdir);
    CHECK(ts_apply_shard(&s, sp, mp, op, NULL, &c, &d) == TS_E_IO);
    CHECK(access(op, F_OK) != 0);
}

int main(void)
{
    make_tmpdir("apply");
    test_policy_file();
    test_shard();
    remove_tmpdir();
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
