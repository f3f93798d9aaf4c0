#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# softmig-guard on a real NVIDIA GPU: jobs that fill their slice through the
# library (PyTorch, two processes, 30 s) are never killed, and escapes (a
# process without the library, a dlmopen'd libcuda) are killed, with the time
# from crossing the slice to the kill; a job process in a PID namespace of
# its own (unshare -p -f) is held to the job's slice with the library and
# killed as an escape without it.  Needs root, a writable cgroup tree,
# setpriv, unshare, PyTorch; run from the repository root after `make` (build/ carried
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

# injob_ns CMD...: as injob, in a PID namespace of its own with its own /proc
# (Apptainer's --pid and --containall).
injob_ns() { sh -c 'echo $$ > "$0" && exec unshare -p -f --mount-proc setpriv --reuid=65534 --regid=65534 --clear-groups "$@"' \
	"$CG/job_$J/cgroup.procs" env HOME="$W" TMPDIR="$W" SOFTMIG_LOG_FILE="$W/lib.log" "$@"; }
# nspid: the host pid of job $J's process that runs in a namespace of its own.
nspid() { for p in $(cat "$CG/job_$J/cgroup.procs"); do
	[ "$(awk '/^NSpid:/ {print NF}' /proc/$p/status 2>/dev/null)" = 3 ] && [ "$(cat /proc/$p/comm)" = cuclient ] && echo $p; done; }
# startc NAME CMD...: a client in the background that holds until
# `release NAME` closes its stdin (a FIFO); its output in $W/NAME.out;
# returns once it printed "ready" or died.
startc() {
	local n=$1 fd; shift
	mkfifo "$W/$n.in"
	"$@" < "$W/$n.in" > "$W/$n.out" 2>&1 &
	eval "PID_$n=\$!"
	exec {fd}>"$W/$n.in"
	eval "FD_$n=\$fd"
	until grep -qx ready "$W/$n.out" || ! kill -0 $! 2>/dev/null; do sleep 0.1; done
}
release() { local fd; eval "fd=\$FD_$1"; exec {fd}>&-; }

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

# 3. A job process in a PID namespace of its own (unshare -p -f, as
#    Apptainer's --pid): nvidia-smi names it by its host pid, the library
#    holds it to the slice together with the job's host process (both
#    ways round), its memory comes back when it is killed, and without the
#    library it is killed as an escape, named by its host pid.
pidns_checks() {
	local np out t0 t1
	newjob 12
	startc host injob env LD_PRELOAD="$LIB" "$T/cuclient" init dev:0 alloc:7g ready hold
	startc ns injob_ns env LD_PRELOAD="$LIB" "$T/cuclient" init dev:0 pid alloc:5g alloc:3g ready hold
	np=$(nspid); out=$(cat "$W/ns.out")
	printf '%s\n' "$out"
	nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader | tee "$LOGS/apps-pidns.txt"
	if printf '%s' "$out" | grep -q '^pid rc=0 pid=1$' && [ "$(printf '%s' "$out" | grep -c '^alloc rc=2 ')" = 1 ] &&
		[ "$(printf '%s' "$out" | grep -c '^alloc rc=0 ')" = 1 ] && [ -n "$np" ] && grep -q "^$np," "$LOGS/apps-pidns.txt"; then
		ok "own PID namespace with the library: pid 1 inside, host pid $np in nvidia-smi, 5 GiB refused and 3 GiB given beside 7 GiB on the host"
	else
		bad "own PID namespace with the library (host pid '$np'): $out"
	fi
	startc late injob env LD_PRELOAD="$LIB" "$T/cuclient" init dev:0 alloc:2g ready hold
	grep -q '^alloc rc=2 ' "$W/late.out" && ok "a host process of the same job after it: 2 GiB refused" ||
		bad "a host process after the namespace one: $(cat "$W/late.out")"
	kill -9 "$np"; wait "$PID_ns" 2>/dev/null
	startc again injob env LD_PRELOAD="$LIB" "$T/cuclient" init dev:0 alloc:2g ready hold
	grep -q '^alloc rc=0 ' "$W/again.out" && ok "the namespace process killed: its memory given to a host process" ||
		bad "after killing the namespace process: $(cat "$W/again.out")"
	release host; release late; release again; wait "$PID_host" "$PID_late" "$PID_again"
	! grep -q 'msg="guard kill"' "$LOGDIR/$J.log" 2>/dev/null || bad "guard killed in a job within its slice: $(cat "$LOGDIR/$J.log")"

	newjob 12
	startc esc injob_ns "$T/cuclient" init dev:0 alloc:13g ready hold
	np=$(nspid); t0=$(ms)
	wait "$PID_esc"; t1=$(ms)
	if [ -n "$np" ] && grep -q "msg=\"guard kill\" reason=escape .*pids=$np" "$LOGDIR/$J.log" 2>/dev/null; then
		ok "own PID namespace without the library: host pid $np killed as an escape within $((t1 - t0)) ms of crossing"
	else
		bad "own PID namespace without the library (host pid '$np'): $(cat "$LOGDIR/$J.log" 2>/dev/null)"
	fi
	release esc
}
pidns_checks

