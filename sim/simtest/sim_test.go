// SPDX-License-Identifier: Apache-2.0

package simtest

import (
	"bufio"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// line is one output line of the test client: the command and its key=value pairs.
type line struct {
	cmd string
	kv  map[string]string
}

func (l line) int(t *testing.T, key string) int64 {
	t.Helper()
	v, ok := l.kv[key]
	if !ok {
		t.Fatalf("%s: no %q in %v", l.cmd, key, l.kv)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s: %s=%q is not an integer", l.cmd, key, v)
	}
	return n
}

func (l line) float(t *testing.T, key string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(l.kv[key], 64)
	if err != nil {
		t.Fatalf("%s: %s=%q is not a number", l.cmd, key, l.kv[key])
	}
	return f
}

func parse(out string) []line {
	var lines []line
	for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
		f := fields(s)
		if len(f) == 0 {
			continue
		}
		l := line{cmd: f[0], kv: map[string]string{}}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			l.kv[k] = v
		}
		lines = append(lines, l)
	}
	return lines
}

// fields splits a line at spaces outside double quotes.
func fields(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

type sim struct {
	t   *testing.T
	dir string
	env []string
}

func newSim(t *testing.T, extra ...string) *sim {
	t.Helper()
	testutil.Build(t, "sim", "cprogs")
	dir := t.TempDir()
	return &sim{t: t, dir: dir, env: testutil.SimEnv(t, dir, extra...)}
}

func (s *sim) cmd(prog string, env []string, args ...string) *exec.Cmd {
	c := exec.Command(testutil.Path(s.t, filepath.Join("build/test", prog)), args...)
	c.Env = append(append([]string{}, s.env...), env...)
	return c
}

// run runs prog to completion and returns its lines; a failing command is
// allowed (the tests look at rc=), a crash or usage error is not.
func (s *sim) run(prog string, env []string, args ...string) []line {
	s.t.Helper()
	c := s.cmd(prog, env, args...)
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if ee := new(exec.ExitError); err != nil && (!errors.As(err, &ee) || ee.ExitCode() > 1) {
		s.t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", prog, args, err, out, stderr.String())
	}
	return parse(string(out))
}

// find returns the n-th (0-based) line of cmd.
func find(t *testing.T, lines []line, cmd string, n int) line {
	t.Helper()
	for _, l := range lines {
		if l.cmd == cmd {
			if n == 0 {
				return l
			}
			n--
		}
	}
	t.Fatalf("no %s line (#%d) in %v", cmd, n, lines)
	return line{}
}

func wantRC(t *testing.T, l line, rc int64) {
	t.Helper()
	if got := l.int(t, "rc"); got != rc {
		t.Fatalf("%s: rc=%d, want %d (%v)", l.cmd, got, rc, l.kv)
	}
}

// holder is a client that stays alive (command "hold") until released.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	pid   int
	lines []line
}

func (s *sim) start(env []string, args ...string) *holder {
	s.t.Helper()
	return s.startCmd(s.cmd("cuclient", env, append(args, "hold")...), args)
}

// startWrapped starts a holder under a wrapper command (unshare ...).
func (s *sim) startWrapped(wrap []string, args ...string) *holder {
	s.t.Helper()
	return s.startCmd(s.wrapped(wrap, append(args, "hold")...), args)
}

func (s *sim) startCmd(c *exec.Cmd, args []string) *holder {
	s.t.Helper()
	stdin, err := c.StdinPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		s.t.Fatal(err)
	}
	h := &holder{cmd: c, stdin: stdin}
	s.t.Cleanup(func() { h.stdin.Close(); h.cmd.Process.Kill(); h.cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	var out strings.Builder
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "hold ") {
			h.lines = parse(out.String())
			h.pid = int(find(s.t, h.lines, "hold", 0).int(s.t, "pid"))
			return h
		}
	}
	s.t.Fatalf("client %v exited before hold:\n%s", args, out.String())
	return nil
}

func (h *holder) release(t *testing.T) {
	t.Helper()
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("holder %d: %v", h.pid, err)
	}
}

