// SPDX-License-Identifier: Apache-2.0

package main

import (
	"sort"
	"time"

	"github.com/softmig/softmig/internal/timefile"
)

// The gates: each period's windows (schedule.go plans them), the gate
// words flipped at their edges, each job's history of open gates that
// measure.go judges samples by, and debt repaid as cut windows pass.

// minEvidence is the least of its own slot a job must have been measured
// in to be judged idle.
const minEvidence = 50 * time.Millisecond

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
		// One woken by its waiting launches is judged on its slot since.
		from := j.since
		if j.wokeAt.After(from) {
			from = j.wokeAt
		}
		ownLen := ownAfter(j.own, from.Sub(g.start))
		wasBusy := j.busy
		j.busy = j.paused || ownLen < minEvidence || float64(j.ownUsed+j.lentUsed) >= idleBelow*float64(ownLen)
		if wasBusy && !j.busy {
			j.idleAt = now // before SetStats says so: what it writes after is newer
		}
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
