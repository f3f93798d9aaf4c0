// SPDX-License-Identifier: Apache-2.0

package main

import (
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// configTTL is how long a job config read from the run directory is
// reused: the prolog writes a job's config before the job starts, and the
// epilog removes it after its processes are gone.
const configTTL = time.Second

// configs caches the job configs of the run directory for every part of
// the guard, looking at each at most once per configTTL and reading it
// again only when it changed.
type configs struct {
	mu     sync.Mutex
	runDir string
	log    *logger
	byJob  map[string]jobSlices
	read   map[string]time.Time
	stamp  map[string]fileStamp // of the file byJob holds
	listed time.Time
	all    []string // jobs with a config, at the last listing
	warned map[string]string
}

func newConfigs(runDir string, log *logger) *configs {
	return &configs{runDir: runDir, log: log, byJob: map[string]jobSlices{}, read: map[string]time.Time{},
		stamp: map[string]fileStamp{}, warned: map[string]string{}}
}

// fileStamp tells a file changed: a rewrite (rename over it) changes its
// inode, an edit its size or times, a chmod or chown its ctime.
type fileStamp struct {
	ino, size    int64
	mtime, ctime unix.Timespec
}

func stampOf(path string) (fileStamp, bool) {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return fileStamp{}, false
	}
	return fileStamp{ino: int64(st.Ino), size: st.Size, mtime: st.Mtim, ctime: st.Ctim}, true
}

// get returns job's config, read at most configTTL ago.
func (c *configs) get(job string, now time.Time) jobSlices {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getLocked(job, now)
}

func (c *configs) getLocked(job string, now time.Time) jobSlices {
	if t, ok := c.read[job]; ok && now.Sub(t) < configTTL {
		return c.byJob[job]
	}
	st, ok := stampOf(filepath.Join(c.runDir, job+".conf"))
	if old, seen := c.stamp[job]; ok && seen && old == st {
		c.read[job] = now // unchanged: its verdict stands
		return c.byJob[job]
	}
	js := loadSlices(c.runDir, job)
	c.byJob[job], c.read[job] = js, now
	if ok {
		c.stamp[job] = st
	} else {
		delete(c.stamp, job)
	}
	if js.err != nil {
		msg := js.err.Error()
		if c.warned[job] != msg {
			c.warned[job] = msg
			c.log.errorf("conf "+job, "job %s: %v (the guard leaves this job alone; its processes get no GPU from the library)", job, js.err)
		}
	} else {
		delete(c.warned, job)
	}
	return js
}

// jobs lists the jobs that have a config, read at most configTTL ago, in
// order.
func (c *configs) jobs(now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.listed) < configTTL {
		return c.all
	}
	names, _ := filepath.Glob(filepath.Join(c.runDir, "*.conf"))
	all := make([]string, 0, len(names))
	keep := map[string]bool{}
	for _, name := range names {
		job := strings.TrimSuffix(filepath.Base(name), ".conf")
		all = append(all, job)
		keep[job] = true
	}
	sort.Strings(all)
	for job := range c.byJob {
		if !keep[job] {
			delete(c.byJob, job)
			delete(c.read, job)
			delete(c.stamp, job)
			delete(c.warned, job)
		}
	}
	c.all, c.listed = all, now
	return all
}

// byUID maps each user to their jobs with a config naming them (SOFTMIG_UID).
func (c *configs) byUID(now time.Time) map[int][]string {
	m := map[int][]string{}
	for _, job := range c.jobs(now) {
		js := c.get(job, now)
		if js.conf != nil && js.conf.UID != nil {
			m[*js.conf.UID] = append(m[*js.conf.UID], job)
		}
	}
	return m
}
