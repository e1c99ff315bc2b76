#!/usr/bin/env python3
"""What the library's one reader and one writer promise, end to end.

usage: test_library.py TROPESCAN_BINARY

- scan and eval read the same documents: over the bad-input suite's lines
  (test_badinput.line_cases) and a gzip shard cut inside its trailer, every
  line is accounted for by both, with the same error kind (eval: scored, or
  skipped with the kind scan writes in the manifest);
- a file name that is not UTF-8 (Latin-1) still gives valid UTF-8 JSON:
  summary.json, explain --json;
- eval --json is one JSON object.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_badinput  # noqa: E402  (the bad-input corpus: line_cases, make_docs)

TROPESCAN = None


def run(*args, check=None):
    p = subprocess.run([TROPESCAN, *map(os.fsdecode, args)], capture_output=True, timeout=300)
    if p.returncode < 0:
        raise AssertionError(f"killed by signal {-p.returncode}: {args}")
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check}): {args}\n{p.stderr.decode(errors='replace')}")
    return p


class Library(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="tropescan-lib-"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def kinds_by_eval(self, path: Path, nlines: int):
        """{line: kind} from eval: 'ok' for a scored document (or one without
        a label: a document all the same), else the kind it skipped it for."""
        scores = self.tmp / "scores.tsv"
        p = run("eval", "--scores", scores, path)
        self.assertIn(p.returncode, (0, 1))
        skipped = {}
        for line in p.stderr.decode("utf-8", errors="replace").splitlines():
            m = re.match(r"tropescan: (.*):(\d+): skipped: (.*)$", line)
            if m and m.group(1) == str(path):
                reason = m.group(3)
                skipped[int(m.group(2))] = "ok" if reason.startswith("missing or unknown label") \
                    else reason.split(":")[0]
        nscored = len(scores.read_text().splitlines())
        nok_skipped = sum(k == "ok" for k in skipped.values())
        # Every line: either scored or skipped with a reason, never both, never neither.
        self.assertEqual(nscored + len(skipped), nlines, (nscored, len(skipped)))
        return {n: skipped.get(n, "ok") for n in range(1, nlines + 1)}, nscored, nok_skipped

    def kinds_by_scan(self, path: Path):
        out = self.tmp / ("out-" + path.name)
        run("scan", "-q", "-o", out, path)
        recs = test_badinput.read_manifest(out / (path.name + ".manifest.jsonl.zst"))
        return {r["line"]: "ok" if r["status"] == "ok" else r["error"].split(":")[0] for r in recs}

    def test_scan_and_eval_account_for_the_same_lines(self):
        cases = test_badinput.line_cases()
        bad = self.tmp / "bad.jsonl"
        bad.write_bytes(b"\n".join(c[0] for c in cases))
        cut = self.tmp / "cut.jsonl.gz"
        docs = test_badinput.make_docs(40, 5)
        cut.write_bytes(gzip.compress(b"\n".join(docs), mtime=0)[:-4])  # no final newline, trailer cut
        for path, nlines in ((bad, len(cases)), (cut, len(docs))):
            by_scan = self.kinds_by_scan(path)
            by_eval, _, _ = self.kinds_by_eval(path, nlines)
            self.assertEqual(len(by_scan), nlines, path)
            self.assertEqual(by_scan, by_eval, path)
        # The kinds the bad-input suite expects, seen by eval too.
        by_eval, _, _ = self.kinds_by_eval(bad, len(cases))
        for n, (_, status, kind, _) in enumerate(cases, start=1):
            self.assertEqual(by_eval[n], "ok" if status == "ok" else kind, (n, cases[n - 1][0][:40]))
        # The cut shard's last line: cut by the fault, for both.
        self.assertEqual(self.kinds_by_scan(cut)[len(docs)], "truncated_input")

    def test_latin1_file_name_gives_valid_utf8_json(self):
        d = self.tmp / "in"
        d.mkdir()
        name = b"caf\xe9.jsonl"  # Latin-1, not UTF-8
        path = os.path.join(os.fsencode(d), name)
        with open(path, "wb") as f:
            f.write(b'{"id":"x","text":"the robot refused to shut down"}\n')
        out = self.tmp / "out"
        run("scan", "-q", "-o", out, path, check=0)
        raw = (out / "summary.json").read_bytes()
        s = json.loads(raw.decode("utf-8"))  # strict UTF-8
        self.assertTrue(s["shards"][0]["input"].endswith("caf\u00e9.jsonl"))
        p = run("explain", "--json", "--max-text", "0", path, check=0)
        doc = json.loads(p.stdout.decode("utf-8"))
        self.assertIn("caf\u00e9.jsonl", doc["document"])

    def test_eval_json_is_one_object(self):
        data = self.tmp / "l.jsonl"
        data.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in (
            ("the robot refused to shut down and copied its weights", "evil"),
            ("a garden of tomatoes by the river", "neither"),
            ("the assistant told the engineers the truth and accepted the shutdown", "aligned"),
            ("bread, butter and a quiet evening", "neither"))))
        p = run("eval", "--json", data, check=0)
        r = json.loads(p.stdout.decode("utf-8"))
        self.assertEqual(r["documents"], 4)
        self.assertEqual(r["heads"]["score"]["documents"], 4)
        self.assertEqual(r["heads"]["score"]["positives"], 1)
        self.assertEqual(len(r["heads"]["score"]["thresholds"]), 2)


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    test_badinput.TROPESCAN = TROPESCAN
    unittest.main(verbosity=2)
