// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"
	"time"
)

// Jobs that behave are never touched, across a guard started after them
// and restarted mid-run: a sliced job at 99 % of its 12 GiB slice with two
// processes (contexts, a created context, async and pool allocations) on
// GPU 0, a whole-GPU job at 100 % of GPU 1 without the library, and a
// process outside any job, of a user without a job here, holding 20 GiB of
// GPU 0 without the library.
// The issue asks for 60 s; -short runs 6 s.
func TestBehavingJobsUntouched(t *testing.T) {
	t.Parallel()
	run := 60 * time.Second
	if testing.Short() {
		run = 6 * time.Second
	}
	n := newNode(t, "SOFTMIG_SIM_DEVICES=2")
	sliced := n.job(slicedConf)
	whole := n.job("# a whole GPU: no limit\nSOFTMIG_GPU_0=1\n")
	// 300m + 5g + 1g and 300m + 300m + 4g + 1100m: 12264m of 12288m, 99.8 %.
	p1 := n.start(sliced, true, nil, "cuclient", "init", "dev:0", "alloc:5g", "pool:1g", "ready", "hold")
	p2 := n.start(sliced, true, nil, "cuclient", "init", "dev:0", "ctxcreate", "alloc:4g", "async:1100m", "ready", "hold")
	w := n.start(whole, false, []string{"CUDA_VISIBLE_DEVICES=1"}, "cuclient", "init", "dev:0", "alloc:48852m", "ready", "hold")
	// Outside: a user with no job here (nobody's outside processes are
	// held to nobody's jobs, which other tests make at the same time).
	out := n.startArgv(nil, nil, []string{"setpriv", "--reuid=4444", "--regid=4444", "--clear-groups",
		n.shared.Path("build/test/cuclient"), "init", "dev:0", "alloc:20g", "ready", "hold"})
	for name, c := range map[string]*client{"sliced 1": p1, "sliced 2": p2, "whole GPU": w, "outside": out} {
		for _, l := range c.lines {
			if strings.Contains(l, "ERR") {
				t.Fatalf("%s client: %q", name, c.lines)
			}
		}
	}
	if used := n.nvmlUsed(0, p1.pid(), p2.pid()); used < 12<<30*99/100 || used > 12<<30 {
		t.Fatalf("sliced job holds %d bytes; want 99-100 %% of 12 GiB", used)
	}
	if used := n.nvmlUsed(1, w.pid()); used != 48<<30 {
		t.Fatalf("whole-GPU job holds %d bytes; want all 48 GiB", used)
	}
	g := n.guard()
	time.Sleep(run / 2)
	first := g.stop(t)
	g = n.guard()
	// The restarted guard still catches an escape.
	esc := n.job(slicedConf)
	e := n.start(esc, false, nil, "cuclient", "init", "dev:0", "alloc:1g", "ready", "hold")
	if took := e.killedWithin(t, 3*time.Second); took > killLimit {
		t.Errorf("restarted guard killed the escape %s after it started; want within %s", took, killLimit)
	}
	time.Sleep(run / 2)
	second := g.stop(t)
	for name, c := range map[string]*client{"sliced 1": p1, "sliced 2": p2, "whole GPU": w, "outside": out} {
		if !c.alive() {
			t.Errorf("%s process (pid %d) was killed", name, c.pid())
		}
	}
	for _, j := range []*sjob{sliced, whole} {
		if log := j.guardLog(t); log != "" {
			t.Errorf("job %s has guard events:\n%s", j.id, log)
		}
	}
	if strings.Contains(first, "guard kill") || strings.Count(second, "guard kill:") != 1 {
		t.Errorf("want exactly one kill (the escape), by the second guard:\nfirst:\n%s\nsecond:\n%s", first, second)
	}
}
