#!/bin/bash
# make bench: the library's added cost on the simulated GPU (whose own
# calls are cheap, so the library's share shows): alloc+free pair, kernel
# launch, process start.  Each is measured without and with the library,
# alternating, best of several runs.  On a real GPU use scripts/gpu-bench.sh.
set -u
cd "$(dirname "$0")/.."
B=$PWD/build T=$PWD/build/test W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export LD_LIBRARY_PATH=$B/sim SOFTMIG_SIM_STATE=$W/gpu.state TMPDIR=$W SLURM_JOB_ID=77
val() { sed 's/.*=//'; }
best() { sort -g | head -1; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
for i in 1 2 3; do
	"$T/bench_alloc" 20000 | val >> "$W/a0"
	CUDA_DEVICE_MEMORY_LIMIT=40g LD_PRELOAD=$B/libsoftmig.so "$T/bench_alloc" 20000 | val >> "$W/a1"
	"$T/bench_launch" /dev/null noop 1000 | val >> "$W/l0"
	CUDA_DEVICE_MEMORY_LIMIT=40g LD_PRELOAD=$B/libsoftmig.so "$T/bench_launch" /dev/null noop 1000 | val >> "$W/l1"
	"$T/dl_bench_spawn" 300 | val >> "$W/s0"
	LD_PRELOAD=$B/libsoftmig.so "$T/dl_bench_spawn" 300 | val >> "$W/s1"
done
a0=$(best < "$W/a0") a1=$(best < "$W/a1") l0=$(best < "$W/l0") l1=$(best < "$W/l1")
s0=$(best < "$W/s0") s1=$(best < "$W/s1")
echo "$(uname -n), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), simulated GPU, $(date -u +%F)"
echo
echo "| measure | without | with libsoftmig.so | added | target |"
echo "| --- | --- | --- | --- | --- |"
echo "| cuMemAlloc_v2 + cuMemFree_v2, ns/pair (12 GiB slice active) | $a0 | $a1 | $(sub "$a0" "$a1") | ≤ 2000 |"
echo "| cuLaunchKernel, ns/launch (no SM limit) | $l0 | $l1 | $(sub "$l0" "$l1") | ≤ 50 |"
echo "| start /bin/true, µs/process (preloaded, idle) | $s0 | $s1 | $(sub "$s0" "$s1") | ≤ 50 |"
