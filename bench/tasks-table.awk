# tasks-table.awk: medians and targets from run-tasks.sh raw lines
# (tasks \t NAME \t GRACE \t ROUND \t key=value ... | FAILED).
#
#   awk -F'\t' -v grace=30s -v dgrace=10s -v counts="1000 10000" -f median.awk -f tasks-table.awk RAW
#
# NAME is a task count, "1" (the base of memory per task) or "bundled"
# (conf/loopd.yaml).  Runs with grace `grace` make the main table; the run
# with grace `dgrace` at the largest count is shown apart.
$1 == "tasks" {
	g = $2 SUBSEP $3
	runs[g]++
	if ($5 == "FAILED") { failed++; next }
	ok[g]++
	n = split($5, kv, " ")
	for (i = 1; i <= n; i++) {
		eq = index(kv[i], "=")
		vals[g, substr(kv[i], 1, eq - 1)] = vals[g, substr(kv[i], 1, eq - 1)] " " substr(kv[i], eq + 1)
	}
}
function highest(s,    a, n, i, m) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) if (i == 1 || a[i] + 0 > m) m = a[i] + 0
	return n ? m : ""
}
function med(name, gr, key) { return median(vals[name SUBSEP gr, key]) }
function fmt(v) {
	if (v == "") return "-"
	return sprintf(v >= 100 || v == int(v) ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v)
}
function verdict(ok) { return ok ? "PASS" : "FAIL" }
# A time target at count n; the time is the median over the rounds.
function time_target(n, key, what, limit,    v) {
	v = med(n, grace, key)
	if (v == "") {
		printf "  %-44s NOT MEASURED (no run with %s tasks)\n", what, n
		return
	}
	printf "  %-44s %8.1f ms  %s\n", what, v, verdict(v < limit)
}
function row(name, gr, label,    g, base, pss) {
	g = name SUBSEP gr
	pss = med(name, gr, "sup_pss_kb") + med(name, gr, "worker_pss_kb")
	printf "%-8s %2d/%-2d %9s %9s %7s %7s %10s %10s %9s %8s\n", label, ok[g], runs[g],
	    fmt(med(name, gr, "ready_ms")), fmt(med(name, gr, "exit_ms")),
	    fmt(highest(vals[g, "forced"])), fmt(highest(vals[g, "status"])),
	    fmt(med(name, gr, "sup_pss_kb")), fmt(med(name, gr, "worker_pss_kb")),
	    (name + 0 > 1 && base_pss != "") ? sprintf("%.0f", (pss - base_pss) * 1024 / name) : "-",
	    fmt(med(name, gr, "lines"))
}
END {
	nc = split(counts, cnt, " ")
	base_pss = med(1, grace, "sup_pss_kb") == "" ? "" : \
	    med(1, grace, "sup_pss_kb") + med(1, grace, "worker_pss_kb")
	printf "\n== N idle ticker tasks on one loop, grace %s ==\n", grace
	printf "%-8s %5s %9s %9s %7s %7s %10s %10s %9s %8s\n", "tasks", "runs", "ready_ms",
	    "exit_ms", "forced", "status", "sup_kB", "worker_kB", "per_task", "lines"
	row(1, grace, "1")
	for (i = 1; i <= nc; i++) row(cnt[i], grace, cnt[i])
	last = cnt[nc]
	if (dgrace != "" && ((last, dgrace) in runs)) {
		printf "\n== %s tasks, grace %s%s, one run ==\n", last, dgrace, dgrace == "10s" ? " (loopd's default)" : ""
		row(last, dgrace, last)
	}
	g = "bundled" SUBSEP "10s"
	printf "\n== idle: conf/loopd.yaml (echo on port 0, ticker every 5s) ==\n"
	printf "%-8s %5s %9s %8s %8s %8s %10s %10s\n", "", "runs", "ready_ms", "workers",
	    "sup_kB", "sup_anon", "worker_kB", "worker_anon"
	printf "%-8s %2d/%-2d %9s %8s %8s %8s %10s %10s\n", "bundled", ok[g], runs[g],
	    fmt(med("bundled", "10s", "ready_ms")), fmt(med("bundled", "10s", "workers")),
	    fmt(med("bundled", "10s", "sup_pss_kb")), fmt(med("bundled", "10s", "sup_anon_kb")),
	    fmt(med("bundled", "10s", "worker_pss_max_kb")), fmt(med("bundled", "10s", "worker_anon_max_kb"))
	printf "(kB; worker: the larger of the two; anon: anonymous memory (heap, stacks), which does not\n"
	printf " move with the other processes that map the same libraries, as PSS does)\n"

	printf "\n"
	if (failed) printf "%d runs failed (see the failed logs in results/)\n", failed
	printf "targets (medians; per_task in bytes; kB = 1024 bytes):\n"
	time_target(10000, "ready_ms", "10000 tasks: READY=1 under 100 ms", 100)
	time_target(10000, "exit_ms", "10000 tasks: exit under 100 ms", 100)
	time_target(40000, "ready_ms", "40000 tasks: READY=1 under 1 s", 1000)
	time_target(40000, "exit_ms", "40000 tasks: exit under 1 s", 1000)
	for (x = 0; x < 2; x++) {
		gr = x ? dgrace : grace
		if (gr == "" || !((40000, gr) in runs)) continue
		v = highest(vals[40000 SUBSEP gr, "forced"])
		printf "  %-44s %8s     %s\n", "40000 tasks: no task forced, grace " gr, v, verdict(v == 0)
	}
	for (x = 0; x < 2; x++) {
		key = x ? "exit_ms" : "ready_ms"
		a = med(10000, grace, key); b = med(40000, grace, key)
		if (a == "" || b == "" || a == 0) continue
		printf "  %-44s %8.2fx     %s\n", "10k -> 40k: " (x ? "exit" : "READY") " time grows at most 4.5x", b / a, verdict(b / a <= 4.5)
	}
	if (base_pss != "" && med(last, grace, "sup_pss_kb") != "") {
		v = (med(last, grace, "sup_pss_kb") + med(last, grace, "worker_pss_kb") - base_pss) * 1024 / last
		printf "  %-44s %8.0f B   %s\n", "memory per idle task under 1536 B (" last ")", v, verdict(v < 1536)
	}
	v = med("bundled", "10s", "sup_pss_kb")
	if (v != "") {
		printf "  %-44s %8.0f kB  %s\n", "idle supervisor PSS at most 1.4 MiB (1434 kB)", v, verdict(v <= 1433.6)
		v = med("bundled", "10s", "worker_pss_max_kb")
		printf "  %-44s %8.0f kB  %s\n", "idle worker PSS at most 0.8 MiB (819 kB)", v, verdict(v <= 819.2)
	}
}
