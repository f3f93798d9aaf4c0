// SPDX-License-Identifier: Apache-2.0

// Package timefile is the time file (contract 9 in docs/contracts.md): one
// per GPU, <run dir>/<GPU UUID>.time, in which the node's time authority
// (softmig-guard, root) publishes which job may launch on the GPU now, and
// which every job process maps read-only. The layout mirrors
// preload/timefile_abi.h and is pinned by layout_test.go.
//
// The authority writes through File (Create); readers that only display,
// like softmig-smi, take a Snapshot (Read).
package timefile

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unsafe"
)

// Constants of preload/timefile_abi.h.
const (
	Magic    = 0x31454d49544d5353 // "SSMTIME1" little-endian
	Version  = 1
	Entries  = 63
	Size     = 4096
	Suffix   = ".time"
	Beat     = 50 * time.Millisecond  // the authority writes BeatNs this often
	Stale    = 250 * time.Millisecond // older: readers fall back to their static slot
	Reuse    = 5 * time.Second        // a freed entry stays unused this long
	JobBytes = 32
)

// Gate reasons (Entry.Gate); 0 is open.
const (
	GateClosed uint64 = 1 // outside the job's window
	GatePaused uint64 = 2 // the job used time it was not given: paused until repaid
)

// Policies (Header.Policy).
const (
	Cap  = 0
	Lend = 1
)

// Entry flags.
const (
	FlagLent   uint32 = 1 // given time beyond its share now
	FlagPaused uint32 = 2 // its cgroup is frozen by the authority
	FlagIdle   uint32 = 4 // used none of its own window last period
)

// Entry is struct sm_time_entry: one job's gate on the GPU.
type Entry struct {
	Gate    uint64 // 0 open; else Gate*
	CloseNs uint64 // CLOCK_REALTIME the open window ends; 0: not open
	Job     [JobBytes]byte
	Share   uint32 // guaranteed percent
	Flags   uint32
	UsedPM  uint32 // last period: permille of the GPU's time the job used
	LentPM  uint32 // last period: permille given beyond its share
}

// Layout is struct sm_time_file.
type Layout struct {
	Magic     uint64
	Version   uint32
	NEntries  uint32
	BeatNs    uint64
	PeriodNs  uint64
	Instance  uint64
	Policy    uint32
	Reserved0 uint32
	Reserved  [16]byte
	E         [Entries]Entry
}

var _ = [1]struct{}{}[unsafe.Sizeof(Layout{})-Size] // Layout is exactly one page

// Path is the time file of the GPU with NVML UUID uuid ("GPU-...").
func Path(runDir, uuid string) (string, error) {
	if err := CheckUUID(uuid); err != nil {
		return "", err
	}
	return filepath.Join(runDir, uuid+Suffix), nil
}

// CheckUUID accepts what NVML prints for a GPU (or a MIG device): a
// non-empty name without '/', NUL or leading '.', at most 80 bytes.
func CheckUUID(uuid string) error {
	switch {
	case uuid == "", len(uuid) > 80, strings.ContainsAny(uuid, "/\x00"), strings.HasPrefix(uuid, "."):
		return fmt.Errorf("GPU UUID %q cannot name a time file", uuid)
	}
	return nil
}

// JobName returns an entry's job id.
func (e *Entry) JobName() string {
	b := e.Job[:]
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// ErrJobID is returned for a job id an entry cannot hold.
var ErrJobID = errors.New("job id does not fit a time file entry")

func setJob(e *Entry, job string) error {
	if job == "" || len(job) >= JobBytes || strings.IndexByte(job, 0) >= 0 {
		return fmt.Errorf("%w: %q (1 to %d bytes, no NUL)", ErrJobID, job, JobBytes-1)
	}
	var b [JobBytes]byte
	copy(b[:], job)
	e.Job = b
	return nil
}
