// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// logger writes the guard's own state to stderr, one line each, which
// journald keeps with the unit's name. Errors are rate-limited per kind:
// a GPU that fails every round is said once a minute, with a count.
type logger struct {
	mu         sync.Mutex
	w          io.Writer
	every      time.Duration
	last       map[string]time.Time
	suppressed map[string]int
}

func newLogger(w io.Writer) *logger {
	return &logger{w: w, every: time.Minute, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

func (l *logger) printf(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "softmig-guard: %s: %s\n", level, fmt.Sprintf(format, args...))
}

func (l *logger) infof(format string, args ...any) { l.printf("info", format, args...) }
func (l *logger) warnf(format string, args ...any) { l.printf("warning", format, args...) }

// errorf logs an error of kind key unless one was logged in the last minute.
func (l *logger) errorf(key, format string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if t, ok := l.last[key]; ok && now.Sub(t) < l.every {
		l.suppressed[key]++
		l.mu.Unlock()
		return
	}
	n := l.suppressed[key]
	l.last[key], l.suppressed[key] = now, 0
	l.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if n > 0 {
		msg += fmt.Sprintf(" (%d more like this since the last line)", n)
	}
	l.printf("error", "%s", msg)
}

// cpuMillis is the CPU time (user + system) the guard has used.
func cpuMillis() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return (ru.Utime.Nano() + ru.Stime.Nano()) / 1e6
}
