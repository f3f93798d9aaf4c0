#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Compares softmig-smi with the real nvidia-smi field by field on the GPU
# machine (run from the repository root, as root, with build/ copied there).
#
#   scripts/gpu-smi-compare.sh
#
# 1. outside a job: every field, line and error text must match the real
#    nvidia-smi (numbers that move between two runs are compared by layout);
# 2. inside a job: a fake job 999999 (SLURM_JOB_ID, a config in a private
#    --softmig-dir with a 20g slice and 25 % SM) and a GPU process of that job
#    (python3 with torch, if present): softmig-smi must show the slice's
#    totals and exactly that process, with the real nvidia-smi's numbers;
# 3. an environment slice (CUDA_DEVICE_MEMORY_LIMIT=16g) outside a job.
# Environment: SMI (default build/bin/softmig-smi), NVIDIA_SMI (the real one).
# Exit status: 0 when every check passed.

set -u

# Helper functions
ok=0; bad=0
pass() { ok=$((ok + 1)); printf 'ok    %s\n' "$*"; }
failc() { bad=$((bad + 1)); printf 'FAIL  %s\n' "$*"; }
info() { printf 'info  %s\n' "$*"; }
# same NAME A B: A and B must be equal
same() {
	if [ "$2" = "$3" ]; then pass "$1"; else
		failc "$1"; printf '%s\n' "$2" >"$tmp/a"; printf '%s\n' "$3" >"$tmp/b"
		diff "$tmp/a" "$tmp/b" | sed 's/^/      /'
	fi
}
mask() { sed -e '1s/^[A-Z][a-z][a-z] .*[0-9][0-9][0-9][0-9] *$/DATE/' -e 's/[0-9][0-9]*\(\.[0-9]*\)\{0,1\}/N/g'; }
# without the admin's table of slices (from the blank line before it)
noslices() { awk '/^\| SoftMig slices:/ { exit } { buf[NR] = $0 } END { n = NR; if (buf[n - 1] == "") n -= 2; for (i = 1; i <= n; i++) if (i in buf) print buf[i] }'; }
real_smi() { "$real" "$@" 2>&1; }
ours() { "$smi" --real "$real" "$@" 2>&1; }

