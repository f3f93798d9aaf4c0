// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reclaimBound is how long a new process of the job may take to get a
// context and the whole slice back after its other processes were killed.
const reclaimBound = 2 * time.Second

// One kill -9 must not lock the job out: the dead process's place in the
// region goes when the next process asks for a context, even while the
// dead one is a zombie its parent has not reaped yet.
func TestKilledProcessDoesNotLockTheJobOut(t *testing.T) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	// 300 MiB of context + 1.5 GiB: no room for another context.
	a := r.start(nil, "cuclient", "init", "dev:0", "alloc:1g", "alloc:512m")
	want(t, "filler", results(a.lines), "init rc=0", "dev rc=0", "alloc rc=0", "alloc rc=0")
	lines, _ := r.run(nil, "cuclient", "init", "dev:0")
	want(t, "while the filler lives", results(lines), "init rc=0", "dev rc=2")
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Not reaped: a zombie holds no GPU memory.
	eventually(t, 5*time.Second, "the filler to die", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", a.cmd.Process.Pid))
		return strings.Contains(string(b), ") Z ")
	})
	start := time.Now()
	lines, _ = r.run(nil, "cuclient", "init", "dev:0", "meminfo", "alloc:1g", "alloc:700m")
	took := time.Since(start)
	a.cmd.Wait()
	want(t, "after kill -9", results(lines[:2]), "init rc=0", "dev rc=0")
	total, free := totalFree(t, lines[2])
	if total != 2*GiB || free != 2*GiB-ctxMem {
		t.Fatalf("after kill -9: total=%d free=%d, want the whole slice less one context", total, free)
	}
	want(t, "allocations after kill -9", results(lines[3:]), "alloc rc=0", "alloc rc=0")
	t.Logf("context and the whole slice back %v after kill -9", took)
	if took > reclaimBound {
		t.Fatalf("took %v, bound %v", took, reclaimBound)
	}
}

// kill -9 at random points of an 8-process allocation storm (inside the
// region lock, the driver, or neither): afterwards a new process gets a
// context and the whole slice back within reclaimBound.
func TestKillStormThenWholeSliceBack(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm of 8 processes for a few seconds")
	}
	job := uniqueJob()
	limit := 4 * GiB
	r := newRig(t, "SLURM_JOB_ID="+job, fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=%d", limit))
	gate := filepath.Join(r.dir, "go")
	var procs []*os.Process
	done := make(chan error, 8)
	for i := 0; i < 8; i++ {
		c := r.cmd(true, nil, "stress", "30", "4", strconv.FormatUint(256*MiB, 10), gate)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, c.Process)
		go func() { done <- c.Wait() }()
	}
	defer func() {
		for _, p := range procs {
			p.Kill()
		}
	}()
	eventually(t, 20*time.Second, "8 contexts", func() bool {
		m, _ := filepath.Glob(gate + ".*")
		return len(m) == 8
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for _, p := range procs {
		time.Sleep(time.Duration(rng.Intn(300)) * time.Millisecond)
		if err := p.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	for range procs {
		err := <-done
		if ws, ok := exitStatus(err); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("a stress process ended with %v, want killed", err)
		}
	}
	start := time.Now()
	full := fmt.Sprintf("%d", limit-ctxMem)
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "meminfo", "alloc:"+full)
	took := time.Since(start)
	if res := results(lines); len(res) != 4 || res[1] != "dev rc=0" || res[3] != "alloc rc=0" {
		t.Fatalf("after the storm: %q (log:\n%s)", lines, readFile(t, r.dir+"/softmig.log"))
	}
	if _, free := totalFree(t, lines[2]); free != limit-ctxMem {
		t.Fatalf("after the storm: free=%d, want %d", free, limit-ctxMem)
	}
	t.Logf("context and the whole slice back %v after the storm", took)
	if took > reclaimBound {
		t.Fatalf("took %v, bound %v", took, reclaimBound)
	}
}

func exitStatus(err error) (syscall.WaitStatus, bool) {
	if ee, ok := err.(interface{ Sys() interface{} }); ok {
		ws, ok := ee.Sys().(syscall.WaitStatus)
		return ws, ok
	}
	return 0, false
}
