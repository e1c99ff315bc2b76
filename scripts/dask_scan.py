#!/usr/bin/python3
"""Scan a corpus on a Dask cluster: one task per partition, merged at the end.

usage: /usr/bin/python3 scripts/dask_scan.py -o OUTDIR [--partitions N]
           [--scheduler ADDRESS | --workers K] [--tropescan PATH] [--retries R]
           [--task-timeout S] [--no-worker-timeout S] INPUT... [-- SCAN_OPTION...]

Each task runs `tropescan scan --resume --partition I/N -o OUTDIR INPUT...`
(with the scan options after --) on a worker; when every partition is done,
`tropescan merge` writes OUTDIR/summary.json, the same as one machine's
scan of the inputs (save the run's timing), beside the same manifests.

OUTDIR and the inputs must be at the same paths on every worker (a shared
file system), and tropescan installed there (or --tropescan PATH). With
--scheduler the tasks go to that Dask scheduler (e.g. tcp://10.0.0.5:8786);
without it a LocalCluster of K worker processes is started on this machine.

Faults:
  - A worker that dies (killed, out of memory, node lost) takes its task
    with it; the scheduler gives the task to another worker, and --resume
    keeps the shards the dead one finished (a shard is redone only if its
    manifest and record were not both written). The tropescan process of a
    dead worker is killed with it (PR_SET_PDEATHSIG), so no orphan keeps
    writing. A task that fails otherwise (exit 3: cannot write, fatal), or
    whose scan runs past --task-timeout (then killed), is retried up to
    --retries times.
  - A cluster left with no worker for --no-worker-timeout seconds (all
    lost, none coming back) ends the run (exit 3) instead of waiting
    forever; rerunning the command finishes it (completed shards are kept).
  - A shard that cannot be read fails in its partition's summary (scan's
    exit 1): the other shards and partitions complete, and this script lists
    the failed shards and exits 1.
  Progress: one line per finished partition on stderr.

Why the command and not the Python binding: a task is a whole `tropescan
scan` process, so the run is exactly the CLI's (same threads, the same
atomic outputs, stale-temporary cleanup and resume records) and a crash or
a hang in native code costs one process, never the Dask worker's memory or
its other tasks; a process is also what kill and retry act on cleanly. The
binding is for notebooks (scoring texts, reading manifests).

Exit codes: 0 all shards scanned; 1 some shard failed (the rest merged);
2 usage error; 3 a partition could not be completed, or the merge failed.
"""
import argparse
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time


def _die_with_parent(prctl, parent):
    """In the child, before exec: SIGKILL when the worker process dies.
    (prctl is resolved before the fork: between fork and exec, in what is a
    threaded process, the child makes only this foreign call.)"""
    if prctl is not None:
        prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG
    if os.getppid() != parent:   # the worker died before prctl took effect
        os._exit(1)


def scan_partition(tropescan, outdir, i, n, inputs, scan_opts, task_timeout=None):
    """One task: scan partition i of n. @return (i, exit code, stderr text).

    A tropescan that runs past task_timeout (seconds; None: no limit) is
    killed and the task fails, so that Dask retries it (--resume keeps the
    shards it finished)."""
    cmd = [tropescan, "scan", "-q", "--resume", "--partition", f"{i}/{n}", "-o", outdir, *scan_opts, *inputs]
    parent = os.getpid()
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=task_timeout,
                           preexec_fn=lambda: _die_with_parent(prctl, parent))
    except subprocess.TimeoutExpired:   # subprocess.run has killed it
        raise RuntimeError(f"partition {i}/{n}: tropescan ran past --task-timeout ({task_timeout} s): killed")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode not in (0, 1):
        # exit 2 (usage) would fail the same way anywhere: not worth a retry,
        # but the scheduler cannot tell; exit 3 may be a full disk.
        raise RuntimeError(f"partition {i}/{n}: tropescan exit {p.returncode}: {err.strip()}")
    return i, p.returncode, err