# Beginning of actual script
smi=${SMI:-build/bin/softmig-smi}
real=${NVIDIA_SMI:-$(command -v nvidia-smi.real || command -v nvidia-smi || true)}
[ -x "$smi" ] || { printf 'no %s: build it with make tools\n' "$smi" >&2; exit 2; }
[ -n "$real" ] || { printf 'no real nvidia-smi: set NVIDIA_SMI\n' >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"; [ -z "${holder:-}" ] || kill "$holder" 2>/dev/null' EXIT
export SOFTMIG_NVIDIA_SMI="$real"
unset SLURM_JOB_ID CUDA_DEVICE_MEMORY_LIMIT CUDA_DEVICE_SM_LIMIT CUDA_VISIBLE_DEVICES || true
empty="$tmp/none"   # no slices outside a job: an empty --softmig-dir

printf '== outside a job: %s vs %s\n' "$smi" "$real"
static="index name uuid pci.bus_id driver_version count serial memory.total memory.reserved pci.domain pci.bus pci.device pci.device_id pci.sub_device_id minor_number persistence_mode display_mode display_active compute_mode compute_cap mig.mode.current mig.mode.pending power.limit enforced.power.limit clocks.max.sm clocks.max.gr clocks.max.mem ecc.errors.uncorrected.volatile.total fan.speed pstate"
for f in $static; do
	same "--query-gpu=$f" "$(real_smi --query-gpu="$f" --format=csv)" "$(ours --softmig-dir="$empty" --query-gpu="$f" --format=csv)"
done
for f in memory.used memory.free utilization.gpu utilization.memory temperature.gpu power.draw clocks.sm clocks.mem timestamp; do
	r=$(real_smi --query-gpu="$f" --format=csv); o=$(ours --softmig-dir="$empty" --query-gpu="$f" --format=csv)
	same "--query-gpu=$f (layout)" "$(printf '%s\n' "$r" | mask)" "$(printf '%s\n' "$o" | mask)"
	info "$f: real $(printf '%s' "$r" | tail -n +2 | tr '\n' ' ')/ ours $(printf '%s' "$o" | tail -n +2 | tr '\n' ' ')"
done
same "--query-gpu=memory.used,memory.total --format=csv,noheader,nounits (layout)" \
	"$(real_smi --query-gpu=memory.used,memory.total --format=csv,noheader,nounits | mask)" \
	"$(ours --softmig-dir="$empty" --query-gpu=memory.used,memory.total --format=csv,noheader,nounits | mask)"
same "-L" "$(real_smi -L)" "$(ours --softmig-dir="$empty" -L)"
same "-i 0 -L" "$(real_smi -i 0 -L)" "$(ours --softmig-dir="$empty" -i 0 -L)"
same "default view (layout)" "$(real_smi | mask)" "$(ours --softmig-dir="$empty" | noslices | mask)"
same "-i 0 (layout)" "$(real_smi -i 0 | mask)" "$(ours --softmig-dir="$empty" -i 0 | noslices | mask)"
for d in MEMORY UTILIZATION PIDS MEMORY,UTILIZATION,PIDS; do
	# nvidia-smi prints more sections than softmig-smi: each of our lines must be in its output
	real_smi -q -d "$d" | mask >"$tmp/r"
	missing=$(ours --softmig-dir="$empty" -q -d "$d" | mask | while IFS= read -r l; do grep -qxF -- "$l" "$tmp/r" || printf '%s\n' "$l"; done)
	same "-q -d $d (our lines in nvidia-smi's, layout)" "" "$missing"
done
real_smi -q | mask >"$tmp/r"
missing=$(ours --softmig-dir="$empty" -q | mask | while IFS= read -r l; do grep -qxF -- "$l" "$tmp/r" || printf '%s\n' "$l"; done)
same "-q (our lines in nvidia-smi's, layout)" "" "$missing"
same "--query-compute-apps" "$(real_smi --query-compute-apps=pid,process_name,used_memory,gpu_uuid --format=csv | sort)" \
	"$(ours --softmig-dir="$empty" --query-compute-apps=pid,process_name,used_memory,gpu_uuid --format=csv | sort)"
rc_r=0; r=$("$real" -i 99 2>&1) || rc_r=$?
rc_o=0; o=$("$smi" --real "$real" --softmig-dir="$empty" -i 99 2>&1) || rc_o=$?
same "-i 99 (text and exit status)" "$r exit=$rc_r" "$o exit=$rc_o"

printf '== inside a job (SLURM_JOB_ID=999999, 20g, 25%% SM)\n'
mkdir -p "$tmp/softmig" && chmod 755 "$tmp" "$tmp/softmig"
printf 'CUDA_DEVICE_MEMORY_LIMIT=20g\nCUDA_DEVICE_SM_LIMIT=25\n' >"$tmp/softmig/999999.conf"
chmod 644 "$tmp/softmig/999999.conf"
holder=
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
	SLURM_JOB_ID=999999 python3 -c 'import torch, time; x = torch.empty(3 << 30, dtype=torch.uint8, device="cuda"); y = torch.randn(4096, 4096, device="cuda")
t = time.time()
while time.time() - t < 40: y = y @ y; y /= y.norm()' &
	holder=$!
	sleep 10
else
	info "no python3 with torch: the job has no GPU process"
fi
job() { SLURM_JOB_ID=999999 "$smi" --real "$real" --softmig-dir="$tmp/softmig" "$@" 2>&1; }
n=$(real_smi --query-gpu=count --format=csv,noheader | head -n 1)
same "memory.total is the slice" "$(yes 20480 | head -n "$n")" "$(job --query-gpu=memory.total --format=csv,noheader,nounits)"
if [ -n "$holder" ]; then
	same "only the job's process" "$holder" "$(job --query-compute-apps=pid --format=csv,noheader | sort -u)"
	r=$(real_smi --query-compute-apps=pid,used_memory --format=csv,noheader | grep "^$holder,")
	same "its used memory is nvidia-smi's" "$r" "$(job --query-compute-apps=pid,used_memory --format=csv,noheader)"
	used=$(printf '%s' "$r" | sed 's/.*, \([0-9]*\) MiB/\1/')
	gpu=$(real_smi --query-compute-apps=pid,gpu_bus_id --format=csv,noheader | grep "^$holder," | sed 's/.*, //')
	same "memory.used/free on its GPU" "$used, $((20480 - used))" "$(job -i "$gpu" --query-gpu=memory.used,memory.free --format=csv,noheader,nounits)"
	info "job utilization.gpu $(job -i "$gpu" --query-gpu=utilization.gpu --format=csv,noheader) vs device $(real_smi -i "$gpu" --query-gpu=utilization.gpu --format=csv,noheader)"
	job | grep -q "$holder" && pass "default view lists the job's process" || failc "default view lists the job's process"
fi
others=$(real_smi --query-compute-apps=pid --format=csv,noheader | grep -v "^${holder:-none}\$" || true)
for p in $others; do
	job | grep -qw "$p" && failc "another process ($p) shows inside the job" || pass "pid $p (not the job's) is hidden"
done
printf '== admin view of the job\n'
"$smi" --real "$real" --softmig-dir="$tmp/softmig" --slices
same "slices: job 999999 listed" "yes" "$("$smi" --real "$real" --softmig-dir="$tmp/softmig" --slices --format=csv,noheader | grep -q ', 999999, ' && echo yes)"

printf '== environment slice outside a job (16g)\n'
same "memory.total is 16g" "$(yes 16384 | head -n "$n")" \
	"$(CUDA_DEVICE_MEMORY_LIMIT=16g "$smi" --real "$real" --softmig-dir="$empty" --query-gpu=memory.total --format=csv,noheader,nounits)"

printf '\n%d ok, %d failed\n' "$ok" "$bad"
[ "$bad" -eq 0 ]
