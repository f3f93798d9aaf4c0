// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

const (
	MiB = uint64(1) << 20
	GiB = uint64(1) << 30
	// The simulator's context footprint in these tests.
	ctxMem = 300 * MiB
)

// rig is one simulated node (testutil.Sim) with the defaults of these
// tests: a 48 GiB GPU, 300 MiB contexts, the library's log in the node's
// directory.
type rig struct {
	t   *testing.T
	dir string
	env []string
	sim *testutil.Sim
}

func newRig(t *testing.T, extra ...string) *rig {
	t.Helper()
	testutil.Build(t, "lib", "sim", "cprogs")
	s := testutil.NewSim(t, "SOFTMIG_SIM_MEMORY=48g", "SOFTMIG_SIM_CTX_MEMORY=300m")
	s.Env = append(s.Env, "SOFTMIG_LOG_FILE="+filepath.Join(s.Dir, "softmig.log"))
	s.Env = append(s.Env, extra...)
	return &rig{t: t, dir: s.Dir, env: s.Env, sim: s}
}

func (r *rig) prog(name string) string { return r.sim.Prog(name) }
func (r *rig) lib() string             { return r.sim.Lib() }

// cmd builds a command for a test client with the library preloaded
// (unless preload is false) and extra environment.
func (r *rig) cmd(preload bool, extra []string, name string, args ...string) *exec.Cmd {
	s := *r.sim
	s.Env = r.env // as the test has set it
	return s.Cmd(preload, extra, name, args...)
}

// shared gives copies of the build other users can reach (testutil.Shared),
// and makes the node's processes load the simulator from there.
func (r *rig) shared() *testutil.Shared {
	sh := r.sim.Shared()
	r.env = append(r.env, "LD_LIBRARY_PATH="+sh.Path("build/sim"))
	return sh
}

// run runs a client to completion and returns its stdout lines.
func (r *rig) run(extra []string, name string, args ...string) (lines []string, stderr string) {
	r.t.Helper()
	c := r.cmd(true, extra, name, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		if !errors.As(err, new(*exec.ExitError)) {
			r.t.Fatalf("%s %v: %v", name, args, err)
		}
	}
	return splitLines(out.String()), errb.String()
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// held is a client kept alive (command "hold") until released.
type held struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	lines []string
}

// start runs a client whose script ends in "ready hold"; it returns once
// the client printed "ready" (lines holds what it printed before).
func (r *rig) start(extra []string, name string, args ...string) *held {
	r.t.Helper()
	return r.startReady(extra, name, append(args, "ready", "hold")...)
}

// startReady runs a client whose script has a "ready" in it and returns
// once the client printed it; finish collects the rest.
func (r *rig) startReady(extra []string, name string, args ...string) *held {
	r.t.Helper()
	return r.startCmd(r.cmd(true, extra, name, args...))
}

// startCmd is startReady for a client command already built.
func (r *rig) startCmd(c *exec.Cmd) *held {
	r.t.Helper()
	in, err := c.StdinPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	outp, err := c.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		r.t.Fatal(err)
	}
	h := &held{cmd: c, stdin: in, out: bufio.NewReader(outp)}
	r.t.Cleanup(func() { h.kill() })
	for {
		line, err := h.out.ReadString('\n')
		if err != nil {
			r.t.Fatalf("%v: exited before ready (output %q)", c.Args, h.lines)
		}
		line = strings.TrimSpace(line)
		if line == "ready" {
			return h
		}
		h.lines = append(h.lines, line)
	}
}

func (h *held) release() error {
	h.stdin.Close()
	_, _ = io.Copy(io.Discard, h.out) // what it says after "ready" is not asked for
	return h.cmd.Wait()
}

// finish closes the client's stdin, waits for it, and returns every line
// it printed (before "ready" and after) with how it ended.
func (h *held) finish() ([]string, error) {
	h.stdin.Close()
	for {
		line, err := h.out.ReadString('\n')
		if err != nil {
			break
		}
		h.lines = append(h.lines, strings.TrimSpace(line))
	}
	return h.lines, h.cmd.Wait()
}

func (h *held) kill() {
	if h.cmd.ProcessState == nil && h.cmd.Process != nil {
		h.cmd.Process.Kill()
		h.cmd.Wait()
	}
}

// want asserts that got has exactly the expected lines.
func want(t *testing.T, what string, got []string, expected ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(expected, "|") {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, expected)
	}
}

// results keeps of each client line its command and rc ("alloc rc=2").
func results(lines []string) []string { return testutil.ClientResults(lines) }

// totalFree parses a successful meminfo line.
func totalFree(t *testing.T, line string) (total, free uint64) {
	t.Helper()
	if _, err := fmt.Sscanf(line, "meminfo rc=0 free=%d total=%d", &free, &total); err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return
}

func uniqueJob() string {
	return fmt.Sprintf("%d", 900000000+rand.Intn(99999999))
}

// eventually polls f until it returns true or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
