package preloadtest

import (
	"fmt"
	"math"
	"testing"
)

// Time slots (SOFTMIG_SM_SLOT): jobs that share a GPU launch only in their
// own parts of each 100 ms period, so their kernels stop time-slicing
// against each other (docs/compute.md).

func slotJob(name, id string, limit int, slot string, procs ...[]string) job {
	j := limitJob(name, id, limit, procs...)
	j.env = append(j.env, "SOFTMIG_SM_SLOT="+slot)
	return j
}

// Four busy quarter jobs each get a quarter, and together the whole GPU.
func TestComputeSlotsFourQuarterJobs(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	load := []string{"secs=6", "us=1000", "sync=8"}
	var jobs []job
	for i := 0; i < 4; i++ {
		jobs = append(jobs, slotJob(fmt.Sprint("q", i), uniqueJob(), 25, fmt.Sprintf("%d-%d", 25*i, 25*i+25), load))
	}
	u := r.runJobs(1500, 4, jobs...)
	total := 0.0
	for i := 0; i < 4; i++ {
		near(t, u, fmt.Sprint("q", i), 25, 3)
		total += u.mean[fmt.Sprint("q", i)]
	}
	if total < 95 {
		t.Errorf("the four jobs used %.1f%% of the GPU together, want at least 95", total)
	}
}

func TestComputeSlots30And70(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	u := r.runJobs(1500, 4,
		slotJob("a", uniqueJob(), 30, "0-30", []string{"secs=6", "us=1000", "sync=16"}),
		slotJob("b", uniqueJob(), 70, "30-100", []string{"secs=6", "us=1000", "sync=16"}))
	near(t, u, "a", 30, 3)
	near(t, u, "b", 70, 3)
}

// A slot in two parts, one wrapping past the end of the period, and a
// queue deep enough that the close must come early.
func TestComputeSlotsSplitDeepQueue(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	u := r.runJobs(1500, 4,
		slotJob("a", uniqueJob(), 40, "0-10,70-100", []string{"secs=6", "us=500", "sync=40"}),
		slotJob("b", uniqueJob(), 60, "10-70", []string{"secs=6", "us=500", "sync=40"}))
	near(t, u, "a", 40, 3)
	near(t, u, "b", 60, 3)
}

// A job alone with kernels longer than its slot is held by its NVML debt,
// which may reach one period before the slot closes: the average holds
// over windows of many periods.
func TestComputeSlotsLongKernels(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	u := r.runJobs(500, 10, slotJob("job", uniqueJob(), 50, "0-50", []string{"secs=11", "us=500000", "sync=1"}))
	if m := u.mean["job"]; math.Abs(m-50) > 6 {
		t.Errorf("mean utilisation %.1f%%, want 50 +- 6", m)
	}
}

// A job under its share launches outside its slot without waiting.
func TestComputeSlotsUnderShareNotSlowed(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	u := r.runJobs(500, 2, slotJob("job", uniqueJob(), 50, "0-50",
		[]string{"secs=3", "us=1000", "sync=4", "on=50", "off=250"}))
	if m := u.mean["job"]; m < 10 || m > 25 {
		t.Errorf("mean utilisation %.1f%%, want the job's own ~17%%", m)
	}
	if th := r.exitThrottled(); len(th) != 1 || th[0] != 0 {
		t.Errorf("process exit throttled_ms = %v, want 0", th)
	}
}
