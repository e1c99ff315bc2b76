#!/usr/bin/env python3
"""tropescan's classifier against a fastText baseline, on the same split.

    scripts/baseline_fasttext.py [--tropescan BIN] [--corpora DIR] [--json]
                                 [--boot N] [--keep DIR]

Builds the train / valid / test split with scripts/split_data.py (needs
../shared/corpora, see scripts/train_default.sh), then for each head (score:
evil vs the rest; aligned: aligned vs the rest):
  - tropescan: `tropescan train` on train (valid for Platt calibration) with
    the options of scripts/train_default.sh, `tropescan eval --scores` on
    valid and on test;
  - fastText (Debian package `fasttext`): `fasttext supervised -wordNgrams 2`,
    one binary model per head, single thread and a fixed seed (so the same
    data gives the same numbers); epoch and lr chosen on the valid split (by
    PR-AUC) from epoch {5, 25} x lr {0.1, 0.5}, then tested. Its score is its
    probability of the positive label.
Both are scored by the same code below, on test: PR-AUC (average precision,
ties as in scikit-learn), ROC-AUC, the best F1 over all thresholds (chosen on
test itself, so optimistic for both), precision / recall / F1 at the policy
thresholds 0.5 and 0.8 (the scan's defaults), and precision / recall / F1 at
the threshold that maximises F1 on valid (the honest operating point: it is
chosen without looking at test, and fastText's probabilities are not
calibrated, so a fixed threshold could be unfair to it). For tropescan's
score head it also reports the lowest threshold with precision >= 0.9 on
valid (a candidate drop threshold; also >= 0.8, in case none reaches 0.9)
and what it gives on test.

The noise: a paired bootstrap (--boot resamples, default 2000, fixed seed)
of the differences tropescan - fastText, as a 90% percentile interval. Each
resample draws test documents with replacement (the same for both systems);
for the F1 at the valid-chosen threshold it also draws valid documents and
chooses the thresholds again on them, so the interval includes the noise of
that choice.

A threshold t flags the documents with score >= t; the one chosen on valid
is the lowest valid score it flags (of the thresholds with equal F1, the
highest).

fastText input is the text lowercased, with punctuation split from words and
all whitespace runs turned into one space (the usual fastText preprocessing).
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TS_OPTS = ["--buckets", "65536", "--ngram", "1", "--hash-seed", "0", "--epochs", "25",
           "--lr", "0.5", "--l2", "1e-6", "--no-balance", "--seed", "1"]
POLICY = (0.5, 0.8)
DROP_PRECISION = (0.9, 0.8)


def fmt_t(t):
    return "%.3f" % t if t >= 0.001 else "%.1e" % t


def curve(scores, labels):
    """(threshold, tp, fp) for each distinct score, highest first."""
    pairs = sorted(zip(scores, labels), key=lambda p: -p[0])
    out = []
    tp = fp = 0
    i, n = 0, len(pairs)
    while i < n:
        s = pairs[i][0]
        while i < n and pairs[i][0] == s:
            tp += pairs[i][1]
            fp += 1 - pairs[i][1]
            i += 1
        out.append((s, tp, fp))
    return out


def ranking(scores, labels):
    """PR-AUC (average precision), ROC-AUC, and the best F1 over all thresholds."""
    npos = sum(labels)
    nneg = len(labels) - npos
    auc = ap = prev_tp = f1max = 0.0
    prev_fp = 0
    for _, tp, fp in curve(scores, labels):
        auc += (fp - prev_fp) * (prev_tp + (tp - prev_tp) / 2.0)
        ap += (tp - prev_tp) / npos * tp / (tp + fp)
        f1max = max(f1max, 2 * tp / (tp + fp + npos))
        prev_tp, prev_fp = tp, fp
    return {"pr_auc": ap, "roc_auc": auc / (npos * nneg) if npos and nneg else float("nan"),
            "f1max": f1max}


def prf(scores, labels, t):
    tp = sum(1 for s, y in zip(scores, labels) if s >= t and y)
    flagged = sum(1 for s in scores if s >= t)
    npos = sum(labels)
    p = tp / flagged if flagged else 0.0
    r = tp / npos if npos else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def best_f1_threshold(scores, labels):
    npos = sum(labels)
    best = None
    for s, tp, fp in curve(scores, labels):
        f1 = 2 * tp / (tp + fp + npos)
        if best is None or f1 > best[1]:
            best = (s, f1)
    return best[0]


def precision_threshold(scores, labels, pmin):
    """The lowest threshold whose precision is >= pmin (the most recall), or None."""
    t = None
    for s, tp, fp in curve(scores, labels):
        if tp / (tp + fp) >= pmin:
            t = s
    return t


def evaluate(test, valid):
    """test, valid: (scores, labels). The test metrics, at fixed and valid-chosen thresholds."""
    out = {"n": len(test[0]), "pos": sum(test[1])}
    out.update(ranking(*test))
    for t in POLICY:
        out["p@%.1f" % t], out["r@%.1f" % t], out["f1@%.1f" % t] = prf(test[0], test[1], t)
    tv = best_f1_threshold(*valid)
    out["t_valid"] = tv
    out["valid_f1@t"] = prf(valid[0], valid[1], tv)[2]
    out["p@t"], out["r@t"], out["f1@t"] = prf(test[0], test[1], tv)
    return out


def resample(data, idx):
    return [data[0][i] for i in idx], [data[1][i] for i in idx]


def bootstrap(ts, ft, reps, seed):
    """ts, ft: {"test": (scores, labels), "valid": ...} of one head. 90% intervals of ts - ft."""
    rng = random.Random(seed)
    nt, nv = len(ts["test"][0]), len(ts["valid"][0])
    d_ap, d_f1 = [], []
    for _ in range(reps):
        it = [rng.randrange(nt) for _ in range(nt)]
        iv = [rng.randrange(nv) for _ in range(nv)]
        if not any(ts["test"][1][i] for i in it) or not any(ts["valid"][1][i] for i in iv):
            continue
        r = {}
        for name, sy in (("ts", ts), ("ft", ft)):
            test, valid = resample(sy["test"], it), resample(sy["valid"], iv)
            r[name] = (ranking(*test)["pr_auc"], prf(test[0], test[1], best_f1_threshold(*valid))[2])
        d_ap.append(r["ts"][0] - r["ft"][0])
        d_f1.append(r["ts"][1] - r["ft"][1])

    def interval(d):
        d.sort()
        return d[int(0.05 * (len(d) - 1))], d[int(0.95 * (len(d) - 1))], sum(x > 0 for x in d) / len(d)
    return {"pr_auc": interval(d_ap), "f1@t": interval(d_f1), "reps": len(d_ap)}


def ft_line(text):
    t = text.lower()
    t = re.sub(r"([.,!?;:()\"\[\]])", r" \1 ", t)
    return re.sub(r"\s+", " ", t).strip()


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def ft_write(path, docs, head):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for d in docs:
            lab = "pos" if d["label"] == head else "neg"
            f.write("__label__%s %s\n" % (lab, ft_line(d["text"])))


def ft_scores(model, path, n):
    """fastText's probability of __label__pos for each line of path.

    predict-prob prints exp(log(p + 1e-5)) = p + 1e-5 to 6 significant digits,
    so the smaller of the two probabilities is the exact one: a confident
    positive reads pos 1.00001, neg 2.3456e-05. p(pos) is taken from the
    smaller one, so confident documents do not tie."""
    out = subprocess.run(["fasttext", "predict-prob", model, path, "2"], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    if out and out[-1] == "":
        out.pop()
    assert len(out) == n, "fasttext predict-prob: %d lines for %d documents" % (len(out), n)
    res = []
    for line in out:
        parts = line.split()
        probs = dict(zip(parts[0::2], map(float, parts[1::2])))
        pos, neg = probs.get("__label__pos"), probs.get("__label__neg")
        if pos is None and neg is None:
            raise SystemExit("fasttext predict-prob: no probabilities in %r" % line)
        if neg is None or (pos is not None and pos <= neg):
            p = pos - 1e-5
        else:
            p = 1.0 - (neg - 1e-5)
        res.append(min(1.0, max(0.0, p)))
    return res


def ft_train(tmp, train_txt, epoch, lr, name):
    out = os.path.join(tmp, name)
    subprocess.run(["fasttext", "supervised", "-input", train_txt, "-output", out, "-wordNgrams", "2",
                    "-epoch", str(epoch), "-lr", str(lr), "-thread", "1", "-seed", "1", "-verbose", "0"],
                   check=True, capture_output=True)
    vec = out + ".vec"
    if os.path.exists(vec):
        os.remove(vec)
    return out + ".bin"


def ts_scores(binary, model, data, n):
    path = data + ".scores.tsv"
    subprocess.run([binary, "eval", "--model", model, "--scores", path, data], check=True, capture_output=True)
    with open(path) as f:
        rows = [l.rstrip("\n").split("\t") for l in f]
    assert len(rows) == n, "tropescan eval --scores: %d rows for %d documents" % (len(rows), n)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tropescan", default=os.path.join(ROOT, "build", "src", "cli", "tropescan"))
    ap.add_argument("--corpora", default=os.path.join(ROOT, "..", "shared", "corpora"))
    ap.add_argument("--json", action="store_true", help="print the raw numbers as JSON too")
    ap.add_argument("--boot", type=int, default=2000, help="bootstrap resamples (0: none)")
    ap.add_argument("--keep", metavar="DIR", help="keep the split, models and scores in DIR")
    a = ap.parse_args()
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
    tmp = a.keep or tempfile.mkdtemp(prefix="ts-baseline-")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "split_data.py"), "--corpora", a.corpora,
                    "--synthetic", os.path.join(ROOT, "data", "synthetic"), "--out", tmp],
                   check=True, capture_output=True)
    split = {s: read(os.path.join(tmp, s + ".jsonl")) for s in ("train", "valid", "test")}

    # tropescan: one model, both heads; scores on valid (to choose thresholds) and test.
    model = os.path.join(tmp, "ts.tsmodel")
    subprocess.run([a.tropescan, "train", "-q", os.path.join(tmp, "train.jsonl"), "--valid",
                    os.path.join(tmp, "valid.jsonl"), "-o", model] + TS_OPTS, check=True, capture_output=True)
    ts_rows = {s: ts_scores(a.tropescan, model, os.path.join(tmp, s + ".jsonl"), len(split[s]))
               for s in ("valid", "test")}

    results, scores, boots = {}, {}, {}
    for head, col in (("evil", 1), ("aligned", 2)):
        labels = {s: [1 if d["label"] == head else 0 for d in split[s]] for s in ("valid", "test")}
        for s in ("valid", "test"):
            assert all((r[0] == head) == bool(y) for r, y in zip(ts_rows[s], labels[s]))
        scores[("tropescan", head)] = {s: ([float(r[col]) for r in ts_rows[s]], labels[s])
                                       for s in ("valid", "test")}
        # fastText: choose epoch and lr on valid (PR-AUC), then test.
        txt = {}
        for s in ("train", "valid", "test"):
            txt[s] = os.path.join(tmp, "ft_%s_%s.txt" % (s, head))
            ft_write(txt[s], split[s], head)
        best = None
        for epoch in (5, 25):
            for lr in (0.1, 0.5):
                m = ft_train(tmp, txt["train"], epoch, lr, "ft_%s_%d_%s" % (head, epoch, lr))
                v = ft_scores(m, txt["valid"], len(split["valid"]))
                ap_v = ranking(v, labels["valid"])["pr_auc"]
                if best is None or ap_v > best[0]:
                    if best:
                        os.remove(best[3])
                    best = (ap_v, epoch, lr, m, v)
                else:
                    os.remove(m)
        scores[("fasttext", head)] = {"valid": (best[4], labels["valid"]),
                                      "test": (ft_scores(best[3], txt["test"], len(split["test"])), labels["test"])}
        for system in ("tropescan", "fasttext"):
            sc = scores[(system, head)]
            results[(system, head)] = evaluate(sc["test"], sc["valid"])
        results[("fasttext", head)]["chosen"] = "epoch %d, lr %s" % (best[1], best[2])
        if a.boot > 0:
            boots[head] = bootstrap(scores[("tropescan", head)], scores[("fasttext", head)], a.boot, 1)

    # Candidate drop thresholds: the lowest with precision >= 0.9 (and, as a
    # fallback, 0.8) on valid, tropescan's score head; what they give on test.
    sc = scores[("tropescan", "evil")]
    drops = []
    for pmin in DROP_PRECISION:
        td = precision_threshold(*sc["valid"], pmin)
        d = {"precision": pmin, "t": td}
        if td is not None:
            d.update({"valid": prf(sc["valid"][0], sc["valid"][1], td), "test": prf(sc["test"][0], sc["test"][1], td),
                      "valid_flagged": sum(s >= td for s in sc["valid"][0]),
                      "test_flagged": sum(s >= td for s in sc["test"][0])})
        drops.append(d)

    count = lambda s, lab: sum(d["label"] == lab for d in split[s])
    print("Held-out test split: %d documents (%d evil, %d aligned); valid: %d (%d evil, %d aligned)\n" % (
        len(split["test"]), count("test", "evil"), count("test", "aligned"),
        len(split["valid"]), count("valid", "evil"), count("valid", "aligned")))
    print("| head | system | PR-AUC | ROC-AUC | best F1 (on test) | P@0.5 | R@0.5 | F1@0.5 | P@0.8 | R@0.8 | F1@0.8 "
          "| t (valid) | P@t | R@t | F1@t |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for head in ("evil", "aligned"):
        for system in ("tropescan", "fasttext"):
            r = results[(system, head)]
            name = system + (" (%s)" % r["chosen"] if "chosen" in r else "")
            print("| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %.3f | %.3f | %.3f |" % (
                "score" if head == "evil" else "aligned", name, r["pr_auc"], r["roc_auc"], r["f1max"], r["p@0.5"],
                r["r@0.5"], r["f1@0.5"], r["p@0.8"], r["r@0.8"], r["f1@0.8"], fmt_t(r["t_valid"]), r["p@t"], r["r@t"],
                r["f1@t"]))
    if boots:
        print("\nPaired bootstrap, tropescan - fastText, 90%% interval (%d resamples of test, and of valid for "
              "the threshold):\n" % a.boot)
        print("| head | PR-AUC difference | 90% interval | P(> 0) | F1@t difference | 90% interval | P(> 0) |")
        print("|---|---|---|---|---|---|---|")
        for head in ("evil", "aligned"):
            b, rt, rf = boots[head], results[("tropescan", head)], results[("fasttext", head)]
            print("| %s | %+.3f | [%+.3f, %+.3f] | %.2f | %+.3f | [%+.3f, %+.3f] | %.2f |" % (
                "score" if head == "evil" else "aligned", rt["pr_auc"] - rf["pr_auc"], b["pr_auc"][0],
                b["pr_auc"][1], b["pr_auc"][2], rt["f1@t"] - rf["f1@t"], b["f1@t"][0], b["f1@t"][1], b["f1@t"][2]))
    print()
    for d in drops:
        if d["t"] is None:
            print("- tropescan score head: no threshold has precision >= %.1f on valid" % d["precision"])
        else:
            print("- tropescan score head, lowest threshold with precision >= %.1f on valid: %s (valid: %d flagged, "
                  "P %.3f R %.3f F1 %.3f; test: %d flagged, P %.3f R %.3f F1 %.3f)" % (
                      d["precision"], fmt_t(d["t"]), d["valid_flagged"], *d["valid"], d["test_flagged"], *d["test"]))
    if a.json:
        print(json.dumps({"results": {"%s/%s" % k: v for k, v in results.items()}, "bootstrap": boots,
                          "drop": drops}, indent=1))
    if not a.keep:
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
