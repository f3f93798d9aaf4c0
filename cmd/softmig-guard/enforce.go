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

// enforce acts on j's debt: a paused job repays its share of every moment
// it stays frozen and is thawed once its debt is gone; a job whose debt
// passes pauseAt is paused; one whose debt passes killAt, or that is
// paused a pauseKills-th time within pauseWindow, is killed on the GPU.
func (a *authority) enforce(g *gpuTime, j *timeJob, now time.Time) {
	if j.paused {
		d := now.Sub(j.pausedAt)
		j.pausedAt = now
		j.totalPaused += d
		j.logPaused += d
		j.debt -= d * time.Duration(j.share) / 100
		if j.debt > killAt {
			a.killTime(g, j, now, "still over "+killAt.String()+" of GPU time owed while frozen (work queued before the pause, or processes outside the job cgroup)")
			return
		}
		if j.debt <= 0 {
			j.debt = 0
			a.resume(g, j, now, "repaid")
			a.replan(g, now)
		}
		return
	}
	switch {
	case j.debt > killAt:
		a.killTime(g, j, now, "ran "+j.debt.Round(time.Millisecond).String()+" outside its windows")
	case j.debt > pauseAt:
		for len(j.pauses) > 0 && now.Sub(j.pauses[0]) > pauseWindow {
			j.pauses = j.pauses[1:]
		}
		if len(j.pauses)+1 >= pauseKills {
			a.killTime(g, j, now, "ran outside its windows again after "+strconv.Itoa(len(j.pauses))+" pauses within "+pauseWindow.String())
			return
		}
		a.pause(g, j, now)
		a.replan(g, now)
	}
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
	dirs, rest := a.fz.freeze(j.job, pids)
	for _, pid := range rest {
		f := facts[pid]
		if err := signalVerified(a.g.opts.procRoot, pid, f.jobs, f.start, unix.SIGSTOP); err == nil {
			j.stopped = append(j.stopped, pid)
		} else if !errors.Is(err, errGone) {
			a.g.log.errorf("stop", "time: job %s pid %d: %v", j.job, pid, err)
		}
	}
	j.paused, j.pausedAt = true, now
	j.pauses = append(j.pauses, now)
	g.file.SetStats(j.entry, timefileFlags(j), permille(j.lastUsed, a.period), permille(j.lastLent, a.period))
	a.g.stats.pauses.Add(1)
	a.g.log.infof("time pause: job %s GPU %d: owes %s (share %d%%), froze %s, stopped %s",
		j.job, g.index, j.debt.Round(time.Millisecond), j.share, strings.Join(dirs, ","), joinPids(j.stopped))
	a.g.jobLog(j.job, j.uid, j.dev, now, logrec.MsgTimePause,
		"gpu", strconv.Itoa(g.index), "share", strconv.Itoa(j.share),
		"debt_ms", strconv.FormatInt(j.debt.Milliseconds(), 10), "pids", joinPids(pids),
		"reason", "ran outside the windows the time authority gave it")
	a.g.notify.send(j.job, "softmig-guard paused job "+j.job+" on GPU "+strconv.Itoa(g.index)+
		": it used GPU time outside its share; it resumes when that is repaid")
}

// resume thaws j.
func (a *authority) resume(g *gpuTime, j *timeJob, now time.Time, why string) {
	if err := a.fz.thaw(j.job); err != nil {
		a.g.log.errorf("thaw", "time: job %s: %v", j.job, err)
	}
	for _, pid := range j.stopped {
		if err := unix.Kill(pid, unix.SIGCONT); err != nil && !errors.Is(err, unix.ESRCH) {
			a.g.log.errorf("cont", "time: job %s pid %d: %v", j.job, pid, err)
		}
	}
	j.stopped = nil
	paused := now.Sub(j.pauses[len(j.pauses)-1])
	j.paused = false
	a.g.log.infof("time resume: job %s GPU %d after %s (%s)", j.job, g.index, paused.Round(time.Millisecond), why)
	a.g.jobLog(j.job, j.uid, j.dev, now, logrec.MsgTimeResume,
		"gpu", strconv.Itoa(g.index), "paused_ms", strconv.FormatInt(paused.Milliseconds(), 10), "reason", why)
}

// killTime kills j's processes on the GPU ("guard kill", reason over_time),
// then thaws what it froze so that they die.
func (a *authority) killTime(g *gpuTime, j *timeJob, now time.Time, cause string) {
	pids, facts := a.jobPids(g, j, now)
	if len(pids) > 0 {
		a.g.act(verdict{watchKey: watchKey{job: j.job, gpu: g.index}, reason: reasonTime, dev: j.dev,
			pids: pids, facts: facts, cause: cause, since: now, share: j.share, owed: j.debt})
	}
	if j.paused {
		a.resume(g, j, now, "killed")
	}
	j.debt, j.pauses = 0, nil
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
