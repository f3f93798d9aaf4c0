// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/timefile"
)

const P = time.Second

func pct(a, b int) span { return span{P * time.Duration(a) / 100, P * time.Duration(b) / 100} }

func open(w []window) time.Duration {
	var n time.Duration
	for _, x := range w {
		n += x.b - x.a
	}
	return n
}

// Under cap a job's windows are its slot, less what it owes; under lend
// the slots of idle jobs and the units nobody holds go to the busy jobs in
// proportion to their shares, and idle jobs keep their own slot open.
func TestPlan(t *testing.T) {
	quarters := func(busy ...bool) []planJob {
		var js []planJob
		for i, b := range busy {
			js = append(js, planJob{job: string(rune('a' + i)), share: 25, own: []span{pct(25*i, 25*i+25)}, busy: b})
		}
		return js
	}
	w, lent := plan(quarters(true, true, true, true), false, P)
	for _, j := range []string{"a", "b", "c", "d"} {
		if open(w[j]) != 250*time.Millisecond || lent[j] != 0 {
			t.Errorf("cap, four busy quarters: %s open %v lent %v", j, open(w[j]), lent[j])
		}
	}
	w, lent = plan(quarters(true, true, false, false), true, P)
	if open(w["a"]) != 500*time.Millisecond || open(w["b"]) != 500*time.Millisecond || lent["a"] != 250*time.Millisecond {
		t.Errorf("lend, two busy of four: a %v (lent %v), b %v", open(w["a"]), lent["a"], open(w["b"]))
	}
	if open(w["c"]) != 250*time.Millisecond || open(w["d"]) != 250*time.Millisecond {
		t.Errorf("lend: idle jobs must keep their own slot open (to wake): c %v d %v", open(w["c"]), open(w["d"]))
	}
	// One busy quarter alone on its GPU gets the whole period.
	alone := []planJob{{job: "a", share: 25, own: []span{pct(0, 25)}, busy: true}}
	if w, _ := plan(alone, true, P); open(w["a"]) != P {
		t.Errorf("lend, alone: open %v, want the period", open(w["a"]))
	}
	if w, _ := plan(alone, false, P); open(w["a"]) != 250*time.Millisecond {
		t.Errorf("cap, alone: open %v, want its slot", open(w["a"]))
	}
	// 30/70: the 70 idle, the 30 busy gets it all; shares split lent time.
	two := []planJob{{job: "a", share: 30, own: []span{pct(0, 30)}, busy: true}, {job: "b", share: 70, own: []span{pct(30, 100)}}}
	if w, _ := plan(two, true, P); open(w["a"]) != P {
		t.Errorf("lend 30 busy / 70 idle: a open %v", open(w["a"]))
	}
	three := []planJob{{job: "a", share: 25, own: []span{pct(0, 25)}, busy: true}, {job: "b", share: 50, own: []span{pct(25, 75)}, busy: true}}
	_, lent = plan(three, true, P)
	if lent["a"] < 83*time.Millisecond || lent["a"] > 84*time.Millisecond || lent["b"] < 166*time.Millisecond || lent["b"] > 167*time.Millisecond {
		t.Errorf("lend 25 + 50 busy, 25 free: lent %v / %v, want 1:2", lent["a"], lent["b"])
	}
	// Debt cuts a job's windows at their end; a paused job has none.
	owing := []planJob{{job: "a", share: 50, own: []span{pct(0, 20), pct(60, 90)}, busy: true, owe: 350 * time.Millisecond}}
	w, _ = plan(owing, false, P)
	if open(w["a"]) != 150*time.Millisecond || w["a"][0].b != 150*time.Millisecond {
		t.Errorf("owing 350 ms of 500: windows %+v", w["a"])
	}
	owing[0].paused = true
	if w, _ := plan(owing, true, P); len(w["a"]) != 0 {
		t.Errorf("paused job has windows %+v", w["a"])
	}
}

