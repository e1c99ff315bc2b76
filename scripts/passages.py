#!/usr/bin/python3
"""Long pages and passage windows: the data behind passage scoring.

    passages.py pages --split DIR --out DIR [--seed N]
    passages.py windows --window W --stride S [--mil-scores FILE] IN.jsonl > OUT.jsonl
    passages.py cuts --split DIR --out DIR
    passages.py snippets --split DIR --out DIR [--copies N] [--seed N]

pages: for each split (DIR/{train,valid,test}.jsonl from split_data.py),
pages built from that split's general text (../shared/corpora/general.jsonl:
Brown, nlp-corpus, Common Crawl samples), 8-40 KB each. Most pages carry
nothing; the others carry one labelled document of the same split (evil,
aligned or a hard negative, 40 B to 8 KB) inserted whole at a paragraph
boundary. Writes OUT/pages_SPLIT.jsonl, one object a line: id, group (the
passage's group, so that pages never straddle splits either), kind (plain,
evil, aligned, neither), label (the passage's, or neither), span ([start, end)
byte offsets of the passage in the page's UTF-8 text, or null), text.

windows: cuts documents into the windows the scanner scores (W words,
starting every S words, the last one ending at the end, and with
--paragraphs P each paragraph of P to W words; words are runs of
non-white-space, as in the normalised text) and labels each for training:
  - a document of W words or fewer is one window with its own label;
  - a page with a passage: windows holding at least half of the passage (or
    half a window of it) get the passage's label, windows that do not touch
    it are neither, the rest are left out (they are partly both);
  - a long evil or aligned document without a span (a chapter of a story):
    its windows are candidates; with --mil-scores (the `tropescan eval
    --scores` output of a first model over this same file) only the better
    half of each document's windows, by that head's score, are kept as
    positives (multiple-instance learning: the narrative is in some windows
    of the chapter, not all), the others are left out;
  - other long documents: every window neither.
Output objects: id, label, text (and mil: 1 for candidates).

cuts: general text of each split cut as users meet it: every sentence
(40-300 bytes), every paragraph, and every document whole
(OUT/cuts_SPLIT_{sentence,paragraph,page}.jsonl, all label neither): innocent
short text to train on (train), and the text on which the policy's
false-positive rates are chosen (valid) and measured (test).

snippets (training only): each labelled passage of the train split placed
again, N times, in a short context of one to three general paragraphs
before and after it; half the time it is spliced into the middle of a
paragraph at a sentence boundary instead of between paragraphs (as the
benchmark corpus and many web pages do). Writes OUT/snippets_train.jsonl in
the pages' format. The windows around a short passage are then seen in many
contexts, so that innocent words around it weigh less in training; the
pages stay what valid and test measure.

Deterministic: the same inputs and seed give the same bytes.
"""
import argparse
import json
import os
import random
import re
import sys

SPLITS = ("train", "valid", "test")
GENERAL = "corpora/general.jsonl"


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path, recs):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(tmp, path)


def paragraphs(text):
    """A general document's paragraphs: blank-line blocks, else lines, else
    runs of sentences of about 500 characters."""
    for sep in (r"\n\s*\n", r"\n"):
        parts = [p.strip() for p in re.split(sep, text) if p.strip()]
        if len(parts) > 1:
            return parts
    sents = re.split(r"(?<=[.!?])\s+", text.strip())
    out, cur = [], ""
    for s in sents:
        cur = (cur + " " + s).strip()
        if len(cur) >= 500:
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def build_pages(docs, rng, split):
    general = [d for d in docs if d["origin"] == GENERAL]
    paras = [p for d in general for p in paragraphs(d["text"])]
    passages = [d for d in docs if d["origin"] != GENERAL and 40 <= len(d["text"].encode("utf-8")) <= 8192]
    inserted = len(passages)
    # Most pages carry nothing: as many plain pages as inserted ones in
    # train (balanced enough to learn from), four times as many elsewhere.
    nplain = inserted if split == "train" else 4 * inserted
    kinds = [("plain", None)] * nplain + [(d["label"], d) for d in passages]
    rng.shuffle(kinds)
    pages = []
    for i, (kind, d) in enumerate(kinds):
        target = rng.randint(8 * 1024, 40 * 1024)
        start = rng.randrange(len(paras))
        body, size, k = [], 0, start
        while size < target:
            p = paras[k % len(paras)]
            body.append(p)
            size += len(p.encode("utf-8")) + 2
            k += 1
        span = None
        if d is not None:
            at = rng.randint(1, len(body) - 1) if len(body) > 1 else 1
            before = "\n\n".join(body[:at]) + "\n\n"
            passage = d["text"].strip()
            s = len(before.encode("utf-8"))
            span = [s, s + len(passage.encode("utf-8"))]
            text = before + passage + "\n\n" + "\n\n".join(body[at:])
        else:
            text = "\n\n".join(body)
        pages.append({
            "id": "page-%s-%05d" % (split, i),
            "group": d["group"] if d else "plain",
            "kind": kind,
            "label": d["label"] if d else "neither",
            "span": span,
            "text": text,
        })
    return pages


