#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Compute-slicing accuracy and overhead benchmark on a real GPU (issue 3).
# Run from the repository root on the GPU machine, with build/ carried over
# from a `make` on the CPU machine (build/libsoftmig.so, build/test/bench_launch):
#
#   OUT=/tmp/out scripts/gpu-compute-bench.sh
#
# Builds test/gpu/burner.cu and test/gpu/empty.cu with nvcc, then runs
# test/gpu/compute_bench.py: a CUDA C burner, a PyTorch matmul loop and a
# CUDA-graph loop at SM limits 10, 25, 50, 75 (SECS each, default 12), two
# jobs at 30/70, four quarter jobs, and the launch overhead.  Writes
# $OUT/compute.md and $OUT/compute.png (copy them to docs/benchmarks.md and
# docs/compute.png).  Takes about 6 minutes.
#
# Environment: OUT (default ./out), SECS, LOADS (default burner,matmul,graph),
# LIMITS (default 10,25,50,75), NVCC (default nvcc), NO_SLOTS (set: no time slots).

set -eu

# Helper functions
fail() { printf 'gpu-compute-bench: %s\n' "$*" >&2; exit 1; }

# Beginning of actual script
out=${OUT:-out}
nvcc=${NVCC:-nvcc}
lib=$PWD/build/libsoftmig.so
[ -f "$lib" ] || fail "$lib missing: run make on the CPU machine and carry build/ over"
command -v "$nvcc" >/dev/null || fail "no nvcc: set NVCC"
mkdir -p build/gpu "$out"
"$nvcc" -O2 -o build/gpu/burner test/gpu/burner.cu || fail "nvcc burner.cu failed"
set --
if [ -x build/test/bench_launch ]; then
	arch=sm_$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
	"$nvcc" -cubin -arch="$arch" -o build/gpu/empty.cubin test/gpu/empty.cu || fail "nvcc empty.cu failed"
	set -- --bench-launch build/test/bench_launch --cubin build/gpu/empty.cubin
fi
# The loads must not inherit a preload or limit from this shell.
unset LD_PRELOAD CUDA_DEVICE_SM_LIMIT
exec timeout 530 python3 test/gpu/compute_bench.py --lib "$lib" --burner build/gpu/burner --out "$out" \
	${NO_SLOTS:+--no-slots} --secs "${SECS:-12}" --loads "${LOADS:-burner,matmul,graph}" --limits "${LIMITS:-10,25,50,75}" "$@"
