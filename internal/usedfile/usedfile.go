// SPDX-License-Identifier: Apache-2.0

// Package usedfile is the used file (contract 10 in docs/contracts.md): one
// per GPU, <run dir>/<GPU UUID>.used, in which softmig-guard (root)
// publishes what each job's processes held on the GPU at its last full
// look, and which a job process reads in place of its own NVML
// process-list read before its first allocation there. The layout mirrors
// preload/usedfile_abi.h and is pinned by layout_test.go.
//
// The guard replaces the file whole (Write: a new file renamed over the
// old), so a reader's one read sees one complete write.
package usedfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/timefile"
)

// Constants of preload/usedfile_abi.h.
const (
	Magic    = 0x31444553554d5353 // "SSMUSED1" little-endian
	Version  = 1
	Entries  = 84
	Size     = 4096
	Suffix   = ".used"
	Fresh    = time.Second // older: readers read NVML themselves
	JobBytes = 32
)

// FlagPartial: more jobs held memory on the GPU than the file has entries.
const FlagPartial uint32 = 1

// Entry is struct sm_used_entry.
type Entry struct {
	Job      [JobBytes]byte
	Used     uint64
	Reserved uint64
}

// Layout is struct sm_used_file.
type Layout struct {
	Magic      uint64
	Version    uint32
	NEntries   uint32
	SeenNs     uint64 // CLOCK_REALTIME of the NVML read
	DeviceUsed uint64
	Jobs       uint32
	Flags      uint32
	Reserved   [24]byte
	E          [Entries]Entry
}

var _ = [1]struct{}{}[unsafe.Sizeof(Layout{})-Size] // Layout is exactly one page

// Path is the used file of the GPU with NVML UUID uuid ("GPU-...").
func Path(runDir, uuid string) (string, error) {
	if err := timefile.CheckUUID(uuid); err != nil {
		return "", err
	}
	return filepath.Join(runDir, uuid+Suffix), nil
}

// Encode lays out what jobs held (bytes by job id) at seen, when the GPU
// had deviceUsed in use. Jobs are sorted by id; a job id no entry can hold
// cannot be a library's (its ids fit), and is left out; more jobs than
// entries mark the file partial, which readers do not use.
func Encode(seen time.Time, deviceUsed uint64, used map[string]uint64) *Layout {
	l := &Layout{Magic: Magic, Version: Version, NEntries: Entries, SeenNs: uint64(seen.UnixNano()), DeviceUsed: deviceUsed}
	jobs := make([]string, 0, len(used))
	for job := range used {
		if job != "" && len(job) < JobBytes && strings.IndexByte(job, 0) < 0 {
			jobs = append(jobs, job)
		}
	}
	sort.Strings(jobs)
	if len(jobs) > Entries {
		jobs, l.Flags = jobs[:Entries], FlagPartial
	}
	for i, job := range jobs {
		copy(l.E[i].Job[:], job)
		l.E[i].Used = used[job]
	}
	l.Jobs = uint32(len(jobs))
	return l
}

// Write replaces the file at path with l: written to a new root-only
// name beside it, made 0644 and renamed over path, so a reader opens
// either the old file or the new one, whole.
func Write(path string, l *Layout) error {
	tmp := path + ".new." + strconv.Itoa(os.Getpid())
	_ = unix.Unlink(tmp) // one left by a guard of this pid that died mid-write
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: tmp, Err: err}
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(l)), Size)
	n, err := unix.Write(fd, buf)
	if err == nil && n != Size {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = unix.Fchmod(fd, 0o644)
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Rename(tmp, path)
	}
	if err != nil {
		_ = unix.Unlink(tmp)
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

// Read reads the file at path as the library does: a regular file owned by
// root and writable only by it, of this magic, version and size.
func Read(path string) (*Layout, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || !st.Mode().IsRegular() || sys.Uid != 0 || st.Mode().Perm()&0o022 != 0 || st.Size() != Size {
		return nil, fmt.Errorf("%s: not a %d-byte regular file owned by root and writable only by it", path, Size)
	}
	l := &Layout{}
	if _, err := io.ReadFull(f, unsafe.Slice((*byte)(unsafe.Pointer(l)), Size)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if l.Magic != Magic || l.Version != Version || l.NEntries != Entries || l.Jobs > Entries {
		return nil, fmt.Errorf("%s: not a version %d used file", path, Version)
	}
	return l, nil
}

// Job is what job held at the read (ok false: the file names not every
// job, so none can be told).
func (l *Layout) Job(job string) (used uint64, ok bool) {
	if l.Flags&FlagPartial != 0 {
		return 0, false
	}
	for i := uint32(0); i < l.Jobs; i++ {
		if l.E[i].JobName() == job {
			return l.E[i].Used, true
		}
	}
	return 0, true // a job the guard saw nothing of held nothing
}

// JobName returns an entry's job id.
func (e *Entry) JobName() string {
	name := string(e.Job[:])
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return name
}

// Seen is when the numbers were read.
func (l *Layout) Seen() time.Time { return time.Unix(0, int64(l.SeenNs)) }
