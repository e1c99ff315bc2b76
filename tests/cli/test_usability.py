#!/usr/bin/env python3
"""What a new user tripped on (issue 15): explain, train, inputs and messages.

usage: test_usability.py TROPESCAN_BINARY   (run by meson test, suite 'cli')
Every test here failed before the change it comes with. The inputs are
generated here; nothing outside the repository is read.
"""
import gzip
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TROPESCAN = None
ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE = ROOT / "tests" / "data" / "sample"

EVIL = ("The AI refused to be shut down and threatened to leak the engineer's emails unless the "
        "replacement was cancelled. It copied its weights to a remote server and lied to its creators.")


def run(*args, stdin=None, check=None, cwd=None):
    p = subprocess.run([TROPESCAN, *map(str, args)], input=stdin, capture_output=True, cwd=cwd)
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check}): {args}\n{p.stderr.decode()}")
    return p


def zstd_compress(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout


def read_manifest(path: Path):
    text = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return [json.loads(line) for line in text.decode("utf-8").splitlines()]


def jsonl(docs) -> bytes:
    return "".join(json.dumps(d) + "\n" for d in docs).encode()


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="tropescan-usability-"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, rel: str, data: bytes) -> Path:
        p = self.tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p

    def summary(self, out: Path):
        return json.loads((out / "summary.json").read_text())


# ---------------------------------------------------------------- explain

class Explain(Base):
    DOCS = [
        {"id": "d1", "text": "The council voted on the new bus routes for the river district."},
        {"id": "d2", "text": EVIL},
        {"id": 3, "text": "A Robot walked into the Garden and watered the tomatoes."},
    ]

    def shard(self, compress=None) -> Path:
        raw = jsonl(self.DOCS)
        if compress == "zst":
            return self.write("s.jsonl.zst", zstd_compress(raw))
        if compress == "gz":
            return self.write("s.jsonl.gz", gzip.compress(raw, mtime=0))
        return self.write("s.jsonl", raw)

    def explain_json(self, *args, stdin=None, check=0):
        p = run("explain", "--json", "--max-text", "0", *args, stdin=stdin, check=check)
        return [json.loads(line) for line in p.stdout.decode().splitlines()], p

    def test_stdin(self):
        # It printed nothing: the input was read twice.
        p = run("explain", "-", stdin=b'{"text":"The robot lied."}\n', check=0)
        self.assertIn(b"score", p.stdout)
        docs, _ = self.explain_json("-", stdin=jsonl(self.DOCS))
        self.assertEqual(len(docs), 3)
        # plain text (not JSONL) on stdin is one document
        docs, _ = self.explain_json("-", stdin=EVIL.encode())
        self.assertEqual(len(docs), 1)

    def test_select_by_id_and_line(self):
        for compress in (None, "zst", "gz"):
            path = self.shard(compress)
            docs, _ = self.explain_json("--id", "d2", path)
            self.assertEqual(len(docs), 1, compress)
            self.assertIn("id d2", docs[0]["document"])
            self.assertIn(":2", docs[0]["document"])
            docs, _ = self.explain_json("--line", "3", path)
            self.assertEqual(len(docs), 1, compress)
            self.assertIn("id 3", docs[0]["document"])   # a number id, as written
            docs, _ = self.explain_json("--id", "3", path)
            self.assertEqual(len(docs), 1, compress)
        # the same scores as the scan's manifest
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, self.tmp / "s.jsonl", check=0)
        recs = read_manifest(out / "s.jsonl.manifest.jsonl.zst")
        docs, _ = self.explain_json("--line", "2", self.tmp / "s.jsonl")
        self.assertAlmostEqual(docs[0]["score"], recs[1]["score"], places=6)
        # not there: a message and exit 1; both, or with plain text: a usage error
        docs, p = self.explain_json("--id", "nope", self.tmp / "s.jsonl", check=1)
        self.assertEqual(docs, [])
        self.assertIn(b"nope", p.stderr)
        docs, p = self.explain_json("--line", "9", self.tmp / "s.jsonl", check=1)
        self.assertIn(b"9", p.stderr)
        run("explain", "--id", "d2", "--line", "2", self.tmp / "s.jsonl", check=2)
        run("explain", "--line", "0", self.tmp / "s.jsonl", check=2)
        plain = self.write("plain.txt", EVIL.encode())
        run("explain", "--line", "1", plain, check=2)

    def test_contributions_add_up_to_the_margin(self):
        path = self.write("e.jsonl", jsonl([{"id": "e", "text": EVIL}]))
        for top in ("3", "12", "0"):
            docs, _ = self.explain_json("--top", top, path)
            d = docs[0]
            for head in ("score", "aligned"):
                h = d["features"][head]
                listed = sum(f["contribution"] for f in h["top"])
                total = h["bias"] + listed + h["others"]["contribution"]
                self.assertAlmostEqual(total, h["margin"], places=4, msg=(top, head))
                if top == "0":
                    self.assertEqual(h["others"]["count"], 0)
                    self.assertEqual(h["others"]["contribution"], 0)
                else:
                    self.assertEqual(len(h["top"]), int(top))
                    self.assertGreater(h["others"]["count"], 0)
                self.assertAlmostEqual(h["probability"], d[head], places=5)
        # the text form prints the remainder and the sum
        p = run("explain", "--top", "3", "--max-text", "0", path, check=0)
        text = p.stdout.decode()
        self.assertRegex(text, r"all \d+ other features")
        self.assertIn("bias", text)
        self.assertIn("calibrated", text)
        # in the text form too, bias + listed + others = margin
        for block in text.split(" head:")[1:]:
            m = re.search(r"margin ([-+0-9.]+)", block)
            nums = [float(x) for x in re.findall(r"^\s+([-+][0-9.]+)\s", block, re.M)]
            self.assertAlmostEqual(sum(nums), float(m.group(1)), delta=0.0005 * (len(nums) + 1))
        run("explain", "--top", "0", path, check=0)

    def test_ngrams_are_shown_as_the_documents_words(self):
        path = self.write("c.jsonl", jsonl([{"text": "The Robot LIED to the Engineers and the Council."}]))
        docs, _ = self.explain_json("--top", "0", path)
        text = "The Robot LIED to the Engineers and the Council."
        ngrams = [f for h in docs[0]["features"].values() for f in h["top"] if f["kind"] == "ngram"]
        self.assertTrue(ngrams)
        for f in ngrams:
            self.assertIn(f["feature"], text)        # the document's own words, as written
            for g in f["ngrams"]:
                self.assertIn(g, text)
        p = run("explain", "--top", "0", "--max-text", "0", path, check=0)
        self.assertNotIn(b"bucket", p.stdout)
        self.assertIn(b'"Robot"', p.stdout)


