// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Memory with no owner, beside another job whose processes hold the GPU's
// device files without being listed: a PyTorch DataLoader's workers,
// forked after CUDA started, hold them for as long as they live. The
// victim's job holds 2 GiB from a process that lives on; the attacker's
// parent takes 10 GiB, forks a child that keeps its driver files, and
// exits; another process of the attacker's job takes 10 GiB more under the
// library, which no longer counts the gone parent: 20 GiB on a 12 GiB
// slice. With two jobs' unlisted holders the memory went to nobody.
func TestOrphanMemoryBesideAnotherJobsHolders(t *testing.T) {
	for _, mode := range []string{"listed", "unlisted"} {
		t.Run(mode, func(t *testing.T) {
			n, g, v, worker, j := besideAWorker(t, mode)
			parent := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:10g", "forkhold:60")
			<-parent.exited
			child := childOf(t, parent)
			defer syscall.Kill(child, syscall.SIGKILL)
			c := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:10g", "ready", "hold")
			if c.ready.IsZero() {
				t.Fatalf("attacker: %q", c.lines)
			}
			c.diedWithin(t, 2*time.Second, "10 GiB beside 10 GiB a gone parent's child keeps, on a 12 GiB slice, beside another job's worker", g)
			deadline := time.Now().Add(3 * time.Second)
			for syscall.Kill(child, 0) == nil {
				if time.Now().After(deadline) {
					t.Fatalf("the child holding the gone parent's memory was not killed:\n%s", g.output())
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond)
			if !v.alive() || syscall.Kill(worker, 0) != nil {
				t.Errorf("the other job's process or its worker was killed:\n%s", g.output())
			}
		})
	}
}

// besideAWorker is a node in orphan mode (listed or unlisted) with its
// guard, a victim's job holding 2 GiB from a process whose worker, forked
// after CUDA started, holds its driver files (a DataLoader's), and the
// attacker's job, both of 12 GiB.
func besideAWorker(t *testing.T, mode string) (*node, *guardProc, *client, int, *sjob) {
	t.Parallel()
	n := newNode(t, "SOFTMIG_SIM_ORPHAN="+mode)
	victim := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	g := n.guard("--device-files", n.dir+"/*.fd/*")
	v := n.start(victim, true, nil, "cuclient", "init", "dev:0", "alloc:2g", "forkhold:60", "ready", "hold")
	worker := childOf(t, v)
	t.Cleanup(func() { syscall.Kill(worker, syscall.SIGKILL) })
	return n, g, v, worker, j
}

// childOf is the child= a client's forkhold printed.
func childOf(t *testing.T, c *client) int {
	t.Helper()
	for _, l := range c.lines {
		if i := strings.Index(l, "child="); i >= 0 {
			var pid int
			if _, err := fmt.Sscanf(l[i+len("child="):], "%d", &pid); err != nil {
				return 0
			}
			return pid
		}
	}
	t.Fatalf("no child in %q", c.lines)
	return 0
}

// The same, with the attacker's child holding its gone parent's driver
// files only above fd 5000: the guard's scan of /proc/<pid>/fd read 4096
// entries a process, missed it, and charged the orphaned 10 GiB to the one
// job it did find holding the GPU open, the victim's: 2 GiB of its 12 GiB
// slice in use, killed.
func TestOrphanMemoryHiddenBehindFiles(t *testing.T) {
	for _, mode := range []string{"listed", "unlisted"} {
		t.Run(mode, func(t *testing.T) {
			n, g, v, worker, j := besideAWorker(t, mode)
			argv := []string{"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
				n.shared.Path("build/test/dl_attack"), "hide", fmt.Sprint(10 << 30)}
			parent := n.startArgv(j, []string{"LD_PRELOAD=" + n.lib()}, argv)
			<-parent.exited
			child := childOf(t, parent)
			defer syscall.Kill(child, syscall.SIGKILL)
			c := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:10g", "ready", "hold")
			if c.ready.IsZero() {
				t.Fatalf("attacker: %q", c.lines)
			}
			time.Sleep(2 * time.Second)
			if !v.alive() || syscall.Kill(worker, 0) != nil {
				t.Errorf("the victim's process or its worker was killed for the attacker's orphaned memory:\n%s", g.output())
			}
			if c.alive() {
				t.Logf("the attacker's 10 GiB beside its hidden orphan was not killed: charged to nobody\n%s", g.output())
			}
		})
	}
}
