#!/usr/bin/env bash
# A tropescan scan as a Slurm job array: one partition per array index, then
# one merge.
#
#   jid=$(sbatch --parsable --array=0-15 --cpus-per-task=8 \
#           scripts/slurm_scan.sh scan /shared/out /shared/corpus [-- SCAN_OPTION...])
#   sbatch --dependency=afterany:$jid scripts/slurm_scan.sh merge /shared/out
#
# scan: array task I of N (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT; the
#   array must be 0-(N-1), or set TROPESCAN_PARTITIONS=N) runs
#     tropescan scan -q --resume --partition I/N -j $SLURM_CPUS_PER_TASK -o OUT INPUT...
#   into the shared OUT: every partition writes its own manifests and
#   OUT/summary.part-I-of-N.json, all atomically, so they share the directory.
#   --resume makes a requeued or resubmitted task (preempted, node failure,
#   time limit) keep the shards it finished; resubmit the failed indices with
#   the same command (sbatch --array=3,7 ...).
# merge: tropescan merge -f -o OUT OUT: OUT/summary.json, the same as one
#   machine's scan of the inputs (save the run's timing). It refuses if a
#   partition's summary is missing (and names it), so run it afterany and
#   read its message.
# TROPESCAN: the command (default: tropescan on PATH).
#
#SBATCH --job-name=tropescan
#SBATCH --requeue
#SBATCH --output=tropescan-%A_%a.log
set -euo pipefail

TROPESCAN=${TROPESCAN:-tropescan}
usage() {
  echo "usage: slurm_scan.sh scan OUTDIR INPUT... [-- SCAN_OPTION...] | slurm_scan.sh merge OUTDIR" >&2
  exit 2
}
[ $# -ge 2 ] || usage
mode=$1 out=$2
shift 2
case $mode in
  scan)
    [ $# -ge 1 ] || usage
    i=${SLURM_ARRAY_TASK_ID:?"not in a job array (SLURM_ARRAY_TASK_ID unset)"}
    n=${TROPESCAN_PARTITIONS:-${SLURM_ARRAY_TASK_COUNT:?"SLURM_ARRAY_TASK_COUNT unset: set TROPESCAN_PARTITIONS"}}
    inputs=() opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do inputs+=("$1"); shift; done
    if [ $# -gt 0 ]; then shift; opts=("$@"); fi
    threads=()
    if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then threads=(-j "$SLURM_CPUS_PER_TASK"); fi
    # exit 1 (a shard failed: recorded in the summary) is a result, not a job failure
    rc=0
    "$TROPESCAN" scan -q --resume --partition "$i/$n" "${threads[@]}" -o "$out" "${opts[@]}" "${inputs[@]}" || rc=$?
    if [ "$rc" -eq 1 ]; then
      echo "slurm_scan: partition $i/$n: some shard failed (see $out/summary.part-$i-of-$n.json)" >&2
      rc=0
    fi
    exit "$rc"
    ;;
  merge)
    [ $# -eq 0 ] || usage
    exec "$TROPESCAN" merge -f -o "$out" "$out"
    ;;
  *) usage ;;
esac
