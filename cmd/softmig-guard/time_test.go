// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// GPU time decided by root (issue 20): jobs under the library keep to the
// windows softmig-guard publishes, a job that launches around the library
// is paused or killed, and under lend the time idle jobs leave goes to busy
// ones. Shares are read by an outside observer (dl_nvutil) from the
// simulator's own record of each kernel, so a loaded machine makes loads
// launch less but never makes a job look over its share: upper bounds are
// tight, lower bounds loose. With SOFTMIG_TIME_STRICT=1 (make bench, run
// alone) the lower bounds are the numbers too.

var strict = os.Getenv("SOFTMIG_TIME_STRICT") == "1"

// atLeast is want when strict, else a fraction of it.
func atLeast(want, loose float64) float64 {
	if strict {
		return want
	}
	return loose
}

// timeJob is a job with a share of GPU 0's time under policy.
func (n *node) timeJob(share int, slot, policy string) *sjob {
	return n.job(fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=12g\nCUDA_DEVICE_SM_LIMIT=%d\nSOFTMIG_SM_SLOT_0=%s\nSOFTMIG_GPU_0=0\nSOFTMIG_UID=%d\nSOFTMIG_TIME_POLICY=%s\nSOFTMIG_REGION=$REGION\n",
		share, slot, nobody, policy))
}

// bg is a process of a job started without waiting for it.
type bg struct {
	cmd *exec.Cmd
	out lockedBuffer // its stdout and stderr, readable while it runs
}

// waitFor waits until the process has printed s, and returns when it saw
// it (within 10 ms).
func (b *bg) waitFor(t *testing.T, s string, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(b.out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not printed in %s; it printed:\n%s", s, within, b.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Now()
}

// load starts loadgen in job j under the library: 1 ms kernels,
// synchronised every 16 (a busy job: its syncs leave the GPU idle for
// little of its window), for secs.
func (n *node) load(j *sjob, secs float64, args ...string) *bg {
	return n.bgRun(j, append([]string{n.shared.Path("build/test/loadgen"), fmt.Sprintf("secs=%g", secs), "us=1000", "sync=16"}, args...))
}

func (n *node) bgRun(j *sjob, argv []string) *bg { return n.bgRunEnv(j, nil, argv) }

// bgRunEnv is bgRun with more environment.
func (n *node) bgRunEnv(j *sjob, env, argv []string) *bg {
	n.t.Helper()
	argv = append([]string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, j.procs,
		"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups"}, argv...)
	b := &bg{cmd: exec.Command(argv[0], argv[1:]...)}
	b.cmd.Env = append(append(append([]string{}, n.env...), "LD_PRELOAD="+n.lib()), env...)
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.out
	// Its own process group, killed whole at the end: a shell's child
	// keeps the output pipe open, frozen by the guard it may not die
	// before the guard's cleanup thaws it (a cleanup waited 9 minutes).
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.cmd.WaitDelay = 5 * time.Second
	if err := b.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() {
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		done := make(chan struct{})
		go func() { _ = b.cmd.Wait(); close(done) }() // killed: its exit status says so
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			// Still frozen by the guard: a frozen process dies once thawed.
			_ = thawDir(filepath.Dir(j.procs))
			<-done
		}
	})
	return b
}

func (b *bg) pid() int { return b.cmd.Process.Pid }

// observe measures the GPU time of groups of pids (name=pid,...) from
// skip for secs, and returns each group's mean and its 1 s windows. Whole
// seconds only: a part of a period weighs a job's slot by where it falls
// (2.5 s hold 2 or 3 slots of a quarter job: 20 or 30 %).
func (n *node) observe(skip time.Duration, secs int, groups ...string) (map[string]float64, []map[string]float64) {
	n.t.Helper()
	c := exec.Command(n.shared.Path("build/test/dl_nvutil"), append([]string{"0", strconv.Itoa(int(skip.Milliseconds())), strconv.Itoa(secs)}, groups...)...)
	// What ran, where the node's samples are the driver's (whole to one
	// process a bin): those say who ran at an instant, not for how long.
	c.Env = append(append([]string{}, n.env...), "SOFTMIG_SIM_SAMPLE_TRUTH=1")
	out, err := c.Output()
	if err != nil {
		n.t.Fatalf("dl_nvutil: %v (%s)", err, out)
	}
	mean := map[string]float64{}
	var wins []map[string]float64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m := map[string]float64{}
		for _, kv := range f {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k], _ = strconv.ParseFloat(v, 64)
			}
		}
		if len(f) > 0 && f[0] == "mean" {
			mean = m
		} else if len(f) > 0 && f[0] == "win" {
			wins = append(wins, m)
		}
	}
	return mean, wins
}

