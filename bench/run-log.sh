#!/usr/bin/env bash
# run-log.sh: log records per second that reach stderr, loopd against one
# process writing the same records.
#
# usage: bench/run-log.sh [options]
#   -r N        rounds (3); each runs both writers once on each sink
#   -n COUNT    records per run (1000000)
#   -c CHUNK    records the flood plugin logs per loopd_call_soon() (1000)
#   -s "LIST"   sinks: file (a file on tmpfs), pipe (a pipe read by
#               grep -cF, which counts the records) ("file pipe")
#   -h          this help
# Environment:
#   LOOPD_BIN         the loopd to measure; unset, a Release build is made
#                     (or brought up to date) in build-bench/
#
# loopd runs one loop with one task of the flood plugin (bench/plugins/
# flood.c): it logs COUNT records of about 100 bytes of message, in chunks
# from loopd_call_soon(), then ends.  The worker sends them to the
# supervisor, which writes them to stderr.  The peer, log-flood, builds the
# same records with loopd's log module in a single process and writes them
# to stderr the same way.  Both are timed from exec to exit (loopd gets
# SIGTERM as soon as the plugin says it has logged its last record; it
# exits once everything queued is written).  Nothing is pinned: loopd's
# supervisor and worker work on both CPUs at once.
# Target: loopd's records per second >= 0.9x the single process's.
# Check: records written + the "dropped" fields of log_dropped records ==
# COUNT (on the file sink, where every line can be read).
# Table and raw lines: bench/results/log-STAMP.{txt,raw.tsv}.
# Exit status: 0 when every run ran (whether the target passed or not),
# 1 when something could not run.

set -uo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
ROUNDS=3 COUNT=1000000 CHUNK=1000 SINKS="file pipe"

usage() { sed -n '5,/^$/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while getopts "r:n:c:s:h" opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;; n) COUNT=$OPTARG ;; c) CHUNK=$OPTARG ;;
	s) SINKS=$OPTARG ;; h) usage ;; *) usage 2 ;;
	esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "-r wants a number of rounds"
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "-n wants a number of records"
[[ $CHUNK =~ ^[1-9][0-9]*$ ]] || die "-c wants a number of records"
for s in $SINKS; do [[ $s == file || $s == pipe ]] || die "-s: unknown sink '$s' (file, pipe)"; done
command -v python3 >/dev/null || die "python3 is needed (bench/notify-run.py)"

bench_loopd
bench_tools
bench_scratch
bench_stamp
raw=$out/log-$stamp.raw.tsv
: >"$raw"

sock=$scratch/notify
conf=$scratch/flood.yaml
cat >"$conf" <<YAML
log:
  level: info
  format: json
  target: stderr
shutdown:
  grace: 30s
loops:
  - name: flood
    backend: epoll
    tasks:
      - name: flood
        plugin: flood
        config:
          count: $COUNT
          chunk: $CHUNK
          notify: $sock
YAML

# Flood lines and the drop notices in a log file:
#   "lines=N dropped=D notices=K other_dropped=E other_notices=J"
# D sums "dropped" over records of event log_dropped; E over records that
# have a "dropped" field but not that event.
count_file() {
	awk -v pat='"msg":"flood record ' '
		index($0, pat) { lines++; next }
		/"dropped":[0-9]/ {
			v = $0; sub(/.*"dropped":/, "", v); v += 0
			if (index($0, "\"event\":\"log_dropped\"")) { d += v; k++ }
			else { e += v; j++ }
		}
		END { printf "lines=%d dropped=%d notices=%d other_dropped=%d other_notices=%d", lines, d, k, e, j }' "$1"
}

failed=0
# run SINK WRITER ROUND
run() {
	local sink=$1 who=$2 err=$scratch/$1-$2.log count=$scratch/count line secs extra=
	local argv=(--stderr "$err")
	secs=$((COUNT / 20000 + 60))
	[ "$sink" = pipe ] && argv=(--stderr "|grep -cF '\"msg\":\"flood record ' >$count")
	if [ "$who" = loopd ]; then
		line=$(python3 "$here/notify-run.py" "${argv[@]}" --socket "$sock" --wait FLOOD_DONE \
		    --timeout "$secs" -- "$LOOPD_BIN" -c "$conf" -P "$BENCH_BUILD/plugins")
	else
		line=$(python3 "$here/notify-run.py" "${argv[@]}" --plain --timeout "$secs" -- \
		    "$BENCH_BUILD/log-flood" "$COUNT")
	fi
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		printf 'log\t%s\t%s\t%s\tFAILED\n' "$sink" "$who" "$3" >>"$raw"
		[ -f "$err" ] && cp "$err" "$out/log-$stamp.$sink-$who.failed.log"
		echo "  $sink $who round $3: FAILED" >&2
		return
	fi
	if [ "$sink" = file ]; then
		extra=$(count_file "$err")
	else
		extra="lines=$(cat "$count")"
	fi
	line+=" $extra"
	printf 'log\t%s\t%s\t%s\t%s\n' "$sink" "$who" "$3" "$line" >>"$raw"
	printf '  %-4s %-6s round %s/%s  %s\n' "$sink" "$who" "$3" "$ROUNDS" "$line" >&2
	rm -f "$err"
}

echo "$prog: loopd $LOOPD_BIN, plugin $BENCH_BUILD/plugins/flood.so, scratch $scratch" >&2
for ((r = 1; r <= ROUNDS; r++)); do
	for s in $SINKS; do
		run "$s" single "$r"
		run "$s" loopd "$r"
	done
done

table() {
	echo "# log records reaching stderr: loopd (flood plugin) against one process (log-flood), medians of $ROUNDS rounds, $(date -u '+%Y-%m-%d %H:%M UTC')"
	bench_host
	echo "# $COUNT records, message $(awk '/define FLOOD_MSG_LEN/ { print $3 }' "$here/flood.h") bytes, chunk $CHUNK; log.level info, format json; no pinning"
	echo "# time: exec to exit; records/s: flood records written / time; cpu_us: user + system of every process of the writer, per record written"
	awk -F'\t' -v count="$COUNT" -v sinks="$SINKS" -f "$here/median.awk" -f "$here/log-table.awk" "$raw"
}
table | tee "$out/log-$stamp.txt"
echo "$prog: raw lines $raw, table $out/log-$stamp.txt" >&2
[ "$failed" = 0 ] || die "$failed runs failed"
