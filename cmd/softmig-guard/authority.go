// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/logrec"
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
const (
	// The beat is also when the authority measures and enforces (the
	// driver samples every 200 ms): one wake-up does both, where a beat of
	// its own every 50 ms was one wake-up in eight of the guard's.
	timeTick    = timefile.Beat
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

// openSpan is a time a job's gate was open; b is zero while it is. due is
// the latest end of the window the job was told while it was open: a
// gate closed before it (a waking job took back time lent) leaves work
// the library let go for that end, which runs on until it, owing nothing.
type openSpan struct{ a, b, due time.Time }

// end is when the gate counts as closed: its close, or the end the job was
// told where it closed before that; zero while it is open.
func (h openSpan) end() time.Time {
	if !h.b.IsZero() && h.due.After(h.b) {
		return h.due
	}
	return h.b
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

	since   time.Time // when it got its entry: what it ran before is not judged
	windows []window  // this period's, from its start
	lent    time.Duration
	cut     []span        // its own time cut from this period's windows to repay debt
	repaid  time.Duration // of cut, what has passed and was taken off the debt
	busy    bool
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

// step beats, measures and enforces; every syncEvery it reads the GPUs and
// the job configs again.
func (a *authority) step(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.synced) >= syncEvery {
		a.synced = now
		a.sync(now)
	}
	for _, g := range a.gpus {
		g.file.Beat(now)
		a.measure(g, now)
		for _, j := range g.jobs {
			a.repay(g, j, now)
			a.enforce(g, j, now)
			a.logTime(g, j, now, false)
		}
	}
}

// sync finds the GPUs (opening their time files) and the jobs with a time
// share on each.
func (a *authority) sync(now time.Time) {
	n, err := a.g.gpus.count()
	if err != nil {
		a.g.log.errorf("time nvml", "time: %v (gates unchanged)", err)
		return
	}
	for i := 0; i < n; i++ {
		if g, ok := a.gpus[i]; ok {
			a.notePresent(g, now)
			continue
		}
		uuid, err := a.g.gpus.uuid(i)
		if err != nil {
			a.g.log.errorf("time uuid", "time: %v", err)
			continue
		}
		path, err := timefile.Path(a.g.runDir, uuid)
		if err != nil {
			a.g.log.errorf("time uuid", "time: GPU %d: %v", i, err)
			continue
		}
		lock, err := lockTimeFile(path)
		if err != nil {
			a.g.log.errorf("time lock "+uuid, "time: GPU %d: %v: another softmig-guard keeps its gates; this one leaves them alone", i, err)
			continue
		}
		f, err := timefile.Create(path, timefile.Cap, a.period, now)
		if err != nil {
			unix.Close(lock)
			a.g.log.errorf("time file", "time: GPU %d: %v (its jobs keep their static slots)", i, err)
			continue
		}
		g := &gpuTime{index: i, uuid: uuid, file: f, lock: lock, jobs: map[string]*timeJob{}, present: map[string]time.Time{}, usedAll: map[string]time.Duration{}, earlier: map[string]timeSnap{}, start: a.periodStart(now), every: 200 * time.Millisecond}
		a.gpus[i] = g
		a.notePresent(g, now)
		a.g.log.infof("time: GPU %d (%s): gates in %s", i, uuid, path)
	}
	want := map[int]map[string]*timeJob{}
	jobs := a.g.conf.jobs(now)
	for _, g := range a.gpus {
		forgetEnded(g.earlier, jobs)
	}
	for _, job := range jobs {
		js := a.g.conf.get(job, now)
		if js.conf == nil || js.conf.Disabled != "" {
			continue
		}
		for o, idx := range js.conf.DeviceGPU {
			share, slot, ok := timeShare(js.conf, o)
			g := a.gpus[idx]
			if !ok || g == nil || now.Sub(g.present[job]) > linger {
				continue
			}
			if want[idx] == nil {
				want[idx] = map[string]*timeJob{}
			}
			uid := -1
			if js.conf.UID != nil {
				uid = *js.conf.UID
			}
			own := slotSpans(slot, a.period)
			if len(slot) == 0 {
				own = defaultSpans(share, a.period)
			}
			pol := js.conf.TimePolicy
			if pol == "" {
				pol = a.policy
			}
			want[idx][job] = &timeJob{job: job, share: share, own: own, dev: o, uid: uid, policy: pol}
		}
	}
	for i, g := range a.gpus {
		a.syncGPU(g, want[i], now)
	}
}

// forgetEnded drops the totals of jobs whose config is gone (jobs: those
// with one, in order).
func forgetEnded(totals map[string]timeSnap, jobs []string) {
	for job := range totals {
		if i := sort.SearchStrings(jobs, job); i == len(jobs) || jobs[i] != job {
			delete(totals, job)
		}
	}
}

// notePresent records which jobs have processes on GPU g now. A job is
// scheduled on a GPU while its processes are there (and for linger after):
// a job with no process on a GPU has nothing to launch, and its slot is
// time no busy job owns.
func (a *authority) notePresent(g *gpuTime, now time.Time) {
	procs, err := a.g.gpus.procs(g.index)
	if err != nil {
		a.g.log.errorf("time procs", "time: %v", err)
		return
	}
	for _, p := range procs {
		f, err := a.g.facts.get(p.pid, now)
		if err != nil || f.root {
			continue
		}
		for _, job := range a.g.charge.jobsOf(f, p.pid, now) {
			g.present[job] = now
		}
	}
	for job, t := range g.present {
		if now.Sub(t) > linger {
			delete(g.present, job)
			e := g.earlier[job]
			e.used += g.usedAll[job]
			g.earlier[job] = e
			delete(g.usedAll, job)
		}
	}
}

// timeShare returns the time share and slot of CUDA ordinal o in a job's
// config: its SM limit (per ordinal over global), when in (0, 100).
func timeShare(c *jobconf.Config, o int) (int, jobconf.Slot, bool) {
	share := 0
	if c.SMLimit != nil {
		share = *c.SMLimit
	}
	if n, ok := c.DeviceSMLimit[o]; ok {
		share = n
	}
	if share <= 0 || share >= 100 {
		return 0, nil, false
	}
	slot := c.SMSlot
	if s, ok := c.DeviceSMSlot[o]; ok {
		slot = s
	}
	return share, slot, true
}

// lockTimeFile takes the lock that makes this guard the authority of the
// GPU whose time file path is: an exclusive flock on the file, held while
// the guard lives (the kernel lets it go when the guard dies).
func lockTimeFile(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "lock", Path: path, Err: err}
	}
	return fd, nil
}

