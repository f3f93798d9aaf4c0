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
		{"sm_used_file.e", unsafe.Offsetof(l.E), 64},
		{"sm_used_file size", unsafe.Sizeof(l), Size},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d; want %d (preload/usedfile_abi.h)", tt.name, tt.got, tt.want)
		}
	}
}

// What Write puts at a path, Read gives back: every job's bytes, a job not
// written as 0 held, and a file of more jobs than entries as telling none.
func TestWriteRead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Read accepts only root-owned used files: run as root")
	}
	path, err := Path(t.TempDir(), "GPU-8ab1c2d3-0001-4e5f-a6b7-c8d9e0f1a2b3")
	if err != nil {
		t.Fatal(err)
	}
	seen := time.Now()
	if err := Write(path, Encode(seen, 7<<30, map[string]uint64{"4711": 3 << 30, "12.0": 1 << 20, "": 9})); err != nil {
		t.Fatal(err)
	}
	l, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Seen().UnixNano() != seen.UnixNano() || l.DeviceUsed != 7<<30 || l.Jobs != 2 {
		t.Errorf("seen %v, device %d, jobs %d; want %v, %d, 2", l.Seen(), l.DeviceUsed, l.Jobs, seen, 7<<30)
	}
	for job, want := range map[string]uint64{"4711": 3 << 30, "12.0": 1 << 20, "99": 0} {
		if got, ok := l.Job(job); !ok || got != want {
			t.Errorf("job %q: %d, %v; want %d, true", job, got, ok, want)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", st.Mode(), err)
	}
	if left, _ := filepath.Glob(path + ".new*"); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	many := map[string]uint64{}
	for i := 0; i <= Entries; i++ {
		many[strconv.Itoa(i)] = 1
	}
	if err := Write(path, Encode(seen, 0, many)); err != nil {
		t.Fatal(err)
	}
	if l, err = Read(path); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Job("0"); ok || l.Flags&FlagPartial == 0 {
		t.Errorf("%d jobs in %d entries: flags %d, job 0 told", Entries+1, Entries, l.Flags)
	}
}

// A used file a user could have written is refused, as the library
// refuses it.
func TestReadRefusesAFileOfAnotherOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "GPU-x.used")
	l := Encode(time.Now(), 0, nil)
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
