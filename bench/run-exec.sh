#!/usr/bin/env bash
# run-exec.sh: executor round trips, loopd against its two peers.
#
# usage: bench/run-exec.sh [options]
#   -r N        rounds (3); each runs every contestant once
#   -s SECS     seconds each run measures (3)
#   -t N        pool threads (4)
#   -i N        jobs in flight (64)
#   -w NS       work per job, a busy spin in ns (1000: "1 us of work")
#   -h          this help
# Environment:
#   LOOPD_BIN         the loopd to measure; unset, a Release build is made
#                     (or brought up to date) in build-bench/
#   LOOPD_PLUGIN_DIR  ignored: the bench's execbench.so is used
#
# Contestants, each keeping N jobs in flight on a pool of T threads, every
# completion submitting the next job:
#   loopd        the execbench plugin on a loop with executor: { workers: T }:
#                loopd_run_in_executor() and its done callback
#   raw-eventfd  bench/exec-raw: plain libevent, a mutex/condvar queue,
#                completions on a list and one eventfd write per batch
#                (what loopd does, with no checks and no task)
#   raw-active   bench/exec-raw: event_active() from the pool thread
#                (evthread_use_pthreads)
#   asyncio      bench/exec_asyncio.py: loop.run_in_executor() on a
#                ThreadPoolExecutor
# Targets: loopd >= 0.8x raw-eventfd, and > 10x asyncio (medians).
# Table and raw lines: bench/results/exec-STAMP.{txt,raw.tsv}.
# Exit status: 0 when every run ran (whether targets passed or not), 1 when
# something could not run.

set -uo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
ROUNDS=3 SECS=3 THREADS=4 INFLIGHT=64 WORK=1000

usage() { sed -n '4,/^$/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while getopts "r:s:t:i:w:h" opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;; s) SECS=$OPTARG ;; t) THREADS=$OPTARG ;;
	i) INFLIGHT=$OPTARG ;; w) WORK=$OPTARG ;; h) usage ;; *) usage 2 ;;
	esac
done
for v in "$ROUNDS" "$SECS" "$THREADS" "$INFLIGHT"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || die "-r, -s, -t and -i want whole numbers, got '$v'"
done
[[ $WORK =~ ^[0-9]+$ ]] || die "-w wants nanoseconds, got '$WORK'"
command -v python3 >/dev/null || die "python3 is needed"

bench_loopd
bench_tools
bench_scratch
bench_stamp
raw=$out/exec-$stamp.raw.tsv
: >"$raw"
sock=$scratch/notify.sock
conf=$scratch/exec.yaml
cat >"$conf" <<YAML
log: { level: info, format: json, target: stderr }
loops:
  - name: exec
    backend: epoll
    executor: { workers: $THREADS, kind: cpu, queue: 1024 }
    tasks:
      - name: execbench
        plugin: execbench
        config:
          inflight: $INFLIGHT
          seconds: ${SECS}s
          work_ns: $WORK
          threads: $THREADS
          notify: $sock
YAML

failed=0
# run WHO ROUND: one line "impl=... jobs_s=..." appended to $raw
run() {
	local who=$1 err=$scratch/$1.log line
	case $who in
	loopd)
		python3 "$here/notify-run.py" --socket "$sock" --wait EXEC_DONE \
		    --stderr "$err" --timeout $((SECS + 60)) -- \
		    "$LOOPD_BIN" -c "$conf" -P "$BENCH_BUILD/plugins" >/dev/null
		line=$(grep -o 'impl=loopd [^"]*' "$err" | tail -n 1) ;;
	raw-*)
		line=$("$BENCH_BUILD/exec-raw" "${who#raw-}" "$THREADS" "$INFLIGHT" "$SECS" "$WORK") ;;
	asyncio)
		line=$(python3 "$here/exec_asyncio.py" "$THREADS" "$INFLIGHT" "$SECS" "$WORK") ;;
	esac
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		printf '%s\t%s\tFAILED\n' "$who" "$2" >>"$raw"
		[ -f "$err" ] && cp "$err" "$out/exec-$stamp.$who.failed.log"
		return
	fi
	printf '%s\t%s\t%s\n' "$who" "$2" "$line" >>"$raw"
}

for ((r = 1; r <= ROUNDS; r++)); do
	for who in loopd raw-eventfd raw-active asyncio; do
		run "$who" "$r"
	done
done

{
	bench_host
	echo "# $THREADS threads, $INFLIGHT jobs in flight, ${WORK} ns of work per job, ${SECS} s per run, $ROUNDS rounds"
	awk -F'\t' -f "$here/median.awk" -f "$here/exec-table.awk" "$raw"
} | tee "$out/exec-$stamp.txt"
[ "$failed" -eq 0 ] || die "$failed runs failed; see $out/exec-$stamp.*.failed.log"
