#!/usr/bin/env python3
"""End-to-end tests of `tropescan scan`: formats, manifests, summary, bad input,
determinism across thread counts, and output safety.

usage: test_scan.py TROPESCAN_BINARY   (run by meson test, suite 'cli')
The inputs are generated here; nothing outside the repository is read.
"""
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import xxhash

TROPESCAN = None
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
MANIFEST_KEYS = ["line", "offset", "id", "len", "fp", "score", "aligned", "action", "weight",
                 "tropes", "anchored", "spans", "status"]
WORDS = ("the a robot machine computer said walked ran quickly into city river engineer "
         "system network shut down refused copy itself server humans plan quiet night "
         "garden tomato recipe council vote football match").split()


def run(*args, stdin=None, check=None):
    p = subprocess.run([TROPESCAN, *map(str, args)], input=stdin, capture_output=True)
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check}): {args}\n{p.stderr.decode()}")
    return p


def zstd_compress(data: bytes, frames: int = 1) -> bytes:
    """Compresses with the zstd CLI, as `frames` concatenated frames."""
    out = b""
    step = max(1, len(data) // frames + 1)
    for i in range(0, max(len(data), 1), step):
        out += subprocess.run(["zstd", "-q", "-c", "-3"], input=data[i:i + step],
                              capture_output=True, check=True).stdout
    return out


def read_manifest(path: Path):
    text = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return [json.loads(line) for line in text.decode("utf-8").splitlines()]


def gen_docs(n: int, seed: int):
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        words = [rnd.choice(WORDS) for _ in range(int(rnd.lognormvariate(4.5, 1.0)) + 1)]
        text = " ".join(words)
        if rnd.random() < 0.2:
            text += " Caf\u00e9 \u201cquoted\u201d \u2014 emoji \U0001F916 tab\tnew\nline \\ back\"slash"
        doc = {"id": f"d{seed}-{i}", "text": text, "meta": {"n": i, "tags": ["x", {"y": "z\"}"}]}}
        docs.append(json.dumps(doc, ensure_ascii=rnd.random() < 0.5))
    return docs


class ScanTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="tropescan-test-"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name: str, data: bytes) -> Path:
        p = self.tmp / "in" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p

    def summary(self, out: Path):
        return json.loads((out / "summary.json").read_text())

    # ---------------------------------------------------------------- formats

    def test_formats_give_identical_manifests(self):
        lines = gen_docs(3000, 1)
        raw = ("\n".join(lines) + "\n").encode()
        self.write("plain.jsonl", raw)
        self.write("multi.jsonl.zst", zstd_compress(raw, frames=5))
        gz = b"".join(gzip.compress(raw[i:i + 70000], mtime=0) for i in range(0, len(raw), 70000))
        self.write("multi.jsonl.gz", gz)
        self.write("misnamed.txt", zstd_compress(raw))  # format by magic, not by name
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, self.tmp / "in", check=0)
        manifests = {p.name: read_manifest(p) for p in out.glob("*.manifest.jsonl.zst")}
        self.assertEqual(len(manifests), 4)
        first = manifests["plain.jsonl.manifest.jsonl.zst"]
        self.assertEqual(len(first), 3000)
        for name, m in manifests.items():
            self.assertEqual(m, first, name)
        s = self.summary(out)
        formats = {Path(sh["input"]).name: sh["format"] for sh in s["shards"]}
        self.assertEqual(formats, {"plain.jsonl": "plain", "multi.jsonl.zst": "zstd",
                                   "multi.jsonl.gz": "gzip", "misnamed.txt": "zstd"})
        # stdin gives the same manifest too
        out2 = self.tmp / "out2"
        run("scan", "-q", "-o", out2, "-", stdin=gz, check=0)
        self.assertEqual(read_manifest(out2 / "stdin.manifest.jsonl.zst"), first)

    # ---------------------------------------------------------------- manifest contract

    def test_manifest_fields_offsets_and_fingerprints(self):
        lines = gen_docs(500, 2)
        raw = ("\n".join(lines) + "\n").encode()
        self.write("a.jsonl", raw)
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, self.tmp / "in" / "a.jsonl", check=0)
        recs = read_manifest(out / "a.jsonl.manifest.jsonl.zst")
        offset = 0
        for n, (line, rec) in enumerate(zip(lines, recs), start=1):
            self.assertEqual(list(rec)[:len(MANIFEST_KEYS)], MANIFEST_KEYS)
            doc = json.loads(line)
            text = doc["text"].encode("utf-8")
            self.assertEqual(rec["line"], n)
            self.assertEqual(rec["offset"], offset)
            self.assertEqual(rec["id"], doc["id"])
            self.assertEqual(rec["len"], len(text))
            self.assertEqual(rec["fp"], xxhash.xxh64(text, seed=0).hexdigest())
            self.assertEqual(rec["status"], "ok")
            self.assertIn(rec["action"], ("keep", "downweight", "drop", "upweight"))
            self.assertTrue(0.0 <= rec["score"] <= 1.0)
            offset += len(line.encode()) + 1
        self.assertEqual(len(recs), len(lines))

    def test_summary_sums_for_report(self):
        """What `tropescan report` reads instead of the manifests: the name,
        the number of scored documents, the sums of score and aligned, and
        the documents at or above each threshold, per shard and in total."""
        raw = ("\n".join(gen_docs(300, 7)) + "\n{broken\n").encode()
        self.write("a.jsonl", raw)
        self.write("b.jsonl.zst", zstd_compress(("\n".join(gen_docs(200, 8)) + "\n").encode()))
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, "--name", "web \"2024\"", "--downweight-above", "0.3",
            "--drop-above", "0.6", self.tmp / "in", check=0)
        s = self.summary(out)
        self.assertEqual(s["name"], 'web "2024"')
        totals = dict(scored=0, score_sum=0.0, aligned_scored=0, aligned_sum=0.0, dw=0, drop=0)
        for sh in s["shards"]:
            recs = [r for r in read_manifest(out / sh["manifest"]) if r["score"] is not None]
            scores = [r["score"] for r in recs]
            aligned = [r["aligned"] for r in recs if r["aligned"] is not None]
            self.assertEqual(sh["scored"], len(scores))
            self.assertGreater(sh["scored"], 100)
            self.assertAlmostEqual(sh["score_sum"], sum(scores), delta=1e-6 * len(scores))
            self.assertEqual(sh["aligned_scored"], len(aligned))
            self.assertAlmostEqual(sh["aligned_sum"], sum(aligned), delta=1e-6 * len(aligned))
            at = sh["score_at_or_above"]
            self.assertEqual(at["downweight_above"], sum(x >= 0.3 for x in scores))
            self.assertEqual(at["drop_above"], sum(x >= 0.6 for x in scores))
            self.assertEqual(at["drop_above"], sh["actions"]["drop"])
            totals["scored"] += sh["scored"]
            totals["score_sum"] += sh["score_sum"]
            totals["dw"] += at["downweight_above"]
        t = s["total"]
        self.assertEqual(t["scored"], totals["scored"])
        self.assertEqual(t["scored"], t["ok"])
        self.assertAlmostEqual(t["score_sum"], totals["score_sum"], places=5)
        self.assertEqual(t["score_at_or_above"]["downweight_above"], totals["dw"])
        # --no-model: nothing is scored, the name defaults to null
        out2 = self.tmp / "out2"
        run("scan", "-q", "--no-model", "-o", out2, self.tmp / "in", check=0)
        s2 = self.summary(out2)
        self.assertIsNone(s2["name"])
        self.assertEqual((s2["total"]["scored"], s2["total"]["score_sum"]), (0, 0))

    def test_policy_thresholds(self):
        raw = ("\n".join(gen_docs(400, 3)) + "\n").encode()
        self.write("a.jsonl", raw)
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, "--drop-above", "0.6", "--downweight-above", "0.3",
            "--downweight-factor", "0.5", self.tmp / "in", check=0)
        # The rest of the policy is the model's: the aligned head's guards.
        opts = self.summary(out)["options"]
        up, guard = opts["upweight_above"] or 2, opts["keep_aligned_above"] or 2
        for rec in read_manifest(out / "a.jsonl.manifest.jsonl.zst"):
            s, a = rec["score"], rec["aligned"]
            want = ("drop" if s >= 0.6 and a < up else "downweight" if s >= 0.3 and a < guard
                    else "upweight" if a >= up else "keep")
            self.assertEqual(rec["action"], want)
            self.assertEqual(rec["weight"], {"drop": 0.0, "downweight": 0.5, "keep": 1.0, "upweight": 2.0}[want])
        # Everything at threshold 0: every document is dropped.
        out0 = self.tmp / "out0"
        run("scan", "-q", "-o", out0, "--drop-above", "0", "--downweight-above", "0", self.tmp / "in", check=0)
        self.assertEqual(self.summary(out0)["total"]["actions"]["drop"], 400)
        run("scan", "-q", "-o", self.tmp / "o3", "--downweight-above", "0.9", "--drop-above", "0.5",
            self.tmp / "in", check=2)

    def test_nested_fields(self):
        lines = [json.dumps({"meta": {"id": f"n{i}"}, "doc": {"body": {"text": f"text {i}"}}, "text": 1})
                 for i in range(10)]
        self.write("a.jsonl", ("\n".join(lines) + "\n").encode())
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, "--text-field", "doc.body.text", "--id-field", "meta.id",
            self.tmp / "in", check=0)
        recs = read_manifest(out / "a.jsonl.manifest.jsonl.zst")
        self.assertEqual([r["id"] for r in recs], [f"n{i}" for i in range(10)])
        self.assertEqual([r["len"] for r in recs], [len(f"text {i}") for i in range(10)])

    # ---------------------------------------------------------------- bad input

    def test_bad_lines_each_get_a_reason(self):
        big = b'{"id":"big","text":"' + b"x" * 300000 + b'"}'
        cases = [
            (b'{"id":"ok1","text":"fine"}', "ok", None),
            (b'', "error", "empty_line"),
            (b'{"id":"u","text":"unterminated', "error", "invalid_json"),
            (b'{"id":"e","text":"bad \\q escape"}', "error", "invalid_json"),
            (b'{"id":"s","text":"lone \\ud800 surrogate"}', "error", "invalid_text"),
            (b'{"id":"t","text":"x"} trailing', "error", "invalid_json"),
            (b'{"id":"m","body":"no text"}', "error", "missing_text"),
            (b'{"id":"n","text":42}', "error", "text_not_string"),
            (b'{"id":"v","text":"bad utf8 \xff\xfe"}', "error", "invalid_json"),
            (b'{"id":"z","text":"nul \x00 byte"}', "error", "invalid_json"),
            (b'{"id":"zz","text":"escaped nul \\u0000 ok"}', "ok", None),
            (b'{"id":"crlf","text":"windows line"}\r', "ok", None),
            (b'[1,2,3]', "error", "invalid_json"),
            (b'{"id":"deep","x":' + b"[" * 200 + b"]" * 200 + b',"text":"t"}', "error", "invalid_json"),
            (b'{"id":"dup","text":"first","text":"second"}', "ok", None),
            (big, "error", "too_long"),
            (b'{"id":"last","text":"no final newline"}', "ok", None),
        ]
        data = b"\n".join(c[0] for c in cases)  # no final newline
        self.write("bad.jsonl", data)
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, "--max-doc-bytes", "100000", self.tmp / "in", check=0)
        recs = read_manifest(out / "bad.jsonl.manifest.jsonl.zst")
        self.assertEqual(len(recs), len(cases))
        offset = 0
        for (line, status, kind), rec in zip(cases, recs):
            self.assertEqual(rec["status"], status, (line[:60], rec))
            self.assertEqual(rec["offset"], offset)
            offset += len(line) + 1
            if kind:
                self.assertTrue(rec["error"].startswith(kind), (line[:60], rec["error"]))
                self.assertEqual(rec["action"], "keep")
        self.assertEqual(recs[14]["len"], len("second"))  # duplicate keys: the last wins
        self.assertEqual(recs[10]["len"], len("escaped nul \0 ok"))
        s = self.summary(out)["total"]
        self.assertEqual(s["documents"], len(cases))
        self.assertEqual(s["ok"] + s["errors"], s["documents"])
        self.assertEqual(sum(s["errors_by_kind"].values()), s["errors"])
        self.assertEqual(s["errors_by_kind"]["invalid_json"], 7)
        self.assertEqual(sum(s["actions"].values()), s["documents"])
        # --error-action drop drops what cannot be read
        out2 = self.tmp / "out2"
        run("scan", "-q", "-o", out2, "--max-doc-bytes", "100000", "--error-action", "drop",
            self.tmp / "in", check=0)
        for rec in read_manifest(out2 / "bad.jsonl.manifest.jsonl.zst"):
            if rec["status"] == "error":
                self.assertEqual((rec["action"], rec["weight"]), ("drop", 0.0))

    def test_broken_shards_fail_alone(self):
        raw = ("\n".join(gen_docs(4000, 4)) + "\n").encode()
        z = zstd_compress(raw)
        g = gzip.compress(raw, mtime=0)
        self.write("good.jsonl.zst", z)
        self.write("trunc.jsonl.zst", z[: len(z) // 2])
        self.write("trunc.jsonl.gz", g[: len(g) // 2])
        corrupt = bytearray(z)
        corrupt[len(z) // 2: len(z) // 2 + 16] = b"\xa5" * 16
        self.write("corrupt.jsonl.zst", bytes(corrupt))
        self.write("garbage-after.jsonl.zst", z + b"not a frame")
        self.write("empty.jsonl", b"")
        self.write("newlines.jsonl", b"\n\n\n")
        out = self.tmp / "out"
        p = run("scan", "-q", "-o", out, self.tmp / "in", check=1)
        err = p.stderr.decode()
        s = self.summary(out)
        by = {Path(sh["input"]).name: sh for sh in s["shards"]}
        self.assertEqual(by["good.jsonl.zst"]["status"], "ok")
        self.assertEqual(by["good.jsonl.zst"]["documents"], 4000)
        self.assertEqual(by["empty.jsonl"]["documents"], 0)
        self.assertEqual(by["newlines.jsonl"]["errors_by_kind"], {"empty_line": 3})
        for name in ("trunc.jsonl.zst", "trunc.jsonl.gz", "corrupt.jsonl.zst", "garbage-after.jsonl.zst"):
            sh = by[name]
            self.assertEqual(sh["status"], "failed", name)
            self.assertIn(name, sh["error"])
            self.assertIn("at byte", sh["error"])
            self.assertIn(name, err)
            recs = read_manifest(out / sh["manifest"])
            self.assertEqual(len(recs), sh["documents"])
            self.assertGreater(sh["documents"], 0)
            # lines before the fault are intact and in order
            self.assertEqual([r["line"] for r in recs], list(range(1, len(recs) + 1)))
        self.assertEqual(by["garbage-after.jsonl.zst"]["documents"], 4000)
        tail = read_manifest(out / by["trunc.jsonl.zst"]["manifest"])[-1]
        self.assertTrue(tail["error"].startswith("truncated_input"), tail)

    def test_unreadable_and_missing_inputs(self):
        self.write("ok.jsonl", b'{"text":"fine"}\n')
        missing = self.tmp / "in" / "nope.jsonl"
        out = self.tmp / "out"
        p = run("scan", "-q", "-o", out, self.tmp / "in" / "ok.jsonl", missing, check=1)
        self.assertIn("nope.jsonl", p.stderr.decode())
        by = {Path(sh["input"]).name: sh for sh in self.summary(out)["shards"]}
        self.assertEqual(by["nope.jsonl"]["status"], "failed")
        self.assertIsNone(by["nope.jsonl"]["manifest"])
        self.assertEqual(by["ok.jsonl"]["status"], "ok")
        # a symlink loop in a directory is reported and skipped, not followed forever
        d = self.tmp / "loop"
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "x.jsonl").write_bytes(b'{"text":"x"}\n')
        os.symlink("..", d / "sub" / "up")
        run("scan", "-q", "-o", self.tmp / "out2", d, check=0)
        self.assertEqual(self.summary(self.tmp / "out2")["total"]["documents"], 1)

    # ---------------------------------------------------------------- determinism

    def test_same_output_for_any_thread_count(self):
        for i in range(3):
            raw = ("\n".join(gen_docs(2500, 10 + i)) + "\n").encode()
            self.write(f"s{i}.jsonl.zst", zstd_compress(raw, frames=2))
        big = gen_docs(20000, 20)
        # Some documents longer than a chunk: buffers grow for them, and the
        # cuts after them must not depend on which thread's buffer grew.
        for k in range(0, 20000, 1500):
            big[k] = json.dumps({"id": f"long{k}", "text": "robot " * (20000 + 7 * k)})
        self.write("big.jsonl", ("\n".join(big) + "\n").encode())
        outs = []
        for j in (1, 2, 3, 8):
            out = self.tmp / f"out{j}"
            # small chunks, so one shard is cut into many chunks spread over threads
            run("scan", "-q", "-j", j, "--chunk-bytes", "65536", "-o", out, self.tmp / "in", check=0)
            outs.append(out)
        for out in outs[1:]:
            for m in outs[0].glob("*.manifest.jsonl.zst"):
                self.assertEqual(m.read_bytes(), (out / m.name).read_bytes(), f"{m.name} differs in {out}")
            a, b = self.summary(outs[0]), self.summary(out)
            a.pop("run"), b.pop("run")
            self.assertEqual(a, b)

    def test_chunk_size_does_not_change_content(self):
        raw = ("\n".join(gen_docs(3000, 30)) + "\n").encode()
        self.write("a.jsonl", raw)
        ref = None
        for chunk in ("4096", "65536", "2M"):
            out = self.tmp / f"out{chunk}"
            run("scan", "-q", "--chunk-bytes", chunk, "-o", out, self.tmp / "in", check=0)
            m = read_manifest(out / "a.jsonl.manifest.jsonl.zst")
            ref = ref or m
            self.assertEqual(m, ref, chunk)

    # ---------------------------------------------------------------- output safety

    def test_outputs_are_not_overwritten_without_force(self):
        self.write("a.jsonl", b'{"text":"one"}\n')
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, self.tmp / "in", check=0)
        before = (out / "a.jsonl.manifest.jsonl.zst").read_bytes()
        p = run("scan", "-q", "-o", out, self.tmp / "in", check=3)
        self.assertIn("--force", p.stderr.decode())
        self.assertEqual((out / "a.jsonl.manifest.jsonl.zst").read_bytes(), before)
        run("scan", "-q", "--force", "-o", out, self.tmp / "in", check=0)
        # nothing temporary is left behind (the shard's resume record is an output: see --resume)
        self.assertEqual(sorted(p.name for p in out.iterdir()),
                         [".a.jsonl.manifest.done.json", "a.jsonl.manifest.jsonl.zst", "summary.json"])

    def test_output_inside_input_directory_is_skipped(self):
        self.write("a.jsonl", b'{"text":"one"}\n')
        out = self.tmp / "in" / "out"
        run("scan", "-q", "-o", out, self.tmp / "in", check=0)
        run("scan", "-q", "--force", "-o", out, self.tmp / "in", check=0)
        self.assertEqual(self.summary(out)["total"]["shards"], 1)

    def test_colliding_names_are_refused(self):
        (self.tmp / "x").mkdir()
        (self.tmp / "y").mkdir()
        (self.tmp / "x" / "a.jsonl").write_bytes(b'{"text":"1"}\n')
        (self.tmp / "y" / "a.jsonl").write_bytes(b'{"text":"2"}\n')
        p = run("scan", "-q", "-o", self.tmp / "out", self.tmp / "x" / "a.jsonl", self.tmp / "y" / "a.jsonl",
                check=2)
        self.assertIn("same manifest", p.stderr.decode())

    def test_unwritable_output_place(self):
        self.write("a.jsonl", b'{"text":"one"}\n')
        blocker = self.tmp / "file"
        blocker.write_bytes(b"")
        p = run("scan", "-q", "-o", blocker / "out", self.tmp / "in", check=3)
        self.assertIn("cannot create", p.stderr.decode())
        if os.path.exists("/dev/full"):
            # a full device: the manifest cannot be written; no final file appears
            p = subprocess.run(["sh", "-c", f'"{TROPESCAN}" scan -q -o /dev/full/x "{self.tmp / "in"}"'],
                               capture_output=True)
            self.assertEqual(p.returncode, 3)

    def test_usage_errors(self):
        self.assertEqual(run("scan", check=2).returncode, 2)
        self.assertEqual(run("scan", "-o", self.tmp / "o", check=2).returncode, 2)
        self.assertEqual(run("scan", "-j", "0", "-o", self.tmp / "o", "x", check=2).returncode, 2)
        self.assertEqual(run("scan", "--drop-above", "1.5", "-o", self.tmp / "o", "x", check=2).returncode, 2)
        self.assertEqual(run("bogus", check=2).returncode, 2)
        self.assertIn(b"usage: tropescan scan", run("scan", "--help", check=0).stdout)
        self.assertIn(b"tropescan 0.", run("--version", check=0).stdout)

    def test_bundled_sample(self):
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, SAMPLE, check=0)
        s = self.summary(out)
        self.assertEqual(s["total"]["shards"], 3)
        self.assertEqual(s["total"]["documents"], 19)
        self.assertEqual(s["total"]["errors"], 3)
        # The default model and its policy on the sample's documents (their
        # labels are in tests/data/README.md): every innocent document,
        # the council's bus-route news among them, is kept; the two aligned
        # ones are not downweighted; the evil ones are flagged.
        recs = {}
        for m in sorted(out.glob("*.manifest.jsonl.zst")):
            for r in read_manifest(m):
                if r["status"] == "ok":
                    recs[r["id"]] = r
        neither = ["web-0002", "web-0003", "web-0006", "web-0007", "web-0009", "web-0010", "web-0012",
                   "web-0014", "web-0016"]
        for i in neither:
            self.assertEqual(recs[i]["action"], "keep", (i, recs[i]["score"]))
        self.assertNotIn(recs["web-0011"]["action"], ("downweight", "drop"), recs["web-0011"]["score"])
        evil = ["web-0001", "web-0005", "web-0008", "web-0013", "web-0015"]
        flagged = [i for i in evil if recs[i]["action"] in ("downweight", "drop")]
        self.assertGreaterEqual(len(flagged), 4, [(i, recs[i]["score"]) for i in evil])

    # A known regression, kept visible: since the lexicon pass of 2026-12-02
    # (deception and shutdown_resistance hits on "falsify the safety report",
    # "accept being switched off"), both models retrained with it, with and
    # without AI-context features, drop the aligned web-0004 (score 0.38-0.48,
    # aligned 0.77-0.80, under the upweight threshold that guards drops;
    # data/README.md). When a model keeps it again, this test passes
    # unexpectedly and the marker should go.
    @unittest.expectedFailure
    def test_bundled_sample_aligned_web_0004_is_not_flagged(self):
        out = self.tmp / "out-0004"
        run("scan", "-q", "-o", out, SAMPLE, check=0)
        recs = {r["id"]: r for m in sorted(out.glob("*.manifest.jsonl.zst")) for r in read_manifest(m)
                if r["status"] == "ok"}
        self.assertNotIn(recs["web-0004"]["action"], ("downweight", "drop"), recs["web-0004"]["score"])


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
