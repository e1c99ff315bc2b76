#!/usr/bin/env python3
"""The bad-input suite: broken shards, broken lines, hostile directories and
unwritable outputs, each with its expected outcome written down and asserted.

usage: test_badinput.py TROPESCAN_BINARY [--slow]
  default   the fast cases (suite 'cli')
  --slow    the 200 MB document and the decompression bomb, with peak RSS
            bounds (suite 'slow')

For every case: no crash (no signal, no sanitizer report), no hang (every run
has a timeout), a message naming the file (and the byte offset where it
applies), every input line accounted for in the manifest and in the summary
counts, other shards unaffected, and the documented exit code (README.md:
0 all scanned, 1 some input failed, 2 usage, 3 fatal/output).

Most runs use a two-pattern lexicon and --no-model: compiling the default
lexicon costs seconds per run, and what is tested here is the reading,
splitting, parsing and accounting, not the scores. The line-level suite and
the slow cases run with the defaults, so scoring sees the hostile text too.
Inputs are generated here (deterministic seeds); nothing outside is read.
"""
import gzip
import json
import os
import random
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib
from pathlib import Path

TROPESCAN = None
SLOW = False
TIMEOUT = 120
# Set by probe(): extra options the defaults need while the embedded model and
# lexicon are out of step during development (empty once they match).
DEFAULT_EXTRA = []
SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"runtime error:", b"ERROR: LeakSanitizer",
                   b"WARNING: ThreadSanitizer")


def xxh64(data: bytes) -> str:
    try:
        import xxhash
        return xxhash.xxh64(data, seed=0).hexdigest()
    except ImportError:  # pragma: no cover - Debian's python3-xxhash is a test dependency
        return None


def run(*args, check=None, timeout=TIMEOUT, stdin=None):
    """Runs tropescan; asserts it ended by itself, without a sanitizer report."""
    p = subprocess.run([TROPESCAN, *map(str, args)], input=stdin, capture_output=True, timeout=timeout)
    if p.returncode < 0:
        raise AssertionError(f"killed by signal {-p.returncode}: {args}\n{p.stderr.decode(errors='replace')}")
    for mark in SANITIZER_MARKS:
        if mark in p.stderr:
            raise AssertionError(f"sanitizer report: {args}\n{p.stderr.decode(errors='replace')}")
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check}): {args}\n"
                             f"{p.stderr.decode(errors='replace')}")
    return p


def run_rss(*args, timeout=600):
    """Runs tropescan in a fresh child of a small Python, which reports the
    child's peak RSS alone (RUSAGE_CHILDREN is a maximum over all children
    ever waited for, so it has to be taken in a process of its own)."""
    code = ("import json,resource,subprocess,sys\n"
            "p=subprocess.run(sys.argv[1:],capture_output=True)\n"
            "print(json.dumps({'rc':p.returncode,'rss_kb':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
            "'stderr':p.stderr.decode(errors='replace')}))\n")
    p = subprocess.run(["/usr/bin/python3", "-c", code, TROPESCAN, *map(str, args)], capture_output=True,
                       timeout=timeout, check=True)
    r = json.loads(p.stdout)
    if r["rc"] < 0:
        raise AssertionError(f"killed by signal {-r['rc']}: {args}\n{r['stderr']}")
    return r


def zstd(data: bytes, *opts) -> bytes:
    return subprocess.run(["zstd", "-q", "-c", *opts], input=data, capture_output=True, check=True).stdout


def read_manifest(path: Path):
    """Decodes a manifest; the zstd CLI checks every frame's checksum."""
    text = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return [json.loads(line) for line in text.decode("utf-8").splitlines()]


def make_docs(n: int, seed: int, words=None):
    rnd = random.Random(seed)
    words = words or ("the robot walked into a quiet city and refused to shut down while the engineer "
                      "planted tomatoes in the garden near a river").split()
    out = []
    for i in range(n):
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 60)))
        if i % 7 == 3:
            text += " caf\u00e9 \u201cq\u201d \U0001F916 tab\tnl\n"
        out.append(json.dumps({"id": f"s{seed}-{i}", "text": text}, ensure_ascii=i % 2 == 0).encode())
    return out


def lines_of(data: bytes):
    """The lines a scan sees: split at \\n; a last line without one counts."""
    if not data:
        return []
    parts = data.split(b"\n")
    return parts[:-1] if parts[-1] == b"" else parts


class Case(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="tropescan-bad-"))
        self.lex = self.tmp / "lex"
        self.lex.mkdir()
        (self.lex / "ai_entity.txt").write_text("robot(s|)\n")
        (self.lex / "shutdown_resistance.txt").write_text("refused to shut down\n")
        self.fast = ["-q", "--no-model", "--lexicon", self.lex]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, rel: str, data: bytes) -> Path:
        p = self.tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p

    def summary(self, out: Path):
        return json.loads((out / "summary.json").read_text())

    def check_accounting(self, out: Path, s: dict):
        """Every shard: manifest lines 1..N contiguous, N == documents, and the
        counts add up; the totals are the sums of the shards."""
        keys = ("documents", "ok", "errors")
        total = {k: 0 for k in keys}
        for sh in s["shards"]:
            self.assertEqual(sh["ok"] + sh["errors"], sh["documents"], sh["input"])
            self.assertEqual(sum(sh["errors_by_kind"].values()), sh["errors"], sh["input"])
            self.assertEqual(sum(sh["actions"].values()), sh["documents"], sh["input"])
            if sh["manifest"] is not None:
                recs = read_manifest(out / sh["manifest"])
                self.assertEqual(len(recs), sh["documents"], sh["input"])
                self.assertEqual([r["line"] for r in recs], list(range(1, len(recs) + 1)), sh["input"])
                self.assertEqual(sum(r["status"] == "ok" for r in recs), sh["ok"], sh["input"])
            else:
                self.assertEqual(sh["documents"], 0, sh["input"])
            for k in keys:
                total[k] += sh[k]
        for k in keys:
            self.assertEqual(s["total"][k], total[k])
        self.assertEqual(s["total"]["shards"], len(s["shards"]))
        self.assertEqual(s["total"]["failed_shards"], sum(sh["status"] == "failed" for sh in s["shards"]))
        self.assertEqual(s["total"]["no_documents_shards"],
                         sum(sh["status"] == "no_documents" for sh in s["shards"]))

    def assert_no_temporaries(self, out: Path):
        # (a shard's resume record, .<name>.manifest.done.json, is an output)
        left = [p.name for p in out.rglob(".*") if not p.name.endswith(".manifest.done.json")]
        self.assertEqual(left, [], "temporary files left behind")


