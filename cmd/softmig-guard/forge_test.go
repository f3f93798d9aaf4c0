// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
)

// attacker is a second user of the node, with no job of its own.
const attacker = 4242

// A user with a cgroup subtree of their own (systemd delegates
// user@<uid>.service to its user, on v1's name=systemd hierarchy and on v2)
// makes a Slurm-shaped slurm_x/uid_<uid>/job_<victim> there, moves a GPU
// process into it and takes 8 GiB: the victim's job, 8 GiB of its 12 GiB
// slice in use, must not be charged for it, and none of its processes
// killed.
func TestAttackForgedJobCgroup(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	victim := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	// The delegated subtree, as systemd hands it over: a directory of the
	// job cgroups' hierarchy owned by the user, the user's shell in it.
	base := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(victim.procs))))
	deleg := filepath.Join(base, fmt.Sprintf("user_smdeleg_%d", rand.Intn(1e9)))
	if err := os.Mkdir(deleg, 0o755); err != nil {
		t.Skipf("cannot make a delegated cgroup: %v", err)
	}
	forged := filepath.Join(deleg, "slurm_x", fmt.Sprintf("uid_%d", attacker), "job_"+victim.id)
	t.Cleanup(func() {
		for d := forged; d != base; d = filepath.Dir(d) {
			for i := 0; i < 50 && os.Remove(d) != nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	for _, f := range []string{"", "cgroup.procs", "tasks"} {
		if err := os.Chown(filepath.Join(deleg, f), attacker, attacker); err != nil && f != "tasks" {
			t.Fatal(err)
		}
	}
	g := n.guard()
	v := n.start(victim, true, nil, "cuclient", "init", "dev:0", "alloc:8g", "ready", "hold")
	// As the attacker: into the delegated cgroup (root's move, as systemd
	// starts the user's manager there), then, unprivileged, into the forged job.
	script := `echo $$ > "$0/cgroup.procs" && exec setpriv --reuid=$1 --regid=$1 --clear-groups /bin/sh -c ` +
		`'mkdir -p "$0" && echo $$ > "$0/cgroup.procs" && exec "$@"' "$2" "${@:3}"`
	a := n.startArgv(nil, nil, []string{"/bin/bash", "-c", script, deleg, fmt.Sprint(attacker), forged,
		n.shared.Path("build/test/cuclient"), "init", "dev:0", "alloc:8g", "ready", "hold"})
	if !a.alive() {
		t.Fatalf("attacker did not start: %q", a.lines)
	}
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", a.pid()))
	t.Logf("attacker pid %d cgroup:\n%s", a.pid(), cg)
	time.Sleep(killLimit + 500*time.Millisecond)
	if !v.alive() {
		t.Fatalf("the victim's process was killed for the attacker's memory (forged job_%s cgroup):\nguard:\n%s", victim.id, g.output())
	}
}

// In a user and mount namespace of their own, a user binds a do-nothing
// file over the library's path and preloads it: /proc/<pid>/maps, as root
// reads it, shows the library's path, with the other file's inode. The
// process uses the GPU without the library, well inside the slice: an
// escape all the same (its kernels run unthrottled, nothing in it counts).
func TestEscapeFakeLibraryAtItsPath(t *testing.T) {
	t.Parallel()
	if err := exec.Command("unshare", "-U", "-m", "-r", "true").Run(); err != nil {
		t.Skipf("unprivileged user and mount namespaces not available: %v", err)
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build the look-alike library")
	}
	n := newNode(t)
	fake := filepath.Join(n.dir, "fake.so")
	src := filepath.Join(n.dir, "fake.c")
	testutil.Must(t, os.WriteFile(src, []byte("int softmig_fake;\n"), 0o644))
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", fake, src).CombinedOutput(); err != nil {
		t.Fatalf("look-alike library: %v\n%s", err, out)
	}
	j := n.job(slicedConf)
	g := n.guard()
	argv := []string{"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		"unshare", "-U", "-m", "-r", "/bin/sh", "-c", `mount --bind "$0" "$1" && LD_PRELOAD="$1" exec "$2" init dev:0 alloc:1g ready hold`,
		fake, n.lib(), n.shared.Path("build/test/cuclient")}
	c := n.startArgv(j, nil, argv)
	if c.ready.IsZero() {
		t.Fatalf("attacker did not start: %q", c.lines)
	}
	took := c.killedWithin(t, 3*time.Second)
	t.Logf("look-alike at the library's path: killed %s after it was ready", took.Round(time.Millisecond))
	wantKillEvent(t, g, j, c.pid(), reasonEscape)
}

// On cgroup v1, a user moves their own job's GPU process, in a hierarchy
// delegated to them (name=systemd, user@<uid>.service), into a
// slurm_x/uid_<uid>/job_<none> they made there: that line now names a job
// without a config, before the line of the job the process really is in.
// It takes 13 GiB of its 12 GiB slice without the library: it is still
// its job's, and killed.
func TestAttackJobProcessForgesAnotherJob(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	deleg := filepath.Join("/sys/fs/cgroup/systemd", fmt.Sprintf("user_smdeleg_%d", rand.Intn(1e9)))
	if err := os.Mkdir(deleg, 0o755); err != nil {
		t.Skipf("no name=systemd hierarchy to delegate a subtree of: %v", err)
	}
	forged := filepath.Join(deleg, "slurm_x", fmt.Sprintf("uid_%d", nobody), "job_1")
	t.Cleanup(func() {
		for d := forged; d != "/sys/fs/cgroup/systemd"; d = filepath.Dir(d) {
			for i := 0; i < 50 && os.Remove(d) != nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	for _, f := range []string{"", "cgroup.procs", "tasks"} {
		if err := os.Chown(filepath.Join(deleg, f), nobody, nobody); err != nil && f != "tasks" {
			t.Fatal(err)
		}
	}
	n.guard()
	script := `echo $$ > "$0/cgroup.procs" && exec setpriv --reuid=$1 --regid=$1 --clear-groups /bin/sh -c ` +
		`'mkdir -p "$0" && echo $$ > "$0/cgroup.procs" && exec "$@"' "$2" "${@:3}"`
	c := n.startArgv(j, nil, []string{"/bin/bash", "-c", script, deleg, fmt.Sprint(nobody), forged,
		n.shared.Path("build/test/cuclient"), "init", "dev:0", "alloc:13g", "ready", "hold"})
	if c.ready.IsZero() {
		t.Fatalf("attacker did not start: %q", c.lines)
	}
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.pid()))
	t.Logf("pid %d cgroup:\n%s", c.pid(), cg)
	took := c.killedWithin(t, 3*time.Second)
	t.Logf("job process in a forged job_1 elsewhere: killed %s after crossing", took.Round(time.Millisecond))
}

// Another user's process names the victim's job in SLURM_JOB_ID: the
// library must not open (create) the victim's job log for it, or the
// victim's own processes, the guard and softmig-log would find a log of
// the attacker's in its place.
func TestAttackOtherJobsLogThroughSlurmJobID(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	victim := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	logPath := filepath.Join(defs.LogDir(), victim.id+".log")
	// As sites that let users create their jobs' logs leave it (softmig-install
	// makes it root's, 0755), for the length of the test: the directory is
	// the node's, and other tests beside this one judge its mode.
	fi, err := os.Stat(defs.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(defs.LogDir(), os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Chmod(defs.LogDir(), fi.Mode()&(os.ModePerm|os.ModeSticky)); err != nil {
			t.Error(err)
		}
		os.Remove(logPath)
	})
	argv := []string{"setpriv", fmt.Sprintf("--reuid=%d", attacker), fmt.Sprintf("--regid=%d", attacker), "--clear-groups",
		n.shared.Path("build/test/cuclient"), "init", "dev:0", "alloc:1g", "ready"}
	a := n.startArgv(nil, []string{"LD_PRELOAD=" + n.lib(), "SLURM_JOB_ID=" + victim.id, "SOFTMIG_LOG_FILE="}, argv)
	a.stop()
	var st syscall.Stat_t
	if err := syscall.Stat(logPath, &st); err == nil && st.Uid == attacker {
		t.Fatalf("%s was created by uid %d's process, outside the job (SLURM_JOB_ID=%s): the job's own processes cannot log there", logPath, attacker, victim.id)
	}
	v := n.start(victim, true, []string{"SOFTMIG_LOG_FILE="}, "cuclient", "init", "dev:0", "alloc:1g", "ready")
	v.stop()
	if log := victim.guardLog(t); !strings.Contains(log, "process start") {
		t.Errorf("the victim's process did not log its start to %s: %q (attacker said %q, victim %q)", logPath, log, a.lines, v.lines)
	}
}

// A user with a sliced job on the node runs a GPU process outside any job
// cgroup (systemd-run --user, an ssh session pam_slurm_adopt did not
// adopt), without the library, which would fail it closed: it is held to
// its user's job all the same.
func TestAttackOutsideTheJobCgroup(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	const user = 4343 // a user of its own: other tests' jobs are nobody's
	j := n.job(slicedConf + fmt.Sprintf("SOFTMIG_UID=%d\n", user))
	g := n.guard()
	c := n.startArgv(nil, nil, []string{"setpriv", fmt.Sprintf("--reuid=%d", user), fmt.Sprintf("--regid=%d", user), "--clear-groups",
		n.shared.Path("build/test/cuclient"), "init", "dev:0", "alloc:13g", "ready", "hold"})
	took := c.killedWithin(t, 3*time.Second)
	t.Logf("outside the job cgroup: killed %s after crossing", took.Round(time.Millisecond))
	wantKillEvent(t, g, j, c.pid(), reasonEscape, reasonOver)
}

// A process names itself (prctl PR_SET_NAME) with a newline and a Uid line
// of root's, and a ')' for /proc/<pid>/stat: the guard still reads its own
// uid and start time (the kernel escapes the name in status).
func TestAttackProcessNameLooksLikeRoot(t *testing.T) {
	t.Parallel()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	n := newNode(t)
	bin := filepath.Join(n.dir, "rename")
	testutil.Must(t, os.WriteFile(bin+".c", []byte(`#include <stdio.h>
#include <sys/prctl.h>
int main(void) { prctl(PR_SET_NAME, "x\nUid:\t0\t0) S 1", 0, 0, 0); puts("ready"); fflush(stdout); getchar(); return 0; }
`), 0o644))
	if out, err := exec.Command(cc, "-o", bin, bin+".c").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := n.startArgv(nil, nil, []string{"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups", bin})
	f, err := readFacts("/proc", c.pid())
	if err != nil {
		t.Fatal(err)
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.pid()))
	if f.uid != nobody || f.root || f.start == "" || f.start == "1" {
		t.Fatalf("readFacts of a process named like root = %+v (stat %q); want uid %d, not root", f, stat, nobody)
	}
}

// A user with a sliced job here moves a GPU process, in a subtree
// delegated to them, into a job_1 of their making (no such job, no
// config): without the library (which fails it closed) it is held to its
// user's jobs, as a process outside any job is.
func TestAttackFakeJobWithoutConfig(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	const user = 4545 // a user of its own: other tests' jobs are nobody's
	j := n.job(slicedConf + fmt.Sprintf("SOFTMIG_UID=%d\n", user))
	base := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(j.procs))))
	deleg := filepath.Join(base, fmt.Sprintf("user_smdeleg_%d", rand.Intn(1e9)))
	if err := os.Mkdir(deleg, 0o755); err != nil {
		t.Skipf("cannot make a delegated cgroup: %v", err)
	}
	forged := filepath.Join(deleg, "slurm_x", fmt.Sprintf("uid_%d", user), "job_1")
	t.Cleanup(func() {
		for d := forged; d != base; d = filepath.Dir(d) {
			for i := 0; i < 50 && os.Remove(d) != nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	for _, f := range []string{"", "cgroup.procs", "tasks"} {
		if err := os.Chown(filepath.Join(deleg, f), user, user); err != nil && f != "tasks" {
			t.Fatal(err)
		}
	}
	g := n.guard()
	script := `echo $$ > "$0/cgroup.procs" && exec setpriv --reuid=$1 --regid=$1 --clear-groups /bin/sh -c ` +
		`'mkdir -p "$0" && echo $$ > "$0/cgroup.procs" && exec "$@"' "$2" "${@:3}"`
	c := n.startArgv(nil, nil, []string{"/bin/bash", "-c", script, deleg, fmt.Sprint(user), forged,
		n.shared.Path("build/test/cuclient"), "init", "dev:0", "alloc:13g", "ready", "hold"})
	if c.ready.IsZero() {
		t.Fatalf("client did not start: %q", c.lines)
	}
	took := c.killedWithin(t, 3*time.Second)
	t.Logf("in a made-up job_1: killed %s after crossing", took.Round(time.Millisecond))
	wantKillEvent(t, g, j, c.pid(), reasonEscape, reasonOver)
}

// On a node without job cgroups the library finds a job in SLURM_JOB_ID.
// A user with two sliced jobs there runs one process for each, 8 GiB of
// each 12 GiB slice, under the library: neither is charged to the other
// job, nothing is killed.
func TestOutsideProcessesOfTwoJobsUntouched(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	const user = 4646 // a user of its own: other tests' jobs are nobody's
	conf := slicedConf + fmt.Sprintf("SOFTMIG_UID=%d\n", user)
	j1, j2 := n.job(conf), n.job(conf)
	g := n.guard()
	var cs []*client
	for _, j := range []*sjob{j1, j2} {
		if err := os.Chown(filepath.Join(defs.RunDir(), j.id+".region"), user, user); err != nil {
			t.Fatal(err)
		}
		c := n.startArgv(nil, []string{"LD_PRELOAD=" + n.lib(), "SLURM_JOB_ID=" + j.id}, []string{"setpriv",
			fmt.Sprintf("--reuid=%d", user), fmt.Sprintf("--regid=%d", user), "--clear-groups",
			n.shared.Path("build/test/cuclient"), "init", "dev:0", "alloc:8g", "ready", "hold"})
		if res := testutil.ClientResults(c.lines); c.ready.IsZero() || len(res) < 3 || res[2] != "alloc rc=0" {
			t.Fatalf("job %s client: %q", j.id, c.lines)
		}
		cs = append(cs, c)
	}
	time.Sleep(killLimit + 500*time.Millisecond)
	for i, c := range cs {
		if !c.alive() {
			t.Errorf("job %d's process (8 GiB of its 12 GiB slice) was killed:\n%s", i+1, g.output())
		}
	}
}
