// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Pausing a job: its job cgroup frozen through the kernel (cgroup v2
// cgroup.freeze, or the v1 freezer), never by the job's cooperation.
//
// The guard freezes at the level of the job (…/job_<id>), while Slurm's
// `scontrol suspend` freezes a step (…/job_<id>/step_<n>, the v1 step
// freezer or the v2 step's user cgroup.freeze). A cgroup is frozen while
// it or any ancestor is, so the guard's thaw never undoes Slurm's suspend,
// nor Slurm's resume the guard's pause. What each GPU's authority froze is
// written to a root-owned record, <run dir>/<GPU UUID>.frozen, so that a
// guard that restarts thaws exactly those, and only where no running
// guard holds the GPU (its time file locked): a second guard started
// beside the running one (a dry run) must not thaw what the running one
// paused. One job cgroup is frozen for all of a job's GPUs, and thawed
// when the last of them resumes the job. Processes of a job outside its job
// cgroup (held to their user's job) are stopped with SIGSTOP: their user
// may send SIGCONT, and what they then use is more debt.
type freezer struct {
	mu       sync.Mutex
	log      *logger // says a record it cannot write (set by newAuthority; nil in a test of the freezer alone)
	procRoot string
	runDir   string
	v1       string // the v1 freezer mount, "" if none
	v2       string // the cgroup2 mount, "" if none
	// frozen: for each GPU (UUID) whose authority holds jobs paused, the
	// cgroup dirs it froze and their jobs.
	frozen map[string]map[string]string
	// held: the GPUs holding each job paused (a pause may find no
	// process to freeze a cgroup for, and still holds the job).
	held map[string]map[string]bool
}

const (
	frozenSuffix = ".frozen"
	// legacyRecord is where guards before per-GPU records kept theirs.
	legacyRecord = "softmig-guard.frozen"
)

func newFreezer(procRoot, runDir string) *freezer {
	f := &freezer{procRoot: procRoot, runDir: runDir, frozen: map[string]map[string]string{}, held: map[string]map[string]bool{}}
	f.v1, f.v2 = cgroupMounts(procRoot)
	return f
}

// cgroupMounts finds the v1 freezer and the cgroup2 mount points in
// /proc/self/mountinfo.
func cgroupMounts(procRoot string) (v1, v2 string) {
	b, err := os.ReadFile(filepath.Join(procRoot, "self", "mountinfo"))
	if err != nil {
		return "", ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, p := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(p) < 3 {
			continue
		}
		switch {
		case p[0] == "cgroup2" && v2 == "":
			v2 = f[4]
		case p[0] == "cgroup" && v1 == "" && hasOpt(p[2], "freezer"):
			v1 = f[4]
		}
	}
	return v1, v2
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// jobDir returns the directory of job's cgroup that holds pid, and the
// file that freezes it: the v1 freezer's job_<id> when pid is in one,
// else cgroup2's.
func (f *freezer) jobDir(pid int, job string) (dir, ctl string, err error) {
	b, err := os.ReadFile(filepath.Join(f.procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", "", gone(err)
	}
	var v2path string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		p, ok := jobPrefix(parts[2], job)
		if !ok {
			continue
		}
		switch {
		case parts[1] == "" && parts[0] == "0":
			v2path = p
		case hasOpt(parts[1], "freezer") && f.v1 != "":
			return filepath.Join(f.v1, p), "freezer.state", nil
		}
	}
	if v2path != "" && f.v2 != "" {
		return filepath.Join(f.v2, v2path), "cgroup.freeze", nil
	}
	return "", "", fmt.Errorf("pid %d: no job_%s cgroup with a freezer", pid, job)
}

// jobPrefix cuts a cgroup path after its job_<job> component.
func jobPrefix(path, job string) (string, bool) {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if p == "job_"+job {
			return strings.Join(parts[:i+1], "/"), true
		}
	}
	return "", false
}

