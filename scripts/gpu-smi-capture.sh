#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Captures the real nvidia-smi's outputs on the GPU machine into
# cmd/softmig-smi/testdata/real/ (run from the repository root), so that the
# layout tests and goldens can be checked against the real thing. Commit the
# files it writes; TestRealLayout then compares the fixed parts of the layout.
#
#   scripts/gpu-smi-capture.sh
#
# Environment: NVIDIA_SMI (default nvidia-smi.real or nvidia-smi on PATH).
# Start a GPU process first (the script does, if python3 with torch exists)
# so that the process table and --query-compute-apps are not empty.

set -eu

# Helper functions
fail() { printf 'gpu-smi-capture: %s\n' "$*" >&2; exit 1; }
cap() {
	name=$1; shift
	rc=0; "$real" "$@" >"$out/$name.txt" 2>&1 || rc=$?
	printf '%s\n' "$rc" >"$out/$name.rc"
	printf '  %s (exit %s): %s\n' "$name" "$rc" "$*"
}

# Beginning of actual script
real=${NVIDIA_SMI:-$(command -v nvidia-smi.real || command -v nvidia-smi || true)}
[ -n "$real" ] || fail "no real nvidia-smi found: set NVIDIA_SMI"
out=cmd/softmig-smi/testdata/real
mkdir -p "$out"

holder=
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
	python3 -c 'import torch, time; x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda"); time.sleep(30)' &
	holder=$!
	sleep 8
fi

printf 'capturing %s into %s\n' "$real" "$out"
cap default
cap list -L
cap id0 -i 0
cap q -q
cap q-i0 -q -i 0
cap q-memory -q -d MEMORY
cap q-utilization -q -d UTILIZATION
cap q-pids -q -d PIDS
cap q-mem-util-pids -q -d MEMORY,UTILIZATION,PIDS
cap query-gpu --query-gpu=index,name,uuid,pci.bus_id,driver_version,memory.total,memory.used,memory.free,utilization.gpu,utilization.memory --format=csv
cap query-gpu-nounits --query-gpu=memory.total,memory.used,memory.free,utilization.gpu,fan.speed,power.draw,temperature.gpu --format=csv,noheader,nounits
cap query-gpu-more --query-gpu=timestamp,count,serial,pci.domain,pci.bus,pci.device,pci.device_id,pci.sub_device_id,persistence_mode,display_mode,display_active,pstate,memory.reserved,power.limit,enforced.power.limit,clocks.sm,clocks.gr,clocks.mem,clocks.max.sm,compute_mode,compute_cap,mig.mode.current,ecc.errors.uncorrected.volatile.total --format=csv
cap query-apps --query-compute-apps=pid,process_name,used_gpu_memory,gpu_uuid,gpu_bus_id --format=csv
cap query-apps-aliases --query-compute-apps=timestamp,gpu_name,gpu_serial,name,used_memory --format=csv
cap query-bad-field --query-gpu=no.such.field --format=csv
cap bad-id -i 99
cap help-query-gpu --help-query-gpu
cap help-query-compute-apps --help-query-compute-apps
cap version --version
[ -z "$holder" ] || kill "$holder" 2>/dev/null || true
printf 'done; review and commit %s\n' "$out"
