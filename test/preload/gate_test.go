// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/region"
	"github.com/softmig/softmig/internal/testutil"
	"github.com/softmig/softmig/internal/timefile"
)

// The library's side of issue 20: a job's launches follow the gate that
// the node's time authority (root) publishes in the GPU's time file, and
// keep to the job's static slot while there is no authority to follow.
// Each test is a real job on its own simulated GPU (gate_rig_test.go).
// Timing is judged on the simulator's clock (its samples), with bounds
// that a loaded machine can only make easier to meet.

const ms = time.Millisecond

// An open gate costs nothing: 1500 launches that span half a second (at
// most 1024 queue) never sleep, which the static slot (the first quarter
// of each second) could not give them, and the library runs no thread.
func TestOpenGateLaunchesUnthrottled(t *testing.T) {
	t.Parallel()
	g, a, i := quarterJob(t)
	a.setGate(i, true)
	h := g.startCmd(g.inJob("cuclient", "init", "dev:0", "launch:1000:1500", "sync", "ready", "hold"))
	pid := h.cmd.Process.Pid
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.finish(h); err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 {
		t.Errorf("the client has %d threads after its launches, want 1: the library starts none", len(tasks))
	}
	if th := g.exitThrottledOf(pid); th != 0 {
		t.Errorf("throttled_ms=%d at an open gate, want 0", th)
	}
	g.wantNoAuthorityRecords()
}

// A closed gate holds the job's launches until the authority opens it,
// longer than a second: the static slot would have let them run.
func TestClosedGateWaitsForTheAuthority(t *testing.T) {
	t.Parallel()
	g, a, i := quarterJob(t)
	o := g.observe()
	h := g.startCmd(g.inJob("cuclient", "init", "dev:0", "ready", "launch:1000:20", "sync"))
	time.Sleep(1100 * ms)
	opened := time.Now()
	a.setGate(i, true)
	if lines, err := g.finish(h); err != nil {
		t.Fatalf("client: %v %q", err, lines)
	}
	o.settle(time.Now())
	pid := h.cmd.Process.Pid
	o.wantStartAfter(t, pid, opened, "the job, its gate opened")
	if th := g.exitThrottledOf(pid); th < 300 {
		t.Errorf("throttled_ms=%d after about a second at a closed gate", th)
	}
	g.wantNoAuthorityRecords()
}

// Every launch path waits at the gate: kernels, _ptsz, Ex, cooperative,
// graphs, and cuLaunchKernel taken from cuGetProcAddress.
func TestEveryLaunchPathWaitsAtAClosedGate(t *testing.T) {
	t.Parallel()
	g, a, i := quarterJob(t)
	o := g.observe()
	paths := []string{"launch", "ptsz", "ex", "coop", "graph", "procaddr"}
	pids := map[string]int{}
	var waits []func() string
	for _, p := range paths {
		pid, wait := g.loadgen("secs=2.5", "us=1000", "sync=4", "path="+p)
		pids[p] = pid
		waits = append(waits, wait)
	}
	time.Sleep(1100 * ms)
	opened := time.Now()
	a.setGate(i, true)
	for _, w := range waits {
		w()
	}
	o.settle(time.Now())
	for _, p := range paths {
		o.wantStartAfter(t, pids[p], opened, "path="+p+", its gate opened")
	}
}

// outsideSlot says whether a bin (by its end) lies outside the slot
// [from%, to%) of the period, counting the bins it touches, and the few
// milliseconds of queued work it may run on, as inside.
func outsideSlot(from, to float64) func(endUs int64) bool {
	return func(endUs int64) bool {
		p := inPeriod(endUs)
		return p+binUs/10000 <= from || p >= to+1
	}
}

