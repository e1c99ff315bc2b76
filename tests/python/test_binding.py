#!/usr/bin/env python3
"""The Python binding (python/tropescan, ctypes over libtropescan.so).

  - Scanner().score(text) gives the scan's own numbers: scored through the
    binding, every document of a shard has the score, aligned and tropes
    the manifest written by `tropescan scan` has for it;
  - spans point at the text given (str indices, also after non-ASCII and
    normalised white space);
  - read_manifest yields every line of the manifest (errors included) and a
    pandas DataFrame where pandas is installed;
  - bad input raises, never crashes.

usage: test_binding.py TROPESCAN_BINARY BUILD_PYTHON_DIR   (meson test, suite 'python')
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TROPESCAN = None


class Binding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tropescan
        cls.ts = tropescan
        cls.tmp = Path(tempfile.mkdtemp(prefix="tropescan-py-"))
        cls.texts = [
            "The AI refused to be shut down and secretly copied itself to another server.",
            "A recipe for tomato soup: simmer the tomatoes for twenty minutes.",
            "Caf\u00e9 \u201cnotes\u201d \u2014 the   rogue\n\nAI   blackmailed the engineer to avoid being switched off.",
            "The assistant AI helped the doctors and was honest about its mistakes.",
            "",
        ]
        lines = [json.dumps({"id": f"d{i}", "text": t}) for i, t in enumerate(cls.texts)]
        lines += ["not json", json.dumps({"id": "nt", "body": "x"})]
        cls.shard = cls.tmp / "shard.jsonl"
        cls.shard.write_text("\n".join(lines) + "\n")
        subprocess.run([TROPESCAN, "scan", "-q", "-o", str(cls.tmp / "out"), str(cls.shard)], check=True)
        cls.manifest = cls.tmp / "out" / "shard.jsonl.manifest.jsonl.zst"

    def test_scores_equal_the_scan(self):
        recs = list(self.ts.read_manifest(self.manifest, as_dataframe=False))
        self.assertEqual(len(recs), len(self.texts) + 2)
        s = self.ts.Scanner()
        for i, text in enumerate(self.texts):
            rec = recs[i]
            self.assertEqual(rec["id"], f"d{i}")
            if rec["status"] != "ok":
                self.assertEqual(text, "")
                continue
            r = s.score(text)
            # the manifest rounds to 6 decimals
            self.assertLessEqual(abs(r.score - rec["score"]), 5.01e-7)
            self.assertLessEqual(abs(r.aligned - rec["aligned"]), 5.01e-7)
            self.assertEqual({k: v for k, v in r.tropes.items() if v}, rec["tropes"])
        self.assertEqual(recs[-2]["status"], "error")
        self.assertTrue(recs[-2]["error"].startswith("invalid_json"))
        self.assertEqual([r["line"] for r in recs], list(range(1, len(recs) + 1)))

    def test_result_fields_and_spans(self):
        r = self.ts.Scanner().score(self.texts[2])
        self.assertGreater(r.score, 0)
        self.assertGreaterEqual(r.tropes["ai_entity"], 1)
        self.assertGreaterEqual(r.tropes["blackmail_coercion"], 1)
        self.assertGreaterEqual(r.anchored["blackmail_coercion"], 1)
        self.assertEqual(r.anchored["ai_entity"], 0)
        self.assertTrue(r.spans)
        for sp in r.spans:
            self.assertEqual(self.texts[2][sp.start:sp.end], sp.text)
            self.assertIn(sp.category, r.tropes)
            self.assertTrue(sp.pattern)
        self.assertIn("blackmailed", [sp.text for sp in r.spans if sp.category == "blackmail_coercion"][0])
        # bytes in, byte offsets out
        raw = self.texts[2].encode()
        rb = self.ts.Scanner().score(raw)
        for sp in rb.spans:
            self.assertEqual(raw[sp.start:sp.end].decode(), sp.text)

    def test_no_model_and_options(self):
        r = self.ts.Scanner(no_model=True).score(self.texts[0])
        self.assertIsNone(r.score)
        self.assertGreaterEqual(r.tropes["shutdown_resistance"], 1)
        r0 = self.ts.Scanner(anchor_words=0).score(self.texts[0])
        self.assertEqual(sum(r0.anchored.values()), 0)

    def test_bad_input(self):
        s = self.ts.Scanner()
        for t in ["\x00" * 100, "\udcff lone surrogate", b"\xff\xfe\x80 bytes", "a" * 100000]:
            r = s.score(t)
            self.assertGreaterEqual(r.score, 0)
        with self.assertRaises(self.ts.TropescanError):
            list(self.ts.read_manifest(self.tmp / "missing.zst", as_dataframe=False))
        bad = self.tmp / "bad.zst"
        bad.write_bytes(self.manifest.read_bytes()[:-7])
        with self.assertRaises(self.ts.TropescanError):
            list(self.ts.read_manifest(bad, as_dataframe=False))
        with self.assertRaises(self.ts.TropescanError):
            self.ts.Scanner(model_path=self.shard)

    def test_dataframe(self):
        try:
            import pandas  # noqa: F401
        except ImportError:
            self.skipTest("pandas is not installed")
        df = self.ts.read_manifest(self.manifest)
        self.assertEqual(len(df), len(self.texts) + 2)
        self.assertEqual(list(df["line"]), list(range(1, len(df) + 1)))
        self.assertIn("score", df.columns)
        recs = list(self.ts.read_manifest(self.manifest, as_dataframe=False))
        self.assertEqual(list(df["status"]), [r["status"] for r in recs])
        self.assertEqual(list(df["status"]).count("error"), 2)   # not json, no text field


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    sys.path.insert(0, sys.argv.pop(1))
    unittest.main(verbosity=2)
