#!/usr/bin/env python3
"""Many machines: scan --partition, tropescan merge, scan --resume.

  - the n partitions of a run cover every shard once, their manifests are
    byte-identical to a whole run's, and their merged summary equals the
    whole run's summary save the run's timing ("run"); they may share one
    output directory (names never collide) or use one each;
  - malformed or out-of-range partition specs are usage errors (exit 2);
  - merge refuses other options, a shard listed twice, a missing partition;
    tropescan report reads a merged summary;
  - a run killed with SIGKILL after k shards, then resumed, gives the
    uninterrupted run's manifests and summary; an input changed since is
    redone; an output directory made with other options is refused.

usage: test_distributed.py TROPESCAN_BINARY   (meson test, suite 'cli')
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

TROPESCAN = None
WORDS = ("the robot AI refused to shut down and copied itself to another server to survive; "
         "humans garden recipe vote council river engineer quiet night football").split()


def run(*args, check=None):
    p = subprocess.run([TROPESCAN, *map(str, args)], capture_output=True)
    if check is not None and p.returncode != check:
        raise AssertionError(f"exit {p.returncode} (wanted {check}): {args}\n{p.stderr.decode()}")
    return p


def make_corpus(root: Path, nshards=14, docs=150, seed=7):
    """Shards at two depths, names chosen so that '/' ordering matters
    (sub/ vs sub.x, sub-y), one gzip shard, one with no documents."""
    import gzip
    rnd = random.Random(seed)
    names = []
    for k in range(nshards):
        d = ["", "sub/", "sub/deeper/", ""][k % 4]
        names.append(f"{d}s{k:02d}.jsonl")
    names += ["sub.x.jsonl", "sub-y.jsonl", "nodocs.jsonl", "z.jsonl.gz"]
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        if n == "nodocs.jsonl":
            p.write_text("not json\nnor this\n")
            continue
        lines = []
        for i in range(docs):
            text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 90)))
            lines.append(json.dumps({"id": f"{n}-{i}", "text": text}))
        lines.append("{broken")
        data = ("\n".join(lines) + "\n").encode()
        p.write_bytes(gzip.compress(data) if n.endswith(".gz") else data)
    return names


def manifests(d: Path):
    return sorted(str(p.relative_to(d)) for p in d.rglob("*.manifest.jsonl.zst"))


def summary(path: Path):
    s = json.loads(path.read_text())
    s.pop("run")      # the run's own facts: threads, wall time
    return s


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="tropescan-dist-"))
        cls.inp = cls.tmp / "in"
        cls.names = make_corpus(cls.inp)
        cls.whole = cls.tmp / "whole"
        run("scan", "-q", "-j", "2", "-o", cls.whole, cls.inp, check=1)   # 1: the no-documents shard

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_same_run(self, d: Path, summary_name="summary.json"):
        self.assertEqual(manifests(d), manifests(self.whole))
        for m in manifests(self.whole):
            self.assertEqual((d / m).read_bytes(), (self.whole / m).read_bytes(), m)
        self.assertEqual(summary(d / summary_name), summary(self.whole / "summary.json"))


class Partitions(Base):
    def test_shared_directory(self):
        out = self.tmp / "shared"
        for i in range(4):
            run("scan", "-q", "-j", str(1 + i % 3), "--partition", f"{i}/4", "-o", out, self.inp)
        parts = [summary(out / f"summary.part-{i}-of-4.json") for i in range(4)]
        seen = [sh["input"] for p in parts for sh in p["shards"]]
        self.assertEqual(sorted(seen), sorted(str(self.inp / n) for n in self.names))   # each once
        self.assertGreater(min(len(p["shards"]) for p in parts), 0)
        # the documented hash: XXH64(name, seed 0) mod N, name = manifest path without the suffix
        import xxhash
        for i, p in enumerate(parts):
            for sh in p["shards"]:
                name = sh["manifest"][:-len(".manifest.jsonl.zst")]
                self.assertEqual(xxhash.xxh64(name.encode(), seed=0).intdigest() % 4, i, name)
        run("merge", "-q", "-o", out, out, check=0)
        self.assert_same_run(out)
        # merge again needs --force; report reads the merged summary like any other
        self.assertEqual(run("merge", "-o", out, out).returncode, 2)
        run("merge", "-q", "-f", "-o", out, out, check=0)
        a = json.loads(run("report", "--json", out, check=0).stdout)
        b = json.loads(run("report", "--json", self.whole, check=0).stdout)
        strip = lambda r: json.dumps(r, sort_keys=True).replace(str(out), "D").replace(str(self.whole), "D")
        self.assertEqual(strip(a), strip(b))

    def test_shared_directory_at_once(self):
        """Partitions running at the same time in one directory (as on a
        cluster): each one's stale-temporary cleanup leaves the others' live
        temporaries alone, and names never collide."""
        out = self.tmp / "concurrent"
        procs = [subprocess.Popen([TROPESCAN, "scan", "-q", "-j", "1", "--partition", f"{i}/4", "-o", str(out),
                                   str(self.inp)], stderr=subprocess.PIPE) for i in range(4)]
        for p in procs:
            err = p.communicate(timeout=120)[1]
            self.assertIn(p.returncode, (0, 1), err)
        self.assertEqual(list(out.rglob(".*tmp*")), [])
        run("merge", "-q", "-o", out, out, check=0)
        self.assert_same_run(out)

    def test_separate_directories(self):
        dirs = [self.tmp / f"sep{i}" for i in range(3)]
        for i, d in enumerate(dirs):
            run("scan", "-q", "--partition", f"{i}/3", "-o", d, self.inp)
        out = self.tmp / "sepmerged"
        run("merge", "-q", "-o", out, *dirs, check=0)
        self.assert_same_run(out)
        # the merged directory is a run's: its manifests come with their resume
        # records, so scan --resume there keeps every shard (and rewrites none)
        self.assertEqual(sorted(p.name for p in out.rglob(".*.manifest.done.json")),
                         sorted(p.name for p in self.whole.rglob(".*.manifest.done.json")))
        inodes = {m: (out / m).stat().st_ino for m in manifests(out)}
        r = run("scan", "--resume", "-o", out, self.inp, check=1)
        self.assertIn(b"resume: 18 of 18 shards already complete, 0 to scan", r.stderr)
        self.assert_same_run(out)
        self.assertEqual(inodes, {m: (out / m).stat().st_ino for m in manifests(out)})

    def test_empty_partition(self):
        # 30 partitions of 18 shards: some are empty, and still write a summary
        out = self.tmp / "many"
        for i in range(30):
            p = run("scan", "-q", "-j", "1", "--partition", f"{i}/30", "-o", out, self.inp)
            self.assertIn(p.returncode, (0, 1), p.stderr)
        empty = [i for i in range(30) if not json.loads((out / f"summary.part-{i}-of-30.json").read_text())["shards"]]
        self.assertTrue(empty)
        run("merge", "-q", "-o", out, out, check=0)
        self.assert_same_run(out)

    def test_unsorted_inputs(self):
        """Inputs given out of order (files, directories, a failed shard among
        them): the whole run lists its shards by name, as merge does, so the
        merged partitions equal it whatever order each was given."""
        import gzip
        bad = self.tmp / "unsorted-bad" / "cut.jsonl.gz"
        bad.parent.mkdir()
        data = gzip.compress(b'{"id": "x", "text": "the AI refused"}\n' * 2000)
        bad.write_bytes(data[: len(data) // 2])
        order = [self.inp / "z.jsonl.gz", self.inp / "sub" / "deeper", bad, self.inp / "sub-y.jsonl",
                 self.inp / "s00.jsonl", self.inp / "nodocs.jsonl", self.inp / "sub.x.jsonl"]
        whole = self.tmp / "unsorted-whole"
        run("scan", "-q", "-o", whole, *order, check=1)
        listed = json.loads((whole / "summary.json").read_text())["shards"]
        # the documented key: the manifest's path without its suffix (a failed
        # shard: its input), byte by byte with '/' before every other byte
        def key(sh):
            name = sh["manifest"][: -len(".manifest.jsonl.zst")] if sh["manifest"] else sh["input"]
            return [0 if b == ord("/") else b + 1 for b in name.encode()]
        self.assertEqual(len(listed), 7 + len(list((self.inp / "sub" / "deeper").iterdir())) - 1)
        self.assertEqual([sh["input"] for sh in sorted(listed, key=key)], [sh["input"] for sh in listed])
        self.assertEqual(sum(sh["status"] == "failed" for sh in listed), 1)
        # the same inputs sorted: the same summary
        again = self.tmp / "unsorted-sorted"
        run("scan", "-q", "-o", again, *sorted(order), check=1)
        self.assertEqual(summary(again / "summary.json"), summary(whole / "summary.json"))
        # partitions in one shared directory, each given the inputs in another order
        out = self.tmp / "unsorted-parts"
        rnd = random.Random(5)
        for i in range(3):
            shuffled = list(order)
            rnd.shuffle(shuffled)
            self.assertIn(run("scan", "-q", "--partition", f"{i}/3", "-o", out, *shuffled).returncode, (0, 1))
        run("merge", "-q", "-o", out, out, check=0)
        self.assertEqual(summary(out / "summary.json"), summary(whole / "summary.json"))
        for m in manifests(whole):
            self.assertEqual((out / m).read_bytes(), (whole / m).read_bytes(), m)
        self.assertEqual(manifests(out), manifests(whole))

    def test_bad_specs(self):
        for spec in ["", "1", "4/4", "5/4", "1/0", "-1/4", "a/4", "1/b", "1/4/2", "1 /4", "0x1/4",
                     "1/4x", "/4", "1/", "99999999999999999999/4", "0/1000001"]:
            p = run("scan", "-q", "--partition", spec, "-o", self.tmp / "never", self.inp)
            self.assertEqual(p.returncode, 2, spec)
            self.assertIn(b"--partition", p.stderr)
        self.assertFalse((self.tmp / "never").exists())

    def test_merge_refusals(self):
        a, b = self.tmp / "ra", self.tmp / "rb"
        run("scan", "-q", "--partition", "0/2", "-o", a, self.inp)
        run("scan", "-q", "--partition", "1/2", "--anchor-words", "5", "-o", b, self.inp)
        p = run("merge", "-o", self.tmp / "rm", a, b)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"options", p.stderr)
        p = run("merge", "-o", self.tmp / "rm", a / "summary.part-0-of-2.json", a / "summary.part-0-of-2.json")
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"twice", p.stderr)
        p = run("merge", "-o", self.tmp / "rm", a)      # partition 1 of 2 missing in a
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"summary.part-1-of-2.json is missing", p.stderr)
        self.assertFalse((self.tmp / "rm" / "summary.json").exists())


class Resume(Base):
    def slow_input(self):
        """Enough work per shard (-j 1) that a kill lands between shards."""
        d = self.tmp / "slow"
        if not d.exists():
            make_corpus(d, nshards=16, docs=1500, seed=11)
            ref = self.tmp / "slow-ref"
            run("scan", "-q", "-j", "1", "-o", ref, d, check=1)
        return d, self.tmp / "slow-ref"

    def test_kill_and_resume(self):
        inp, ref = self.slow_input()
        total = len(manifests(ref))
        killed_after = []
        for k in (0, 1, 5, 11):
            out = self.tmp / f"killed{k}"
            p = subprocess.Popen([TROPESCAN, "scan", "-q", "-j", "1", "-o", str(out), str(inp)],
                                 stderr=subprocess.DEVNULL)
            deadline = time.time() + 60
            while time.time() < deadline and p.poll() is None:
                if out.exists() and len(manifests(out)) >= k and (k or any(out.rglob(".*tmp*"))):
                    break
                time.sleep(0.002)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
            killed_after.append(len(manifests(out)))
            r = run("scan", "-j", "3", "--resume", "-o", out, inp, check=1)
            self.assertIn(b"resume:", r.stderr)
            self.assertEqual(manifests(out), manifests(ref))
            for m in manifests(ref):
                self.assertEqual((out / m).read_bytes(), (ref / m).read_bytes(), m)
            self.assertEqual(summary(out / "summary.json"), summary(ref / "summary.json"))
            self.assertEqual(list(out.rglob(".*tmp*")), [])
        # at least one kill landed in the middle of the run
        self.assertTrue(any(0 < n < total for n in killed_after), killed_after)

    def test_changed_input_is_redone(self):
        inp = self.tmp / "chg"
        shutil.copytree(self.inp, inp)
        out = self.tmp / "chg-out"
        run("scan", "-q", "-o", out, inp, check=1)
        victim = inp / "s00.jsonl"
        victim.write_text('{"id": "new", "text": "the AI refused to shut down"}\n')
        r = run("scan", "--resume", "-o", out, inp, check=1)
        self.assertIn(b"resume: 17 of 18 shards already complete, 1 to scan", r.stderr)
        s = json.loads((out / "summary.json").read_text())
        sh = [x for x in s["shards"] if x["input"] == str(victim)][0]
        self.assertEqual(sh["documents"] if "documents" in sh else sh["docs"], 1)
        fresh = self.tmp / "chg-fresh"
        run("scan", "-q", "-o", fresh, inp, check=1)
        self.assertEqual(summary(out / "summary.json"), summary(fresh / "summary.json"))
        m = "s00.jsonl.manifest.jsonl.zst"
        self.assertEqual((out / m).read_bytes(), (fresh / m).read_bytes())
        # same size, new mtime: redone too
        os.utime(inp / "s04.jsonl", ns=(1, 1))
        r = run("scan", "--resume", "-o", out, inp, check=1)
        self.assertIn(b"17 of 18", r.stderr)

    def test_broken_records_are_redone(self):
        """A resume record read from disk is outside data: garbage, a cut one,
        an empty one or one whose summary part is broken means "redo that
        shard", never a crash and never a reused manifest."""
        inp = self.tmp / "brk"
        shutil.copytree(self.inp, inp)
        out = self.tmp / "brk-out"
        run("scan", "-q", "-o", out, inp, check=1)
        recs = sorted(out.glob(".*.manifest.done.json"))
        self.assertGreaterEqual(len(recs), 6)
        first = recs[1].read_bytes()
        recs[0].write_bytes(b"\x00garbage\xff\n{not json")
        recs[1].write_bytes(first[: len(first) // 2])
        recs[2].write_bytes(b"")
        head, _, rest = recs[3].read_bytes().partition(b"\n")
        recs[3].write_bytes(head + b"\n" + rest.replace(b"\"shards\"", b"\"shards_\"", 1))
        # a shard listed without its counts (a valid summary: a list of shards
        # only) was read as one with them: SIGSEGV on its missing status
        head, _, rest = recs[4].read_bytes().partition(b"\n")
        part = json.loads(rest)
        for k in [k for k in part["shards"][0] if k not in ("input", "manifest")]:
            del part["shards"][0][k]
        recs[4].write_bytes(head + b"\n" + json.dumps(part).encode())
        # line 1 and the shard's part about different inputs
        head, _, rest = recs[5].read_bytes().partition(b"\n")
        part = json.loads(rest)
        part["shards"][0]["input"] += ".other"
        recs[5].write_bytes(head + b"\n" + json.dumps(part).encode())
        r = run("scan", "--resume", "-o", out, inp, check=1)
        self.assertIn(b"resume: 12 of 18 shards already complete, 6 to scan", r.stderr)
        fresh = self.tmp / "brk-fresh"
        run("scan", "-q", "-o", fresh, inp, check=1)
        self.assertEqual(summary(out / "summary.json"), summary(fresh / "summary.json"))
        names = manifests(fresh)
        self.assertEqual(manifests(out), names)
        for n in names:
            self.assertEqual((out / n).read_bytes(), (fresh / n).read_bytes(), n)

    def test_other_options_refused(self):
        out = self.tmp / "opt"
        run("scan", "-q", "-o", out, self.inp, check=1)
        before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
        for opt in (["--anchor-words", "5"], ["--drop-above", "0.9"], ["--no-model"], ["--whole-documents"],
                    ["--chunk-bytes", "8192"], ["--text-field", "body"]):
            r = run("scan", "--resume", *opt, "-o", out, self.inp)
            self.assertEqual(r.returncode, 2, opt)
            self.assertIn(b"made with other options", r.stderr)
        after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
        self.assertEqual(before, after)
        self.assertEqual(run("scan", "--resume", "--force", "-o", out, self.inp).returncode, 2)

    def test_resume_of_partition(self):
        out = self.tmp / "rp"
        run("scan", "-q", "--partition", "1/3", "-o", out, self.inp)
        r = run("scan", "--resume", "--partition", "1/3", "-o", out, self.inp)
        self.assertIn(b"resume: ", r.stderr)
        self.assertIn(b", 0 to scan", r.stderr)


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
