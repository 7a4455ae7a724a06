# exec-table.awk: medians and targets from run-exec.sh raw lines
# (WHO \t ROUND \t key=value ... | FAILED).
#
#   awk -F'\t' -f median.awk -f exec-table.awk RAW
#
# Jobs per second of each contestant; targets: loopd at least 0.8x
# raw-eventfd, and more than 10x asyncio.
$3 == "FAILED" { next }
{
	v = $3; sub(/.*jobs_s=/, "", v)
	n[$1]++; x[$1] = x[$1] " " v
}
function verdict(what, ok) {
	printf "target %s: %s\n", what, ok ? "met" : "MISSED"
}
END {
	printf "%-12s %12s %10s\n", "contestant", "jobs/s", "loopd is"
	split("loopd raw-eventfd raw-active asyncio", order, " ")
	if (n["loopd"]) l = median(x["loopd"])
	for (i = 1; i <= 4; i++) {
		w = order[i]
		if (!n[w]) { printf "%-12s %12s\n", w, "-"; continue }
		m = median(x[w])
		r = ""
		if (w != "loopd" && l > 0) r = sprintf("%.2fx", l / m)
		printf "%-12s %12.0f %10s\n", w, m, r
	}
	if (l && n["raw-eventfd"])
		verdict("loopd >= 0.8x raw-eventfd", l / median(x["raw-eventfd"]) >= 0.8)
	if (l && n["asyncio"])
		verdict("loopd > 10x asyncio", l / median(x["asyncio"]) > 10)
}
