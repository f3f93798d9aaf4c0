#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make bench: what libsoftmig.so adds, measured against the null driver
# (test/bench/nulldriver.c: a libcuda.so.1 whose calls do nothing, and
# nullnvml.c beside it), so that only the library's own cost shows:
# alloc+free pair, context creation, kernel launch, and the start of a
# process that has it preloaded.  Each is measured without and with the
# library, alternating, best of several runs.  Then, on the simulated GPU,
# a job's processes starting CUDA together (bench_start), on the machine as
# it is and with two CPU burners: without and with the library, alternating,
# the range of STORM_RUNS runs (default 3) and the difference of medians.
# On a real GPU use scripts/gpu-bench.sh and scripts/gpu-start.sh.
set -u
cd "$(dirname "$0")/.."
B=$PWD/build T=$PWD/build/test W=$(mktemp -d)
BURNERS=
trap 'kill $BURNERS 2>/dev/null; rm -rf "$W"' EXIT
export TMPDIR=$W SLURM_JOB_ID=77
printf 'metrics:\n  enabled: false\n' > "$W/guard.yaml"
LIB=$B/libsoftmig.so
STORM_PROCS=${STORM_PROCS:-200} STORM_RUNS=${STORM_RUNS:-3}
val() { sed 's/.*=//'; }
best() { sort -g | head -1; }
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", b - a }'; }
null() { LD_LIBRARY_PATH=$B/bench "$@"; }
# An SM limit with the job's gate open needs the time file of the null
# driver's GPU (its UUID: test/bench/nulldriver.c) in the run directory,
# root's: a stand-in authority writes it for the run.
GATE=skip
if [ "$(id -u)" = 0 ]; then
	mkfifo "$W/authority.in"
	"$B/bench/timeauthority" GPU-005a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a "$SLURM_JOB_ID" < "$W/authority.in" > "$W/authority.out" &
	exec 3> "$W/authority.in"
	for _ in $(seq 50); do grep -q ready "$W/authority.out" 2>/dev/null && GATE=open && break; sleep 0.1; done
fi
for i in 1 2 3; do
	null "$T/bench_alloc" 200000 | val >> "$W/a0"
	CUDA_DEVICE_MEMORY_LIMIT=40g LD_PRELOAD=$LIB null "$T/bench_alloc" 200000 | val >> "$W/a1"
	null "$T/bench_ctx" 20000 | sed 's/ .*//' | val >> "$W/c0"
	CUDA_DEVICE_MEMORY_LIMIT=40g LD_PRELOAD=$LIB null "$T/bench_ctx" 20000 | sed 's/ .*//' | val >> "$W/c1"
	null "$T/bench_launch" none empty 1000000 10 | val >> "$W/l0"
	# Active without an SM limit (the OOM killer alone).
	ACTIVE_OOM_KILLER=1 LD_PRELOAD=$LIB null "$T/bench_launch" none empty 1000000 10 | val >> "$W/l1"
	[ $GATE = open ] && CUDA_DEVICE_SM_LIMIT=50 LD_PRELOAD=$LIB null "$T/bench_launch" none empty 1000000 10 | val >> "$W/l2"
	# A job the authority does not know: the static slot, the first 99 % of each second.
	SLURM_JOB_ID=78 CUDA_DEVICE_SM_LIMIT=99 LD_PRELOAD=$LIB null "$T/bench_launch" none empty 1000000 10 | val >> "$W/l3"
	"$T/dl_bench_spawn" 300 | val >> "$W/s0"
	LD_PRELOAD=$LIB "$T/dl_bench_spawn" 300 | val >> "$W/s1"
done
exec 3>&-
wait
a0=$(best < "$W/a0") a1=$(best < "$W/a1") c0=$(best < "$W/c0") c1=$(best < "$W/c1")
l0=$(best < "$W/l0") l1=$(best < "$W/l1") l3=$(best < "$W/l3")
s0=$(best < "$W/s0") s1=$(best < "$W/s1")
l2=skipped d2="(needs root to write the time file)"
[ $GATE = open ] && l2=$(best < "$W/l2") && d2=$(sub "$l0" "$l2")

