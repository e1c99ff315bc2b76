#!/usr/bin/env python3
"""scripts/dask_scan.py on a LocalCluster of 2 worker processes (loopback).

  - the merged result equals one machine's scan: the same manifests, byte
    for byte, and the same summary save the run's timing;
  - a worker killed (SIGKILL) while its task's tropescan runs still gives a
    complete, identical result (the task is rescheduled; resume keeps what
    was finished);
  - a corrupt shard fails in its partition (exit 1), the rest complete;
  - a cluster left with no worker ends the run (exit 3), not a wait forever.

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
    """(tropescan pid, parent pid) for the tropescan processes whose parent
    is one of pids (from /proc/PID/task/*/children: a few files, not all
    of /proc: this loop shares the GIL with the test's scheduler)."""
    out = []
    for ppid in pids:
        for kids in Path(f"/proc/{ppid}/task").glob("*/children"):
            try:
                for pid in kids.read_text().split():
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "tropescan":
                        out.append((int(pid), ppid))
            except OSError:
                continue
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
        # faulthandler: a runner stopped by communicate() below (SIGABRT) says where it was
        env = dict(os.environ, PYTHONFAULTHANDLER="1")
        return subprocess.Popen(["/usr/bin/python3", str(SCRIPT), "-o", str(out), "--tropescan", TROPESCAN,
                                 *extra, str(inp or self.inp)], stderr=subprocess.PIPE, env=env)

    def communicate(self, p, timeout):
        """The runner's stderr, or a failure (with its stacks) past timeout."""
        try:
            return p.communicate(timeout=timeout)[1]
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGABRT)
            try:
                err = p.communicate(timeout=10)[1]
            except subprocess.TimeoutExpired:
                p.kill()
                err = p.communicate()[1]
            self.fail(f"the runner did not finish in {timeout} s: " + err.decode(errors="replace")[-6000:])

    def assert_same(self, out):
        self.assertEqual(manifests(out), manifests(self.ref))
        for m in manifests(self.ref):
            self.assertEqual((out / m).read_bytes(), (self.ref / m).read_bytes(), m)
        self.assertEqual(summary(out / "summary.json"), summary(self.ref / "summary.json"))

    def test_local_cluster_equals_one_machine(self):
        out = self.tmp / "local"
        p = self.runner(out, "--workers", "2", "--partitions", "5")
        err = self.communicate(p, 240)
        self.assertEqual(p.returncode, 0, err.decode())
        self.assertIn(b"5/5 partitions", err)
        self.assert_same(out)

    def test_worker_killed_mid_run(self):
        from dask.distributed import Client, LocalCluster
        # No short worker-ttl here: a SIGKILLed worker is seen at once (its
        # connection closes, its nanny reports it), while a ttl of a few
        # seconds also removes a live worker that a loaded machine kept from
        # heartbeating, and a worker removed so is closed with its nanny: gone
        # for good, and with both gone the run waits forever.
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            worker_pids = set(client.run(os.getpid).values())
            out = self.tmp / "killed"
            # --task-timeout: a task stuck for any reason is killed and retried,
            # never waited for (a partition here takes seconds)
            p = self.runner(out, "--scheduler", cluster.scheduler_address, "--partitions", "6",
                            "--task-timeout", "120", "--retries", "3")
            killed = None
            deadline = time.time() + 120
            while killed is None and time.time() < deadline and p.poll() is None:
                running = children_of(worker_pids)
                if running:
                    _, worker = running[0]
                    os.kill(worker, signal.SIGKILL)   # the worker, mid-task; its tropescan dies with it
                    killed = worker
                    break
                time.sleep(0.01)
            err = self.communicate(p, 300)
        self.assertIsNotNone(killed, "no task was caught running")
        self.assertEqual(p.returncode, 0, err.decode())
        self.assertIn(b"6/6 partitions", err)
        self.assert_same(out)

    def test_no_worker_left(self):
        """A cluster with no worker (all lost) ends the run, exit 3, instead
        of a wait without end."""
        from dask.distributed import LocalCluster
        with LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
            out = self.tmp / "noworker"
            p = self.runner(out, "--scheduler", cluster.scheduler_address, "--partitions", "2",
                            "--no-worker-timeout", "3")
            err = self.communicate(p, 120)
        self.assertEqual(p.returncode, 3, err.decode())
        self.assertIn(b"no worker for 3 s", err)
        self.assertIn(b"2 partition(s) not completed", err)
        self.assertFalse((out / "summary.json").exists())

    def test_failed_shard(self):
        inp = self.tmp / "bad-in"
        shutil.copytree(self.inp, inp)
        data = gzip.compress((inp / "s01.jsonl").read_bytes())
        (inp / "s01.jsonl").write_bytes(data[: len(data) // 2])    # a cut gzip stream
        # (one runner, its own LocalCluster: also the no --scheduler path)
        out = self.tmp / "bad"
        p = self.runner(out, "--workers", "2", "--partitions", "3", inp=inp)
        err = self.communicate(p, 240)
        self.assertEqual(p.returncode, 1, err.decode())
        self.assertIn(b"s01.jsonl", err)
        s = json.loads((out / "summary.json").read_text())
        self.assertEqual(s["total"]["shards"], 12)
        self.assertEqual(s["total"]["failed_shards"], 1)


if __name__ == "__main__":
    TROPESCAN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
