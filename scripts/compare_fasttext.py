#!/usr/bin/python3
"""The passage-scoring model against fastText trained on the same data.

    compare_fasttext.py --tropescan BIN --model MODEL --data DIR [--boot N] [--json OUT]

DIR is what scripts/train_default.sh leaves with KEEP=DIR: the split
(train/valid/test.jsonl), the long pages (pages_SPLIT.jsonl), the innocent
cuts (cuts_SPLIT_*.jsonl) and the windows the model was trained on
(windows_train.jsonl). MODEL is the model trained there on train only (the
shipped default is trained on train + valid, so it has seen valid).

fastText (Debian's `fasttext`, supervised, word bigrams, dim 16, one model
per head, one thread, seed 1; epoch and lr chosen on valid by PR-AUC from
--grid, default 25 epochs at lr 0.5 only: on these 160 MB of training text one
fastText run takes minutes) in two forms:
  - documents: trained on the same documents the windows were cut from
    (train.jsonl, pages_train.jsonl, cuts_train_{sentence,paragraph}.jsonl),
    scoring each test document or page whole;
  - windows: trained on windows_train.jsonl, scoring a document by its best
    window (the same windows as tropescan: W words every S words).
On the held-out test documents and on the held-out test pages: PR-AUC and
ROC-AUC of each head (score: evil against everything else; aligned: aligned
against everything else), and a paired bootstrap (same resamples for both
systems) of tropescan minus the better fastText form, as a 90% interval.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baseline_fasttext as bf  # noqa: E402
import passages  # noqa: E402


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def ts_scores(a, path):
    with tempfile.NamedTemporaryFile("r", suffix=".tsv") as f:
        subprocess.run([a.tropescan, "eval", "--model", a.model, "--scores", f.name, path],
                       check=False, capture_output=True)
        return [(float(r[1]), float(r[2])) for r in (line.split("\t") for line in f)]


def ft_train(tmp, train_txt, epoch, lr, name):
    """As baseline_fasttext.ft_train, with dim 16 (the issue's baseline)."""
    out = os.path.join(tmp, name)
    subprocess.run(["fasttext", "supervised", "-input", train_txt, "-output", out, "-wordNgrams", "2",
                    "-dim", "16", "-epoch", str(epoch), "-lr", str(lr), "-thread", "1", "-seed", "1",
                    "-verbose", "0"], check=True, capture_output=True)
    if os.path.exists(out + ".vec"):
        os.remove(out + ".vec")
    return out + ".bin"


def ft_write_lines(path, texts, labels):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for t, y in zip(texts, labels):
            f.write("__label__%s %s\n" % ("pos" if y else "neg", bf.ft_line(t)))


def windows_texts(text, w, s, p):
    words, b = passages.word_spans(text)
    starts = passages.paragraph_starts(b, words) if p else ()
    return [b[words[x][0]:words[y - 1][1]].decode("utf-8", "replace")
            for x, y in passages.windows_of(len(words), w, s, starts, p)]


def ft_doc_scores(model, tmp, texts, w=None, s=None, p=0):
    """fastText's p(pos) per text, or per text its best window's."""
    if w is None:
        path = os.path.join(tmp, "pred.txt")
        ft_write_lines(path, texts, [0] * len(texts))
        return bf.ft_scores(model, path, len(texts))
    flat, owner = [], []
    for i, t in enumerate(texts):
        for x in windows_texts(t, w, s, p):
            flat.append(x)
            owner.append(i)
    path = os.path.join(tmp, "pred.txt")
    ft_write_lines(path, flat, [0] * len(flat))
    sc = bf.ft_scores(model, path, len(flat))
    best = [0.0] * len(texts)
    for i, p in zip(owner, sc):
        best[i] = max(best[i], p)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tropescan", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--window", type=int, required=True, help="the model's window (words)")
    ap.add_argument("--stride", type=int, required=True)
    ap.add_argument("--paragraphs", type=int, default=0)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--grid", default="25:0.5", help="epoch:lr pairs, comma-separated (chosen on valid)")
    ap.add_argument("--head", choices=("evil", "aligned"), help="one head only (run two at once)")
    ap.add_argument("--json")
    a = ap.parse_args()
    D = a.data
    tmp = tempfile.mkdtemp(prefix="ts-ft-")
    sets = {
        "valid docs": read(os.path.join(D, "valid.jsonl")),
        "test docs": read(os.path.join(D, "test.jsonl")),
        "valid pages": read(os.path.join(D, "pages_valid.jsonl")),
        "test pages": read(os.path.join(D, "pages_test.jsonl")),
    }
    files = {"valid docs": "valid.jsonl", "test docs": "test.jsonl",
             "valid pages": "pages_valid.jsonl", "test pages": "pages_test.jsonl"}
    ts = {k: ts_scores(a, os.path.join(D, f)) for k, f in files.items()}
    doc_train = []
    for f in ("train.jsonl", "pages_train.jsonl", "cuts_train_sentence.jsonl", "cuts_train_paragraph.jsonl"):
        doc_train += read(os.path.join(D, f))
    win_train = read(os.path.join(D, "windows_train.jsonl"))

    results = {}
    grid = [(int(e), float(l)) for e, l in (x.split(":") for x in a.grid.split(","))]
    for head, col in (("evil", 0), ("aligned", 1)):
        if a.head and head != a.head:
            continue
        labels = {k: [1 if d["label"] == head else 0 for d in v] for k, v in sets.items()}
        tsc = {k: [r[col] for r in ts[k]] for k in sets}
        forms = {}
        for form, train, w in (("documents", doc_train, None), ("windows", win_train, a.window)):
            txt = os.path.join(tmp, "train_%s_%s.txt" % (head, form))
            ft_write_lines(txt, [d["text"] for d in train], [d["label"] == head for d in train])
            best = None
            for epoch, lr in grid:
                m = ft_train(tmp, txt, epoch, lr, "ft_%s_%s_%d_%s" % (head, form, epoch, lr))
                v = ft_doc_scores(m, tmp, [d["text"] for d in sets["valid docs"]], w, a.stride, a.paragraphs)
                vp = ft_doc_scores(m, tmp, [d["text"] for d in sets["valid pages"]], w, a.stride, a.paragraphs)
                score = bf.ranking(v, labels["valid docs"])["pr_auc"] + bf.ranking(vp, labels["valid pages"])["pr_auc"]
                if best is None or score > best[0]:
                    best = (score, epoch, lr, m)
            m = best[3]
            forms[form] = {
                "chosen": "epoch %d, lr %s" % (best[1], best[2]),
                "test docs": ft_doc_scores(m, tmp, [d["text"] for d in sets["test docs"]], w, a.stride, a.paragraphs),
                "test pages": ft_doc_scores(m, tmp, [d["text"] for d in sets["test pages"]], w, a.stride, a.paragraphs),
            }
        res = {}
        for k in ("test docs", "test pages"):
            row = {"tropescan": bf.ranking(tsc[k], labels[k])}
            for form, f in forms.items():
                row["fasttext " + form] = bf.ranking(f[k], labels[k])
            best_form = max(forms, key=lambda f: row["fasttext " + f]["pr_auc"])
            # Paired bootstrap of the PR-AUC difference against the better form.
            rng = random.Random(1)
            n = len(labels[k])
            diffs = []
            for _ in range(a.boot):
                idx = [rng.randrange(n) for _ in range(n)]
                y = [labels[k][i] for i in idx]
                if not any(y):
                    continue
                diffs.append(bf.ranking([tsc[k][i] for i in idx], y)["pr_auc"] -
                             bf.ranking([forms[best_form][k][i] for i in idx], y)["pr_auc"])
            diffs.sort()
            row["against"] = "fasttext " + best_form
            row["difference"] = row["tropescan"]["pr_auc"] - row["fasttext " + best_form]["pr_auc"]
            row["interval90"] = (diffs[int(0.05 * (len(diffs) - 1))], diffs[int(0.95 * (len(diffs) - 1))]) if diffs else None
            row["n"], row["pos"] = n, sum(labels[k])
            res[k] = row
        res["chosen"] = {f: forms[f]["chosen"] for f in forms}
        results[head] = res

    print("| head | set | n (pos) | tropescan PR-AUC / ROC-AUC | fastText documents | fastText windows | "
          "difference (vs better) | 90% interval |")
    print("|---|---|---|---|---|---|---|---|")
    for head in results:
        for k in ("test docs", "test pages"):
            r = results[head][k]
            cell = lambda x: "%.3f / %.3f" % (x["pr_auc"], x["roc_auc"])
            iv = r["interval90"]
            print("| %s | %s | %d (%d) | %s | %s | %s | %+.3f | [%+.3f, %+.3f] |" % (
                "score" if head == "evil" else "aligned", k, r["n"], r["pos"], cell(r["tropescan"]),
                cell(r["fasttext documents"]), cell(r["fasttext windows"]), r["difference"], iv[0], iv[1]))
    print("\nfastText options chosen on valid: " + "; ".join(
        "%s %s: %s" % (h, f, c) for h in results for f, c in results[h]["chosen"].items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
