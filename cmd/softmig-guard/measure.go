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
// the sample after the job's gate closed, less drainGrace for the work it
// had queued then.
func (a *authority) measure(g *gpuTime, now time.Time) {
	samples, err := a.g.gpus.samples(g.index, g.last)
	if err != nil {
		a.g.log.errorf("time samples", "time: %v (nobody judged this tick)", err)
		return
	}
	sort.Slice(samples, func(x, y int) bool { return samples[x].ts < samples[y].ts })
	warm := a.started.Add(a.period)
	woke := false
	for _, s := range samples {
		if s.ts <= g.last && g.last != 0 {
			continue
		}
		if s.ts != g.prev {
			dt := time.Duration(s.ts-g.prev) * time.Microsecond
			if g.prev == 0 || dt > a.period {
				dt = timeTick
			}
			if dt < time.Millisecond {
				dt = time.Millisecond
			}
			g.dt, g.prev = dt, s.ts
		}
		j := a.jobOf(g, s.pid, now)
		if j == nil || s.util == 0 {
			continue
		}
		busy := g.dt * time.Duration(s.util) / 100
		at := time.UnixMicro(int64(s.ts))
		j.used += busy
		j.totalUsed += busy
		j.logUsed += busy
		if at.Before(warm) || at.Before(j.since) {
			// The guard just started, or the job had no entry yet (it kept
			// to its static slot): no history of gates to judge it by.
			continue
		}
		open, closed := j.openAt(at)
		if open {
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
		late := g.dt
		if !closed.IsZero() {
			if since := at.Sub(closed) - drainGrace; since < late {
				late = since
			}
		}
		if late > 0 {
			j.debt += late * time.Duration(s.util) / 100
		}
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

// jobOf returns the job of g that pid belongs to, or nil.
func (a *authority) jobOf(g *gpuTime, pid int, now time.Time) *timeJob {
	f, err := a.g.facts.get(pid, now)
	var jobs []string
	switch {
	case errors.Is(err, errGone):
		jobs = a.g.facts.jobsOfGone(pid)
	case err != nil || f.root:
		return nil
	default:
		jobs = a.g.charge.jobsOf(f, pid, now)
	}
	for _, job := range jobs {
		if j, ok := g.jobs[job]; ok {
			return j
		}
	}
	return nil
}