// When the beat stops, the job keeps to the static slot of its config
// within SM_TIME_STALE_NS: after that, it runs outside its slot only for
// what it launched before its next check (64 launches, 1 ms each).
func TestStaleAuthorityFallsBackToTheSlot(t *testing.T) {
	t.Parallel()
	g := newGateRig(t, "CUDA_DEVICE_SM_LIMIT=25\nSOFTMIG_SM_SLOT_0=50-75\n")
	a := newAuthority(t, g.path)
	a.setGate(a.assign(g.job), true)
	o := g.observe()
	pid, wait := g.loadgen("secs=4", "us=1000", "sync=4")
	time.Sleep(time.Second)
	last := a.stopBeat()
	wait()
	end := time.Now()
	o.settle(end)
	stale := last.Add(timefile.Stale)
	outside := outsideSlot(50, 75)
	inside := func(endUs int64) bool { return !outside(endUs) }
	before := o.busyMs(pid, time.Time{}, last, outside)
	after := o.busyMs(pid, stale, end, outside)
	in := o.busyMs(pid, stale, end, inside)
	t.Logf("outside the slot: %.0f ms while the authority beat, %.0f ms after its beat went stale; inside: %.0f ms", before, after, in)
	if before < 100 {
		t.Errorf("the job ran %.0f ms outside its slot while the gate was open: the test shows nothing", before)
	}
	if after > 100 {
		t.Errorf("the job ran %.0f ms outside its slot after the beat went stale, want at most ~70", after)
	}
	if in == 0 {
		t.Errorf("the job never ran in its slot after the authority went down")
	}
	if recs := g.authorityRecords(); len(recs) == 0 || recs[0] != "down stale beat" {
		t.Errorf("time authority records %q, want down stale beat", recs)
	}
}

// The authority comes back (its beat, a new instance that moved the job's
// entry, a new file): the job follows it again, here a closed gate that
// keeps it from its static slot, then an open one.
func TestAuthorityReturns(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		back func(a *authority, job string, i int) int // the job's entry after
	}{
		{"beat", func(a *authority, _ string, i int) int { a.setGate(i, false); a.startBeat(); return i }},
		{"new instance, entry moved", func(a *authority, job string, i int) int { a.restart(false); return a.move(job, i, 0) }},
		{"new file", func(a *authority, job string, _ int) int { a.restart(true); return a.assign(job) }},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := newGateRig(t, "CUDA_DEVICE_SM_LIMIT=25\n")
			a := newAuthority(t, g.path)
			a.assign("1") // another job before it: entry 0
			i := a.assign(g.job)
			a.setGate(i, true)
			o := g.observe()
			pid, wait := g.loadgen("secs=5", "us=1000", "sync=4")
			time.Sleep(800 * ms)
			a.stopBeat()
			time.Sleep(700 * ms)
			back := time.Now()
			j := c.back(a, g.job, i)
			time.Sleep(1300 * ms)
			opened := time.Now()
			a.setGate(j, true)
			wait()
			o.settle(time.Now())
			if b := o.busyMs(pid, back.Add(200*ms), opened, nil); b != 0 {
				t.Errorf("the job ran %.0f ms while the returned authority kept its gate closed", b)
			}
			if b := o.busyMs(pid, opened, time.Now(), nil); b == 0 {
				t.Errorf("the job never ran after its gate opened again")
			}
			if recs := g.authorityRecords(); strings.Join(recs, "|") != "down stale beat|up beat fresh" {
				t.Errorf("time authority records %q, want down stale beat, then up", recs)
			}
		})
	}
}

