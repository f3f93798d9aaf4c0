// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// twoGPUJob is a job with share on GPUs 0 and 1 (CUDA ordinals 0 and 1).
func (n *node) twoGPUJob(share int, slot, policy string) *sjob {
	return n.job(fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=12g\nCUDA_DEVICE_SM_LIMIT=%d\nSOFTMIG_SM_SLOT_0=%s\nSOFTMIG_SM_SLOT_1=%s\nSOFTMIG_GPU_0=0\nSOFTMIG_GPU_1=1\nSOFTMIG_UID=%d\nSOFTMIG_TIME_POLICY=%s\nSOFTMIG_REGION=$REGION\n",
		share, slot, slot, nobody, policy))
}

// observeGPU is observe on GPU index.
func (n *node) observeGPU(index int, skip time.Duration, secs float64, groups ...string) map[string]float64 {
	n.t.Helper()
	c := exec.Command(n.shared.Path("build/test/dl_nvutil"), append([]string{strconv.Itoa(index), strconv.Itoa(int(skip.Milliseconds())), fmt.Sprint(secs)}, groups...)...)
	c.Env = n.env
	out, err := c.Output()
	if err != nil {
		n.t.Fatalf("dl_nvutil: %v (%s)", err, out)
	}
	mean := map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "mean" {
			for _, kv := range f[1:] {
				if k, v, ok := strings.Cut(kv, "="); ok {
					mean[k], _ = strconv.ParseFloat(v, 64)
				}
			}
		}
	}
	return mean
}

// A job on two GPUs runs around the library on both, from a shell that
// starts its processes again after each kill, beside an honest job on both:
// each GPU's authority pauses it by freezing the one job cgroup
// (TestFreezeHeldByEachGPU), and it gets no more than its share on either.
func TestTimeAroundTheLibraryOnTwoGPUs(t *testing.T) {
	t.Parallel()
	n := newNode(t, "SOFTMIG_SIM_DEVICES=2")
	g := n.guard()
	cheatJob, honestJob := n.twoGPUJob(25, "0-25", "cap"), n.twoGPUJob(75, "25-100", "cap")
	time.Sleep(1200 * time.Millisecond)
	var honests []*bg
	for gpu := 0; gpu < 2; gpu++ {
		vis := "CUDA_VISIBLE_DEVICES=" + strconv.Itoa(gpu)
		n.bgRunEnv(cheatJob, []string{vis}, []string{"/bin/sh", "-c", `while :; do "$0" launch 1000 30; done`, n.shared.Path("build/test/dl_attack")}) // killed at the test's end
		honests = append(honests, n.bgRunEnv(honestJob, []string{vis}, []string{n.shared.Path("build/test/loadgen"), "secs=16", "us=1000", "sync=4"}))
	}
	type res struct{ m map[string]float64 }
	ch := make(chan res, 1)
	go func() { ch <- res{n.observeGPU(1, 2*time.Second, 12, group("honest", honests[1]))} }()
	m0 := n.observeGPU(0, 2*time.Second, 12, group("honest", honests[0]))
	m1 := (<-ch).m
	out := g.output()
	for gpu, m := range []map[string]float64{m0, m1} {
		c := m["dev"] - m["honest"]
		t.Logf("GPU %d: the job around the library %.1f %%, the honest job %.1f %%", gpu, c, m["honest"])
		if c > 28 {
			t.Errorf("GPU %d: the job around the library got %.1f %% over 12 s on a 25 %% share:\n%s", gpu, c, out)
		}
	}
	t.Logf("pauses %d, resumes %d, kills %d", strings.Count(out, "time pause: job "+cheatJob.id), strings.Count(out, "time resume: job "+cheatJob.id), strings.Count(out, "guard kill: job "+cheatJob.id))
	if strings.Contains(out, "time pause: job "+honestJob.id) || strings.Contains(out, "guard kill: job "+honestJob.id) {
		t.Errorf("the honest job was paused or killed:\n%s", out)
	}
}
