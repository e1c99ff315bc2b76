#!/usr/bin/python3
"""Measures what lower weight precision would cost the default model.

The model file stores float32 weights (src/lib/model.c documents the format).
This script writes copies of a model whose weights are rounded to float16 or
to symmetric int8 (one scale per head: max |w| / 127), still stored as
float32 so today's tropescan reads them, and runs `tropescan eval --json` on
each for the given data. The copies are what a float16 or int8 model would
compute, so the figures are the accuracy cost of that precision, without
writing the inference code first.

usage: scripts/weight_precision.py --tropescan BUILD/src/cli/tropescan
           [--model data/model/default.tsmodel] DATA.jsonl...

DATA is labelled JSONL as for `tropescan eval` (e.g. the valid and test
splits that scripts/split_data.py writes from ../shared/corpora).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import xxhash  # Debian python3-xxhash

HEADS = 2


def parse(data: bytes):
    """@return (offset of the weights, number of weights)."""
    if data[:8] != b"TSMODEL\x1a":
        sys.exit("weight_precision: not a tropescan model")
    ncat = struct.unpack_from("<I", data, 40)[0]
    p = 44
    for _ in range(ncat):
        p += 1 + data[p]
    p += 8 + 4          # lexicon id, nheads
    wtype = struct.unpack_from("<I", data, p)[0]
    if wtype != 0:
        sys.exit("weight_precision: weights are not float32")
    p += 4 + 12 * HEADS  # weight type, bias and Platt per head
    nfeat = struct.unpack_from("<I", data, p)[0]
    p += 4
    n = HEADS * nfeat
    if p + 4 * n + 8 != len(data):
        sys.exit("weight_precision: the size does not match the header")
    return p, n


def quantise(data: bytes, kind: str) -> bytes:
    off, n = parse(data)
    w = list(struct.unpack_from(f"<{n}f", data, off))
    if kind == "float16":
        w = [struct.unpack("<e", struct.pack("<e", x))[0] for x in w]
    elif kind == "int8":
        for h in range(HEADS):
            peak = max(abs(x) for x in w[h::HEADS]) or 1.0
            scale = peak / 127
            for i in range(h, n, HEADS):
                w[i] = max(-127, min(127, round(w[i] / scale))) * scale
    body = data[:off] + struct.pack(f"<{n}f", *w)
    return body + struct.pack("<Q", xxhash.xxh64_intdigest(body, 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tropescan", required=True)
    ap.add_argument("--model", default="data/model/default.tsmodel")
    ap.add_argument("data", nargs="+")
    a = ap.parse_args()
    original = open(a.model, "rb").read()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("float32", "float16", "int8"):
            path = os.path.join(tmp, kind + ".tsmodel")
            with open(path, "wb") as f:
                f.write(original if kind == "float32" else quantise(original, kind))
            for d in a.data:
                out = subprocess.run([a.tropescan, "eval", "--json", "--model", path, d],
                                     check=True, capture_output=True, text=True).stdout
                r = json.loads(out)["heads"]
                rows.append((kind, os.path.basename(d), r))
    print("| weights | data | score PR-AUC | score ROC-AUC | score F1@0.5 | aligned PR-AUC | aligned ROC-AUC | aligned F1@0.5 |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, d, r in rows:
        cells = []
        for head in ("score", "aligned"):
            h = r[head]
            f1 = next(t["f1"] for t in h["thresholds"] if abs(t["threshold"] - 0.5) < 1e-9)
            cells += [f"{h['pr_auc']:.4f}", f"{h['roc_auc']:.4f}", f"{f1:.4f}"]
        print(f"| {kind} | {d} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
