// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
)

// TestMain lets the test binary act as softmig-guard, so that the tests
// run the guard in its own process against the simulated NVML.
func TestMain(m *testing.M) {
	if os.Getenv("SOFTMIG_GUARD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const nobody = 65534

// node is one simulated GPU node: a state file, a temp dir, and the
// environment of every process of the test.
type node struct {
	t   *testing.T
	dir string
	env []string
	// shared holds the build's files where nobody can reach them, from
	// a checkout in any directory.
	shared *testutil.Shared
}

func newNode(t *testing.T, extra ...string) *node {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root: creates job cgroups, writes job configs, runs clients as nobody")
	}
	testutil.Build(t, "lib", "sim", "cprogs")
	shared := testutil.NewShared(t)
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{defs.RunDir(), defs.LogDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := testutil.SimEnv(t, dir, append([]string{
		"SOFTMIG_SIM_MEMORY=48g", "SOFTMIG_SIM_CTX_MEMORY=300m",
		"SOFTMIG_LOG_FILE=" + filepath.Join(dir, "lib.log"),
		"LD_LIBRARY_PATH=" + shared.Path("build/sim")}, extra...)...)
	return &node{t: t, dir: dir, env: env, shared: shared}
}

func (n *node) lib() string { return n.shared.Path("build/libsoftmig.so") }

// sjob is a Slurm-shaped job: a job cgroup (as slurmd makes it, for uid
// nobody) and a root-written config in the run directory.
type sjob struct {
	id    string
	procs string // the cgroup's cgroup.procs
}

func (n *node) job(conf string) *sjob {
	t := n.t
	t.Helper()
	if strings.Contains(conf, "SOFTMIG_SM_SLOT") && strings.Contains(conf, "SOFTMIG_GPU_") {
		testutil.HoldSlotsShared(t) // the node's softmig-conf counts these slots as taken
	}
	id := fmt.Sprintf("%d", testutil.TestJobIDs+rand.Intn(testutil.TestJobIDsLen))
	var dir string
	for _, base := range []string{"/sys/fs/cgroup/freezer", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
			continue
		}
		d := filepath.Join(base, "slurm_smguard", fmt.Sprintf("uid_%d", nobody), "job_"+id)
		if err := os.MkdirAll(d, 0o755); err == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		t.Skip("no writable cgroup hierarchy to create a job cgroup in")
	}
	// The region where and as the prolog makes it: empty, the job user's, 0600.
	region := filepath.Join(defs.RunDir(), id+".region")
	if err := os.WriteFile(region, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(region, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	conf = strings.ReplaceAll(conf, "$REGION", region)
	path := filepath.Join(defs.RunDir(), id+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(path)
		os.Remove(region)
		os.Remove(filepath.Join(defs.LogDir(), id+".log"))
		for i := 0; i < 50 && os.Remove(dir) != nil; i++ {
			time.Sleep(20 * time.Millisecond) // killed members leave the cgroup
		}
		os.Remove(filepath.Dir(dir))
		os.Remove(filepath.Dir(filepath.Dir(dir)))
	})
	return &sjob{id: id, procs: filepath.Join(dir, "cgroup.procs")}
}

// guardLog returns the job's log as the guard wrote it.
func (j *sjob) guardLog(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(defs.LogDir(), j.id+".log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// client is a test client (build/test) running as nobody.
type client struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  []string
	ready  time.Time // when it printed "ready": its last allocation was done
	exited chan struct{}
	exitAt time.Time
}

// start runs prog as nobody, in job j's cgroup unless j is nil, with the
// library preloaded if preload.
func (n *node) start(j *sjob, preload bool, env []string, prog string, args ...string) *client {
	t := n.t
	t.Helper()
	argv := []string{"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		n.shared.Path("build/test/" + prog)}
	if preload {
		env = append(env, "LD_PRELOAD="+n.lib())
	}
	return n.startArgv(j, env, append(argv, args...))
}

// startArgv runs argv (which drops root itself), in job j's cgroup unless
// j is nil, and returns once it printed "ready" or exited.
func (n *node) startArgv(j *sjob, env, argv []string) *client {
	t := n.t
	t.Helper()
	if j != nil {
		argv = append([]string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, j.procs}, argv...)
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = append(append([]string{}, n.env...), env...)
	c.Dir = n.dir
	c.Stderr = os.Stderr
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outp, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	cl := &client{cmd: c, stdin: in, exited: make(chan struct{})}
	t.Cleanup(cl.stop)
	out := bufio.NewReader(outp)
	for {
		line, err := out.ReadString('\n')
		if err != nil {
			break
		}
		line = strings.TrimSpace(line)
		if line == "ready" {
			cl.ready = time.Now()
			break
		}
		cl.lines = append(cl.lines, line)
	}
	go func() {
		// What it prints after "ready" is not read; a read error only
		// ends this early, and Wait still reaps it.
		_, _ = io.Copy(io.Discard, out)
		c.Wait()
		cl.exitAt = time.Now()
		close(cl.exited)
	}()
	return cl
}

func (c *client) stop() {
	c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

func (c *client) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// killedWithin waits up to d for the client to die of SIGKILL and returns
// how long after its "ready" it died.
func (c *client) killedWithin(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	select {
	case <-c.exited:
	case <-time.After(d):
		t.Fatalf("pid %d still alive %s after crossing its slice", c.cmd.Process.Pid, d)
	}
	ws, _ := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("pid %d ended with %v, not SIGKILL (output %q)", c.cmd.Process.Pid, c.cmd.ProcessState, c.lines)
	}
	return c.exitAt.Sub(c.ready)
}

func (c *client) pid() int { return c.cmd.Process.Pid }

// guardProc is softmig-guard running in its own process on the node.
type guardProc struct {
	cmd  *exec.Cmd
	out  lockedBuffer // its stdout and stderr
	done chan struct{}
}

func (g *guardProc) output() string { return g.out.String() }

// lockedBuffer is a bytes.Buffer that a process writes while a test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (n *node) guard(args ...string) *guardProc {
	t := n.t
	t.Helper()
	if !strings.Contains(strings.Join(args, " "), "--config") {
		// Guards of tests that run at once would all serve metrics on the
		// default port: only the metrics tests ask for it.
		conf := filepath.Join(n.dir, "softmig.yaml")
		if err := os.WriteFile(conf, []byte("gpus:\n  h100:\n    shards: 4\nmetrics:\n  enabled: false\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config", conf}, args...)
	}
	c := exec.Command(os.Args[0], append([]string{"--library", n.lib()}, args...)...)
	c.Env = append(append([]string{}, n.env...), "SOFTMIG_GUARD_TEST_MAIN=1")
	g := &guardProc{cmd: c, done: make(chan struct{})}
	c.Stdout, c.Stderr = &g.out, &g.out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.Wait(); close(g.done) }()
	t.Cleanup(func() { g.stop(t) })
	// Running once it said so: the first round follows at once.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.output(), "NVML started") {
		if time.Now().After(deadline) {
			t.Fatalf("guard did not start:\n%s", g.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return g
}

// stop ends the guard with SIGTERM, as systemd does, and returns its stderr.
func (g *guardProc) stop(t *testing.T) string {
	select {
	case <-g.done:
		return g.output()
	default:
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		g.cmd.Process.Kill()
		t.Errorf("guard ignored SIGTERM for 10 s")
		<-g.done
	}
	return g.output()
}

// nvmlUsed sums what NVML reports for pids on GPU index.
func (n *node) nvmlUsed(index int, pids ...int) uint64 {
	n.t.Helper()
	c := exec.Command(n.shared.Path("build/test/cuclient"), fmt.Sprintf("nvml-procs:%d", index))
	c.Env = n.env
	out, err := c.Output()
	if err != nil {
		n.t.Fatalf("cuclient nvml-procs: %v", err)
	}
	var sum uint64
	for _, f := range strings.Fields(string(out)) {
		for _, pid := range pids {
			var v uint64
			if _, err := fmt.Sscanf(f, fmt.Sprintf("pid%d=%%d", pid), &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// deviceUsed is NVML's memory in use on GPU index.
func (n *node) deviceUsed(index int) uint64 {
	n.t.Helper()
	c := exec.Command(n.shared.Path("build/test/cuclient"), fmt.Sprintf("nvml-mem:%d", index))
	c.Env = n.env
	out, err := c.Output()
	if err != nil {
		n.t.Fatalf("cuclient nvml-mem: %v", err)
	}
	var used uint64
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "used="); ok {
			if _, err := fmt.Sscanf(v, "%d", &used); err != nil {
				n.t.Fatalf("cuclient nvml-mem: %q: %v", out, err)
			}
		}
	}
	return used
}
