// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Issue 25: a job's processes that start CUDA together.  How fast is for
// make bench (bench_start); these pin what the faster admission keeps.

// Contexts created at once before any was measured each reserve a guess
// (512 MiB), and the guesses fill a slice that the real contexts (50 MiB)
// do not: every process still gets its context and its allocation.
func TestContextsStartedTogetherAllFit(t *testing.T) {
	const n = 16
	job := uniqueJob()
	// Two guesses fit 1200 MiB, three do not; 16 x (50 + 10) MiB do.
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=1200m", "SOFTMIG_SIM_CTX_MEMORY=50m")
	gate := filepath.Join(r.dir, "gate")
	var hs []*held
	for i := 0; i < n; i++ {
		hs = append(hs, r.startReady(nil, "cuclient", "init", "ready", "gate:"+gate, "dev:0", "alloc:10m", "hold"))
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, h := range hs {
		lines, _ := h.finish()
		if strings.Contains(strings.Join(results(lines), " "), "dev rc=0 alloc rc=0") {
			got++
		}
	}
	if got != n {
		t.Fatalf("%d of %d processes got a context and 10 MiB, want all (log:\n%s)", got, n,
			readFile(t, r.dir+"/softmig.log"))
	}
}

// Retaining the primary context a process already holds creates nothing
// on the GPU, so it reserves nothing: here a second context's worth would
// not fit.
func TestRetainingAHeldPrimaryContextReservesNothing(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=700m", "SOFTMIG_SIM_CTX_MEMORY=400m")
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "retain", "meminfo")
	want(t, "retain twice", results(lines[:3]), "init rc=0", "dev rc=0", "retain rc=0")
	if _, free := totalFree(t, lines[3]); free != 300*MiB {
		t.Fatalf("free=%d after retaining the context twice, want %d (one context)", free, 300*MiB)
	}
}

// A context is reserved at the largest size measured on the device and
// keeps that reservation until this process's first NVML check measures
// it: the check that its first allocation makes.  Here the size on record
// (as a user may write it) is 1 GiB for a context of 300 MiB.
func TestContextIsMeasuredAtTheFirstCheck(t *testing.T) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=4g")
	a := r.start(nil, "cuclient", "init", "dev:0", "alloc:1g")
	defer a.release()
	setCtxEstimate(t, r.regionPath(job), 0, GiB)
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "alloc:1m", "meminfo")
	want(t, "second process", results(lines[:3]), "init rc=0", "dev rc=0", "alloc rc=0")
	_, free := totalFree(t, lines[3])
	if want := 4*GiB - (ctxMem + GiB) - (ctxMem + MiB); free != want {
		t.Fatalf("free=%d, want %d (the second context measured at 300 MiB, not the 1 GiB reserved)", free, want)
	}
}

// A fresh process that takes the context size on record does not measure
// its context at once, so the check its first allocation makes is its
// only protection against a region its user zeroes (counters, usage and a
// "just checked" stamp, the context size left as it was): it must see what
// NVML shows before that allocation, as in
// TestRegionZeroedBeforeEveryAllocation, which zeroes the size too.
func TestZeroedRegionWithItsContextSizeIsStillHeld(t *testing.T) {
	heldWhileTampering(t, func(path string) { zeroRegion(t, path, true) })
}

// setCtxEstimate writes the context size on record for device entry d.
func setCtxEstimate(t *testing.T, path string, d int, bytes uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, bytes)
	if _, err := f.WriteAt(b, int64(regionDevs+d*devSize+devCtxEstimate)); err != nil {
		t.Fatal(fmt.Errorf("write ctx_estimate: %w", err))
	}
}

// A context or an allocation refused while the job holds context
// reservations of guessed size waits for them to be measured, then asks
// again.  Here a standing guess is written into the region (the count a
// guessed reservation raises), and the holder frees its allocation 1.5 s
// later: the waiting process gets what it asked for then, not a refusal at
// once.
func TestRefusedReservationWaitsForAStandingGuess(t *testing.T) {
	for _, tt := range []struct {
		name, held string
		ask        []string
	}{
		// 300 MiB of context + 600 MiB leave 124 MiB: no room for a context.
		{"context", "600m", []string{"init rc=0", "dev rc=0"}},
		// + 400 MiB and a second context leave 24 MiB: no room for 100 MiB.
		{"allocation", "400m", []string{"init rc=0", "dev rc=0", "alloc rc=0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			job := uniqueJob()
			r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=1g")
			a := r.startReady(nil, "cuclient", "init", "dev:0", "alloc:"+tt.held, "ready", "sleep:1500", "free", "hold")
			standingGuess(t, r.regionPath(job))
			args := []string{"init", "dev:0", "alloc:100m"}[:len(tt.ask)]
			lines, _ := r.run(nil, "cuclient", args...)
			want(t, "while a guess stands", results(lines), tt.ask...)
			lines, err := a.finish()
			if err != nil || !strings.Contains(strings.Join(lines, " "), "free rc=0") {
				t.Fatalf("holder: %v %q", err, lines)
			}
		})
	}
}

// standingGuess writes into the region one context reservation of guessed
// size, holding for the next 6 seconds (CLOCK_MONOTONIC, as the library
// counts them).
func standingGuess(t *testing.T, path string) {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC_COARSE, &ts); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, 1)
	binary.LittleEndian.PutUint32(b[4:], uint32(ts.Sec)+6)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, regionCtxGuesses); err != nil {
		t.Fatal(err)
	}
}
