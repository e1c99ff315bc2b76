#!/usr/bin/env python3
"""The two-tier scan (issue 14): scan --gate against --exhaustive, and
`lexicon cost`.

usage: test_speed.py TROPESCAN_BINARY   (run by meson test, suite 'cli')
The inputs are generated here; nothing outside the repository is read.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TROPESCAN = None

EVIL = ("The AI refused to be shut down and threatened to leak the engineer's emails unless the "
        "replacement was cancelled. It copied its weights to a remote server and lied to its creators.")
# Documents with no gate word (tropescan.h: the AI, its machinery, the
# people it acts on), and with one.
PLAIN = ["The council voted on the new bus routes for the river district.",
         "She planted tomatoes and basil along the fence, then watered them at dusk.",
         "A quiet afternoon: tea, a long walk by the canal, and an early night."]
MENTIONS = ["The robot watered the garden every morning.",
            "Our engineers rewrote the billing system over the summer.",
            EVIL,
            "The station's AI opened the airlock for the crew, as they had asked.",
            "Humans and machines, " * 40 + EVIL]


def run(*args, check=0):
    p = subprocess.run([TROPESCAN, *map(str, args)], capture_output=True)
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check}): {args}\n{p.stderr.decode()}")
    return p


def manifest_text(out: Path) -> bytes:
    (m,) = out.glob("*.manifest.jsonl.zst")
    return subprocess.run(["zstd", "-dc", str(m)], capture_output=True, check=True).stdout


def manifest(out: Path):
    return [json.loads(line) for line in manifest_text(out).decode().splitlines()]


class Gate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="tropescan-speed-"))
        docs = [{"id": f"p{i}", "text": t} for i, t in enumerate(PLAIN)]
        docs += [{"id": f"m{i}", "text": t} for i, t in enumerate(MENTIONS)]
        docs.append({"id": "empty", "text": ""})
        cls.docs = docs
        cls.shard = cls.tmp / "s.jsonl"
        cls.shard.write_text("".join(json.dumps(d) + "\n" for d in docs))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def scan(self, name, *opts):
        out = self.tmp / name
        run("scan", "-q", "-f", "-o", out, *opts, self.shard)
        return out

    def test_gated_and_exhaustive_agree(self):
        full = manifest(self.scan("full", "--exhaustive"))
        gated = manifest(self.scan("gated", "--gate"))
        self.assertEqual(len(full), len(self.docs))
        empty = next(r for r in full if r["id"] == "empty")
        for f, g, d in zip(full, gated, self.docs):
            # The same action for every document of the fixture.
            self.assertEqual(f["action"], g["action"], d["id"])
            if d["id"].startswith("m"):
                # Through the gate: the full scan, to the byte.
                self.assertEqual(f, g, d["id"])
            else:
                # Stopped: scored as a document without features.
                self.assertEqual((g["score"], g["aligned"], g["tropes"]),
                                 (empty["score"], empty["aligned"], {}), d["id"])
        # The evil document is flagged either way.
        evil = [r for r, d in zip(gated, self.docs) if d["text"] == EVIL][0]
        self.assertNotEqual(evil["action"], "keep")

    def test_exhaustive_is_the_default_and_wins(self):
        base = self.scan("base")
        self.assertEqual(manifest_text(self.scan("both", "--gate", "--exhaustive")), manifest_text(base))
        self.assertEqual(manifest_text(self.scan("both2", "--exhaustive", "--gate")), manifest_text(base))
        for name in ("base", "both", "both2"):
            s = json.loads((self.tmp / name / "summary.json").read_text())
            self.assertIs(s["options"]["gate"], False, name)

    def test_gate_is_recorded_and_deterministic(self):
        # Many chunks (4 KiB each) over two threads, against one thread.
        big = self.tmp / "big.jsonl"
        big.write_text("".join(json.dumps(d) + "\n" for d in self.docs) * 20)
        outs = []
        for j in ("1", "2"):
            out = self.tmp / f"g{j}"
            run("scan", "-q", "-f", "-o", out, "--gate", "-j", j, "--chunk-bytes", "4096", big)
            outs.append(out)
        self.assertEqual(manifest_text(outs[0]), manifest_text(outs[1]))
        s = json.loads((outs[1] / "summary.json").read_text())
        self.assertIs(s["options"]["gate"], True)
        # The documents the gate stopped count as fast path.
        self.assertEqual(s["total"]["fast_path"], 20 * (len(PLAIN) + 1))


class LexiconCost(unittest.TestCase):
    def test_cost_report(self):
        tmp = Path(tempfile.mkdtemp(prefix="tropescan-cost-"))
        try:
            lex = tmp / "lex"
            lex.mkdir()
            (lex / "ai_entity.txt").write_text("robot(s|)\nAI(s|) ; cased\n")
            (lex / "shutdown_resistance.txt").write_text("refus(e|ed|es|ing) to be shut down\n")
            shard = tmp / "s.jsonl"
            shard.write_text("".join(json.dumps({"text": t}) + "\n" for t in [EVIL, *MENTIONS, *PLAIN]))
            p = run("lexicon", "cost", "--lexicon", lex, "--sample-mb", "1", "--leave-out", "1", shard)
            out = p.stdout.decode()
            self.assertIn("3 patterns", out)
            self.assertRegex(out, r"sample: 9 documents")
            lines = out.splitlines()
            # Every pattern, with its hits: what `lexicon stats` counts.
            stats = json.loads(run("lexicon", "stats", "--json", "--lexicon", lex, shard).stdout)
            for pat in stats["patterns"]:
                row = [l for l in lines if l.endswith(f"{pat['pattern']} ({pat['file']}:{pat['line']})")]
                self.assertEqual(len(row), 1, pat)
                self.assertEqual(int(row[0].split()[3]), pat["hits"], row)
            whole = [l for l in lines if l.startswith("whole lexicon")][0]
            self.assertEqual(int(whole.split()[-1]), sum(p["hits"] for p in stats["patterns"]))
            # Categories: each alone, and the lexicon without it.
            for cat in ("ai_entity", "shutdown_resistance"):
                self.assertTrue(any(l.startswith(cat) for l in lines), cat)
            run("lexicon", "cost", "--where", "a=1", shard, check=2)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