func group(name string, procs ...*bg) string {
	s := make([]string, len(procs))
	for i, p := range procs {
		s[i] = strconv.Itoa(p.pid())
	}
	return name + "=" + strings.Join(s, ",")
}

// noPauses fails the test when the guard paused or killed anyone.
func noPauses(t *testing.T, g *guardProc) {
	t.Helper()
	if out := g.output(); strings.Contains(out, "time pause:") || strings.Contains(out, "guard kill:") {
		t.Errorf("the guard paused or killed a job that runs under the library:\n%s", out)
	}
}

// A single job under cap gets its share and no more, from its first
// second on (before the authority has its entry, its static slot holds
// it), whether it launches kernels or CUDA graphs.
func TestTimeCapHoldsASingleJob(t *testing.T) {
	t.Parallel()
	for _, share := range []int{10, 25, 50, 75} {
		for _, path := range []string{"launch", "graph"} {
			share, path := share, path
			// One after another: eight simulated GPUs at once on two
			// cores would measure the machine.
			t.Run(fmt.Sprintf("%d%%/%s", share, path), func(t *testing.T) {
				n := newNode(t)
				g := n.guard()
				j := n.timeJob(share, fmt.Sprintf("0-%d", share), "cap")
				time.Sleep(1200 * time.Millisecond) // the authority reads configs every second
				// A job that would use the whole GPU: synchronising every
				// 16 launches, the load idles the GPU while it refills
				// (98.8 % alone under lend), and cap 75 read 73.5.
				p := n.load(j, 4.5, "path="+path, "sync=64")
				mean, wins := n.observe(0, 4, group("job", p))
				want := float64(share)
				t.Logf("cap %d, %s: mean %.1f %% over the first 4 s, windows %v", share, path, mean["job"], wins)
				if m := mean["job"]; m > want+1.5 || m < atLeast(want-1.5, want*0.6) {
					t.Errorf("cap %d: mean %.1f %%, want %d ± 1.5 (at least %.0f on a loaded machine)", share, m, share, want*0.6)
				}
				for i, w := range wins {
					if w["job"] > want+3 {
						t.Errorf("window %d: %.1f %%, want at most %d", i, w["job"], share+3)
					}
				}
				noPauses(t, g)
			})
		}
	}
}

// A single capped job keeps its share past its first second with the
// driver's samples, 200 ms each: the one just after each close averages
// the window's work before it, and charging that as debt took 3-5 points
// of every capped share on an H100 (docs/benchmarks.md, 2026-12-07).
func TestTimeCapWithDriverLikeSamples(t *testing.T) {
	t.Parallel()
	for _, share := range []int{50, 75} {
		share := share
		t.Run(fmt.Sprintf("%d%%", share), func(t *testing.T) {
			n := newNode(t, driverLike...)
			g := n.guard()
			j := n.timeJob(share, fmt.Sprintf("0-%d", share), "cap")
			time.Sleep(1200 * time.Millisecond)
			p := n.load(j, 6.5, "sync=64")
			// From the third second: what the first periods' debt is repaid
			// by shows there.
			mean, wins := n.observe(2*time.Second, 4, group("job", p))
			want := float64(share)
			t.Logf("cap %d, 200 ms whole samples: mean %.1f %% over seconds 2-6, windows %v", share, mean["job"], wins)
			if m := mean["job"]; m > want+1.5 || m < atLeast(want-1.5, want*0.6) {
				t.Errorf("cap %d with the driver's samples: mean %.1f %%, want %d ± 1.5 (at least %.0f on a loaded machine)", share, m, share, want*0.6)
			}
			noPauses(t, g)
		})
	}
}

func TestTimeCapFourQuarters(t *testing.T)  { fourQuarters(t, "cap") }
func TestTimeLendFourQuarters(t *testing.T) { fourQuarters(t, "lend") }

