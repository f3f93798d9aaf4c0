#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Times softmig-smi against the real nvidia-smi (run on the GPU machine,
# from the repository root, after `make tools` on the build machine).
#
#   scripts/bench-smi.sh [RUNS]        default 50 runs per case
#
# Environment: SMI (default build/bin/softmig-smi), NVIDIA_SMI (the real one:
# nvidia-smi.real or nvidia-smi on PATH). Prints a Markdown table for
# docs/benchmarks.md: mean and median wall time per run, in milliseconds.

set -eu

# Helper functions
fail() { printf 'bench-smi: %s\n' "$*" >&2; exit 1; }
now_ns() { date +%s%N; }

# time_case NAME CMD...: run CMD RUNS times, print one table row
time_case() {
	name=$1; shift
	"$@" >/dev/null 2>&1 || fail "$name: '$*' failed"
	i=0; : >"$tmp"
	while [ "$i" -lt "$runs" ]; do
		t0=$(now_ns); "$@" >/dev/null 2>&1; t1=$(now_ns)
		printf '%s\n' $(( (t1 - t0) / 1000 )) >>"$tmp"
		i=$((i + 1))
	done
	sort -n "$tmp" | awk -v name="$name" '
		{ v[NR] = $1; s += $1 }
		END { med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "| %s | %.1f | %.1f | %.1f |\n", name, s / NR / 1000, med / 1000, v[1] / 1000 }'
}

# Beginning of actual script
runs=${1:-50}
smi=${SMI:-build/bin/softmig-smi}
real=${NVIDIA_SMI:-$(command -v nvidia-smi.real || command -v nvidia-smi || true)}
[ -x "$smi" ] || fail "no $smi: build it with 'make tools' and copy build/ here"
[ -n "$real" ] && [ -x "$real" ] || fail "no real nvidia-smi found: set NVIDIA_SMI"
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT

printf '%s, %s, %s runs each, %s\n\n' "$(hostname)" \
	"$("$real" --query-gpu=name,driver_version --format=csv,noheader | head -n 1)" "$runs" "$(date -u +%Y-%m-%d)"
printf '| case | mean ms | median ms | min ms |\n| --- | --- | --- | --- |\n'
time_case "nvidia-smi (default view)" "$real"
time_case "softmig-smi, admin (default view + slices)" "$smi" --real "$real"
time_case "softmig-smi, 16g slice (default view)" env CUDA_DEVICE_MEMORY_LIMIT=16g "$smi" --real "$real"
time_case "nvidia-smi --query-gpu=memory.used,memory.total --format=csv" "$real" --query-gpu=memory.used,memory.total --format=csv
time_case "softmig-smi --query-gpu=memory.used,memory.total --format=csv" "$smi" --real "$real" --query-gpu=memory.used,memory.total --format=csv
time_case "nvidia-smi -L" "$real" -L
time_case "softmig-smi -L" "$smi" --real "$real" -L
