#!/usr/bin/env bash
# run-echo.sh: loopd's echo plugin against a raw libevent echo server.
#
# usage: bench/run-echo.sh [options]
#   -r N        rounds; each runs every server once, interleaved (5)
#   -d S        seconds per echo-load run (5)
#   -c "1 50"   connection counts
#   -s BYTES    message size (64)
#   -k LIST     servers, comma-separated, from loopd-echo, libevent-raw,
#               asyncio, uvloop; "all" is all four (loopd-echo,libevent-raw);
#               also loopd-hb20: loopd-echo with hang_timeout 100ms, whose
#               heartbeat and hang watch run every 20 ms, not every second;
#               and loopd-debug: loopd-echo in debug mode (LOOPD_DEBUG=1)
#   -D          debug mode's overhead: loopd-debug against loopd-echo, with
#               the target server CPU per echo <= 1.05x (the table's
#               "loopd" and "raw" are then loopd-debug and loopd-echo)
#   -n          no CPU pinning (default: server on CPU 1, client on CPU 0)
#   -N NICE     run everything at this niceness, e.g. -10 (below 0 needs
#               root) so that other work on the machine disturbs it less
#   -p PORT     first port to try (47300); every server gets a free one
#   -h          this help
# Environment:
#   LOOPD_BIN         the loopd to measure; unset, a Release build is made
#                     (or brought up to date) in build-bench/
#   LOOPD_PLUGIN_DIR  where echo.so is (default: plugins/ next to LOOPD_BIN)
#   PY                the Python of asyncio and uvloop (/usr/bin/python3)
#   LOOPD_BENCH_REPS, LOOPD_BENCH_SECS, LOOPD_BENCH_CONNS   defaults of -r -d -c
#
# Each server runs in a session of its own (setsid), pinned to CPU 1;
# echo-load runs on CPU 0 with N connections and one message in flight on
# each.  The server's CPU time is that of every process in its session (for
# loopd: supervisor and worker), read from /proc/*/stat around each run.
# It prints the medians per connection count, the loopd/raw ratios, and the
# target line: server CPU per echo at 50 connections <= 1.10x raw libevent.
# A Python server whose loop cannot be imported (uvloop) is skipped, with a
# message.  Raw lines, server log and table: bench/results/echo-STAMP.*.
# Exit status: 0 when every run succeeded (whether the target passed or
# not: see the PASS/FAIL line), 1 when something could not run, a run
# failed, or echo-load saw wrong bytes.

set -uo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
REPS=${LOOPD_BENCH_REPS:-5} SECS=${LOOPD_BENCH_SECS:-5}
CONNS=${LOOPD_BENCH_CONNS:-"1 50"} SIZE=64 PIN=1 NICE="" NEXT_PORT=47300
ONLY=loopd-echo,libevent-raw PY=${PY:-/usr/bin/python3}
TARGET=1.10 LOOPD=loopd-echo RAW=libevent-raw

usage() { sed -n '4,/^$/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while getopts "r:d:c:s:k:nN:p:Dh" opt; do
	case $opt in
	r) REPS=$OPTARG ;; d) SECS=$OPTARG ;; c) CONNS=$OPTARG ;;
	s) SIZE=$OPTARG ;; k) ONLY=$OPTARG ;; n) PIN=0 ;; N) NICE=$OPTARG ;;
	D) ONLY=loopd-debug,loopd-echo LOOPD=loopd-debug RAW=loopd-echo TARGET=1.05 ;;
	p) NEXT_PORT=$OPTARG ;; h) usage ;; *) usage 2 ;;
	esac
done
[ "$ONLY" = all ] && ONLY=$LOOPD,$RAW,asyncio,uvloop
# nice -n is relative to the current niceness; -N is absolute.
renice=()
if [ -n "$NICE" ]; then
	[[ $NICE =~ ^-?[0-9]+$ ]] || die "-N wants a niceness, got '$NICE'"
	renice=(nice -n $((NICE - $(nice))))
	[ "$("${renice[@]}" nice 2>/dev/null)" = "$NICE" ] ||
		die "cannot run at niceness $NICE (below 0 needs root)"
fi
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	SERVER_PIN=(taskset -c 1) CLIENT_PIN=(taskset -c 0)
	PINNING="server CPU 1, client CPU 0"
else
	SERVER_PIN=() CLIENT_PIN=() PINNING=none
fi

# ---- servers -----------------------------------------------------------------
bench_loopd
[ -r "$LOOPD_PLUGIN_DIR/echo.so" ] || die "no echo.so in $LOOPD_PLUGIN_DIR (set LOOPD_PLUGIN_DIR)"
bench_tools
export PYTHONDONTWRITEBYTECODE=1
NAMES=() CMDS=()
for name in ${ONLY//,/ }; do
	case $name in
	loopd-echo) cmd="$(printf '%q' "$here/loopd-echo.sh")" ;;
	loopd-debug) cmd="env LOOPD_DEBUG=1 $(printf '%q' "$here/loopd-echo.sh")" ;;
	loopd-hb20) cmd="env LOOPD_ECHO_HANG_TIMEOUT=100ms $(printf '%q' "$here/loopd-echo.sh")" ;;
	libevent-raw) cmd="$(printf '%q' "$BENCH_BUILD/echo-raw")" ;;
	asyncio | uvloop)
		if ! "$PY" -c "import $name" 2>/dev/null; then
			echo "$prog: skipping $name: $PY cannot import it (on Debian: apt-get install python3-$name)" >&2
			continue
		fi
		cmd="$(printf '%q %q' "$PY" "$here/echo_server.py") $name" ;;
	*) die "-k: unknown server '$name' (loopd-echo, libevent-raw, asyncio, uvloop, loopd-hb20, loopd-debug)" ;;
	esac
	NAMES+=("$name") CMDS+=("$cmd")
