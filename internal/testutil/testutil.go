// SPDX-License-Identifier: Apache-2.0

// Package testutil builds the C parts of SoftMig (preload library, simulated
// GPU, test clients) for Go tests and runs programs against them.
package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

var (
	rootOnce sync.Once
	rootDir  string
	buildMu  sync.Mutex
	built    = map[string]error{}
)

// Root returns the repository root: the nearest parent holding go.mod.
func Root(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return
			}
			dir = parent
		}
	})
	if rootDir == "" {
		t.Fatal("testutil: cannot find the repository root (no go.mod above the working directory)")
	}
	return rootDir
}

// Build runs `make <targets>` in the repository root once per test binary and
// target list. Test packages run in parallel, so make runs under an exclusive
// flock on build/.make.lock.
func Build(t testing.TB, targets ...string) {
	t.Helper()
	root := Root(t)
	key := filepath.Join(targets...)
	buildMu.Lock()
	defer buildMu.Unlock()
	if err, ok := built[key]; ok {
		if err != nil {
			t.Fatalf("make %v failed earlier: %v", targets, err)
		}
		return
	}
	err := runMake(root, targets)
	built[key] = err
	if err != nil {
		t.Fatalf("make %v: %v", targets, err)
	}
}

func runMake(root string, targets []string) error {
	if err := os.MkdirAll(filepath.Join(root, "build"), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(root, "build", ".make.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	// Closing the file (deferred above) releases the lock too.
	args := append([]string{"-s", "-C", root}, targets...)
	cmd := exec.Command("make", args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return &MakeError{Err: err, Output: out.String()}
	}
	return nil
}

// MakeError carries make's output so a failing build is readable in the test log.
type MakeError struct {
	Err    error
	Output string
}

func (e *MakeError) Error() string { return e.Err.Error() + "\n" + e.Output }

// Path returns an absolute path below the repository root.
func Path(t testing.TB, rel string) string {
	return filepath.Join(Root(t), rel)
}

// SimEnv returns a minimal environment for a process that runs on the
// simulated GPU: the simulator's libraries first on the library path and a
// private state file under dir. extra entries (KEY=VALUE) are appended.
func SimEnv(t testing.TB, dir string, extra ...string) []string {
	t.Helper()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"TMPDIR=" + dir,
		"LD_LIBRARY_PATH=" + Path(t, "build/sim"),
		"SOFTMIG_SIM_STATE=" + filepath.Join(dir, "sim.state"),
	}
	return append(env, extra...)
}
