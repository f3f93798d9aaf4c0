// SPDX-License-Identifier: Apache-2.0

package timefile

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/fsutil"
)

// File is a time file mapped read-write by the authority. Its gate words,
// close times and beat are stored atomically (readers in other processes
// load them without a lock); the rest changes only between a closed gate
// and its opening, and readers check their entry's job id before use.
type File struct {
	path  string
	mem   []byte
	l     *Layout
	freed [Entries]time.Time // when an entry was freed: reused only after Reuse
}

// Create opens or creates the time file at path (root-owned, 0644, never
// through a symlink) and maps it. An existing file of this version keeps
// its entries, so a restarted authority gives each job the entry its
// processes already read; its gates are closed until the authority opens
// them, and its free entries count as freed now (the authority before may
// have freed them a moment ago). A new file's entries are free at once.
func Create(path string, policy uint32, period time.Duration, now time.Time) (*File, error) {
	mem, fresh, err := fsutil.MapOwnFile(path, Size)
	if err != nil {
		return nil, err
	}
	f := &File{path: path, mem: mem, l: (*Layout)(unsafe.Pointer(&mem[0]))}
	l := f.l
	fresh = fresh || l.Magic != Magic || l.Version != Version || l.NEntries != Entries
	if fresh {
		atomic.StoreUint64(&l.Magic, 0) // readers: not ready
		*l = Layout{}
		for i := range l.E {
			l.E[i].Gate = GateClosed
		}
		l.Version, l.NEntries = Version, Entries
	}
	for i := range l.E {
		atomic.StoreUint64(&l.E[i].Gate, GateClosed)
		atomic.StoreUint64(&l.E[i].CloseNs, 0)
		if l.E[i].JobName() == "" && !fresh {
			f.freed[i] = now
		}
	}
	l.Policy = policy
	l.PeriodNs = uint64(period)
	var inst [8]byte
	if _, err := rand.Read(inst[:]); err != nil {
		binary.LittleEndian.PutUint64(inst[:], uint64(now.UnixNano()))
	}
	atomic.StoreUint64(&l.Instance, binary.LittleEndian.Uint64(inst[:]))
	atomic.StoreUint64(&l.BeatNs, uint64(now.UnixNano()))
	atomic.StoreUint64(&l.Magic, Magic)
	return f, nil
}

// Path is where the file lives.
func (f *File) Path() string { return f.path }

// Close closes every gate and unmaps the file, which stays for readers:
// their beat goes stale and they fall back to their static slots.
func (f *File) Close() error {
	if f.mem == nil {
		return nil
	}
	for i := range f.l.E {
		atomic.StoreUint64(&f.l.E[i].Gate, GateClosed)
	}
	err := unix.Munmap(f.mem)
	f.mem, f.l = nil, nil
	return err
}

// Beat says the authority is alive at now.
func (f *File) Beat(now time.Time) { atomic.StoreUint64(&f.l.BeatNs, uint64(now.UnixNano())) }

// SetPolicy records the GPU's policy (for readers that display it).
func (f *File) SetPolicy(p uint32) { atomic.StoreUint32(&f.l.Policy, p) }

// Find returns the entry of job, or -1.
func (f *File) Find(job string) int {
	for i := range f.l.E {
		if f.l.E[i].JobName() == job {
			return i
		}
	}
	return -1
}

// Assign returns job's entry, taking a free one (freed at least Reuse ago)
// for a new job. Its gate stays closed until SetGate opens it.
func (f *File) Assign(job string, share uint32, now time.Time) (int, error) {
	if i := f.Find(job); i >= 0 {
		f.l.E[i].Share = share
		return i, nil
	}
	for i := range f.l.E {
		e := &f.l.E[i]
		if e.JobName() != "" || now.Sub(f.freed[i]) < Reuse {
			continue
		}
		atomic.StoreUint64(&e.Gate, GateClosed)
		if err := setJob(e, job); err != nil {
			return -1, err
		}
		e.Share, e.Flags, e.UsedPM, e.LentPM = share, 0, 0, 0
		return i, nil
	}
	return -1, errors.New(f.path + ": no free entry (63 jobs on one GPU)")
}

// Free closes entry i's gate and frees it.
func (f *File) Free(i int, now time.Time) {
	e := &f.l.E[i]
	atomic.StoreUint64(&e.Gate, GateClosed)
	atomic.StoreUint64(&e.CloseNs, 0)
	e.Job = [JobBytes]byte{}
	e.Share, e.Flags, e.UsedPM, e.LentPM = 0, 0, 0, 0
	f.freed[i] = now
}

// SetGate stores entry i's gate word (0 open) and the end of its window.
func (f *File) SetGate(i int, gate uint64, closeAt time.Time) {
	var c uint64
	if gate == 0 && !closeAt.IsZero() {
		c = uint64(closeAt.UnixNano())
	}
	atomic.StoreUint64(&f.l.E[i].CloseNs, c)
	atomic.StoreUint64(&f.l.E[i].Gate, gate)
}

// Gate loads entry i's gate word.
func (f *File) Gate(i int) uint64 { return atomic.LoadUint64(&f.l.E[i].Gate) }

// SetStats records entry i's flags and last period's figures for readers.
func (f *File) SetStats(i int, flags, usedPM, lentPM uint32) {
	e := &f.l.E[i]
	atomic.StoreUint32(&e.Flags, flags)
	atomic.StoreUint32(&e.UsedPM, usedPM)
	atomic.StoreUint32(&e.LentPM, lentPM)
}

// Jobs lists the jobs with an entry, by entry index.
func (f *File) Jobs() map[int]string {
	m := map[int]string{}
	for i := range f.l.E {
		if j := f.l.E[i].JobName(); j != "" {
			m[i] = j
		}
	}
	return m
}
