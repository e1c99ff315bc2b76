#!/usr/bin/python3
"""Expands a tropescan lexicon directory into literal phrases, one a line, for
`rg -F -f` and `grep -F -f`: the same lexicon the scanner uses, as the
literal-pattern tools a user would pick instead can take it.

The syntax is lexicons/README.md's (implemented in src/lib/lexicon.c):
  `#` starts a comment (at the start of a line or after white space);
  `;` starts options: weight=W, cased, regex;
  `(a|b|)` alternatives, nested; `-` is "-", " " or nothing ("self-aware",
  "self aware", "selfaware"); `'` is "'" or nothing; ` ..N ` is up to N words
  in between; anything else matches itself.

What a literal list cannot say, and what this does instead (printed on stderr):
  - a gap ` ..N ` becomes the adjacent phrase (zero words in between), so
    the literal tools match a subset of what the gap pattern matches;
  - `regex` patterns are left out;
  - word boundaries are lost (tropescan puts \\b at word edges; -F cannot);
  - `cased` is lost (the tools run with -i).
A pattern that expands to more than --max-variants strings is cut there.

Usage: lexicon_phrases.py LEXICON_DIR > phrases.txt
"""

import argparse
import os
import re
import sys


class LexError(Exception):
    pass


def parse_seq(s, i, depth):
    """Parses a sequence up to end, '|' or ')'. Returns (items, i, had_gap)."""
    items = []
    gap = False
    while i < len(s):
        c = s[i]
        if c in "|)":
            if depth == 0:
                raise LexError(f"'{c}' outside a group")
            break
        if c == "(":
            alts = []
            i += 1
            while True:
                seq, i, g = parse_seq(s, i, depth + 1)
                gap |= g
                alts.append(seq)
                if i < len(s) and s[i] == "|":
                    i += 1
                    continue
                break
            if i >= len(s) or s[i] != ")":
                raise LexError("'(' is not closed")
            i += 1
            items.append(("alt", alts))
            continue
        m = re.match(r" \.\.(\d{1,3}) ", s[i:])
        if m:
            items.append(("gap", int(m.group(1))))
            gap = True
            i += m.end()
            continue
        if c == "-":
            items.append(("alt", [[("lit", "-")], [("lit", " ")], []]))
        elif c == "'":
            items.append(("alt", [[("lit", "'")], []]))
        else:
            items.append(("lit", c))
        i += 1
    return items, i, gap


def expand(items, cap):
    out = [""]
    for kind, val in items:
        if kind == "gap":
            out = [o + " " for o in out]
        elif kind == "lit":
            out = [o + val for o in out]
        else:
            alts = []
            for seq in val:
                alts.extend(expand(seq, cap))
            out = [o + a for o in out for a in alts][:cap]
    return out


WORD = re.compile(r"\w")


def to_regex(items):
    """The pattern as a Rust/PCRE regex, tropescan's translation (gap, optional
    hyphen and apostrophe); returns (regex, can_start_with_word, can_end_with_word)."""
    out = []
    for kind, val in items:
        if kind == "lit":
            out.append(re.escape(val) if val != " " else " ")
        elif kind == "gap":
            out.append("[^ \\w]* (?:[^ ]+ ){0,%d}[^ \\w]*" % val)
        else:
            out.append("(?:" + "|".join(to_regex(a) for a in val) + ")")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--max-variants", type=int, default=256)
    ap.add_argument("--regex", action="store_true",
                    help="print one regex a pattern (\\b at word edges) instead of phrases")
    args = ap.parse_args()
    phrases = {}
    npat = nregex = ngap = ncut = 0
    names = sorted(n for n in os.listdir(args.dir) if n.endswith(".txt"))
    for name in names:
        path = os.path.join(args.dir, name)
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip("\r\n")
                m = re.search(r"(^|[ \t])#", line)
                if m:
                    line = line[:m.start()]
                pat, _, opts = line.partition(";")
                pat = re.sub(r"[ \t]+", " ", pat).strip()
                if not pat:
                    continue
                npat += 1
                if re.search(r"(^|[ ,\t])regex($|[ ,\t])", opts):
                    nregex += 1
                    continue
                try:
                    items, i, gap = parse_seq(pat, 0, 0)
                    if i != len(pat):
                        raise LexError("')' without '('")
                except LexError as e:
                    sys.exit(f"{path}:{lineno}: {e}")
                ngap += gap
                if args.regex:
                    rx = to_regex(items)
                    vs = expand(items, 64)
                    b1 = "\\b" if all(v[:1] and WORD.match(v[0]) for v in vs) else ""
                    b2 = "\\b" if all(v[-1:] and WORD.match(v[-1]) for v in vs) else ""
                    phrases.setdefault(rx, b1 + rx + b2)
                    continue
                vs = expand(items, args.max_variants + 1)
                if len(vs) > args.max_variants:
                    ncut += 1
                    vs = vs[:args.max_variants]
                for v in vs:
                    v = re.sub(r" +", " ", v).strip()
                    if v:
                        phrases.setdefault(v.lower(), v)
    for k in sorted(phrases):
        print(phrases[k])
    if args.regex:
        print(f"lexicon_phrases: {npat} patterns -> {len(phrases)} regexes "
              f"({nregex} regex patterns left out)", file=sys.stderr)
        return
    print(f"lexicon_phrases: {npat} patterns in {len(names)} files -> {len(phrases)} phrases; "
          f"{ngap} with a gap made adjacent, {nregex} regex left out, {ncut} cut at "
          f"{args.max_variants} variants", file=sys.stderr)


if __name__ == "__main__":
    main()