// With the driver's samples, 200 ms each and whole to one process, the
// four quarters keep their shares under lend too: on an H100, before the
// debt fix, the first read 21.7 % (docs/benchmarks.md). Beside the other
// packages of make test a quarter judged idle early (late to start under
// load) once kept 10.4 %: its slot lent and shared, whole samples rarely
// saw it there. Its launches waiting at its gate wake it now (wake.go).
func TestTimeLendFourQuartersWithDriverLikeSamples(t *testing.T) {
	fourQuarters(t, "lend", driverLike...)
}

// driverLike makes a node's samples the driver's: one every 200 ms, whole
// to the process that ran at its instant.
var driverLike = []string{"SOFTMIG_SIM_SAMPLE_MS=200", "SOFTMIG_SIM_SAMPLE_WHOLE=1"}

func fourQuarters(t *testing.T, policy string, env ...string) {
	t.Parallel()
	n := newNode(t, env...)
	g := n.guard()
	var jobs []*sjob
	for q := 0; q < 4; q++ {
		jobs = append(jobs, n.timeJob(25, fmt.Sprintf("%d-%d", 25*q, 25*q+25), policy))
	}
	time.Sleep(1200 * time.Millisecond)
	var groups []string
	for q, j := range jobs {
		groups = append(groups, group(fmt.Sprintf("q%d", q), n.load(j, 5)))
	}
	mean, _ := n.observe(1500*time.Millisecond, 3, groups...)
	total := 0.0
	for q := 0; q < 4; q++ {
		m := mean[fmt.Sprintf("q%d", q)]
		total += m
		// Under lend a quarter may take what the others left: on a loaded
		// machine a load starved of CPU launches less, and its time is
		// lent. Only that, never more.
		most := 25 + 2.0
		for o := 0; o < 4 && policy == "lend"; o++ {
			if o != q {
				most += max(0, 25-mean[fmt.Sprintf("q%d", o)])
			}
		}
		if m > most || m < atLeast(23, 12) {
			t.Errorf("%s, four busy quarters: q%d %.1f %%, want 25 ± 2 (at most %.1f: what the others left)", policy, q, m, most)
		}
	}
	t.Logf("%s, four busy quarters: %v, together %.1f %%", policy, mean, total)
	if total < atLeast(97, 60) {
		t.Errorf("%s, four busy quarters together %.1f %%, want at least 97", policy, total)
	}
	noPauses(t, g)
}

func TestTimeLendOneBusyJobAlone(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	j := n.timeJob(25, "0-25", "lend")
	time.Sleep(1200 * time.Millisecond)
	p := n.load(j, 5)
	mean, _ := n.observe(2000*time.Millisecond, 2, group("job", p))
	t.Logf("lend, one busy quarter alone: %.1f %%", mean["job"])
	if mean["job"] < atLeast(95, 60) {
		t.Errorf("lend, one busy quarter alone: %.1f %%, want at least 95 (60 on a loaded machine)", mean["job"])
	}
	noPauses(t, g)
}

func TestTimeLendTwoBusyTwoIdle(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	var jobs []*sjob
	for q := 0; q < 4; q++ {
		jobs = append(jobs, n.timeJob(25, fmt.Sprintf("%d-%d", 25*q, 25*q+25), "lend"))
	}
	time.Sleep(1200 * time.Millisecond)
	a, b := n.load(jobs[0], 5), n.load(jobs[1], 5)
	for _, j := range jobs[2:] {
		n.start(j, true, nil, "cuclient", "init", "dev:0", "retain", "ready", "hold") // a context, no kernels
	}
	mean, _ := n.observe(2000*time.Millisecond, 2, group("a", a), group("b", b))
	t.Logf("lend, two busy + two idle quarters: a %.1f %%, b %.1f %%", mean["a"], mean["b"])
	if mean["a"] < atLeast(46, 30) || mean["b"] < atLeast(46, 30) || mean["a"]+mean["b"] < atLeast(95, 65) {
		t.Errorf("lend, two busy + two idle quarters: %.1f + %.1f %%, want each at least 46 and together 95", mean["a"], mean["b"])
	}
	if strict && (mean["a"] > 54 || mean["b"] > 54) {
		t.Errorf("lend split unevenly between equal shares: %.1f / %.1f %%", mean["a"], mean["b"])
	}
	noPauses(t, g)
}

