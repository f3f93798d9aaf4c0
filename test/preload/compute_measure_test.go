// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
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

// How a compute scenario (compute_test.go) runs and measures its jobs:
// real processes on a simulated GPU whose kernels take their stated time,
// and an unhooked observer (dl_nvutil) that reads each job's GPU time from
// the simulator's NVML, as nvidia-smi would.

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

// keptTo fails unless the job's mean and median 1-second window are at most
// tol points above want, and at most 3 tol below: a job in its static slot
// never gets more than the slot, but on a loaded machine its processes may
// not keep the GPU busy through all of it (the library's fallback gives no
// credit for time unused).
func keptTo(t *testing.T, u usage, name string, want, tol float64) {
	t.Helper()
	for what, m := range map[string]float64{"mean utilisation": u.mean[name], "median 1 s window": u.median(name)} {
		if m > want+tol || m < want-3*tol {
			t.Errorf("%s: %s %.1f%%, want %.0f, at most %.0f above, %.0f below", name, what, m, want, tol, 3*tol)
		}
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

// slotJob is limitJob with a time slot (SOFTMIG_SM_SLOT): jobs that share a
// GPU launch only in their own parts of each period, so their kernels stop
// time-slicing against each other (docs/compute.md).
func slotJob(name, id string, limit int, slot string, procs ...[]string) job {
	j := limitJob(name, id, limit, procs...)
	j.env = append(j.env, "SOFTMIG_SM_SLOT="+slot)
	return j
}
