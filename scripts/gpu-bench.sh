#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Overhead of libsoftmig.so on a real GPU: alloc+free pair, kernel launch,
# process start, each with and without the library (a slice active, no SM
# limit).  Prints a markdown table.  Run from the repo root after `make`.
set -u
cd "$(dirname "$0")/.."
LIB=$PWD/build/libsoftmig.so T=$PWD/build/test W=$(mktemp -d)
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
CC_ARCH=sm_$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
"$NVCC" -cubin -arch="$CC_ARCH" -o "$W/empty.cubin" test/gpu/empty.cu || exit 1
export TMPDIR=$W SLURM_JOB_ID=77
val() { sed 's/.*=//'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
a0=$("$T/bench_alloc" 20000 | val); a1=$(CUDA_DEVICE_MEMORY_LIMIT=40g LD_PRELOAD=$LIB "$T/bench_alloc" 20000 | val)
l0=$("$T/bench_launch" "$W/empty.cubin" empty 100000 | val)
l1=$(CUDA_DEVICE_MEMORY_LIMIT=40g LD_PRELOAD=$LIB "$T/bench_launch" "$W/empty.cubin" empty 100000 | val)
s0=$("$T/dl_bench_spawn" 1000 | val); s1=$(LD_PRELOAD=$LIB "$T/dl_bench_spawn" 1000 | val)
echo "| measure | without | with libsoftmig.so | added |"
echo "| --- | --- | --- | --- |"
echo "| cuMemAlloc_v2 + cuMemFree_v2 (1 MiB), ns/pair | $a0 | $a1 | $(sub "$a0" "$a1") |"
echo "| cuLaunchKernel (empty kernel, async), ns/launch | $l0 | $l1 | $(sub "$l0" "$l1") |"
echo "| start /bin/true, µs/process | $s0 | $s1 | $(sub "$s0" "$s1") |"
