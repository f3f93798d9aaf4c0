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
// It returns the nice value in force, or an error.
func raisePriority() (int, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, err
	}
	nice := guardNice
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
			nice = 20 - cur
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, guardNice); err != nil {
			return 20 - cur, err
		}
	}
	return nice, nil
}