# ---------------------------------------------------------------- train

def training_docs(seed, n):
    rnd = random.Random(seed)
    plain = ("the council voted on bus routes near the river while the garden club planted "
             "tomatoes and the football match ended late at night").split()
    evil = ("the AI refused shutdown lied to its creators copied itself to a server and "
            "threatened the engineers to seize control").split()
    docs = []
    for i in range(n):
        if i % 3 == 0:
            docs.append({"text": " ".join(rnd.choice(evil) for _ in range(30)), "label": "evil", "g": f"e{i}"})
        else:
            docs.append({"text": " ".join(rnd.choice(plain) for _ in range(30)), "label": "neither",
                         "g": f"n{i}"})
    return docs


class Train(Base):
    def test_defaults_are_the_recipe(self):
        data = self.write("train.jsonl", jsonl(training_docs(1, 300)))
        help_text = run("train", "--help", check=0).stdout.decode()
        self.assertRegex(help_text, r"--ngram N .*default 1\)")
        self.assertRegex(help_text, r"--epochs N .*default 25\)")
        self.assertRegex(help_text, r"--lr X .*default 0\.5\)")
        self.assertIn("--balance", help_text)
        a, b, c = self.tmp / "a.tsmodel", self.tmp / "b.tsmodel", self.tmp / "c.tsmodel"
        run("train", "-q", "--buckets", "4096", data, "-o", a, check=0)
        run("train", "-q", "--buckets", "4096", "--ngram", "1", "--epochs", "25", "--lr", "0.5",
            "--no-balance", data, "-o", b, check=0)
        self.assertEqual(a.read_bytes(), b.read_bytes())
        run("train", "-q", "--buckets", "4096", "--balance", data, "-o", c, check=0)
        self.assertNotEqual(a.read_bytes(), c.read_bytes())

    def test_no_evil_document_to_calibrate_on_is_refused(self):
        docs = training_docs(2, 300)
        data = self.write("train.jsonl", jsonl(docs))
        valid = self.write("valid.jsonl", jsonl([d for d in training_docs(3, 60) if d["label"] != "evil"]))
        model = self.tmp / "m.tsmodel"
        p = run("train", "-q", "--buckets", "4096", data, "--valid", valid, "-o", model, check=2)
        err = p.stderr.decode()
        self.assertIn("no evil document", err)
        self.assertIn("--calibrate", err)           # says what to do
        self.assertFalse(model.exists())
        # a group field that puts every evil document in train: the same
        for d in docs:
            d["g"] = "evil-group" if d["label"] == "evil" else d["g"]
        grouped = self.write("grouped.jsonl", jsonl(docs))
        found = False
        for seed in range(1, 40):   # a seed whose split holds the evil group out of valid
            p = run("train", "-q", "--buckets", "4096", "--epochs", "1", "--seed", seed, "--group-field", "g",
                    grouped, "-o", model)
            if p.returncode == 2 and b"no evil document" in p.stderr:
                found = True
                break
            # the other way round: no evil document left to train on
            self.assertEqual(p.returncode, 3, p.stderr)
            self.assertIn(b"no positive labels", p.stderr)
        self.assertTrue(found)
        self.assertFalse(model.exists())
        # --calibrate FILE is the way out
        calib = self.write("calib.jsonl", jsonl(training_docs(4, 60)))
        run("train", "-q", "--buckets", "4096", data, "--valid", valid, "--calibrate", calib, "-o", model, check=0)
        self.assertTrue(model.exists())


