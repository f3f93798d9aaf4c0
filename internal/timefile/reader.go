// SPDX-License-Identifier: Apache-2.0

package timefile

import (
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/softmig/softmig/internal/fsutil"
)

// Snapshot is a copy of a time file, read without a lock: good for display,
// never for a decision.
type Snapshot struct {
	Layout
	Path string
}

// Read copies the time file at path. It must be a regular file owned by
// root and writable only by it, as the library requires before it maps it.
func Read(path string) (*Snapshot, error) {
	f, err := fsutil.OpenRootFile(path, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &Snapshot{Path: path}
	buf := (*[Size]byte)(unsafe.Pointer(&s.Layout))
	if _, err := io.ReadFull(f, buf[:]); err != nil {
		return nil, fmt.Errorf("%s: %w (want %d bytes)", path, err, Size)
	}
	if s.Magic != Magic || s.Version != Version || s.NEntries != Entries {
		return nil, fmt.Errorf("%s: not a version %d time file", path, Version)
	}
	return s, nil
}

// Fresh says whether the authority wrote the file within Stale of now.
func (s *Snapshot) Fresh(now time.Time) bool {
	return now.Sub(time.Unix(0, int64(s.BeatNs))) < Stale
}

// Entry returns job's entry, or nil.
func (s *Snapshot) Entry(job string) *Entry {
	for i := range s.E {
		if s.E[i].JobName() == job {
			return &s.E[i]
		}
	}
	return nil
}