func TestMemoryAcrossProcesses(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_MEMORY=8g", "SOFTMIG_SIM_CTX_MEMORY=300m")
	a := s.start(nil, "init", "retain", "alloc:1g", "alloc:512m")
	b := s.run("cuclient", nil, "init", "retain", "meminfo", "nvml-mem:0", "nvml-procs:0", "pid")
	total := 8 * gib
	used := (300*mib + gib + 512*mib) + 300*mib
	mi := find(t, b, "meminfo", 0)
	if mi.int(t, "total") != total || mi.int(t, "free") != total-used {
		t.Fatalf("meminfo %v, want total=%d free=%d", mi.kv, total, total-used)
	}
	nm := find(t, b, "nvml-mem", 0)
	if nm.int(t, "used") != used || nm.int(t, "free") != total-used {
		t.Fatalf("nvml-mem %v, want used=%d", nm.kv, used)
	}
	procs := find(t, b, "nvml-procs", 0)
	bpid := find(t, b, "pid", 0).int(t, "pid")
	if procs.int(t, "n") != 2 || procs.int(t, "pid"+strconv.Itoa(a.pid)) != 300*mib+gib+512*mib ||
		procs.int(t, "pid"+strconv.FormatInt(bpid, 10)) != 300*mib {
		t.Fatalf("nvml-procs %v (holder %d, client %d)", procs.kv, a.pid, bpid)
	}
	a.release(t)
	after := s.run("cuclient", nil, "init", "nvml-mem:0", "nvml-procs:0")
	if u := find(t, after, "nvml-mem", 0).int(t, "used"); u != 0 {
		t.Fatalf("after both exited: used=%d, want 0", u)
	}
	if n := find(t, after, "nvml-procs", 0).int(t, "n"); n != 0 {
		t.Fatalf("after both exited: %d processes", n)
	}
}

func TestFreeAndContexts(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_MEMORY=8g", "SOFTMIG_SIM_CTX_MEMORY=100m")
	out := s.run("cuclient", nil,
		"meminfo", "init", "meminfo", "alloc:1m", // no context yet
		"ctxcreate", "meminfo", "alloc:1g", "managed:1m", "pitch:1000:1000", "async:2m", "ownpool:2m",
		"vmm:4m", "array:256:256", "array3d:16:16:16", "mipmap:64:64:2", "meminfo",
		"freeall", "meminfo", "alloc:1g", "ctxdestroy", "nvml-mem:0", "retain", "alloc:1g",
		"nvml-mem:0", "reset", "nvml-mem:0")
	wantRC(t, find(t, out, "meminfo", 0), 3) // CUDA_ERROR_NOT_INITIALIZED
	wantRC(t, find(t, out, "meminfo", 1), 201)
	wantRC(t, find(t, out, "alloc", 0), 201)
	total := 8 * gib
	if f := find(t, out, "meminfo", 2).int(t, "free"); f != total-100*mib {
		t.Fatalf("with a context: free=%d", f)
	}
	if p := find(t, out, "pitch", 0).int(t, "pitch"); p != 1024 {
		t.Fatalf("pitch=%d, want 1024", p)
	}
	want := 100*mib + gib + mib + 1024*1000 + 2*mib + 2*mib + 4*mib + 256*256*4 + 16*16*16*4 + (64*64+32*32)*4
	if f := find(t, out, "meminfo", 3).int(t, "free"); f != total-want {
		t.Fatalf("after allocations: free=%d, want %d", f, total-want)
	}
	if f := find(t, out, "meminfo", 4).int(t, "free"); f != total-100*mib {
		t.Fatalf("after freeall: free=%d", f)
	}
	// Destroying a context frees its memory and what was allocated in it.
	if u := find(t, out, "nvml-mem", 0).int(t, "used"); u != 0 {
		t.Fatalf("after cuCtxDestroy: used=%d", u)
	}
	if u := find(t, out, "nvml-mem", 1).int(t, "used"); u != 100*mib+gib {
		t.Fatalf("primary context + 1g: used=%d", u)
	}
	if u := find(t, out, "nvml-mem", 2).int(t, "used"); u != 0 {
		t.Fatalf("after primary reset: used=%d", u)
	}
}

