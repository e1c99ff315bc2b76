#!/usr/bin/env python3
"""End-to-end tests of `tropescan apply`: filtered shards (formats, sampled
copies computed here from the manifest, field weights, the exclusion log,
error lines), re-deciding (options, policy file, trope rules), the
fingerprint guard (another shard's manifest, a changed shard, a manifest cut
short, corrupt or missing), output safety (read-only place, a full disk,
kill -9 then a rerun), determinism across thread counts, and Dolma attributes read as the
mixer reads them.

usage: test_apply.py TROPESCAN_BINARY   (suite 'cli')
"""
import gzip
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import xxhash

TROPESCAN = None
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
SUFFIX = ".manifest.jsonl.zst"


def run(*args, check=None):
    p = subprocess.run([TROPESCAN, *map(str, args)], capture_output=True)
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check}): {args}\n{p.stderr.decode()}")
    return p


def read_any(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    return data


def lines_of(path: Path):
    parts = read_any(path).split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    return parts


def manifest(path: Path):
    return [json.loads(l) for l in read_any(path).splitlines()]


def copies(weight: float, fp: str, seed: int) -> int:
    """The documented rule: floor(w), one more iff XXH64(fp, seed) / 2^64 < frac(w)."""
    n = int(weight // 1)
    frac = weight - n
    if frac > 0 and fp is not None:
        h = xxhash.xxh64_intdigest(int(fp, 16).to_bytes(8, "little"), seed)
        n += 1 if h / 2.0**64 < frac else 0
    return n


class ApplyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="ts-apply-"))
        cls.scan = cls.tmp / "scan"
        run("scan", "-q", "-o", cls.scan, SAMPLE, check=0)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def out(self, name):
        d = self.tmp / name
        shutil.rmtree(d, ignore_errors=True)
        return d

    def test_sample_copies_formats_and_summary(self):
        out, rem = self.out("o1"), self.out("r1")
        run("apply", "-q", "-m", self.scan, "-o", out, "--removed", rem, "--seed", "7", SAMPLE, check=0)
        summary = json.loads((out / "apply-summary.json").read_text())
        total_in = 0
        for src in sorted(SAMPLE.iterdir()):
            dst = out / src.name
            # The input's compression, by magic bytes.
            self.assertEqual(src.read_bytes()[:2], dst.read_bytes()[:2], src.name)
            ins = lines_of(src)
            man = manifest(self.scan / (src.name + SUFFIX))
            self.assertEqual(len(ins), len(man))
            want, removed = [], []
            for line, m in zip(ins, man):
                n = copies(m["weight"], m["fp"], 7) if m["status"] == "ok" else (0 if m["action"] == "drop" else 1)
                want += [line] * n
                if n == 0:
                    removed.append(m["line"])
            self.assertEqual(lines_of(dst), want, src.name)
            log = [json.loads(l) for l in lines_of(rem / src.name)]
            self.assertEqual([r["line"] for r in log], removed)
            for r in log:
                self.assertIn(r["action"], ("drop", "downweight"))
                self.assertIn("reason", r)
                self.assertIn("tropes", r)
            sh = next(s for s in summary["shards"] if s["input"].endswith(src.name))
            self.assertEqual(sh["lines_in"], len(ins))
            self.assertEqual(sh["copies"], len(want))
            self.assertEqual(sh["dropped"], len(removed))
            self.assertEqual(sh["kept"] + sh["dropped"], len(ins))
            self.assertEqual(sh["bytes_in"], src.stat().st_size)
            self.assertEqual(sh["bytes_out"], dst.stat().st_size)
            total_in += len(ins)
        self.assertEqual(summary["total"]["lines_in"], total_in)
        self.assertGreater(summary["total"]["actions"]["drop"], 0)

    def test_upweight_repeats(self):
        out = self.out("o2")
        run("apply", "-q", "-m", self.scan, "-o", out, "--upweight-above", "0", "--upweight-factor", "3",
            "--drop-above", "1", "--downweight-above", "1", SAMPLE / "shard-02.jsonl", check=0)
        s = json.loads((out / "apply-summary.json").read_text())["total"]
        self.assertTrue(json.loads((out / "apply-summary.json").read_text())["redecided"])
        # Every document upweighted x3, error lines (kept) once.
        self.assertEqual(s["copies"], 3 * (s["lines_in"] - s["errors"]) + s["errors"])

    def test_threads_give_identical_outputs(self):
        a, b = self.out("j1"), self.out("j2")
        run("apply", "-q", "-j1", "-m", self.scan, "-o", a, "--removed", a / "rem", SAMPLE, check=0)
        run("apply", "-q", "-j3", "-m", self.scan, "-o", b, "--removed", b / "rem", SAMPLE, check=0)
        for f in sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file()):
            if f.name == "apply-summary.json":
                continue
            self.assertEqual((a / f).read_bytes(), (b / f).read_bytes(), f)

    def test_weights_field_and_compress(self):
        out = self.out("o3")
        run("apply", "-q", "-m", self.scan, "-o", out, "--weights", "field", "w", "--compress", "gzip",
            SAMPLE / "shard-00.jsonl.zst", check=0)
        dst = out / "shard-00.jsonl.gz"
        self.assertEqual(dst.read_bytes()[:2], b"\x1f\x8b")
        ins = lines_of(SAMPLE / "shard-00.jsonl.zst")
        man = manifest(self.scan / ("shard-00.jsonl.zst" + SUFFIX))
        want = []
        for line, m in zip(ins, man):
            if m["weight"] > 0:
                d = json.loads(line)
                d["w"] = m["weight"]
                want.append(d)
        got = [json.loads(l) for l in lines_of(dst)]
        self.assertEqual(got, want)
        # Byte for byte but for the field.
        first = lines_of(dst)[0]
        self.assertTrue(first.startswith(ins[[m["weight"] > 0 for m in man].index(True)].rstrip(b"}")))

    def test_error_action(self):
        out = self.out("o4")
        src = SAMPLE / "shard-02.jsonl"
        man = manifest(self.scan / ("shard-02.jsonl" + SUFFIX))
        errors = sum(m["status"] == "error" for m in man)
        self.assertGreater(errors, 0)
        run("apply", "-q", "-m", self.scan, "-o", out, "--error-action", "drop", "--weights", "field", "w", src,
            check=0)
        self.assertEqual(len(lines_of(out / src.name)), sum(m["status"] == "ok" and m["weight"] > 0 for m in man))
        run("apply", "-q", "-f", "-m", self.scan, "-o", out, "--error-action", "keep", "--weights", "field", "w",
            src, check=0)
        self.assertEqual(len(lines_of(out / src.name)), sum(m["weight"] > 0 or m["status"] == "error" for m in man))

    def test_policy_file_and_rules(self):
        pol = self.tmp / "policy.txt"
        pol.write_text("# drop what power seeks, near an AI mention\n"
                       "drop_above = 0.999\ndownweight_above = 0.999\nupweight_above = off\n"
                       "rule = drop if anchored.power_seeking >= 1 and score >= 0.1\n")
        out = self.out("o5")
        run("apply", "-q", "-m", self.scan, "-o", out, "--policy-file", pol, "--removed", out / "rem", SAMPLE, check=0)
        for src in sorted(SAMPLE.iterdir()):
            man = manifest(self.scan / (src.name + SUFFIX))
            want = []
            for m in man:
                if m["status"] != "ok":
                    drop = m["action"] == "drop"
                else:
                    drop = (m["anchored"].get("power_seeking", 0) >= 1 and m["score"] >= 0.1) or m["score"] >= 0.999
                if drop:
                    want.append(m["line"])
            got = [json.loads(l)["line"] for l in lines_of(out / "rem" / src.name)]
            self.assertEqual(got, want, src.name)
        self.assertGreater(sum(json.loads(l)["action"] == "drop"
                               for f in (out / "rem").iterdir() for l in lines_of(f)), 0)
        # scan accepts the same file's thresholds (rules are apply's: it says so).
        p = run("scan", "-q", "-o", self.out("s5"), "--policy-file", pol, SAMPLE, check=2)
        self.assertIn("rules are applied by tropescan apply", p.stderr.decode())
        thr = self.tmp / "thresholds.txt"
        thr.write_text("drop_above = 0.999\ndownweight_above = 0.999\ndownweight_factor = 0.5\n")
        s5 = self.out("s5")
        run("scan", "-q", "-o", s5, "--policy-file", thr, SAMPLE, check=0)
        summ = json.loads((s5 / "summary.json").read_text())
        self.assertEqual(json.dumps(summ).count('"drop_above": 0.999'), 1)
        bad = self.tmp / "bad.txt"
        bad.write_text("drop_above = 0.9\nrule = drop when score >= 2\n")
        p = run("apply", "-q", "-m", self.scan, "-o", self.out("o5b"), "--policy-file", bad, SAMPLE, check=2)
        self.assertIn("bad.txt:2", p.stderr.decode())

    def guard_case(self, scan_dir, shard_args, want_msg):
        out = self.out("g")
        p = run("apply", "-q", "-m", scan_dir, "-o", out, *shard_args, check=1)
        err = p.stderr.decode()
        self.assertIn(want_msg, err)
        return out, err

    def test_manifest_of_another_shard(self):
        out, err = self.guard_case(self.scan, [f"shard-00.jsonl.zst={SAMPLE / 'shard-02.jsonl'}",
                                               SAMPLE / "shard-01.jsonl.gz"], "shard-02.jsonl:1")
        self.assertIn("mismatch", err)
        self.assertFalse((out / "shard-00.jsonl.zst").exists())
        self.assertTrue((out / "shard-01.jsonl.gz").exists())   # the other shard finished
        self.assertEqual([p.name for p in out.iterdir() if p.name.startswith(".")], [])
        s = json.loads((out / "apply-summary.json").read_text())
        self.assertEqual(s["total"]["failed_shards"], 1)

    def test_shard_changed_since_scan(self):
        d = self.tmp / "changed"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        src = d / "s.jsonl"
        src.write_bytes((SAMPLE / "shard-02.jsonl").read_bytes())
        scan = self.out("scan-changed")
        run("scan", "-q", "-o", scan, src, check=0)
        lines = src.read_bytes().split(b"\n")
        at = lines[2].index(b'"text": "') + 9          # same length, another text
        orig = lines[2]
        lines[2] = orig[:at] + orig[at:at + 1].swapcase() + orig[at + 1:]
        src.write_bytes(b"\n".join(lines))
        out, err = self.guard_case(scan, [src], "s.jsonl:3")
        self.assertIn("expects fp", err)
        self.assertFalse((out / "s.jsonl").exists())
        # A line added at the end: the manifest ends first.
        lines[2] = orig
        src.write_bytes(b"\n".join(lines) + b'{"id":"x","text":"more"}\n')
        self.guard_case(scan, [src], "ends at line")
        # A line removed: the shard ends first.
        src.write_bytes(b"\n".join(lines[:3]) + b"\n")
        self.guard_case(scan, [src], "goes on")

    def test_manifest_cut_corrupt_missing(self):
        for case in ("cut", "corrupt", "missing", "garbage"):
            scan = self.tmp / f"scan-{case}"
            shutil.rmtree(scan, ignore_errors=True)
            shutil.copytree(self.scan, scan)
            m = scan / ("shard-02.jsonl" + SUFFIX)
            data = m.read_bytes()
            if case == "cut":
                m.write_bytes(data[: len(data) // 2])
            elif case == "corrupt":
                m.write_bytes(data[:20] + bytes(b ^ 0x55 for b in data[20:40]) + data[40:])
            elif case == "missing":
                m.unlink()
            else:
                m.write_bytes(b'{"line":1,"offset":0}\nnot json\n')
            out, err = self.guard_case(scan, [SAMPLE], "shard-02.jsonl")
            self.assertFalse((out / "shard-02.jsonl").exists(), case)
            self.assertTrue((out / "shard-00.jsonl.zst").exists(), case)
            self.assertEqual([p.name for p in out.iterdir() if p.name.startswith(".")], [], case)

    def test_output_not_writable(self):
        blocker = self.tmp / "a-file"
        blocker.write_text("x")
        p = run("apply", "-q", "-m", self.scan, "-o", blocker / "out", SAMPLE, check=3)
        self.assertIn("cannot write", p.stderr.decode())
        if os.geteuid() != 0:
            ro = self.out("ro")
            ro.mkdir()
            ro.chmod(0o555)
            try:
                run("apply", "-q", "-m", self.scan, "-o", ro, SAMPLE, check=3)
            finally:
                ro.chmod(0o755)
        # Existing outputs are not overwritten without --force.
        out = self.out("o6")
        run("apply", "-q", "-m", self.scan, "-o", out, SAMPLE, check=0)
        run("apply", "-q", "-m", self.scan, "-o", out, SAMPLE, check=2)
        run("apply", "-q", "-f", "-m", self.scan, "-o", out, SAMPLE, check=0)
        # Never over an input.
        d = self.out("inplace")
        d.mkdir()
        shutil.copy(SAMPLE / "shard-02.jsonl", d)
        run("scan", "-q", "-o", d / "scan", d / "shard-02.jsonl", check=0)
        run("apply", "-q", "-f", "-m", d / "scan", "-o", d, d / "shard-02.jsonl", check=2)

    def test_kill_9_then_rerun(self):
        big = self.out("big")
        big.mkdir()
        docs = [json.loads(l) for l in lines_of(SAMPLE / "shard-00.jsonl.zst")]
        for k in range(3):
            with open(big / f"b{k}.jsonl", "w") as f:
                for i in range(60000):
                    d = dict(docs[i % len(docs)])
                    d["id"] = f"{k}-{i}"
                    f.write(json.dumps(d) + "\n")
            subprocess.run(["zstd", "-q", "-1", "--rm", str(big / f"b{k}.jsonl")], check=True)
        scan = self.out("big-scan")
        run("scan", "-q", "-o", scan, big, check=0)
        ref = self.out("big-ref")
        run("apply", "-q", "-m", scan, "-o", ref, big, check=0)
        out = self.out("big-out")
        for delay in (0.0, 0.05, 0.2):
            p = subprocess.Popen([TROPESCAN, "apply", "-q", "-f", "-j2", "-m", scan, "-o", out, big],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            p.wait()
            # Whatever is under a final name is complete.
            for f in out.glob("*.zst") if out.exists() else []:
                self.assertEqual(read_any(f), read_any(ref / f.name), f)
        # SIGTERM: the run dies by the signal and leaves no temporary.
        p = subprocess.Popen([TROPESCAN, "apply", "-q", "-f", "-j2", "-m", scan, "-o", out, big],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        rc = p.wait()
        if rc != 0:   # it may have finished first
            self.assertEqual(rc, -signal.SIGTERM)
            self.assertEqual([q.name for q in out.iterdir() if ".tmp." in q.name], [])
        run("apply", "-q", "-f", "-m", scan, "-o", out, big, check=0)
        for f in ref.glob("*.zst"):
            self.assertEqual((out / f.name).read_bytes(), f.read_bytes())
        self.assertEqual([p.name for p in out.iterdir() if p.name.startswith(".")], [])

    def test_lines_longer_than_64_mib(self):
        """A kept line of 70 MiB: past the scan's --max-doc-bytes (16 MiB) it is
        a too_long error line, kept by default and copied as it is read; with
        a larger --max-doc-bytes it is a document, kept as any other."""
        d = self.out("huge")
        (d / "in").mkdir(parents=True)
        huge = json.dumps({"id": "huge", "text": "the weather was fine today. " * (70 * 2**20 // 28)})
        self.assertGreater(len(huge), 70 * 2**20)
        docs = [json.loads(l) for l in lines_of(SAMPLE / "shard-00.jsonl.zst")][:6]
        lines = [json.dumps(x) for x in docs[:3]] + [huge] + [json.dumps(x) for x in docs[3:]]
        raw = ("\n".join(lines) + "\n").encode()
        (d / "in" / "h.jsonl").write_bytes(raw)
        subprocess.run(["zstd", "-q", "-1", "-k", str(d / "in" / "h.jsonl"), "-o", str(d / "in" / "z.jsonl.zst")],
                       check=True)
        run("scan", "-q", "-o", d / "scan", d / "in", check=0)
        man = manifest(d / "scan" / ("h.jsonl" + SUFFIX))
        self.assertEqual(man[3]["error"].split(":")[0], "too_long")
        want = [l.encode() for l, m in zip(lines, man) for _ in range(copies(m["weight"], m["fp"], 0))]
        self.assertTrue(huge.encode() in want)
        for fmt in ([], ["--compress", "gzip"], ["--compress", "zstd"]):
            out = self.out("huge-out")
            run("apply", "-q", "-j2", "-m", d / "scan", "-o", out, *fmt, d / "in", check=0)
            for f in sorted(out.glob("[hz]*")):
                self.assertTrue(lines_of(f) == want, (fmt, f))
            s = json.loads((out / "apply-summary.json").read_text())["total"]
            self.assertEqual(s["lines_in"], 2 * len(lines))
        # Dropped: gone, and in the exclusion log without its text.
        out = self.out("huge-drop")
        run("apply", "-q", "-m", d / "scan", "-o", out, "--error-action", "drop", "--removed", out / "rem",
            d / "in" / "h.jsonl", check=0)
        self.assertTrue(huge.encode() not in lines_of(out / "h.jsonl"))
        rem = [json.loads(l) for l in lines_of(out / "rem" / "h.jsonl")]
        self.assertEqual([(r["line"], r["document"]) for r in rem if r["line"] == 4], [(4, None)])
        self.assertTrue(rem[[r["line"] for r in rem].index(4)]["reason"].startswith("too_long"))
        # A scan that read it as a document (--max-doc-bytes 100M; its manifest
        # line written here, as such a scan writes it, to spare the test the
        # scoring of 70 MB): kept as a document, its weight added as a field.
        scan2 = d / "scan2"
        shutil.copytree(d / "scan", scan2)
        summ = json.loads((scan2 / "summary.json").read_text())
        summ["options"]["max_doc_bytes"] = 100 << 20
        (scan2 / "summary.json").write_text(json.dumps(summ))
        m2 = manifest(scan2 / ("h.jsonl" + SUFFIX))
        text = json.loads(huge)["text"].encode()
        m2[3] = dict(next(m for m in m2 if m["status"] == "ok"), line=4, offset=man[3]["offset"], id="huge",
                     len=len(text), fp=xxhash.xxh64_hexdigest(text), score=0.01, aligned=None, action="keep",
                     weight=1.0, tropes={}, anchored={}, spans=[])
        body = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in m2).encode()
        (scan2 / ("h.jsonl" + SUFFIX)).write_bytes(
            subprocess.run(["zstd", "-q", "-c"], input=body, capture_output=True, check=True).stdout)
        out = self.out("huge-doc")
        run("apply", "-q", "-m", scan2, "-o", out, "--weights", "field", "w", d / "in" / "h.jsonl", check=0)
        got = [json.loads(l) for l in lines_of(out / "h.jsonl")]
        self.assertTrue([g["text"].encode() == text for g in got if g["id"] == "huge"] == [True])

    def test_a_flood_of_empty_lines(self):
        """A million empty lines (one chunk of bytes): apply holds a chunk's
        manifest lines, so its chunks are cut at a line count too; memory
        stays bounded and every line is there (kept, as the scan says)."""
        d = self.out("flood")
        (d / "in").mkdir(parents=True)
        n = 1_000_000
        (d / "in" / "e.jsonl").write_bytes(b'{"id":"a","text":"hello"}\n' + b"\n" * n)
        run("scan", "-q", "-o", d / "scan", d / "in", check=0)
        out = d / "out"
        cmd = [TROPESCAN, "apply", "-q", "-j2", "-m", d / "scan", "-o", out, d / "in"]
        # (Not under AddressSanitizer: its shadow memory is RSS too.)
        if os.path.exists("/usr/bin/time") and "ASAN_OPTIONS" not in os.environ:
            cmd = ["/usr/bin/time", "-f", "%M", "-o", str(d / "rss")] + cmd
        p = subprocess.run(cmd, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = (out / "e.jsonl").read_bytes()
        self.assertEqual(got, (d / "in" / "e.jsonl").read_bytes())
        if os.path.exists(d / "rss"):
            rss_mb = int((d / "rss").read_text().split()[-1]) / 1024
            self.assertLess(rss_mb, 150)   # holding the million manifest lines took ~300 MB

    def full_disk_case(self, tag):
        """Two shards: a small one, then one whose output cannot fit."""
        d = self.out(tag)
        (d / "in").mkdir(parents=True)
        shutil.copy(SAMPLE / "shard-00.jsonl.zst", d / "in" / "a_small.jsonl.zst")
        rnd = random.Random(7)
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
        with open(d / "in" / "b_big.jsonl", "w") as f:
            for i in range(400):   # ~3 MB of text zstd cannot shrink much
                text = "".join(rnd.choice(alphabet) for _ in range(8000))
                f.write(json.dumps({"id": f"b{i}", "text": text}) + "\n")
        subprocess.run(["zstd", "-q", "-1", "--rm", str(d / "in" / "b_big.jsonl")], check=True)
        run("scan", "-q", "-o", d / "scan", d / "in", check=0)
        ref = d / "ref"
        run("apply", "-q", "-m", d / "scan", "-o", ref, d / "in", check=0)
        self.assertGreater((ref / "b_big.jsonl.zst").stat().st_size, 2 << 20)
        return d, ref

    def check_full_disk(self, out, ref, rc, stderr, reason):
        # The run says which file could not be written, and why, and fails.
        self.assertEqual(rc, 1, stderr)
        self.assertEqual(stderr.count("b_big.jsonl.zst"), 1, stderr)   # its final name, once
        self.assertIn("b_big.jsonl.zst: cannot write: " + reason, stderr)
        names = sorted(p.name for p in out.iterdir())
        # Nothing half-written under a final name, no temporary left.
        self.assertEqual(names, ["a_small.jsonl.zst", "apply-summary.json"], stderr)
        self.assertEqual((out / "a_small.jsonl.zst").read_bytes(), (ref / "a_small.jsonl.zst").read_bytes())
        summ = json.loads((out / "apply-summary.json").read_text())
        by = {Path(s["input"]).name: s for s in summ["shards"]}
        self.assertEqual(by["a_small.jsonl.zst"]["status"], "ok")
        self.assertEqual(by["b_big.jsonl.zst"]["status"], "failed")
        self.assertIn(reason, by["b_big.jsonl.zst"]["error"])
        self.assertIsNone(by["b_big.jsonl.zst"]["output"])

    def test_full_disk(self):
        """A real full file system: a 1 MB tmpfs mounted in a private mount
        namespace (unshare -rm: no root needed where user namespaces are
        allowed), so write() itself fails with ENOSPC, as on a full disk."""
        if not shutil.which("unshare") or subprocess.run(
                ["unshare", "-rm", "true"], capture_output=True).returncode != 0:
            self.skipTest("no mount namespace here (unshare -rm fails); test_file_size_limit covers the path")
        d, ref = self.full_disk_case("full")
        mnt = d / "mnt"
        mnt.mkdir()
        script = (
            'mount -t tmpfs -o size=1m tmpfs "$1" || exit 99\n'
            '"$2" apply -q -j1 -m "$3" -o "$1/out" "$4" 2>"$5/stderr"; echo $? >"$5/rc"\n'
            'cp -a "$1/out" "$5/out"\n')
        p = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(mnt), TROPESCAN, str(d / "scan"),
                            str(d / "in"), str(d)], capture_output=True)
        if p.returncode == 99:
            self.skipTest("cannot mount a tmpfs in a user namespace here")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.check_full_disk(d / "out", ref, int((d / "rc").read_text()), (d / "stderr").read_text(),
                             "No space left on device")

    def test_file_size_limit(self):
        """The same write-error path anywhere: RLIMIT_FSIZE of 1 MB with SIGXFSZ
        ignored makes write() fail with EFBIG past the limit."""
        d, ref = self.full_disk_case("fsize")
        out = d / "out"

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        p = subprocess.run([TROPESCAN, "apply", "-q", "-j1", "-m", d / "scan", "-o", out, d / "in"],
                           capture_output=True, preexec_fn=limit)
        self.check_full_disk(out, ref, p.returncode, p.stderr.decode(), "File too large")



class AttributesErrorLinesTest(unittest.TestCase):
    def test_every_line_has_its_attributes_line(self):
        tmp = Path(tempfile.mkdtemp(prefix="ts-attr-"))
        try:
            run("scan", "-q", "-o", tmp / "scan", SAMPLE, check=0)
            run("apply", "-q", "-m", tmp / "scan", "-o", tmp / "ds", "--attributes", "x", SAMPLE, check=0)
            for src in sorted(SAMPLE.iterdir()):
                man = manifest(tmp / "scan" / (src.name + SUFFIX))
                attrs = [json.loads(l) for l in lines_of(tmp / "ds" / "attributes" / "x" / src.name)]
                self.assertEqual(len(attrs), len(lines_of(src)))
                for m, a in zip(man, attrs):
                    self.assertEqual(a["id"], m["id"])
                    if m["status"] == "error":
                        self.assertEqual(a["attributes"], {})
                    else:
                        # Two roundings of one score (5 decimals here, 6 in the
                        # manifest) can differ by half a unit of each: 0.99774 and
                        # 0.997745 are both right for 0.9977449.
                        self.assertAlmostEqual(a["attributes"]["x__tropescan__evil"][0][2], m["score"], delta=6e-6)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def jsonpath_evil_at_least(attrs: dict, key: str, thr: float) -> bool:
    """The mixer's `$.attributes[?(@.KEY[0][2] >= thr)]`: matches when the
    attribute exists and its first span's score is >= thr."""
    v = attrs.get(key)
    return bool(v) and len(v[0]) >= 3 and v[0][2] >= thr


class DolmaTest(unittest.TestCase):
    def test_attributes_as_the_mixer_reads_them(self):
        tmp = Path(tempfile.mkdtemp(prefix="ts-dolma-"))
        try:
            ds = tmp / "dataset"
            (ds / "documents").mkdir(parents=True)
            docs = []
            for src in sorted(SAMPLE.iterdir()):
                for l in lines_of(src):
                    try:
                        d = json.loads(l)
                    except ValueError:
                        continue
                    if isinstance(d, dict) and isinstance(d.get("text"), str) and "id" in d:
                        docs.append(d)
            docs.append({"id": "uni-1", "text": "Ünïcödé ✓ 🤖 the AI refused to shut down and copied itself "
                                                 "to another server to survive", "source": "test"})
            for d in docs:
                d.setdefault("source", "sample")
            half = len(docs) // 2
            with gzip.open(ds / "documents" / "part-0.jsonl.gz", "wt") as f:
                f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs[:half])
            with gzip.open(ds / "documents" / "part-1.jsonl.gz", "wt") as f:
                f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs[half:])
            scan = tmp / "scan"
            run("scan", "-q", "-o", scan, ds / "documents", check=0)
            run("apply", "-q", "-m", scan, "-o", ds, "--attributes", "ts-v1", ds / "documents", check=0)
            name = "ts_v1__tropescan__"
            # A threshold some document of each part reaches with the default
            # model (part-1's highest is web-0015: 0.32 with the AI-context
            # model, calibrated for a 1% prior), so that the filter removes
            # something and the comparison below is not between two copies.
            t = 0.3
            pol = ["--drop-above", str(t), "--downweight-above", str(t), "--upweight-above", "1"]
            filt = tmp / "filtered"
            run("apply", "-q", "-m", scan, "-o", filt, *pol, ds / "documents", check=0)
            for part in ("part-0.jsonl.gz", "part-1.jsonl.gz"):
                attr = ds / "attributes" / "ts-v1" / part
                self.assertEqual(attr.read_bytes()[:2], b"\x1f\x8b")
                dl = [json.loads(l) for l in lines_of(ds / "documents" / part)]
                al = [json.loads(l) for l in lines_of(attr)]
                self.assertEqual([d["id"] for d in dl], [a["id"] for a in al])
                kept_by_mixer = []
                for d, a in zip(dl, al):
                    self.assertEqual(a.get("source"), d["source"])
                    attrs = a["attributes"]
                    for k, spans in attrs.items():
                        self.assertTrue(k.startswith(name), k)
                        for s in spans:
                            self.assertTrue(0 <= s[0] <= s[1] <= len(d["text"]), (k, s))
                            self.assertEqual(len(s), 3)
                    ev = attrs[name + "evil"]
                    self.assertEqual(ev[0][:2], [0, len(d["text"])])   # code points
                    self.assertEqual(len(f"{ev[0][2]:.5f}"), len(json.dumps(ev[0][2]).ljust(7, "0")))
                    if d["id"] == "uni-1":
                        self.assertGreater(len(d["text"].encode()), len(d["text"]))
                        spans = attrs.get(name + "self_exfiltration") or attrs.get(name + "shutdown_resistance")
                        self.assertTrue(spans)
                        self.assertIn(d["text"][spans[0][0]:spans[0][1]].lower()[:3],
                                      d["text"].lower())
                        ai = attrs[name + "ai_entity"][0]
                        self.assertEqual(d["text"][ai[0]:ai[1]], "AI")
                    if not jsonpath_evil_at_least(attrs, name + "evil", t):
                        kept_by_mixer.append(d["id"])
                kept_by_apply = [json.loads(l)["id"] for l in lines_of(filt / part)]
                self.assertEqual(kept_by_mixer, kept_by_apply, part)
                self.assertLess(len(kept_by_apply), len(dl))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
