// SPDX-License-Identifier: Apache-2.0

// Package usedfile is the used file (contract 10 in docs/contracts.md): one
// per GPU, <run dir>/<GPU UUID>.used, in which softmig-guard (root)
// publishes what each job's processes held on the GPU at its last full
// look, and which a job process reads in place of its own NVML
// process-list read before its first allocation there. The layout mirrors
// preload/usedfile_abi.h and is pinned by layout_test.go.
//
// The guard maps the file and writes it in place (Create, Publish) under a
// sequence count, odd while a write is under way: a write is a few hundred
// stores, no system call, so the guard may publish at every full look. A
// reader copies the file and reads the count again (Read).
package usedfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/fsutil"
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

// FlagPartial says more jobs held memory on the GPU than the file has entries.
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
	Seq        uint64 // odd while the guard writes
	Reserved   [16]byte
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

// File is a used file mapped read-write by the guard.
type File struct {
	path string
	mem  []byte
	l    *Layout
	lock int // the file's exclusive flock: this guard is its one writer
}

// ErrHeld says another softmig-guard writes the used file.
var ErrHeld = errors.New("another softmig-guard writes it")

// Create opens or creates the used file at path (root-owned, 0644, never
// through a symlink, one link) and maps it; a file of another size or
// format is started over. The sequence count holds for one writer only:
// the File holds an exclusive flock on the file until Remove, and a second
// guard's Create fails with ErrHeld (two writers would let a reader take a
// mix of both for a stable copy, and the one that stopped first would
// remove the file the other still writes).
func Create(path string) (*File, error) {
	lock, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.Flock(lock, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(lock)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrHeld)
		}
		return nil, &os.PathError{Op: "lock", Path: path, Err: err}
	}
	// A guard that stops removes its file before it lets the lock go:
	// the file locked must still be the one at path.
	var locked, now unix.Stat_t
	if err := unix.Fstat(lock, &locked); err != nil || unix.Lstat(path, &now) != nil || locked.Dev != now.Dev || locked.Ino != now.Ino {
		unix.Close(lock)
		return nil, fmt.Errorf("%s: removed by the guard that wrote it while locked: try again", path)
	}
	mem, _, err := fsutil.MapOwnFile(path, Size)
	if err != nil {
		unix.Close(lock)
		return nil, err
	}
	return &File{path: path, mem: mem, l: (*Layout)(unsafe.Pointer(&mem[0])), lock: lock}, nil
}

// Path is where the file lives.
func (f *File) Path() string { return f.path }

// Publish writes what jobs held (bytes by job id) at seen, when the GPU
// had deviceUsed in use. Jobs are sorted by id; a job id no entry can hold
// cannot be a library's (its ids fit) and is left out; more jobs than
// entries mark the file partial, which readers do not use.
func (f *File) Publish(seen time.Time, deviceUsed uint64, used map[string]uint64) {
	jobs := make([]string, 0, len(used))
	for job := range used {
		if job != "" && len(job) < JobBytes && strings.IndexByte(job, 0) < 0 {
			jobs = append(jobs, job)
		}
	}
	sort.Strings(jobs)
	var flags uint32
	if len(jobs) > Entries {
		jobs, flags = jobs[:Entries], FlagPartial
	}
	l := f.l
	seq := atomic.LoadUint64(&l.Seq) | 1 // odd: a write is under way
	atomic.StoreUint64(&l.Seq, seq)
	// A load after the store (on arm64 LDAR after STLR, which stay in
	// order): the stores below cannot be seen before the odd count. x86
	// keeps stores in order anyway.
	atomic.LoadUint64(&l.Seq)
	l.Magic, l.Version, l.NEntries = Magic, Version, Entries
	l.SeenNs, l.DeviceUsed, l.Flags, l.Jobs = uint64(seen.UnixNano()), deviceUsed, flags, uint32(len(jobs))
	for i := range l.E {
		e := &l.E[i]
		if i >= len(jobs) {
			*e = Entry{}
			continue
		}
		e.Job = [JobBytes]byte{}
		copy(e.Job[:], jobs[i])
		e.Used = used[jobs[i]]
	}
	atomic.StoreUint64(&l.Seq, seq+1)
}

// Remove unmaps the file and removes it: readers would find it stale
// within a second anyway.
func (f *File) Remove() error {
	if f.mem == nil {
		return nil
	}
	err := unix.Munmap(f.mem)
	f.mem, f.l = nil, nil
	if rerr := os.Remove(f.path); err == nil && !os.IsNotExist(rerr) {
		err = rerr
	}
	unix.Close(f.lock) // after the removal: see Create
	return err
}

// Read reads the file at path as the library does: a regular file owned by
// root and writable only by it, of this magic, version and size.
func Read(path string) (*Layout, error) {
	f, err := fsutil.OpenRootFile(path, Size)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l := &Layout{}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(l)), Size)
	var before, seq [8]byte
	for tries := 0; ; tries++ {
		// The count before the copy too: the header precedes seq.
		if _, err := f.ReadAt(before[:], int64(unsafe.Offsetof(l.Seq))); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := f.ReadAt(buf, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := f.ReadAt(seq[:], int64(unsafe.Offsetof(l.Seq))); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if l.Seq&1 == 0 && *(*uint64)(unsafe.Pointer(&seq[0])) == l.Seq && before == seq {
			break
		}
		if tries == 2 {
			return nil, fmt.Errorf("%s: written to while read three times", path)
		}
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
