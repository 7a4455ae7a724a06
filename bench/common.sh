# common.sh: what the bench/run-*.sh scripts share; sourced, not run.
# shellcheck shell=bash
#
# Sets $here (bench/), $root (the repository) and $prog (for messages), and
# defines:
#   die MSG...          print "PROG: MSG" on stderr and exit 1
#   bench_loopd         build or find loopd: sets LOOPD_BIN and
#                       LOOPD_PLUGIN_DIR (absolute), exported
#   bench_tools         build the bench's own programs (Makefile) into
#                       $BENCH_BUILD: echo-raw, echo-load, flood.so, log-flood
#   bench_scratch       a new directory on a tmpfs (TMPDIR when it is one,
#                       else /dev/shm), removed on exit: sets $scratch
#   bench_host          the "# host:" and "# loopd:" header lines of a table
#   bench_stamp         sets $stamp (UTC date and time) and $out (results/)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
prog=$(basename "$0" .sh)
BENCH_BUILD=${BENCH_BUILD:-$root/build-bench/bench}

die() { echo "$prog: $*" >&2; exit 1; }

# Without LOOPD_BIN: a Release build in build-bench/, configured once and
# brought up to date on every run.
bench_loopd() {
	local build=$root/build-bench
	if [ -z "${LOOPD_BIN:-}" ]; then
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
	[ -d "$LOOPD_PLUGIN_DIR" ] || die "no plugin directory $LOOPD_PLUGIN_DIR (set LOOPD_PLUGIN_DIR)"
	LOOPD_PLUGIN_DIR=$(cd "$LOOPD_PLUGIN_DIR" && pwd)
	export LOOPD_BIN LOOPD_PLUGIN_DIR
}

# The log peer links the same log module as LOOPD_BIN: libloopd_core.a of
# that build when it is there, else daemon/log.c compiled with -O3.
bench_tools() {
	local core
	core=$(dirname "$LOOPD_BIN")/libloopd_core.a
	[ -r "$core" ] || core=
	make -s -C "$here" O="$BENCH_BUILD" LOOPD_CORE="$core" >&2 ||
		die "make in bench/ failed (libevent-dev, libjansson-dev?)"
}

bench_scratch() {
	local t=${TMPDIR:-/tmp}
	[ "$(stat -f -c %T "$t" 2>/dev/null)" = tmpfs ] || t=/dev/shm
	[ "$(stat -f -c %T "$t" 2>/dev/null)" = tmpfs ] || die "no tmpfs (TMPDIR or /dev/shm)"
	scratch=$(mktemp -d "$t/loopd-$prog.XXXXXX") || die "mktemp in $t failed"
	trap 'rm -rf "$scratch"' EXIT
	trap 'exit 130' INT TERM
}

bench_host() {
	echo "# host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), Linux $(uname -r)"
	echo "# loopd: $LOOPD_BIN ($("$LOOPD_BIN" -V 2>/dev/null)), libevent $(pkg-config --modversion libevent 2>/dev/null)"
}

bench_stamp() {
	# shellcheck disable=SC2034 # used by the scripts
	stamp=$(date -u +%Y%m%d-%H%M%S)
	out=$here/results
	mkdir -p "$out" || die "cannot create $out"
}
