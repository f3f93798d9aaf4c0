// SPDX-License-Identifier: Apache-2.0

// Package testjob lays out Slurm jobs for tests on the simulated node
// (internal/testutil): job cgroups as slurmd makes them, and job configs
// as root writes them.
package testjob

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/jobpath"
	"github.com/softmig/softmig/internal/testutil"
)

// Cgroup makes a Slurm-shaped job cgroup, <hierarchy>/<top>/uid_<uid>/job_<id>
// (top: "slurm_smtest", one per test package), in the first cgroup
// hierarchy it can write, and returns its cgroup.procs; the cgroup goes
// with the test. A machine with no writable hierarchy skips the test.
func Cgroup(t testing.TB, top string, uid int, id string) (procs string) {
	t.Helper()
	testutil.NeedRoot(t, "creates a job cgroup")
	var dir string
	for _, base := range []string{"/sys/fs/cgroup/freezer", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
			continue
		}
		d := filepath.Join(base, top, "uid_"+strconv.Itoa(uid), "job_"+id)
		if err := os.MkdirAll(d, 0o755); err == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		t.Skip("no writable cgroup hierarchy to create a job cgroup in")
	}
	t.Cleanup(func() {
		for i := 0; i < 50 && os.Remove(dir) != nil; i++ {
			time.Sleep(20 * time.Millisecond) // killed members leave the cgroup
		}
		os.Remove(filepath.Dir(dir))
		os.Remove(filepath.Dir(filepath.Dir(dir)))
	})
	return filepath.Join(dir, "cgroup.procs")
}

// InCgroup is a wrapper (argv prefix) that moves the program it runs into
// the cgroup whose cgroup.procs is procs.
func InCgroup(procs string) []string {
	return []string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, procs}
}

// WriteConf writes job id's config, as root does, in the run directory
// with mode, removed with the test, and returns its path.
func WriteConf(t testing.TB, id, text string, mode os.FileMode) string {
	t.Helper()
	testutil.NeedRoot(t, "writes job configs in the run directory")
	if err := os.MkdirAll(defs.RunDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	path := jobpath.Conf(defs.RunDir(), id)
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	// The region the library makes for a config that names none goes too.
	t.Cleanup(func() {
		_ = os.Remove(path)
		_ = os.Remove(jobpath.Region(defs.RunDir(), id))
	})
	return path
}
