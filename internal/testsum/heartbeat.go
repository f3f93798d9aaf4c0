// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// The heartbeat: when nothing was printed for s.quiet, a line per package
// still running, naming the tests that run at that moment, so a long
// package (test/preload: a minute) is never silent.

// maxNamed is how many running tests a heartbeat line names.
const maxNamed = 3

// tick prints the heartbeat whenever nothing was printed for s.quiet.
func (s *summary) tick() {
	defer s.done.Done()
	t := time.NewTicker(s.quiet / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mu.Lock()
			if now.Sub(s.lastPrint) >= s.quiet {
				for _, l := range s.runningNow(now) {
					s.printfLocked("     still running: %s\n", l)
				}
			}
			s.mu.Unlock()
		}
	}
}

// runningNow is a line per package started and not finished:
// "test/preload (35s, 40 done): TestCompute/Bursts 3s, TestLock 1s",
// the tests longest running first.  Paused tests (t.Parallel, waiting for
// their turn) and parents whose subtests run are left out: they are not
// what the package is doing.
func (s *summary) runningNow(now time.Time) []string {
	var lines []string
	for name, p := range s.pkgs {
		if p.started.IsZero() {
			continue // finished, or never started
		}
		line := fmt.Sprintf("%s (%s, %d done)", short(name), secs(now.Sub(p.started)), p.passed+p.failed+p.skipped)
		if tests := p.busy(); len(tests) > 0 {
			var named []string
			for i, test := range tests {
				if i == maxNamed {
					named = append(named, fmt.Sprintf("and %d more", len(tests)-maxNamed))
					break
				}
				named = append(named, test+" "+secs(now.Sub(p.running[test])))
			}
			line += ": " + strings.Join(named, ", ")
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return lines
}

// busy lists the package's running tests that have no running subtest,
// longest running first.
func (p *pkgState) busy() []string {
	var tests []string
	for test := range p.running {
		parent := false
		for other := range p.running {
			if strings.HasPrefix(other, test+"/") {
				parent = true
				break
			}
		}
		if !parent {
			tests = append(tests, test)
		}
	}
	sort.Slice(tests, func(i, j int) bool {
		a, b := p.running[tests[i]], p.running[tests[j]]
		if !a.Equal(b) {
			return a.Before(b)
		}
		return tests[i] < tests[j]
	})
	return tests
}

// secs is d in whole seconds: "35s".
func secs(d time.Duration) string {
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
