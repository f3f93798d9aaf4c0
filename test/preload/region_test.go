// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Offsets pinned by preload/region_abi.h.
const (
	regionDevs     = 256
	devSize        = 128
	devTracked     = 16
	devCtxEstimate = 32
	regionProcs    = 2304
	procSize       = 528
	procUsed       = 16
	regionNprocs   = 132
	// ctx_guesses, then guesses_until
	regionCtxGuesses = 136
	regionTotalLen   = regionProcs + procSize*1024
)

// regionPath is where a job known only from the environment keeps its region.
func (r *rig) regionPath(job string) string {
	if job == "" {
		job = "nojob"
	}
	return filepath.Join(r.dir, fmt.Sprintf("softmig-%d-%s.region", os.Getuid(), job))
}

type regionView struct{ b []byte }

func readRegion(t *testing.T, path string) regionView {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read region: %v", err)
	}
	if len(b) < regionTotalLen {
		t.Fatalf("region %s is %d bytes, want %d", path, len(b), regionTotalLen)
	}
	return regionView{b}
}

func (v regionView) u64(off int) uint64 { return binary.LittleEndian.Uint64(v.b[off:]) }

// tracked of device entry d.
func (v regionView) tracked(d int) uint64 { return v.u64(regionDevs + d*devSize + devTracked) }

// livePids lists the pids holding process entries.
func (v regionView) livePids() []int32 {
	n := int(binary.LittleEndian.Uint32(v.b[regionNprocs:]))
	var pids []int32
	for i := 0; i < n; i++ {
		pid := int32(binary.LittleEndian.Uint32(v.b[regionProcs+i*procSize:]))
		if pid != 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// zeroAccounting overwrites the accounting of device entry d and of every
// process entry, as a user tampering with their own region would.
func zeroAccounting(t *testing.T, path string, d int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zero := make([]byte, 16)
	if _, err := f.WriteAt(zero, int64(regionDevs+d*devSize+devTracked)); err != nil {
		t.Fatal(err)
	}
	used := make([]byte, 8*16*2) // used[] and ctx[]
	for i := 0; i < 1024; i++ {
		if _, err := f.WriteAt(used, int64(regionProcs+i*procSize+procUsed)); err != nil {
			t.Fatal(err)
		}
	}
}
