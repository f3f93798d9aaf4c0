// SPDX-License-Identifier: Apache-2.0

// Package job finds the Slurm job a process belongs to (contract 1 in
// docs/contracts.md): the job_<M> component of its cgroup path first, and
// SLURM_JOB_ID only when no cgroup line names a job.
package job

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/softmig/softmig/internal/defs"
)

// envJobID is the accepted form of SLURM_JOB_ID: digits, or the seed's
// <jobid>_<taskid> form of array tasks, at most defs.MaxJobIDLen long
// (testdata/jobid.tsv).
var envJobID = regexp.MustCompile(`^[0-9]+(_[0-9]+)?$`)

// FromCgroup reads a /proc/<pid>/cgroup file and returns the id of the first
// job_<M> path component (v1 lines under /slurm*/uid_N/, v2 "0::" lines).
// ok is false when no line names a job.
func FromCgroup(r io.Reader) (jobID string, ok bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// hierarchy-ID:controller-list:cgroup-path; the path may hold ':'.
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		path := parts[2]
		v2 := parts[0] == "0" && parts[1] == ""
		if id, ok := jobComponent(path, v2); ok {
			return id, true
		}
	}
	return "", false
}

// AllFromCgroup returns every job a /proc/<pid>/cgroup file names, once
// each, in the order of its lines. On cgroup v1 a user can move their own
// job's process, in a hierarchy delegated to them (systemd's
// user@<uid>.service on name=systemd), into a job_<M> of their making, on
// a line before their job's: whoever holds a process to its job must look
// at every job it names, not at the first.
func AllFromCgroup(r io.Reader) []string {
	var jobs []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		id, ok := jobComponent(parts[2], parts[0] == "0" && parts[1] == "")
		if !ok {
			continue
		}
		seen := false
		for _, j := range jobs {
			seen = seen || j == id
		}
		if !seen {
			jobs = append(jobs, id)
		}
	}
	return jobs
}

// jobComponent finds job_<digits> (at most defs.MaxJobIDLen digits) in
// path. For cgroup v1 the job must sit below a /slurm*/uid_<N>/ pair, as
// slurmd lays it out; for v2 any component counts (the prefix depends on
// the systemd/slurmstepd setup). testdata/cgroup.tsv pins this, for the
// library too.
func jobComponent(path string, v2 bool) (string, bool) {
	comps := strings.Split(path, "/")
	for i, c := range comps {
		id, ok := strings.CutPrefix(c, "job_")
		if !ok || !digits(id) || len(id) > defs.MaxJobIDLen {
			continue
		}
		if v2 {
			return id, true
		}
		if i >= 2 && strings.HasPrefix(comps[i-2], "slurm") &&
			strings.HasPrefix(comps[i-1], "uid_") && digits(comps[i-1][4:]) {
			return id, true
		}
	}
	return "", false
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// FromEnv applies the SLURM_JOB_ID fallback: the value when it has the
// accepted form, otherwise not ok. getenv is os.Getenv or a test map.
func FromEnv(getenv func(string) string) (jobID string, ok bool) {
	v := getenv("SLURM_JOB_ID")
	if ValidID(v) {
		return v, true
	}
	return "", false
}

// ValidID reports whether id has the form of a job id: digits, or
// <jobid>_<taskid>, at most defs.MaxJobIDLen characters.
func ValidID(id string) bool {
	return len(id) <= defs.MaxJobIDLen && envJobID.MatchString(id)
}

// Resolve applies contract 1 to an already read cgroup file and an
// environment: the cgroup's job first, SLURM_JOB_ID only without one.
func Resolve(cgroup io.Reader, getenv func(string) string) (jobID string, ok bool) {
	if id, ok := FromCgroup(cgroup); ok {
		return id, true
	}
	return FromEnv(getenv)
}

// Self returns the job of the calling process from procRoot/self/cgroup and
// getenv. An unreadable cgroup file is an error: callers that filter by job
// must then fail closed instead of guessing.
func Self(procRoot string, getenv func(string) string) (jobID string, ok bool, err error) {
	path := filepath.Join(procRoot, "self", "cgroup")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false, fmt.Errorf("reading job cgroup: %w", err)
	}
	id, ok := Resolve(bytes.NewReader(data), getenv)
	return id, ok, nil
}

// FromProc returns the job of process pid under procRoot (usually "/proc"):
// its cgroup's job, or, when its cgroup names none, SLURM_JOB_ID from its
// environment (readable only for one's own processes or as root). Any read
// error is returned so that callers can fail closed.
func FromProc(procRoot string, pid int) (jobID string, ok bool, err error) {
	return FromDir(filepath.Join(procRoot, strconv.Itoa(pid)))
}

// FromDir is FromProc for the process (or thread: .../task/<tid>) whose
// /proc directory is dir.
func FromDir(dir string) (jobID string, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup"))
	if err != nil {
		return "", false, fmt.Errorf("reading job of %s: %w", dir, err)
	}
	if id, ok := FromCgroup(bytes.NewReader(data)); ok {
		return id, true, nil
	}
	env, err := os.ReadFile(filepath.Join(dir, "environ"))
	if err != nil {
		return "", false, fmt.Errorf("reading job of %s: %w", dir, err)
	}
	id, ok := FromEnv(environGetter(env))
	return id, ok, nil
}

// environGetter looks variables up in a NUL-separated environ block.
func environGetter(block []byte) func(string) string {
	return func(key string) string {
		for _, kv := range bytes.Split(block, []byte{0}) {
			if k, v, ok := bytes.Cut(kv, []byte{'='}); ok && string(k) == key {
				return string(v)
			}
		}
		return ""
	}
}