// The time a debt cuts is exactly what shorten removes, and it repays only
// as it passes.
func TestCutRepaysAsItPasses(t *testing.T) {
	own := []span{pct(0, 20), pct(60, 90)}
	cut := cutSpans(own, 350*time.Millisecond)
	left := shorten(own, 350*time.Millisecond)
	if total(cut)+open(left) != total(own) || total(cut) != 350*time.Millisecond {
		t.Fatalf("cut %+v and windows %+v do not make the slot %+v", cut, left, own)
	}
	for _, c := range []struct{ at, want time.Duration }{
		{0, 0}, {149 * time.Millisecond, 0}, {180 * time.Millisecond, 30 * time.Millisecond},
		{600 * time.Millisecond, 50 * time.Millisecond}, {750 * time.Millisecond, 200 * time.Millisecond}, {P, 350 * time.Millisecond},
	} {
		if got := before(cut, c.at); got != c.want {
			t.Errorf("cut passed by %v = %v, want %v", c.at, got, c.want)
		}
	}
	if cutSpans(own, 0) != nil || before(nil, P) != 0 {
		t.Error("no debt must cut nothing")
	}
}

// A window shrunk while open (a waking job takes its lent time back) owes
// nothing for the work the library let go for the end the job was told:
// that runs on until the old end. What runs after that end is owed.
func TestShrunkWindowOwesFromTheEndTheJobWasTold(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the time file is root's: run as root")
	}
	start := time.Now()
	f, err := timefile.Create(filepath.Join(t.TempDir(), "GPU-x.time"), timefile.Lend, P, start)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}()
	g := &gpuTime{file: f, start: start}
	j := &timeJob{entry: 0, gate: timefile.GateClosed, windows: []window{{span: pct(0, 80), lent: true}}}
	a := &authority{}
	a.setGate(g, j, start.Add(P/10)) // open, told the end 800 ms
	j.windows = []window{{span: pct(0, 30)}}
	a.setGate(g, j, start.Add(3*P/10)) // closed at 300 ms: the lent time taken back
	if j.gate == 0 {
		t.Fatalf("gate open after its window shrank past now")
	}
	if !j.openAt(start.Add(5 * P / 10)) {
		t.Errorf("work at 500 ms, let go for the end of 800 ms the job was told, counts as run after a close")
	}
	if j.openAt(start.Add(9 * P / 10)) {
		t.Errorf("work at 900 ms counts as within the window told to end at 800 ms")
	}
	if open := j.openDuring(start, start.Add(P)); open != 7*P/10 {
		t.Errorf("open %v of the period; want 700ms, from 100 ms to the told end of 800 ms", open)
	}
	if j.openAt(start.Add(P / 20)) {
		t.Errorf("work before the gate opened counts as within it")
	}
}

// A sample taken after a close is owed only for what cannot have run in
// the window before it: a lone process's sample averages the time it
// covers (the real driver's do), so an honest job's sample just after its
// close reads the window's work, and owes nothing for it.
func TestOwedIsWhatCannotHaveRunInTheWindow(t *testing.T) {
	start := time.Unix(1000, 0)
	ms := func(n int) time.Time { return start.Add(time.Duration(n) * time.Millisecond) }
	j := &timeJob{hist: []openSpan{{a: ms(0), b: ms(750), due: ms(750)}, {a: ms(1000), due: ms(1750)}}}
	for _, c := range []struct {
		what string
		at   int
		busy time.Duration
		owed time.Duration
	}{
		{"honest, 100 ms before the close", 850, 100 * time.Millisecond, 0},
		{"ran through the close", 850, 198 * time.Millisecond, 98 * time.Millisecond},
		{"ran only after the close", 900, 200 * time.Millisecond, 150 * time.Millisecond},
		{"idle after the close", 980, 0, 0},
		{"a whole sample in the next window, after the gap", 1100, 200 * time.Millisecond, 100 * time.Millisecond},
		{"inside a window", 500, 200 * time.Millisecond, 0},
		{"a window still open at the instant", 1200, 200 * time.Millisecond, 0},
	} {
		if got := j.owed(ms(c.at), 200*time.Millisecond, c.busy); got != c.owed {
			t.Errorf("%s: sample at %d ms, busy %v: owed %v, want %v", c.what, c.at, c.busy, got, c.owed)
		}
	}
	if got := j.openDuring(ms(600), ms(1100)); got != 250*time.Millisecond {
		t.Errorf("open from 600 to 1100 ms: %v, want 250ms (150 of the first window, 100 of the second)", got)
	}
}