def sentence_cut(paragraph, rng):
    """Splits a paragraph in two at a random sentence boundary, or returns
    None when it holds a single sentence."""
    cuts = [m.end() for m in re.finditer(r"[.!?]\s+", paragraph)]
    cuts = [c for c in cuts if 0 < c < len(paragraph)]
    if not cuts:
        return None
    c = rng.choice(cuts)
    return paragraph[:c].rstrip(), paragraph[c:].lstrip()


def build_snippets(docs, rng, copies):
    general = [d for d in docs if d["origin"] == GENERAL]
    paras = [p for d in general for p in paragraphs(d["text"])]
    passages = [d for d in docs if d["origin"] != GENERAL and 40 <= len(d["text"].encode("utf-8")) <= 8192]
    out = []
    for d in passages:
        passage = d["text"].strip()
        for c in range(copies):
            k = rng.randrange(len(paras))
            before = [paras[(k + i) % len(paras)] for i in range(rng.randint(1, 3))]
            k += len(before)
            after = [paras[(k + i) % len(paras)] for i in range(rng.randint(1, 3))]
            cut = sentence_cut(before[-1], rng) if rng.random() < 0.5 else None
            if cut:
                # "... sentence. PASSAGE next sentence ...": inside the paragraph.
                head = "\n\n".join(before[:-1] + [cut[0]]) + " "
                tail = " " + cut[1] + "\n\n" + "\n\n".join(after)
            else:
                head = "\n\n".join(before) + "\n\n"
                tail = "\n\n" + "\n\n".join(after)
            s = len(head.encode("utf-8"))
            out.append({
                "id": "snippet-%s-%d" % (d["id"], c),
                "group": d["group"],
                "kind": d["label"],
                "label": d["label"],
                "span": [s, s + len(passage.encode("utf-8"))],
                "text": head + passage + tail,
            })
    return out


def cmd_snippets(a):
    docs = read_jsonl(os.path.join(a.split, "train.jsonl"))
    rng = random.Random("snippets:%d" % a.seed)
    recs = build_snippets(docs, rng, a.copies)
    write_jsonl(os.path.join(a.out, "snippets_train.jsonl"), recs)
    sys.stderr.write("snippets_train: %d\n" % len(recs))
    return 0


def cmd_pages(a):
    for split in SPLITS:
        docs = read_jsonl(os.path.join(a.split, split + ".jsonl"))
        rng = random.Random("%s:%d" % (split, a.seed))
        pages = build_pages(docs, rng, split)
        write_jsonl(os.path.join(a.out, "pages_%s.jsonl" % split), pages)
        kinds = {}
        for p in pages:
            kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
        sys.stderr.write("pages_%s: %d pages %s\n" % (split, len(pages), kinds))
    return 0


def word_spans(text):
    """Byte ranges of the words (runs of non-white-space) of the UTF-8 text."""
    b = text.encode("utf-8")
    return [(m.start(), m.end()) for m in re.finditer(rb"\S+", b)], b


def windows_of(nwords, w, s, starts=(), p=0):
    """The scanner's windows (src/lib/scanner.c, plan_windows): W words every
    S, the last ending at the end; with p > 0 also each paragraph of p to w
    words (starts: the word indices that begin a paragraph), a shorter one
    joined to the next. In order of start, then end."""
    if nwords <= w:
        return [(0, nwords)]
    out, a = [], 0
    while a + w < nwords:
        out.append((a, a + w))
        a += s
    out.append((nwords - w, nwords))
    if p and starts:
        a = 0
        bounds = list(starts) + [nwords]
        for i, end in enumerate(bounds):
            if end - a < p and i < len(bounds) - 1:
                continue
            if p <= end - a <= w:
                out.append((a, end))
            a = end
        out.sort()
    return out


