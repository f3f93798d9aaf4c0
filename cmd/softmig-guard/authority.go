// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/timefile"
)

// The time authority (docs/compute.md): for every GPU of the node, which
// job may launch when. It is the only place that sees every job of a GPU,
// and it decides from what users cannot write: the job configs root wrote
// (shares, slots, policy) and the driver's per-process utilisation
// samples. It publishes each GPU's gates in the GPU's time file, which job
// processes map read-only, and holds a job that runs outside its windows
// to its share through the kernel: every moment it ran outside them is
// debt, repaid as the time cut from its next windows passes; a debt over
// pauseAt freezes its job cgroup until it is repaid, and one over killAt,
// or a second pause within pauseWindow, kills its processes on the GPU.
//
// Here: its state and its loop. What it keeps (GPUs, jobs): timesync.go;
// the windows and gates: gates.go, planned by schedule.go; samples judged:
// measure.go; pauses and kills: enforce.go; the job log: timelog.go.
const (
	// The beat, every 50 ms; measuring and enforcing, every other beat
	// (the driver samples every 200 ms). A beat at 100 ms, with the
	// measure, left 150 ms before readers take the authority for down: in
	// a run beside a second suite an honest job was paused, most likely
	// for running its static slot while the authority had cut its window.
	timeTick    = timefile.Beat
	measureTick = 100 * time.Millisecond
	syncEvery   = time.Second            // job configs and GPUs read again
	pauseAt     = 200 * time.Millisecond // debt that pauses a job
	killAt      = 750 * time.Millisecond // debt that kills one
	pauseKills  = 2                      // pauses within pauseWindow that kill: it did it again
	pauseWindow = time.Minute
	idleBelow   = 0.05 // of its own slot used in a period: idle (its slot is lent)
	wakeUtil    = 5    // percent of a sample in its own slot: an idle job woke
	histKeep    = 5 * time.Second
	linger      = 10 * time.Second // a job stays scheduled this long after its last process left
	logEvery    = 10 * time.Second
)

type authority struct {
	g       *guard
	period  time.Duration
	policy  string // default when a config does not say
	fz      *freezer
	started time.Time
	synced  time.Time
	judged  time.Time // last measured and enforced

	mu   sync.Mutex // guards gpus for readers (snapshot)
	gpus map[int]*gpuTime
}

// gpuTime is the authority's state for one GPU.
type gpuTime struct {
	index int
	uuid  string
	file  *timefile.File
	lock  int // an open file of the time file, locked: one authority a GPU
	lend  bool
	jobs  map[string]*timeJob
	// present: when each job last had a process on the GPU.
	present map[string]time.Time
	// usedAll: GPU time of every job seen in the samples, with a time
	// share or not (metrics).
	usedAll map[string]time.Duration
	// earlier: a job's totals from its stays on the GPU that ended (no
	// process for linger): its counters go on from them when it comes
	// back, until its config is gone.
	earlier map[string]timeSnap
	start   time.Time // the period now
	last    uint64    // newest sample instant seen (us)
	prev    uint64    // the sample instant before the newest (us)
	dt      time.Duration
	every   time.Duration // the driver's sampling period: the shortest spacing seen
}

// timeJob is one job's time on one GPU.
type timeJob struct {
	job    string
	entry  int
	share  int
	own    []span
	dev    int // the job's CUDA ordinal of the GPU
	uid    int
	policy string
	region string // its region (SOFTMIG_REGION), for the word wake.go reads

	since   time.Time // when it got its entry: what it ran before is not judged
	windows []window  // this period's, from its start
	lent    time.Duration
	cut     []span        // its own time cut from this period's windows to repay debt
	repaid  time.Duration // of cut, what has passed and was taken off the debt
	busy    bool
	idleAt  time.Time // judged idle then (lend), and not busy since
	wokeAt  time.Time // made busy then by its waiting launches (wake.go)
	gate    uint64
	closeAt time.Time // of the open window, as published
	hist    []openSpan

	used, ownUsed, lentUsed time.Duration // this period
	lastUsed, lastLent      time.Duration // the period before

	debt      time.Duration
	paused    bool
	pausedAt  time.Time
	pauseDebt time.Duration // its debt when it was paused
	pauses    []time.Time
	stopped   map[int]procFacts // processes stopped with SIGSTOP (outside the job cgroup), as they were then
	pauseNext bool              // killed: to be paused once the killed processes are gone
	killed    map[int]string
	killedAt  time.Time

	totalUsed, totalLent, totalPaused time.Duration
	kills                             int
	logAt                             time.Time
	logUsed, logLent, logPaused       time.Duration
}

func newAuthority(g *guard) *authority {
	fz := newFreezer(g.opts.procRoot, g.runDir)
	fz.log = g.log
	return &authority{g: g, period: defs.SlotPeriod, policy: g.opts.policy,
		fz: fz, gpus: map[int]*gpuTime{}}
}

// periodStart is the start of the period holding t: periods begin at whole
// multiples of the period on CLOCK_REALTIME, as the library's static
// slots do, so that both agree where a slot lies.
func (a *authority) periodStart(t time.Time) time.Time {
	ns := t.UnixNano()
	return time.Unix(0, ns-ns%int64(a.period))
}

// run keeps the gates until ctx ends, then closes every gate and thaws
// every job it paused.
func (a *authority) run(ctx context.Context) {
	a.started = time.Now()
	for _, dir := range a.fz.thawLeft(a.timeFileFree) {
		a.g.log.infof("time: thawed %s, frozen by an earlier run of the guard", dir)
	}
	tick := a.started
	t := time.NewTimer(time.Hour) // one timer for every wait, as the looks'
	defer t.Stop()
	for {
		now := time.Now()
		if !now.Before(tick) {
			a.step(now)
			tick = now.Add(timeTick)
		}
		a.flip(now)
		t.Reset(time.Until(a.nextEdge(now, tick))) // fired and received, or unfired
		select {
		case <-ctx.Done():
			a.stop()
			return
		case <-t.C:
		}
	}
}

// stop closes the gates, removes the time files (the library, finding
// none, falls back to its static slot at once) and thaws the paused jobs.
func (a *authority) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range a.gpus {
		for _, j := range g.jobs {
			if j.paused {
				a.resume(g, j, time.Now(), "the guard stopped")
			}
		}
		if err := g.file.Close(); err != nil {
			a.g.log.errorf("time file", "time: GPU %d: %v", g.index, err)
		}
		os.Remove(g.file.Path())
		unix.Close(g.lock)
	}
	a.fz.thawAll()
}

// step beats; every measureTick it measures and enforces, every syncEvery
// it reads the GPUs and the job configs again.
func (a *authority) step(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.synced) >= syncEvery {
		a.synced = now
		a.sync(now)
	}
	judge := now.Sub(a.judged) >= measureTick-timeTick/2 // every other beat, late beats or not
	if judge {
		a.judged = now
	}
	for _, g := range a.gpus {
		g.file.Beat(now)
		if !judge {
			continue
		}
		a.measure(g, now)
		a.wakeWaiting(g, now)
		for _, j := range g.jobs {
			a.repay(g, j, now)
			a.enforce(g, j, now)
			a.logTime(g, j, now, false)
		}
	}
}
