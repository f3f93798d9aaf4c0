// SPDX-License-Identifier: Apache-2.0

package main

import (
	"sort"
	"time"
)

// judgeEscapes times the escapes of GPU i's job processes, as the scanner
// (maps.go) judged them, and returns those that lasted the grace period.
// Escapes are timed per job and GPU, not per process: a chain of escaped
// processes, each gone before the grace period, is one escape.
func (g *guard) judgeEscapes(now time.Time, i int, st *gpuLook) []verdict {
	st.escapeGen, st.escaping = g.escapeChanges(), false
	var due []verdict
	jobs := make([]string, 0, len(st.jobPids))
	for job := range st.jobPids {
		jobs = append(jobs, job)
	}
	sort.Strings(jobs)
	for _, job := range jobs {
		js := g.conf.get(job, now)
		sl := js.onGPU(i)
		if !sl.sliced {
			continue
		}
		var escaped []int
		var cause string
		for _, pid := range st.jobPids[job] {
			f, ok := st.facts[pid]
			if !ok || g.isKilled(pid, f.start) {
				continue
			}
			c := g.scan.verdict(pid, f.start)
			if c == "" {
				continue
			}
			if !f.in(job) {
				c = "outside its job's cgroup, held to its user's job; " + c
			}
			if cause == "" {
				cause = c
			}
			escaped = append(escaped, pid)
		}
		if len(escaped) == 0 {
			continue
		}
		st.escaping = true
		k := watchKey{job: job, gpu: i, pid: escapeKey}
		g.seen[k] = now
		v := verdict{watchKey: k, reason: reasonEscape, dev: js.ordinal(i), used: st.jobUsed[job], limit: sl.limit,
			pids: escaped, facts: st.facts, cause: cause}
		if g.due(k, now, &v) {
			due = append(due, v)
		}
	}
	return due
}

// escapeChanges is how many of the scanner's verdicts changed so far.
func (g *guard) escapeChanges() uint64 {
	if g.scan == nil {
		return 0 // not started: no verdicts
	}
	return g.scan.changes.Load()
}

// due starts or checks the grace timer of k.
func (g *guard) due(k watchKey, now time.Time, v *verdict) bool {
	t, ok := g.since[k]
	if !ok {
		g.since[k] = now
		t = now
	}
	v.since = t
	if now.Sub(t) < g.opts.grace {
		return false
	}
	delete(g.since, k)
	delete(g.seen, k)
	return true
}

// forgetAfter is how long an escape must stay unseen to start over: a
// process that escapes, hides, and escapes again is still escaping.
func (g *guard) forgetAfter() time.Duration { return 4 * g.opts.grace }

// forgetTimers drops the escape timers not seen for forgetAfter.
func (g *guard) forgetTimers(now time.Time) {
	for k, t := range g.seen {
		if now.Sub(t) >= g.forgetAfter() {
			delete(g.since, k)
			delete(g.seen, k)
		}
	}
}

// forgetGPU drops every timer and sighting of GPU i: nothing is judged
// without a full picture.
func (g *guard) forgetGPU(i int) {
	for k := range g.since {
		if k.gpu == i {
			delete(g.since, k)
			delete(g.seen, k)
		}
	}
	for k := range g.sightings {
		if k.gpu == i {
			delete(g.sightings, k)
		}
	}
	delete(g.looks, i)
}

// resetTimers drops every timer and sighting.
func (g *guard) resetTimers() {
	g.since, g.seen, g.sightings = map[watchKey]time.Time{}, map[watchKey]time.Time{}, map[watchKey][]time.Time{}
	g.looks = map[int]*gpuLook{}
}