# ---------------------------------------------------------------- line level

# (line bytes, expected status, error kind or None, expected detail regex or None)
# The byte offsets in the details are where the fault was put, by construction.
def line_cases():
    P = b'{"id":"x","text":"'  # 18 bytes: a fault in the text is at 18 + its position
    big_id = "i" * (1 << 20)
    cases = [
        (b'{"id":"ok","text":"plain ascii"}', "ok", None, None),
        # unterminated strings
        (P + b"abc", "error", "invalid_json", r"unterminated at byte 21 of the line"),
        (b'{"id":"x","text":"a', "error", "invalid_json", r"unterminated at byte 19 of the line"),
        (b'{"id":"x', "error", "invalid_json", r"unterminated at byte 8 of the line"),
        (P + b'ab\\"', "error", "invalid_json", r"unterminated"),
        (b'{"id":"x","text":"a"', "error", "invalid_json", r"unterminated at byte 20 of the line"),
        # bad escapes
        (P + b'a\\x"}', "error", "invalid_json", r"bad_escape at byte 19 of the line"),
        (P + b'a\\u12"}', "error", "invalid_json", r"bad_escape at byte 19 of the line"),
        (P + b'a\\uZZZZ"}', "error", "invalid_json", r"bad_escape at byte 19 of the line"),
        (P + b'a\\', "error", "invalid_json", None),
        (P + b'\\U0041"}', "error", "invalid_json", r"bad_escape at byte 18 of the line"),
        # lone surrogates: valid JSON syntax, invalid text (offset in the text field)
        (P + b'ab\\ud800"}', "error", "invalid_text", r"lone_surrogate at byte 2 of the text field"),
        (P + b'\\udc00x"}', "error", "invalid_text", r"lone_surrogate at byte 0 of the text field"),
        (P + b'a\\ud800\\u0041"}', "error", "invalid_text", r"lone_surrogate at byte 1 of the text field"),
        (P + b'\\udbff\\udfff"}', "ok", None, None),  # a valid pair: U+10FFFF
        # trailing garbage
        (b'{"id":"x","text":"a"} x', "error", "invalid_json", r"trailing_garbage at byte 22 of the line"),
        (b'{"id":"x","text":"a"}{"text":"b"}', "error", "invalid_json", r"trailing_garbage at byte 21"),
        (b'{"id":"x","text":"a"},', "error", "invalid_json", r"trailing_garbage at byte 21"),
        (b'{"id":"x","text":"a",}', "error", "invalid_json", r"at byte 21 of the line"),
        # not an object, or not JSON at all
        (b'[1,2,3]', "error", "invalid_json", r"not_object at byte 0"),
        (b'null', "error", "invalid_json", r"not_object at byte 0"),
        (b'"just a string"', "error", "invalid_json", r"not_object at byte 0"),
        (b'hello world', "error", "invalid_json", r"at byte 0 of the line"),
        (b'\xef\xbb\xbf{"text":"bom"}', "error", "invalid_json", r"at byte 0 of the line"),
        # deeply nested values, before and after the text field
        (b'{"text":"t","x":' + b"[" * 100000, "error", "invalid_json", r"too_deep"),
        (b'{"x":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b',"text":"t"}', "error", "invalid_json", r"too_deep"),
        (b'{"x":' + b"[" * 30 + b"]" * 30 + b',"text":"shallow is fine"}', "ok", None, None),
        # duplicate keys: the last one wins, consistently
        (b'{"id":"x","text":"first","text":"second!"}', "ok", None, None),
        (b'{"id":"x","text":"first","text":5}', "error", "text_not_string", None),
        (b'{"id":"x","text":5,"text":"last"}', "ok", None, None),
        # invalid UTF-8 (raw bytes in a string) and control characters
        (P + b'\xc0\xaf"}', "error", "invalid_json", r"invalid_utf8 at byte 18 of the line"),      # overlong
        (P + b'ab\xed\xa0\x80"}', "error", "invalid_json", r"invalid_utf8 at byte 20 of the line"),  # surrogate
        (P + b'\xf4\x90\x80\x80"}', "error", "invalid_json", r"invalid_utf8 at byte 18 of the line"),  # > U+10FFFF
        (P + b'abc\xe2\x82"}', "error", "invalid_json", r"invalid_utf8 at byte 21 of the line"),  # cut sequence
        (P + b'\xff"}', "error", "invalid_json", r"invalid_utf8 at byte 18 of the line"),
        (b'{"te\xffxt":"a"}', "error", "invalid_json", r"invalid_utf8 at byte 4 of the line"),  # in a key
        (P + b'a\x00b"}', "error", "invalid_json", r"control_char at byte 19 of the line"),  # raw NUL
        (P + b'tab\there"}', "error", "invalid_json", r"control_char at byte 21 of the line"),
        (b'\x00\x00\x00', "error", "invalid_json", r"at byte 0 of the line"),
        (P + b'nul \\u0000 escaped"}', "ok", None, None),  # an escaped NUL is text
        (P + "multi \u00e9\u4e2d\U0001F916 ok".encode() + b'"}', "ok", None, None),
        # text missing or not a string
        (b'{"id":"x","body":"no text"}', "error", "missing_text", None),
        (b'{}', "error", "missing_text", None),
        (b'{"id":"x","text":null}', "error", "text_not_string", None),
        (b'{"id":"x","text":42}', "error", "text_not_string", None),
        (b'{"id":"x","text":true}', "error", "text_not_string", None),
        (b'{"id":"x","text":["a"]}', "error", "text_not_string", None),
        (b'{"id":"x","text":{"text":"nested"}}', "error", "text_not_string", None),
        # huge, odd and missing ids
        (b'{"id":"' + big_id.encode() + b'","text":"huge id"}', "ok", None, None),
        (b'{"id":' + b"9" * 10000 + b',"text":"huge numeric id"}', "ok", None, None),
        (b'{"id":{"a":1},"text":"object id"}', "ok", None, None),
        (b'{"text":"no id"}', "ok", None, None),
        # empty and blank lines, CR
        (b'', "error", "empty_line", None),
        (b'   \t ', "error", "empty_line", None),
        (b'\r', "error", "empty_line", None),
        (b'{"id":"crlf","text":"windows"}\r', "ok", None, None),
        (b'{"id":"last","text":"no final newline"}', "ok", None, None),
    ]
    return cases


