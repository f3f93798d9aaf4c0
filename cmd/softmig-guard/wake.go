// SPDX-License-Identifier: Apache-2.0

package main

import (
	"time"

	"github.com/softmig/softmig/internal/region"
)

// Waking an idle job (lend) from its own launches. The driver's samples
// are whole: each goes to the process running at its instant, one every
// 200 ms. An idle job's slot is lent and shared, so a job that wakes there
// is seen only when an instant lands on its kernel, and that can take
// periods (a busy quarter stayed judged idle at 10 % for seconds). The
// library knows at once: a launch of a job whose entry says idle that
// waits at its closed gate writes the time into the job's region
// (region.SMWanted), and the authority reads it at every measure.
//
// The region is the job's user's file, and this is the one word of it a
// decision reads: what it can buy is the job's own slot back, not lent
// to others, which is the job's due (a kernel that spins takes it as
// well). A job woken that does not use its slot is judged idle again at
// the period's end.

// wakeWaiting makes busy the idle jobs of GPU g whose launches waited at
// their gates since they were judged idle.
func (a *authority) wakeWaiting(g *gpuTime, now time.Time) {
	if !g.lend {
		return
	}
	woke := false
	for _, j := range g.jobs {
		if j.busy || j.paused || !a.waited(g, j, now) {
			continue
		}
		j.busy, j.wokeAt, woke = true, now, true
	}
	if woke {
		a.replan(g, now)
	}
}

// waited says whether job j's region says a launch of it waited at its
// gate on GPU g after it was judged idle (and not from the future).
func (a *authority) waited(g *gpuTime, j *timeJob, now time.Time) bool {
	if j.region == "" {
		return false
	}
	r, err := region.OpenDevs(j.region)
	if err != nil || (j.uid >= 0 && r.UID != uint32(j.uid)) {
		return false
	}
	i := r.DevEntry(g.uuid)
	if i < 0 {
		return false
	}
	at := r.L.Devs[i].SM[region.SMWanted]
	return at > uint64(j.idleAt.UnixNano()) && at <= uint64(now.Add(time.Second).UnixNano())
}
