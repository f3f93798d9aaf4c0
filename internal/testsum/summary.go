// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	ImportPath string // build-output, build-fail (Go 1.24+)
	Test       string
	Elapsed    float64
	Output     string
}

type pkgState struct {
	passed, failed, skipped int
	output                  []string             // lines not inside a test (build errors, panics)
	started                 time.Time            // zero before "start" and after the end
	running                 map[string]time.Time // test -> since when it runs (not paused)
}

// summary accumulates events; the mutex guards against the quiet-time ticker.
type summary struct {
	mu                      sync.Mutex
	w                       io.Writer
	quiet                   time.Duration
	lastPrint               time.Time
	pkgs                    map[string]*pkgState
	testOut                 map[string][]string // package+"\x00"+test -> output lines
	buildOut                map[string][]string // import path -> compiler output
	skips                   []skip
	passed, failed, skipped int
	stop                    chan struct{}
	done                    sync.WaitGroup
}

func newSummary(w io.Writer, quiet time.Duration) *summary {
	s := &summary{w: w, quiet: quiet, lastPrint: time.Now(),
		pkgs: map[string]*pkgState{}, testOut: map[string][]string{}, buildOut: map[string][]string{}, stop: make(chan struct{})}
	if quiet > 0 {
		s.done.Add(1)
		go s.tick()
	}
	return s
}

func (s *summary) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			s.printf("%s\n", sc.Text()) // not test2json: pass it through
			continue
		}
		s.add(e)
	}
}

// at is when the event happened: its own time stamp (go test gives one),
// else now.
func (e event) at() time.Time {
	if e.Time.IsZero() {
		return time.Now()
	}
	return e.Time
}

func (s *summary) pkg(name string) *pkgState {
	p := s.pkgs[name]
	if p == nil {
		p = &pkgState{running: map[string]time.Time{}}
		s.pkgs[name] = p
	}
	return p
}

func (s *summary) add(e event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pkg(e.Package)
	key := e.Package + "\x00" + e.Test
	switch {
	case e.Action == "build-output": // shown only if the build fails (cgo warns a lot)
		s.buildOut[e.ImportPath] = append(s.buildOut[e.ImportPath], e.Output)
	case e.Action == "build-fail":
		s.printf("%s", strings.Join(s.buildOut[e.ImportPath], ""))
	case e.Action == "output" && e.Test != "":
		s.testOut[key] = append(s.testOut[key], e.Output)
	case e.Action == "output":
		p.output = append(p.output, e.Output)
	case e.Action == "start":
		p.started = e.at()
	case e.Action == "run" || e.Action == "cont":
		p.running[e.Test] = e.at()
	case e.Action == "pause":
		delete(p.running, e.Test)
	case e.Test != "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
		delete(p.running, e.Test)
		s.testDone(e, p, s.testOut[key])
		delete(s.testOut, key)
	case e.Action == "pass" || e.Action == "fail" || e.Action == "skip":
		s.pkgDone(e, p)
	}
}

func (s *summary) testDone(e event, p *pkgState, out []string) {
	switch e.Action {
	case "pass":
		p.passed++
		s.passed++
	case "skip":
		p.skipped++
		s.skipped++
		s.skips = append(s.skips, skip{short(e.Package), e.Test, skipReason(out)})
	case "fail":
		p.failed++
		s.failed++
		s.printf("--- FAIL: %s %s (%.2fs)\n%s", short(e.Package), e.Test, e.Elapsed, strings.Join(testLines(out), ""))
	}
}

func (s *summary) pkgDone(e event, p *pkgState) {
	p.started = time.Time{}
	if p.passed+p.failed+p.skipped == 0 && e.Action == "skip" {
		return // no test files
	}
	status := "ok  "
	if e.Action == "fail" {
		status = "FAIL"
		if p.failed == 0 { // it failed outside any test: build error, panic, TestMain
			p.failed++
			s.failed++
			s.printf("%s", strings.Join(p.output, ""))
		}
	}
	s.printf("%s %-45s %6.1fs  %d passed, %d failed, %d skipped\n",
		status, short(e.Package), e.Elapsed, p.passed, p.failed, p.skipped)
}

func (s *summary) printf(format string, a ...any) {
	s.printfLocked(format, a...)
}

func (s *summary) printfLocked(format string, a ...any) {
	fmt.Fprintf(s.w, format, a...)
	s.lastPrint = time.Now()
}

// finish stops the ticker and prints the skips and the count line.
func (s *summary) finish() {
	close(s.stop)
	s.done.Wait()
	if len(s.skips) > 0 {
		fmt.Fprintf(s.w, "\nskipped:\n")
		for _, g := range groupSkips(s.skips) {
			fmt.Fprintf(s.w, "  %s\n", g)
		}
	}
	fmt.Fprintf(s.w, "\n%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
}

// short drops the module path from a package name.
func short(pkg string) string {
	return strings.TrimPrefix(pkg, "github.com/softmig/softmig/")
}
