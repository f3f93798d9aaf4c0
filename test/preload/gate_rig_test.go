// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/timefile"
)

// How the gate tests (gate_test.go) run: a real job (cgroup and a config
// root wrote) on its own simulated GPU, whose time file the test writes as
// the node's time authority (internal/timefile, as softmig-guard does),
// and an outside observer of the GPU's per-process samples, judged on the
// simulator's own clock.

// binUs is the simulator's sample bin (sim/README.md), in microseconds.
const binUs = 20000

// authority is the node's time authority for one GPU, played by the test:
// it beats every timefile.Beat until told to stop.
type authority struct {
	t    *testing.T
	path string
	mu   sync.Mutex
	f    *timefile.File
	stop chan struct{}
	done chan struct{}
	last time.Time // the newest beat written
}

func newAuthority(t *testing.T, path string) *authority {
	t.Helper()
	a := &authority{t: t, path: path}
	a.create()
	t.Cleanup(func() {
		a.stopBeat()
		if err := a.closeFile(); err != nil {
			t.Error(err)
		}
	})
	return a
}

func (a *authority) create() {
	a.t.Helper()
	f, err := timefile.Create(a.path, timefile.Cap, time.Second, time.Now())
	if err != nil {
		a.t.Fatal(err)
	}
	a.mu.Lock()
	a.f = f
	a.mu.Unlock()
	a.startBeat()
}

func (a *authority) startBeat() {
	a.stop, a.done = make(chan struct{}), make(chan struct{})
	go func(stop, done chan struct{}) {
		defer close(done)
		tick := time.NewTicker(timefile.Beat)
		defer tick.Stop()
		for {
			a.mu.Lock()
			a.last = time.Now()
			a.f.Beat(a.last)
			a.mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}(a.stop, a.done)
}

// closeFile closes the time file as an authority that stops does.
func (a *authority) closeFile() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Close()
}

// stopBeat stops the beat and returns the last one written.
func (a *authority) stopBeat() time.Time {
	if a.stop != nil {
		close(a.stop)
		<-a.done
		a.stop = nil
	}
	return a.last
}

// restart is a new instance of the authority on the same file (every gate
// closed until opened), or on a new file when fresh (a new inode).
func (a *authority) restart(fresh bool) {
	a.t.Helper()
	a.stopBeat()
	if err := a.closeFile(); err != nil {
		a.t.Fatal(err)
	}
	if fresh {
		if err := os.Remove(a.path); err != nil {
			a.t.Fatal(err)
		}
	}
	a.create()
}

// assign gives job an entry (its gate closed), as if its entry had been
// free for timefile.Reuse already.
func (a *authority) assign(job string) int {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	i, err := a.f.Assign(job, 25, time.Now().Add(timefile.Reuse))
	if err != nil {
		a.t.Fatal(err)
	}
	return i
}

// move frees entry i and gives job another one, freed long ago: what the
// authority never does to a live job, and the library must survive.
func (a *authority) move(job string, i, other int) int {
	a.t.Helper()
	a.mu.Lock()
	now := time.Now()
	a.f.Free(other, now.Add(-timefile.Reuse))
	a.f.Free(i, now)
	a.mu.Unlock()
	if j := a.assign(job); j != other {
		a.t.Fatalf("job moved to entry %d, want %d", j, other)
	}
	return other
}

func (a *authority) setGate(i int, open bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if open {
		a.f.SetGate(i, 0, time.Time{})
	} else {
		a.f.SetGate(i, timefile.GateClosed, time.Time{})
	}
}

// setFlags sets entry i's flags (timefile.Flag*), as the authority does
// at the end of a period.
func (a *authority) setFlags(i int, flags uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.f.SetStats(i, flags, 0, 0)
}

// gateRig is one job on its own simulated GPU, with its time file.
type gateRig struct {
	*rig
	job  string
	wrap []string
	path string // the GPU's time file
	log  string
}

