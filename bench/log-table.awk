# log-table.awk: medians, ratio and accounting from run-log.sh raw lines
# (log \t SINK \t WRITER \t ROUND \t key=value ... | FAILED).
#
#   awk -F'\t' -v count=1000000 -v sinks="file pipe" -f median.awk -f log-table.awk RAW
#
# WRITER is loopd or single.  records/s is flood lines written over the time
# from exec to exit.  On the file sink, every round of loopd is checked:
# lines + dropped (event log_dropped) == count.
$1 == "log" {
	g = $2 SUBSEP $3
	runs[g]++
	if ($5 == "FAILED") { failed++; next }
	ok[g]++
	delete f
	n = split($5, kv, " ")
	for (i = 1; i <= n; i++) {
		eq = index(kv[i], "=")
		f[substr(kv[i], 1, eq - 1)] = substr(kv[i], eq + 1)
	}
	secs = f["total_ms"] / 1000
	add(g, "rps", secs > 0 ? f["lines"] / secs : 0)
	add(g, "lines", f["lines"])
	add(g, "secs", secs)
	add(g, "cpu_s", f["cpu_s"])
	add(g, "cpu_us", f["lines"] > 0 ? f["cpu_s"] * 1e6 / f["lines"] : 0)
	if ("dropped" in f) {
		add(g, "dropped", f["dropped"])
		add(g, "other", f["other_dropped"])
		if ($3 == "loopd") {
			nacc[$2]++
			acc[$2] = acc[$2] sprintf(" %d", f["lines"] + f["dropped"] - count)
			if (f["lines"] + f["dropped"] == count) accok[$2]++
			other[$2] += f["other_dropped"]; othern[$2] += f["other_notices"]
			if (f["lines"] + f["dropped"] + f["other_dropped"] == count) accother[$2]++
		}
	}
}
function add(g, k, v) { vals[g, k] = vals[g, k] " " v }
function fmt(v) {
	if (v == "") return "-"
	return sprintf(v >= 100 || v == int(v) ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v)
}
function row(s, w,    g) {
	g = s SUBSEP w
	printf "%-14s %2d/%-2d %10s %10s %9s %8s %7s %8s\n", w, ok[g], runs[g],
	    fmt(median(vals[g, "rps"])), fmt(median(vals[g, "lines"])),
	    fmt(median(vals[g, "dropped"])), fmt(median(vals[g, "secs"])),
	    fmt(median(vals[g, "cpu_s"])), fmt(median(vals[g, "cpu_us"]))
}
END {
	ns = split(sinks, sk, " ")
	for (x = 1; x <= ns; x++) {
		s = sk[x]
		printf "\n== %s ==\n", s == "file" ? "stderr to a file on tmpfs" : "stderr to a pipe read by grep -cF"
		printf "%-14s %5s %10s %10s %9s %8s %7s %8s\n", "writer", "runs", "records/s", "written",
		    "dropped", "time_s", "cpu_s", "cpu_us"
		row(s, "single"); row(s, "loopd")
		a = median(vals[s SUBSEP "loopd", "rps"]); b = median(vals[s SUBSEP "single", "rps"])
		q[s] = (a == "" || b == "" || b == 0) ? "" : a / b
		printf "%-14s %5s %10s\n", "loopd/single", "", q[s] == "" ? "-" : sprintf("%.2fx", q[s])
	}
	printf "\n"
	if (failed) printf "%d runs failed\n", failed
	for (x = 1; x <= ns; x++) {
		s = sk[x]
		if (q[s] == "")
			printf "target: loopd >= 0.90x single process, %s: NOT MEASURED\n", s
		else
			printf "target: loopd >= 0.90x single process (records/s), %s: %.2fx  %s\n", s, q[s],
			    (q[s] >= 0.9 ? "PASS" : "FAIL")
	}
	if (!("file" in nacc)) {
		printf "accounting: NOT MEASURED (needs the file sink)\n"
		exit
	}
	printf "accounting, file: written + dropped (event log_dropped) == %d in %d of %d loopd runs; difference per round:%s\n",
	    count, accok["file"], nacc["file"], acc["file"]
	if (othern["file"])
		printf "  records with a \"dropped\" field but no event log_dropped: %d, dropped %d in all (written + those == %d in %d of %d runs)\n",
		    othern["file"], other["file"], count, accother["file"], nacc["file"]
}