class LineLevel(Case):
    def test_every_bad_line_is_accounted_for_with_its_reason(self):
        cases = line_cases()
        data = b"\n".join(c[0] for c in cases)  # no final newline
        self.write("in/bad.jsonl", data)
        out = self.tmp / "out"
        # The defaults (full lexicon and model): the hostile lines reach scoring.
        run("scan", "-q", *DEFAULT_EXTRA, "-o", out, self.tmp / "in", check=0)
        recs = read_manifest(out / "bad.jsonl.manifest.jsonl.zst")
        self.assertEqual(len(recs), len(cases))
        offset = 0
        for n, ((line, status, kind, detail), rec) in enumerate(zip(cases, recs), start=1):
            what = (n, line[:50], rec.get("error"))
            self.assertEqual(rec["line"], n, what)
            self.assertEqual(rec["offset"], offset, what)
            self.assertEqual(rec["status"], status, what)
            offset += len(line) + 1
            if status == "ok":
                self.assertNotIn("error", rec, what)
                self.assertIsInstance(rec["len"], int, what)
                self.assertTrue(0.0 <= rec["score"] <= 1.0, what)
            else:
                self.assertTrue(rec["error"] == kind or rec["error"].startswith(kind + ": "), what)
                if detail:
                    self.assertRegex(rec["error"], detail, what)
                self.assertIsNone(rec["len"], what)
                self.assertIsNone(rec["fp"], what)
                self.assertEqual((rec["action"], rec["weight"]), ("keep", 1.0), what)
        # Known answers for the lines that decode.
        by_id = {}
        for (line, status, _, _), rec in zip(cases, recs):
            if status == "ok":
                doc = json.loads(line.decode("utf-8", errors="strict").rstrip("\r"))
                text = doc["text"].encode("utf-8", errors="surrogatepass")
                self.assertEqual(rec["len"], len(text), line[:50])
                fp = xxh64(text)
                if fp:
                    self.assertEqual(rec["fp"], fp, line[:50])
                by_id.setdefault(rec["id"], rec)
        ids = [r["id"] for r in recs]
        self.assertIn("i" * (1 << 20), ids)           # a 1 MiB id is kept whole
        self.assertIn("9" * 10000, ids)               # a number id as written
        self.assertIn("crlf", ids)
        self.assertEqual(recs[-1]["id"], "last")
        dup = recs[[c[0] for c in cases].index(b'{"id":"x","text":"first","text":"second!"}')]
        self.assertEqual(dup["len"], len("second!"))
        objid = recs[[c[0] for c in cases].index(b'{"id":{"a":1},"text":"object id"}')]
        self.assertIsNone(objid["id"])
        # The summary counts each kind exactly as the table says.
        s = self.summary(out)
        want = {}
        for _, status, kind, _ in cases:
            if status == "error":
                want[kind] = want.get(kind, 0) + 1
        sh = s["shards"][0]
        self.assertEqual(sh["status"], "ok")
        self.assertEqual(sh["errors_by_kind"], want)
        self.assertEqual(sh["documents"], len(cases))
        self.assertEqual(sh["ok"], sum(c[1] == "ok" for c in cases))
        self.assertEqual(sh["bytes_decompressed"], len(data))
        self.check_accounting(out, s)

    def test_crlf_file_matches_lf_file(self):
        docs = make_docs(300, 1)
        lf = b"\n".join(docs) + b"\n"
        crlf = b"\r\n".join(docs) + b"\r\n"
        self.write("in/lf.jsonl", lf)
        self.write("in/crlf.jsonl", crlf)
        self.write("in/crlf-nofinal.jsonl", crlf[:-2])
        out = self.tmp / "out"
        run("scan", *self.fast, "-o", out, self.tmp / "in", check=0)
        a = read_manifest(out / "lf.jsonl.manifest.jsonl.zst")
        for name in ("crlf.jsonl", "crlf-nofinal.jsonl"):
            b = read_manifest(out / f"{name}.manifest.jsonl.zst")
            self.assertEqual(len(b), 300, name)
            for i, (x, y) in enumerate(zip(a, b)):
                self.assertEqual(y["status"], "ok", (name, y))
                self.assertEqual(y["offset"], x["offset"] + i, name)  # one more byte per earlier line
                self.assertEqual({k: v for k, v in x.items() if k != "offset"},
                                 {k: v for k, v in y.items() if k != "offset"}, name)
        self.check_accounting(out, self.summary(out))

    def test_overlong_lines_anywhere(self):
        """Lines over --max-doc-bytes at the start, between good lines, in a
        run, and last without a newline; small chunks put chunk boundaries
        inside them. Each is one too_long record at its offset; neighbours
        are untouched."""
        good = make_docs(200, 2)
        long = b'{"text":"' + b"L" * 5000 + b'"}'
        seq = [long] + good[:50] + [long, long] + good[50:120] + [b"x" * 1025] + good[120:] + [long]
        data = b"\n".join(seq)
        self.write("in/long.jsonl", data)
        out = self.tmp / "out"
        for chunk in ("4096", "65536"):
            o = out / chunk
            run("scan", *self.fast, "--max-doc-bytes", "1024", "--chunk-bytes", chunk, "-o", o,
                self.tmp / "in", check=0)
            recs = read_manifest(o / "long.jsonl.manifest.jsonl.zst")
            self.assertEqual(len(recs), len(seq), chunk)
            offset = 0
            for line, rec in zip(seq, recs):
                self.assertEqual(rec["offset"], offset, chunk)
                if len(line) > 1024:
                    self.assertEqual(rec["status"], "error")
                    self.assertEqual(rec["error"], f"too_long: a line of {len(line)} bytes exceeds "
                                                   f"--max-doc-bytes 1024", chunk)
                else:
                    self.assertEqual(rec["status"], "ok", chunk)
                offset += len(line) + 1
            s = self.summary(o)
            self.assertEqual(s["total"]["errors_by_kind"], {"too_long": 5})
            self.check_accounting(o, s)
        self.assertEqual(read_manifest(out / "4096" / "long.jsonl.manifest.jsonl.zst"),
                         read_manifest(out / "65536" / "long.jsonl.manifest.jsonl.zst"))


