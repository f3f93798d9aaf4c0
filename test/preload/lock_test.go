// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The documented bound (docs/contracts.md section 4, libsoftmig.8): a
// region lock holder that is not running is taken over after 100 ms.
const stuckHolderBound = 100 * time.Millisecond

// slack is what process start and scheduling on a loaded CI machine may
// add on top of a bound.
const slack = 400 * time.Millisecond

// stopHolder runs dl_lockstop on the job's region and returns once it holds
// the lock and is stopped.
func stopHolder(t *testing.T, r *rig, region string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	c := r.cmd(false, nil, "dl_lockstop", region)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Kill()
		c.Process.Signal(syscall.SIGCONT)
		c.Wait()
	})
	rd := bufio.NewReader(out)
	if line, _ := rd.ReadString('\n'); strings.TrimSpace(line) != "locked" {
		t.Fatalf("dl_lockstop: %q", line)
	}
	eventually(t, 5*time.Second, "the holder to stop", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Process.Pid))
		return strings.Contains(string(b), ") T ")
	})
	return c, rd
}

// timedRun runs a client and returns its output lines and how long it took.
func timedRun(r *rig, args ...string) ([]string, time.Duration) {
	start := time.Now()
	lines, _ := r.run(nil, args[0], args[1:]...)
	return lines, time.Since(start)
}

// A process stopped while it holds the region lock costs the job's other
// processes at most the documented bound, once: four processes allocate
// and free at the same time, all finish, and the job's accounting is right.
func TestStoppedLockHolderIsBounded(t *testing.T) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=4g")
	a := r.start(nil, "cuclient", "init", "dev:0", "alloc:1g")
	script := []string{"cuclient", "init", "dev:0", "alloc:256m", "free", "alloc:256m", "meminfo"}
	_, baseline := timedRun(r, script...)

	holder, out := stopHolder(t, r, r.regionPath(job))
	var wg sync.WaitGroup
	took := make([]time.Duration, 4)
	outs := make([][]string, 4)
	for i := range took {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			outs[i], took[i] = timedRun(r, script...)
		}(i)
	}
	wg.Wait()
	for i := range took {
		if res := results(outs[i]); len(res) != 6 || res[2] != "alloc rc=0" || res[4] != "alloc rc=0" {
			t.Fatalf("with a stopped holder: %q", outs[i])
		}
		t.Logf("with a stopped lock holder: %v (alone, unstopped: %v)", took[i], baseline)
		if took[i] > baseline+stuckHolderBound+slack {
			t.Fatalf("took %v with a stopped holder, %v without: more than the %v bound", took[i], baseline,
				stuckHolderBound)
		}
	}
	if !strings.Contains(readFile(t, r.dir+"/softmig.log"), `msg="region lock taken over"`) {
		t.Fatal("no log line says the lock was taken over")
	}
	// Resumed, the old holder finds the lock no longer its own.
	holder.Process.Signal(syscall.SIGCONT)
	if line, _ := out.ReadString('\n'); strings.TrimSpace(line) != "released=0" {
		t.Fatalf("resumed holder: %q", line)
	}
	if err := holder.Wait(); err != nil {
		t.Fatal(err)
	}
	lines, d := timedRun(r, "cuclient", "init", "dev:0", "meminfo")
	if total, free := totalFree(t, lines[2]); total != 4*GiB || free != 4*GiB-2*ctxMem-GiB {
		t.Fatalf("after: total=%d free=%d, want the filler's context and 1 GiB used and one context", total, free)
	}
	if d > baseline+slack {
		t.Fatalf("after the holder resumed, a client took %v", d)
	}
	a.release()
}

// A holder killed while it holds the lock (here: stopped, then killed, and
// not reaped yet) is taken over at once.
func TestKilledLockHolderIsTakenOverAtOnce(t *testing.T) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=4g")
	a := r.start(nil, "cuclient", "init", "dev:0")
	_, baseline := timedRun(r, "cuclient", "init", "dev:0", "alloc:256m")
	holder, _ := stopHolder(t, r, r.regionPath(job))
	holder.Process.Signal(syscall.SIGKILL)
	eventually(t, 5*time.Second, "the holder to die", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", holder.Process.Pid))
		return strings.Contains(string(b), ") Z ")
	})
	lines, d := timedRun(r, "cuclient", "init", "dev:0", "alloc:256m")
	want(t, "after the holder was killed", results(lines), "init rc=0", "dev rc=0", "alloc rc=0")
	t.Logf("with a dead lock holder: %v (without: %v)", d, baseline)
	if d > baseline+slack {
		t.Fatalf("took %v with a dead holder, %v without", d, baseline)
	}
	a.release()
}

// A holder that runs but never lets go (a loop inside the lock, a user's
// process that scribbled a live thread's id) is taken over after 1 s: the
// job waits once, nothing is refused.
func TestSpinningLockHolderIsTakenOverAfterOneSecond(t *testing.T) {
	const runningHolderBound = time.Second
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=4g")
	a := r.start(nil, "cuclient", "init", "dev:0")
	_, baseline := timedRun(r, "cuclient", "init", "dev:0", "alloc:256m")
	c := r.cmd(false, nil, "dl_lockstop", r.regionPath(job), "spin", "2")
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	rd := bufio.NewReader(out)
	if line, _ := rd.ReadString('\n'); strings.TrimSpace(line) != "locked" {
		t.Fatalf("dl_lockstop: %q", line)
	}
	lines, d := timedRun(r, "cuclient", "init", "dev:0", "alloc:256m")
	want(t, "with a spinning holder", results(lines), "init rc=0", "dev rc=0", "alloc rc=0")
	t.Logf("with a spinning lock holder: %v (without: %v)", d, baseline)
	if d < runningHolderBound-100*time.Millisecond || d > baseline+runningHolderBound+slack {
		t.Fatalf("took %v with a spinning holder, want about %v", d, runningHolderBound)
	}
	if line, _ := rd.ReadString('\n'); strings.TrimSpace(line) != "released=0" {
		t.Fatalf("the spinning holder: %q", line)
	}
	a.release()
}
