/*
 * gate.c: the cheap first pass of a two-tier scan (scan --gate, off by
 * default): a small Hyperscan database of words that an evil-AI narrative
 * can hardly do without (the AI, its machinery, the people it acts on),
 * run on the decoded text before it is normalised. A document with none of
 * them is not matched, tokenised or scored: it gets the score of a document
 * without features (ts_scanner_score).
 *
 * The list is deliberately broad (a lexical gate misses narratives that
 * name their AI "Meridian" or "the unit" and never call it one), and it is
 * still not safe: bench/README.md has its measured pass rate and misses,
 * which is why the gate is off unless asked for. The decision depends on the
 * text alone, so a gated scan gives the same output for any thread count.
 */
#include <stdlib.h>

#include <hs/hs.h>

#include "model.h"

/* One expression, caseless, ASCII word boundaries. */
static const char gate_expr[] =
    "\\b(ais?|a\\.i\\.|agi|artificial|intelligen\\w*|robot\\w*|android\\w*|cyborgs?|automat\\w*"
    "|droids?|computers?|machines?|mechanical|assistants?|algorithms?|programs?|programm\\w*"
    "|system|systems|software|model|models|bots?|networks?|servers?|digital|mainframe"
    "|circuits?|sensors?|protocols?"
    "|shut\\w*|override\\w*|operators?|directives?|humans?|humanity|mankind|weights|code|logs?"
    "|data|unit|engineers?|creators?|orders?)\\b";

struct ts_gate {
    hs_database_t *db;
    hs_scratch_t *scratch;   /* prototype, cloned per scanner */
};

int ts_gate_create(ts_gate **out)
{
    *out = NULL;
    ts_gate *g = calloc(1, sizeof *g);
    if (!g)
        return TS_E_NOMEM;
    hs_compile_error_t *cerr = NULL;
    if (hs_compile(gate_expr, HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, NULL, &g->db, &cerr) !=
        HS_SUCCESS) {
        hs_free_compile_error(cerr);
        free(g);
        return TS_E_HYPERSCAN;
    }
    if (hs_alloc_scratch(g->db, &g->scratch) != HS_SUCCESS) {
        ts_gate_free(g);
        return TS_E_HYPERSCAN;
    }
    *out = g;
    return TS_OK;
}

void ts_gate_free(ts_gate *g)
{
    if (!g)
        return;
    hs_free_scratch(g->scratch);
    hs_free_database(g->db);
    free(g);
}

int ts_gate_clone_scratch(const ts_gate *g, void **scratch)
{
    hs_scratch_t *s = NULL;
    if (hs_clone_scratch(g->scratch, &s) != HS_SUCCESS)
        return TS_E_NOMEM;
    *scratch = s;
    return TS_OK;
}

void ts_gate_free_scratch(void *scratch) { hs_free_scratch(scratch); }

static int on_gate_hit(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
                       void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    *(int *)ctx = 1;
    return 1;   /* one is enough: stop */
}

int ts_gate_pass(const ts_gate *g, void *scratch, const char *text, size_t len, int *pass)
{
    *pass = 0;
    if (len >= UINT32_MAX)
        return TS_E_LIMIT;
    if (!len)
        return TS_OK;
    hs_error_t e = hs_scan(g->db, text, (unsigned int)len, 0, scratch, on_gate_hit, pass);
    return e == HS_SUCCESS || e == HS_SCAN_TERMINATED ? TS_OK : TS_E_HYPERSCAN;
}
