// SPDX-License-Identifier: Apache-2.0

package testutil

import (
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Nobody is the unprivileged user tests run clients as.
const Nobody = 65534

// Sim is one simulated GPU node for a test: a directory every user can
// write, the environment every process of the test starts with (the
// simulator's libraries, a private GPU state, TMPDIR), and the build's
// library and programs, as they are or copied where other users reach them.
type Sim struct {
	T   testing.TB
	Dir string
	Env []string

	shared *Shared
}

// NewSim builds the simulator and makes a node; extra (KEY=VALUE) is
// appended to the environment of every process.
func NewSim(t testing.TB, extra ...string) *Sim {
	t.Helper()
	Build(t, "sim")
	dir := t.TempDir()
	// Clients run as other users write their logs and states here.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Sim{T: t, Dir: dir, Env: SimEnv(t, dir, extra...)}
}

// Lib is the preload library in the build.
func (s *Sim) Lib() string {
	Build(s.T, "lib")
	return Path(s.T, "build/libsoftmig.so")
}

// Prog is a test client (test/cprog) in the build.
func (s *Sim) Prog(name string) string {
	Build(s.T, "cprogs")
	return Path(s.T, "build/test/"+name)
}

// Shared gives copies of the library, the simulator (build/sim) and the
// clients that other users can reach (see Shared).
func (s *Sim) Shared() *Shared {
	if s.shared == nil {
		Build(s.T, "lib", "sim", "cprogs")
		s.shared = NewShared(s.T)
	}
	return s.shared
}

// Cmd is a command for the client name with the library preloaded
// (unless preload is false) and extra environment, run in the node's
// directory.
func (s *Sim) Cmd(preload bool, extra []string, name string, args ...string) *exec.Cmd {
	c := exec.Command(s.Prog(name), args...)
	c.Env = append([]string{}, s.Env...)
	if preload {
		c.Env = append(c.Env, "LD_PRELOAD="+s.Lib())
	}
	c.Env = append(c.Env, extra...)
	c.Dir = s.Dir
	return c
}

// AsUser makes c run as uid (group uid too, no supplementary groups).
func AsUser(c *exec.Cmd, uid int) {
	if c.SysProcAttr == nil {
		c.SysProcAttr = &syscall.SysProcAttr{}
	}
	c.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
}

// NeedRoot skips t unless it runs as root, saying why the test needs it.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

// MainOr lets a test binary act as the command it tests: with env set to
// "1" it runs main (so a test can start the command in its own process,
// as os.Args[0] with that variable), otherwise the tests.
func MainOr(m *testing.M, env string, main func()) {
	if os.Getenv(env) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Stranger returns an unprivileged uid no account and, most likely, no
// other test holds: a job's user in tests whose outcome depends on which
// jobs that user has on the node (the library fails closed for a user
// with a sliced job elsewhere), so that tests running beside it, in this
// run or another, cannot change it.
func Stranger() int { return 3000000 + rand.Intn(1000000) }
