// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"
	"time"
)

// A job that goes around the library from a process its shell starts
// again each time the guard kills it. A kill used to forgive the job's
// debt and its pauses: the new process started from nothing, and the job
// took 34 % of the GPU on a 25 % share, the busy 75 % job beside it 52 %.
// Killed, a job is now frozen, its shell with it, until 750 ms of its own
// slot has passed: 5-14 % over the 14 s.
func TestTimeRespawnAfterKill(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	jobs := []*sjob{n.timeJob(25, "0-25", "cap"), n.timeJob(75, "25-100", "cap")}
	time.Sleep(1200 * time.Millisecond)
	n.bgRun(jobs[0], []string{"/bin/sh", "-c", `while :; do "$0" launch 1000 30; done`, n.shared.Path("build/test/dl_attack")})
	honest := n.load(jobs[1], 17)
	mean, wins := n.observe(2*time.Second, 14, group("honest", honest))
	cheat := mean["dev"] - mean["honest"]
	t.Logf("25 %% share, started again after each kill, beside 75 %%: %.1f / %.1f %% over 14 s (windows %v)", cheat, mean["honest"], wins)
	out := g.output()
	t.Logf("pauses %d, kills %d", strings.Count(out, "time pause: job "+jobs[0].id), strings.Count(out, "guard kill: job "+jobs[0].id))
	if cheat > 28 {
		t.Errorf("the job started again after each kill got %.1f %% over 14 s on a 25 %% share, want at most 28:\n%s", cheat, out)
	}
	if strings.Contains(out, "time pause: job "+jobs[1].id) || strings.Contains(out, "job "+jobs[1].id+" GPU 0: over_time") {
		t.Errorf("the honest job was paused or killed:\n%s", out)
	}
}
