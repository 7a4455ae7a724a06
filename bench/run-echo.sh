#!/usr/bin/env bash
# run-echo.sh: loopd's echo plugin against raw libevent, with the peer kit.
#
# usage: bench/run-echo.sh [options]
#   -r N        rounds; each runs both servers once, interleaved (5)
#   -d S        seconds per echo-load run (5)
#   -c "1 50"   connection counts
#   -s BYTES    message size (64)
#   -n          no CPU pinning (default: server on CPU 1, client on CPU 0)
#   -N NICE     run everything at this niceness, e.g. -10 (below 0 needs
#               root) so that other work on the machine disturbs it less
#   -h          this help
# Environment:
#   LOOPD_PEERS       the peer kit (default: ../shared/bench next to the
#                     repository)
#   LOOPD_BIN         the loopd to measure; unset, a Release build is made
#                     (or brought up to date) in build-bench/
#   LOOPD_PLUGIN_DIR  where echo.so is (default: plugins/ next to LOOPD_BIN)
#   LOOPD_BENCH_REPS, LOOPD_BENCH_SECS, LOOPD_BENCH_CONNS   defaults of -r -d -c
#
# It runs the kit's run-peers.sh on a private copy of the kit, with the
# contestants loopd-echo (bench/loopd-echo.sh) and libevent-raw, then prints
# the medians per connection count, the loopd/raw ratios, and the target
# line: server CPU per echo at 50 connections <= 1.10x raw libevent.
# Raw lines, server log and table go to bench/results/echo-STAMP.*.
# Exit status: 0 when every run succeeded (whether the target passed or
# not: see the PASS/FAIL line), 1 when something could not run or a run
# failed or echo-load saw wrong bytes.

set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
peers=${LOOPD_PEERS:-$here/../../shared/bench}
REPS=${LOOPD_BENCH_REPS:-5} SECS=${LOOPD_BENCH_SECS:-5}
CONNS=${LOOPD_BENCH_CONNS:-"1 50"} SIZE=64 NOPIN=() NICE=
TARGET=1.10 LOOPD=loopd-echo RAW=libevent-raw

usage() { sed -n '4,/^$/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while getopts "r:d:c:s:nN:h" opt; do
	case $opt in
	r) REPS=$OPTARG ;; d) SECS=$OPTARG ;; c) CONNS=$OPTARG ;;
	s) SIZE=$OPTARG ;; n) NOPIN=(-n) ;; N) NICE=$OPTARG ;;
	h) usage ;; *) usage 2 ;;
	esac
done
die() { echo "run-echo: $*" >&2; exit 1; }
# nice -n is relative to the current niceness; -N is absolute.
renice=()
if [ -n "$NICE" ]; then
	[[ $NICE =~ ^-?[0-9]+$ ]] || die "-N wants a niceness, got '$NICE'"
	renice=(nice -n $((NICE - $(nice))))
	[ "$("${renice[@]}" nice 2>/dev/null)" = "$NICE" ] ||
		die "cannot run at niceness $NICE (below 0 needs root)"
fi

[ -x "$peers/run-peers.sh" ] ||
	die "no peer kit at $peers (set LOOPD_PEERS to the folder of run-peers.sh)"
peers=$(cd "$peers" && pwd)

# ---- loopd -------------------------------------------------------------------
if [ -z "${LOOPD_BIN:-}" ]; then
	build=$root/build-bench
	if ! grep -qx 'CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt" 2>/dev/null; then
		cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
		    -DBUILD_TESTING=OFF >/dev/null || die "cmake could not configure $build"
	fi
	cmake --build "$build" -j "$(nproc)" >/dev/null || die "the build in $build failed"
	LOOPD_BIN=$build/loopd
