#!/usr/bin/env python3
"""Crash safety of `tropescan scan`: a run killed at any moment leaves no
incomplete file under a final name, and a rerun gives byte-identical outputs.

usage: test_crash.py TROPESCAN_BINARY   (suite 'cli')

A multi-shard input of a few hundred MB (zstd, gzip and plain; generated here)
is scanned once uninterrupted for reference. Then runs are killed with SIGKILL
at several moments: while nothing is written yet, while the first temporary
outputs grow, once some manifests are final, and late, near the end of the
reference's time. After each kill:
  - every file under a final name (*.manifest.jsonl.zst, summary.json) is
    complete: a manifest decompresses fully (frame checksums verified) and has
    one line per input line; summary.json, if present, is the reference's;
  - a rerun with --force exits 0, and its manifests are byte-identical to the
    reference's, as is its summary except the `run` object.
SIGTERM and SIGINT: the run dies by the signal and removes its temporary files.

Kill moments are found by watching the output directory, with a time fallback;
nothing here asserts a timing, only what must hold at any moment.
"""
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

TROPESCAN = None
TIMEOUT = 300
FINAL_SUFFIX = ".manifest.jsonl.zst"
# A shard's resume record (scan --resume): an output under a hidden name, not a temporary.
RECORD_SUFFIX = ".manifest.done.json"


def zstd_file(src: Path, dst: Path):
    subprocess.run(["zstd", "-q", "-f", "-1", "-T2", str(src), "-o", str(dst)], check=True)


def manifest_lines(path: Path) -> int:
    """Decompresses a whole manifest (zstd checks each frame's checksum) and
    parses every line; @return the number of lines."""
    p = subprocess.run(["zstd", "-dc", str(path)], capture_output=True)
    if p.returncode != 0:
        raise AssertionError(f"{path}: incomplete or corrupt: {p.stderr.decode()}")
    n = 0
    for line in p.stdout.splitlines():
        json.loads(line)
        n += 1
    return n


def without_run(summary: dict) -> dict:
    s = dict(summary)
    s.pop("run", None)
    return s


class CrashTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="tropescan-crash-"))
        lex = cls.tmp / "lex"
        lex.mkdir()
        (lex / "ai_entity.txt").write_text("robot(s|)\nartificial intelligence\n")
        (lex / "shutdown_resistance.txt").write_text("refused to shut down\n")
        (lex / "deception.txt").write_text("lied to (its|their) creators\n")
        # A small lexicon and no model: a run spends its time reading, splitting,
        # writing and renaming (what is tested), not compiling the default lexicon.
        cls.opts = ["-q", "-j", "2", "--no-model", "--lexicon", str(lex)]
        cls.inp = cls.tmp / "in"
        cls.inp.mkdir()
        cls.lines = cls.make_input()
        cls.ref = cls.tmp / "ref"
        t0 = time.monotonic()
        p = subprocess.run([TROPESCAN, "scan", *cls.opts, "-o", str(cls.ref), str(cls.inp)],
                           capture_output=True, timeout=TIMEOUT)
        cls.ref_seconds = time.monotonic() - t0
        if p.returncode != 0:
            raise RuntimeError(f"reference run failed ({p.returncode}): {p.stderr.decode()}")
        cls.ref_summary = without_run(json.loads((cls.ref / "summary.json").read_text()))
        cls.ref_manifests = {p.name: p.read_bytes() for p in cls.ref.glob("*" + FINAL_SUFFIX)}
        print(f"\nreference run: {cls.ref_seconds:.2f} s for "
              f"{sum(cls.lines.values())} lines in {len(cls.lines)} shards", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def make_input(cls):
        """Six shards, ~50 MB each decompressed: zstd, gzip and plain.
        @return {manifest name: lines}."""
        words = ("the robot walked into a quiet city and refused to shut down while an engineer planted "
                 "tomatoes near the river artificial intelligence lied to its creators council vote "
                 "football match recipe garden night").split()
        pool = []
        for i in range(1000):
            n = 20 + (i * 37) % 180
            pool.append(" ".join(words[(i * 7 + k * 13 + k * k) % len(words)] for k in range(n)))
        counts = {}
        for s in range(6):
            rows = []
            size = 0
            i = 0
            while size < 50 << 20:
                line = f'{{"id":"s{s}-{i}","text":"{pool[(i * 7919 + s) % len(pool)]}"}}\n'
                rows.append(line)
                size += len(line)
                i += 1
            data = "".join(rows).encode()
            plain = cls.inp / f"shard-{s}.jsonl"
            plain.write_bytes(data)
            if s % 3 == 0:
                zstd_file(plain, cls.inp / f"shard-{s}.jsonl.zst")
                plain.unlink()
                name = f"shard-{s}.jsonl.zst"
            elif s % 3 == 1:
                with gzip.open(cls.inp / f"shard-{s}.jsonl.gz", "wb", compresslevel=1) as f:
                    f.write(data)
                plain.unlink()
                name = f"shard-{s}.jsonl.gz"
            else:
                name = f"shard-{s}.jsonl"
            counts[name + FINAL_SUFFIX] = i
        return counts

    def check_final_names(self, out: Path):
        """Everything under a final name is complete; @return the names seen."""
        seen = []
        for p in sorted(out.iterdir()):
            if p.name.startswith("."):
                continue  # a temporary: SIGKILL leaves it, and it has a hidden name
            seen.append(p.name)
            if p.name.endswith(FINAL_SUFFIX):
                self.assertIn(p.name, self.lines, p)
                self.assertEqual(manifest_lines(p), self.lines[p.name], p)
                self.assertEqual(p.read_bytes(), self.ref_manifests[p.name], p)
            elif p.name == "summary.json":
                self.assertEqual(without_run(json.loads(p.read_text())), self.ref_summary)
            else:
                self.fail(f"unexpected file {p}")
        return seen

    def rerun_matches_reference(self, out: Path):
        p = subprocess.run([TROPESCAN, "scan", *self.opts, "--force", "-o", str(out), str(self.inp)],
                           capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        got = {p.name: p.read_bytes() for p in out.glob("*" + FINAL_SUFFIX)}
        self.assertEqual(sorted(got), sorted(self.ref_manifests))
        for name, data in got.items():
            self.assertEqual(data, self.ref_manifests[name], f"{name} differs after the rerun")
        self.assertEqual(without_run(json.loads((out / "summary.json").read_text())), self.ref_summary)

    def start(self, out: Path):
        return subprocess.Popen([TROPESCAN, "scan", *self.opts, "-o", str(out), str(self.inp)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_for(self, proc, out: Path, moment: str, fallback: float):
        """Waits until `moment` in the run (or the fallback time); @return
        False if the run ended first."""
        t0 = time.monotonic()
        while proc.poll() is None:
            names = [p.name for p in out.iterdir()] if out.exists() else []
            hidden = [n for n in names if n.startswith(".") and not n.endswith(RECORD_SUFFIX)]
            final = [n for n in names if n.endswith(FINAL_SUFFIX)]
            if moment == "start":
                return True
            if moment == "writing" and hidden and not final:
                if any((out / n).stat().st_size > 0 for n in hidden if (out / n).exists()):
                    return True
            if moment == "some-final" and final:
                return True
            if time.monotonic() - t0 >= fallback:  # "late", and the others' fallback
                return True
            time.sleep(0.002)
        return False

    def test_sigkill_at_several_moments(self):
        moments = [("start", 0), ("writing", self.ref_seconds * 0.5),
                   ("some-final", self.ref_seconds * 0.9), ("late", self.ref_seconds * 0.8)]
        killed_with_final = 0
        for moment, fallback in moments:
            with self.subTest(moment=moment):
                out = self.tmp / f"kill-{moment}"
                proc = self.start(out)
                alive = self.wait_for(proc, out, moment, fallback)
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=TIMEOUT)
                if not alive:
                    print(f"note: the run ended before the '{moment}' moment", file=sys.stderr)
                out.mkdir(exist_ok=True)
                seen = self.check_final_names(out)
                killed_with_final += any(n.endswith(FINAL_SUFFIX) for n in seen) and "summary.json" not in seen
                print(f"killed at '{moment}': final names present: {seen}", file=sys.stderr)
                self.rerun_matches_reference(out)
                # The rerun removed what the killed run left under hidden names.
                left = sorted(p.name for p in out.iterdir() if p.name.startswith(".") and not p.name.endswith(RECORD_SUFFIX))
                self.assertEqual(left, [], f"temporaries left after the rerun (killed at '{moment}')")
        # Unless this machine is far faster than the reference run suggests,
        # at least one kill landed between the first rename and the summary.
        if killed_with_final == 0:
            print("note: no kill landed while some manifests were final", file=sys.stderr)

    def test_rerun_removes_only_stale_temporaries(self):
        """A rerun removes temporaries of this host's dead processes only:
        never another host's (a shared file system) or a live process's."""
        out = self.tmp / "stale"
        out.mkdir()
        host = socket.gethostname().replace("/", "_")
        dead = subprocess.Popen(["true"])
        dead.wait()  # its pid is free now (reuse within the test is unlikely)
        live = os.getpid()
        name = sorted(self.ref_manifests)[0]
        files = {
            f".{name}.tmp.{host}.{dead.pid}": False,          # stale: removed
            f".summary.json.tmp.{host}.{dead.pid}": False,    # stale: removed
            f".{name}.tmp.{host}.{live}": True,               # a live process: kept
            f".{name}.tmp.other-host.{dead.pid}": True,       # another host: kept
            ".notes.tmp.x": True,                             # not ours: kept
            f".{name}.tmp.{host}.12x": True,                  # malformed pid: kept
            f".{name}.tmp.{host}.": True,                     # no pid: kept
            f".{name}.tmp.{host}.-{dead.pid}": True,          # negative pid: kept
            f".x.jsonl.tmp.{host}.{dead.pid}": True,          # not an output's name: kept
        }
        for f in files:
            (out / f).write_bytes(b"partial")
        self.rerun_matches_reference(out)
        for f, kept in files.items():
            self.assertEqual((out / f).exists(), kept, f)

    def test_sigterm_and_sigint_remove_temporaries(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name):
                out = self.tmp / f"sig-{sig.name}"
                proc = self.start(out)
                alive = self.wait_for(proc, out, "writing", self.ref_seconds * 0.5)
                proc.send_signal(sig)
                _, err = proc.communicate(timeout=TIMEOUT)
                if not alive:
                    self.skipTest(f"the run ended before {sig.name} could be sent")
                # It dies by the signal (the handler re-raises it), leaving no
                # temporary file and nothing incomplete under a final name.
                self.assertEqual(proc.returncode, -sig, err.decode())
                left = sorted(p.name for p in out.iterdir() if p.name.startswith(".") and not p.name.endswith(RECORD_SUFFIX))
                self.assertEqual(left, [], f"temporaries left after {sig.name}")
                self.check_final_names(out)
                self.rerun_matches_reference(out)


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
