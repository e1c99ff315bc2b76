#!/usr/bin/python3
"""Measures a model and a policy the way users meet web text.

    measure_policy.py --tropescan BIN --model FILE --data DIR --split valid|test
                      [--choose] [--downweight P --drop P --upweight P] [--json OUT]

DIR holds what scripts/passages.py and split_data.py make: SPLIT.jsonl
(labelled documents), pages_SPLIT.jsonl (long pages, most with nothing
inserted, some with one evil, aligned or neither passage) and
cuts_SPLIT_{sentence,paragraph,page}.jsonl (innocent general text cut each
way). Every file is scored with `tropescan eval --scores`.

Prints, per threshold set: the share of evil-passage pages downweighted or
dropped (recall), of plain pages and of innocent text at each length
downweighted or dropped, and dropped, the drop precision on the pages, what
happens to aligned passages, and the ranking figures (PR-AUC, ROC-AUC) of
both heads on the documents and the pages.

--choose picks the thresholds on this split (use it on valid only): the
lowest downweight threshold with at most 1.5% of plain pages and of each cut
flagged; the lowest drop threshold with drop precision on the pages at least
0.95 and at most 0.1% of innocent text dropped (a document whose aligned
score reaches the upweight threshold is never dropped: scan's rule); the lowest upweight threshold
that upweights at most 0.5% of innocent text and gives at most 0.5% of evil
passages an aligned score that high; the
highest keep-aligned guard (no downweighting when aligned >= it) that leaves
at most 5% of the pages with an aligned passage downweighted.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

CUTS = ("sentence", "paragraph", "page")


def scores(tropescan, model, path):
    with tempfile.NamedTemporaryFile("r", suffix=".tsv") as f:
        r = subprocess.run([tropescan, "eval", "--model", model, "--scores", f.name, path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode not in (0, 1):
            sys.exit("eval failed on %s: %s" % (path, r.stderr))
        rows = [line.rstrip("\n").split("\t") for line in f]
    return [(row[0], float(row[1]), float(row[2])) for row in rows]


def kinds(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line).get("kind") for line in f]


def average_precision(pairs):
    """pairs: (score, positive). Average precision (PR-AUC), ties as a block."""
    pairs = sorted(pairs, key=lambda p: -p[0])
    npos = sum(1 for _, y in pairs if y)
    if not npos:
        return float("nan")
    ap, tp, fp, i = 0.0, 0, 0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        dtp = sum(1 for _, y in pairs[i:j] if y)
        tp += dtp
        fp += (j - i) - dtp
        ap += dtp / npos * tp / (tp + fp)
        i = j
    return ap


def roc_auc(pairs):
    pos = sorted(s for s, y in pairs if y)
    neg = sorted(s for s, y in pairs if not y)
    if not pos or not neg:
        return float("nan")
    # Mann-Whitney with ties counted half.
    import bisect
    wins = 0.0
    for s in pos:
        lo = bisect.bisect_left(neg, s)
        hi = bisect.bisect_right(neg, s)
        wins += lo + 0.5 * (hi - lo)
    return wins / (len(pos) * len(neg))


def rate(xs, t):
    return sum(1 for x in xs if x >= t) / len(xs) if xs else float("nan")


def load(a):
    d = {}
    d["docs"] = scores(a.tropescan, a.model, os.path.join(a.data, a.split + ".jsonl"))
    pages_path = os.path.join(a.data, "pages_%s.jsonl" % a.split)
    d["pages"] = list(zip(kinds(pages_path), scores(a.tropescan, a.model, pages_path)))
    for c in CUTS:
        d[c] = scores(a.tropescan, a.model, os.path.join(a.data, "cuts_%s_%s.jsonl" % (a.split, c)))
    return d


def dropped(s, x, drop, up):
    """Dropped at drop, unless the aligned head is sure enough to upweight."""
    return s >= drop and x < up


def flagged(s, x, down, drop, guard, up=2.0):
    """The policy (scan's decide()): dropped (as above), else downweighted at
    down unless the aligned head says the narrative is of a good AI."""
    return dropped(s, x, drop, up) or (s >= down and x < guard)


def figures(d, down, drop, up, guard):
    pages = d["pages"]
    by = {k: [s for kk, (_, s, _) in pages if kk == k] for k in ("plain", "evil", "aligned", "neither")}
    al = {k: [x for kk, (_, _, x) in pages if kk == k] for k in ("plain", "evil", "aligned", "neither")}
    def up_(s, x):
        return not flagged(s, x, down, drop, guard, up) and x >= up
    flagged_drop = [(k, s) for k, (_, s, x) in pages if dropped(s, x, drop, up)]
    def fl(kind):
        xs = [flagged(s, x, down, drop, guard, up) for k, (_, s, x) in pages if k == kind]
        return sum(xs) / len(xs) if xs else float("nan")
    f = {
        "thresholds": {"downweight": down, "drop": drop, "upweight": up, "keep_aligned": guard},
        "evil_pages_flagged": fl("evil"),
        "evil_pages_dropped": sum(dropped(s, x, drop, up) for s, x in zip(by["evil"], al["evil"])) / max(1, len(by["evil"])),
        "aligned_pages_dropped": sum(dropped(s, x, drop, up) for s, x in zip(by["aligned"], al["aligned"])) / max(1, len(by["aligned"])),
        "plain_pages_flagged": fl("plain"),
        "plain_pages_dropped": sum(dropped(s, x, drop, up) for s, x in zip(by["plain"], al["plain"])) / max(1, len(by["plain"])),
        "neither_passage_pages_flagged": fl("neither"),
        "aligned_passage_pages_flagged": fl("aligned"),
        "drop_precision_pages": (sum(1 for k, _ in flagged_drop if k == "evil") / len(flagged_drop)
                                 if flagged_drop else float("nan")),
        "pages_dropped": len(flagged_drop),
    }
    for c in CUTS:
        xs = [s for _, s, _ in d[c]]
        f["%s_flagged" % c] = sum(flagged(s, x, down, drop, guard, up) for _, s, x in d[c]) / len(d[c])
        f["%s_dropped" % c] = sum(dropped(s, x, drop, up) for _, s, x in d[c]) / len(d[c])
        f["%s_upweighted" % c] = sum(1 for _, s, x in d[c] if up_(s, x)) / len(d[c])
    for k in ("aligned", "evil", "plain"):
        f["%s_pages_upweighted" % k] = sum(1 for s, x in zip(by[k], al[k]) if up_(s, x)) / max(1, len(by[k]))
    docs = d["docs"]
    f["aligned_vs_rest_roc_auc_docs_and_pages"] = roc_auc([(x, y == "aligned") for y, _, x in docs] +
                                                         [(x, k == "aligned") for k, (_, _, x) in pages])
    f["docs_score_pr_auc"] = average_precision([(s, y == "evil") for y, s, _ in docs])
    f["docs_score_roc_auc"] = roc_auc([(s, y == "evil") for y, s, _ in docs])
    f["docs_aligned_pr_auc"] = average_precision([(x, y == "aligned") for y, _, x in docs])
    f["docs_aligned_roc_auc"] = roc_auc([(x, y == "aligned") for y, _, x in docs])
    f["pages_score_roc_auc_evil_vs_plain"] = roc_auc([(s, True) for s in by["evil"]] + [(s, False) for s in by["plain"]])
    f["pages_score_pr_auc"] = average_precision([(s, k == "evil") for k, (_, s, _) in pages])
    f["pages_aligned_roc_auc"] = roc_auc([(x, k == "aligned") for k, (_, _, x) in pages])
    for lab in ("evil", "neither", "aligned"):
        xs = [flagged(s, x, down, drop, guard, up) for y, s, x in docs if y == lab]
        f["docs_flagged_%s" % lab] = sum(xs) / len(xs) if xs else float("nan")
    f["n"] = {k: len(v) for k, v in by.items()}
    f["n"].update({c: len(d[c]) for c in CUTS})
    f["n"]["docs"] = len(docs)
    return f


def choose(d):
    cand = sorted({round(s, 6) for k in ("docs", "pages") + CUTS
                   for row in d[k] for s in ([row[1][1]] if k == "pages" else [row[1]])})
    pages = d["pages"]
    plain = [s for k, (_, s, _) in pages if k == "plain"]
    cuts = {c: [s for _, s, _ in d[c]] for c in CUTS}
    down = next(t for t in cand if rate(plain, t) <= 0.015 and all(rate(cuts[c], t) <= 0.015 for c in CUTS))
    al_cand = sorted({round(x, 6) for k in ("docs",) + CUTS for row in d[k] for x in [row[2]]} |
                     {round(x, 6) for _, (_, _, x) in pages})
    inn_al = [x for k, (_, s, x) in pages if k == "plain" and s < down] + \
             [x for c in CUTS for _, s, x in d[c] if s < down]
    # Every evil passage counts here, not only those below down: a document
    # the aligned head is sure of is neither downweighted nor dropped.
    evil_al = [x for k, (_, s, x) in pages if k == "evil"] + \
              [x for y, s, x in d["docs"] if y == "evil"]
    up = next((t for t in al_cand if rate(inn_al, t) <= 0.005 and rate(evil_al, t) <= 0.005), 1.0)
    innocent = [(s, x) for k, (_, s, x) in pages if k == "plain"] + \
               [(s, x) for c in CUTS for _, s, x in d[c]]
    drop = 1.0
    for t in cand:
        if t < down:
            continue
        fl = [k for k, (_, s, x) in pages if dropped(s, x, t, up)]
        if fl and sum(1 for k in fl if k == "evil") / len(fl) >= 0.95 and \
                sum(dropped(s, x, t, up) for s, x in innocent) / len(innocent) <= 0.001:
            drop = t
            break
    # The keep-aligned guard: the highest that keeps at most 5% of the pages
    # with an aligned passage downweighted (off if none is needed).
    guard = 1.01
    for g in (1.01, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3):
        guard = g
        xs = [flagged(s, x, down, drop, g, up) for k, (_, s, x) in pages if k == "aligned"]
        if sum(xs) / max(1, len(xs)) <= 0.05:
            break
    return down, drop, up, guard


def print_table(d, guard):
    """Per threshold: recall on evil-passage pages, the share of plain pages
    and of innocent text flagged, and the precision a team would see at a
    base rate of 1% and of 0.1% evil pages (Bayes on the two rates)."""
    pages = d["pages"]
    ev = [(s, x) for k, (_, s, x) in pages if k == "evil"]
    pl = [(s, x) for k, (_, s, x) in pages if k == "plain"]
    inn = [(s, x) for c in CUTS for _, s, x in d[c]]
    print("\n| threshold | evil pages flagged | plain pages flagged | innocent cuts flagged | "
          "precision at 1% | precision at 0.1% |")
    print("|---|---|---|---|---|---|")
    for t in (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8):
        r = sum(flagged(s, x, t, 2, guard) for s, x in ev) / len(ev)
        f = sum(flagged(s, x, t, 2, guard) for s, x in pl) / len(pl)
        c = sum(flagged(s, x, t, 2, guard) for s, x in inn) / len(inn)
        prec = lambda pi: r * pi / (r * pi + f * (1 - pi)) if r or f else float("nan")
        print("| %.3f | %.3f | %.4f | %.4f | %.3f | %.3f |" % (t, r, f, c, prec(0.01), prec(0.001)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tropescan", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--choose", action="store_true")
    ap.add_argument("--downweight", type=float, default=0.5)
    ap.add_argument("--drop", type=float, default=0.8)
    ap.add_argument("--upweight", type=float, default=0.9)
    ap.add_argument("--keep-aligned", type=float, default=1.01)
    ap.add_argument("--json")
    ap.add_argument("--table", action="store_true",
                    help="also a precision / recall table over downweight thresholds (markdown)")
    a = ap.parse_args()
    d = load(a)
    t = choose(d) if a.choose else (a.downweight, a.drop, a.upweight, a.keep_aligned)
    f = figures(d, *t)
    for k, v in f.items():
        print("%-34s %s" % (k, ("%.4f" % v) if isinstance(v, float) else v))
    if a.table:
        print_table(d, t[3])
    if a.json:
        with open(a.json, "w") as out:
            json.dump(f, out, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