# ---------------------------------------------------------------- stream level

class StreamLevel(Case):
    def build_shards(self):
        """Writes the broken and odd shards; @return {name: expectation}.
        An expectation: status, exact documents (or None), a minimum, and
        the range of compressed byte offsets the fault must be reported in."""
        docs = make_docs(3000, 3)
        raw = b"\n".join(docs) + b"\n"
        self.raw = raw
        self.write("in/good.jsonl", raw)
        exp = {"good.jsonl": dict(status="ok", docs=3000)}

        # Frames and members cut on line boundaries: [0, 1000), [1000, 2000), [2000, 3000).
        parts = [b"\n".join(docs[i:i + 1000]) + b"\n" for i in range(0, 3000, 1000)]
        zf = [zstd(p, "-3") for p in parts]
        gm = [gzip.compress(p, mtime=0) for p in parts]
        skip = struct.pack("<II", 0x184D2A50, 7) + b"skipped"
        empty_z = zstd(b"")
        empty_g = gzip.compress(b"", mtime=0)

        # concatenated frames and members, skippable and empty ones: all fine
        self.write("in/frames.jsonl.zst", skip + zf[0] + empty_z + zf[1] + skip + zf[2] + empty_z)
        exp["frames.jsonl.zst"] = dict(status="ok", docs=3000, same_as_good=True)
        self.write("in/members.jsonl.gz", gm[0] + empty_g + gm[1] + gm[2] + empty_g)
        exp["members.jsonl.gz"] = dict(status="ok", docs=3000, same_as_good=True)

        # truncated streams: cut inside a frame / member at several points
        z = zstd(raw, "-3")
        g = gzip.compress(raw, mtime=0)
        for name, blob in (("z", z), ("g", g)):
            ext = "zst" if name == "z" else "gz"
            for frac, label in ((0.3, "early"), (0.7, "late")):
                cut = int(len(blob) * frac)
                self.write(f"in/trunc-{label}.jsonl.{ext}", blob[:cut])
                exp[f"trunc-{label}.jsonl.{ext}"] = dict(status="failed", prefix=True, fault=(0, cut),
                                                         truncated_tail=True)
            self.write(f"in/trunc-header.jsonl.{ext}", blob[:6])
            exp[f"trunc-header.jsonl.{ext}"] = dict(status="failed", docs=0, fault=(0, 6))
        # cut inside the trailer: every line decoded, the check is missing
        self.write("in/trunc-trailer.jsonl.gz", g[:-4])
        exp["trunc-trailer.jsonl.gz"] = dict(status="failed", prefix=True, fault=(0, len(g) - 4))
        self.write("in/trunc-checksum.jsonl.zst", z[:-2])
        exp["trunc-checksum.jsonl.zst"] = dict(status="failed", prefix=True, fault=(0, len(z) - 2))
        # a truncated second frame / member: the first is complete
        self.write("in/trunc-second.jsonl.zst", zf[0] + zf[1][: len(zf[1]) // 2])
        exp["trunc-second.jsonl.zst"] = dict(status="failed", prefix=True, min_docs=1000,
                                             fault=(len(zf[0]), len(zf[0]) + len(zf[1]) // 2))

        # a corrupt frame / member in the middle: its header is destroyed, so
        # the fault is found where it starts, after exactly the first's lines
        bad = bytearray(zf[1])
        bad[0:4] = b"\xde\xad\xbe\xef"
        self.write("in/corrupt-middle.jsonl.zst", zf[0] + bytes(bad) + zf[2])
        exp["corrupt-middle.jsonl.zst"] = dict(status="failed", docs=1000, prefix=True, fault=(len(zf[0]), len(zf[0]) + 8))
        badg = bytearray(gm[1])
        badg[0:2] = b"\x1f\x00"  # not a gzip member any more
        self.write("in/corrupt-middle.jsonl.gz", gm[0] + bytes(badg) + gm[2])
        exp["corrupt-middle.jsonl.gz"] = dict(status="failed", docs=1000, prefix=True, fault=(len(gm[0]), len(gm[0]) + 16))
        # Reserved FLG bits set in a member's header: RFC 1952 says reject,
        # igzip ignores them; the data and CRC are intact and checked, so the
        # shard reads in full. (Documented leniency, not a silent corruption.)
        badg = bytearray(gm[1])
        badg[3] = 0xE0
        self.write("in/reserved-flags.jsonl.gz", gm[0] + bytes(badg) + gm[2])
        exp["reserved-flags.jsonl.gz"] = dict(status="ok", docs=3000, same_as_good=True)
        # garbled data inside the second frame / member: found within it
        bad = bytearray(zf[1])
        mid = len(bad) // 2
        bad[mid:mid + 64] = bytes(random.Random(5).randrange(256) for _ in range(64))
        self.write("in/garbled-middle.jsonl.zst", zf[0] + bytes(bad) + zf[2])
        exp["garbled-middle.jsonl.zst"] = dict(status="failed", min_docs=1000, first_docs=1000,
                                               fault=(len(zf[0]), len(zf[0]) + len(zf[1])))
        badg = bytearray(gm[1])
        mid = len(badg) // 2
        badg[mid:mid + 64] = bytes(random.Random(6).randrange(256) for _ in range(64))
        self.write("in/garbled-middle.jsonl.gz", gm[0] + bytes(badg) + gm[2])
        exp["garbled-middle.jsonl.gz"] = dict(status="failed", min_docs=1000, first_docs=1000,
                                              fault=(len(gm[0]), len(gm[0]) + len(gm[1])))
        # garbage after the last frame / member
        self.write("in/garbage-after.jsonl.zst", z + b"\x00garbage")
        exp["garbage-after.jsonl.zst"] = dict(status="failed", docs=3000, prefix=True, fault=(len(z), len(z) + 9))
        self.write("in/garbage-after.jsonl.gz", g + b"garbage")
        exp["garbage-after.jsonl.gz"] = dict(status="failed", docs=3000, prefix=True, fault=(len(g), len(g) + 7))

        # empty inputs (no line: fine) and inputs in which no line is a
        # document (every line an error: status no_documents, exit code 1)
        self.write("in/empty.jsonl", b"")
        exp["empty.jsonl"] = dict(status="ok", docs=0)
        self.write("in/empty.jsonl.zst", empty_z)
        exp["empty.jsonl.zst"] = dict(status="ok", docs=0)
        self.write("in/empty.jsonl.gz", empty_g)
        exp["empty.jsonl.gz"] = dict(status="ok", docs=0)
        self.write("in/newlines.jsonl", b"\n" * 5000)
        exp["newlines.jsonl"] = dict(status="no_documents", docs=5000, kinds={"empty_line": 5000})
        self.write("in/newlines.jsonl.zst", zstd(b"\n" * 100000))
        exp["newlines.jsonl.zst"] = dict(status="no_documents", docs=100000, kinds={"empty_line": 100000})
        self.write("in/crlf-only.jsonl", b"\r\n" * 10)
        exp["crlf-only.jsonl"] = dict(status="no_documents", docs=10, kinds={"empty_line": 10})
        self.write("in/one-byte.jsonl", b"{")
        exp["one-byte.jsonl"] = dict(status="no_documents", docs=1, kinds={"invalid_json": 1})
        self.write("in/nul-bytes.jsonl", b"\x00" * 3000 + b"\n" + b"\x00\n" * 5)
        exp["nul-bytes.jsonl"] = dict(status="no_documents", docs=6, kinds={"invalid_json": 6})
        # just the magic bytes
        self.write("in/magic-only.jsonl.zst", b"\x28\xb5\x2f\xfd")
        exp["magic-only.jsonl.zst"] = dict(status="failed", docs=0, fault=(0, 4))
        self.write("in/magic-only.jsonl.gz", b"\x1f\x8b")
        exp["magic-only.jsonl.gz"] = dict(status="failed", docs=0, fault=(0, 2))
        return exp

    def test_broken_streams(self):
        exp = self.build_shards()
        ref_out = self.tmp / "ref"
        run("scan", *self.fast, "-o", ref_out, self.tmp / "in" / "good.jsonl", check=0)
        ref = read_manifest(ref_out / "good.jsonl.manifest.jsonl.zst")
        ref_bytes = (ref_out / "good.jsonl.manifest.jsonl.zst").read_bytes()

        outs = {}
        for chunk in ("2M", "4096"):
            out = self.tmp / f"out-{chunk}"
            p = run("scan", *self.fast, "--chunk-bytes", chunk, "-o", out, self.tmp / "in", check=1)
            err = p.stderr.decode()
            s = self.summary(out)
            self.check_accounting(out, s)
            self.assert_no_temporaries(out)
            by = {Path(sh["input"]).name: sh for sh in s["shards"]}
            self.assertEqual(set(by), set(exp))
            for name, e in exp.items():
                sh = by[name]
                what = (chunk, name, sh.get("error"))
                self.assertEqual(sh["status"], e["status"], what)
                recs = read_manifest(out / sh["manifest"]) if sh["manifest"] else []
                if "docs" in e:
                    self.assertEqual(sh["documents"], e["docs"], what)
                if "min_docs" in e:
                    self.assertGreaterEqual(sh["documents"], e["min_docs"], what)
                if "kinds" in e:
                    self.assertEqual(sh["errors_by_kind"], e["kinds"], what)
                if e.get("same_as_good"):
                    self.assertEqual(recs, ref, what)
                    if chunk == "2M":  # the reference's chunk size: the same bytes, too
                        self.assertEqual((out / sh["manifest"]).read_bytes(), ref_bytes, what)
                if e["status"] == "no_documents":
                    # named on stderr and in the summary; every line is in the manifest
                    self.assertIn(name, sh["error"], what)
                    self.assertIn(name, err, what)
                    self.assertEqual(len(recs), sh["documents"], what)
                if e["status"] == "failed":
                    # named on stderr and in the summary, with the compressed offset
                    self.assertIn(name, sh["error"], what)
                    self.assertIn(name, err, what)
                    m = re.search(r"at byte (\d+)", sh["error"])
                    self.assertIsNotNone(m, what)
                    lo, hi = e["fault"]
                    self.assertTrue(lo <= int(m.group(1)) <= hi, (what, lo, hi))
                    self.assertIsNotNone(sh["manifest"], what)  # what came before is kept
                # the lines before the fault are exactly the good shard's
                n_exact = e.get("first_docs", len(recs))
                if e.get("prefix") or e.get("same_as_good") or "first_docs" in e:
                    last_cut = e.get("truncated_tail") and recs and recs[-1]["status"] == "error"
                    upto = min(n_exact, len(recs) - (1 if last_cut else 0))
                    self.assertEqual(recs[:upto], ref[:upto], what)
                if e.get("truncated_tail") and recs:
                    tail = recs[-1]
                    self.assertTrue(tail["status"] == "ok" or tail["error"].startswith("truncated_input"),
                                    (what, tail))
                    if tail["status"] == "error":
                        self.assertEqual(tail["offset"], ref[len(recs) - 1]["offset"], what)
            # the good shard is unaffected by its broken neighbours
            self.assertEqual(read_manifest(out / "good.jsonl.manifest.jsonl.zst"), ref)
            if chunk == "2M":
                self.assertEqual((out / "good.jsonl.manifest.jsonl.zst").read_bytes(), ref_bytes)
            outs[chunk] = out
        # What a broken shard yields depends on its bytes only, not on how the
        # scan cut its buffers (a reader bug once made it depend on read sizes).
        for name in exp:
            a = self.summary(outs["2M"])
            sa = next(sh for sh in a["shards"] if Path(sh["input"]).name == name)
            if sa["manifest"]:
                self.assertEqual(read_manifest(outs["2M"] / sa["manifest"]),
                                 read_manifest(outs["4096"] / sa["manifest"]), name)

    def test_truncated_gzip_keeps_every_decodable_line(self):
        """zlib says how much of a cut gzip stream is decodable; every
        complete line in it must be in the manifest."""
        raw = b"\n".join(make_docs(4000, 4)) + b"\n"
        g = gzip.compress(raw, mtime=0)
        cuts = [len(g) // 5, len(g) // 2, len(g) - 100]
        for i, cut in enumerate(cuts):
            self.write(f"in/t{i}.jsonl.gz", g[:cut])
        out = self.tmp / "out"
        run("scan", *self.fast, "--chunk-bytes", "4096", "-o", out, self.tmp / "in", check=1)
        for i, cut in enumerate(cuts):
            d = zlib.decompressobj(31)
            part = d.decompress(g[:cut])
            complete = part.count(b"\n")
            recs = read_manifest(out / f"t{i}.jsonl.gz.manifest.jsonl.zst")
            oks = [r for r in recs if r["status"] == "ok"]
            self.assertGreaterEqual(len(oks), complete, (cut, len(part)))
            self.assertLessEqual(len(recs), complete + 1, (cut, len(part)))

    def test_stdin_faults(self):
        z = zstd(b"\n".join(make_docs(500, 5)) + b"\n")
        out = self.tmp / "out"
        p = run("scan", *self.fast, "-o", out, "-", stdin=z[: len(z) // 2], check=1)
        self.assertIn("stdin", p.stderr.decode())
        s = self.summary(out)
        self.assertEqual(s["shards"][0]["status"], "failed")
        self.assertRegex(s["shards"][0]["error"], r"at byte \d+")
        self.check_accounting(out, s)
        out2 = self.tmp / "out2"
        run("scan", *self.fast, "-o", out2, "-", stdin=b"", check=0)
        self.assertEqual(self.summary(out2)["total"]["documents"], 0)
        self.assertEqual(read_manifest(out2 / "stdin.manifest.jsonl.zst"), [])


class Memory(Case):
    def test_many_short_lines_stay_bounded(self):
        """4 Mi empty lines (4 MiB, 2 chunks): each becomes a ~170-byte
        manifest record, so a chunk's manifest text is ~100x the chunk. The
        scan must not hold it whole (it once did: 787 MiB for 16 Mi lines)."""
        n = 4 << 20
        self.write("in/newlines.jsonl.zst", zstd(b"\n" * n, "-1"))
        out = self.tmp / "out"
        r = run_rss("scan", *self.fast, "-j", "2", "-o", out, self.tmp / "in")
        self.assertEqual(r["rc"], 1, r["stderr"])   # no line is a document
        s = self.summary(out)
        self.assertEqual(s["total"]["errors_by_kind"], {"empty_line": n})
        self.assertEqual(s["shards"][0]["status"], "no_documents")
        z = subprocess.Popen(["zstd", "-dc", str(out / "newlines.jsonl.zst.manifest.jsonl.zst")],
                             stdout=subprocess.PIPE)
        lines = 0
        while True:
            block = z.stdout.read(1 << 20)
            if not block:
                break
            lines += block.count(b"\n")
        self.assertEqual(z.wait(), 0)
        self.assertEqual(lines, n)
        print(f"\npeak RSS, 4 Mi empty lines: {r['rss_kb'] / 1024:.0f} MiB", file=sys.stderr)
        self.assertLess(r["rss_kb"] * 1024, 160 << 20)


# ---------------------------------------------------------------- directories

class Directories(Case):
    def test_unreadable_entries_and_loops(self):
        d = self.tmp / "in"
        docs = b"\n".join(make_docs(50, 6)) + b"\n"
        self.write("in/a.jsonl", docs)
        self.write("in/sub/b.jsonl", docs)
        self.write("in/sub/deeper/c.jsonl", docs)
        os.symlink("does-not-exist.jsonl", d / "dangling.jsonl")
        os.symlink("self.jsonl", d / "self.jsonl")               # a link to itself: ELOOP
        os.symlink("..", d / "sub" / "up")                        # a loop back to a parent
        (d / "x").mkdir()
        (d / "y").mkdir()
        os.symlink("../y", d / "x" / "to-y")                      # x -> y -> x
        os.symlink("../x", d / "y" / "to-x")
        os.mkfifo(d / "fifo.jsonl")                               # not a regular file: skipped
        unreadable = self.write("in/unreadable.jsonl", docs)
        unreadable.chmod(0)
        root_reads = os.access(unreadable, os.R_OK)               # root ignores the mode bits
        out = self.tmp / "out"
        p = run("scan", *self.fast, "-o", out, d, check=1, timeout=60)
        err = p.stderr.decode()
        s = self.summary(out)
        self.check_accounting(out, s)
        by = {sh["input"][len(str(d)) + 1:]: sh for sh in s["shards"]}
        # good files, once each (the loops are not followed)
        for name in ("a.jsonl", "sub/b.jsonl", "sub/deeper/c.jsonl"):
            self.assertEqual(by[name]["status"], "ok", name)
            self.assertEqual(by[name]["documents"], 50, name)
        self.assertNotIn("fifo.jsonl", by)
        self.assertFalse(any("up/" in k for k in by), by.keys())
        self.assertIn("loop", err)
        # a dangling link and a self-loop are inputs that failed, named with the reason
        for name, reason in (("dangling.jsonl", "No such file"), ("self.jsonl", "levels of symbolic links")):
            self.assertEqual(by[name]["status"], "failed", name)
            self.assertIn(name, by[name]["error"])
            self.assertIn(reason, by[name]["error"])
            self.assertIsNone(by[name]["manifest"])
            self.assertIn(name, err)
        if root_reads:
            self.assertEqual(by["unreadable.jsonl"]["status"], "ok")
            print("note: running as root, so a mode-000 file is still readable; "
                  "the unreadable-file case is covered by the dangling and looping links", file=sys.stderr)
        else:
            self.assertEqual(by["unreadable.jsonl"]["status"], "failed")
            self.assertIn("Permission denied", by["unreadable.jsonl"]["error"])
        self.assertEqual(s["total"]["failed_shards"], 2 + (0 if root_reads else 1))


# ---------------------------------------------------------------- outputs

def try_mount_tmpfs(where: Path, opts: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True)
    return p.returncode == 0


def umount(where: Path):
    subprocess.run(["umount", str(where)], capture_output=True)


class Outputs(Case):
    def test_full_filesystem(self):
        mnt = self.tmp / "full"
        if not try_mount_tmpfs(mnt, "size=256k"):
            self.skipTest("cannot mount a small tmpfs here (needs root): full-disk case not run")
        try:
            # 1. the manifests do not fit
            docs = b"\n".join(make_docs(20000, 7, words=[f"w{i}" for i in range(5000)])) + b"\n"
            self.write("in/a.jsonl", docs)
            self.write("in/b.jsonl", docs)
            out = mnt / "out"
            p = run("scan", *self.fast, "-o", out, self.tmp / "in", check=3)
            err = p.stderr.decode()
            self.assertIn("No space left on device", err)
            self.assertRegex(err, r"manifest|summary")
            self.assert_no_temporaries(out)
            for m in out.glob("*.manifest.jsonl.zst"):
                self.assertEqual(len(read_manifest(m)), 20000, m)  # complete or absent
            if (out / "summary.json").exists():
                s = self.summary(out)
                self.assertGreaterEqual(s["total"]["failed_shards"], 1)
            # 2. nothing fits at all: not even the summary
            shutil.rmtree(out)
            filler = mnt / "filler"
            with open(filler, "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 4096)
                except OSError:
                    pass
            self.write("in2/c.jsonl", b'{"text":"tiny"}\n')
            p = run("scan", *self.fast, "-o", mnt, self.tmp / "in2", check=3)
            self.assertIn("No space left on device", p.stderr.decode())
            names = sorted(x.name for x in mnt.iterdir())
            self.assertEqual(names, ["filler"], "a partial or temporary file was left")
        finally:
            umount(mnt)

    def test_read_only_place(self):
        self.write("in/a.jsonl", b'{"text":"one"}\n')
        mnt = self.tmp / "ro"
        if try_mount_tmpfs(mnt, "ro,size=64k"):
            try:
                p = run("scan", *self.fast, "-o", mnt / "out", self.tmp / "in", check=3)
                self.assertIn("Read-only file system", p.stderr.decode())
                self.assertIn(str(mnt / "out"), p.stderr.decode())
                p = run("scan", *self.fast, "-o", mnt, self.tmp / "in", check=3)
                self.assertIn("Read-only file system", p.stderr.decode())
                self.assertEqual(list(mnt.iterdir()), [])
            finally:
                umount(mnt)
        # Places nobody can write, mount or not: /proc refuses new directories.
        p = run("scan", *self.fast, "-o", "/proc/tropescan-out", self.tmp / "in", check=3)
        self.assertIn("/proc/tropescan-out", p.stderr.decode())
        # An output path under a regular file.
        self.write("file", b"")
        p = run("scan", *self.fast, "-o", self.tmp / "file" / "out", self.tmp / "in", check=3)
        self.assertIn("cannot create", p.stderr.decode())


# ---------------------------------------------------------------- slow: size and bombs

def gen_to(path: Path, parts, compress=None):
    """Streams parts (bytes, possibly a generator) to path, through
    `zstd -1` when compress is set: never holds the whole document."""
    with open(path, "wb") as f:
        proc = None
        sink = f
        if compress:
            proc = subprocess.Popen(["zstd", "-q", "-c", "-1", "-T2"], stdin=subprocess.PIPE, stdout=f)
            sink = proc.stdin
        for p in parts:
            sink.write(p)
        if proc:
            proc.stdin.close()
            if proc.wait() != 0:
                raise RuntimeError("zstd failed")


@unittest.skipUnless(SLOW or "--slow" in sys.argv, "slow suite only (test_badinput.py BINARY --slow)")
class Slow(Case):
    MB = 1 << 20

    def big_doc(self, path: Path, text_bytes: int, compress=False):
        unit = b"the robot walked into the city at night and refused to shut down "
        block = unit * (self.MB // len(unit))
        def parts():
            yield b'{"id":"big","text":"'
            left = text_bytes
            while left > 0:
                take = min(left, len(block))
                yield block[:take]
                left -= take
            yield b'"}\n'
        gen_to(path, parts(), compress)
        return 9 + 11 + text_bytes + 3  # bytes of the line with its newline

    def test_200mb_document(self):
        size = 200 * self.MB
        p = self.tmp / "in" / "big.jsonl"
        p.parent.mkdir(parents=True)
        line = self.big_doc(p, size)
        self.write("in/small.jsonl", b'{"id":"s","text":"after the big one"}\n')
        # default --max-doc-bytes 16M: too_long, not buffered
        out = self.tmp / "out-default"
        r = run_rss("scan", "-q", *DEFAULT_EXTRA, "-o", out, self.tmp / "in")
        self.assertEqual(r["rc"], 1, r["stderr"])   # its one line is too long: no document
        self.assertIn("big.jsonl: no line is a document", r["stderr"])
        recs = read_manifest(out / "big.jsonl.manifest.jsonl.zst")
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["error"], f"too_long: a line of {line - 1} bytes exceeds --max-doc-bytes "
                                           f"{16 * self.MB}")
        self.assertEqual(read_manifest(out / "small.jsonl.manifest.jsonl.zst")[0]["status"], "ok")
        rss_default = r["rss_kb"] * 1024
        # raised: accepted and scored
        out2 = self.tmp / "out-raised"
        r2 = run_rss("scan", "-q", *DEFAULT_EXTRA, "--max-doc-bytes", "256M", "-o", out2, self.tmp / "in")
        self.assertEqual(r2["rc"], 0, r2["stderr"])
        rec = read_manifest(out2 / "big.jsonl.manifest.jsonl.zst")[0]
        self.assertEqual((rec["status"], rec["len"]), ("ok", size))
        rss_raised = r2["rss_kb"] * 1024
        print(f"\npeak RSS, 200 MiB document: default limit {rss_default / self.MB:.0f} MiB, "
              f"--max-doc-bytes 256M {rss_raised / self.MB:.0f} MiB", file=sys.stderr)
        # Bounds: skipped, the document costs no more than a few chunks and
        # one line-limit buffer; accepted, a few copies of it (chunk buffer,
        # normalised text, hits), never growth without end.
        self.assertLess(rss_default, 160 * self.MB)
        self.assertLess(rss_raised, 4 * size + 64 * self.MB)

    def test_decompression_bomb(self):
        """1 GiB of one line, compressed by zstd to a few hundred KB: skipped
        as too_long in bounded memory, and the shard's count is right."""
        size = 1024 * self.MB
        p = self.tmp / "in" / "bomb.jsonl.zst"
        p.parent.mkdir(parents=True)
        line = self.big_doc(p, size, compress=True)
        self.assertLess(p.stat().st_size, 64 * self.MB)
        # Also a bomb of many short lines: 16 Mi empty lines, each accounted for.
        n_nl = 16 * self.MB
        gen_to(self.tmp / "in" / "newlines.jsonl.zst", (b"\n" * self.MB for _ in range(n_nl // self.MB)),
               compress=True)
        out = self.tmp / "out"
        r = run_rss("scan", *self.fast, "-o", out, self.tmp / "in")
        self.assertEqual(r["rc"], 1, r["stderr"])   # neither shard has a line that is a document
        s = self.summary(out)
        by = {Path(sh["input"]).name: sh for sh in s["shards"]}
        self.assertEqual(by["bomb.jsonl.zst"]["errors_by_kind"], {"too_long": 1})
        self.assertEqual(by["bomb.jsonl.zst"]["status"], "no_documents")
        self.assertEqual(by["bomb.jsonl.zst"]["bytes_decompressed"], line)
        self.assertEqual(by["newlines.jsonl.zst"]["errors_by_kind"], {"empty_line": n_nl})
        # Count the manifests' lines as a stream (16 Mi records would not fit
        # in this test's memory as Python objects).
        for name, want in (("bomb.jsonl.zst", 1), ("newlines.jsonl.zst", n_nl)):
            z = subprocess.Popen(["zstd", "-dc", str(out / by[name]["manifest"])], stdout=subprocess.PIPE)
            n = 0
            while True:
                block = z.stdout.read(1 << 20)
                if not block:
                    break
                n += block.count(b"\n")
            self.assertEqual(z.wait(), 0, name)
            self.assertEqual(n, want, name)
        print(f"\npeak RSS, 1 GiB one-line zstd bomb + 16 Mi empty lines: {r['rss_kb'] / 1024:.0f} MiB",
              file=sys.stderr)
        self.assertLess(r["rss_kb"] * 1024, 200 * self.MB)


def probe():
    """Finds whether the defaults run as they are (the embedded model and
    lexicon match); if not, accepts the mismatch so the suite still runs."""
    tmp = Path(tempfile.mkdtemp(prefix="tropescan-probe-"))
    try:
        (tmp / "a.jsonl").write_bytes(b'{"text":"x"}\n')
        p = subprocess.run([TROPESCAN, "scan", "-q", "-o", str(tmp / "o"), str(tmp / "a.jsonl")],
                           capture_output=True, timeout=TIMEOUT)
        if p.returncode == 3 and b"--force-model" in p.stderr:
            print("warning: the embedded model does not match the embedded lexicon; "
                  "running with --force-model", file=sys.stderr)
            DEFAULT_EXTRA.append("--force-model")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)  # the huge numeric id, parsed to build expectations
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    if "--slow" in sys.argv:
        sys.argv.remove("--slow")
        SLOW = True
        suite = unittest.TestLoader().loadTestsFromTestCase(Slow)
    else:
        suite = unittest.TestSuite(unittest.TestLoader().loadTestsFromTestCase(c)
                                   for c in (LineLevel, StreamLevel, Memory, Directories, Outputs))
    probe()
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
