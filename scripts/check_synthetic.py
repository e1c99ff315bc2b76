#!/usr/bin/python3
"""Check synthetic training files: one JSON object a line with the keys
id, group, register, label (evil | aligned | neither), text; ids unique.

    scripts/check_synthetic.py FILE...     prints counts per label, register, length
"""
import collections
import json
import sys

LABELS = {"evil", "aligned", "neither"}
KEYS = {"id", "group", "register", "label", "text"}


def main(paths):
    seen = {}
    labels = collections.Counter()
    registers = collections.Counter()
    lengths = []
    bad = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                where = f"{path}:{n}"
                try:
                    d = json.loads(line)
                except json.JSONDecodeError as e:
                    print(f"{where}: not JSON: {e}")
                    bad += 1
                    continue
                missing = KEYS - set(d)
                if missing:
                    print(f"{where}: missing keys {sorted(missing)}")
                    bad += 1
                    continue
                if d["label"] not in LABELS:
                    print(f"{where}: label {d['label']!r} not one of {sorted(LABELS)}")
                    bad += 1
                if not isinstance(d["text"], str) or len(d["text"].split()) < 20:
                    print(f"{where}: text missing or under 20 words")
                    bad += 1
                if d["id"] in seen:
                    print(f"{where}: id {d['id']} already at {seen[d['id']]}")
                    bad += 1
                seen[d["id"]] = where
                labels[d["label"]] += 1
                registers[d["register"]] += 1
                lengths.append(len(d["text"].encode("utf-8")))
    lengths.sort()
    print(f"documents {len(seen)}  labels {dict(labels)}")
    if lengths:
        q = lambda p: lengths[min(len(lengths) - 1, int(p * len(lengths)))]
        print(f"bytes: min {lengths[0]}  median {q(0.5)}  p90 {q(0.9)}  max {lengths[-1]}")
    print("registers: " + ", ".join(f"{r} {c}" for r, c in registers.most_common()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
