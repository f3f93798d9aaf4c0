package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	v := n.start(victim, true, nil, "cuclient", "dev", "0", "alloc", "8g", "ready", "hold")
	// As the attacker: into the delegated cgroup (root's move, as systemd
	// starts the user's manager there), then, unprivileged, into the forged job.
	script := `echo $$ > "$0/cgroup.procs" && exec setpriv --reuid=$1 --regid=$1 --clear-groups /bin/sh -c ` +
		`'mkdir -p "$0" && echo $$ > "$0/cgroup.procs" && exec "$@"' "$2" "${@:3}"`
	a := n.startArgv(nil, nil, []string{"/bin/bash", "-c", script, deleg, fmt.Sprint(attacker), forged,
		testutil.Path(t, "build/test/cuclient"), "dev", "0", "alloc", "8g", "ready", "hold"})
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
