// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/timefile"
)

// An admin runs `softmig-guard --dry-run` on a node whose guard is
// running, to see what it would do. The second guard must change nothing:
// it opened the running guard's time file as its own (closing every gate),
// thawed the jobs the running guard had paused (the record of frozen
// cgroups is the node's), and, leaving, removed the time file the jobs
// follow. A time file is held by one authority (a lock on it), and what a
// guard froze is thawed at start only where no guard holds its GPU.
func TestSecondGuardBesideTheGuard(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	g := n.guard()
	cheat := n.timeJob(25, "0-25", "cap")
	honest := n.timeJob(75, "25-100", "cap")
	time.Sleep(1200 * time.Millisecond)
	n.bgRun(cheat, []string{n.shared.Path("build/test/dl_attack"), "launch", "1000", "20"})
	n.load(honest, 20)
	path := ""
	for deadline := time.Now().Add(5 * time.Second); path == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`gates in (\S+\.time)`).FindStringSubmatch(g.output()); m != nil {
			path = m[1]
		}
	}
	if path == "" {
		t.Fatalf("no time file:\n%s", g.output())
	}
	var st0 os.FileInfo
	for deadline := time.Now().Add(8 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(g.output(), "time pause: job "+cheat.id) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job around the library was not paused:\n%s", g.output())
		}
	}
	st0, _ = os.Stat(path)
	frozenDir := regexp.MustCompile(`time pause: job ` + cheat.id + ` GPU 0: owes \S+ \(share 25%\), froze (\S+),`).FindStringSubmatch(g.output())
	second := exec.Command(os.Args[0], "--library", n.lib(), "--dry-run", "--config", n.dir+"/softmig.yaml")
	second.Env = append(append([]string{}, n.env...), "SOFTMIG_GUARD_TEST_MAIN=1")
	var out strings.Builder
	second.Stdout, second.Stderr = &out, &out
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if frozenDir != nil && strings.Contains(g.output(), "time pause: job "+cheat.id) && !strings.Contains(g.output(), "time resume: job "+cheat.id) {
		if b, err := os.ReadFile(frozenDir[1] + "/freezer.state"); err == nil && strings.TrimSpace(string(b)) == "THAWED" {
			t.Errorf("the second guard thawed %s, which the running guard holds paused", frozenDir[1])
		}
	}
	time.Sleep(1500 * time.Millisecond)
	second.Process.Signal(os.Interrupt)
	second.Wait()
	time.Sleep(200 * time.Millisecond)
	st1, err := os.Stat(path)
	if err != nil || !os.SameFile(st0, st1) {
		t.Fatalf("after the second guard left, the running guard's time file %s: %v (same file: %v)\nsecond guard:\n%s", path, err, err == nil && os.SameFile(st0, st1), out.String())
	}
	s, err := timefile.Read(path)
	if err != nil || !s.Fresh(time.Now()) || s.Entry(honest.id) == nil {
		t.Fatalf("the running guard's time file after the second guard left: %v, fresh %v\nsecond guard:\n%s", err, err == nil && s.Fresh(time.Now()), out.String())
	}
}
