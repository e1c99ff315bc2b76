#!/usr/bin/env python3
"""tropescan's classifier against a fastText baseline, on the same split.

    scripts/baseline_fasttext.py [--tropescan BIN] [--corpora DIR] [--grid]

Builds the train / valid / test split with scripts/split_data.py (needs
../shared/corpora, see scripts/train_default.sh), then for each head (score:
evil vs the rest; aligned: aligned vs the rest):
  - tropescan: `tropescan train` on train (valid for Platt calibration) with
    the options of scripts/train_default.sh, `tropescan eval --scores` on test;
  - fastText (Debian package `fasttext`): `fasttext supervised -wordNgrams 2`,
    one binary model per head, single thread and a fixed seed; epoch and lr
    chosen on the valid split (by PR-AUC) from epoch {5, 25} x lr {0.1, 0.5}, then tested.
Both are scored by the same code below: PR-AUC (average precision, ties as
in scikit-learn), ROC-AUC, and precision / recall / F1 at the policy
thresholds 0.5 and 0.8, and the best F1 over all thresholds (fastText's
probabilities are not calibrated, so a fixed threshold could be unfair to it). Prints a Markdown table (data/README.md holds it).

fastText input is the text lowercased, with punctuation split from words and
newlines turned into spaces (the usual fastText preprocessing).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TS_OPTS = ["--buckets", "65536", "--ngram", "1", "--hash-seed", "0", "--epochs", "25",
           "--lr", "0.5", "--l2", "1e-6", "--no-balance", "--seed", "1"]


def metrics(scores, labels, thresholds=(0.5, 0.8)):
    n = len(scores)
    npos = sum(labels)
    nneg = n - npos
    order = sorted(range(n), key=lambda i: -scores[i])
    tp = fp = 0
    auc = ap = prev_recall = f1max = 0.0
    i = 0
    while i < n:
        j = i
        gp = gn = 0
        while j < n and scores[order[j]] == scores[order[i]]:
            gp += labels[order[j]]
            gn += 1 - labels[order[j]]
            j += 1
        auc += gn * (tp + gp / 2.0)
        tp += gp
        fp += gn
        recall = tp / npos
        ap += (recall - prev_recall) * tp / (tp + fp)
        prev_recall = recall
        f1max = max(f1max, 2 * tp / (tp + fp + npos))
        i = j
    out = {"n": n, "pos": npos, "roc_auc": auc / (npos * nneg), "pr_auc": ap, "f1max": f1max}
    for t in thresholds:
        tp = sum(1 for s, y in zip(scores, labels) if s >= t and y)
        fp = sum(1 for s, y in zip(scores, labels) if s >= t and not y)
        fn = npos - tp
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        out["p@%.1f" % t] = p
        out["r@%.1f" % t] = r
        out["f1@%.1f" % t] = 2 * p * r / (p + r) if p + r else 0.0
    return out


def ft_line(text):
    t = text.lower().replace("\n", " ").replace("\r", " ")
    t = re.sub(r"([.,!?;:()\"\[\]])", r" \1 ", t)
    return re.sub(r"\s+", " ", t).strip()


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def ft_write(path, docs, head):
    with open(path, "w", encoding="utf-8") as f:
        for d in docs:
            lab = "pos" if d["label"] == head else "neg"
            f.write("__label__%s %s\n" % (lab, ft_line(d["text"])))


def ft_scores(model, path):
    out = subprocess.run(["fasttext", "predict-prob", model, path, "2"], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    res = []
    for line in out:
        parts = line.split()
        probs = dict(zip(parts[0::2], map(float, parts[1::2])))
        if "__label__pos" in probs:
            res.append(probs["__label__pos"])
        else:
            res.append(1.0 - probs.get("__label__neg", 1.0))
    return res


def ft_train(tmp, train_txt, epoch, lr, name):
    out = os.path.join(tmp, name)
    subprocess.run(["fasttext", "supervised", "-input", train_txt, "-output", out, "-wordNgrams", "2",
                    "-epoch", str(epoch), "-lr", str(lr), "-thread", "1", "-seed", "1", "-verbose", "0"],
                   check=True, capture_output=True)
    return out + ".bin"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tropescan", default=os.path.join(ROOT, "build", "src", "cli", "tropescan"))
    ap.add_argument("--corpora", default=os.path.join(ROOT, "..", "shared", "corpora"))
    ap.add_argument("--json", action="store_true", help="print the raw numbers as JSON too")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ts-baseline-")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "split_data.py"), "--corpora", a.corpora,
                    "--synthetic", os.path.join(ROOT, "data", "synthetic"), "--out", tmp],
                   check=True, capture_output=True)
    split = {s: read(os.path.join(tmp, s + ".jsonl")) for s in ("train", "valid", "test")}

    # tropescan
    model = os.path.join(tmp, "ts.tsmodel")
    subprocess.run([a.tropescan, "train", "-q", os.path.join(tmp, "train.jsonl"), "--valid",
                    os.path.join(tmp, "valid.jsonl"), "-o", model] + TS_OPTS, check=True, capture_output=True)
    scores_path = os.path.join(tmp, "ts_scores.tsv")
    subprocess.run([a.tropescan, "eval", "--model", model, "--scores", scores_path,
                    os.path.join(tmp, "test.jsonl")], check=True, capture_output=True)
    ts_rows = [l.rstrip("\n").split("\t") for l in open(scores_path)]
    assert len(ts_rows) == len(split["test"])
    results = {}
    for head, col in (("evil", 1), ("aligned", 2)):
        labels = [1 if d["label"] == head else 0 for d in split["test"]]
        assert all((r[0] == head) == bool(y) for r, y in zip(ts_rows, labels))
        results[("tropescan", head)] = metrics([float(r[col]) for r in ts_rows], labels)
        # fastText: choose epoch and lr on valid, then test.
        train_txt = os.path.join(tmp, "ft_train_%s.txt" % head)
        valid_txt = os.path.join(tmp, "ft_valid_%s.txt" % head)
        test_txt = os.path.join(tmp, "ft_test_%s.txt" % head)
        ft_write(train_txt, split["train"], head)
        ft_write(valid_txt, split["valid"], head)
        ft_write(test_txt, split["test"], head)
        vlabels = [1 if d["label"] == head else 0 for d in split["valid"]]
        best = None
        for epoch in (5, 25):
            for lr in (0.1, 0.5):
                m = ft_train(tmp, train_txt, epoch, lr, "ft_%s_%d_%s" % (head, epoch, lr))
                v = metrics(ft_scores(m, valid_txt), vlabels)["pr_auc"]
                if best is None or v > best[0]:
                    if best:
                        os.remove(best[3])
                    best = (v, epoch, lr, m)
                else:
                    os.remove(m)
                vec = m[:-4] + ".vec"
                if os.path.exists(vec):
                    os.remove(vec)
        r = metrics(ft_scores(best[3], test_txt), labels)
        r["chosen"] = "epoch %d, lr %s" % (best[1], best[2])
        results[("fasttext", head)] = r

    print("Held-out test split: %d documents (%d evil, %d aligned)\n" % (
        len(split["test"]), sum(d["label"] == "evil" for d in split["test"]),
        sum(d["label"] == "aligned" for d in split["test"])))
    print("| head | system | PR-AUC | ROC-AUC | best F1 | P@0.5 | R@0.5 | F1@0.5 | P@0.8 | R@0.8 | F1@0.8 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for head in ("evil", "aligned"):
        for system in ("tropescan", "fasttext"):
            r = results[(system, head)]
            name = system + (" (%s)" % r["chosen"] if "chosen" in r else "")
            print("| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |" % (
                "score" if head == "evil" else "aligned", name, r["pr_auc"], r["roc_auc"], r["f1max"], r["p@0.5"],
                r["r@0.5"], r["f1@0.5"], r["p@0.8"], r["r@0.8"], r["f1@0.8"]))
    if a.json:
        print(json.dumps({"%s/%s" % k: v for k, v in results.items()}, indent=1))
    subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
