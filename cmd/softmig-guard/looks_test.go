// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The memory rule has no blind spot to time and no work a user can
// inflate (issue 19): a pulse timed to the guard's own looks, a pulse of
// any duty cycle, and an over-slice job beside processes with huge
// mappings are all killed within the bounds below, on a loaded machine.

// attack runs test/cprog/dl_attack as nobody in job j with the library
// preloaded (so that the guard's mappings check sees nothing wrong).
func (n *node) attack(j *sjob, args ...string) *client {
	n.t.Helper()
	argv := append([]string{"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		n.shared.Path("build/test/dl_attack")}, args...)
	c := n.startArgv(j, []string{"LD_PRELOAD=" + n.lib()}, argv)
	if c.ready.IsZero() {
		n.t.Fatalf("dl_attack %v did not start: %q", args, c.lines)
	}
	return c
}

// diedWithin waits for c to die of SIGKILL within d of its "ready".
func (c *client) diedWithin(t *testing.T, d time.Duration, what string, g *guardProc) time.Duration {
	t.Helper()
	select {
	case <-c.exited:
	case <-time.After(time.Until(c.ready.Add(d))):
		t.Fatalf("%s: still alive %s after it started:\n%s", what, d, g.output())
	}
	took := c.exitAt.Sub(c.ready)
	t.Logf("%s: killed %s after it started", what, took.Round(time.Millisecond))
	return took
}

const gib30 = 30 << 30

// Pulses of 30 GiB on a 12 GiB slice, each begun the moment one of the
// guard's threads has run (its schedstat is world-readable) and ended 15 ms
// later: with looks at fixed intervals they were never seen.
func TestAttackPulsesPhaseLockedToLooks(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	g := n.guard()
	c := n.attack(j, "lock", strconv.Itoa(g.cmd.Process.Pid), fmt.Sprint(gib30), "15", "10")
	c.diedWithin(t, time.Second, "pulses timed to the guard's looks", g)
	wantKillEvent(t, g, j, c.pid(), reasonOver)
}

// Pulses of twice the slice at a 10 % duty cycle: 10 ms every 100 ms.
func TestAttackPulsesAtTenPercent(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	g := n.guard()
	c := n.attack(j, "pulse", fmt.Sprint(24<<30), "10", "90", "10")
	c.diedWithin(t, 2*time.Second, "pulses of 24 GiB, 10 ms in 100", g)
	wantKillEvent(t, g, j, c.pid(), reasonOver)
}

// A steady hold over the slice by a process around the library.
func TestSteadyHoldAroundTheLibrary(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	g := n.guard()
	c := n.attack(j, "hold", fmt.Sprint(14<<30))
	c.diedWithin(t, 500*time.Millisecond, "14 GiB held on a 12 GiB slice", g)
	wantKillEvent(t, g, j, c.pid(), reasonOver)
}

// Processes of the job with 65 000 mappings each (of a file with a long
// path, or anonymous) do not slow the memory rule: another process of the
// job 2 GiB over the slice is killed within a second, and the guard stays
// under 5 % of a core meanwhile. The flooding processes themselves cannot
// be judged within the guard's budget: they count as escapes.
func TestMapsFloodLongPaths(t *testing.T) { mapsFlood(t, 4, "3000") }

func TestMapsFloodAnonymous(t *testing.T) {
	if testing.Short() {
		t.Skip("60 processes of 65 000 mappings")
	}
	mapsFlood(t, 60, "anon")
}

func mapsFlood(t *testing.T, procs int, kind string) {
	n := newNode(t, "SOFTMIG_SIM_CTX_MEMORY=1m")
	j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	g := n.guard()
	var flood []*client
	for i := 0; i < procs; i++ {
		flood = append(flood, n.attack(j, "maps", "65000", kind))
	}
	cpu0, t0 := procCPU(t, g.cmd.Process.Pid), time.Now()
	over := n.attack(j, "hold", fmt.Sprint(14<<30))
	over.diedWithin(t, time.Second, fmt.Sprintf("14 GiB on a 12 GiB slice beside %d processes of 65 000 %s mappings", procs, kind), g)
	// The guard's cost while the flood stays.
	time.Sleep(2 * time.Second)
	cpu := procCPU(t, g.cmd.Process.Pid) - cpu0
	share := cpu.Seconds() / time.Since(t0).Seconds()
	t.Logf("guard CPU while flooded: %s in %s (%.1f %% of a core)", cpu, time.Since(t0).Round(time.Millisecond), 100*share)
	// The 5 % holds alone on the machine (make bench runs this
	// test with SOFTMIG_TIME_STRICT=1); beside make test's other packages
	// a flooded guard's CPU share wanders around it (4.1-5.4 % seen), so
	// there the bound only tells a budget that works from none (a round
	// per mapping read took a whole core before).
	limit := 0.15
	if strict {
		limit = 0.05
	}
	if share > limit {
		t.Errorf("guard used %.1f %% of a core while flooded; want at most %.0f %%:\n%s", 100*share, 100*limit, g.output())
	}
	// The flooding processes are the job's too: killed with it, or as
	// escapes (mappings too large to judge), within the grace period.
	for _, c := range flood {
		select {
		case <-c.exited:
		case <-time.After(3 * time.Second):
			t.Errorf("a process with 65 000 mappings survived its job's kill and the escape check:\n%s", g.output())
		}
	}
}

// procCPU is the user and system time of pid so far.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// Memory of a process that is gone, kept by a child that inherited its
// driver files (a fork after CUDA started), is the job's: a parent takes
// 10 GiB of a 12 GiB slice, forks a child that only holds the files, and
// exits; another process of the job, under the library (which no longer
// counts the parent), takes 4 GiB. The job holds 14 GiB: its processes on
// the GPU are killed, the child with them, and the memory comes back. The
// driver may list the gone pid with its memory, or list nothing for it.
// The child's main thread may have left while another thread keeps the
// files: its /proc/<pid>/fd is then the leader's, empty, and the files
// are read through the live thread.
func TestOrphanMemoryChargedToTheJob(t *testing.T) {
	for _, c := range []struct{ name, mode, hold string }{
		{"listed", "listed", "forkhold:60"},
		{"unlisted", "unlisted", "forkhold:60"},
		{"child_leader_left", "listed", "forkholdleft:60"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			n := newNode(t, "SOFTMIG_SIM_ORPHAN="+c.mode)
			j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
			g := n.guard("--device-files", n.dir+"/*.fd/*")
			parent := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:10g", c.hold)
			<-parent.exited
			child := 0
			for _, l := range parent.lines {
				if _, v, ok := strings.Cut(l, "child="); ok {
					if _, err := fmt.Sscanf(v, "%d", &child); err != nil {
						t.Fatalf("parent: %q: %v", l, err)
					}
				}
			}
			if child == 0 {
				t.Fatalf("parent: %q", parent.lines)
			}
			defer syscall.Kill(child, syscall.SIGKILL)
			time.Sleep(300 * time.Millisecond)
			if used := n.deviceUsed(0); used < 10<<30 {
				t.Fatalf("after the parent left, the GPU holds %d MiB: the simulator dropped the memory its child keeps", used>>20)
			}
			c := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:4g", "ready", "hold")
			c.diedWithin(t, time.Second, "4 GiB beside 10 GiB a gone parent's child keeps, on a 12 GiB slice", g)
			deadline := time.Now().Add(3 * time.Second)
			for syscall.Kill(child, 0) == nil {
				if time.Now().After(deadline) {
					t.Fatalf("the child holding the gone parent's memory was not killed:\n%s", g.output())
				}
				time.Sleep(20 * time.Millisecond)
			}
			for n.deviceUsed(0) > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the GPU still holds %d MiB after the kill", n.deviceUsed(0)>>20)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