// The 70 % job is idle, then wakes: the 30 % job had the whole GPU, and
// keeps its 30 once the other runs.
func TestTimeLendWake(t *testing.T) { lendWake(t, 1) }

// The same with the driver's samples: on an H100, before the debt fix, the
// 30 % job read 24.8 % once the 70 % job woke (docs/benchmarks.md). A whole
// sample goes to the process running at its instant, and the waking job
// shares its own slot with the one it was lent to, so the samples may miss
// it for a period (under load the second second read 45/54 and 57/42);
// its launches that wait at its gate outside its slot wake it as well
// (wake.go), within a period.
func TestTimeLendWakeWithDriverLikeSamples(t *testing.T) { lendWake(t, 1, driverLike...) }

// lendWake checks 30/70 from window from on (window 0 is the second from
// the 70 % job's first launch).
func lendWake(t *testing.T, from int, env ...string) {
	t.Parallel()
	n := newNode(t, env...)
	g := n.guard()
	jobs := []*sjob{n.timeJob(30, "0-30", "lend"), n.timeJob(70, "30-100", "lend")}
	time.Sleep(1200 * time.Millisecond)
	a := n.load(jobs[0], 12) // past the windows below, however late b starts
	// Seconds 2.5 to 4.5: the 30's first second runs in its own slot, the
	// authority sees it busy and lends it the rest.
	before, _ := n.observe(2500*time.Millisecond, 2, group("a", a))
	// Windows from its first launch, not from its process's start: under
	// load a process starts CUDA late, and the second from the start was
	// its first from waking (45/54 once, in a CI-like run).
	b := n.load(jobs[1], 5, "say=1")
	b.waitFor(t, "launching", 10*time.Second)
	_, wins := n.observe(0, from+2, group("a", a), group("b", b))
	t.Logf("lend 30/70: the 30 alone %.1f %%; after the 70 woke, windows %v", before["a"], wins)
	if before["a"] < atLeast(95, 60) {
		t.Errorf("the 30 %% job alone got %.1f %%, want at least 95", before["a"])
	}
	for i := from; i < len(wins); i++ {
		if w := wins[i]; w["a"] > 30+3 || w["b"] < atLeast(70-3, 45) {
			t.Errorf("window %d after the 70 %% job woke: %.1f / %.1f %%, want 30 / 70 ± 3", i, w["a"], w["b"])
		}
	}
	noPauses(t, g)
}

// A quarter judged idle whose slot is lent wakes, and the samples never
// see it (the worst case of the driver's whole samples, which can miss a
// process that shares its slot for periods in a row; 10.4 % once for a
// busy quarter in TestTimeLendFourQuartersWithDriverLikeSamples): its
// launches wait at its closed gate, the library says so in its region,
// and the authority gives it its slot back (wake.go). Without that it
// shares its own slot with the busy job for as long as it runs.
func TestTimeLendWakesAJobTheSamplesMiss(t *testing.T) {
	t.Parallel()
	n := newNode(t, driverLike...)
	g := n.guard()
	jobs := []*sjob{n.timeJob(25, "0-25", "lend"), n.timeJob(25, "25-50", "lend")}
	time.Sleep(1200 * time.Millisecond)
	a := n.load(jobs[0], 14)
	time.Sleep(2 * time.Second) // b judged idle, its slot lent to a
	b := n.bgRunEnv(jobs[1], []string{"SOFTMIG_SIM_UNSAMPLED=1"},
		[]string{n.shared.Path("build/test/loadgen"), "secs=6", "us=1000", "sync=16", "say=1"})
	b.waitFor(t, "launching", 10*time.Second)
	_, wins := n.observe(0, 4, group("a", a), group("b", b))
	t.Logf("lend, a quarter the samples miss wakes beside a busy quarter: windows %v", wins)
	// Woken, it is busy: its slot and half the idle half, like a (without
	// the wake, 6-12 % from the second window on: its slot shared).
	for i := 1; i < len(wins); i++ {
		if w := wins[i]; w["b"] < atLeast(46, 25) {
			t.Errorf("window %d after the unsampled quarter woke: a %.1f / b %.1f %%, want b at least 46 (its slot and half the idle time)", i, w["a"], w["b"])
		}
	}
	noPauses(t, g)
}

