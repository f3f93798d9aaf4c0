// SPDX-License-Identifier: Apache-2.0

package simtest

import (
	"bufio"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sample is one line of dl_nvsamples: a per-process utilisation sample.
type sample struct {
	ts      uint64 // bin end, microseconds
	pid     int
	sm, mem int
}

func parseSamples(t *testing.T, lines []string) []sample {
	t.Helper()
	var out []sample
	for _, l := range lines {
		var s sample
		if _, err := fmt.Sscanf(l, "%d %d %d %d", &s.ts, &s.pid, &s.sm, &s.mem); err != nil {
			t.Fatalf("dl_nvsamples line %q: %v", l, err)
		}
		out = append(out, s)
	}
	return out
}

// query is one call of nvmlDeviceGetProcessUtilization with lastSeen
// since: the size query's NVML code and the samples.
func (s *sim) query(since uint64) (rc int, got []sample) {
	s.t.Helper()
	out, err := s.cmd("dl_nvsamples", nil, "0", strconv.FormatUint(since, 10)).Output()
	if err != nil {
		s.t.Fatalf("dl_nvsamples: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var n int
	if _, err := fmt.Sscanf(lines[0], "rc=%d n=%d", &rc, &n); err != nil || len(lines)-1 != n {
		s.t.Fatalf("dl_nvsamples: %q", out)
	}
	return rc, parseSamples(s.t, lines[1:])
}

// watch collects every sample while the load runs: dl_nvsamples polls
// with the newest time stamp it has seen, as the daemon does.
func (s *sim) watch(secs float64) (wait func() []sample) {
	s.t.Helper()
	c := s.cmd("dl_nvsamples", nil, "0", "0", fmt.Sprint(secs))
	out, err := c.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		s.t.Fatal(err)
	}
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	}()
	return func() []sample {
		<-done
		if err := c.Wait(); err != nil {
			s.t.Fatalf("dl_nvsamples: %v", err)
		}
		return parseSamples(s.t, lines)
	}
}

// loads runs loadgen processes at once (one argument list each) and
// returns their pids and the kernel time each launched (ms).
func (s *sim) loads(args ...[]string) (pids []int, gpuMs []float64) {
	s.t.Helper()
	var wg sync.WaitGroup
	cmds := make([]*exec.Cmd, len(args))
	outs := make([]strings.Builder, len(args))
	for i, a := range args {
		cmds[i] = s.cmd("loadgen", nil, a...)
		cmds[i].Stdout = &outs[i]
		if err := cmds[i].Start(); err != nil {
			s.t.Fatal(err)
		}
		pids = append(pids, cmds[i].Process.Pid)
		wg.Add(1)
		go func(c *exec.Cmd) { defer wg.Done(); c.Wait() }(cmds[i])
	}
	wg.Wait()
	for i := range args {
		var l, wall, ns float64
		var ms float64
		if _, err := fmt.Sscanf(outs[i].String(), "launches=%g gpu_ms=%g wall_ms=%g launch_ns=%g", &l, &ms, &wall, &ns); err != nil {
			s.t.Fatalf("loadgen %v: %q", args[i], outs[i].String())
		}
		gpuMs = append(gpuMs, ms)
	}
	return pids, gpuMs
}

// busyMs sums the GPU time of pid's samples (0: every pid) in bins of binMs.
func busyMs(samples []sample, pid int, binMs float64) float64 {
	b := 0.0
	for _, s := range samples {
		if pid == 0 || s.pid == pid {
			b += float64(s.sm) / 100 * binMs
		}
	}
	return b
}

// Exact bins (the default): one sample per process and bin, time stamped
// with the bin's end, whose busy share is that process's; the watcher's
// lastSeen protocol sees every bin once.
func TestSamplesAreExactBins(t *testing.T) {
	const binMs = 10
	s := newSim(t, fmt.Sprintf("SOFTMIG_SIM_SAMPLE_MS=%d", binMs))
	wait := s.watch(2.5)
	time.Sleep(100 * time.Millisecond) // the watcher is up
	pids, gpuMs := s.loads(
		[]string{"secs=0.8", "us=3000", "sync=1"},
		[]string{"secs=0.8", "us=1000", "sync=1"})
	got := wait()
	seen := map[[2]uint64]bool{}
	perBin := map[uint64]int{}
	for _, x := range got {
		if x.ts%(binMs*1000) != 0 {
			t.Fatalf("sample %+v: time stamp not a bin end (bins of %d ms)", x, binMs)
		}
		k := [2]uint64{x.ts, uint64(x.pid)}
		if seen[k] {
			t.Fatalf("sample %+v seen twice: lastSeen should return only newer bins", x)
		}
		seen[k] = true
		perBin[x.ts] += x.sm
		if x.mem != x.sm*2/5 {
			t.Errorf("sample %+v: memUtil is 40%% of smUtil", x)
		}
	}
	for ts, sum := range perBin {
		if sum > 100+2 { // each share rounded
			t.Errorf("bin ending %d: the processes' shares add up to %d%%", ts, sum)
		}
	}
	for i, pid := range pids {
		b := busyMs(got, pid, binMs)
		t.Logf("pid %d: launched %.0f ms of kernels, its samples say %.1f ms", pid, gpuMs[i], b)
		if math.Abs(b-gpuMs[i]) > 0.02*gpuMs[i]+2 {
			t.Errorf("pid %d: samples add up to %.1f ms, it ran %.0f ms", pid, b, gpuMs[i])
		}
	}
}

// Like the real driver (docs/data/nvml-samples-h100.csv): one sample per
// bin, whole to the process running at the bin's end, with the device's
// busy share.  A short kernel that ends bins gets them although the other
// process was busier in them.
func TestSamplesWholeLikeTheDriver(t *testing.T) {
	const binMs = 20
	s := newSim(t, "SOFTMIG_SIM_SAMPLE_WHOLE=1")
	wait := s.watch(2.5)
	time.Sleep(100 * time.Millisecond)
	// Alternating 15 ms and 4 ms kernels, out of phase with the 20 ms bins:
	// the short one runs at the end of about a fifth of the bins, and is
	// never the busier in a bin (at most 5 ms of it).
	pids, gpuMs := s.loads(
		[]string{"secs=1", "us=15000", "sync=1"},
		[]string{"secs=1", "us=4000", "sync=1"})
	got := wait()
	bins := map[uint64]bool{}
	short := 0
	for _, x := range got {
		if bins[x.ts] {
			t.Fatalf("two samples for the bin ending %d", x.ts)
		}
		bins[x.ts] = true
		if x.pid == pids[1] {
			short++
		}
	}
	total := gpuMs[0] + gpuMs[1]
	b := busyMs(got, 0, binMs)
	t.Logf("%d samples, %d for the 4 ms process; kernels %.0f + %.0f ms, samples %.1f ms", len(got), short, gpuMs[0], gpuMs[1], b)
	if math.Abs(b-total) > 0.02*total+2 {
		t.Errorf("samples add up to %.1f ms of device time, the processes ran %.0f ms", b, total)
	}
	if short == 0 || short > len(got)/2 {
		t.Errorf("the 4 ms process got %d of %d samples, want about a fifth", short, len(got))
	}
}

// One call: the last second's complete bins, or those after lastSeen;
// none (NVML_ERROR_NOT_FOUND) on an idle device or after the newest bin;
// a query without a buffer gives the count (NVML_ERROR_INSUFFICIENT_SIZE).
func TestSamplesLastSeenProtocol(t *testing.T) {
	s := newSim(t)
	if rc, got := s.query(0); rc != 6 || len(got) != 0 {
		t.Fatalf("idle device: rc=%d, %d samples; want NVML_ERROR_NOT_FOUND", rc, len(got))
	}
	_, gpuMs := s.loads([]string{"secs=1.5", "us=1000", "sync=4"})
	rc, got := s.query(0)
	if rc != 7 || len(got) == 0 {
		t.Fatalf("after 1.5 s of load: rc=%d, %d samples; want NVML_ERROR_INSUFFICIENT_SIZE and the count", rc, len(got))
	}
	first, last := got[0].ts, got[len(got)-1].ts
	if last-first >= 1000000 || float64(len(got)) > 1000/20.0 {
		t.Errorf("%d samples over %d us: want at most the last second (%.0f ms of load)", len(got), last-first, gpuMs[0])
	}
	mid := got[len(got)/2].ts
	_, after := s.query(mid)
	if len(after) == 0 || after[0].ts <= mid {
		t.Errorf("lastSeen %d: got %v, want only later bins", mid, after)
	}
	if rc, _ := s.query(last + 3600e6); rc != 6 {
		t.Errorf("lastSeen an hour ahead: rc=%d, want NVML_ERROR_NOT_FOUND", rc)
	}
}
