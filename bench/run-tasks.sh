#!/usr/bin/env bash
# run-tasks.sh: what many idle tasks on one loop cost loopd.
#
# usage: bench/run-tasks.sh [options]
#   -r N        rounds (3); each runs every task count once
#   -n "LIST"   task counts (1000 10000 20000 40000)
#   -g GRACE    shutdown.grace of the timed runs (30s): a slow exit then
#               shows as time, not as killed tasks
#   -G GRACE    grace of the extra run at the largest count (10s, loopd's
#               default); "" skips it
#   -l LEVEL    log.level of the generated configs (info)
#   -h          this help
# Environment:
#   LOOPD_BIN         the loopd to measure; unset, a Release build is made
#                     (or brought up to date) in build-bench/
#   LOOPD_PLUGIN_DIR  where ticker.so and echo.so are (plugins/ next to
#                     LOOPD_BIN)
#
# For each count N, a config with one loop (backend epoll) of N ticker
# tasks (interval 1h) is generated, and bench/notify-run.py starts loopd
# under a NOTIFY_SOCKET of its own, with stderr to a file on tmpfs.  It
# measures the time from exec to READY=1, the PSS of the supervisor and the
# worker at READY=1, and the time from SIGTERM to exit; the log is searched
# for task_forced records.  A 1-task run gives the base memory, and the
# bundled conf/loopd.yaml (echo port set to 0) gives the idle PSS.
# Targets: at 10,000 tasks READY and exit under 100 ms; at 40,000 under
# 1 s each and no task forced; 10k to 40k time grows at most 4.5x; memory
# per idle task under 1.5 KiB; idle PSS at most 1.4 MiB (supervisor) and
# 0.8 MiB (each worker).
# Table and raw lines: bench/results/tasks-STAMP.{txt,raw.tsv}.
# Exit status: 0 when every run ran (whether targets passed or not), 1 when
# something could not run.

set -uo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
ROUNDS=3 COUNTS="1000 10000 20000 40000" GRACE=30s DGRACE=10s LEVEL=info

usage() { sed -n '4,/^$/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while getopts "r:n:g:G:l:h" opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;; n) COUNTS=$OPTARG ;; g) GRACE=$OPTARG ;;
	G) DGRACE=$OPTARG ;; l) LEVEL=$OPTARG ;; h) usage ;; *) usage 2 ;;
	esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "-r wants a number of rounds"
for n in $COUNTS; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "-n wants task counts, got '$n'"; done
command -v python3 >/dev/null || die "python3 is needed (bench/notify-run.py)"

bench_loopd
for p in ticker echo; do
	[ -r "$LOOPD_PLUGIN_DIR/$p.so" ] || die "no $p.so in $LOOPD_PLUGIN_DIR"
done
bench_scratch
bench_stamp
raw=$out/tasks-$stamp.raw.tsv
: >"$raw"

# ---- configurations ----------------------------------------------------------
tasks_conf() { # N GRACE -> config on stdout
	awk -v n="$1" -v grace="$2" -v level="$LEVEL" 'BEGIN {
		printf "log:\n  level: %s\n  format: json\n  target: stderr\n", level
		printf "shutdown:\n  grace: %s\nloops:\n  - name: tasks\n", grace
		printf "    backend: epoll\n    tasks:\n"
		for (i = 1; i <= n; i++)
			printf "      - name: t%d\n        plugin: ticker\n        config:\n          interval: 1h\n", i
	}'
}
for n in 1 $COUNTS; do tasks_conf "$n" "$GRACE" >"$scratch/tasks-$n.yaml"; done
last=${COUNTS##* }
[ -n "$DGRACE" ] && tasks_conf "$last" "$DGRACE" >"$scratch/default-$last.yaml"
# The bundled config, on a port nobody else uses.
sed 's/^\( *port:\) *[0-9][0-9]*/\1 0/' "$root/conf/loopd.yaml" >"$scratch/bundled.yaml"
grep -q 'port: 0$' "$scratch/bundled.yaml" || die "cannot set the echo port of conf/loopd.yaml to 0"

# ---- runs --------------------------------------------------------------------
failed=0
# run NAME CONF ROUND GRACE: one start and stop, one raw line
run() {
	local log=$scratch/$1.log line forced lines secs
	secs=$(awk -v g="$4" 'BEGIN { n = g + 0; u = substr(g, length(n "") + 1)
		print int(n * (u == "ms" ? 0.001 : u == "m" ? 60 : u == "h" ? 3600 : 1)) + 60 }')
	line=$(python3 "$here/notify-run.py" --pss --stderr "$log" --timeout "$secs" -- \
	    "$LOOPD_BIN" -c "$2" -P "$LOOPD_PLUGIN_DIR")
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		printf 'tasks\t%s\t%s\t%s\tFAILED\n' "$1" "$4" "$3" >>"$raw"
		cp "$log" "$out/tasks-$stamp.$1.failed.log" 2>/dev/null
		echo "  $1 round $3: FAILED (log: $out/tasks-$stamp.$1.failed.log)" >&2
		return
	fi
	forced=$(grep -c '"event":"task_forced"' "$log")
	lines=$(wc -l <"$log")
	line+=" forced=$forced lines=$lines"
	printf 'tasks\t%s\t%s\t%s\t%s\n' "$1" "$4" "$3" "$line" >>"$raw"
	printf '  %-8s round %s/%s  %s\n' "$1" "$3" "$ROUNDS" "$line" >&2
}

echo "$prog: loopd $LOOPD_BIN, plugins $LOOPD_PLUGIN_DIR, scratch $scratch" >&2
for ((r = 1; r <= ROUNDS; r++)); do
	run 1 "$scratch/tasks-1.yaml" "$r" "$GRACE"
	run bundled "$scratch/bundled.yaml" "$r" 10s
	for n in $COUNTS; do run "$n" "$scratch/tasks-$n.yaml" "$r" "$GRACE"; done
done
[ -n "$DGRACE" ] && run "$last" "$scratch/default-$last.yaml" 1 "$DGRACE"

# ---- table -------------------------------------------------------------------
table() {
	echo "# loopd with many idle tasks: medians of $ROUNDS rounds, $(date -u '+%Y-%m-%d %H:%M UTC')"
	bench_host
	echo "# config: one loop (epoll), N ticker tasks (interval 1h), log.level $LEVEL, stderr to a tmpfs file; grace $GRACE"
	echo "# ready_ms: exec to READY=1; exit_ms: SIGTERM to exit; PSS at READY=1 from /proc/PID/smaps_rollup (kB = 1024 bytes)"
	echo "# per_task: (supervisor + worker PSS) minus that of a 1-task run, divided by N"
	awk -F'\t' -v grace="$GRACE" -v dgrace="$DGRACE" -v counts="$COUNTS" -f "$here/median.awk" -f "$here/tasks-table.awk" "$raw"
}
table | tee "$out/tasks-$stamp.txt"
echo "$prog: raw lines $raw, table $out/tasks-$stamp.txt" >&2
[ "$failed" = 0 ] || die "$failed runs failed"