func TestDeviceOutOfMemory(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_MEMORY=2g", "SOFTMIG_SIM_CTX_MEMORY=300m")
	out := s.run("cuclient", nil, "init", "retain", "alloc:1g", "alloc:1g", "alloc:724m", "alloc:1", "meminfo")
	wantRC(t, find(t, out, "alloc", 0), 0)
	wantRC(t, find(t, out, "alloc", 1), 2) // CUDA_ERROR_OUT_OF_MEMORY
	wantRC(t, find(t, out, "alloc", 2), 0) // exactly the rest
	wantRC(t, find(t, out, "alloc", 3), 2)
	if f := find(t, out, "meminfo", 0).int(t, "free"); f != 0 {
		t.Fatalf("free=%d, want 0", f)
	}
	// Another process cannot even create its context now.
	a := s.start(nil, "init", "retain", "alloc:1400m")
	b := s.run("cuclient", nil, "init", "retain", "ctxcreate")
	wantRC(t, find(t, b, "retain", 0), 0)
	wantRC(t, find(t, b, "ctxcreate", 0), 2)
	a.release(t)
}

func TestDeadProcessMemoryReleased(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_MEMORY=4g")
	a := s.start(nil, "init", "retain", "alloc:3g")
	before := s.run("cuclient", nil, "init", "retain", "alloc:1g")
	wantRC(t, find(t, before, "alloc", 0), 2)
	// Killed but not yet waited for: a zombie holds no GPU memory.
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for {
		st, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(a.pid)).Output()
		if err != nil || strings.HasPrefix(strings.TrimSpace(string(st)), "Z") {
			break
		}
	}
	after := s.run("cuclient", nil, "init", "retain", "alloc:3g", "nvml-procs:0")
	wantRC(t, find(t, after, "alloc", 0), 0)
	if n := find(t, after, "nvml-procs", 0).int(t, "n"); n != 1 {
		t.Fatalf("%d processes listed, want 1", n)
	}
	a.cmd.Wait()
}

func TestNVMLSizeProtocol(t *testing.T) {
	s := newSim(t)
	empty := s.run("cuclient", nil, "nvml-size:0")
	l := find(t, empty, "nvml-size", 0)
	if l.int(t, "query") != 0 || l.int(t, "n") != 0 || l.int(t, "exact") != 0 {
		t.Fatalf("no processes: %v", l.kv)
	}
	a := s.start(nil, "init", "retain")
	b := s.start(nil, "init", "retain")
	out := s.run("cuclient", nil, "nvml-size:0")
	l = find(t, out, "nvml-size", 0)
	const insufficient = 7
	if l.int(t, "query") != insufficient || l.int(t, "n") != 2 || l.int(t, "small") != insufficient ||
		l.int(t, "small_n") != 2 || l.int(t, "exact") != 0 || l.int(t, "exact_n") != 2 {
		t.Fatalf("two processes: %v", l.kv)
	}
	a.release(t)
	b.release(t)
}

