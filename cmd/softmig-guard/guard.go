package main

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/job"
	"github.com/softmig/softmig/internal/size"
)

type options struct {
	interval, grace, mapsEvery time.Duration
	margin                     uint64
	marginPct                  float64
	library                    string
	once, dryRun               bool
	procRoot                   string
}

// Reasons of a guard kill (the reason key of the event).
const (
	reasonOver   = "over_slice"
	reasonEscape = "escape"
)

// watchKey is one condition being timed: a job over its slice on a GPU
// (pid 0), or with escaped processes there (pid escapeKey).
type watchKey struct {
	job string
	gpu int
	pid int
}

const escapeKey = -1

// verdict is a condition that lasted the grace period: who to kill and why.
type verdict struct {
	watchKey
	reason      string
	dev         int // the job's CUDA ordinal of the GPU, or logrec.NoDev
	used, limit uint64
	pids        []int
	facts       map[int]procFacts
	cause       string
	since       time.Time
}

type mapsEntry struct {
	start string
	m     mapped
	at    time.Time
}

type guard struct {
	opts    options
	log     *logger
	open    func() (gpuReader, error)
	gpus    gpuReader
	lib     libID
	runDir  string
	logDir  string
	since   map[watchKey]time.Time // when a condition was first seen
	last    map[watchKey]time.Time // when it was last seen
	maps    map[int]mapsEntry
	killed  map[int]string // pid -> start time of processes already killed
	forged  map[int]string // pid -> start time of processes in another user's job cgroup
	notify  *notifier
	rounds  uint64
	kills   uint64
	started time.Time
}

func newGuard(opts options, log *logger) *guard {
	return &guard{
		opts: opts, log: log,
		open:   func() (gpuReader, error) { return openNVML() },
		runDir: defs.RunDir(), logDir: defs.LogDir(),
		since:  map[watchKey]time.Time{},
		last:   map[watchKey]time.Time{},
		maps:   map[int]mapsEntry{},
		killed: map[int]string{},
		forged: map[int]string{},
		notify: newNotifier(log),
	}
}

// margin is how far over its slice a job may go: the driver rounds every
// allocation to its pages and sizes contexts and pools its own way.
func (g *guard) marginFor(limit uint64) uint64 {
	pct := uint64(float64(limit) * g.opts.marginPct / 100)
	if pct > g.opts.margin {
		return pct
	}
	return g.opts.margin
}

