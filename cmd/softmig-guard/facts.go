package main

import (
	"sync"
	"time"
)

// factsTTL is how long root's reading of a process (its job cgroups, uid,
// start time) is reused. A process cannot leave its job's cgroup for one
// of its own making (that needs write access to a common ancestor, which
// Slurm never delegates), and a pid reused within the TTL is caught by the
// start time that every kill checks again; reading three /proc files for
// every GPU process at every look would make a look cost what the user's
// process count says.
const factsTTL = time.Second

type factsEntry struct {
	f    procFacts
	err  error
	read time.Time
}

// factsCache holds root's readings of GPU processes, shared by the
// memory looks and the time authority.
type factsCache struct {
	mu       sync.Mutex
	procRoot string
	m        map[int]factsEntry
	// lastJobs remembers each pid's jobs after it is gone, so that memory
	// the driver still holds for it is charged to them (orphan.go).
	lastJobs map[int]pidJobs
}

type pidJobs struct {
	jobs []string
	seen time.Time
}

// rememberGone is how long a gone process's jobs are remembered.
const rememberGone = 30 * time.Second

func newFactsCache(procRoot string) *factsCache {
	return &factsCache{procRoot: procRoot, m: map[int]factsEntry{}, lastJobs: map[int]pidJobs{}}
}

// get returns pid's facts, read at most factsTTL ago. errGone: no such
// process now.
func (c *factsCache) get(pid int, now time.Time) (procFacts, error) {
	c.mu.Lock()
	e, ok := c.m[pid]
	c.mu.Unlock()
	if ok && now.Sub(e.read) < factsTTL {
		return e.f, e.err
	}
	f, err := readFacts(c.procRoot, pid)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[pid] = factsEntry{f: f, err: err, read: now}
	if err == nil && len(f.jobs) > 0 {
		c.lastJobs[pid] = pidJobs{jobs: f.jobs, seen: now}
	}
	return f, err
}

// jobsOfGone returns the jobs a process that is gone was last seen in.
func (c *factsCache) jobsOfGone(pid int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastJobs[pid].jobs
}

// forget drops what is not needed any more: entries of processes not seen
// on a GPU (alive lists the pids the last look saw) and gone processes
// remembered longer than rememberGone.
func (c *factsCache) forget(alive map[int]bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for pid := range c.m {
		if !alive[pid] {
			delete(c.m, pid)
		}
	}
	for pid, j := range c.lastJobs {
		if !alive[pid] && now.Sub(j.seen) > rememberGone {
			delete(c.lastJobs, pid)
		}
	}
}

// touchGone keeps remembering a gone process's jobs while the driver
// still lists memory for it.
func (c *factsCache) touchGone(pid int, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if j, ok := c.lastJobs[pid]; ok {
		j.seen = now
		c.lastJobs[pid] = j
	}
}