func TestVisibleDevices(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_DEVICES=3")
	all := s.run("cuclient", nil, "init", "info:0", "info:1", "info:2")
	var uuid [3]string
	for i := range uuid {
		l := find(t, all, "info", i)
		uuid[i] = l.kv["uuid"]
		if len(uuid[i]) != 40 || !strings.HasPrefix(uuid[i], "GPU-") {
			t.Fatalf("uuid %q", uuid[i])
		}
	}
	nv := s.run("cuclient", nil, "nvml-info:0", "nvml-info:2")
	if find(t, nv, "nvml-info", 0).kv["uuid"] != uuid[0] || find(t, nv, "nvml-info", 1).kv["uuid"] != uuid[2] {
		t.Fatalf("NVML uuids %v differ from CUDA's %v", nv, uuid)
	}
	cases := []struct {
		cvd  string
		want []int // physical devices in ordinal order
	}{
		{"0,2", []int{0, 2}},
		{"2,0", []int{2, 0}},
		{"1", []int{1}},
		{uuid[1], []int{1}},
		{uuid[2][:12] + "," + uuid[0], []int{2, 0}},
		{"0,7,1", []int{0}},
		{"1,bogus,2", []int{1}},
		{"2,2", []int{2}},
		{"GPU-", nil},
		{"", nil},
	}
	for _, c := range cases {
		out := s.run("cuclient", []string{"CUDA_VISIBLE_DEVICES=" + c.cvd}, "init", "info:0", "info:1", "nvml-info:0")
		in := find(t, out, "init", 0)
		if c.want == nil {
			wantRC(t, in, 100) // CUDA_ERROR_NO_DEVICE
			continue
		}
		if n := in.int(t, "count"); n != int64(len(c.want)) {
			t.Errorf("CUDA_VISIBLE_DEVICES=%q: %d devices, want %d", c.cvd, n, len(c.want))
			continue
		}
		for i, phys := range c.want {
			if got := find(t, out, "info", i).kv["uuid"]; got != uuid[phys] {
				t.Errorf("CUDA_VISIBLE_DEVICES=%q: ordinal %d is %s, want %s", c.cvd, i, got, uuid[phys])
			}
		}
		if n := find(t, out, "nvml-info", 0).int(t, "count"); n != 3 {
			t.Errorf("CUDA_VISIBLE_DEVICES=%q: NVML sees %d devices, want all 3", c.cvd, n)
		}
	}
	// The device index a process allocates on is the physical one in NVML.
	h := s.start([]string{"CUDA_VISIBLE_DEVICES=2"}, "init", "retain", "alloc:1g")
	out := s.run("cuclient", nil, "nvml-procs:0", "nvml-procs:2")
	if find(t, out, "nvml-procs", 0).int(t, "n") != 0 || find(t, out, "nvml-procs", 1).int(t, "n") != 1 {
		t.Fatalf("process on CUDA_VISIBLE_DEVICES=2: %v", out)
	}
	h.release(t)
}

