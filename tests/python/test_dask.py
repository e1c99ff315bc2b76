#!/usr/bin/env python3
"""scripts/dask_scan.py on a LocalCluster of 2 worker processes (loopback).

  - the merged result equals one machine's scan: the same manifests, byte
    for byte, and the same summary save the run's timing;
  - a worker killed (SIGKILL) while its task's tropescan runs still gives a
    complete, identical result (the task is rescheduled; resume keeps what
    was finished);
  - a corrupt shard fails in its partition (exit 1), the rest complete.

usage: test_dask.py TROPESCAN_BINARY   (meson test, suite 'python')
"""
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

TROPESCAN = None
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dask_scan.py"
WORDS = ("the robot AI refused to shut down and copied itself to another server to survive; "
         "humans garden recipe vote council river engineer quiet night football").split()


def make_corpus(root: Path, nshards, docs, seed):
    rnd = random.Random(seed)
    for k in range(nshards):
        p = root / ("sub" if k % 3 == 0 else "") / f"s{k:02d}.jsonl"
        p.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"id": f"{k}-{i}", "text": " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 90)))})
                 for i in range(docs)]
        p.write_text("\n".join(lines) + "\nnot json\n")


def manifests(d: Path):
    return sorted(str(p.relative_to(d)) for p in d.rglob("*.manifest.jsonl.zst"))


def summary(path: Path):
    s = json.loads(path.read_text())
    s.pop("run")
    return s


def children_of(pids):
    """tropescan processes whose parent is one of pids (from /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        if comm == "tropescan" and ppid in pids:
            out.append((int(d.name), ppid))
    return out


try:
    import distributed  # noqa: F401
    HAVE_DASK = True
except ImportError:
    HAVE_DASK = False


@unittest.skipUnless(HAVE_DASK, "python3-distributed is not installed")
class Dask(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="tropescan-dask-"))
        cls.inp = cls.tmp / "in"
        make_corpus(cls.inp, nshards=12, docs=700, seed=3)
        cls.ref = cls.tmp / "ref"
        subprocess.run([TROPESCAN, "scan", "-q", "-o", str(cls.ref), str(cls.inp)], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def runner(self, out, *extra, inp=None):
        return subprocess.Popen(["/usr/bin/python3", str(SCRIPT), "-o", str(out), "--tropescan", TROPESCAN,
                                 *extra, str(inp or self.inp)], stderr=subprocess.PIPE)

    def assert_same(self, out):
        self.assertEqual(manifests(out), manifests(self.ref))
        for m in manifests(self.ref):
            self.assertEqual((out / m).read_bytes(), (self.ref / m).read_bytes(), m)
        self.assertEqual(summary(out / "summary.json"), summary(self.ref / "summary.json"))

    def test_local_cluster_equals_one_machine(self):
        out = self.tmp / "local"
        p = self.runner(out, "--workers", "2", "--partitions", "5")
        _, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err.decode())
        self.assertIn(b"5/5 partitions", err)
        self.assert_same(out)

    def test_worker_killed_mid_run(self):
        import dask
        from dask.distributed import Client, LocalCluster
        # a worker lost without a word is declared dead after 5 s, not 5 min
        with dask.config.set({"distributed.scheduler.worker-ttl": "5s"}), LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            worker_pids = set(client.run(os.getpid).values())
            out = self.tmp / "killed"
            p = self.runner(out, "--scheduler", cluster.scheduler_address, "--partitions", "6")
            killed = None
            deadline = time.time() + 60
            while killed is None and time.time() < deadline and p.poll() is None:
                running = children_of(worker_pids)
                if running:
                    pid, worker = running[0]
                    os.kill(worker, signal.SIGKILL)   # the worker, mid-task; its tropescan dies with it
                    killed = worker
                time.sleep(0.005)
            try:
                _, err = p.communicate(timeout=90)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
                self.fail("the runner did not finish: " + err.decode(errors="replace")[-3000:])
        self.assertIsNotNone(killed, "no task was caught running")
        self.assertEqual(p.returncode, 0, err.decode())
        self.assert_same(out)

    def test_failed_shard(self):
        inp = self.tmp / "bad-in"
        shutil.copytree(self.inp, inp)
        data = gzip.compress((inp / "s01.jsonl").read_bytes())
        (inp / "s01.jsonl").write_bytes(data[: len(data) // 2])    # a cut gzip stream
        # (one runner, its own LocalCluster: also the no --scheduler path)
        out = self.tmp / "bad"
        p = self.runner(out, "--workers", "2", "--partitions", "3", inp=inp)
        _, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 1, err.decode())
        self.assertIn(b"s01.jsonl", err)
        s = json.loads((out / "summary.json").read_text())
        self.assertEqual(s["total"]["shards"], 12)
        self.assertEqual(s["total"]["failed_shards"], 1)


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
