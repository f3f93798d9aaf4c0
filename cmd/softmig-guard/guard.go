// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/guardstat"
	"github.com/softmig/softmig/internal/logrec"
	"github.com/softmig/softmig/internal/size"
	"github.com/softmig/softmig/internal/usedfile"
)

type options struct {
	interval, grace, mapsEvery time.Duration
	siteConfig                 string
	margin                     uint64
	marginPct                  float64
	mapsBudget                 int64
	library                    string
	deviceFiles                string
	policy                     string
	noTime                     bool
	once, dryRun               bool
	procRoot                   string
}

// Reasons of a guard kill (the reason key of the event).
const (
	reasonOver   = "over_slice"
	reasonEscape = "escape"
	reasonTime   = "over_time"
)

// watchKey is one condition being timed: a job over its slice on a GPU
// (pid 0), or with escaped processes there (pid escapeKey).
type watchKey struct {
	job string
	gpu int
	pid int
}

const escapeKey = -1

// verdict is a condition to act on: who to kill and why.
type verdict struct {
	watchKey
	reason      string
	dev         int // the job's CUDA ordinal of the GPU, or logrec.NoDev
	used, limit uint64
	share       int           // over_time: the job's share
	owed        time.Duration // over_time: its debt
	pids        []int
	facts       map[int]procFacts
	cause       string
	since       time.Time
}

// guardStats are the guard's own figures (its log, softmig-smi, metrics).
type guardStats struct {
	looks, fullLooks, kills, pauses atomic.Uint64
	lookNs, lookMaxNs, lastLookNs   atomic.Int64
	lastLook                        atomic.Int64 // when the last look ended, ns since the epoch
}

type guard struct {
	opts    options
	log     *logger
	open    func() (gpuReader, error)
	gpus    gpuReader
	lib     libID
	runDir  string
	logDir  string
	conf    *configs
	facts   *factsCache
	charge  *charger
	scan    *scanner
	auth    *authority
	notify  *notifier
	stats   guardStats
	started time.Time

	// The memory looks' own state (one goroutine).
	looks     map[int]*gpuLook
	since     map[watchKey]time.Time // escapes: first seen
	seen      map[watchKey]time.Time // escapes: last seen
	sightings map[watchKey][]time.Time
	holders   holderScan
	usedFiles map[int]*usedfile.File // by GPU index
	usedRetry map[int]time.Time      // by GPU index: when to try Create again

	// Until when each GPU's looks are all full (look.go, closely).
	closeMu    sync.Mutex
	closeUntil map[int]time.Time

	killMu sync.Mutex
	killed map[int]string // pid -> start time of processes already killed

	memMu   sync.Mutex
	mem     map[int]jobSums // the last full look of each GPU (metrics)
	peak    map[watchKey]uint64
	killsBy map[watchKey]uint64 // processes killed, by job and GPU
}