func (g *guard) run(ctx context.Context) error {
	var warn string
	g.lib, warn = findLibrary(g.opts.library)
	g.started = time.Now()
	g.log.infof("start: interval=%s grace=%s margin=%s or %g%% library=%q run_dir=%s log_dir=%s dry_run=%v",
		g.opts.interval, g.opts.grace, size.Format(g.opts.margin), g.opts.marginPct, g.lib.path, g.runDir, g.logDir, g.opts.dryRun)
	if warn != "" {
		g.log.warnf("%s", warn)
	}
	defer g.stop()
	tick := time.NewTicker(g.opts.interval)
	defer tick.Stop()
	first := time.Now()
	for {
		now := time.Now()
		err := g.step(now)
		if g.opts.once {
			if err != nil {
				return err
			}
			if now.Sub(first) >= g.opts.grace {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (g *guard) stop() {
	g.notify.wait(5 * time.Second)
	var calls uint64
	if g.gpus != nil {
		calls = g.gpus.calls()
		g.gpus.close()
	}
	secs := time.Since(g.started).Seconds()
	g.log.infof("stop: rounds=%d kills=%d nvml_calls=%d nvml_calls_per_s=%.1f cpu_ms=%d seconds=%.1f",
		g.rounds, g.kills, calls, float64(calls)/secs, cpuMillis(), secs)
}

// step is one round: read the GPUs, time the conditions, act on those due.
func (g *guard) step(now time.Time) error {
	if g.gpus == nil {
		r, err := g.open()
		if err != nil {
			g.log.errorf("nvml", "cannot start NVML (retrying every round): %v", err)
			return err
		}
		g.gpus = r
		g.log.infof("NVML started")
	}
	g.rounds++
	gpus, err := g.gpus.read()
	if err != nil {
		// Nothing is judged without a full picture.
		g.log.errorf("nvml", "%v (no kills this round)", err)
		g.since, g.last = map[watchKey]time.Time{}, map[watchKey]time.Time{}
		return err
	}
	for _, v := range g.observe(now, gpus) {
		g.act(v)
	}
	return nil
}

// observe updates the timers from one round's GPU lists and returns what
// stayed bad for the grace period. A condition on a GPU that failed to
// answer starts over; one not seen for forgetAfter (the job went back
// under, the process left) too.
func (g *guard) observe(now time.Time, gpus []gpu) []verdict {
	seen := map[watchKey]bool{}
	failed := map[int]bool{}
	var byUID map[int][]string
	alive := map[int]bool{}
	var due []verdict
	slices := map[string]jobSlices{}
	for _, d := range gpus {
		if d.err != nil {
			g.log.errorf("gpu", "%v (GPU skipped this round)", d.err)
			failed[d.index] = true
			continue
		}
		byJob := map[string][]int{}
		used := map[string]uint64{}
		facts := map[int]procFacts{}
		for _, p := range d.procs {
			alive[p.pid] = true
			f, err := readFacts(g.opts.procRoot, p.pid)
			if err != nil {
				if !errors.Is(err, errGone) {
					g.log.errorf("proc", "pid %d: %v", p.pid, err)
				}
				continue
			}
			if f.root || g.killed[p.pid] == f.start {
				continue
			}
			charged := g.chargedJobs(f, p.pid, slices, &byUID)
			if len(charged) == 0 {
				continue
			}
			facts[p.pid] = f
			for _, job := range charged {
				byJob[job] = append(byJob[job], p.pid)
				used[job] += p.used
			}
		}
		for job, pids := range byJob {
			js := slices[job]
			sl := js.onGPU(d.index)
			if !sl.sliced {
				continue
			}
			sort.Ints(pids)
			base := verdict{facts: facts, dev: js.ordinal(d.index)}
			// Escapes first: their event names the likely cause. They are
			// timed per job and GPU, not per process: a chain of escaped
			// processes, each gone before the grace period, is one escape.
			var escaped []int
			var cause string
			for _, pid := range pids {
				c := g.escapeCause(now, pid, facts[pid].start)
				if c == "" {
					continue
				}
				if !facts[pid].in(job) {
					c = "outside its job's cgroup, held to its user's job; " + c
				}
				if cause == "" {
					cause = c
				}
				escaped = append(escaped, pid)
			}
			if len(escaped) > 0 {
				k := watchKey{job: job, gpu: d.index, pid: escapeKey}
				seen[k] = true
				v := base
				v.watchKey, v.reason, v.used, v.limit, v.pids, v.cause = k, reasonEscape, used[job], sl.limit, escaped, cause
				if g.due(k, now, &v) {
					due = append(due, v)
				}
			}
			if sl.memory && used[job] > sl.limit+g.marginFor(sl.limit) {
				k := watchKey{job: job, gpu: d.index}
				seen[k] = true
				v := base
				v.watchKey, v.reason, v.used, v.limit, v.pids = k, reasonOver, used[job], sl.limit, pids
				if g.due(k, now, &v) {
					due = append(due, v)
				}
			}
		}
	}
	// A job that dips under its slice for a round and goes over again is
	// still over: only a condition unseen for forgetAfter starts over, so
	// pulses shorter than the grace period, a round apart, are not a way
	// to hold more than the slice most of the time.
	for k := range g.since {
		if seen[k] {
			g.last[k] = now
		} else if failed[k.gpu] || now.Sub(g.last[k]) >= g.forgetAfter() {
			delete(g.since, k)
			delete(g.last, k)
		}
	}
	for pid := range g.maps {
		if !alive[pid] {
			delete(g.maps, pid)
		}
	}
	for pid := range g.killed {
		if !alive[pid] {
			delete(g.killed, pid)
		}
	}
	for pid := range g.forged {
		if !alive[pid] {
			delete(g.forged, pid)
		}
	}
	return due
}

// loadSlices reads a job's config once per round and says when it is unsafe.
func (g *guard) loadSlices(job string) jobSlices {
	js := loadSlices(g.runDir, job)
	if js.err != nil {
		g.log.errorf("conf "+job, "job %s: %v (the guard leaves this job alone; its processes get no GPU from the library)", job, js.err)
	}
	return js
}

// chargedJobs returns the jobs a process is held to: each job its cgroup
// names whose config is its user's (a job_<M> cgroup a user made in a
// subtree delegated to them may name another user's job: never charged
// to it). When none is, the process is in no SoftMig job of its user's (no
// job cgroup, systemd-run --user, an ssh session not adopted, a job_<M>
// the user made up): it is held to its user's jobs, as the library holds
// it (it fails such a process closed). A line of the user's making beside
// the job's own cannot take a process out of its job: all lines count.
func (g *guard) chargedJobs(f procFacts, pid int, slices map[string]jobSlices, byUID *map[int][]string) []string {
	var jobs []string
	for _, job := range f.jobs {
		js, ok := slices[job]
		if !ok {
			js = g.loadSlices(job)
			slices[job] = js
		}
		switch {
		case js.conf == nil && js.err == nil:
			// No SoftMig job of that name.
		case js.member(f):
			jobs = append(jobs, job)
		case g.forged[pid] != f.start:
			g.forged[pid] = f.start
			g.log.warnf("pid %d of uid %d is in a cgroup named for job %s, whose user is %d: not counted as the job's (a cgroup the user made)", pid, f.uid, job, *js.conf.UID)
		}
	}
	if len(jobs) > 0 {
		return jobs
	}
	if *byUID == nil {
		*byUID = g.jobsByUID(slices)
	}
	users := (*byUID)[f.uid]
	if len(users) > 1 {
		// On a node without job cgroups the library finds its job in
		// SLURM_JOB_ID: one of the user's jobs named there takes the
		// charge alone (naming another of their own jobs moves it only
		// between their own slices).
		if id, ok, err := job.FromProc(g.opts.procRoot, pid); err == nil && ok {
			for _, j := range users {
				if j == id {
					return []string{id}
				}
			}
		}
	}
	return users
}

// jobsByUID maps each user to their jobs with a config naming them
// (SOFTMIG_UID), loading the configs into slices.
func (g *guard) jobsByUID(slices map[string]jobSlices) map[int][]string {
	m := map[int][]string{}
	names, _ := filepath.Glob(filepath.Join(g.runDir, "*.conf"))
	for _, name := range names {
		job := strings.TrimSuffix(filepath.Base(name), ".conf")
		js, ok := slices[job]
		if !ok {
			js = g.loadSlices(job)
			slices[job] = js
		}
		if js.conf != nil && js.conf.UID != nil {
			m[*js.conf.UID] = append(m[*js.conf.UID], job)
		}
	}
	return m
}

// forgetAfter is how long a condition must stay unseen to start over.
func (g *guard) forgetAfter() time.Duration { return 4 * g.opts.grace }

// due starts or checks the timer of k.
func (g *guard) due(k watchKey, now time.Time, v *verdict) bool {
	t, ok := g.since[k]
	if !ok {
		g.since[k] = now
		t = now
	}
	v.since = t
	// A round a little early (ticker jitter) must not put the kill off by
	// a whole interval.
	if now.Sub(t)+g.opts.interval/10 < g.opts.grace {
		return false
	}
	delete(g.since, k)
	delete(g.last, k)
	return true
}

// escapeCause judges a process by its mappings, read again at most every
// mapsEvery (and at once for a new process).
func (g *guard) escapeCause(now time.Time, pid int, start string) string {
	e, ok := g.maps[pid]
	if !ok || e.start != start || now.Sub(e.at) >= g.opts.mapsEvery {
		m, err := readMaps(g.opts.procRoot, pid, g.lib)
		if err != nil {
			if !errors.Is(err, errGone) {
				g.log.errorf("maps", "pid %d: %v", pid, err)
			}
			return ""
		}
		e = mapsEntry{start: start, m: m, at: now}
		g.maps[pid] = e
	}
	return e.m.escape()
}