// freeze freezes the job cgroups of pids for the authority of GPU uuid and
// returns the pids it could not reach that way (processes outside the job
// cgroup).
func (f *freezer) freeze(job, uuid string, pids []int) (dirs []string, rest []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held[job] == nil {
		f.held[job] = map[string]bool{}
	}
	f.held[job][uuid] = true
	if f.frozen[uuid] == nil {
		f.frozen[uuid] = map[string]string{}
	}
	seen := map[string]bool{}
	for _, pid := range pids {
		dir, ctl, err := f.jobDir(pid, job)
		if err != nil {
			rest = append(rest, pid)
			continue
		}
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if err := writeCtl(dir, ctl, true); err != nil {
			rest = append(rest, pid)
			continue
		}
		f.frozen[uuid][dir] = job
		dirs = append(dirs, dir)
	}
	f.save(uuid)
	return dirs, rest
}

// thaw releases GPU uuid's hold on job, and thaws what was frozen for the
// job once no GPU holds it; until then the dirs move to the records of the
// GPUs that still do.
func (f *freezer) thaw(job, uuid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held[job], uuid)
	var dirs []string
	for dir, j := range f.frozen[uuid] {
		if j == job {
			dirs = append(dirs, dir)
			delete(f.frozen[uuid], dir)
		}
	}
	f.save(uuid)
	if len(f.held[job]) > 0 {
		for other := range f.held[job] {
			if f.frozen[other] == nil {
				f.frozen[other] = map[string]string{}
			}
			for _, dir := range dirs {
				f.frozen[other][dir] = job
			}
			f.save(other)
		}
		return nil
	}
	delete(f.held, job)
	var errs []error
	for _, dir := range dirs {
		if err := thawDir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// thawAll thaws everything this guard froze, and returns it.
func (f *freezer) thawAll() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var done []string
	for uuid, dirs := range f.frozen {
		for dir := range dirs {
			if err := thawDir(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				done = append(done, dir)
			}
		}
		delete(f.frozen, uuid)
		f.save(uuid)
	}
	f.held = map[string]map[string]bool{}
	sort.Strings(done)
	return done
}

// thawLeft thaws what guards before this one froze, from their records,
// where no running guard holds the GPU (free says whether one does), and
// returns it.
func (f *freezer) thawLeft(free func(uuid string) bool) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names, _ := filepath.Glob(filepath.Join(f.runDir, "*"+frozenSuffix))
	var done []string
	for _, name := range names {
		uuid := strings.TrimSuffix(filepath.Base(name), frozenSuffix)
		if filepath.Base(name) != legacyRecord && !free(uuid) {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k := strings.LastIndexByte(line, ' ')
			if k < 0 {
				continue
			}
			dir, job := line[:k], line[k+1:]
			if filepath.Base(dir) != "job_"+job {
				continue
			}
			if err := thawDir(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				done = append(done, dir)
			}
		}
		os.Remove(name)
	}
	sort.Strings(done)
	return done
}

func thawDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "cgroup.freeze")); err == nil {
		return writeCtl(dir, "cgroup.freeze", false)
	}
	return writeCtl(dir, "freezer.state", false)
}

func writeCtl(dir, ctl string, freeze bool) error {
	val := map[string][2]string{"cgroup.freeze": {"0", "1"}, "freezer.state": {"THAWED", "FROZEN"}}[ctl]
	v := val[0]
	if freeze {
		v = val[1]
	}
	return os.WriteFile(filepath.Join(dir, ctl), []byte(v), 0)
}

// save writes GPU uuid's record of frozen cgroups (caller holds mu). One
// it cannot write is logged: the next run of the guard thaws what the
// records name, and only that.
func (f *freezer) save(uuid string) {
	if err := f.writeRecord(uuid); err != nil && f.log != nil {
		f.log.errorf("frozen record", "%v (a guard restarted after a crash would not thaw what this one froze)", err)
	}
}

func (f *freezer) writeRecord(uuid string) error {
	record := filepath.Join(f.runDir, uuid+frozenSuffix)
	if len(f.frozen[uuid]) == 0 {
		if err := os.Remove(record); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	var b strings.Builder
	for dir, job := range f.frozen[uuid] {
		fmt.Fprintf(&b, "%s %s\n", dir, job)
	}
	tmp := record + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, record); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
