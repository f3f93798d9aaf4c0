// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"sort"
	"time"
)

// measure reads GPU g's utilisation samples since the last ones and
// charges each to its job. A sample says how busy one process kept the GPU
// up to its instant; the driver takes one every so often (about 200 ms on
// an H100, whole to the process running at its instant when several are),
// so a sample counts for the time since the one before it. What counts is
// where its instant falls: in a window of the job's (its own slot or time
// lent to it), it is the job's due; outside, it is debt, for the part of
// the sample after the job's gate closed. Work queued before a close that
// runs after it is the job's time too: a small debt, repaid by shorter
// windows (repay), which pauses only a job that keeps running past them.
// Forgiving it let a job around the library queue that much at every
// close, for good.
func (a *authority) measure(g *gpuTime, now time.Time) {
	if !newSampleDue(g, now) {
		return
	}
	samples, err := a.g.gpus.samples(g.index, g.last)
	if err != nil {
		a.g.log.errorf("time samples", "time: %v (nobody judged this tick)", err)
		return
	}
	sort.Slice(samples, func(x, y int) bool { return samples[x].ts < samples[y].ts })
	// The driver's sampling period is the shortest spacing of consecutive
	// samples, learnt from the whole batch before any is charged: a GPU's
	// first sample would otherwise count for the 200 ms assumed until then
	// (on the simulator's 20 ms samples, 180 ms too many).
	prev := g.prev
	for _, s := range samples {
		if s.ts <= g.last && g.last != 0 {
			continue
		}
		if dt := time.Duration(s.ts-prev) * time.Microsecond; prev != 0 && dt >= time.Millisecond && dt < g.every {
			g.every = dt
		}
		prev = s.ts
	}
	warm := a.started.Add(a.period)
	woke := false
	// A batch holds a process's samples since the last tick (five of
	// them on the simulator's 20 ms period): one answer per process.
	jobsOf := map[int][]string{}
	for _, s := range samples {
		if s.ts <= g.last && g.last != 0 {
			continue
		}
		if s.ts != g.prev {
			// A sample covers the driver's sampling period before its
			// instant: the spacing of consecutive samples, where the
			// driver took one in every period, and never more (after a gap
			// with nothing to sample, the next sample still covers one).
			dt := time.Duration(s.ts-g.prev) * time.Microsecond
			if g.prev == 0 || dt > g.every {
				dt = g.every
			}
			g.dt, g.prev = dt, s.ts
		}
		if s.util == 0 {
			continue
		}
		busy := g.dt * time.Duration(s.util) / 100
		jobs, ok := jobsOf[s.pid]
		if !ok {
			var unseen bool
			jobs, unseen = a.jobsOf(s.pid, now)
			jobsOf[s.pid] = jobs
			if unseen && a.g.watchClose(g.index, now.Add(watchUnseen)) {
				a.g.log.warnf("time: GPU %d: GPU time of pid %d, gone before any look saw it: every look reads the GPU's processes for %s", g.index, s.pid, watchUnseen)
			}
		}
		for _, job := range jobs {
			g.usedAll[job] += busy
		}
		var j *timeJob
		for _, job := range jobs {
			if j = g.jobs[job]; j != nil {
				break
			}
		}
		if j == nil {
			continue
		}
		at := time.UnixMicro(int64(s.ts))
		j.used += busy
		j.totalUsed += busy
		j.logUsed += busy
		if at.Before(warm) || at.Before(j.since) {
			// The guard just started, or the job had no entry yet (it kept
			// to its static slot): no history of gates to judge it by.
			continue
		}
		if j.openAt(at) {
			if within(j.own, at.Sub(a.periodStart(at))) {
				j.ownUsed += busy
				if !j.busy && s.util >= wakeUtil && g.lend && !at.Before(g.start) {
					j.busy, woke = true, true
				}
			} else {
				j.lentUsed += busy
				j.totalLent += busy
				j.logLent += busy
			}
			continue
		}
		j.debt += j.owed(at, g.dt, busy)
	}
	for _, s := range samples {
		if s.ts > g.last {
			g.last = s.ts
		}
	}
	if woke {
		// An idle job ran in its own slot: it gets the slot back now, not
		// at the next period.
		a.replan(g, now)
	}
}

// newSampleDue says whether the driver may have taken a sample of GPU g
// since the newest one read: one sampling period after it. On an H100 a
// read costs the driver 1.3-2.5 ms of CPU (test/gpu/nvml_cost.c), and it
// samples every 200 ms: every other read at the measure's 100 ms found
// nothing new. A clock that went back reads at once.
func newSampleDue(g *gpuTime, now time.Time) bool {
	if g.last == 0 {
		return true
	}
	newest := time.UnixMicro(int64(g.last))
	return now.Before(newest) || !now.Before(newest.Add(g.every))
}

// owed is what of a sample taken at `at`, busy for busy in the dt before
// it, cannot have run while j's gate was open. A lone process's sample
// averages the time it covers, so one taken just after a close holds the
// window's work before it: charging the time since the close instead took
// 3-5 points of every capped share on an H100. A whole sample (several
// processes) goes to the one running at its instant: past a close, the
// job ran there, and its open part is all that is forgiven.
func (j *timeJob) owed(at time.Time, dt, busy time.Duration) time.Duration {
	if over := busy - j.openDuring(at.Add(-dt), at); over > 0 {
		return over
	}
	return 0
}

// watchUnseen is how long every look reads the process lists of a GPU
// after it was busy for a process no look saw alive (look.go, watchClose).
const watchUnseen = 5 * time.Second

// jobsOf returns the jobs pid is charged to (none for root's processes
// and processes outside jobs); unseen: it is gone, and no look saw it alive
// in a job.
func (a *authority) jobsOf(pid int, now time.Time) (jobs []string, unseen bool) {
	f, err := a.g.facts.get(pid, now)
	switch {
	case errors.Is(err, errGone):
		jobs = a.g.facts.jobsOfGone(pid)
		return jobs, len(jobs) == 0
	case err != nil || f.root:
		return nil, false
	default:
		return a.g.charge.jobsOf(f, pid, now), false
	}
}
