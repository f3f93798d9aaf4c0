// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/timefile"
)

// What the time authority keeps: the GPUs, the time file and its lock of
// each, and on each GPU the jobs with a time share whose processes are
// there (from the job configs root wrote and the driver's process lists).

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
			want[idx][job] = &timeJob{job: job, share: share, own: own, dev: o, uid: uid, policy: pol, region: js.conf.Region}
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
			j.share, j.own, j.dev, j.uid, j.policy, j.region = w.share, w.own, w.dev, w.uid, w.policy, w.region
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
