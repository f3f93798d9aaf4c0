// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

// inPidNS runs prog as nobody in a PID namespace of its own with its own
// /proc (as Apptainer's --pid and --containall do), in job j's cgroup, the
// library preloaded if preload.
func (n *node) inPidNS(j *sjob, preload bool, prog string, args ...string) *client {
	n.t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		n.t.Skip("unshare (util-linux) not installed")
	}
	var env []string
	if preload {
		env = []string{"LD_PRELOAD=" + n.lib()}
	}
	argv := append([]string{"unshare", "-p", "-f", "--mount-proc", "setpriv", fmt.Sprintf("--reuid=%d", nobody),
		fmt.Sprintf("--regid=%d", nobody), "--clear-groups", n.shared.Path("build/test/" + prog)}, args...)
	return n.startArgv(j, env, argv)
}

// nsChild is the host pid of the program unshare -f started: the one the
// driver reports.
func (c *client) nsChild(t *testing.T) int { return testutil.OnlyChild(t, c.pid()) }

// A process of a job in its own PID namespace is held to the job's slice
// together with the job's other processes, both ways round, and the guard
// (which sees it by its host pid, in the job's cgroup) leaves them alone.
func TestPidNamespaceHeldToSlice(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job(slicedConf)
	g := n.guard()
	host := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:8g", "ready", "hold")
	// 8g + 300m on the host, 300m here: 5g does not fit in 12g, 3g does.
	ns := n.inPidNS(j, true, "cuclient", "init", "dev:0", "pid", "alloc:5g", "alloc:3g", "ready", "hold")
	want := []string{"init rc=0", "dev rc=0", "pid rc=0", "alloc rc=2", "alloc rc=0"}
	if got := testutil.ClientResults(ns.lines); strings.Join(got, "|") != strings.Join(want, "|") ||
		ns.lines[2] != "pid rc=0 pid=1" {
		t.Fatalf("in its own PID namespace: %q; want %q (pid 1 there, 5 GiB refused, 3 GiB given)", ns.lines, want)
	}
	// 8.3g + 3.3g held: a third process on the host gets no 1g.
	late := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:1g", "alloc:64m", "ready", "hold")
	if got := testutil.ClientResults(late.lines); len(got) != 4 || got[2] != "alloc rc=2" || got[3] != "alloc rc=0" {
		t.Fatalf("a host process after the namespace one: %q; want 1 GiB refused, 64 MiB given", late.lines)
	}
	if used := n.nvmlUsed(0, host.pid(), ns.nsChild(t), late.pid()); used > 12<<30 {
		t.Fatalf("the job holds %d bytes, slice 12 GiB", used)
	}
	time.Sleep(time.Second)
	for _, c := range []*client{host, ns, late} {
		if !c.alive() {
			t.Fatalf("pid %d of a job within its slice was killed:\n%s\nguard:\n%s", c.pid(), j.guardLog(t), g.output())
		}
	}
	// Killed, the namespace's process leaves its 3.3g to the job: the host
	// finds it gone though its entry names it by its pid in there.
	if err := syscall.Kill(ns.nsChild(t), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-ns.exited
	again := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:3g", "ready", "hold")
	if got := testutil.ClientResults(again.lines); len(got) != 3 || got[2] != "alloc rc=0" {
		t.Fatalf("after the namespace's process was killed: %q; want its 3 GiB given again", again.lines)
	}
}

// A process in its own PID namespace that runs the driver without the
// library is charged to its job (the guard finds it by the host pid NVML
// reports, in the job's cgroup) and killed as an escape.
func TestPidNamespaceEscape(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job(slicedConf)
	g := n.guard()
	c := n.inPidNS(j, false, "cuclient", "init", "dev:0", "alloc:13g", "ready", "hold")
	pid := c.nsChild(t)
	// unshare outlives its child: the kill event names the child.
	select {
	case <-c.exited:
	case <-time.After(3 * time.Second):
		t.Fatalf("pid %d still alive 3 s after crossing its slice:\n%s", pid, g.output())
	}
	took := c.exitAt.Sub(c.ready)
	t.Logf("own PID namespace, no library: killed %s after crossing the slice", took.Round(time.Millisecond))
	if took > killLimit {
		t.Errorf("killed %s after crossing; want within %s", took, killLimit)
	}
	wantKillEvent(t, g, j, pid, reasonEscape)
}

// ACTIVE_OOM_KILLER in a PID namespace of its own: NVML's pids are the
// host's, which kill() there would take for others, so the refused
// process kills only itself, and the job's host process lives.
func TestPidNamespaceOOMKiller(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job(slicedConf + "ACTIVE_OOM_KILLER=1\n")
	host := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:8g", "ready", "hold")
	ns := n.inPidNS(j, true, "cuclient", "init", "dev:0", "alloc:5g", "ready", "hold")
	select {
	case <-ns.exited:
	case <-time.After(5 * time.Second):
		b, _ := os.ReadFile(n.dir + "/lib.log")
		t.Fatalf("the refused process in its own PID namespace is alive: %q\n%s\n%s", ns.lines, b, j.guardLog(t))
	}
	if got := testutil.ClientResults(ns.lines); len(got) != 2 {
		t.Fatalf("in its own PID namespace: %q; want it killed at its refused allocation", ns.lines)
	}
	time.Sleep(200 * time.Millisecond)
	if !host.alive() {
		t.Fatal("the job's host process was killed from inside the namespace")
	}
}
