// SPDX-License-Identifier: Apache-2.0

package simtest

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

// startIn starts a holder under a command that puts it in a new PID
// namespace (unshare ... -f, whose child is the client) and returns it
// with its pid as the host sees it.
func (s *sim) startIn(ns []string, args ...string) (*holder, int) {
	s.t.Helper()
	h := s.startWrapped(ns, args...)
	return h, testutil.OnlyChild(s.t, h.cmd.Process.Pid)
}

func needUnshare(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root: makes PID namespaces with unshare -p")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) not installed")
	}
}

// The driver reports a process by its pid in the initial PID namespace,
// wherever it runs: so does the simulator, for a process in its own PID
// namespace with its own /proc (Apptainer's --pid, --containall) and for
// one that still sees the host's /proc (unshare -p -f alone).
func TestHostPids(t *testing.T) {
	needUnshare(t)
	s := newSim(t, "SOFTMIG_SIM_MEMORY=8g", "SOFTMIG_SIM_CTX_MEMORY=300m")
	own, ownPid := s.startIn([]string{"unshare", "-p", "-f", "--mount-proc"},
		"init", "retain", "alloc:1g", "launch:2000:200", "pid")
	if p := find(t, own.lines, "pid", 0).int(t, "pid"); p != 1 {
		t.Fatalf("the client in its own namespace is pid %d there, want 1", p)
	}
	hostProc, hostPid := s.startIn([]string{"unshare", "-p", "-f"}, "init", "retain", "alloc:2g")

	// A reader in a third namespace sees none of them in its /proc: it
	// must neither drop their memory nor show their namespace pids.
	other := s.runWrapped([]string{"unshare", "-p", "-f", "--mount-proc"}, "init", "nvml-mem:0", "nvml-procs:0")
	if u := find(t, other, "nvml-mem", 0).int(t, "used"); u != 3*gib+600*mib {
		t.Fatalf("from another PID namespace: used=%d, want both processes' %d", u, 3*gib+600*mib)
	}
	if _, ok := find(t, other, "nvml-procs", 0).kv["pid1"]; ok {
		t.Fatalf("another namespace was shown a namespace pid: %v", find(t, other, "nvml-procs", 0).kv)
	}

	host := s.run("cuclient", nil, "init", "nvml-procs:0", "sleep:60", "nvml-putil:0") // a 20 ms bin must end first
	procs := find(t, host, "nvml-procs", 0)
	if procs.int(t, "n") != 2 || procs.int(t, "pid"+strconv.Itoa(ownPid)) != gib+300*mib ||
		procs.int(t, "pid"+strconv.Itoa(hostPid)) != 2*gib+300*mib {
		t.Fatalf("nvml-procs from the host %v, want pid%d (own /proc) and pid%d (host /proc)", procs.kv, ownPid, hostPid)
	}
	// Kernels queued before anyone knew its host pid are its too.
	if pu := find(t, host, "nvml-putil", 0); pu.int(t, "pid"+strconv.Itoa(ownPid)) == 0 {
		t.Fatalf("nvml-putil from the host %v, want a sample of pid%d", pu.kv, ownPid)
	}
	// And the process itself, asking NVML, is told its host pid.
	inside := s.runWrapped([]string{"nsenter", "-t", strconv.Itoa(ownPid), "-p", "-m", "--"}, "init", "nvml-procs:0")
	if _, ok := find(t, inside, "nvml-procs", 0).kv["pid"+strconv.Itoa(ownPid)]; !ok {
		t.Fatalf("inside the namespace: %v, want the host pid %d as the driver reports it", find(t, inside, "nvml-procs", 0).kv, ownPid)
	}

	own.release(t)
	hostProc.release(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		after := s.run("cuclient", nil, "init", "nvml-mem:0")
		if u := find(t, after, "nvml-mem", 0).int(t, "used"); u == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("both exited: used=%d, want 0", u)
		}
		time.Sleep(50 * time.Millisecond) // unshare reaps its child
	}
}

func (s *sim) runWrapped(wrap []string, args ...string) []line {
	s.t.Helper()
	c := s.wrapped(wrap, args...)
	out, err := c.Output()
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ee.ExitCode() > 1) {
		s.t.Fatalf("%v %v: %v\n%s", wrap, args, err, out)
	}
	return parse(string(out))
}

func (s *sim) wrapped(wrap []string, args ...string) *exec.Cmd {
	c := s.cmd("cuclient", nil, args...)
	c.Args = append(append([]string{}, wrap...), c.Args...)
	c.Path, _ = exec.LookPath(wrap[0])
	return c
}
