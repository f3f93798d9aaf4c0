// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/logrec"
	"github.com/softmig/softmig/internal/timefile"
)

// enforce acts on j's debt: a paused job repays as its own slot passes
// while it is frozen (time it would have had: its share of every moment
// would let a job frozen between its slots repay without losing any) and
// is thawed once its debt is gone; a job whose debt
// passes pauseAt is paused; one whose debt passes killAt, or that is
// paused a pauseKills-th time within pauseWindow, has its processes on the
// GPU killed and is paused once they are gone. A kill forgives nothing: a
// job that starts its GPU processes again (a shell loop) must not start
// from a clean slate each time, so it repays frozen, its starter with it.
func (a *authority) enforce(g *gpuTime, j *timeJob, now time.Time) {
	if j.paused {
		a.killDefiers(g, j, now)
		d := now.Sub(j.pausedAt)
		j.debt -= a.ownPassed(j, j.pausedAt, now)
		j.pausedAt = now
		j.totalPaused += d
		j.logPaused += d
		if j.debt > j.pauseDebt+killAt-pauseAt {
			a.killTime(g, j, now, "its debt grew by over "+(killAt-pauseAt).String()+" while frozen (work queued before the pause, or processes outside the job cgroup)")
			return
		}
		if j.debt <= 0 {
			j.debt = 0
			a.resume(g, j, now, "repaid")
			a.replan(g, now)
		}
		return
	}
	if j.pauseNext {
		// Killed: paused once the killed processes are gone (frozen as
		// they die, they would live on, and their memory with them).
		if a.dying(j, now) {
			return
		}
		j.pauseNext = false
		if j.debt > 0 {
			a.pause(g, j, now)
			a.replan(g, now)
		}
		return
	}
	for len(j.pauses) > 0 && now.Sub(j.pauses[0]) > pauseWindow {
		j.pauses = j.pauses[1:]
	}
	switch {
	case j.debt > killAt:
		a.killTime(g, j, now, "ran "+j.debt.Round(time.Millisecond).String()+" outside its windows")
	case j.debt > pauseAt:
		if len(j.pauses)+1 >= pauseKills {
			a.killTime(g, j, now, "ran outside its windows again after "+strconv.Itoa(len(j.pauses))+" pauses within "+pauseWindow.String())
			return
		}
		a.pause(g, j, now)
		a.replan(g, now)
	}
}

// killDefiers kills the processes of paused job j on the GPU that run
// outside its frozen job cgroup: a pause stops them with SIGSTOP, and their
// user may continue them, or start others (a shell loop, outside the job
// cgroup); whatever runs there while the job is paused defies the pause.
func (a *authority) killDefiers(g *gpuTime, j *timeJob, now time.Time) {
	pids, facts := a.jobPids(g, j, now)
	var defiers []int
	for _, pid := range pids {
		if _, _, err := a.fz.jobDir(pid, j.job); err == nil {
			continue // frozen with its job cgroup
		}
		if st := procState(a.g.opts.procRoot, pid, facts[pid].start); st != 0 && st != 'T' && st != 't' && st != 'Z' {
			defiers = append(defiers, pid)
		}
	}
	if len(defiers) == 0 {
		return
	}
	// What starts them again is stopped with them: their parents of the
	// same user outside any job cgroup (a shell loop).
	for _, pid := range defiers {
		a.stopStarters(j, pid, facts[pid].uid)
	}
	a.g.act(verdict{watchKey: watchKey{job: j.job, gpu: g.index}, reason: reasonTime, dev: j.dev,
		pids: defiers, facts: facts, cause: "ran outside its job cgroup while the job was paused", since: now, share: j.share, owed: j.debt})
}

// stopStarters stops pid's ancestors that are uid's and in no job cgroup,
// up to the first that is not, and records them to be continued when j
// resumes.
func (a *authority) stopStarters(j *timeJob, pid, uid int) {
	for depth := 0; depth < 16; depth++ {
		ppid := parentOf(a.g.opts.procRoot, pid)
		if ppid <= 1 {
			return
		}
		f, err := readFacts(a.g.opts.procRoot, ppid)
		if err != nil || f.root || f.uid != uid || len(f.jobs) > 0 {
			return
		}
		if signalVerified(a.g.opts.procRoot, ppid, f, unix.SIGSTOP) == nil {
			j.noteStopped(ppid, f)
		}
		pid = ppid
	}
}

// ownPassed is how much of j's own slot passed between from and to.
func (a *authority) ownPassed(j *timeJob, from, to time.Time) time.Duration {
	var n time.Duration
	for from.Before(to) {
		ps := a.periodStart(from)
		end := ps.Add(a.period)
		if to.Before(end) {
			end = to
		}
		n += before(j.own, end.Sub(ps)) - before(j.own, from.Sub(ps))
		from = end
	}
	return n
}

// dying says whether processes killed for j's time are still exiting
// (for at most a second after the kill).
func (a *authority) dying(j *timeJob, now time.Time) bool {
	if now.Sub(j.killedAt) > time.Second {
		return false
	}
	for pid, start := range j.killed {
		if running(a.g.opts.procRoot, pid, start) {
			return true
		}
	}
	return false
}

