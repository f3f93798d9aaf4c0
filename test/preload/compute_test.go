package preloadtest

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Compute tests run real processes on a simulated GPU whose kernels take
// their stated time; an unhooked observer (dl_nvutil) reads the job's GPU
// time from the simulator's NVML, as nvidia-smi would.  Each test has its
// own simulated GPU, so a few run at once (computeSlots) to keep the
// suite short on a small machine.
var computeSlots = make(chan struct{}, 3)

func computeTest(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("compute tests take seconds each")
	}
	computeSlots <- struct{}{}
	t.Cleanup(func() { <-computeSlots })
}

// job is one job of a compute test: its environment and one loadgen
// argument list per process.
type job struct {
	name  string
	env   []string
	procs [][]string
}

type usage struct {
	mean    map[string]float64
	windows []map[string]float64
	outputs []string // loadgen results, in start order
}

// median of the job's 1-second windows.
func (u usage) median(name string) float64 {
	var v []float64
	for _, w := range u.windows {
		v = append(v, w[name])
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return math.NaN()
	}
	return v[len(v)/2]
}

// runJobs starts every process of every job, measures their GPU time from
// skipMs for secs seconds, and waits for all to exit.
func (r *rig) runJobs(skipMs int, secs float64, jobs ...job) usage {
	r.t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var groups []string
	u := usage{mean: map[string]float64{}}
	for _, j := range jobs {
		var pids []string
		for _, args := range j.procs {
			c := r.cmd(true, j.env, "loadgen", args...)
			var out strings.Builder
			c.Stdout, c.Stderr = &out, os.Stderr
			if err := c.Start(); err != nil {
				r.t.Fatal(err)
			}
			pids = append(pids, strconv.Itoa(c.Process.Pid))
			k := len(u.outputs)
			u.outputs = append(u.outputs, "")
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := c.Wait()
				mu.Lock()
				u.outputs[k] = strings.TrimSpace(out.String())
				if err != nil {
					u.outputs[k] += " error: " + err.Error()
				}
				mu.Unlock()
			}()
		}
		groups = append(groups, j.name+"="+strings.Join(pids, ","))
	}
	args := append([]string{"0", strconv.Itoa(skipMs), fmt.Sprint(secs)}, groups...)
	out, err := r.cmd(false, nil, "dl_nvutil", args...).Output()
	wg.Wait()
	if err != nil {
		r.t.Fatalf("dl_nvutil: %v (%s)", err, out)
	}
	for _, o := range u.outputs {
		if strings.Contains(o, "error") {
			r.t.Fatalf("loadgen: %s", o)
		}
	}
	for _, line := range splitLines(string(out)) {
		f := strings.Fields(line)
		vals := map[string]float64{}
		for _, kv := range f[1:] {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vals[k], _ = strconv.ParseFloat(v, 64)
			}
		}
		switch f[0] {
		case "win":
			u.windows = append(u.windows, vals)
		case "mean":
			u.mean = vals
		}
	}
	r.t.Logf("measured: mean %v, %d windows %v", u.mean, len(u.windows), u.windows)
	return u
}

// near fails unless the job's mean and median 1-second window are within
// tol points of want.
func near(t *testing.T, u usage, name string, want, tol float64) {
	t.Helper()
	if m := u.mean[name]; math.Abs(m-want) > tol {
		t.Errorf("%s: mean utilisation %.1f%%, want %.0f +- %.0f", name, m, want, tol)
	}
	if m := u.median(name); math.Abs(m-want) > tol {
		t.Errorf("%s: median 1 s window %.1f%%, want %.0f +- %.0f", name, m, want, tol)
	}
}

var throttledRe = regexp.MustCompile(`msg="process exit" .*throttled_ms=(\d+)`)

// exitThrottled returns the throttled_ms of every "process exit" line.
func (r *rig) exitThrottled() []int {
	var ms []int
	for _, m := range throttledRe.FindAllStringSubmatch(readFile(r.t, filepath.Join(r.dir, "softmig.log")), -1) {
		v, _ := strconv.Atoi(m[1])
		ms = append(ms, v)
	}
	return ms
}

func limitJob(name, id string, limit int, procs ...[]string) job {
	return job{name: name, env: []string{"SLURM_JOB_ID=" + id, "CUDA_DEVICE_SM_LIMIT=" + strconv.Itoa(limit)}, procs: procs}
}

func TestComputeSteadyLoad(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	u := r.runJobs(1000, 3.5, limitJob("job", uniqueJob(), 30, []string{"secs=5", "us=1000", "sync=4"}))
	near(t, u, "job", 30, 3)
	if th := r.exitThrottled(); len(th) != 1 || th[0] < 1000 {
		t.Errorf("process exit throttled_ms = %v, want one line with a few seconds", th)
	}
}

// A bursty job is held to its share while it asks for more, banks at most
// a small allowance while idle, and no 1-second window goes over.
func TestComputeBursts(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	// Full load for 300 ms, idle 200 ms: 60% asked, 40% allowed while busy.
	u := r.runJobs(1000, 4, limitJob("job", uniqueJob(), 40,
		[]string{"secs=5.5", "us=1000", "sync=4", "on=300", "off=200"}))
	if m := u.mean["job"]; m < 40*0.6-3 || m > 40+3 {
		t.Errorf("mean utilisation %.1f%%, want between 21 and 43", m)
	}
	for i, w := range u.windows {
		if w["job"] > 40+4 {
			t.Errorf("window %d: %.1f%%, want at most 44", i, w["job"])
		}
	}
}