// A job that calls the driver's own cuLaunchKernel (found in libcuda's
// symbol table, the library still mapped) beside a busy 75 % job: paused,
// then killed, and held near its share meanwhile.
func TestTimeAroundTheLibrary(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	jobs := []*sjob{n.timeJob(25, "0-25", "cap"), n.timeJob(75, "25-100", "cap")}
	time.Sleep(1200 * time.Millisecond)
	cheat := n.bgRun(jobs[0], []string{n.shared.Path("build/test/dl_attack"), "launch", "1000", "12"})
	honest := n.load(jobs[1], 12)
	mean, wins := n.observe(500*time.Millisecond, 10, group("cheat", cheat), group("honest", honest))
	t.Logf("25 %% around the library, beside 75 %%: %.1f / %.1f %% over 10 s (windows %v)", mean["cheat"], mean["honest"], wins)
	if mean["cheat"] > 28 {
		t.Errorf("the job around the library got %.1f %% over 10 s, want at most 28:\n%s", mean["cheat"], g.output())
	}
	out := g.output()
	if !strings.Contains(out, "time pause: job "+jobs[0].id) {
		t.Errorf("the job around the library was never paused:\n%s", out)
	}
	if !strings.Contains(out, "over_time") {
		t.Logf("not killed within the run: paused only")
	}
	if strings.Contains(out, "job "+jobs[1].id+" GPU 0: over_time") || strings.Contains(out, "time pause: job "+jobs[1].id) {
		t.Errorf("the honest job was paused or killed:\n%s", out)
	}
}

// The authority stops and starts again while a busy job runs under cap:
// meanwhile the library keeps the job to its static slot (never more than
// its share), and the restarted guard pauses and kills nobody.
func TestTimeAuthorityRestart(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	j := n.timeJob(25, "0-25", "cap")
	time.Sleep(1200 * time.Millisecond)
	p := n.load(j, 9)
	time.Sleep(2 * time.Second)
	g.stop(t)
	down, _ := n.observe(500*time.Millisecond, 2, group("job", p)) // the static slot alone
	g2 := n.guard()
	after, _ := n.observe(1500*time.Millisecond, 2, group("job", p))
	t.Logf("cap 25 with the authority down: %.1f %%; after it restarted: %.1f %%", down["job"], after["job"])
	if down["job"] > 25+1.5 || after["job"] > 25+1.5 {
		t.Errorf("cap 25: %.1f %% while the authority was down, %.1f %% after its restart; want at most 26.5", down["job"], after["job"])
	}
	if after["job"] < atLeast(25-1.5, 15) {
		t.Errorf("after the restart the job got %.1f %%, want its 25", after["job"])
	}
	noPauses(t, g2)
	if !strings.Contains(n.libLog(t), `msg="time authority" state=down`) {
		t.Errorf("the library did not log that the authority went down:\n%s", n.libLog(t))
	}
}

// driverLikeQuartersAndHalf is a node whose samples are the driver's
// (whole, every 200 ms), its guard, and three lend jobs of GPU 0: two
// quarters and a half, their entries read by the authority.
func driverLikeQuartersAndHalf(t *testing.T) (*node, *guardProc, []*sjob) {
	t.Helper()
	n := newNode(t, driverLike...)
	g := n.guard()
	jobs := []*sjob{n.timeJob(25, "0-25", "lend"), n.timeJob(25, "25-50", "lend"), n.timeJob(50, "50-100", "lend")}
	time.Sleep(1200 * time.Millisecond)
	return n, g, jobs
}

