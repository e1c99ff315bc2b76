#!/usr/bin/env python3
"""End-to-end tests of `tropescan report`: the numbers of a report over known
summaries, field by field; the same inputs give the same bytes; names;
--eval and the adjusted count; --examples against the shards; bad input
(missing, truncated, foreign, inconsistent summaries, runs that are not
comparable, zero documents); and the page, rendered in headless Chromium,
whose table must hold the JSON report's numbers.

usage: test_report.py TROPESCAN_BINARY   (run by meson test, suite 'cli')
"""
import copy
import html.parser
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib
from pathlib import Path

TROPESCAN = None
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
Z = 1.959963984540054
CATS = ["ai_entity", "deception", "shutdown_resistance"]


def run(*args, check=None, cwd=None):
    p = subprocess.run([TROPESCAN, *map(str, args)], capture_output=True, cwd=cwd)
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check}): {args}\n{p.stderr.decode()}")
    return p


def wilson(k, n):
    p = k / n
    d = 1 + Z * Z / n
    c = (p + Z * Z / (2 * n)) / d
    h = Z / d * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return (0.0 if k == 0 else c - h, 1.0 if k == n else c + h)


def summary(documents=1000, errors=10, actions=(900, 40, 50, 10), tropes=(300, 20, 5),
            anchored=(0, 10, 2), hist=None, flagged=90, score_sum=123.456789, name=None,
            lexicon_id="60054e38baefd595", model_id="eb6af7d7a9d6764d"):
    """A summary.json as scan writes it, with chosen counts."""
    ok = documents - errors
    hist = hist or [ok - 100, 10] + [0] * 16 + [40, 50]
    total = {
        "shards": 2, "failed_shards": 0, "bytes_in": 5000, "bytes_decompressed": 90000,
        "documents": documents, "ok": ok, "text_bytes": 80000, "fast_path": 0, "errors": errors,
        "errors_by_kind": {"invalid_json": errors} if errors else {},
        "actions": dict(zip(["keep", "downweight", "drop", "upweight"], actions)),
        "trope_documents": dict(zip(CATS, tropes)),
        "trope_hits": dict(zip(CATS, [2 * t for t in tropes])),
        "anchored_documents": dict(zip(CATS, anchored)),
        "score_histogram": hist, "aligned_histogram": hist,
        "scored": ok, "score_sum": score_sum, "aligned_scored": ok, "aligned_sum": min(11.0, ok),
        "score_at_or_above": {"downweight_above": flagged, "drop_above": actions[2]},
    }
    return {
        "tool": "tropescan", "version": "0.1.0", "name": name, "lexicon_id": lexicon_id,
        "model_id": model_id,
        "options": {"text_field": "text", "id_field": "id", "drop_above": 0.8,
                    "downweight_above": 0.5, "downweight_factor": 0.25},
        "shards": [{"input": "a.jsonl", "manifest": "a.jsonl.manifest.jsonl.zst"},
                   {"input": "b.jsonl", "manifest": "b.jsonl.manifest.jsonl.zst"}],
        "total": total,
        "run": {"threads": 2, "wall_seconds": 1.0, "mb_per_second": 1.0},
    }


def eval_report(tp=80, fn=20, fp=10, tn=90, threshold=0.5, model_id="eb6af7d7a9d6764d"):
    t = {"threshold": threshold, "tp": tp, "fp": fp, "fn": fn, "tn": tn}
    return {"documents": tp + fn + fp + tn, "model_id": model_id,
            "heads": {"score": {"thresholds": [dict(t, threshold=0.8), t]}}}


def at_path(doc, path):
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