// newGateRig sets up a job whose config (root's) says conf, plus its region.
func newGateRig(t *testing.T, conf string) *gateRig {
	t.Helper()
	job, wrap := jobCgroup(t)
	r := newRig(t)
	out, err := r.cmd(false, nil, "cuclient", "init", "info:0").Output()
	m := regexp.MustCompile(`uuid=(\S+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("the simulated GPU's UUID: %v (%q)", err, out)
	}
	path, err := timefile.Path(confDir, string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	writeConf(t, job, conf+"SOFTMIG_REGION="+filepath.Join(r.dir, "job.region")+"\n", 0o644)
	return &gateRig{rig: r, job: job, wrap: wrap, path: path, log: filepath.Join(r.dir, "softmig.log")}
}

// quarterJob is a job of CUDA_DEVICE_SM_LIMIT=25 (its static slot: the
// first quarter of each second) with its entry from the authority, i, its
// gate closed.
func quarterJob(t *testing.T) (*gateRig, *authority, int) {
	t.Helper()
	g := newGateRig(t, "CUDA_DEVICE_SM_LIMIT=25\n")
	a := newAuthority(t, g.path)
	return g, a, a.assign(g.job)
}

// inJob is a client with the library, moved into the job's cgroup.
func (g *gateRig) inJob(name string, args ...string) *exec.Cmd {
	c := g.cmd(true, nil, name, args...)
	c.Args = append(append(append([]string{}, g.wrap...), c.Path), args...)
	c.Path = g.wrap[0]
	return c
}

// loadgen runs loadgen in the job in the background; wait returns its
// pid's output line.
func (g *gateRig) loadgen(args ...string) (pid int, wait func() string) {
	g.t.Helper()
	c := g.inJob("loadgen", args...)
	var out strings.Builder
	c.Stdout, c.Stderr = &out, os.Stderr
	if err := c.Start(); err != nil {
		g.t.Fatal(err)
	}
	var exit error // how it exited, read once done is closed
	done := make(chan struct{})
	go func() { exit = c.Wait(); close(done) }()
	g.t.Cleanup(func() { c.Process.Kill(); <-done })
	return c.Process.Pid, func() string {
		g.t.Helper()
		select {
		case <-done:
			if exit != nil {
				g.t.Fatalf("loadgen: %v (%s)", exit, out.String())
			}
		case <-time.After(stuck):
			g.t.Fatalf("loadgen %v still runs after %v: stuck at a gate", args, stuck)
		}
		return out.String()
	}
}

// stuck is how long a client of a few seconds may take before a test
// calls it stuck (at a gate that never opens) rather than wait forever.
const stuck = 30 * time.Second

// finish is held.finish for a client that might never get past a gate.
func (g *gateRig) finish(h *held) ([]string, error) {
	g.t.Helper()
	kill := time.AfterFunc(stuck, func() { h.cmd.Process.Kill() })
	lines, err := h.finish()
	if !kill.Stop() {
		g.t.Fatalf("%v still ran after %v: stuck at a gate (%q)", h.cmd.Args, stuck, lines)
	}
	return lines, err
}

// authorityRecords are the job log's "time authority" records, as
// "state reason" strings.
func (g *gateRig) authorityRecords() []string {
	var recs []string
	re := regexp.MustCompile(`msg="time authority" state=(\w+) reason=("[^"]*"|\S+)`)
	for _, m := range re.FindAllStringSubmatch(readFile(g.t, g.log), -1) {
		recs = append(recs, m[1]+" "+strings.Trim(m[2], `"`))
	}
	return recs
}

// wantNoAuthorityRecords: the authority was up all along.
func (g *gateRig) wantNoAuthorityRecords() {
	g.t.Helper()
	if recs := g.authorityRecords(); len(recs) != 0 {
		g.t.Errorf("time authority records %q: the authority was up all along", recs)
	}
}

// exitThrottledOf returns the throttled_ms of pid's "process exit" record.
func (g *gateRig) exitThrottledOf(pid int) int {
	g.t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`pid=%d dev=0 msg="process exit" .*throttled_ms=(\d+)`, pid))
	m := re.FindStringSubmatch(readFile(g.t, g.log))
	if m == nil {
		g.t.Fatalf("no process exit record of pid %d in the log:\n%s", pid, readFile(g.t, g.log))
	}
	ms, _ := strconv.Atoi(m[1])
	return ms
}

// gpuSample is one per-process utilisation sample of the simulator.
type gpuSample struct {
	ts  int64 // end of its bin, microseconds (CLOCK_REALTIME)
	pid int
	sm  int // percent of the bin
}

// observer collects every sample of the GPU (test/cprog/dl_nvsamples).
type observer struct {
	mu      sync.Mutex
	samples []gpuSample
	cmd     *exec.Cmd
	done    chan struct{}
}

func (g *gateRig) observe() *observer {
	g.t.Helper()
	o := &observer{cmd: g.cmd(false, nil, "dl_nvsamples", "0", "0", "600"), done: make(chan struct{})}
	out, err := o.cmd.StdoutPipe()
	if err != nil {
		g.t.Fatal(err)
	}
	if err := o.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { o.cmd.Process.Kill(); o.cmd.Wait() })
	go func() {
		defer close(o.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var s gpuSample
			var mem int
			if _, err := fmt.Sscanf(sc.Text(), "%d %d %d %d", &s.ts, &s.pid, &s.sm, &mem); err == nil {
				o.mu.Lock()
				o.samples = append(o.samples, s)
				o.mu.Unlock()
			}
		}
	}()
	return o
}

// busyMs is pid's GPU time in the bins that end in (from, to] and for
// which keep (nil: all) says yes.
func (o *observer) busyMs(pid int, from, to time.Time, keep func(endUs int64) bool) float64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := 0.0
	for _, s := range o.samples {
		if s.pid == pid && s.ts > from.UnixMicro() && s.ts <= to.UnixMicro() && (keep == nil || keep(s.ts)) {
			b += float64(s.sm) / 100 * binUs / 1000
		}
	}
	return b
}

// first is the end of pid's first busy bin, or zero.
func (o *observer) first(pid int) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.samples {
		if s.pid == pid {
			return time.UnixMicro(s.ts)
		}
	}
	return time.Time{}
}

// wantStartAfter: pid ran, and none of its busy bins ended by at (to a
// bin's precision: a kernel in the bin that holds at passes).
func (o *observer) wantStartAfter(t *testing.T, pid int, at time.Time, what string) {
	t.Helper()
	if f := o.first(pid); f.IsZero() || !f.After(at) {
		t.Errorf("%s at %v: its first busy bin ends at %v, want after (zero: it never ran)", what, at.Format(time.StampMicro), f.Format(time.StampMicro))
	}
}

// settle waits until the observer has seen every bin that ends by t.
func (o *observer) settle(t time.Time) {
	time.Sleep(time.Until(t) + 2*binUs*time.Microsecond + 150*time.Millisecond)
}

// inPeriod is the part of the 1 s period (CLOCK_REALTIME) in which a bin
// that ends at endUs begins, as a percent: the unit of slots.
func inPeriod(endUs int64) float64 {
	return float64((endUs-binUs)%1000000) / 10000
}
