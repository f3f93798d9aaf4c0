// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"
	"time"
)

// An honest job under the library whose kernels are long (150 ms, in a
// 250 ms slot) overruns its windows by up to a kernel at every close, and
// by more where a waking job takes back the time lent to it: the job
// beside it works 1.3 s and rests 1.7 s, under lend. What runs after a
// close is owed and repaid by shorter windows; neither job is ever paused.
func TestTimeLongKernelsNotPaused(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	jobs := []*sjob{n.timeJob(25, "0-25", "lend"), n.timeJob(75, "25-100", "lend")}
	time.Sleep(1200 * time.Millisecond)
	long := n.load(jobs[0], 12, "us=150000", "sync=1")
	other := n.load(jobs[1], 12, "on=1300", "off=1700")
	mean, wins := n.observe(1500*time.Millisecond, 10, group("long", long), group("other", other))
	t.Logf("150 ms kernels at 25 %% beside a 75 %% job that comes and goes, lend: %v (windows %v)", mean, wins)
	noPauses(t, g)
}
