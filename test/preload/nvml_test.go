// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/logrec"
)

// What NVML says inside a job: the slice, the job's usage, the job's
// processes only.
func TestNVMLShowsTheSlice(t *testing.T) {
	job := uniqueJob()
	r := newRig(t)
	jobEnv := []string{"SLURM_JOB_ID=" + job, "CUDA_DEVICE_MEMORY_LIMIT=12g"}
	mine := r.start(jobEnv, "cuclient", "init", "dev:0", "alloc:1g")
	// Another job's process on the same GPU, not under the library.
	other := r.start([]string{"LD_PRELOAD=", "SLURM_JOB_ID=1"}, "cuclient", "init", "dev:0", "alloc:2g")

	lines, _ := r.run(jobEnv, "dl_nvclient")
	used := GiB + ctxMem
	want(t, "job view", lines,
		fmt.Sprintf("mem total=%d free=%d used=%d", 12*GiB, 12*GiB-used, used),
		fmt.Sprintf("mem2 total=%d free=%d used=%d", 12*GiB, 12*GiB-used, used),
		"procs=1",
		fmt.Sprintf("proc pid=%d used=%d", mine.cmd.Process.Pid, used))

	// Passive (no job, no limit): NVML's own answer, every process.
	lines, _ = r.run(nil, "dl_nvclient")
	total := 48 * GiB
	all := used + 2*GiB + ctxMem
	if lines[0] != fmt.Sprintf("mem total=%d free=%d used=%d", total, total-all, all) || lines[2] != "procs=2" {
		t.Fatalf("passive view: %q", lines)
	}
	mine.release()
	other.release()
}

func TestLogEventsAndQuietStderr(t *testing.T) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=1g")
	lines, stderr := r.run(nil, "cuclient", "init", "dev:0", "alloc:2g", "alloc:2g", "alloc:100m")
	want(t, "client", results(lines), "init rc=0", "dev rc=0", "alloc rc=2", "alloc rc=2", "alloc rc=0")
	if stderr != "" {
		t.Fatalf("level 0 wrote to stderr: %q", stderr)
	}
	log := readFile(t, r.dir+"/softmig.log")
	for _, w := range []string{
		`level=event job=` + job + ` pid=`, `dev=- msg="process start" exe=` + r.prog("cuclient") + ` uid=`,
		`dev=0 msg="device attach" uuid=GPU-`, `mem_limit=1073741824 sm_limit=0`,
		`dev=0 msg="oom refused" api=cuMemAlloc_v2 requested=2147483648 used=314572800 limit=1073741824 suppressed=0`,
		`dev=0 msg="process exit" peak=419430400 throttled_ms=0`,
	} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
	// Every line is exactly what the Go reference encoder (softmig-log's
	// parser) writes for the same record.
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if err := logrec.Canonical(line); err != nil {
			t.Errorf("log line %q: %v", line, err)
		}
	}
	if n := strings.Count(log, "\n"); n != 5 {
		t.Errorf("log has %d lines, want 5:\n%s", n, log)
	}
	// Level 3 copies the lines to stderr.
	_, stderr = r.run([]string{"SOFTMIG_LOG_LEVEL=3"}, "cuclient", "init", "dev:0", "alloc:2g")
	if !strings.Contains(stderr, `msg="oom refused"`) {
		t.Fatalf("level 3 stderr %q", stderr)
	}
}

// The log is never written through a symlink, and a program whose path
// holds a newline cannot forge a log line.
func TestLogNeverFollowsSymlinksNorForgesLines(t *testing.T) {
	r := newRig(t, "SLURM_JOB_ID=5", "CUDA_DEVICE_MEMORY_LIMIT=1g")
	target := r.dir + "/target"
	if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, r.dir+"/link.log"); err != nil {
		t.Fatal(err)
	}
	r.run([]string{"SOFTMIG_LOG_FILE=" + r.dir + "/link.log"}, "cuclient", "init", "dev:0", "alloc:2g")
	if got := readFile(t, target); got != "precious\n" {
		t.Fatalf("the symlink's target was written: %q", got)
	}
	evil := r.dir + "/cu\nts=2020-01-01T00:00:00.000000Z level=error job=1 pid=1 dev=- msg=\"forged\""
	copyFile(t, r.prog("cuclient"), evil)
	c := r.cmd(true, nil, "cuclient", "init", "dev:0")
	c.Path = evil
	c.Args[0] = evil
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	log := readFile(t, r.dir+"/softmig.log")
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if err := logrec.Canonical(line); err != nil || strings.HasPrefix(line, "ts=2020") {
			t.Fatalf("log line %q: %v", line, err)
		}
	}
}
