#!/usr/bin/env bash
# run-restart.sh: time from a crash to the task serving again, minus the
# configured backoff.
#
# usage: bench/run-restart.sh [options]
#   -n N        crashes, one loopd run each (30)
#   -b MS       the loop's restart backoff, MS..MS (10)
#   -h          this help
# Environment:
#   LOOPD_BIN         the loopd to measure; unset, a Release build is made
#                     (or brought up to date) in build-bench/
#   PY                the Python that runs restart-latency.py (python3)
#
# Each run starts loopd with one loop (backend epoll, restart on-failure,
# backoff MS..MS) whose one task is the tests' flaky plugin (do: crash,
# when: later, a new marker file each run): it segfaults in a timer
# callback 20 ms after its start, its worker is started again after the
# backoff, and the task logs "serving".  From the records' ts:
# restart_ms is the task_error record to "serving", minus the delay_ms of
# the task_restart record; detect_ms the plugin's last record before the
# fault to the task_error; total_ms the sum.  Medians, 90th percentiles
# and extremes over the runs.  flaky.so is built from tests/plugins/flaky.c
# into BENCH_BUILD/plugins.  Table and raw lines: bench/results/restart-STAMP.*
# Exit status 0 when every run recovered, 1 otherwise.

set -uo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
N=30 BACKOFF=10 PY=${PY:-python3}

usage() { sed -n '4,/^$/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while getopts "n:b:h" opt; do
	case $opt in
	n) N=$OPTARG ;; b) BACKOFF=$OPTARG ;; h) usage ;; *) usage 2 ;;
	esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || die "-n wants a number of runs, got '$N'"
[[ $BACKOFF =~ ^[1-9][0-9]*$ ]] || die "-b wants milliseconds, got '$BACKOFF'"

bench_loopd
make -s -C "$here" O="$BENCH_BUILD" "$BENCH_BUILD/plugins/flaky.so" >&2 ||
	die "make of flaky.so in bench/ failed"
bench_stamp
raw=$out/restart-$stamp.raw.tsv
: >"$raw"

echo "$prog: loopd $LOOPD_BIN, $N crashes, backoff ${BACKOFF}ms" >&2
{
	echo "# loopd: time from a crash to the task serving again, $(date -u '+%Y-%m-%d %H:%M UTC')"
	bench_host
	echo "# command: bench/run-restart.sh -n $N -b $BACKOFF"
	"$PY" "$here/restart-latency.py" -n "$N" -b "$BACKOFF" -r "$raw" \
	    "$LOOPD_BIN" "$BENCH_BUILD/plugins"
} >"$out/restart-$stamp.txt" || { cat "$out/restart-$stamp.txt"; die "a run failed"; }
cat "$out/restart-$stamp.txt"
echo "$prog: raw lines $raw, table $out/restart-$stamp.txt" >&2
