// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShippedLogrotateExpiresOldLogs runs the real logrotate with the
// config install ships, against a job log last written 400 days ago, an
// empty one as old, and today's: the old ones go, today's stays.  The log
// directory is moved into the test's tree (logrotate has no --root), and
// its state is the one a run two days ago leaves (logrotate rotates a log
// it sees for the first time only on the next day's run).
func TestShippedLogrotateExpiresOldLogs(t *testing.T) {
	needRootNS(t)
	lr, err := exec.LookPath("logrotate")
	if err != nil {
		t.Skip("logrotate not installed (apt-get install logrotate): the shipped log expiry is not tried")
	}
	f := newFixture(t, false)
	f.install(t)
	conf, err := os.ReadFile(filepath.Join(f.root, logrotateConf))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(f.root, logDir)
	if !strings.Contains(string(conf), logDir+"/*.log {") {
		t.Fatalf("the shipped logrotate config does not name %s/*.log:\n%s", logDir, conf)
	}
	moved := filepath.Join(t.TempDir(), "logrotate.conf")
	if err := os.WriteFile(moved, []byte(strings.ReplaceAll(string(conf), logDir+"/", dir+"/")), 0o644); err != nil {
		t.Fatal(err)
	}

	old := time.Now().AddDate(0, 0, -400)
	logs := map[string]string{"100.log": "ts=old\n", "101.log": "", "200.log": "ts=today\n"}
	var state strings.Builder
	state.WriteString("logrotate state -- version 2\n")
	twoDaysAgo := time.Now().AddDate(0, 0, -2).Format("2006-1-2-15:4:5")
	for name, body := range logs {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "2") {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&state, "%q %s\n", p, twoDaysAgo)
	}
	statePath := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(statePath, []byte(state.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(lr, "--state", statePath, moved).CombinedOutput(); err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	for i := range left {
		left[i] = filepath.Base(left[i])
	}
	if got := strings.Join(left, " "); got != "200.log" {
		t.Errorf("after logrotate the log directory holds %q; want only today's 200.log", got)
	}
}
