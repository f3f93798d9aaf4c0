// SPDX-License-Identifier: Apache-2.0

package timefile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/softmig/softmig/internal/testutil"
)

// TestLayout pins the Go mirror to the _Static_asserts of
// preload/timefile_abi.h: change both together, and SM_TIME_VERSION.
func TestLayout(t *testing.T) {
	var e Entry
	var l Layout
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"sm_time_entry.close_ns", unsafe.Offsetof(e.CloseNs), 8},
		{"sm_time_entry.job", unsafe.Offsetof(e.Job), 16},
		{"sm_time_entry.share", unsafe.Offsetof(e.Share), 48},
		{"sm_time_entry.flags", unsafe.Offsetof(e.Flags), 52},
		{"sm_time_entry.used_pm", unsafe.Offsetof(e.UsedPM), 56},
		{"sm_time_entry.lent_pm", unsafe.Offsetof(e.LentPM), 60},
		{"sm_time_entry size", unsafe.Sizeof(e), 64},
		{"sm_time_file.beat_ns", unsafe.Offsetof(l.BeatNs), 16},
		{"sm_time_file.period_ns", unsafe.Offsetof(l.PeriodNs), 24},
		{"sm_time_file.instance", unsafe.Offsetof(l.Instance), 32},
		{"sm_time_file.policy", unsafe.Offsetof(l.Policy), 40},
		{"sm_time_file.e", unsafe.Offsetof(l.E), 64},
		{"sm_time_file size", unsafe.Sizeof(l), Size},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d; want %d (preload/timefile_abi.h)", tt.name, tt.got, tt.want)
		}
	}
}

// The authority's writes reach a reader of the file; a restart keeps each
// job's entry, closes every gate and changes the instance; a freed entry is
// not handed to another job before Reuse has passed.
func TestWriterReader(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Read accepts only root-owned time files: run as root")
	}
	dir := t.TempDir()
	path, err := Path(dir, "GPU-8ab1c2d3-0001-4e5f-a6b7-c8d9e0f1a2b3")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f, err := Create(path, Lend, time.Second, now)
	if err != nil {
		t.Fatal(err)
	}
	// A new file's entries are free at once.
	later := now
	a, err := f.Assign("101", 25, later)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Assign("102", 75, later)
	if err != nil || b == a {
		t.Fatalf("second job: entry %d, %v (first %d)", b, err, a)
	}
	f.SetGate(a, 0, later.Add(250*time.Millisecond))
	f.SetStats(a, FlagLent, 400, 150)
	f.Beat(later)
	s, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	e := s.Entry("101")
	if e == nil || e.Gate != 0 || e.Share != 25 || e.UsedPM != 400 || e.LentPM != 150 || e.Flags != FlagLent ||
		e.CloseNs != uint64(later.Add(250*time.Millisecond).UnixNano()) {
		t.Fatalf("entry of 101 = %+v", e)
	}
	if s.Policy != Lend || s.PeriodNs != uint64(time.Second) || !s.Fresh(later) || s.Fresh(later.Add(Stale)) {
		t.Fatalf("header = %+v", s.Layout)
	}
	inst := s.Instance
	f.Free(b, later)
	if i, err := f.Assign("103", 25, later.Add(Reuse-time.Millisecond)); err == nil && i == b {
		t.Fatalf("entry %d of a job freed %v ago went to another job", b, Reuse-time.Millisecond)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := Create(path, Cap, time.Second, later)
	if err != nil {
		t.Fatal(err)
	}
	defer testutil.Close(t, g)
	if i := g.Find("101"); i != a || g.Gate(i) == 0 {
		t.Fatalf("after a restart 101 is at %d (gate %d), want %d closed", i, g.Gate(i), a)
	}
	// A restarted file's free entries may have been freed a moment ago.
	if i, err := g.Assign("104", 25, later); err == nil {
		t.Fatalf("after a restart, entry %d went to a new job at once", i)
	}
	s, err = Read(path)
	if err != nil || s.Instance == inst {
		t.Fatalf("restart kept instance %x (%v)", inst, err)
	}
}

func TestUnsafeFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to own the file")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "GPU-x.time")
	if err := os.Symlink("/etc/passwd", p); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(p, Cap, time.Second, time.Now()); err == nil {
		t.Error("Create followed a symlink")
	}
	if _, err := Read(p); err == nil {
		t.Error("Read followed a symlink")
	}
	q := filepath.Join(dir, "GPU-y.time")
	if err := os.WriteFile(q, make([]byte, Size), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(q, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(q); err == nil {
		t.Error("Read accepted a world-writable file")
	}
	for _, bad := range []string{"", "a/b", "..", ".x", "GPU-\x00"} {
		if _, err := Path(dir, bad); err == nil {
			t.Errorf("Path(%q) accepted", bad)
		}
	}
}
