// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A user with a 25 % job runs, outside the job cgroup (an ssh session
// pam_slurm_adopt did not adopt, systemd-run --user), one short process
// after another, each launching around the library for 40 ms and gone
// before the authority reads the samples of its last bins.
//
// Beside a neighbour that synchronises every 4 launches.
func TestTimeShortProcessesOutsideTheJob(t *testing.T) {
	outsideTheJob(t, 4848, "sync=4", `echo ready; while :; do "$0" launch 1000 0.04 >/dev/null; done`)
}

// The same beside a neighbour that keeps 16 launches queued: the processes
// took 40-43 % over 10 s and were never paused. A third of their samples
// came from processes no look had seen alive, charged to nobody: one
// process's context replaced the last one's between two looks, the
// device's total did not move, and the cheap looks read no process list.
// Time of a process never seen alive now makes every look at the GPU full
// for a while.
func TestTimeShortProcessesOutsideTheJobBesideAFullQueue(t *testing.T) {
	outsideTheJob(t, 4849, "sync=16", `echo ready; while :; do "$0" launch 1000 0.04 >/dev/null; done`)
}

// outsideTheJob runs script (argument $0: dl_attack) as user, outside any
// job cgroup, beside a busy 75 % job that synchronises as sync says; user
// has a 25 % job on the GPU. Over 10 s, what is not the 75 % job's must
// stay within 28 %.
func outsideTheJob(t *testing.T, user int, sync, script string) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	cheat := n.job(fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=12g\nCUDA_DEVICE_SM_LIMIT=25\nSOFTMIG_SM_SLOT_0=0-25\nSOFTMIG_GPU_0=0\nSOFTMIG_UID=%d\nSOFTMIG_TIME_POLICY=cap\n", user))
	honestJob := n.timeJob(75, "25-100", "cap")
	time.Sleep(1200 * time.Millisecond)
	loop := n.startArgv(nil, []string{"LD_PRELOAD=" + n.lib()}, []string{"setpriv", fmt.Sprintf("--reuid=%d", user), fmt.Sprintf("--regid=%d", user), "--clear-groups",
		"/bin/sh", "-c", script, n.shared.Path("build/test/dl_attack")})
	defer loop.cmd.Process.Kill()
	honest := n.load(honestJob, 14, sync)
	mean, wins := n.observe(2*time.Second, 10, group("honest", honest))
	out := g.output()
	t.Logf("outside a 25 %% job, beside 75 %%: %.1f / %.1f %% (windows %v)", mean["dev"]-mean["honest"], mean["honest"], wins)
	t.Logf("pauses %d, kills %d", strings.Count(out, "time pause: job "+cheat.id), strings.Count(out, "guard kill: job "+cheat.id))
	// 28 % is the bound, held alone on the machine (make bench,
	// SOFTMIG_TIME_STRICT=1); beside make test's other packages the
	// samples come late and the pauses with them (29.8 % seen). Without
	// the defence these processes took 37-61 %.
	limit := 35.0
	if strict {
		limit = 28
	}
	if c := mean["dev"] - mean["honest"]; c > limit {
		t.Errorf("processes outside the job got %.1f %% on a 25 %% share over 10 s, want at most %.0f:\n%s", c, limit, out)
	}
}

// Another user makes, in a cgroup subtree delegated to them, a cgroup
// named for the victim's job, and runs there one short process after
// another, each launching around the library for 40 ms: alive, a process
// of the wrong user in that cgroup is charged to nobody; gone, its last
// samples went to the job its cgroup named, the victim's, as debt, and the
// victim, running under the library within its windows, was paused and
// killed.
func TestTimeForgedCgroupChargesTheVictim(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	victim := n.timeJob(25, "0-25", "cap")
	other := n.timeJob(75, "25-100", "cap")
	deleg := delegated(t, filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(victim.procs)))), attacker)
	forged := filepath.Join(deleg, "slurm_x", fmt.Sprintf("uid_%d", attacker), "job_"+victim.id)
	time.Sleep(1200 * time.Millisecond)
	v := n.load(victim, 12)
	o := n.load(other, 12)
	script := `echo $$ > "$0/cgroup.procs" && exec setpriv --reuid=$1 --regid=$1 --clear-groups /bin/sh -c ` +
		`'mkdir -p "$0" && echo $$ > "$0/cgroup.procs" && echo ready && while :; do "$1" launch 1000 0.04 >/dev/null; done' "$2" "$3"`
	a := n.startArgv(nil, []string{"LD_PRELOAD=" + n.lib()}, []string{"/bin/bash", "-c", script, deleg, fmt.Sprint(attacker), forged,
		n.shared.Path("build/test/dl_attack")})
	defer a.cmd.Process.Kill()
	mean, _ := n.observe(time.Second, 8, group("victim", v), group("other", o))
	a.cmd.Process.Kill()
	t.Logf("victim %.1f %%, other %.1f %%, the forged cgroup's processes %.1f %%", mean["victim"], mean["other"], mean["dev"]-mean["victim"]-mean["other"])
	out := g.output()
	if strings.Contains(out, "time pause: job "+victim.id) || strings.Contains(out, "guard kill: job "+victim.id) {
		t.Errorf("the victim was paused or killed for time another user's processes took in a cgroup named for its job:\n%s", out)
	}
}

// A user with a 25 % job runs a process around the library outside the
// job cgroup, where a pause can only stop it with SIGSTOP, and continues it
// with SIGCONT every 10 ms, starting it again when it is killed.
func TestTimeContinuedOutsideTheJob(t *testing.T) {
	outsideTheJob(t, 4949, "sync=4", `echo ready; while :; do "$0" launch 1000 30 >/dev/null & c=$!; while kill -CONT $c 2>/dev/null; do sleep 0.01; done; done`)
}