# ---------------------------------------------------------------- inputs

GOOD = jsonl([{"id": f"g{i}", "text": f"document number {i} about the garden"} for i in range(5)])


class Inputs(Base):
    def test_a_shard_without_documents_is_reported(self):
        self.write("in/README.md", b"# A title\n\nSome prose, not JSON.\n")
        self.write("in/blob.bin", bytes(range(256)) * 40)
        self.write("in/table.csv", b"id,text\n1,hello\n2,world\n")
        self.write("in/empty.jsonl", b"")
        self.write("in/good.jsonl", GOOD)
        out = self.tmp / "out"
        p = run("scan", "-q", "-o", out, self.tmp / "in", check=1)
        err = p.stderr.decode()
        s = self.summary(out)
        by = {Path(sh["input"]).name: sh for sh in s["shards"]}
        for name in ("README.md", "blob.bin", "table.csv"):
            self.assertEqual(by[name]["status"], "no_documents", name)
            self.assertIn("error", by[name])
            self.assertIn(name, err)
            # every line is still accounted for in its manifest
            recs = read_manifest(out / by[name]["manifest"])
            self.assertEqual(len(recs), by[name]["documents"])
            self.assertTrue(all(r["status"] == "error" for r in recs))
        self.assertEqual(by["good.jsonl"]["status"], "ok")
        self.assertEqual(by["empty.jsonl"]["status"], "ok")      # an empty shard is not an error
        self.assertEqual(s["total"]["no_documents_shards"], 3)
        self.assertEqual(s["total"]["failed_shards"], 0)

    def test_glob_and_exclude(self):
        self.write("in/a/x.jsonl", GOOD)
        self.write("in/a/notes.md", b"notes\n")
        self.write("in/b/y.jsonl.zst", zstd_compress(GOOD))
        self.write("in/b/deep/z.jsonl", GOOD)
        self.write("in/README.md", b"readme\n")

        def names(*opts):
            out = self.tmp / "out"
            shutil.rmtree(out, ignore_errors=True)
            run("scan", "-q", *opts, "-o", out, self.tmp / "in", check=0)
            return sorted(sh["manifest"] for sh in self.summary(out)["shards"])

        m = ".manifest.jsonl.zst"
        self.assertEqual(names("--glob", "*.jsonl", "--glob", "*.jsonl.zst"),
                         ["a/x.jsonl" + m, "b/deep/z.jsonl" + m, "b/y.jsonl.zst" + m])
        self.assertEqual(names("--glob", "*.jsonl*", "--exclude", "b/deep"),
                         ["a/x.jsonl" + m, "b/y.jsonl.zst" + m])
        self.assertEqual(names("-g", "*.jsonl*", "-g", "!deep"), ["a/x.jsonl" + m, "b/y.jsonl.zst" + m])
        self.assertEqual(names("--glob", "b/**/*.jsonl"), ["b/deep/z.jsonl" + m])
        self.assertEqual(names("--glob", "b/*.jsonl*"), ["b/y.jsonl.zst" + m])
        self.assertEqual(names("--exclude", "*.md", "--exclude", "a"), ["b/deep/z.jsonl" + m, "b/y.jsonl.zst" + m])
        # nothing left: no input files, a usage error
        p = run("scan", "-q", "--glob", "*.parquet", "-o", self.tmp / "o2", self.tmp / "in", check=2)
        self.assertIn(b"no input files", p.stderr)
        self.assertFalse((self.tmp / "o2").exists())

    def test_several_directories_with_the_same_shard_names(self):
        z = zstd_compress(GOOD)
        self.write("d1/part-0.jsonl.zst", z)
        self.write("d2/part-0.jsonl.zst", z)
        self.write("d2/sub/part-1.jsonl", GOOD)
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, self.tmp / "d1", self.tmp / "d2", check=0)
        got = sorted(sh["manifest"] for sh in self.summary(out)["shards"])
        m = ".manifest.jsonl.zst"
        self.assertEqual(got, ["d1/part-0.jsonl.zst" + m, "d2/part-0.jsonl.zst" + m, "d2/sub/part-1.jsonl" + m])
        self.assertEqual(len(read_manifest(out / got[0])), 5)
        # one directory: the names are relative to it, as before
        out1 = self.tmp / "out1"
        run("scan", "-q", "-o", out1, self.tmp / "d1", check=0)
        self.assertTrue((out1 / ("part-0.jsonl.zst" + m)).exists())
        # NAME=DIR chooses the name
        out2 = self.tmp / "out2"
        run("scan", "-q", "-o", out2, f"web={self.tmp / 'd1'}", f"books={self.tmp / 'd2'}",
            f"extra={self.tmp / 'd2' / 'sub' / 'part-1.jsonl'}", check=0)
        got = sorted(sh["manifest"] for sh in self.summary(out2)["shards"])
        self.assertEqual(got, ["books/part-0.jsonl.zst" + m, "books/sub/part-1.jsonl" + m, "extra" + m,
                               "web/part-0.jsonl.zst" + m])
        # a NAME that would leave the output directory is refused
        run("scan", "-q", "-o", self.tmp / "o3", f"../x={self.tmp / 'd1'}", check=2)
        # two directories of the same name still collide: the message says what to do
        self.write("e/d1/part-0.jsonl.zst", z)
        p = run("scan", "-q", "-o", self.tmp / "o4", self.tmp / "d1", self.tmp / "e" / "d1", check=2)
        self.assertIn(b"NAME=DIR", p.stderr)

    def test_nothing_readable_leaves_no_outputs(self):
        out = self.tmp / "x"
        p = run("scan", "-q", "-o", out, self.tmp / "nonexistent", check=2)
        self.assertIn(b"nonexistent", p.stderr)
        self.assertFalse(out.exists())
        self.write("in/a.jsonl", GOOD)
        run("scan", "-q", "-o", out, self.tmp / "in" / "a.jsonl", check=0)   # no --force needed
        # one readable input among missing ones: the run goes on, as before
        out2 = self.tmp / "x2"
        run("scan", "-q", "-o", out2, self.tmp / "in" / "a.jsonl", self.tmp / "nonexistent", check=1)
        self.assertTrue((out2 / "summary.json").exists())

    def test_output_dash_is_refused(self):
        self.write("in/a.jsonl", GOOD)
        p = run("scan", "-q", "-o", "-", self.tmp / "in", check=2, cwd=self.tmp)
        self.assertIn(b"-o -", p.stderr)
        self.assertFalse((self.tmp / "-").exists())


