#!/usr/bin/python3
"""Side-by-side timing for bench/run.sh (stdlib only).

Every command runs once to warm up (and to check that it works), then all
commands run in rounds, interleaved and with the starting command rotated from
round to round, so that a noisy neighbour or a thermal drift lands on all of
them alike. Throughput is always MB/s (10^6 bytes) of *decompressed* input, so
`cat` of compressed shards and a scanner can sit in one table. Peak RSS comes
from GNU time (%M, the largest process of the command).

Exit status: 0 when every command ran and exited as expected, 1 otherwise.
Missing targets are reported, never turned into a failure: the benchmark is
not a test.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time

FAILED = []


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()


class Cmd:
    def __init__(self, key, label, cmd, nbytes, inset, threads, ok_codes=(0,), rss=False,
                 ref=None, group="main"):
        self.key, self.label, self.cmd = key, label, cmd
        self.nbytes, self.inset, self.threads = nbytes, inset, threads
        self.ok_codes, self.want_rss, self.ref, self.group = ok_codes, rss, ref, group
        self.times, self.rss, self.out = [], [], ""


def run_once(c, tmp):
    rssf = os.path.join(tmp, "rss.txt")
    argv = ["/usr/bin/time", "-f", "%M", "-o", rssf, "bash", "-o", "pipefail", "-c", c.cmd]
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode not in c.ok_codes:
        msg = p.stderr.decode(errors="replace")[-2000:]
        FAILED.append(c.key)
        print(f"bench: FAILED ({p.returncode}): {c.label}\n  {c.cmd}\n{msg}", file=sys.stderr)
        return None
    try:
        with open(rssf) as f:
            rss_kb = int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        rss_kb = None
    c.out = p.stdout.decode(errors="replace")
    return dt, rss_kb


def summarise(c):
    if not c.times:
        return None
    med = statistics.median(c.times)
    mbs = [c.nbytes / t / 1e6 for t in c.times]
    return {
        "median_s": med,
        "mb_s": c.nbytes / med / 1e6,
        "mb_s_min": min(mbs), "mb_s_max": max(mbs),
        "spread_pct": 100.0 * (max(c.times) - min(c.times)) / med,
        "mb_s_per_thread": c.nbytes / med / 1e6 / c.threads,
        "peak_rss_mb": (max(r for r in c.rss if r is not None) / 1024.0)
        if any(r is not None for r in c.rss) else None,
    }


def machine_info(root):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    commit = sh(f"git -C {shlex.quote(root)} rev-parse --short HEAD 2>/dev/null")
    dirty = sh(f"git -C {shlex.quote(root)} status --porcelain --untracked-files=no 2>/dev/null")
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "mem_total": mem,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + ("+dirty" if dirty else ""),
        "versions": {
            "zstd": sh("zstd --version 2>&1 | head -1"),
            "gzip": sh("gzip --version 2>&1 | head -1"),
            "igzip": sh("igzip --version 2>&1 | head -1"),
            "rg": sh("rg --version 2>&1 | head -1"),
            "grep": sh("grep --version 2>&1 | head -1"),
            "fasttext": sh("dpkg-query -W -f='${Version}' fasttext 2>/dev/null"),
        },
    }


def fmt(x, nd=0):
    return "-" if x is None else f"{x:.{nd}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="corpus dir (gen_corpus.py output + big/)")
    ap.add_argument("--results", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--tropescan", help="the tropescan binary (omitted: reference tools only)")
    ap.add_argument("--patterns", help="literal phrases, one a line (rg/grep)")
    ap.add_argument("--ft-model", help="fastText model (.bin)")
    ap.add_argument("--ts-args", default="", help="extra arguments for tropescan scan")
    ap.add_argument("--root", default=".")
    ap.add_argument("--command-line", default="")
    ap.add_argument("--tiny", action="store_true", help="figures only prove the tools run")
    ap.add_argument("--ref-tropescan", help="another tropescan binary (e.g. a build of main) timed "
                    "side by side with --tropescan: rows 'reference tropescan ...'")
    ap.add_argument("--gate", action="store_true", help="also time tropescan scan -j N --gate")
    ap.add_argument("--only", help="comma-separated command keys to time (e.g. zstd1,zstdN,ts1,tsN)")
    args = ap.parse_args()

    # Before the rounds: the commit and versions of what is being measured.
    machine = machine_info(args.root)
    with open(os.path.join(args.data, "corpus.json")) as f:
        corpus = json.load(f)
    zst = [x for x in corpus["files"] if x["kind"] == "zst"]
    gz = [x for x in corpus["files"] if x["kind"] == "gz"]
    D = sum(x["bytes"] for x in zst)
    N = args.threads
    q = shlex.quote
    zfiles = " ".join(q(x["path"]) for x in zst)
    zlist = "printf '%s\\n' " + zfiles
    big = os.path.join(args.data, "big", "single.jsonl.zst")
    tmp = os.path.join(args.data, "tmp")
    os.makedirs(tmp, exist_ok=True)
    # The slow tools (GNU grep, fastText) read only the first min(N, shards)
    # shards, one process per shard, so that they use every core and a round
    # stays short; their MB/s is of that subset.
    sub = zst[:max(1, min(N, len(zst)))]
    S = sum(x["bytes"] for x in sub)
    sfiles = " ".join(q(x["path"]) for x in sub)

    cmds = []
    A = cmds.append
    A(Cmd("cat", "cat (read limit)", f"cat {zfiles} > /dev/null", D, "zst shards", 1))
    A(Cmd("zstd1", "zstd -dc, 1 thread", f"zstd -dcq {zfiles} > /dev/null", D, "zst shards", 1))
    A(Cmd("zstdN", f"zstd -dc, {N} at a time", f"{zlist} | xargs -P {N} -n 1 zstd -dcq > /dev/null",
          D, "zst shards", N))
    if gz:
        gzp = q(gz[0]["path"])
        G = gz[0]["bytes"]
        if os.path.exists("/usr/bin/igzip"):
            A(Cmd("igzip", "igzip -dc (ISA-L)", f"igzip -dc {gzp} > /dev/null", G, "gzip shard", 1,
                  group="gzip"))
        A(Cmd("gzip", "gzip -dc", f"gzip -dc {gzp} > /dev/null", G, "gzip shard", 1, group="gzip"))
    p = q(args.patterns or "")
    if args.patterns and shutil.which("rg"):
        A(Cmd("rg", f"rg -z -i -c -F -f (-j{N})", f"rg -j {N} -z -i -c -F -f {p} {zfiles}", D,
              "zst shards", N, ok_codes=(0, 1)))
    if args.patterns:
        # grep -c exits 1 when a shard has no matching line; that is not a failure.
        A(Cmd("grep", f"zstd -dc | grep -c -i -F -f ({len(sub)} procs)",
              f"printf '%s\\n' {sfiles} | xargs -P {N} -I{{}} bash -o pipefail -c "
              f"\"zstd -dcq {{}} | LC_ALL=C grep -c -i -F -f {p} || [ \\$? -eq 1 ]\"",
              S, f"first {len(sub)} shards", len(sub)))
    if args.ft_model and shutil.which("fasttext"):
        A(Cmd("fasttext", f"zstd -dc | fasttext predict ({len(sub)} procs)",
              f"printf '%s\\n' {sfiles} | xargs -P {N} -I{{}} bash -o pipefail -c "
              f"\"zstd -dcq {{}} | fasttext predict {q(args.ft_model)} - > /dev/null\"",
              S, f"first {len(sub)} shards", len(sub)))
    if args.tropescan:
        t = q(args.tropescan)
        so = lambda tag: q(os.path.join(args.data, "scan-" + tag))
        A(Cmd("ts1", "tropescan scan -j 1", f"{t} scan {args.ts_args} -j 1 --force --quiet -o {so('1')} {zfiles}",
              D, "zst shards", 1, rss=True))
        A(Cmd("tsN", f"tropescan scan -j {N}", f"{t} scan {args.ts_args} -j {N} --force --quiet -o {so('N')} {zfiles}",
              D, "zst shards", N, rss=True))
        # What passage scoring costs: the same scan with every document one window.
        A(Cmd("tsN_whole", f"tropescan scan -j {N} --whole-documents",
              f"{t} scan {args.ts_args} -j {N} --whole-documents --force --quiet -o {so('W')} {zfiles}",
              D, "zst shards", N, rss=True))
        A(Cmd("ts_one", f"tropescan scan -j {N}, one shard",
              f"{t} scan {args.ts_args} -j {N} --force --quiet -o {so('one')} {q(zst[0]['path'])}",
              zst[0]["bytes"], "one zst shard", N, rss=True, group="one"))
        if gz:
            A(Cmd("ts_gz", f"tropescan scan -j {N}, gzip",
                  f"{t} scan {args.ts_args} -j {N} --force --quiet -o {so('gz')} {gzp}", G, "gzip shard", N,
                  rss=True, group="gzip"))
    if args.tropescan and args.gate:
        A(Cmd("tsN_gate", f"tropescan scan -j {N} --gate",
              f"{t} scan {args.ts_args} -j {N} --gate --force --quiet -o {so('G')} {zfiles}",
              D, "zst shards", N, rss=True))
    if args.ref_tropescan:
        r = q(args.ref_tropescan)
        so = lambda tag: q(os.path.join(args.data, "scan-" + tag))
        A(Cmd("ref_ts1", "reference tropescan scan -j 1",
              f"{r} scan {args.ts_args} -j 1 --force --quiet -o {so('ref1')} {zfiles}", D, "zst shards", 1, rss=True))
        A(Cmd("ref_tsN", f"reference tropescan scan -j {N}",
              f"{r} scan {args.ts_args} -j {N} --force --quiet -o {so('refN')} {zfiles}", D, "zst shards", N,
              rss=True))
    if args.tropescan:
        # apply (issue 11): the zstd shards filtered with the manifests of a scan
        # made once here, against decompress-and-recompress of the same shards
        # (zstd -3, as apply writes), N at a time.
        sa = os.path.join(args.data, "scan-apply")
        subprocess.run([args.tropescan, "scan", *shlex.split(args.ts_args), "-j", str(N), "--force", "--quiet",
                        "-o", sa, *[x["path"] for x in zst]], check=True)
        rec = q(os.path.join(args.data, "recompressed"))
        os.makedirs(os.path.join(args.data, "recompressed"), exist_ok=True)
        A(Cmd("recompN", f"zstd -dc | zstd -3 -c, {N} at a time",
              f"{zlist} | xargs -P {N} -I{{}} bash -o pipefail -c "
              f"\"zstd -dcq {{}} | zstd -3 -q -c > {rec}/\\$(basename {{}})\"",
              D, "zst shards", N, group="apply"))
        A(Cmd("applyN", f"tropescan apply -j {N}",
              f"{t} apply -j {N} --force --quiet -m {q(sa)} -o {q(os.path.join(args.data, 'applied'))} {zfiles}",
              D, "zst shards", N, rss=True, group="apply"))
        if args.ref_tropescan:
            A(Cmd("ref_applyN", f"reference tropescan apply -j {N}",
                  f"{q(args.ref_tropescan)} apply -j {N} --force --quiet -m {q(sa)} "
                  f"-o {q(os.path.join(args.data, 'applied-ref'))} {zfiles}",
                  D, "zst shards", N, rss=True, group="apply"))
        # One shard alone: what a single large shard gets from N threads.
        z0 = q(zst[0]["path"])
        A(Cmd("recomp_one", "zstd -dc | zstd -3 -c, one shard",
              f"zstd -dcq {z0} | zstd -3 -q -c > {rec}/one.zst", zst[0]["bytes"], "one zst shard", 1,
              group="apply_one"))
        A(Cmd("apply_one", f"tropescan apply -j {N}, one shard",
              f"{t} apply -j {N} --force --quiet -m {q(sa)} -o {q(os.path.join(args.data, 'applied-one'))} {z0}",
              zst[0]["bytes"], "one zst shard", N, rss=True, group="apply_one"))
    if args.only:
        keep = set(args.only.split(","))
        cmds[:] = [c for c in cmds if c.key in keep]
    if os.path.exists(big) and not args.only:
        A(Cmd("big_zstd", "zstd -dc, single large shard", f"zstd -dcq {q(big)} > /dev/null", D,
              "single shard", 1, group="big"))
        if args.tropescan:
            A(Cmd("big_ts1", "tropescan scan -j 1, single large shard",
                  f"{t} scan {args.ts_args} -j 1 --force --quiet -o {so('big1')} {q(big)}", D, "single shard", 1,
                  rss=True, group="big"))
            A(Cmd("big_tsN", f"tropescan scan -j {N}, single large shard",
                  f"{t} scan {args.ts_args} -j {N} --force --quiet -o {so('bigN')} {q(big)}", D, "single shard", N,
                  rss=True, group="big"))

    print(f"bench: {len(cmds)} commands, warm-up + {args.rounds} rounds; "
          f"{D/1e6:.0f} MB in {len(zst)} zstd shards", file=sys.stderr)
    # Warm-up; also proves each command works. A tiny run only proves that,
    # so its one round is enough.
    for c in ([] if args.tiny else cmds):
        print(f"bench: warm-up {c.label}", file=sys.stderr)
        run_once(c, tmp)
    live = [c for c in cmds if c.key not in FAILED]
    for r in range(args.rounds):
        k = r % len(live)
        order = live[k:] + live[:k]
        for c in order:
            res = run_once(c, tmp)
            if res is None:
                continue
            c.times.append(res[0])
            c.rss.append(res[1])
        print(f"bench: round {r + 1}/{args.rounds} done", file=sys.stderr)

    by = {c.key: c for c in cmds}
    stats = {c.key: summarise(c) for c in cmds}
    refs = {"main": "zstdN", "gzip": "igzip" if "igzip" in by else "gzip", "big": "big_zstd",
            "one": "zstd1", "apply": "recompN", "apply_one": "recomp_one"}

    def mbs(key):
        s = stats.get(key)
        return s["mb_s"] if s else None

    rows = []
    hdr = ("command", "input", "thr", "MB/s", "min-max", "MB/s/thr", "x ref", "RSS MB")
    for c in cmds:
        s = stats[c.key]
        ref = mbs(refs[c.group])
        ratio = (s["mb_s"] / ref) if (s and ref) else None
        rows.append((c.label, c.inset, str(c.threads),
                     fmt(s and s["mb_s"]),
                     f"{s['mb_s_min']:.0f}-{s['mb_s_max']:.0f}" if s else "FAILED",
                     fmt(s and s["mb_s_per_thread"]),
                     fmt(ratio, 2), fmt(s and s["peak_rss_mb"])))
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
    lines = ["| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)) + " |",
             "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(v.ljust(w[i]) for i, v in enumerate(r)) + " |")
    table = "\n".join(lines)
    print(table)
    print("x ref: ratio to `zstd -dc` on all threads for the zstd shards (to igzip/gzip for "
          "the gzip shard, to single-thread `zstd -dc` for the single large shard, to "
          "`zstd -dc | zstd -3 -c` N at a time for apply, of one shard for apply on one shard)")

    checks = []

    def check(name, val, goal, ge=True):
        if val is None:
            checks.append({"target": name, "value": None, "goal": goal, "met": None})
            return
        met = val >= goal if ge else val <= goal
        checks.append({"target": name, "value": round(val, 3), "goal": goal, "met": met})

    def ratio(a, b):
        return mbs(a) / mbs(b) if mbs(a) and mbs(b) else None

    check("tropescan -jN / zstd -dc (all threads)", ratio("tsN", "zstdN"), 0.8)
    check("tropescan -jN / rg -z", ratio("tsN", "rg"), 1.5)
    if stats.get("tsN") and stats.get("fasttext"):
        check("tropescan / fastText, per thread",
              stats["tsN"]["mb_s_per_thread"] / stats["fasttext"]["mb_s_per_thread"], 10)
    check(f"tropescan -j{N} / -j1", ratio("tsN", "ts1"), 0.9 * N)
    if "ref_tsN" in by:
        check(f"tropescan -j{N} / reference -j{N}", ratio("tsN", "ref_tsN"), 1.0)
        check("tropescan -j1 / reference -j1", ratio("ts1", "ref_ts1"), 1.0)
    if "applyN" in by:
        check("tropescan apply -jN / zstd -dc | zstd -3 (same shards, N at a time)", ratio("applyN", "recompN"), 0.8)
    if "ref_applyN" in by:
        check(f"tropescan apply -j{N} / reference apply -j{N}", ratio("applyN", "ref_applyN"), 1.0)
    check(f"tropescan -j{N} / -j1, single large shard", ratio("big_tsN", "big_ts1"), 0.9 * N)
    for k in ("tsN", "ts_one", "big_tsN", "applyN"):
        if stats.get(k):
            check(f"peak RSS MB ({by[k].label})", stats[k]["peak_rss_mb"], 256, ge=False)
    if checks and args.tiny:
        print("\ntiny run: start-up costs dominate; the figures only prove that every tool runs")
    elif checks:
        print("\ntargets (issue 5):")
        for ch in checks:
            mark = {True: "met", False: "MISSED", None: "n/a"}[ch["met"]]
            print(f"  {ch['target']}: {ch['value']} (goal {'<=' if 'RSS' in ch['target'] else '>='} "
                  f"{ch['goal']}) {mark}")

    res = {
        "command_line": args.command_line,
        "machine": machine,
        "corpus": corpus,
        "rounds": args.rounds, "threads": N,
        "commands": [{"key": c.key, "label": c.label, "cmd": c.cmd, "input": c.inset,
                      "bytes": c.nbytes, "threads": c.threads, "times_s": c.times,
                      "peak_rss_kb": c.rss, "failed": c.key in FAILED, "stdout_tail": c.out[-400:],
                      **(stats[c.key] or {})} for c in cmds],
        "targets": checks,
        "table": table,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(res, f, indent=1)
    print(f"\nbench: wrote {args.results}", file=sys.stderr)
    if FAILED:
        print(f"bench: {len(FAILED)} command(s) failed: {', '.join(sorted(set(FAILED)))}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
