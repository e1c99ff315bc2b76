#!/usr/bin/env python3
"""Builds the train / valid / test JSONL of the default model from the data.

    split_data.py --corpora DIR --synthetic DIR --out DIR [--list]

Inputs:
  DIR (--corpora)     ../shared/corpora: positives.jsonl, hard_negatives.jsonl,
                      general.jsonl (fields id, source, title, label 0/1, text)
  DIR (--synthetic)   data/synthetic/*.jsonl (fields id, group, register,
                      label evil/aligned/neither, text)

Outputs OUT/train.jsonl, OUT/valid.jsonl, OUT/test.jsonl, one object a line:
id, group, origin, label (evil / aligned / neither), text. Corpora label 1 is
`evil`, 0 is `neither` (the corpora have no aligned label).

Splits are by work, never by document, so no book, article or synthetic
group straddles two splits (data/splits/README.md):
  - corpora works (Gutenberg texts): the split named in data/splits/works.tsv;
  - other corpora documents: their source (a Brown text, an nlp-corpus
    document) or, for web pages, their id; synthetic documents: their group;
    these by hash: sha256(group) read as a big-endian integer / 2^256,
    < 0.6 train, < 0.8 valid, else test.
The output order is the input order (files sorted by name), so it is
deterministic.
"""
import argparse
import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORKS = os.path.join(HERE, "..", "data", "splits", "works.tsv")


def hash_split(group):
    h = int.from_bytes(hashlib.sha256(group.encode("utf-8")).digest(), "big") / 2.0 ** 256
    return "train" if h < 0.6 else "valid" if h < 0.8 else "test"


def read_works():
    works = {}
    with open(WORKS, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            key, split = line.rstrip("\n").split("\t")[:2]
            works[key] = split
    return works


def corpora_group(d, name):
    src = d["source"]
    if name.endswith("-2.jsonl"):
        # The second batch is split by work title: one story of a magazine
        # issue is one work, and a serial's parts (two repositories, one
        # title) stay together (../shared/corpora/README-2.md).
        return "work:" + re.sub(r" \(.*$", "", d["title"]).split(",")[0].strip(), True
    m = re.match(r"github:GITenberg/([^:]+):", src)
    if m:
        return "gutenberg:" + m.group(1), True
    if src.startswith("github:mlfoundations/dclm") or src.startswith("github:allenai/dolma"):
        return "web:" + d["id"], False
    return re.sub(r"@[0-9a-f]{7,}$", "", src), False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", required=True)
    ap.add_argument("--synthetic", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--list", action="store_true", help="print group -> split and counts")
    a = ap.parse_args()
    works = read_works()
    out = {s: open(os.path.join(a.out, s + ".jsonl"), "w", encoding="utf-8") for s in ("train", "valid", "test")}
    counts = {}
    missing = set()

    def emit(split, rec, origin):
        out[split].write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
        k = (split, origin, rec["label"])
        counts[k] = counts.get(k, 0) + 1

    for name in ("positives.jsonl", "hard_negatives.jsonl", "general.jsonl",
                 "positives-2.jsonl", "benign-2.jsonl"):
        path = os.path.join(a.corpora, name)
        if name.endswith("-2.jsonl") and not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                group, is_work = corpora_group(d, name)
                if is_work:
                    split = works.get(group)
                    if split is None:
                        missing.add(group)
                        continue
                else:
                    split = hash_split(group)
                label = "evil" if d["label"] == 1 else "aligned" if d.get("aligned") else "neither"
                emit(split, {"id": d["id"], "group": group, "origin": "corpora/" + name, "label": label,
                             "text": d["text"]}, "corpora")
    synthetic = sorted(os.path.relpath(os.path.join(d, n), a.synthetic)
                       for d, _, names in os.walk(a.synthetic) for n in names if n.endswith(".jsonl"))
    # Documents whose second reader disagreed with the writer's label are
    # left out (data/DATA_CARD.md: disputed.tsv beside the files).
    disputed = set()
    for d, _, names in os.walk(a.synthetic):
        for n in names:
            if n == "disputed.tsv":
                with open(os.path.join(d, n), encoding="utf-8") as f:
                    disputed |= {line.split("\t")[0] for line in f if line.strip() and not line.startswith("#")}
    for name in synthetic:
        with open(os.path.join(a.synthetic, name), encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                d = json.loads(line)
                if d["id"] in disputed:
                    continue
                group = "synthetic:" + d["group"]
                emit(hash_split(group), {"id": d["id"], "group": group, "origin": "synthetic/" + name,
                                         "label": d["label"], "text": d["text"]}, "synthetic")
    for f in out.values():
        f.close()
    if missing:
        sys.stderr.write("split_data.py: works not in data/splits/works.tsv (left out): %s\n"
                         % ", ".join(sorted(missing)))
        return 1
    for k in sorted(counts):
        sys.stderr.write("%-5s %-9s %-8s %6d\n" % (k[0], k[1], k[2], counts[k]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