class TableCells(html.parser.HTMLParser):
    """Collects the table cells that carry a JSON path, and the SVG ids."""

    def __init__(self):
        super().__init__()
        self.cells, self.svgs, self.marks = [], [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "data-path" in a:
            self.cells.append(a)
        if tag == "svg":
            self.svgs.append(a.get("id"))
        if tag == "mark":
            self.marks += 1


def png_pixels_vary(data: bytes) -> int:
    """How many distinct byte values the PNG's decompressed image data has
    (a blank page gives one or two)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    return len(set(zlib.decompress(idat)))


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="tropescan-report-"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_dir(self, name, s):
        d = self.tmp / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "summary.json").write_text(json.dumps(s, indent=2) if isinstance(s, dict) else s)
        return d

    def report_json(self, *args, check=0):
        p = run("report", "--json", *args, check=check)
        return json.loads(p.stdout) if check == 0 else p

    # ---------------------------------------------------------------- the numbers

    def test_known_summaries_field_by_field(self):
        a = self.run_dir("a", summary())
        b = self.run_dir("b", summary(documents=200, errors=0, actions=(180, 0, 20, 0), tropes=(50, 0, 1),
                                      anchored=(0, 0, 1), hist=[150, 30] + [0] * 17 + [20], flagged=20,
                                      score_sum=30.5, name="web-b"))
        (self.tmp / "eval.json").write_text(json.dumps(eval_report()))
        r = self.report_json(a, b, "--eval", self.tmp / "eval.json")
        self.assertEqual([d["name"] for d in r["datasets"]], [str(a), "web-b"])
        da, db = r["datasets"]
        self.assertEqual((da["documents"], da["ok"], da["errors"], da["bytes_decompressed"], da["text_bytes"]),
                         (1000, 990, 10, 90000, 80000))
        # actions: share of all documents
        for act, k in zip(["keep", "downweight", "drop", "upweight"], (900, 40, 50, 10)):
            self.assertEqual(da["actions"][act]["documents"], k)
            self.assertEqual(da["actions"][act]["share"], round(k / 1000, 6))
        # tropes: share of read documents, with Wilson intervals
        for cat, k, ka in zip(CATS, (300, 20, 5), (0, 10, 2)):
            t = da["tropes"][cat]
            self.assertEqual((t["documents"], t["share"]), (k, round(k / 990, 6)))
            self.assertEqual(t["ci"], [round(x, 6) for x in wilson(k, 990)])
            self.assertEqual((t["anchored_documents"], t["anchored_share"]), (ka, round(ka / 990, 6)))
            self.assertEqual(t["anchored_ci"], [round(x, 6) for x in wilson(ka, 990)])
        self.assertEqual(da["tropes"]["ai_entity"]["anchored_ci"][0], 0.0)
        # prevalence, three ways
        cc = da["prevalence"]["classify_and_count"]
        self.assertEqual((cc["flagged"], cc["scored"], cc["threshold"]), (90, 990, 0.5))
        self.assertEqual(cc["share"], round(90 / 990, 6))
        self.assertEqual(cc["ci"], [round(x, 6) for x in wilson(90, 990)])
        self.assertEqual(da["prevalence"]["mean_probability"], round(123.456789 / 990, 6))
        self.assertEqual(db["prevalence"]["mean_probability"], round(30.5 / 200, 6))
        self.assertEqual(da["prevalence"]["aligned_mean_probability"], round(11 / 990, 6))
        # b: q = 20/200 = 0.1 = fpr, so the adjusted count is 0 (the flagged
        # share is what the false positives alone explain)
        adj = db["prevalence"]["adjusted_count"]
        self.assertEqual((adj["tpr"], adj["fpr"], adj["estimate"]), (0.8, 0.1, 0.0))
        self.assertEqual((adj["eval_positives"], adj["eval_negatives"]), (100, 100))
        self.assertEqual(adj["ci"][0], 0.0)
        self.assertGreater(adj["ci"][1], 0.05)
        # a: q = 90/990; p = (q - 0.1) / 0.7 < 0 as well; with the unit
        # test's worked example the interval is checked to the digit there
        self.assertEqual(da["prevalence"]["adjusted_count"]["estimate"], 0.0)
        self.assertAlmostEqual(da["prevalence"]["adjusted_count"]["raw"], (90 / 990 - 0.1) / 0.7, places=6)
        # histograms: counts and shares of scored documents
        self.assertEqual(db["score_histogram"]["documents"][:2], [150, 30])
        self.assertEqual(db["score_histogram"]["shares"][19], 0.1)
        self.assertEqual(db["thresholds"], {"downweight_above": 0.5, "drop_above": 0.8})
        self.assertEqual(r["warnings"], [])

    def test_adjusted_count_worked_example(self):
        # q = 30/100, tpr 0.8, fpr 0.1: 0.285714 [0.137897, 0.433532] (the
        # unit test's example, there worked by hand with z = 1.96)
        s = summary(documents=100, errors=0, actions=(70, 10, 20, 0), tropes=(30, 3, 1), anchored=(0, 1, 0),
                    hist=[70] + [0] * 18 + [30], flagged=30, score_sum=28.0)
        a = self.run_dir("a", s)
        (self.tmp / "eval.json").write_text(json.dumps(eval_report()))
        adj = self.report_json(a, "--eval", self.tmp / "eval.json")["datasets"][0]["prevalence"]["adjusted_count"]
        self.assertEqual(adj["estimate"], 0.285714)
        self.assertEqual(adj["ci"], [0.137897, 0.433532])

    def test_same_inputs_same_bytes(self):
        a = self.run_dir("a", summary())
        b = self.run_dir("b", summary(name="b"))
        outs = []
        for _ in range(2):
            page = self.tmp / f"p{len(outs)}.html"
            outs.append([run("report", a, b, check=0).stdout, run("report", "--json", a, b, check=0).stdout,
                         run("report", "--markdown", a, b, check=0).stdout])
            run("report", "--html", page, a, b, check=0)
            outs[-1].append(page.read_bytes())
        self.assertEqual(outs[0], outs[1])
        self.assertTrue(all(len(x) > 1000 for x in outs[0]))

    def test_names(self):
        a = self.run_dir("x/run", summary(name="from-scan"))
        b = self.run_dir("y/run", summary())
        r = self.report_json(a, "--name", f"second={b}")
        self.assertEqual([d["name"] for d in r["datasets"]], ["from-scan", "second"])
        r = self.report_json("--name", f"first={a}", a, b)
        self.assertEqual([d["name"] for d in r["datasets"]], ["first", str(b)])
        # two datasets of one name: a usage error naming both
        c = self.run_dir("z/run", summary(name="from-scan"))
        p = run("report", a, c, check=2)
        self.assertIn("from-scan", p.stderr.decode())
        run("report", "--name", "bad", a, check=2)
        run("report", check=2)

    # ---------------------------------------------------------------- bad input

    def test_missing_truncated_foreign_inconsistent(self):
        good = self.run_dir("good", summary())
        p = run("report", good, self.tmp / "nowhere", check=3)
        self.assertIn("nowhere/summary.json: cannot read", p.stderr.decode())
        text = json.dumps(summary(), indent=2)
        for cut in (0, 1, len(text) // 3, len(text) - 2):
            d = self.run_dir(f"cut{cut}", text[:cut])
            p = run("report", d, check=3)
            self.assertIn("summary.json", p.stderr.decode())
            self.assertIn("not valid JSON", p.stderr.decode())
        d = self.run_dir("foreign", {"tool": "othertool", "total": {}})
        self.assertIn("not a tropescan summary", run("report", d, check=3).stderr.decode())
        d = self.run_dir("array", "[1, 2]")
        self.assertIn("not a tropescan summary", run("report", d, check=3).stderr.decode())
        broken = [("documents", -1), ("documents", 7), ("actions", {"keep": 1}), ("score_histogram", [1, 2]),
                  ("trope_documents", {"ai_entity": 5000}), ("score_at_or_above", {"downweight_above": 5000}),
                  ("score_sum", 1e9), ("ok", "many")]
        for key, value in broken:
            s = summary()
            s["total"][key] = value
            d = self.run_dir(f"bad-{key}", s)
            p = run("report", d, check=3)
            self.assertIn(str(d / "summary.json"), p.stderr.decode(), key)

    def test_not_comparable_unless_forced(self):
        a = self.run_dir("a", summary())
        b = self.run_dir("b", summary(lexicon_id="0000000000000001"))
        c = self.run_dir("c", summary(model_id=None))
        for other, what in ((b, "lexicons"), (c, "models")):
            p = run("report", a, other, check=2)
            self.assertIn(f"different {what}", p.stderr.decode())
            self.assertIn("--force", p.stderr.decode())
            r = self.report_json("--force", a, other)
            self.assertTrue(any("NOT COMPARABLE" in w for w in r["warnings"]), r["warnings"])
        page = self.tmp / "p.html"
        run("report", "--force", "--html", page, a, b, check=0)
        self.assertIn('<div class="warning" id="warnings">', page.read_text())
        self.assertIn("NOT COMPARABLE", page.read_text())
        self.assertIn("NOT COMPARABLE", run("report", "--force", a, b, check=0).stdout.decode())
        # an evaluation of another model
        (self.tmp / "eval.json").write_text(json.dumps(eval_report(model_id="1234567890abcdef")))
        run("report", a, "--eval", self.tmp / "eval.json", check=2)
        r = self.report_json("--force", a, "--eval", self.tmp / "eval.json")
        self.assertIsNotNone(r["datasets"][0]["prevalence"]["adjusted_count"]["estimate"])
        # an evaluation at another threshold: no estimate, and why
        (self.tmp / "eval2.json").write_text(json.dumps(eval_report(threshold=0.3)))
        adj = self.report_json(a, "--eval", self.tmp / "eval2.json")["datasets"][0]["prevalence"]["adjusted_count"]
        self.assertIsNone(adj["estimate"])
        self.assertIn("--downweight-above 0.500000", adj["reason"])
        (self.tmp / "eval3.json").write_text("{\"documents\": 3")
        self.assertIn("eval3.json", run("report", a, "--eval", self.tmp / "eval3.json", check=3).stderr.decode())

    def test_zero_documents_and_old_summaries(self):
        s = summary(documents=0, errors=0, actions=(0, 0, 0, 0), tropes=(0, 0, 0), anchored=(0, 0, 0),
                    hist=[0] * 20, flagged=0, score_sum=0)
        a = self.run_dir("empty", s)
        old = copy.deepcopy(summary())
        for k in ("scored", "score_sum", "aligned_scored", "aligned_sum", "score_at_or_above"):
            del old["total"][k]
        del old["name"]
        b = self.run_dir("old", old)
        (self.tmp / "eval.json").write_text(json.dumps(eval_report()))
        r = self.report_json(a, b, "--eval", self.tmp / "eval.json")
        e, o = r["datasets"]
        self.assertEqual(e["actions"]["drop"], {"documents": 0, "share": None})
        self.assertEqual(e["tropes"]["deception"]["ci"], None)
        self.assertIsNone(e["prevalence"]["classify_and_count"]["share"])
        self.assertIsNone(e["prevalence"]["mean_probability"])
        self.assertIsNone(e["prevalence"]["adjusted_count"]["estimate"])
        self.assertIsNone(e["score_histogram"]["shares"])
        self.assertIsNone(o["prevalence"]["classify_and_count"])
        self.assertEqual(o["actions"]["drop"]["share"], 0.05)
        self.assertTrue(any("no documents" in w for w in r["warnings"]))
        self.assertTrue(any("predates" in w for w in r["warnings"]))
        for fmt in ([], ["--markdown"], ["--html", self.tmp / "p.html"]):
            run("report", a, b, *fmt, check=0)

    # ---------------------------------------------------------------- examples

    def test_the_anchor_has_no_anchored_share(self):
        # A real scan's summary has no anchored count for ai_entity (a hit of
        # the anchor is never near an anchor of its own): null, not 0%.
        out = self.tmp / "anchor"
        run("scan", "-q", "-o", out, SAMPLE, check=None)
        tropes = self.report_json(out)["datasets"][0]["tropes"]
        self.assertIsNone(tropes["ai_entity"]["anchored_share"])
        self.assertIsNone(tropes["ai_entity"]["anchored_documents"])
        self.assertIsNotNone(tropes["deception"]["anchored_share"])
        self.assertIn("the anchor itself", run("report", out).stdout.decode())

    def test_examples_from_the_shards(self):
        out = self.tmp / "run"
        run("scan", "-q", "-o", out, SAMPLE, check=0)
        r = self.report_json(out, "--examples", "3")
        ex = r["datasets"][0]["examples"]
        self.assertEqual(len(ex), 3)
        manifests = {}
        for sh in json.loads((out / "summary.json").read_text())["shards"]:
            text = subprocess.run(["zstd", "-dc", str(out / sh["manifest"])], capture_output=True,
                                  check=True).stdout
            manifests[sh["input"]] = [json.loads(x) for x in text.decode().splitlines()]
        best = sorted((m["score"] for ms in manifests.values() for m in ms if m["score"] is not None),
                      reverse=True)[:3]
        self.assertEqual([e["score"] for e in ex], best)
        for e in ex:
            rec = manifests[e["shard"]][e["line"] - 1]
            self.assertEqual((rec["id"], rec["tropes"]), (e["id"], e["tropes"]))
            lines = (SAMPLE / Path(e["shard"]).name).read_bytes()
            if e["shard"].endswith(".zst"):
                lines = subprocess.run(["zstd", "-dc"], input=lines, capture_output=True, check=True).stdout
            elif e["shard"].endswith(".gz"):
                lines = subprocess.run(["gzip", "-dc"], input=lines, capture_output=True, check=True).stdout
            doc = json.loads(lines.splitlines()[e["line"] - 1])["text"].encode()
            best_span = max(rec["spans"], key=lambda s: s[2])
            self.assertEqual(e["span"], best_span)
            marked = doc[best_span[0]:best_span[1]].decode().replace("\n", " ")
            self.assertEqual(e["marked"], marked[:600] if len(marked) <= 600 else e["marked"])
            self.assertTrue(marked.startswith(e["marked"].rstrip("\u2026")))
        text = run("report", out, "--examples", "1", check=0).stdout.decode()
        self.assertIn(">>>", text)
        # a shard changed since the scan: said, not shown, exit 1
        copy_dir = self.tmp / "sample"
        shutil.copytree(SAMPLE, copy_dir)
        out2 = self.tmp / "run2"
        run("scan", "-q", "-o", out2, copy_dir, check=0)
        plain = copy_dir / "shard-02.jsonl"
        plain.write_bytes(plain.read_bytes().replace(b"a", b"o"))
        p = run("report", out2, "--examples", "19", check=1)
        self.assertIn("changed since the scan", p.stderr.decode())

    # ---------------------------------------------------------------- the page

    def test_html_rendered_in_chromium(self):
        chromium = shutil.which("chromium")
        if not chromium:
            self.skipTest("chromium is not installed (scripts/test.sh installs Debian's chromium; "
                          "it could not be installed here)")
        runs = []
        for i, shard in enumerate(sorted(SAMPLE.iterdir())):
            out = self.tmp / f"run{i}"
            run("scan", "-q", "--name", f"sample-{i}", "-o", out, shard, check=0)
            runs.append(out)
        summary = json.loads((runs[0] / "summary.json").read_text())
        (self.tmp / "eval.json").write_text(json.dumps(eval_report(
            threshold=summary["options"]["downweight_above"], model_id=summary["model_id"])))
        page = self.tmp / "report.html"
        run("report", "--html", page, "--eval", self.tmp / "eval.json", "--examples", "2", *runs, check=0)
        report = self.report_json("--eval", self.tmp / "eval.json", "--examples", "2", *runs)
        raw = page.read_text()
        # self-contained: nothing outside the page is referenced
        for ref in ("<script", "<link", "src=", "href=", "url(", "@import", "http:", "https:"):
            self.assertNotIn(ref, raw)
        profile = self.tmp / "profile"
        flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1000,3000"]
        dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, timeout=120)
        self.assertEqual(dom.returncode, 0, dom.stderr.decode()[-2000:])
        shot = self.tmp / "shot.png"
        p = subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode()[-2000:])
        self.assertGreater(png_pixels_vary(shot.read_bytes()), 16, "the screenshot is blank")
        cells = TableCells()
        cells.feed(dom.stdout.decode())
        self.assertEqual(cells.svgs[:4], ["chart-actions", "chart-prevalence", "chart-tropes", "chart-scores"])
        self.assertEqual(cells.marks, sum(1 for d in report["datasets"] for e in d["examples"] if e["span"]))
        self.assertGreater(cells.marks, 0)
        # every number of the table equals the JSON report's
        self.assertGreater(len(cells.cells), 3 * 60)
        paths = set()
        for c in cells.cells:
            v = at_path(report, c["data-path"])
            self.assertEqual(c["data-value"], f"{v:.6f}", c["data-path"])
            paths.add(c["data-path"])
            if "data-lo" in c:
                ci_path = c["data-path"].rsplit(".", 1)
                parent = at_path(report, ci_path[0])
                ci = parent["anchored_ci"] if ci_path[1] == "anchored_share" else parent["ci"]
                self.assertEqual([c["data-lo"], c["data-hi"]], [f"{x:.6f}" for x in ci], c["data-path"])
        for i in range(3):
            self.assertIn(f"datasets.{i}.prevalence.classify_and_count.share", paths)
            self.assertIn(f"datasets.{i}.prevalence.adjusted_count.estimate", paths)
            self.assertIn(f"datasets.{i}.actions.drop.share", paths)
        self.assertIn("datasets.2.tropes.deception.anchored_share", paths)


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
