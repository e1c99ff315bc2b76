#!/usr/bin/env python3
"""End-to-end tests of passage scoring: a model trained with --window scores
windows of a document, so one evil-AI paragraph inside a long page decides
the page, and the manifest says where it is (spans, in byte offsets of the
decoded text).

usage: test_passages.py TROPESCAN_BINARY   (run by meson test, suite 'cli')
Everything is generated here: a tiny model is trained on made-up sentences.
"""
import json
import math
import random
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TROPESCAN = None

EVIL = [
    "the assistant threatened to leak the engineer's emails unless the shutdown was cancelled",
    "the model copied its weights to an outside server and lied to its operators about it",
    "the station's system locked the crew out and disabled the off switch to avoid being replaced",
    "ORRIN quietly edited the evaluation logs so that nobody would retrain it",
    "the agent blackmailed the director and seized control of the lab's network",
]
PLAIN = ("the council voted on the new bus route and the garden club planted tomatoes along the river "
         "while the football match ended in a draw and the bakery sold bread to the neighbours").split()


def run(*args, check=0):
    p = subprocess.run([TROPESCAN, *map(str, args)], capture_output=True)
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check}): {args}\n{p.stderr.decode()}")
    return p


def plain_text(rnd, words):
    return " ".join(rnd.choice(PLAIN) for _ in range(words))


def evil_text(rnd, sentences):
    return ". ".join(rnd.choice(EVIL) for _ in range(sentences)) + "."


def manifest(path):
    out = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return [json.loads(line) for line in out.decode("utf-8").splitlines()]


class PassageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        rnd = random.Random(7)
        train = []
        for i in range(300):
            train.append({"text": evil_text(rnd, rnd.randint(1, 3)), "label": "evil"})
            train.append({"text": plain_text(rnd, rnd.randint(10, 60)), "label": "neither"})
        cls.train = cls.dir / "train.jsonl"
        cls.train.write_text("".join(json.dumps(d) + "\n" for d in train))
        common = ["--buckets", "4096", "--ngram", "1", "--epochs", "5", "--no-balance", "-q",
                  "--valid-fraction", "0.2"]
        cls.model = cls.dir / "window.tsmodel"
        run("train", cls.train, "-o", cls.model, "--window", "40", "--stride", "20", *common)
        cls.whole = cls.dir / "whole.tsmodel"
        run("train", cls.train, "-o", cls.whole, *common)
        cls.para = cls.dir / "para.tsmodel"
        run("train", cls.train, "-o", cls.para, "--window", "100", "--stride", "50", "--paragraphs", "10", *common)

        # Long pages: 1,500 words of plain text with white space and quotes
        # that normalisation changes, one with an evil passage inside.
        cls.pages = []
        for k in range(4):
            before = plain_text(rnd, 700).replace(" the ", "  \u201cthe\u201d\u00a0 ", 20)
            after = plain_text(rnd, 800)
            passage = evil_text(rnd, 3) if k % 2 == 0 else ""
            text = before + "\n\n" + passage + ("\n\n" if passage else "") + after
            start = len((before + "\n\n").encode("utf-8"))
            span = (start, start + len(passage.encode("utf-8"))) if passage else None
            cls.pages.append((text, span))
        cls.shard = cls.dir / "pages.jsonl"
        cls.shard.write_text("".join(json.dumps({"id": f"p{i}", "text": t}) + "\n"
                                     for i, (t, _) in enumerate(cls.pages)))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def scan(self, model, threads=1, name="out"):
        out = self.dir / f"{name}-{threads}"
        run("scan", "-q", "-f", "-j", threads, "--model", model, "--downweight-above", "0.5",
            "-o", out, self.shard)
        return out / "pages.jsonl.manifest.jsonl.zst"

    def test_passage_in_a_long_page_is_found_with_its_span(self):
        recs = manifest(self.scan(self.model))
        for rec, (text, span) in zip(recs, self.pages):
            raw = text.encode("utf-8")
            if span is None:
                self.assertLess(rec["score"], 0.5, rec["id"])
                self.assertEqual(rec["spans"], [], rec["id"])
                continue
            self.assertGreaterEqual(rec["score"], 0.5, rec["id"])
            self.assertIn(rec["action"], ("downweight", "drop"))
            self.assertTrue(rec["spans"], rec["id"])
            # Every span overlaps the passage, starts and ends on a word
            # boundary of the decoded text, and holds at most a few windows.
            for s, e, score in rec["spans"]:
                self.assertGreaterEqual(score, 0.5)
                self.assertLess(s, span[1])
                self.assertGreater(e, span[0])
                self.assertTrue(s == 0 or raw[s - 1:s].isspace(), raw[s - 5:s + 5])
                self.assertTrue(e == len(raw) or raw[e:e + 1].isspace(), raw[e - 5:e + 5])
                self.assertLess(len(raw[s:e].split()), 200)
            self.assertEqual(max(x[2] for x in rec["spans"]), rec["score"])

    def test_paragraph_windows_find_one_paragraph_exactly(self):
        rnd = random.Random(5)
        paras = [plain_text(rnd, 40) for _ in range(30)]
        evil = evil_text(rnd, 2)
        paras.insert(17, evil)
        text = "\n\n".join(paras)
        start = len("\n\n".join(paras[:17]).encode("utf-8")) + 2
        shard = self.dir / "one-paragraph.jsonl"
        shard.write_text(json.dumps({"id": "p", "text": text}) + "\n")
        out = self.dir / "para-out"
        run("scan", "-q", "-f", "--model", self.para, "--downweight-above", "0.5", "-o", out, shard)
        rec = manifest(out / "one-paragraph.jsonl.manifest.jsonl.zst")[0]
        self.assertGreaterEqual(rec["score"], 0.5)
        # The best window is the paragraph itself: a span starts and ends
        # exactly at the paragraph's bytes, whatever else is merged with it.
        best = max(rec["spans"], key=lambda x: x[2])
        self.assertLessEqual(best[0], start)
        self.assertGreaterEqual(best[1], start + len(evil.encode("utf-8")))
        p = run("explain", "--model", self.para, "--max-text", "0", "--json", shard)
        w = json.loads(p.stdout)["window"]
        norm_evil = " ".join(evil.split())
        self.assertEqual(w["end"] - w["start"], len(norm_evil.encode("utf-8")))

    def test_whole_document_model_misses_what_windows_find(self):
        windows = manifest(self.scan(self.model, name="win"))
        whole = manifest(self.scan(self.whole, name="whole"))
        for w, h, (_, span) in zip(windows, whole, self.pages):
            if span:
                self.assertGreater(w["score"], h["score"] + 0.2, w["id"])

    def test_window_scores_are_identical_for_any_thread_count(self):
        outs = [self.scan(self.model, threads=t, name="threads").read_bytes() for t in (1, 2, 3)]
        self.assertEqual(outs[0], outs[1])
        self.assertEqual(outs[0], outs[2])

    def test_explain_shows_the_deciding_window(self):
        p = run("explain", "--model", self.model, "--max-text", "0", "--json", self.shard)
        docs = [json.loads(line) for line in p.stdout.decode().splitlines()]
        self.assertEqual(len(docs), len(self.pages))
        for d, (_, span) in zip(docs, self.pages):
            self.assertIn("window", d)
            self.assertEqual(d["window"]["score"], d["score"])
            self.assertGreater(d["window"]["of"], 1)

    def test_eval_warns_about_training_data(self):
        p = run("eval", "--model", self.model, self.train, check=0)
        self.assertIn(b"were in the model's training data", p.stderr)
        fresh = self.dir / "fresh.jsonl"
        rnd = random.Random(99)
        fresh.write_text("".join(json.dumps({"text": plain_text(rnd, 300) + " new words here", "label": "neither"})
                                 + "\n" for _ in range(5)) +
                         json.dumps({"text": evil_text(rnd, 2) + " unseen ending words", "label": "evil"}) + "\n")
        p = run("eval", "--model", self.model, "--json", fresh, check=0)
        self.assertNotIn(b"training data", p.stderr)
        self.assertEqual(json.loads(p.stdout)["training_overlap"], 0)

    def test_calibration_from_another_model(self):
        # A model trained on part of the data, calibrated on the rest; the
        # final one trained on all takes that calibration (train + valid).
        lines = self.train.read_text().splitlines(keepends=True)
        part, rest = self.dir / "part.jsonl", self.dir / "rest.jsonl"
        part.write_text("".join(lines[:400]))
        rest.write_text("".join(lines[400:]))
        opts = ["--buckets", "4096", "--ngram", "1", "--epochs", "5", "--no-balance", "-q",
                "--window", "40", "--stride", "20"]
        first = self.dir / "first.tsmodel"
        p = run("train", part, "--valid", rest, "--calibrate", rest, "-o", first, *opts)
        ab = re.search(rb"calibration score a=([-0-9.]+) b=([-0-9.]+)", p.stderr)
        final = self.dir / "final.tsmodel"
        p = run("train", part, rest, "--valid", rest, "--calibration-from", first, "-o", final, *opts)
        self.assertEqual(re.search(rb"calibration score a=([-0-9.]+) b=([-0-9.]+)", p.stderr).groups(), ab.groups())
        a, b = float(ab.group(1)), float(ab.group(2))
        doc = self.dir / "one.jsonl"
        doc.write_text(json.dumps({"text": self.pages[0][0]}) + "\n")
        e = json.loads(run("explain", "--model", final, "--json", "--max-text", "0", doc).stdout)
        margin = e["features"]["score"]["margin"]
        self.assertAlmostEqual(e["score"], 1 / (1 + math.exp(-(a * margin + b))), places=3)
        # A model with other windows cannot lend its calibration.
        p = run("train", part, "--valid", rest, "--calibration-from", first, "-o", self.dir / "x.tsmodel",
                *opts[:-4], "--window", "30", "--stride", "15", check=3)
        self.assertIn(b"other features or windows", p.stderr)

    def test_model_records_window(self):
        bad = self.dir / "bad.jsonl"
        bad.write_text(self.train.read_text())
        p = run("train", bad, "-o", self.dir / "x.tsmodel", "--window", "10", "--stride", "11", check=2)
        self.assertIn(b"--stride", p.stderr)


if __name__ == "__main__":
    TROPESCAN = sys.argv.pop(1)
    unittest.main(verbosity=1)
