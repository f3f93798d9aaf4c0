#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# GPU time under softmig-guard's time authority on a real GPU (issue 20):
# single jobs under cap at 10/25/50/75, four busy quarters under cap and
# lend, lend with one busy job alone, two busy beside two idle, 30/70 with
# the 70 waking, a job that launches around the library, and the same loads
# with native time-slicing and HAMi-core.  Run as root from the repository
# root on the GPU machine with build/ carried over from `make` on the CPU
# machine (the library, build/bin/softmig-guard, build/test/dl_attack):
#
#   OUT=/tmp/out [HAMI_SRC=dir] [ONLY=softmig|others] scripts/gpu-time-bench.sh
#
# HAMI_SRC: a HAMi-core source tree (github.com/Project-HAMi/HAMi-core),
# built here with cmake for the comparison.  Writes $OUT/time.md.  About 4
# minutes.
set -eu
fail() { printf 'gpu-time-bench: %s\n' "$*" >&2; exit 1; }
out=${OUT:-out}
nvcc=${NVCC:-nvcc}
lib=$PWD/build/libsoftmig.so
for f in "$lib" build/bin/softmig-guard build/test/dl_attack; do
	[ -e "$f" ] || fail "$f missing: run make on the CPU machine and carry build/ over"
done
mkdir -p build/gpu "$out"
"$nvcc" -O2 -o build/gpu/burner test/gpu/burner.cu || fail "nvcc burner.cu failed"
arch=sm_$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
"$nvcc" -cubin -arch="$arch" -o build/gpu/burner.cubin test/gpu/burner.cu || fail "nvcc -cubin burner.cu failed"
# Everything the jobs (nobody) run, where nobody can reach it.
w=$(mktemp -d)
cp -r build/libsoftmig.so build/gpu/burner build/gpu/burner.cubin build/test/dl_attack "$w/"
chmod -R a+rX "$w"
chmod 755 "$w"
set --
if [ -n "${HAMI_SRC:-}" ]; then
	mkdir -p "$w/hami" && (cd "$w/hami" && cmake -DCMAKE_BUILD_TYPE=Release -DCMAKE_POLICY_VERSION_MINIMUM=3.5 "$HAMI_SRC" >/dev/null && make -j8 vgpu >/dev/null) &&
		set -- --hami "$w/hami/libvgpu.so" || echo "gpu-time-bench: HAMi-core did not build: no comparison" >&2
	chmod -R a+rX "$w"
fi
unset LD_PRELOAD CUDA_DEVICE_SM_LIMIT
exec timeout 560 python3 test/gpu/time_bench.py --lib "$w/libsoftmig.so" --guard build/bin/softmig-guard \
	--burner "$w/burner" --cubin "$w/burner.cubin" --attack "$w/dl_attack" --out "$out" --secs "${SECS:-8}" ${ONLY:+--only "$ONLY"} "$@"