// timeFileFree says whether no running guard is the authority of GPU
// uuid (its time file is missing, or not locked).
func (a *authority) timeFileFree(uuid string) bool {
	path, err := timefile.Path(a.g.runDir, uuid)
	if err != nil {
		return true
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil // closing the file lets it go
}

// syncGPU gives new jobs an entry and frees the entries of jobs whose
// config is gone.
func (a *authority) syncGPU(g *gpuTime, want map[string]*timeJob, now time.Time) {
	changed := false
	for job, j := range g.jobs {
		if _, ok := want[job]; ok {
			continue
		}
		if j.paused {
			a.resume(g, j, now, "the job ended")
		}
		a.logTime(g, j, now, true)
		g.file.Free(j.entry, now)
		e := g.earlier[job]
		e.paused += j.totalPaused
		e.lent += j.totalLent
		g.earlier[job] = e
		delete(g.jobs, job)
		changed = true
	}
	lend := len(want) > 0
	for job, w := range want {
		lend = lend && w.policy == "lend"
		if j, ok := g.jobs[job]; ok {
			j.share, j.own, j.dev, j.uid, j.policy = w.share, w.own, w.dev, w.uid, w.policy
			continue
		}
		e, err := g.file.Assign(job, uint32(w.share), now)
		if err != nil {
			a.g.log.errorf("time entry "+job, "time: job %s on GPU %d: %v (it keeps its static slot)", job, g.index, err)
			continue
		}
		// A new job counts as busy until a whole period shows it idle:
		// its slot is not lent away while its processes start.
		w.entry, w.gate, w.logAt, w.busy, w.since = e, timefile.GateClosed, now, true, now
		g.jobs[job] = w
		changed = true
	}
	if lend != g.lend {
		g.lend = lend
		changed = true
		p := uint32(timefile.Cap)
		if lend {
			p = timefile.Lend
		}
		g.file.SetPolicy(p)
	}
	if changed {
		a.replan(g, now)
	}
}

// flip starts new periods and sets every gate to what the schedule says
// for now.
func (a *authority) flip(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range a.gpus {
		if ps := a.periodStart(now); !ps.Equal(g.start) {
			a.newPeriod(g, ps, now)
		}
		for _, j := range g.jobs {
			a.setGate(g, j, now)
		}
	}
}

// setGate writes j's gate for now.
func (a *authority) setGate(g *gpuTime, j *timeJob, now time.Time) {
	off := now.Sub(g.start)
	want := timefile.GateClosed
	var closeAt time.Time
	if j.paused {
		want = timefile.GatePaused
	} else {
		for _, w := range j.windows {
			if w.a <= off && off < w.b {
				want, closeAt = 0, g.start.Add(w.b)
				break
			}
		}
	}
	if want == j.gate && closeAt.Equal(j.closeAt) {
		return
	}
	// An open gate whose window runs into the next one stays open; its
	// end moves (the library stops launching before the end it reads).
	g.file.SetGate(j.entry, want, closeAt)
	j.closeAt = closeAt
	if want == 0 && j.gate == 0 && len(j.hist) > 0 && closeAt.After(j.hist[len(j.hist)-1].due) {
		j.hist[len(j.hist)-1].due = closeAt
	}
	if want == j.gate {
		return
	}
	if want == 0 {
		j.hist = append(j.hist, openSpan{a: now, due: closeAt})
	} else if j.gate == 0 && len(j.hist) > 0 {
		j.hist[len(j.hist)-1].b = now
	}
	j.gate = want
	for len(j.hist) > 1 && !j.hist[0].b.IsZero() && now.Sub(j.hist[0].b) > histKeep {
		j.hist = j.hist[1:]
	}
}

// nextEdge is when the loop must wake: the next window edge of any job,
// the next period, or the next tick.
func (a *authority) nextEdge(now, tick time.Time) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	wake := tick
	for _, g := range a.gpus {
		if next := g.start.Add(a.period); next.Before(wake) {
			wake = next
		}
		off := now.Sub(g.start)
		for _, j := range g.jobs {
			for _, w := range j.windows {
				for _, e := range []time.Duration{w.a, w.b} {
					if e > off {
						if t := g.start.Add(e); t.Before(wake) {
							wake = t
						}
					}
				}
			}
		}
	}
	return wake
}

