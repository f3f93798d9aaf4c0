// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

// Which refusals reach the OOM killer: an allocation's (a pitched one
// included, whose real pitch the slice cannot hold), never a context's.
// The killer never acts for root, so the job runs as nobody.

// oomJob is a job with ACTIVE_OOM_KILLER=1 whose clients run as nobody
// from copies the unprivileged user can reach.
type oomJob struct {
	r   *rig
	bin *testutil.Shared
	uid int
}

func newOOMJob(t *testing.T, extra ...string) *oomJob {
	t.Helper()
	testutil.NeedRoot(t, "runs the job as an unprivileged user (the killer never acts for root)")
	r := newRig(t, append([]string{"SLURM_JOB_ID=" + uniqueJob(), "CUDA_DEVICE_MEMORY_LIMIT=2g",
		"ACTIVE_OOM_KILLER=1"}, extra...)...)
	return &oomJob{r: r, bin: r.shared(), uid: testutil.Stranger()}
}

func (j *oomJob) client(args ...string) *exec.Cmd {
	c := j.r.cmd(true, nil, "cuclient", args...)
	c.Path = j.bin.Path("build/test/cuclient")
	c.Env = append(c.Env, "LD_PRELOAD="+j.bin.Path("build/libsoftmig.so"))
	testutil.AsUser(c, j.uid)
	return c
}

// holder starts a client that holds size (and its context) until killed,
// or 20 s.
func (j *oomJob) holder(t *testing.T, size string) *exec.Cmd {
	t.Helper()
	h := j.client("init", "dev:0", "alloc:"+size, "ready", "sleep:20000")
	stdout, err := h.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if h.ProcessState == nil {
			h.Process.Kill()
			h.Wait()
		}
	})
	br := bufio.NewReader(stdout)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("holder exited before its allocation: %v", err)
		}
		if strings.HasPrefix(line, "ready") {
			return h
		}
	}
}

// A context the slice cannot hold is refused and logged; nobody is killed.
func TestRefusedContextNeverRunsTheOOMKiller(t *testing.T) {
	j := newOOMJob(t)
	// The holder's 1.5 GiB and its context leave 212 MiB, less than a
	// context (300 MiB, as the holder's measured).
	h := j.holder(t, "1536m")
	out, _ := j.client("init", "dev:0").Output()
	if !strings.Contains(string(out), "dev rc=2") {
		t.Fatalf("the second context was not refused: %q", out)
	}
	time.Sleep(200 * time.Millisecond)
	if h.ProcessState != nil || h.Process.Signal(syscall.Signal(0)) != nil {
		t.Fatalf("the holder died after a context refusal")
	}
	log := readFile(t, j.r.dir+"/softmig.log")
	if !strings.Contains(log, `msg="oom refused" api=cuDevicePrimaryCtxRetain`) {
		t.Fatalf("the context refusal is not logged:\n%s", log)
	}
	if strings.Contains(log, `msg="oom kill"`) {
		t.Fatalf("a context refusal ran the OOM killer:\n%s", log)
	}
}

// A pitch wider than the estimate that the slice cannot hold is refused
// as any allocation is: the OOM killer acts on it.
func TestRefusedPitchRunsTheOOMKiller(t *testing.T) {
	j := newOOMJob(t, "SOFTMIG_SIM_PITCH_ALIGN=2048")
	h := j.holder(t, "1g")
	// 2 GiB less two contexts and the holder's GiB leave 448 MiB: 256Ki
	// rows of 1536 bytes (the estimate, 384 MiB) fit, at a 2048-byte
	// pitch (512 MiB) they do not.
	out, _ := j.client("init", "dev:0", "pitch:1536:262144").Output()
	holderErr := h.Wait()
	ws, _ := h.ProcessState.Sys().(syscall.WaitStatus)
	if holderErr == nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("holder was not killed after the pitch's refusal: %v (client said %q)", holderErr, out)
	}
	if strings.Contains(string(out), "pitch rc=0") {
		t.Fatalf("the refused pitch went on: %q", out)
	}
	log := readFile(t, j.r.dir+"/softmig.log")
	for _, w := range []string{`msg="oom refused" api=cuMemAllocPitch_v2`,
		fmt.Sprintf(`msg="oom kill" target=%d`, h.Process.Pid)} {
		if !strings.Contains(log, w) {
			t.Fatalf("log lacks %q:\n%s", w, log)
		}
	}
}
