#!/usr/bin/python3
"""Lexicon recall on labelled JSONL (label evil / aligned / neither):

    scripts/lexicon_recall.py --tropescan BUILD/src/cli/tropescan \\
        [--lexicon lexicons] [--split train|valid|test|heldout] [--misses] FILE...

Prints the share of evil documents with an ai_entity hit and with any trope
hit (any category but ai_entity and aligned_ai), and the share of neither
documents, and of general documents (origin corpora/general.jsonl, as written
by split_data.py), with any trope hit. Hits are raw (not anchored), counted
by `tropescan scan --no-model` (the manifests' `tropes` keys).

--split keeps only documents whose group falls in that split by the rule of
split_data.py (sha256("synthetic:" + group); "heldout" = valid or test); use
it on raw data/synthetic files, never on split_data.py's outputs.
--misses lists the evil documents missing an ai_entity or a trope hit.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from split_data import hash_split  # noqa: E402

NOT_TROPES = {"ai_entity", "aligned_ai"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tropescan", required=True)
    ap.add_argument("--lexicon", help="lexicon directory (default: the embedded one)")
    ap.add_argument("--split", choices=("train", "valid", "test", "heldout"))
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()

    docs = []
    for name in a.files:
        with open(name, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                d = json.loads(line)
                if a.split:
                    s = hash_split("synthetic:" + d["group"])
                    if not (s == a.split or (a.split == "heldout" and s != "train")):
                        continue
                docs.append(d)

    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            for i, d in enumerate(docs):
                f.write(json.dumps({"id": str(i), "text": d["text"]}) + "\n")
        cmd = [a.tropescan, "scan", "--no-model", "-q", "-j", "2", "-o", os.path.join(tmp, "out"), inp]
        if a.lexicon:
            cmd += ["--lexicon", a.lexicon]
        subprocess.run(cmd, check=True)
        out = subprocess.run(["zstd", "-dc", os.path.join(tmp, "out", "in.jsonl.manifest.jsonl.zst")],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
    hits = [json.loads(l)["tropes"] for l in out.splitlines()]
    assert len(hits) == len(docs)

    def trope(h):
        return any(k not in NOT_TROPES for k in h)

    def share(sel, test):
        n = len(sel)
        k = sum(1 for h in sel if test(h))
        return "%5.1f%% (%d/%d)" % (100.0 * k / (n or 1), k, n)

    evil = [h for d, h in zip(docs, hits) if d["label"] == "evil"]
    neither = [h for d, h in zip(docs, hits) if d["label"] == "neither"]
    general = [h for d, h in zip(docs, hits) if d.get("origin") == "corpora/general.jsonl"]
    print("evil with ai_entity hit:     ", share(evil, lambda h: "ai_entity" in h))
    print("evil with any trope hit:     ", share(evil, trope))
    print("neither with any trope hit:  ", share(neither, trope))
    print("general with any trope hit:  ", share(general, trope))
    if a.misses:
        for d, h in zip(docs, hits):
            if d["label"] == "evil" and ("ai_entity" not in h or not trope(h)):
                print("miss %-8s %-8s %s" % ("" if "ai_entity" in h else "ai", "" if trope(h) else "trope", d["id"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
