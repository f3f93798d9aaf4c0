// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// guardNice is the guard's scheduling priority. The gates open and close
// at the edges of the jobs' windows: on a node whose cores the jobs keep
// busy (data loaders, CPU-bound steps), a daemon at the default priority
// wakes late and a job keeps its gate open past its window by as much.
// A little above the jobs is enough; the guard's own work is bounded
// (docs/benchmarks.md), so this takes nothing from them that matters.
const guardNice = -10

// raisePriority sets every thread of the process to guardNice (Linux
// keeps a nice value per thread; threads made later inherit their
// creator's). A value the admin already set lower (systemd's Nice=) stays.
// The Go runtime may start a thread while the list is walked, cloned from
// one not yet raised: the walk repeats until a whole pass changes nothing,
// after which every thread, and every thread any of them makes, is raised.
// It returns the nice value in force, or an error.
func raisePriority() (int, error) {
	nice := guardNice
	for pass := 0; pass < 100; pass++ {
		changed, low, err := raiseEachThread()
		if err != nil {
			return low, err // the nice value of the thread that failed
		}
		nice = min(nice, low)
		if !changed {
			return nice, nil
		}
	}
	return nice, nil
}

// raiseEachThread raises the threads listed now. It reports whether it
// changed any, the lowest nice value an admin had set, and the first error.
func raiseEachThread() (changed bool, nice int, err error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return false, guardNice, err
	}
	nice = guardNice
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// getpriority's raw value is 20 - nice.
		cur, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
		if err != nil {
			continue // a thread that just ended
		}
		if 20-cur <= guardNice {
			nice = min(nice, 20-cur)
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, guardNice); err != nil {
			return changed, 20 - cur, err
		}
		changed = true
	}
	return changed, nice, nil
}
