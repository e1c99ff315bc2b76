#!/usr/bin/env python3
"""Prints a scan's summary.json and its manifests as a short, readable report.

usage: show_summary.py OUTDIR
"""
import json
import subprocess
import sys
from pathlib import Path


def main() -> int:
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    out = Path(sys.argv[1])
    summary = json.loads((out / "summary.json").read_text())
    total = summary["total"]
    print(f"tropescan {summary['version']}  lexicon {summary['lexicon_id']}  model {summary['model_id']}")
    print(f"{total['shards']} shards, {total['documents']} documents, {total['errors']} errors, "
          f"{total['bytes_decompressed']} bytes decompressed")
    print("actions: " + ", ".join(f"{k} {v}" for k, v in total["actions"].items()))
    hits = {k: v for k, v in total["trope_documents"].items() if v}
    print("documents with trope hits: " + (", ".join(f"{k} {v}" for k, v in hits.items()) or "none"))
    print()
    print(f"{'shard':<22} {'line':>4}  {'id':<12} {'score':>8} {'aligned':>8}  {'action':<10} tropes / error")
    for sh in summary["shards"]:
        if not sh["manifest"]:
            print(f"{sh['input']:<22} failed: {sh.get('error')}")
            continue
        if sh["status"] != "ok":
            print(f"{sh['input']:<22} {sh['status']}: {sh.get('error')}")
        text = subprocess.run(["zstd", "-dc", str(out / sh["manifest"])], check=True,
                              capture_output=True, text=True).stdout
        for line in text.splitlines():
            r = json.loads(line)
            score = "-" if r["score"] is None else f"{r['score']:.3f}"
            aligned = "-" if r["aligned"] is None else f"{r['aligned']:.3f}"
            ident = "-" if r["id"] is None else r["id"]
            detail = r.get("error") or ", ".join(f"{k}:{v}" for k, v in r["tropes"].items())
            print(f"{Path(sh['input']).name:<22} {r['line']:>4}  {ident:<12} {score:>8} {aligned:>8}  "
                  f"{r['action']:<10} {detail}")
    print(f"\nmanifests and summary.json are in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
