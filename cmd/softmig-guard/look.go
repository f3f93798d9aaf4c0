// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"math/rand/v2"
	"sort"
	"time"
)

// Looks at the GPUs' memory (docs/security.md, "softmig-guard").
//
// A look reads each GPU's memory in use (one NVML call). When it moved by
// more than lookTrigger since the GPU's last full look, or a random
// deadline (fullLookEarliest..fullLookLatest) passed, the look is full: the GPU's process
// lists, every process's job, each job's sum. Looks come at random
// intervals (interval/10 .. interval), so a user cannot time pulses between
// them, and the cheap first stage makes a look cost one call per GPU when
// nothing changes: any allocation large enough to matter moves the device's
// total and brings a full look at once.
const (
	lookTrigger      = 16 << 20
	fullLookEarliest = 100 * time.Millisecond
	fullLookLatest   = 300 * time.Millisecond
	// confirmAfter is the wait before a sighting over a slice is read
	// again: a kill needs two reads, so a torn read never kills.
	confirmAfter = 2 * time.Millisecond
	// sightWindow and sightKill: sightings that the second read does not
	// confirm (pulses shorter than confirmAfter) still kill when they
	// come sightKill times within sightWindow.
	sightWindow = 2 * time.Second
	sightKill   = 2
)

// gpuLook is what the memory looks remember of one GPU.
type gpuLook struct {
	fullUsed uint64
	nextFull time.Time
	// jobUsed and jobPids are the last full look's sums per job.
	jobUsed map[string]uint64
	jobPids map[string][]int
	facts   map[int]procFacts
	// escaping: the last judgement of escapes found one; escapeGen: the
	// scanner's changes it saw. Neither moved: judging again finds the same.
	escaping  bool
	escapeGen uint64
}

// nextLook returns a random wait within (interval/10, interval].
func (g *guard) nextLook() time.Duration {
	lo := g.opts.interval / 10
	return lo + time.Duration(rand.Int64N(int64(g.opts.interval-lo)+1))
}

// look is one look at every GPU; it returns what is due for a kill.
func (g *guard) look(now time.Time) []verdict {
	n, err := g.gpus.count()
	if err != nil {
		g.log.errorf("nvml", "%v (no kills this look)", err)
		g.resetTimers()
		return nil
	}
	g.stats.looks.Add(1)
	var due []verdict
	alive := map[int]bool{}
	for i := 0; i < n; i++ {
		st := g.looks[i]
		if st == nil {
			st = &gpuLook{}
			g.looks[i] = st
		}
		used, err := g.gpus.memUsed(i)
		if err != nil {
			g.log.errorf("gpu", "%v (GPU skipped this look)", err)
			g.forgetGPU(i)
			continue
		}
		diff := int64(used) - int64(st.fullUsed)
		if diff < 0 {
			diff = -diff
		}
		if st.jobUsed != nil && diff <= lookTrigger && now.Before(st.nextFull) && !g.closely(i, now) {
			for _, pids := range st.jobPids {
				for _, p := range pids {
					alive[p] = true
				}
			}
			if st.escaping || g.escapeChanges() != st.escapeGen {
				due = append(due, g.judgeEscapes(now, i, st)...)
			}
			continue
		}
		v, ok := g.fullLook(now, i, st, used)
		if !ok {
			g.forgetGPU(i)
			continue
		}
		for _, pids := range st.jobPids {
			for _, p := range pids {
				alive[p] = true
			}
		}
		due = append(due, v...)
	}
	g.afterLook(now, alive)
	return due
}

// watchClose makes every look at GPU i full until until: the time
// authority saw GPU time used by processes no look saw alive. One short
// process after another, each gone before a full look, swaps a context
// for a context and leaves the device's total where it was: the cheap
// first stage saw nothing, and their time was charged to nobody. Reading
// the process list at every look sees them alive and charges their time to
// their jobs, for the price of a list read per look while it lasts. It
// says whether this starts a watch (none was on).
func (g *guard) watchClose(i int, until time.Time) bool {
	g.closeMu.Lock()
	defer g.closeMu.Unlock()
	old := g.closeUntil[i]
	if until.After(old) {
		g.closeUntil[i] = until
	}
	return !time.Now().Before(old)
}

// closely says whether every look at GPU i is full now.
func (g *guard) closely(i int, now time.Time) bool {
	g.closeMu.Lock()
	defer g.closeMu.Unlock()
	return now.Before(g.closeUntil[i])
}

