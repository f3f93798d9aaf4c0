// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/logrec"
)

// deadline bounds every wait: generous, so that a slow machine only makes
// the test slower, never flaky.
const deadline = 20 * time.Second

// waitFor polls until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", deadline, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func record(pid int, msg string) string {
	r := logrec.Event(time.Date(2026, 11, 25, 21, 0, 0, pid*1000, time.UTC), "77", pid, 0, logrec.MsgThrottle, "throttled_ms", "10", "sm_limit", msg)
	s, err := logrec.Format(r)
	if err != nil {
		panic(err)
	}
	return s + "\n"
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// startTail runs `softmig-log tail -f` in a goroutine; stop cancels it and
// returns its error.
func startTail(t *testing.T, dir string, args ...string) (out, errb *syncBuffer, stop func() error) {
	t.Helper()
	out, errb = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runEnv(testEnv(ctx, out, errb), append([]string{"-d", dir, "tail", "-f"}, args...)) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(deadline):
			t.Fatal("tail -f did not stop on cancel")
			return nil
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return out, errb, stop
}

// TestTailFollow follows a log while a writer goroutine appends records (some
// in two writes, as a cut-off writer would), then across a rotation (rename
// and a new file, with a last record written to the renamed file) and a
// truncation. Every record comes out once, in order.
func TestTailFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "77.log")
	var want strings.Builder
	for i := 1; i <= 3; i++ {
		appendTo(t, path, record(i, "0"))
	}
	want.WriteString(record(2, "0") + record(3, "0")) // -n 2
	out, errb, stop := startTail(t, dir, "-n", "2", "77")
	waitFor(t, "the last 2 records", func() bool { return out.String() == want.String() })

	// A writer goroutine on an O_APPEND file, one record per write, every
	// fifth record in two writes with a pause between them.
	writerDone := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			writerDone <- err
			return
		}
		defer f.Close()
		for i := 4; i <= 60; i++ {
			rec := record(i, "1")
			if i%5 == 0 {
				if _, err := f.WriteString(rec[:20]); err != nil {
					writerDone <- err
					return
				}
				time.Sleep(15 * time.Millisecond) // longer than a poll
				rec = rec[20:]
			}
			if _, err := f.WriteString(rec); err != nil {
				writerDone <- err
				return
			}
		}
		writerDone <- nil
	}()
	for i := 4; i <= 60; i++ {
		want.WriteString(record(i, "1"))
	}
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the writer's 57 records", func() bool { return out.String() == want.String() })

	// Rotation: the old file is renamed and still written to by a process
	// that holds it open; a new file takes the name.
	old, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := old.WriteString(record(61, "2")); err != nil {
		t.Fatal(err)
	}
	old.Close()
	appendTo(t, path, record(62, "3")+record(63, "3"))
	want.WriteString(record(61, "2") + record(62, "3") + record(63, "3"))
	waitFor(t, "the records around the rotation", func() bool { return out.String() == want.String() })
	waitFor(t, "the rotation note", func() bool { return strings.Contains(errb.String(), "was replaced (rotated)") })

	// Truncation: the file is emptied in place, then written again.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the truncation note", func() bool { return strings.Contains(errb.String(), "was truncated") })
	appendTo(t, path, record(64, "4"))
	want.WriteString(record(64, "4"))
	waitFor(t, "the record after the truncation", func() bool { return out.String() == want.String() })

	// A line cut off by a rotation is reported as partial, with its number.
	appendTo(t, path, "ts=2026-11-25T21:00:00.000000Z level=ev")
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, record(65, "5"))
	want.WriteString(record(65, "5"))
	waitFor(t, "the record after the second rotation", func() bool { return out.String() == want.String() })
	if err := stop(); err != nil {
		t.Fatalf("tail -f = %v", err)
	}
	if got := errb.String(); !strings.Contains(got, "77.log:2: skipped: partial last line") {
		t.Errorf("stderr lacks the partial line 2 of the truncated file:\n%s", got)
	}
	if got := out.String(); got != want.String() {
		t.Errorf("tail -f printed\n%s\nwant\n%s", got, want.String())
	}
}

// TestTailFollowWaits: following a job whose log does not exist yet waits
// for it.
func TestTailFollowWaits(t *testing.T) {
	dir := t.TempDir()
	out, errb, stop := startTail(t, dir, "88")
	waitFor(t, "the waiting note", func() bool { return strings.Contains(errb.String(), "waiting for") })
	appendTo(t, filepath.Join(dir, "88.log"), record(1, "0"))
	waitFor(t, "the first record", func() bool { return out.String() == record(1, "0") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "appeared") {
		t.Errorf("stderr = %q; want a note that the log appeared", errb.String())
	}
}

func TestTailFollowGarbage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "99.log")
	appendTo(t, path, record(1, "0"))
	out, errb, stop := startTail(t, dir, "99")
	waitFor(t, "the first record", func() bool { return out.String() == record(1, "0") })
	appendTo(t, path, "garbage\n"+record(2, "0"))
	waitFor(t, "the second record", func() bool { return out.String() == record(1, "0")+record(2, "0") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s:2: skipped", path); !strings.Contains(errb.String(), want) {
		t.Errorf("stderr = %q; want %q", errb.String(), want)
	}
}