# 4. The memory rule with no blind spot (issue 19): pulses begun the moment
#    a thread of the guard ran (its schedstat), pulses at a 10 % duty
#    cycle, a steady hold, all through the driver's own cuMemAlloc found in
#    libcuda's symbol table with the library mapped (dl_attack).
attack_checks() {
	local what t0 t1 rc
	for what in "lock $GUARD 32212254720 15 10:1000:pulses timed to the guard's looks, 30 GiB" \
		"pulse 25769803776 10 90 10:2000:pulses of 24 GiB, 10 ms of every 100" "hold 15032385536:500:14 GiB held"; do
		local args=${what%%:*} rest=${what#*:}
		local bound=${rest%%:*} desc=${rest#*:}
		newjob 12
		coproc A { injob env LD_PRELOAD="$LIB" "$T/dl_attack" $args; }
		local AP=$A_PID
		while read -r line <&"${A[0]}"; do [ "$line" = ready ] && break; done
		t0=$(ms); wait $AP; rc=$?; t1=$(ms)
		if [ $rc = 137 ] && [ $((t1 - t0)) -le "$bound" ] && grep -q 'msg="guard kill"' "$LOGDIR/$J.log" 2>/dev/null; then
			ok "$desc on a 12 GiB slice: killed $((t1 - t0)) ms after the first (bound $bound ms)"
		else
			bad "$desc: exit $rc after $((t1 - t0)) ms (bound $bound), log: $(cat "$LOGDIR/$J.log" 2>/dev/null)"
		fi
	done
}
attack_checks

# 5. Memory with no owner (issue 19): a parent takes 10 GiB of a 12 GiB
#    slice, forks a child that keeps the driver's files, and exits; what
#    the driver then shows is recorded; another process of the job takes
#    4 GiB through the library: the job is over its slice, its processes are
#    killed (the child with them) and the memory comes back.
orphan_check() {
	local child used0 used1 used2 t0 t1
	newjob 12
	used0=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0)
	injob env LD_PRELOAD="$LIB" "$T/cuclient" init dev:0 alloc:10g forkhold:120 > "$W/parent.out" 2>&1
	child=$(sed -n 's/.*child=\([0-9]*\).*/\1/p' "$W/parent.out")
	sleep 1
	used1=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0)
	nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader | tee "$LOGS/apps-orphan.txt"
	echo "orphan: device used $used0 MiB before, $used1 MiB after the parent left; child $child holds: $(ls -l /proc/$child/fd 2>/dev/null | grep -c nvidia) nvidia files"
	startc more injob env LD_PRELOAD="$LIB" "$T/cuclient" init dev:0 alloc:4g ready hold
	t0=$(ms)
	for i in $(seq 1 30); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
	t1=$(ms)
	sleep 1
	used2=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0)
	if [ $((used1 - used0)) -gt 9000 ] && ! kill -0 "$child" 2>/dev/null && [ $((used2 - used0)) -lt 1024 ]; then
		ok "a gone parent's 10 GiB, kept by its child: charged to the job; 4 GiB more killed the job's processes and the child within $((t1 - t0)) ms; the memory came back ($used2 MiB used, $used0 before)"
	else
		bad "orphan: used $used0/$used1/$used2 MiB, child $child alive: $(kill -0 "$child" 2>/dev/null && echo yes || echo no); log: $(cat "$LOGDIR/$J.log" 2>/dev/null)"
		kill -9 "$child" 2>/dev/null
	fi
	release more; wait "$PID_more" 2>/dev/null
}
orphan_check

# 6. A pause costs a job nothing but time (issue 20): the same training
#    run, once alone and once while its job cgroup is frozen and thawed 30
#    times, ends with the same weights and no CUDA error.
freeze_check() {
	local ctl on off i
	newjob 40
	if [ -e "$CG/job_$J/cgroup.freeze" ]; then ctl=cgroup.freeze on=1 off=0; else ctl=freezer.state on=FROZEN off=THAWED; fi
	injob env LD_PRELOAD="$LIB" "$PY" test/gpu/train_freeze.py 3000 > "$W/ref.out" 2>&1
	( injob env LD_PRELOAD="$LIB" "$PY" test/gpu/train_freeze.py 3000 > "$W/frozen.out" 2>&1 ) &
	local TP=$!
	until grep -q ready "$W/frozen.out" || ! kill -0 $TP 2>/dev/null; do sleep 0.05; done
	for i in $(seq 1 30); do
		kill -0 $TP 2>/dev/null || break
		echo $on > "$CG/job_$J/$ctl"; sleep 0.$((RANDOM % 3 + 1))
		echo $off > "$CG/job_$J/$ctl"; sleep 0.$((RANDOM % 2 + 1))
	done
	echo $off > "$CG/job_$J/$ctl"
	wait $TP
	cat "$W/ref.out" "$W/frozen.out"
	local a b
	a=$(sed -n 's/.*digest=\([0-9a-f]*\).*/\1/p' "$W/ref.out"); b=$(sed -n 's/.*digest=\([0-9a-f]*\).*/\1/p' "$W/frozen.out")
	if [ -n "$a" ] && [ "$a" = "$b" ] && ! grep -qi error "$W/frozen.out"; then
		ok "PyTorch training frozen and thawed $i times: same weights ($a), no CUDA error"
	else
		bad "training under freeze/thaw: digests '$a' / '$b': $(cat "$W/frozen.out")"
	fi
}
freeze_check

kill -TERM $GUARD; wait $GUARD
cat "$LOGS/guard.log"
rm -f "$RUNDIR"/8*.conf
rmdir "$CG"/job_* 2>/dev/null
echo "$PASS passed, $FAIL failed"
[ $FAIL = 0 ]