// fullLook reads GPU i's processes, sums them per job and judges the sums.
func (g *guard) fullLook(now time.Time, i int, st *gpuLook, used uint64) ([]verdict, bool) {
	procs, err := g.gpus.procs(i)
	if err != nil {
		g.log.errorf("gpu", "%v (GPU skipped this look)", err)
		return nil, false
	}
	g.stats.fullLooks.Add(1)
	st.fullUsed = used
	st.nextFull = now.Add(fullLookEarliest + time.Duration(rand.Int64N(int64(fullLookLatest-fullLookEarliest))))
	sums := g.sum(now, i, procs, used)
	st.jobUsed, st.jobPids, st.facts = sums.used, sums.pids, sums.facts
	g.publishMemory(i, sums)
	g.publishUsed(i, now, used, sums.used)
	var due []verdict
	jobs := make([]string, 0, len(sums.used))
	for job := range sums.used {
		jobs = append(jobs, job)
	}
	sort.Strings(jobs)
	for _, job := range jobs {
		js := g.conf.get(job, now)
		sl := js.onGPU(i)
		if !sl.sliced || !sl.memory || sums.used[job] <= sl.limit+g.marginFor(sl.limit) {
			continue
		}
		if v, ok := g.sighting(now, i, job, js, sl, sums); ok {
			due = append(due, v)
		}
	}
	return append(due, g.judgeEscapes(now, i, st)...), true
}

// jobSums is one full look's attribution of a GPU's memory.
type jobSums struct {
	used    map[string]uint64
	pids    map[string][]int
	facts   map[int]procFacts // the listed processes charged to a job
	held    map[int]procFacts // job processes that only hold orphaned memory
	added   map[jobPid]bool   // holders added to a job's pids (addHolders)
	orphans map[string]uint64 // part of used held for processes that are gone
	unseen  uint64            // listed for gone processes never seen in a job
}

// sum charges every process on GPU i to its jobs. Root's processes and
// processes outside every SoftMig job are charged to nobody; memory the
// driver holds for a process that is gone goes to the jobs it was last
// seen in (orphan.go).
func (g *guard) sum(now time.Time, i int, procs []gpuProc, devUsed uint64) jobSums {
	s := jobSums{used: map[string]uint64{}, pids: map[string][]int{}, facts: map[int]procFacts{},
		held: map[int]procFacts{}, added: map[jobPid]bool{}, orphans: map[string]uint64{}}
	var listed uint64
	for _, p := range procs {
		listed += p.used
		f, err := g.facts.get(p.pid, now)
		if errors.Is(err, errGone) {
			g.chargeGone(now, i, p, &s)
			continue
		}
		if err != nil {
			g.log.errorf("proc", "pid %d: %v", p.pid, err)
			continue
		}
		if f.root || g.isKilled(p.pid, f.start) {
			continue
		}
		jobs := g.charge.jobsOf(f, p.pid, now)
		if len(jobs) == 0 {
			continue
		}
		s.facts[p.pid] = f
		for _, job := range jobs {
			s.pids[job] = append(s.pids[job], p.pid)
			s.used[job] += p.used
		}
	}
	g.chargeUnlisted(now, i, devUsed, listed, &s)
	for job := range s.pids {
		sort.Ints(s.pids[job])
	}
	return s
}

// sighting handles a job seen over its slice on GPU i: read again after
// confirmAfter, and kill when the second read agrees or when the job was
// seen over sightKill times within sightWindow.
func (g *guard) sighting(now time.Time, i int, job string, js jobSlices, sl slice, first jobSums) (verdict, bool) {
	k := watchKey{job: job, gpu: i}
	v := verdict{watchKey: k, reason: reasonOver, dev: js.ordinal(i), used: first.used[job], limit: sl.limit,
		pids: first.pids[job], facts: merged(first), since: now}
	time.Sleep(confirmAfter)
	if procs, err := g.gpus.procs(i); err == nil {
		again := g.sum(time.Now(), i, procs, 0)
		if again.used[job] > sl.limit+g.marginFor(sl.limit) {
			v.used, v.pids, v.facts = again.used[job], again.pids[job], merged(again)
			g.nameEscape(&v)
			return v, true
		}
	}
	seen := append(g.sightings[k], now)
	for len(seen) > 0 && now.Sub(seen[0]) > sightWindow {
		seen = seen[1:]
	}
	g.sightings[k] = seen
	if len(seen) >= sightKill {
		v.since = seen[0]
		v.facts = merged(first)
		delete(g.sightings, k)
		g.nameEscape(&v)
		return v, true
	}
	return verdict{}, false
}

// nameEscape makes a kill for over_slice an escape when one of its
// processes runs without the library: that is how it got over. It reads
// mappings only within a small budget (a process whose mappings are
// larger keeps its over_slice kill): the kill is decided, this only names
// its cause, and must not wait on what a user makes long.
func (g *guard) nameEscape(v *verdict) {
	deadline := time.Now().Add(10 * time.Millisecond)
	for _, pid := range v.pids {
		if time.Now().After(deadline) {
			return
		}
		f, ok := v.facts[pid]
		if !ok {
			continue
		}
		if c := g.scan.judgeNow(pid, f.start); c != "" {
			v.reason, v.cause = reasonEscape, c
			return
		}
	}
}

// merged is every process a kill of a job may need: those listed and
// those that only hold its orphaned memory.
func merged(s jobSums) map[int]procFacts {
	m := make(map[int]procFacts, len(s.facts)+len(s.held))
	for pid, f := range s.facts {
		m[pid] = f
	}
	for pid, f := range s.held {
		m[pid] = f
	}
	return m
}