// newPeriod closes the books of the period that ended and plans the next.
func (a *authority) newPeriod(g *gpuTime, start, now time.Time) {
	for _, j := range g.jobs {
		a.repay(g, j, g.start.Add(a.period))
		// Judged on the part of its slot that passed since it got its
		// entry: before, it ran in its static slot, unmeasured. A job whose
		// slot had passed when it came stays busy (judged idle, its slot
		// was lent away, and it lost a part of the next period before it
		// woke); one whose slot passed unused since is idle at once.
		ownLen := ownAfter(j.own, j.since.Sub(g.start))
		j.busy = j.paused || ownLen < minEvidence || float64(j.ownUsed+j.lentUsed) >= idleBelow*float64(ownLen)
		j.lastUsed, j.lastLent = j.used, j.lentUsed
		var flags uint32
		if j.paused {
			flags |= timefile.FlagPaused
		}
		if !j.busy {
			flags |= timefile.FlagIdle
		}
		if j.lentUsed > 0 {
			flags |= timefile.FlagLent
		}
		g.file.SetStats(j.entry, flags, permille(j.used, a.period), permille(j.lentUsed, a.period))
		j.used, j.ownUsed, j.lentUsed = 0, 0, 0
	}
	g.start = start
	a.replan(g, now)
}

