// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Clumsy honest jobs under the library are never paused or killed for
// time: a shell that starts a short GPU process every few hundred
// milliseconds, a job that works and rests by turns of 300 ms under lend,
// and the guard restarted (stopped, or killed and started again) in the
// middle of it all.
func TestTimeClumsyHonestJobs(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	short := n.timeJob(25, "0-25", "lend")
	bursty := n.timeJob(25, "25-50", "lend")
	steady := n.timeJob(50, "50-100", "lend")
	time.Sleep(1200 * time.Millisecond)
	n.bgRun(short, []string{"/bin/sh", "-c", `while :; do "$0" secs=0.3 us=2000 sync=2 >/dev/null; done`, n.shared.Path("build/test/loadgen")})
	n.load(bursty, 14, "on=300", "off=300")
	n.load(steady, 14, "us=20000", "sync=1")
	time.Sleep(4 * time.Second)
	first := g.stop(t)
	g = n.guard()
	time.Sleep(4 * time.Second)
	g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.done
	second := g.output()
	g = n.guard()
	time.Sleep(4 * time.Second)
	third := g.stop(t)
	for i, out := range []string{first, second, third} {
		for _, j := range []*sjob{short, bursty, steady} {
			for _, what := range []string{"time pause: job " + j.id, "guard kill: job " + j.id} {
				if strings.Contains(out, what) {
					t.Errorf("guard %d: %s:\n%s", i+1, what, out)
				}
			}
		}
	}
}

// Eight jobs of an eighth each, all busy, under cap: each keeps to its
// share, nobody is paused.
func TestTimeEightJobsOnAGPU(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	var groups []string
	var jobs []*sjob
	for q := 0; q < 8; q++ {
		jobs = append(jobs, n.job(fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=6g\nCUDA_DEVICE_SM_LIMIT=12\nSOFTMIG_SM_SLOT_0=%d-%d\nSOFTMIG_GPU_0=0\nSOFTMIG_UID=%d\nSOFTMIG_TIME_POLICY=cap\nSOFTMIG_REGION=$REGION\n",
			12*q, 12*q+12, nobody)))
	}
	time.Sleep(1200 * time.Millisecond)
	for q, j := range jobs {
		groups = append(groups, group(fmt.Sprintf("q%d", q), n.load(j, 7)))
	}
	mean, _ := n.observe(2*time.Second, 4, groups...)
	t.Logf("eight jobs of 12 %%, cap: %v", mean)
	for q := 0; q < 8; q++ {
		if m := mean[fmt.Sprintf("q%d", q)]; m > 12+2 {
			t.Errorf("job %d of 12 %% got %.1f %%", q, m)
		}
	}
	noPauses(t, g)
}
