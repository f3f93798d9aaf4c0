// SPDX-License-Identifier: Apache-2.0

package main

import (
	"sync"
	"time"

	"github.com/softmig/softmig/internal/job"
)

// charger decides which jobs a process is held to, from root's view of it.
type charger struct {
	log    *logger
	conf   *configs
	facts  *factsCache
	mu     sync.Mutex
	forged map[int]string // pid -> start time of processes already warned about
}

// jobsOf returns the jobs a process is held to: each job its cgroup names
// whose config is its user's (a job_<M> cgroup a user made in a subtree
// delegated to them may name another user's job: never charged to it).
// When none is, the process is in no SoftMig job of its user's (no job
// cgroup, systemd-run --user, an ssh session not adopted, a job_<M> the
// user made up): it is held to its user's jobs, as the library holds it
// (it fails such a process closed). A line of the user's making beside the
// job's own cannot take a process out of its job: all lines count.
func (c *charger) jobsOf(f procFacts, pid int, now time.Time) []string {
	jobs := c.heldTo(f, pid, now)
	if len(jobs) > 0 {
		c.facts.remember(pid, f.start, jobs, now)
	}
	return jobs
}

func (c *charger) heldTo(f procFacts, pid int, now time.Time) []string {
	var jobs []string
	for _, j := range f.jobs {
		js := c.conf.get(j, now)
		switch {
		case js.conf == nil && js.err == nil:
			// No SoftMig job of that name.
		case js.member(f):
			jobs = append(jobs, j)
		case c.warnForged(pid, f.start):
			c.log.warnf("pid %d of uid %d is in a cgroup named for job %s, whose user is %d: not counted as the job's (a cgroup the user made)", pid, f.uid, j, *js.conf.UID)
		}
	}
	if len(jobs) > 0 {
		return jobs
	}
	users := c.conf.byUID(now)[f.uid]
	if len(users) > 1 {
		// On a node without job cgroups the library finds its job in
		// SLURM_JOB_ID: one of the user's jobs named there takes the
		// charge alone (naming another of their own jobs moves it only
		// between their own slices).
		id, ok, err := job.FromDir(liveDir(c.facts.procRoot, pid))
		if err == nil && ok {
			for _, j := range users {
				if j == id {
					return []string{id}
				}
			}
		}
		if gonePid(c.facts.procRoot, pid, f.start) {
			// It exited while read: an exiting process's environment reads
			// empty or not at all, which says nothing of its job. Charged
			// to all its user's jobs, its memory killed the others; a
			// gone process's memory goes to the jobs it was last seen in,
			// or with the processes that keep it (orphan.go).
			return nil
		}
	}
	return users
}

// warnForged says whether to warn about pid (once per process).
func (c *charger) warnForged(pid int, start string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forged[pid] == start {
		return false
	}
	c.forged[pid] = start
	return true
}

// forget drops warnings about processes that are gone.
func (c *charger) forget(alive map[int]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for pid := range c.forged {
		if !alive[pid] {
			delete(c.forged, pid)
		}
	}
}