done
[ ${#NAMES[@]} -gt 0 ] || die "no server to run"

bench_stamp
raw=$out/echo-$stamp.raw.tsv log=$out/echo-$stamp.log
: >"$raw"
: >"$log"

PIDS=()
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $s != Z* ]]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# In use in any state (TIME_WAIT too): someone else's, or a bind could fail.
port_busy() { port_open "$1" || [ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ]; }

# Stop a server by its PID: SIGTERM, SIGKILL after 5 s; then whatever it
# left in its session (process group), by that group's id.
stop_server() { # PID
	local pid=$1 i keep=()
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
	if alive "$pid"; then
		echo "$prog: server $pid ignored SIGTERM for 5 s; sending SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	if kill -0 -- "-$pid" 2>/dev/null; then
		echo "$prog: server $pid left processes in its group; stopping them" >&2
		kill -TERM -- "-$pid" 2>/dev/null; sleep 1; kill -KILL -- "-$pid" 2>/dev/null
	fi
	for i in "${PIDS[@]}"; do [ "$i" = "$pid" ] || keep+=("$i"); done
	PIDS=("${keep[@]}")
}
cleanup() { local p; for p in "${PIDS[@]}"; do stop_server "$p"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() { # NAME COMMAND -> SPID, SPORT
	local i
	while port_busy "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
	SPORT=$NEXT_PORT NEXT_PORT=$((NEXT_PORT + 1))
	echo "### $1: $2 $SPORT" >>"$log"
	PORT=$SPORT setsid "${renice[@]}" "${SERVER_PIN[@]}" bash -c "exec $2 $SPORT" \
	    >>"$log" 2>&1 </dev/null &
	SPID=$!
	PIDS+=("$SPID")
	for ((i = 0; i < 100; i++)); do
		if ! alive "$SPID"; then
			echo "$prog: $1 exited at start; see $log" >&2
			stop_server "$SPID"; return 1
		fi
		port_open "$SPORT" && return 0
		sleep 0.1
	done
	echo "$prog: $1 does not accept on 127.0.0.1:$SPORT after 10 s; see $log" >&2
	stop_server "$SPID"
	return 1
}

# CPU ticks (user + system) used so far by every process of session SID.
# (Read with getline: a process may vanish between the glob and the read.)
session_ticks() {
	awk -v sid="$1" 'BEGIN {
		for (i = 1; i < ARGC; i++) {
			if ((getline s < ARGV[i]) > 0) {
				sub(/^.*\) /, "", s); split(s, f, " ")
				if (f[4] == sid) t += f[12] + f[13]
			}
			close(ARGV[i])
		}
		print t + 0 }' /proc/[0-9]*/stat
}

record() { # NAME CONNS REP LINE
	printf 'echo\t%s\tconns=%s\t%s\t%s\n' "$@" >>"$raw"
	printf '  %-13s %3s conns  round %s/%s  %s\n' "$1" "$2" "$3" "$REPS" "$4" >&2
}

CLK_TCK=$(getconf CLK_TCK)
run_echo() { # NAME COMMAND REP
	local c line t0 t1 req
	if ! start_server "$1" "$2"; then
		for c in $CONNS; do record "$1" "$c" "$3" FAILED; done
		return
	fi
	for c in $CONNS; do
		t0=$(session_ticks "$SPID")
		line=$("${renice[@]}" "${CLIENT_PIN[@]}" "$BENCH_BUILD/echo-load" 127.0.0.1 "$SPORT" \
		    "$c" "$SIZE" "$SECS" 2>>"$log" | tail -n 1)
		t1=$(session_ticks "$SPID")
		if [[ $line == *=* ]]; then
			req=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
			line+=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v s="$SECS" -v r="${req:-0}" \
			    'BEGIN { printf " srv_cpu=%.2f srv_us_req=%.2f", d / hz / s, r ? d / hz / r * 1e6 : 0 }')
		else
			line=FAILED
		fi
		record "$1" "$c" "$3" "$line"
	done
	stop_server "$SPID"
}

# ---- runs ----------------------------------------------------------------------
echo "$prog: loopd $LOOPD_BIN, plugins $LOOPD_PLUGIN_DIR; servers ${NAMES[*]}" >&2
for ((rep = 1; rep <= REPS; rep++)); do
	for i in "${!NAMES[@]}"; do run_echo "${NAMES[$i]}" "${CMDS[$i]}" "$rep"; done
done

table() {
	echo "# $LOOPD vs $RAW: medians of $REPS interleaved runs, $(date -u '+%Y-%m-%d %H:%M UTC')"
	bench_host
	echo "# load: $SIZE-byte messages, depth 1, $SECS s per run; pinning: $PINNING; niceness $("${renice[@]}" nice)"
	echo "# command: bench/run-echo.sh -r $REPS -d $SECS -c \"$CONNS\" -s $SIZE -k $(IFS=,; echo "${NAMES[*]}")${NICE:+ -N $NICE}$([ "$PIN" = 1 ] || echo " -n")"
	echo "# srv_us_req: CPU (user + system) of the server's whole session -- for loopd, supervisor and worker -- per echo"
	awk -F'\t' -v L="$LOOPD" -v R="$RAW" -v target="$TARGET" -f "$here/median.awk" -f "$here/echo-table.awk" "$raw"
}
table | tee "$out/echo-$stamp.txt"
echo "$prog: raw lines $raw, table $out/echo-$stamp.txt, server log $log" >&2
! grep -q '^[0-9]* runs failed\|^echo-load reported' "$out/echo-$stamp.txt"
