// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

// A job on two GPUs paused by both GPUs' authorities: one job cgroup is
// frozen for both, and the first GPU to see the job's debt repaid thawed
// it while the other still held it paused (its processes then ran on that
// GPU as if it were not). It is thawed when the last GPU resumes the job.
func TestFreezeHeldByEachGPU(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: makes a freezer cgroup")
	}
	base := "/sys/fs/cgroup/freezer" // cgroup v1's freezer, else cgroup2 alone
	if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
		base = "/sys/fs/cgroup"
		if _, err := os.Stat(filepath.Join(base, "cgroup.controllers")); err != nil {
			t.Skip("no v1 freezer hierarchy and no cgroup2 at /sys/fs/cgroup")
		}
	}
	job := fmt.Sprint(testutil.TestJobIDs + rand.Intn(testutil.TestJobIDsLen))
	dir := filepath.Join(base, "slurm_smfreeze", "uid_65534", "job_"+job)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Skipf("cannot make a job cgroup: %v", err)
	}
	sleep := exec.Command("/bin/sh", "-c", `echo $$ > "$0/cgroup.procs" && exec sleep 60`, dir)
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = thawDir(dir) // cleanup: a cgroup left frozen is the next check's to report
		_ = sleep.Process.Kill()
		_ = sleep.Wait() // killed: its exit status says so
		for d := dir; d != base; d = filepath.Dir(d) {
			for i := 0; i < 50 && os.Remove(d) != nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	time.Sleep(100 * time.Millisecond)
	fz := newFreezer("/proc", t.TempDir())
	for gpu := 0; gpu < 2; gpu++ {
		if dirs, rest := fz.freeze(job, fmt.Sprintf("GPU-%d", gpu), []int{sleep.Process.Pid}); len(rest) != 0 || (gpu == 0 && len(dirs) != 1) {
			t.Fatalf("GPU %d: froze %v, could not %v", gpu, dirs, rest)
		}
	}
	if !frozen(t, dir) {
		t.Fatal("the job cgroup is not frozen after both GPUs paused it")
	}
	if err := fz.thaw(job, "GPU-0"); err != nil {
		t.Fatal(err)
	}
	if !frozen(t, dir) {
		t.Fatal("GPU 0's resume thawed the job cgroup that GPU 1 still holds paused")
	}
	if err := fz.thaw(job, "GPU-1"); err != nil {
		t.Fatal(err)
	}
	if frozen(t, dir) {
		t.Fatal("the job cgroup is still frozen after both GPUs resumed it")
	}
}

// frozen reads a job cgroup's freezer state.
func frozen(t *testing.T, dir string) bool {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.freeze")); err == nil {
		return strings.TrimSpace(string(b)) == "1"
	}
	b, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b)) != "THAWED"
}
