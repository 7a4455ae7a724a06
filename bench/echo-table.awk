# echo-table.awk: medians of loopd vs raw libevent from run-echo.sh raw lines
# (echo \t NAME \t conns=N \t REP \t key=value ... | FAILED).
#
#   awk -F'\t' -v L=loopd-echo -v R=libevent-raw -v target=1.10 -f median.awk -f echo-table.awk RAW
#
# Per connection count: the median of each column for every server (R and
# L first, then the others, such as asyncio and uvloop), then L/R of those
# medians.  The target line compares srv_us_req (server CPU per echo)
# at 50 connections, or at the largest count when 50 was not run, and also
# lists the ratio of each round (L and R ran back to back in every round),
# and the median ratio over the rounds in which both servers were saturated
# (srv_cpu >= 0.90): only those compare the servers and not the machine;
# and the lowest value of each, since noise on the machine only adds CPU.
BEGIN {
	ncol = split("rps p50_us p99_us srv_cpu cli_cpu srv_us_req", col, " ")
	split("rps p50_us p99_us srv_us_req", r, " ")
	for (i in r) ratioed[r[i]] = 1
}
$1 == "echo" {
	c = $3; sub(/^conns=/, "", c)
	if (!($2 in named)) { named[$2] = 1; if ($2 != L && $2 != R) others[++nothers] = $2 }
	if (!(c in seen)) { seen[c] = 1; conns[++nconns] = c }
	runs[c, $2]++
	if ($5 == "FAILED") { failed++; next }
	ok[c, $2]++
	n = split($5, kv, " ")
	for (i = 1; i <= n; i++) {
		eq = index(kv[i], "=")
		k = substr(kv[i], 1, eq - 1); v = substr(kv[i], eq + 1)
		vals[c, $2, k] = vals[c, $2, k] " " v
		if (k == "srv_us_req") round[c, $2, $4] = v
		if (k == "srv_cpu") busy[c, $2, $4] = v
		if (k == "errors") errors += v
	}
	if (($2 == L || $2 == R) && !((c, $4) in rseen)) { rseen[c, $4] = 1; rounds[c] = rounds[c] " " $4 }
}
function lowest(s,    a, n, i, m) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) if (i == 1 || a[i] + 0 < m) m = a[i] + 0
	return m
}
function fmt(v) {
	if (v == "") return "-"
	return sprintf(v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v)
}
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2fx", a / b) }
function row(c, name,    i) {
	printf "%-14s %2d/%-2d", name, ok[c, name], runs[c, name]
	for (i = 1; i <= ncol; i++) printf " %10s", fmt(median(vals[c, name, col[i]]))
	printf "\n"
}
END {
	for (x = 1; x <= nconns; x++) {
		c = conns[x]
		printf "\n== echo, %s connection%s ==\n%-14s %5s", c, c == 1 ? "" : "s", "contestant", "runs"
		for (i = 1; i <= ncol; i++) printf " %10s", col[i]
		printf "\n"
		row(c, R); row(c, L)
		for (i = 1; i <= nothers; i++) row(c, others[i])
		printf "%-14s %5s", "loopd/raw", ""
		for (i = 1; i <= ncol; i++)
			printf " %10s", col[i] in ratioed ? ratio(median(vals[c, L, col[i]]), median(vals[c, R, col[i]])) : ""
		printf "\n"
		for (o = 1; o <= nothers; o++) {
			printf "%-14s %5s", substr(others[o], 1, 10) "/raw", ""
			for (i = 1; i <= ncol; i++)
				printf " %10s", col[i] in ratioed ? ratio(median(vals[c, others[o], col[i]]), median(vals[c, R, col[i]])) : ""
			printf "\n"
		}
	}
	tc = ""
	for (x = 1; x <= nconns; x++) if (conns[x] == 50) tc = 50
	if (tc == "") for (x = 1; x <= nconns; x++) if (tc == "" || conns[x] + 0 > tc + 0) tc = conns[x]
	printf "\n"
	if (failed) printf "%d runs failed (see the server log)\n", failed
	if (errors) printf "echo-load reported %d errors\n", errors
	lv = median(vals[tc, L, "srv_us_req"]); rv = median(vals[tc, R, "srv_us_req"])
	if (lv == "" || rv == "" || rv == 0) {
		printf "target: CPU per echo <= %.2fx raw libevent: NOT MEASURED (no %s or %s result at %s connections)\n", target, L, R, tc
		exit
	}
	q = lv / rv
	printf "target: CPU per echo <= %.2fx raw libevent (srv_us_req, %s connections): loopd %.2f us / raw %.2f us = %.2fx  %s\n", \
	    target, tc, lv, rv, q, q <= target + 0 ? "PASS" : "FAIL"
	n = split(rounds[tc], rr, " "); s = ""; sat = ""; nsat = 0; npair = 0
	for (i = 1; i <= n; i++) {
		if (!((tc, L, rr[i]) in round && (tc, R, rr[i]) in round && round[tc, R, rr[i]] > 0))
			continue
		q = round[tc, L, rr[i]] / round[tc, R, rr[i]]
		npair++
		s = s sprintf(" %.2f", q)
		if (busy[tc, L, rr[i]] >= 0.9 && busy[tc, R, rr[i]] >= 0.9) {
			nsat++; sat = sat " " q; s = s "*"
		}
	}
	printf "  ratio in each round:%s\n", s
	lo = lowest(vals[tc, L, "srv_us_req"]); ro = lowest(vals[tc, R, "srv_us_req"])
	printf "  lowest of any round (noise only adds CPU): loopd %.2f us / raw %.2f us = %.2fx\n", lo, ro, (ro > 0 ? lo / ro : 0)
	printf "  rounds where both servers were saturated (srv_cpu >= 0.90, marked *): %d of %d", nsat, npair
	if (nsat) printf "; median ratio %.2fx", median(sat)
	printf "\n"
	if (nsat * 2 < npair)
		printf "  warning: in most rounds a server was not saturated: other work shared the CPUs, so CPU per echo\n  is inflated and the ratio is noisy; run again on a quiet machine, with more rounds, or with -N -10\n"
}