// minEvidence is the least of its own slot a job must have been measured
// in to be judged idle.
const minEvidence = 50 * time.Millisecond

// ownAfter is how much of the spans lies after off (from the period's
// start).
func ownAfter(own []span, off time.Duration) time.Duration {
	var n time.Duration
	for _, s := range own {
		a := s.a
		if off > a {
			a = off
		}
		if s.b > a {
			n += s.b - a
		}
	}
	return n
}

func permille(d, of time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(d * 1000 / of)
}

// replan computes this period's windows from the jobs' state now.
func (a *authority) replan(g *gpuTime, now time.Time) {
	jobs := make([]planJob, 0, len(g.jobs))
	for _, j := range g.jobs {
		a.repay(g, j, now)
		owe := j.debt
		if n := total(j.own); owe > n {
			owe = n
		}
		if j.paused {
			owe = 0
		}
		jobs = append(jobs, planJob{job: j.job, share: j.share, own: j.own, busy: j.busy, paused: j.paused, owe: owe})
	}
	sort.Slice(jobs, func(x, y int) bool { return jobs[x].job < jobs[y].job })
	windows, lent := plan(jobs, g.lend, a.period)
	off := now.Sub(g.start)
	for _, p := range jobs {
		j := g.jobs[p.job]
		// What the new cut holds before now is past: the old cut there was
		// repaid above, the rest was the job's windows. What is to come repays.
		j.windows, j.lent, j.cut = windows[p.job], lent[p.job], cutSpans(j.own, p.owe)
		j.repaid = before(j.cut, off)
	}
	for _, j := range g.jobs {
		a.setGate(g, j, now)
	}
}

// repay takes off j's debt the time cut from its windows this period that
// has passed by now: its gate was closed then, and whatever it ran there
// was counted as debt, so the cut is repaid only as it passes.
func (a *authority) repay(g *gpuTime, j *timeJob, now time.Time) {
	passed := before(j.cut, now.Sub(g.start))
	if passed <= j.repaid {
		return
	}
	j.debt -= passed - j.repaid
	j.repaid = passed
	if j.debt < 0 {
		j.debt = 0
	}
}

// openAt says whether j's gate was open at t (a window counts until the
// end the job was told, where it closed before it).
func (j *timeJob) openAt(t time.Time) bool {
	for _, h := range j.hist {
		if end := h.end(); !t.Before(h.a) && (end.IsZero() || t.Before(end)) {
			return true
		}
	}
	return false
}

// openDuring is how long j's gate was open within [from, to), by its
// history, with the ends openAt judges by.
func (j *timeJob) openDuring(from, to time.Time) time.Duration {
	var open time.Duration
	for _, h := range j.hist {
		a, end := h.a, h.end()
		if end.IsZero() || end.After(to) {
			end = to
		}
		if a.Before(from) {
			a = from
		}
		if end.After(a) {
			open += end.Sub(a)
		}
	}
	return open
}

// logTime writes the job's "gpu time" record every logEvery (and at its end).
func (a *authority) logTime(g *gpuTime, j *timeJob, now time.Time, final bool) {
	if !final && now.Sub(j.logAt) < logEvery {
		return
	}
	win := now.Sub(j.logAt)
	if win <= 0 {
		return
	}
	msg, kv := msgGPUTime(g, j, win)
	a.g.jobLog(j.job, j.uid, j.dev, now, msg, kv...)
	j.logAt, j.logUsed, j.logLent, j.logPaused = now, 0, 0, 0
}

func msgGPUTime(g *gpuTime, j *timeJob, win time.Duration) (string, []string) {
	return logrec.MsgGPUTime, []string{
		"gpu", strconv.Itoa(g.index),
		"share", strconv.Itoa(j.share),
		"policy", j.policy,
		"window_ms", strconv.FormatInt(win.Milliseconds(), 10),
		"used_ms", strconv.FormatInt(j.logUsed.Milliseconds(), 10),
		"lent_ms", strconv.FormatInt(j.logLent.Milliseconds(), 10),
		"paused_ms", strconv.FormatInt(j.logPaused.Milliseconds(), 10),
	}
}
