#!/usr/bin/env bash
# run-reload.sh: what a reload costs: SIGHUP to the reload record with
# 1,000 tasks of which one changed, and the longest gap in echo answers on
# an untouched task meanwhile.
#
# usage: bench/run-reload.sh [options]
#   -r N        reloads (20)
#   -t N        tasks (1000): one echo, the rest tickers
#   -l N        loops they are spread over (4)
#   -i N        plugin inspections timed on their own (20)
#   -h          this help
# Environment:
#   LOOPD_BIN         the loopd to measure; unset, a Release build is made
#                     (or brought up to date) in build-bench/
#   LOOPD_PLUGIN_DIR  where ticker.so and echo.so are (plugins/ next to
#                     LOOPD_BIN)
#
# bench/reload-latency.py runs loopd on a generated file, keeps an echo
# client doing 1-byte round trips on one connection, and reloads N times,
# each time with one ticker's message changed (reconfigured in place; the
# whole file is checked against both plugins' settings first).  Then the
# schema check's own cost is timed: `loopd --inspect-plugin` of echo.so
# and of ticker.so, which a reload runs once each, side by side.
# Targets: SIGHUP to record under 50 ms; no echo answer later than 10 ms.
# Output: bench/results/reload-STAMP.txt.
# Exit status: 0 when every run ran, 1 when something could not run.

set -uo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
ROUNDS=20 TASKS=1000 LOOPS=4 INSPECTS=20

usage() { sed -n '4,/^$/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while getopts "r:t:l:i:h" opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;; t) TASKS=$OPTARG ;; l) LOOPS=$OPTARG ;;
	i) INSPECTS=$OPTARG ;; h) usage ;; *) usage 2 ;;
	esac
done
for v in "$ROUNDS" "$TASKS" "$LOOPS" "$INSPECTS"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || die "options want positive numbers, got '$v'"
done
command -v python3 >/dev/null || die "python3 is needed (bench/reload-latency.py)"

bench_loopd
for p in ticker echo; do
	[ -r "$LOOPD_PLUGIN_DIR/$p.so" ] || die "no $p.so in $LOOPD_PLUGIN_DIR"
done
bench_stamp
txt=$out/reload-$stamp.txt

{
	bench_host
	echo "# $TASKS tasks on $LOOPS loops, $ROUNDS reloads"
	python3 "$here/reload-latency.py" -n "$ROUNDS" -t "$TASKS" -l "$LOOPS" \
	    "$LOOPD_BIN" "$LOOPD_PLUGIN_DIR" || die "reload-latency.py failed"
	python3 - "$LOOPD_BIN" "$LOOPD_PLUGIN_DIR" "$INSPECTS" <<'PY' || die "timing the inspections failed"
import statistics, subprocess, sys, time
loopd, plugins, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ms = []
for _ in range(n):
    t0 = time.monotonic()
    ps = [subprocess.Popen([loopd, "--inspect-plugin", "%s/%s.so" % (plugins, p)],
                           stdout=subprocess.DEVNULL) for p in ("echo", "ticker")]
    if any(p.wait() != 0 for p in ps):
        sys.exit("an inspection failed")
    ms.append((time.monotonic() - t0) * 1000)
print("inspecting echo.so and ticker.so side by side (ms): median %.2f  max %.2f"
      % (statistics.median(ms), max(ms)))
PY
} | tee "$txt"
