// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/softmig/softmig/internal/testlibs"
	"github.com/softmig/softmig/internal/testutil"
)

// libState is what must not change when an update is refused.
func libState(t *testing.T, path string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	return fmt.Sprintf("ino=%d mtime=%d.%d size=%d %x", st.Ino, st.Mtim.Sec, st.Mtim.Nsec, st.Size, b[:64])
}

func stagedLeft(t *testing.T, dir string) []string {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(dir, ".*.new-*"))
	return left
}

func TestUpdateRefusesBadLibraries(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, true)
	f.install(t)
	dir := f.libs
	good2 := testlibs.Lib(t, dir, "good2.so", testlibs.Good("2"))
	// A library that needs libdep.so, which is then removed: the loader
	// cannot preload it.
	if err := os.WriteFile(filepath.Join(dir, "dep.c"), []byte("int dep(void) { return 1; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-shared", "-fPIC", "-o", filepath.Join(dir, "libdep.so"), filepath.Join(dir, "dep.c"),
		"-Wl,-soname,libdep.so").CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	missingDep := testlibs.Lib(t, dir, "missingdep.so", testlibs.Good("dep")+"int dep(void);\nint use(void) { return dep(); }\n",
		"-L"+dir, "-ldep")
	os.Remove(filepath.Join(dir, "libdep.so"))
	text := filepath.Join(dir, "text.so")
	if err := os.WriteFile(text, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, lib, want string
	}{
		{"truncated", testlibs.Truncated(t, good2, dir, "trunc.so"), "truncated"},
		{"crashing constructor", testlibs.Lib(t, dir, "crash.so", testlibs.Crashing), "killed by SIGSEGV"},
		{"no softmig_version", testlibs.Lib(t, dir, "nosym.so", testlibs.NoVersion), "does not export the required function softmig_version()"},
		{"hidden softmig_version", testlibs.Lib(t, dir, "hidden.so", testlibs.Hidden), "does not export"},
		{"not passive", testlibs.Lib(t, dir, "noisy.so", testlibs.Noisy), "not passive"},
		{"answers NULL", testlibs.Lib(t, dir, "null.so", `const char *softmig_version(void) { return 0; }`), "returned NULL"},
		{"missing dependency", missingDep, "libdep.so"},
		{"not an ELF file", text, "not an ELF file"},
		{"missing file", filepath.Join(dir, "nonexistent.so"), "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := libState(t, f.lib())
			out, err := runTool(t, "update", "--root", f.root, tc.lib)
			if err == nil {
				t.Fatalf("update with %s succeeded:\n%s", tc.name, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("update error = %v, want it to mention %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("update error = %v, want it to say nothing was changed", err)
			}
			if after := libState(t, f.lib()); after != before {
				t.Errorf("refused update changed the library: %s -> %s", before, after)
			}
			if left := stagedLeft(t, filepath.Dir(f.lib())); len(left) > 0 {
				t.Errorf("refused update left staged files: %v", left)
			}
		})
	}
}

// TestHotSwapZeroFailedStarts starts processes that preload the installed
// library as fast as it can while update swaps it 50 times.
func TestHotSwapZeroFailedStarts(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, true)
	f.install(t)
	v1 := filepath.Join(f.build, libName)
	v2 := testlibs.Lib(t, f.libs, "v2.so", testlibs.Good("2"))
	starter := testlibs.Program(t, f.libs, "starter", testlibs.Starter)

	env := []string{"PATH=/usr/bin:/bin"}
	how := "LD_PRELOAD"
	if etcOverlaid {
		// The production path: the loader reads /etc/ld.so.preload (an
		// overlay private to this test process).
		how = "/etc/ld.so.preload"
		old, oldErr := os.ReadFile("/etc/ld.so.preload")
		if err := os.WriteFile("/etc/ld.so.preload", []byte(f.lib()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if oldErr != nil {
				os.Remove("/etc/ld.so.preload")
			} else {
				if err := os.WriteFile("/etc/ld.so.preload", old, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	} else {
		env = append(env, "LD_PRELOAD="+f.lib())
	}
	startOne := func() (string, error) {
		cmd := exec.Command(starter)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err == nil && errb.Len() > 0 {
			err = fmt.Errorf("stderr: %s", errb.String())
		}
		return strings.TrimSpace(out.String()), err
	}
	if v, err := startOne(); err != nil || v != "1" {
		t.Fatalf("before any update a start = %q, %v; want version 1", v, err)
	}

	// A process that is running during the swaps keeps the old library.
	long := exec.Command("cat")
	long.Env = env
	stdin, _ := long.StdinPipe()
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}

	var starts, failures atomic.Int64
	var mu sync.Mutex
	var failMsgs []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			v, err := startOne()
			starts.Add(1)
			if err != nil || (v != "1" && v != "2") {
				failures.Add(1)
				mu.Lock()
				if len(failMsgs) < 5 {
					failMsgs = append(failMsgs, fmt.Sprintf("%q, %v", v, err))
				}
				mu.Unlock()
			}
		}
	}()

	for i := 0; i < 50; i++ {
		lib, want := v2, "2"
		if i%2 == 1 {
			lib, want = v1, "1"
		}
		if _, err := runTool(t, "update", "--root", f.root, lib); err != nil {
			t.Errorf("update %d: %v", i, err)
			break
		}
		// Deterministic: once update returned, every new process has the new library.
		if v, err := startOne(); err != nil || v != want {
			t.Errorf("after update %d a new process has %q, %v; want version %s", i, v, err, want)
		}
		if i == 0 {
			maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", long.Process.Pid))
			if !strings.Contains(string(maps), f.lib()+" (deleted)") {
				t.Errorf("a process running during the swap does not keep the old library mapped; its maps:\n%s", maps)
			}
		}
	}
	close(stop)
	wg.Wait()
	stdin.Close()
	if err := long.Wait(); err != nil {
		t.Errorf("the process that ran during the swaps: %v", err)
	}
	if n := failures.Load(); n > 0 || starts.Load() == 0 {
		t.Fatalf("%d of %d starts failed during 50 updates: %s", n, starts.Load(), strings.Join(failMsgs, "; "))
	}
	if left := stagedLeft(t, filepath.Dir(f.lib())); len(left) > 0 {
		t.Errorf("staged files left: %v", left)
	}
	t.Logf("%d processes started (preloading through %s) during 50 updates, none failed", starts.Load(), how)
}

// TestRealLibrary swaps the real build/libsoftmig.so in and out and
// verifies it, when it has been built.
func TestRealLibrary(t *testing.T) {
	needRootNS(t)
	built := testutil.Path(t, "build/libsoftmig.so")
	if _, err := os.Stat(built); err != nil {
		t.Skipf("%s not built (make lib): the real library is not exercised here", built)
	}
	f := newFixture(t, true)
	f.install(t)
	out, err := runTool(t, "update", "--root", f.root, built)
	if err != nil {
		t.Fatalf("update to the real library: %v\n%s\n(the library must export const char *softmig_version(void) and be passive outside a job)", err, out)
	}
	t.Log(strings.TrimSpace(out))
	if out, err := runTool(t, f.verifyArgs()...); err != nil {
		t.Errorf("verify with the real library: %v\n%s", err, out)
	}
	mustRun(t, "update", "--root", f.root, filepath.Join(f.build, libName))
	mustRun(t, "uninstall", "--root", f.root)
}

// TestTrialRefusesToMaskOutsideItsNamespace runs the trial the way update
// does, but without a namespace of its own: it must not mount anything.
func TestTrialRefusesToMaskOutsideItsNamespace(t *testing.T) {
	needRootNS(t)
	dir := t.TempDir()
	lib := testlibs.Lib(t, dir, "good.so", testlibs.Good("1"))
	mask := filepath.Join(dir, "preload")
	if err := os.WriteFile(mask, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "trial", "--mask", mask, lib)
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	var errb bytes.Buffer
	cmd.Stderr, cmd.Stdout = &errb, io.Discard
	if err := cmd.Run(); err == nil || !strings.Contains(errb.String(), "not in a private mount namespace") {
		t.Errorf("trial without a namespace = %v, %q; want a refusal", err, errb.String())
	}
	if b, _ := os.ReadFile(mask); string(b) != "keep\n" {
		t.Errorf("the file to mask reads %q, want it untouched", b)
	}
}
