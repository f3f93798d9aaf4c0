// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

// Two processes of one job share one slice.
func TestTwoProcessesShareOneSlice(t *testing.T) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	a := r.start(nil, "cuclient", "init", "dev:0", "alloc:1g")
	want(t, "first process", results(a.lines), "init rc=0", "dev rc=0", "alloc rc=0")
	// Both contexts (2 x 300 MiB) and the first GiB leave 424 MiB.
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "meminfo", "alloc:500m", "alloc:400m")
	_, free := totalFree(t, lines[2])
	if free != 2*GiB-2*ctxMem-GiB {
		t.Fatalf("second process sees free=%d, want %d", free, 2*GiB-2*ctxMem-GiB)
	}
	want(t, "second process", results(lines[3:]), "alloc rc=2", "alloc rc=0")
	if err := a.release(); err != nil {
		t.Fatal(err)
	}
}

// A holder killed with SIGKILL never frees its process entry; the next refusal
// finds it dead and frees its share.
func TestKilledHolderIsCleaned(t *testing.T) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	a := r.start(nil, "cuclient", "init", "dev:0", "alloc:1g")
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.cmd.Wait()
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "alloc:1g", "meminfo")
	want(t, "after SIGKILL", results(lines[:3]), "init rc=0", "dev rc=0", "alloc rc=0")
	for _, pid := range readRegion(t, r.regionPath(job)).livePids() {
		if int(pid) == a.cmd.Process.Pid {
			t.Fatalf("dead pid %d still holds a process entry", pid)
		}
	}
}

// 8 processes x 4 threads allocate and free at random for 10 s: the
// simulator (the GPU's own truth) never sees the job above its slice, and
// the region ends at zero.
func TestConcurrentProcessesNeverOvershoot(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s stress test")
	}
	job := uniqueJob()
	limit := 4 * GiB
	r := newRig(t, "SLURM_JOB_ID="+job, fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=%d", limit))
	watch := r.cmd(false, nil, "dl_nvclient", "0", "watch", "1", "12")
	var watchOut strings.Builder
	watch.Stdout = &watchOut
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]string, 8)
	gate := filepath.Join(r.dir, "go")
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := r.cmd(true, nil, "stress", "10", "4", strconv.FormatUint(256*MiB, 10), gate).Output()
			if err != nil {
				results[i] = "error: " + err.Error()
				return
			}
			results[i] = strings.TrimSpace(string(out))
		}(i)
	}
	eventually(t, 20*time.Second, "8 contexts", func() bool {
		m, _ := filepath.Glob(gate + ".*")
		return len(m) == 8
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := watch.Wait(); err != nil {
		t.Fatal(err)
	}
	var ok, refused int
	for _, res := range results {
		var o, rf, e int
		if _, err := fmt.Sscanf(res, "ok=%d refused=%d errors=%d", &o, &rf, &e); err != nil || e != 0 {
			t.Fatalf("stress process: %q", res)
		}
		ok += o
		refused += rf
	}
	var peak uint64
	if _, err := fmt.Sscanf(strings.TrimSpace(watchOut.String()), "max_used=%d", &peak); err != nil {
		t.Fatalf("the watcher's output %q: %v", watchOut.String(), err)
	}
	t.Logf("%d allocations, %d refused, highest usage the GPU saw %d MiB of %d MiB", ok, refused, peak/MiB, limit/MiB)
	if peak == 0 || peak > limit {
		t.Fatalf("the GPU saw the job use %d bytes, limit %d", peak, limit)
	}
	if refused == 0 {
		t.Fatal("no allocation was refused: the test did not reach the limit")
	}
	v := readRegion(t, r.regionPath(job))
	if v.tracked(0) != 0 || len(v.livePids()) != 0 {
		t.Fatalf("region after all exited: tracked=%d pids=%v", v.tracked(0), v.livePids())
	}
}

// A user who zeroes their job's region cannot raise the real limit: the
// NVML cross-check restores what the job really holds.
func TestTamperedRegionDoesNotRaiseTheLimit(t *testing.T) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	a := r.start(nil, "cuclient", "init", "dev:0", "alloc:1g")
	zeroAccounting(t, r.regionPath(job), 0)
	time.Sleep(1100 * time.Millisecond) // past the check interval
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "alloc:1g", "alloc:400m")
	want(t, "after tampering", results(lines), "init rc=0", "dev rc=0", "alloc rc=2", "alloc rc=0")
	a.release()
}

func TestOOMKillerKillsTheJobsProcesses(t *testing.T) {
	j := newOOMJob(t)
	// The holder has its 1 GiB once it says "ready".
	holder := j.holder(t, "1g")
	out, _ := j.client("init", "dev:0", "alloc:1g").Output()
	holderErr := holder.Wait()
	ws, _ := holder.ProcessState.Sys().(syscall.WaitStatus)
	if holderErr == nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("holder was not killed: %v", holderErr)
	}
	if strings.Contains(string(out), "alloc rc=0") {
		t.Fatalf("the refused process went on: %q", out)
	}
	log := readFile(t, j.r.dir+"/softmig.log")
	if !strings.Contains(log, fmt.Sprintf(`msg="oom kill" target=%d`, holder.Process.Pid)) {
		t.Fatalf("kill not logged:\n%s", log)
	}
}

// The killer never acts for root: root's processes are not the job's to kill.
func TestOOMKillerSparesRoot(t *testing.T) {
	testutil.NeedRoot(t, "the test is about root's processes")
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=2g", "ACTIVE_OOM_KILLER=1")
	a := r.start(nil, "cuclient", "init", "dev:0", "alloc:1g")
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "alloc:1g")
	want(t, "refused", results(lines), "init rc=0", "dev rc=0", "alloc rc=2")
	if err := a.release(); err != nil {
		t.Fatalf("root's holder did not survive: %v", err)
	}
}

// A context measured while another thread of its process had an
// allocation in flight (reserved by the library, not yet the driver's)
// came out short by that allocation: the job's ledger then counted none of
// its contexts, and until a later check found the difference the job's
// other processes could take that much past the slice (under load,
// TestConcurrentProcessesNeverOvershoot saw the GPU hold a job 216 MiB
// over its 4 GiB). A measure now counts only when nothing went between the
// ledger and the driver while it was taken; until then the reservation
// stands.
func TestContextMeasuredBesideAnAllocationInFlight(t *testing.T) {
	job := uniqueJob()
	const ctx = 300 * MiB // SOFTMIG_SIM_CTX_MEMORY's default
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=8g",
		fmt.Sprintf("SOFTMIG_SIM_SLOW_ALLOC=%d:2500", GiB))
	h := r.startReady(nil, "ctxmeasure", strconv.FormatUint(GiB, 10))
	// Two contexts, 1 MiB twice and the gigabyte in flight.
	allocs := GiB + 2*MiB
	if got := readRegion(t, r.regionPath(job)).tracked(0); got < allocs+2*ctx {
		t.Errorf("with an allocation in flight the job's ledger counts %d MiB, want at least %d (the allocations and two contexts): a context measured short",
			got/MiB, (allocs+2*ctx)/MiB)
	}
	h.stdin.Close()
	if line, err := h.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "measured" {
		t.Fatalf("ctxmeasure said %q (%v), want \"measured\"", line, err)
	}
	// Nothing in flight at the next check: measured, exactly.
	if got, want := readRegion(t, r.regionPath(job)).tracked(0), allocs+MiB+2*ctx; got != want {
		t.Errorf("once measured the job's ledger counts %d MiB, want %d", got/MiB, want/MiB)
	}
}
