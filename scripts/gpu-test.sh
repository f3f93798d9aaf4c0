#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make gpu-test: the memory slice on a real NVIDIA GPU (CUDA 12/13).
# Builds the CUDA C checks with nvcc, then runs the prebuilt test clients
# (build/test), PyTorch, CuPy, JAX and nvidia-smi under build/libsoftmig.so.
# Run from the repository root after `make` (the Go tools and the C clients
# are built on the CPU machine and carried over).  Prints PASS/FAIL lines and
# "N passed, N failed"; exits 1 on any failure, and 77 (automake's SKIP) with
# "SKIP: ..." when this machine has no NVIDIA GPU, so a script never takes a
# machine without a GPU for a passing run.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
LIB=$ROOT/build/libsoftmig.so
T=$ROOT/build/test
W=${GPU_TEST_DIR:-$(mktemp -d)}
mkdir -p "$W"
chmod 755 "$W"
PASS=0 FAIL=0 SKIPPED=0
ok() { PASS=$((PASS + 1)); printf 'PASS %s\n' "$*"; }
bad() { FAIL=$((FAIL + 1)); printf 'FAIL %s\n' "$*"; }
check() { local n=$1; shift; if "$@"; then ok "$n"; else bad "$n"; fi; }
GiB=$((1 << 30))
job() { printf '%s' "$((800000000 + RANDOM * 1000 + RANDOM % 1000))"; }
# Run a command in a fresh "job" with a slice (env mode, no Slurm here).
slice() { local gib=$1; shift; env SLURM_JOB_ID="$JOB" CUDA_DEVICE_MEMORY_LIMIT="${gib}g" TMPDIR="$W" \
	SOFTMIG_LOG_FILE="$W/softmig.log" LD_PRELOAD="$LIB" timeout 300 "$@"; }

SKIP_NO_GPU=77
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L; then
	echo "SKIP: no NVIDIA GPU here (nvidia-smi missing or failing): nothing tested, exit $SKIP_NO_GPU"
	exit $SKIP_NO_GPU
fi
NGPU=$(nvidia-smi -L | wc -l)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
NVCC=$(command -v nvcc || echo "$CUDA_HOME/bin/nvcc")
"$NVCC" --version | tail -1

# 1. Our ABI subset against the real headers.
INC=$(dirname "$(dirname "$NVCC")")/include
gcc -DREAL -I"$INC" -Itest/gpu -o "$W/abi_real" test/gpu/abi_check.c -lnvidia-ml 2>&1 | head -20
"$W/abi_real" > "$W/abi_real.txt"
gcc -Ipreload -Itest/gpu -o "$W/abi_ours" test/gpu/abi_check.c && "$W/abi_ours" > "$W/abi_ours.txt"
if cmp -s "$W/abi_real.txt" "$W/abi_ours.txt"; then
	ok "ABI subset matches cuda.h/nvml.h ($(wc -l < "$W/abi_ours.txt") sizes and offsets)"
else
	bad "ABI subset matches cuda.h/nvml.h"
	diff "$W/abi_real.txt" "$W/abi_ours.txt"
fi

# 2. cuGetProcAddress hands out the exported functions (hooks match by identity).
out=$("$T/dl_client" init proc:cuMemAlloc:13000:0:cuMemAlloc_v2 proc:cuLaunchKernel:13000:2:cuLaunchKernel_ptsz \
	proc:cuGetProcAddress:13000:0:cuGetProcAddress_v2 proc:cuMemGetInfo:12000:0:cuMemGetInfo_v2 \
	proc:cuCtxCreate:13000:0 proc:cuGraphLaunch:13000:0:cuGraphLaunch 2>&1)
echo "$out"
check "driver pointers are its exported symbols" test "$(grep -c 'match=1' <<<"$out")" -ge 5

# 3. Passive: the driver's own answers.
JOB=$(job)
a=$("$T/cuclient" init dev:0 devtotal | tail -1); b=$(LD_PRELOAD=$LIB "$T/cuclient" init dev:0 devtotal | tail -1)
check "passive cuDeviceTotalMem unchanged ($b)" test "$a" = "$b"
a=$(nvidia-smi --query-gpu=memory.total,name --format=csv,noheader)
b=$(LD_PRELOAD=$LIB nvidia-smi --query-gpu=memory.total,name --format=csv,noheader)
check "passive nvidia-smi unchanged ($b)" test "$a" = "$b"

# 4. A 12 GiB slice through the driver API, linked and through cuGetProcAddress.
for c in cuclient dl_client; do
	JOB=$(job)
	out=$(slice 12 "$T/$c" init dev:0 meminfo devtotal alloc:10g alloc:3g free alloc:3g)
	echo "$c: $out" | tr '\n' ' '; echo
	check "$c: total is the slice" grep -q "^meminfo rc=0 .* total=$((12 * GiB))$" <<<"$out"
	check "$c: devtotal is the slice" grep -qx "devtotal rc=0 total=$((12 * GiB))" <<<"$out"
	check "$c: past the slice refused" test "$(grep -o '^alloc rc=[0-9]*' <<<"$out" | tr '\n' ,)" = "alloc rc=0,alloc rc=2,alloc rc=0,"
done
JOB=$(job)
out=$(slice 12 "$T/cuclient" init dev:0 managed:8g async:3g pool:3g vmm:2g meminfo)
echo "paths: $out" | tr '\n' ' '; echo
check "managed/async/pool/vmm held to the slice" test "$(grep -Ec '^(managed|async|pool|vmm) rc=0' <<<"$out")$(grep -Ec '^(managed|async|pool|vmm) rc=2 ' <<<"$out")" = "22"

