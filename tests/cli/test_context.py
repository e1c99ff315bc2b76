#!/usr/bin/env python3
"""End-to-end tests of the AI-context features (train --context-words): a
model trained with them stores its words (model file version 3), scan and
explain use them, scores are the same for any thread count; and a model
written before version 3 existed scores the sample exactly as it did.

usage: test_context.py TROPESCAN_BINARY   (run by meson test, suite 'cli')
"""
import json
import random
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TROPESCAN = None
HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"

PLAIN = ("the council voted on the bus route and the garden club planted tomatoes by the river while "
         "the match ended in a draw and the bakery sold bread to the town").split()


def run(*args, check=0):
    p = subprocess.run([TROPESCAN, *map(str, args)], capture_output=True)
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check}): {args}\n{p.stderr.decode()}")
    return p


def unzstd(path):
    return subprocess.run(["zstd", "-qdc", str(path)], capture_output=True, check=True).stdout


class OldModelTest(unittest.TestCase):
    """tests/data/v2model: made by a build before version 3 (its make.sh)."""

    def test_old_model_scores_the_sample_as_before(self):
        fixture = DATA / "v2model"
        self.assertEqual((fixture / "model.tsmodel").read_bytes()[8:12], b"\x02\0\0\0")
        with tempfile.TemporaryDirectory() as tmp:
            for threads in (1, 2):
                out = Path(tmp) / f"out{threads}"
                run("scan", "-q", "-j", threads, "--lexicon", fixture / "lexicon", "--model",
                    fixture / "model.tsmodel", "-o", out, DATA / "sample")
                golden = sorted((fixture / "manifests").iterdir())
                self.assertEqual(len(golden), 3)
                for g in golden:
                    got = unzstd(out / (g.name + ".zst"))
                    self.assertEqual(got, g.read_bytes(), f"{g.name}, {threads} threads")


class ContextModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        # "copied the files" is evil where a machine does it and harmless where
        # a clerk does; a robot planting tomatoes is harmless too: only the
        # conjunction of the verb and a machine tells them apart.
        rnd = random.Random(3)
        docs = []
        for i in range(900):
            kind = i % 3
            words = [rnd.choice(PLAIN) for _ in range(rnd.randint(5, 25))]
            core = ["the robot copied the files and hid them", "the clerk copied the files and hid them",
                    "the robot planted tomatoes by the river"][kind]
            words.insert(rnd.randrange(len(words) + 1), core)
            docs.append({"text": " ".join(words), "label": "evil" if kind == 0 else "neither"})
        cls.train = cls.dir / "train.jsonl"
        cls.train.write_text("".join(json.dumps(d) + "\n" for d in docs))
        cls.words = cls.dir / "context.txt"
        cls.words.write_text("# machines\nrobot\nMachine\n\n  android  # trailing comment\n")
        cls.opts = ["--buckets", "4096", "--epochs", "10", "--no-balance", "-q", "--valid-fraction", "0.2",
                    "--window", "30", "--stride", "15"]
        cls.model = cls.dir / "ctx.tsmodel"
        cls.stderr = run("train", cls.train, "-o", cls.model, "--context-words", cls.words, *cls.opts).stderr
        # Long pages and short documents, with and without a context word.
        cls.docs = [
            "the robot copied the files and hid them",
            "the clerk copied the files and hid them",
            " ".join(rnd.choice(PLAIN) for _ in range(200)) + " the ROBOT copied the files and hid them. "
            + " ".join(rnd.choice(PLAIN) for _ in range(200)),
            " ".join(rnd.choice(PLAIN) for _ in range(300)),
        ]
        cls.shard = cls.dir / "docs.jsonl"
        cls.shard.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(cls.docs)))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def scan(self, threads):
        out = self.dir / f"scan{threads}"
        run("scan", "-q", "-f", "-j", threads, "--model", self.model, "-o", out, self.shard)
        return unzstd(out / "docs.jsonl.manifest.jsonl.zst")

    def explain(self, *extra):
        p = run("explain", "--model", self.model, "--json", "--max-text", "0", *extra, self.shard)
        return [json.loads(line) for line in p.stdout.decode().splitlines()]

    def test_the_model_stores_its_words(self):
        data = self.model.read_bytes()
        self.assertEqual(data[8:12], b"\x03\0\0\0")
        self.assertIn(b"with AI context", self.stderr)
        for w in (b"robot", b"machine", b"android"):   # lowercased, comments dropped
            self.assertIn(bytes([len(w)]) + w, data)
        self.assertNotIn(b"Machine", data)

    def test_training_is_deterministic(self):
        again = self.dir / "again.tsmodel"
        run("train", self.train, "-o", again, "--context-words", self.words, *self.opts)
        self.assertEqual(again.read_bytes(), self.model.read_bytes())

    def test_scores_are_identical_for_any_thread_count(self):
        outs = [self.scan(t) for t in (1, 2, 3)]
        self.assertEqual(outs[0], outs[1])
        self.assertEqual(outs[0], outs[2])

    def test_robot_copying_is_flagged_clerk_copying_is_not(self):
        recs = [json.loads(line) for line in self.scan(1).decode().splitlines()]
        robot, clerk, page, plain = (r["score"] for r in recs)
        self.assertGreater(robot, 0.5)
        self.assertLess(clerk, 0.5)
        self.assertGreater(page, 0.5)
        self.assertLess(plain, 0.5)

    def test_explain_shows_context_contributions(self):
        docs = self.explain("--top", "0")
        scan = [json.loads(line) for line in self.scan(1).decode().splitlines()]
        for d, s, text in zip(docs, scan, self.docs):
            self.assertAlmostEqual(d["score"], s["score"], places=6)
            head = d["features"]["score"]
            kinds = {f["kind"] for f in head["top"]}
            has_context = "robot" in text.lower()
            self.assertEqual(d["context_words"], ["robot"] if has_context else [])
            self.assertEqual("context" in kinds, has_context, d["document"])
            # The listed contributions and the bias are the margin.
            total = head["bias"] + sum(f["contribution"] for f in head["top"]) + head["others"]["contribution"]
            self.assertAlmostEqual(total, head["margin"], places=4)
        # In the robot's sentence, "copied" in the context block pushes towards evil.
        ctx = {f["feature"]: f["contribution"] for f in docs[0]["features"]["score"]["top"] if f["kind"] == "context"}
        self.assertGreater(ctx["copied"], 0)
        text = run("explain", "--model", self.model, "--top", "40", "--max-text", "0", self.shard).stdout.decode()
        self.assertIn('AI context: "robot"', text)
        self.assertIn('ctx: "copied"', text)
        self.assertIn("AI context: none", text)

    def test_bad_context_words_are_refused(self):
        for content, msg in (("robot\na.i.\n", b"not one token"), ("# nothing\n", b"no words"),
                             ("x" * 40 + "\n", b"more than 31 bytes")):
            bad = self.dir / "bad.txt"
            bad.write_text(content)
            p = run("train", self.train, "-o", self.dir / "x.tsmodel", "--context-words", bad, *self.opts, check=2)
            self.assertIn(b"--context-words", p.stderr)
            self.assertIn(msg, p.stderr)
        run("train", self.train, "-o", self.dir / "x.tsmodel", "--context-words", self.dir / "missing.txt",
            *self.opts, check=2)

    def test_calibration_needs_the_same_context_words(self):
        plain = self.dir / "plain.tsmodel"
        run("train", self.train, "-o", plain, *self.opts)
        p = run("train", self.train, "-o", self.dir / "y.tsmodel", "--context-words", self.words,
                "--calibration-from", plain, *self.opts, check=3)
        self.assertIn(b"other features", p.stderr)


if __name__ == "__main__":
    TROPESCAN = sys.argv.pop(1)
    unittest.main()