fi
[ -x "$LOOPD_BIN" ] || die "LOOPD_BIN=$LOOPD_BIN is not an executable"
LOOPD_BIN=$(cd "$(dirname "$LOOPD_BIN")" && pwd)/$(basename "$LOOPD_BIN")
LOOPD_PLUGIN_DIR=${LOOPD_PLUGIN_DIR:-$(dirname "$LOOPD_BIN")/plugins}
[ -r "$LOOPD_PLUGIN_DIR/echo.so" ] || die "no echo.so in $LOOPD_PLUGIN_DIR (set LOOPD_PLUGIN_DIR)"
LOOPD_PLUGIN_DIR=$(cd "$LOOPD_PLUGIN_DIR" && pwd)
export LOOPD_BIN LOOPD_PLUGIN_DIR

# ---- the driver, on a private copy of the kit ----------------------------------
# run-peers.sh writes results/ next to itself (and copies itself to a fresh
# temp dir when its folder is read-only).  Running it from a copy made here
# tells us where the raw lines are, and leaves the kit untouched.
kit=$(mktemp -d "${TMPDIR:-/tmp}/loopd-bench.XXXXXX") || die "mktemp failed"
driver=
cleanup() {
	[ -n "$driver" ] && kill -TERM "$driver" 2>/dev/null && wait "$driver"
	rm -rf "$kit"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp -r "$peers/." "$kit/" && rm -rf "$kit/results" || die "cannot copy $peers"
chmod -R u+w "$kit"

contestant="$LOOPD=$(printf '%q' "$here/loopd-echo.sh")"
cmd=("${renice[@]}" ./run-peers.sh -o echo -k "$LOOPD,$RAW" -c "$CONNS" -r "$REPS" -d "$SECS"
	-s "$SIZE" "${NOPIN[@]}" -e "$contestant")
echo "run-echo: loopd $LOOPD_BIN, plugins $LOOPD_PLUGIN_DIR" >&2
echo "run-echo: peers $peers" >&2
# In the background, so that a SIGTERM to this script reaches it at once.
# Its table goes to results/ (saved below); its progress lines stay on stderr,
# but not its last line, which names files in the temp copy.
(cd "$kit" && exec "${cmd[@]}" >/dev/null 2> >(grep --line-buffered -v '^raw: results/' >&2)) &
driver=$!
wait "$driver"
status=$? driver=
raw=$(ls "$kit"/results/raw-*.tsv 2>/dev/null | head -n 1)
[ -n "$raw" ] || die "run-peers.sh failed (status $status) before its first run"

# ---- results -----------------------------------------------------------------
# Saved even when the driver failed: the server log says why.
stamp=$(basename "$raw" .tsv) stamp=${stamp#raw-}
out=$root/bench/results
mkdir -p "$out" || die "cannot create $out"
cp "$raw" "$out/echo-$stamp.raw.tsv"
cp "$kit/results/log-$stamp.txt" "$out/echo-$stamp.log" 2>/dev/null
cp "$kit/results/medians-$stamp.txt" "$out/echo-$stamp.peers.txt" 2>/dev/null
[ "$status" = 0 ] && [ -s "$raw" ] ||
	die "run-peers.sh failed (status $status); server log: $out/echo-$stamp.log"

table() {
	echo "# loopd echo vs raw libevent: medians of $REPS interleaved runs, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "# host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), Linux $(uname -r)"
	echo "# loopd: $LOOPD_BIN ($("$LOOPD_BIN" -V 2>/dev/null)), libevent $(pkg-config --modversion libevent 2>/dev/null)"
	echo "# load: $SIZE-byte messages, depth 1, $SECS s per run; pinning: $([ ${#NOPIN[@]} = 0 ] && echo "server CPU 1, client CPU 0" || echo none); niceness $("${renice[@]}" nice)"
	echo "# command: ${cmd[*]}"
	echo "# srv_us_req: CPU (user + system) of the server's whole session -- supervisor and worker -- per echo"
	awk -F'\t' -v L="$LOOPD" -v R="$RAW" -v target="$TARGET" -f "$here/echo-table.awk" "$raw"
}
table | tee "$out/echo-$stamp.txt"
echo "run-echo: raw lines $out/echo-$stamp.raw.tsv, table $out/echo-$stamp.txt" >&2
! grep -q '^[0-9]* runs failed\|^echo-load reported' "$out/echo-$stamp.txt"