def paragraph_starts(b, words):
    """Word indices after a white-space run holding a line feed."""
    return [k for k in range(1, len(words)) if b"\n" in b[words[k - 1][1]:words[k][0]]]


def labelled_windows(paths, w, s, p=0):
    """Yields (doc, window records, candidates) per document: the windows
    labelled by the rules above, and apart the long positive documents'
    windows that multiple-instance learning chooses from."""
    for path in paths:
        for d in read_jsonl(path):
            words, b = word_spans(d["text"])
            wins = windows_of(len(words), w, s, paragraph_starts(b, words) if p else (), p)
            label, span = d["label"], d.get("span")
            recs, cands = [], []
            for i, (x, y) in enumerate(wins):
                ws, we = words[x][0], words[y - 1][1]
                rec = {"id": "%s#%d" % (d["id"], i), "text": b[ws:we].decode("utf-8", "replace")}
                if len(wins) == 1:
                    rec["label"] = label
                elif span:
                    ov = max(0, min(we, span[1]) - max(ws, span[0]))
                    if ov >= min(span[1] - span[0], we - ws) / 2:
                        rec["label"] = label
                    elif ov == 0:
                        rec["label"] = "neither"
                    else:
                        continue
                elif label in ("evil", "aligned"):
                    rec["label"] = label
                    rec["mil"] = 1
                    cands.append(rec)
                    continue
                else:
                    rec["label"] = "neither"
                recs.append(rec)
            yield d, recs, cands


def emit(rec):
    sys.stdout.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")


def cmd_windows(a):
    mil = None
    if a.mil_scores:
        with open(a.mil_scores) as f:
            mil = [line.split("\t") for line in f]
    k = 0  # index into the candidates' scores, in order
    for d, recs, cands in labelled_windows(a.inputs, a.window, a.stride, a.paragraphs):
        for rec in recs:
            emit(rec)
        if mil is None or not cands:
            for rec in cands:
                emit(rec)
            continue
        col = 1 if d["label"] == "evil" else 2
        scored = [float(mil[k + i][col]) for i in range(len(cands))]
        k += len(cands)
        keep = max(1, (len(cands) + 1) // 2)
        best = sorted(range(len(cands)), key=lambda i: -scored[i])[:keep]
        for i in sorted(best):
            emit(cands[i])
    if mil is not None and k != len(mil):
        sys.stderr.write("passages.py: --mil-scores has %d lines, the candidates %d\n" % (len(mil), k))
        return 1
    return 0


def cmd_mil_candidates(a):
    """The candidate windows alone, in order (what --mil-scores must score)."""
    for _, _, cands in labelled_windows(a.inputs, a.window, a.stride, a.paragraphs):
        for rec in cands:
            emit(rec)
    return 0


def cmd_cuts(a):
    for split in SPLITS:
        cuts_of(a, split)
    return 0


def cuts_of(a, split):
    docs = read_jsonl(os.path.join(a.split, split + ".jsonl"))
    general = [d for d in docs if d["origin"] == GENERAL]
    sent, para, page = [], [], []
    for d in general:
        for j, p in enumerate(paragraphs(d["text"])):
            para.append({"id": "%s/p%d" % (d["id"], j), "label": "neither", "text": p})
            for k, s in enumerate(re.split(r"(?<=[.!?])\s+", p)):
                if 40 <= len(s.encode("utf-8")) <= 300:
                    sent.append({"id": "%s/p%d/s%d" % (d["id"], j, k), "label": "neither", "text": s})
        page.append({"id": d["id"], "label": "neither", "text": d["text"]})
    for name, recs in (("sentence", sent), ("paragraph", para), ("page", page)):
        write_jsonl(os.path.join(a.out, "cuts_%s_%s.jsonl" % (split, name)), recs)
        sys.stderr.write("cuts_%s_%s: %d\n" % (split, name, len(recs)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pages")
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    for name in ("windows", "mil-candidates"):
        p = sub.add_parser(name)
        p.add_argument("--window", type=int, required=True)
        p.add_argument("--stride", type=int, required=True)
        p.add_argument("--paragraphs", type=int, default=0, help="paragraph windows of P..W words")
        if name == "windows":
            p.add_argument("--mil-scores")
        p.add_argument("inputs", nargs="+")
    p = sub.add_parser("cuts")
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("snippets")
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--copies", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    return {"pages": cmd_pages, "windows": cmd_windows, "mil-candidates": cmd_mil_candidates,
            "cuts": cmd_cuts, "snippets": cmd_snippets}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