func newGuard(opts options, log *logger) *guard {
	g := &guard{
		opts: opts, log: log,
		open:   func() (gpuReader, error) { return openNVML() },
		runDir: defs.RunDir(), logDir: defs.LogDir(),
		killed:     map[int]string{},
		usedFiles:  map[int]*usedfile.File{},
		usedRetry:  map[int]time.Time{},
		notify:     newNotifier(log),
		mem:        map[int]jobSums{},
		closeUntil: map[int]time.Time{},
		peak:       map[watchKey]uint64{},
		killsBy:    map[watchKey]uint64{},
	}
	g.conf = newConfigs(g.runDir, log)
	g.facts = newFactsCache(opts.procRoot)
	g.charge = &charger{log: log, conf: g.conf, facts: g.facts, forged: map[int]string{}}
	g.resetTimers()
	return g
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

// gcPercent is the guard's GOGC (run). memoryLimit is a soft ceiling on
// the runtime's memory: near it the collector runs as often as it must,
// whatever GOGC says (GOGC alone lets the heap reach 5x its live data,
// which grows with the processes users start).
const (
	gcPercent   = 400
	memoryLimit = 256 << 20
)

func (g *guard) run(ctx context.Context) error {
	// Most of what a look allocates is garbage by the next one, over a
	// live heap of a few MiB: collecting at 5x it, not 2x, cuts the
	// collector's share of the guard's CPU for ~10 MiB more memory.
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(memoryLimit)
	var warn string
	g.lib, warn = findLibrary(g.opts.library)
	g.started = time.Now()
	g.log.infof("start: looks at random within %s, escape grace=%s margin=%s or %g%% library=%q run_dir=%s log_dir=%s time_authority=%v policy=%s dry_run=%v",
		g.opts.interval, g.opts.grace, size.Format(g.opts.margin), g.opts.marginPct, g.lib.path, g.runDir, g.logDir, !g.opts.noTime, g.opts.policy, g.opts.dryRun)
	if warn != "" {
		g.log.warnf("%s", warn)
	}
	if !g.opts.noTime && !g.opts.once {
		if nice, err := raisePriority(); err != nil {
			g.log.warnf("priority: %v (nice %d: the gates may flip late on a busy node)", err, nice)
		}
	}
	if err := g.openGPUs(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		g.stop()
	}()
	g.scan = newScanner(g.opts.procRoot, g.lib, g.log, g.opts.mapsEvery, g.opts.mapsBudget)
	wg.Add(1)
	go func() { defer wg.Done(); g.scan.run(ctx) }()
	if !g.opts.noTime && !g.opts.once {
		g.auth = newAuthority(g)
		wg.Add(1)
		go func() { defer wg.Done(); g.auth.run(ctx) }()
	}
	if !g.opts.once && !g.opts.dryRun {
		wg.Add(1)
		go func() { defer wg.Done(); g.serveMetrics(ctx) }()
	}
	first := time.Now()
	report, status := first, time.Time{}
	// One timer for every wait: a new one each look showed in the guard's
	// CPU profile (time.NewTimer, about 7 % of its samples, the
	// authority's timers with it).
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	for {
		now := time.Now()
		due := g.look(now)
		for _, v := range due {
			g.act(v)
		}
		took := time.Since(now)
		g.stats.lookNs.Add(int64(took))
		g.stats.lastLookNs.Store(int64(took))
		g.stats.lastLook.Store(time.Now().UnixNano())
		if int64(took) > g.stats.lookMaxNs.Load() {
			g.stats.lookMaxNs.Store(int64(took))
		}
		if g.opts.once && now.Sub(first) >= g.opts.grace+g.opts.interval {
			return nil
		}
		if now.Sub(report) >= time.Minute {
			report = now
			g.logStats("stats")
		}
		if now.Sub(status) >= guardstat.Every {
			status = now
			g.writeStatus(now)
		}
		wake.Reset(g.nextLook()) // fired and received, or unfired: Reset is safe
		select {
		case <-ctx.Done():
			return nil
		case <-wake.C:
		}
	}
}

// openGPUs starts NVML, retrying every second until it works (a node
// whose driver loads late) or ctx ends; --once tries once.
func (g *guard) openGPUs(ctx context.Context) error {
	for {
		r, err := g.open()
		if err == nil {
			g.gpus = r
			g.log.infof("NVML started")
			return nil
		}
		g.log.errorf("nvml", "cannot start NVML (retrying every second): %v", err)
		if g.opts.once {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (g *guard) stop() {
	g.notify.wait(5 * time.Second)
	g.logStats("stop")
	g.removeUsed()
	if g.gpus != nil {
		if err := g.gpus.close(); err != nil {
			g.log.errorf("nvml", "stopping NVML: %v", err)
		}
	}
}

// logStats writes the guard's own figures: its looks and their time, its
// CPU, its NVML calls, the escape scanner's work.
func (g *guard) logStats(what string) {
	secs := time.Since(g.started).Seconds()
	var calls, errs uint64
	var driver time.Duration
	if g.gpus != nil {
		calls, errs, driver = g.gpus.calls(), g.gpus.errors(), g.gpus.driverCPU()
	}
	looks := g.stats.looks.Load()
	mean := time.Duration(0)
	if looks > 0 {
		mean = time.Duration(g.stats.lookNs.Load() / int64(looks))
	}
	var reads, bytes, over uint64
	if g.scan != nil {
		reads, bytes, over = g.scan.reads.Load(), g.scan.bytesRead.Load(), g.scan.overBudget.Load()
	}
	g.log.infof("%s: looks=%d full_looks=%d look_mean=%s look_max=%s kills=%d pauses=%d nvml_calls=%d nvml_calls_per_s=%.1f nvml_errors=%d maps_reads=%d maps_bytes=%d maps_over_budget=%d cpu_ms=%d nvml_cpu_ms=%d seconds=%.1f",
		what, looks, g.stats.fullLooks.Load(), mean, time.Duration(g.stats.lookMaxNs.Load()), g.stats.kills.Load(), g.stats.pauses.Load(),
		calls, float64(calls)/secs, errs, reads, bytes, over, cpuMillis(), driver.Milliseconds(), secs)
}

// writeStatus writes the status file softmig-smi's admin view reads.
func (g *guard) writeStatus(now time.Time) {
	if g.opts.dryRun || g.opts.once {
		return
	}
	s := &guardstat.Status{PID: os.Getpid(), Started: g.started, Updated: now, TimeAuthority: g.auth != nil,
		Looks: g.stats.looks.Load(), LookMax: time.Duration(g.stats.lookMaxNs.Load()),
		CPU: time.Duration(cpuMillis()) * time.Millisecond, Kills: g.stats.kills.Load(), Pauses: g.stats.pauses.Load()}
	if s.Looks > 0 {
		s.LookMean = time.Duration(g.stats.lookNs.Load() / int64(s.Looks))
	}
	if g.gpus != nil {
		s.NVMLCalls, s.NVMLErrors, s.NVMLCPU = g.gpus.calls(), g.gpus.errors(), g.gpus.driverCPU()
		s.GPUs, _ = g.gpus.count()
	}
	if g.scan != nil {
		s.MapsReads, s.MapsOverBudget = g.scan.reads.Load(), g.scan.overBudget.Load()
	}
	if err := guardstat.Write(g.runDir, s); err != nil {
		g.log.errorf("status", "status file: %v", err)
	}
}

// afterLook forgets what concerns processes gone from every GPU.
func (g *guard) afterLook(now time.Time, alive map[int]bool) {
	g.forgetTimers(now)
	g.facts.forget(alive, now)
	g.charge.forget(alive)
	g.killMu.Lock()
	for pid := range g.killed {
		if !alive[pid] {
			delete(g.killed, pid)
		}
	}
	g.killMu.Unlock()
}

func (g *guard) isKilled(pid int, start string) bool {
	g.killMu.Lock()
	defer g.killMu.Unlock()
	return g.killed[pid] == start
}

// publishMemory keeps the last full look of GPU i and each job's peak.
func (g *guard) publishMemory(i int, s jobSums) {
	g.memMu.Lock()
	defer g.memMu.Unlock()
	g.mem[i] = s
	for job, used := range s.used {
		k := watchKey{job: job, gpu: i}
		if used > g.peak[k] {
			g.peak[k] = used
		}
	}
}

// jobLog appends an event to the job's log (never in a dry run).
func (g *guard) jobLog(job string, uid, dev int, now time.Time, msg string, kv ...string) {
	if g.opts.dryRun {
		return
	}
	if err := appendJobLog(g.logDir, job, uid, uid, logrec.Event(now, job, os.Getpid(), dev, msg, kv...)); err != nil {
		g.log.errorf("joblog "+job, "job %s: %v", job, err)
	}
}
