// SPDX-License-Identifier: Apache-2.0

package usedfile

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// TestLayout pins the Go mirror to the _Static_asserts of
// preload/usedfile_abi.h: change both together, and SM_USED_VERSION.
func TestLayout(t *testing.T) {
	var e Entry
	var l Layout
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"sm_used_entry.used", unsafe.Offsetof(e.Used), 32},
		{"sm_used_entry size", unsafe.Sizeof(e), 48},
		{"sm_used_file.seen_ns", unsafe.Offsetof(l.SeenNs), 16},
		{"sm_used_file.device_used", unsafe.Offsetof(l.DeviceUsed), 24},
		{"sm_used_file.jobs", unsafe.Offsetof(l.Jobs), 32},
		{"sm_used_file.flags", unsafe.Offsetof(l.Flags), 36},
		{"sm_used_file.seq", unsafe.Offsetof(l.Seq), 40},
		{"sm_used_file.e", unsafe.Offsetof(l.E), 64},
		{"sm_used_file size", unsafe.Sizeof(l), Size},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d; want %d (preload/usedfile_abi.h)", tt.name, tt.got, tt.want)
		}
	}
}

// What Publish writes, Read gives back: every job's bytes, a job not
// written as 0 held, and a file of more jobs than entries as telling none;
// a later Publish with fewer jobs leaves none of the earlier behind.
func TestWriteRead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Read accepts only root-owned used files: run as root")
	}
	path, err := Path(t.TempDir(), "GPU-8ab1c2d3-0001-4e5f-a6b7-c8d9e0f1a2b3")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Remove() }() // removed by the test's end; this is for a failure before
	many := map[string]uint64{}
	for i := 0; i <= Entries; i++ {
		many[strconv.Itoa(i)] = 1
	}
	f.Publish(time.Now(), 0, many)
	l, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Job("0"); ok || l.Flags&FlagPartial == 0 {
		t.Errorf("%d jobs in %d entries: flags %d, job 0 told", Entries+1, Entries, l.Flags)
	}
	seen := time.Now()
	f.Publish(seen, 7<<30, map[string]uint64{"4711": 3 << 30, "12.0": 1 << 20, "": 9})
	l, err = Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Seen().UnixNano() != seen.UnixNano() || l.DeviceUsed != 7<<30 || l.Jobs != 2 {
		t.Errorf("seen %v, device %d, jobs %d; want %v, %d, 2", l.Seen(), l.DeviceUsed, l.Jobs, seen, 7<<30)
	}
	for job, want := range map[string]uint64{"4711": 3 << 30, "12.0": 1 << 20, "99": 0, "5": 0} {
		if got, ok := l.Job(job); !ok || got != want {
			t.Errorf("job %q: %d, %v; want %d, true", job, got, ok, want)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", st.Mode(), err)
	}
	if l.Seq == 0 || l.Seq&1 != 0 {
		t.Errorf("sequence count %d after two writes, want even and not 0", l.Seq)
	}
	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("after Remove: %v", err)
	}
}

// A used file a user could have written is refused, as the library
// refuses it.
func TestReadRefusesAFileOfAnotherOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "GPU-x.used")
	l := &Layout{Magic: Magic, Version: Version, NEntries: Entries, SeenNs: uint64(time.Now().UnixNano())}
	if err := os.WriteFile(path, unsafe.Slice((*byte)(unsafe.Pointer(l)), Size), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err == nil {
		t.Error("a used file writable by anyone was read")
	}
}

// A reader never takes a copy made while the guard was writing: two jobs
// written with the same bytes each time are always read the same.
func TestReadNeverTorn(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Read accepts only root-owned used files: run as root")
	}
	path := filepath.Join(t.TempDir(), "GPU-y.used")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.Remove(); err != nil {
			t.Error(err)
		}
	}()
	f.Publish(time.Now(), 0, map[string]uint64{"a": 0, "b": 0})
	done := make(chan struct{})
	defer func() { <-done }() // before Remove unmaps it
	go func() {
		defer close(done)
		for v := uint64(1); v < 20000; v++ {
			f.Publish(time.Now(), v, map[string]uint64{"a": v, "b": v})
		}
	}()
	reads := 0
	for running := true; running; reads++ {
		select {
		case <-done:
			running = false
		default:
		}
		l, err := Read(path)
		if err != nil {
			continue // three tries met a write: the library reads NVML then
		}
		a, _ := l.Job("a")
		b, _ := l.Job("b")
		if a != b || a != l.DeviceUsed {
			t.Errorf("torn copy: a %d, b %d, device %d", a, b, l.DeviceUsed)
			break
		}
	}
	t.Logf("%d reads", reads)
}