// jobPids lists j's processes on GPU g now (nil: NVML could not say), and
// root's facts about each.
func (a *authority) jobPids(g *gpuTime, j *timeJob, now time.Time) ([]int, map[int]procFacts) {
	procs, err := a.g.gpus.procs(g.index)
	if err != nil {
		a.g.log.errorf("time procs", "time: %v", err)
		return nil, nil
	}
	var pids []int
	facts := map[int]procFacts{}
	for _, p := range procs {
		f, err := a.g.facts.get(p.pid, now)
		if err != nil || f.root {
			continue
		}
		for _, job := range a.g.charge.jobsOf(f, p.pid, now) {
			if job == j.job {
				pids = append(pids, p.pid)
				facts[p.pid] = f
				break
			}
		}
	}
	sort.Ints(pids)
	return pids, facts
}

// pause freezes j's job cgroup (and stops its processes outside it).
func (a *authority) pause(g *gpuTime, j *timeJob, now time.Time) {
	pids, facts := a.jobPids(g, j, now)
	if a.g.opts.dryRun {
		a.g.log.infof("dry run, would pause: job %s GPU %d: %s owed, pids %s", j.job, g.index, j.debt.Round(time.Millisecond), joinPids(pids))
		j.debt = 0
		return
	}
	dirs, rest := a.fz.freeze(j.job, g.uuid, pids)
	for _, pid := range rest {
		f := facts[pid]
		if err := signalVerified(a.g.opts.procRoot, pid, f, unix.SIGSTOP); err == nil {
			j.noteStopped(pid, f)
		} else if !errors.Is(err, errGone) {
			a.g.log.errorf("stop", "time: job %s pid %d: %v", j.job, pid, err)
		}
	}
	j.paused, j.pausedAt, j.pauseDebt = true, now, j.debt
	j.pauses = append(j.pauses, now)
	g.file.SetStats(j.entry, timefileFlags(j), permille(j.lastUsed, a.period), permille(j.lastLent, a.period))
	a.g.stats.pauses.Add(1)
	a.g.log.infof("time pause: job %s GPU %d: owes %s (share %d%%), froze %s, stopped %s",
		j.job, g.index, j.debt.Round(time.Millisecond), j.share, strings.Join(dirs, ","), joinPids(j.stoppedPids()))
	a.g.jobLog(j.job, j.uid, j.dev, now, logrec.MsgTimePause,
		"gpu", strconv.Itoa(g.index), "share", strconv.Itoa(j.share),
		"debt_ms", strconv.FormatInt(j.debt.Milliseconds(), 10), "pids", joinPids(pids),
		"reason", "ran outside the windows the time authority gave it")
	a.g.notify.send(j.job, "softmig-guard paused job "+j.job+" on GPU "+strconv.Itoa(g.index)+
		": it used GPU time outside its share; it resumes when that is repaid")
}

// resume thaws j.
func (a *authority) resume(g *gpuTime, j *timeJob, now time.Time, why string) {
	if err := a.fz.thaw(j.job, g.uuid); err != nil {
		a.g.log.errorf("thaw", "time: job %s: %v", j.job, err)
	}
	for pid, err := range continueStopped(a.g.opts.procRoot, j) {
		a.g.log.errorf("cont", "time: job %s pid %d: %v", j.job, pid, err)
	}
	j.stopped = nil
	paused := now.Sub(j.pauses[len(j.pauses)-1])
	j.paused = false
	a.g.log.infof("time resume: job %s GPU %d after %s (%s)", j.job, g.index, paused.Round(time.Millisecond), why)
	a.g.jobLog(j.job, j.uid, j.dev, now, logrec.MsgTimeResume,
		"gpu", strconv.Itoa(g.index), "paused_ms", strconv.FormatInt(paused.Milliseconds(), 10), "reason", why)
}

// killTime kills j's processes on the GPU ("guard kill", reason
// over_time), thaws what it froze so that they die, and pauses the job
// once they are gone until killAt of its own slot has passed: a job that
// starts its processes again would otherwise take a little of the others'
// time at every kill.
func (a *authority) killTime(g *gpuTime, j *timeJob, now time.Time, cause string) {
	pids, facts := a.jobPids(g, j, now)
	if len(pids) > 0 {
		a.g.act(verdict{watchKey: watchKey{job: j.job, gpu: g.index}, reason: reasonTime, dev: j.dev,
			pids: pids, facts: facts, cause: cause, since: now, share: j.share, owed: j.debt})
	}
	if j.paused {
		a.resume(g, j, now, "killed")
	}
	j.debt = killAt
	j.killed, j.killedAt, j.pauseNext = map[int]string{}, now, true
	for _, pid := range pids {
		j.killed[pid] = facts[pid].start
	}
	j.kills++
	a.replan(g, now)
}

func timefileFlags(j *timeJob) uint32 {
	var f uint32
	if j.paused {
		f |= timefile.FlagPaused
	}
	return f
}

// noteStopped records that pid (f) was stopped, to be continued at resume.
func (j *timeJob) noteStopped(pid int, f procFacts) {
	if j.stopped == nil {
		j.stopped = map[int]procFacts{}
	}
	j.stopped[pid] = f
}

// stoppedPids lists the stopped processes, in order.
func (j *timeJob) stoppedPids() []int {
	pids := make([]int, 0, len(j.stopped))
	for pid := range j.stopped {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

// continueStopped sends SIGCONT to j's stopped processes that are still
// the processes that were stopped (a pid may be another's by now), and
// returns what failed otherwise.
func continueStopped(procRoot string, j *timeJob) map[int]error {
	errs := map[int]error{}
	for _, pid := range j.stoppedPids() {
		if err := signalVerified(procRoot, pid, j.stopped[pid], unix.SIGCONT); err != nil && !errors.Is(err, errGone) {
			errs[pid] = err
		}
	}
	return errs
}
