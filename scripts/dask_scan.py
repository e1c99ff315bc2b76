#!/usr/bin/python3
"""Scan a corpus on a Dask cluster: one task per partition, merged at the end.

usage: /usr/bin/python3 scripts/dask_scan.py -o OUTDIR [--partitions N]
           [--scheduler ADDRESS | --workers K] [--tropescan PATH] [--retries R]
           INPUT... [-- SCAN_OPTION...]

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
    writing. A task that fails otherwise (exit 3: cannot write, fatal) is
    retried up to --retries times.
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


def _die_with_parent():
    """In the child, before exec: SIGKILL when the worker process dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG
    except OSError:
        pass


def scan_partition(tropescan, outdir, i, n, inputs, scan_opts):
    """One task: scan partition i of n. @return (i, exit code, stderr text)."""
    cmd = [tropescan, "scan", "-q", "--resume", "--partition", f"{i}/{n}", "-o", outdir, *scan_opts, *inputs]
    p = subprocess.run(cmd, capture_output=True, preexec_fn=_die_with_parent)
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
    ap.add_argument("inputs", nargs="+", help="files and directories, as for tropescan scan")
    a = ap.parse_args(argv)
    a.scan_opts = scan_opts
    for bad in ("-o", "--output", "--partition", "--resume", "-f", "--force", "-j", "--threads"):
        if any(o == bad or o.startswith(bad + "=") for o in scan_opts):
            ap.error(f"{bad} after --: this script sets it")
    if a.partitions < 0 or a.partitions > 1000000 or a.workers < 1 or a.threads < 1 or a.retries < 0:
        ap.error("--partitions, --workers, --threads and --retries must be positive")
    return a


def run(a):
    from dask.distributed import Client, LocalCluster, as_completed

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
        futures = [client.submit(scan_partition, tropescan, outdir, i, n, inputs, opts,
                                 key=f"tropescan-partition-{i}-of-{n}-{os.getpid()}-{t0}", retries=a.retries,
                                 pure=False)
                   for i in range(n)]
        done, failed_parts, status = 0, [], 0
        for fut in as_completed(futures):
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