func TestGetProcAddress(t *testing.T) {
	s := newSim(t)
	cases := []struct {
		sym     string
		version int
		flags   int
		want    string // exported name, or "" for not found
		status  int
	}{
		{"cuMemAlloc", 3010, 0, "cuMemAlloc", 0},
		{"cuMemAlloc", 3020, 0, "cuMemAlloc_v2", 0},
		{"cuMemAlloc", 13000, 0, "cuMemAlloc_v2", 0},
		{"cuMemAlloc_v2", 13000, 0, "", 1},
		{"cuCtxCreate", 3000, 0, "cuCtxCreate", 0},
		{"cuCtxCreate", 11000, 0, "cuCtxCreate_v2", 0},
		{"cuCtxCreate", 11040, 0, "cuCtxCreate_v3", 0},
		{"cuCtxCreate", 12080, 0, "cuCtxCreate_v4", 0},
		{"cuGetProcAddress", 11030, 0, "cuGetProcAddress", 0},
		{"cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2", 0},
		{"cuDeviceGetUuid", 11000, 0, "cuDeviceGetUuid", 0},
		{"cuDeviceGetUuid", 11040, 0, "cuDeviceGetUuid_v2", 0},
		{"cuMemGetInfo", 12000, 0, "cuMemGetInfo_v2", 0},
		{"cuDevicePrimaryCtxRelease", 10020, 0, "cuDevicePrimaryCtxRelease", 0},
		{"cuDevicePrimaryCtxRelease", 11000, 0, "cuDevicePrimaryCtxRelease_v2", 0},
		{"cuLaunchKernel", 12000, 0, "cuLaunchKernel", 0},
		{"cuLaunchKernel", 12000, 1, "cuLaunchKernel", 0},
		{"cuLaunchKernel", 12000, 2, "cuLaunchKernel_ptsz", 0},
		{"cuMemAllocAsync", 12000, 2, "cuMemAllocAsync_ptsz", 0},
		{"cuGraphLaunch", 12000, 2, "cuGraphLaunch_ptsz", 0},
		{"cuStreamSynchronize", 12000, 2, "cuStreamSynchronize_ptsz", 0},
		{"cuMemcpyHtoD", 12000, 2, "cuMemcpyHtoD_v2_ptds", 0},
		{"cuMemAlloc", 12000, 2, "cuMemAlloc_v2", 0},
		{"cuLaunchKernelEx", 11060, 0, "cuLaunchKernelEx", 0},
		{"cuLaunchKernelEx", 11040, 0, "", 2},
		{"cuMemAllocAsync", 11000, 0, "", 2},
		{"cuGraphInstantiate", 12000, 0, "cuGraphInstantiateWithFlags", 0},
		{"cuNoSuchFunction", 13000, 0, "", 1},
	}
	var args []string
	for _, c := range cases {
		a := "proc:" + c.sym + ":" + strconv.Itoa(c.version) + ":" + strconv.Itoa(c.flags)
		if c.want != "" {
			a += ":" + c.want
		}
		args = append(args, a, "proc:cuInit:13000:3") // invalid flags
	}
	out := s.run("dl_client", nil, args...)
	for i, c := range cases {
		l := find(t, out, "proc", 2*i)
		if c.want == "" {
			if l.int(t, "rc") != 500 || l.int(t, "status") != int64(c.status) || l.kv["name"] != "-" {
				t.Errorf("%s@%d: %v, want rc=500 status=%d", c.sym, c.version, l.kv, c.status)
			}
		} else if l.int(t, "rc") != 0 || l.int(t, "status") != 0 || l.kv["name"] != c.want || l.kv["match"] != "1" {
			t.Errorf("%s@%d flags %d: %v, want %s (same address as dlsym)", c.sym, c.version, c.flags, l.kv, c.want)
		}
		if bad := find(t, out, "proc", 2*i+1); bad.int(t, "rc") != 1 {
			t.Errorf("invalid flags: %v, want rc=1", bad.kv)
		}
	}
}

func TestProcAddressClient(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_MEMORY=4g", "SOFTMIG_SIM_CTX_MEMORY=100m")
	for _, flags := range []string{"0", "2"} {
		out := s.run("dl_client", []string{"CLIENT_PROC_FLAGS=" + flags},
			"init", "retain", "alloc:1g", "async:1m", "meminfo", "launch:100:3", "sync", "graph:100:2:2m", "freeall", "meminfo")
		for _, l := range out {
			wantRC(t, l, 0)
		}
		if f := find(t, out, "meminfo", 0).int(t, "free"); f != 4*gib-100*mib-gib-mib {
			t.Fatalf("flags %s: free=%d", flags, f)
		}
	}
}

func TestKernelTime(t *testing.T) {
	s := newSim(t)
	alone := s.run("cuclient", nil, "init", "retain", "time:1000:10",
		"stream", "launch:300000", "query", "ssync", "query",
		"launchex:1000:3", "coop:1000:2", "sync", "query")
	// Event times are simulated completion times: 10 ms of kernels plus
	// whatever the process spent between the records (generous bound).
	if ms := find(t, alone, "time", 0).float(t, "ms"); ms < 10 || ms > 500 {
		t.Fatalf("10 kernels of 1 ms: %.3f ms by events", ms)
	}
	wantRC(t, find(t, alone, "query", 0), 600) // CUDA_ERROR_NOT_READY: 300 ms kernel running
	wantRC(t, find(t, alone, "query", 1), 0)
	wantRC(t, find(t, alone, "query", 2), 0)
	if ms := find(t, alone, "ssync", 0).float(t, "ms"); ms < 100 {
		t.Fatalf("stream sync on a 300 ms kernel returned after %.3f ms", ms)
	}
	// A second process's kernels queue behind the first one's.
	a := s.start(nil, "init", "retain", "launch:1000:1000")
	b := s.run("cuclient", nil, "init", "retain", "time:1000:10")
	if ms := find(t, b, "time", 0).float(t, "ms"); ms < 100 {
		t.Fatalf("behind 1 s of another process's kernels: %.3f ms", ms)
	}
	a.release(t)
	// More than 1024 outstanding launches block the launching thread.
	q := newSim(t).run("cuclient", nil, "init", "retain", "launch:1000:1100")
	if ms := find(t, q, "launch", 0).float(t, "ms"); ms < 50 {
		t.Fatalf("1100 launches of 1 ms returned after %.3f ms", ms)
	}
}