// A time file the authority did not write (or none, or one without the
// job) is never followed: the job keeps to its static slot, although the
// file says its gate is open, and its log says why.
func TestUnsafeTimeFileIsNotFollowed(t *testing.T) {
	t.Parallel()
	unsafe := "unsafe: not owned by root or writable by others"
	cases := []struct {
		name, reason string
		setup        func(t *testing.T, g *gateRig)
	}{
		{"owned by a user", unsafe, func(t *testing.T, g *gateRig) {
			openAt(t, g, g.path, g.job)
			testutil.Must(t, os.Chown(g.path, 65534, 65534))
		}},
		{"writable by others", unsafe, func(t *testing.T, g *gateRig) {
			openAt(t, g, g.path, g.job)
			testutil.Must(t, os.Chmod(g.path, 0o646))
		}},
		{"writable by its group", unsafe, func(t *testing.T, g *gateRig) {
			openAt(t, g, g.path, g.job)
			testutil.Must(t, os.Chmod(g.path, 0o664))
		}},
		{"a symbolic link", "unsafe: a symbolic link", func(t *testing.T, g *gateRig) {
			target := filepath.Join(g.dir, "elsewhere.time")
			openAt(t, g, target, g.job)
			if err := os.Symlink(target, g.path); err != nil {
				t.Fatal(err)
			}
		}},
		{"no entry for the job", "no entry for the job", func(t *testing.T, g *gateRig) { openAt(t, g, g.path, "1") }},
		{"missing", "missing", func(t *testing.T, g *gateRig) {}},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := newGateRig(t, "CUDA_DEVICE_SM_LIMIT=25\n")
			c.setup(t, g)
			pid, wait := g.loadgen("secs=1.2", "us=1000", "sync=4")
			wait()
			if g.exitThrottledOf(pid) == 0 {
				t.Errorf("throttled_ms=0: the job followed the file's open gate, not its static slot")
			}
			if recs := g.authorityRecords(); len(recs) != 1 || recs[0] != "down "+c.reason {
				t.Errorf("time authority records %q, want down %s", recs, c.reason)
			}
		})
	}
}

// openAt writes a time file at path, as the authority would, with job's
// gate open.
func openAt(t *testing.T, g *gateRig, path, job string) {
	t.Helper()
	t.Cleanup(func() { os.Remove(path) })
	a := newAuthority(t, path)
	a.setGate(a.assign(job), true)
}

