// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// On cgroup v1 a user moves their own processes about in the hierarchy
// systemd delegates to them (name=systemd, user@<uid>.service). A helper
// of the job's user moves a process of the job, 2 GiB over its slice
// around the library, from one job_<n> it makes there to the next, without
// end: the process's cgroup lines change every few microseconds, and a
// kill that wanted them as they were when judged was never sent (14 GiB
// held on a 12 GiB slice, nothing logged). The process is still the one
// judged (its pidfd, start time and owner) and still in its job: killed.
func TestAttackFlipCgroupsToDodgeTheKill(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	if _, err := os.Stat("/sys/fs/cgroup/systemd/cgroup.procs"); err != nil {
		t.Skip("no name=systemd hierarchy to delegate a subtree of")
	}
	deleg := delegated(t, "/sys/fs/cgroup/systemd", nobody)
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler for the mover")
	}
	mover := filepath.Join(n.dir, "mover")
	if err := os.WriteFile(mover+".c", []byte(`#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* mover DIR PID UID: PID from one DIR/slurm_x/uid_UID/job_<n> to the next, while it lives. */
int main(int argc, char **argv)
{
	char d[4096], prev[4096] = "", f[4200];
	if (argc != 4)
		return 2;
	snprintf(d, sizeof d, "%s/slurm_x", argv[1]);
	mkdir(d, 0755);
	snprintf(d, sizeof d, "%s/slurm_x/uid_%s", argv[1], argv[3]);
	mkdir(d, 0755);
	for (long i = 1; kill(atoi(argv[2]), 0) == 0; i++) {
		snprintf(d, sizeof d, "%s/slurm_x/uid_%s/job_%ld", argv[1], argv[3], i);
		snprintf(f, sizeof f, "%s/cgroup.procs", d);
		mkdir(d, 0755);
		int fd = open(f, O_WRONLY);
		if (fd >= 0) {
			write(fd, argv[2], strlen(argv[2]));
			close(fd);
		}
		if (prev[0])
			rmdir(prev);
		strcpy(prev, d);
	}
	return 0;
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-include", "stdlib.h", "-o", mover, mover+".c").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The process over its slice is moving before the guard first looks.
	c := n.attack(j, "hold", fmt.Sprint(14<<30))
	move := exec.Command("setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		mover, deleg, fmt.Sprint(c.pid()), fmt.Sprint(nobody))
	if err := move.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { move.Process.Kill(); move.Wait() })
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	g := n.guard()
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.pid()))
	t.Logf("pid %d cgroup:\n%s", c.pid(), cg)
	select {
	case <-c.exited:
		t.Logf("14 GiB on a 12 GiB slice, moved from cgroup to cgroup: killed %s after the guard started", c.exitAt.Sub(start).Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		t.Fatalf("14 GiB on a 12 GiB slice, moved from cgroup to cgroup: alive 3 s after the guard started:\n%s", g.output())
	}
	wantKillEvent(t, g, j, c.pid(), reasonOver)
}