# One start of a new job: its own simulated GPU and region.  Contexts cost
# 1 MiB so that every process fits the 16 GiB slice.  As root, the GPU's
# softmig-guard runs beside it, as on a node (its used file spares each
# process its own first NVML read); the processes are root's, whom it
# charges nothing, but it looks at them all.
storm() {
	local d g=
	d=$(mktemp -d "$W/storm.XXXXXX")
	set -- env TMPDIR="$d" SOFTMIG_SIM_STATE="$d/sim.state" SOFTMIG_SIM_MEMORY=48g SOFTMIG_SIM_CTX_MEMORY=1m \
	    LD_LIBRARY_PATH="$B/sim" "$@"
	if [ "$(id -u)" = 0 ]; then
		"$@" LD_PRELOAD= "$B/bin/softmig-guard" --library "$LIB" --config "$W/guard.yaml" > "$d/guard.log" 2>&1 &
		g=$!
		for _ in $(seq 100); do grep -q 'used file: GPU 0' "$d/guard.log" && break; sleep 0.1; done
		grep -q 'used file: GPU 0' "$d/guard.log" || echo "bench: the storm's guard published no used file: $(cat "$d/guard.log")" >&2
	fi
	"$@" CUDA_DEVICE_MEMORY_LIMIT=16g SOFTMIG_LOG_FILE="$d/log" "$T/bench_start" "$STORM_PROCS" > "$d/out"
	[ -z "$g" ] || { kill "$g"; wait "$g" 2>/dev/null; }
	# A start where a process got no context or memory is not a time.
	grep -q ' failed=0$' "$d/out" || { echo "bench_start $*: $(cat "$d/out")" >&2; echo NaN; }
	grep ' failed=0$' "$d/out" | sed 's/ .*//' | val
	rm -rf "$d"
}
storms() {
	for i in $(seq "$STORM_RUNS"); do
		storm >> "$W/$1.0"
		storm LD_PRELOAD="$LIB" >> "$W/$1.1"
	done
}
load=$(cut -d' ' -f1-3 /proc/loadavg)
storms idle
for i in 1 2; do
	sh -c 'while :; do :; done' &
	BURNERS="$BURNERS $!"
done
storms busy
kill $BURNERS
BURNERS=

echo "$(uname -n), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), null driver and simulated GPU, $(date -u +%F), load average before the starts: $load"
echo
echo "| measure | without | with libsoftmig.so | added | target |"
echo "| --- | --- | --- | --- | --- |"
echo "| cuMemAlloc_v2 + cuMemFree_v2, ns/pair (40 GiB slice active) | $a0 | $a1 | $(sub "$a0" "$a1") | ≤ 2000 |"
echo "| cuCtxCreate_v2, ns/context (40 GiB slice, context size known) | $c0 | $c1 | $(sub "$c0" "$c1") | ≤ 5000 |"
echo "| cuLaunchKernel, ns/launch (library active, no SM limit) | $l0 | $l1 | $(sub "$l0" "$l1") | ≤ 50 |"
echo "| cuLaunchKernel, ns/launch (SM limit 50, the job's gate open) | $l0 | $l2 | $d2 | ≤ 2 over the row above |"
echo "| cuLaunchKernel, ns/launch (SM limit 99, no entry for the job: in its static slot) | $l0 | $l3 | $(sub "$l0" "$l3") | degraded mode |"
echo "| start /bin/true, µs/process (preloaded, idle) | $s0 | $s1 | $(sub "$s0" "$s1") | ≤ 50 |"
for k in idle busy; do
	case $k in idle) what="as it is" target="≤ +100" ;; *) what="two CPU burners" target="≤ +300" ;; esac
	echo "| $STORM_PROCS processes start CUDA at once, ms (simulated GPU, $what) | $(range < "$W/$k.0") | $(range < "$W/$k.1") | $(sub "$(median < "$W/$k.0")" "$(median < "$W/$k.1")") | $target |"
done

# GPU time under the node's time authority (softmig-guard) on the
# simulated GPU, with the issue's own bounds (SOFTMIG_TIME_STRICT=1): the
# same tests make test runs with loose lower bounds, here alone on the
# machine. And the guard's own cost on 8 GPUs with 32 jobs.
echo
echo "GPU time and the flooded guard's CPU under softmig-guard (simulated GPU, strict bounds):"
GO=${GO:-go}
rc=0
# Not the job and the private TMPDIR of the benches above: the tests make
# their own jobs, and run them as nobody from their temporary directories.
unset SLURM_JOB_ID
export TMPDIR=/tmp
strict() { # pattern output
	SOFTMIG_TIME_STRICT=1 "$GO" test -count=1 -v -run "$1" ./cmd/softmig-guard > "$2" 2>&1
	local r=$?
	grep -E '(time|looks)_test.go:[0-9]+: |^(--- |ok|FAIL)' "$2" | sed 's/^ *//'
	return $r
}
if ! strict 'TestTime|TestMapsFlood' "$W/time.out"; then
	# A bound missed once is measured again, once: a strict bound on a
	# shared 2-core machine meets the odd stolen tick.  Twice is a fault.
	failed=$(sed -n 's/^--- FAIL: \(Test[A-Za-z]*\) .*/\1/p' "$W/time.out" | paste -sd'|')
	echo "again, once: $failed"
	strict "^(${failed:-TestTime})\$" "$W/time2.out" || rc=1
fi
SOFTMIG_GUARD_COST=30s "$GO" test -count=1 -v -run 'TestGuardCost' ./cmd/softmig-guard > "$W/cost.out" 2>&1 || rc=1
grep -E 'cost_test.go:[0-9]+: |^(--- |ok|FAIL)' "$W/cost.out" | sed 's/^ *//'
exit $rc
