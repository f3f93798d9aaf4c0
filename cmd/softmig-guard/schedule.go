// SPDX-License-Identifier: Apache-2.0

package main

import (
	"sort"
	"time"

	"github.com/softmig/softmig/internal/jobconf"
)

// The schedule of one GPU for one period: when each job's gate is open.
//
// Every job with a time share owns its time slot (softmig-conf gives the
// jobs of a GPU disjoint parts of the period, one unit per shard). Under
// `cap` a job's gate is open in its slot and nowhere else, like a MIG
// instance. Under `lend` the time no busy job owns (the slots of idle jobs,
// and the units no job holds) is split among the busy jobs in proportion
// to their shares; an idle job's gate stays open in its own slot, so that
// when it wakes it runs at once and the authority sees it and gives its
// slot back to it alone. A job in debt (it ran outside its windows) gets
// its windows shortened at their ends by what it owes; a paused job gets
// none.

// span is a part [a, b) of a period, in nanoseconds from its start.
type span struct{ a, b time.Duration }

// planJob is what the schedule needs of a job.
type planJob struct {
	job    string
	share  int    // percent
	own    []span // its slot
	busy   bool   // used its own slot last period (lend: may borrow)
	paused bool
	owe    time.Duration // debt to repay this period by shorter windows
}

// window is a part of the period in which a job's gate is open; lent says
// it is not the job's own time (after a merge: not at all its own).
type window struct {
	span
	lent bool
}

// slotSpans turns a time slot (percent ranges) into spans of a period.
func slotSpans(s jobconf.Slot, period time.Duration) []span {
	out := make([]span, 0, len(s))
	for _, r := range s {
		out = append(out, span{period * time.Duration(r.Start) / 100, period * time.Duration(r.End) / 100})
	}
	return out
}

// defaultSpans is the slot of a job whose config has none: the first
// share percent of the period, as the library's static fallback uses.
func defaultSpans(share int, period time.Duration) []span {
	return []span{{0, period * time.Duration(share) / 100}}
}

// plan returns each job's windows for one period, and the time lent to
// each beyond its own slot.
func plan(jobs []planJob, lend bool, period time.Duration) (map[string][]window, map[string]time.Duration) {
	out := map[string][]window{}
	lent := map[string]time.Duration{}
	for _, j := range jobs {
		if j.paused {
			out[j.job] = nil
			continue
		}
		out[j.job] = shorten(j.own, j.owe)
	}
	if !lend {
		return out, lent
	}
	var busy []planJob
	total := 0
	for _, j := range jobs {
		if j.busy && !j.paused {
			busy = append(busy, j)
			total += j.share
		}
	}
	if len(busy) == 0 || total == 0 {
		return out, lent
	}
	sort.Slice(busy, func(x, y int) bool { return busy[x].job < busy[y].job })
	for _, free := range lendable(jobs, period) {
		// Split each free span among the busy jobs, in proportion to their
		// shares, in one piece each.
		at := free.a
		acc := 0
		for k, j := range busy {
			acc += j.share
			end := free.a + (free.b-free.a)*time.Duration(acc)/time.Duration(total)
			if k == len(busy)-1 {
				end = free.b
			}
			if end > at {
				out[j.job] = append(out[j.job], window{span: span{at, end}, lent: true})
				lent[j.job] += end - at
			}
			at = end
		}
	}
	for job, w := range out {
		out[job] = merge(w)
	}
	return out, lent
}

// lendable is the time of the period that no busy job owns: the slots of
// idle and paused jobs and the units no job holds.
func lendable(jobs []planJob, period time.Duration) []span {
	var owned []span
	for _, j := range jobs {
		if j.busy && !j.paused {
			owned = append(owned, j.own...)
		}
	}
	sort.Slice(owned, func(x, y int) bool { return owned[x].a < owned[y].a })
	var free []span
	at := time.Duration(0)
	for _, o := range owned {
		if o.a > at {
			free = append(free, span{at, o.a})
		}
		if o.b > at {
			at = o.b
		}
	}
	if at < period {
		free = append(free, span{at, period})
	}
	return free
}

// shorten removes owe from the ends of spans, last span first.
func shorten(own []span, owe time.Duration) []window {
	w := make([]window, len(own))
	for i, s := range own {
		w[i] = window{span: s}
	}
	for i := len(w) - 1; i >= 0 && owe > 0; i-- {
		n := w[i].b - w[i].a
		cut := owe
		if cut > n {
			cut = n
		}
		w[i].b -= cut
		owe -= cut
	}
	out := w[:0]
	for _, x := range w {
		if x.b > x.a {
			out = append(out, x)
		}
	}
	return out
}

// cutSpans is what shorten(own, owe) removes: the ends of the spans, last
// span first.
func cutSpans(own []span, owe time.Duration) []span {
	var out []span
	for i := len(own) - 1; i >= 0 && owe > 0; i-- {
		n := own[i].b - own[i].a
		if n > owe {
			n = owe
		}
		out = append(out, span{own[i].b - n, own[i].b})
		owe -= n
	}
	return out
}

// before is how much of spans lies before offset t.
func before(s []span, t time.Duration) time.Duration {
	var n time.Duration
	for _, x := range s {
		switch {
		case t >= x.b:
			n += x.b - x.a
		case t > x.a:
			n += t - x.a
		}
	}
	return n
}

// merge sorts windows and joins those that touch (an own window followed
// by a lent one stays open across the seam).
func merge(w []window) []window {
	sort.Slice(w, func(x, y int) bool { return w[x].a < w[y].a })
	out := w[:0]
	for _, x := range w {
		if n := len(out); n > 0 && x.a <= out[n-1].b {
			if x.b > out[n-1].b {
				out[n-1].b = x.b
			}
			out[n-1].lent = out[n-1].lent && x.lent
			continue
		}
		out = append(out, x)
	}
	return out
}

// total sums spans.
func total(s []span) time.Duration {
	var n time.Duration
	for _, x := range s {
		n += x.b - x.a
	}
	return n
}

// within says whether offset t of the period is in one of the spans.
func within(s []span, t time.Duration) bool {
	for _, x := range s {
		if x.a <= t && t < x.b {
			return true
		}
	}
	return false
}
