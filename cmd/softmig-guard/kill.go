// SPDX-License-Identifier: Apache-2.0

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
	if v.reason == reasonTime {
		what = fmt.Sprintf("job %s GPU %d: %s: owed %s of GPU time at a %d%% share, pids %s", v.job, v.gpu, v.reason,
			v.owed.Round(time.Millisecond), v.share, joinPids(v.pids))
	}
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
		if g.isKilled(pid, f.start) {
			continue // killed by another verdict
		}
		err := signalVerified(g.opts.procRoot, pid, f, unix.SIGKILL)
		if err == nil {
			killed = append(killed, pid)
			g.killMu.Lock()
			g.killed[pid] = f.start
			g.killMu.Unlock()
			continue
		}
		if !errors.Is(err, errGone) {
			g.log.errorf("kill", "job %s pid %d: %v", v.job, pid, err)
		}
	}
	if len(killed) == 0 {
		return
	}
	g.stats.kills.Add(1)
	g.memMu.Lock()
	g.killsBy[watchKey{job: v.job, gpu: v.gpu}] += uint64(len(killed))
	g.memMu.Unlock()
	v.pids = killed
	g.log.infof("guard kill: %s", what)
	f := v.facts[killed[0]]
	if err := appendJobLog(g.logDir, v.job, f.uid, f.gid, g.record(v)); err != nil {
		g.log.errorf("joblog "+v.job, "job %s: %v", v.job, err)
	}
	g.notify.send(v.job, g.message(v))
}

// signalVerified sends sig to pid only if it is still the process that
// was judged: same start time, same owner, not root. A pidfd pins the
// process between the check and the signal, so a reused pid is never hit.
// Its cgroup lines are no part of who it is: on cgroup v1 its user moves
// it about in the hierarchy systemd delegates to them, as often as they
// like, and a kill that wanted those lines unchanged was never sent.
func signalVerified(procRoot string, pid int, judged procFacts, sig unix.Signal) error {
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
	if f.start != judged.start || f.uid != judged.uid || f.root {
		return errGone
	}
	if pinned {
		err = unix.PidfdSendSignal(fd, sig, nil, 0)
	} else { // kernels before 5.3
		err = unix.Kill(pid, sig)
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
	if v.reason == reasonTime {
		kv = append(kv, "share", strconv.Itoa(v.share), "owed_ms", strconv.FormatInt(v.owed.Milliseconds(), 10))
	}
	if v.cause != "" {
		kv = append(kv, "cause", v.cause)
	}
	return logrec.Event(time.Now(), v.job, v.pids[0], v.dev, logrec.MsgGuardKill, kv...)
}

// message is what the job is told through scontrol notify.
func (g *guard) message(v verdict) string {
	switch v.reason {
	case reasonEscape:
		return fmt.Sprintf("softmig-guard killed pid %s on GPU %d: it used the GPU outside SoftMig (%s)",
			joinPids(v.pids), v.gpu, v.cause)
	case reasonTime:
		return fmt.Sprintf("softmig-guard killed pids %s on GPU %d: the job kept using GPU time beyond its %d%% share (%s)",
			joinPids(v.pids), v.gpu, v.share, v.cause)
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
