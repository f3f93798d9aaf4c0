// SPDX-License-Identifier: Apache-2.0

package region

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// TestLayout pins the Go mirror to the _Static_asserts of
// preload/region_abi.h: change both together, and SM_REGION_VERSION.
func TestLayout(t *testing.T) {
	var d Dev
	var p Proc
	var r Layout
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"sm_dev.tracked", unsafe.Offsetof(d.Tracked), 16},
		{"sm_dev.excess", unsafe.Offsetof(d.Excess), 24},
		{"sm_dev.ctx_estimate", unsafe.Offsetof(d.CtxEstimate), 32},
		{"sm_dev.peak", unsafe.Offsetof(d.Peak), 40},
		{"sm_dev.last_check_ns", unsafe.Offsetof(d.LastCheckNs), 48},
		{"sm_dev.oom_count", unsafe.Offsetof(d.OOMCount), 56},
		{"sm_dev.sm", unsafe.Offsetof(d.SM), 64},
		{"sm_dev size", unsafe.Sizeof(d), 128},
		{"sm_proc.pidns", unsafe.Offsetof(p.PidNS), 4},
		{"sm_proc.start_time", unsafe.Offsetof(p.StartTime), 8},
		{"sm_proc.used", unsafe.Offsetof(p.Used), 16},
		{"sm_proc.ctx", unsafe.Offsetof(p.Ctx), 144},
		{"sm_proc.nvml", unsafe.Offsetof(p.NVML), 272},
		{"sm_proc.peak", unsafe.Offsetof(p.Peak), 400},
		{"sm_proc size", unsafe.Sizeof(p), 528},
		{"sm_region.size", unsafe.Offsetof(r.Size), 8},
		{"sm_region.lock", unsafe.Offsetof(r.Lock), 16},
		{"sm_region.init_state", unsafe.Offsetof(r.InitState), 80},
		{"sm_region.init_pid", unsafe.Offsetof(r.InitPID), 84},
		{"sm_region.created_ns", unsafe.Offsetof(r.CreatedNs), 88},
		{"sm_region.job", unsafe.Offsetof(r.Job), 96},
		{"sm_region.ndevs", unsafe.Offsetof(r.NDevs), 128},
		{"sm_region.nprocs", unsafe.Offsetof(r.NProcs), 132},
		{"sm_region.ctx_guesses", unsafe.Offsetof(r.CtxGuesses), 136},
		{"sm_region.guesses_until", unsafe.Offsetof(r.GuessesUntil), 140},
		{"sm_region.devs", unsafe.Offsetof(r.Devs), 256},
		{"sm_region.procs", unsafe.Offsetof(r.Procs), 2304},
		{"sm_region size", unsafe.Sizeof(r), 2304 + 528*MaxProcs},
		{"SM_THR_WANTED (preload/throttle.h)", SMWanted, 0},
		{"SM_THR_THROTTLED (preload/throttle.h)", SMThrottled, 4},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d; want %d (preload/region_abi.h)", tt.name, tt.got, tt.want)
		}
	}
}

const uuid0 = "GPU-8ab1c2d3-0001-4e5f-a6b7-c8d9e0f1a2b3"

func writeRegion(t *testing.T, l *Layout) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "42.region")
	if err := os.WriteFile(path, l.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpen(t *testing.T) {
	l := new(Layout)
	l.Init("42")
	u, _ := ParseUUID(uuid0)
	l.NDevs, l.NProcs = 1, 2
	l.Devs[0].UUID = u
	l.Devs[0].Tracked = 3 << 30
	l.Devs[0].Excess = 1 << 20
	l.Procs[1].PID = 1234
	r, err := Open(writeRegion(t, l))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if r.Job() != "42" {
		t.Errorf("Job() = %q; want \"42\"", r.Job())
	}
	if got := r.DevEntry(uuid0); got != 0 {
		t.Errorf("DevEntry(%s) = %d; want 0", uuid0, got)
	}
	if got := r.DevEntry("GPU-00000000-0000-0000-0000-000000000001"); got != -1 {
		t.Errorf("DevEntry(other) = %d; want -1", got)
	}
	if got, want := r.Used(0), uint64(3<<30+1<<20); got != want {
		t.Errorf("Used(0) = %d; want %d", got, want)
	}
	if ps := r.Procs(); len(ps) != 1 || ps[0].PID != 1234 {
		t.Errorf("Procs() = %v; want one entry with pid 1234", ps)
	}
	if len(r.Devs()) != 1 {
		t.Errorf("Devs() has %d entries; want 1", len(r.Devs()))
	}
}

func TestOpenRejects(t *testing.T) {
	good := func() *Layout { l := new(Layout); l.Init("1"); return l }
	tests := []struct {
		name string
		edit func(l *Layout)
	}{
		{"magic", func(l *Layout) { l.Magic = 1 }},
		{"version", func(l *Layout) { l.Version = 2 }},
		{"size field", func(l *Layout) { l.Size = 4096 }},
		{"not initialised", func(l *Layout) { l.InitState = InitRunning }},
		{"ndevs", func(l *Layout) { l.NDevs = 17 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := good()
			tt.edit(l)
			if _, err := Open(writeRegion(t, l)); err == nil {
				t.Errorf("Open accepted a region with a bad %s", tt.name)
			}
		})
	}
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(short); err == nil {
		t.Errorf("Open accepted a 100-byte file")
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(writeRegion(t, good()), link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(link); err == nil {
		t.Errorf("Open followed a symlink")
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v; want a not-exist error", err)
	}
}

func TestUUID(t *testing.T) {
	b, ok := ParseUUID(uuid0)
	if !ok || FormatUUID(b) != uuid0 {
		t.Errorf("FormatUUID(ParseUUID(%s)) = %s, %v", uuid0, FormatUUID(b), ok)
	}
	for _, bad := range []string{"", "GPU-", "GPU-zz", "GPU-8ab1c2d3-0001-4e5f-a6b7-c8d9e0f1a2b"} {
		if _, ok := ParseUUID(bad); ok {
			t.Errorf("ParseUUID(%q) ok; want failure", bad)
		}
	}
}