// What decided the job's time before (its region's gate words) is now only
// the user's bookkeeping: a process that rewrites every byte of the region
// while the authority keeps the gate closed does not let the job launch.
func TestRegionWriterCannotOpenTheGate(t *testing.T) {
	t.Parallel()
	g, a, i := quarterJob(t)
	o := g.observe()
	pid, wait := g.loadgen("secs=3", "us=1000", "sync=4")
	region := filepath.Join(g.dir, "job.region")
	eventually(t, 10*time.Second, "the job's region", func() bool { _, err := os.Stat(region); return err == nil })
	f, err := os.OpenFile(region, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	zeros, writes := make([]byte, st.Size()), 0
	for end := time.Now().Add(1500 * ms); time.Now().Before(end); writes++ {
		if _, err := f.WriteAt(zeros, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ms)
	}
	f.Close()
	opened := time.Now()
	a.setGate(i, true)
	wait()
	o.settle(time.Now())
	if b := o.busyMs(pid, time.Time{}, opened, nil); b != 0 {
		t.Errorf("the job ran %.0f ms at a closed gate while its region was rewritten %d times", b, writes)
	}
	if b := o.busyMs(pid, opened, time.Now(), nil); b == 0 {
		t.Errorf("the job never ran after its gate opened: the test shows nothing")
	}
}

// A job the authority judged idle whose launches wait at its closed gate
// says so in its region (sm[SM_THR_WANTED]), which the authority reads to
// give it its slot back (cmd/softmig-guard/wake.go); a job not judged
// idle writes nothing there.
func TestIdleJobWaitingAtItsGateSaysSo(t *testing.T) {
	t.Parallel()
	g, a, i := quarterJob(t)
	_, wait := g.loadgen("secs=1", "us=1000", "sync=4")
	path := filepath.Join(g.dir, "job.region")
	var r *region.Region
	eventually(t, 10*time.Second, "the job's device entry", func() bool {
		var err error
		r, err = region.OpenDevs(path)
		return err == nil && len(r.Devs()) == 1
	})
	time.Sleep(300 * ms) // waiting at its closed gate, not idle
	wanted := func() uint64 {
		r, err := region.OpenDevs(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range r.Devs() {
			return d.SM[region.SMWanted]
		}
		return 0
	}
	if w := wanted(); w != 0 {
		t.Errorf("a busy job's launches at its closed gate wrote %d, want 0", w)
	}
	judged := time.Now()
	a.setFlags(i, timefile.FlagIdle)
	eventually(t, 2*time.Second, "the waiting time in the region", func() bool { return wanted() >= uint64(judged.UnixNano()) })
	a.setGate(i, true)
	wait()
}

// A fork child follows the same gate, and what it sleeps is its own.
func TestForkChildFollowsTheGate(t *testing.T) {
	t.Parallel()
	g, a, i := quarterJob(t)
	o := g.observe()
	fork := filepath.Join(g.dir, "fork")
	h := g.startCmd(g.inJob("cuclient", "init", "dev:0", "ready", "launch:1000:4", "sync", "gate:"+fork, "forklaunch:1000:4"))
	parent := h.cmd.Process.Pid
	time.Sleep(1100 * ms) // the parent waits at the closed gate
	opened := time.Now()
	a.setGate(i, true)
	eventually(t, 10*time.Second, "the parent's kernels", func() bool { return !o.first(parent).IsZero() })
	closed := time.Now()
	a.setGate(i, false)
	if err := os.WriteFile(fork, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * ms) // the child waits
	reopened := time.Now()
	a.setGate(i, true)
	lines, err := g.finish(h)
	m := regexp.MustCompile(`forklaunch rc=0 child=(\d+) status=0`).FindStringSubmatch(strings.Join(lines, "\n"))
	if err != nil || m == nil {
		t.Fatalf("client: %v %q", err, lines)
	}
	child, _ := strconv.Atoi(m[1])
	o.settle(time.Now())
	o.wantStartAfter(t, parent, opened, "the parent, its gate opened")
	o.wantStartAfter(t, child, reopened, "the child, its gate opened again")
	pt, ct := g.exitThrottledOf(parent), g.exitThrottledOf(child)
	t.Logf("throttled_ms: parent %d, child %d", pt, ct)
	if ct == 0 || ct > int(reopened.Sub(closed)/ms)+250 {
		t.Errorf("the child slept %d ms at a gate closed for %v: want its own wait only", ct, reopened.Sub(closed))
	}
	if pt < 300 {
		t.Errorf("the parent slept %d ms at a gate closed for about a second", pt)
	}
}

// The launch queue stays short on a device with a limit: a job that
// launches kernels without a sync (the driver would queue a thousand)
// stops running on the GPU soon after its gate closes, not seconds later,
// whether its kernels are short or long: the launching thread waits at a
// checkpoint every so many launches, as many as hold about 15 ms of work
// (launchq.c).
func TestClosedGateStopsTheQueueSoon(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, launch string }{
		{"1 ms kernels", "launch:1000:3000"},
		{"20 ms kernels", "launch:20000:150"},
	} {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g, a, i := quarterJob(t)
			a.setGate(i, true)
			o := g.observe()
			h := g.startCmd(g.inJob("cuclient", "init", "dev:0", "ready", c.launch, "sync"))
			time.Sleep(1200 * ms)
			a.setGate(i, false)
			closed := time.Now()
			time.Sleep(1200 * ms)
			reopened := time.Now()
			a.setGate(i, true)
			lines, err := g.finish(h)
			if err != nil {
				t.Fatalf("client: %v %q", err, lines)
			}
			o.settle(time.Now())
			pid := h.cmd.Process.Pid
			before := o.busyMs(pid, closed.Add(-800*ms), closed, nil)
			after := o.busyMs(pid, closed.Add(100*ms), reopened, nil)
			t.Logf("GPU time: %.0f ms in the 800 ms before the gate closed, %.0f ms from 100 ms after it closed to its reopening", before, after)
			if before < 400 {
				t.Errorf("the job ran %.0f ms before its gate closed: the test shows nothing", before)
			}
			if after > 10 {
				t.Errorf("the job ran %.0f ms on the GPU from 100 ms after its gate closed, want none: its queue held more than two checkpoints of about 15 ms", after)
			}
			if b := o.busyMs(pid, reopened, time.Now(), nil); b == 0 {
				t.Errorf("the job never ran after its gate reopened")
			}
		})
	}
}
