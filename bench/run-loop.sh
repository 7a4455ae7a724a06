#!/usr/bin/env bash
# run-loop.sh: call_soon and timers, loopd against raw libevent in the
# same run.
#
# usage: bench/run-loop.sh [options]
#   -r N        rounds (3); each runs every contestant of every case once
#   -s SECS     seconds each run measures (3)
#   -T N        timers in the timer cases (1000)
#   -p MS       their period in ms (10)
#   -c CPU      the CPU every contestant is pinned to (the last one), so
#               that no run pays for a migration the other did not
#   -h          this help
# Environment:
#   LOOPD_BIN   the loopd to measure; unset, a Release build is made (or
#               brought up to date) in build-bench/
#
# Cases, each run by loopd (the loopbench plugin on a loop of its own) and
# by bench/loop-raw (plain libevent):
#   soon-1, soon-1000   chains of zero-delay callbacks: loopd_call_soon()
#                       against event_active() with one poll per generation
#                       (max_dispatch_callbacks = chains); callbacks/s
#   oneshot             T one-shot timers, each re-armed from its callback:
#                       loopd_timer_start(p, 0) against evtimer_add(); CPU
#                       per timer
#   periodic            T periodic timers: loopd_timer_start(p, p) against
#                       EV_PERSIST; CPU per timer
# The timer cases also run raw libevent with the period as a common
# timeout (event_base_init_common_timeout()), the best libevent does by
# hand for timers of one duration: shown, not a target.
# Targets: soon >= 0.9x raw callbacks/s; timers >= 0.95x raw, that is raw
# CPU per timer / loopd CPU per timer >= 0.95 (medians).
# Table and raw lines: bench/results/loop-STAMP.{txt,raw.tsv}.

set -uo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
ROUNDS=3 SECS=3 TIMERS=1000 PERIOD=10 CPU=$(($(nproc) - 1))

usage() { sed -n '4,/^$/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while getopts "r:s:T:p:c:h" opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;; s) SECS=$OPTARG ;; T) TIMERS=$OPTARG ;;
	p) PERIOD=$OPTARG ;; c) CPU=$OPTARG ;; h) usage ;; *) usage 2 ;;
	esac
done
for v in "$ROUNDS" "$SECS" "$TIMERS" "$PERIOD"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || die "-r, -s, -T and -p want whole numbers, got '$v'"
done
[[ $CPU =~ ^[0-9]+$ ]] && [ "$CPU" -lt "$(nproc)" ] ||
	die "-c wants a CPU number below $(nproc), got '$CPU'"
command -v python3 >/dev/null || die "python3 is needed"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"

bench_loopd
bench_tools
bench_scratch
bench_stamp
raw=$out/loop-$stamp.raw.tsv
: >"$raw"
sock=$scratch/notify.sock
failed=0

# case NAME -> "MODE N"
args_of() {
	case $1 in
	soon-1) echo "soon 1" ;; soon-1000) echo "soon 1000" ;;
	oneshot) echo "oneshot $TIMERS" ;; periodic) echo "periodic $TIMERS" ;;
	esac
}

# run CASE WHO ROUND: one line appended to $raw
run() {
	local c=$1 who=$2 mode n err=$scratch/$1-$2.log line conf
	read -r mode n <<<"$(args_of "$c")"
	if [ "$who" = loopd ]; then
		conf=$scratch/$c.yaml
		cat >"$conf" <<YAML
log: { level: info, format: json, target: stderr }
loops:
  - name: bench
    backend: epoll
    cpu: $CPU
    tasks:
      - name: loopbench
        plugin: loopbench
        config: { mode: $mode, n: $n, period_ms: $PERIOD, seconds: ${SECS}s, notify: $sock }
YAML
		python3 "$here/notify-run.py" --socket "$sock" --wait LOOP_DONE \
		    --stderr "$err" --timeout $((SECS + 60)) -- \
		    "$LOOPD_BIN" -c "$conf" -P "$BENCH_BUILD/plugins" >/dev/null
		line=$(grep -o 'impl=loopd-[^"]*' "$err" | tail -n 1)
	elif [ "$mode" = soon ]; then
		line=$(taskset -c "$CPU" "$BENCH_BUILD/loop-raw" soon "$n" "$SECS")
	elif [ "$who" = rawc ]; then
		line=$(taskset -c "$CPU" "$BENCH_BUILD/loop-raw" "$mode-common" \
		    "$n" "$PERIOD" "$SECS")
	else
		line=$(taskset -c "$CPU" "$BENCH_BUILD/loop-raw" "$mode" "$n" \
		    "$PERIOD" "$SECS")
	fi
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		printf '%s\t%s\t%s\tFAILED\n' "$c" "$who" "$3" >>"$raw"
		[ -f "$err" ] && cp "$err" "$out/loop-$stamp.$c.failed.log"
		return
	fi
	printf '%s\t%s\t%s\t%s\n' "$c" "$who" "$3" "$line" >>"$raw"
}

for ((r = 1; r <= ROUNDS; r++)); do
	for c in soon-1 soon-1000 oneshot periodic; do
		run "$c" loopd "$r"
		run "$c" raw "$r"
		[[ $c = soon-* ]] || run "$c" rawc "$r"
	done
done

{
	bench_host
	echo "# $TIMERS timers every $PERIOD ms, ${SECS} s per run, $ROUNDS rounds, all on CPU $CPU; medians"
	awk -F'\t' -f "$here/median.awk" -f "$here/loop-table.awk" "$raw"
} | tee "$out/loop-$stamp.txt"
[ "$failed" -eq 0 ] || die "$failed runs failed; see $out/loop-$stamp.*.failed.log"
