package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/logrec"
	"github.com/softmig/softmig/internal/size"
)

var errSearch = unix.ESRCH

// act kills a verdict's processes, then tells the job's log, the job and
// the journal.
func (g *guard) act(v verdict) {
	what := fmt.Sprintf("job %s GPU %d: %s: used %s, slice %s, pids %s", v.job, v.gpu, v.reason,
		size.Format(v.used), size.Format(v.limit), joinPids(v.pids))
	if v.cause != "" {
		what += " (" + v.cause + ")"
	}
	if g.opts.dryRun {
		g.log.infof("dry run, would kill: %s", what)
		return
	}
	var killed []int
	for _, pid := range v.pids {
		f := v.facts[pid]
		if g.killed[pid] == f.start {
			continue // killed by another verdict this round
		}
		err := killVerified(g.opts.procRoot, pid, f.jobs, f.start)
		if err == nil {
			killed = append(killed, pid)
			g.killed[pid] = f.start
			continue
		}
		if !errors.Is(err, errGone) {
			g.log.errorf("kill", "job %s pid %d: %v", v.job, pid, err)
		}
	}
	if len(killed) == 0 {
		return
	}
	g.kills++
	v.pids = killed
	g.log.infof("guard kill: %s", what)
	f := v.facts[killed[0]]
	if err := appendJobLog(g.logDir, v.job, f.uid, f.gid, g.record(v)); err != nil {
		g.log.errorf("joblog "+v.job, "job %s: %v", v.job, err)
	}
	g.notify.send(v.job, g.message(v))
}

// killVerified sends SIGKILL to pid only if it is still the process that
// was judged: in the same job cgroups (or still in none), same start time,
// not root. A pidfd pins the process between the check and the signal, so
// a reused pid is never hit.
func killVerified(procRoot string, pid int, jobs []string, start string) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return errGone
	}
	pinned := err == nil
	if pinned {
		defer unix.Close(fd)
	}
	f, err := readFacts(procRoot, pid)
	if err != nil {
		return err
	}
	if strings.Join(f.jobs, ",") != strings.Join(jobs, ",") || f.start != start || f.root {
		return errGone
	}
	if pinned {
		err = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	} else { // kernels before 5.3
		err = unix.Kill(pid, unix.SIGKILL)
	}
	if errors.Is(err, unix.ESRCH) {
		return errGone
	}
	return err
}

// record is the job log's "guard kill" event (docs/contracts.md, section 5).
func (g *guard) record(v verdict) logrec.Record {
	kv := []string{
		"reason", v.reason,
		"gpu", strconv.Itoa(v.gpu),
		"used", strconv.FormatUint(v.used, 10),
		"limit", strconv.FormatUint(v.limit, 10),
		"pids", joinPids(v.pids),
		"over_ms", strconv.FormatInt(time.Since(v.since).Milliseconds(), 10),
	}
	if v.cause != "" {
		kv = append(kv, "cause", v.cause)
	}
	return logrec.Event(time.Now(), v.job, v.pids[0], v.dev, logrec.MsgGuardKill, kv...)
}

// message is what the job is told through scontrol notify.
func (g *guard) message(v verdict) string {
	if v.reason == reasonEscape {
		return fmt.Sprintf("softmig-guard killed pid %s on GPU %d: it used the GPU outside SoftMig (%s)",
			joinPids(v.pids), v.gpu, v.cause)
	}
	return fmt.Sprintf("softmig-guard killed pids %s on GPU %d: the job held %s, over its %s slice",
		joinPids(v.pids), v.gpu, size.Format(v.used), size.Format(v.limit))
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}
