#!/bin/bash
# softmig-guard on a real NVIDIA GPU: jobs that fill their slice through the
# library (PyTorch, two processes, 30 s) are never killed, and escapes (a
# process without the library, a dlmopen'd libcuda) are killed, with the time
# from crossing the slice to the kill.  Needs root, a writable cgroup tree,
# setpriv, PyTorch; run from the repository root after `make` (build/ carried
# over).  Prints PASS/FAIL lines and "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
W=${GPU_TEST_DIR:-$(mktemp -d)}
LOGS=${OUT:-$W}
RUNDIR=$(sed -n 's/^RUNDIR *?= *//p' internal/defs/defs.mk)
LOGDIR=$(sed -n 's/^LOGDIR *?= *//p' internal/defs/defs.mk)
PY=${PYTHON:-python3}
PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); printf 'PASS %s\n' "$*"; }
bad() { FAIL=$((FAIL + 1)); printf 'FAIL %s\n' "$*"; }
nvidia-smi -L || { echo "no GPU here"; exit 0; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

# Everything the unprivileged jobs run, where nobody can read it.
mkdir -p "$W/b" "$RUNDIR" "$LOGDIR"
cp -r build/libsoftmig.so build/test "$W/b/"
chmod -R a+rX "$W"
chmod 1777 "$W"
LIB=$W/b/libsoftmig.so T=$W/b/test

CG=
for base in /sys/fs/cgroup/freezer /sys/fs/cgroup/pids /sys/fs/cgroup; do
	[ -e "$base/cgroup.procs" ] && mkdir -p "$base/slurm_gg/uid_65534" 2>/dev/null && CG=$base/slurm_gg/uid_65534 && break
done
[ -n "$CG" ] || { echo "no writable cgroup tree: cannot make job cgroups"; exit 1; }

# newjob GIB: a job cgroup and a root-written config with a GIB slice on GPU 0.
newjob() {
	J=$((800000000 + RANDOM * 1000 + RANDOM % 1000))
	mkdir -p "$CG/job_$J"
	printf 'CUDA_DEVICE_MEMORY_LIMIT=%sg\nSOFTMIG_GPU_0=0\nSOFTMIG_REGION=%s\n' "$1" "$W/$J.region" > "$RUNDIR/$J.conf"
	chmod 644 "$RUNDIR/$J.conf"
}
# injob CMD...: run as nobody in job $J's cgroup.
injob() { sh -c 'echo $$ > "$0" && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"' "$CG/job_$J/cgroup.procs" \
	env HOME="$W" TMPDIR="$W" SOFTMIG_LOG_FILE="$W/lib.log" "$@"; }
ms() { date +%s%3N; }

build/bin/softmig-guard --library "$LIB" > "$LOGS/guard.log" 2>&1 &
GUARD=$!
sleep 1

# 1. Two PyTorch processes fill a 12 GiB slice to the library's refusal and
#    hold it 30 s (both make their contexts first: a slice already full
#    refuses a new context, as it must).
FILL='import sys, time, torch
torch.zeros(1, device="cuda")  # the context first: a full slice refuses a new one
time.sleep(6)
xs = []
step = 64 << 20
while True:
    try:
        xs.append(torch.empty(step, dtype=torch.uint8, device="cuda")); xs[-1].fill_(1)
    except torch.OutOfMemoryError:
        break
torch.cuda.synchronize()
print("filled", sum(x.numel() for x in xs), flush=True)
sys.stdin.read()
print("alive")'
newjob 12; GOOD=$J
(sleep 32 | injob LD_PRELOAD="$LIB" "$PY" -c "$FILL" > "$W/fill1.out" 2>&1) &
P1=$!
sleep 2
(sleep 30 | injob LD_PRELOAD="$LIB" "$PY" -c "$FILL" > "$W/fill2.out" 2>&1) &
P2=$!
sleep 10
nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader | tee "$LOGS/apps.txt"
wait $P1 $P2
cat "$W/fill1.out" "$W/fill2.out"
if [ "$(grep -c '^alive' "$W/fill1.out" "$W/fill2.out" | awk -F: '{s+=$2} END {print s}')" = 2 ] && ! grep -q "job=$GOOD " "$LOGDIR/$GOOD.log" 2>/dev/null; then
	ok "two PyTorch processes at the library's limit of a 12 GiB slice, 30 s: untouched"
else
	bad "PyTorch at the slice's limit was killed: $(cat "$LOGDIR/$GOOD.log" 2>/dev/null)"
fi

# 2. Escapes: no library; a dlmopen'd libcuda.
for how in nolib dlmopen; do
	newjob 12
	if [ $how = nolib ]; then set -- "$T/cuclient"; else set -- env LD_PRELOAD="$LIB" "$T/dl_dlmopen"; fi
	coproc C { injob "$@" init dev:0 alloc:13g ready hold; }
	CP=$C_PID
	while read -r line <&"${C[0]}"; do [ "$line" = ready ] && break; done
	t0=$(ms)
	wait $CP; rc=$?
	t1=$(ms)
	if [ $rc = 137 ] && grep -q 'msg="guard kill" reason=escape' "$LOGDIR/$J.log" 2>/dev/null; then
		ok "$how: killed $((t1 - t0)) ms after crossing the slice"
	else
		bad "$how: exit $rc after $((t1 - t0)) ms, log: $(cat "$LOGDIR/$J.log" 2>/dev/null)"
	fi
	cat "$LOGDIR/$J.log" 2>/dev/null
done

kill -TERM $GUARD; wait $GUARD
cat "$LOGS/guard.log"
rm -f "$RUNDIR"/8*.conf
rmdir "$CG"/job_* 2>/dev/null
echo "$PASS passed, $FAIL failed"
[ $FAIL = 0 ]
