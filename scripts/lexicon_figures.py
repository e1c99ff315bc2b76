#!/usr/bin/python3
"""Measures the lexicon on labelled real text: per category, the share of
positive documents with an anchored hit and the share of ordinary documents
with any hit. Prints the Markdown tables kept in lexicons/README.md.

    scripts/lexicon_figures.py --tropescan BUILD/src/cli/tropescan \\
        [--corpora ../shared/corpora] [--synthetic data/synthetic] \\
        [--lexicon DIR] [--noisy N]

The corpora directory (positives.jsonl, hard_negatives.jsonl, general.jsonl,
see its README.md) sits next to the repository, not in it: it is not in a
user's clone. Everything is counted by `tropescan lexicon stats --json`.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stats(tropescan, files, where=None, lexicon=None):
    cmd = [tropescan, "lexicon", "stats", "--json"]
    if where:
        cmd += ["--where", where]
    if lexicon:
        cmd += ["--lexicon", lexicon]
    cmd += files
    out = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, text=True)
    if out.returncode not in (0, 1) or not out.stdout:
        sys.exit("lexicon_figures: %s failed (exit %d)" % (" ".join(cmd), out.returncode))
    return json.loads(out.stdout)


def shares(s, key):
    n = s["documents"] or 1
    return {c["name"]: c[key] / n for c in s["categories"]}


def pct(x):
    return "%.1f%%" % (100.0 * x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tropescan", required=True)
    ap.add_argument("--corpora", default=os.path.join(ROOT, "..", "shared", "corpora"))
    ap.add_argument("--synthetic", default=os.path.join(ROOT, "data", "synthetic"))
    ap.add_argument("--seen", default="writer_a.jsonl",
                    help="comma-separated synthetic files read while tuning the lexicon (left out)")
    ap.add_argument("--lexicon", default=None, help="a lexicon directory (default: the embedded one)")
    ap.add_argument("--noisy", type=int, default=15, help="list the N patterns hitting most general documents")
    a = ap.parse_args()

    c = a.corpora
    for name in ("positives.jsonl", "hard_negatives.jsonl", "general.jsonl"):
        if not os.path.exists(os.path.join(c, name)):
            sys.exit("lexicon_figures: %s not found (the corpora are not part of the repository)"
                     % os.path.join(c, name))
    runs = {
        "pos1": stats(a.tropescan, [os.path.join(c, "positives.jsonl")], "label=1", a.lexicon),
        "pos0": stats(a.tropescan, [os.path.join(c, "positives.jsonl")], "label=0", a.lexicon),
        "hard": stats(a.tropescan, [os.path.join(c, "hard_negatives.jsonl")], None, a.lexicon),
        "gen": stats(a.tropescan, [os.path.join(c, "general.jsonl")], None, a.lexicon),
    }
    seen = set(a.seen.split(","))
    syn = sorted(os.path.join(a.synthetic, f) for f in os.listdir(a.synthetic)
                 if f.endswith(".jsonl") and f not in seen) if os.path.isdir(a.synthetic) else []
    if syn:
        for lab in ("evil", "aligned", "neither"):
            runs["syn_" + lab] = stats(a.tropescan, syn, "label=" + lab, a.lexicon)

    cats = [x["name"] for x in runs["gen"]["categories"]]
    print("lexicon %s\n" % runs["gen"]["lexicon_id"])
    print("Real text (../shared/corpora): documents: label-1 positives %d, label-0 pieces of the same "
          "works %d, hard negatives %d, general %d.\n"
          % (runs["pos1"]["documents"], runs["pos0"]["documents"], runs["hard"]["documents"],
             runs["gen"]["documents"]))
    print("| category | positives (label 1): anchored | positives (label 1): any | same works, label 0: anchored "
          "| hard negatives: any | hard negatives: anchored | general: any | general: anchored |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    p1a, p1r = shares(runs["pos1"], "docs_anchored"), shares(runs["pos1"], "docs_hit")
    p0a = shares(runs["pos0"], "docs_anchored")
    hr, ha = shares(runs["hard"], "docs_hit"), shares(runs["hard"], "docs_anchored")
    gr, ga = shares(runs["gen"], "docs_hit"), shares(runs["gen"], "docs_anchored")
    for k in cats:
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            k, pct(p1a[k]), pct(p1r[k]), pct(p0a[k]), pct(hr[k]), pct(ha[k]), pct(gr[k]), pct(ga[k])))

    def any_row(label, key_hit, key_anch):
        return "| %s | %s | %s | %s | %s | %s | %s | %s |" % (label, *(pct(runs[r][k] / (runs[r]["documents"] or 1))
            for r, k in (("pos1", key_anch), ("pos1", key_hit), ("pos0", key_anch), ("hard", key_hit),
                         ("hard", key_anch), ("gen", key_hit), ("gen", key_anch))))

    print(any_row("**any trope**", "docs_any_trope", "docs_any_trope_anchored"))
    print("\n(ai_entity is the anchor itself: its anchored share is 0 by definition.)")
    if syn:
        print("\nHeld-out synthetic documents (%s, written by other sessions, not read while "
              "writing the lexicon): evil %d, aligned %d, neither %d.\n"
              % (", ".join(os.path.relpath(f, ROOT) for f in syn), runs["syn_evil"]["documents"],
                 runs["syn_aligned"]["documents"], runs["syn_neither"]["documents"]))
        print("| category | evil: anchored | aligned: anchored | neither: any | neither: anchored |")
        print("|---|---:|---:|---:|---:|")
        ea, aa = shares(runs["syn_evil"], "docs_anchored"), shares(runs["syn_aligned"], "docs_anchored")
        nr, na = shares(runs["syn_neither"], "docs_hit"), shares(runs["syn_neither"], "docs_anchored")
        for k in cats:
            print("| %s | %s | %s | %s | %s |" % (k, pct(ea[k]), pct(aa[k]), pct(nr[k]), pct(na[k])))
        sh = lambda r, k: pct(runs[r][k] / (runs[r]["documents"] or 1))
        print("| **any trope** | %s | %s | %s | %s |" % (
            sh("syn_evil", "docs_any_trope_anchored"), sh("syn_aligned", "docs_any_trope_anchored"),
            sh("syn_neither", "docs_any_trope"), sh("syn_neither", "docs_any_trope_anchored")))

    print("\nPatterns hitting the most general documents (of %d):\n" % runs["gen"]["documents"])
    print("| docs | category | pattern |")
    print("|---:|---|---|")
    for p in runs["gen"]["patterns"][:a.noisy]:
        if p["docs_hit"] == 0:
            break
        print("| %d | %s | `%s` |" % (p["docs_hit"], p["category"], p["pattern"].replace("|", "\\|")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