func TestGraphs(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_CTX_MEMORY=100m")
	out := s.run("cuclient", nil, "init", "retain", "graph:1000:5:64m", "nvml-mem:0", "free", "nvml-mem:0", "time:1000:1")
	g := find(t, out, "graph", 0)
	wantRC(t, g, 0)
	if ms := g.float(t, "ms"); ms < 4.5 {
		t.Fatalf("graph of 5 x 1 ms kernels synced after %.3f ms", ms)
	}
	if g.kv["dptr"] == "0x0" {
		t.Fatal("memory allocation node left dptr at 0")
	}
	if u := find(t, out, "nvml-mem", 0).int(t, "used"); u != 100*mib+64*mib {
		t.Fatalf("with the graph: used=%d", u)
	}
	if u := find(t, out, "nvml-mem", 1).int(t, "used"); u != 100*mib {
		t.Fatalf("after cuGraphDestroy: used=%d", u)
	}
}

func TestStateFixedByCreator(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_DEVICES=2", "SOFTMIG_SIM_MEMORY=81559m", "SOFTMIG_SIM_SMS=114", "SOFTMIG_SIM_NAME=NVIDIA H100 PCIe", "SOFTMIG_SIM_DRIVER_VERSION=12080")
	first := s.run("cuclient", nil, "init", "info:1")
	later := s.run("cuclient", []string{"SOFTMIG_SIM_DEVICES=4", "SOFTMIG_SIM_MEMORY=1g"}, "init", "info:1")
	for _, out := range [][]line{first, later} {
		in := find(t, out, "init", 0)
		if in.int(t, "count") != 2 || in.int(t, "version") != 12080 {
			t.Fatalf("init %v", in.kv)
		}
		info := find(t, out, "info", 0)
		if info.int(t, "total") != 81559*mib || info.int(t, "sms") != 114 || info.kv["name"] != "NVIDIA H100 PCIe" {
			t.Fatalf("info %v", info.kv)
		}
	}
}

func TestNVMLDeviceQueries(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_DEVICES=2")
	out := s.run("cuclient", nil, "init", "info:1", "nvml-all:1")
	l := find(t, out, "nvml-all", 0)
	want := map[string]string{
		"Index": "1", "MinorNumber": "1", "Architecture": "9", "FanSpeed": "err",
		"busId": "00000000:28:00.0", "driver": "580.159.04", "EnforcedPowerLimit": "700000",
	}
	for k, v := range want {
		if l.kv[k] != v {
			t.Errorf("%s=%q, want %q (%v)", k, l.kv[k], v, l.kv)
		}
	}
	if pci := find(t, out, "info", 0).kv["pci"]; !strings.EqualFold("0000"+pci, l.kv["busId"]) {
		t.Errorf("CUDA PCI bus id %s, NVML %s", pci, l.kv["busId"])
	}
}

