// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

// ev is one go test -json line, at t0 plus at seconds.
func ev(at float64, action, pkg, test string) string {
	b, _ := json.Marshal(event{Time: t0.Add(time.Duration(at * float64(time.Second))), Action: action, Package: pkg, Test: test})
	return string(b) + "\n"
}

// feed gives s the events, as go test would.
func feed(s *summary, events ...string) {
	s.read(strings.NewReader(strings.Join(events, "")))
}

func wantLines(t *testing.T, when string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: heartbeat\n%s\nwant\n%s", when, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The heartbeat names what runs now, as in test/preload: a parallel test
// (TestP) paused while the serial tests run, then its subtests, two at a
// time; never a paused test or a parent waiting for its subtests.
func TestHeartbeatNamesWhatRuns(t *testing.T) {
	s := newSummary(io.Discard, 0)
	feed(s,
		ev(0, "start", "sample/a", ""),
		ev(0, "run", "sample/a", "TestP"),
		ev(0, "pause", "sample/a", "TestP"),
		ev(1, "run", "sample/a", "TestSerial"))
	wantLines(t, "serial test", s.runningNow(t0.Add(20*time.Second)),
		"sample/a (20s, 0 done): TestSerial 19s")

	feed(s,
		ev(21, "pass", "sample/a", "TestSerial"),
		ev(21, "cont", "sample/a", "TestP"))
	for _, sub := range []string{"w", "x", "y", "z"} {
		feed(s, ev(21, "run", "sample/a", "TestP/"+sub), ev(21, "pause", "sample/a", "TestP/"+sub))
	}
	wantLines(t, "subtests paused", s.runningNow(t0.Add(21*time.Second)),
		"sample/a (21s, 1 done): TestP 0s")

	feed(s,
		ev(22, "cont", "sample/a", "TestP/x"),
		ev(23, "cont", "sample/a", "TestP/w"),
		ev(25, "start", "sample/b", ""))
	wantLines(t, "two subtests", s.runningNow(t0.Add(30*time.Second)),
		"sample/a (30s, 1 done): TestP/x 8s, TestP/w 7s",
		"sample/b (5s, 0 done)")

	feed(s,
		ev(31, "cont", "sample/a", "TestP/y"),
		ev(31, "cont", "sample/a", "TestP/z"),
		ev(32, "pass", "sample/b", ""))
	wantLines(t, "four subtests", s.runningNow(t0.Add(40*time.Second)),
		"sample/a (40s, 1 done): TestP/x 18s, TestP/w 17s, TestP/y 9s, and 1 more")

	for _, sub := range []string{"w", "x", "y", "z"} {
		feed(s, ev(41, "pass", "sample/a", "TestP/"+sub))
	}
	feed(s, ev(41, "pass", "sample/a", "TestP"), ev(41, "pass", "sample/a", ""))
	wantLines(t, "all done", s.runningNow(t0.Add(50*time.Second)))
	s.finish()
}

// The ticker prints the heartbeat after quiet time, and only then.
func TestHeartbeatAfterQuiet(t *testing.T) {
	var out bytes.Buffer
	s := newSummary(&out, 300*time.Millisecond)
	r, w := io.Pipe()
	go func() {
		now := time.Now()
		line := func(action, test string) {
			b, _ := json.Marshal(event{Time: now, Action: action, Package: "sample/a", Test: test})
			fmt.Fprintf(w, "%s\n", b)
		}
		line("start", "")
		line("run", "TestSlow")
		time.Sleep(time.Second)
		line("pass", "TestSlow")
		line("pass", "")
		_ = w.Close() // a pipe's write end: closing is the end of input
	}()
	began := time.Now()
	s.read(r)
	s.finish()
	most := int(time.Since(began) / (300 * time.Millisecond))
	got := out.String()
	if !strings.Contains(got, "     still running: sample/a (0s, 0 done): TestSlow 0s\n") {
		t.Errorf("no heartbeat naming TestSlow after 300 ms of quiet:\n%s", got)
	}
	if n := strings.Count(got, "still running"); n > most {
		t.Errorf("%d heartbeats, want at most one per 300 ms of quiet (%d):\n%s", n, most, got)
	}
	if !strings.Contains(got, "ok   sample/a") {
		t.Errorf("no line for the package:\n%s", got)
	}
}
