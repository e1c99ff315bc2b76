#!/usr/bin/python3
"""PROVISIONAL: prints lexicon lines as literal phrases (format pending)."""
import os, sys
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    if name.endswith(".txt"):
        for line in open(os.path.join(d, name), encoding="utf-8"):
            line = line.strip()
            if line and not line.startswith("#"):
                print(line)