func TestUtilisation(t *testing.T) {
	s := newSim(t)
	idle := s.run("cuclient", nil, "init", "retain", "nvml-util:0", "nvml-putil:0")
	if g := find(t, idle, "nvml-util", 0).int(t, "gpu"); g != 0 {
		t.Fatalf("idle device: gpu=%d", g)
	}
	wantRC(t, find(t, idle, "nvml-putil", 0), 6) // NVML_ERROR_NOT_FOUND: no samples
	// 1.3 s of back-to-back 1 ms kernels, then NVML looks at the last second.
	busy := s.run("cuclient", nil, "init", "retain", "pid", "launch:1000:1300", "sync", "nvml-util:0", "nvml-putil:0")
	pid := find(t, busy, "pid", 0).kv["pid"]
	// Near 100; the bound leaves room for a process descheduled after sync.
	if g := find(t, busy, "nvml-util", 0).int(t, "gpu"); g < 50 {
		t.Fatalf("after 1.3 s of back-to-back kernels: gpu=%d", g)
	}
	// One sample per bin (samples_test.go); the line keeps the last.
	pu := find(t, busy, "nvml-putil", 0)
	if pu.int(t, "n") < 1 || pu.int(t, "pid"+pid) < 50 {
		t.Fatalf("process utilisation %v, want pid %s near 100", pu.kv, pid)
	}
	// Another process that only holds a context shows no samples.
	other := s.run("cuclient", nil, "init", "retain", "pid", "nvml-putil:0")
	opid := find(t, other, "pid", 0).kv["pid"]
	if _, ok := find(t, other, "nvml-putil", 0).kv["pid"+opid]; ok {
		t.Fatalf("idle process %s has a utilisation sample", opid)
	}
}

// Processes that start together on a missing state file agree on one set
// of devices, and their allocations near the device limit never overshoot.
func TestConcurrentStart(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_MEMORY=4g", "SOFTMIG_SIM_CTX_MEMORY=100m")
	const n = 8
	outs := make(chan []line, n)
	for i := 0; i < n; i++ {
		go func() {
			c := s.cmd("cuclient", nil, "init", "retain", "alloc:64m:6", "hold")
			out, _ := c.Output() // stdin is /dev/null: hold returns at once
			outs <- parse(string(out))
		}()
	}
	var done int64
	for i := 0; i < n; i++ {
		out := <-outs
		wantRC(t, find(t, out, "init", 0), 0)
		wantRC(t, find(t, out, "retain", 0), 0)
		done += find(t, out, "alloc", 0).int(t, "done")
	}
	if done != n*6 {
		t.Fatalf("%d of %d allocations succeeded; 8 x (100m + 384m) fits in 4g", done, n*6)
	}
	// Now fill the device from 8 processes at once, all alive at the end:
	// the device ends full, never over.
	var ctxs int64
	done = 0
	for _, out := range s.startAll(n, "init", "retain", "alloc:100m:40") {
		if find(t, out, "retain", 0).int(t, "rc") == 0 {
			ctxs++
		}
		done += find(t, out, "alloc", 0).int(t, "done")
	}
	m := find(t, s.run("cuclient", nil, "nvml-mem:0"), "nvml-mem", 0)
	if used := m.int(t, "used"); used != (ctxs+done)*100*mib || used > 4*gib || m.int(t, "free") >= 100*mib {
		t.Fatalf("%d contexts and %d allocations of 100m: %v", ctxs, done, m.kv)
	}
}

// startAll starts n clients with the same commands at once, each holding at
// the end, and returns their lines once all hold (released at cleanup).
func (s *sim) startAll(n int, args ...string) [][]line {
	s.t.Helper()
	type proc struct {
		c  *exec.Cmd
		in io.WriteCloser
		sc *bufio.Scanner
	}
	procs := make([]proc, n)
	for i := range procs {
		c := s.cmd("cuclient", nil, append(args, "hold")...)
		in, err := c.StdinPipe()
		if err != nil {
			s.t.Fatal(err)
		}
		out, err := c.StdoutPipe()
		if err != nil {
			s.t.Fatal(err)
		}
		procs[i] = proc{c, in, bufio.NewScanner(out)}
	}
	for _, p := range procs {
		if err := p.c.Start(); err != nil {
			s.t.Fatal(err)
		}
		s.t.Cleanup(func() { p.in.Close(); p.c.Wait() })
	}
	var all [][]line
	for _, p := range procs {
		var text strings.Builder
		for p.sc.Scan() {
			text.WriteString(p.sc.Text() + "\n")
			if strings.HasPrefix(p.sc.Text(), "hold ") {
				break
			}
		}
		all = append(all, parse(text.String()))
	}
	return all
}
