// SPDX-License-Identifier: Apache-2.0

// Package region reads a job's shared region (contract 4 in
// docs/contracts.md), the file in which every process of a job records the
// device memory it holds. The layout mirrors preload/region_abi.h and is
// pinned by layout_test.go. Readers that only display, like softmig-smi,
// read a snapshot without taking the region's lock.
package region

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"github.com/softmig/softmig/internal/defs"
)

// Constants of preload/region_abi.h.
const (
	Magic       = 0x4752534d // "MSRG" little-endian
	Version     = 1
	MaxProcs    = 1024
	InitNone    = 0
	InitRunning = 1
	InitDone    = 2
)

// Dev is struct sm_dev, a device entry: the job's usage of one device.
type Dev struct {
	UUID        [16]byte // binary device UUID; all zero: entry unused
	Tracked     uint64   // sum over live process entries of used + ctx
	Excess      uint64   // NVML usage of the job beyond tracked, last check
	CtxEstimate uint64
	Peak        uint64
	LastCheckNs uint64
	OOMCount    uint64
	SM          [8]uint64 // compute bookkeeping, by the SM* indices; the rest unused (preload/throttle.h)
}

// Indices into Dev.SM: preload/throttle.h's SM_THR_*.
const (
	// SMWanted: CLOCK_REALTIME ns a launch last waited at its closed gate
	// while the job's time entry said idle. The only word of a region
	// the time authority reads; written by the job's user, it can only
	// give the job its own slot back sooner.
	SMWanted = 0
	// SMThrottled: ns the job's launching threads slept at the gate.
	SMThrottled = 4
)

// Proc is struct sm_proc: one process entry.
type Proc struct {
	PID       int32  // 0: entry free
	PidNS     uint32 // tag of the PID namespace PID is in, 0 for the host's
	StartTime uint64
	Used      [defs.MaxDevices]uint64
	Ctx       [defs.MaxDevices]uint64
	NVML      [defs.MaxDevices]uint64
	Peak      [defs.MaxDevices]uint64
}

// Layout is struct sm_region.
type Layout struct {
	Magic     uint32
	Version   uint32
	Size      uint64
	Lock      [64]byte
	InitState uint32
	InitPID   int32
	CreatedNs uint64
	Job       [32]byte
	NDevs     uint32
	NProcs    uint32
	// Context reservations of guessed size not yet measured, and the
	// CLOCK_MONOTONIC second until which that count holds.
	CtxGuesses   uint32
	GuessesUntil uint32
	Reserved     [112]byte
	Devs         [defs.MaxDevices]Dev
	Procs        [MaxProcs]Proc
}

// Size is SM_REGION_SIZE, the size of the file.
const Size = int64(unsafe.Sizeof(Layout{}))

// ErrInvalid marks a file that is not a valid, initialised region.
var ErrInvalid = errors.New("not a valid softmig region")

// Region is a snapshot of a region file.
type Region struct {
	Path string
	L    Layout
	UID  uint32 // owner of the file: the job's user
}

// Open reads a snapshot of the region at path. It does not follow a
// symlink, and it checks size, magic, version and the initialisation state.
func Open(path string) (*Region, error) {
	return open(path, Size)
}

// devsEnd is the length of the header and the device entries.
const devsEnd = int64(unsafe.Offsetof(Layout{}.Procs))

// OpenDevs is Open without the process entries (left zero): the header
// and the device entries, a 2 KiB read where the whole region is 540 KiB.
func OpenDevs(path string) (*Region, error) {
	return open(path, devsEnd)
}

// open reads the first n bytes of the region at path. O_NONBLOCK: a
// FIFO in its place (a file of its user's) must not hang a root reader.
func open(path string, n int64) (*Region, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("opening region: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening region: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("region %q: %w: not a regular file", path, ErrInvalid)
	}
	if fi.Size() < Size {
		return nil, fmt.Errorf("region %q: %w: %d bytes, want %d", path, ErrInvalid, fi.Size(), Size)
	}
	r := &Region{Path: path}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		r.UID = st.Uid
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&r.L)), n)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("reading region %q: %w", path, err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("region %q: %w", path, err)
	}
	return r, nil
}

func (r *Region) check() error {
	l := &r.L
	switch {
	case l.InitState != InitDone:
		return fmt.Errorf("%w: not initialised (state %d)", ErrInvalid, l.InitState)
	case l.Magic != Magic:
		return fmt.Errorf("%w: bad magic %#x", ErrInvalid, l.Magic)
	case l.Version != Version:
		return fmt.Errorf("%w: version %d, this tool reads version %d", ErrInvalid, l.Version, Version)
	case l.Size != uint64(Size):
		return fmt.Errorf("%w: size field %d, want %d", ErrInvalid, l.Size, Size)
	case l.NDevs > defs.MaxDevices || l.NProcs > MaxProcs:
		return fmt.Errorf("%w: %d device entries, %d process entries", ErrInvalid, l.NDevs, l.NProcs)
	}
	return nil
}

// Job returns the job id recorded in the region.
func (r *Region) Job() string {
	s := string(r.L.Job[:])
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// DevEntry returns the index of the device entry of the device with the
// given NVML UUID ("GPU-xxxxxxxx-xxxx-..."), or -1.
func (r *Region) DevEntry(uuid string) int {
	b, ok := ParseUUID(uuid)
	if !ok {
		return -1
	}
	for i := range r.L.Devs {
		if r.L.Devs[i].UUID == b && b != ([16]byte{}) {
			return i
		}
	}
	return -1
}

// Devs returns the device entries in use (non-zero UUID) by index.
func (r *Region) Devs() map[int]*Dev {
	m := map[int]*Dev{}
	for i := range r.L.Devs {
		if r.L.Devs[i].UUID != ([16]byte{}) {
			m[i] = &r.L.Devs[i]
		}
	}
	return m
}

// Used is the job's memory in device entry i: tracked + excess.
func (r *Region) Used(i int) uint64 {
	if i < 0 || i >= defs.MaxDevices {
		return 0
	}
	d := &r.L.Devs[i]
	return d.Tracked + d.Excess
}

// Procs returns the live process entries.
func (r *Region) Procs() []*Proc {
	var ps []*Proc
	n := int(r.L.NProcs)
	for i := 0; i < n && i < MaxProcs; i++ {
		if r.L.Procs[i].PID > 0 {
			ps = append(ps, &r.L.Procs[i])
		}
	}
	return ps
}

// ParseUUID turns "GPU-8ab1c2d3-...": 32 hex digits after an optional
// "GPU-"/"MIG-" prefix, dashes ignored, into the 16 bytes NVML uses.
func ParseUUID(s string) ([16]byte, bool) {
	var b [16]byte
	s = strings.TrimPrefix(strings.TrimPrefix(s, "GPU-"), "MIG-")
	s = strings.ReplaceAll(s, "-", "")
	if len(s) != 32 {
		return b, false
	}
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return b, false
	}
	return b, true
}

// FormatUUID is the inverse of ParseUUID, in NVML's "GPU-" form.
func FormatUUID(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return "GPU-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Bytes returns the raw bytes of l, for writing test fixtures.
func (l *Layout) Bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(l)), Size)
}

// Init marks l as an initialised region of the given job (tests and
// fixtures; the library initialises real regions under its lock).
func (l *Layout) Init(job string) {
	l.Magic, l.Version, l.Size, l.InitState = Magic, Version, uint64(Size), InitDone
	copy(l.Job[:len(l.Job)-1], job)
}
