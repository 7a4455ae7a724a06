# loop-table.awk: medians and targets from run-loop.sh raw lines
# (CASE \t WHO \t ROUND \t key=value ... | FAILED), WHO loopd, raw or rawc
# (raw libevent with common timeouts).
#
#   awk -F'\t' -f median.awk -f loop-table.awk RAW
#
# call_soon cases compare callbacks per second (target 0.9x raw); timer
# cases compare CPU per timer, raw / loopd (target 0.95x); rawc is shown.
$4 == "FAILED" { next }
{
	cb = $4; sub(/.*cb_s=/, "", cb); sub(/ .*/, "", cb)
	cpu = $4; sub(/.*cpu_ns=/, "", cpu); sub(/ .*/, "", cpu)
	n[$1, $2]++
	cbs[$1, $2] = cbs[$1, $2] " " cb
	cpus[$1, $2] = cpus[$1, $2] " " cpu
}
END {
	printf "%-10s %14s %14s %12s %12s %8s %-20s %s\n", "case",
	    "loopd cb/s", "raw cb/s", "loopd ns/cb", "raw ns/cb",
	    "ratio", "target", "raw common ns/cb, ratio"
	split("soon-1 soon-1000 oneshot periodic", order, " ")
	for (i = 1; i <= 4; i++) {
		c = order[i]
		if (!n[c, "loopd"] || !n[c, "raw"]) { printf "%-10s -\n", c; continue }
		lc = median(cbs[c, "loopd"]); rc = median(cbs[c, "raw"])
		lp = median(cpus[c, "loopd"]); rp = median(cpus[c, "raw"])
		if (c ~ /^soon/) { ratio = lc / rc; want = 0.9 }
		else { ratio = lp > 0 ? rp / lp : 0; want = 0.95 }
		common = "-"
		if (n[c, "rawc"]) {
			cp = median(cpus[c, "rawc"])
			common = sprintf("%.1f, %.2fx", cp, lp > 0 ? cp / lp : 0)
		}
		printf "%-10s %14.0f %14.0f %12.1f %12.1f %7.2fx %-20s %s\n", c,
		    lc, rc, lp, rp, ratio, (ratio >= want ? "met" : "MISSED") \
		    " (>= " want "x)", common
	}
}
