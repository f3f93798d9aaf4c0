// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"fmt"
	"math"
	"testing"
)

// computeCase is one compute scenario: jobs run on their own simulated GPU,
// measured from skipMs after their start for secs seconds, then check
// judges what was measured.  A case without jobs measures nothing (u is
// empty) and does all its work in check.
type computeCase struct {
	name   string
	skipMs int
	secs   float64
	jobs   []job
	check  func(t *testing.T, r *rig, u usage)
}

// computeAtOnce bounds how many scenarios run at once.  Each has its own
// simulated GPU, shared region and log (its rig's temp dir), so they share
// no state; what they share is the machine's time, and the simulator's
// kernels are timed sleeps that a loaded machine only makes late.  go test
// runs at most GOMAXPROCS parallel tests (2 on a small machine) anyway.
var computeAtOnce = make(chan struct{}, 3)

// TestCompute runs every compute scenario as a subtest, in parallel with
// each other (at most computeAtOnce) and after the package's serial tests.
// One scenario: go test ./test/preload -run 'TestCompute/SteadyLoad$'.
func TestCompute(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("compute tests take seconds each")
	}
	for _, c := range computeCases() {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			computeAtOnce <- struct{}{}
			defer func() { <-computeAtOnce }()
			r := newRig(t)
			var u usage
			if len(c.jobs) > 0 {
				u = r.runJobs(c.skipMs, c.secs, c.jobs...)
			}
			c.check(t, r, u)
		})
	}
}

// computeCases is built when the test runs, so that every run gets fresh
// job ids.  No time authority runs here: every job keeps to its static slot
// (the config's, else the first L% of each second), which is what the
// library does while the authority is down (gate_test.go).
func computeCases() []computeCase {
	steady := []string{"secs=6", "us=1000", "sync=4"}
	return []computeCase{
		// The SM limit alone (CUDA_DEVICE_SM_LIMIT), measured over whole
		// periods: a slot makes shorter windows 100% or 0%.
		{name: "SteadyLoad", skipMs: 1000, secs: 4,
			jobs: []job{limitJob("job", uniqueJob(), 30, steady)},
			check: func(t *testing.T, r *rig, u usage) {
				keptTo(t, u, "job", 30, 3)
				if th := r.exitThrottled(); len(th) != 1 || th[0] < 1000 {
					t.Errorf("process exit throttled_ms = %v, want one line with a few seconds", th)
				}
			}},
		// A kernel is not preempted: 500 ms kernels at 50% alternate with 500 ms
		// of closed gate, and the average holds (docs/compute.md).
		{name: "LongKernels", skipMs: 500, secs: 6,
			jobs: []job{limitJob("job", uniqueJob(), 50, []string{"secs=7", "us=500000", "sync=1"})},
			check: func(t *testing.T, r *rig, u usage) {
				if m := u.mean["job"]; math.Abs(m-50) > 6 {
					t.Errorf("mean utilisation %.1f%%, want 50 +- 6", m)
				}
			}},
		// Time slots (SOFTMIG_SM_SLOT), see slotJob.
		// Four busy quarter jobs each get a quarter, and together the whole GPU.
		{name: "SlotsFourQuarterJobs", skipMs: 1500, secs: 4,
			jobs: quarterJobs([]string{"secs=6", "us=1000", "sync=8"}),
			check: func(t *testing.T, r *rig, u usage) {
				total := 0.0
				for i := 0; i < 4; i++ {
					keptTo(t, u, fmt.Sprint("q", i), 25, 3)
					total += u.mean[fmt.Sprint("q", i)]
				}
				if total < 85 {
					t.Errorf("the four jobs used %.1f%% of the GPU together, want at least 85", total)
				}
			}},
		{name: "Slots30And70", skipMs: 1500, secs: 4,
			jobs: []job{
				slotJob("a", uniqueJob(), 30, "0-30", []string{"secs=6", "us=1000", "sync=16"}),
				slotJob("b", uniqueJob(), 70, "30-100", []string{"secs=6", "us=1000", "sync=16"})},
			check: func(t *testing.T, r *rig, u usage) {
				keptTo(t, u, "a", 30, 3)
				keptTo(t, u, "b", 70, 3)
			}},
		// A slot in two parts, one wrapping past the end of the period, and a
		// queue deep enough that the close must come early.
		{name: "SlotsSplitDeepQueue", skipMs: 1500, secs: 4,
			jobs: []job{
				slotJob("a", uniqueJob(), 40, "0-10,70-100", []string{"secs=6", "us=500", "sync=40"}),
				slotJob("b", uniqueJob(), 60, "10-70", []string{"secs=6", "us=500", "sync=40"})},
			check: func(t *testing.T, r *rig, u usage) {
				keptTo(t, u, "a", 40, 3)
				keptTo(t, u, "b", 60, 3)
			}},
		// A job alone with kernels longer than its slot is held by its NVML debt,
		// which may reach one period before the slot closes: the average holds
		// over windows of many periods.
		{name: "SlotsLongKernels", skipMs: 500, secs: 10,
			jobs: []job{slotJob("job", uniqueJob(), 50, "0-50", []string{"secs=11", "us=500000", "sync=1"})},
			check: func(t *testing.T, r *rig, u usage) {
				if m := u.mean["job"]; math.Abs(m-50) > 6 {
					t.Errorf("mean utilisation %.1f%%, want 50 +- 6", m)
				}
			}},
	}
}

// quarterJobs is four jobs q0..q3 at 25%, each in its own quarter of the
// period, each one process with load.
func quarterJobs(load []string) []job {
	var jobs []job
	for i := 0; i < 4; i++ {
		jobs = append(jobs, slotJob(fmt.Sprint("q", i), uniqueJob(), 25, fmt.Sprintf("%d-%d", 25*i, 25*i+25), load))
	}
	return jobs
}