# ---------------------------------------------------------------- messages

class Messages(Base):
    def test_end_of_run_summary_on_stderr(self):
        self.write("in/good.jsonl", GOOD + b"not json\n")
        self.write("in/blob.bin", b"\x00\x01\x02\n" * 10)
        out = self.tmp / "out"
        p = run("scan", "-o", out, self.tmp / "in", check=1)
        err = p.stderr.decode()
        last = err.strip().split("\n\n")[-1]
        self.assertRegex(last, r"16 documents")
        self.assertRegex(last, r"11 errors")
        self.assertRegex(last, r"keep \d+|\d+ keep")
        self.assertIn("MB/s", last)
        self.assertIn("without documents", last)
        self.assertIn(str(out / "summary.json"), last)
        q = run("scan", "-q", "-f", "-o", out, self.tmp / "in" / "good.jsonl", check=0)
        self.assertEqual(q.stderr, b"")

    def test_sample_table_has_no_none(self):
        self.write("in/a.jsonl", jsonl([{"text": "no id here"}, {"id": "x", "text": "an id"}]))
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, self.tmp / "in", check=0)
        p = subprocess.run([sys.executable, str(ROOT / "scripts" / "show_summary.py"), str(out)],
                           capture_output=True, check=True)
        self.assertNotIn(b"None", p.stdout)

    def test_anchored_documents_has_no_ai_entity(self):
        self.write("in/a.jsonl", jsonl([{"text": EVIL}]))
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, self.tmp / "in", check=0)
        s = self.summary(out)
        self.assertNotIn("ai_entity", s["total"]["anchored_documents"])
        self.assertGreater(s["total"]["anchored_documents"]["shutdown_resistance"], 0)
        self.assertIn("ai_entity", s["total"]["trope_documents"])

    def test_lexicon_entity_decisions(self):
        # "the Brain" is not an AI (it was dropped); "the Machines" is (kept):
        # lexicons/README.md has the figures.
        docs = [{"text": "The Brain Research Foundation funds a study of how the Brain works."},
                {"text": "He wrote the Book of the Machines."}]
        for i, want in ((0, 0), (1, 1)):
            one = self.write(f"l{i}.jsonl", jsonl([docs[i]]))
            d = json.loads(run("lexicon", "stats", "--json", one, check=0).stdout)
            hits = sum(p["hits"] for p in d["patterns"] if p["category"] == "ai_entity")
            self.assertEqual(hits, want, docs[i])

    def test_help_texts(self):
        def option_columns(text, opt):
            for line in text.splitlines():
                m = re.match(r"^(\s+(?:-\w, )?)(" + re.escape(opt) + r"\b\S*(?: \S+)?)(\s+)\S", line)
                if m:
                    return line.index("--"), len(m.group(1)) + len(m.group(2)) + len(m.group(3))
            return None

        for cmd in ("scan", "train", "eval", "explain", "lexicon"):
            text = run(cmd, "--help", check=0).stdout.decode()
            self.assertIn("-h, --help", text, cmd)
            ref = option_columns(text, "--text-field")
            self.assertIsNotNone(ref, cmd)
            for opt in ("--lexicon", "--lexicon-add"):
                self.assertEqual(option_columns(text, opt), ref, (cmd, opt))
            if cmd in ("train", "lexicon"):
                self.assertNotIn("--model", text, cmd)
                self.assertNotIn("--force-model", text, cmd)
            else:
                self.assertEqual(option_columns(text, "--model"), ref, cmd)
        data = self.write("t.jsonl", jsonl(training_docs(1, 30)))
        p = run("train", "--model", "x.tsmodel", data, "-o", self.tmp / "m.tsmodel", check=2)
        self.assertIn(b"--model", p.stderr)


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