func TestComputeTinyKernels(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	u := r.runJobs(1000, 3.5, limitJob("job", uniqueJob(), 30, []string{"secs=5", "us=10", "sync=64"}))
	near(t, u, "job", 30, 3)
}

// A kernel is not preempted: 500 ms kernels at 50% alternate with 500 ms
// of closed gate, and the average holds (docs/compute.md).
func TestComputeLongKernels(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	u := r.runJobs(500, 6, limitJob("job", uniqueJob(), 50, []string{"secs=7", "us=500000", "sync=1"}))
	if m := u.mean["job"]; math.Abs(m-50) > 6 {
		t.Errorf("mean utilisation %.1f%%, want 50 +- 6", m)
	}
}

// Four processes of one job, each on another launch path, share one limit.
func TestComputeFourProcessesOneJob(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	var procs [][]string
	for _, p := range []string{"launch", "ex", "coop", "procaddr"} {
		procs = append(procs, []string{"secs=5", "us=500", "sync=8", "path=" + p})
	}
	u := r.runJobs(1000, 3.5, limitJob("job", uniqueJob(), 40, procs...))
	near(t, u, "job", 40, 4)
	if th := r.exitThrottled(); len(th) != 4 {
		t.Errorf("process exit lines: throttled_ms = %v, want 4", th)
	}
}

// A graph launch counts as the kernels it runs; _ptsz launches are held too.
func TestComputeGraphsAndPtsz(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	u := r.runJobs(1000, 3.5,
		limitJob("graph", uniqueJob(), 25, []string{"secs=5", "us=2000", "nodes=4", "sync=1", "path=graph"}),
		limitJob("ptsz", uniqueJob(), 25, []string{"secs=5", "us=1000", "sync=4", "path=ptsz"}))
	near(t, u, "graph", 25, 3)
	near(t, u, "ptsz", 25, 3)
}

func TestComputeTwoJobs30And70(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	u := r.runJobs(1500, 4,
		limitJob("a", uniqueJob(), 30, []string{"secs=6", "us=1000", "sync=16"}),
		limitJob("b", uniqueJob(), 70, []string{"secs=6", "us=1000", "sync=16"}))
	near(t, u, "a", 30, 3)
	near(t, u, "b", 70, 4)
}

// A job under its share is never slept, and launches cost the same with
// no limit, a limit, or no library at all.
func TestComputeUnderShareNotSlowed(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	env := []string{"SLURM_JOB_ID=" + uniqueJob(), "CUDA_DEVICE_SM_LIMIT=50"}
	// 50 ms bursts every 300 ms: about 17% asked of 50.
	u := r.runJobs(500, 2, job{name: "job", env: env, procs: [][]string{{"secs=3", "us=1000", "sync=4", "on=50", "off=250"}}})
	if m := u.mean["job"]; m < 10 || m > 25 {
		t.Errorf("mean utilisation %.1f%%, want the job's own ~17%%", m)
	}
	if th := r.exitThrottled(); len(th) != 1 || th[0] != 0 {
		t.Errorf("process exit throttled_ms = %v, want 0", th)
	}
	best := func(preload bool, env ...string) float64 {
		b := math.Inf(1)
		for i := 0; i < 3; i++ {
			out, err := r.cmd(preload, env, "bench_launch", "/etc/hostname", "x", "500", "10", "10").Output()
			if err != nil {
				t.Fatalf("bench_launch: %v", err)
			}
			var ns float64
			if _, err := fmt.Sscanf(string(out), "launch_ns=%g", &ns); err != nil {
				t.Fatalf("bench_launch: %q", out)
			}
			b = math.Min(b, ns)
		}
		return b
	}
	bare := best(false)
	nolimit := best(true, "SLURM_JOB_ID="+uniqueJob())
	limited := best(true, env...)
	t.Logf("launch_ns: no library %.0f, no limit %.0f, limit under share %.0f", bare, nolimit, limited)
	// The simulator's own launch costs ~0.5 us and varies by more than the
	// gate costs; this only catches a gross regression (a lock, a syscall).
	if nolimit > bare+400 || limited > bare+400 {
		t.Errorf("launch cost grew: no library %.0f ns, no limit %.0f ns, limit %.0f ns", bare, nolimit, limited)
	}
}

// Limits 0 and 100 do no throttling work at all: no controller thread.
func TestComputeNoLimitNoThread(t *testing.T) {
	computeTest(t)
	r := newRig(t)
	threads := func(limit string) int {
		c := r.cmd(true, []string{"SLURM_JOB_ID=" + uniqueJob(), "CUDA_DEVICE_MEMORY_LIMIT=1g", "CUDA_DEVICE_SM_LIMIT=" + limit},
			"cuclient", "init", "retain", "launch:10:100", "sync", "hold")
		in, _ := c.StdinPipe()
		outp, _ := c.StdoutPipe()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { in.Close(); c.Wait() }()
		sc := bufio.NewScanner(outp)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "hold") {
				break
			}
		}
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", c.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	for _, l := range []string{"0", "100"} {
		if n := threads(l); n != 1 {
			t.Errorf("CUDA_DEVICE_SM_LIMIT=%s: %d threads, want 1", l, n)
		}
	}
	if n := threads("50"); n != 2 {
		t.Errorf("CUDA_DEVICE_SM_LIMIT=50: %d threads, want 2 (the controller)", n)
	}
}
