// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Memory with no owner. A process that forks after it started CUDA leaves
// the driver's files open in its child; when the parent exits, the driver
// keeps the parent's memory for as long as the child holds them, and the
// parent's pid is gone from /proc. Every byte a GPU holds is charged to
// someone: memory the driver lists for a pid that is gone goes to the jobs
// the guard last saw that pid in; memory the driver holds beyond every
// listed process goes to the one job whose processes hold the GPU's device
// files open without being listed (the children that kept them), leaving
// out holders that share every such file with a listed process of their
// job (a DataLoader's workers and their live parent). Either
// way the holders are killed with the job's processes when it is over its
// slice, which is what frees such memory.

const (
	// unlistedSlack is how much of a GPU's used memory may be unaccounted
	// for by the process lists before the guard looks for its owner: the
	// driver keeps some for itself beside the processes it lists.
	unlistedSlack = 256 << 20
	// holdersEvery and holdersBudget (of CPU) bound the scan of /proc/*/fd.
	holdersEvery  = 2 * time.Second
	holdersBudget = 50 * time.Millisecond
)

// chargeGone charges the memory the driver lists for a process that is
// gone to the jobs it was last seen in; memory of a gone process the guard
// never saw (it lived between two looks) is charged like memory no
// process is listed for: to the job whose processes keep the GPU open.
func (g *guard) chargeGone(now time.Time, i int, p gpuProc, s *jobSums) {
	jobs := g.facts.jobsOfGone(p.pid)
	if len(jobs) == 0 {
		s.unseen += p.used
		return
	}
	g.facts.touchGone(p.pid, now)
	holders := g.holdersOf(now, i)
	for _, job := range jobs {
		s.used[job] += p.used
		s.orphans[job] += p.used
		s.addHolders(job, holders)
	}
}

// chargeUnlisted charges memory the device holds beyond what its process
// lists say, and memory listed for gone processes the guard never saw
// (devUsed 0: not read, nothing to do).
func (g *guard) chargeUnlisted(now time.Time, i int, devUsed, listed uint64, s *jobSums) {
	if devUsed == 0 {
		return
	}
	var extra uint64
	if devUsed > listed+unlistedSlack {
		extra = devUsed - listed
	}
	extra += s.unseen
	if extra == 0 {
		return
	}
	holders := g.holdersOf(now, i)
	jobs := map[string]bool{}
	over, done := cpuBudget(holdersBudget)
	defer done()
	listedFDs := map[int]devFiles{}
	for pid, h := range holders {
		if _, listed := s.facts[pid]; listed {
			continue
		}
		keeps, err := g.keepsOrphan(h, s, listedFDs, over)
		if err != nil {
			g.log.errorf("orphan "+strconv.Itoa(i), "GPU %d: %d MiB held for no process the guard saw in a job: %v: charged to nobody", i, extra>>20, err)
			return
		}
		if keeps {
			for _, j := range h.jobs {
				jobs[j] = true
			}
		}
	}
	if len(jobs) != 1 {
		g.log.errorf("orphan "+strconv.Itoa(i), "GPU %d: %d MiB held for no process the guard saw in a job, and %d jobs' unlisted processes hold files of the GPU that no listed process of theirs does: charged to nobody",
			i, extra>>20, len(jobs))
		return
	}
	for job := range jobs {
		s.used[job] += extra
		s.orphans[job] += extra
		s.addHolders(job, holders)
	}
}

// addHolders adds the unlisted processes of job that hold a GPU open to
// its pids: they keep its orphaned memory, and a kill must free it.
func (s *jobSums) addHolders(job string, holders map[int]holder) {
	for pid, h := range holders {
		k := jobPid{job, pid}
		if _, listed := s.facts[pid]; listed || !slices.Contains(h.jobs, job) || s.added[k] {
			continue
		}
		s.added[k] = true
		s.pids[job] = append(s.pids[job], pid)
		s.held[pid] = h.f
	}
}

// jobPid is a process in one of its jobs.
type jobPid struct {
	job string
	pid int
}

// holder is a job process that holds GPU device files open.
type holder struct {
	jobs []string
	f    procFacts
	fds  devFiles // its device files
}

// holderScan is the last scan of which job processes hold GPU device files.
type holderScan struct {
	mu      sync.Mutex
	at      time.Time
	holders map[int]holder
}

// holdersOf returns the job processes that hold a device file of the GPUs
// open, from a scan of /proc/*/fd made at most holdersEvery ago and
// bounded by holdersBudget (a partial scan counts: a process found is a
// holder; nothing is concluded from one not found). Root's processes and
// processes in no job are left out.
func (g *guard) holdersOf(now time.Time, i int) map[int]holder {
	h := &g.holders
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holders != nil && now.Sub(h.at) < holdersEvery {
		return h.holders
	}
	h.at, h.holders = now, map[int]holder{}
	over, done := cpuBudget(holdersBudget)
	defer done()
	d, err := os.Open(g.opts.procRoot)
	if err != nil {
		return h.holders
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, name := range names {
		if over() {
			g.log.errorf("holders", "the scan of %s/*/fd for GPU holders ran out of its %s budget: partial", g.opts.procRoot, holdersBudget)
			break
		}
		pid, err := strconv.Atoi(name)
		if err != nil || pid == os.Getpid() {
			continue
		}
		// Who it is first: three small files, where its open files may be
		// thousands.
		f, err := g.facts.get(pid, now)
		if err != nil || f.root {
			continue
		}
		jobs := g.charge.heldTo(f, pid, now)
		if len(jobs) == 0 {
			continue
		}
		if files, _ := deviceFDs(g.opts.procRoot, pid, g.opts.deviceFiles, over); len(files.fds) > 0 {
			h.holders[pid] = holder{jobs: jobs, f: f, fds: files}
			g.facts.remember(pid, f.start, jobs, now)
		}
	}
	return h.holders
}

// keepsOrphan says whether holder h may keep memory of a gone process:
// some device file it holds is held by no listed process of its job. A
// process forked after CUDA started whose parent lives on (a DataLoader
// worker) holds only its parent's files, and the parent's memory is
// listed under the parent: it keeps nothing that is not counted, and must
// not make its job a suspect (nor, the one holder found, the job charged
// for memory another job's hidden holder keeps).
func (g *guard) keepsOrphan(h holder, s *jobSums, listedFDs map[int]devFiles, over func() bool) (bool, error) {
	for _, fd := range h.fds.fds {
		shared := false
		for _, job := range h.jobs {
			for _, q := range s.pids[job] {
				if _, listed := s.facts[q]; !listed {
					continue
				}
				qfds, ok := listedFDs[q]
				if !ok {
					qfds, _ = deviceFDs(g.opts.procRoot, q, g.opts.deviceFiles, over)
					listedFDs[q] = qfds
				}
				for _, b := range qfds.fds {
					if sameFile(h.fds.task, fd, qfds.task, b) {
						shared = true
						break
					}
				}
				if shared {
					break
				}
			}
			if shared {
				break
			}
		}
		if !shared {
			return true, nil
		}
		if over() {
			return false, errFDBudget
		}
	}
	return false, nil
}
