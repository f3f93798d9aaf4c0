// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The time authority runs above the jobs: every thread of the guard has
// nice -10, so that gates flip on time on a node whose cores are busy.
func TestGuardRunsAboveTheJobs(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	pid := g.cmd.Process.Pid
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue // a thread that ended
		}
		// Fields after the command's closing parenthesis: state is the
		// 3rd field of stat, nice the 19th.
		rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		nice, err := strconv.Atoi(rest[16])
		if err != nil {
			t.Fatalf("thread %s: stat %q", task.Name(), stat)
		}
		if nice > guardNice {
			t.Errorf("guard thread %s runs at nice %d, want %d", task.Name(), nice, guardNice)
		}
	}
	if len(tasks) < 2 {
		t.Errorf("the guard has %d threads: the test shows nothing", len(tasks))
	}
}