# 5. Frameworks.
PY=${PYTHON:-python3}
JOB=$(job); out=$(slice 12 "$PY" test/gpu/torch_slice.py 12 2>&1); echo "$out"
check "PyTorch: mem_get_info is the slice, past it OOM" grep -qx "torch ok" <<<"$out"
JOB=$(job); out=$(slice 12 "$PY" test/gpu/cupy_slice.py 12 2>&1); echo "$out" | tail -3
check "CuPy: memGetInfo is the slice, past it OOM" grep -qx "cupy ok" <<<"$out"
JOB=$(job); out=$(slice 12 "$PY" test/gpu/jax_slice.py 12 2>&1); echo "$out" | tail -3
check "JAX: pool within the slice, past it OOM" grep -qx "jax ok" <<<"$out"

# Fail closed: a malformed limit gives no GPU and one clear line.
out=$(CUDA_DEVICE_MEMORY_LIMIT=12X LD_PRELOAD=$LIB "$PY" -c 'import torch; torch.zeros(1, device="cuda")' 2>&1)
echo "$out" | grep -E "softmig|Error" | head -3
check "fail closed: torch gets no GPU, stderr says why" grep -q "softmig: GPU disabled for this process: environment variable CUDA_DEVICE_MEMORY_LIMIT" <<<"$out"

# 6. Two processes of one job share one slice.
JOB=$(job)
coproc HOLD { slice 12 "$PY" test/gpu/torch_hold.py 6; }
read -r line <&"${HOLD[0]}"
out=$(slice 12 "$PY" -c 'import torch,sys
try:
    x=torch.empty(6<<30,dtype=torch.uint8,device="cuda"); print("second=ALLOCATED")
except torch.OutOfMemoryError: print("second=OOM")
y=torch.empty(2<<30,dtype=torch.uint8,device="cuda"); print("small=OK")' 2>&1)
echo "$line / $out" | tr '\n' ' '; echo
check "two processes: the second 6 GiB is refused, 2 GiB fits" test "$(tr '\n' ' ' <<<"$out")" = "second=OOM small=OK "
out=$(slice 12 nvidia-smi --query-gpu=memory.total,memory.used --format=csv,noheader,nounits)
echo "nvidia-smi in the job: $out"
check "nvidia-smi under the library shows the 12288 MiB slice" grep -q '^12288, ' <<<"$out"
out=$(slice 12 nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader)
check "nvidia-smi lists the job's process" test -n "$out"
exec {HOLD[1]}>&-
wait

# 7. Per-device limits under CUDA_VISIBLE_DEVICES (two GPUs).
if [ "$NGPU" -ge 2 ]; then
	JOB=$(job)
	out=$(CUDA_VISIBLE_DEVICES=1 CUDA_DEVICE_MEMORY_LIMIT_0=8g slice 12 "$T/cuclient" init dev:0 meminfo)
	check "CUDA_VISIBLE_DEVICES=1: ordinal 0 gets _0's 8 GiB" grep -q "^meminfo rc=0 .* total=$((8 * GiB))$" <<<"$out"
	out=$(CUDA_DEVICE_MEMORY_LIMIT_1=4g slice 12 "$T/cuclient" init dev:1 meminfo dev:0 meminfo)
	check "two devices: 4 GiB on 1, 12 GiB on 0" test "$(grep -o ' total=[0-9]*$' <<<"$out" | tr '\n' ,)" = " total=$((4 * GiB)), total=$((12 * GiB)),"
else
	SKIPPED=$((SKIPPED + 1))
	echo "SKIP per-device limits: one GPU"
fi
# 8. A killed process never locks its job out, and a damaged region kills no
#    process (issue 13), on the real driver.
JOB=$(job)
# (A coprocess, waited for by its pid: a plain `wait` would also wait for
# a process substitution's sleep where bash does so.)
coproc FILL { slice 12 "$PY" test/gpu/torch_hold.py 10; }
FILL_PID_=$FILL_PID
read -r line <&"${FILL[0]}"
pkill -9 -f "torch_hold.py 10"
wait "$FILL_PID_" 2>/dev/null
out=$(slice 12 "$PY" -c 'import torch; x=torch.empty(10<<30,dtype=torch.uint8,device="cuda"); print("refill=OK")' 2>&1 | tail -1)
check "kill -9 of a process holding 10 of 12 GiB: the next process gets them back ($out)" test "$out" = "refill=OK"
JOB=$(job)
coproc HOLD2 { slice 12 "$PY" test/gpu/torch_hold.py 4; echo "exit=$?"; }
read -r line <&"${HOLD2[0]}"
for f in "$W"/*"$JOB"*.region; do [ -f "$f" ] && truncate -s 0 "$f"; done
out=$(slice 12 "$PY" -c 'import torch; x=torch.empty(2<<30,dtype=torch.uint8,device="cuda"); print("after=OK")' 2>&1; echo "exit=$?")
exec {HOLD2[1]}>&-
read -r held_exit <&"${HOLD2[0]}"
echo "region truncated: $line / $(tr '\n' ' ' <<<"$out") / holder $held_exit"
check "truncated region: the holder exits normally ($held_exit)" test "$held_exit" = "exit=0"
check "truncated region: a new process still allocates, no signal" grep -q "^exit=0" <<<"$(tail -1 <<<"$out")"
wait

grep -c . "$W/softmig.log" | sed 's/^/log lines: /'
echo "$PASS passed, $FAIL failed, $SKIPPED skipped"
[ "$FAIL" = 0 ]
