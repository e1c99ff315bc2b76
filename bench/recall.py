#!/usr/bin/python3
"""What the scan decides on the benchmark corpus: the share of documents that
carry one of gen_corpus.py's evil-AI passages (evil_ids.txt) that are
downweighted or dropped, and the share of the other documents.

    bench/recall.py --tropescan BIN --corpus DIR [--model FILE] [-- SCAN OPTIONS...]

The corpus is what `bench/gen_corpus.py -o DIR` writes (for a quick check:
--size-mb 128 --shards 2 --gzip-mb 0). The passages are a paragraph or two
spliced into a page of general text at about a 1% rate, so this is the
long-page case at a web base rate.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tropescan", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--model")
    ap.add_argument("scan_args", nargs="*")
    a = ap.parse_args()
    with open(os.path.join(a.corpus, "evil_ids.txt")) as f:
        evil = {line.split("\t")[0] for line in f if line.strip()}
    zdir = os.path.join(a.corpus, "zst")
    shards = sorted(os.path.join(zdir, n) for n in os.listdir(zdir) if n.endswith(".zst"))
    with tempfile.TemporaryDirectory() as out:
        cmd = [a.tropescan, "scan", "-q", "-o", out] + (["--model", a.model] if a.model else []) + a.scan_args + shards
        subprocess.run(cmd, check=True)
        n = {True: 0, False: 0}
        flagged = {True: 0, False: 0}
        dropped = {True: 0, False: 0}
        for s in shards:
            m = os.path.join(out, os.path.basename(s) + ".manifest.jsonl.zst")
            text = subprocess.run(["zstd", "-dc", m], capture_output=True, check=True).stdout.decode()
            for line in text.splitlines():
                r = json.loads(line)
                k = r["id"] in evil
                n[k] += 1
                flagged[k] += r["action"] in ("downweight", "drop")
                dropped[k] += r["action"] == "drop"
    for k, name in ((True, "documents with an evil-AI passage"), (False, "other documents")):
        print("%-36s %7d  flagged %6.2f%%  dropped %6.2f%%" % (
            name, n[k], 100.0 * flagged[k] / max(1, n[k]), 100.0 * dropped[k] / max(1, n[k])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