def parse_args(argv):
    if "--" in argv:
        k = argv.index("--")
        argv, scan_opts = argv[:k], argv[k + 1:]
    else:
        scan_opts = []
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", required=True, help="output directory (shared by all workers)")
    ap.add_argument("--partitions", type=int, default=0,
                    help="number of partitions (default: 4 per worker)")
    ap.add_argument("--scheduler", help="a Dask scheduler's address (default: start a LocalCluster)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="LocalCluster worker processes (default: the cores)")
    ap.add_argument("--threads", type=int, default=1, help="scan threads per task (-j; default 1)")
    ap.add_argument("--tropescan", default=shutil.which("tropescan") or "tropescan",
                    help="the tropescan command on the workers")
    ap.add_argument("--retries", type=int, default=2, help="retries of a failed task (default 2)")
    ap.add_argument("--task-timeout", type=float, default=0,
                    help="seconds a partition's scan may take before it is killed and retried "
                         "(default 0: no limit)")
    ap.add_argument("--no-worker-timeout", type=float, default=300,
                    help="give up (exit 3) when the cluster has had no worker for this many seconds "
                         "(default 300; 0: wait forever)")
    ap.add_argument("inputs", nargs="+", help="files and directories, as for tropescan scan")
    a = ap.parse_args(argv)
    a.scan_opts = scan_opts
    for bad in ("-o", "--output", "--partition", "--resume", "-f", "--force", "-j", "--threads"):
        if any(o == bad or o.startswith(bad + "=") for o in scan_opts):
            ap.error(f"{bad} after --: this script sets it")
    if (a.partitions < 0 or a.partitions > 1000000 or a.workers < 1 or a.threads < 1 or a.retries < 0
            or not a.task_timeout >= 0 or not a.no_worker_timeout >= 0):
        ap.error("--partitions, --workers, --threads, --retries and the timeouts must be positive")
    return a


def run(a):
    from dask.distributed import Client, LocalCluster, wait

    cluster = None
    if a.scheduler:
        client = Client(a.scheduler)
    else:
        cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    try:
        nworkers = max(1, len(client.scheduler_info()["workers"]))
        n = a.partitions or 4 * nworkers
        outdir = os.path.abspath(a.output)
        tropescan = os.path.abspath(a.tropescan) if os.sep in a.tropescan else a.tropescan
        inputs = [os.path.abspath(x) if x != "-" else x for x in a.inputs]
        if "-" in inputs:
            print("dask_scan: standard input cannot be split over machines", file=sys.stderr)
            return 2
        opts = ["-j", str(a.threads), *a.scan_opts]
        t0 = time.monotonic()
        futures = [client.submit(scan_partition, tropescan, outdir, i, n, inputs, opts, a.task_timeout or None,
                                 key=f"tropescan-partition-{i}-of-{n}-{os.getpid()}-{t0}", retries=a.retries,
                                 pure=False)
                   for i in range(n)]
        done, failed_parts, status = 0, [], 0
        pending = set(futures)
        no_worker_since = None
        while pending:
            try:
                finished, pending = wait(pending, timeout=2, return_when="FIRST_COMPLETED")
            except TimeoutError:
                finished = ()
            if not finished:
                # A cluster with no worker left (all lost, none to come) would
                # keep us here forever: give up after --no-worker-timeout.
                if a.no_worker_timeout and not client.scheduler_info()["workers"]:
                    no_worker_since = no_worker_since or time.monotonic()
                    if time.monotonic() - no_worker_since > a.no_worker_timeout:
                        for fut in pending:
                            failed_parts.append(f"{fut.key}: no worker for {a.no_worker_timeout:g} s")
                        client.cancel(list(pending))
                        break
                else:
                    no_worker_since = None
                continue
            for fut in finished:
                try:
                    i, rc, err = fut.result()
                except Exception as e:   # retries exhausted, or the workers kept dying
                    failed_parts.append(str(e))
                    done += 1
                    print(f"dask_scan: {done}/{n} partitions ({e})", file=sys.stderr, flush=True)
                    continue
                done += 1
                note = " (some shard failed)" if rc == 1 else ""
                print(f"dask_scan: {done}/{n} partitions, {time.monotonic() - t0:.1f} s{note}",
                      file=sys.stderr, flush=True)
                if rc == 1:
                    status = 1
                    for line in err.splitlines():
                        print(f"dask_scan: partition {i}: {line}", file=sys.stderr)
        if failed_parts:
            for e in failed_parts:
                print(f"dask_scan: {e}", file=sys.stderr)
            print(f"dask_scan: {len(failed_parts)} partition(s) not completed: rerun this command to finish "
                  "them (completed shards are kept)", file=sys.stderr)
            return 3
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    p = subprocess.run([tropescan, "merge", "-q", "-f", "-o", outdir, outdir], capture_output=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
        return 3
    print(f"dask_scan: merged {n} partitions: {outdir}/summary.json", file=sys.stderr)
    return status


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