// With samples like the real driver's (one every 200 ms, whole to the
// process running at its instant), the authority still lends, evenly
// (its pause of a job around the library with them:
// TestTimeAroundTheLibraryWithDriverLikeSamples). The observer reads what
// ran: through the same whole samples, whose instants fall at the same
// offsets of every period, it saw the two quarters' even windows as 3 and
// 2 samples a period, 59/39 % (the authority's own reading of each job's
// time is quantised the same way, in a period; over many, where the
// driver's instants drift against the period, it evens out).
func TestTimeWithDriverLikeSamples(t *testing.T) {
	t.Parallel()
	n, g, jobs := driverLikeQuartersAndHalf(t)
	a, b := n.load(jobs[0], 7), n.load(jobs[1], 7)
	mean, _ := n.observe(2500*time.Millisecond, 3, group("a", a), group("b", b))
	t.Logf("200 ms whole samples, lend, two busy quarters beside an idle half: %.1f / %.1f %%", mean["a"], mean["b"])
	if mean["a"]+mean["b"] < atLeast(95, 65) {
		t.Errorf("two busy quarters beside an idle half got %.1f %% together, want at least 95", mean["a"]+mean["b"])
	}
	for _, q := range []string{"a", "b"} {
		if mean[q] < atLeast(46, 30) {
			t.Errorf("busy quarter %s got %.1f %% beside another and an idle half, want at least 46", q, mean[q])
		}
	}
	noPauses(t, g)
}

// A job around the library is paused with the driver's whole samples too,
// beside two busy quarters. It was part of TestTimeWithDriverLikeSamples,
// started as the quarters' loads were ending, and twice in CI's
// package-parallel runs it was not paused in 20 s: late under load, it
// found the quarters idle, and lend gave it their time.
func TestTimeAroundTheLibraryWithDriverLikeSamples(t *testing.T) {
	t.Parallel()
	n, g, jobs := driverLikeQuartersAndHalf(t)
	// The quarters stay busy for as long as the cheat may run: once they
	// are idle, lend gives it their time, and nothing it runs is theirs.
	n.load(jobs[0], 30)
	n.load(jobs[1], 30)
	time.Sleep(2500 * time.Millisecond)
	started := time.Now()
	// It launches for as long as it is given to be paused: it launched for
	// 8 s and ended, and a pause it never ran long enough to earn was the
	// 20 s bound's failure (make test, 2026-12-07).
	cheat := n.bgRun(jobs[2], []string{n.shared.Path("build/test/dl_attack"), "launch", "1000", "20"})
	// Paused within a second or two of starting, on an idle machine; the
	// bound is for a CI machine whose neighbours take its CPU.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(g.output(), "time pause: job "+jobs[2].id) {
		if time.Now().After(deadline) {
			_ = cheat.cmd.Process.Kill()
			_ = cheat.cmd.Wait() // killed: its output is whole, and ours to read
			t.Fatalf("with driver-like samples, the job around the library was never paused in 20 s:\n%s\nthe job's program said:\n%s", g.output(), cheat.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("with driver-like samples, the job around the library was paused %s after it started", time.Since(started).Round(100*time.Millisecond))
}

// libLog is what the library logged on this node (SOFTMIG_LOG_FILE).
func (n *node) libLog(t *testing.T) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(n.dir, "lib.log"))
	return string(b)
}

// A job whose kernels are longer than its window still launches, the
// first launch after its gate opens: a 3 % job of 50 ms kernels, lent the
// whole GPU while it is alone (its launches' pace measured there), keeps
// launching when a 97 % job wakes and its window shrinks to 30 ms. It runs
// up debt and hears why from the authority, instead of waiting at an open
// gate for good because nothing it launches could end in time.
func TestTimeKernelsLongerThanTheWindow(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	small, big := n.timeJob(3, "0-3", "lend"), n.timeJob(97, "3-100", "lend")
	time.Sleep(1200 * time.Millisecond)
	p := n.bgRun(small, []string{n.shared.Path("build/test/loadgen"), "secs=9", "us=50000", "sync=1"})
	time.Sleep(2500 * time.Millisecond)
	n.load(big, 6)
	mean, _ := n.observe(1500*time.Millisecond, 3, group("small", p))
	out := g.output()
	t.Logf("3 %% job of 50 ms kernels beside a busy 97 %% job: %.1f %%", mean["small"])
	told := strings.Contains(out, "time pause: job "+small.id) || strings.Contains(out, "guard kill: job "+small.id)
	if mean["small"] < 1 && !told {
		t.Errorf("a job of kernels longer than its window ran %.1f %% of the GPU beside a busy job, and the guard said nothing of it; want it to launch in every window:\n%s", mean["small"], out)
	}
}
