// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"
	"time"
)

// A job that goes around the library and runs past the end of its slot
// by what the authority forgives as queued work draining (50 ms), every
// period: 30 % of the GPU on a 25 % share, and its debt never reached a
// pause, since the windows it was "repaid" by shortening counted as
// repaid whether it ran in them or not. Every moment used outside the
// windows is owed: it gets no more than its share over 10 s, and it is
// paused.
func TestTimeOverrunPastTheSlot(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	jobs := []*sjob{n.timeJob(25, "0-25", "cap"), n.timeJob(75, "25-100", "cap")}
	time.Sleep(1200 * time.Millisecond)
	cheat := n.bgRun(jobs[0], []string{n.shared.Path("build/test/dl_attack"), "overrun", "250", "50", "13"})
	honest := n.load(jobs[1], 13)
	mean, wins := n.observe(2*time.Second, 10, group("cheat", cheat), group("honest", honest))
	t.Logf("25 %% share queueing 50 ms of work at the end of its slot, beside 75 %%: %.1f / %.1f %% over 10 s (windows %v)", mean["cheat"], mean["honest"], wins)
	out := g.output()
	if mean["cheat"] > 28 {
		t.Errorf("the job running past its slot got %.1f %% over 10 s, want at most 28", mean["cheat"])
	}
	if !strings.Contains(out, "time pause: job "+jobs[0].id) {
		t.Errorf("the job running past its slot was never paused:\n%s", out)
	}
	if strings.Contains(out, "time pause: job "+jobs[1].id) || strings.Contains(out, "job "+jobs[1].id+" GPU 0: over_time") {
		t.Errorf("the honest job was paused or killed:\n%s", out)
	}
}
