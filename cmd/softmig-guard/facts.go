// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// factsTTL is how long root's reading of a process (its job cgroups, uid,
// start time) is reused. A process cannot leave its job's cgroup for one
// of its own making (that needs write access to a common ancestor, which
// Slurm never delegates); reading three /proc files for every GPU process
// at every look would make a look cost what the user's process count
// says. A reading is reused only while the pid's start time is the same
// (one small read), or while a pidfd taken before the reading says the
// process has not exited (one poll, where the kernel has pidfds): a pid
// another process took within the TTL would otherwise be charged to the
// job of the one before, and that job's own processes, which every check
// before a kill passes, killed for it.
const factsTTL = time.Second

// settledTTL is how long a reading of a settled process is reused while
// its pidfd says it lives: a process in a job, not root's. What can
// change in it lets no memory go uncharged: it stays in its job's cgroup
// (above; in a hierarchy its user was delegated it can add or drop job_<n>
// lines of its own making, which the charger never takes on their word),
// its real uid stays its owner's (a setuid program changes the effective
// one), and one root moves out of its job stays charged to the job a
// little longer (a kill reads /proc afresh). Readings of anything else
// (root's processes; processes outside jobs, such as slurmstepd's child
// before it joins its job and becomes the user) keep factsTTL. Reading
// three /proc files for each GPU process of the node every second was a
// fifth of the guard's CPU with its looks off.
const settledTTL = 10 * time.Second

type factsEntry struct {
	f     procFacts
	err   error
	read  time.Time
	pidfd int // the process the facts are of, while it lives; -1 none
}

// factsCache holds root's readings of GPU processes, shared by the
// memory looks and the time authority.
type factsCache struct {
	mu       sync.Mutex
	procRoot string
	m        map[int]factsEntry
	// exits holds every cached pidfd: one epoll_wait finds the processes
	// that exited since the last (a pidfd polls readable once its process
	// has), where a poll per process per reading made a system call for
	// each GPU process at every full look. -1: none (each pidfd is polled).
	exits    int
	sweptFor time.Time
	// lastJobs remembers the jobs each pid was charged to after it is gone,
	// so that memory the driver still holds for it (orphan.go) and samples
	// of its last moments (measure.go) go to them: the jobs it was held to,
	// never the job_<M> its cgroup names, which may be a cgroup of another
	// user's making named for a victim's job.
	lastJobs map[int]pidJobs
}

type pidJobs struct {
	jobs  []string
	start string // the process's start time: a pid taken by another process forgets it
	seen  time.Time
}

// rememberGone is how long a gone process's jobs are remembered.
const rememberGone = 30 * time.Second

func newFactsCache(procRoot string) *factsCache {
	c := &factsCache{procRoot: procRoot, m: map[int]factsEntry{}, lastJobs: map[int]pidJobs{}, exits: -1}
	if fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC); err == nil {
		c.exits = fd
	}
	return c
}

// ttl is how long e may be reused.
func (e factsEntry) ttl() time.Duration {
	if e.err == nil && e.pidfd >= 0 && !e.f.root && len(e.f.jobs) > 0 {
		return settledTTL
	}
	return factsTTL
}

// get returns pid's facts, read at most factsTTL ago (settledTTL, see ttl). errGone: no such
// process now.
func (c *factsCache) get(pid int, now time.Time) (procFacts, error) {
	c.mu.Lock()
	e, ok := c.m[pid]
	if ok && e.pidfd >= 0 && c.exits >= 0 {
		c.sweep(now)
		e, ok = c.m[pid]
	}
	fresh := ok && now.Sub(e.read) < e.ttl()
	lives := fresh && e.pidfd >= 0 && (c.exits >= 0 || pidfdLives(e.pidfd)) // under the lock: drop closes it
	c.mu.Unlock()
	switch {
	case !fresh:
	case e.err != nil:
		// A pid found gone is looked at again (one failed open): another
		// process may have it now, and a cached errGone would charge that
		// process's memory to the jobs of the one before (chargeGone).
		if !errors.Is(e.err, errGone) {
			return e.f, e.err
		}
	case e.pidfd >= 0:
		if lives {
			return e.f, nil
		}
	case procState(c.procRoot, pid, e.f.start) != 0:
		return e.f, nil
	}
	fd := -1
	if c.procRoot == "/proc" {
		// Taken before the reading: while it lives, the pid is its.
		if fd, _ = unix.PidfdOpen(pid, 0); fd < 0 {
			fd = -1
		}
	}
	f, err := readFacts(c.procRoot, pid)
	if err != nil && fd >= 0 {
		unix.Close(fd)
		fd = -1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(pid)
	if fd >= 0 && c.exits >= 0 {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd), Pad: int32(pid)}
		if unix.EpollCtl(c.exits, unix.EPOLL_CTL_ADD, fd, &ev) != nil {
			unix.Close(fd) // unwatched, it would say nothing of an exit
			fd = -1
		}
	}
	c.m[pid] = factsEntry{f: f, err: err, read: now, pidfd: fd}
	if j, ok := c.lastJobs[pid]; ok && err == nil && j.start != f.start {
		delete(c.lastJobs, pid) // another process has the pid now
	}
	return f, err
}

// remember records the jobs live process pid (started at start) is
// charged to.
func (c *factsCache) remember(pid int, start string, jobs []string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastJobs[pid] = pidJobs{jobs: jobs, start: start, seen: now}
}

// jobsOfGone returns the jobs a process that is gone was last charged to.
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
			c.drop(pid)
		}
	}
	for pid, j := range c.lastJobs {
		if !alive[pid] && now.Sub(j.seen) > rememberGone {
			delete(c.lastJobs, pid)
		}
	}
}

// drop forgets pid's reading and closes its pidfd (c.mu held).
func (c *factsCache) drop(pid int) {
	if e, ok := c.m[pid]; ok && e.pidfd >= 0 {
		unix.Close(e.pidfd)
	}
	delete(c.m, pid)
}

// sweep drops the readings of processes that exited, as their pidfds
// say (c.mu held), once per moment its callers read at: a look passes one
// moment for all its processes, so one system call confirms them all, and
// a reading left is of a process alive when the look began.
func (c *factsCache) sweep(now time.Time) {
	if now.Equal(c.sweptFor) {
		return
	}
	c.sweptFor = now
	var evs [64]unix.EpollEvent
	for {
		n, err := unix.EpollWait(c.exits, evs[:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// Unknown state: trust no reading (each is read again).
			for pid := range c.m {
				c.drop(pid)
			}
			break
		}
		for _, ev := range evs[:n] {
			if e, ok := c.m[int(ev.Pad)]; ok && e.pidfd == int(ev.Fd) {
				c.drop(int(ev.Pad))
			}
		}
		if n < len(evs) {
			break
		}
	}
}

// pidfdLives says whether the process of pidfd fd has not exited (a pidfd
// polls readable once it has).
func pidfdLives(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(p, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n == 0
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
