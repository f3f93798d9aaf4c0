#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A job's processes attaching to one GPU at once, with and without the
# library, in the same run (issue 25).  N PyTorch processes of one job
# (default 64) import torch, wait at one gate, and are released together;
# each then makes its context and 16 MiB (test/gpu/torch_attach.py).  Each
# repetition (default 5) runs without the library, then with it (and with
# OLD_LIB, another build of libsoftmig.so, when set), every library run a
# new job with a fresh region and a slice of 90 % of GPU 0.  While the N
# processes hold, test/gpu/nvml_cost.c times the NVML calls of the
# library's memory check on this driver.
#
#   scripts/gpu-start.sh            N=64 REPS=5 by default
#   N=64 REPS=5 OLD_LIB=/path/libsoftmig.so scripts/gpu-start.sh
#
# Run from the repository root with build/ from the CPU machine (`make`);
# needs python3 with torch, gcc, nvidia-smi.  Prints a markdown table (and
# writes it, with every process's output, under $OUT when set).  Exits 1
# when a process failed to attach or the library refused anything.
set -u
cd "$(dirname "$0")/.."
N=${N:-64} REPS=${REPS:-5}
LIB=$PWD/build/libsoftmig.so
W=${OUT:-$(mktemp -d)}/gpu-start
mkdir -p "$W"
PY=${PYTHON:-python3}
fail() { echo "gpu-start: $*" >&2; exit 1; }
command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null || { echo "SKIP: no NVIDIA GPU"; exit 77; }
[ -f "$LIB" ] || fail "no $LIB: run make on the CPU machine and bring build/"
"$PY" -c 'import torch; assert torch.cuda.is_available()' || fail "PyTorch cannot see the GPU"
gcc -O2 -Ipreload -o "$W/nvml_cost" test/gpu/nvml_cost.c -ldl || fail "cannot build nvml_cost"
TOTAL_MIB=$(nvidia-smi -i 0 --query-gpu=memory.total --format=csv,noheader,nounits | tr -d ' ')
SLICE=$((TOTAL_MIB * 9 / 10))m
now() { date +%s.%N; }
# count FILE... PATTERN: how many of the files have a line starting so.
count() { local p=$1 n=0 f; shift; for f in "$@"; do grep -q "^$p" "$f" 2>/dev/null && n=$((n + 1)); done; echo $n; }
wait_for() { # what pattern seconds
	local t=0
	until [ "$(count "$2" "$D"/out.*)" -ge "$N" ]; do
		sleep 0.1
		t=$((t + 1))
		[ $t -le $(($3 * 10)) ] || fail "$1: $(count "$2" "$D"/out.*) of $N after $3 s (see $D)"
	done
}

# Opens FIFO for writing and closes it: every process waiting in its open
# for reading goes on.
release() { timeout 60 sh -c ': > "$1"' release "$1" || fail "nobody waits at $1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# One start: mode none|lib|old; appends "mode gate_s launch_s median_s
# nvml_cost..." to $W/runs.
run() {
	local mode=$1 rep=$2 lib= job=$((700000000 + RANDOM * 1000 + RANDOM % 1000)) i t_launch t_gate last pids=()
	case $mode in lib) lib=$LIB ;; old) lib=$OLD_LIB ;; esac
	D=$W/$mode.$rep
	rm -rf "$D" && mkdir -p "$D"
	mkfifo "$D/go" "$D/hold"
	t_launch=$(now)
	for i in $(seq "$N"); do
		if [ -n "$lib" ]; then
			env SLURM_JOB_ID="$job" CUDA_DEVICE_MEMORY_LIMIT="$SLICE" TMPDIR="$D" SOFTMIG_LOG_FILE="$D/softmig.log" \
			    LD_PRELOAD="$lib" "$PY" test/gpu/torch_attach.py "$D/go" "$D/hold" > "$D/out.$i" 2> "$D/err.$i" &
		else
			"$PY" test/gpu/torch_attach.py "$D/go" "$D/hold" > "$D/out.$i" 2> "$D/err.$i" &
		fi
		pids+=($!)
	done
	wait_for "$mode import" imported 600
	sleep 1 # every process from its "imported" into the FIFO's open
	t_gate=$(now)
	release "$D/go"
	wait_for "$mode attach" attached 600
	"$W/nvml_cost" 100 > "$D/nvml_cost"
	release "$D/hold"
	wait "${pids[@]}" # the N processes, not the guard beside them
	if [ -n "$lib" ] && grep -qs 'msg="oom refused"' "$D/softmig.log"; then
		fail "$mode: the library refused something: $(grep -m3 'oom refused' "$D/softmig.log")"
	fi
	grep -h '^attached' "$D"/out.* | awk '{ print $2 }' > "$D/attached"
	last=$(sort -g "$D/attached" | tail -1)
	echo "$mode $(awk -v a="$last" -v g="$t_gate" -v l="$t_launch" 'BEGIN { printf "%.3f %.3f", a - g, a - l }') \
$(awk -v g="$t_gate" '{ print $1 - g }' "$D/attached" | median) $(cat "$D/nvml_cost")" | tee -a "$W/runs"
}

GUARDED="not running"
# The GPU's softmig-guard runs through every mode, as on a node: its used
# file spares each library process its own first NVML process-list read
# (docs/contracts.md, section 10).  GUARD=no leaves it out.
if [ "${GUARD:-yes}" = yes ] && [ "$(id -u)" = 0 ] && [ -x build/bin/softmig-guard ]; then
	printf 'metrics:\n  enabled: false\n' > "$W/guard.yaml"
	build/bin/softmig-guard --library "$LIB" --config "$W/guard.yaml" > "$W/guard.log" 2>&1 &
	GUARD_PID=$! GUARDED=running
	trap 'kill $GUARD_PID 2>/dev/null' EXIT
	for _ in $(seq 100); do grep -q 'used file: GPU 0' "$W/guard.log" && break; sleep 0.1; done
	grep -q 'used file: GPU 0' "$W/guard.log" || fail "softmig-guard published no used file: $(cat "$W/guard.log")"
fi

modes="none lib"
[ -n "${OLD_LIB:-}" ] && modes="$modes old"
rm -f "$W/runs"
for rep in $(seq "$REPS"); do
	for m in $modes; do
		run "$m" "$rep"
	done
done

stats() { # mode column: min–max (median)
	awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$W/runs" | sort -g |
		awk '{ v[NR] = $1 } END { printf "%.2f–%.2f (median %.2f)", v[1], v[NR], NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
{
	echo "$(nvidia-smi -i 0 --query-gpu=name,driver_version --format=csv,noheader), $(nproc) cores, $N processes, $REPS repetitions, slice $SLICE, softmig-guard $GUARDED, $(date -u +%F)"
	echo
	echo "| library | gate → all attached, s | launch → all attached (import torch, and 1 s at the gate), s | one process's attach (median), s |"
	echo "| --- | --- | --- | --- |"
	for m in $modes; do
		echo "| $m | $(stats "$m" 2) | $(stats "$m" 3) | $(stats "$m" 4) |"
	done
	echo
	echo "NVML calls of the library's check on this driver, $N processes holding (test/gpu/nvml_cost.c, mean per call):"
	awk '{ printf "  %s:", $1; for (i = 5; i <= NF; i++) printf " %s", $i; print "" }' "$W/runs"
} | tee "$W/summary.md"
